/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_host.c - the host-memory engine: the proxy's default pool, for
 * memory the CPU may touch (DESIGN.md invariant 3: it writes its free
 * lists into free blocks, so it is never used on device memory; the
 * disjoint pool is the engine for that).
 *
 * Layout. The engine takes 4 MiB segments from the provider, aligned to
 * 4 MiB. A segment starts with its record (one 128-byte record per 64 KiB
 * page) in page 0, then 63 pages of blocks. A page serves one size class
 * (16 B to 16 KiB, four classes per power of two) to one heap; classes of
 * 20 to 128 KiB use runs of 4, 8 or 16 pages, described by the run's
 * first page record. From any block address, address arithmetic gives its
 * segment, its page and its index: no lookup, no lock. A process-wide bitmap with one bit per 4 MiB of
 * address space says which segments are ours (one load for free() of a
 * pointer some other allocator owns).
 *
 * Heaps. Each thread has a heap per pool (kept through libumf's per-thread
 * mechanism, thread.h). A heap keeps, per class, the page it allocates
 * from, the other pages with free blocks, and its full pages. Malloc pops
 * the current page's free list; free by the owning thread pushes onto it.
 * A free by any other thread pushes the block onto the page's own atomic
 * list (one compare-and-swap, no lock); the owner takes that whole list
 * back when its current page runs dry, and looks at a few of its full
 * pages each time for blocks freed that way. Fresh pages are carved a few
 * KiB at a time, so a small program only touches what it uses.
 *
 * Threads. At thread exit the heap gives its empty pages back to the pool
 * and goes on the pool's list of abandoned heaps; the next new thread
 * adopts it (with whatever blocks were freed into it meanwhile). Threads
 * past their TSD destructors, or without a per-thread record, allocate
 * from the pool's shared heap under a mutex; their frees take the
 * other-thread path. In a fork child the heaps of threads that do not
 * exist there are left as they were (one may have been in the middle of
 * an update): blocks freed into them are not reused in that child.
 *
 * Memory goes back. Empty pages return to the pool; pages free for longer
 * than the decay time (1 s by default) are purged through the provider
 * (MADV_FREE for the OS provider) when the pool next hands out or takes
 * back a page. Segments stay mapped until the pool is destroyed (their
 * headers are read by concurrent frees).
 *
 * Misuse (DESIGN.md invariant 11), checked unless checks are off: a free
 * must name the start of a block of a page in use that was handed out
 * (address arithmetic), and the block must not carry the free mark: its
 * second word equal to its address XOR a random per-process key, written
 * by every free (and when a page is carved), cleared by every malloc. So
 * a double free is seen before the block can be handed out again, at the
 * cost of a store into the line malloc reads anyway. What slips through:
 * two frees of one block racing on two threads, and a program that writes
 * exactly the mark into a block (2^-64 by chance). Reported like the
 * disjoint pool: one line and abort by default, or an error.
 *
 * Larger blocks (above UMF_HOST_MAX) go to a disjoint pool created
 * on the same provider inside this pool; its chunks are registered in the
 * tracker with this pool as owner, as the engine's segments are.
 *
 * Locks: registry_lock (slots, the list of pools) -> a pool's lock (pages,
 * segments, abandoned heaps) -> the provider's. The shared heap's mutex is
 * taken before the pool's lock.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include <umf/memory_pool_ops.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_disjoint.h>

#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "init.h"
#include "log.h"
#include "os_linux.h"
#include "pool.h"
#include "pool_disjoint_internal.h"
#include "pool_host.h"
#include "thread.h"

#define HP_TLS_SLOTS      8
#define HP_CARVE          4096 // bytes of a fresh page made ready at a time
#define HP_SCAN_FULL      4    // full pages looked at per refill
#define HP_DECAY_MS       1000
// The large-block pool keeps up to HP_LARGE_KEEP empty 2 MiB slabs in each
// bucket of blocks up to 1 MiB, HP_LARGE_CAPACITY free slabs of a block of
// 1-2 MiB each, HP_LARGE_KEPT bytes in all (see large_of). 64 MiB, not 32:
// two threads churning rings of 1-4 MiB buffers swing twice as far in how
// many slabs are free at a time, and with 32 each swing past it unmapped
// slabs mapped again moments later (proxy_work huge:2, 375 munmaps and
// 2.6x the time of 1 thread; 18 with this and the proxy's larger cache).
#define HP_LARGE_KEEP     8
#define HP_LARGE_CAPACITY 16 // free whole slabs (blocks over 1 MiB) kept
#define HP_LARGE_KEPT     ((size_t)64 << 20)
#define HP_PURGE_MAX      16 // pages purged per call
// Run kinds: single pages, and runs of 4, 8 and 16 pages.
enum { HP_RUN_1 = 0, HP_NRUNS = 4 };
static const unsigned hp_run_pages[HP_NRUNS] = {1, 4, 8, 16};

typedef struct hp_pool_t {
    umf_memory_provider_handle_t provider;
    void *large; // the disjoint pool for larger blocks; NULL until first used
    // Its bound on the bytes of empty slabs it keeps (HP_LARGE_KEPT).
    umf_disjoint_pool_shared_limits_handle_t large_limits;
    umf_disjoint_pool_checks_t checks;
    uintptr_t key; // the free mark's key (hp_heap_t.key); 0: checks off
    unsigned decay_ms;
    int slot;     // in the per-thread table; -1: none (shared heap only)
    uint64_t gen; // unique per pool, never 0
    char name[64];
    pthread_mutex_t lock; // segments, free pages, heaps
    hp_seg_t *segs;
    // Free pages (HP_RUN_1) and runs of each size: not purged, most
    // recently freed at head; and purged (or never used).
    hp_list_t free_runs[HP_NRUNS];
    hp_list_t purged_runs[HP_NRUNS];
    hp_heap_t *abandoned;
    hp_heap_t *all_heaps;
    pthread_mutex_t shared_lock; // the shared heap
    hp_heap_t *shared;
    struct hp_pool_t *reg_prev, *reg_next;
} hp_pool_t;

