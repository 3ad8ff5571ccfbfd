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
 *   1. init_lock             (init.c)    life cycle, tracker object
 *   2. topology lock         (topology.c) lazy hwloc load
 *   3. tracker writer lock   (tracker.c)
 *   4. base allocator locks  (base_alloc.c), in size-class order
 * The tracker allocates nodes with mmap, not the base allocator, and the
 * base allocator takes no other lock, so holders of 3 or 4 never climb.
 */

#include "fork.h"

#include <pthread.h>

#include "base_alloc.h"
#include "init.h"
#include "topology.h"
#include "tracker.h"

static void on_prepare(void) {
    init_fork_prepare();
    topology_fork_prepare();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_prepare(t);
    }
    ba_fork_prepare();
}

static void on_parent(void) {
    ba_fork_parent();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_parent(t);
    }
    topology_fork_parent();
    init_fork_parent();
}

static void on_child(void) {
    ba_fork_child();
    tracker_t *t = init_tracker_obj();
    if (t) {
        tracker_fork_child(t);
    }
    topology_fork_child();
    init_fork_child();
}

int fork_hooks_install(void) {
    return pthread_atfork(on_prepare, on_parent, on_child);
}
