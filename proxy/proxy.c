/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy.c - the malloc family of libumf_proxy.so.
 *
 * Allocation: a request below size.threshold goes to the system allocator;
 * otherwise to the heap whose size range holds it (tiers), else the base
 * heap. Sizes are rounded up to 16 so that every pool returns 16-byte
 * aligned blocks, as glibc's malloc does.
 *
 * Free, realloc, malloc_usable_size find the owner through the tracker
 * (lock-free, umfPoolByPtr): a pool's block goes back to that pool; a
 * block of the bootstrap region is never freed; anything else belongs to
 * the system allocator (memory from before the preload, below the
 * threshold, or allocated while the pools did not exist yet). No free takes
 * a lock or writes memory shared between threads.
 *
 * Before the pools exist (px.ready is 0), and while this thread is already
 * inside a pool call (px_depth > 0: a library the pool uses calls malloc),
 * requests go to the system allocator. Until dlsym has found that, they
 * come from the bootstrap region: a static, never-freed bump area.
 *
 * errno: ENOMEM for every failed allocation; EINVAL from posix_memalign
 * (returned) and aligned_alloc / memalign for bad alignments.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "proxy_internal.h"
#include "umf_private.h"

// Exported by libumf for pools built as separate libraries (in no public
// header): the chunk that holds ptr.
typedef struct umf_alloc_info_t {
    void *base;
    size_t baseSize;
    umf_memory_pool_handle_t pool;
} umf_alloc_info_t;
umf_result_t umfMemoryTrackerGetAllocInfo(const void *ptr,
                                          umf_alloc_info_t *pAllocInfo);
// The same, and whether the answer holds for the whole chunk (no other
// pool's range nests in it).
umf_result_t umf_private_tracker_lookup(const void *ptr, umf_alloc_info_t *info,
                                        bool *cacheable);

#define PX_EXPORT       __attribute__((visibility("default")))
#define UMF_NOINLINE_PX __attribute__((noinline, cold))
#define PX_NOINLINE     __attribute__((noinline))

// Exported names glibc's headers do not declare.
void cfree(void *ptr);
void *__libc_malloc(size_t size);
void __libc_free(void *ptr);
void *__libc_calloc(size_t num, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void *__libc_memalign(size_t align, size_t size);
void *__libc_valloc(size_t size);
void *__libc_pvalloc(size_t size);
size_t __malloc_usable_size(void *ptr);
int __posix_memalign(void **out, size_t align, size_t size);
#define PX_ALIGN    16
// realloc of a large block grows it by at most this much beyond doubling.
#define PX_GROW_MAX ((size_t)1 << 30)
// ... for blocks of at least this size (pools that reallocate themselves).
#define PX_GROW_MIN ((size_t)256 << 10)

px_state_t px;
px_sys_t px_sys;
const _Atomic uint64_t *px_epoch;
__thread px_tls_t px_tls __attribute__((tls_model("initial-exec")));

// The engine gives this thread's heaps up (its exit): nothing cached.
void px_hp_exit(void) {
    px_tls.hp = NULL;
    px_tls.fast = NULL;
}

// --- Bootstrap region ---

// Each block: a 16-byte header holding its size, then the data. px_boot
// itself is in proxy_boot.c.
static _Atomic size_t px_boot_used;

static inline bool px_boot_owns(const void *p) {
    return (const unsigned char *)p >= px_boot &&
           (const unsigned char *)p < px_boot + PX_BOOT_SIZE;
}

static void *px_boot_alloc(size_t size, size_t align) {
    if (align < PX_ALIGN) {
        align = PX_ALIGN;
    }
    if (size > PX_BOOT_SIZE || align > PX_BOOT_SIZE / 2) {
        return NULL;
    }
    size_t need = size + align + PX_ALIGN;
    size_t off = atomic_fetch_add(&px_boot_used, need);
    if (off + need > PX_BOOT_SIZE) {
        return NULL;
    }
    uintptr_t data = ((uintptr_t)px_boot + off + PX_ALIGN + align - 1) &
                     ~(uintptr_t)(align - 1);
    ((size_t *)data)[-1] = size; // memory is zero (bss, never reused)
    return (void *)data;
}

static size_t px_boot_size(const void *p) {
    return ((const size_t *)p)[-1];
}

// --- System allocator ---

static _Atomic int px_sys_state; // 0 unresolved, 1 resolving, 2 done

bool px_sys_resolve(void) {
    int st = atomic_load_explicit(&px_sys_state, memory_order_acquire);
    if (px_likely(st == 2)) {
        return true;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&px_sys_state, &expected, 1)) {
        // Another thread resolves; meanwhile, the bootstrap region.
        return atomic_load_explicit(&px_sys_state, memory_order_acquire) == 2;
    }
    px_enter(); // dlsym's own allocations: bootstrap
    px_sys_t s;
    s.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    s.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    s.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    s.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    s.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    s.usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
    px_leave();
    if (!s.malloc || !s.free || !s.calloc || !s.realloc || !s.memalign ||
        !s.usable_size) {
        px_write_err("umf_proxy: cannot find the system allocator (dlsym "
                     "RTLD_NEXT malloc)\n");
        _exit(1);
    }
    px_sys = s;
    atomic_store_explicit(&px_sys_state, 2, memory_order_release);
    return true;
}

// True when this call must not go to a pool.
static inline bool px_bypass(void) {
    return px_unlikely(!atomic_load_explicit(&px.ready, memory_order_acquire) ||
                       px_depth);
}

