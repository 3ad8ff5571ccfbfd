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
 * Concurrency: writers (register, unregister, remove_range, drop) hold
 * `lock`. Readers take no lock: each slot is a seqlock (odd seq = being
 * written), child pointers go from NULL to a zeroed node once (release,
 * paired with the acquire in lookup) and nodes are freed only by
 * tracker_destroy. A found entry is therefore always a consistent snapshot
 * of a range that was registered. A change that replaces ranges (a cut by
 * remove_range) first adds the new entries to slots that hold no old one, then
 * swaps old for new in shared slots, then removes the old entries left; but
 * were a range to move up the tree (merges did, before they were dropped),
 * a reader that passed the upper level before the swap could reach the
 * lower one after the removal. So
 * "not found" is validated against `gen`, a tree-wide sequence count that
 * is odd while a change is being applied: a miss that saw a change retries.
 * Only misses pay for that; hits never read `gen`.
 *
 * Every change is checked and its nodes created before anything is
 * written, so a failed change leaves the map as it was.
 *
 * Nesting: a range registered wholly inside a range of another owner (a
 * pool whose provider takes its memory from another pool: under the proxy,
 * any provider that calls malloc) goes into an inner layer, a tracker of
 * the same shape hanging off this one, and the outer entry gets a flag in
 * its slots. A lookup that finds a flagged entry asks the inner layer and
 * answers with the innermost range, so the two owners never see each
 * other's memory; unflagged entries (the normal case) cost nothing more.
 * Changes look for their range innermost first. Removing an outer range
 * also drops what is left inside it in the inner layer (a pool that freed
 * its chunk before the pool nested in it). All layers share the writer
 * lock of the outermost one; layers are at most TR_MAX_DEPTH deep.
 */

#include "tracker.h"
#include "pools/pool_host.h"

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
    _Atomic uint32_t nested; // bit e: entry e has ranges in the inner layer
    _Atomic(struct tr_slot_t *) child;
    tr_entry_t e[2];
} tr_slot_t;

_Static_assert(sizeof(tr_slot_t) == 64, "a slot is one cache line");

#define TR_ARENA_SIZE ((size_t)1 << 20)

typedef struct tr_arena_t {
    struct tr_arena_t *next;
    size_t used;
} tr_arena_t;

#define TR_MAX_DEPTH 4 // layers, the outermost included

struct tracker_t {
    tr_slot_t root[1 << 9];
    pthread_mutex_t lock;              // the outermost layer's serves all
    _Atomic(struct tracker_t *) inner; // ranges nested in this layer's
    unsigned depth;                    // 0 for the outermost layer
    tr_arena_t *arenas; // node memory; freed by tracker_destroy only
    _Atomic size_t count;
    _Atomic uint64_t gen __attribute__((aligned(64))); // odd: change applying
    // Outermost layer: bumped by every change that can take an address
    // from its owner (a removal, a range nested into another). A reader
    // that cached an answer may keep it while this stays the same.
    _Atomic uint64_t epoch __attribute__((aligned(64)));
};

static inline void epoch_bump(tracker_t *t) {
    // Pairs with the acquire loads of readers that validate a cache.
    atomic_fetch_add_explicit(&t->epoch, 1, memory_order_release);
}

const _Atomic uint64_t *tracker_epoch(const tracker_t *t) {
    return &t->epoch;
}

// A range to add or remove, with its level.
typedef struct tr_range_t {
    uintptr_t base;
    size_t size;
    void *owner;
    unsigned level;
    bool nested; // the entry's flag: ranges inside it in the inner layer
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
    umf_fence(memory_order_release);
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
    uint32_t nested;
} tr_snap_t;

static inline void entry_flag(tr_slot_t *s, int e, bool nested) {
    uint32_t f = atomic_load_explicit(&s->nested, memory_order_relaxed);
    f = nested ? f | (1u << e) : f & ~(1u << e);
    atomic_store_explicit(&s->nested, f, memory_order_relaxed);
}

