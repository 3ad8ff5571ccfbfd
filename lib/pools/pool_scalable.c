/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_scalable.c - the scalable pool: oneTBB tbbmalloc's memory pools
 * (rml::pool_create_v1 and friends) with the pool's provider as their
 * backing store.
 *
 * tbbmalloc is optional at run time (DESIGN.md invariant 9): every pool
 * creation loads it with os_dlopen and every pool destroy closes it again.
 * os_dlopen uses RTLD_NODELETE, so the code stays mapped for the TLS
 * destructors tbbmalloc leaves on threads. The library is
 * "libtbbmalloc.so.2"; the environment variable UMF_TBBMALLOC_LIB, read at
 * each pool creation, names another soname or path instead. The memory-pool
 * API is C++ only, so its functions are found by their mangled names.
 *
 * tbbmalloc asks for raw memory through two callbacks that call the
 * provider (alignment 0; the size is at least the granularity). A failing
 * provider is noted in thread-local state, read when tbbmalloc then returns
 * NULL or a failed free. The last allocation error is per thread and shared
 * by all scalable pools, as in the contract.
 *
 * fork(): tbbmalloc's pools take internal spin locks and install no fork
 * handlers, so a fork while another thread is inside tbbmalloc could leave
 * the child spinning on a lock forever. Every call into tbbmalloc therefore
 * passes libumf's fork gate (thread.h), whose handler waits until no other
 * thread is inside; the fast path writes only this thread's record.
 * Threads past their TSD destructors pass it through a shared counter and
 * keep nothing per thread here (tbbmalloc's own per-thread caches are its
 * business).
 *
 * Magazines. In front of tbbmalloc, a thread keeps per pool (the first
 * SP_TLS_SLOTS pools alive at once, by slot) a magazine of freed blocks of
 * up to SP_MAG_MAX_SIZE bytes per tbbmalloc size class: malloc pops one
 * and free pushes one (its class from rml::pool_msize, which reads the
 * block's header and takes no lock) without calling into tbbmalloc's pool
 * API or passing the fork gate; a refill takes half a magazine from
 * tbbmalloc and a full one gives half back, inside the gate. A magazine
 * names the pool (its serial) whose blocks it holds: a destroyed pool's
 * blocks went with it, so a magazine of another serial is dropped unread,
 * and thread exit gives blocks back only to a pool still in its slot.
 *
 * Locks: sp_slot_lock guards the slot table, taken only inside the gate
 * (so no fork finds it held). malloc and free write only this thread's
 * TLS and magazines, or make one indirect call into tbbmalloc's per-thread
 * caches; the pool object is read-only after creation.
 */

#include <umf/memory_pool_ops.h>
#include <umf/pools/pool_scalable.h>
#include <umf/pools/pool_scalable_ext.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base_alloc.h"
#include "blockmap.h"
#include "common.h"
#include "log.h"
#include "os_linux.h"
#include "pool_scalable_tbb.h"
#include "thread.h"
#include "umf_private.h"

#define TBBMALLOC_LIB_DEFAULT "libtbbmalloc.so.2"
#define TBBMALLOC_LIB_ENV     "UMF_TBBMALLOC_LIB"
#define TBBMALLOC_FIX                                                          \
    "install the Debian package libtbbmalloc2, or set " TBBMALLOC_LIB_ENV      \
    " to the library's path"

#define SP_DEFAULT_GRANULARITY ((size_t)2 << 20) // 2 MiB, as the contract

// --- Params ---

struct umf_scalable_pool_params_t {
    size_t granularity;
    bool keep_all_memory;
    umf_scalable_pool_checks_t checks;
};

static const struct umf_scalable_pool_params_t sp_default_params = {
    .granularity = SP_DEFAULT_GRANULARITY,
    .keep_all_memory = false,
    .checks = UMF_SCALABLE_POOL_CHECKS_OFF,
};

UMF_EXPORT umf_result_t
umfScalablePoolParamsCreate(umf_scalable_pool_params_handle_t *hParams) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    struct umf_scalable_pool_params_t *params = ba_alloc(sizeof(*params));
    if (!params) {
        LOG_ERR("out of host memory for scalable pool params");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    *params = sp_default_params;
    *hParams = params;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfScalablePoolParamsDestroy(umf_scalable_pool_params_handle_t hParams) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    ba_free(hParams);
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfScalablePoolParamsSetGranularity(
    umf_scalable_pool_params_handle_t hParams, size_t granularity) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(granularity != 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "granularity is 0; expected the smallest provider request in "
              "bytes (default %zu)",
              SP_DEFAULT_GRANULARITY);
    hParams->granularity = granularity;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfScalablePoolParamsSetKeepAllMemory(
    umf_scalable_pool_params_handle_t hParams, bool keepAllMemory) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    hParams->keep_all_memory = keepAllMemory;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t
umfScalablePoolParamsSetChecks(umf_scalable_pool_params_handle_t hParams,
                               umf_scalable_pool_checks_t checks) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(checks == UMF_SCALABLE_POOL_CHECKS_ABORT ||
                  checks == UMF_SCALABLE_POOL_CHECKS_ERROR ||
                  checks == UMF_SCALABLE_POOL_CHECKS_OFF,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "checks %d is not a umf_scalable_pool_checks_t (0 abort, 1 "
              "error, 2 off)",
              (int)checks);
    hParams->checks = checks;
    return UMF_RESULT_SUCCESS;
}

// --- tbbmalloc's memory-pool API (pool_scalable_tbb.h) ---

typedef struct tbb_api_t {
    int (*pool_create_v1)(intptr_t pool_id, const tbb_policy_t *policy,
                          tbb_pool_t **pool);
    bool (*pool_destroy)(tbb_pool_t *pool);
    void *(*pool_malloc)(tbb_pool_t *pool, size_t size);
    void *(*pool_realloc)(tbb_pool_t *pool, void *ptr, size_t size);
    void *(*pool_aligned_malloc)(tbb_pool_t *pool, size_t size,
                                 size_t alignment);
    bool (*pool_free)(tbb_pool_t *pool, void *ptr);
    size_t (*pool_msize)(tbb_pool_t *pool, void *ptr);
} tbb_api_t;

static const struct {
    const char *name;    // for error messages
    const char *mangled; // what dlsym needs (nm -D libtbbmalloc.so.2)
    size_t offset;       // slot in tbb_api_t
} tbb_symbols[] = {
    {"rml::pool_create_v1", TBB_SYM_POOL_CREATE_V1,
     offsetof(tbb_api_t, pool_create_v1)},
    {"rml::pool_destroy", "_ZN3rml12pool_destroyEPNS_10MemoryPoolE",
     offsetof(tbb_api_t, pool_destroy)},
    {"rml::pool_malloc", TBB_SYM_POOL_MALLOC, offsetof(tbb_api_t, pool_malloc)},
    {"rml::pool_realloc", "_ZN3rml12pool_reallocEPNS_10MemoryPoolEPvm",
     offsetof(tbb_api_t, pool_realloc)},
    {"rml::pool_aligned_malloc",
     "_ZN3rml19pool_aligned_mallocEPNS_10MemoryPoolEmm",
     offsetof(tbb_api_t, pool_aligned_malloc)},
    {"rml::pool_free", TBB_SYM_POOL_FREE, offsetof(tbb_api_t, pool_free)},
    {"rml::pool_msize", "_ZN3rml10pool_msizeEPNS_10MemoryPoolEPv",
     offsetof(tbb_api_t, pool_msize)},
};

// POSIX dlsym: object and function pointers share one representation.
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
               "function pointers must fit the pointers dlsym returns");

