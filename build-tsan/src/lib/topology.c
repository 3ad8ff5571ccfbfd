/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * topology.c - lazily loaded hwloc topology shared by the whole library.
 *
 * Locking: topo_lock serialises loading and destruction; readers of a
 * loaded topology take no lock (hwloc allows concurrent read-only use).
 * The published pointer is released after the load completes (pairs with
 * the acquire in topology_get).
 */

#include "topology.h"

#include <pthread.h>
#include <stdatomic.h>

#include "common.h"
#include "log.h"

static pthread_mutex_t topo_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(hwloc_topology_t) topo;

hwloc_topology_t topology_get(void) {
    hwloc_topology_t t = atomic_load_explicit(&topo, memory_order_acquire);
    if (likely(t)) {
        return t;
    }
    pthread_mutex_lock(&topo_lock);
    t = atomic_load_explicit(&topo, memory_order_relaxed);
    if (!t) {
        if (hwloc_topology_init(&t) != 0) {
            LOG_ERR("hwloc_topology_init failed");
            t = NULL;
        } else if (hwloc_topology_load(t) != 0) {
            LOG_ERR("hwloc_topology_load failed");
            hwloc_topology_destroy(t);
            t = NULL;
        } else {
            LOG_DEBUG("hwloc topology loaded: %d NUMA node(s)",
                      hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE));
            atomic_store_explicit(&topo, t, memory_order_release);
        }
    }
    pthread_mutex_unlock(&topo_lock);
    return t;
}

bool topology_has_numa_node(hwloc_topology_t t, unsigned os_index) {
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, o))) {
        if (o->os_index == os_index) {
            return true;
        }
    }
    return false;
}

void topology_fini(void) {
    pthread_mutex_lock(&topo_lock);
    hwloc_topology_t t = atomic_exchange(&topo, NULL);
    if (t) {
        hwloc_topology_destroy(t);
    }
    pthread_mutex_unlock(&topo_lock);
}

void topology_fork_prepare(void) {
    pthread_mutex_lock(&topo_lock);
}

void topology_fork_parent(void) {
    pthread_mutex_unlock(&topo_lock);
}

void topology_fork_child(void) {
    pthread_mutex_unlock(&topo_lock); // held by the child's thread
}
