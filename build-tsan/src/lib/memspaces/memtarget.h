/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memtarget.h - the object behind umf_memtarget_handle_t: one place memory
 * can come from. 0.10 knows one kind, a NUMA node, named by its OS index.
 * A target is a plain value (type, id): it holds no hwloc object, so it
 * stays valid when the topology is unloaded at tear-down and reloaded;
 * its capacity is looked up when asked for. Targets are owned by the
 * memspace that holds them (there is no public create or destroy).
 */

#ifndef UMF_MEMTARGET_INTERNAL_H
#define UMF_MEMTARGET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <umf/memtarget.h>

struct umf_memtarget_t {
    umf_memtarget_type_t type;
    unsigned id; // NUMA: the node's OS index
};

// A NUMA target for node `id` (not checked against the machine).
umf_result_t memtarget_numa_create(unsigned id, umf_memtarget_handle_t *out);
umf_result_t memtarget_clone(umf_const_memtarget_handle_t t,
                             umf_memtarget_handle_t *out);
void memtarget_destroy(umf_memtarget_handle_t t);
// Same type and id (the identity the contract uses, not the handle).
bool memtarget_equal(umf_const_memtarget_handle_t a,
                     umf_const_memtarget_handle_t b);
// Bytes of memory of the target: NOT_SUPPORTED without a topology,
// INVALID_ARGUMENT for a node the machine does not have (both logged).
umf_result_t memtarget_capacity(umf_const_memtarget_handle_t t,
                                size_t *capacity);

#endif /* UMF_MEMTARGET_INTERNAL_H */
