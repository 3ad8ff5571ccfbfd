/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * topology.h - the process-wide hwloc topology, loaded lazily, once, and
 * only when something needs it (NUMA node checks, memspaces): loading costs
 * milliseconds and megabytes, which the proxy must not pay at start-up.
 */

#ifndef UMF_TOPOLOGY_H
#define UMF_TOPOLOGY_H

#include <hwloc.h>
#include <stdbool.h>

// The loaded topology, or NULL if hwloc could not load it (logged).
// Honours hwloc's own variables such as HWLOC_XMLFILE.
hwloc_topology_t topology_get(void);
// True when NUMA node `os_index` exists in the topology.
bool topology_has_numa_node(hwloc_topology_t topo, unsigned os_index);
// Destroys the cached topology (library tear-down).
void topology_fini(void);

void topology_fork_prepare(void);
void topology_fork_parent(void);
void topology_fork_child(void);

#endif /* UMF_TOPOLOGY_H */
