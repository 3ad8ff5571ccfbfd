/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace.h - the object behind umf_memspace_handle_t: an ordered set of
 * memory targets, no two equal (same type and id). A memspace owns its
 * targets; each is a separate allocation, so a handle returned by
 * umfMemspaceMemtargetGet stays valid until that target is removed or the
 * memspace destroyed, whatever else is added or removed.
 *
 * `kind` says whether this is one of the library's predefined memspaces.
 * The contract's identity rules ("the HostAll memspace" gets no binding,
 * "the HighestCapacity memspace" binds to its first node only) test the
 * kind, which only the predefined object itself carries: a clone is USER.
 */

#ifndef UMF_MEMSPACE_INTERNAL_H
#define UMF_MEMSPACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <umf/memspace.h>

#include "memspaces/memtarget.h"

typedef enum memspace_kind_t {
    MEMSPACE_USER,
    MEMSPACE_HOST_ALL,
    MEMSPACE_HIGHEST_CAPACITY,
    MEMSPACE_HIGHEST_BANDWIDTH,
    MEMSPACE_LOWEST_LATENCY,
} memspace_kind_t;

struct umf_memspace_t {
    memspace_kind_t kind;
    size_t size;                     // targets in use
    size_t cap;                      // slots allocated
    umf_memtarget_handle_t *targets; // in memspace order
};

umf_result_t memspace_create(memspace_kind_t kind, umf_memspace_handle_t *out);
void memspace_destroy(umf_memspace_handle_t ms);
// Appends a NUMA target; INVALID_ARGUMENT (logged) when node `id` is
// already there.
umf_result_t memspace_append_numa(umf_memspace_handle_t ms, unsigned id);
// Index of the target equal to `t`, or -1.
long memspace_find(umf_const_memspace_handle_t ms,
                   umf_const_memtarget_handle_t t);
bool memspace_has_numa_id(umf_const_memspace_handle_t ms, unsigned id);
// Stable sort by capacity, largest first; capacities[i] is targets[i]'s.
void memspace_sort_by_capacity(umf_memspace_handle_t ms, size_t *capacities);

#endif /* UMF_MEMSPACE_INTERNAL_H */
