/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * tracker.c - a radix map from address ranges to their owner.
 *
 * Shape: a radix tree over the 48 address bits, like a page table. Level L
 * has slots that each cover 2^shift[L] bytes: 512 GiB, 1 GiB, 2 MiB, 4 KiB,
 * 64 B and 1 B. A range of size s lives at the deepest-granule level whose
 * slot size is <= s, i.e. level(s) = the level with the largest shift such
 * that 2^shift <= s, and is written into every slot of that level that it
 * intersects: at most 2^bits + 1 slots (513), however large the range
 * (a 1 GiB range takes one or two 1 GiB slots, never 262,144 pages).
 *
 * Why two entries per slot suffice: ranges at one level are disjoint and at
 * least one slot long, so at most one contains a slot's first byte and at
 * most one its last byte; any range meeting the slot contains one of them.
 *
 * Lookup walks from the root towards the leaf of ptr, checking the (at most
 * two) entries of each slot on the way and stopping at the first that
 * contains ptr or at a missing child: at most 6 slots, each one cache line.
 *
 * Concurrency: writers (register, unregister, split, merge, drop) hold
 * `lock`. Readers take no lock: each slot is a seqlock (odd seq = being
 * written), child pointers go from NULL to a zeroed node once (release,
 * paired with the acquire in lookup) and nodes are freed only by
 * tracker_destroy. A found entry is therefore always a consistent snapshot
 * of a range that was registered. A change that replaces ranges (split,
 * merge) first adds the new entries to slots that hold no old one, then
 * swaps old for new in shared slots, then removes the old entries left; but
 * a merge moves a range up the tree, and a reader that passed the upper
 * level before the swap may reach the lower one after the removal. So
 * "not found" is validated against `gen`, a tree-wide sequence count that
 * is odd while a change is being applied: a miss that saw a change retries.
 * Only misses pay for that; hits never read `gen`.
 *
 * Every change is checked and its nodes created before anything is
 * written, so a failed change leaves the map as it was.
 */

#include "tracker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "os_linux.h"

#define TR_LEVELS 6
static const unsigned tr_shift[TR_LEVELS] = {39, 30, 21, 12, 6, 0};
static const unsigned tr_bits[TR_LEVELS] = {9, 9, 9, 9, 6, 6};

typedef struct tr_entry_t {
    _Atomic uintptr_t base;
    _Atomic size_t size; // 0: empty
    _Atomic(void *) owner;
} tr_entry_t;

// A node is an array of 1 << tr_bits[level] slots; `child` points at one.
typedef struct tr_slot_t {
    _Atomic uint32_t seq;
    uint32_t pad_;
    _Atomic(struct tr_slot_t *) child;
    tr_entry_t e[2];
} tr_slot_t;

_Static_assert(sizeof(tr_slot_t) == 64, "a slot is one cache line");

#define TR_ARENA_SIZE ((size_t)1 << 20)

typedef struct tr_arena_t {
    struct tr_arena_t *next;
    size_t used;
} tr_arena_t;

struct tracker_t {
    tr_slot_t root[1 << 9];
    pthread_mutex_t lock;
    tr_arena_t *arenas; // node memory; freed by tracker_destroy only
    _Atomic size_t count;
    _Atomic uint64_t gen __attribute__((aligned(64))); // odd: change applying
};

// A range to add or remove, with its level.
typedef struct tr_range_t {
    uintptr_t base;
    size_t size;
    void *owner;
    unsigned level;
} tr_range_t;

// --- Geometry ---

static unsigned level_of(size_t size) {
    for (unsigned l = 0; l < TR_LEVELS; l++) {
        if (size >= ((size_t)1 << tr_shift[l])) {
            return l;
        }
    }
    return TR_LEVELS - 1; // unreachable: size >= 1 fits level 5
}

static inline size_t slot_idx(uintptr_t addr, unsigned level) {
    return (addr >> tr_shift[level]) & (((size_t)1 << tr_bits[level]) - 1);
}

// Global index of the slot at `level` containing addr.
static inline uintptr_t gidx(uintptr_t addr, unsigned level) {
    return addr >> tr_shift[level];
}

