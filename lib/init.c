/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * init.c - umfInit/umfTearDown and the global state they own: the logger,
 * the tracker, the predefined memspaces and the cached hwloc topology.
 *
 * States: NEVER (nothing set up) -> UP -> DOWN -> UP ... umfInit counts
 * users; the library's constructor is one of them. Any entry point that
 * needs global state calls umf_init_ensure(), which sets up from NEVER
 * without counting a user, so the API works before our constructor ran
 * (e.g. from another library's constructor). After an explicit tear-down
 * (DOWN) nothing is set up implicitly again: umfPoolCreate fails and
 * umfPoolByPtr answers NULL until the next umfInit, as the contract says.
 *
 * The tracker object outlives tear-down while pools still use it (each live
 * pool holds a reference; their frees must still unregister) and, under the
 * proxy, until exit. At most one tracker object exists at a time.
 *
 * Locking: init_lock guards the count, the state and the tracker object.
 * Nothing here is on a fast path.
 */

#include "init.h"

#include <pthread.h>
#include <string.h>

#include <umf.h>

#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "log.h"
#include "memspaces/memspaces_predefined.h"
#include "os_linux.h"
#include "thread.h"
#include "topology.h"
#include "umf_private.h"

enum { ST_NEVER, ST_UP, ST_DOWN };

_Atomic(tracker_t *) umf_tracker_pub;

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int init_state = ST_NEVER;
static unsigned init_users;    // umfInit calls minus umfTearDown calls
static unsigned pools_alive;   // pools holding the tracker object
static tracker_t *tracker_obj; // the one tracker, published or not
static bool fork_hooks_installed;
// Set by libumf_proxy.so's constructor (umf_private_proxy_present): the
// program's malloc is a pool, so the tracker must outlive every destructor.
static _Atomic bool proxy_present;

bool umf_under_proxy(void) {
    return atomic_load_explicit(&proxy_present, memory_order_acquire);
}

// In no public header: called by libumf_proxy.so before it serves any
// allocation from a pool.
UMF_EXPORT void umf_private_proxy_present(void) {
    atomic_store_explicit(&proxy_present, true, memory_order_release);
}

static void tracker_fork_prepare_cur(void) {
    if (tracker_obj) {
        tracker_fork_prepare(tracker_obj);
    }
}

static void tracker_fork_parent_cur(void) {
    if (tracker_obj) {
        tracker_fork_parent(tracker_obj);
    }
}

static void tracker_fork_child_cur(void) {
    if (tracker_obj) {
        tracker_fork_child(tracker_obj);
    }
}

// The core's fork handlers; pools, providers and IPC register their own
// when first used.
static const fork_handler_t core_fork_handlers[] = {
    {.name = "life cycle",
     .rank = FORK_RANK_INIT,
     .prepare = init_fork_prepare,
     .parent = init_fork_parent,
     .child = init_fork_child},
    {.name = "predefined memspaces",
     .rank = FORK_RANK_MEMSPACES,
     .prepare = memspaces_predefined_fork_prepare,
     .parent = memspaces_predefined_fork_parent,
     .child = memspaces_predefined_fork_child},
    {.name = "topology",
     .rank = FORK_RANK_TOPOLOGY,
     .prepare = topology_fork_prepare,
     .parent = topology_fork_parent,
     .child = topology_fork_child},
    // tracker_obj changes only under init_lock, which is held from the
    // prepare of rank FORK_RANK_INIT to the end of the fork.
    {.name = "tracker",
     .rank = FORK_RANK_TRACKER,
     .prepare = tracker_fork_prepare_cur,
     .parent = tracker_fork_parent_cur,
     .child = tracker_fork_child_cur},
};

// The fork registry's runner and the core's handlers, once, before
// init_lock is taken: the registry's lock is held across a whole fork,
// while init_lock is taken inside it (rank FORK_RANK_INIT), so no
// registration may happen under init_lock.
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_install_err;

static void fork_setup(void) {
    fork_install_err = fork_hooks_install();
    for (size_t i = 0; i < ARRAY_SIZE(core_fork_handlers); i++) {
        (void)fork_register(&core_fork_handlers[i]);
    }
    ba_fork_register();
    thread_fork_register();
}

// pre: init_lock held.
static int setup_locked(void) {
    log_init();
    if (fork_install_err && !fork_hooks_installed) {
        LOG_ERR("pthread_atfork failed; fork() in a threaded program may "
                "deadlock in the child");
        fork_hooks_installed = true;
    }
    if (!tracker_obj) {
        tracker_obj = tracker_create();
        if (!tracker_obj) {
            LOG_ERR("cannot create the allocation tracker");
            return -1;
        }
    }
    // Pairs with the acquire load in umf_tracker().
    atomic_store_explicit(&umf_tracker_pub, tracker_obj, memory_order_release);
    atomic_store_explicit(&init_state, ST_UP, memory_order_release);
    LOG_DEBUG("UMF %s set up", PACKAGE_VERSION);
    return 0;
}

// pre: init_lock held.
static void maybe_free_tracker_locked(void) {
    if (atomic_load_explicit(&init_state, memory_order_relaxed) == ST_UP ||
        pools_alive > 0 || !tracker_obj || umf_under_proxy()) {
        return;
    }
    tracker_destroy(tracker_obj);
    tracker_obj = NULL;
}

static void teardown_locked(void) {
    LOG_DEBUG("UMF tearing down (%u pools alive)", pools_alive);
    atomic_store_explicit(&init_state, ST_DOWN, memory_order_release);
    if (!umf_under_proxy()) {
        atomic_store_explicit(&umf_tracker_pub, NULL, memory_order_release);
    }
    if (atomic_load_explicit(&topology_asked, memory_order_relaxed)) {
        memspaces_predefined_fini(); // they name nodes of the topology
        topology_fini();
    }
    maybe_free_tracker_locked();
}

UMF_EXPORT int umfInit(void) {
    int ret = 0;
    pthread_once(&fork_once, fork_setup);
    pthread_mutex_lock(&init_lock);
    if (init_users++ == 0 &&
        atomic_load_explicit(&init_state, memory_order_relaxed) != ST_UP) {
        ret = setup_locked();
    } else if (atomic_load_explicit(&init_state, memory_order_relaxed) !=
               ST_UP) {
        ret = -1; // an earlier set-up failed; the contract says no retry
    }
    pthread_mutex_unlock(&init_lock);
    return ret;
}

UMF_EXPORT void umfTearDown(void) {
    pthread_mutex_lock(&init_lock);
    if (init_users == 0) {
        // More tear-downs than inits: upstream wraps; we refuse.
        LOG_ERR("umfTearDown called more times than umfInit; ignored");
    } else if (--init_users == 0) {
        teardown_locked();
    }
    pthread_mutex_unlock(&init_lock);
}

UMF_EXPORT int umfGetCurrentVersion(void) {
    return UMF_VERSION_CURRENT;
}

int umf_init_ensure(void) {
    int st = atomic_load_explicit(&init_state, memory_order_acquire);
    if (likely(st == ST_UP)) {
        return 0;
    }
    int ret;
    pthread_once(&fork_once, fork_setup);
    pthread_mutex_lock(&init_lock);
    st = atomic_load_explicit(&init_state, memory_order_relaxed);
    if (st == ST_NEVER) {
        ret = setup_locked();
        if (ret) {
            // Do not retry on every call, as after a failed umfInit.
            atomic_store_explicit(&init_state, ST_DOWN, memory_order_relaxed);
        }
    } else {
        ret = st == ST_UP ? 0 : -1;
    }
    pthread_mutex_unlock(&init_lock);
    return ret;
}

tracker_t *umf_pool_attach(void) {
    if (umf_init_ensure() != 0) {
        return NULL;
    }
    pthread_mutex_lock(&init_lock);
    tracker_t *t = NULL;
    if (atomic_load_explicit(&init_state, memory_order_relaxed) == ST_UP) {
        t = tracker_obj;
        pools_alive++;
    }
    pthread_mutex_unlock(&init_lock);
    return t;
}

void umf_pool_detach(void) {
    pthread_mutex_lock(&init_lock);
    pools_alive--;
    maybe_free_tracker_locked();
    pthread_mutex_unlock(&init_lock);
}

tracker_t *init_tracker_obj(void) {
    return tracker_obj;
}

void init_fork_prepare(void) {
    pthread_mutex_lock(&init_lock);
}

void init_fork_parent(void) {
    pthread_mutex_unlock(&init_lock);
}

void init_fork_child(void) {
    pthread_mutex_unlock(&init_lock); // held by the child's thread
}

// --- Library constructor and destructor ---

__attribute__((constructor)) static void umf_ctor(void) {
    (void)umfInit();
}

__attribute__((destructor)) static void umf_dtor(void) {
    umfTearDown();
}
