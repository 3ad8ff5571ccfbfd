/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspaces_predefined.c - umfMemspaceHostAllGet, ...HighestCapacityGet,
 * ...HighestBandwidthGet and ...LowestLatencyGet.
 *
 * Each memspace is built from the hwloc topology the first time it is
 * asked for (so the topology is loaded only then, never at start-up) and
 * the result, memspace or failure, is kept until tear-down: every Get
 * returns the same pointer, and a platform without HMAT data logs its one
 * line once. How each is chosen:
 *  - host-all: every NUMA node, in hwloc's logical order;
 *  - highest capacity: the same nodes, stably sorted by capacity, largest
 *    first (equal capacities keep host-all order);
 *  - highest bandwidth / lowest latency: every distinct CPU set of a NUMA
 *    node is an initiator; for each, in host-all order, the target local
 *    to it (CPU sets intersect) with the best value is taken, the first in
 *    host-all order on a tie; duplicates are dropped. Initiators with no
 *    value to any local target add nothing. When the platform reports the
 *    attribute for no node at all, or no initiator yields a target, the
 *    Get returns NULL (logged).
 *
 * Locking: slot states are published with release stores and read with
 * acquire loads on the fast path (pairs below); predef_lock serialises
 * building and destruction. Lock order (fork.c): after init_lock, before
 * the topology lock, which building takes.
 */

#include "memspaces/memspaces_predefined.h"

#include <pthread.h>
#include <stdatomic.h>

#include "base_alloc.h"
#include "common.h"
#include "init.h"
#include "log.h"
#include "memspaces/memspace.h"
#include "memspaces/memtarget_numa.h"
#include "topology.h"

enum { SLOT_EMPTY, SLOT_READY, SLOT_FAILED };

typedef struct predef_slot_t {
    _Atomic int state;
    umf_memspace_handle_t ms; // written before state becomes READY
} predef_slot_t;

// Indexed by memspace_kind_t (MEMSPACE_USER unused).
static predef_slot_t slots[MEMSPACE_LOWEST_LATENCY + 1];
static pthread_mutex_t predef_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *kind_name(memspace_kind_t kind) {
    switch (kind) {
    case MEMSPACE_HOST_ALL:
        return "host-all";
    case MEMSPACE_HIGHEST_CAPACITY:
        return "highest-capacity";
    case MEMSPACE_HIGHEST_BANDWIDTH:
        return "highest-bandwidth";
    case MEMSPACE_LOWEST_LATENCY:
        return "lowest-latency";
    default:
        return "user";
    }
}

// --- Builders (pre: predef_lock held) ---

