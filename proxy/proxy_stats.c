/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_stats.c - the proxy's counters (stats=1) and their report at exit.
 *
 * Each thread counts into its own block (no shared write per allocation).
 * Blocks are linked on a list at a thread's first count (under px_ts_lock,
 * once per thread) and kept in libumf's per-thread record (thread.h); at
 * thread exit a block's counts are folded into the retired totals and the
 * block is kept for the next thread. Calls after a thread's TSD
 * destructors count into the retired totals under the lock. "In use" is
 * kept per thread as a signed delta and moved to a shared per-heap counter
 * whenever it passes 1 MiB either way, which is when the peak is updated:
 * the peak is exact to within 1 MiB per thread. Bytes held from the
 * provider are counted by a thin provider in front of the OS provider
 * (provider calls are rare).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <umf/memory_provider_ops.h>

#include "proxy_internal.h"
#include "thread.h"

#define PX_FLUSH ((long long)1 << 20)

typedef struct px_counts_t {
    unsigned long long allocs, frees, requested, alloc_bytes, free_bytes;
} px_counts_t;

typedef struct px_tstats_t {
    px_counts_t heap[PX_MAX_HEAPS];
    long long delta[PX_MAX_HEAPS]; // in use, not yet moved to px_in_use
    unsigned long long sys_frees;
    struct px_tstats_t *next; // px_ts_live or px_ts_free
} px_tstats_t;

static pthread_mutex_t px_ts_lock = PTHREAD_MUTEX_INITIALIZER;
static px_tstats_t *px_ts_live, *px_ts_free;
// Threads that exited, and counts of calls made after a thread's TSD
// destructors (under px_ts_lock: rare).
static px_tstats_t px_ts_retired;
static pthread_once_t px_ts_once = PTHREAD_ONCE_INIT;
static int px_ts_slot = -1; // in libumf's per-thread record (thread.h)
static __thread px_tstats_t *px_ts __attribute__((tls_model("initial-exec")));

static _Atomic long long px_in_use[PX_MAX_HEAPS];
static _Atomic long long px_peak[PX_MAX_HEAPS];
static _Atomic unsigned long long px_held[PX_MAX_HEAPS];

static void px_fold(px_tstats_t *dst, const px_tstats_t *src) {
    for (size_t h = 0; h < PX_MAX_HEAPS; h++) {
        dst->heap[h].allocs += src->heap[h].allocs;
        dst->heap[h].frees += src->heap[h].frees;
        dst->heap[h].requested += src->heap[h].requested;
        dst->heap[h].alloc_bytes += src->heap[h].alloc_bytes;
        dst->heap[h].free_bytes += src->heap[h].free_bytes;
    }
    dst->sys_frees += src->sys_frees;
}

static void px_flush(px_tstats_t *t, size_t h) {
    long long now = atomic_fetch_add(&px_in_use[h], t->delta[h]) + t->delta[h];
    t->delta[h] = 0;
    long long peak = atomic_load(&px_peak[h]);
    while (now > peak &&
           !atomic_compare_exchange_weak(&px_peak[h], &peak, now)) {
    }
}

