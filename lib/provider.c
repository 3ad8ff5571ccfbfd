/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider.c - the memory provider front end: validates ops at creation,
 * checks every argument before calling an op, and remembers per thread the
 * provider whose op last failed.
 *
 * No locks; the only shared state is the handle, which is read-only after
 * creation.
 */

#include "provider.h"

#include <string.h>

#include "base_alloc.h"
#include "common.h"
#include "init.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>

static _Thread_local umf_memory_provider_handle_t tls_last_failed;

static inline umf_result_t note(umf_memory_provider_handle_t h,
                                umf_result_t r) {
    if (unlikely(r != UMF_RESULT_SUCCESS)) {
        tls_last_failed = h;
    }
    return r;
}

#define CHECK_HANDLE(h, ret) CHECK_ARG((h) != NULL, ret, "hProvider is NULL")

// --- Creation ---

static umf_result_t validate_ops(const umf_memory_provider_ops_t *ops) {
    if (ops->version != UMF_VERSION_CURRENT) {
        LOG_ERR("provider ops version %u.%u is not the supported %u.%u "
                "(UMF_VERSION_CURRENT)",
                (unsigned)UMF_MAJOR_VERSION(ops->version),
                (unsigned)UMF_MINOR_VERSION(ops->version),
                (unsigned)UMF_MAJOR_VERSION(UMF_VERSION_CURRENT),
                (unsigned)UMF_MINOR_VERSION(UMF_VERSION_CURRENT));
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const struct {
        const void *fn;
        const char *name;
    } mandatory[] = {
        {(const void *)ops->initialize, "initialize"},
        {(const void *)ops->finalize, "finalize"},
        {(const void *)ops->alloc, "alloc"},
        {(const void *)ops->get_last_native_error, "get_last_native_error"},
        {(const void *)ops->get_recommended_page_size,
         "get_recommended_page_size"},
        {(const void *)ops->get_min_page_size, "get_min_page_size"},
        {(const void *)ops->get_name, "get_name"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(mandatory); i++) {
        if (!mandatory[i].fn) {
            LOG_ERR("provider ops: mandatory op %s is NULL", mandatory[i].name);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
    }
    if (!ops->ext.allocation_split != !ops->ext.allocation_merge) {
        LOG_ERR("provider ops: ext.allocation_split and ext.allocation_merge "
                "must be both set or both NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const umf_memory_provider_ipc_ops_t *ipc = &ops->ipc;
    int nipc = !!ipc->get_ipc_handle_size + !!ipc->get_ipc_handle +
               !!ipc->put_ipc_handle + !!ipc->open_ipc_handle +
               !!ipc->close_ipc_handle;
    if (nipc != 0 && nipc != 5) {
        LOG_ERR("provider ops: the five ipc ops must be all set or all NULL "
                "(%d set)",
                nipc);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfMemoryProviderCreate(const umf_memory_provider_ops_t *ops, void *params,
                        umf_memory_provider_handle_t *hProvider) {
    CHECK_ARG(ops != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ops is NULL");
    CHECK_ARG(hProvider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hProvider is NULL");
    (void)umf_init_ensure(); // logging configured before the first message
    umf_result_t ret = validate_ops(ops);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }

    umf_memory_provider_handle_t h = ba_calloc(1, sizeof(*h));
    if (!h) {
        LOG_ERR("no memory for a provider handle");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    h->ops = *ops;
    ret = h->ops.initialize(params, &h->priv);
    if (ret != UMF_RESULT_SUCCESS) {
        LOG_DEBUG("provider initialize failed: %d", (int)ret);
        ba_free(h);
        return ret;
    }
    *hProvider = h;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT void
umfMemoryProviderDestroy(umf_memory_provider_handle_t hProvider) {
    if (!hProvider) {
        return;
    }
    hProvider->ops.finalize(hProvider->priv);
    if (tls_last_failed == hProvider) {
        tls_last_failed = NULL;
    }
    ba_free(hProvider);
}

// --- Allocation ---

UMF_EXPORT umf_result_t
umfMemoryProviderAlloc(umf_memory_provider_handle_t hProvider, size_t size,
                       size_t alignment, void **ptr) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    return note(hProvider,
                hProvider->ops.alloc(hProvider->priv, size, alignment, ptr));
}

UMF_EXPORT umf_result_t umfMemoryProviderFree(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t size) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    if (!hProvider->ops.ext.free) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return note(hProvider, hProvider->ops.ext.free(hProvider->priv, ptr, size));
}

UMF_EXPORT void
umfMemoryProviderGetLastNativeError(umf_memory_provider_handle_t hProvider,
                                    const char **ppMessage, int32_t *pError) {
    const char *msg_sink;
    int32_t err_sink;
    if (!ppMessage) {
        ppMessage = &msg_sink;
    }
    if (!pError) {
        pError = &err_sink;
    }
    if (!hProvider) {
        LOG_ERR("hProvider is NULL");
        *ppMessage = "invalid provider handle (NULL)";
        *pError = 0;
        return;
    }
    hProvider->ops.get_last_native_error(hProvider->priv, ppMessage, pError);
}

UMF_EXPORT umf_result_t umfMemoryProviderGetRecommendedPageSize(
    umf_memory_provider_handle_t hProvider, size_t size, size_t *pageSize) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(pageSize != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "pageSize is NULL");
    return note(hProvider, hProvider->ops.get_recommended_page_size(
                               hProvider->priv, size, pageSize));
}

UMF_EXPORT umf_result_t umfMemoryProviderGetMinPageSize(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t *pageSize) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(pageSize != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "pageSize is NULL");
    return note(hProvider, hProvider->ops.get_min_page_size(hProvider->priv,
                                                            ptr, pageSize));
}

UMF_EXPORT umf_result_t umfMemoryProviderPurgeLazy(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t size) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    if (!hProvider->ops.ext.purge_lazy) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return note(hProvider,
                hProvider->ops.ext.purge_lazy(hProvider->priv, ptr, size));
}

UMF_EXPORT umf_result_t umfMemoryProviderPurgeForce(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t size) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    if (!hProvider->ops.ext.purge_force) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return note(hProvider,
                hProvider->ops.ext.purge_force(hProvider->priv, ptr, size));
}

UMF_EXPORT const char *
umfMemoryProviderGetName(umf_memory_provider_handle_t hProvider) {
    CHECK_HANDLE(hProvider, NULL);
    return hProvider->ops.get_name(hProvider->priv);
}

UMF_EXPORT umf_memory_provider_handle_t umfGetLastFailedMemoryProvider(void) {
    return tls_last_failed;
}

UMF_EXPORT umf_result_t umfMemoryProviderAllocationSplit(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t totalSize,
    size_t firstSize) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_ARG(firstSize != 0 && totalSize != 0 && firstSize < totalSize,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "need 0 < firstSize (%zu) < totalSize (%zu)", firstSize,
              totalSize);
    if (!hProvider->ops.ext.allocation_split) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return note(hProvider, hProvider->ops.ext.allocation_split(
                               hProvider->priv, ptr, totalSize, firstSize));
}

UMF_EXPORT umf_result_t umfMemoryProviderAllocationMerge(
    umf_memory_provider_handle_t hProvider, void *lowPtr, void *highPtr,
    size_t totalSize) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(lowPtr != NULL && highPtr != NULL,
              UMF_RESULT_ERROR_INVALID_ARGUMENT, "lowPtr or highPtr is NULL");
    CHECK_ARG(totalSize != 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "totalSize is 0");
    CHECK_ARG((uintptr_t)lowPtr < (uintptr_t)highPtr,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "lowPtr (%p) must be below highPtr (%p)", lowPtr, highPtr);
    CHECK_ARG((uintptr_t)highPtr - (uintptr_t)lowPtr < totalSize,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "highPtr - lowPtr must be less than totalSize (%zu)", totalSize);
    if (!hProvider->ops.ext.allocation_merge) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return note(hProvider, hProvider->ops.ext.allocation_merge(
                               hProvider->priv, lowPtr, highPtr, totalSize));
}

// --- IPC front ends (no last-failed bookkeeping, as the contract says) ---

#define CHECK_IPC(h)                                                           \
    do {                                                                       \
        if (!(h)->ops.ipc.get_ipc_handle_size) {                               \
            return UMF_RESULT_ERROR_NOT_SUPPORTED;                             \
        }                                                                      \
    } while (0)

UMF_EXPORT umf_result_t umfMemoryProviderGetIPCHandleSize(
    umf_memory_provider_handle_t hProvider, size_t *size) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(size != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "size is NULL");
    CHECK_IPC(hProvider);
    return hProvider->ops.ipc.get_ipc_handle_size(hProvider->priv, size);
}

UMF_EXPORT umf_result_t umfMemoryProviderGetIPCHandle(
    umf_memory_provider_handle_t hProvider, const void *ptr, size_t size,
    void *providerIpcData) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_ARG(providerIpcData != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "providerIpcData is NULL");
    CHECK_IPC(hProvider);
    return hProvider->ops.ipc.get_ipc_handle(hProvider->priv, ptr, size,
                                             providerIpcData);
}

