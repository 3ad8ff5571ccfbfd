/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * blockmap.c - the live-block map (see blockmap.h).
 *
 * Address a: bit (a >> 3) & 63 of word (a >> 9) & (BM_LEAF_WORDS - 1) of
 * leaf a >> 26. A leaf pointer is NULL (not yet mapped), BM_UNTRACKED (its
 * mapping failed: the range is not covered) or the leaf.
 */

#include "blockmap.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "common.h"
#include "log.h"
#include "os_linux.h"

#define BM_GRAIN_SHIFT 3  // 8 bytes per bit
#define BM_LEAF_SHIFT  26 // 64 MiB per leaf
#define BM_ADDR_BITS   47
#define BM_NLEAVES     ((size_t)1 << (BM_ADDR_BITS - BM_LEAF_SHIFT))
#define BM_LEAF_WORDS  ((size_t)1 << (BM_LEAF_SHIFT - BM_GRAIN_SHIFT - 6))
#define BM_LEAF_BYTES  (BM_LEAF_WORDS * sizeof(uint64_t)) // 1 MiB
#define BM_UNTRACKED   ((_Atomic uint64_t *)(uintptr_t)1)

typedef _Atomic uint64_t bm_word_t;

static _Atomic(bm_word_t *_Atomic *) bm_table; // BM_NLEAVES leaf pointers
static _Atomic bool bm_table_failed;

static void *bm_map(size_t bytes) {
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static UMF_NOINLINE UMF_COLD void bm_warn(const char *what) {
    static _Atomic bool warned;
    if (!atomic_exchange_explicit(&warned, true, memory_order_relaxed)) {
        LOG_WARN("live-block map: cannot map its %s; misuse checks are off "
                 "for the memory it would cover",
                 what);
    }
}

static UMF_NOINLINE UMF_COLD bm_word_t *_Atomic *bm_table_make(void) {
    if (atomic_load_explicit(&bm_table_failed, memory_order_relaxed)) {
        return NULL;
    }
    bm_word_t *_Atomic *t = bm_map(BM_NLEAVES * sizeof(*t));
    if (!t) {
        atomic_store_explicit(&bm_table_failed, true, memory_order_relaxed);
        bm_warn("table");
        return NULL;
    }
    bm_word_t *_Atomic *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&bm_table, &expected, t,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        (void)os_munmap(t, BM_NLEAVES * sizeof(*t));
        return expected;
    }
    return t;
}

static UMF_NOINLINE UMF_COLD bm_word_t *bm_leaf_make(bm_word_t *_Atomic *slot) {
    bm_word_t *leaf = bm_map(BM_LEAF_BYTES);
    if (!leaf) {
        bm_warn("leaf");
        leaf = BM_UNTRACKED;
    }
    bm_word_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &expected, leaf,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        if (leaf != BM_UNTRACKED) {
            (void)os_munmap(leaf, BM_LEAF_BYTES);
        }
        return expected;
    }
    return leaf;
}

// The leaf of address a, made if `make`; NULL when a has no leaf (not
// made, or above the covered space) or its leaf is BM_UNTRACKED.
static inline bm_word_t *bm_leaf(uintptr_t a, bool make, bool *covered) {
    *covered = false;
    if (unlikely(a >> BM_ADDR_BITS)) {
        return NULL;
    }
    bm_word_t *_Atomic *t =
        atomic_load_explicit(&bm_table, memory_order_acquire);
    if (unlikely(!t)) {
        if (!make || !(t = bm_table_make())) {
            *covered = make ? false
                            : !atomic_load_explicit(&bm_table_failed,
                                                    memory_order_relaxed);
            return NULL;
        }
    }
    bm_word_t *_Atomic *slot = &t[a >> BM_LEAF_SHIFT];
    bm_word_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
    if (unlikely(!leaf)) {
        if (!make) {
            *covered = true;
            return NULL;
        }
        leaf = bm_leaf_make(slot);
    }
    if (unlikely(leaf == BM_UNTRACKED)) {
        return NULL;
    }
    *covered = true;
    return leaf;
}

static inline bm_word_t *bm_word(bm_word_t *leaf, uintptr_t a) {
    return &leaf[(a >> (BM_GRAIN_SHIFT + 6)) & (BM_LEAF_WORDS - 1)];
}

static inline uint64_t bm_bit(uintptr_t a) {
    return (uint64_t)1 << ((a >> BM_GRAIN_SHIFT) & 63);
}