// Thread exit (own_thread), or a thread gone in a fork child: its counts
// go to the retired totals and its block to the free list.
static void px_ts_release(void *arg, bool own_thread) {
    px_tstats_t *t = arg;
    for (size_t h = 0; h < PX_MAX_HEAPS; h++) {
        px_flush(t, h);
    }
    pthread_mutex_lock(&px_ts_lock);
    px_fold(&px_ts_retired, t);
    for (px_tstats_t **pp = &px_ts_live; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    memset(t, 0, sizeof(*t));
    t->next = px_ts_free;
    px_ts_free = t;
    pthread_mutex_unlock(&px_ts_lock);
    if (own_thread) {
        px_ts = NULL;
    }
}

static const ut_client_t px_ts_client = {
    .name = "proxy statistics",
    .release = px_ts_release,
};

static void px_ts_init_once(void) {
    px_ts_slot = umf_private_thread_client_register(&px_ts_client);
}

// This thread's block; or, for a thread past its TSD destructors (or
// without memory), the retired block with px_ts_lock held: pass the result
// to px_ts_put.
static px_tstats_t *px_ts_get(void) {
    px_tstats_t *t = px_ts;
    if (px_likely(t != NULL)) {
        return t;
    }
    pthread_once(&px_ts_once, px_ts_init_once);
    if (umf_private_thread_self()->state != UT_DEAD) {
        pthread_mutex_lock(&px_ts_lock);
        t = px_ts_free;
        if (t) {
            px_ts_free = t->next;
        } else {
            void *m = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            t = m == MAP_FAILED ? NULL : m;
        }
        if (t) {
            if (umf_private_thread_set(px_ts_slot, t)) {
                t->next = px_ts_live;
                px_ts_live = t;
            } else {
                t->next = px_ts_free;
                px_ts_free = t;
                t = NULL;
            }
        }
        pthread_mutex_unlock(&px_ts_lock);
        if (t) {
            px_ts = t;
            return t;
        }
    }
    pthread_mutex_lock(&px_ts_lock);
    return &px_ts_retired;
}

static void px_ts_put(px_tstats_t *t) {
    if (px_unlikely(t == &px_ts_retired)) {
        for (size_t h = 0; h < PX_MAX_HEAPS; h++) {
            px_flush(t, h);
        }
        pthread_mutex_unlock(&px_ts_lock);
    }
}

static size_t px_usable(unsigned heap, void *p, size_t fallback) {
    px_enter();
    size_t n = umfPoolMallocUsableSize(px.heaps[heap].pool, p);
    px_leave();
    return n ? n : fallback;
}

void px_stats_alloc(unsigned heap, size_t requested, void *p) {
    size_t n = px_usable(heap, p, requested);
    px_tstats_t *t = px_ts_get();
    t->heap[heap].allocs++;
    t->heap[heap].requested += requested;
    t->heap[heap].alloc_bytes += n;
    t->delta[heap] += (long long)n;
    if (t->delta[heap] >= PX_FLUSH) {
        px_flush(t, heap);
    }
    px_ts_put(t);
}

void px_stats_free(unsigned heap, void *p) {
    size_t n = px_usable(heap, p, 0);
    px_tstats_t *t = px_ts_get();
    t->heap[heap].frees++;
    t->heap[heap].free_bytes += n;
    t->delta[heap] -= (long long)n;
    if (t->delta[heap] <= -PX_FLUSH) {
        px_flush(t, heap);
    }
    px_ts_put(t);
}

void px_stats_sys_free(void) {
    px_tstats_t *t = px_ts_get();
    t->sys_frees++;
    px_ts_put(t);
}

// --- A counting provider in front of the OS provider ---

typedef struct px_cprov_t {
    umf_memory_provider_handle_t inner;
    unsigned heap;
} px_cprov_t;

static px_cprov_t px_cprovs[PX_MAX_HEAPS];

static umf_result_t cp_initialize(void *params, void **priv) {
    *priv = params;
    return UMF_RESULT_SUCCESS;
}

static void cp_finalize(void *priv) {
    px_cprov_t *c = priv;
    umfMemoryProviderDestroy(c->inner);
}

static umf_result_t cp_alloc(void *priv, size_t size, size_t align,
                             void **ptr) {
    px_cprov_t *c = priv;
    umf_result_t r = umfMemoryProviderAlloc(c->inner, size, align, ptr);
    if (r == UMF_RESULT_SUCCESS) {
        atomic_fetch_add(&px_held[c->heap], size);
    }
    return r;
}

static umf_result_t cp_free(void *priv, void *ptr, size_t size) {
    px_cprov_t *c = priv;
    umf_result_t r = umfMemoryProviderFree(c->inner, ptr, size);
    if (r == UMF_RESULT_SUCCESS) {
        atomic_fetch_sub(&px_held[c->heap], size);
    }
    return r;
}

static void cp_native_error(void *priv, const char **msg, int32_t *code) {
    px_cprov_t *c = priv;
    umfMemoryProviderGetLastNativeError(c->inner, msg, code);
}

static umf_result_t cp_rec_page(void *priv, size_t size, size_t *page) {
    return umfMemoryProviderGetRecommendedPageSize(((px_cprov_t *)priv)->inner,
                                                   size, page);
}

static umf_result_t cp_min_page(void *priv, void *ptr, size_t *page) {
    return umfMemoryProviderGetMinPageSize(((px_cprov_t *)priv)->inner, ptr,
                                           page);
}

static const char *cp_name(void *priv) {
    return umfMemoryProviderGetName(((px_cprov_t *)priv)->inner);
}

static umf_result_t cp_purge_lazy(void *priv, void *ptr, size_t size) {
    return umfMemoryProviderPurgeLazy(((px_cprov_t *)priv)->inner, ptr, size);
}

static umf_result_t cp_purge_force(void *priv, void *ptr, size_t size) {
    return umfMemoryProviderPurgeForce(((px_cprov_t *)priv)->inner, ptr, size);
}

static umf_result_t cp_split(void *priv, void *ptr, size_t total,
                             size_t first) {
    return umfMemoryProviderAllocationSplit(((px_cprov_t *)priv)->inner, ptr,
                                            total, first);
}

static umf_result_t cp_merge(void *priv, void *lo, void *hi, size_t total) {
    return umfMemoryProviderAllocationMerge(((px_cprov_t *)priv)->inner, lo, hi,
                                            total);
}

umf_memory_provider_handle_t
px_stats_wrap_provider(umf_memory_provider_handle_t inner, unsigned heap) {
    umf_memory_provider_ops_t ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = cp_initialize,
        .finalize = cp_finalize,
        .alloc = cp_alloc,
        .get_last_native_error = cp_native_error,
        .get_recommended_page_size = cp_rec_page,
        .get_min_page_size = cp_min_page,
        .get_name = cp_name,
        .ext.free = cp_free,
        .ext.purge_lazy = cp_purge_lazy,
        .ext.purge_force = cp_purge_force,
        .ext.allocation_merge = cp_merge,
        .ext.allocation_split = cp_split,
    };
    px_cprovs[heap].inner = inner;
    px_cprovs[heap].heap = heap;
    umf_memory_provider_handle_t prov;
    if (umfMemoryProviderCreate(&ops, &px_cprovs[heap], &prov) !=
        UMF_RESULT_SUCCESS) {
        return NULL;
    }
    return prov;
}

