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
 * Magazines. In front of the tcache, each (thread, slot) entry has a
 * magazine of blocks of up to JP_MAG_MAX_SIZE bytes per jemalloc size
 * class: malloc pops one and free pushes one (its class from sallocx)
 * without calling into jemalloc or passing the fork gate; a refill takes
 * half a magazine from the tcache and a full magazine gives half back, both
 * inside the gate. mallocx/dallocx with an explicit tcache take jemalloc's
 * general path (about 6 ns each); its fast path needs the automatic
 * tcache, which other threads' pools would share (see above) and which no
 * thread can flush for another, so a pool could never destroy its arenas.
 * A magazine holds blocks of the pool in its slot when it was filled: a
 * destroyed pool's arenas take those blocks with them, so an entry whose
 * generation is stale drops its magazine's contents unread, and thread
 * exit gives them back only to a pool still alive.
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
 * range is ever given back piecemeal. So the provider only ever gets whole
 * allocations back. The pool records each provider allocation (a region)
 * and how many of its bytes jemalloc has let go of: split and merge are
 * bookkeeping inside a region (the provider is never asked, so providers
 * without split/merge work and nothing is abandoned when a split fails),
 * the dalloc and destroy hooks accept any piece and count it, and a region
 * goes back to the provider when jemalloc holds none of it. Pieces are
 * let go of after decay (dirty_decay_ms), on an allocation failure (the
 * pool purges its arenas and retries once) and at destroy; regions still
 * recorded after the arenas are destroyed go back then. Growth is capped
 * (retain_grow_limit, JP_GROW_LIMIT) so that a region is small enough to
 * empty out; larger requests get a region of their own size class.
 *
 * Metadata. jemalloc 5.3 takes an arena's own metadata ("base" blocks)
 * through the arena's extent hooks, from arenas.create on. Base requests
 * are recognised (during arenas.create, every request; later, a request
 * for zeroed, committed, huge-page aligned memory at no fixed address,
 * which jemalloc's extent growth never makes with retain: it asks for page
 * alignment and neither zero nor commit) and served from anonymous host
 * memory, recorded apart and unmapped when jemalloc gives them back at
 * arena destroy. So no byte of jemalloc's own lies in provider memory
 * (PROT_NONE and device memory work) and creating a pool takes nothing
 * from the provider.
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
#include <umf/pools/pool_jemalloc_ext.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include <umf/memory_provider.h>

#include "blockmap.h"
#include "common.h"
#include "fork.h"
#include "log.h"
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
// jemalloc's base blocks are huge-page aligned (HUGEPAGE, 2 MiB on x86-64).
#define JP_BASE_ALIGN  ((size_t)2 << 20)
// Largest region extent growth asks for (retain_grow_limit): larger
// requests get a region of their own size.
#define JP_GROW_LIMIT  ((size_t)8 << 20)

struct umf_jemalloc_pool_params_t {
    bool keep_all_memory;
    umf_jemalloc_pool_checks_t checks;
};

// A provider allocation (or a host block) and how many of its bytes
// jemalloc has let go of (see "Regions").
typedef struct jp_region_t {
    uintptr_t base;
    size_t size;
    size_t released;
} jp_region_t;

// Sorted by address, in its own anonymous mapping.
typedef struct jp_ranges_t {
    pthread_mutex_t lock;
    jp_region_t *v;
    size_t n, cap; // cap: bytes mapped
} jp_ranges_t;

typedef struct jp_pool_t {
    extent_hooks_t hooks; // first: hooks get back &hooks == the pool
    // Read-only after initialize (the fast path reads these).
    umf_memory_provider_handle_t provider;
    unsigned narenas;
    unsigned arenas[JP_MAX_ARENAS];
    int arena_flags; // MALLOCX_ARENA(arenas[0]), for threads without entry
    _Atomic unsigned next_arena; // round-robin binding of threads
    uint32_t slot; // index in the thread tables, JP_TLS_SLOTS if none
    uint32_t gen;  // the slot's generation when this pool took it
    bool keep_all;
    bool checks;                 // misuse checks on (the live-block map)
    bool checks_stop;            // ... and a misuse aborts (else: refused)
    bool zero_filled;            // the provider returns zero-filled memory (OS)
    bool creating;               // inside arenas.create (hooks: metadata only)
    _Atomic size_t ndeferred;    // frees waiting in `deferred` (see jp_defer)
    _Atomic bool no_free;        // the provider refused a free: keep everything
    _Atomic unsigned oom_purges; // purges for a failed allocation running
    jp_ranges_t regions;         // provider allocations (see "Regions")
    jp_ranges_t host;            // host blocks of jemalloc's metadata
    // Guarded by jp_lock: every tcache made for this pool, still alive.
    unsigned *tcaches;
    size_t ntcaches, cap_tcaches;
    // Frees that must not reach jemalloc from their thread (jp_defer).
    pthread_mutex_t defer_lock;
    struct jp_deferred_t *deferred;
} jp_pool_t;

// A page of deferred frees, mapped directly (never jemalloc memory: the
// threads that defer must not call jemalloc at all).
#define JP_DEFER_PAGE 4096
typedef struct jp_deferred_t {
    struct jp_deferred_t *next;
    size_t n;
    void *ptr[(JP_DEFER_PAGE - 2 * sizeof(void *)) / sizeof(void *)];
} jp_deferred_t;

