/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_jemalloc.c - the jemalloc pool (libjemalloc_pool.so): each pool is a
 * private jemalloc arena ("arenas.create") whose extent hooks take memory
 * from the pool's provider (normally the tracking wrapper), so every block
 * the pool hands out lies in a chunk of its own provider.
 *
 * Thread caches. jemalloc's automatic tcache is shared by all arenas of a
 * thread and would hand one pool's blocks to another pool; running without a
 * tcache is slow. So each (thread, pool) pair gets an explicit tcache
 * ("tcache.create"), used only for that pool in that thread. A thread keeps
 * them in its jp_thread_t, indexed by the pool's slot (a small id below
 * JP_TLS_SLOTS) and tagged with the slot's generation, so an entry left
 * behind by a destroyed pool never matches the next pool in that slot. A
 * tcache is destroyed when its thread exits (pthread key destructor) or when
 * its pool is destroyed, whichever comes first: each pool lists the tcaches
 * made for it. A pool without a slot, or a thread where tcache.create fails
 * (jemalloc allows about 4000), uses MALLOCX_TCACHE_NONE: correct, slower.
 *
 * Arenas. A pool has up to JP_MAX_ARENAS arenas (one per CPU), all with its
 * hooks: a single arena serialised every thread on its locks for sizes
 * above the thread cache's limit (10-16x slower than jemalloc with two
 * threads). A thread is bound to one of its pool's arenas, round-robin, when
 * its tcache for the pool is made.
 *
 * Regions. jemalloc (built with "retain", as Debian's is) marks the first
 * extent of every block its hooks allocate as a "head" and never coalesces
 * an extent with a lower neighbour across a head; it does not check that
 * the neighbour belongs to the same arena, because with retain no address
 * range is ever given back piecemeal. A dalloc hook that freed part of a
 * block would break that: another arena (of this pool, of another pool, or
 * jemalloc's own) could get the freed range from the OS, and the remaining,
 * non-head part would then coalesce into that arena's extent. So the dalloc
 * hook frees only whole provider allocations, which the pool records; for
 * any other range it opts out and jemalloc purges the pages instead (the
 * provider's purge), keeping the address range until the pool is
 * destroyed.
 *
 * Hooks find their pool through the extent_hooks_t pointer jemalloc passes
 * back to them: each pool embeds its own copy of the hook table. (jemalloc
 * 5.3 calls the alloc hook for the arena's own metadata inside
 * "arenas.create", before the arena index is known, so a table keyed by
 * arena index could not answer that first call.)
 *
 * Fork. A hook runs under jemalloc's arena locks and calls the provider,
 * which takes libumf's tracker lock, so a fork while a thread is inside
 * jemalloc could deadlock in jemalloc's prepare handler. Pool calls pass
 * libumf's fork gate (thread.h): its handler, which runs before jemalloc's
 * (umf_private_fork_install_again), waits until no thread is inside; the
 * fast path writes only this thread's record. Pool create and destroy and
 * thread exit call jemalloc under jp_lock, which libumf's registry takes
 * next (rank FORK_RANK_JEMALLOC). Not covered: jemalloc's background
 * threads (off unless MALLOC_CONF asks).
 *
 * Threads. A thread's jp_thread_t (its tcache table) sits in a slot of its
 * libumf per-thread record, made on the first pool call and released at
 * thread exit, or in a fork child for the threads that are gone. Calls
 * after the thread's TSD destructors find no object and run without a
 * tcache; nothing is made for them.
 *
 * Re-entry. While a hook runs, jemalloc serves this thread's allocations
 * from its own arena 0 whatever arena and tcache they name, so a provider
 * that allocates from a jemalloc pool (under the proxy, any provider that
 * calls malloc) would get memory that is not the pool's. A thread inside
 * a hook (tls_in_hook) therefore has its jemalloc-pool allocations refused
 * with UMF_RESULT_ERROR_NOT_SUPPORTED (the proxy then uses the system
 * allocator), and its frees go to the arena without a tcache.
 *
 * Locks: jp_lock guards the slot table and every pool's
 * tcache list, and is held across arena create/destroy and tcache.destroy
 * (then jemalloc's locks, then libumf's). Allocation and free take no lock
 * and write only memory private to the calling thread.
 *
 * Never the C allocator: metadata (params, pools, per-thread tables, tcache
 * lists) comes from jemalloc's x-API on its automatic arenas with
 * MALLOCX_TCACHE_NONE; the program's own malloc is never jemalloc's here.
 */

#include <umf/pools/pool_jemalloc.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include <umf/memory_provider.h>

#include "common.h"
#include "log.h"
#include "fork.h"
#include "os_linux.h"
#include "thread.h"
#include "umf_private.h"

// Slots in each thread's tcache table; pools beyond run without tcaches.
#define JP_TLS_SLOTS   128
// Generation of pools without a slot: no table entry ever carries it.
#define JP_GEN_NONE    UINT32_MAX
// jemalloc encodes the arena in 12 bits of the flags (MALLOCX_ARENA).
#define JP_ARENA_LIMIT 4095u
// Metadata: jemalloc's automatic arenas without a tcache: small, rare, and
// often freed by another thread or at thread exit.
#define JP_META_FLAGS  MALLOCX_TCACHE_NONE
// Arenas per pool, at most (fewer on machines with fewer CPUs).
#define JP_MAX_ARENAS  8

struct umf_jemalloc_pool_params_t {
    bool keep_all_memory;
};

typedef struct jp_region_t {
    uintptr_t base;
    size_t size;
} jp_region_t;

typedef struct jp_pool_t {
    extent_hooks_t hooks; // first: hooks get back &hooks == the pool
    // Read-only after initialize (the fast path reads these).
    umf_memory_provider_handle_t provider;
    unsigned narenas;
    unsigned arenas[JP_MAX_ARENAS];
    int arena_flags; // MALLOCX_ARENA(arenas[0]), for threads without entry
    _Atomic unsigned next_arena; // round-robin binding of threads
    uint32_t slot;   // index in the thread tables, JP_TLS_SLOTS if none
    uint32_t gen;    // the slot's generation when this pool took it
    bool keep_all;
    bool zero_filled; // the provider returns zero-filled memory (OS)
    // Every allocation the provider made for this pool (see "Regions"),
    // sorted by address, in its own mapping.
    pthread_mutex_t regions_lock;
    jp_region_t *regions;
    size_t nregions, cap_regions; // cap_regions: bytes mapped
    // Guarded by jp_lock: every tcache made for this pool, still alive.
    unsigned *tcaches;
    size_t ntcaches, cap_tcaches;
} jp_pool_t;

typedef struct jp_tls_entry_t {
    uint32_t gen;    // generation of the pool it was made for; 0: empty
    int tc_flags;    // MALLOCX_TCACHE(tc) or MALLOCX_TCACHE_NONE
    int alloc_flags; // tc_flags | MALLOCX_ARENA(this thread's arena)
    int pad_;
} jp_tls_entry_t;

typedef struct jp_thread_t {
    // Its thread's record in libumf (thread.h), for the fork gate.
    ut_thread_t *ut;
    // One entry longer than there are slots: pools without a slot read
    // the last one, which stays empty.
    jp_tls_entry_t tcaches[JP_TLS_SLOTS + 1];
} jp_thread_t;

// --- Global state ---

static pthread_once_t jp_once = PTHREAD_ONCE_INIT;
static _Atomic int jp_ut_slot = -1; // our slot in libumf's per-thread records
static ut_gate_t *jp_gate;    // libumf's fork gate
static size_t jp_destroy_mib[3], jp_destroy_miblen = ARRAY_SIZE(jp_destroy_mib);
static bool jp_destroy_mib_ok;

static pthread_mutex_t jp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint32_t gen;
    jp_pool_t *pool; // NULL: free
} jp_slots[JP_TLS_SLOTS];

// The object of a thread that has none: all entries empty, never written,
// so the fast path always falls to the slow one. Threads past their TSD
// destructors (and threads whose object could not be made) keep it.
static jp_thread_t jp_thread_none;
// A cache of this thread's slot in libumf's record.
static _Thread_local jp_thread_t *tls_thread = &jp_thread_none;

// Shared by all jemalloc pools, as in the contract.
static _Thread_local umf_result_t tls_last_error;
// Hooks of any jemalloc pool this thread is inside (see "Re-entry").
static _Thread_local unsigned tls_in_hook;

// --- Host metadata from jemalloc ---

static void *jp_meta_alloc(size_t size) {
    return mallocx(size, JP_META_FLAGS | MALLOCX_ZERO |
                             MALLOCX_LG_ALIGN(6)); // cache line
}

static void jp_meta_free(void *p) {
    dallocx(p, JP_META_FLAGS);
}

static int jp_arena_flags(unsigned arena) {
    // MALLOCX_ARENA shifts a signed int past bit 31 for large indices.
    return (int)((arena + 1u) << 20);
}

static unsigned jp_tc_of_flags(int tc_flags) {
    return ((unsigned)tc_flags >> 8) - 2u; // inverse of MALLOCX_TCACHE
}

// --- Thread caches (slow paths) ---

static int jp_tcache_create(unsigned *tc) {
    size_t sz = sizeof(*tc);
    return mallctl("tcache.create", tc, &sz, NULL, 0);
}

static void jp_tcache_destroy(unsigned tc) {
    int err = mallctl("tcache.destroy", NULL, NULL, &tc, sizeof(tc));
    if (err) {
        LOG_PERR(err, "tcache.destroy(%u) failed", tc);
    }
}

static bool jp_pool_add_tcache_locked(jp_pool_t *pool, unsigned tc) {
    if (pool->ntcaches == pool->cap_tcaches) {
        size_t cap = pool->cap_tcaches ? 2 * pool->cap_tcaches : 16;
        unsigned *list = jp_meta_alloc(cap * sizeof(*list));
        if (!list) {
            return false;
        }
        if (pool->ntcaches) {
            memcpy(list, pool->tcaches, pool->ntcaches * sizeof(*list));
        }
        if (pool->tcaches) {
            jp_meta_free(pool->tcaches);
        }
        pool->tcaches = list;
        pool->cap_tcaches = cap;
    }
    pool->tcaches[pool->ntcaches++] = tc;
    return true;
}

static void jp_pool_remove_tcache_locked(jp_pool_t *pool, unsigned tc) {
    for (size_t i = 0; i < pool->ntcaches; i++) {
        if (pool->tcaches[i] == tc) {
            pool->tcaches[i] = pool->tcaches[--pool->ntcaches];
            return;
        }
    }
    UMF_ASSERT(!"tcache missing from its pool's list");
}

// Fills this thread's entry for the pool: a new tcache, or none. A stale
// entry's tcache went with its pool and is simply overwritten.
static void jp_tcache_entry_make(jp_pool_t *pool, jp_tls_entry_t *e) {
    int tc_flags = MALLOCX_TCACHE_NONE;
    unsigned tc;
    int err = jp_tcache_create(&tc);
    if (err) {
        LOG_PDEBUG(err,
                   "tcache.create failed; pool %p runs without a thread "
                   "cache in this thread",
                   (void *)pool);
    } else {
        pthread_mutex_lock(&jp_lock);
        bool added = jp_pool_add_tcache_locked(pool, tc);
        pthread_mutex_unlock(&jp_lock);
        if (added) {
            tc_flags = MALLOCX_TCACHE(tc);
        } else {
            jp_tcache_destroy(tc);
        }
    }
    unsigned k = atomic_fetch_add_explicit(&pool->next_arena, 1,
                                           memory_order_relaxed);
    e->tc_flags = tc_flags;
    e->alloc_flags = tc_flags | jp_arena_flags(pool->arenas[k % pool->narenas]);
    e->gen = pool->gen;
}

// --- Threads ---

// Thread exit (own_thread), or a thread gone in a fork child: destroy the
// thread's tcaches of pools still alive (a dead pool destroyed them
// already), then its object.
static void jp_thread_release(void *arg, bool own_thread) {
    jp_thread_t *t = arg;
    pthread_mutex_lock(&jp_lock);
    for (uint32_t i = 0; i < JP_TLS_SLOTS; i++) {
        jp_tls_entry_t e = t->tcaches[i];
        if (e.gen == 0 || e.tc_flags == MALLOCX_TCACHE_NONE ||
            !jp_slots[i].pool || jp_slots[i].gen != e.gen) {
            continue;
        }
        unsigned tc = jp_tc_of_flags(e.tc_flags);
        jp_pool_remove_tcache_locked(jp_slots[i].pool, tc);
        jp_tcache_destroy(tc);
    }
    pthread_mutex_unlock(&jp_lock);
    if (own_thread) {
        tls_thread = &jp_thread_none;
    }
    jp_meta_free(t);
}

static const ut_client_t jp_ut_client = {
    .name = "jemalloc pools",
    .release = jp_thread_release,
};

// This thread's object, made now; NULL when the thread is past its TSD
// destructors (or out of memory): it then runs without tcaches.
static jp_thread_t *jp_thread_create(void) {
    if (jp_ut_slot < 0) {
        return NULL;
    }
    ut_thread_t *ut = umf_private_thread_self();
    if (ut->state == UT_DEAD) {
        return NULL;
    }
    jp_thread_t *t = jp_meta_alloc(sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->ut = ut;
    if (!umf_private_thread_set(jp_ut_slot, t)) {
        jp_meta_free(t);
        return NULL;
    }
    tls_thread = t;
    return t;
}

// --- The gate around pool calls ---

// Everything but the common case: first call of this thread, first use of
// this pool in this thread, pools without a slot, threads without an
// object. Takes jp_lock only while this thread is outside any pool call.
UMF_NOINLINE UMF_COLD static ut_thread_t *
jp_enter_slow(jp_pool_t *pool, int *tc_flags, int *alloc_flags) {
    jp_thread_t *t = tls_thread;
    if (t == &jp_thread_none) {
        t = jp_thread_create();
    }
    int flags = MALLOCX_TCACHE_NONE;
    int aflags = MALLOCX_TCACHE_NONE | pool->arena_flags;
    if (t && pool->slot < JP_TLS_SLOTS) {
        jp_tls_entry_t *e = &t->tcaches[pool->slot];
        if (e->gen != pool->gen) {
            jp_tcache_entry_make(pool, e);
        }
        flags = e->tc_flags;
        aflags = e->alloc_flags;
    }
    *tc_flags = flags;
    *alloc_flags = aflags;
    return ut_gate_enter(jp_gate, umf_private_thread_self());
}

// Enters a pool call: *tc_flags receives this thread's tcache for the pool
// (for frees), *alloc_flags the tcache and arena (for allocations).
// Touches only this thread's objects (and reads two shared words).
static inline ut_thread_t *jp_enter(jp_pool_t *pool, int *tc_flags,
                                    int *alloc_flags) {
    jp_thread_t *t = tls_thread;
    jp_tls_entry_t e = t->tcaches[pool->slot];
    if (likely(e.gen == pool->gen)) { // never for jp_thread_none
        *tc_flags = e.tc_flags;
        *alloc_flags = e.alloc_flags;
        return ut_gate_enter(jp_gate, t->ut);
    }
    return jp_enter_slow(pool, tc_flags, alloc_flags);
}

static inline void jp_leave(ut_thread_t *g) {
    ut_gate_leave(jp_gate, g);
}

// --- Slots ---

static void jp_slot_take_locked(jp_pool_t *pool) {
    pool->slot = JP_TLS_SLOTS;
    pool->gen = JP_GEN_NONE;
    if (jp_ut_slot < 0) {
        return;
    }
    for (uint32_t i = 0; i < JP_TLS_SLOTS; i++) {
        if (!jp_slots[i].pool) {
            uint32_t gen = jp_slots[i].gen + 1;
            if (gen == 0 || gen == JP_GEN_NONE) {
                gen = 1; // 0 marks empty entries, JP_GEN_NONE no slot
            }
            jp_slots[i].gen = gen;
            jp_slots[i].pool = pool;
            pool->slot = i;
            pool->gen = gen;
            return;
        }
    }
    LOG_INFO("more than %d jemalloc pools: pool %p runs without thread caches",
             JP_TLS_SLOTS, (void *)pool);
}

// Destroys every tcache made for the pool and frees its slot. The threads'
// entries for it go stale: the next pool in the slot has another gen.
static void jp_slot_release_locked(jp_pool_t *pool) {
    for (size_t i = 0; i < pool->ntcaches; i++) {
        jp_tcache_destroy(pool->tcaches[i]);
    }
    if (pool->tcaches) {
        jp_meta_free(pool->tcaches);
    }
    pool->tcaches = NULL;
    pool->ntcaches = pool->cap_tcaches = 0;
    if (pool->slot < JP_TLS_SLOTS) {
        jp_slots[pool->slot].pool = NULL;
    }
}

// --- Fork ---
//
// libumf's fork gate (rank FORK_RANK_GATE) waits until no thread is inside
// jemalloc; then jp_lock (FORK_RANK_JEMALLOC) excludes pool creation,
// destruction and thread exit, which call jemalloc outside the gate.
// jemalloc's own fork handlers were registered (at its initialisation)
// after libumf's; umf_private_fork_install_again makes libumf's registry
// run before them, so the gate is closed before jemalloc takes its locks.
// Threads gone in a fork child give their tcaches back through libumf's
// per-thread records (jp_thread_release).

static void jp_fork_prepare(void) {
    pthread_mutex_lock(&jp_lock);
}

static void jp_fork_parent(void) {
    pthread_mutex_unlock(&jp_lock);
}

static const fork_handler_t jp_fork_handler = {
    .name = "jemalloc pools",
    .rank = FORK_RANK_JEMALLOC,
    .prepare = jp_fork_prepare,
    .parent = jp_fork_parent,
    .child = jp_fork_parent, // the child's only thread holds it
};

// --- Library set-up (once) ---

static void jp_global_init(void) {
    log_init();
    // Any jemalloc call initialises jemalloc, which registers its own fork
    // handlers; libumf's registry is registered again after them.
    int err =
        mallctlnametomib("arena.0.destroy", jp_destroy_mib, &jp_destroy_miblen);
    if (err) {
        LOG_PERR(err, "jemalloc has no arena.<i>.destroy");
    } else {
        jp_destroy_mib_ok = true;
    }
    jp_gate = umf_private_thread_gate();
    (void)umf_private_fork_register(&jp_fork_handler);
    umf_private_fork_install_again();
    jp_ut_slot = umf_private_thread_client_register(&jp_ut_client);
}

static void jp_global_init_once(void) {
    pthread_once(&jp_once, jp_global_init);
}

// --- Extent hooks (called by jemalloc, any thread) ---

static void jp_regions_fini(jp_pool_t *pool) {
    if (pool->regions) {
        (void)os_munmap(pool->regions, pool->cap_regions);
    }
    pthread_mutex_destroy(&pool->regions_lock);
}

// --- Regions (under pool->regions_lock; hooks only, so never hot) ---

// Index of the first region at or above addr.
static size_t jp_region_lower_locked(const jp_pool_t *pool, uintptr_t addr) {
    size_t lo = 0, hi = pool->nregions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pool->regions[mid].base < addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static bool jp_region_grow_locked(jp_pool_t *pool) {
    size_t cap = pool->cap_regions ? pool->cap_regions * 2 : os_page_size();
    void *mem;
    if (os_mmap_anon(cap, PROT_READ | PROT_WRITE, &mem) != 0) {
        return false;
    }
    if (pool->regions) {
        memcpy(mem, pool->regions, pool->nregions * sizeof(jp_region_t));
        (void)os_munmap(pool->regions, pool->cap_regions);
    }
    pool->regions = mem;
    pool->cap_regions = cap;
    return true;
}

// Records a range the provider just gave. Records overlapping it are stale
// (their memory went back to the provider in pieces, by the destroy hook of
// an arena) and go.
static void jp_region_add(jp_pool_t *pool, void *addr, size_t size) {
    uintptr_t a = (uintptr_t)addr;
    pthread_mutex_lock(&pool->regions_lock);
    size_t i = jp_region_lower_locked(pool, a);
    if (i > 0 && pool->regions[i - 1].base + pool->regions[i - 1].size > a) {
        i--;
    }
    size_t j = i;
    while (j < pool->nregions && pool->regions[j].base < a + size) {
        j++;
    }
    if (j > i) {
        memmove(&pool->regions[i], &pool->regions[j],
                (pool->nregions - j) * sizeof(jp_region_t));
        pool->nregions -= j - i;
    }
    if ((pool->nregions + 1) * sizeof(jp_region_t) > pool->cap_regions &&
        !jp_region_grow_locked(pool)) {
        pthread_mutex_unlock(&pool->regions_lock);
        // Unrecorded, the range is never freed piecemeal: safe, and it
        // goes back to the provider when the pool is destroyed.
        LOG_DEBUG("no memory to record [%p, +%zu)", addr, size);
        return;
    }
    memmove(&pool->regions[i + 1], &pool->regions[i],
            (pool->nregions - i) * sizeof(jp_region_t));
    pool->regions[i] = (jp_region_t){a, size};
    pool->nregions++;
    pthread_mutex_unlock(&pool->regions_lock);
}

// Forgets [addr, +size) if it is exactly one recorded region.
static bool jp_region_take(jp_pool_t *pool, void *addr, size_t size) {
    uintptr_t a = (uintptr_t)addr;
    bool found = false;
    pthread_mutex_lock(&pool->regions_lock);
    size_t i = jp_region_lower_locked(pool, a);
    if (i < pool->nregions && pool->regions[i].base == a &&
        pool->regions[i].size == size) {
        memmove(&pool->regions[i], &pool->regions[i + 1],
                (pool->nregions - i - 1) * sizeof(jp_region_t));
        pool->nregions--;
        found = true;
    }
    pthread_mutex_unlock(&pool->regions_lock);
    return found;
}

static jp_pool_t *jp_pool_of(extent_hooks_t *hooks) {
    return (jp_pool_t *)hooks; // hooks is the pool's first member
}

static void *jp_extent_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                             size_t alignment, bool *zero, bool *commit,
                             unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)arena_ind;
    void *p = NULL;
    tls_in_hook++;
    umf_result_t ret =
        umfMemoryProviderAlloc(pool->provider, size, alignment, &p);
    tls_in_hook--;
    if (ret != UMF_RESULT_SUCCESS || !p) {
        LOG_DEBUG("provider alloc of %zu bytes (alignment %zu) failed: %d",
                  size, alignment, (int)ret);
        return NULL;
    }
    if (new_addr && p != new_addr) {
        LOG_DEBUG("provider gave %p, jemalloc needed %p", p, new_addr);
        if (!pool->keep_all) {
            tls_in_hook++;
            (void)umfMemoryProviderFree(pool->provider, p, size);
            tls_in_hook--;
        }
        return NULL;
    }
    if (pool->zero_filled) {
        *zero = true; // fresh OS memory: clearing it would only fault it in
    } else if (*zero) {
        memset(p, 0, size); // host memory: this pool needs it
    }
    *commit = true;
    if (!pool->keep_all) {
        jp_region_add(pool, p, size);
    }
    return p;
}

static bool jp_extent_dalloc(extent_hooks_t *hooks, void *addr, size_t size,
                             bool committed, unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)committed, (void)arena_ind;
    // Opt out (jemalloc retains the extent and purges its pages) unless
    // it is a whole provider allocation: see "Regions" above.
    if (pool->keep_all || !jp_region_take(pool, addr, size)) {
        return true;
    }
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderFree(pool->provider, addr, size);
    tls_in_hook--;
    if (ret != UMF_RESULT_SUCCESS) {
        jp_region_add(pool, addr, size); // still ours
        return true;
    }
    return false;
}

static void jp_extent_destroy(extent_hooks_t *hooks, void *addr, size_t size,
                              bool committed, unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)committed, (void)arena_ind;
    if (pool->keep_all) {
        return;
    }
    // The arena is going away: pieces may go back too (a stale record of
    // their region is dropped when the provider hands the range out again).
    (void)jp_region_take(pool, addr, size);
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderFree(pool->provider, addr, size);
    tls_in_hook--;
    if (ret != UMF_RESULT_SUCCESS) {
        LOG_WARN("provider free of [%p, +%zu) failed (%d); the memory stays "
                 "with the provider",
                 addr, size, (int)ret);
    }
}