// Stands for "no page" in hp_heap_t.cur, so the fast path needs no test.
static hp_page_t hp_empty;

static const uint32_t hp_sizes[HP_NCLASSES] = {
    16,    32,    48,    64,    80,    96,    112,    128,   160,   192,
    224,   256,   320,   384,   448,   512,   640,    768,   896,   1024,
    1280,  1536,  1792,  2048,  2560,  3072,  3584,   4096,  5120,  6144,
    7168,  8192,  10240, 12288, 14336, 16384, 20480,  24576, 28672, 32768,
    40960, 49152, 57344, 65536, 81920, 98304, 114688, 131072};

// The run kind of class c: 8 to 12 blocks per run above 16 KiB.
static inline unsigned run_of(unsigned c) {
    uint32_t bs = hp_sizes[c];
    return bs <= UMF_HOST_SMALL_MAX ? 0 : bs <= 32768 ? 1 : bs <= 65536 ? 2 : 3;
}
// Class of each size, by (size + 15) / 16.
static uint8_t hp_class_of[HP_NSIZES];
// The entries of hp_heap_t.direct that stand for class c: [lo, hi], or
// none (lo > hi) above HP_DIRECT_MAX.
static uint8_t hp_direct_lo[HP_NCLASSES], hp_direct_hi[HP_NCLASSES];
// The free mark's key: random per process, never 0.
static uintptr_t hp_key;

// One bit per 4 MiB of the address space: a segment of a host pool.
static _Atomic uint64_t *hp_segmap;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static hp_pool_t *registry;
static struct { hp_pool_t *pool; } slots[HP_TLS_SLOTS];
static uint64_t next_gen = 1;

typedef struct hp_tls_t {
    struct {
        hp_heap_t *heap;
        uint64_t gen;
    } ent[HP_TLS_SLOTS];
} hp_tls_t;

static int hp_ut_slot = -1; // written once, before any pool exists
static _Thread_local umf_result_t hp_last_error;

static void hp_fork_register(void);

// --- Small helpers ------------------------------------------------------------------