static inline uintptr_t r_first(const tr_range_t *r) {
    return gidx(r->base, r->level);
}

static inline uintptr_t r_last(const tr_range_t *r) {
    return gidx(r->base + r->size - 1, r->level);
}

static inline bool r_covers_slot(const tr_range_t *r, unsigned level,
                                 uintptr_t g) {
    return r->level == level && g >= r_first(r) && g <= r_last(r);
}

// --- Nodes ---

static tr_slot_t *node_alloc(tracker_t *t, unsigned level) {
    size_t bytes = ((size_t)1 << tr_bits[level]) * sizeof(tr_slot_t);
    tr_arena_t *a = t->arenas;
    if (!a || a->used + bytes > TR_ARENA_SIZE) {
        void *mem;
        int r = os_mmap_anon(TR_ARENA_SIZE, PROT_READ | PROT_WRITE, &mem);
        if (r) {
            LOG_PERR(-r, "mmap of a tracker arena failed");
            return NULL;
        }
        a = mem;
        a->next = t->arenas;
        a->used = 64; // header, keeps nodes cache-line aligned
        t->arenas = a;
    }
    tr_slot_t *n = (tr_slot_t *)((char *)a + a->used);
    a->used += bytes;
    return n; // fresh mmap memory: all slots empty, seq 0
}

// Slot at `level` for addr; with `create`, makes missing nodes (writers
// only, under t->lock). NULL when absent (or out of memory).
static tr_slot_t *slot_get(tracker_t *t, uintptr_t addr, unsigned level,
                           bool create) {
    tr_slot_t *s = &t->root[slot_idx(addr, 0)];
    for (unsigned l = 0; l < level; l++) {
        tr_slot_t *n = atomic_load_explicit(&s->child, memory_order_acquire);
        if (!n) {
            if (!create) {
                return NULL;
            }
            n = node_alloc(t, l + 1);
            if (!n) {
                return NULL;
            }
            // Pairs with the acquire loads of child in lookup.
            atomic_store_explicit(&s->child, n, memory_order_release);
        }
        s = &n[slot_idx(addr, l + 1)];
    }
    return s;
}

// --- Seqlock ---

static inline void slot_write_begin(tr_slot_t *s) {
    uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    // Orders the odd seq before the entry stores that follow.
    atomic_thread_fence(memory_order_release);
}

static inline void slot_write_end(tr_slot_t *s) {
    uint32_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    // Pairs with the acquire load of seq in slot_read.
    atomic_store_explicit(&s->seq, q + 1, memory_order_release);
}

static inline void entry_set(tr_entry_t *e, uintptr_t base, size_t size,
                             void *owner) {
    atomic_store_explicit(&e->base, base, memory_order_relaxed);
    atomic_store_explicit(&e->size, size, memory_order_relaxed);
    atomic_store_explicit(&e->owner, owner, memory_order_relaxed);
}

typedef struct tr_snap_t {
    uintptr_t base[2];
    size_t size[2];
    void *owner[2];
} tr_snap_t;

static inline void slot_read(const tr_slot_t *s, tr_snap_t *o) {
    tr_slot_t *m = (tr_slot_t *)s; // atomics are read through non-const
    for (;;) {
        uint32_t q1 = atomic_load_explicit(&m->seq, memory_order_acquire);
        if (unlikely(q1 & 1)) {
            cpu_relax();
            continue;
        }
        for (int i = 0; i < 2; i++) {
            o->base[i] = atomic_load_explicit(&m->e[i].base, memory_order_relaxed);
            o->size[i] = atomic_load_explicit(&m->e[i].size, memory_order_relaxed);
            o->owner[i] =
                atomic_load_explicit(&m->e[i].owner, memory_order_relaxed);
        }
        // Orders the entry loads before the seq re-check.
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&m->seq, memory_order_relaxed) == q1) {
            return;
        }
    }
}

// Writer-side read (under t->lock, no concurrent writer): plain loads.
static inline size_t e_size(tr_slot_t *s, int i) {
    return atomic_load_explicit(&s->e[i].size, memory_order_relaxed);
}
static inline uintptr_t e_base(tr_slot_t *s, int i) {
    return atomic_load_explicit(&s->e[i].base, memory_order_relaxed);
}

