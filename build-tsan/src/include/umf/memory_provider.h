/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/memory_provider.h - memory providers: coarse-grained memory from the
 * OS, a device or a file. Every call checks its handle and pointers first.
 */

#ifndef UMF_MEMORY_PROVIDER_H
#define UMF_MEMORY_PROVIDER_H 1

#include <umf/base.h>
#include <umf/memory_provider_ops.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether a provider's mappings are private to the process or shared.
typedef enum umf_memory_visibility_t {
    UMF_MEM_MAP_PRIVATE = 1,
    UMF_MEM_MAP_SHARED,
} umf_memory_visibility_t;

/// Page protection bits; NONE (or 0) means PROT_NONE.
typedef enum umf_mem_protection_flags_t {
    UMF_PROTECTION_NONE = (1 << 0),
    UMF_PROTECTION_READ = (1 << 1),
    UMF_PROTECTION_WRITE = (1 << 2),
    UMF_PROTECTION_EXEC = (1 << 3),
    UMF_PROTECTION_MAX
} umf_mem_protection_flags_t;

typedef struct umf_memory_provider_t *umf_memory_provider_handle_t;

/// Validates and copies `ops`, runs ops->initialize(params) and returns the
/// new provider in *hProvider.
umf_result_t umfMemoryProviderCreate(const umf_memory_provider_ops_t *ops,
                                     void *params,
                                     umf_memory_provider_handle_t *hProvider);
/// Finalizes and frees a provider; NULL is a no-op.
void umfMemoryProviderDestroy(umf_memory_provider_handle_t hProvider);
/// Allocates size bytes aligned to alignment (0: the provider's default).
umf_result_t umfMemoryProviderAlloc(umf_memory_provider_handle_t hProvider,
                                    size_t size, size_t alignment, void **ptr);
/// Returns [ptr, ptr+size) to the provider.
umf_result_t umfMemoryProviderFree(umf_memory_provider_handle_t hProvider,
                                   void *ptr, size_t size);
/// The native error of the last MEMORY_PROVIDER_SPECIFIC result on this thread.
void umfMemoryProviderGetLastNativeError(umf_memory_provider_handle_t hProvider,
                                         const char **ppMessage,
                                         int32_t *pError);
umf_result_t
umfMemoryProviderGetRecommendedPageSize(umf_memory_provider_handle_t hProvider,
                                        size_t size, size_t *pageSize);
umf_result_t
umfMemoryProviderGetMinPageSize(umf_memory_provider_handle_t hProvider,
                                void *ptr, size_t *pageSize);
umf_result_t umfMemoryProviderPurgeLazy(umf_memory_provider_handle_t hProvider,
                                        void *ptr, size_t size);
umf_result_t umfMemoryProviderPurgeForce(umf_memory_provider_handle_t hProvider,
                                         void *ptr, size_t size);
umf_result_t
umfMemoryProviderGetIPCHandleSize(umf_memory_provider_handle_t hProvider,
                                  size_t *size);
umf_result_t
umfMemoryProviderGetIPCHandle(umf_memory_provider_handle_t hProvider,
                              const void *ptr, size_t size,
                              void *providerIpcData);
umf_result_t
umfMemoryProviderPutIPCHandle(umf_memory_provider_handle_t hProvider,
                              void *providerIpcData);
umf_result_t
umfMemoryProviderOpenIPCHandle(umf_memory_provider_handle_t hProvider,
                               void *providerIpcData, void **ptr);
umf_result_t
umfMemoryProviderCloseIPCHandle(umf_memory_provider_handle_t hProvider,
                                void *ptr, size_t size);
/// The provider's name (owned by the provider); NULL for a NULL handle.
const char *umfMemoryProviderGetName(umf_memory_provider_handle_t hProvider);
/// The provider whose operation last failed on this thread, or NULL.
umf_memory_provider_handle_t umfGetLastFailedMemoryProvider(void);
umf_result_t
umfMemoryProviderAllocationSplit(umf_memory_provider_handle_t hProvider,
                                 void *ptr, size_t totalSize, size_t firstSize);
umf_result_t
umfMemoryProviderAllocationMerge(umf_memory_provider_handle_t hProvider,
                                 void *lowPtr, void *highPtr, size_t totalSize);

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMORY_PROVIDER_H */