UMF_EXPORT umf_result_t umfMemoryProviderPutIPCHandle(
    umf_memory_provider_handle_t hProvider, void *providerIpcData) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(providerIpcData != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "providerIpcData is NULL");
    CHECK_IPC(hProvider);
    return hProvider->ops.ipc.put_ipc_handle(hProvider->priv, providerIpcData);
}

UMF_EXPORT umf_result_t umfMemoryProviderOpenIPCHandle(
    umf_memory_provider_handle_t hProvider, void *providerIpcData, void **ptr) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(providerIpcData != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "providerIpcData is NULL");
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_IPC(hProvider);
    return hProvider->ops.ipc.open_ipc_handle(hProvider->priv, providerIpcData,
                                              ptr);
}

UMF_EXPORT umf_result_t umfMemoryProviderCloseIPCHandle(
    umf_memory_provider_handle_t hProvider, void *ptr, size_t size) {
    CHECK_HANDLE(hProvider, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_IPC(hProvider);
    return hProvider->ops.ipc.close_ipc_handle(hProvider->priv, ptr, size);
}

// --- Traits of provider kinds (provider.h) ---

#define TRAITS_MAX 8

static pthread_mutex_t traits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    _Atomic(void *) alloc; // the kind's ops.alloc; NULL: free entry
    const provider_traits_t *traits;
} traits_table[TRAITS_MAX];

void provider_traits_register(const umf_memory_provider_ops_t *ops,
                              const provider_traits_t *t) {
    void *key = (void *)ops->alloc;
    pthread_mutex_lock(&traits_lock);
    for (size_t i = 0; i < TRAITS_MAX; i++) {
        void *k =
            atomic_load_explicit(&traits_table[i].alloc, memory_order_relaxed);
        if (k == key) {
            break;
        }
        if (!k) {
            traits_table[i].traits = t;
            // Pairs with the acquire load in provider_traits.
            atomic_store_explicit(&traits_table[i].alloc, key,
                                  memory_order_release);
            break;
        }
    }
    pthread_mutex_unlock(&traits_lock);
}

const provider_traits_t *provider_traits(umf_memory_provider_handle_t h) {
    if (!h) {
        return NULL;
    }
    void *key = (void *)h->ops.alloc;
    for (size_t i = 0; i < TRAITS_MAX; i++) {
        void *k =
            atomic_load_explicit(&traits_table[i].alloc, memory_order_acquire);
        if (!k) {
            return NULL;
        }
        if (k == key) {
            return traits_table[i].traits;
        }
    }
    return NULL;
}