// --- Lookup ---

static bool lookup_once(const tracker_t *t, uintptr_t a, tracker_info_t *info) {
    const tr_slot_t *s = &t->root[slot_idx(a, 0)];
    for (unsigned l = 0;; l++) {
        tr_snap_t snap;
        slot_read(s, &snap);
        for (int i = 0; i < 2; i++) {
            if (a - snap.base[i] < snap.size[i]) {
                if (info) {
                    info->base = (void *)snap.base[i];
                    info->size = snap.size[i];
                    info->owner = snap.owner[i];
                }
                return true;
            }
        }
        if (l == TR_LEVELS - 1) {
            return false;
        }
        // Pairs with the release store in slot_get.
        const tr_slot_t *n = atomic_load_explicit(&((tr_slot_t *)s)->child,
                                                  memory_order_acquire);
        if (!n) {
            return false;
        }
        s = &n[slot_idx(a, l + 1)];
    }
}

bool tracker_lookup(const tracker_t *t, const void *ptr, tracker_info_t *info) {
    uintptr_t a = (uintptr_t)ptr;
    if (unlikely(!t || a >= TRACKER_ADDR_LIMIT)) {
        return false;
    }
    _Atomic uint64_t *gen = &((tracker_t *)t)->gen;
    for (;;) {
        // Pairs with the release store in gen_end.
        uint64_t g1 = atomic_load_explicit(gen, memory_order_acquire);
        if (likely(lookup_once(t, a, info))) {
            return true;
        }
        // Orders the slot loads of the walk before the re-check.
        atomic_thread_fence(memory_order_acquire);
        uint64_t g2 = atomic_load_explicit(gen, memory_order_relaxed);
        if (g1 == g2 && !(g1 & 1)) {
            return false;
        }
        cpu_relax();
    }
}

// --- Changes ---

static inline void gen_begin(tracker_t *t) {
    uint64_t g = atomic_load_explicit(&t->gen, memory_order_relaxed);
    atomic_store_explicit(&t->gen, g + 1, memory_order_relaxed);
    // Orders the odd gen before the slot writes that follow.
    atomic_thread_fence(memory_order_release);
}

static inline void gen_end(tracker_t *t) {
    uint64_t g = atomic_load_explicit(&t->gen, memory_order_relaxed);
    atomic_store_explicit(&t->gen, g + 1, memory_order_release);
}

// Adds `adds` and removes `rems` (lists of up to 2) in the three phases
// described at the top. pre: t->lock held, validate() succeeded.
static void apply(tracker_t *t, const tr_range_t *adds, int nadd,
                  const tr_range_t *rems, int nrem) {
    gen_begin(t);
    // Phase 1 and 2: walk every slot of every new range.
    for (int i = 0; i < nadd; i++) {
        const tr_range_t *r = &adds[i];
        for (uintptr_t g = r_first(r); g <= r_last(r); g++) {
            // A slot shared by two new ranges is handled once, by the first.
            bool seen = false;
            for (int j = 0; j < i; j++) {
                seen |= r_covers_slot(&adds[j], r->level, g);
            }
            if (seen) {
                continue;
            }
            tr_slot_t *s = slot_get(t, g << tr_shift[r->level], r->level, false);
            UMF_ASSERT(s != NULL);
            slot_write_begin(s);
            for (int k = 0; k < nrem; k++) {
                if (!r_covers_slot(&rems[k], r->level, g)) {
                    continue;
                }
                for (int e = 0; e < 2; e++) {
                    if (e_base(s, e) == rems[k].base &&
                        e_size(s, e) == rems[k].size) {
                        entry_set(&s->e[e], 0, 0, NULL);
                    }
                }
            }
            for (int j = i; j < nadd; j++) {
                if (!r_covers_slot(&adds[j], r->level, g)) {
                    continue;
                }
                int e = e_size(s, 0) == 0 ? 0 : 1;
                UMF_ASSERT(e_size(s, e) == 0);
                entry_set(&s->e[e], adds[j].base, adds[j].size, adds[j].owner);
            }
            slot_write_end(s);
        }
    }
    // Phase 3: old entries in slots no new range touched.
    for (int k = 0; k < nrem; k++) {
        const tr_range_t *r = &rems[k];
        for (uintptr_t g = r_first(r); g <= r_last(r); g++) {
            bool done = false;
            for (int j = 0; j < nadd; j++) {
                done |= r_covers_slot(&adds[j], r->level, g);
            }
            if (done) {
                continue;
            }
            tr_slot_t *s = slot_get(t, g << tr_shift[r->level], r->level, false);
            if (!s) {
                continue;
            }
            for (int e = 0; e < 2; e++) {
                if (e_base(s, e) == r->base && e_size(s, e) == r->size) {
                    slot_write_begin(s);
                    entry_set(&s->e[e], 0, 0, NULL);
                    slot_write_end(s);
                }
            }
        }
    }
    gen_end(t);
}

