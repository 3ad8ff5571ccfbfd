/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_disjoint.c - the disjoint pool: our own allocator for memory the CPU
 * may not touch. It never reads or writes the memory it hands out; every
 * piece of metadata (slabs, free bitmaps, thread caches, the address map)
 * lives in host memory from the base allocator, so it works on GPU memory
 * and on PROT_NONE mappings.
 *
 * Shape (the contract's algorithm):
 *   - buckets of sizes MinBucketSize, 1.5x, 2x, 3x, 4x ... up to
 *     MaxPoolableSize; a request takes the smallest bucket >= its size;
 *   - buckets of at most SlabMinSize/2 are "chunked": slabs of SlabMinSize
 *     bytes from the provider, cut into bucket-size chunks tracked by a
 *     bitmap (1 = free);
 *   - larger buckets give one whole slab of max(bucket, SlabMinSize) bytes
 *     per request;
 *   - requests above MaxPoolableSize go straight to the provider and are
 *     remembered in a hash map (address -> size);
 *   - an empty chunked slab is kept if its bucket has no other empty slab,
 *     a free whole slab if the bucket keeps fewer than Capacity; either only
 *     while the (shared or private) limit on cached bytes allows. (Internal
 *     pools may keep more empty slabs: keep_sparse, keep_empty.)
 *
 * Finding a pointer's slab: a per-pool radix map from page number to slab,
 * written when a slab is taken from or given back to the provider, read
 * without locks (a free of a live pointer cannot race with its slab's
 * release). Interior pointers (from aligned allocations) work too.
 *
 * Threads: each thread keeps, per pool and chunked bucket, a small magazine
 * of free chunk pointers. The fast path of malloc pops one, the fast path of
 * free pushes one: no lock, no write shared with other threads. Magazines
 * refill from and flush to their bucket in batches under the bucket's mutex.
 * A pool owns a slot in a table of TLS_SLOTS; a thread's cache for a pool
 * remembers the slot's generation, so caches of a destroyed pool are
 * recognised as stale and dropped, never used. A thread's caches go back to
 * their pools when the thread exits (libumf's per-thread record, thread.h;
 * after that, and in threads past their destructors, the bucket mutexes are
 * used directly and nothing is kept per thread). Chunks in
 * magazines count as allocated: limits and capacities concern free slabs
 * only, so they stay exact. Pools beyond TLS_SLOTS, and pools traced at
 * level > 1 (exact statistics), use the bucket mutexes directly.
 *
 * Misuse (DESIGN.md invariant 11): each chunked slab has a second bitmap,
 * `used` (1 = handed to the program), set by every malloc and cleared by
 * every free with one atomic read-modify-write, so a double free is seen on
 * the fast path too, even while the chunk sits in a magazine. A free must
 * name a block's start: a chunk start, a whole slab's base, a large
 * allocation, or an aligned pointer the pool recorded (`aligned` map).
 * Anything else is reported by dp_misuse: abort with one line by default,
 * or an error (umfDisjointPoolParamsSetChecks). Checks off: no bitmap
 * writes, interior pointers are rounded down as before.
 *
 * Locks (see fork.h for the global order): registry_lock (pool slots and
 * the list of pools) -> a pool's bucket locks, large_lock and map_lock ->
 * whatever the provider takes. A slab's provider calls (alloc, free) are
 * made with no bucket lock held: the bucket lock is dropped while a new
 * slab is made, and slabs to give back are unlinked under it and freed
 * after it (an munmap's TLB shoot-down took 10 us or more while the other
 * threads of the bucket slept on the lock).
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <umf/memory_pool_ops.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_disjoint_ext.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "init.h"
#include "log.h"
#include "os_linux.h"
#include "pool.h"
#include "pool_disjoint_internal.h"
#include "thread.h"
#include "tracker.h"

// --- Defaults ---------------------------------------------------------------
//
// The contract's 0.10.1 defaults (slab 0, max poolable 0, capacity 0) pool
// nothing. These make a default pool useful: chunked buckets up to 1 MiB in
// 2 MiB slabs (huge-page and GPU-granularity sized, few provider calls),
// whole slabs up to 2 MiB, four free slabs kept per large bucket.
// Documented in README.md and umfDisjointPoolOps(3).
#define DP_DEFAULT_SLAB_MIN_SIZE ((size_t)2 * 1024 * 1024)
#define DP_DEFAULT_MAX_POOLABLE  ((size_t)2 * 1024 * 1024)
#define DP_DEFAULT_CAPACITY      4
#define DP_DEFAULT_NAME          "disjoint_pool"

#define DP_MAX_BUCKET ((size_t)1 << 31) // 2 GiB, the contract's top bucket
#define DP_TLS_SLOTS  64                // pools with thread caches
// A magazine holds up to DP_MAG_BYTES of chunks (at least 4, at most
// DP_MAG_MAX). 1 MiB, not 256 KiB: two threads churning blocks of 257 B-64
// KiB met on the bucket locks every few calls (pool_bench medium, checks
// off: 20 / 52 ns a pair on 1 / 2 threads, 21 / 22 since); a thread now
// holds at most 64 chunks of up to 16 KiB and 1 MiB of each bucket above.
#define DP_MAG_MAX    64                    // chunks per magazine, at most
#define DP_MAG_BYTES  ((size_t)1024 * 1024) // bytes per magazine, at most

// --- Params -----------------------------------------------------------------

struct umf_disjoint_pool_shared_limits_t {
    size_t max_size;
    _Atomic size_t cached; // bytes of free slabs kept by all its pools
};

struct umf_disjoint_pool_params_t {
    size_t slab_min_size;
    size_t max_poolable_size;
    size_t capacity;
    size_t min_bucket_size;
    size_t keep_sparse; // internal: see pool_disjoint_internal.h
    size_t keep_empty;  // internal: see pool_disjoint_internal.h
    size_t decay_ms;    // internal: see pool_disjoint_internal.h
    int trace;
    umf_disjoint_pool_shared_limits_handle_t limits;
    char *name;
    umf_disjoint_pool_checks_t checks;
};

UMF_EXPORT umf_disjoint_pool_shared_limits_handle_t
umfDisjointPoolSharedLimitsCreate(size_t MaxSize) {
    umf_disjoint_pool_shared_limits_handle_t l = ba_calloc(1, sizeof(*l));
    if (!l) {
        LOG_ERR("no memory for shared limits");
        return NULL;
    }
    l->max_size = MaxSize;
    return l;
}

UMF_EXPORT void umfDisjointPoolSharedLimitsDestroy(
    umf_disjoint_pool_shared_limits_handle_t hSharedLimits) {
    ba_free(hSharedLimits);
}

UMF_EXPORT umf_result_t
umfDisjointPoolParamsCreate(umf_disjoint_pool_params_handle_t *hParams) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    umf_disjoint_pool_params_handle_t p = ba_calloc(1, sizeof(*p));
    char *name = ba_strdup(DP_DEFAULT_NAME);
    if (!p || !name) {
        ba_free(p);
        ba_free(name);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->slab_min_size = DP_DEFAULT_SLAB_MIN_SIZE;
    p->max_poolable_size = DP_DEFAULT_MAX_POOLABLE;
    p->capacity = DP_DEFAULT_CAPACITY;
    p->min_bucket_size = UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE;
    p->keep_sparse = 1; // the contract's rule
    p->keep_empty = 1;
    p->name = name;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfDisjointPoolParamsDestroy(umf_disjoint_pool_params_handle_t hParams) {
    if (hParams) {
        ba_free(hParams->name);
        ba_free(hParams);
    }
    return UMF_RESULT_SUCCESS;
}

#define CHECK_PARAMS(h)                                                        \
    CHECK_ARG((h) != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL")

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetSlabMinSize(
    umf_disjoint_pool_params_handle_t hParams, size_t slabMinSize) {
    CHECK_PARAMS(hParams);
    hParams->slab_min_size = slabMinSize;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetMaxPoolableSize(
    umf_disjoint_pool_params_handle_t hParams, size_t maxPoolableSize) {
    CHECK_PARAMS(hParams);
    hParams->max_poolable_size = maxPoolableSize;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetCapacity(
    umf_disjoint_pool_params_handle_t hParams, size_t maxCapacity) {
    CHECK_PARAMS(hParams);
    hParams->capacity = maxCapacity;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetMinBucketSize(
    umf_disjoint_pool_params_handle_t hParams, size_t minBucketSize) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(is_pow2(minBucketSize), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "minBucketSize %zu is not a non-zero power of two",
              minBucketSize);
    hParams->min_bucket_size = minBucketSize;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetTrace(
    umf_disjoint_pool_params_handle_t hParams, int poolTrace) {
    CHECK_PARAMS(hParams);
    hParams->trace = poolTrace;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetSharedLimits(
    umf_disjoint_pool_params_handle_t hParams,
    umf_disjoint_pool_shared_limits_handle_t hSharedLimits) {
    CHECK_PARAMS(hParams);
    hParams->limits = hSharedLimits;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfDisjointPoolParamsSetChecks(umf_disjoint_pool_params_handle_t hParams,
                               umf_disjoint_pool_checks_t checks) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(checks == UMF_DISJOINT_POOL_CHECKS_ABORT ||
                  checks == UMF_DISJOINT_POOL_CHECKS_ERROR ||
                  checks == UMF_DISJOINT_POOL_CHECKS_OFF,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "checks %d is not ABORT (0), ERROR (1) or OFF (2)", (int)checks);
    hParams->checks = checks;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDisjointPoolParamsSetName(
    umf_disjoint_pool_params_handle_t hParams, const char *name) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(name != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "name is NULL");
    char *copy = ba_strdup(name);
    if (!copy) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    ba_free(hParams->name);
    hParams->name = copy;
    return UMF_RESULT_SUCCESS;
}

// --- Pool state ---------------------------------------------------------------

struct dp_bucket_t;

// Cache-line aligned, read-only fields first: the fast path of free reads
// base and bucket while other threads change the rest under the bucket
// lock.
typedef struct dp_slab_t {
    char *base;  // page aligned, in [mem, mem + mem_size)
    size_t size; // the configured slab size: chunks and limits count it
    struct dp_bucket_t *bucket;
    // Chunked slabs: a byte per chunk, 1 = handed to the program (checks
    // on), written by malloc and free without the lock; after `bitmap`,
    // from the next cache line on (used_offset).
    _Atomic unsigned char *used;
    void *mem; // what the provider gave (see slab_mem_alloc)
    size_t mem_size;
    // Mutable, under the bucket lock, from the next cache line on.
    struct dp_slab_t *prev __attribute__((aligned(64)));
    struct dp_slab_t *next; // in the bucket's avail or empty list
    unsigned char list;     // DP_LIST_*
    uint32_t nchunks, nfree;
    uint32_t hint;     // bitmap word to search first
    uint64_t empty_at; // ms, while on the bucket's empty list (decay on)
    const void *taker; // magazine that last refilled from it (see mag_slab)
    uint64_t bitmap[]; // chunked slabs: 1 = free chunk; then `used`
} dp_slab_t;

enum { DP_LIST_NONE, DP_LIST_AVAIL, DP_LIST_EMPTY };

typedef struct dp_bucket_t {
    // Read-only after creation, alone in the first cache line: the fast
    // paths read these while other threads take the lock below.
    size_t size;
    size_t slab_size;
    uint64_t div_magic; // ceil(2^64 / size): offset / size by a multiply
    int shift;          // log2(size) for power-of-two sizes, else -1
    bool chunked;
    uint32_t chunks_per_slab;
    uint32_t mag_cap; // magazine capacity for this bucket
    // Mutable, under `lock`.
    pthread_mutex_t lock __attribute__((aligned(64)));
    dp_slab_t *avail; // chunked slabs with a free chunk (none empty)
    dp_slab_t *empty; // free slabs kept for reuse
    size_t nempty;
    // Statistics (under lock): requests, frees, slabs, peaks.
    size_t n_alloc, n_free, n_slabs_new, n_slabs_freed, n_slabs, max_slabs;
    size_t n_cached_reuse;
} __attribute__((aligned(64))) dp_bucket_t;

typedef struct dp_pool_t {
    umf_memory_provider_handle_t provider;
    size_t page; // provider's minimum page size, power of two
    unsigned page_shift;
    size_t slab_min_size, max_poolable, capacity, min_bucket;
    size_t keep_sparse; // empty slabs kept by buckets of <= 4 chunks a slab
    size_t keep_empty;  // ... by every chunked bucket
    uint64_t decay_ms;  // kept empty slabs go back after this; 0: never
    size_t max_pooled;  // largest size served from buckets
    size_t max_chunked; // largest size served from chunked buckets (0: none)
    int trace;
    umf_disjoint_pool_checks_t checks;
    char *name;
    umf_disjoint_pool_shared_limits_handle_t limits; // shared or &own_limits
    struct umf_disjoint_pool_shared_limits_t own_limits;

    size_t nbuckets;
    dp_bucket_t *buckets;
    unsigned min_shift; // log2(min_bucket)

    // Page -> slab radix map: three levels of `map_bits[l]` bits each.
    unsigned map_bits[3];
    _Atomic(void *) *map_root;
    pthread_mutex_t map_lock; // writers only

    // How slabs are asked for (DP_ALIGN_*), raised when the provider
    // ignores alignment; never lowered.
    _Atomic int align_mode;

    // Mutable (slow paths), away from the read-only fields above.
    pthread_mutex_t large_lock __attribute__((aligned(64)));
    addr_map_t large; // address -> size of allocations above max_poolable
    // Aligned large allocations over-allocated on a provider that ignores
    // alignment: aligned address -> what the provider gave.
    addr_map_t large_raw;
    size_t large_bytes, n_large;
    addr_map_t aligned; // aligned pointer inside a chunk -> the chunk

    _Atomic uint64_t next_sweep; // ms: when decay_sweep looks again

    int slot;                              // TLS slot, or -1
    uint64_t gen;                          // slot generation this pool owns
    struct dp_pool_t *reg_prev, *reg_next; // registry (for fork)
} dp_pool_t;

static _Thread_local umf_result_t tls_last_error;

// --- Size classes --------------------------------------------------------------

// Index of the smallest bucket >= size. pre: 0 < size <= largest bucket.
static inline size_t bucket_index(const dp_pool_t *p, size_t size) {
    if (size <= p->min_bucket) {
        return 0;
    }
    unsigned lg = 63 - (unsigned)__builtin_clzll(size - 1); // 2^lg < size
    size_t mid = ((size_t)1 << lg) + ((size_t)1 << lg >> 1);
    return 2 * (size_t)(lg - p->min_shift) + (size <= mid ? 1 : 2);
}

// offset / size: a shift, or a multiply by ceil(2^64 / size), exact for
// every offset below 2^64 / size (slab offsets are far below).
static inline size_t chunk_index(const dp_bucket_t *b, size_t off) {
    if (b->shift >= 0) {
        return off >> b->shift;
    }
    return (size_t)(((unsigned __int128)off * b->div_magic) >> 64);
}

// --- Limits --------------------------------------------------------------------

static bool limit_take(dp_pool_t *p, size_t bytes) {
    size_t cur = atomic_load_explicit(&p->limits->cached, memory_order_relaxed);
    do {
        if (cur + bytes > p->limits->max_size || cur + bytes < cur) {
            return false;
        }
    } while (!atomic_compare_exchange_weak_explicit(
        &p->limits->cached, &cur, cur + bytes, memory_order_relaxed,
        memory_order_relaxed));
    return true;
}

static void limit_give(dp_pool_t *p, size_t bytes) {
    atomic_fetch_sub_explicit(&p->limits->cached, bytes, memory_order_relaxed);
}

static uint64_t dp_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// --- Page -> slab map ------------------------------------------------------------

static inline size_t map_key(const dp_pool_t *p, const void *ptr) {
    return (uintptr_t)ptr >> p->page_shift;
}

// Slab containing ptr, or NULL. Lock-free.
static inline dp_slab_t *map_lookup(const dp_pool_t *p, const void *ptr) {
    size_t k = map_key(p, ptr);
    unsigned b1 = p->map_bits[1], b2 = p->map_bits[2];
    size_t i0 = k >> (b1 + b2);
    if (unlikely(i0 >> p->map_bits[0])) {
        return NULL; // beyond the address bits we map
    }
    // Pairs with the release stores in map_node.
    _Atomic(void *) *n1 =
        atomic_load_explicit(&p->map_root[i0], memory_order_acquire);
    if (!n1) {
        return NULL;
    }
    _Atomic(void *) *n2 = atomic_load_explicit(
        &n1[(k >> b2) & (((size_t)1 << b1) - 1)], memory_order_acquire);
    if (!n2) {
        return NULL;
    }
    return atomic_load_explicit(&n2[k & (((size_t)1 << b2) - 1)],
                                memory_order_acquire);
}

// Leaf slot for key k, creating nodes. pre: map_lock held.
static _Atomic(void *) *map_node(dp_pool_t *p, size_t k) {
    unsigned b1 = p->map_bits[1], b2 = p->map_bits[2];
    _Atomic(void *) *slot = &p->map_root[k >> (b1 + b2)];
    for (int level = 1; level <= 2; level++) {
        _Atomic(void *) *n = atomic_load_explicit(slot, memory_order_relaxed);
        if (!n) {
            n = ba_calloc((size_t)1 << p->map_bits[level], sizeof(void *));
            if (!n) {
                return NULL;
            }
            atomic_store_explicit(slot, n, memory_order_release);
        }
        slot = level == 1 ? &n[(k >> b2) & (((size_t)1 << b1) - 1)]
                          : &n[k & (((size_t)1 << b2) - 1)];
    }
    return slot;
}

// Points every page of the slab at it (or at NULL). Nodes are never freed
// before the pool is destroyed. One walk per leaf node, whose slots for
// consecutive pages are consecutive: a 2 MiB slab of 4 KiB pages walked
// the tree 512 times under map_lock, which every thread making or giving
// back a slab takes (two threads churning large blocks waited there).
static bool map_set(dp_pool_t *p, dp_slab_t *s, dp_slab_t *value) {
    size_t first = map_key(p, s->base);
    size_t last = map_key(p, s->base + s->size - 1);
    if (last >> (p->map_bits[0] + p->map_bits[1] + p->map_bits[2])) {
        LOG_ERR("slab [%p, +%zu) lies beyond the address range the pool maps",
                (void *)s->base, s->size);
        return false;
    }
    const size_t per_leaf = (size_t)1 << p->map_bits[2];
    pthread_mutex_lock(&p->map_lock);
    for (size_t k = first; k <= last;) {
        _Atomic(void *) *leaf = map_node(p, k);
        if (!leaf) {
            // Undo what was set so far; nothing else points at the slab.
            for (size_t u = first; u < k; u++) {
                atomic_store_explicit(map_node(p, u), NULL,
                                      memory_order_release);
            }
            pthread_mutex_unlock(&p->map_lock);
            return false;
        }
        // Slots from k to the end of its leaf node, or to last.
        size_t n = per_leaf - (k & (per_leaf - 1));
        if (n > last - k + 1) {
            n = last - k + 1;
        }
        for (size_t j = 0; j < n; j++) {
            atomic_store_explicit(&leaf[j], value, memory_order_release);
        }
        k += n;
    }
    pthread_mutex_unlock(&p->map_lock);
    return true;
}

static void map_free(dp_pool_t *p) {
    if (!p->map_root) {
        return;
    }
    size_t n0 = (size_t)1 << p->map_bits[0], n1 = (size_t)1 << p->map_bits[1];
    for (size_t i = 0; i < n0; i++) {
        _Atomic(void *) *a = atomic_load(&p->map_root[i]);
        if (!a) {
            continue;
        }
        for (size_t j = 0; j < n1; j++) {
            ba_free(atomic_load(&a[j]));
        }
        ba_free(a);
    }
    ba_free(p->map_root);
    p->map_root = NULL;
}

// --- Slabs ------------------------------------------------------------------------

// The used bytes' layout. A byte per chunk, not a bit: malloc sets it with
// a plain store, where a bit took a locked read-modify-write of a word
// shared with 63 other chunks. A locked instruction waits for every store
// before it to reach the cache, so in a program that writes its blocks it
// cost far more than in a loop that only allocates (proxy_work small
// under pool=disjoint: 30-38% of dp_malloc and dp_free were the two locked
// instructions). Free still swaps the byte atomically (used_clear): of two
// threads freeing one chunk at once, one is refused, so no chunk ever sits
// in two magazines (a magazine entry names its slab, which must outlive
// it). A byte per chunk is also what upstream UMF's disjoint pool keeps. The bytes start on a cache line of their own (not
// the lines of the free bitmap and list fields, which refills and drains
// write under the lock); a line holds the bytes of the 64 chunks of one
// free-bitmap word, and magazines start at different words
// (mag_start_word), so two threads taking chunks of one slab write
// different lines.

// Offset of the used bytes from the start of the slab's metadata.
static size_t used_offset(size_t words) {
    size_t end = sizeof(dp_slab_t) + words * sizeof(uint64_t); // free bits
    return (end + 63) & ~(size_t)63;
}

static size_t slab_meta_size(const dp_bucket_t *b) {
    size_t words = b->chunked ? (b->chunks_per_slab + 63) / 64 : 0;
    if (!words) {
        return sizeof(dp_slab_t);
    }
    return used_offset(words) + words * 64; // 64 chunks a word
}

static void list_push(dp_slab_t **head, dp_slab_t *s, unsigned char which) {
    s->prev = NULL;
    s->next = *head;
    if (*head) {
        (*head)->prev = s;
    }
    *head = s;
    s->list = which;
}

static void list_remove(dp_bucket_t *b, dp_slab_t *s) {
    dp_slab_t **head = s->list == DP_LIST_AVAIL ? &b->avail : &b->empty;
    if (s->list == DP_LIST_NONE) {
        return;
    }
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        *head = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    s->prev = s->next = NULL;
    s->list = DP_LIST_NONE;
}

// Slab memory. The slab map is by page, so a slab must own every page it
// covers: s->base starts a page and [base, base + size rounded up to a
// page) lies inside the provider's allocation. The pool asks for that many
// bytes aligned to the provider's page (the contract allows it); if the
// provider ignores the alignment (a malloc-backed provider) or refuses it,
// the pool asks from then on for one page more with alignment 0 and starts
// the slab at the first page boundary inside. The switch happens once per
// pool, with one log line (and one allocation freed at once). Limits and
// chunk counts use the configured slab size, whatever was asked for.
enum { DP_ALIGN_ASK, DP_ALIGN_OVER };

static umf_result_t slab_mem_alloc(dp_pool_t *p, size_t size, dp_slab_t *s) {
    size_t span = align_up(size, p->page);
    int mode = atomic_load_explicit(&p->align_mode, memory_order_relaxed);
    for (;;) {
        size_t req = mode == DP_ALIGN_OVER ? span + p->page : span;
        size_t align = mode == DP_ALIGN_ASK ? p->page : 0;
        void *mem = NULL;
        umf_result_t r = umfMemoryProviderAlloc(p->provider, req, align, &mem);
        bool refused = r == UMF_RESULT_ERROR_INVALID_ALIGNMENT ||
                       r == UMF_RESULT_ERROR_NOT_SUPPORTED;
        if ((r != UMF_RESULT_SUCCESS && !(refused && mode == DP_ALIGN_ASK)) ||
            (r == UMF_RESULT_SUCCESS && !mem)) {
            return r != UMF_RESULT_SUCCESS
                       ? r
                       : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        uintptr_t base = align_up((uintptr_t)mem, p->page);
        if (r == UMF_RESULT_SUCCESS &&
            (base == (uintptr_t)mem || mode == DP_ALIGN_OVER)) {
            s->mem = mem;
            s->mem_size = req;
            s->base = (char *)base;
            return UMF_RESULT_SUCCESS;
        }
        if (r == UMF_RESULT_SUCCESS) {
            (void)umfMemoryProviderFree(p->provider, mem, req);
        }
        if (atomic_compare_exchange_strong_explicit(
                &p->align_mode, &mode, DP_ALIGN_OVER, memory_order_relaxed,
                memory_order_relaxed)) {
            LOG_INFO("%s: provider %s %s page alignment (%zu): slabs now "
                     "take one page more",
                     p->name, umfMemoryProviderGetName(p->provider),
                     refused ? "refuses" : "ignores", p->page);
        }
        mode = DP_ALIGN_OVER;
    }
}

// A new slab from the provider, registered in the map, all chunks free.
// Called without b->lock (the provider may take long: an mmap, a GPU
// allocation); the caller counts it under the lock. NULL with
// tls_last_error set on failure.
static dp_slab_t *slab_create(dp_pool_t *p, dp_bucket_t *b) {
    dp_slab_t *s = ba_calloc_cacheline(slab_meta_size(b));
    if (!s) {
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    umf_result_t r = slab_mem_alloc(p, b->slab_size, s);
    if (r != UMF_RESULT_SUCCESS) {
        ba_free_cacheline(s);
        tls_last_error = r;
        return NULL;
    }
    s->size = b->slab_size;
    s->bucket = b;
    s->nchunks = b->chunked ? b->chunks_per_slab : 1;
    s->nfree = s->nchunks;
    if (b->chunked) {
        size_t words = (s->nchunks + 63) / 64;
        for (size_t w = 0; w < words; w++) {
            s->bitmap[w] = ~(uint64_t)0;
        }
        if (s->nchunks % 64) {
            s->bitmap[words - 1] = ((uint64_t)1 << (s->nchunks % 64)) - 1;
        }
        // Zeroed by ba_calloc_cacheline: no chunk is in use.
        s->used = (_Atomic unsigned char *)((char *)s + used_offset(words));
    }
    if (!map_set(p, s, s)) {
        (void)umfMemoryProviderFree(p->provider, s->mem, s->mem_size);
        ba_free_cacheline(s);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    return s;
}

// Gives a slab back to the provider: out of the map, then freed. Without
// b->lock (see slab_unlink); s is on no list and nothing else refers to it.
static void slab_destroy(dp_pool_t *p, dp_slab_t *s) {
    (void)map_set(p, s, NULL);
    umf_result_t r = umfMemoryProviderFree(p->provider, s->mem, s->mem_size);
    if (r != UMF_RESULT_SUCCESS) {
        LOG_ERR("%s: provider free of slab [%p, +%zu) failed: %d", p->name,
                s->mem, s->mem_size, (int)r);
    }
    ba_free_cacheline(s);
}

// Counts s as gone and puts it on *dead, for slabs_destroy once b->lock is
// released: the provider's free (an munmap that shoots down other cores'
// TLBs) does not keep the other threads of the bucket waiting. pre:
// b->lock held, s on no list.
static void slab_unlink(dp_bucket_t *b, dp_slab_t *s, dp_slab_t **dead) {
    b->n_slabs_freed++;
    b->n_slabs--;
    s->next = *dead;
    *dead = s;
}

static void slabs_destroy(dp_pool_t *p, dp_slab_t *dead) {
    while (dead) {
        dp_slab_t *s = dead;
        dead = s->next;
        slab_destroy(p, s);
    }
}

// Gives a slab back to the provider now (pool destruction). pre: b->lock
// held, s on no list.
static void slab_release(dp_pool_t *p, dp_bucket_t *b, dp_slab_t *s) {
    dp_slab_t *dead = NULL;
    slab_unlink(b, s, &dead);
    slabs_destroy(p, dead);
}

// A slab with a free chunk (chunked) or a free whole slab, reusing kept
// free slabs first. pre: b->lock held; a new slab is made with the lock
// released for the provider's call (so the bucket may have changed when
// this returns, with the lock held again).
// Takes kept free slab s off the bucket's empty list for reuse. pre:
// b->lock held.
static void slab_reuse(dp_pool_t *p, dp_bucket_t *b, dp_slab_t *s) {
    list_remove(b, s);
    b->nempty--;
    limit_give(p, s->size);
    b->n_cached_reuse++;
}

static dp_slab_t *slab_get(dp_pool_t *p, dp_bucket_t *b) {
    if (b->chunked && b->avail) {
        return b->avail;
    }
    dp_slab_t *s = b->empty;
    if (s) {
        slab_reuse(p, b, s);
    } else {
        pthread_mutex_unlock(&b->lock);
        s = slab_create(p, b);
        pthread_mutex_lock(&b->lock);
        if (!s) {
            return NULL;
        }
        b->n_slabs_new++;
        if (++b->n_slabs > b->max_slabs) {
            b->max_slabs = b->n_slabs;
        }
    }
    if (b->chunked) {
        list_push(&b->avail, s, DP_LIST_AVAIL);
    }
    return s;
}

// Takes one free chunk of a chunked slab, searching from bitmap word
// `from`. pre: b->lock held, s->nfree > 0.
static void *chunk_take_from(dp_bucket_t *b, dp_slab_t *s, size_t from) {
    size_t words = (s->nchunks + 63) / 64;
    for (size_t n = 0; n < words; n++) {
        size_t w = (from + n) % words;
        if (s->bitmap[w]) {
            unsigned bit = (unsigned)__builtin_ctzll(s->bitmap[w]);
            s->bitmap[w] &= s->bitmap[w] - 1;
            s->hint = (uint32_t)w;
            if (--s->nfree == 0) {
                list_remove(b, s);
            }
            return s->base + (w * 64 + bit) * b->size;
        }
    }
    UMF_ASSERT(!"slab with nfree > 0 has no free bit");
    return NULL;
}

static void *chunk_take(dp_bucket_t *b, dp_slab_t *s) {
    return chunk_take_from(b, s, s->hint);
}

// Where magazine m starts looking in slab s's free bitmap: a word chosen
// by m's address (the word's 64 chunks have a line of used bytes), so that
// two threads refilling from one slab take chunks whose used bytes lie in
// different lines. Each malloc and free of a chunk writes its byte;
// threads writing bytes of one line pass it back and forth (when these
// were bits flipped with a locked instruction: 1 -> 2 threads, 0.79x the
// throughput). A slab of one word has nothing to spread: its hint, as for
// any other taker (mag_slab keeps magazines on slabs of their own there).
static size_t mag_start_word(const void *m, const dp_slab_t *s) {
    size_t words = (s->nchunks + 63) / 64;
    if (words < 2) {
        return s->hint;
    }
    uint64_t h = (uint64_t)(uintptr_t)m * 0x9e3779b97f4a7c15ULL;
    return (size_t)((h >> 32) % words);
}

// A slab became entirely free: keep it for reuse, or put it on *dead to
// be given back (slabs_destroy, after the lock). since: when its chunks
// were last used, for decay (0: now; see tcache_gc).
// pre: b->lock held, s on no list or on avail.
static void slab_now_free(dp_pool_t *p, dp_bucket_t *b, dp_slab_t *s,
                          dp_slab_t **dead, uint64_t since) {
    list_remove(b, s);
    size_t keep = !b->chunked               ? p->capacity
                  : b->chunks_per_slab <= 4 ? p->keep_sparse
                                            : 1;
    if (b->chunked && keep < p->keep_empty) {
        keep = p->keep_empty;
    }
    s->taker = NULL;
    if (b->nempty < keep && limit_take(p, s->size)) {
        list_push(&b->empty, s, DP_LIST_EMPTY);
        b->nempty++;
        if (p->decay_ms) {
            s->empty_at = since ? since : dp_now_ms();
        }
        return;
    }
    slab_unlink(b, s, dead);
}

// Decay (pools with decay_ms, internal): empty slabs kept for longer than
// decay_ms go back to the provider. Looked at, in every bucket, by the
// slow paths of malloc and free (refills, drains, the locked paths) at
// most twice per decay_ms; a bucket whose lock is busy is skipped until
// the next look. Called with no bucket lock held.
static UMF_NOINLINE void decay_sweep(dp_pool_t *p, uint64_t now) {
    dp_slab_t *dead = NULL;
    for (size_t i = 0; i < p->nbuckets; i++) {
        dp_bucket_t *b = &p->buckets[i];
        if (pthread_mutex_trylock(&b->lock) != 0) {
            continue;
        }
        dp_slab_t *next;
        for (dp_slab_t *s = b->empty; s; s = next) {
            next = s->next;
            if (now - s->empty_at >= p->decay_ms) {
                list_remove(b, s);
                b->nempty--;
                limit_give(p, s->size);
                slab_unlink(b, s, &dead);
            }
        }
        pthread_mutex_unlock(&b->lock);
    }
    slabs_destroy(p, dead);
}

static inline void decay_maybe(dp_pool_t *p) {
    if (likely(!p->decay_ms)) {
        return;
    }
    uint64_t now = dp_now_ms();
    uint64_t next = atomic_load_explicit(&p->next_sweep, memory_order_relaxed);
    if (now >= next && atomic_compare_exchange_strong_explicit(
                           &p->next_sweep, &next, now + p->decay_ms / 2 + 1,
                           memory_order_relaxed, memory_order_relaxed)) {
        decay_sweep(p, now);
    }
}

// Returns a chunk to its slab; a slab to give back goes on *dead; since as
// for slab_now_free. pre: b->lock held, chunk in s.
static umf_result_t chunk_put(dp_pool_t *p, dp_bucket_t *b, dp_slab_t *s,
                              void *chunk, dp_slab_t **dead, uint64_t since) {
    if (!b->chunked) {
        if (s->nfree != 0) {
            return UMF_RESULT_ERROR_INVALID_ARGUMENT; // caller reports
        }
        s->nfree = 1;
        slab_now_free(p, b, s, dead, since);
        return UMF_RESULT_SUCCESS;
    }
    size_t idx = chunk_index(b, (size_t)((char *)chunk - s->base));
    uint64_t bit = (uint64_t)1 << (idx % 64);
    if (s->bitmap[idx / 64] & bit) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT; // caller reports
    }
    s->bitmap[idx / 64] |= bit;
    s->nfree++;
    if (s->nfree == s->nchunks) {
        slab_now_free(p, b, s, dead, since);
    } else if (s->nfree == 1) {
        list_push(&b->avail, s, DP_LIST_AVAIL);
    }
    return UMF_RESULT_SUCCESS;
}

// --- Misuse checks ------------------------------------------------------------------
//
// Small functions called from the free, malloc and usable-size paths, so
// that those paths read the same whatever carries the thread caches.

static inline bool checks_on(const dp_pool_t *p) {
    return p->checks != UMF_DISJOINT_POOL_CHECKS_OFF;
}

// A free (or realloc) of ptr that names no live block of p. Default: one
// line on stderr, whatever UMF_LOG says, and abort(), as glibc does.
static umf_result_t dp_misuse(dp_pool_t *p, const char *why, const void *ptr) {
    return (umf_result_t)umf_misuse_report(
        "disjoint", p->name, p->checks == UMF_DISJOINT_POOL_CHECKS_ABORT, ptr,
        why);
}

#define DP_WHY_FREED   UMF_MISUSE_FREED
#define DP_WHY_INSIDE  UMF_MISUSE_INSIDE
#define DP_WHY_FOREIGN UMF_MISUSE_FOREIGN

// The used byte of chunk idx of s is written only by the thread that holds
// the chunk: the one it was handed to, until it frees it, then the thread
// whose magazine took it. The chunk itself travels between threads under
// the bucket lock or the program's own synchronisation, so relaxed
// accesses see the last write, and malloc's is a plain store. Only a
// misuse races: two frees of one chunk at once, which the exchange in
// used_clear tells apart (see used_offset).

// Chunk idx of s goes to the program.
static inline void used_set(dp_slab_t *s, size_t idx) {
    atomic_store_explicit(&s->used[idx], 1, memory_order_relaxed);
}

// Chunk idx of s comes back: true when the program held it.
static inline bool used_clear(dp_slab_t *s, size_t idx) {
    return atomic_exchange_explicit(&s->used[idx], 0, memory_order_relaxed);
}

static inline bool used_test(dp_slab_t *s, size_t idx) {
    return atomic_load_explicit(&s->used[idx], memory_order_relaxed) != 0;
}

// An aligned pointer handed out inside a chunk (dp_aligned_malloc): `raw`
// is the chunk. false: out of memory.
static bool aligned_put(dp_pool_t *p, void *ptr, void *raw) {
    pthread_mutex_lock(&p->large_lock);
    bool ok = addr_map_put(&p->aligned, (uintptr_t)ptr, (uintptr_t)raw);
    pthread_mutex_unlock(&p->large_lock);
    return ok;
}

// Is ptr an aligned pointer the pool handed out (take: and forget it)?
static bool aligned_find(dp_pool_t *p, const void *ptr, bool take) {
    pthread_mutex_lock(&p->large_lock);
    bool found = take ? addr_map_del(&p->aligned, (uintptr_t)ptr, NULL)
                      : addr_map_get(&p->aligned, (uintptr_t)ptr, NULL);
    pthread_mutex_unlock(&p->large_lock);
    return found;
}

// Free of ptr in slab s (chunk index idx, block start `start`): is it a
// live block? UMF_RESULT_SUCCESS, or what dp_misuse says.
static umf_result_t check_free(dp_pool_t *p, dp_slab_t *s, size_t idx,
                               const void *start, void *ptr) {
    if (ptr != start && !aligned_find(p, ptr, true)) {
        return dp_misuse(p, DP_WHY_INSIDE, ptr);
    }
    if (s->bucket->chunked && !used_clear(s, idx)) {
        return dp_misuse(p, DP_WHY_FREED, ptr);
    }
    return UMF_RESULT_SUCCESS;
}

// --- Thread caches ------------------------------------------------------------------

// A chunk in a magazine, with its slab: malloc sets the chunk's used byte
// (checks on) and a drain puts it back without looking the slab up in the
// map. A chunk held in a magazine keeps its slab from emptying, so the
// slab outlives the entry.
typedef struct dp_mag_ent_t {
    void *chunk;
    dp_slab_t *slab;
} dp_mag_ent_t;

typedef struct dp_mag_t {
    uint32_t count;
    uint32_t seen; // ms (low 32 bits) of its last refill or drain (tcache_gc)
    dp_mag_ent_t *ents; // mag_cap entries, in the cache's allocation
} dp_mag_t;

typedef struct dp_tcache_t {
    dp_pool_t *pool;
    uint64_t gen;     // the pool's slot generation when created
    size_t nmags;     // chunked buckets
    uint64_t next_gc; // ms: when tcache_gc may next look (pools with decay)
    dp_mag_t mags[];
} dp_tcache_t;

typedef struct dp_tls_t {
    dp_tcache_t *caches[DP_TLS_SLOTS];
} dp_tls_t;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    dp_pool_t *pool; // NULL when free
    uint64_t gen;    // bumped when the slot is released
} slots[DP_TLS_SLOTS];
static dp_pool_t *registry; // every live pool, for fork
// This thread's dp_tls_t lives in a slot of libumf's per-thread record
// (thread.h): made on first use, released at thread exit (or, in a fork
// child, for the threads that are gone), never re-made after that.
static pthread_once_t ut_once = PTHREAD_ONCE_INIT;
static _Atomic int ut_slot = -1; // read by threads that never ran the once

static void tcache_flush(dp_tcache_t *tc);

// Thread exit (or a thread gone in a fork child): give every live pool its
// chunks back, free the caches.
static void tls_release(void *arg, bool own_thread) {
    (void)own_thread;
    dp_tls_t *t = arg;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < DP_TLS_SLOTS; i++) {
        dp_tcache_t *tc = t->caches[i];
        if (tc && slots[i].pool == tc->pool && slots[i].gen == tc->gen) {
            tcache_flush(tc);
        }
        ba_free(tc);
    }
    pthread_mutex_unlock(&registry_lock);
    ba_free(t);
}

static const ut_client_t dp_ut_client = {
    .name = "disjoint pools",
    .release = tls_release,
};

static void ut_register(void) {
    ut_slot = ut_client_register(&dp_ut_client);
}

static dp_tcache_t *tcache_create_slow(dp_pool_t *p) UMF_NOINLINE UMF_COLD;

// This thread's cache for p, or NULL (no slot, tracing, out of memory).
static inline dp_tcache_t *tcache_get(dp_pool_t *p) {
    if (unlikely(p->slot < 0)) {
        return NULL;
    }
    dp_tls_t *t = ut_slot >= 0 ? ut_get(ut_self(), ut_slot) : NULL;
    if (likely(t)) {
        dp_tcache_t *tc = t->caches[p->slot];
        if (likely(tc && tc->pool == p && tc->gen == p->gen)) {
            return tc;
        }
    }
    return tcache_create_slow(p);
}

static dp_tcache_t *tcache_create_slow(dp_pool_t *p) {
    pthread_once(&ut_once, ut_register);
    if (ut_slot < 0 || ut_self()->state == UT_DEAD) {
        return NULL; // no slot, or past this thread's destructors
    }
    dp_tls_t *t = ut_get(ut_self(), ut_slot);
    if (!t) {
        t = ba_calloc(1, sizeof(*t));
        if (!t) {
            return NULL;
        }
        if (!ut_set(ut_slot, t)) {
            ba_free(t);
            return NULL;
        }
    }
    // A stale cache of a destroyed pool that had this slot: drop it. Its
    // chunks were released with that pool.
    ba_free(t->caches[p->slot]);
    t->caches[p->slot] = NULL;

    size_t nmags = 0, items = 0;
    for (size_t i = 0; i < p->nbuckets && p->buckets[i].chunked; i++) {
        nmags++;
        items += p->buckets[i].mag_cap;
    }
    dp_tcache_t *tc = ba_calloc(1, sizeof(*tc) + nmags * sizeof(dp_mag_t) +
                                       items * sizeof(dp_mag_ent_t));
    if (!tc) {
        return NULL;
    }
    tc->pool = p;
    tc->gen = p->gen;
    tc->nmags = nmags;
    dp_mag_ent_t *store = (dp_mag_ent_t *)(void *)&tc->mags[nmags];
    for (size_t i = 0; i < nmags; i++) {
        tc->mags[i].ents = store;
        store += p->buckets[i].mag_cap;
    }
    t->caches[p->slot] = tc;
    return tc;
}

// Returns `n` chunks of magazine m (its last n) to bucket b; since as for
// slab_now_free.
static void mag_drain(dp_pool_t *p, dp_bucket_t *b, dp_mag_t *m, uint32_t n,
                      uint64_t since) {
    dp_slab_t *dead = NULL;
    pthread_mutex_lock(&b->lock);
    for (uint32_t i = 0; i < n; i++) {
        dp_mag_ent_t e = m->ents[--m->count];
        // With checks off a chunk freed twice can sit in two magazines,
        // and its slab may be gone when the second drains: the page map
        // says (NULL, or the slab now there, which refuses it or not).
        dp_slab_t *s = checks_on(p) ? e.slab : map_lookup(p, e.chunk);
        if (s &&
            chunk_put(p, b, s, e.chunk, &dead, since) != UMF_RESULT_SUCCESS) {
            // Only with checks off: a chunk freed twice into magazines.
            LOG_ERR("%s: %p was freed twice (found in a thread cache)", p->name,
                    e.chunk);
        }
    }
    pthread_mutex_unlock(&b->lock);
    slabs_destroy(p, dead);
    decay_maybe(p);
}

// Idle magazines (pools with decay_ms, internal). A thread's magazines
// hold chunks for as long as it lives, and a chunk held keeps its slab from
// ever emptying: a thread that churned buffers of many sizes once and now
// uses a few kept a magazine of each bucket. So a slow path of this
// thread's cache (a refill, or a drain on free) looks at its magazines, at
// most twice per decay_ms: one neither refilled nor drained for decay_ms
// gives all its chunks back to their bucket, and slabs that empty then
// count as empty since that magazine was last used, so they go back at the
// next decay sweep (often one of this same look's drains, or the refill's
// that follows it; else the next, half a decay time later).
// One in steady use is left alone; one that balanced its mallocs and frees
// exactly for that long is drained too, and refills on its next miss. A
// thread that makes no call at all keeps its magazines until it exits, as
// jemalloc's thread caches do without its background thread.
static UMF_NOINLINE void tcache_gc(dp_pool_t *p, dp_tcache_t *tc,
                                   uint64_t now) {
    tc->next_gc = now + p->decay_ms / 2 + 1;
    for (size_t i = 0; i < tc->nmags; i++) {
        dp_mag_t *m = &tc->mags[i];
        uint32_t idle = (uint32_t)now - m->seen;
        if (m->count && idle >= p->decay_ms) {
            mag_drain(p, &p->buckets[i], m, m->count, now - idle);
            // Chunks freed into it from now on are new: their own clock.
            m->seen = (uint32_t)now;
        }
    }
}

// A slow path of magazine m of cache tc is about to run (pools with
// decay): m is in use now; the others are looked at when it is time.
static inline void mag_slow_begin(dp_pool_t *p, dp_tcache_t *tc, dp_mag_t *m) {
    if (unlikely(p->decay_ms)) {
        uint64_t now = dp_now_ms();
        m->seen = (uint32_t)now;
        if (now >= tc->next_gc) {
            tcache_gc(p, tc, now);
        }
    }
}

// pre: the pool is alive (registry_lock held by the caller, or its owner).
static void tcache_flush(dp_tcache_t *tc) {
    for (size_t i = 0; i < tc->nmags; i++) {
        if (tc->mags[i].count) {
            mag_drain(tc->pool, &tc->pool->buckets[i], &tc->mags[i],
                      tc->mags[i].count, 0);
        }
    }
}

// --- Allocation --------------------------------------------------------------------

static void trace_op(dp_pool_t *p, const char *op, void *ptr, size_t size) {
    char line[160];
    int n = snprintf(line, sizeof(line), "%s: %s %p size %zu\n", p->name, op,
                     ptr, size);
    if (n > 0) {
        (void)os_write_all(
            1, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

// Chunk or whole slab of bucket b through the bucket lock.
static void *bucket_alloc_locked(dp_pool_t *p, dp_bucket_t *b) {
    void *ptr = NULL;
    pthread_mutex_lock(&b->lock);
    dp_slab_t *s = slab_get(p, b);
    if (s) {
        if (b->chunked) {
            ptr = chunk_take(b, s);
            if (checks_on(p)) {
                used_set(s, chunk_index(b, (size_t)((char *)ptr - s->base)));
            }
        } else {
            s->nfree = 0;
            ptr = s->base;
        }
        b->n_alloc++;
    }
    pthread_mutex_unlock(&b->lock);
    return ptr;
}

// The slab magazine m refills from. In buckets of at most 64 chunks a slab
// (one line of used bytes, nothing to spread: mag_start_word), a slab that
// another magazine took from last is passed over for one of m's, one no
// magazine took from, or a kept empty one: two threads whose magazines
// shared slabs wrote one line on every malloc and free (when the used
// bytes were bits flipped with locked instructions, pool_bench large, 2
// threads: 126 ns a pair, 77 with the checks off). pre: b->lock held.
#define DP_AFFINITY_SCAN 4
static dp_slab_t *mag_slab(dp_pool_t *p, dp_bucket_t *b, const dp_mag_t *m) {
    if (b->chunks_per_slab > 64 || !b->avail) {
        return slab_get(p, b);
    }
    int n = 0;
    for (dp_slab_t *s = b->avail; s && n < DP_AFFINITY_SCAN; s = s->next, n++) {
        if (s->taker == m || s->taker == NULL) {
            return s;
        }
    }
    dp_slab_t *s = b->empty;
    if (!s) {
        return b->avail;
    }
    slab_reuse(p, b, s);
    list_push(&b->avail, s, DP_LIST_AVAIL);
    return s;
}

// The last chunk of magazine m (not empty) of bucket b goes to the
// program.
static inline void *mag_pop(const dp_pool_t *p, const dp_bucket_t *b,
                            dp_mag_t *m) {
    dp_mag_ent_t e = m->ents[--m->count];
    if (checks_on(p)) {
        used_set(e.slab,
                 chunk_index(b, (size_t)((char *)e.chunk - e.slab->base)));
    }
    return e.chunk;
}

// Refills an empty magazine with up to half its capacity and returns one
// chunk (to the program: mag_pop), or NULL with tls_last_error set. Prefetching uses the chunks of
// existing slabs only: a new slab is taken only when there is none, so the
// pool asks the provider exactly when an allocation needs it.
static void *mag_refill(dp_pool_t *p, dp_bucket_t *b, dp_mag_t *m) UMF_NOINLINE;
static void *mag_refill(dp_pool_t *p, dp_bucket_t *b, dp_mag_t *m) {
    uint32_t want = b->mag_cap / 2 + 1;
    pthread_mutex_lock(&b->lock);
    while (m->count < want) {
        if (!b->avail && m->count > 0) {
            break;
        }
        dp_slab_t *s = mag_slab(p, b, m);
        if (!s) {
            break;
        }
        s->taker = m;
        size_t from = mag_start_word(m, s);
        while (m->count < want && s->nfree > 0) {
            m->ents[m->count++] =
                (dp_mag_ent_t){chunk_take_from(b, s, from), s};
        }
    }
    b->n_alloc += m->count;
    pthread_mutex_unlock(&b->lock);
    decay_maybe(p);
    return m->count ? mag_pop(p, b, m) : NULL;
}

// An aligned large allocation on a provider that ignored the alignment:
// over-allocate and align up, remembering what the provider gave.
static void *large_alloc_over(dp_pool_t *p, size_t size, size_t alignment) {
    if (size > SIZE_MAX - alignment) {
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    size_t total = size + alignment - 1;
    void *raw = NULL;
    umf_result_t r = umfMemoryProviderAlloc(p->provider, total, 0, &raw);
    if (r != UMF_RESULT_SUCCESS || !raw) {
        tls_last_error =
            r != UMF_RESULT_SUCCESS ? r : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    void *ptr = (void *)align_up((uintptr_t)raw, alignment);
    pthread_mutex_lock(&p->large_lock);
    bool ok = addr_map_put(&p->large_raw, (uintptr_t)ptr, (uintptr_t)raw);
    if (ok && !addr_map_put(&p->large, (uintptr_t)ptr, total)) {
        (void)addr_map_del(&p->large_raw, (uintptr_t)ptr, NULL);
        ok = false;
    }
    if (ok) {
        p->large_bytes += total;
        p->n_large++;
    }
    pthread_mutex_unlock(&p->large_lock);
    if (!ok) {
        (void)umfMemoryProviderFree(p->provider, raw, total);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    return ptr;
}

// What the provider gave for a large allocation at ptr (ptr itself unless
// it was over-allocated). pre: p->large_lock held.
static void *large_raw_take_locked(dp_pool_t *p, void *ptr) {
    uint64_t raw;
    if (p->large_raw.live &&
        addr_map_del(&p->large_raw, (uintptr_t)ptr, &raw)) {
        return (void *)(uintptr_t)raw;
    }
    return ptr;
}

static void *large_alloc(dp_pool_t *p, size_t size, size_t alignment) {
    void *ptr = NULL;
    umf_result_t r = umfMemoryProviderAlloc(p->provider, size, alignment, &ptr);
    if (r != UMF_RESULT_SUCCESS || !ptr) {
        tls_last_error =
            r != UMF_RESULT_SUCCESS ? r : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    if (alignment > 1 && ((uintptr_t)ptr & (alignment - 1))) {
        (void)umfMemoryProviderFree(p->provider, ptr, size);
        return large_alloc_over(p, size, alignment);
    }
    pthread_mutex_lock(&p->large_lock);
    bool ok = addr_map_put(&p->large, (uintptr_t)ptr, size);
    if (ok) {
        p->large_bytes += size;
        p->n_large++;
    }
    pthread_mutex_unlock(&p->large_lock);
    if (!ok) {
        (void)umfMemoryProviderFree(p->provider, ptr, size);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    return ptr;
}

static void *dp_malloc_slow(dp_pool_t *p, size_t size) UMF_NOINLINE;
static void *dp_malloc_slow(dp_pool_t *p, size_t size) {
    void *ptr;
    if (size == 0) {
        return NULL; // the contract: NULL without an error
    }
    if (size > p->max_pooled) {
        ptr = large_alloc(p, size, 0);
    } else {
        ptr = bucket_alloc_locked(p, &p->buckets[bucket_index(p, size)]);
        decay_maybe(p);
    }
    if (p->trace > 2) {
        trace_op(p, "malloc", ptr, size);
    }
    return ptr;
}

static void *dp_malloc(void *priv, size_t size) {
    dp_pool_t *p = priv;
    // Fast path: a chunked bucket and a magazine with a chunk in it.
    if (likely(size - 1 < p->max_chunked)) {
        dp_tcache_t *tc = tcache_get(p);
        if (likely(tc)) {
            size_t bi = bucket_index(p, size);
            dp_mag_t *m = &tc->mags[bi];
            if (likely(m->count)) {
                return mag_pop(p, &p->buckets[bi], m);
            }
            mag_slow_begin(p, tc, m);
            return mag_refill(p, &p->buckets[bi], m);
        }
    }
    return dp_malloc_slow(p, size);
}

static umf_result_t dp_free_slow(dp_pool_t *p, void *ptr,
                                 dp_slab_t *s) UMF_NOINLINE;
static umf_result_t dp_free_slow(dp_pool_t *p, void *ptr, dp_slab_t *s) {
    if (p->trace > 2) {
        trace_op(p, "free", ptr, 0);
    }
    if (s) {
        dp_bucket_t *b = s->bucket;
        size_t idx =
            b->chunked ? chunk_index(b, (size_t)((char *)ptr - s->base)) : 0;
        void *chunk = s->base + idx * b->size;
        if (checks_on(p)) {
            umf_result_t r = check_free(p, s, idx, chunk, ptr);
            if (r != UMF_RESULT_SUCCESS) {
                return r;
            }
        }
        dp_slab_t *dead = NULL;
        pthread_mutex_lock(&b->lock);
        umf_result_t r = chunk_put(p, b, s, chunk, &dead, 0);
        if (r == UMF_RESULT_SUCCESS) {
            b->n_free++;
        }
        pthread_mutex_unlock(&b->lock);
        slabs_destroy(p, dead);
        decay_maybe(p);
        return r == UMF_RESULT_SUCCESS ? r : dp_misuse(p, DP_WHY_FREED, ptr);
    }
    // Not in a slab: a large allocation, or memory we never handed out.
    uint64_t size = 0;
    void *raw = ptr;
    pthread_mutex_lock(&p->large_lock);
    bool found = addr_map_del(&p->large, (uintptr_t)ptr, &size);
    if (found) {
        p->large_bytes -= size;
        p->n_large--;
        raw = large_raw_take_locked(p, ptr);
    }
    pthread_mutex_unlock(&p->large_lock);
    if (!found && checks_on(p)) {
        // Freed already, inside a large block, or never ours.
        return dp_misuse(p, DP_WHY_FOREIGN, ptr);
    }
    // Checks off: unknown pointers go to the provider with size 0; the
    // tracking wrapper supplies the size it registered (the contract's
    // rule).
    umf_result_t r = umfMemoryProviderFree(p->provider, raw, (size_t)size);
    if (r != UMF_RESULT_SUCCESS && found) {
        pthread_mutex_lock(&p->large_lock);
        if (raw != ptr) {
            (void)addr_map_put(&p->large_raw, (uintptr_t)ptr, (uintptr_t)raw);
        }
        if (addr_map_put(&p->large, (uintptr_t)ptr, size)) {
            p->large_bytes += size;
            p->n_large++;
        }
        pthread_mutex_unlock(&p->large_lock);
    }
    return r;
}

// Nothing nests: a slab's pool is its addresses' only owner.
static bool no_nesting(void) {
    tracker_t *t = umf_tracker();
    return t && !tracker_nested_any(t);
}

bool umf_private_disjoint_owns(void *priv, const void *ptr) {
    return map_lookup(priv, ptr) != NULL && no_nesting();
}

// Free of ptr, non-NULL, whose slab the page map gave (NULL: none).
static inline umf_result_t dp_free_in(dp_pool_t *p, void *ptr, dp_slab_t *s) {
    if (likely(s && s->bucket->chunked)) {
        dp_tcache_t *tc = tcache_get(p);
        if (likely(tc)) {
            dp_bucket_t *b = s->bucket;
            dp_mag_t *m = &tc->mags[b - p->buckets];
            size_t idx = chunk_index(b, (size_t)((char *)ptr - s->base));
            char *chunk = s->base + idx * b->size;
            if (checks_on(p)) {
                if (unlikely(chunk != ptr)) {
                    return dp_free_slow(p, ptr, s); // aligned, or misuse
                }
                if (unlikely(!used_clear(s, idx))) {
                    return dp_misuse(p, DP_WHY_FREED, ptr);
                }
            }
            if (unlikely(m->count == b->mag_cap)) {
                mag_slow_begin(p, tc, m);
                mag_drain(p, b, m, b->mag_cap / 2, 0);
            }
            m->ents[m->count++] = (dp_mag_ent_t){chunk, s};
            return UMF_RESULT_SUCCESS;
        }
    }
    return dp_free_slow(p, ptr, s);
}

static umf_result_t dp_free(void *priv, void *ptr) {
    dp_pool_t *p = priv;
    if (unlikely(!ptr)) {
        return UMF_RESULT_SUCCESS;
    }
    return dp_free_in(p, ptr, map_lookup(p, ptr));
}

UMF_EXPORT bool umf_private_disjoint_free_owned(void *dp, void *ptr) {
    dp_slab_t *s = map_lookup(dp, ptr);
    if (!s || !no_nesting()) {
        return false;
    }
    (void)dp_free_in(dp, ptr, s);
    return true;
}

static void *dp_aligned_malloc(void *priv, size_t size, size_t alignment) {
    dp_pool_t *p = priv;
    if (alignment <= 1) {
        return dp_malloc(priv, size);
    }
    if (!is_pow2(alignment)) {
        LOG_ERR("%s: alignment %zu is not a power of two", p->name, alignment);
        tls_last_error = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    if (size == 0) {
        return NULL;
    }
    if (size > p->max_pooled) {
        return large_alloc(p, size, alignment);
    }
    if (alignment <= p->page) {
        // A bucket whose size is a multiple of the alignment has aligned
        // chunks (slabs start on a page); take the smallest that fits.
        for (size_t i = bucket_index(p, size); i < p->nbuckets; i++) {
            if (p->buckets[i].size % alignment == 0) {
                void *ptr = dp_malloc(priv, p->buckets[i].size);
                if (!ptr || ((uintptr_t)ptr & (alignment - 1)) == 0) {
                    return ptr;
                }
                (void)dp_free(priv, ptr); // a provider not page aligned
                break;
            }
        }
    }
    // Over-allocate and align up; free finds the chunk from the interior
    // pointer.
    if (size > SIZE_MAX - (alignment - 1)) {
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    size_t total = size + alignment - 1;
    if (total > p->max_pooled) {
        return large_alloc(p, size, alignment);
    }
    char *raw = dp_malloc(priv, total);
    if (!raw) {
        return NULL;
    }
    void *ptr = (void *)align_up((uintptr_t)raw, alignment);
    if (ptr != raw && checks_on(p) && !aligned_put(p, ptr, raw)) {
        (void)dp_free(priv, raw);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    return ptr;
}

static void *dp_calloc(void *priv, size_t num, size_t size) {
    (void)priv, (void)num, (void)size;
    // The pool may not touch its memory, so it cannot zero it.
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

static void *dp_realloc(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    // Copying would touch the memory, which the pool must not.
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

// Does ptr (in slab s, chunk idx) name a live block? For usable size.
static bool usable_is_live(dp_pool_t *p, dp_slab_t *s, size_t idx,
                           bool at_start, const void *ptr) {
    if (!at_start && !aligned_find(p, ptr, false)) {
        return false;
    }
    if (s->bucket->chunked) {
        return used_test(s, idx);
    }
    pthread_mutex_lock(&s->bucket->lock);
    bool live = s->nfree == 0;
    pthread_mutex_unlock(&s->bucket->lock);
    return live;
}

static size_t dp_malloc_usable_size(void *priv, void *ptr) {
    dp_pool_t *p = priv;
    if (!ptr) {
        return 0;
    }
    dp_slab_t *s = map_lookup(p, ptr);
    if (s) {
        dp_bucket_t *b = s->bucket;
        size_t off = (size_t)((char *)ptr - s->base);
        size_t idx = b->chunked ? chunk_index(b, off) : 0;
        size_t start = idx * b->size;
        size_t end = b->chunked ? start + b->size : s->size;
        if (checks_on(p) && !usable_is_live(p, s, idx, off == start, ptr)) {
            return 0; // freed, or inside a block: the documented answer
        }
        return end - off;
    }
    uint64_t size = 0;
    pthread_mutex_lock(&p->large_lock);
    bool found = addr_map_get(&p->large, (uintptr_t)ptr, &size);
    pthread_mutex_unlock(&p->large_lock);
    return found ? (size_t)size : 0;
}

static umf_result_t dp_get_last_allocation_error(void *priv) {
    (void)priv;
    return tls_last_error;
}

// --- Life cycle ---------------------------------------------------------------------

static const fork_handler_t dp_fork_handler;

static void registry_add(dp_pool_t *p) {
    (void)fork_register(&dp_fork_handler);
    pthread_mutex_lock(&registry_lock);
    p->slot = -1;
    if (p->trace <= 1) {
        for (int i = 0; i < DP_TLS_SLOTS; i++) {
            if (!slots[i].pool) {
                slots[i].pool = p;
                p->slot = i;
                p->gen = slots[i].gen;
                break;
            }
        }
    }
    p->reg_prev = NULL;
    p->reg_next = registry;
    if (registry) {
        registry->reg_prev = p;
    }
    registry = p;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(dp_pool_t *p) {
    pthread_mutex_lock(&registry_lock);
    if (p->slot >= 0) {
        slots[p->slot].pool = NULL;
        slots[p->slot].gen++; // every thread's cache for this pool is stale
        // This thread's cache: its chunks go with the pool's slabs.
        dp_tls_t *t = ut_slot >= 0 ? ut_get(ut_self(), ut_slot) : NULL;
        if (t && t->caches[p->slot]) {
            ba_free(t->caches[p->slot]);
            t->caches[p->slot] = NULL;
        }
    }
    if (p->reg_prev) {
        p->reg_prev->reg_next = p->reg_next;
    } else {
        registry = p->reg_next;
    }
    if (p->reg_next) {
        p->reg_next->reg_prev = p->reg_prev;
    }
    pthread_mutex_unlock(&registry_lock);
}

static bool setup_buckets(dp_pool_t *p) {
    // MinBucket, 1.5x, 2x, 3x, ... up to the first bucket >= max_poolable
    // (capped at 2 GiB); the chunked ones come first.
    size_t top =
        p->max_poolable < DP_MAX_BUCKET ? p->max_poolable : DP_MAX_BUCKET;
    p->nbuckets = top <= p->min_bucket ? 1 : bucket_index(p, top) + 1;
    p->buckets = ba_calloc_cacheline(p->nbuckets * sizeof(dp_bucket_t));
    if (!p->buckets) {
        return false;
    }
    p->max_chunked = 0;
    // Adaptive: a thread that finds a bucket locked spins briefly before
    // it sleeps. Refills and drains hold the lock for a short while, and
    // a futex sleep and wake-up cost far more than that wait.
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (size_t i = 0; i < p->nbuckets; i++) {
        dp_bucket_t *b = &p->buckets[i];
        size_t base = p->min_bucket << (i / 2);
        b->size =
            i == 0 ? p->min_bucket
                   : (i % 2 ? base + base / 2 : p->min_bucket << ((i + 1) / 2));
        b->shift = is_pow2(b->size) ? __builtin_ctzll(b->size) : -1;
        b->div_magic = b->shift >= 0 ? 0 : UINT64_MAX / b->size + 1;
        b->chunked = b->size <= p->slab_min_size / 2;
        if (b->chunked) {
            b->slab_size = p->slab_min_size;
            b->chunks_per_slab = (uint32_t)(b->slab_size / b->size);
            size_t cap = DP_MAG_BYTES / b->size;
            b->mag_cap = (uint32_t)(cap < 4            ? 4
                                    : cap > DP_MAG_MAX ? DP_MAG_MAX
                                                       : cap);
            p->max_chunked =
                b->size < p->max_poolable ? b->size : p->max_poolable;
        } else {
            b->slab_size =
                b->size > p->slab_min_size ? b->size : p->slab_min_size;
            b->chunks_per_slab = 1;
        }
        pthread_mutex_init(&b->lock, &ma);
    }
    pthread_mutexattr_destroy(&ma);
    size_t last = p->buckets[p->nbuckets - 1].size;
    p->max_pooled = p->max_poolable < last ? p->max_poolable : last;
    return true;
}

// Sizes every bucket computation below can hold: slabs within the 47-bit
// user address space (so page rounding cannot overflow), at most
// UINT32_MAX chunks per slab (the bitmaps' counters), the smallest bucket
// no larger than the largest. Checked before anything is allocated.
#define DP_MAX_SLAB ((size_t)1 << 47)

static umf_result_t params_set_keep(umf_disjoint_pool_params_handle_t h,
                                    size_t n, size_t *field, const char *what) {
    CHECK_ARG(h != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL");
    CHECK_ARG(n >= 1, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "%s must be at least 1", what);
    *field = n;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umf_private_disjoint_params_set_keep_sparse(
    umf_disjoint_pool_params_handle_t h, size_t n) {
    return params_set_keep(h, n, h ? &h->keep_sparse : NULL, "keep_sparse");
}

UMF_EXPORT umf_result_t umf_private_disjoint_params_set_decay(
    umf_disjoint_pool_params_handle_t h, size_t ms) {
    CHECK_ARG(h != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL");
    h->decay_ms = ms;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umf_private_disjoint_params_set_keep_empty(
    umf_disjoint_pool_params_handle_t h, size_t n) {
    return params_set_keep(h, n, h ? &h->keep_empty : NULL, "keep_empty");
}

static umf_result_t params_check(const struct umf_disjoint_pool_params_t *in,
                                 size_t page) {
    if (in->min_bucket_size > DP_MAX_BUCKET) {
        LOG_ERR("min bucket size %zu is above the largest bucket, %zu",
                in->min_bucket_size, DP_MAX_BUCKET);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (in->slab_min_size > DP_MAX_SLAB) {
        LOG_ERR("slab min size %zu is above %zu (128 TiB, the address space)",
                in->slab_min_size, DP_MAX_SLAB);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t slab = align_up(in->slab_min_size, page);
    // The smallest bucket is chunked when slab >= page and it fits twice.
    if (in->slab_min_size >= page && in->min_bucket_size <= slab / 2 &&
        slab / in->min_bucket_size > UINT32_MAX) {
        LOG_ERR("slab min size %zu holds %zu chunks of the min bucket size "
                "%zu; at most %u chunks per slab: raise the min bucket size "
                "or lower the slab size",
                in->slab_min_size, slab / in->min_bucket_size,
                in->min_bucket_size, UINT32_MAX);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static void print_stats(dp_pool_t *p) {
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "%s: %-10s %10s %10s %8s %8s %8s %8s\n", p->name, "bucket",
                     "allocs", "frees", "slabs+", "slabs-", "peak", "reused");
    (void)os_write_all(1, line, (size_t)n);
    for (size_t i = 0; i < p->nbuckets; i++) {
        dp_bucket_t *b = &p->buckets[i];
        if (!b->n_alloc && !b->n_slabs_new) {
            continue;
        }
        n = snprintf(line, sizeof(line),
                     "%s: %-10zu %10zu %10zu %8zu %8zu %8zu %8zu\n", p->name,
                     b->size, b->n_alloc, b->n_free, b->n_slabs_new,
                     b->n_slabs_freed, b->max_slabs, b->n_cached_reuse);
        (void)os_write_all(1, line, (size_t)n);
    }
    n = snprintf(line, sizeof(line),
                 "%s: large allocations outstanding %zu (%zu bytes)\n", p->name,
                 p->n_large, p->large_bytes);
    (void)os_write_all(1, line, (size_t)n);
}

static void dp_finalize(void *priv);

static umf_result_t dp_initialize(umf_memory_provider_handle_t provider,
                                  void *params, void **priv) {
    CHECK_ARG(provider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "provider is NULL");
    umf_disjoint_pool_params_handle_t in = params;
    struct umf_disjoint_pool_params_t dflt = {
        .slab_min_size = DP_DEFAULT_SLAB_MIN_SIZE,
        .max_poolable_size = DP_DEFAULT_MAX_POOLABLE,
        .capacity = DP_DEFAULT_CAPACITY,
        .keep_sparse = 1,
        .keep_empty = 1,
        .min_bucket_size = UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE,
        .name = (char *)DP_DEFAULT_NAME,
    };
    if (!in) {
        in = &dflt; // NULL params: the defaults (upstream crashes)
    }
    CHECK_ARG(is_pow2(in->min_bucket_size), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "min bucket size %zu is not a non-zero power of two",
              in->min_bucket_size);

    dp_pool_t *p = ba_calloc_cacheline(sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->provider = provider;
    p->slot = -1;
    pthread_mutex_init(&p->map_lock, NULL);
    pthread_mutex_init(&p->large_lock, NULL);
    p->slab_min_size = in->slab_min_size;
    p->max_poolable = in->max_poolable_size;
    p->capacity = in->capacity;
    p->keep_sparse = in->keep_sparse;
    p->keep_empty = in->keep_empty;
    p->decay_ms = in->decay_ms;
    p->min_bucket = in->min_bucket_size;
    p->min_shift = (unsigned)__builtin_ctzll(p->min_bucket);
    p->trace = in->trace;
    p->checks = in->checks;
    p->name = ba_strdup(in->name ? in->name : DP_DEFAULT_NAME);
    p->own_limits.max_size = SIZE_MAX;
    p->limits = in->limits ? in->limits : &p->own_limits;

    umf_result_t ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    size_t page = 0;
    if (umfMemoryProviderGetMinPageSize(provider, NULL, &page) !=
            UMF_RESULT_SUCCESS ||
        !is_pow2(page)) {
        page = os_page_size();
    }
    p->page = page;
    p->page_shift = (unsigned)__builtin_ctzll(page);
    ret = params_check(in, page);
    if (ret != UMF_RESULT_SUCCESS) {
        goto err_finalize;
    }
    ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    unsigned bits = 48 > p->page_shift ? 48 - p->page_shift : 1;
    p->map_bits[2] = bits / 3;
    p->map_bits[1] = bits / 3;
    p->map_bits[0] = bits - 2 * (bits / 3);
    p->map_root = ba_calloc((size_t)1 << p->map_bits[0], sizeof(void *));
    if (!p->name || !p->map_root || !setup_buckets(p)) {
        goto err_finalize;
    }
    registry_add(p);
    LOG_DEBUG("%s: %zu buckets (%zu..%zu B), chunked up to %zu B in %zu B "
              "slabs, capacity %zu, thread caches %s",
              p->name, p->nbuckets, p->min_bucket,
              p->buckets[p->nbuckets - 1].size, p->max_chunked,
              p->slab_min_size, p->capacity, p->slot >= 0 ? "on" : "off");
    *priv = p;
    return UMF_RESULT_SUCCESS;

err_finalize:
    dp_finalize(p);
    return ret;
}

static void dp_finalize(void *priv) {
    dp_pool_t *p = priv;
    bool registered = p->buckets && p->name && p->map_root;
    if (registered) {
        registry_remove(p);
        if (p->trace > 1) {
            print_stats(p);
        }
    }
    // Every slab goes back to the provider, in use or not.
    for (size_t i = 0; p->buckets && i < p->nbuckets; i++) {
        dp_bucket_t *b = &p->buckets[i];
        pthread_mutex_lock(&b->lock);
        while (b->empty) {
            dp_slab_t *s = b->empty;
            list_remove(b, s);
            limit_give(p, s->size);
            slab_release(p, b, s);
        }
        pthread_mutex_unlock(&b->lock);
    }
    // Slabs in use (in the map only): walk the map.
    if (p->map_root) {
        size_t n0 = (size_t)1 << p->map_bits[0];
        size_t n1 = (size_t)1 << p->map_bits[1];
        size_t n2 = (size_t)1 << p->map_bits[2];
        for (size_t i = 0; i < n0; i++) {
            _Atomic(void *) *a = atomic_load(&p->map_root[i]);
            for (size_t j = 0; a && j < n1; j++) {
                _Atomic(void *) *c = atomic_load(&a[j]);
                for (size_t k = 0; c && k < n2; k++) {
                    dp_slab_t *s = atomic_load(&c[k]);
                    if (s) {
                        list_remove(s->bucket, s);
                        slab_release(p, s->bucket, s); // clears its pages
                    }
                }
            }
        }
    }
    // Large allocations still outstanding.
    for (size_t i = 0; i < p->large.cap; i++) {
        if (p->large.keys[i] > 1) {
            void *ptr = (void *)(uintptr_t)(p->large.keys[i] - 2);
            (void)umfMemoryProviderFree(p->provider,
                                        large_raw_take_locked(p, ptr),
                                        (size_t)p->large.vals[i]);
        }
    }
    addr_map_fini(&p->large);
    addr_map_fini(&p->aligned);
    addr_map_fini(&p->large_raw);
    map_free(p);
    for (size_t i = 0; p->buckets && i < p->nbuckets; i++) {
        pthread_mutex_destroy(&p->buckets[i].lock);
    }
    ba_free_cacheline(p->buckets);
    pthread_mutex_destroy(&p->map_lock);
    pthread_mutex_destroy(&p->large_lock);
    ba_free(p->name);
    ba_free_cacheline(p);
}

// --- fork -------------------------------------------------------------------------------

static void dp_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (dp_pool_t *p = registry; p; p = p->reg_next) {
        for (size_t i = 0; i < p->nbuckets; i++) {
            pthread_mutex_lock(&p->buckets[i].lock);
        }
        pthread_mutex_lock(&p->large_lock);
        pthread_mutex_lock(&p->map_lock);
    }
}

static void dp_fork_parent(void) {
    for (dp_pool_t *p = registry; p; p = p->reg_next) {
        pthread_mutex_unlock(&p->map_lock);
        pthread_mutex_unlock(&p->large_lock);
        for (size_t i = p->nbuckets; i-- > 0;) {
            pthread_mutex_unlock(&p->buckets[i].lock);
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t dp_fork_handler = {
    .name = "disjoint pools",
    .rank = FORK_RANK_DISJOINT,
    .prepare = dp_fork_prepare,
    .parent = dp_fork_parent,
    // The child's only thread holds every lock: it releases them.
    .child = dp_fork_parent,
};

umf_memory_pool_ops_t umf_private_disjoint_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = dp_initialize,
    .finalize = dp_finalize,
    .malloc = dp_malloc,
    .calloc = dp_calloc,
    .realloc = dp_realloc,
    .aligned_malloc = dp_aligned_malloc,
    .malloc_usable_size = dp_malloc_usable_size,
    .free = dp_free,
    .get_last_allocation_error = dp_get_last_allocation_error,
};

UMF_EXPORT umf_memory_pool_ops_t *umfDisjointPoolOps(void) {
    return &umf_private_disjoint_ops;
}

UMF_EXPORT void *umf_private_disjoint_pool_of(void *pool_handle) {
    umf_memory_pool_handle_t h = pool_handle;
    return h && h->ops.initialize == dp_initialize ? h->priv : NULL;
}