static bool jp_extent_commit(extent_hooks_t *hooks, void *addr, size_t size,
                             size_t offset, size_t length, unsigned arena_ind) {
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length;
    (void)arena_ind;
    return false; // provider memory is always committed
}

static bool jp_extent_decommit(extent_hooks_t *hooks, void *addr, size_t size,
                               size_t offset, size_t length,
                               unsigned arena_ind) {
    (void)hooks, (void)addr, (void)size, (void)offset, (void)length;
    (void)arena_ind;
    return true; // opt out: jemalloc purges instead
}

static bool jp_extent_purge_lazy(extent_hooks_t *hooks, void *addr, size_t size,
                                 size_t offset, size_t length,
                                 unsigned arena_ind) {
    (void)size, (void)arena_ind;
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderPurgeLazy(
        jp_pool_of(hooks)->provider, (char *)addr + offset, length);
    tls_in_hook--;
    return ret != UMF_RESULT_SUCCESS;
}

static bool jp_extent_purge_forced(extent_hooks_t *hooks, void *addr,
                                   size_t size, size_t offset, size_t length,
                                   unsigned arena_ind) {
    (void)size, (void)arena_ind;
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderPurgeForce(
        jp_pool_of(hooks)->provider, (char *)addr + offset, length);
    tls_in_hook--;
    return ret != UMF_RESULT_SUCCESS;
}