// Creates the nodes the new ranges need and checks every slot they will
// occupy has room (no overlap with ranges that stay). Nothing visible
// changes. pre: t->lock held.
static umf_result_t validate(tracker_t *t, const tr_range_t *adds, int nadd,
                             const tr_range_t *rems, int nrem) {
    for (int i = 0; i < nadd; i++) {
        const tr_range_t *r = &adds[i];
        for (uintptr_t g = r_first(r); g <= r_last(r); g++) {
            tr_slot_t *s = slot_get(t, g << tr_shift[r->level], r->level, true);
            if (!s) {
                return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
            }
            int used = 0;
            for (int e = 0; e < 2; e++) {
                size_t sz = e_size(s, e);
                if (sz == 0) {
                    continue;
                }
                uintptr_t b = e_base(s, e);
                bool leaving = false;
                for (int k = 0; k < nrem; k++) {
                    leaving |= rems[k].base == b && rems[k].size == sz;
                }
                if (leaving) {
                    continue;
                }
                // Ranges of one level meeting one slot: overlap means a bug.
                for (int j = 0; j < nadd; j++) {
                    if (adds[j].level == r->level && b < adds[j].base + adds[j].size &&
                        adds[j].base < b + sz) {
                        LOG_ERR("range [%p, +%zu) overlaps registered range "
                                "[%p, +%zu)",
                                (void *)adds[j].base, adds[j].size, (void *)b,
                                sz);
                        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
                    }
                }
                used++;
            }
            for (int j = 0; j < nadd; j++) {
                used += r_covers_slot(&adds[j], r->level, g);
            }
            if (used > 2) {
                LOG_ERR("range [%p, +%zu) overlaps a registered range",
                        (void *)r->base, r->size);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
        }
    }
    return UMF_RESULT_SUCCESS;
}

static bool range_make(uintptr_t base, size_t size, void *owner,
                       tr_range_t *r) {
    if (size == 0 || base >= TRACKER_ADDR_LIMIT ||
        size > TRACKER_ADDR_LIMIT - base) {
        return false;
    }
    r->base = base;
    r->size = size;
    r->owner = owner;
    r->level = level_of(size);
    return true;
}

// Finds the registered range starting exactly at base. pre: t->lock held.
static bool find_exact(tracker_t *t, uintptr_t base, tr_range_t *r) {
    tracker_info_t info;
    if (!tracker_lookup(t, (void *)base, &info) ||
        (uintptr_t)info.base != base) {
        return false;
    }
    return range_make(base, info.size, info.owner, r);
}

umf_result_t tracker_register(tracker_t *t, void *owner, const void *base,
                              size_t size) {
    if (size == 0) {
        return UMF_RESULT_SUCCESS;
    }
    tr_range_t r;
    if (!range_make((uintptr_t)base, size, owner, &r)) {
        LOG_ERR("range [%p, +%zu) lies beyond the 48-bit address space the "
                "tracker covers",
                base, size);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    pthread_mutex_lock(&t->lock);
    // Slots only see ranges of their own level; the end points catch an
    // overlap with a range of another level.
    tracker_info_t other;
    if (tracker_lookup(t, base, &other) ||
        tracker_lookup(t, (const char *)base + size - 1, &other)) {
        pthread_mutex_unlock(&t->lock);
        LOG_ERR("range [%p, +%zu) overlaps registered range [%p, +%zu)", base,
                size, other.base, other.size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_result_t ret = validate(t, &r, 1, NULL, 0);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, &r, 1, NULL, 0);
        atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&t->lock);
    return ret;
}

umf_result_t tracker_unregister(tracker_t *t, const void *base,
                                tracker_info_t *info) {
    tr_range_t r;
    pthread_mutex_lock(&t->lock);
    if (!find_exact(t, (uintptr_t)base, &r)) {
        pthread_mutex_unlock(&t->lock);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    apply(t, NULL, 0, &r, 1);
    atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
    if (info) {
        info->base = (void *)r.base;
        info->size = r.size;
        info->owner = r.owner;
    }
    return UMF_RESULT_SUCCESS;
}

umf_result_t tracker_split(tracker_t *t, const void *base, size_t total,
                           size_t first) {
    if (first == 0 || first >= total) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    tr_range_t old, adds[2];
    umf_result_t ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&t->lock);
    if (!find_exact(t, (uintptr_t)base, &old) || old.size != total) {
        LOG_ERR("split of [%p, +%zu): no such registered range", base, total);
        goto out_unlock;
    }
    range_make(old.base, first, old.owner, &adds[0]);
    range_make(old.base + first, total - first, old.owner, &adds[1]);
    ret = validate(t, adds, 2, &old, 1);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, adds, 2, &old, 1);
        atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
    }
out_unlock:
    pthread_mutex_unlock(&t->lock);
    return ret;
}

