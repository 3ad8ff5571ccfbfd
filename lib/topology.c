/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * topology.c - lazily loaded hwloc, and the topology shared by the whole
 * library (see topology.h).
 *
 * Locking: topo_lock serialises loading and destruction; readers of a
 * loaded topology take no lock (hwloc allows concurrent read-only use).
 * The published pointer is released after umf_hwloc and the load are
 * complete (pairs with the acquire in topology_get).
 */

#include "topology.h"

#include <pthread.h>
#include <stdatomic.h>

#include "common.h"
#include "log.h"
#include "os_linux.h"

#define HWLOC_LIB_DEFAULT "libhwloc.so.15" // the soname of every hwloc 2.x
#define HWLOC_LIB_ENV     "UMF_HWLOC_LIB"

umf_hwloc_t umf_hwloc;

static pthread_mutex_t topo_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(hwloc_topology_t) topo;
_Atomic bool topology_asked;
static bool hwloc_loaded; // under topo_lock; the library stays mapped

// Loads hwloc and fills umf_hwloc, once (under topo_lock).
static bool hwloc_load_locked(void) {
    if (hwloc_loaded) {
        return true;
    }
    const char *name = os_getenv(HWLOC_LIB_ENV);
    if (!name || !*name) {
        name = HWLOC_LIB_DEFAULT;
    }
    // RTLD_NODELETE (os_dlopen): hwloc stays mapped for the process.
    void *h = os_dlopen(name);
    if (!h) {
        LOG_ERR("cannot load %s (%s): NUMA placement and memspaces are not "
                "available; install the Debian package libhwloc15, or set "
                "%s to the library's path",
                name, os_dlerror(), HWLOC_LIB_ENV);
        return false;
    }
    struct {
        const char *sym;
        void **slot;
    } syms[] = {
        {"hwloc_topology_init", (void **)&umf_hwloc.topology_init},
        {"hwloc_topology_load", (void **)&umf_hwloc.topology_load},
        {"hwloc_topology_destroy", (void **)&umf_hwloc.topology_destroy},
        {"hwloc_get_type_depth", (void **)&umf_hwloc.get_type_depth},
        {"hwloc_get_obj_by_depth", (void **)&umf_hwloc.get_obj_by_depth},
        {"hwloc_bitmap_iszero", (void **)&umf_hwloc.bitmap_iszero},
        {"hwloc_bitmap_isequal", (void **)&umf_hwloc.bitmap_isequal},
        {"hwloc_bitmap_intersects", (void **)&umf_hwloc.bitmap_intersects},
        {"hwloc_memattr_get_targets", (void **)&umf_hwloc.memattr_get_targets},
        {"hwloc_memattr_get_value", (void **)&umf_hwloc.memattr_get_value},
    };
    for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
        void *f = os_dlsym(h, syms[i].sym);
        if (!f) {
            LOG_ERR("%s lacks %s: NUMA placement and memspaces are not "
                    "available (hwloc 2.1 or later is needed)",
                    name, syms[i].sym);
            return false; // stays mapped (RTLD_NODELETE); tried again later
        }
        *syms[i].slot = f;
    }
    hwloc_loaded = true;
    return true;
}

hwloc_topology_t topology_get(void) {
    hwloc_topology_t t = atomic_load_explicit(&topo, memory_order_acquire);
    if (likely(t)) {
        return t;
    }
    pthread_mutex_lock(&topo_lock);
    atomic_store_explicit(&topology_asked, true, memory_order_relaxed);
    t = atomic_load_explicit(&topo, memory_order_relaxed);
    if (!t && hwloc_load_locked()) {
        if (umf_hwloc.topology_init(&t) != 0) {
            LOG_ERR("hwloc_topology_init failed");
            t = NULL;
        } else if (umf_hwloc.topology_load(t) != 0) {
            LOG_ERR("hwloc_topology_load failed");
            umf_hwloc.topology_destroy(t);
            t = NULL;
        } else {
            atomic_store_explicit(&topo, t, memory_order_release);
        }
    }
    pthread_mutex_unlock(&topo_lock);
    return t;
}

hwloc_obj_t topology_next_numa(hwloc_topology_t t, hwloc_obj_t prev) {
    if (prev) {
        return prev->next_cousin;
    }
    int depth = umf_hwloc.get_type_depth(t, HWLOC_OBJ_NUMANODE);
    if (depth == HWLOC_TYPE_DEPTH_UNKNOWN ||
        depth == HWLOC_TYPE_DEPTH_MULTIPLE) {
        return NULL;
    }
    return umf_hwloc.get_obj_by_depth(t, depth, 0);
}

hwloc_obj_t topology_numa_by_os_index(hwloc_topology_t t, unsigned os_index) {
    hwloc_obj_t o = NULL;
    while ((o = topology_next_numa(t, o))) {
        if (o->os_index == os_index) {
            return o;
        }
    }
    return NULL;
}

bool topology_has_numa_node(hwloc_topology_t t, unsigned os_index) {
    return topology_numa_by_os_index(t, os_index) != NULL;
}

void topology_fini(void) {
    pthread_mutex_lock(&topo_lock);
    hwloc_topology_t t = atomic_exchange(&topo, NULL);
    if (t) {
        umf_hwloc.topology_destroy(t);
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
