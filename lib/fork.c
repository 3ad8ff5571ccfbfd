/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.c - makes fork() safe (DESIGN.md invariant 7): before fork every lock
 * of the library is taken, so no other thread holds one at the instant of
 * the fork; afterwards the parent releases them and the child, which has
 * only the forking thread, re-initialises them.
 *
 * Lock order (take in this order, release in reverse; code holding one of
 * these must never take one listed above it):
 *  -2. the jemalloc pool's fork gate (pools/pool_jemalloc.c, in
 *      libjemalloc_pool, with its own pthread_atfork registered after ours,
 *      so its prepare runs first): waits until no thread is inside jemalloc
 *      and holds jp_lock; same reason as -1
 *  -1. the scalable pool's fork gate (pools/pool_scalable.c): not a lock
 *      but a wait until no thread is inside tbbmalloc, whose own locks have
 *      no fork handlers; a thread inside may take any lock below, so it
 *      comes first
 *   0. disjoint pools: the registry, then each pool's bucket, large and map
 *      locks (pools/pool_disjoint.c); a bucket lock is held across provider
 *      calls, which take the locks below
 *   0.5 IPC (ipc_cache.c): the registry, then each pool's producer lock and
 *      consumer lock; taken under a disjoint pool's locks (provider free ->
 *      IPC free hook), held across provider IPC ops and tracker writes
 *   1. init_lock             (init.c)    life cycle, tracker object
 *   2. topology lock         (topology.c) lazy hwloc load
 *   3. tracker writer lock   (tracker.c)
 *   4. OS provider registry, then each shared OS provider's lock
 *      (providers/provider_os_memory.c)
 *   5. base allocator locks  (base_alloc.c), in size-class order
 * The tracker allocates nodes with mmap, not the base allocator; an OS
 * provider's lock may be held while its offset map takes a base allocator
 * lock (4 then 5); the base allocator takes no other lock.
 */

#include "fork.h"

#include <pthread.h>

#include "base_alloc.h"
#include "init.h"
#include "ipc_cache.h"
#include "pools/pool_disjoint_internal.h"
#include "pools/pool_scalable_internal.h"
#include "providers/provider_os_memory_internal.h"
#include "topology.h"
#include "tracker.h"

static void on_prepare(void) {
    sp_fork_prepare();
    dp_fork_prepare();
    ipc_fork_prepare();
    init_fork_prepare();
    topology_fork_prepare();
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
    topology_fork_parent();
    init_fork_parent();
    ipc_fork_parent();
    dp_fork_parent();
    sp_fork_parent();
}

static void on_child(void) {
    ba_fork_child();
    os_provider_fork_child();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_child(t);
    }
    topology_fork_child();
    init_fork_child();
    ipc_fork_child();
    dp_fork_child();
    sp_fork_child();
}

int fork_hooks_install(void) {
    return pthread_atfork(on_prepare, on_parent, on_child);
}
