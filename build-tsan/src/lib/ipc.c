/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc.c - the umf/ipc.h front end: argument checks, the tracker lookups
 * that find a pointer's chunk and pool, and the calls into the pool's IPC
 * caches (ipc_cache.c), where the state and locks are.
 *
 * Results: a NULL argument, a pointer no tracked pool owns, a handler that
 * is not one, a malformed or foreign handle -> INVALID_ARGUMENT; a pool
 * whose provider has no IPC ops -> NOT_SUPPORTED; everything else is the
 * provider's answer (MEMORY_PROVIDER_SPECIFIC with its native error for a
 * refusal of the kernel). Each failure logs one line.
 */

#include <umf/ipc.h>

#include "common.h"
#include "init.h"
#include "ipc_cache.h"
#include "log.h"
#include "pool.h"
#include "provider.h"

static bool provider_has_ipc(umf_memory_provider_handle_t p) {
    return p->ops.ipc.get_ipc_handle_size != NULL;
}

UMF_EXPORT umf_result_t umfPoolGetIPCHandleSize(umf_memory_pool_handle_t hPool,
                                                size_t *size) {
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    CHECK_ARG(size != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "size is NULL");
    if (!provider_has_ipc(hPool->provider)) {
        LOG_ERR("provider %s of pool %p has no IPC ops",
                umfMemoryProviderGetName(hPool->provider), (void *)hPool);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    ipc_pool_t *ip = ipc_pool_get(hPool);
    if (!ip) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    return ipc_handle_size_of(ip, size);
}

UMF_EXPORT umf_result_t umfGetIPCHandle(const void *ptr,
                                        umf_ipc_handle_t *ipcHandle,
                                        size_t *size) {
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_ARG(ipcHandle != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "ipcHandle is NULL");
    CHECK_ARG(size != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "size is NULL");
    tracker_t *t = umf_tracker();
    tracker_info_t info;
    if (!t || !tracker_lookup(t, ptr, &info)) {
        LOG_ERR("%p is not memory of a tracked pool", ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (ipc_owner_is_mapping(info.owner)) {
        LOG_ERR("%p was opened from an IPC handle; only the "
                "producer can make handles for it",
                ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_memory_pool_handle_t pool = info.owner;
    if (!provider_has_ipc(pool->provider)) {
        LOG_ERR("provider %s of pool %p has no IPC ops",
                umfMemoryProviderGetName(pool->provider), (void *)pool);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    ipc_pool_t *ip = ipc_pool_get(pool);
    if (!ip) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    return ipc_producer_get(ip, &info, ptr, ipcHandle, size);
}

UMF_EXPORT umf_result_t umfPutIPCHandle(umf_ipc_handle_t ipcHandle) {
    CHECK_ARG(ipcHandle != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "ipcHandle is NULL");
    return ipc_producer_put(ipcHandle);
}

UMF_EXPORT umf_result_t umfPoolGetIPCHandler(
    umf_memory_pool_handle_t hPool, umf_ipc_handler_handle_t *hIPCHandler) {
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    CHECK_ARG(hIPCHandler != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hIPCHandler is NULL");
    ipc_pool_t *ip = ipc_pool_get(hPool);
    if (!ip) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    *hIPCHandler = ip;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOpenIPCHandle(umf_ipc_handler_handle_t hIPCHandler,
                                         umf_ipc_handle_t ipcHandle,
                                         void **ptr) {
    CHECK_ARG(hIPCHandler != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hIPCHandler is NULL");
    CHECK_ARG(ipcHandle != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "ipcHandle is NULL");
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    ipc_pool_t *ip = ipc_handler_check(hIPCHandler);
    if (!ip) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return ipc_consumer_open(ip, ipcHandle, ptr);
}

UMF_EXPORT umf_result_t umfCloseIPCHandle(void *ptr) {
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    tracker_t *t = umf_tracker();
    tracker_info_t info;
    if (!t || !tracker_lookup(t, ptr, &info) ||
        !ipc_owner_is_mapping(info.owner)) {
        LOG_ERR("%p is not memory opened by "
                "umfOpenIPCHandle",
                ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return ipc_consumer_close(info.owner, &info);
}