// Loads tbbmalloc and fills api. On failure logs one line naming the
// library, the loader's reason and the fix, and returns UNKNOWN.
static umf_result_t tbb_load(void **lib_out, tbb_api_t *api) {
    const char *name = os_getenv(TBBMALLOC_LIB_ENV);
    if (!name || !*name) {
        name = TBBMALLOC_LIB_DEFAULT;
    }
    void *lib = os_dlopen(name);
    if (!lib) {
        LOG_ERR(
            "scalable pool: cannot load tbbmalloc \"%s\" (%s); " TBBMALLOC_FIX,
            name, os_dlerror());
        return UMF_RESULT_ERROR_UNKNOWN;
    }
    for (size_t i = 0; i < ARRAY_SIZE(tbb_symbols); i++) {
        void *addr = os_dlsym(lib, tbb_symbols[i].mangled);
        if (!addr) {
            // dlerror first: dlclose would replace its text.
            LOG_ERR("scalable pool: \"%s\" lacks %s (%s); " TBBMALLOC_FIX, name,
                    tbb_symbols[i].name, os_dlerror());
            os_dlclose(lib);
            return UMF_RESULT_ERROR_UNKNOWN;
        }
        memcpy((char *)api + tbb_symbols[i].offset, &addr, sizeof(addr));
    }
    *lib_out = lib;
    return UMF_RESULT_SUCCESS;
}

// --- Pool state ---