// Magazines (see the top of the file): blocks of up to JP_MAG_MAX_SIZE
// bytes, JP_MAG_CLASSES of jemalloc's size classes (8, 16, 32, ..., 512
// with its default quantum; counted at set-up with nallocx), JP_MAG_CAP
// blocks per class: at most 16 KiB cached per class, 6 KiB of
// pointers per (thread, pool).
#define JP_MAG_MAX_SIZE 512
#define JP_MAG_CLASSES  24 // room for a smaller quantum than the default
#define JP_MAG_CAP      32

typedef struct jp_mag_t {
    uint8_t n[JP_MAG_CLASSES]; // blocks in each class
    void *b[JP_MAG_CLASSES][JP_MAG_CAP];
} jp_mag_t;

typedef struct jp_tls_entry_t {
    uint32_t gen;    // generation of the pool it was made for; 0: empty
    int tc_flags;    // MALLOCX_TCACHE(tc) or MALLOCX_TCACHE_NONE
    int alloc_flags; // tc_flags | MALLOCX_ARENA(this thread's arena)
    int pad_;
    jp_mag_t *mag; // NULL: none (made with the entry; kept for the slot)
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
static ut_gate_t *jp_gate;          // libumf's fork gate
static size_t jp_destroy_mib[3], jp_destroy_miblen = ARRAY_SIZE(jp_destroy_mib);
static bool jp_destroy_mib_ok;
static size_t jp_purge_mib[3], jp_purge_miblen = ARRAY_SIZE(jp_purge_mib);
static bool jp_purge_mib_ok;
static size_t jp_grow_mib[3], jp_grow_miblen = ARRAY_SIZE(jp_grow_mib);
static bool jp_grow_mib_ok;

// Magazine class of each size up to JP_MAG_MAX_SIZE (sallocx answers a
// class's size, which maps to itself), and each class's size; read-only
// after jp_global_init. jp_mag_on false: no magazines (nallocx disagreed).
static uint8_t jp_mag_cls[JP_MAG_MAX_SIZE + 1];
static uint16_t jp_mag_size[JP_MAG_CLASSES];
static bool jp_mag_on;

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
// Hooks of any jemalloc pool this thread is inside (see "Re-entry"), plus
// JP_GONE once the thread is past its per-thread state: jemalloc's own TSD
// destructor runs around then, after which jemalloc serves the thread from
// its arena 0 whatever arena a call names (as inside a hook). One word, so
// the fast path tests both at once.
static _Thread_local unsigned tls_in_hook;
#define JP_GONE   0x80000000u
// JP_UNSAFE: the thread is past its TSD destructors and never had jemalloc
// state through us (it used other pools only, or glibc frees for it in its
// last stage of exit). jemalloc's per-thread set-up would put the thread
// on a list that nothing takes it off again (its key's destructor has run
// for the last time), and that list then points into TLS memory the next
// thread reuses: jemalloc crashed in tsd_add_nominal. Such a thread never
// calls jemalloc: its allocations are refused and its frees deferred.
#define JP_UNSAFE 0x40000000u

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
    if (jp_mag_on && !e->mag) {
        e->mag = jp_meta_alloc(sizeof(*e->mag)); // zeroed; NULL: none
    } else if (e->mag) {
        // The blocks of the slot's previous pool went with its arenas.
        memset(e->mag->n, 0, sizeof(e->mag->n));
    }
    unsigned k =
        atomic_fetch_add_explicit(&pool->next_arena, 1, memory_order_relaxed);
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
        bool alive = e.gen != 0 && jp_slots[i].pool && jp_slots[i].gen == e.gen;
        if (e.mag) {
            // Blocks of a live pool go back to its arena; a dead pool's
            // went with its arenas.
            for (unsigned c = 0; alive && c < JP_MAG_CLASSES; c++) {
                for (unsigned j = 0; j < e.mag->n[c]; j++) {
                    dallocx(e.mag->b[c][j], MALLOCX_TCACHE_NONE);
                }
            }
            jp_meta_free(e.mag);
        }
        if (!alive || e.tc_flags == MALLOCX_TCACHE_NONE) {
            continue;
        }
        unsigned tc = jp_tc_of_flags(e.tc_flags);
        jp_pool_remove_tcache_locked(jp_slots[i].pool, tc);
        jp_tcache_destroy(tc);
    }
    pthread_mutex_unlock(&jp_lock);
    if (own_thread) {
        tls_in_hook |= JP_GONE;
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
    // Live first (jp_meta_alloc calls jemalloc): a thread past its TSD
    // destructors gets nothing.
    if (!umf_private_thread_live()) {
        if (!(tls_in_hook & JP_GONE)) {
            tls_in_hook |= JP_UNSAFE;
        }
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

// --- Deferred frees ---
//
// A free from a JP_UNSAFE thread waits in its pool's list until a thread
// that may call jemalloc takes it: the next allocation of the pool by a
// live thread (which tests one word), or the pool's destruction. Pushing
// and draining happen inside the fork gate; jp_finalize drains under
// jp_lock, which the fork handlers take, so no fork sees defer_lock held.

static UMF_NOINLINE UMF_COLD void jp_defer(jp_pool_t *pool, void *ptr) {
    pthread_mutex_lock(&pool->defer_lock);
    jp_deferred_t *d = pool->deferred;
    if (!d || d->n == ARRAY_SIZE(d->ptr)) {
        void *m = mmap(NULL, JP_DEFER_PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            pthread_mutex_unlock(&pool->defer_lock);
            LOG_ERR("no memory to defer the free of %p (a thread past its "
                    "TSD destructors): the block stays allocated",
                    ptr);
            return;
        }
        jp_deferred_t *nd = m;
        nd->next = d;
        nd->n = 0;
        pool->deferred = d = nd;
    }
    d->ptr[d->n++] = ptr;
    atomic_fetch_add_explicit(&pool->ndeferred, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool->defer_lock);
    LOG_DEBUG("free of %p deferred: its thread is past its TSD destructors",
              ptr);
}

// Frees what waits (from a thread that may call jemalloc, in the gate or
// under jp_lock).
static UMF_NOINLINE UMF_COLD void jp_drain(jp_pool_t *pool) {
    pthread_mutex_lock(&pool->defer_lock);
    jp_deferred_t *d = pool->deferred;
    pool->deferred = NULL;
    atomic_store_explicit(&pool->ndeferred, 0, memory_order_relaxed);
    while (d) {
        for (size_t i = 0; i < d->n; i++) {
            dallocx(d->ptr[i], MALLOCX_TCACHE_NONE);
        }
        jp_deferred_t *next = d->next;
        munmap(d, JP_DEFER_PAGE);
        d = next;
    }
    pthread_mutex_unlock(&pool->defer_lock);
}

static inline bool jp_has_deferred(jp_pool_t *pool) {
    return atomic_load_explicit(&pool->ndeferred, memory_order_relaxed) != 0;
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

// The magazines' classes: jemalloc's size classes up to JP_MAG_MAX_SIZE.
static void jp_mag_init(void) {
    unsigned ncls = 0;
    size_t prev = 0;
    for (size_t size = 1; size <= JP_MAG_MAX_SIZE; size++) {
        size_t real = nallocx(size, 0);
        if (real < size || real > JP_MAG_MAX_SIZE) {
            LOG_INFO("nallocx(%zu) = %zu: jemalloc pools run without "
                     "magazines",
                     size, real);
            return;
        }
        if (real != prev) {
            if (ncls == JP_MAG_CLASSES) {
                LOG_INFO("more than %d jemalloc size classes up to %d bytes: "
                         "jemalloc pools run without magazines",
                         JP_MAG_CLASSES, JP_MAG_MAX_SIZE);
                return;
            }
            jp_mag_size[ncls++] = (uint16_t)real;
            prev = real;
        }
        jp_mag_cls[size] = (uint8_t)(ncls - 1);
    }
    jp_mag_on = true;
}

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
    jp_purge_mib_ok =
        !mallctlnametomib("arena.0.purge", jp_purge_mib, &jp_purge_miblen);
    jp_grow_mib_ok = !mallctlnametomib("arena.0.retain_grow_limit", jp_grow_mib,
                                       &jp_grow_miblen);
    jp_mag_init();
    jp_gate = umf_private_thread_gate();
    (void)umf_private_fork_register(&jp_fork_handler);
    umf_private_fork_install_again();
    jp_ut_slot = umf_private_thread_client_register(&jp_ut_client);
}

static void jp_global_init_once(void) {
    pthread_once(&jp_once, jp_global_init);
}

// --- Ranges: regions and host blocks (hooks only, so never hot) ---

static void jp_ranges_init(jp_ranges_t *r) {
    pthread_mutex_init(&r->lock, NULL);
    r->v = NULL;
    r->n = r->cap = 0;
}

static void jp_ranges_fini(jp_ranges_t *r) {
    if (r->v) {
        (void)os_munmap(r->v, r->cap);
    }
    r->v = NULL;
    r->n = r->cap = 0;
    pthread_mutex_destroy(&r->lock);
}

// Index of the first range at or above addr.
static size_t jp_ranges_lower_locked(const jp_ranges_t *r, uintptr_t addr) {
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].base < addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Index of the range containing addr, or r->n.
static size_t jp_ranges_find_locked(const jp_ranges_t *r, uintptr_t addr) {
    size_t i = jp_ranges_lower_locked(r, addr);
    if (i < r->n && r->v[i].base == addr) {
        return i;
    }
    if (i > 0 && addr - r->v[i - 1].base < r->v[i - 1].size) {
        return i - 1;
    }
    return r->n;
}

static bool jp_ranges_grow_locked(jp_ranges_t *r) {
    size_t cap = r->cap ? r->cap * 2 : os_page_size();
    void *mem;
    if (os_mmap_anon(cap, PROT_READ | PROT_WRITE, &mem) != 0) {
        return false;
    }
    if (r->v) {
        memcpy(mem, r->v, r->n * sizeof(jp_region_t));
        (void)os_munmap(r->v, r->cap);
    }
    r->v = mem;
    r->cap = cap;
    return true;
}

// Records [addr, +size) with `released` bytes already let go of. Records
// overlapping it cannot exist (we free only whole ranges) and would be
// stale: they go. False when there is no memory for the record.
static bool jp_ranges_add(jp_ranges_t *r, void *addr, size_t size,
                          size_t released) {
    uintptr_t a = (uintptr_t)addr;
    pthread_mutex_lock(&r->lock);
    size_t i = jp_ranges_lower_locked(r, a);
    if (i > 0 && r->v[i - 1].base + r->v[i - 1].size > a) {
        i--;
    }
    size_t j = i;
    while (j < r->n && r->v[j].base < a + size) {
        j++;
    }
    if (j > i) {
        LOG_WARN("dropping %zu stale record(s) under [%p, +%zu)", j - i, addr,
                 size);
        memmove(&r->v[i], &r->v[j], (r->n - j) * sizeof(jp_region_t));
        r->n -= j - i;
    }
    if ((r->n + 1) * sizeof(jp_region_t) > r->cap &&
        !jp_ranges_grow_locked(r)) {
        pthread_mutex_unlock(&r->lock);
        return false;
    }
    memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(jp_region_t));
    r->v[i] = (jp_region_t){a, size, released};
    r->n++;
    pthread_mutex_unlock(&r->lock);
    return true;
}

static void jp_ranges_remove_locked(jp_ranges_t *r, size_t i) {
    memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(jp_region_t));
    r->n--;
}

