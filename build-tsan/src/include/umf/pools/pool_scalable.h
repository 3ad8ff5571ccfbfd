/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/pools/pool_scalable.h - the scalable pool: oneTBB's tbbmalloc memory
 * pools (libtbbmalloc.so.2, loaded at run time) on top of the provider.
 */

#ifndef UMF_SCALABLE_MEMORY_POOL_H
#define UMF_SCALABLE_MEMORY_POOL_H 1

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>

struct umf_scalable_pool_params_t;

typedef struct umf_scalable_pool_params_t *umf_scalable_pool_params_handle_t;

umf_result_t
umfScalablePoolParamsCreate(umf_scalable_pool_params_handle_t *hParams);
/// NULL -> UMF_RESULT_ERROR_INVALID_ARGUMENT.
umf_result_t
umfScalablePoolParamsDestroy(umf_scalable_pool_params_handle_t hParams);
/// Smallest block the pool asks the provider for (default 2 MiB); not 0.
umf_result_t
umfScalablePoolParamsSetGranularity(umf_scalable_pool_params_handle_t hParams,
                                    size_t granularity);
/// true: keep provider memory until the pool is destroyed.
umf_result_t
umfScalablePoolParamsSetKeepAllMemory(umf_scalable_pool_params_handle_t hParams,
                                      bool keepAllMemory);

umf_memory_pool_ops_t *umfScalablePoolOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_SCALABLE_MEMORY_POOL_H */