typedef struct scalable_pool_t {
    umf_memory_provider_handle_t provider;
    tbb_pool_t *tbb_pool;
    tbb_api_t tbb;
    void *lib;             // our reference on tbbmalloc
    bool zero_purge;       // the provider's forced purge leaves zero pages
    bool checks;           // misuse checks on (the live-block map)
    bool checks_stop;      // ... and a misuse aborts (else: refused)
    uint64_t serial;       // unique per pool created (never 0)
    unsigned slot;         // in the magazine tables; SP_TLS_SLOTS: none
    ut_exit_guard_t guard; // around this pool's tbbmalloc key (thread.h)
} scalable_pool_t;

static _Atomic uint64_t sp_serials;

// Magazines (see the top of the file): blocks of up to SP_MAG_MAX_SIZE
// bytes in tbbmalloc's size classes (counted at the first pool's set-up),
// SP_MAG_CAP per class.
#define SP_TLS_SLOTS    64
#define SP_MAG_MAX_SIZE 512
#define SP_MAG_CLASSES  32
#define SP_MAG_CAP      32

typedef struct sp_mag_t {
    uint64_t serial; // the pool whose blocks it holds; 0: none
    uint8_t n[SP_MAG_CLASSES];
    void *b[SP_MAG_CLASSES][SP_MAG_CAP];
} sp_mag_t;

// A thread's magazines, by pool slot (the last entry stays NULL: pools
// without a slot).
typedef struct sp_thread_t {
    sp_mag_t *mag[SP_TLS_SLOTS + 1];
} sp_thread_t;

// Per thread, for all scalable pools. One struct, so the reset at the start
// of a call touches a single cache line, private to this thread.
typedef struct sp_tls_t {
    umf_result_t last_error;     // reported by get_last_allocation_error
    const void *last_error_pool; // the pool whose call set last_error
    umf_result_t alloc_failed;   // the provider refused raw memory in this call
    umf_result_t free_failed;    // the provider refused a raw free in this call
    ut_thread_t *gate;           // from ut_gate_enter, for ut_gate_leave
    uint64_t armed;              // serial of the pool last armed
    ut_thread_t *ut;             // this thread's record (one TLS lookup)
    sp_thread_t *mt;             // magazines; NULL until the first is made
} sp_tls_t;

static _Thread_local sp_tls_t tls_sp;

// This thread's block, computed once per call: the empty asm keeps the
// compiler from re-deriving the TLS address (a descriptor call) after every
// barrier of the gate.
static inline sp_tls_t *sp_tls(void) {
    sp_tls_t *t = &tls_sp;
    __asm__("" : "+r"(t));
    return t;
}

// --- Fork gate ---
//
// Every call into tbbmalloc passes libumf's fork gate (thread.h): the fork
// handler of rank FORK_RANK_GATE waits until no other thread is inside.

static ut_gate_t *sp_gate; // set before the first pool exists

// tbbmalloc's TSD destructor for a pool (which releases the thread's
// caches under tbbmalloc's locks) runs outside any pool call: the pool's
// exit guard keeps the exiting thread inside the gate while it runs
// (thread.h). Armed on a thread's first call of each pool (and again when
// it switches pools: a cheap check then).
static UMF_NOINLINE UMF_COLD void sp_guard(sp_tls_t *t,
                                           const scalable_pool_t *sp) {
    umf_private_thread_exit_guard_arm(&sp->guard);
    t->armed = sp->serial;
}

// sp: the pool called (NULL: none to arm, at creation and destruction).
static inline void gate_enter(sp_tls_t *t, const scalable_pool_t *sp) {
    ut_thread_t *u = t->ut;
    if (unlikely(!u)) {
        u = t->ut = ut_self(); // lives as long as the thread
    }
    t->gate = ut_gate_enter(sp_gate, u);
    if (sp && unlikely(t->armed != sp->serial)) {
        sp_guard(t, sp);
    }
}

static inline void gate_leave(sp_tls_t *t) {
    ut_gate_leave(sp_gate, t->gate);
}

// --- Magazines (see the top of the file) ---

static pthread_mutex_t sp_slot_lock = PTHREAD_MUTEX_INITIALIZER;
// Serial of the pool in each slot; 0: free. Guarded by sp_slot_lock.
static uint64_t sp_slot_serial[SP_TLS_SLOTS];
static const scalable_pool_t *sp_slot_pool[SP_TLS_SLOTS];
// The class of each size up to SP_MAG_MAX_SIZE and each class's size;
// written once (sp_mag_classes_init, under sp_slot_lock) before sp_mag_on,
// on the first magazine's making (not at pool creation, which takes
// nothing from the provider).
static uint8_t sp_mag_cls[SP_MAG_MAX_SIZE + 1];
static uint16_t sp_mag_size[SP_MAG_CLASSES];
static _Atomic bool sp_mag_on;
static _Atomic bool sp_mag_tried; // classes looked for (sp_slot_lock)
static int sp_ut_slot = -1;       // our slot in libumf's per-thread records