umf_result_t tracker_merge(tracker_t *t, const void *low, const void *high,
                           size_t total) {
    uintptr_t lo = (uintptr_t)low, hi = (uintptr_t)high;
    if (lo >= hi || hi - lo >= total) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    tr_range_t rems[2], add;
    umf_result_t ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&t->lock);
    if (!find_exact(t, lo, &rems[0]) || !find_exact(t, hi, &rems[1]) ||
        rems[0].size != hi - lo || rems[1].size != total - (hi - lo) ||
        rems[0].owner != rems[1].owner) {
        LOG_ERR("merge of [%p, +%zu) and [%p, ...) into %zu bytes: not two "
                "adjacent ranges of one owner",
                low, hi - lo, high, total);
        goto out_unlock;
    }
    range_make(lo, total, rems[0].owner, &add);
    ret = validate(t, &add, 1, rems, 2);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, &add, 1, rems, 2);
        atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
    }
out_unlock:
    pthread_mutex_unlock(&t->lock);
    return ret;
}

// Cuts the range containing `at` (which must start before `at`) in two at
// `at`. pre: t->lock held.
static umf_result_t split_at_locked(tracker_t *t, uintptr_t at) {
    tracker_info_t info;
    if (!tracker_lookup(t, (void *)at, &info) || (uintptr_t)info.base == at) {
        return UMF_RESULT_SUCCESS; // nothing to cut
    }
    tr_range_t old, adds[2];
    size_t first = at - (uintptr_t)info.base;
    if (!range_make((uintptr_t)info.base, info.size, info.owner, &old) ||
        !range_make(old.base, first, old.owner, &adds[0]) ||
        !range_make(at, old.size - first, old.owner, &adds[1])) {
        return UMF_RESULT_ERROR_UNKNOWN; // cannot happen for a registered range
    }
    umf_result_t ret = validate(t, adds, 2, &old, 1);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, adds, 2, &old, 1);
        atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
    }
    return ret;
}

