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

// Blocks up to this size come from the engine's own pages; larger ones
// from a disjoint pool on the same provider, inside the same UMF pool.
#define UMF_HOST_SMALL_MAX ((size_t)16 << 10)

#define HP_SEG_SHIFT  22
#define HP_SEG        ((size_t)1 << HP_SEG_SHIFT)
#define HP_PAGE_SHIFT 16
#define HP_PAGE       ((size_t)1 << HP_PAGE_SHIFT)
#define HP_PAGES      (HP_SEG / HP_PAGE)
#define HP_GRAIN      16
#define HP_MAP_BYTES  (HP_SEG / HP_GRAIN)
#define HP_NCLASSES   36
#define HP_ADDR_BITS  47
#define HP_NSIZES     (UMF_HOST_SMALL_MAX / HP_GRAIN + 1)

struct hp_heap_t;
struct hp_pool_t;

// One 64 KiB page. The first cache line is the owner's, the second holds
// the list other threads free into.
typedef struct hp_page_t {
    void *free;             // owner's free list
    char *bump;             // next block never handed out
    char *end;              // end of the last whole block
    char *start;            // first block
    uint32_t bsize;         // block size; 0: the page is not in use
    uint32_t inv;           // ceil(2^32 / bsize), for the block-start check
    uint32_t used;          // blocks out (incl. those on xfree)
    uint32_t cap;           // blocks in the page
    uint8_t cls;            // size class
    uint8_t where;          // HP_W_*
    uint8_t purged;         // free and purged
    struct hp_heap_t *heap; // owner (set while in use)
    struct hp_page_t *prev, *next;      // heap list, or the pool's free list
    uint64_t freed_at;                  // ms, while free
    _Alignas(64) _Atomic(void *) xfree; // frees by other threads
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

// The misuse map (one byte per 16 bytes of the segment: 1 = a live block
// starts here) follows the segment record; pages before HP_FIRST_PAGE hold
// the header.
#define HP_MAP_OFF    ((sizeof(hp_seg_t) + 4095) & ~(size_t)4095)
#define HP_FIRST_PAGE ((HP_MAP_OFF + HP_MAP_BYTES + HP_PAGE - 1) / HP_PAGE)

typedef struct hp_list_t {
    hp_page_t *head, *tail;
} hp_list_t;

typedef struct hp_heap_t {
    hp_page_t *cur[HP_NCLASSES]; // head of avail, or the empty page
    bool checks;                 // the pool's checks are on
    bool lost;                   // a thread gone in a fork child owned it
    struct hp_pool_t *pool;
    hp_list_t avail[HP_NCLASSES];
    hp_list_t full[HP_NCLASSES];
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
// A block of at most UMF_HOST_SMALL_MAX bytes (16-byte aligned), or NULL.
void *umf_private_host_malloc(void *hp, size_t size);
// Frees ptr when it lies in one of the engine's segments (any host pool)
// and no other pool's range nests there: true; false otherwise (ask the
// tracker).
bool umf_private_host_free(void *ptr);
// Usable size of the block at ptr when it lies in the engine's segments
// where no other pool's range nests (*ours true; 0 for anything but a live
// block's start), else *ours false.
size_t umf_private_host_usable(void *ptr, bool *ours);

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

static inline _Atomic uint8_t *hp_map_of(hp_seg_t *s, const void *p) {
    return (_Atomic uint8_t *)((char *)s + HP_MAP_OFF) +
           (((uintptr_t)p - (uintptr_t)s) / HP_GRAIN);
}

// The index of the block ptr starts in pg, or UINT32_MAX: not a block
// start (or pg is not in use).
static inline uint32_t hp_block_index(const hp_page_t *pg, const void *ptr) {
    uintptr_t off = (uintptr_t)ptr - (uintptr_t)pg->start;
    if (__builtin_expect(
            pg->bsize == 0 || off >= (uintptr_t)(pg->end - pg->start), 0)) {
        return UINT32_MAX;
    }
    uint32_t idx = (uint32_t)(((uint64_t)off * pg->inv) >> 32);
    return (uint64_t)idx * pg->bsize == off ? idx : UINT32_MAX;
}

// Pops a block of class c from h's current page; NULL: call the slow path.
static inline void *hp_heap_pop(hp_heap_t *h, unsigned c) {
    hp_page_t *pg = h->cur[c];
    void *b = pg->free;
    if (__builtin_expect(b != NULL, 1)) {
        pg->free = *(void **)b;
        pg->used++;
        if (h->checks) {
            atomic_store_explicit(hp_map_of(hp_seg_of(b), b), 1,
                                  memory_order_relaxed);
        }
    }
    return b;
}

// Frees ptr when it is a live block of a page h owns: true. False: not
// h's page, or not a live block's start (the caller takes the full path,
// which tells them apart). pg: ptr's page.
static inline bool hp_heap_push(hp_heap_t *h, hp_page_t *pg, void *ptr) {
    if (pg->heap != h) {
        return false;
    }
    if (h->checks) {
        _Atomic uint8_t *m = hp_map_of(hp_seg_of(ptr), ptr);
        if (hp_block_index(pg, ptr) == UINT32_MAX ||
            !atomic_load_explicit(m, memory_order_relaxed)) {
            return false;
        }
        atomic_store_explicit(m, 0, memory_order_relaxed);
    }
    *(void **)ptr = pg->free;
    pg->free = ptr;
    if (__builtin_expect(--pg->used == 0 || pg->where == HP_W_FULL, 0)) {
        umf_private_host_free_slow(h, pg);
    }
    return true;
}

#endif /* UMF_POOL_HOST_H */
