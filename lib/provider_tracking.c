/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_tracking.c - the tracking wrapper around a pool's provider.
 *
 * alloc: upstream alloc, then register [p, p+size) -> pool (on failure the
 * chunk goes back upstream). free: unregister, then upstream free (re-
 * registered if that fails), so no lookup ever finds memory already given
 * back; a pool that does not know the size (proxy, disjoint) passes 0 and
 * the registered size goes upstream.
 *
 * split and merge go upstream only: the tracker keeps the chunks as they
 * were allocated, which answers every lookup the same way (the pieces of a
 * chunk, and merged neighbours, all belong to the same pool). jemalloc
 * splits and merges extents on nearly every large allocation, and mirroring
 * each one in the tracker cost 90% of its time. The tracker is cut only
 * when a piece goes back to the provider: free(ptr, size) removes exactly
 * [ptr, ptr+size), cutting the chunks it starts or ends inside; a range
 * not all this pool's is refused, changing nothing, unless ptr starts a
 * chunk: then that chunk goes whatever the size (a user-written pool that
 * frees with the wrong size works, as upstream). Everything else is
 * forwarded. Its name is the upstream provider's name, and a failure of an
 * upstream op shows as a failure of this wrapper in
 * umfGetLastFailedMemoryProvider(), as the contract describes.
 *
 * finalize drops whatever the pool left registered.
 * No locks here beyond the tracker's writer lock.
 */

#include "provider_tracking.h"
#include "umf_private.h"

#include <stdatomic.h>

#include "base_alloc.h"
#include "common.h"
#include "ipc_cache.h"
#include "log.h"
#include "provider.h"

typedef struct tracking_t {
    umf_memory_provider_handle_t upstream;
    umf_memory_pool_handle_t pool;
    tracker_t *tracker;
    _Atomic bool registered; // this wrapper ever registered a range
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
    if (atomic_load_explicit(&t->registered, memory_order_relaxed)) {
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
        if (!atomic_load_explicit(&t->registered, memory_order_relaxed)) {
            atomic_store_explicit(&t->registered, true, memory_order_relaxed);
        }
    }
    *ptr = p;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t trk_free(void *priv, void *ptr, size_t size) {
    tracking_t *t = priv;
    tracker_info_t info;
    bool had = false;
    void *removed_base = NULL;
    size_t removed_size = 0;
    if (ptr && tracker_lookup(t->tracker, ptr, &info) &&
        info.owner == ipc_owner_tag(t->pool)) {
        // The pool was handed a pointer opened from an IPC handle.
        LOG_ERR("free of %p: memory opened from an IPC handle, not the "
                "pool's; release it with umfCloseIPCHandle",
                ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    // This pool's range, also where another pool's range nests inside it.
    if (ptr && tracker_lookup_owner(t->tracker, ptr, t->pool, &info)) {
        if (size == 0) {
            // The pool does not know the size: a whole chunk, by its start.
            if (info.base != ptr) {
                LOG_ERR("free of %p with size 0 inside chunk [%p, +%zu)", ptr,
                        info.base, info.size);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
            size = info.size;
        }
        // IPC: the chunks this frees lose their cached handle (the
        // provider's put runs now); one atomic read when there is none.
        if (unlikely(ipc_producer_entries(t->pool) != 0)) {
            ipc_producer_chunk_free_slow(t->pool, t->tracker, ptr, size);
        }
        void *rbase = ptr;
        size_t rsize = size;
        umf_result_t r = tracker_remove_range(t->tracker, t->pool, ptr, size);
        if (r != UMF_RESULT_SUCCESS && info.base == ptr &&
            tracker_unregister(t->tracker, ptr, &info) == UMF_RESULT_SUCCESS) {
            // A pool that passes a size other than the chunk's (upstream
            // accepts that): the chunk that starts at ptr goes.
            LOG_DEBUG("free of [%p, +%zu): chunk registered with %zu bytes",
                      ptr, size, info.size);
            rsize = info.size;
            r = UMF_RESULT_SUCCESS;
        }
        if (r != UMF_RESULT_SUCCESS) {
            LOG_ERR("free of [%p, +%zu): not memory of this pool's provider",
                    ptr, size);
            return r;
        }
        removed_base = rbase;
        removed_size = rsize;
        had = true;
    }
    umf_result_t ret = umfMemoryProviderFree(t->upstream, ptr, size);
    if (had && ret != UMF_RESULT_SUCCESS &&
        tracker_register(t->tracker, t->pool, removed_base, removed_size) !=
            UMF_RESULT_SUCCESS) {
        LOG_ERR("free of %p failed and it could not be registered again", ptr);
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

static umf_result_t trk_get_min_page_size(void *priv, void *ptr, size_t *page) {
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

// Both halves of a split, and the parts of a merge, stay where the tracker
// has them: see the top of this file.
static umf_result_t trk_allocation_split(void *priv, void *ptr, size_t total,
                                         size_t first) {
    tracking_t *t = priv;
    return umfMemoryProviderAllocationSplit(t->upstream, ptr, total, first);
}

static umf_result_t trk_allocation_merge(void *priv, void *low, void *high,
                                         size_t total) {
    tracking_t *t = priv;
    return umfMemoryProviderAllocationMerge(t->upstream, low, high, total);
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

// For libjemalloc_pool (in no public header): true when every allocation
// of h (or of the provider h's tracking wrapper forwards to) is fresh,
// zero-filled memory: the OS provider's always is (mmap, new file offsets).
// A pool asked for zeroed memory can then skip clearing it.
UMF_EXPORT bool
umf_private_provider_zero_filled(umf_memory_provider_handle_t h) {
    if (h && h->ops.alloc == tracking_ops.alloc) {
        h = ((tracking_t *)provider_priv(h))->upstream;
    }
    const provider_traits_t *t = provider_traits(h);
    return t && t->zero_filled;
}

umf_result_t tracking_provider_create(umf_memory_provider_handle_t upstream,
                                      umf_memory_pool_handle_t pool,
                                      tracker_t *tracker,
                                      umf_memory_provider_handle_t *out) {
    tracking_t params = {
        .upstream = upstream, .pool = pool, .tracker = tracker};
    return umfMemoryProviderCreate(&tracking_ops, &params, out);
}