// tbbmalloc's size classes up to SP_MAG_MAX_SIZE, from the sizes it gives
// (rml::pool_msize) for each request size, with every class checked to
// come back as itself. pre: inside the gate, sp_slot_lock held.
static void sp_mag_classes_init(const scalable_pool_t *sp) {
    sp_mag_tried = true;
    unsigned ncls = 0;
    size_t prev = 0;
    for (size_t size = 1; size <= SP_MAG_MAX_SIZE; size++) {
        void *p = sp->tbb.pool_malloc(sp->tbb_pool, size);
        if (!p) {
            LOG_INFO("no memory for tbbmalloc's size classes: scalable pools "
                     "run without magazines");
            return;
        }
        size_t real = sp->tbb.pool_msize(sp->tbb_pool, p);
        sp->tbb.pool_free(sp->tbb_pool, p);
        if (real < size || real > SP_MAG_MAX_SIZE ||
            (real != prev && ncls == SP_MAG_CLASSES)) {
            LOG_INFO("tbbmalloc's size %zu for %zu bytes: scalable pools run "
                     "without magazines",
                     real, size);
            return;
        }
        if (real != prev) {
            sp_mag_size[ncls++] = (uint16_t)real;
            prev = real;
        }
        sp_mag_cls[size] = (uint8_t)(ncls - 1);
    }
    for (unsigned c = 0; c < ncls; c++) {
        if (sp_mag_cls[sp_mag_size[c]] != c) {
            LOG_INFO("tbbmalloc's class of %u bytes is not itself: scalable "
                     "pools run without magazines",
                     (unsigned)sp_mag_size[c]);
            return;
        }
    }
    atomic_store_explicit(&sp_mag_on, true, memory_order_release);
}

static void sp_thread_release(void *arg, bool own_thread);

static const ut_client_t sp_ut_client = {
    .name = "scalable pools",
    .release = sp_thread_release,
};