static inline void slot_read(const tr_slot_t *s, tr_snap_t *o) {
    tr_slot_t *m = (tr_slot_t *)s; // atomics are read through non-const
    for (;;) {
        uint32_t q1 = atomic_load_explicit(&m->seq, memory_order_acquire);
        if (unlikely(q1 & 1)) {
            cpu_relax();
            continue;
        }
        for (int i = 0; i < 2; i++) {
            o->base[i] =
                atomic_load_explicit(&m->e[i].base, memory_order_relaxed);
            o->size[i] =
                atomic_load_explicit(&m->e[i].size, memory_order_relaxed);
            o->owner[i] =
                atomic_load_explicit(&m->e[i].owner, memory_order_relaxed);
        }
        o->nested = atomic_load_explicit(&m->nested, memory_order_relaxed);
        // Orders the entry loads before the seq re-check.
        umf_fence(memory_order_acquire);
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

static bool lookup_once(const tracker_t *t, uintptr_t a, tracker_info_t *info,
                        bool *nested) {
    const tr_slot_t *s = &t->root[slot_idx(a, 0)];
    for (unsigned l = 0;; l++) {
        tr_snap_t snap;
        slot_read(s, &snap);
        for (int i = 0; i < 2; i++) {
            if (a - snap.base[i] < snap.size[i]) {
                info->base = (void *)snap.base[i];
                info->size = snap.size[i];
                info->owner = snap.owner[i];
                *nested = (snap.nested >> i) & 1;
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

// The range of this layer containing a, ignoring inner layers.
static bool layer_lookup(const tracker_t *t, uintptr_t a, tracker_info_t *info,
                         bool *nested) {
    _Atomic uint64_t *gen = &((tracker_t *)t)->gen;
    for (;;) {
        // Pairs with the release store in gen_end.
        uint64_t g1 = atomic_load_explicit(gen, memory_order_acquire);
        if (likely(lookup_once(t, a, info, nested))) {
            return true;
        }
        // Orders the slot loads of the walk before the re-check.
        umf_fence(memory_order_acquire);
        uint64_t g2 = atomic_load_explicit(gen, memory_order_relaxed);
        if (g1 == g2 && !(g1 & 1)) {
            return false;
        }
        cpu_relax();
    }
}

// The innermost range containing ptr: a flagged entry defers to the inner
// layer, where a range may or may not (any more) contain ptr.
static bool lookup_slow(const tracker_t *t, uintptr_t a, tracker_info_t *info);

bool tracker_lookup(const tracker_t *t, const void *ptr, tracker_info_t *info) {
    uintptr_t a = (uintptr_t)ptr;
    if (unlikely(!t || a >= TRACKER_ADDR_LIMIT)) {
        return false;
    }
    tracker_info_t mine;
    bool nested;
    if (!layer_lookup(t, a, &mine, &nested)) {
        return false;
    }
    mine.has_nested = nested;
    if (unlikely(nested)) {
        (void)lookup_slow(t, a, &mine); // the inner range, if there is one
    }
    if (info) {
        *info = mine;
    }
    return true;
}

static bool lookup_slow(const tracker_t *t, uintptr_t a, tracker_info_t *info) {
    // Pairs with the release store of inner in layer_inner.
    const tracker_t *in =
        atomic_load_explicit(&((tracker_t *)t)->inner, memory_order_acquire);
    return in && tracker_lookup(in, (const void *)a, info);
}

// --- Changes ---

static inline void gen_begin(tracker_t *t) {
    uint64_t g = atomic_load_explicit(&t->gen, memory_order_relaxed);
    atomic_store_explicit(&t->gen, g + 1, memory_order_relaxed);
    // Orders the odd gen before the slot writes that follow.
    umf_fence(memory_order_release);
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
            tr_slot_t *s =
                slot_get(t, g << tr_shift[r->level], r->level, false);
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
                        entry_flag(s, e, false);
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
                entry_flag(s, e, adds[j].nested);
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
            tr_slot_t *s =
                slot_get(t, g << tr_shift[r->level], r->level, false);
            if (!s) {
                continue;
            }
            for (int e = 0; e < 2; e++) {
                if (e_base(s, e) == r->base && e_size(s, e) == r->size) {
                    slot_write_begin(s);
                    entry_set(&s->e[e], 0, 0, NULL);
                    entry_flag(s, e, false);
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
                    if (adds[j].level == r->level &&
                        b < adds[j].base + adds[j].size &&
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
    r->nested = false;
    return true;
}

// --- Layers (writers only, under the outermost layer's lock) ---

static inline tracker_t *inner_of(tracker_t *t) {
    return atomic_load_explicit(&t->inner, memory_order_relaxed);
}

// The range of layer t starting exactly at base.
static bool find_exact(tracker_t *t, uintptr_t base, tr_range_t *r) {
    tracker_info_t info;
    bool nested;
    if (!layer_lookup(t, base, &info, &nested) ||
        (uintptr_t)info.base != base ||
        !range_make(base, info.size, info.owner, r)) {
        return false;
    }
    r->nested = nested;
    return true;
}

// The innermost layer holding a range that starts at base (of owner, when
// owner is not NULL), and that range.
static tracker_t *layer_with(tracker_t *t, uintptr_t base, void *owner,
                             tr_range_t *r) {
    tracker_t *in = inner_of(t);
    if (in) {
        tracker_t *l = layer_with(in, base, owner, r);
        if (l) {
            return l;
        }
    }
    if (find_exact(t, base, r) && (!owner || r->owner == owner)) {
        return t;
    }
    return NULL;
}

static tracker_t *layer_create(unsigned depth);

// The layer inside t, made on first use.
static umf_result_t layer_inner(tracker_t *t, tracker_t **out) {
    tracker_t *in = inner_of(t);
    if (!in) {
        if (t->depth + 1 >= TR_MAX_DEPTH) {
            LOG_ERR("ranges nested more than %d deep are not supported",
                    TR_MAX_DEPTH);
            return UMF_RESULT_ERROR_NOT_SUPPORTED;
        }
        in = layer_create(t->depth + 1);
        if (!in) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        // Pairs with the acquire load in lookup_slow.
        atomic_store_explicit(&t->inner, in, memory_order_release);
    }
    *out = in;
    return UMF_RESULT_SUCCESS;
}

// Flags range r of layer t (in every slot it occupies) as having ranges
// nested inside. A lookup sees the flag or not; both answers are right
// until the nested range is registered.
static void mark_nested(tracker_t *t, const tr_range_t *r) {
    for (uintptr_t g = r_first(r); g <= r_last(r); g++) {
        tr_slot_t *s = slot_get(t, g << tr_shift[r->level], r->level, false);
        if (!s) {
            continue;
        }
        for (int e = 0; e < 2; e++) {
            if (e_base(s, e) == r->base && e_size(s, e) == r->size) {
                slot_write_begin(s);
                entry_flag(s, e, true);
                slot_write_end(s);
            }
        }
    }
}

static size_t drop_locked(tracker_t *t, void *owner, uintptr_t lo,
                          uintptr_t hi);

// Removes range r of layer t, and whatever is still nested inside it.
static void remove_locked(tracker_t *t, const tr_range_t *r) {
    apply(t, NULL, 0, r, 1);
    atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
    tracker_t *in = inner_of(t);
    if (r->nested && in) {
        size_t n = drop_locked(in, NULL, r->base, r->base + r->size);
        if (n) {
            LOG_DEBUG("%zu range(s) nested in [%p, +%zu) went with it", n,
                      (void *)r->base, r->size);
        }
    }
}

// --- Changes ---

static umf_result_t register_locked(tracker_t *t, tr_range_t *r) {
    // Slots only see ranges of their own level; the end points catch an
    // overlap with a range of another level.
    tracker_info_t lo, hi;
    bool lo_nested, hi_nested;
    bool at_lo = layer_lookup(t, r->base, &lo, &lo_nested);
    bool at_hi = layer_lookup(t, r->base + r->size - 1, &hi, &hi_nested);
    if (at_lo || at_hi) {
        if (at_lo && at_hi && lo.base == hi.base && lo.size == hi.size &&
            lo.owner != r->owner) {
            // Wholly inside another owner's range: the inner layer.
            tracker_t *in;
            umf_result_t ret = layer_inner(t, &in);
            if (ret == UMF_RESULT_SUCCESS) {
                ret = register_locked(in, r);
            }
            if (ret == UMF_RESULT_SUCCESS && !lo_nested) {
                tr_range_t outer;
                if (range_make((uintptr_t)lo.base, lo.size, lo.owner, &outer)) {
                    mark_nested(t, &outer);
                }
            }
            return ret;
        }
        const tracker_info_t *o = at_lo ? &lo : &hi;
        LOG_ERR("range [%p, +%zu) overlaps registered range [%p, +%zu)",
                (void *)r->base, r->size, o->base, o->size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_result_t ret = validate(t, r, 1, NULL, 0);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, r, 1, NULL, 0);
        atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
    }
    return ret;
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
    // Before the range is visible: from then on the host engine's fast
    // paths leave that segment's pointers to the tracker.
    umf_private_host_note_range(base, size);
    pthread_mutex_lock(&t->lock);
    tracker_t *in_before = inner_of(t);
    size_t inner_before = in_before ? tracker_count(in_before) : 0;
    umf_result_t ret = register_locked(t, &r);
    tracker_t *in = inner_of(t);
    if (ret == UMF_RESULT_SUCCESS && in && tracker_count(in) != inner_before) {
        epoch_bump(t); // nested: part of another owner's range changed hands
    }
    pthread_mutex_unlock(&t->lock);
    return ret;
}

umf_result_t tracker_unregister(tracker_t *t, const void *base,
                                tracker_info_t *info) {
    tr_range_t r;
    pthread_mutex_lock(&t->lock);
    tracker_t *l = layer_with(t, (uintptr_t)base, NULL, &r);
    if (!l) {
        pthread_mutex_unlock(&t->lock);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    remove_locked(l, &r);
    epoch_bump(t);
    pthread_mutex_unlock(&t->lock);
    if (info) {
        info->base = (void *)r.base;
        info->size = r.size;
        info->owner = r.owner;
    }
    return UMF_RESULT_SUCCESS;
}

// Cuts the range of layer t containing `at` (which must start before
// `at`) in two at `at`.
static umf_result_t split_at_locked(tracker_t *t, uintptr_t at) {
    tracker_info_t info;
    bool nested;
    if (!layer_lookup(t, at, &info, &nested) || (uintptr_t)info.base == at) {
        return UMF_RESULT_SUCCESS; // nothing to cut
    }
    tr_range_t old, adds[2];
    size_t first = at - (uintptr_t)info.base;
    if (!range_make((uintptr_t)info.base, info.size, info.owner, &old) ||
        !range_make(old.base, first, old.owner, &adds[0]) ||
        !range_make(at, old.size - first, old.owner, &adds[1])) {
        return UMF_RESULT_ERROR_UNKNOWN; // cannot happen for a registered range
    }
    old.nested = adds[0].nested = adds[1].nested = nested;
    umf_result_t ret = validate(t, adds, 2, &old, 1);
    if (ret == UMF_RESULT_SUCCESS) {
        apply(t, adds, 2, &old, 1);
        atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
    }
    return ret;
}

// INVALID_ARGUMENT (nothing changed) when [lo, hi) is not all owner's in
// layer t or one inside it.
static umf_result_t remove_range_locked(tracker_t *t, void *owner, uintptr_t lo,
                                        uintptr_t hi) {
    tracker_t *in = inner_of(t);
    if (in) {
        umf_result_t ret = remove_range_locked(in, owner, lo, hi);
        if (ret != UMF_RESULT_ERROR_INVALID_ARGUMENT) {
            return ret; // done there (or failed there after changes)
        }
    }
    // Check coverage first, so that a refused removal changes nothing.
    for (uintptr_t at = lo; at < hi;) {
        tracker_info_t info;
        bool nested;
        if (!layer_lookup(t, at, &info, &nested) || info.owner != owner) {
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        at = (uintptr_t)info.base + info.size;
    }
    umf_result_t ret = split_at_locked(t, lo);
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
        remove_locked(t, &r);
        at = r.base + r.size;
    }
    return ret;
}

umf_result_t tracker_remove_range(tracker_t *t, void *owner, const void *base,
                                  size_t size) {
    uintptr_t lo = (uintptr_t)base, hi = lo + size;
    if (size == 0 || hi < lo || hi > TRACKER_ADDR_LIMIT) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&t->lock);
    umf_result_t ret = remove_range_locked(t, owner, lo, hi);
    epoch_bump(t);
    pthread_mutex_unlock(&t->lock);
    if (ret == UMF_RESULT_ERROR_INVALID_ARGUMENT) {
        LOG_DEBUG("[%p, +%zu) is not all registered to one owner (a gap or "
                  "another owner)",
                  base, size);
    }
    return ret;
}

bool tracker_lookup_owner(const tracker_t *t, const void *ptr, void *owner,
                          tracker_info_t *info) {
    uintptr_t a = (uintptr_t)ptr;
    if (!t || a >= TRACKER_ADDR_LIMIT) {
        return false;
    }
    for (; t; t = atomic_load_explicit(&((tracker_t *)t)->inner,
                                       memory_order_acquire)) {
        tracker_info_t mine;
        bool nested;
        if (!layer_lookup(t, a, &mine, &nested)) {
            return false;
        }
        if (mine.owner == owner) {
            if (info) {
                *info = mine;
            }
            return true;
        }
        if (!nested) {
            return false;
        }
    }
    return false;
}

// Depth-first walk removing this layer's entries of owner (owner NULL:
// the entries starting in [lo, hi)), with what is nested in them; counts
// a range once, in the first slot it occupies.
static size_t drop_walk(tracker_t *t, tr_slot_t *slots, unsigned level,
                        uintptr_t prefix, void *owner, uintptr_t lo,
                        uintptr_t hi) {
    size_t n = 0, nslots = (size_t)1 << tr_bits[level];
    for (size_t i = 0; i < nslots; i++) {
        tr_slot_t *s = &slots[i];
        uintptr_t g = (prefix << tr_bits[level]) | i;
        for (int e = 0; e < 2; e++) {
            size_t size = e_size(s, e);
            uintptr_t base = e_base(s, e);
            if (size == 0 ||
                (owner ? atomic_load_explicit(&s->e[e].owner,
                                              memory_order_relaxed) != owner
                       : base < lo || base >= hi)) {
                continue;
            }
            bool first = gidx(base, level) == g;
            bool nested =
                (atomic_load_explicit(&s->nested, memory_order_relaxed) >> e) &
                1;
            n += first;
            slot_write_begin(s);
            entry_set(&s->e[e], 0, 0, NULL);
            entry_flag(s, e, false);
            slot_write_end(s);
            tracker_t *in = inner_of(t);
            if (first && nested && in) {
                (void)drop_locked(in, NULL, base, base + size);
            }
        }
        tr_slot_t *c = atomic_load_explicit(&s->child, memory_order_relaxed);
        if (c && level + 1 < TR_LEVELS) {
            n += drop_walk(t, c, level + 1, g, owner, lo, hi);
        }
    }
    return n;
}

static size_t drop_locked(tracker_t *t, void *owner, uintptr_t lo,
                          uintptr_t hi) {
    gen_begin(t);
    size_t n = drop_walk(t, t->root, 0, 0, owner, lo, hi);
    gen_end(t);
    atomic_fetch_sub_explicit(&t->count, n, memory_order_relaxed);
    return n;
}

size_t tracker_drop_owner(tracker_t *t, void *owner) {
    pthread_mutex_lock(&t->lock);
    size_t n = 0;
    for (tracker_t *l = t; l; l = inner_of(l)) {
        n += drop_locked(l, owner, 0, 0);
    }
    epoch_bump(t);
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t tracker_count(const tracker_t *t) {
    size_t n = 0;
    for (; t; t = atomic_load_explicit(&((tracker_t *)t)->inner,
                                       memory_order_acquire)) {
        n += atomic_load_explicit(&((tracker_t *)t)->count,
                                  memory_order_relaxed);
    }
    return n;
}

bool tracker_nested_any(const tracker_t *t) {
    const tracker_t *in =
        atomic_load_explicit(&((tracker_t *)t)->inner, memory_order_acquire);
    return in && tracker_count(in) != 0;
}

// --- Life cycle ---

static tracker_t *layer_create(unsigned depth) {
    // Its own mapping: 32 KiB of root slots, and `gen` wants a cache line
    // of its own (the base allocator aligns to 16 bytes only).
    void *mem;
    int r = os_mmap_anon(sizeof(tracker_t), PROT_READ | PROT_WRITE, &mem);
    if (r) {
        LOG_PERR(-r, "no memory for the tracker");
        return NULL;
    }
    tracker_t *t = mem; // zero-filled: empty slots, seq 0, gen 0
    t->depth = depth;
    if (depth == 0) {
        pthread_mutex_init(&t->lock, NULL);
    }
    return t;
}

tracker_t *tracker_create(void) {
    return layer_create(0);
}

void tracker_destroy(tracker_t *t) {
    if (!t) {
        return;
    }
    tracker_destroy(inner_of(t));
    for (tr_arena_t *a = t->arenas, *next; a; a = next) {
        next = a->next;
        (void)os_munmap(a, TR_ARENA_SIZE);
    }
    if (t->depth == 0) {
        pthread_mutex_destroy(&t->lock);
    }
    (void)os_munmap(t, sizeof(tracker_t));
}

void tracker_fork_prepare(tracker_t *t) {
    pthread_mutex_lock(&t->lock);
}

void tracker_fork_parent(tracker_t *t) {
    pthread_mutex_unlock(&t->lock);
}

void tracker_fork_child(tracker_t *t) {
    pthread_mutex_unlock(&t->lock); // held by the child's thread
}
