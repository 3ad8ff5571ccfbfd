/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/memory_provider_ops.h - the table of operations a memory provider
 * implements. Every op receives the private state returned by initialize().
 */

#ifndef UMF_MEMORY_PROVIDER_OPS_H
#define UMF_MEMORY_PROVIDER_OPS_H 1

#include <umf/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Optional operations. free, purge_lazy and purge_force may each be NULL
/// (the front end then answers UMF_RESULT_ERROR_NOT_SUPPORTED);
/// allocation_merge and allocation_split must be both set or both NULL.
typedef struct umf_memory_provider_ext_ops_t {
    /// Returns [ptr, ptr+size) to the provider.
    umf_result_t (*free)(void *provider, void *ptr, size_t size);
    /// Drops the pages of a range, possibly later.
    umf_result_t (*purge_lazy)(void *provider, void *ptr, size_t size);
    /// Drops the pages of a range now; it reads back as zeros.
    umf_result_t (*purge_force)(void *provider, void *ptr, size_t size);
    /// Joins two adjacent allocations into one of totalSize bytes.
    umf_result_t (*allocation_merge)(void *hProvider, void *lowPtr,
                                     void *highPtr, size_t totalSize);
    /// Cuts one allocation into [ptr, firstSize) and the rest.
    umf_result_t (*allocation_split)(void *hProvider, void *ptr,
                                     size_t totalSize, size_t firstSize);
} umf_memory_provider_ext_ops_t;

/// IPC operations: all five set, or all five NULL.
typedef struct umf_memory_provider_ipc_ops_t {
    umf_result_t (*get_ipc_handle_size)(void *provider, size_t *size);
    umf_result_t (*get_ipc_handle)(void *provider, const void *ptr, size_t size,
                                   void *providerIpcData);
    umf_result_t (*put_ipc_handle)(void *provider, void *providerIpcData);
    umf_result_t (*open_ipc_handle)(void *provider, void *providerIpcData,
                                    void **ptr);
    umf_result_t (*close_ipc_handle)(void *provider, void *ptr, size_t size);
} umf_memory_provider_ipc_ops_t;

/// A memory provider. `version` must be UMF_VERSION_CURRENT; initialize,
/// finalize, alloc, get_last_native_error, get_recommended_page_size,
/// get_min_page_size and get_name are mandatory.
typedef struct umf_memory_provider_ops_t {
    uint32_t version;
    umf_result_t (*initialize)(void *params, void **provider);
    void (*finalize)(void *provider);
    umf_result_t (*alloc)(void *provider, size_t size, size_t alignment,
                          void **ptr);
    void (*get_last_native_error)(void *provider, const char **ppMessage,
                                  int32_t *pError);
    umf_result_t (*get_recommended_page_size)(void *provider, size_t size,
                                              size_t *pageSize);
    umf_result_t (*get_min_page_size)(void *provider, void *ptr,
                                      size_t *pageSize);
    const char *(*get_name)(void *provider);
    umf_memory_provider_ext_ops_t ext;
    umf_memory_provider_ipc_ops_t ipc;
} umf_memory_provider_ops_t;

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMORY_PROVIDER_OPS_H */