static umf_result_t build_all_nodes(hwloc_topology_t topo,
                                    umf_memspace_handle_t ms) {
    hwloc_obj_t node = NULL;
    while ((node = topology_next_numa(topo, node))) {
        umf_result_t ret = memspace_append_numa(ms, node->os_index);
        if (ret != UMF_RESULT_SUCCESS) {
            return ret;
        }
    }
    if (ms->size == 0) {
        LOG_ERR("hwloc reports no NUMA node");
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t build_highest_capacity(hwloc_topology_t topo,
                                           umf_memspace_handle_t ms) {
    umf_result_t ret = build_all_nodes(topo, ms);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    size_t *caps = ba_alloc(ms->size * sizeof(size_t));
    if (!caps) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (size_t i = 0; i < ms->size; i++) {
        hwloc_obj_t node = topology_numa_by_os_index(topo, ms->targets[i]->id);
        caps[i] = (size_t)node->attr->numanode.local_memory;
    }
    memspace_sort_by_capacity(ms, caps);
    ba_free(caps);
    return UMF_RESULT_SUCCESS;
}

// True when an earlier node (in logical order) has the same CPU set.
static bool initiator_seen(hwloc_topology_t topo, hwloc_obj_t node) {
    hwloc_obj_t o = NULL;
    while ((o = topology_next_numa(topo, o)) && o != node) {
        if (o->cpuset && umf_hwloc.bitmap_isequal(o->cpuset, node->cpuset)) {
            return true;
        }
    }
    return false;
}

static umf_result_t build_best(hwloc_topology_t topo, numa_attr_t attr,
                               umf_memspace_handle_t ms) {
    if (!numa_attr_reported(topo, attr)) {
        LOG_ERR("the platform reports no memory %s (no ACPI HMAT, common on "
                "virtual machines): the %s memspace is not available",
                numa_attr_name(attr),
                attr == NUMA_ATTR_BANDWIDTH ? "highest-bandwidth"
                                            : "lowest-latency");
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    hwloc_obj_t init = NULL;
    while ((init = topology_next_numa(topo, init))) {
        if (!init->cpuset || umf_hwloc.bitmap_iszero(init->cpuset) ||
            initiator_seen(topo, init)) {
            continue;
        }
        hwloc_obj_t best = NULL;
        uint64_t best_v = numa_attr_worst(attr);
        hwloc_obj_t t = NULL;
        while ((t = topology_next_numa(topo, t))) {
            uint64_t v = numa_attr_value(topo, attr, init->cpuset, t);
            if (numa_attr_better(attr, v, best_v)) {
                best = t;
                best_v = v;
            }
        }
        if (!best) {
            LOG_DEBUG("no %s value from the CPUs of NUMA node %u",
                      numa_attr_name(attr), init->os_index);
            continue;
        }
        LOG_DEBUG("best %s from the CPUs of NUMA node %u: node %u (%llu)",
                  numa_attr_name(attr), init->os_index, best->os_index,
                  (unsigned long long)best_v);
        if (!memspace_has_numa_id(ms, best->os_index)) {
            umf_result_t ret = memspace_append_numa(ms, best->os_index);
            if (ret != UMF_RESULT_SUCCESS) {
                return ret;
            }
        }
    }
    if (ms->size == 0) {
        LOG_ERR("the platform reports memory %s, but from no CPU to a NUMA "
                "node local to it",
                numa_attr_name(attr));
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t build(memspace_kind_t kind, umf_memspace_handle_t *out) {
    hwloc_topology_t topo = topology_get(); // logs a failure
    if (!topo) {
        LOG_ERR("no hwloc topology: the %s memspace is not available",
                kind_name(kind));
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    umf_memspace_handle_t ms = NULL;
    umf_result_t ret = memspace_create(kind, &ms);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    switch (kind) {
    case MEMSPACE_HOST_ALL:
        ret = build_all_nodes(topo, ms);
        break;
    case MEMSPACE_HIGHEST_CAPACITY:
        ret = build_highest_capacity(topo, ms);
        break;
    case MEMSPACE_HIGHEST_BANDWIDTH:
        ret = build_best(topo, NUMA_ATTR_BANDWIDTH, ms);
        break;
    case MEMSPACE_LOWEST_LATENCY:
        ret = build_best(topo, NUMA_ATTR_LATENCY, ms);
        break;
    default:
        ret = UMF_RESULT_ERROR_UNKNOWN;
        break;
    }
    if (ret != UMF_RESULT_SUCCESS) {
        memspace_destroy(ms);
        return ret;
    }
    *out = ms;
    return UMF_RESULT_SUCCESS;
}

// --- Get ---

UMF_NOINLINE UMF_COLD static umf_const_memspace_handle_t
predef_get_slow(memspace_kind_t kind) {
    (void)umf_init_ensure(); // logging configured before the first message
    predef_slot_t *s = &slots[kind];
    pthread_mutex_lock(&predef_lock);
    if (atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_EMPTY) {
        umf_memspace_handle_t ms = NULL;
        if (build(kind, &ms) == UMF_RESULT_SUCCESS) {
            s->ms = ms;
            LOG_DEBUG("%s memspace: %zu NUMA node(s)", kind_name(kind),
                      ms->size);
            // Pairs with the acquire loads in predef_get.
            atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
        } else {
            atomic_store_explicit(&s->state, SLOT_FAILED, memory_order_release);
        }
    }
    umf_const_memspace_handle_t ms =
        atomic_load_explicit(&s->state, memory_order_relaxed) == SLOT_READY
            ? s->ms
            : NULL;
    pthread_mutex_unlock(&predef_lock);
    return ms;
}

static inline umf_const_memspace_handle_t predef_get(memspace_kind_t kind) {
    // Pairs with the release stores in predef_get_slow.
    int st = atomic_load_explicit(&slots[kind].state, memory_order_acquire);
    if (likely(st == SLOT_READY)) {
        return slots[kind].ms;
    }
    if (st == SLOT_FAILED) {
        return NULL; // logged when it failed
    }
    return predef_get_slow(kind);
}

UMF_EXPORT umf_const_memspace_handle_t umfMemspaceHostAllGet(void) {
    return predef_get(MEMSPACE_HOST_ALL);
}

UMF_EXPORT umf_const_memspace_handle_t umfMemspaceHighestCapacityGet(void) {
    return predef_get(MEMSPACE_HIGHEST_CAPACITY);
}

UMF_EXPORT umf_const_memspace_handle_t umfMemspaceHighestBandwidthGet(void) {
    return predef_get(MEMSPACE_HIGHEST_BANDWIDTH);
}

UMF_EXPORT umf_const_memspace_handle_t umfMemspaceLowestLatencyGet(void) {
    return predef_get(MEMSPACE_LOWEST_LATENCY);
}

// --- Tear-down and fork ---

void memspaces_predefined_fini(void) {
    pthread_mutex_lock(&predef_lock);
    for (size_t k = 0; k < ARRAY_SIZE(slots); k++) {
        if (atomic_load_explicit(&slots[k].state, memory_order_relaxed) ==
            SLOT_READY) {
            memspace_destroy(slots[k].ms);
        }
        slots[k].ms = NULL;
        atomic_store_explicit(&slots[k].state, SLOT_EMPTY,
                              memory_order_release);
    }
    pthread_mutex_unlock(&predef_lock);
}

void memspaces_predefined_fork_prepare(void) {
    pthread_mutex_lock(&predef_lock);
}

void memspaces_predefined_fork_parent(void) {
    pthread_mutex_unlock(&predef_lock);
}

void memspaces_predefined_fork_child(void) {
    pthread_mutex_unlock(&predef_lock); // held by the child's thread
}