umf_result_t tracker_remove_range(tracker_t *t, void *owner, const void *base,
                                  size_t size) {
    uintptr_t lo = (uintptr_t)base, hi = lo + size;
    if (size == 0 || hi < lo || hi > TRACKER_ADDR_LIMIT) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_result_t ret = UMF_RESULT_SUCCESS;
    pthread_mutex_lock(&t->lock);
    // Check coverage first, so that a refused removal changes nothing.
    for (uintptr_t at = lo; at < hi;) {
        tracker_info_t info;
        if (!tracker_lookup(t, (void *)at, &info) || info.owner != owner) {
            LOG_DEBUG("[%p, +%zu) is not all registered to one owner (gap "
                      "or other owner at %p)",
                    base, size, (void *)at);
            ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
            goto out_unlock;
        }
        at = (uintptr_t)info.base + info.size;
    }
    ret = split_at_locked(t, lo);
    if (ret == UMF_RESULT_SUCCESS) {
        ret = split_at_locked(t, hi);
    }
    // From here every range inside [lo, hi) is removed whole. A failure
    // above (no memory for nodes) leaves the map valid, only cut.
    for (uintptr_t at = lo; ret == UMF_RESULT_SUCCESS && at < hi;) {
        tr_range_t r;
        if (!find_exact(t, at, &r)) {
            ret = UMF_RESULT_ERROR_UNKNOWN;
            break;
        }
        apply(t, NULL, 0, &r, 1);
        atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
        at = r.base + r.size;
    }
out_unlock:
    pthread_mutex_unlock(&t->lock);
    return ret;
}

// Depth-first walk removing the owner's entries; counts a range once, in
// the first slot it occupies. pre: t->lock held.
static size_t drop_walk(tr_slot_t *slots, unsigned level, uintptr_t prefix,
                        void *owner) {
    size_t n = 0, nslots = (size_t)1 << tr_bits[level];
    for (size_t i = 0; i < nslots; i++) {
        tr_slot_t *s = &slots[i];
        uintptr_t g = (prefix << tr_bits[level]) | i;
        for (int e = 0; e < 2; e++) {
            if (e_size(s, e) != 0 &&
                atomic_load_explicit(&s->e[e].owner, memory_order_relaxed) ==
                    owner) {
                n += gidx(e_base(s, e), level) == g;
                slot_write_begin(s);
                entry_set(&s->e[e], 0, 0, NULL);
                slot_write_end(s);
            }
        }
        tr_slot_t *c = atomic_load_explicit(&s->child, memory_order_relaxed);
        if (c && level + 1 < TR_LEVELS) {
            n += drop_walk(c, level + 1, g, owner);
        }
    }
    return n;
}

size_t tracker_drop_owner(tracker_t *t, void *owner) {
    pthread_mutex_lock(&t->lock);
    gen_begin(t);
    size_t n = drop_walk(t->root, 0, 0, owner);
    gen_end(t);
    atomic_fetch_sub_explicit(&t->count, n, memory_order_relaxed);
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t tracker_count(const tracker_t *t) {
    return atomic_load_explicit(&((tracker_t *)t)->count, memory_order_relaxed);
}

size_t tracker_node_bytes(tracker_t *t) {
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (tr_arena_t *a = t->arenas; a; a = a->next) {
        n += a->used - 64;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

// --- Life cycle ---

tracker_t *tracker_create(void) {
    // Its own mapping: 32 KiB of root slots, and `gen` wants a cache line
    // of its own (the base allocator aligns to 16 bytes only).
    void *mem;
    int r = os_mmap_anon(sizeof(tracker_t), PROT_READ | PROT_WRITE, &mem);
    if (r) {
        LOG_PERR(-r, "no memory for the tracker");
        return NULL;
    }
    tracker_t *t = mem; // zero-filled: empty slots, seq 0, gen 0
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void tracker_destroy(tracker_t *t) {
    if (!t) {
        return;
    }
    for (tr_arena_t *a = t->arenas, *next; a; a = next) {
        next = a->next;
        (void)os_munmap(a, TR_ARENA_SIZE);
    }
    pthread_mutex_destroy(&t->lock);
    (void)os_munmap(t, sizeof(tracker_t));
}

void tracker_fork_prepare(tracker_t *t) {
    pthread_mutex_lock(&t->lock);
}

void tracker_fork_parent(tracker_t *t) {
    pthread_mutex_unlock(&t->lock);
}

void tracker_fork_child(tracker_t *t) {
    pthread_mutex_init(&t->lock, NULL);
}
