/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/pools/pool_disjoint.h - the disjoint pool: size-class buckets of
 * slabs taken from the provider, with all metadata kept in host memory, so
 * it works on memory the CPU cannot touch (GPU memory, PROT_NONE).
 */

#pragma once
#ifdef __cplusplus
extern "C" {
#endif

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>

/// Default (and smallest useful) bucket size.
#define UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE ((size_t)8)

/// A cap on the bytes of freed slabs that the pools sharing it may keep.
typedef struct umf_disjoint_pool_shared_limits_t
    *umf_disjoint_pool_shared_limits_handle_t;

struct umf_disjoint_pool_params_t;
typedef struct umf_disjoint_pool_params_t *umf_disjoint_pool_params_handle_t;

/// Creates a limit of MaxSize bytes; NULL only when out of memory.
umf_disjoint_pool_shared_limits_handle_t
umfDisjointPoolSharedLimitsCreate(size_t MaxSize);
/// Destroys a limit (after every pool using it is destroyed).
void umfDisjointPoolSharedLimitsDestroy(
    umf_disjoint_pool_shared_limits_handle_t hSharedLimits);

umf_result_t
umfDisjointPoolParamsCreate(umf_disjoint_pool_params_handle_t *hParams);
umf_result_t
umfDisjointPoolParamsDestroy(umf_disjoint_pool_params_handle_t hParams);
/// Size of a slab, the unit requested from the provider for small sizes.
umf_result_t
umfDisjointPoolParamsSetSlabMinSize(umf_disjoint_pool_params_handle_t hParams,
                                    size_t slabMinSize);
/// Larger requests go straight to the provider.
umf_result_t umfDisjointPoolParamsSetMaxPoolableSize(
    umf_disjoint_pool_params_handle_t hParams, size_t maxPoolableSize);
/// How many free whole slabs each large-size bucket may keep.
umf_result_t
umfDisjointPoolParamsSetCapacity(umf_disjoint_pool_params_handle_t hParams,
                                 size_t maxCapacity);
/// Smallest bucket: a non-zero power of two.
umf_result_t
umfDisjointPoolParamsSetMinBucketSize(umf_disjoint_pool_params_handle_t hParams,
                                      size_t minBucketSize);
/// 0 silent; > 1 statistics at destroy; > 2 also every allocation and free.
umf_result_t
umfDisjointPoolParamsSetTrace(umf_disjoint_pool_params_handle_t hParams,
                              int poolTrace);
/// Attaches a shared limit (NULL: a private, unlimited one).
umf_result_t umfDisjointPoolParamsSetSharedLimits(
    umf_disjoint_pool_params_handle_t hParams,
    umf_disjoint_pool_shared_limits_handle_t hSharedLimits);
/// Name used in traces (copied).
umf_result_t
umfDisjointPoolParamsSetName(umf_disjoint_pool_params_handle_t hParams,
                             const char *name);

umf_memory_pool_ops_t *umfDisjointPoolOps(void);

#ifdef __cplusplus
}
#endif
