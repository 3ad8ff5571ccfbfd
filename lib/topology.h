/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * topology.h - the process-wide hwloc topology, loaded lazily, once, and
 * only when something needs it (NUMA node checks, memspaces): loading costs
 * milliseconds and megabytes, which the proxy must not pay at start-up.
 *
 * hwloc itself (libhwloc.so.15, which brings libudev and libm) is loaded
 * with dlopen on that first use, not linked: a process that never asks for
 * NUMA placement or a memspace never maps it. The code includes <hwloc.h>
 * for its types only and calls hwloc through `umf_hwloc`, filled when
 * topology_get() first succeeds; hwloc's inline helpers (which would call
 * hwloc directly) are replaced by the topology_* functions below.
 */

#ifndef UMF_TOPOLOGY_H
#define UMF_TOPOLOGY_H

#include <hwloc.h>
#include <stdbool.h>

// The hwloc functions the library uses, with hwloc's own prototypes.
typedef struct umf_hwloc_t {
    __typeof__(&hwloc_topology_init) topology_init;
    __typeof__(&hwloc_topology_load) topology_load;
    __typeof__(&hwloc_topology_destroy) topology_destroy;
    __typeof__(&hwloc_get_type_depth) get_type_depth;
    __typeof__(&hwloc_get_obj_by_depth) get_obj_by_depth;
    __typeof__(&hwloc_bitmap_iszero) bitmap_iszero;
    __typeof__(&hwloc_bitmap_isequal) bitmap_isequal;
    __typeof__(&hwloc_bitmap_intersects) bitmap_intersects;
    __typeof__(&hwloc_memattr_get_targets) memattr_get_targets;
    __typeof__(&hwloc_memattr_get_value) memattr_get_value;
} umf_hwloc_t;

// Valid once topology_get() has returned a topology.
extern umf_hwloc_t umf_hwloc;

// The loaded topology, or NULL if hwloc could not be loaded or could not
// load the topology (logged). Honours hwloc's own variables such as
// HWLOC_XMLFILE; UMF_HWLOC_LIB names another soname or path of hwloc.
hwloc_topology_t topology_get(void);
// The NUMA node after `prev` (the first for NULL), in hwloc's logical
// order, or NULL.
hwloc_obj_t topology_next_numa(hwloc_topology_t topo, hwloc_obj_t prev);
// NUMA node `os_index`, or NULL when the machine has none by that id.
hwloc_obj_t topology_numa_by_os_index(hwloc_topology_t topo, unsigned os_index);
// True when NUMA node `os_index` exists in the topology.
bool topology_has_numa_node(hwloc_topology_t topo, unsigned os_index);
// Destroys the cached topology (library tear-down).
void topology_fini(void);
// Set by the first topology_get, never cleared. Until then there is no
// topology and no predefined memspace (they load it first), so tear-down
// need not call into their code (which then stays out of memory).
extern _Atomic bool topology_asked;

void topology_fork_prepare(void);
void topology_fork_parent(void);
void topology_fork_child(void);

#endif /* UMF_TOPOLOGY_H */
