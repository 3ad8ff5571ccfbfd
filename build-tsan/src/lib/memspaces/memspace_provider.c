/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace_provider.c - umfMemoryProviderCreateFromMemspace: a memspace
 * plus a policy become the parameters of an OS memory provider, as the
 * contract's table says:
 *   node list  the memspace's NUMA ids in order; only the first for the
 *              highest-capacity memspace itself (not a clone of it)
 *   no policy  the host-all memspace itself: UMF_NUMA_MODE_DEFAULT and no
 *              list (no binding at all); any other memspace: BIND
 *   INTERLEAVE UMF_NUMA_MODE_INTERLEAVE with the policy's part size
 *   BIND       UMF_NUMA_MODE_BIND
 *   PREFERRED  UMF_NUMA_MODE_PREFERRED
 *   SPLIT      UMF_NUMA_MODE_SPLIT with the policy's partitions (same
 *              layout as umf_numa_split_partition_t), each targeting a
 *              node of the list
 * and everything else the OS provider's defaults (private, read/write).
 * The OS provider then checks the node ids against the machine and the
 * mode's own rules. Nothing is kept: memspace and policy may be destroyed
 * once the provider exists.
 */

#include <limits.h>

#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "memspaces/mempolicy.h"
#include "memspaces/memspace.h"

_Static_assert(sizeof(umf_mempolicy_split_partition_t) ==
                   sizeof(umf_numa_split_partition_t),
               "split partition layouts differ");

// Checks SPLIT partitions against the node list the provider will get.
static umf_result_t check_partitions(umf_const_memspace_handle_t ms,
                                     umf_const_mempolicy_handle_t pol,
                                     const unsigned *ids, size_t n) {
    if (pol->nparts > UINT_MAX) {
        LOG_ERR("%zu split partitions: at most %u", pol->nparts, UINT_MAX);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < pol->nparts; i++) {
        unsigned target = pol->parts[i].target;
        bool in_list = false;
        for (size_t j = 0; j < n && !in_list; j++) {
            in_list = ids[j] == target;
        }
        if (in_list) {
            continue;
        }
        if (memspace_has_numa_id(ms, target)) {
            LOG_ERR("split partition %zu targets NUMA node %u, but a provider "
                    "from the highest-capacity memspace uses only its first "
                    "node, %u",
                    i, target, ids[0]);
        } else {
            LOG_ERR("split partition %zu targets NUMA node %u, which is not "
                    "in the memspace",
                    i, target);
        }
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t set_mode(umf_os_memory_provider_params_handle_t params,
                             umf_const_memspace_handle_t ms,
                             umf_const_mempolicy_handle_t pol, unsigned *ids,
                             unsigned n) {
    umf_result_t ret;
    if (!pol) {
        if (ms->kind == MEMSPACE_HOST_ALL) {
            // The whole machine with no policy: leave placement to the
            // kernel, exactly as a default OS provider does.
            return umfOsMemoryProviderParamsSetNumaMode(params,
                                                        UMF_NUMA_MODE_DEFAULT);
        }
        ret = umfOsMemoryProviderParamsSetNumaMode(params, UMF_NUMA_MODE_BIND);
        return ret ? ret : umfOsMemoryProviderParamsSetNumaList(params, ids, n);
    }
    umf_numa_mode_t mode;
    switch (pol->type) {
    case UMF_MEMPOLICY_INTERLEAVE:
        mode = UMF_NUMA_MODE_INTERLEAVE;
        ret = umfOsMemoryProviderParamsSetPartSize(params, pol->part_size);
        break;
    case UMF_MEMPOLICY_BIND:
        mode = UMF_NUMA_MODE_BIND;
        ret = UMF_RESULT_SUCCESS;
        break;
    case UMF_MEMPOLICY_PREFERRED:
        mode = UMF_NUMA_MODE_PREFERRED;
        ret = UMF_RESULT_SUCCESS;
        break;
    case UMF_MEMPOLICY_SPLIT:
        mode = UMF_NUMA_MODE_SPLIT;
        ret = check_partitions(ms, pol, ids, n);
        if (ret == UMF_RESULT_SUCCESS) {
            ret = umfOsMemoryProviderParamsSetPartitions(
                params, (umf_numa_split_partition_t *)pol->parts,
                (unsigned)pol->nparts);
        }
        break;
    default:
        LOG_ERR("hPolicy has unknown kind %d (expected UMF_MEMPOLICY_"
                "INTERLEAVE, _BIND, _PREFERRED or _SPLIT)",
                (int)pol->type);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (ret == UMF_RESULT_SUCCESS) {
        ret = umfOsMemoryProviderParamsSetNumaMode(params, mode);
    }
    if (ret == UMF_RESULT_SUCCESS) {
        ret = umfOsMemoryProviderParamsSetNumaList(params, ids, n);
    }
    return ret;
}

UMF_EXPORT umf_result_t umfMemoryProviderCreateFromMemspace(
    umf_const_memspace_handle_t hMemspace, umf_const_mempolicy_handle_t hPolicy,
    umf_memory_provider_handle_t *hProvider) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(hProvider != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hProvider is NULL");
    CHECK_ARG(hMemspace->size > 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace has no memory targets");
    CHECK_ARG(hMemspace->size <= UINT_MAX, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace has %zu targets; an OS provider takes at most %u",
              hMemspace->size, UINT_MAX);
    for (size_t i = 0; i < hMemspace->size; i++) {
        CHECK_ARG(hMemspace->targets[i]->type == UMF_MEMTARGET_TYPE_NUMA,
                  UMF_RESULT_ERROR_INVALID_ARGUMENT,
                  "target %zu of hMemspace is not a NUMA node", i);
    }

    unsigned n = hMemspace->kind == MEMSPACE_HIGHEST_CAPACITY
                     ? 1
                     : (unsigned)hMemspace->size;
    unsigned *ids = ba_alloc(n * sizeof(unsigned));
    if (!ids) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (unsigned i = 0; i < n; i++) {
        ids[i] = hMemspace->targets[i]->id;
    }

    umf_os_memory_provider_params_handle_t params = NULL;
    umf_result_t ret = umfOsMemoryProviderParamsCreate(&params);
    if (ret != UMF_RESULT_SUCCESS) {
        goto out_free_ids;
    }
    ret = set_mode(params, hMemspace, hPolicy, ids, n);
    if (ret != UMF_RESULT_SUCCESS) {
        goto out_destroy_params;
    }
    ret = umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, hProvider);
out_destroy_params:
    umfOsMemoryProviderParamsDestroy(params);
out_free_ids:
    ba_free(ids);
    return ret;
}