// The system allocator, or the bootstrap region while it is unknown (or
// this thread is resolving it).
static void *px_sys_alloc(size_t size, size_t align, bool zero) {
    if (px_depth == 0 || px_sys_state == 2) {
        if (px_sys_resolve()) {
            void *p;
            if (align > PX_ALIGN) {
                p = px_sys.memalign(align, size);
            } else if (zero) {
                p = px_sys.calloc(1, size);
            } else {
                p = px_sys.malloc(size);
            }
            return p;
        }
    }
    void *p = px_boot_alloc(size, align);
    if (!p) {
        errno = ENOMEM;
    }
    return p;
}

// The large-block cache (see "Large-block cache" below).
#define PX_LC_MAX    ((size_t)64 << 20)
#define PX_LC_BYTES  ((size_t)128 << 20)
#define PX_LC_RATIO  4
#define PX_LC_AGE_MS 1000
#define PX_LC_BUSY   ((void *)1)
static void *px_lc_take(px_heap_t *heap, size_t n);

// --- Heaps ---

px_heap_t *px_heap_of(umf_memory_pool_handle_t pool) {
    for (size_t i = 0; i < px.nheaps; i++) {
        if (px.heaps[i].pool == pool) {
            return &px.heaps[i];
        }
    }
    return NULL;
}

static inline unsigned px_route(size_t size) {
    for (size_t i = 1; i <= px.ntiers; i++) {
        if (size >= px.heaps[i].min && size <= px.heaps[i].max) {
            return (unsigned)i;
        }
    }
    return 0;
}

static inline size_t px_round(size_t size) {
    return size ? (size + PX_ALIGN - 1) & ~(size_t)(PX_ALIGN - 1) : PX_ALIGN;
}

// The pool refused: out of memory (ENOMEM), or a jemalloc pool called
// from inside another jemalloc pool's provider (a program's own pool whose
// provider mallocs), which it cannot serve: the system allocator does.
static UMF_NOINLINE_PX void *px_heap_alloc_failed(px_heap_t *heap, size_t size,
                                                  size_t align, bool zero) {
    if (heap->kind == PX_POOL_JEMALLOC &&
        umfPoolGetLastAllocationError(heap->pool) ==
            UMF_RESULT_ERROR_NOT_SUPPORTED) {
        return px_sys_alloc(size, align, zero);
    }
    errno = ENOMEM;
    return NULL;
}

// Allocation from heap h (size already checked against overflow).
static void *px_heap_alloc(unsigned h, size_t size, size_t align, bool zero) {
    px_heap_t *heap = &px.heaps[h];
    if (!heap->pool) {
        return px_sys_alloc(size, align, zero);
    }
    size_t n = px_round(size);
    void *p;
    if (heap->hp && align <= PX_ALIGN && n <= UMF_HOST_MAX &&
        px_likely(!px.stats)) {
        // The host engine (its large blocks go the usual way). The first
        // call of a thread caches its heap for malloc's inline path.
        px_enter();
        if (px.host_fast && h == 0 && !px_hp_tls) {
            px_hp_tls = umf_private_host_heap(heap->hp);
        }
        p = umf_private_host_malloc(heap->hp, n);
        px_leave();
        if (px_unlikely(!p)) {
            return px_heap_alloc_failed(heap, size, align, zero);
        }
        if (zero) {
            memset(p, 0, size);
        }
        return p;
    }
    // A block the pool takes straight from a zero-filling provider is
    // fresh memory: clearing it would only fault in every page.
    bool clear = zero && !(heap->fresh_zero && n > heap->direct_above);
    if (heap->lc_on && !zero && align <= PX_ALIGN && n > heap->direct_above &&
        n <= PX_LC_MAX && (p = px_lc_take(heap, n)) != NULL) {
        goto got;
    }
    px_enter();
    if (align > PX_ALIGN) {
        p = umfPoolAlignedMalloc(heap->pool, n, align);
        if (p && clear) {
            memset(p, 0, size);
        }
    } else if (clear && heap->native_calloc) {
        p = umfPoolCalloc(heap->pool, 1, n);
    } else {
        p = umfPoolMalloc(heap->pool, n);
        if (p && clear) {
            memset(p, 0, size);
        }
    }
    px_leave();
    if (px_unlikely(!p)) {
        return px_heap_alloc_failed(heap, size, align, zero);
    }
got:
    if (px_unlikely(px.stats)) {
        px_stats_alloc(h, size, p);
    }
    return p;
}