// A slot for a new pool (and, the first time, our per-thread client).
// pre: inside the gate.
static void sp_slot_take(scalable_pool_t *sp) {
    static bool registered;
    sp->slot = SP_TLS_SLOTS;
    pthread_mutex_lock(&sp_slot_lock);
    if (!registered) {
        registered = true;
        sp_ut_slot = ut_client_register(&sp_ut_client);
        if (sp_ut_slot < 0) {
            sp_mag_tried = true;
            LOG_INFO("no per-thread slot left: scalable pools run without "
                     "magazines");
        }
    }
    for (unsigned i = 0; i < SP_TLS_SLOTS && sp_ut_slot >= 0; i++) {
        if (!sp_slot_serial[i]) {
            sp_slot_serial[i] = sp->serial;
            sp_slot_pool[i] = sp;
            sp->slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&sp_slot_lock);
}

// The pool's slot is free again: no thread gives blocks back to it from
// now on. pre: inside the gate.
static void sp_slot_release(const scalable_pool_t *sp) {
    if (sp->slot == SP_TLS_SLOTS) {
        return;
    }
    pthread_mutex_lock(&sp_slot_lock);
    sp_slot_serial[sp->slot] = 0;
    sp_slot_pool[sp->slot] = NULL;
    pthread_mutex_unlock(&sp_slot_lock);
}

// Gives m's blocks back to the pool still in `slot` with m's serial, if
// any, and frees m. pre: inside the gate (or the only thread of a fork
// child).
static void sp_mag_drop(sp_mag_t *m, unsigned slot) {
    pthread_mutex_lock(&sp_slot_lock);
    const scalable_pool_t *sp = sp_slot_pool[slot];
    if (sp && m->serial == sp_slot_serial[slot]) {
        for (unsigned c = 0; c < SP_MAG_CLASSES; c++) {
            for (unsigned j = 0; j < m->n[c]; j++) {
                (void)sp->tbb.pool_free(sp->tbb_pool, m->b[c][j]);
            }
        }
    }
    pthread_mutex_unlock(&sp_slot_lock);
    ba_free(m);
}

// Thread exit (own_thread), or a thread gone in a fork child.
static void sp_thread_release(void *arg, bool own_thread) {
    sp_thread_t *mt = arg;
    ut_thread_t *g = NULL;
    if (own_thread) {
        g = ut_gate_enter(sp_gate, ut_self());
        tls_sp.mt = NULL;
    }
    for (unsigned i = 0; i < SP_TLS_SLOTS; i++) {
        if (mt->mag[i]) {
            sp_mag_drop(mt->mag[i], i);
        }
    }
    if (own_thread) {
        ut_gate_leave(sp_gate, g);
    }
    ba_free(mt);
}

// Makes (or takes over) this thread's magazine for sp after a call of the
// general path; nothing when the thread is past its TSD destructors or
// out of memory.
static UMF_NOINLINE UMF_COLD void sp_mag_make(sp_tls_t *t,
                                              const scalable_pool_t *sp) {
    if (!atomic_load_explicit(&sp_mag_on, memory_order_acquire)) {
        if (atomic_load_explicit(&sp_mag_tried, memory_order_relaxed)) {
            return; // no magazines in this process (logged once)
        }
        gate_enter(t, sp);
        pthread_mutex_lock(&sp_slot_lock);
        if (!sp_mag_tried) {
            sp_mag_classes_init(sp);
        }
        pthread_mutex_unlock(&sp_slot_lock);
        gate_leave(t);
        if (!atomic_load_explicit(&sp_mag_on, memory_order_acquire)) {
            return;
        }
    }
    sp_thread_t *mt = t->mt;
    if (!mt) {
        mt = ba_calloc(1, sizeof(*mt));
        if (!mt) {
            return;
        }
        if (!ut_set(sp_ut_slot, mt)) {
            ba_free(mt);
            return;
        }
        t->mt = mt;
    }
    sp_mag_t *m = mt->mag[sp->slot];
    if (!m) {
        m = ba_calloc(1, sizeof(*m));
        if (!m) {
            return;
        }
        mt->mag[sp->slot] = m;
    }
    // A destroyed pool's blocks went with it.
    memset(m->n, 0, sizeof(m->n));
    m->serial = sp->serial;
}

// This thread's magazine for sp, or NULL.
static inline sp_mag_t *sp_mag(const sp_tls_t *t, const scalable_pool_t *sp) {
    if (unlikely(!t->mt)) {
        return NULL;
    }
    sp_mag_t *m = t->mt->mag[sp->slot];
    return likely(m != NULL) && likely(m->serial == sp->serial) ? m : NULL;
}

// An empty class of m takes half a magazine from tbbmalloc and returns
// one block, or NULL (the general path then reports why).
static UMF_NOINLINE void *sp_mag_refill(sp_tls_t *t, const scalable_pool_t *sp,
                                        sp_mag_t *m, unsigned c) {
    size_t size = sp_mag_size[c];
    unsigned n = 0;
    gate_enter(t, sp);
    while (n < SP_MAG_CAP / 2) {
        void *p = sp->tbb.pool_malloc(sp->tbb_pool, size);
        if (!p) {
            break;
        }
        m->b[c][n++] = p;
    }
    gate_leave(t);
    if (n == 0) {
        return NULL;
    }
    m->n[c] = (uint8_t)(n - 1);
    return m->b[c][n - 1];
}

// A full class of m gives its older half back to tbbmalloc.
static UMF_NOINLINE void sp_mag_flush(sp_tls_t *t, const scalable_pool_t *sp,
                                      sp_mag_t *m, unsigned c) {
    const unsigned half = SP_MAG_CAP / 2;
    gate_enter(t, sp);
    for (unsigned j = 0; j < half; j++) {
        (void)sp->tbb.pool_free(sp->tbb_pool, m->b[c][j]);
    }
    gate_leave(t);
    memmove(&m->b[c][0], &m->b[c][half],
            (SP_MAG_CAP - half) * sizeof(m->b[c][0]));
    m->n[c] = (uint8_t)(SP_MAG_CAP - half);
}

// --- Callbacks from tbbmalloc: raw memory from the provider ---

static void *sp_raw_alloc(intptr_t pool_id, size_t *bytes) {
    scalable_pool_t *sp = (scalable_pool_t *)pool_id;
    void *ptr = NULL;
    umf_result_t ret = umfMemoryProviderAlloc(sp->provider, *bytes, 0, &ptr);
    if (ret != UMF_RESULT_SUCCESS || !ptr) {
        LOG_DEBUG("provider refused %zu bytes: %d", *bytes, (int)ret);
        tls_sp.alloc_failed =
            ret != UMF_RESULT_SUCCESS ? ret : UMF_RESULT_ERROR_UNKNOWN;
        return NULL;
    }
    return ptr;
}

static int sp_raw_free(intptr_t pool_id, void *raw_ptr, size_t raw_bytes) {
    scalable_pool_t *sp = (scalable_pool_t *)pool_id;
    if (sp->checks) {
        bm_forget(raw_ptr, raw_bytes); // blocks never freed (pool destroy)
    }
    umf_result_t ret = umfMemoryProviderFree(sp->provider, raw_ptr, raw_bytes);
    if (ret != UMF_RESULT_SUCCESS) {
        LOG_ERR("provider could not free %p (%zu bytes): %d", raw_ptr,
                raw_bytes, (int)ret);
        tls_sp.free_failed = ret;
        return -1;
    }
    return 0;
}

// --- Life cycle ---

static umf_result_t sp_initialize(umf_memory_provider_handle_t provider,
                                  void *params, void **priv) {
    CHECK_ARG(provider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "provider is NULL");
    CHECK_ARG(priv != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "pool is NULL");
    const struct umf_scalable_pool_params_t *in =
        params ? params : &sp_default_params;

    umf_result_t ret;
    scalable_pool_t *sp = ba_calloc(1, sizeof(*sp));
    if (!sp) {
        LOG_ERR("out of host memory for a scalable pool");
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    sp->provider = provider;
    sp->zero_purge = umf_private_provider_zero_filled(provider);
    sp->checks = in->checks != UMF_SCALABLE_POOL_CHECKS_OFF;
    sp->checks_stop = in->checks == UMF_SCALABLE_POOL_CHECKS_ABORT;

    sp_gate = umf_private_thread_gate();
    ret = tbb_load(&sp->lib, &sp->tbb);
    if (ret != UMF_RESULT_SUCCESS) {
        goto err_free_pool;
    }

    // tbbmalloc copies the policy; it need not outlive this call.
    tbb_policy_t policy = {
        .raw_alloc = sp_raw_alloc,
        .raw_free = sp_raw_free,
        .granularity = in->granularity,
        .version = TBB_POLICY_VERSION,
        .fixed_pool = 0,
        .keep_all_memory = in->keep_all_memory,
        .reserved = 0,
    };
    sp_tls_t *g = sp_tls();
    // The guard's keys around the key tbbmalloc makes for the pool.
    umf_private_thread_exit_guard_open(&sp->guard);
    gate_enter(g, NULL);
    int rc = sp->tbb.pool_create_v1((intptr_t)sp, &policy, &sp->tbb_pool);
    gate_leave(g);
    umf_private_thread_exit_guard_close(&sp->guard);
    if (rc != TBB_POOL_OK || !sp->tbb_pool) {
        umf_private_thread_exit_guard_delete(&sp->guard);
        LOG_ERR("rml::pool_create_v1 failed (MemPoolError %d, granularity "
                "%zu)",
                rc, in->granularity);
        ret = UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
        goto err_close_lib;
    }
    sp->serial = atomic_fetch_add(&sp_serials, 1) + 1;
    gate_enter(g, NULL);
    sp_slot_take(sp);
    gate_leave(g);
    *priv = sp;
    return UMF_RESULT_SUCCESS;

err_close_lib:
    os_dlclose(sp->lib);
err_free_pool:
    ba_free(sp);
    return ret;
}

// pool_destroy hands every region back through sp_raw_free, keep-all or
// not; outstanding allocations die with it.
static void sp_finalize(void *priv) {
    scalable_pool_t *sp = priv;
    sp_tls_t *g = sp_tls();
    gate_enter(g, NULL);
    sp_slot_release(sp);
    bool ok = sp->tbb.pool_destroy(sp->tbb_pool);
    gate_leave(g);
    umf_private_thread_exit_guard_delete(&sp->guard);
    if (!ok) {
        LOG_ERR("rml::pool_destroy failed; provider memory may be lost");
    }
    if (os_dlclose(sp->lib) != 0) {
        LOG_ERR("dlclose of tbbmalloc failed (%s)", os_dlerror());
    }
    ba_free(sp);
}

// --- Allocation ---

// A call resets the last error only when this pool's call set it: a call
// of another scalable pool in between (under the proxy, the program's own
// malloc, e.g. in a test's assertion) does not wipe it before it is read.
static inline void sp_call_begin(sp_tls_t *t, const scalable_pool_t *sp) {
    if (t->last_error_pool == sp) {
        t->last_error = UMF_RESULT_SUCCESS;
    }
    t->alloc_failed = UMF_RESULT_SUCCESS;
}

static inline void sp_set_error(const scalable_pool_t *sp, umf_result_t e) {
    tls_sp.last_error = e;
    tls_sp.last_error_pool = sp;
}

// tbbmalloc returned NULL: say why, from what the callbacks noted.
static UMF_NOINLINE UMF_COLD void *
sp_alloc_fail_slow(const scalable_pool_t *sp) {
    sp_set_error(sp, tls_sp.alloc_failed != UMF_RESULT_SUCCESS
                         ? UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY
                         : UMF_RESULT_ERROR_UNKNOWN);
    return NULL;
}

// A free or realloc of a pointer the live-block map does not know: a
// double free, a pointer inside a block, a pointer this pool never handed
// out. Nothing changes.
static UMF_NOINLINE UMF_COLD umf_result_t sp_misuse(const scalable_pool_t *sp,
                                                    const void *ptr) {
    return (umf_result_t)umf_misuse_report("scalable", "", sp->checks_stop, ptr,
                                           UMF_MISUSE_NOT_LIVE);
}

static void *sp_malloc(void *priv, size_t size) {
    scalable_pool_t *sp = priv;
    sp_tls_t *g = sp_tls();
    sp_call_begin(g, sp);
    if (size - 1 < SP_MAG_MAX_SIZE) {
        sp_mag_t *m = sp_mag(g, sp);
        if (likely(m != NULL)) {
            unsigned c = sp_mag_cls[size];
            void *p = likely(m->n[c]) ? m->b[c][--m->n[c]]
                                      : sp_mag_refill(g, sp, m, c);
            if (likely(p != NULL)) {
                if (sp->checks) {
                    bm_mark(p);
                }
                umf_tsan_acquire(p);
                umf_tsan_acquire(sp);
                return p;
            }
        } else if (sp->slot != SP_TLS_SLOTS) {
            sp_mag_make(g, sp); // from the next call on
        }
    }
    // tbbmalloc serves size 0 with a unique minimal block.
    gate_enter(g, sp);
    void *ptr = sp->tbb.pool_malloc(sp->tbb_pool, size);
    gate_leave(g);
    if (unlikely(!ptr)) {
        return sp_alloc_fail_slow(sp);
    }
    if (sp->checks) {
        bm_mark(ptr);
    }
    umf_tsan_acquire(ptr);
    umf_tsan_acquire(sp);
    return ptr;
}

static UMF_NOINLINE UMF_COLD void *
sp_calloc_overflow_slow(const scalable_pool_t *sp, size_t num, size_t size) {
    LOG_ERR("calloc of %zu x %zu bytes overflows size_t", num, size);
    sp_set_error(sp, UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    return NULL;
}

// Blocks from this size up are cleared by the provider's forced purge where
// it leaves zero pages (the OS provider): the kernel then hands out zero
// pages on first touch, and a large calloc of which the program uses a
// little costs little (tbbmalloc keeps no record of which pages are zero).
#define SP_PURGE_CLEAR_MIN ((size_t)1 << 20)

static void sp_clear(const scalable_pool_t *sp, void *ptr, size_t n) {
    if (n >= SP_PURGE_CLEAR_MIN && sp->zero_purge) {
        size_t pg = os_page_size();
        uintptr_t b = (uintptr_t)ptr, e = b + n;
        uintptr_t lo = (b + pg - 1) & ~(uintptr_t)(pg - 1);
        uintptr_t hi = e & ~(uintptr_t)(pg - 1);
        if (umfMemoryProviderPurgeForce(sp->provider, (void *)lo, hi - lo) ==
            UMF_RESULT_SUCCESS) {
            memset(ptr, 0, lo - b);
            memset((void *)hi, 0, e - hi);
            return;
        }
    }
    memset(ptr, 0, n);
}

static void *sp_calloc(void *priv, size_t num, size_t size) {
    size_t bytes;
    if (unlikely(__builtin_mul_overflow(num, size, &bytes))) {
        sp_call_begin(sp_tls(), priv);
        return sp_calloc_overflow_slow(priv, num, size);
    }
    void *ptr = sp_malloc(priv, bytes);
    if (ptr) {
        sp_clear(priv, ptr, bytes); // reused blocks hold old data
    }
    return ptr;
}

static void *sp_realloc(void *priv, void *ptr, size_t size) {
    scalable_pool_t *sp = priv;
    if (!ptr) {
        return sp_malloc(priv, size);
    }
    sp_tls_t *g = sp_tls();
    sp_call_begin(g, sp);
    // Unmarked first: once tbbmalloc has it back, another thread may get
    // (and mark) the same address.
    if (sp->checks && unlikely(!bm_unmark(ptr))) {
        sp_set_error(sp, sp_misuse(sp, ptr));
        return NULL;
    }
    if (size == 0) {
        // free semantics: NULL back, and SUCCESS unless the free failed.
        g->free_failed = UMF_RESULT_SUCCESS;
        umf_tsan_release(ptr);
        umf_tsan_release(sp);
        gate_enter(g, sp);
        bool ok = sp->tbb.pool_free(sp->tbb_pool, ptr);
        gate_leave(g);
        if (!ok) {
            sp_set_error(sp, g->free_failed != UMF_RESULT_SUCCESS
                                 ? g->free_failed
                                 : UMF_RESULT_ERROR_UNKNOWN);
        }
        return NULL;
    }
    umf_tsan_release(ptr);
    umf_tsan_release(sp);
    gate_enter(g, sp);
    void *out = sp->tbb.pool_realloc(sp->tbb_pool, ptr, size);
    gate_leave(g);
    if (sp->checks) {
        bm_mark(out ? out : ptr); // on failure ptr is left as it was
    }
    if (unlikely(!out)) {
        return sp_alloc_fail_slow(sp); // ptr is left as it was
    }
    umf_tsan_acquire(out);
    umf_tsan_acquire(sp);
    return out;
}

static UMF_NOINLINE UMF_COLD void *
sp_bad_alignment_slow(const scalable_pool_t *sp, size_t alignment) {
    LOG_ERR("alignment %zu is not a power of two (0 and 1 mean none)",
            alignment);
    sp_set_error(sp, UMF_RESULT_ERROR_INVALID_ARGUMENT);
    return NULL;
}

static void *sp_aligned_malloc(void *priv, size_t size, size_t alignment) {
    scalable_pool_t *sp = priv;
    if (alignment <= 1) {
        return sp_malloc(priv, size);
    }
    sp_tls_t *g = sp_tls();
    sp_call_begin(g, sp);
    if (unlikely(!is_pow2(alignment))) {
        return sp_bad_alignment_slow(sp, alignment);
    }
    // tbbmalloc refuses size 0 here; serve it like malloc(0) does.
    gate_enter(g, sp);
    void *ptr =
        sp->tbb.pool_aligned_malloc(sp->tbb_pool, size ? size : 1, alignment);
    gate_leave(g);
    if (unlikely(!ptr)) {
        return sp_alloc_fail_slow(sp);
    }
    if (sp->checks) {
        bm_mark(ptr);
    }
    umf_tsan_acquire(ptr);
    umf_tsan_acquire(sp);
    return ptr;
}

static size_t sp_malloc_usable_size(void *priv, void *ptr) {
    scalable_pool_t *sp = priv;
    if (!ptr || (sp->checks && !bm_live(ptr))) {
        return 0; // not a live block
    }
    sp_tls_t *g = sp_tls();
    gate_enter(g, sp);
    size_t n = sp->tbb.pool_msize(sp->tbb_pool, ptr);
    gate_leave(g);
    return n;
}

static UMF_NOINLINE UMF_COLD umf_result_t sp_free_fail_slow(void *ptr) {
    umf_result_t ret = tls_sp.free_failed != UMF_RESULT_SUCCESS
                           ? tls_sp.free_failed
                           : UMF_RESULT_ERROR_UNKNOWN;
    LOG_ERR("rml::pool_free(%p) failed: %d", ptr, (int)ret);
    return ret;
}

static umf_result_t sp_free(void *priv, void *ptr) {
    scalable_pool_t *sp = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    if (sp->checks && unlikely(!bm_unmark(ptr))) {
        return sp_misuse(sp, ptr);
    }
    sp_tls_t *g = sp_tls();
    umf_tsan_release(ptr);
    umf_tsan_release(sp);
    sp_mag_t *m = sp_mag(g, sp);
    if (likely(m != NULL)) {
        // Outside the gate: pool_msize reads the block's header, no lock.
        size_t size = sp->tbb.pool_msize(sp->tbb_pool, ptr);
        if (size - 1 < SP_MAG_MAX_SIZE) {
            unsigned c = sp_mag_cls[size];
            if (unlikely(m->n[c] == SP_MAG_CAP)) {
                sp_mag_flush(g, sp, m, c);
            }
            m->b[c][m->n[c]++] = ptr;
            return UMF_RESULT_SUCCESS;
        }
    }
    g->free_failed = UMF_RESULT_SUCCESS;
    gate_enter(g, sp);
    bool ok = sp->tbb.pool_free(sp->tbb_pool, ptr);
    gate_leave(g);
    if (unlikely(!ok)) {
        return sp_free_fail_slow(ptr);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t sp_get_last_allocation_error(void *priv) {
    (void)priv; // per thread, shared by all scalable pools (see sp_call_begin)
    return tls_sp.last_error;
}

// --- Ops ---

// Never written by the library. Not `const` because the contract returns
// a non-const pointer: a program writing through it must not fault.
static umf_memory_pool_ops_t scalable_pool_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = sp_initialize,
    .finalize = sp_finalize,
    .malloc = sp_malloc,
    .calloc = sp_calloc,
    .realloc = sp_realloc,
    .aligned_malloc = sp_aligned_malloc,
    .malloc_usable_size = sp_malloc_usable_size,
    .free = sp_free,
    .get_last_allocation_error = sp_get_last_allocation_error,
};

UMF_EXPORT umf_memory_pool_ops_t *umfScalablePoolOps(void) {
    return &scalable_pool_ops;
}
