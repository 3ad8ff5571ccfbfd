/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.c - makes fork() safe (DESIGN.md invariant 7): before fork every lock
 * of the library is taken, so no other thread holds one at the instant of
 * the fork; afterwards the parent releases them and the child, which has
 * only the forking thread, re-initialises them.
 *
 * Lock order (take in this order, release in reverse; code holding one of
 * these must never take one listed above it). The outer locks come first
 * because code holding them calls the C allocator (hwloc, dlopen), which
 * under libumf_proxy.so is a pool: its gates and locks must come after.
 *   1. init_lock             (init.c)    life cycle, tracker object
 *  1a. predefined memspaces  (memspaces/memspaces_predefined.c) held while
 *      one is built, which loads the topology and allocates
 *   2. topology lock         (topology.c) lazy hwloc load, allocates
 *  --- pools ---
 *   3. the jemalloc pool's fork gate (pools/pool_jemalloc.c, in
 *      libjemalloc_pool, with its own pthread_atfork registered after ours,
 *      so its prepare runs first: it takes the outer locks 1-2 itself,
 *      through umf_private_fork_prepare_outer, before its gate): waits
 *      until no thread is inside jemalloc and holds jp_lock
 *   4. the scalable pool's fork gate (pools/pool_scalable.c): not a lock
 *      but a wait until no thread is inside tbbmalloc, whose own locks have
 *      no fork handlers; a thread inside may take any lock below
 *   5. disjoint pools: the registry, then each pool's bucket, large and map
 *      locks (pools/pool_disjoint.c); a bucket lock is held across provider
 *      calls, which take the locks below
 *  5a. IPC (ipc_cache.c): the registry, then each pool's producer lock and
 *      consumer lock; taken under a disjoint pool's locks (provider free ->
 *      IPC free hook), held across provider IPC ops and tracker writes
 *  --- below the pools ---
 *   6. tracker writer lock   (tracker.c)
 *   7. OS provider registry, then each shared OS provider's lock
 *      (providers/provider_os_memory.c)
 *   8. base allocator locks  (base_alloc.c), in size-class order
 * The tracker allocates nodes with mmap, not the base allocator; an OS
 * provider's lock may be held while its offset map takes a base allocator
 * lock (7 then 8); the base allocator takes no other lock.
 */

#include "fork.h"

#include <pthread.h>

#include "base_alloc.h"
#include "common.h"
#include "init.h"
#include "ipc_cache.h"
#include "memspaces/memspaces_predefined.h"
#include "pools/pool_disjoint_internal.h"
#include "pools/pool_scalable_internal.h"
#include "providers/provider_os_memory_internal.h"
#include "topology.h"
#include "tracker.h"

// Who took the outer locks (1-2) in the fork in progress: libumf's own
// handler, or the jemalloc pool's, which runs first and must take them
// before its gate. The handlers of one fork run in one thread, and glibc
// runs no two forks' handlers at once.
enum { OUTER_FREE, OUTER_BY_UMF, OUTER_BY_POOL };
static int outer_owner = OUTER_FREE;

static void outer_prepare(void) {
    init_fork_prepare();
    memspaces_predefined_fork_prepare();
    topology_fork_prepare();
}

static void outer_parent(void) {
    topology_fork_parent();
    memspaces_predefined_fork_parent();
    init_fork_parent();
}

static void outer_child(void) {
    topology_fork_child();
    memspaces_predefined_fork_child();
    init_fork_child();
}

// For pools in other libraries with fork handlers of their own (the
// jemalloc pool): in no public header.
UMF_EXPORT void umf_private_fork_prepare_outer(void) {
    if (outer_owner == OUTER_FREE) {
        outer_prepare();
        outer_owner = OUTER_BY_POOL;
    }
}

UMF_EXPORT void umf_private_fork_parent_outer(void) {
    if (outer_owner == OUTER_BY_POOL) {
        outer_owner = OUTER_FREE;
        outer_parent();
    }
}

UMF_EXPORT void umf_private_fork_child_outer(void) {
    if (outer_owner == OUTER_BY_POOL) {
        outer_owner = OUTER_FREE;
        outer_child();
    }
}

static void on_prepare(void) {
    if (outer_owner == OUTER_FREE) {
        outer_prepare();
        outer_owner = OUTER_BY_UMF;
    }
    sp_fork_prepare();
    dp_fork_prepare();
    ipc_fork_prepare();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_prepare(t);
    }
    os_provider_fork_prepare();
    ba_fork_prepare();
}

static void on_parent(void) {
    ba_fork_parent();
    os_provider_fork_parent();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_parent(t);
    }
    ipc_fork_parent();
    dp_fork_parent();
    sp_fork_parent();
    if (outer_owner == OUTER_BY_UMF) {
        outer_owner = OUTER_FREE;
        outer_parent();
    }
}

static void on_child(void) {
    ba_fork_child();
    os_provider_fork_child();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_child(t);
    }
    ipc_fork_child();
    dp_fork_child();
    sp_fork_child();
    if (outer_owner == OUTER_BY_UMF) {
        outer_owner = OUTER_FREE;
        outer_child();
    }
}

int fork_hooks_install(void) {
    return pthread_atfork(on_prepare, on_parent, on_child);
}
