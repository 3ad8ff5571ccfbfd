/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_os_memory.h - the OS memory provider: mmap'ed
 * memory, private or shared (memfd or a named shm object), placed on NUMA
 * nodes by a policy.
 */

#ifndef UMF_OS_MEMORY_PROVIDER_H
#define UMF_OS_MEMORY_PROVIDER_H

#include "umf/memory_provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/// First native error code of the OS provider.
#define UMF_OS_RESULTS_START_FROM 1000

/// How the NUMA node list is applied to each allocation.
typedef enum umf_numa_mode_t {
    UMF_NUMA_MODE_DEFAULT,    ///< no binding (kernel default)
    UMF_NUMA_MODE_BIND,       ///< only the listed nodes
    UMF_NUMA_MODE_INTERLEAVE, ///< round-robin over the nodes
    UMF_NUMA_MODE_PREFERRED,  ///< the listed nodes first, others as fallback
    UMF_NUMA_MODE_SPLIT,      ///< consecutive ranges, one per partition
    UMF_NUMA_MODE_LOCAL,      ///< the node of the allocating CPU
} umf_numa_mode_t;

/// A partition of UMF_NUMA_MODE_SPLIT: NUMA node id `target`, weight > 0.
typedef struct umf_numa_split_partition_t {
    unsigned weight;
    unsigned target;
} umf_numa_split_partition_t;

struct umf_os_memory_provider_params_t;

typedef struct umf_os_memory_provider_params_t
    *umf_os_memory_provider_params_handle_t;

umf_result_t umfOsMemoryProviderParamsCreate(
    umf_os_memory_provider_params_handle_t *hParams);
umf_result_t umfOsMemoryProviderParamsDestroy(
    umf_os_memory_provider_params_handle_t hParams);
umf_result_t umfOsMemoryProviderParamsSetProtection(
    umf_os_memory_provider_params_handle_t hParams, unsigned protection);
umf_result_t umfOsMemoryProviderParamsSetVisibility(
    umf_os_memory_provider_params_handle_t hParams,
    umf_memory_visibility_t visibility);
umf_result_t umfOsMemoryProviderParamsSetShmName(
    umf_os_memory_provider_params_handle_t hParams, const char *shm_name);
umf_result_t umfOsMemoryProviderParamsSetNumaList(
    umf_os_memory_provider_params_handle_t hParams, unsigned *numa_list,
    unsigned numa_list_len);
umf_result_t umfOsMemoryProviderParamsSetNumaMode(
    umf_os_memory_provider_params_handle_t hParams, umf_numa_mode_t numa_mode);
umf_result_t umfOsMemoryProviderParamsSetPartSize(
    umf_os_memory_provider_params_handle_t hParams, size_t part_size);
umf_result_t umfOsMemoryProviderParamsSetPartitions(
    umf_os_memory_provider_params_handle_t hParams,
    umf_numa_split_partition_t *partitions, unsigned partitions_len);

/// Native error codes, from umfMemoryProviderGetLastNativeError().
typedef enum umf_os_memory_provider_native_error {
    UMF_OS_RESULT_SUCCESS = UMF_OS_RESULTS_START_FROM,
    UMF_OS_RESULT_ERROR_ALLOC_FAILED,
    UMF_OS_RESULT_ERROR_ADDRESS_NOT_ALIGNED,
    UMF_OS_RESULT_ERROR_BIND_FAILED,
    UMF_OS_RESULT_ERROR_FREE_FAILED,
    UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED,
    UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED,
    UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED,
} umf_os_memory_provider_native_error_t;

/// The OS provider's ops (a static table).
umf_memory_provider_ops_t *umfOsMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_OS_MEMORY_PROVIDER_H */
