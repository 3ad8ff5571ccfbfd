/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/pools/pool_jemalloc.h - the jemalloc pool: a jemalloc arena per pool
 * whose extents come from the provider. Link with -ljemalloc_pool.
 */

#ifndef UMF_JEMALLOC_MEMORY_POOL_H
#define UMF_JEMALLOC_MEMORY_POOL_H 1

#ifdef __cplusplus
extern "C" {
#endif

#include <stdbool.h>
#include <umf/memory_pool_ops.h>

struct umf_jemalloc_pool_params_t;

typedef struct umf_jemalloc_pool_params_t *umf_jemalloc_pool_params_handle_t;

umf_result_t
umfJemallocPoolParamsCreate(umf_jemalloc_pool_params_handle_t *hParams);
/// NULL -> UMF_RESULT_ERROR_INVALID_ARGUMENT.
umf_result_t
umfJemallocPoolParamsDestroy(umf_jemalloc_pool_params_handle_t hParams);
/// true: never give memory back to the provider (providers without free).
umf_result_t
umfJemallocPoolParamsSetKeepAllMemory(umf_jemalloc_pool_params_handle_t hParams,
                                      bool keepAllMemory);

umf_memory_pool_ops_t *umfJemallocPoolOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_JEMALLOC_MEMORY_POOL_H */