static bool jp_extent_split(extent_hooks_t *hooks, void *addr, size_t size,
                            size_t size_a, size_t size_b, bool committed,
                            unsigned arena_ind) {
    (void)size_b, (void)committed, (void)arena_ind;
    // Failure keeps the extent whole, which jemalloc handles.
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderAllocationSplit(
        jp_pool_of(hooks)->provider, addr, size, size_a);
    tls_in_hook--;
    return ret != UMF_RESULT_SUCCESS;
}

static bool jp_extent_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a,
                            void *addr_b, size_t size_b, bool committed,
                            unsigned arena_ind) {
    (void)committed, (void)arena_ind;
    // Failure keeps the extents apart, which jemalloc handles.
    tls_in_hook++;
    umf_result_t ret = umfMemoryProviderAllocationMerge(
        jp_pool_of(hooks)->provider, addr_a, addr_b, size_a + size_b);
    tls_in_hook--;
    return ret != UMF_RESULT_SUCCESS;
}

static const extent_hooks_t jp_hooks = {
    .alloc = jp_extent_alloc,
    .dalloc = jp_extent_dalloc,
    .destroy = jp_extent_destroy,
    .commit = jp_extent_commit,
    .decommit = jp_extent_decommit,
    .purge_lazy = jp_extent_purge_lazy,
    .purge_forced = jp_extent_purge_forced,
    .split = jp_extent_split,
    .merge = jp_extent_merge,
};