void bm_mark(const void *p) {
    uintptr_t a = (uintptr_t)p;
    bool covered;
    bm_word_t *leaf = bm_leaf(a, true, &covered);
    if (leaf) {
        atomic_fetch_or_explicit(bm_word(leaf, a), bm_bit(a),
                                 memory_order_relaxed);
    }
}

bool bm_unmark(const void *p) {
    uintptr_t a = (uintptr_t)p;
    bool covered;
    bm_word_t *leaf = bm_leaf(a, false, &covered);
    if (!leaf) {
        return !covered; // never marked in a covered range: not a block
    }
    uint64_t bit = bm_bit(a);
    return (atomic_fetch_and_explicit(bm_word(leaf, a), ~bit,
                                      memory_order_relaxed) &
            bit) != 0;
}

bool bm_live(const void *p) {
    uintptr_t a = (uintptr_t)p;
    bool covered;
    bm_word_t *leaf = bm_leaf(a, false, &covered);
    if (!leaf) {
        return !covered;
    }
    return (atomic_load_explicit(bm_word(leaf, a), memory_order_relaxed) &
            bm_bit(a)) != 0;
}

// Clears the bits of [a, e) within one leaf. Words wholly inside the range
// cover only memory being given back, so no other thread marks them: whole
// pages of them are dropped (MADV_DONTNEED reads back as zero), the rest
// stored; the two edge words are shared with neighbours and are ANDed.
static void bm_forget_leaf(bm_word_t *leaf, uintptr_t a, uintptr_t e) {
    uintptr_t g0 = a >> BM_GRAIN_SHIFT;
    uintptr_t g1 = (e + ((uintptr_t)1 << BM_GRAIN_SHIFT) - 1) >> BM_GRAIN_SHIFT;
    size_t base =
        (size_t)(a >> BM_LEAF_SHIFT << (BM_LEAF_SHIFT - BM_GRAIN_SHIFT));
    size_t b0 = g0 - base, b1 = g1 - base; // bit range [b0, b1) in the leaf
    size_t w0 = b0 / 64, w1 = (b1 + 63) / 64;
    if (w1 - w0 == 1) {
        uint64_t hi = b1 % 64 ? ((uint64_t)1 << (b1 % 64)) - 1 : ~(uint64_t)0;
        uint64_t mask = hi & ~(((uint64_t)1 << (b0 % 64)) - 1);
        atomic_fetch_and_explicit(&leaf[w0], ~mask, memory_order_relaxed);
        return;
    }
    if (b0 % 64) {
        atomic_fetch_and_explicit(&leaf[w0], ((uint64_t)1 << (b0 % 64)) - 1,
                                  memory_order_relaxed);
        w0++;
    }
    if (b1 % 64) {
        atomic_fetch_and_explicit(&leaf[w1 - 1],
                                  ~(((uint64_t)1 << (b1 % 64)) - 1),
                                  memory_order_relaxed);
        w1--;
    }
    const size_t wpp = 4096 / sizeof(uint64_t); // words per page
    size_t p0 = (w0 + wpp - 1) / wpp * wpp, p1 = w1 / wpp * wpp;
    if (p1 > p0 && os_madvise((void *)&leaf[p0], (p1 - p0) * sizeof(uint64_t),
                              MADV_DONTNEED) == 0) {
        for (size_t w = w0; w < p0; w++) {
            atomic_store_explicit(&leaf[w], 0, memory_order_relaxed);
        }
        w0 = p1;
    }
    for (size_t w = w0; w < w1; w++) {
        if (atomic_load_explicit(&leaf[w], memory_order_relaxed)) {
            atomic_store_explicit(&leaf[w], 0, memory_order_relaxed);
        }
    }
}

void bm_forget(const void *addr, size_t size) {
    uintptr_t a = (uintptr_t)addr;
    uintptr_t e = a + size;
    if (!size || e < a) {
        return;
    }
    while (a < e && !(a >> BM_ADDR_BITS)) {
        uintptr_t leaf_end = (a | (((uintptr_t)1 << BM_LEAF_SHIFT) - 1)) + 1;
        uintptr_t stop = e < leaf_end ? e : leaf_end;
        bool covered;
        bm_word_t *leaf = bm_leaf(a, false, &covered);
        if (leaf) {
            bm_forget_leaf(leaf, a, stop);
        }
        a = stop;
    }
}
