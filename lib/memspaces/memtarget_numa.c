/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memtarget_numa.c - NUMA nodes as memory targets, answered from the
 * process-wide hwloc topology (loaded on first use; honours
 * HWLOC_XMLFILE). Read-only use of a loaded topology needs no lock.
 *
 * Bandwidth and latency are hwloc's generic Bandwidth and Latency memory
 * attributes, which hwloc fills from the ACPI HMAT on Linux (sysfs
 * access0 initiators) or from an XML file. Values are per (initiator CPU
 * set, target node); a pair without a value counts as the worst value,
 * never as "no HMAT": that is decided once for the whole attribute, by
 * whether any node has a value at all.
 *
 * hwloc may refresh its memory-attribute caches lazily inside the query
 * functions, so numa_attr_* calls must not run concurrently: the only
 * caller (memspaces_predefined.c) holds its lock around them.
 */

#include "memspaces/memtarget_numa.h"

#include <errno.h>

#include "common.h"
#include "log.h"
#include "topology.h"

umf_result_t memtarget_numa_capacity(unsigned id, size_t *capacity) {
    hwloc_topology_t topo = topology_get();
    if (!topo) {
        LOG_ERR("cannot read the capacity of NUMA node %u: no hwloc topology",
                id);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    hwloc_obj_t node = topology_numa_by_os_index(topo, id);
    if (!node) {
        LOG_ERR("NUMA node %u does not exist on this machine", id);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *capacity = (size_t)node->attr->numanode.local_memory;
    return UMF_RESULT_SUCCESS;
}

static hwloc_memattr_id_t attr_id(numa_attr_t attr) {
    return attr == NUMA_ATTR_BANDWIDTH ? HWLOC_MEMATTR_ID_BANDWIDTH
                                       : HWLOC_MEMATTR_ID_LATENCY;
}

const char *numa_attr_name(numa_attr_t attr) {
    return attr == NUMA_ATTR_BANDWIDTH ? "bandwidth" : "latency";
}

bool numa_attr_reported(hwloc_topology_t topo, numa_attr_t attr) {
    unsigned nr = 0; // count only: no arrays passed
    if (umf_hwloc.memattr_get_targets(topo, attr_id(attr), NULL, 0, &nr, NULL,
                                      NULL) != 0) {
        LOG_PDEBUG(errno, "umf_hwloc.memattr_get_targets(%s)",
                   numa_attr_name(attr));
        return false;
    }
    return nr > 0;
}

uint64_t numa_attr_worst(numa_attr_t attr) {
    return attr == NUMA_ATTR_BANDWIDTH ? 0 : UINT64_MAX;
}

bool numa_attr_better(numa_attr_t attr, uint64_t a, uint64_t b) {
    return attr == NUMA_ATTR_BANDWIDTH ? a > b : a < b;
}

uint64_t numa_attr_value(hwloc_topology_t topo, numa_attr_t attr,
                         hwloc_const_cpuset_t initiator, hwloc_obj_t target) {
    // hwloc would answer for remote pairs too where the HMAT lists them;
    // the contract (and upstream) rank only targets local to the CPUs.
    if (!target->cpuset ||
        !umf_hwloc.bitmap_intersects(initiator, target->cpuset)) {
        return numa_attr_worst(attr);
    }
    struct hwloc_location loc = {
        .type = HWLOC_LOCATION_TYPE_CPUSET,
        .location.cpuset = (hwloc_cpuset_t)initiator,
    };
    hwloc_uint64_t v = 0;
    if (umf_hwloc.memattr_get_value(topo, attr_id(attr), target, &loc, 0, &v) !=
        0) {
        return numa_attr_worst(attr); // no value for this pair
    }
    return (uint64_t)v;
}