// Forgets [addr, +size) if it is exactly one record.
static bool jp_ranges_take(jp_ranges_t *r, void *addr, size_t size) {
    uintptr_t a = (uintptr_t)addr;
    bool found = false;
    pthread_mutex_lock(&r->lock);
    size_t i = jp_ranges_lower_locked(r, a);
    if (i < r->n && r->v[i].base == a && r->v[i].size == size) {
        jp_ranges_remove_locked(r, i);
        found = true;
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

typedef enum jp_piece_t {
    JP_PIECE_UNKNOWN, // not inside one region
    JP_PIECE_KEPT,    // counted; the region still has pieces in jemalloc
    JP_PIECE_LAST,    // counted; the region is no longer jemalloc's: *whole
} jp_piece_t;

// jemalloc lets go of [addr, +size) of a region. A piece that is not the
// last is counted only if `partial_ok`; otherwise UNKNOWN (jemalloc keeps
// it).
static jp_piece_t jp_region_release(jp_pool_t *pool, void *addr, size_t size,
                                    bool partial_ok, jp_region_t *whole) {
    jp_ranges_t *r = &pool->regions;
    uintptr_t a = (uintptr_t)addr;
    jp_piece_t ret = JP_PIECE_UNKNOWN;
    pthread_mutex_lock(&r->lock);
    size_t i = jp_ranges_find_locked(r, a);
    if (i < r->n && a + size - r->v[i].base <= r->v[i].size &&
        r->v[i].released + size <= r->v[i].size) {
        if (r->v[i].released + size == r->v[i].size) {
            *whole = r->v[i];
            jp_ranges_remove_locked(r, i);
            ret = JP_PIECE_LAST;
        } else if (partial_ok) {
            r->v[i].released += size;
            ret = JP_PIECE_KEPT;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

// Both ranges lie in one region (what split and merge may work within).
static bool jp_region_same(jp_pool_t *pool, void *lo, void *hi_end) {
    jp_ranges_t *r = &pool->regions;
    pthread_mutex_lock(&r->lock);
    size_t i = jp_ranges_find_locked(r, (uintptr_t)lo);
    bool ok = i < r->n && (uintptr_t)hi_end - r->v[i].base <= r->v[i].size;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

// Gives a whole region back to the provider. False if the provider kept it
// (a provider without free: the pool stops trying).
static bool jp_region_free(jp_pool_t *pool, const jp_region_t *reg) {
    if (pool->checks) {
        bm_forget((void *)reg->base, reg->size); // blocks never freed
    }
    tls_in_hook++;
    umf_result_t ret =
        umfMemoryProviderFree(pool->provider, (void *)reg->base, reg->size);
    tls_in_hook--;
    if (ret == UMF_RESULT_SUCCESS) {
        return true;
    }
    if (ret == UMF_RESULT_ERROR_NOT_SUPPORTED &&
        !atomic_exchange_explicit(&pool->no_free, true, memory_order_relaxed)) {
        LOG_INFO("provider %s cannot free: pool %p keeps its memory",
                 umfMemoryProviderGetName(pool->provider), (void *)pool);
    } else if (ret != UMF_RESULT_ERROR_NOT_SUPPORTED) {
        LOG_WARN("provider free of [%p, +%zu) failed (%d)", (void *)reg->base,
                 reg->size, (int)ret);
    }
    return false;
}

static bool jp_keeps_all(jp_pool_t *pool) {
    return pool->keep_all ||
           atomic_load_explicit(&pool->no_free, memory_order_relaxed);
}

// --- Host memory for jemalloc's metadata (see "Metadata") ---

// jemalloc 5.3's base_map(): huge-page alignment, zeroed and committed
// memory at no fixed address. Extent growth (extent_grow_retained) asks
// for page alignment with *zero and *commit false.
static bool jp_is_base_request(const jp_pool_t *pool, const void *new_addr,
                               size_t size, size_t alignment, bool zero,
                               bool commit) {
    if (pool->creating) {
        return true; // arenas.create: only the arena's base block
    }
    return !new_addr && alignment == JP_BASE_ALIGN && zero && commit &&
           size % JP_BASE_ALIGN == 0;
}

static void *jp_host_alloc(jp_pool_t *pool, size_t size, size_t alignment) {
    size_t page = os_page_size();
    if (alignment < page) {
        alignment = page;
    }
    size_t total = size + alignment - page;
    void *mem;
    int err = os_mmap_anon(total, PROT_READ | PROT_WRITE, &mem);
    if (err) {
        LOG_PDEBUG(-err, "no host memory for %zu bytes of jemalloc metadata",
                   size);
        return NULL;
    }
    uintptr_t a = ((uintptr_t)mem + alignment - 1) & ~(alignment - 1);
    size_t head = a - (uintptr_t)mem, tail = total - head - size;
    if (head) {
        (void)os_munmap(mem, head);
    }
    if (tail) {
        (void)os_munmap((void *)(a + size), tail);
    }
    if (!jp_ranges_add(&pool->host, (void *)a, size, 0)) {
        (void)os_munmap((void *)a, size);
        return NULL;
    }
    return (void *)a;
}

static bool jp_host_free(jp_pool_t *pool, void *addr, size_t size) {
    if (!jp_ranges_take(&pool->host, addr, size)) {
        return false;
    }
    (void)os_munmap(addr, size);
    return true;
}

// --- Extent hooks (called by jemalloc, any thread) ---

static jp_pool_t *jp_pool_of(extent_hooks_t *hooks) {
    return (jp_pool_t *)hooks; // hooks is the pool's first member
}

// Provider memory for an extent: `size` bytes aligned to `alignment` (a
// page or more, jemalloc's requirement). A provider that ignores the
// alignment (malloc-backed) is asked once more for `alignment` bytes more;
// *reg receives what the provider gave.
static void *jp_provider_alloc(jp_pool_t *pool, size_t size, size_t alignment,
                               jp_region_t *reg) {
    void *p = NULL;
    tls_in_hook++;
    umf_result_t ret =
        umfMemoryProviderAlloc(pool->provider, size, alignment, &p);
    tls_in_hook--;
    if (ret == UMF_RESULT_SUCCESS && p &&
        ((uintptr_t)p & (alignment - 1)) != 0) {
        reg->base = (uintptr_t)p;
        reg->size = size;
        if (!jp_keeps_all(pool)) {
            (void)jp_region_free(pool, reg);
        }
        p = NULL;
        ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        if (size <= SIZE_MAX - alignment) {
            size += alignment;
            tls_in_hook++;
            ret = umfMemoryProviderAlloc(pool->provider, size, alignment, &p);
            tls_in_hook--;
        }
        if (ret == UMF_RESULT_SUCCESS && p) {
            reg->base = (uintptr_t)p;
            reg->size = size;
            return (void *)(((uintptr_t)p + alignment - 1) & ~(alignment - 1));
        }
    }
    if (ret != UMF_RESULT_SUCCESS || !p) {
        LOG_DEBUG("provider alloc of %zu bytes (alignment %zu) failed: %d",
                  size, alignment, (int)ret);
        return NULL;
    }
    reg->base = (uintptr_t)p;
    reg->size = size;
    return p;
}

static void *jp_extent_alloc(extent_hooks_t *hooks, void *new_addr, size_t size,
                             size_t alignment, bool *zero, bool *commit,
                             unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)arena_ind;
    if (jp_is_base_request(pool, new_addr, size, alignment, *zero, *commit)) {
        void *p = jp_host_alloc(pool, size, alignment);
        if (p) {
            *zero = true; // fresh anonymous memory
            *commit = true;
        }
        return p;
    }
    jp_region_t reg;
    void *p = jp_provider_alloc(pool, size, alignment, &reg);
    if (!p) {
        return NULL;
    }
    // jemalloc never holds the slack of an over-allocated region.
    size_t slack = reg.size - size;
    if ((new_addr && p != new_addr) ||
        !jp_ranges_add(&pool->regions, (void *)reg.base, reg.size, slack)) {
        LOG_DEBUG("provider gave %p, jemalloc needed %p (or no record)", p,
                  new_addr);
        if (!jp_keeps_all(pool)) {
            (void)jp_region_free(pool, &reg);
        }
        return NULL;
    }
    if (pool->zero_filled) {
        *zero = true; // fresh OS memory: clearing it would only fault it in
    } else if (*zero) {
        memset(p, 0, size); // host memory: this pool needs it
    }
    *commit = true;
    return p;
}

// jemalloc lets go of a piece; the region goes back when it was the last.
// False when jemalloc should keep the piece: not ours to count, or not the
// last of its region while the pool purges for an allocation that failed
// (a piece let go of is not reused until its whole region is, and that
// allocation is to be retried now).
static bool jp_piece_back(jp_pool_t *pool, void *addr, size_t size) {
    jp_region_t whole;
    bool partial_ok =
        atomic_load_explicit(&pool->oom_purges, memory_order_relaxed) == 0;
    switch (jp_region_release(pool, addr, size, partial_ok, &whole)) {
    case JP_PIECE_KEPT:
        return true;
    case JP_PIECE_LAST:
        if (jp_region_free(pool, &whole)) {
            return true;
        }
        // Still the provider's allocation and ours: jemalloc keeps this
        // piece (the others it let go of stay counted).
        (void)jp_ranges_add(&pool->regions, (void *)whole.base, whole.size,
                            whole.size - size);
        return false;
    case JP_PIECE_UNKNOWN:
    default:
        return false;
    }
}

static bool jp_extent_dalloc(extent_hooks_t *hooks, void *addr, size_t size,
                             bool committed, unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)committed, (void)arena_ind;
    if (jp_host_free(pool, addr, size)) {
        return false; // a base block, at arena destroy
    }
    if (jp_keeps_all(pool)) {
        return true; // opt out: jemalloc retains it (see "Regions")
    }
    return !jp_piece_back(pool, addr, size);
}

static void jp_extent_destroy(extent_hooks_t *hooks, void *addr, size_t size,
                              bool committed, unsigned arena_ind) {
    jp_pool_t *pool = jp_pool_of(hooks);
    (void)committed, (void)arena_ind;
    if (jp_host_free(pool, addr, size) || jp_keeps_all(pool)) {
        return;
    }
    // A piece the provider would not take back stays recorded; the pool's
    // finalize gives it another try.
    jp_region_t whole;
    if (jp_region_release(pool, addr, size, true, &whole) == JP_PIECE_LAST) {
        (void)jp_region_free(pool, &whole);
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

// Split and merge are the pool's bookkeeping (see "Regions"): the provider
// is never asked, so they work on every provider.
static bool jp_extent_split(extent_hooks_t *hooks, void *addr, size_t size,
                            size_t size_a, size_t size_b, bool committed,
                            unsigned arena_ind) {
    (void)size_a, (void)size_b, (void)committed, (void)arena_ind;
    return !jp_region_same(jp_pool_of(hooks), addr, (char *)addr + size);
}

static bool jp_extent_merge(extent_hooks_t *hooks, void *addr_a, size_t size_a,
                            void *addr_b, size_t size_b, bool committed,
                            unsigned arena_ind) {
    (void)size_a, (void)committed, (void)arena_ind;
    return !jp_region_same(jp_pool_of(hooks), addr_a, (char *)addr_b + size_b);
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
    params->checks = UMF_JEMALLOC_POOL_CHECKS_OFF;
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

UMF_EXPORT umf_result_t
umfJemallocPoolParamsSetChecks(umf_jemalloc_pool_params_handle_t hParams,
                               umf_jemalloc_pool_checks_t checks) {
    jp_global_init_once();
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(checks == UMF_JEMALLOC_POOL_CHECKS_ABORT ||
                  checks == UMF_JEMALLOC_POOL_CHECKS_ERROR ||
                  checks == UMF_JEMALLOC_POOL_CHECKS_OFF,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "checks %d is not a umf_jemalloc_pool_checks_t (0 abort, 1 "
              "error, 2 off)",
              (int)checks);
    hParams->checks = checks;
    return UMF_RESULT_SUCCESS;
}

// --- Life cycle ---

// Caps the arena's growth (see "Regions"); without it each new region is
// larger than the last and keeps a large unused tail in jemalloc.
static void jp_arena_limit_growth(unsigned arena) {
    if (!jp_grow_mib_ok) {
        return;
    }
    size_t mib[ARRAY_SIZE(jp_grow_mib)];
    memcpy(mib, jp_grow_mib, sizeof(mib));
    mib[1] = arena;
    size_t limit = JP_GROW_LIMIT;
    int err =
        mallctlbymib(mib, jp_grow_miblen, NULL, NULL, &limit, sizeof(limit));
    if (err) {
        LOG_PDEBUG(err, "arena.%u.retain_grow_limit failed", arena);
    }
}

// After the arenas are gone: every region jemalloc did not give back
// (pieces it abandoned) goes to the provider, host blocks are unmapped.
static void jp_pool_release_ranges(jp_pool_t *pool) {
    size_t left = pool->regions.n;
    for (size_t i = 0; i < pool->regions.n && pool->checks; i++) {
        bm_forget((void *)pool->regions.v[i].base, pool->regions.v[i].size);
    }
    for (size_t i = 0; i < pool->regions.n && !jp_keeps_all(pool); i++) {
        (void)jp_region_free(pool, &pool->regions.v[i]);
    }
    if (left && !pool->keep_all) {
        LOG_DEBUG("pool %p: %zu region(s) returned after arena destroy",
                  (void *)pool, left);
    }
    for (size_t i = 0; i < pool->host.n; i++) {
        (void)os_munmap((void *)pool->host.v[i].base, pool->host.v[i].size);
    }
    jp_ranges_fini(&pool->regions);
    jp_ranges_fini(&pool->host);
}

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
    pool->checks = p && p->checks != UMF_JEMALLOC_POOL_CHECKS_OFF;
    pool->checks_stop = p && p->checks == UMF_JEMALLOC_POOL_CHECKS_ABORT;
    pool->zero_filled = umf_private_provider_zero_filled(provider);
    jp_ranges_init(&pool->regions);
    jp_ranges_init(&pool->host);
    atomic_init(&pool->no_free, false);
    atomic_init(&pool->oom_purges, 0);
    atomic_init(&pool->ndeferred, 0);
    pthread_mutex_init(&pool->defer_lock, NULL);

    // jemalloc keeps this pointer for the arena's lifetime: it is the pool.
    // The hooks run now already (the arena's metadata), under jp_lock as
    // every other jemalloc call outside the fork gate.
    extent_hooks_t *hooks = &pool->hooks;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = ncpu < 1               ? 1
                    : ncpu > JP_MAX_ARENAS ? JP_MAX_ARENAS
                                           : (unsigned)ncpu;
    int err = 0;
    pthread_mutex_lock(&jp_lock);
    pool->narenas = 0;
    while (pool->narenas < want) {
        unsigned arena;
        size_t sz = sizeof(arena);
        pool->creating = true; // its hooks serve metadata only
        err = mallctl("arenas.create", &arena, &sz, &hooks,
                      sizeof(extent_hooks_t *));
        pool->creating = false;
        if (err) {
            break; // fewer arenas is fine; none is not
        }
        UMF_ASSERT(arena < JP_ARENA_LIMIT);
        pool->arenas[pool->narenas++] = arena;
        jp_arena_limit_growth(arena);
    }
    if (pool->narenas) {
        jp_slot_take_locked(pool);
    }
    pthread_mutex_unlock(&jp_lock);
    if (!pool->narenas) {
        LOG_PERR(err, "cannot create a jemalloc arena on provider %s",
                 umfMemoryProviderGetName(provider));
        jp_pool_release_ranges(pool);
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
    jp_drain(pool);
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
    jp_pool_release_ranges(pool);
    jp_meta_free(pool);
}

// --- Allocation ---

static void *jp_alloc_failed(size_t size) {
    LOG_DEBUG("no memory for %zu bytes", size);
    tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    return NULL;
}

// Out of memory: jemalloc may hold freed memory of this pool (dirty or
// muzzy pages waiting for decay) in pieces that do not fit the request.
// Purging lets go of them, regions that empty out go back to the provider
// (see "Regions"), and the request is tried once more. Called inside the
// fork gate, outside any hook.
static UMF_NOINLINE UMF_COLD void jp_purge(jp_pool_t *pool) {
    if (!jp_purge_mib_ok) {
        return;
    }
    atomic_fetch_add_explicit(&pool->oom_purges, 1, memory_order_relaxed);
    for (unsigned i = 0; i < pool->narenas; i++) {
        size_t mib[ARRAY_SIZE(jp_purge_mib)];
        memcpy(mib, jp_purge_mib, sizeof(mib));
        mib[1] = pool->arenas[i];
        int err = mallctlbymib(mib, jp_purge_miblen, NULL, NULL, NULL, 0);
        if (err) {
            LOG_PDEBUG(err, "arena.%u.purge failed", pool->arenas[i]);
        }
    }
    atomic_fetch_sub_explicit(&pool->oom_purges, 1, memory_order_relaxed);
}

static UMF_NOINLINE UMF_COLD void *jp_mallocx_retry(jp_pool_t *pool,
                                                    size_t size, int flags) {
    jp_purge(pool);
    return mallocx(size, flags);
}

static UMF_NOINLINE UMF_COLD void *jp_rallocx_retry(jp_pool_t *pool, void *ptr,
                                                    size_t size, int flags) {
    jp_purge(pool);
    return rallocx(ptr, size, flags);
}

// Called from inside a hook of a jemalloc pool (see "Re-entry"), or from
// a thread past its per-thread state (JP_GONE): refused, so that nothing
// comes from jemalloc's arena 0. (The proxy then uses the system
// allocator.)
static UMF_NOINLINE UMF_COLD void *jp_reentered(size_t size) {
    static _Atomic bool warned;
    if (tls_in_hook & (JP_GONE | JP_UNSAFE)) {
        LOG_DEBUG("allocation of %zu bytes from a jemalloc pool by a thread "
                  "past its TSD destructors refused",
                  size);
    } else if (!atomic_exchange_explicit(&warned, true, memory_order_relaxed)) {
        LOG_WARN("allocation of %zu bytes from a jemalloc pool inside a "
                 "jemalloc pool's provider call refused (jemalloc would "
                 "serve it from its own arena)",
                 size);
    }
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}

// A free or realloc of a pointer the live-block map does not know: a
// double free, a pointer inside a block, a pointer this pool never handed
// out (see "Misuse"). Nothing changes.
static UMF_NOINLINE UMF_COLD umf_result_t jp_misuse(jp_pool_t *pool,
                                                    const void *ptr) {
    return (umf_result_t)umf_misuse_report("jemalloc", "", pool->checks_stop,
                                           ptr, UMF_MISUSE_NOT_LIVE);
}

static UMF_NOINLINE UMF_COLD void *jp_misuse_realloc(jp_pool_t *pool,
                                                     const void *ptr) {
    tls_last_error = jp_misuse(pool, ptr);
    return NULL;
}

// --- Magazines (see the top of the file) ---

// This thread's magazine for pool, or NULL: its entry is not the pool's
// yet (first call, or the slot's previous pool), or has no magazine. A
// thread past its state reads jp_thread_none, which matches no pool.
static inline jp_mag_t *jp_mag(const jp_pool_t *pool) {
    const jp_tls_entry_t *e = &tls_thread->tcaches[pool->slot];
    return likely(e->gen == pool->gen) ? e->mag : NULL;
}

// An empty class of m takes half a magazine of blocks through the tcache
// and returns one, or NULL (nothing allocated: the general path retries
// after a purge and reports the error).
static UMF_NOINLINE void *jp_mag_refill(jp_pool_t *pool, jp_mag_t *m,
                                        unsigned c) {
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    size_t size = jp_mag_size[c];
    unsigned n = 0;
    while (n < JP_MAG_CAP / 2) {
        void *p = mallocx(size, alloc_flags);
        if (!p) {
            break;
        }
        m->b[c][n++] = p;
    }
    jp_leave(t);
    if (n == 0) {
        return NULL;
    }
    m->n[c] = (uint8_t)(n - 1);
    return m->b[c][n - 1];
}

// A full class of m gives its older half back through the tcache.
static UMF_NOINLINE void jp_mag_flush(jp_pool_t *pool, jp_mag_t *m,
                                      unsigned c) {
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    const unsigned half = JP_MAG_CAP / 2;
    for (unsigned j = 0; j < half; j++) {
        dallocx(m->b[c][j], tc_flags);
    }
    jp_leave(t);
    memmove(&m->b[c][0], &m->b[c][half],
            (JP_MAG_CAP - half) * sizeof(m->b[c][0]));
    m->n[c] = (uint8_t)(JP_MAG_CAP - half);
}

// malloc, and calloc with MALLOCX_ZERO (`extra`).
static inline void *jp_alloc(jp_pool_t *pool, size_t size, int extra) {
    if (unlikely(tls_in_hook)) {
        return jp_reentered(size);
    }
    if (extra == 0 && size - 1 < JP_MAG_MAX_SIZE) {
        jp_mag_t *m = jp_mag(pool);
        // Frees deferred by exiting threads wait for the general path.
        if (likely(m != NULL) && likely(!jp_has_deferred(pool))) {
            unsigned c = jp_mag_cls[size];
            void *p = likely(m->n[c]) ? m->b[c][--m->n[c]]
                                      : jp_mag_refill(pool, m, c);
            if (likely(p != NULL)) {
                if (pool->checks) {
                    bm_mark(p);
                }
                umf_tsan_acquire(p);
                return p;
            }
        }
    }
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    if (unlikely(tls_in_hook) || unlikely(jp_has_deferred(pool))) {
        if (tls_in_hook) { // the thread's first call, past its destructors
            jp_leave(t);
            return jp_reentered(size);
        }
        jp_drain(pool);
    }
    alloc_flags |= extra;
    // mallocx(0) is undefined: a 1-byte block is unique and freeable.
    void *p = mallocx(size ? size : 1, alloc_flags);
    if (unlikely(!p)) {
        p = jp_mallocx_retry(pool, size ? size : 1, alloc_flags);
    }
    jp_leave(t);
    if (unlikely(!p)) {
        return jp_alloc_failed(size);
    }
    if (pool->checks) {
        bm_mark(p);
    }
    umf_tsan_acquire(p);
    return p;
}

static void *jp_malloc(void *priv, size_t size) {
    return jp_alloc(priv, size, 0);
}

static void *jp_calloc(void *priv, size_t num, size_t size) {
    jp_pool_t *pool = priv;
    if (size && num > SIZE_MAX / size) {
        LOG_DEBUG("calloc(%zu, %zu) overflows", num, size);
        tls_last_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    if (pool->zero_filled) {
        // jemalloc knows which of its pages are zero: fresh provider memory
        // (the alloc hook says so for providers that hand out zeros) and
        // pages after a forced purge, which such providers (the OS
        // provider: MADV_DONTNEED, or MADV_REMOVE on shared memory) leave
        // zero. It clears only the rest, so a large calloc of fresh
        // memory touches no page.
        return jp_alloc(pool, num * size, MALLOCX_ZERO);
    }
    // Other providers: a forced purge need not leave zeros, and jemalloc
    // would trust it.
    void *p = jp_alloc(pool, num * size, 0);
    if (p) {
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
    // Unmarked first: once jemalloc has it back, another thread may get
    // (and mark) the same address.
    if (pool->checks && unlikely(!bm_unmark(ptr))) {
        return jp_misuse_realloc(pool, ptr);
    }
    int tc_flags, alloc_flags;
    ut_thread_t *t = jp_enter(pool, &tc_flags, &alloc_flags);
    if (unlikely(tls_in_hook)) {
        tc_flags = MALLOCX_TCACHE_NONE;
        if (size) { // the thread's first call, past its destructors
            jp_leave(t);
            if (pool->checks) {
                bm_mark(ptr); // left as it was
            }
            return jp_reentered(size);
        }
    }
    umf_tsan_release(ptr);
    if (size == 0) {
        if (unlikely(tls_in_hook & JP_UNSAFE)) {
            jp_defer(pool, ptr);
        } else {
            dallocx(ptr, tc_flags);
        }
        jp_leave(t);
        tls_last_error = UMF_RESULT_SUCCESS;
        return NULL;
    }
    void *p = rallocx(ptr, size, alloc_flags);
    if (unlikely(!p)) {
        p = jp_rallocx_retry(pool, ptr, size, alloc_flags);
    }
    jp_leave(t);
    if (pool->checks) {
        bm_mark(p ? p : ptr); // on failure ptr is left as it was
    }
    if (unlikely(!p)) {
        return jp_alloc_failed(size);
    }
    umf_tsan_acquire(p);
    return p;
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
    if (unlikely(tls_in_hook)) { // the thread's first call, past its dtors
        jp_leave(t);
        return jp_reentered(size);
    }
    int flags = MALLOCX_LG_ALIGN(lg) | alloc_flags;
    void *p = mallocx(size ? size : 1, flags);
    if (unlikely(!p)) {
        p = jp_mallocx_retry(pool, size ? size : 1, flags);
    }
    jp_leave(t);
    if (unlikely(!p)) {
        return jp_alloc_failed(size);
    }
    if (pool->checks) {
        bm_mark(p);
    }
    umf_tsan_acquire(p);
    return p;
}

static size_t jp_malloc_usable_size(void *priv, void *ptr) {
    jp_pool_t *pool = priv;
    if (!ptr || (pool->checks && !bm_live(ptr))) {
        return 0; // not a live block (see "Misuse")
    }
    return sallocx(ptr, 0);
}

static umf_result_t jp_free(void *priv, void *ptr) {
    jp_pool_t *pool = priv;
    if (ptr) {
        if (pool->checks && unlikely(!bm_unmark(ptr))) {
            return jp_misuse(pool, ptr);
        }
        umf_tsan_release(ptr);
        jp_mag_t *m;
        // sallocx outside the gate: it reads jemalloc's radix tree and
        // takes no lock (this thread's jemalloc state exists: its entry
        // matches).
        if (likely(!tls_in_hook) && (m = jp_mag(pool)) != NULL) {
            size_t size = sallocx(ptr, 0);
            if (size <= JP_MAG_MAX_SIZE) {
                unsigned c = jp_mag_cls[size];
                if (unlikely(m->n[c] == JP_MAG_CAP)) {
                    jp_mag_flush(pool, m, c);
                }
                m->b[c][m->n[c]++] = ptr;
                return UMF_RESULT_SUCCESS;
            }
        }
        int tc_flags, alloc_flags;
        ut_thread_t *t = jp_enter(priv, &tc_flags, &alloc_flags);
        unsigned h = tls_in_hook;
        if (likely(!h)) {
            dallocx(ptr, tc_flags);
        } else if (h & JP_UNSAFE) {
            jp_defer(priv, ptr);
        } else {
            // Inside a hook, or past its own state (jemalloc's TSD was
            // made, so it copes): no tcache (see "Re-entry").
            dallocx(ptr, MALLOCX_TCACHE_NONE);
        }
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
