/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_tracking.c - the tracking wrapper around a pool's provider.
 *
 * alloc: upstream alloc, then register [p, p+size) -> pool (on failure the
 * chunk goes back upstream). free: unregister, then upstream free (re-
 * registered if that fails), so no lookup ever finds memory already given
 * back; a pool that does not know the size (proxy, disjoint) passes 0 and
 * the registered size goes upstream. split/merge: upstream first, then the tracker. Everything else is
 * forwarded. Its name is the upstream provider's name, and a failure of an
 * upstream op shows as a failure of this wrapper in
 * umfGetLastFailedMemoryProvider(), as the contract describes.
 *
 * finalize drops whatever the pool left registered.
 * No locks here beyond the tracker's writer lock.
 */

#include "provider_tracking.h"

#include <stdatomic.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "provider.h"

typedef struct tracking_t {
    umf_memory_provider_handle_t upstream;
    umf_memory_pool_handle_t pool;
    tracker_t *tracker;
    _Atomic size_t live; // ranges this wrapper has registered
} tracking_t;

static umf_result_t trk_initialize(void *params, void **out) {
    tracking_t *t = ba_calloc(1, sizeof(*t));
    if (!t) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    *t = *(tracking_t *)params;
    *out = t;
    return UMF_RESULT_SUCCESS;
}

static void trk_finalize(void *priv) {
    tracking_t *t = priv;
    if (atomic_load_explicit(&t->live, memory_order_relaxed) > 0) {
        size_t n = tracker_drop_owner(t->tracker, t->pool);
        LOG_DEBUG("pool %p destroyed with %zu chunk(s) still registered",
                  (void *)t->pool, n);
    }
    ba_free(t);
}

