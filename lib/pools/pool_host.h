/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_host.h - the host-memory engine (pool_host.c): the proxy's default
 * pool, built for memory the CPU may read and write. Internal: in no
 * public header; exported as umf_private_* for libumf_proxy and the tests.
 *
 * The layout of segments, pages and heaps is here so that the proxy can
 * inline the two fast paths (pop a block from this thread's page, push a
 * block this thread owns back); everything else is a call into libumf.
 */

#ifndef UMF_POOL_HOST_H
#define UMF_POOL_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <umf/memory_pool_ops.h>
#include <umf/pools/pool_disjoint_ext.h>

// Blocks up to UMF_HOST_MAX come from the engine's own pages (up to
// UMF_HOST_SMALL_MAX from single 64 KiB pages, whose malloc the proxy
// inlines; larger ones from runs of 4, 8 or 16 pages); larger blocks from
// a disjoint pool on the same provider, inside the same UMF pool.
#define UMF_HOST_SMALL_MAX ((size_t)16 << 10)
#define UMF_HOST_MAX       ((size_t)128 << 10)

#define HP_SEG_SHIFT    22
#define HP_SEG          ((size_t)1 << HP_SEG_SHIFT)
#define HP_PAGE_SHIFT   16
#define HP_PAGE         ((size_t)1 << HP_PAGE_SHIFT)
#define HP_PAGES        (HP_SEG / HP_PAGE)
#define HP_GRAIN        16
#define HP_NCLASSES     48 // 36 in single pages, 12 in runs
#define HP_ADDR_BITS    47
#define HP_NSIZES       (UMF_HOST_SMALL_MAX / HP_GRAIN + 1)
// Sizes up to HP_DIRECT_MAX find their page in one load: hp_heap_t.direct.
#define HP_DIRECT_MAX   ((size_t)1024)
#define HP_NDIRECT      (HP_DIRECT_MAX / HP_GRAIN + 1)
#define HP_XCOUNT_SHIFT 48
#define HP_XPTR         (((uintptr_t)1 << HP_XCOUNT_SHIFT) - 1)

struct hp_heap_t;
struct hp_pool_t;

// One 64 KiB page, 128 bytes: the first cache line holds what the owner's
// malloc and free read and write, the second the list other threads free
// into (and the list links, which change only when the page moves).
typedef struct hp_page_t {
    void *free;             // owner's free list
    char *start;            // first block
    char *end;              // end of the last whole block
    char *bump;             // next block never handed out
    struct hp_heap_t *heap; // owner (set while in use)
    uint64_t divc;          // UINT64_MAX / bsize + 1: the block-start test
    uint32_t bsize;         // block size; 0: the page is not in use
    uint32_t used;          // blocks out (incl. those on xfree)
    uint32_t cap;           // blocks in the page
    uint8_t cls;            // size class
    uint8_t where;          // HP_W_*
    uint8_t purged;         // free and purged
    // Frees by other threads: a list linked through the blocks; the head
    // word holds the first block's address (low 48 bits) and the number of
    // blocks on the list (high 16 bits).
    _Alignas(64) _Atomic uintptr_t xfree;
    struct hp_page_t *prev, *next; // heap list, or the pool's free list
    uint64_t freed_at;             // ms, while free
    // Runs: a block larger than 16 KiB lives in a run of `span` pages (a
    // segment keeps its runs for good); the run's first record describes
    // it, each later one has `back` = its distance to the first (and
    // bsize 0, heap NULL, so fast paths pass them to the full path).
    uint8_t span; // pages in this run (first record); 1: a single page
    uint8_t back; // later records of a run: distance to the first
} hp_page_t;

enum { HP_W_NONE = 0, HP_W_AVAIL, HP_W_FULL, HP_W_POOL };

typedef struct hp_seg_t {
    struct hp_pool_t *pool;
    // Another pool registered a range inside this segment (a program's pool
    // whose provider mallocs): its blocks may not be the engine's, so only
    // the tracker can name a pointer's owner here. Set once, never cleared.
    _Atomic int nested;
    void *alloc_base; // what the provider returned
    size_t alloc_size;
    struct hp_seg_t *next;
    _Alignas(64) hp_page_t pages[HP_PAGES];
} hp_seg_t;

// The segment record fills the start of page 0; blocks start at page 1.
#define HP_FIRST_PAGE ((sizeof(hp_seg_t) + HP_PAGE - 1) / HP_PAGE)

// Empty pages (runs) a heap keeps back from the pool, in bytes per run
// kind: with less, two threads whose blocks of 257 B-64 KiB come and go
// passed pages through the pool lock (measured 1 -> 2 threads: 0.7x of
// the throughput with one page kept per kind, 1.5x with 1 MiB; README).
// The stash shrinks by half its low-water mark every HP_STASH_LOOK pushes
// and pops, and goes back whole when the heap's thread exits.
#define HP_STASH_BYTES ((size_t)1 << 20)
#define HP_STASH_LOOK  256

