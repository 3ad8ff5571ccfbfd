/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memtarget_numa.h - what hwloc knows about a NUMA node as a memory
 * target: its capacity, and the bandwidth and latency of accesses to it
 * from a set of CPUs (the platform's HMAT, through hwloc's memory
 * attributes). Everything reads the process-wide topology (topology.h).
 */

#ifndef UMF_MEMTARGET_NUMA_H
#define UMF_MEMTARGET_NUMA_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <umf/base.h>

// Bytes of memory local to node `id` (hwloc's local_memory).
// NOT_SUPPORTED when the topology cannot be loaded, INVALID_ARGUMENT when
// the node does not exist; both logged.
umf_result_t memtarget_numa_capacity(unsigned id, size_t *capacity);

typedef enum numa_attr_t {
    NUMA_ATTR_BANDWIDTH, // MB/s, higher is better
    NUMA_ATTR_LATENCY,   // ns, lower is better
} numa_attr_t;

// "bandwidth" or "latency", for messages.
const char *numa_attr_name(numa_attr_t attr);
// True when the platform reports `attr` for at least one NUMA node.
bool numa_attr_reported(hwloc_topology_t topo, numa_attr_t attr);
// The value of `attr` for accesses from the CPUs `initiator` to `target`.
// A target whose CPU set does not intersect `initiator` (not local to it),
// or for which the platform gives no value from there, gets the worst value.
uint64_t numa_attr_value(hwloc_topology_t topo, numa_attr_t attr,
                         hwloc_const_cpuset_t initiator, hwloc_obj_t target);
// 0 for bandwidth, UINT64_MAX for latency.
uint64_t numa_attr_worst(numa_attr_t attr);
// True when value a is strictly better than b.
bool numa_attr_better(numa_attr_t attr, uint64_t a, uint64_t b);

#endif /* UMF_MEMTARGET_NUMA_H */
