/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/mempolicy.h - memory policies: how memory is spread over the NUMA
 * nodes of a memspace.
 */

#ifndef UMF_MEMPOLICY_H
#define UMF_MEMPOLICY_H 1

#include <umf/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct umf_mempolicy_t *umf_mempolicy_handle_t;
typedef const struct umf_mempolicy_t *umf_const_mempolicy_handle_t;

typedef enum umf_mempolicy_membind_t {
    UMF_MEMPOLICY_INTERLEAVE,
    UMF_MEMPOLICY_BIND,
    UMF_MEMPOLICY_PREFERRED,
    UMF_MEMPOLICY_SPLIT
} umf_mempolicy_membind_t;

/// One partition of a SPLIT policy: a NUMA node id and its weight (> 0).
typedef struct umf_mempolicy_split_partition_t {
    unsigned weight;
    unsigned target;
} umf_mempolicy_split_partition_t;

umf_result_t umfMempolicyCreate(umf_mempolicy_membind_t bind,
                                umf_mempolicy_handle_t *hPolicy);
umf_result_t umfMempolicyDestroy(umf_mempolicy_handle_t hPolicy);
umf_result_t umfMempolicySetInterleavePartSize(umf_mempolicy_handle_t hPolicy,
                                               size_t partSize);
/// Stores the pointer, not a copy: keep partList alive until the provider
/// is created.
umf_result_t
umfMempolicySetCustomSplitPartitions(umf_mempolicy_handle_t hPolicy,
                                     umf_mempolicy_split_partition_t *partList,
                                     size_t partListLen);

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMPOLICY_H */