static void segmap_set(uintptr_t a, bool on) {
    uint64_t bit = (uint64_t)1 << ((a >> HP_SEG_SHIFT) & 63);
    _Atomic uint64_t *w = &hp_segmap[a >> (HP_SEG_SHIFT + 6)];
    if (on) {
        atomic_fetch_or_explicit(w, bit, memory_order_release);
    } else {
        atomic_fetch_and_explicit(w, ~bit, memory_order_release);
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void list_push_head(hp_list_t *l, hp_page_t *pg) {
    pg->prev = NULL;
    pg->next = l->head;
    if (l->head) {
        l->head->prev = pg;
    } else {
        l->tail = pg;
    }
    l->head = pg;
}

static inline void list_push_tail(hp_list_t *l, hp_page_t *pg) {
    pg->next = NULL;
    pg->prev = l->tail;
    if (l->tail) {
        l->tail->next = pg;
    } else {
        l->head = pg;
    }
    l->tail = pg;
}

static inline void list_remove(hp_list_t *l, hp_page_t *pg) {
    if (pg->prev) {
        pg->prev->next = pg->next;
    } else {
        l->head = pg->next;
    }
    if (pg->next) {
        pg->next->prev = pg->prev;
    } else {
        l->tail = pg->prev;
    }
    pg->prev = pg->next = NULL;
}

// --- Misuse ---------------------------------------------------------------------------

#define HP_WHY_FREED   UMF_MISUSE_FREED
#define HP_WHY_INSIDE  UMF_MISUSE_INSIDE
#define HP_WHY_FOREIGN UMF_MISUSE_FOREIGN

static umf_result_t hp_misuse(hp_pool_t *p, const char *why, const void *ptr) {
    return (umf_result_t)umf_misuse_report(
        "host", p->name, p->checks == UMF_DISJOINT_POOL_CHECKS_ABORT, ptr, why);
}

// --- Pages and segments -------------------------------------------------------------

// Purges pages free for longer than the decay time, oldest first.
// pre: p->lock held.
static void purge_old(hp_pool_t *p, uint64_t now) {
    for (unsigned r = 0; r < HP_NRUNS; r++) {
        hp_page_t *pg;
        for (int n = 0;
             n < HP_PURGE_MAX && (pg = p->free_runs[r].tail) != NULL &&
             now - pg->freed_at >= p->decay_ms;
             n++) {
            hp_seg_t *s = hp_seg_of(pg);
            char *base = (char *)s + (size_t)(pg - s->pages) * HP_PAGE;
            size_t len = (size_t)hp_run_pages[r] * HP_PAGE;
            if (umfMemoryProviderPurgeLazy(p->provider, base, len) !=
                UMF_RESULT_SUCCESS) {
                (void)umfMemoryProviderPurgeForce(p->provider, base, len);
            }
            list_remove(&p->free_runs[r], pg);
            pg->purged = 1;
            list_push_head(&p->purged_runs[r], pg);
        }
    }
}

// purge_old, reading the clock only when some run waits: a program that
// has freed no page yet never calls clock_gettime, whose page of libc
// would add to its start-up RSS. pre: p->lock held.
static void purge_pending(hp_pool_t *p) {
    for (unsigned r = 0; r < HP_NRUNS; r++) {
        if (p->free_runs[r].tail) {
            purge_old(p, now_ms());
            return;
        }
    }
}

// A new segment cut into runs of kind `kind` (what is left over: single
// pages), onto the purged lists. pre: p->lock held.
static bool seg_add(hp_pool_t *p, unsigned kind) {
    void *raw = NULL;
    size_t raw_size = HP_SEG;
    umf_result_t r = umfMemoryProviderAlloc(p->provider, HP_SEG, HP_SEG, &raw);
    if (r != UMF_RESULT_SUCCESS || !raw ||
        ((uintptr_t)raw & (HP_SEG - 1)) != 0) {
        if (r == UMF_RESULT_SUCCESS && raw) {
            (void)umfMemoryProviderFree(p->provider, raw, HP_SEG);
        }
        // A provider that cannot align: twice the size, aligned inside.
        raw = NULL;
        raw_size = 2 * HP_SEG;
        r = umfMemoryProviderAlloc(p->provider, raw_size, 0, &raw);
        if (r != UMF_RESULT_SUCCESS || !raw) {
            LOG_ERR("%s: the provider gave no 4 MiB segment (%d)", p->name,
                    (int)r);
            return false;
        }
    }
    uintptr_t a = ((uintptr_t)raw + HP_SEG - 1) & ~(uintptr_t)(HP_SEG - 1);
    if ((a + HP_SEG - 1) >> HP_ADDR_BITS) {
        LOG_ERR("%s: the provider's memory at %p is above the 47-bit "
                "address space the engine maps",
                p->name, raw);
        (void)umfMemoryProviderFree(p->provider, raw, raw_size);
        return false;
    }
    hp_seg_t *s = (hp_seg_t *)a;
    // Providers need not give zeroed memory (a malloc-backed one does not).
    memset(s, 0, sizeof(*s));
    s->pool = p;
    s->alloc_base = raw;
    s->alloc_size = raw_size;
    s->next = p->segs;
    p->segs = s;
    // Highest first onto the heads, so the lowest is taken first.
    size_t k = hp_run_pages[kind];
    size_t nruns = (HP_PAGES - HP_FIRST_PAGE) / k;
    size_t first_single = HP_FIRST_PAGE + nruns * k;
    for (size_t i = HP_PAGES; i-- > first_single;) {
        hp_page_t *pg = &s->pages[i];
        pg->where = HP_W_POOL;
        pg->purged = 1; // fresh: nothing to purge
        pg->span = 1;
        list_push_head(&p->purged_runs[HP_RUN_1], pg);
    }
    for (size_t j = nruns; j-- > 0;) {
        hp_page_t *pg = &s->pages[HP_FIRST_PAGE + j * k];
        for (size_t t = 1; t < k; t++) {
            pg[t].back = (uint8_t)t;
        }
        pg->where = HP_W_POOL;
        pg->purged = 1;
        pg->span = (uint8_t)k;
        list_push_head(&p->purged_runs[kind], pg);
    }
    segmap_set(a, true);
    return true;
}

// Every HP_STASH_LOOK pushes and pops of a heap's stash, the pages of each
// kind that sat in it unused the whole time (its low-water mark) go half
// back to the pool, oldest first, where decay purges them: a heap keeps
// what its churn needs, not what a burst once left (jemalloc's thread
// caches shrink the same way).
static void page_release(hp_pool_t *p, hp_page_t *pg);
static void stash_gc(hp_heap_t *h) {
    if (++h->stash_ops < HP_STASH_LOOK) {
        return;
    }
    h->stash_ops = 0;
    for (unsigned r = 0; r < HP_NRUNS; r++) {
        unsigned drop = (h->stash_low[r] + 1u) / 2;
        if (drop) {
            // Keep the newest nstash - drop, release the rest.
            unsigned keep = h->nstash[r] - drop;
            hp_page_t **link = &h->stash[r];
            for (unsigned i = 0; i < keep; i++) {
                link = &(*link)->next;
            }
            hp_page_t *pg = *link;
            *link = NULL;
            while (pg) {
                hp_page_t *next = pg->next;
                pg->next = NULL;
                page_release(h->pool, pg);
                pg = next;
            }
            h->nstash[r] = (uint8_t)keep;
        }
        h->stash_low[r] = h->nstash[r];
    }
}

// A free page set up for class c of heap h, or NULL. A stashed page is
// carved afresh even when it last held class c: its free list, in the
// order blocks were freed, would be walked out of order, a cache miss a
// block, where carving writes the blocks in address order (measured: 33
// against 21 ns per pair of 257 B-64 KiB blocks).
static hp_page_t *page_take(hp_pool_t *p, hp_heap_t *h, unsigned c) {
    unsigned r = run_of(c);
    hp_page_t *pg = h->stash[r];
    if (pg) {
        h->stash[r] = pg->next;
        if (--h->nstash[r] < h->stash_low[r]) {
            h->stash_low[r] = h->nstash[r];
        }
        pg->next = NULL;
        stash_gc(h);
        goto init;
    }
    pthread_mutex_lock(&p->lock);
    // Pages still resident first, then purged ones, then a new segment.
    hp_list_t *from =
        p->free_runs[r].head ? &p->free_runs[r] : &p->purged_runs[r];
    if (!from->head) {
        if (!seg_add(p, r)) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        from = &p->purged_runs[r];
    }
    pg = from->head;
    list_remove(from, pg);
    purge_pending(p);
    pthread_mutex_unlock(&p->lock);
init:;

    hp_seg_t *s = hp_seg_of(pg);
    uint32_t bs = hp_sizes[c];
    pg->start = (char *)s + (size_t)(pg - s->pages) * HP_PAGE;
    pg->bsize = bs;
    pg->divc = UINT64_MAX / bs + 1;
    pg->cap = (uint32_t)((size_t)pg->span * HP_PAGE / bs);
    pg->end = pg->start + (size_t)pg->cap * bs;
    __atomic_store_n(&pg->bump, pg->start, __ATOMIC_RELAXED);
    pg->free = NULL;
    pg->used = 0;
    pg->cls = (uint8_t)c;
    pg->purged = 0;
    pg->heap = h;
    atomic_store_explicit(&pg->xfree, 0, memory_order_relaxed);
    return pg;
}

// An empty page back to the pool. pre: not on any heap list.
static void page_release(hp_pool_t *p, hp_page_t *pg) {
    pg->bsize = 0;
    pg->heap = NULL;
    pg->free = NULL;
    pthread_mutex_lock(&p->lock);
    uint64_t now = now_ms();
    pg->freed_at = now;
    pg->where = HP_W_POOL;
    list_push_head(&p->free_runs[pg->span == 1 ? HP_RUN_1 : run_of(pg->cls)],
                   pg);
    purge_old(p, now);
    pthread_mutex_unlock(&p->lock);
}

// Carves up to HP_CARVE bytes of never-used blocks onto the free list.
static void page_carve(hp_page_t *pg, uintptr_t key) {
    size_t bs = pg->bsize;
    size_t n = HP_CARVE / bs;
    if (n == 0) {
        n = 1;
    }
    size_t left = (size_t)(pg->end - pg->bump) / bs;
    if (n > left) {
        n = left;
    }
    char *b = pg->bump;
    for (size_t i = 0; i < n; i++) {
        char *blk = b + i * bs;
        *(void **)blk = i + 1 < n ? (void *)(blk + bs) : pg->free;
        if (key) {
            *hp_mark_of(blk) = (uintptr_t)blk ^ key; // free
        }
    }
    pg->free = b;
    // Read by other threads' frees, which refuse blocks past it.
    __atomic_store_n(&pg->bump, b + n * bs, __ATOMIC_RELAXED);
}

// Takes the blocks other threads freed into pg. True when there were any.
// The list's head word counts its blocks (hp_remote_push), so nothing is
// walked when the owner's own list is empty, as it is whenever a page ran
// dry; otherwise the new blocks go in front of it, found by a walk.
static bool page_collect(hp_pool_t *p, hp_page_t *pg) {
    (void)p;
    if (!atomic_load_explicit(&pg->xfree, memory_order_relaxed)) {
        return false;
    }
    uintptr_t head =
        atomic_exchange_explicit(&pg->xfree, 0, memory_order_acquire);
    void *list = (void *)(head & HP_XPTR);
    uint32_t n = (uint32_t)(head >> HP_XCOUNT_SHIFT);
    if (pg->free) {
        void *last = list;
        while (*(void **)last) {
            last = *(void **)last;
        }
        *(void **)last = pg->free;
    }
    pg->free = list;
    pg->used -= n < pg->used ? n : pg->used;
    return true;
}

// --- Heaps ---------------------------------------------------------------------------

// Makes pg the page class c of h allocates from (cur and direct).
static inline void heap_cur(hp_heap_t *h, unsigned c, hp_page_t *pg) {
    h->cur[c] = pg;
    for (unsigned i = hp_direct_lo[c]; i <= hp_direct_hi[c]; i++) {
        h->direct[i] = pg;
    }
}

static void heap_init(hp_heap_t *h, hp_pool_t *p) {
    memset(h, 0, sizeof(*h));
    h->pool = p;
    h->key = p->key;
    for (unsigned c = 0; c < HP_NCLASSES; c++) {
        heap_cur(h, c, &hp_empty);
    }
}

static inline void heap_set_cur(hp_heap_t *h, unsigned c) {
    heap_cur(h, c, h->avail[c].head ? h->avail[c].head : &hp_empty);
}

// Gives back the pages of h that hold no live block (all of them when
// `all`, at pool destroy). Collects other threads' frees first.
static void heap_trim(hp_heap_t *h) {
    hp_pool_t *p = h->pool;
    for (unsigned c = 0; c < HP_NCLASSES; c++) {
        hp_list_t *lists[2] = {&h->avail[c], &h->full[c]};
        for (int l = 0; l < 2; l++) {
            hp_page_t *next;
            for (hp_page_t *pg = lists[l]->head; pg; pg = next) {
                next = pg->next;
                (void)page_collect(p, pg);
                if (pg->used == 0) {
                    list_remove(lists[l], pg);
                    page_release(p, pg);
                } else if (l == 1 && pg->free) {
                    list_remove(lists[l], pg);
                    pg->where = HP_W_AVAIL;
                    list_push_tail(&h->avail[c], pg);
                }
            }
        }
        heap_set_cur(h, c);
    }
    for (unsigned r = 0; r < HP_NRUNS; r++) {
        hp_page_t *pg;
        while ((pg = h->stash[r]) != NULL) {
            h->stash[r] = pg->next;
            pg->next = NULL;
            page_release(p, pg);
        }
        h->nstash[r] = 0;
        h->stash_low[r] = 0;
    }
}

static void *heap_alloc_slow(hp_heap_t *h, unsigned c) UMF_NOINLINE;
static void *heap_alloc_slow(hp_heap_t *h, unsigned c) {
    hp_pool_t *p = h->pool;
    hp_page_t *pg;
    // The pages with free blocks, current first: what other threads freed,
    // then fresh blocks; a page with neither is full.
    while ((pg = h->avail[c].head) != NULL) {
        if (pg->free || page_collect(p, pg)) {
            goto have;
        }
        if (pg->bump < pg->end) {
            page_carve(pg, h->key);
            goto have;
        }
        list_remove(&h->avail[c], pg);
        pg->where = HP_W_FULL;
        list_push_tail(&h->full[c], pg);
    }
    // A few full pages, oldest first, for blocks other threads freed.
    for (int i = 0; i < HP_SCAN_FULL && (pg = h->full[c].head) != NULL; i++) {
        list_remove(&h->full[c], pg);
        if (page_collect(p, pg)) {
            pg->where = HP_W_AVAIL;
            list_push_head(&h->avail[c], pg);
            goto have;
        }
        list_push_tail(&h->full[c], pg);
    }
    pg = page_take(p, h, c);
    if (!pg) {
        heap_cur(h, c, &hp_empty);
        return NULL;
    }
    pg->where = HP_W_AVAIL;
    list_push_head(&h->avail[c], pg);
    page_carve(pg, h->key);
have:
    if (h->cur[c] != pg) {
        heap_cur(h, c, pg);
    }
    void *b = pg->free;
    pg->free = *(void **)b;
    pg->used++;
    *hp_mark_of(b) = 0;
    return b;
}

static inline void *heap_alloc(hp_heap_t *h, unsigned c) {
    void *b = hp_heap_pop(h, c);
    return likely(b != NULL) ? b : heap_alloc_slow(h, c);
}

// A local free made pg empty, or gave a full page a free block.
UMF_EXPORT void umf_private_host_free_slow(hp_heap_t *h, hp_page_t *pg) {
    unsigned c = pg->cls;
    if (pg->where == HP_W_FULL) {
        list_remove(&h->full[c], pg);
        pg->where = HP_W_AVAIL;
        list_push_tail(&h->avail[c], pg);
        if (h->cur[c] == &hp_empty) {
            heap_set_cur(h, c);
        }
    }
    if (pg->used == 0 && h->avail[c].head != pg) {
        // Keep the page allocations come from; give back the others.
        (void)page_collect(h->pool, pg); // nothing can be there: used is 0
        list_remove(&h->avail[c], pg);
        pg->where = HP_W_NONE;
        unsigned r = pg->span == 1 ? HP_RUN_1 : run_of(c);
        if (h->nstash[r] < HP_STASH_BYTES / (hp_run_pages[r] * HP_PAGE)) {
            // Kept back from the pool (no lock). Not in use meanwhile:
            // bsize 0 and no heap, so any free into it is refused (none
            // can be right: no block is live).
            pg->bsize = 0;
            pg->heap = NULL;
            pg->free = NULL;
            pg->next = h->stash[r];
            h->stash[r] = pg;
            h->nstash[r]++;
            stash_gc(h);
        } else {
            page_release(h->pool, pg);
        }
    }
}

// --- Per-thread heaps ----------------------------------------------------------------

static inline hp_heap_t *my_heap(const hp_pool_t *p) {
    if (unlikely(p->slot < 0 || hp_ut_slot < 0)) {
        return NULL;
    }
    hp_tls_t *t = ut_get(ut_self(), hp_ut_slot);
    if (likely(t && t->ent[p->slot].gen == p->gen)) {
        return t->ent[p->slot].heap;
    }
    return NULL;
}

static void (*_Atomic hp_exit_hook)(void);

// Thread exit (own_thread), or a thread gone in a fork child.
static void tls_release(void *arg, bool own_thread) {
    hp_tls_t *t = arg;
    void (*hook)(void) = atomic_load(&hp_exit_hook);
    if (own_thread && hook) {
        hook(); // the proxy drops its cached heap pointers
    }
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < HP_TLS_SLOTS; i++) {
        hp_pool_t *p = slots[i].pool;
        hp_heap_t *h = t->ent[i].heap;
        if (!h || !p || p->gen != t->ent[i].gen) {
            continue; // its pool is gone (and freed the heap)
        }
        if (!own_thread) {
            h->lost = true; // may be half-updated: never touched again
            continue;
        }
        heap_trim(h);
        pthread_mutex_lock(&p->lock);
        h->next_abandoned = p->abandoned;
        p->abandoned = h;
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&registry_lock);
    ba_free(t);
}

static const ut_client_t hp_ut_client = {
    .name = "host pools",
    .release = tls_release,
};

static pthread_once_t hp_once = PTHREAD_ONCE_INIT;

static void hp_global_init(void) {
    unsigned c = 0;
    for (size_t i = 0; i < ARRAY_SIZE(hp_class_of); i++) {
        size_t size = i * HP_GRAIN;
        while (hp_sizes[c] < size) {
            c++;
        }
        hp_class_of[i] = (uint8_t)c;
    }
    for (c = 0; c < HP_NCLASSES; c++) {
        hp_direct_lo[c] = 1;
        hp_direct_hi[c] = 0;
    }
    for (unsigned i = 0; i < HP_NDIRECT; i++) {
        c = hp_class_of[i];
        if (hp_direct_lo[c] > hp_direct_hi[c]) {
            hp_direct_lo[c] = (uint8_t)i; // the class's first size
        }
        hp_direct_hi[c] = (uint8_t)i;
    }
    size_t bytes = ((size_t)1 << (HP_ADDR_BITS - HP_SEG_SHIFT)) / 8;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m != MAP_FAILED) {
        hp_segmap = m;
    }
    uintptr_t key = 0;
    if (getrandom(&key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
        key = (uintptr_t)&key * 0x9e3779b97f4a7c15u ^ (uintptr_t)now_ms();
    }
    hp_key = key | 1;
    hp_ut_slot = ut_client_register(&hp_ut_client);
    hp_fork_register();
}

// This thread's heap for p, made (or adopted) now; NULL: the thread keeps
// nothing per thread (past its destructors, no slot, out of memory).
static hp_heap_t *my_heap_make(hp_pool_t *p) UMF_NOINLINE;
static hp_heap_t *my_heap_make(hp_pool_t *p) {
    hp_heap_t *cached = my_heap(p);
    if (cached) {
        return cached;
    }
    if (p->slot < 0 || hp_ut_slot < 0 || ut_self()->state == UT_DEAD) {
        return NULL;
    }
    hp_tls_t *t = ut_get(ut_self(), hp_ut_slot);
    if (!t) {
        t = ba_calloc(1, sizeof(*t));
        if (!t) {
            return NULL;
        }
        if (!ut_set(hp_ut_slot, t)) {
            ba_free(t);
            return NULL;
        }
    }
    pthread_mutex_lock(&p->lock);
    hp_heap_t *h = p->abandoned;
    if (h) {
        p->abandoned = h->next_abandoned;
        h->next_abandoned = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (!h) {
        h = ba_alloc(sizeof(*h));
        if (!h) {
            return NULL;
        }
        heap_init(h, p);
        pthread_mutex_lock(&p->lock);
        h->next_all = p->all_heaps;
        p->all_heaps = h;
        pthread_mutex_unlock(&p->lock);
    }
    t->ent[p->slot].heap = h;
    t->ent[p->slot].gen = p->gen;
    return h;
}

// --- Allocation and free --------------------------------------------------------------

// pre: size <= UMF_HOST_MAX.
static inline unsigned class_of(size_t size) {
    if (likely(size <= UMF_HOST_SMALL_MAX)) {
        return hp_class_of[(size + HP_GRAIN - 1) / HP_GRAIN];
    }
    unsigned c = 36;
    while (hp_sizes[c] < size) {
        c++;
    }
    return c;
}

static void *shared_alloc(hp_pool_t *p, unsigned c) UMF_NOINLINE;
static void *shared_alloc(hp_pool_t *p, unsigned c) {
    pthread_mutex_lock(&p->shared_lock);
    void *b = heap_alloc(p->shared, c);
    pthread_mutex_unlock(&p->shared_lock);
    return b;
}

static inline void *small_alloc(hp_pool_t *p, size_t size) {
    unsigned c = class_of(size);
    hp_heap_t *h = my_heap(p);
    if (unlikely(!h)) {
        h = my_heap_make(p);
    }
    void *b = likely(h != NULL) ? heap_alloc(h, c) : shared_alloc(p, c);
    if (unlikely(!b)) {
        hp_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    return b;
}

// Frees the block at ptr, which lies in segment s of pool p.
static inline umf_result_t block_free(hp_pool_t *p, hp_seg_t *s, void *ptr) {
    hp_page_t *pg = hp_page_head(s, ptr);
    hp_heap_t *h = my_heap(p);
    if (likely(h != NULL) && hp_heap_push(h, pg, ptr)) {
        return UMF_RESULT_SUCCESS;
    }
    // Another thread's block, or a misuse.
    if (likely(hp_remote_push(pg, ptr, p->key))) {
        return UMF_RESULT_SUCCESS;
    }
    if (!p->key) {
        return hp_misuse(p, HP_WHY_FOREIGN, ptr); // never onto a free page
    }
    if (!hp_is_block(pg, ptr) ||
        (char *)ptr >= __atomic_load_n(&pg->bump, __ATOMIC_RELAXED)) {
        return hp_misuse(p, pg->bsize ? HP_WHY_INSIDE : HP_WHY_FOREIGN, ptr);
    }
    return hp_misuse(p, HP_WHY_FREED, ptr);
}

// Size of the live block at ptr in segment s, or 0.
static size_t block_usable(hp_pool_t *p, hp_seg_t *s, void *ptr) {
    hp_page_t *pg = hp_page_head(s, ptr);
    if (!hp_is_block(pg, ptr)) {
        return 0;
    }
    if (p->key &&
        ((char *)ptr >= __atomic_load_n(&pg->bump, __ATOMIC_RELAXED) ||
         *hp_mark_of(ptr) == ((uintptr_t)ptr ^ p->key))) {
        return 0; // never handed out, or free
    }
    return pg->bsize;
}

// --- Pool ops ---------------------------------------------------------------------------

static hp_seg_t *own_seg(hp_pool_t *p, const void *ptr) {
    if (!hp_segmap_has(hp_segmap, (uintptr_t)ptr)) {
        return NULL;
    }
    hp_seg_t *s = hp_seg_of(ptr);
    return s->pool == p ? s : NULL;
}

// The disjoint pool for blocks over UMF_HOST_MAX, created on first use: a
// program that never asks for one (most, under the proxy) does not pay
// for its tables at start-up. No lock: two threads that race each create
// one and the loser finalizes its own, so nothing here is held across
// fork(). NULL when it cannot be created (hp_last_error says why).
static void *large_of(hp_pool_t *p) {
    void *l = __atomic_load_n(&p->large, __ATOMIC_ACQUIRE);
    if (likely(l != NULL)) {
        return l;
    }
    umf_disjoint_pool_params_handle_t dpp = NULL;
    umf_disjoint_pool_shared_limits_handle_t lim =
        umfDisjointPoolSharedLimitsCreate(HP_LARGE_KEPT);
    umf_result_t r = lim ? umfDisjointPoolParamsCreate(&dpp)
                         : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    if (r == UMF_RESULT_SUCCESS) {
        // Same name: its messages ("disjoint pool NAME") are this pool's.
        r = umfDisjointPoolParamsSetName(dpp, p->name);
    }
    if (r == UMF_RESULT_SUCCESS) {
        r = umfDisjointPoolParamsSetChecks(dpp, p->checks);
    }
    if (r == UMF_RESULT_SUCCESS) {
        // Empty slabs kept for reuse: with one per bucket (two for 512 KiB
        // to 1 MiB), a thread churning buffers of 128 KiB-1 MiB unmapped a
        // slab whenever one emptied and faulted the next one's pages in
        // again (proxy_work large: 67,600 page faults and 0.86 s; with 8
        // within 32 MiB, 3,500 and 0.09 s).
        r = umf_private_disjoint_params_set_keep_empty(dpp, HP_LARGE_KEEP);
    }
    if (r == UMF_RESULT_SUCCESS) {
        // Blocks of 1-2 MiB have a slab each (buckets of 1.5 and 2 MiB);
        // with the contract's 4 kept per bucket, a program churning a
        // ring of 16 such blocks made a new slab for one in ten (each a
        // fresh mapping whose pages fault in), none with 16.
        r = umfDisjointPoolParamsSetCapacity(dpp, HP_LARGE_CAPACITY);
    }
    if (r == UMF_RESULT_SUCCESS) {
        r = umfDisjointPoolParamsSetSharedLimits(dpp, lim);
    }
    if (r == UMF_RESULT_SUCCESS) {
        // They go back after the engine's decay time, as its pages do.
        r = umf_private_disjoint_params_set_decay(dpp, p->decay_ms);
    }
    if (r == UMF_RESULT_SUCCESS) {
        r = umf_private_disjoint_ops.initialize(p->provider, dpp, &l);
    }
    if (dpp) {
        umfDisjointPoolParamsDestroy(dpp);
    }
    if (r != UMF_RESULT_SUCCESS) {
        LOG_ERR("host pool %s: cannot create its pool for large blocks (%d)",
                p->name, (int)r);
        if (lim) {
            umfDisjointPoolSharedLimitsDestroy(lim);
        }
        hp_last_error = r;
        return NULL;
    }
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&p->large, &expected, l, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        umf_private_disjoint_ops.finalize(l);
        umfDisjointPoolSharedLimitsDestroy(lim);
        return expected;
    }
    // Only for hp_finalize (the pool uses its own pointer to them).
    __atomic_store_n(&p->large_limits, lim, __ATOMIC_RELEASE);
    return l;
}

// A block from the large-block pool, or NULL with its error as ours.
static void *large_done(void *large, void *b) {
    if (!b) {
        hp_last_error =
            umf_private_disjoint_ops.get_last_allocation_error(large);
    }
    return b;
}

static void *hp_malloc(void *pool, size_t size) {
    hp_pool_t *p = pool;
    if (likely(size <= UMF_HOST_MAX)) {
        return small_alloc(p, size);
    }
    void *l = large_of(p);
    return l ? large_done(l, umf_private_disjoint_ops.malloc(l, size)) : NULL;
}

static void *hp_aligned_malloc(void *pool, size_t size, size_t alignment) {
    hp_pool_t *p = pool;
    if (alignment <= HP_GRAIN) {
        return hp_malloc(pool, size);
    }
    if ((alignment & (alignment - 1)) != 0) {
        hp_last_error = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    // A power-of-two class aligns its blocks to its size (pages are 64 KiB
    // aligned).
    size_t n = size < alignment ? alignment : size;
    size_t pow2 = HP_GRAIN;
    while (pow2 < n) {
        pow2 <<= 1;
    }
    if (pow2 <= UMF_HOST_SMALL_MAX) {
        return small_alloc(p, pow2);
    }
    void *l = large_of(p);
    return l ? large_done(l, umf_private_disjoint_ops.aligned_malloc(l, size,
                                                                     alignment))
             : NULL;
}

static void *hp_calloc(void *pool, size_t num, size_t size) {
    hp_pool_t *p = pool;
    size_t total;
    if (__builtin_mul_overflow(num, size, &total)) {
        hp_last_error = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    if (total > UMF_HOST_MAX) {
        void *l = large_of(p);
        return l ? large_done(l, umf_private_disjoint_ops.calloc(l, 1, total))
                 : NULL;
    }
    void *b = small_alloc(p, total);
    if (b) {
        memset(b, 0, total);
    }
    return b;
}

static umf_result_t hp_free(void *pool, void *ptr) {
    hp_pool_t *p = pool;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    hp_seg_t *s = own_seg(p, ptr);
    if (s) {
        return block_free(p, s, ptr);
    }
    // Not one of our small blocks: the large pool's, or nobody's, which
    // the large pool reports as its checks say (so it is created even
    // for that).
    void *l = large_of(p);
    return l ? umf_private_disjoint_ops.free(l, ptr)
             : UMF_RESULT_ERROR_INVALID_ARGUMENT;
}

static size_t hp_usable_size(void *pool, void *ptr) {
    hp_pool_t *p = pool;
    if (!ptr) {
        return 0;
    }
    hp_seg_t *s = own_seg(p, ptr);
    if (s) {
        return block_usable(p, s, ptr);
    }
    void *l = large_of(p);
    return l ? umf_private_disjoint_ops.malloc_usable_size(l, ptr) : 0;
}

static void *hp_realloc(void *pool, void *ptr, size_t size) {
    hp_pool_t *p = pool;
    if (!ptr) {
        return hp_malloc(pool, size);
    }
    if (size == 0) {
        (void)hp_free(pool, ptr);
        return NULL;
    }
    // The disjoint pool does not reallocate: both kinds copy.
    hp_seg_t *s = own_seg(p, ptr);
    void *l = s ? NULL : large_of(p);
    size_t old = s   ? block_usable(p, s, ptr)
                 : l ? umf_private_disjoint_ops.malloc_usable_size(l, ptr)
                     : 0;
    if (old == 0) {
        // Not a live block: its free reports it (or the pool's checks are
        // off and the large pool cannot tell: refuse).
        umf_result_t r = hp_free(pool, ptr);
        hp_last_error =
            r == UMF_RESULT_SUCCESS ? UMF_RESULT_ERROR_INVALID_ARGUMENT : r;
        return NULL;
    }
    if (size <= old && (size >= old / 2 || old <= 2 * HP_GRAIN)) {
        return ptr;
    }
    void *q = hp_malloc(pool, size);
    if (!q) {
        return NULL;
    }
    memcpy(q, ptr, old < size ? old : size);
    (void)hp_free(pool, ptr);
    return q;
}

static umf_result_t hp_get_last_allocation_error(void *pool) {
    (void)pool;
    return hp_last_error;
}

static umf_result_t hp_initialize(umf_memory_provider_handle_t provider,
                                  void *params, void **pool) {
    if (!provider || !pool) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const umf_host_pool_params_t *hpp = params;
    if (hpp && (unsigned)hpp->checks > UMF_DISJOINT_POOL_CHECKS_OFF) {
        LOG_ERR("host pool: checks %d is not one of abort, error, off",
                (int)hpp->checks);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    pthread_once(&hp_once, hp_global_init);
    if (!hp_segmap) {
        LOG_ERR("host pool: cannot map its segment table");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    hp_pool_t *p = ba_calloc_cacheline(sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->provider = provider;
    p->checks = hpp ? hpp->checks : UMF_DISJOINT_POOL_CHECKS_ABORT;
    p->key = p->checks != UMF_DISJOINT_POOL_CHECKS_OFF ? hp_key : 0;
    p->decay_ms = hpp && hpp->decay_ms ? hpp->decay_ms : HP_DECAY_MS;
    umf_str_copy(p->name, sizeof(p->name),
                 hpp && hpp->name ? hpp->name : "host");
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&p->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&p->shared_lock, NULL);
    p->shared = ba_alloc(sizeof(*p->shared));
    if (!p->shared) {
        goto fail;
    }
    heap_init(p->shared, p);

    pthread_mutex_lock(&registry_lock);
    p->gen = next_gen++;
    p->slot = -1;
    for (int i = 0; i < HP_TLS_SLOTS; i++) {
        if (!slots[i].pool) {
            slots[i].pool = p;
            p->slot = i;
            break;
        }
    }
    p->reg_next = registry;
    if (registry) {
        registry->reg_prev = p;
    }
    registry = p;
    pthread_mutex_unlock(&registry_lock);
    *pool = p;
    return UMF_RESULT_SUCCESS;
fail:
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->shared_lock);
    ba_free_cacheline(p);
    return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
}

static void hp_finalize(void *pool) {
    hp_pool_t *p = pool;
    if (!p) {
        return;
    }
    pthread_mutex_lock(&registry_lock);
    if (p->slot >= 0) {
        slots[p->slot].pool = NULL;
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
    // Threads' entries for p no longer match any pool (gen is unique).
    if (p->large) {
        umf_private_disjoint_ops.finalize(p->large);
    }
    if (p->large_limits) {
        umfDisjointPoolSharedLimitsDestroy(p->large_limits);
    }
    hp_seg_t *next;
    for (hp_seg_t *s = p->segs; s; s = next) {
        next = s->next;
        segmap_set((uintptr_t)s, false);
        (void)umfMemoryProviderFree(p->provider, s->alloc_base, s->alloc_size);
    }
    hp_heap_t *hn;
    for (hp_heap_t *h = p->all_heaps; h; h = hn) {
        hn = h->next_all;
        ba_free(h);
    }
    ba_free(p->shared);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->shared_lock);
    ba_free_cacheline(p);
}

// --- fork ---------------------------------------------------------------------------------

static void hp_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (hp_pool_t *p = registry; p; p = p->reg_next) {
        pthread_mutex_lock(&p->shared_lock);
        pthread_mutex_lock(&p->lock);
    }
}

static void hp_fork_parent(void) {
    for (hp_pool_t *p = registry; p; p = p->reg_next) {
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->shared_lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t hp_fork_handler = {
    .name = "host pools",
    .rank = FORK_RANK_HOST,
    .prepare = hp_fork_prepare,
    .parent = hp_fork_parent,
    .child = hp_fork_parent,
};

static void hp_fork_register(void) {
    (void)fork_register(&hp_fork_handler);
}

static umf_memory_pool_ops_t host_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = hp_initialize,
    .finalize = hp_finalize,
    .malloc = hp_malloc,
    .calloc = hp_calloc,
    .realloc = hp_realloc,
    .aligned_malloc = hp_aligned_malloc,
    .malloc_usable_size = hp_usable_size,
    .free = hp_free,
    .get_last_allocation_error = hp_get_last_allocation_error,
};

UMF_EXPORT umf_memory_pool_ops_t *umf_private_host_pool_ops(void) {
    return &host_ops;
}

// --- The proxy's fast paths ----------------------------------------------------------------

UMF_EXPORT void *umf_private_host_pool_of(void *pool_handle) {
    umf_memory_pool_handle_t h = pool_handle;
    return h && h->ops.initialize == hp_initialize ? h->priv : NULL;
}

UMF_EXPORT void *umf_private_host_malloc(void *hp, size_t size) {
    return small_alloc(hp, size);
}

UMF_EXPORT bool umf_private_host_free(void *ptr) {
    if (!hp_segmap_has(hp_segmap, (uintptr_t)ptr)) {
        return false;
    }
    hp_seg_t *s = hp_seg_of(ptr);
    if (!hp_seg_plain(s)) {
        return false;
    }
    (void)block_free(s->pool, s, ptr);
    return true;
}

// The large-block pool of host pool hp when it answers for ptr
// (umf_private_disjoint_owns: one of its slabs, and nothing nests).
static void *large_owning(void *hp, const void *ptr) {
    void *l = __atomic_load_n(&((hp_pool_t *)hp)->large, __ATOMIC_ACQUIRE);
    return l && umf_private_disjoint_owns(l, ptr) ? l : NULL;
}

UMF_EXPORT bool umf_private_host_free_large(void *hp, void *ptr) {
    void *l = __atomic_load_n(&((hp_pool_t *)hp)->large, __ATOMIC_ACQUIRE);
    return l && umf_private_disjoint_free_owned(l, ptr);
}

UMF_EXPORT size_t umf_private_host_usable_large(void *hp, void *ptr,
                                                bool *ours) {
    void *l = large_owning(hp, ptr);
    *ours = l != NULL;
    return l ? umf_private_disjoint_ops.malloc_usable_size(l, ptr) : 0;
}

UMF_EXPORT size_t umf_private_host_usable(void *ptr, bool *ours) {
    hp_seg_t *s = hp_seg_of(ptr);
    if (!hp_segmap_has(hp_segmap, (uintptr_t)ptr) || !hp_seg_plain(s)) {
        *ours = false;
        return 0;
    }
    *ours = true;
    return block_usable(s->pool, s, ptr);
}

UMF_EXPORT const uint8_t *umf_private_host_class_table(void) {
    pthread_once(&hp_once, hp_global_init);
    return hp_class_of;
}

UMF_EXPORT _Atomic uint64_t *umf_private_host_segmap(void) {
    pthread_once(&hp_once, hp_global_init);
    return hp_segmap;
}

UMF_EXPORT hp_heap_t *umf_private_host_heap(void *hp) {
    return my_heap_make(hp);
}

UMF_EXPORT void umf_private_host_set_exit_hook(void (*hook)(void)) {
    atomic_store(&hp_exit_hook, hook);
}

UMF_EXPORT void *umf_private_host_alloc_slow(hp_heap_t *h, unsigned c) {
    void *b = heap_alloc_slow(h, c);
    if (!b) {
        hp_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    return b;
}

UMF_EXPORT void umf_private_host_note_range(const void *base, size_t size) {
    (void)size; // a range inside a block lies in one segment
    if (hp_segmap_has(hp_segmap, (uintptr_t)base)) {
        atomic_store_explicit(&hp_seg_of(base)->nested, 1,
                              memory_order_relaxed);
    }
}

_Static_assert(sizeof(hp_page_t) == 128, "a page record is two cache lines");
_Static_assert(HP_NRUNS == ARRAY_SIZE(((hp_heap_t *)0)->stash),
               "a stash slot per run kind");
