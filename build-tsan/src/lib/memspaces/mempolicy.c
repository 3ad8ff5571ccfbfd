/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * mempolicy.c - umf/mempolicy.h: create, destroy and the two setters.
 * A policy is plain data; no locks.
 */

#include "memspaces/mempolicy.h"

#include "base_alloc.h"
#include "common.h"
#include "log.h"

static const char *type_name(umf_mempolicy_membind_t type) {
    switch (type) {
    case UMF_MEMPOLICY_INTERLEAVE:
        return "UMF_MEMPOLICY_INTERLEAVE";
    case UMF_MEMPOLICY_BIND:
        return "UMF_MEMPOLICY_BIND";
    case UMF_MEMPOLICY_PREFERRED:
        return "UMF_MEMPOLICY_PREFERRED";
    case UMF_MEMPOLICY_SPLIT:
        return "UMF_MEMPOLICY_SPLIT";
    default:
        return "an unknown kind";
    }
}

UMF_EXPORT umf_result_t umfMempolicyCreate(umf_mempolicy_membind_t bind,
                                           umf_mempolicy_handle_t *hPolicy) {
    CHECK_ARG(hPolicy != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPolicy is NULL");
    // `bind` is not validated here (contract): a provider made from a
    // policy of an unknown kind fails with INVALID_ARGUMENT.
    umf_mempolicy_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->type = bind;
    *hPolicy = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfMempolicyDestroy(umf_mempolicy_handle_t hPolicy) {
    ba_free(hPolicy); // NULL allowed
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfMempolicySetInterleavePartSize(
    umf_mempolicy_handle_t hPolicy, size_t partSize) {
    CHECK_ARG(hPolicy != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPolicy is NULL");
    CHECK_ARG(hPolicy->type == UMF_MEMPOLICY_INTERLEAVE,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPolicy is %s, not UMF_MEMPOLICY_INTERLEAVE",
              type_name(hPolicy->type));
    hPolicy->part_size = partSize; // rounded up to pages by the provider
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfMempolicySetCustomSplitPartitions(
    umf_mempolicy_handle_t hPolicy, umf_mempolicy_split_partition_t *partList,
    size_t partListLen) {
    CHECK_ARG(hPolicy != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPolicy is NULL");
    CHECK_ARG(
        hPolicy->type == UMF_MEMPOLICY_SPLIT, UMF_RESULT_ERROR_INVALID_ARGUMENT,
        "hPolicy is %s, not UMF_MEMPOLICY_SPLIT", type_name(hPolicy->type));
    CHECK_ARG(partList != NULL || partListLen == 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "partList is NULL but partListLen is %zu", partListLen);
    // Weights and targets are checked against the memspace when a
    // provider is made (contract): the array must live until then.
    hPolicy->parts = partListLen ? partList : NULL;
    hPolicy->nparts = partListLen;
    return UMF_RESULT_SUCCESS;
}