static umf_result_t trk_alloc(void *priv, size_t size, size_t alignment,
                              void **ptr) {
    tracking_t *t = priv;
    void *p = NULL;
    umf_result_t ret = umfMemoryProviderAlloc(t->upstream, size, alignment, &p);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    if (p && size) {
        ret = tracker_register(t->tracker, t->pool, p, size);
        if (ret != UMF_RESULT_SUCCESS) {
            LOG_ERR("cannot register [%p, +%zu) of provider %s; freeing it", p,
                    size, umfMemoryProviderGetName(t->upstream));
            (void)umfMemoryProviderFree(t->upstream, p, size);
            return ret;
        }
        atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
    }
    *ptr = p;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t trk_free(void *priv, void *ptr, size_t size) {
    tracking_t *t = priv;
    tracker_info_t info;
    bool had = false;
    if (ptr && tracker_lookup(t->tracker, ptr, &info) && info.owner == t->pool) {
        if (info.base != ptr) {
            LOG_ERR("free of %p, inside chunk [%p, +%zu): split the chunk "
                    "first",
                    ptr, info.base, info.size);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        if (tracker_unregister(t->tracker, ptr, &info) == UMF_RESULT_SUCCESS) {
            had = true;
            if (size == 0) {
                size = info.size;
            }
        }
    }
    umf_result_t ret = umfMemoryProviderFree(t->upstream, ptr, size);
    if (had) {
        if (ret == UMF_RESULT_SUCCESS) {
            atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
        } else if (tracker_register(t->tracker, t->pool, info.base,
                                    info.size) != UMF_RESULT_SUCCESS) {
            LOG_ERR("free of %p failed and it could not be registered again",
                    ptr);
            atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
        }
    }
    return ret;
}

static void trk_get_last_native_error(void *priv, const char **msg,
                                      int32_t *err) {
    umfMemoryProviderGetLastNativeError(((tracking_t *)priv)->upstream, msg,
                                        err);
}

static umf_result_t trk_get_recommended_page_size(void *priv, size_t size,
                                                  size_t *page) {
    return umfMemoryProviderGetRecommendedPageSize(
        ((tracking_t *)priv)->upstream, size, page);
}

static umf_result_t trk_get_min_page_size(void *priv, void *ptr,
                                          size_t *page) {
    return umfMemoryProviderGetMinPageSize(((tracking_t *)priv)->upstream, ptr,
                                           page);
}

static const char *trk_get_name(void *priv) {
    return umfMemoryProviderGetName(((tracking_t *)priv)->upstream);
}

static umf_result_t trk_purge_lazy(void *priv, void *ptr, size_t size) {
    return umfMemoryProviderPurgeLazy(((tracking_t *)priv)->upstream, ptr,
                                      size);
}

static umf_result_t trk_purge_force(void *priv, void *ptr, size_t size) {
    return umfMemoryProviderPurgeForce(((tracking_t *)priv)->upstream, ptr,
                                       size);
}

static umf_result_t trk_allocation_split(void *priv, void *ptr, size_t total,
                                         size_t first) {
    tracking_t *t = priv;
    umf_result_t ret =
        umfMemoryProviderAllocationSplit(t->upstream, ptr, total, first);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = tracker_split(t->tracker, ptr, total, first);
    if (ret != UMF_RESULT_SUCCESS) {
        // Undo upstream so provider and tracker keep agreeing.
        (void)umfMemoryProviderAllocationMerge(
            t->upstream, ptr, (char *)ptr + first, total);
        return ret;
    }
    atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t trk_allocation_merge(void *priv, void *low, void *high,
                                         size_t total) {
    tracking_t *t = priv;
    umf_result_t ret =
        umfMemoryProviderAllocationMerge(t->upstream, low, high, total);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = tracker_merge(t->tracker, low, high, total);
    if (ret != UMF_RESULT_SUCCESS) {
        (void)umfMemoryProviderAllocationSplit(
            t->upstream, low, total, (size_t)((char *)high - (char *)low));
        return ret;
    }
    atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t trk_get_ipc_handle_size(void *priv, size_t *size) {
    return umfMemoryProviderGetIPCHandleSize(((tracking_t *)priv)->upstream,
                                             size);
}

static umf_result_t trk_get_ipc_handle(void *priv, const void *ptr, size_t size,
                                       void *data) {
    return umfMemoryProviderGetIPCHandle(((tracking_t *)priv)->upstream, ptr,
                                         size, data);
}

static umf_result_t trk_put_ipc_handle(void *priv, void *data) {
    return umfMemoryProviderPutIPCHandle(((tracking_t *)priv)->upstream, data);
}

static umf_result_t trk_open_ipc_handle(void *priv, void *data, void **ptr) {
    return umfMemoryProviderOpenIPCHandle(((tracking_t *)priv)->upstream, data,
                                          ptr);
}

static umf_result_t trk_close_ipc_handle(void *priv, void *ptr, size_t size) {
    return umfMemoryProviderCloseIPCHandle(((tracking_t *)priv)->upstream, ptr,
                                           size);
}

static const umf_memory_provider_ops_t tracking_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = trk_initialize,
    .finalize = trk_finalize,
    .alloc = trk_alloc,
    .get_last_native_error = trk_get_last_native_error,
    .get_recommended_page_size = trk_get_recommended_page_size,
    .get_min_page_size = trk_get_min_page_size,
    .get_name = trk_get_name,
    .ext.free = trk_free,
    .ext.purge_lazy = trk_purge_lazy,
    .ext.purge_force = trk_purge_force,
    .ext.allocation_merge = trk_allocation_merge,
    .ext.allocation_split = trk_allocation_split,
    .ipc.get_ipc_handle_size = trk_get_ipc_handle_size,
    .ipc.get_ipc_handle = trk_get_ipc_handle,
    .ipc.put_ipc_handle = trk_put_ipc_handle,
    .ipc.open_ipc_handle = trk_open_ipc_handle,
    .ipc.close_ipc_handle = trk_close_ipc_handle,
};

umf_result_t tracking_provider_create(umf_memory_provider_handle_t upstream,
                                      umf_memory_pool_handle_t pool,
                                      tracker_t *tracker,
                                      umf_memory_provider_handle_t *out) {
    tracking_t params = {.upstream = upstream, .pool = pool, .tracker = tracker};
    return umfMemoryProviderCreate(&tracking_ops, &params, out);
}