typedef struct hp_list_t {
    hp_page_t *head, *tail;
} hp_list_t;

typedef struct hp_heap_t {
    // With checks on, every free block's second word holds its address
    // XOR this per-process key (its free mark); 0 with checks off.
    uintptr_t key;
    // cur[c] for the class of each size up to HP_DIRECT_MAX, by
    // (size + 15) / 16: malloc's inline path needs no class table.
    hp_page_t *direct[HP_NDIRECT];
    hp_page_t *cur[HP_NCLASSES]; // head of avail, or the empty page
    bool lost;                   // a thread gone in a fork child owned it
    struct hp_pool_t *pool;
    hp_list_t avail[HP_NCLASSES];
    hp_list_t full[HP_NCLASSES];
    // Empty pages (or runs) of each run kind kept back from the pool, up
    // to HP_STASH_BYTES of each kind, linked by next: a heap whose pages
    // empty and fill in turn takes no lock. stash_low: the fewest each
    // kind held since the last look (see stash_gc in pool_host.c).
    hp_page_t *stash[4];
    uint8_t nstash[4], stash_low[4];
    uint32_t stash_ops;
    struct hp_heap_t *next_abandoned;
    struct hp_heap_t *next_all;
} hp_heap_t;

typedef struct umf_host_pool_params_t {
    const char *name;                  // in messages; NULL: "host"
    umf_disjoint_pool_checks_t checks; // misuse: abort (default), error, off
    unsigned decay_ms; // free pages are purged after this long; 0: default
} umf_host_pool_params_t;

// The engine's pool ops (params: umf_host_pool_params_t *, or NULL).
umf_memory_pool_ops_t *umf_private_host_pool_ops(void);

// --- For the proxy's fast paths, which skip the pool front end ---

// The pool's private data (hp below), or NULL: not a host pool.
void *umf_private_host_pool_of(void *pool_handle);
// The size-class table (by (size + 15) / 16) and the segment table.
const uint8_t *umf_private_host_class_table(void);
_Atomic uint64_t *umf_private_host_segmap(void);
// This thread's heap of pool hp, made or adopted now; NULL when the thread
// may keep nothing per thread (past its TSD destructors): then use
// umf_private_host_malloc.
hp_heap_t *umf_private_host_heap(void *hp);
// Called on a thread when its heaps are given up (its exit), before any
// later call of that thread: a cached heap pointer must be dropped.
void umf_private_host_set_exit_hook(void (*hook)(void));
// Class c of heap h when its current page is empty.
void *umf_private_host_alloc_slow(hp_heap_t *h, unsigned c);
// After a local free left pg empty or took it off the full list.
void umf_private_host_free_slow(hp_heap_t *h, hp_page_t *pg);
// The tracker registers [base, base + size) for some pool: notes a range
// nested in a host segment (see hp_seg_t.nested).
void umf_private_host_note_range(const void *base, size_t size);
// A block of at most UMF_HOST_MAX bytes (16-byte aligned), or NULL.
void *umf_private_host_malloc(void *hp, size_t size);
// Frees ptr when it lies in one of the engine's segments (any host pool)
// and no other pool's range nests there: true; false otherwise (ask the
// tracker).
bool umf_private_host_free(void *ptr);
// Usable size of the block at ptr when it lies in the engine's segments
// where no other pool's range nests (*ours true; 0 for anything but a live
// block's start), else *ours false.
size_t umf_private_host_usable(void *ptr, bool *ours);
// The same for blocks over UMF_HOST_MAX of host pool hp (its private data):
// when ptr lies in a slab of hp's large-block pool and no pool's range
// nests in another's anywhere (see tracker_nested_any), frees it (true),
// or gives its usable size (*ours true; 0 for anything but a live block's
// start). Otherwise false: ask the tracker. The proxy's free of a large
// block then costs one walk of that pool's page map, not a tracker walk
// and then the page map.
bool umf_private_host_free_large(void *hp, void *ptr);
size_t umf_private_host_usable_large(void *hp, void *ptr, bool *ours);

// --- Inline helpers, shared by the engine and the proxy ---

static inline bool hp_segmap_has(_Atomic uint64_t *m, uintptr_t a) {
    if (__builtin_expect(!m || (a >> HP_ADDR_BITS) != 0, 0)) {
        return false;
    }
    uint64_t w =
        atomic_load_explicit(&m[a >> (HP_SEG_SHIFT + 6)], memory_order_relaxed);
    return (w >> ((a >> HP_SEG_SHIFT) & 63)) & 1;
}

static inline hp_seg_t *hp_seg_of(const void *p) {
    return (hp_seg_t *)((uintptr_t)p & ~(uintptr_t)(HP_SEG - 1));
}

