/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * mempolicy.h - the object behind umf_mempolicy_handle_t: how memory is
 * spread over a memspace's nodes. Applied when a provider is made from a
 * memspace (memspace_provider.c), never afterwards.
 */

#ifndef UMF_MEMPOLICY_INTERNAL_H
#define UMF_MEMPOLICY_INTERNAL_H

#include <stddef.h>

#include <umf/mempolicy.h>

struct umf_mempolicy_t {
    umf_mempolicy_membind_t type; // not validated until provider creation
    size_t part_size;             // INTERLEAVE; 0 = kernel page interleave
    // SPLIT: the caller's array (the contract says the pointer is kept,
    // not a copy); NULL = equal weights in memspace order.
    umf_mempolicy_split_partition_t *parts;
    size_t nparts;
};

#endif /* UMF_MEMPOLICY_INTERNAL_H */