// --- Params ---

UMF_EXPORT umf_result_t
umfJemallocPoolParamsCreate(umf_jemalloc_pool_params_handle_t *hParams) {
    jp_global_init_once();
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    umf_jemalloc_pool_params_handle_t params = jp_meta_alloc(sizeof(*params));
    if (!params) {
        LOG_ERR("no memory for jemalloc pool params");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    params->keep_all_memory = false;
    *hParams = params;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfJemallocPoolParamsDestroy(umf_jemalloc_pool_params_handle_t hParams) {
    jp_global_init_once();
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    jp_meta_free(hParams);
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfJemallocPoolParamsSetKeepAllMemory(
    umf_jemalloc_pool_params_handle_t hParams, bool keepAllMemory) {
    jp_global_init_once();
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    hParams->keep_all_memory = keepAllMemory;
    return UMF_RESULT_SUCCESS;
}

// --- Life cycle ---

static umf_result_t jp_initialize(umf_memory_provider_handle_t provider,
                                  void *params, void **out) {
    jp_global_init_once();
    CHECK_ARG(provider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "provider is NULL");
    CHECK_ARG(out != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "pool is NULL");
    umf_jemalloc_pool_params_handle_t p = params;

    jp_pool_t *pool = jp_meta_alloc(sizeof(*pool));
    if (!pool) {
        LOG_ERR("no memory for a jemalloc pool");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pool->hooks = jp_hooks;
    pool->provider = provider;
    pool->keep_all = p ? p->keep_all_memory : false;
    pool->zero_filled = umf_private_provider_zero_filled(provider);
    pthread_mutex_init(&pool->regions_lock, NULL);
    pool->regions = NULL;
    pool->nregions = pool->cap_regions = 0;

    // jemalloc keeps this pointer for the arena's lifetime: it is the pool.
    // The hooks run now already (the arena's metadata), under jp_lock as
    // every other jemalloc call outside the fork gate.
    extent_hooks_t *hooks = &pool->hooks;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = ncpu < 1 ? 1
                    : ncpu > JP_MAX_ARENAS ? JP_MAX_ARENAS
                                           : (unsigned)ncpu;
    int err = 0;
    pthread_mutex_lock(&jp_lock);
    pool->narenas = 0;
    while (pool->narenas < want) {
        unsigned arena;
        size_t sz = sizeof(arena);
        err = mallctl("arenas.create", &arena, &sz, &hooks,
                      sizeof(extent_hooks_t *));
        if (err) {
            break; // fewer arenas is fine; none is not
        }
        UMF_ASSERT(arena < JP_ARENA_LIMIT);
        pool->arenas[pool->narenas++] = arena;
    }
    if (pool->narenas) {
        jp_slot_take_locked(pool);
    }
    pthread_mutex_unlock(&jp_lock);
    if (!pool->narenas) {
        LOG_PERR(err, "cannot create a jemalloc arena on provider %s",
                 umfMemoryProviderGetName(provider));
        jp_regions_fini(pool);
        jp_meta_free(pool);
        return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
    }
    pool->arena_flags = jp_arena_flags(pool->arenas[0]);
    atomic_init(&pool->next_arena, 0);
    LOG_DEBUG("jemalloc pool %p: %u arena(s) from %u, slot %u, keep all "
              "memory %d",
              (void *)pool, pool->narenas, pool->arenas[0],
              (unsigned)pool->slot, (int)pool->keep_all);
    *out = pool;
    return UMF_RESULT_SUCCESS;
}

static void jp_finalize(void *priv) {
    jp_pool_t *pool = priv;
    int err = EINVAL;
    pthread_mutex_lock(&jp_lock);
    // Tcaches first: the arena may only go when no tcache holds its blocks.
    jp_slot_release_locked(pool);
    unsigned failed = 0;
    for (unsigned i = 0; i < pool->narenas; i++) {
        err = EINVAL;
        if (jp_destroy_mib_ok) {
            size_t mib[ARRAY_SIZE(jp_destroy_mib)];
            memcpy(mib, jp_destroy_mib, sizeof(mib));
            mib[1] = pool->arenas[i];
            err = mallctlbymib(mib, jp_destroy_miblen, NULL, NULL, NULL, 0);
        }
        if (err) {
            LOG_PERR(err,
                     "cannot destroy jemalloc arena %u; its memory stays "
                     "with the provider",
                     pool->arenas[i]);
            failed++;
        }
    }
    pthread_mutex_unlock(&jp_lock);
    if (failed) {
        // jemalloc may still call the hooks, which live in the pool: keep it.
        return;
    }
    jp_regions_fini(pool);
    jp_meta_free(pool);
}

// --- Allocation ---

static void *jp_alloc_failed(size_t size) {
    LOG_DEBUG("no memory for %zu bytes", size);
    tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    return NULL;
}

// Called from inside a hook of a jemalloc pool: see "Re-entry".
static UMF_NOINLINE UMF_COLD void *jp_reentered(size_t size) {
    static _Atomic bool warned;
    if (!atomic_exchange_explicit(&warned, true, memory_order_relaxed)) {
        LOG_WARN("allocation of %zu bytes from a jemalloc pool inside a "
                 "jemalloc pool's provider call refused (jemalloc would "
                 "serve it from its own arena)",
                 size);
    }
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

static void *jp_malloc(void *priv, size_t size) {
    jp_pool_t *pool = priv;
    if (unlikely(tls_in_hook)) {
        return jp_reentered(size);
    }
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    // mallocx(0) is undefined: a 1-byte block is unique and freeable.
    void *p = mallocx(size ? size : 1, alloc_flags);
    jp_leave(t);
    return likely(p != NULL) ? p : jp_alloc_failed(size);
}

static void *jp_calloc(void *priv, size_t num, size_t size) {
    if (size && num > SIZE_MAX / size) {
        LOG_DEBUG("calloc(%zu, %zu) overflows", num, size);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    void *p = jp_malloc(priv, num * size);
    if (p) {
        // Not MALLOCX_ZERO: jemalloc trusts a provider's forced purge to
        // leave zeros, which a provider need not do.
        memset(p, 0, num * size);
    }
    return p;
}

static void *jp_realloc(void *priv, void *ptr, size_t size) {
    jp_pool_t *pool = priv;
    if (!ptr) {
        return jp_malloc(priv, size);
    }
    if (unlikely(tls_in_hook) && size) {
        return jp_reentered(size); // ptr is left as it was
    }
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    if (unlikely(tls_in_hook)) {
        tc_flags = MALLOCX_TCACHE_NONE;
    }
    if (size == 0) {
        dallocx(ptr, tc_flags);
        jp_leave(t);
        tls_last_error = UMF_RESULT_SUCCESS;
        return NULL;
    }
    void *p = rallocx(ptr, size, alloc_flags);
    jp_leave(t);
    return likely(p != NULL) ? p : jp_alloc_failed(size);
}

static void *jp_aligned_malloc(void *priv, size_t size, size_t alignment) {
    jp_pool_t *pool = priv;
    if (alignment <= 1) {
        return jp_malloc(priv, size);
    }
    if (!is_pow2(alignment)) {
        LOG_ERR("alignment %zu is not a power of two", alignment);
        tls_last_error = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    if (unlikely(tls_in_hook)) {
        return jp_reentered(size);
    }
    int lg = __builtin_ctzll((unsigned long long)alignment);
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    void *p = mallocx(size ? size : 1, MALLOCX_LG_ALIGN(lg) | alloc_flags);
    jp_leave(t);
    return likely(p != NULL) ? p : jp_alloc_failed(size);
}

static size_t jp_malloc_usable_size(void *priv, void *ptr) {
    (void)priv;
    return ptr ? sallocx(ptr, 0) : 0;
}

static umf_result_t jp_free(void *priv, void *ptr) {
    if (ptr) {
        int tc_flags, alloc_flags;
        ut_thread_t *t = jp_enter(priv, &tc_flags, &alloc_flags);
        // Inside a hook jemalloc takes no tcache (see "Re-entry").
        dallocx(ptr, likely(!tls_in_hook) ? tc_flags : MALLOCX_TCACHE_NONE);
        jp_leave(t);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t jp_get_last_allocation_error(void *priv) {
    (void)priv;
    return tls_last_error;
}

// For tests (in no public header): mallctl of the jemalloc this library
// uses, which may be a private, hidden copy (linked from the PIC archive).
UMF_EXPORT int umf_private_jemalloc_mallctl(const char *name, void *oldp,
                                            size_t *oldlenp, void *newp,
                                            size_t newlen);
UMF_EXPORT int umf_private_jemalloc_mallctl(const char *name, void *oldp,
                                            size_t *oldlenp, void *newp,
                                            size_t newlen) {
    return mallctl(name, oldp, oldlenp, newp, newlen);
}

// --- Ops ---

static umf_memory_pool_ops_t jemalloc_pool_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = jp_initialize,
    .finalize = jp_finalize,
    .malloc = jp_malloc,
    .calloc = jp_calloc,
    .realloc = jp_realloc,
    .aligned_malloc = jp_aligned_malloc,
    .malloc_usable_size = jp_malloc_usable_size,
    .free = jp_free,
    .get_last_allocation_error = jp_get_last_allocation_error,
};

UMF_EXPORT umf_memory_pool_ops_t *umfJemallocPoolOps(void) {
    return &jemalloc_pool_ops;
}
