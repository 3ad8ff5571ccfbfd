/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/memory_pool.h - memory pools: malloc-style allocation on top of a
 * memory provider, and lookup of the pool that owns an address.
 */

#ifndef UMF_MEMORY_POOL_H
#define UMF_MEMORY_POOL_H 1

#include <umf/base.h>
#include <umf/memory_provider.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct umf_memory_pool_t *umf_memory_pool_handle_t;
typedef struct umf_memory_pool_ops_t umf_memory_pool_ops_t;

/// Flags of umfPoolCreate(); unknown bits are ignored.
typedef enum umf_pool_create_flag_t {
    UMF_POOL_CREATE_FLAG_NONE = 0,
    /// umfPoolDestroy() also destroys the provider.
    UMF_POOL_CREATE_FLAG_OWN_PROVIDER = (1 << 0),
    /// The pool's memory is not registered in the tracker.
    UMF_POOL_CREATE_FLAG_DISABLE_TRACKING = (1 << 1),
    UMF_POOL_CREATE_FLAG_FORCE_UINT32 = 0x7fffffff
} umf_pool_create_flag_t;

typedef uint32_t umf_pool_create_flags_t;

/// Creates a pool running `ops` on `provider`; params go to ops->initialize.
umf_result_t umfPoolCreate(const umf_memory_pool_ops_t *ops,
                           umf_memory_provider_handle_t provider, void *params,
                           umf_pool_create_flags_t flags,
                           umf_memory_pool_handle_t *hPool);
/// Finalizes the pool (and destroys an owned provider); NULL is a no-op.
void umfPoolDestroy(umf_memory_pool_handle_t hPool);
void *umfPoolMalloc(umf_memory_pool_handle_t hPool, size_t size);
void *umfPoolAlignedMalloc(umf_memory_pool_handle_t hPool, size_t size,
                           size_t alignment);
void *umfPoolCalloc(umf_memory_pool_handle_t hPool, size_t num, size_t size);
void *umfPoolRealloc(umf_memory_pool_handle_t hPool, void *ptr, size_t size);
size_t umfPoolMallocUsableSize(umf_memory_pool_handle_t hPool, void *ptr);
umf_result_t umfPoolFree(umf_memory_pool_handle_t hPool, void *ptr);
/// Frees ptr into whichever tracked pool owns it; does nothing otherwise.
umf_result_t umfFree(void *ptr);
/// Why the last failed allocation of this thread returned NULL.
umf_result_t umfPoolGetLastAllocationError(umf_memory_pool_handle_t hPool);
/// The tracked pool whose memory contains ptr (any interior address), or NULL.
umf_memory_pool_handle_t umfPoolByPtr(const void *ptr);
/// The provider given to umfPoolCreate().
umf_result_t umfPoolGetMemoryProvider(umf_memory_pool_handle_t hPool,
                                      umf_memory_provider_handle_t *hProvider);

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMORY_POOL_H */