static void *px_alloc(size_t size, size_t align, bool zero) {
    if (px_unlikely(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    if (px_bypass() || size < px.threshold) {
        return px_sys_alloc(size, align, zero);
    }
    return px_heap_alloc(px_route(size), size, align, zero);
}

// --- Block sizes ---
//
// Only the owning pool knows where a block starts and how big it is
// (DESIGN.md invariant 10); the tracker's chunk says neither (a chunk holds
// many blocks, and a program's own pool may nest in it). The one exception
// is the proxy pool, whose every block is one provider allocation, so its
// block is exactly the tracker's chunk.

// Usable size of the block at ptr as the pool reports it, or 0: ptr is not
// the start of a live block (disjoint), or the pool cannot tell (a
// program's pool without malloc_usable_size). Never the chunk's extent.
static size_t px_pool_usable(umf_memory_pool_handle_t pool, void *ptr) {
    px_enter();
    size_t n = umfPoolMallocUsableSize(pool, ptr);
    px_leave();
    if (n == 0) {
        px_heap_t *heap = px_heap_of(pool);
        umf_alloc_info_t info;
        if (heap && heap->kind == PX_POOL_PROXY &&
            umfMemoryTrackerGetAllocInfo(ptr, &info) == UMF_RESULT_SUCCESS &&
            info.base == ptr && info.pool == pool) {
            n = info.baseSize;
        }
    }
    return n;
}

// Bytes realloc may copy from ptr when the pool cannot tell its block's
// size: what the tracker's chunk holds after ptr, at most `want`. The
// block lies inside the chunk, so every byte of it is copied (reads past
// its end stay inside memory the pool's provider mapped) and nothing is
// written outside the new block.
static size_t px_copy_bound(const void *ptr, size_t want) {
    umf_alloc_info_t info;
    if (umfMemoryTrackerGetAllocInfo(ptr, &info) != UMF_RESULT_SUCCESS) {
        return 0;
    }
    size_t left =
        info.baseSize - (size_t)((const char *)ptr - (const char *)info.base);
    return left < want ? left : want;
}

static void px_pool_free(umf_memory_pool_handle_t pool, void *ptr) {
    if (px_unlikely(px.stats)) {
        px_heap_t *heap = px_heap_of(pool);
        if (heap) {
            px_stats_free((unsigned)(heap - px.heaps), ptr);
        }
    }
    px_enter();
    (void)umfPoolFree(pool, ptr);
    px_leave();
}

// realloc of a pointer the disjoint pool says is no live block's start (it
// knows the size of every live block): freed already, or inside a block.
// Its free reports that (by default one line and abort, as glibc's realloc
// does); with the pool's checks set to error the call fails with EINVAL
// and nothing changes.
static UMF_NOINLINE_PX void *px_realloc_not_block(umf_memory_pool_handle_t pool,
                                                  void *ptr) {
    px_enter();
    umf_result_t r = umfPoolFree(pool, ptr);
    px_leave();
    errno = r == UMF_RESULT_SUCCESS ? ENOMEM : EINVAL;
    return NULL;
}

// --- Owners ---

// The last two chunks this thread looked up, valid while libumf's tracker
// epoch stays the same (no address has lost or changed its owner since)
// and cached only when no other pool's range nests inside them:
// a free of a block in a recently seen chunk costs two compares instead of
// a tracker walk. Negative answers are not cached.
typedef struct px_owner_t {
    uintptr_t base;
    size_t size; // 0: empty
    umf_memory_pool_handle_t pool;
    uint64_t epoch;
} px_owner_t;

// The two most recent are looked at inline (px_owner), the others in
// px_owner_slow before a tracker walk: a pool=disjoint heap's blocks of
// small sizes lie in a 2 MiB slab per bucket, a chunk each, and a program
// that frees blocks of mixed sizes missed two entries most of the time
// (tracker walks were 16% of proxy_work small under pool=disjoint).
#define PX_OWNER_WAYS 8
static __thread px_owner_t tls_owner[PX_OWNER_WAYS]
    __attribute__((tls_model("initial-exec")));

static PX_NOINLINE umf_memory_pool_handle_t px_owner_slow(const void *ptr,
                                                          uint64_t epoch) {
    uintptr_t a = (uintptr_t)ptr;
    for (int i = 2; i < PX_OWNER_WAYS; i++) {
        if (a - tls_owner[i].base < tls_owner[i].size &&
            tls_owner[i].epoch == epoch) {
            // To the front: px_lc_free reads the chunk from the first two.
            px_owner_t hit = tls_owner[i];
            memmove(&tls_owner[1], &tls_owner[0], (size_t)i * sizeof(hit));
            tls_owner[0] = hit;
            return hit.pool;
        }
    }
    umf_alloc_info_t info;
    bool cacheable = false;
    if (umf_private_tracker_lookup(ptr, &info, &cacheable) !=
            UMF_RESULT_SUCCESS ||
        !info.pool) {
        return NULL;
    }
    if (!cacheable) {
        // Other pools' ranges nest in this chunk (a program's pool whose
        // provider mallocs): the chunk's other addresses may have another
        // owner, so only this answer holds, not the whole range.
        return info.pool;
    }
    memmove(&tls_owner[1], &tls_owner[0],
            (PX_OWNER_WAYS - 1) * sizeof(tls_owner[0]));
    tls_owner[0] =
        (px_owner_t){(uintptr_t)info.base, info.baseSize, info.pool, epoch};
    return info.pool;
}

// The pool owning ptr, or NULL.
static inline umf_memory_pool_handle_t px_owner(const void *ptr) {
    // Pairs with the release store of px.ready (px_epoch is set before).
    const _Atomic uint64_t *ep = px_epoch;
    if (px_unlikely(!ep)) {
        return umfPoolByPtr(ptr);
    }
    // Pairs with the release increments in libumf's tracker.
    uint64_t e = atomic_load_explicit(ep, memory_order_acquire);
    uintptr_t a = (uintptr_t)ptr;
    for (int i = 0; i < 2; i++) {
        if (a - tls_owner[i].base < tls_owner[i].size &&
            tls_owner[i].epoch == e) {
            return tls_owner[i].pool;
        }
    }
    return px_owner_slow(ptr, e);
}

// --- Large-block cache ---
//
// A block above a heap's direct_above is a provider allocation of its own
// (an mmap); freeing it unmaps it, and the next block of that size faults
// every page in again. glibc keeps such blocks in its heap once one has
// been freed (it raises its mmap threshold), so a program that allocates,
// fills and frees a large buffer in a loop (or grows one by realloc) runs
// without page faults there and 2-3x slower here. So a host or disjoint
// heap of private memory keeps up to PX_LC_SLOTS freed direct blocks of at
// most PX_LC_MAX bytes, PX_LC_BYTES in all (32 and 128 MiB: with 16 and 64,
// two threads churning rings of 2-4 MiB buffers overflowed it and unmapped
// blocks they mapped again moments later) (about: a put over it gives the
// oldest block back first), mapped and dirty, for PX_LC_AGE_MS; a malloc (not
// a calloc: a fresh mapping is zero for nothing) of n > direct_above bytes
// takes the smallest kept block of n to PX_LC_RATIO * n bytes, and realloc
// keeps such a block while the new size is above 1 / PX_LC_RATIO of it.
// Blocks older than PX_LC_AGE_MS go back to the pool when the cache is
// next used. A block in the cache is freed memory: free, realloc and
// malloc_usable_size of it are misuse (px_lc_misuse).
//
// Slots take no lock: a thread claims one by swapping its pointer for
// PX_LC_BUSY, reads or writes it, and publishes the result; a fork child
// finds a slot some other thread had claimed BUSY forever and does without
// it (its block stays mapped in the child).

static uint64_t px_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool px_lc_claim(px_lc_slot_t *sl, void *expect) {
    return expect && expect != PX_LC_BUSY &&
           atomic_compare_exchange_strong_explicit(
               &sl->ptr, &expect, PX_LC_BUSY, memory_order_acquire,
               memory_order_relaxed);
}

// Gives a claimed slot's block back to the pool and empties the slot.
static void px_lc_drop(px_heap_t *heap, px_lc_slot_t *sl, void *p) {
    atomic_fetch_sub_explicit(
        &heap->lc_bytes, atomic_load_explicit(&sl->size, memory_order_relaxed),
        memory_order_relaxed);
    px_enter();
    (void)umfPoolFree(heap->pool, p);
    px_leave();
    atomic_store_explicit(&sl->ptr, NULL, memory_order_release);
}

// Blocks kept longer than PX_LC_AGE_MS go back to the pool.
static void px_lc_expire(px_heap_t *heap, uint64_t now) {
    for (int i = 0; i < PX_LC_SLOTS; i++) {
        px_lc_slot_t *sl = &heap->lc[i];
        void *p = atomic_load_explicit(&sl->ptr, memory_order_acquire);
        if (p && p != PX_LC_BUSY &&
            now - atomic_load_explicit(&sl->when_ms, memory_order_relaxed) >
                PX_LC_AGE_MS &&
            px_lc_claim(sl, p)) {
            px_lc_drop(heap, sl, p);
        }
    }
}

// Whether ptr is a block in the cache (freed: a free or realloc of it is a
// double free). An empty cache says no without a scan: a slot holds a
// block only while lc_bytes counts it (added before the block is
// published, taken off after its slot is claimed), so a thread that put
// the block there, or is ordered after the one that did, sees it counted.
static bool px_lc_holds(px_heap_t *heap, const void *ptr) {
    if (atomic_load_explicit(&heap->lc_bytes, memory_order_acquire) == 0) {
        return false;
    }
    for (int i = 0; i < PX_LC_SLOTS; i++) {
        if (atomic_load_explicit(&heap->lc[i].ptr, memory_order_relaxed) ==
            ptr) {
            return true;
        }
    }
    return false;
}

// A kept block of n to PX_LC_RATIO * n bytes, or NULL.
static PX_NOINLINE void *px_lc_take(px_heap_t *heap, size_t n) {
    uint64_t now = px_now_ms();
    px_lc_expire(heap, now);
    for (int tries = 0; tries < 2; tries++) {
        int best = -1;
        size_t best_size = SIZE_MAX;
        for (int i = 0; i < PX_LC_SLOTS; i++) {
            px_lc_slot_t *sl = &heap->lc[i];
            void *p = atomic_load_explicit(&sl->ptr, memory_order_relaxed);
            size_t sz = atomic_load_explicit(&sl->size, memory_order_relaxed);
            if (p && p != PX_LC_BUSY && sz >= n && sz / PX_LC_RATIO <= n &&
                sz < best_size) {
                best = i;
                best_size = sz;
            }
        }
        if (best < 0) {
            return NULL;
        }
        px_lc_slot_t *sl = &heap->lc[best];
        void *p = atomic_load_explicit(&sl->ptr, memory_order_acquire);
        if (!px_lc_claim(sl, p)) {
            continue; // another thread took it
        }
        size_t sz = atomic_load_explicit(&sl->size, memory_order_relaxed);
        if (sz >= n && sz / PX_LC_RATIO <= n) {
            atomic_fetch_sub_explicit(&heap->lc_bytes, sz,
                                      memory_order_relaxed);
            atomic_store_explicit(&sl->ptr, NULL, memory_order_release);
            return p;
        }
        atomic_store_explicit(&sl->ptr, p, memory_order_release); // changed
    }
    return NULL;
}

// Keeps a freed direct block of `size` usable bytes: an empty slot while
// the cache holds less than PX_LC_BYTES with it, else the oldest block's
// slot, whose block goes back to the pool.
static void px_lc_put(px_heap_t *heap, void *ptr, size_t size) {
    uint64_t now = px_now_ms();
    px_lc_expire(heap, now);
    px_lc_slot_t *sl = NULL;
    bool room =
        atomic_load_explicit(&heap->lc_bytes, memory_order_relaxed) + size <=
        PX_LC_BYTES;
    for (int i = 0; i < PX_LC_SLOTS && room && !sl; i++) {
        void *expect = NULL;
        if (atomic_compare_exchange_strong_explicit(
                &heap->lc[i].ptr, &expect, PX_LC_BUSY, memory_order_acquire,
                memory_order_relaxed)) {
            sl = &heap->lc[i];
        }
    }
    if (!sl) {
        int oldest = -1;
        uint64_t t = UINT64_MAX;
        for (int i = 0; i < PX_LC_SLOTS; i++) {
            void *q =
                atomic_load_explicit(&heap->lc[i].ptr, memory_order_relaxed);
            uint64_t w = atomic_load_explicit(&heap->lc[i].when_ms,
                                              memory_order_relaxed);
            if (q && q != PX_LC_BUSY && w < t) { // the oldest block held
                t = w;
                oldest = i;
            }
        }
        void *p = oldest < 0 ? NULL
                             : atomic_load_explicit(&heap->lc[oldest].ptr,
                                                    memory_order_acquire);
        if (oldest < 0 || !px_lc_claim(&heap->lc[oldest], p)) {
            px_enter(); // none held, or busy: this block goes back instead
            (void)umfPoolFree(heap->pool, ptr);
            px_leave();
            return;
        }
        sl = &heap->lc[oldest];
        atomic_fetch_sub_explicit(
            &heap->lc_bytes,
            atomic_load_explicit(&sl->size, memory_order_relaxed),
            memory_order_relaxed);
        px_enter();
        (void)umfPoolFree(heap->pool, p);
        px_leave();
    }
    atomic_fetch_add_explicit(&heap->lc_bytes, size, memory_order_relaxed);
    atomic_store_explicit(&sl->size, size, memory_order_relaxed);
    atomic_store_explicit(&sl->when_ms, now, memory_order_relaxed);
    atomic_store_explicit(&sl->ptr, ptr, memory_order_release);
}

// free or realloc of a block in the cache: it was freed. As the pool's
// checks say: one line and abort (the pool's own reporter and words), or
// refused and logged; with checks off, refused silently (the block must
// not be handed out twice).
static PX_NOINLINE void px_lc_misuse(px_heap_t *heap, const void *ptr) {
    if (heap->checks == 2) {
        return;
    }
    (void)umf_private_misuse_report(
        heap->kind == PX_POOL_HOST ? "host" : "disjoint", "umf_proxy",
        heap->checks == 0, ptr, "already freed (double free)");
}

// free of a block of `pool` (heap `heap`): kept in the cache if it is a
// direct block that fits. True when the free is done (kept, or refused as
// a misuse).
static PX_NOINLINE bool px_lc_free(px_heap_t *heap,
                                   umf_memory_pool_handle_t pool, void *ptr) {
    // The chunk around ptr: px_owner just cached it (no second lookup),
    // unless other pools nest in it.
    uintptr_t base = 0;
    size_t size = 0;
    const _Atomic uint64_t *ep = px_epoch;
    uint64_t e = ep ? atomic_load_explicit(ep, memory_order_acquire) : 0;
    int i = ep ? 0 : 2;
    while (i < 2 && ((uintptr_t)ptr - tls_owner[i].base >= tls_owner[i].size ||
                     tls_owner[i].epoch != e)) {
        i++;
    }
    if (i < 2) {
        base = tls_owner[i].base;
        size = tls_owner[i].size;
    } else {
        umf_alloc_info_t info;
        if (umfMemoryTrackerGetAllocInfo(ptr, &info) != UMF_RESULT_SUCCESS ||
            info.pool != pool) {
            return false;
        }
        base = (uintptr_t)info.base;
        size = info.baseSize;
    }
    if (base != (uintptr_t)ptr || size <= heap->direct_above ||
        size > PX_LC_MAX) {
        return false;
    }
    // A block in the cache is still the pool's, as a chunk of its own:
    // only such a pointer can be one (the slots are scanned after the
    // cheap tests: every free of a pool=disjoint block comes here, and 32
    // slots were 10% of pool=disjoint's time on proxy_work small).
    if (px_lc_holds(heap, ptr)) {
        px_lc_misuse(heap, ptr);
        return true;
    }
    // The chunk starts at ptr; the pool says whether it is one block.
    size_t usable = px_pool_usable(pool, ptr);
    if (usable <= heap->direct_above) {
        return false;
    }
    if (px_unlikely(px.stats)) {
        px_stats_free((unsigned)(heap - px.heaps), ptr);
    }
    px_lc_put(heap, ptr, usable);
    return true;
}

// --- The malloc family ---

// The host engine's slow path for malloc's inline path.
static PX_NOINLINE void *px_hp_slow(hp_heap_t *h, unsigned c) {
    px_enter();
    void *b = umf_private_host_alloc_slow(h, c);
    px_leave();
    if (!b) {
        errno = ENOMEM;
    }
    return b;
}

static PX_NOINLINE void *px_malloc_slow(size_t size) {
    return px_alloc(size, 0, false);
}

PX_EXPORT void *malloc(size_t size) {
    hp_heap_t *h = px_tls.fast;
    if (px_likely(h != NULL)) {
        size_t i = (size + HP_GRAIN - 1) / HP_GRAIN;
        if (px_likely(size <= HP_DIRECT_MAX)) {
            void *b = hp_page_pop(h->direct[i]);
            return px_likely(b != NULL) ? b : px_hp_slow(h, px.hp_class[i]);
        }
        if (size <= UMF_HOST_SMALL_MAX) {
            unsigned c = px.hp_class[i];
            void *b = hp_heap_pop(h, c);
            return px_likely(b != NULL) ? b : px_hp_slow(h, c);
        }
    }
    return px_malloc_slow(size);
}

static PX_NOINLINE void px_free_slow(void *ptr);

PX_EXPORT void free(void *ptr) {
    hp_heap_t *h = px_tls.fast;
    // This thread's block of the host engine goes back inline; anything
    // else (other threads' blocks, misuse, a segment with other pools'
    // ranges inside, other allocators' memory) takes the full path.
    if (px_likely(h != NULL) && hp_segmap_has(px.hp_segmap, (uintptr_t)ptr)) {
        hp_seg_t *s = hp_seg_of(ptr);
        if (px_likely(hp_seg_plain(s))) {
            hp_page_t *pg = hp_page_of(s, ptr);
            if (px_likely(hp_heap_push(h, pg, ptr)) ||
                (pg->heap != h && hp_remote_push(pg, ptr, h->key))) {
                return;
            }
        }
    }
    px_free_slow(ptr);
}

// A pool that gives a freed block back to the OS (pool=proxy, scalable's
// large blocks, host and disjoint blocks above 2 MiB once out of the
// large-block cache) leaves its address to no pool, and the system
// allocator would read the header below it and fault. So, when requests
// never go to the system allocator (px.sys_rare: its blocks are then only
// the few made before the proxy was ready), a pointer no pool owns is
// first checked to be mapped (one mincore(2)). Unmapped: a free or
// realloc (`report`) of it is a misuse of a freed block, reported as the
// base heap's pool's checks say (one line naming the pool and abort(), by
// default) and refused; usable size answers 0. With size.threshold or a
// tier of pool=system, such a pointer goes to the system allocator
// unchecked.
static PX_NOINLINE bool px_sys_unmapped(void *ptr, bool report) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t hdr = ((uintptr_t)ptr - 2 * sizeof(size_t)) & ~(page - 1);
    unsigned char vec[2];
    int saved = errno;
    bool gone = false;
    // The pages of the header and of the block's first byte (a live block
    // of the system allocator has both mapped).
    uintptr_t end = ((uintptr_t)ptr & ~(page - 1)) + page;
    if (mincore((void *)hdr, end - hdr, vec) != 0) {
        gone = errno == ENOMEM;
    }
    errno = saved;
    // Reported as the base heap's pool's checks say (abort by default);
    // the call is refused either way: the system allocator would fault.
    if (gone && report && px.heaps[0].checks != 2) {
        (void)umf_private_misuse_report(
            px_pool_name(px.heaps[0].kind), "umf_proxy",
            px.heaps[0].checks == 0, ptr,
            "not a live block (already freed: its memory is unmapped)");
    }
    return gone;
}

// A block that a disjoint pool of a heap finds in its page map: a host
// heap's large-block pool (blocks over UMF_HOST_MAX) or a pool=disjoint
// heap's pool (whose small sizes lie in a 2 MiB slab per bucket, a chunk
// each, and missed the owner cache). Freed there, with no tracker walk.
// False when no such pool holds it (blocks above a heap's direct_above,
// the large-block cache's, are in no page map), or when pools nest
// anywhere (the tracker must name the innermost owner).
static PX_NOINLINE bool px_pagemap_free(void *ptr) {
    for (size_t i = 0; i < px.nheaps; i++) {
        const px_heap_t *heap = &px.heaps[i];
        if (heap->hp || heap->dj) {
            px_enter();
            bool done = heap->hp
                            ? umf_private_host_free_large(heap->hp, ptr)
                            : umf_private_disjoint_free_owned(heap->dj, ptr);
            px_leave();
            if (done) {
                return true;
            }
        }
    }
    return false;
}

static void px_free_slow(void *ptr) {
    if (!ptr || px_boot_owns(ptr)) {
        return;
    }
    // A block of the host engine: its segment table says so in one load;
    // a larger one, or a pool=disjoint heap's: a page map.
    if (px_likely(!px.stats) && ((px.host_any && umf_private_host_free(ptr)) ||
                                 (px.pagemap_any && px_pagemap_free(ptr)))) {
        return;
    }
    umf_memory_pool_handle_t pool = px_owner(ptr);
    if (px_likely(pool != NULL)) {
        if (px_unlikely(px.lc_any)) {
            px_heap_t *heap = px_heap_of(pool);
            if (heap && heap->lc_on && px_lc_free(heap, pool, ptr)) {
                return;
            }
        }
        px_pool_free(pool, ptr);
        return;
    }
    if (px_unlikely(px.sys_rare) && px_sys_unmapped(ptr, true)) {
        return; // refused (reported)
    }
    if (px_unlikely(px.stats)) {
        px_stats_sys_free();
    }
    // Memory no pool owns came from the system allocator, so px_sys is
    // known.
    px_sys_resolve();
    px_sys.free(ptr);
}

PX_EXPORT void cfree(void *ptr) {
    free(ptr);
}

PX_EXPORT void *calloc(size_t num, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(num, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return px_alloc(total, 0, true);
}

PX_EXPORT size_t malloc_usable_size(void *ptr) {
    if (!ptr) {
        return 0;
    }
    if (ptr == (void *)1) {
        return 0xDEADBEEF; // upstream's marker: "the proxy is loaded"
    }
    if (px_boot_owns(ptr)) {
        return px_boot_size(ptr);
    }
    if (px.host_any) {
        bool ours;
        size_t n = umf_private_host_usable(ptr, &ours);
        if (ours) {
            return n;
        }
        for (size_t i = 0; i < px.nheaps; i++) {
            if (px.heaps[i].hp) {
                n = umf_private_host_usable_large(px.heaps[i].hp, ptr, &ours);
                if (ours) {
                    return n;
                }
            }
        }
    }
    umf_memory_pool_handle_t pool = px_owner(ptr);
    if (pool) {
        if (px_unlikely(px.lc_any)) {
            px_heap_t *heap = px_heap_of(pool);
            if (heap && heap->lc_on && px_lc_holds(heap, ptr)) {
                return 0; // freed: kept in the cache
            }
        }
        return px_pool_usable(pool, ptr);
    }
    if (px_unlikely(px.sys_rare) && px_sys_unmapped(ptr, false)) {
        return 0;
    }
    px_sys_resolve();
    return px_sys.usable_size(ptr);
}

// 0: mremap(MREMAP_DONTUNMAP) not tried, 1: works, -1: refused (an old
// kernel): copy.
static _Atomic int px_remap_state;

// Moves len bytes from src to dst, both whole private anonymous provider
// allocations (dst fresh): the whole pages by moving their page-table
// entries (mremap with MREMAP_DONTUNMAP leaves src mapped, empty, for its
// pool to free), the rest by copying. Pages the program never touched are
// not faulted in, so growing a sparse block costs no RSS and no copy.
static void px_move(void *dst, const void *src, size_t len) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t whole = len & ~(page - 1);
    int saved = errno;
    if (whole && (((uintptr_t)dst | (uintptr_t)src) & (page - 1)) == 0 &&
        atomic_load_explicit(&px_remap_state, memory_order_relaxed) >= 0) {
        void *r = mremap((void *)src, whole, whole,
                         MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, dst);
        if (r == dst) {
            atomic_store_explicit(&px_remap_state, 1, memory_order_relaxed);
            memcpy((char *)dst + whole, (const char *)src + whole, len - whole);
            return;
        }
        if (errno == EINVAL &&
            atomic_load_explicit(&px_remap_state, memory_order_relaxed) == 0) {
            atomic_store_explicit(&px_remap_state, -1, memory_order_relaxed);
        }
        errno = saved;
    }
    memcpy(dst, src, len);
}

// realloc of a small block of the host engine (old: its usable size, 0
// when ptr is no live block's start).
static void *px_host_realloc(void *ptr, size_t old, size_t size) {
    if (old == 0) {
        // Its free reports the misuse (by default one line and abort).
        (void)umf_private_host_free(ptr);
        errno = EINVAL;
        return NULL;
    }
    if (size <= old && (size >= old / 2 || old <= 2 * PX_ALIGN)) {
        return ptr;
    }
    // A new block of the same heap: realloc never changes the allocator.
    unsigned h = 0;
    const void *hp = hp_seg_of(ptr)->pool;
    for (unsigned i = 0; i < px.nheaps; i++) {
        if (px.heaps[i].hp == hp) {
            h = i;
            break;
        }
    }
    void *q = px_heap_alloc(h, size, 0, false);
    if (q) {
        memcpy(q, ptr, old < size ? old : size);
        (void)umf_private_host_free(ptr);
    }
    return q;
}

PX_EXPORT void *realloc(void *ptr, size_t size) {
    if (!ptr) {
        return malloc(size);
    }
    if (size == 0) {
        free(ptr); // glibc: frees and returns NULL
        return NULL;
    }
    if (px_unlikely(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    if (px_boot_owns(ptr)) {
        // Copied out; the bootstrap block stays (never freed).
        void *q = malloc(size);
        if (q) {
            size_t old = px_boot_size(ptr);
            memcpy(q, ptr, old < size ? old : size);
        }
        return q;
    }
    if (px.host_any && px_likely(!px.stats)) {
        bool ours;
        size_t old = umf_private_host_usable(ptr, &ours);
        if (ours) {
            return px_host_realloc(ptr, old, size);
        }
    }
    umf_memory_pool_handle_t pool = px_owner(ptr);
    if (!pool) {
        if (px_unlikely(px.sys_rare) && px_sys_unmapped(ptr, true)) {
            errno = EINVAL; // refused (reported)
            return NULL;
        }
        px_sys_resolve();
        return px_sys.realloc(ptr, size); // never changes allocator
    }
    px_heap_t *heap = px_heap_of(pool);
    if (heap && heap->native_realloc) {
        unsigned h = (unsigned)(heap - px.heaps);
        if (px_unlikely(px.stats)) {
            px_stats_free(h, ptr);
        }
        // A large block that grows: at least double it (up to PX_GROW_MAX
        // more), as below, so that n growth steps move it O(log n) times;
        // the engines then grow it in place. Its untouched tail costs
        // address space, not RSS.
        // A block that still fits (and is not much too big) stays as it
        // is: the engines would shrink it to the size class of `size`,
        // and the next growth step would move it again.
        size_t want = size;
        if (size >= PX_GROW_MIN) {
            size_t old = px_pool_usable(pool, ptr);
            if (size <= old && size >= old / 2) {
                if (px_unlikely(px.stats)) {
                    px_stats_alloc(h, size, ptr);
                }
                return ptr;
            }
            size_t more = old < PX_GROW_MAX ? old : PX_GROW_MAX;
            if (old != 0 && size > old && old + more > size) {
                want = old + more;
            }
        }
        px_enter();
        void *q = umfPoolRealloc(pool, ptr, px_round(want));
        if (!q && want != size) {
            q = umfPoolRealloc(pool, ptr, px_round(size));
        }
        px_leave();
        if (!q) {
            if (px_unlikely(px.stats)) {
                px_stats_alloc(h, 0, ptr); // still there
            }
            if (heap->kind == PX_POOL_JEMALLOC &&
                umfPoolGetLastAllocationError(pool) ==
                    UMF_RESULT_ERROR_NOT_SUPPORTED) {
                // Inside a jemalloc pool's provider: move it to the system.
                size_t old = px_pool_usable(pool, ptr);
                q = px_sys_alloc(size, 0, false);
                if (q) {
                    memcpy(q, ptr, old < size ? old : size);
                    px_pool_free(pool, ptr);
                }
                return q;
            }
            errno = ENOMEM;
            return NULL;
        }
        if (px_unlikely(px.stats)) {
            px_stats_alloc(h, size, q);
        }
        return q;
    }
    // Pools that do not reallocate (disjoint, proxy, the program's own):
    // keep the block when it is big enough and not much too big, else
    // copy into a new block of the same pool.
    // A block the pool cannot size (old == 0) always moves; so does a
    // pointer that is not a live block's start, which the pool's free then
    // reports.
    if (heap && heap->lc_on && px_lc_holds(heap, ptr)) {
        px_lc_misuse(heap, ptr); // returns only if not aborting
        errno = EINVAL;
        return NULL;
    }
    size_t old = px_pool_usable(pool, ptr);
    if (old == 0 && heap &&
        (heap->kind == PX_POOL_DISJOINT || heap->kind == PX_POOL_HOST)) {
        return px_realloc_not_block(pool, ptr);
    }
    // Kept while at least half used; a direct block of a heap with a
    // large-block cache (which may have served a request 1 / PX_LC_RATIO
    // of its size), while above 1 / PX_LC_RATIO.
    if (old != 0 && size <= old &&
        (size >= old / 2 || (heap && heap->lc_on && old > heap->direct_above &&
                             size > old / PX_LC_RATIO))) {
        return ptr;
    }
    size_t copy =
        old != 0 ? (old < size ? old : size) : px_copy_bound(ptr, size);
    void *q;
    if (heap) {
        size_t want = size;
        if (size > old && size > heap->direct_above) {
            // A growing block of its own provider allocation: at least
            // double it (up to PX_GROW_MAX more), so that n growth steps
            // copy O(log n) times. The untouched tail of fresh provider
            // memory costs address space, not RSS.
            size_t more = old < PX_GROW_MAX ? old : PX_GROW_MAX;
            if (old + more > size) {
                want = old + more;
            }
        }
        q = px_heap_alloc((unsigned)(heap - px.heaps), want, 0, false);
    } else {
        px_enter();
        q = umfPoolMalloc(pool, size);
        px_leave();
        if (!q) {
            errno = ENOMEM;
        }
    }
    if (!q) {
        return NULL;
    }
    if (heap && heap->private_fresh && old != 0 && size > old &&
        old > heap->direct_above) {
        px_move(q, ptr, copy);
    } else {
        memcpy(q, ptr, copy);
    }
    px_pool_free(pool, ptr);
    return q;
}

PX_EXPORT void *reallocarray(void *ptr, size_t num, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(num, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, total);
}

static inline bool px_pow2(size_t x) {
    return x && (x & (x - 1)) == 0;
}

PX_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    if (!px_pow2(align) || align % sizeof(void *)) {
        return EINVAL;
    }
    int saved = errno;
    void *p = px_alloc(size, align, false);
    if (!p) {
        errno = saved; // posix_memalign reports through its result only
        return ENOMEM;
    }
    *out = p;
    return 0;
}

PX_EXPORT void *memalign(size_t align, size_t size) {
    // glibc: alignments below 16 mean 16, others round up to a power of 2.
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!px_pow2(align)) {
        size_t a = PX_ALIGN;
        while (a < align) {
            a <<= 1;
        }
        align = a;
    }
    return px_alloc(size, align, false);
}

PX_EXPORT void *aligned_alloc(size_t align, size_t size) {
    if (!px_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return px_alloc(size, align, false);
}

PX_EXPORT void *valloc(size_t size) {
    return px_alloc(size, (size_t)sysconf(_SC_PAGESIZE), false);
}

PX_EXPORT void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size = size ? (size + page - 1) & ~(page - 1) : page;
    return px_alloc(size, page, false);
}

// glibc's internal names, which some programs and libraries call directly.
// (Wrappers, not aliases: an alias would have to repeat glibc's attributes.)
PX_EXPORT void *__libc_malloc(size_t size) {
    return malloc(size);
}
PX_EXPORT void __libc_free(void *ptr) {
    free(ptr);
}
PX_EXPORT void *__libc_calloc(size_t num, size_t size) {
    return calloc(num, size);
}
PX_EXPORT void *__libc_realloc(void *ptr, size_t size) {
    return realloc(ptr, size);
}
PX_EXPORT void *__libc_memalign(size_t align, size_t size) {
    return memalign(align, size);
}
PX_EXPORT void *__libc_valloc(size_t size) {
    return valloc(size);
}
PX_EXPORT void *__libc_pvalloc(size_t size) {
    return pvalloc(size);
}
PX_EXPORT size_t __malloc_usable_size(void *ptr) {
    return malloc_usable_size(ptr);
}
PX_EXPORT int __posix_memalign(void **out, size_t align, size_t size) {
    return posix_memalign(out, align, size);
}

// --- Messages ---

void px_write_fd(int fd, const char *msg) {
    size_t len = strlen(msg);
    while (len) {
        ssize_t n = write(fd, msg, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        msg += n;
        len -= (size_t)n;
    }
}

void px_write_err(const char *msg) {
    px_write_fd(2, msg);
}
