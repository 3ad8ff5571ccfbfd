/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool.c - the memory pool front end.
 *
 * Allocation and free are one NULL check and an indirect call: no lock, no
 * counter, no write to memory shared between threads (DESIGN.md invariant
 * 4). Ownership questions (umfFree, umfPoolByPtr) go to the tracker, whose
 * lookups are lock-free.
 *
 * User pool tables: initialize, finalize, malloc and free are required;
 * NULL calloc/realloc/aligned_malloc/malloc_usable_size are filled with
 * functions that fail with NOT_SUPPORTED, and a NULL
 * get_last_allocation_error reports those failures.
 */

#include "pool.h"
#include "umf_private.h"

#include <string.h>

#include <umf/memory_pool.h>

#include "base_alloc.h"
#include "common.h"
#include "init.h"
#include "ipc_cache.h"
#include "log.h"
#include "provider_tracking.h"

// --- Defaults for optional ops of user tables ---

static _Thread_local umf_result_t tls_default_err;

static void *dflt_calloc(void *pool, size_t num, size_t size) {
    (void)pool, (void)num, (void)size;
    tls_default_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

static void *dflt_realloc(void *pool, void *ptr, size_t size) {
    (void)pool, (void)ptr, (void)size;
    tls_default_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

static void *dflt_aligned_malloc(void *pool, size_t size, size_t alignment) {
    (void)pool, (void)size, (void)alignment;
    tls_default_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

static size_t dflt_malloc_usable_size(void *pool, void *ptr) {
    (void)pool, (void)ptr;
    tls_default_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return 0;
}

static umf_result_t dflt_get_last_allocation_error(void *pool) {
    (void)pool;
    return tls_default_err;
}

static umf_result_t prepare_ops(const umf_memory_pool_ops_t *in,
                                umf_memory_pool_ops_t *out) {
    if (in->version != UMF_VERSION_CURRENT) {
        LOG_ERR("pool ops version %u.%u is not the supported %u.%u "
                "(UMF_VERSION_CURRENT)",
                (unsigned)UMF_MAJOR_VERSION(in->version),
                (unsigned)UMF_MINOR_VERSION(in->version),
                (unsigned)UMF_MAJOR_VERSION(UMF_VERSION_CURRENT),
                (unsigned)UMF_MINOR_VERSION(UMF_VERSION_CURRENT));
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (!in->initialize || !in->finalize || !in->malloc || !in->free) {
        LOG_ERR("pool ops: initialize, finalize, malloc and free are "
                "mandatory (one is NULL)");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *out = *in;
    if (!out->calloc) {
        out->calloc = dflt_calloc;
    }
    if (!out->realloc) {
        out->realloc = dflt_realloc;
    }
    if (!out->aligned_malloc) {
        out->aligned_malloc = dflt_aligned_malloc;
    }
    if (!out->malloc_usable_size) {
        out->malloc_usable_size = dflt_malloc_usable_size;
    }
    if (!out->get_last_allocation_error) {
        out->get_last_allocation_error = dflt_get_last_allocation_error;
    }
    return UMF_RESULT_SUCCESS;
}

// --- Life cycle ---

UMF_EXPORT umf_result_t umfPoolCreate(const umf_memory_pool_ops_t *ops,
                                      umf_memory_provider_handle_t provider,
                                      void *params,
                                      umf_pool_create_flags_t flags,
                                      umf_memory_pool_handle_t *hPool) {
    CHECK_ARG(ops != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ops is NULL");
    CHECK_ARG(provider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "provider is NULL");
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");

    tracker_t *tracker = umf_pool_attach();
    if (!tracker) {
        LOG_ERR("the library is torn down (umfTearDown); call umfInit first");
        return UMF_RESULT_ERROR_UNKNOWN;
    }

    umf_result_t ret;
    umf_memory_pool_handle_t pool = ba_calloc(1, sizeof(*pool));
    if (!pool) {
        ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        goto err_detach;
    }
    ret = prepare_ops(ops, &pool->ops);
    if (ret != UMF_RESULT_SUCCESS) {
        goto err_free_pool;
    }
    pool->provider = provider;
    pool->flags = flags;
    pool->tracker = tracker;

    if (flags & UMF_POOL_CREATE_FLAG_DISABLE_TRACKING) {
        pool->pool_provider = provider;
    } else {
        ret = tracking_provider_create(provider, pool, tracker,
                                       &pool->pool_provider);
        if (ret != UMF_RESULT_SUCCESS) {
            goto err_free_pool;
        }
    }

    ret = pool->ops.initialize(pool->pool_provider, params, &pool->priv);
    if (ret != UMF_RESULT_SUCCESS) {
        LOG_DEBUG("pool initialize failed: %d", (int)ret);
        goto err_destroy_tracking;
    }
    *hPool = pool;
    return UMF_RESULT_SUCCESS;

err_destroy_tracking:
    if (pool->pool_provider != provider) {
        umfMemoryProviderDestroy(pool->pool_provider);
    }
err_free_pool:
    ba_free(pool);
err_detach:
    umf_pool_detach();
    return ret;
}

UMF_EXPORT void umfPoolDestroy(umf_memory_pool_handle_t hPool) {
    if (!hPool) {
        LOG_ERR("hPool is NULL");
        return;
    }
    hPool->ops.finalize(hPool->priv);
    // IPC: put the producer entries, close the consumer mappings, while the
    // providers are still there.
    ipc_pool_destroy(hPool);
    if (hPool->pool_provider != hPool->provider) {
        // The tracking wrapper drops what the pool left registered.
        umfMemoryProviderDestroy(hPool->pool_provider);
    }
    if (hPool->flags & UMF_POOL_CREATE_FLAG_OWN_PROVIDER) {
        umfMemoryProviderDestroy(hPool->provider);
    }
    ba_free(hPool);
    umf_pool_detach();
}

// --- Allocation ---

UMF_EXPORT void *umfPoolMalloc(umf_memory_pool_handle_t hPool, size_t size) {
    CHECK_ARG(hPool != NULL, NULL, "hPool is NULL");
    return hPool->ops.malloc(hPool->priv, size);
}

UMF_EXPORT void *umfPoolAlignedMalloc(umf_memory_pool_handle_t hPool,
                                      size_t size, size_t alignment) {
    CHECK_ARG(hPool != NULL, NULL, "hPool is NULL");
    return hPool->ops.aligned_malloc(hPool->priv, size, alignment);
}

UMF_EXPORT void *umfPoolCalloc(umf_memory_pool_handle_t hPool, size_t num,
                               size_t size) {
    CHECK_ARG(hPool != NULL, NULL, "hPool is NULL");
    return hPool->ops.calloc(hPool->priv, num, size);
}

UMF_EXPORT void *umfPoolRealloc(umf_memory_pool_handle_t hPool, void *ptr,
                                size_t size) {
    CHECK_ARG(hPool != NULL, NULL, "hPool is NULL");
    return hPool->ops.realloc(hPool->priv, ptr, size);
}

UMF_EXPORT size_t umfPoolMallocUsableSize(umf_memory_pool_handle_t hPool,
                                          void *ptr) {
    CHECK_ARG(hPool != NULL, 0, "hPool is NULL");
    return hPool->ops.malloc_usable_size(hPool->priv, ptr);
}

UMF_EXPORT umf_result_t umfPoolFree(umf_memory_pool_handle_t hPool,
                                    void *ptr) {
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    return hPool->ops.free(hPool->priv, ptr);
}

UMF_EXPORT umf_result_t
umfPoolGetLastAllocationError(umf_memory_pool_handle_t hPool) {
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    return hPool->ops.get_last_allocation_error(hPool->priv);
}

// --- Ownership ---

UMF_EXPORT umf_memory_pool_handle_t umfPoolByPtr(const void *ptr) {
    tracker_info_t info;
    if (!ptr || !tracker_lookup(umf_tracker(), ptr, &info)) {
        return NULL;
    }
    // IPC mappings answer the pool whose handler opened them.
    return ipc_owner_pool(info.owner);
}

UMF_EXPORT umf_result_t umfFree(void *ptr) {
    tracker_info_t info;
    if (ptr && tracker_lookup(umf_tracker(), ptr, &info) &&
        ipc_owner_is_mapping(info.owner)) {
        LOG_ERR("umfFree(%p): memory opened from an IPC handle; release it "
                "with umfCloseIPCHandle",
                ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_memory_pool_handle_t pool = umfPoolByPtr(ptr);
    if (!pool) {
        if (ptr) {
            LOG_DEBUG("%p belongs to no tracked pool; nothing freed", ptr);
        }
        return UMF_RESULT_SUCCESS;
    }
    return pool->ops.free(pool->priv, ptr);
}

UMF_EXPORT umf_result_t
umfPoolGetMemoryProvider(umf_memory_pool_handle_t hPool,
                         umf_memory_provider_handle_t *hProvider) {
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    CHECK_ARG(hProvider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hProvider is NULL");
    *hProvider = hPool->provider;
    return UMF_RESULT_SUCCESS;
}

// --- Tracker query used by separately built pools (not in any header) ---

// For libumf_proxy.so (in no public header): the tracker's epoch, which
// lets it cache ownership answers per thread (see tracker_epoch).
UMF_EXPORT const _Atomic uint64_t *umf_private_tracker_epoch(void) {
    tracker_t *t = umf_tracker();
    return t ? tracker_epoch(t) : NULL;
}

// For libumf_proxy.so (in no public header): umfMemoryTrackerGetAllocInfo
// plus whether the answer may be cached for the whole range: false when
// ranges of other pools are nested inside it (a program's pool whose
// provider took its memory from the proxy's pool), whose addresses have
// another owner (DESIGN.md invariant 10).
UMF_EXPORT umf_result_t umf_private_tracker_lookup(const void *ptr,
                                                   umf_alloc_info_t *info,
                                                   bool *cacheable) {
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_ARG(info != NULL && cacheable != NULL,
              UMF_RESULT_ERROR_INVALID_ARGUMENT, "info or cacheable is NULL");
    tracker_t *t = umf_tracker();
    if (!t) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    tracker_info_t ti;
    if (!tracker_lookup(t, ptr, &ti)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    info->base = ti.base;
    info->baseSize = ti.size;
    info->pool = ipc_owner_pool(ti.owner);
    *cacheable = !ti.has_nested;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfMemoryTrackerGetAllocInfo(const void *ptr,
                                                     umf_alloc_info_t *info) {
    CHECK_ARG(ptr != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ptr is NULL");
    CHECK_ARG(info != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "pAllocInfo is NULL");
    tracker_t *t = umf_tracker();
    if (!t) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    tracker_info_t ti;
    if (!tracker_lookup(t, ptr, &ti)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    info->base = ti.base;
    info->baseSize = ti.size;
    info->pool = ipc_owner_pool(ti.owner);
    return UMF_RESULT_SUCCESS;
}