// --- Report ---

// Where the report goes, opened at start-up: stats.file, or a copy of
// stderr (programs may close fd 2 before our destructor runs: coreutils'
// close_stdout closes stderr at exit).
static int px_report_fd = -1;

int px_stats_open(const char *path) {
    if (path && path[0]) {
        px_report_fd =
            open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        return px_report_fd >= 0 ? 0 : -errno;
    }
    px_report_fd = fcntl(2, F_DUPFD_CLOEXEC, 10);
    return 0;
}

void px_stats_report(void) {
    int fd = px_report_fd >= 0 ? px_report_fd : 2;
    px_tstats_t sum;
    memset(&sum, 0, sizeof(sum));
    pthread_mutex_lock(&px_ts_lock);
    px_fold(&sum, &px_ts_retired);
    for (px_tstats_t *t = px_ts_live; t; t = t->next) {
        px_fold(&sum, t);
    }
    pthread_mutex_unlock(&px_ts_lock);

    char line[512];
    snprintf(line, sizeof(line), "umf_proxy stats (pid %d, %s)\n",
             (int)getpid(), program_invocation_short_name);
    px_write_fd(fd, line);
    snprintf(line, sizeof(line), "%-10s %-9s %12s %12s %16s %14s %14s %16s\n",
             "heap", "pool", "allocs", "frees", "bytes requested",
             "bytes in use", "peak in use", "from provider");
    px_write_fd(fd, line);
    for (size_t h = 0; h < px.nheaps; h++) {
        const px_counts_t *c = &sum.heap[h];
        long long in_use = (long long)(c->alloc_bytes - c->free_bytes);
        long long peak = atomic_load(&px_peak[h]);
        if (peak < in_use) {
            peak = in_use;
        }
        snprintf(line, sizeof(line),
                 "%-10s %-9s %12llu %12llu %16llu %14lld %14lld %16llu\n",
                 h == 0 ? "base" : px.heaps[h].name,
                 px_pool_name(px.heaps[h].kind), c->allocs, c->frees,
                 c->requested, in_use, peak,
                 (unsigned long long)atomic_load(&px_held[h]));
        px_write_fd(fd, line);
    }
    snprintf(line, sizeof(line), "frees routed to the system allocator: %llu\n",
             sum.sys_frees);
    px_write_fd(fd, line);
}