// No other pool's range nests in s: the engine answers for its addresses.
static inline bool hp_seg_plain(hp_seg_t *s) {
    return !atomic_load_explicit(&s->nested, memory_order_relaxed);
}

static inline hp_page_t *hp_page_of(hp_seg_t *s, const void *p) {
    return &s->pages[((uintptr_t)p - (uintptr_t)s) >> HP_PAGE_SHIFT];
}

// The record that describes p's page or run (slow paths).
static inline hp_page_t *hp_page_head(hp_seg_t *s, const void *p) {
    hp_page_t *pg = hp_page_of(s, p);
    return pg - pg->back;
}

// The free mark of block b (see hp_heap_t.key).
static inline uintptr_t *hp_mark_of(void *b) {
    return (uintptr_t *)b + 1;
}

// True when ptr is the start of a block of pg (in use): an offset below
// the end that bsize divides (n divides x < 2^32 exactly when
// x * (UINT64_MAX / n + 1) mod 2^64 < UINT64_MAX / n + 1).
static inline bool hp_is_block(const hp_page_t *pg, const void *ptr) {
    uintptr_t off = (uintptr_t)ptr - (uintptr_t)pg->start;
    return off < (uintptr_t)(pg->end - pg->start) && pg->bsize != 0 &&
           (uint64_t)off * pg->divc < pg->divc;
}

// Pops a block from page pg (a heap's current page of some class); NULL:
// call the slow path.
static inline void *hp_page_pop(hp_page_t *pg) {
    void *b = pg->free;
    if (__builtin_expect(b != NULL, 1)) {
        void *next = *(void **)b;
        // The next block's line is fetched meanwhile (a prefetch of NULL
        // does nothing): blocks other threads freed were last written on
        // their core, and exchange-style programs stalled on that load.
        __builtin_prefetch(next, 1, 3);
        pg->free = next;
        pg->used++;
        *hp_mark_of(b) = 0; // live (a store to the line just read)
    }
    return b;
}

// Pops a block of class c from h's current page; NULL: call the slow path.
static inline void *hp_heap_pop(hp_heap_t *h, unsigned c) {
    return hp_page_pop(h->cur[c]);
}

// Frees ptr when it is a live block of a page h owns: true. False: not
// h's page, or not a live block's start (the caller takes the full path,
// which tells them apart). pg: ptr's page.
static inline bool hp_heap_push(hp_heap_t *h, hp_page_t *pg, void *ptr) {
    if (pg->heap != h) {
        return false;
    }
    if (h->key) {
        // A page h owns is in use (bsize != 0), and its blocks handed out
        // so far lie in [start, bump): the block-start test of hp_is_block
        // with bump for end.
        uintptr_t off = (uintptr_t)ptr - (uintptr_t)pg->start;
        if (off >= (uintptr_t)(pg->bump - pg->start) ||
            (uint64_t)off * pg->divc >= pg->divc ||
            *hp_mark_of(ptr) == ((uintptr_t)ptr ^ h->key)) {
            return false; // not a block handed out, or freed already
        }
        *hp_mark_of(ptr) = (uintptr_t)ptr ^ h->key;
    }
    *(void **)ptr = pg->free;
    pg->free = ptr;
    if (__builtin_expect(--pg->used == 0 || pg->where == HP_W_FULL, 0)) {
        umf_private_host_free_slow(h, pg);
    }
    return true;
}

// Frees ptr, a block of another heap's page pg (or of a heap no thread
// owns), onto pg's list of other threads' frees: true. False when, with
// checks on (key != 0), ptr is no live block's start: the caller takes
// the full path, which reports it.
static inline bool hp_remote_push(hp_page_t *pg, void *ptr, uintptr_t key) {
    if (key) {
        if (!hp_is_block(pg, ptr) ||
            (char *)ptr >= __atomic_load_n(&pg->bump, __ATOMIC_RELAXED) ||
            *hp_mark_of(ptr) == ((uintptr_t)ptr ^ key)) {
            return false;
        }
        *hp_mark_of(ptr) = (uintptr_t)ptr ^ key;
    } else if (pg->bsize == 0) {
        return false; // never onto a free page
    }
    // A page holds at most 4096 blocks: the count never overflows.
    uintptr_t head = atomic_load_explicit(&pg->xfree, memory_order_relaxed);
    uintptr_t next;
    do {
        *(void **)ptr = (void *)(head & HP_XPTR);
        next = (uintptr_t)ptr |
               ((head & ~HP_XPTR) + ((uintptr_t)1 << HP_XCOUNT_SHIFT));
    } while (!atomic_compare_exchange_weak_explicit(
        &pg->xfree, &head, next, memory_order_release, memory_order_relaxed));
    return true;
}

#endif /* UMF_POOL_HOST_H */
