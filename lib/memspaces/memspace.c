/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace.c - memspaces the program builds and edits: new, from a NUMA
 * array, clone, add and remove targets, filters, and the target queries.
 * Predefined memspaces are built in memspaces_predefined.c with the same
 * internal functions; the public editing functions refuse them (a caller
 * can only reach them by casting away const).
 *
 * Filters decide for every target first and then remove the rejected ones
 * in one pass that cannot fail, so a filter either succeeds or leaves the
 * memspace as it was; the contract's "re-add after a failed removal" path
 * (UMF_RESULT_ERROR_UNKNOWN) never arises here.
 *
 * No locks: a memspace is used by one thread while it is modified
 * (contract 1.2: no concurrent create/destroy/modify with use).
 */

#include "memspaces/memspace.h"

#include <string.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "topology.h"

// --- Internal ---

umf_result_t memspace_create(memspace_kind_t kind, umf_memspace_handle_t *out) {
    umf_memspace_handle_t ms = ba_calloc(1, sizeof(*ms));
    if (!ms) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    ms->kind = kind;
    *out = ms;
    return UMF_RESULT_SUCCESS;
}

void memspace_destroy(umf_memspace_handle_t ms) {
    if (!ms) {
        return;
    }
    for (size_t i = 0; i < ms->size; i++) {
        memtarget_destroy(ms->targets[i]);
    }
    ba_free(ms->targets);
    ba_free(ms);
}

static umf_result_t reserve(umf_memspace_handle_t ms, size_t n) {
    if (n <= ms->cap) {
        return UMF_RESULT_SUCCESS;
    }
    size_t cap = ms->cap ? ms->cap : 4;
    while (cap < n) {
        cap *= 2;
    }
    umf_memtarget_handle_t *t =
        ba_realloc(ms->targets, cap * sizeof(umf_memtarget_handle_t));
    if (!t) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    ms->targets = t;
    ms->cap = cap;
    return UMF_RESULT_SUCCESS;
}

// Takes ownership of `t` on success only.
static umf_result_t append(umf_memspace_handle_t ms, umf_memtarget_handle_t t) {
    umf_result_t ret = reserve(ms, ms->size + 1);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ms->targets[ms->size++] = t;
    return UMF_RESULT_SUCCESS;
}

long memspace_find(umf_const_memspace_handle_t ms,
                   umf_const_memtarget_handle_t t) {
    for (size_t i = 0; i < ms->size; i++) {
        if (memtarget_equal(ms->targets[i], t)) {
            return (long)i;
        }
    }
    return -1;
}

bool memspace_has_numa_id(umf_const_memspace_handle_t ms, unsigned id) {
    struct umf_memtarget_t t = {.type = UMF_MEMTARGET_TYPE_NUMA, .id = id};
    return memspace_find(ms, &t) >= 0;
}

umf_result_t memspace_append_numa(umf_memspace_handle_t ms, unsigned id) {
    if (memspace_has_numa_id(ms, id)) {
        LOG_ERR("NUMA node %u is already in the memspace", id);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_memtarget_handle_t t = NULL;
    umf_result_t ret = memtarget_numa_create(id, &t);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = append(ms, t);
    if (ret != UMF_RESULT_SUCCESS) {
        memtarget_destroy(t);
    }
    return ret;
}

void memspace_sort_by_capacity(umf_memspace_handle_t ms, size_t *capacities) {
    // Insertion sort: stable (equal capacities keep their order) and
    // machines have few nodes.
    for (size_t i = 1; i < ms->size; i++) {
        umf_memtarget_handle_t t = ms->targets[i];
        size_t c = capacities[i];
        size_t j = i;
        while (j > 0 && capacities[j - 1] < c) {
            ms->targets[j] = ms->targets[j - 1];
            capacities[j] = capacities[j - 1];
            j--;
        }
        ms->targets[j] = t;
        capacities[j] = c;
    }
}

// Removes (and destroys) every target whose keep[i] is false; cannot fail.
static void retain(umf_memspace_handle_t ms, const bool *keep) {
    size_t n = 0;
    for (size_t i = 0; i < ms->size; i++) {
        if (keep[i]) {
            ms->targets[n++] = ms->targets[i];
        } else {
            memtarget_destroy(ms->targets[i]);
        }
    }
    ms->size = n;
}

// The filters' common shape: decide for each target with `decide`
// (returns > 0 keep, 0 remove, < 0 stop with *stop_ret), then retain.
typedef int (*decide_fn)(umf_memspace_handle_t ms,
                         umf_const_memtarget_handle_t t, void *args,
                         umf_result_t *stop_ret);

static umf_result_t filter(umf_memspace_handle_t ms, decide_fn decide,
                           void *args) {
    if (ms->size == 0) {
        return UMF_RESULT_SUCCESS;
    }
    bool *keep = ba_alloc(ms->size * sizeof(bool));
    if (!keep) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    umf_result_t ret = UMF_RESULT_SUCCESS;
    for (size_t i = 0; i < ms->size; i++) {
        int r = decide(ms, ms->targets[i], args, &ret);
        if (r < 0) {
            goto out_free_keep; // memspace unchanged
        }
        keep[i] = r > 0;
    }
    retain(ms, keep);
out_free_keep:
    ba_free(keep);
    return ret;
}

// The editing functions refuse the library's own memspaces.
static bool check_user_memspace(umf_const_memspace_handle_t ms,
                                const char *func) {
    if (ms->kind != MEMSPACE_USER) {
        LOG_ERR("%s: hMemspace is a predefined memspace, owned by the "
                "library; clone it (umfMemspaceClone) to modify it",
                func);
        return false;
    }
    return true;
}

// --- Public API: life cycle ---

UMF_EXPORT umf_result_t umfMemspaceNew(umf_memspace_handle_t *hMemspace) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    return memspace_create(MEMSPACE_USER, hMemspace);
}

UMF_EXPORT umf_result_t umfMemspaceCreateFromNumaArray(
    unsigned *nodeIds, size_t numIds, umf_memspace_handle_t *hMemspace) {
    CHECK_ARG(nodeIds != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "nodeIds is NULL");
    CHECK_ARG(numIds > 0, UMF_RESULT_ERROR_INVALID_ARGUMENT, "numIds is 0");
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    // Ids the machine (the hwloc topology the OS provider checks against)
    // does not have are refused here, where the caller named them, not
    // only later when a provider is made from the memspace. Stricter than
    // upstream 0.10.1, which accepts them.
    hwloc_topology_t topo = topology_get();
    if (!topo) {
        LOG_ERR("no hwloc topology: NUMA node ids cannot be checked");
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < numIds; i++) {
        if (!topology_has_numa_node(topo, nodeIds[i])) {
            LOG_ERR("nodeIds[%zu]: NUMA node %u does not exist on this "
                    "machine",
                    i, nodeIds[i]);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
    }
    umf_memspace_handle_t ms = NULL;
    umf_result_t ret = memspace_create(MEMSPACE_USER, &ms);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = reserve(ms, numIds);
    for (size_t i = 0; ret == UMF_RESULT_SUCCESS && i < numIds; i++) {
        ret = memspace_append_numa(ms, nodeIds[i]); // logs a duplicate
    }
    if (ret != UMF_RESULT_SUCCESS) {
        memspace_destroy(ms);
        return ret;
    }
    *hMemspace = ms;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT void umfMemspaceDestroy(umf_memspace_handle_t hMemspace) {
    if (!hMemspace) {
        return;
    }
    if (!check_user_memspace(hMemspace, __func__)) {
        return; // destroying it would leave the library a dangling pointer
    }
    memspace_destroy(hMemspace);
}

UMF_EXPORT umf_result_t umfMemspaceClone(umf_const_memspace_handle_t hMemspace,
                                         umf_memspace_handle_t *hNewMemspace) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(hNewMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hNewMemspace is NULL");
    umf_memspace_handle_t ms = NULL;
    umf_result_t ret = memspace_create(MEMSPACE_USER, &ms);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = reserve(ms, hMemspace->size);
    for (size_t i = 0; ret == UMF_RESULT_SUCCESS && i < hMemspace->size; i++) {
        umf_memtarget_handle_t t = NULL;
        ret = memtarget_clone(hMemspace->targets[i], &t);
        if (ret == UMF_RESULT_SUCCESS) {
            ms->targets[ms->size++] = t; // reserved above
        }
    }
    if (ret != UMF_RESULT_SUCCESS) {
        memspace_destroy(ms);
        return ret;
    }
    *hNewMemspace = ms;
    return UMF_RESULT_SUCCESS;
}

// --- Public API: targets ---

UMF_EXPORT size_t
umfMemspaceMemtargetNum(umf_const_memspace_handle_t hMemspace) {
    CHECK_ARG(hMemspace != NULL, 0, "hMemspace is NULL");
    return hMemspace->size;
}

UMF_EXPORT umf_const_memtarget_handle_t umfMemspaceMemtargetGet(
    umf_const_memspace_handle_t hMemspace, unsigned targetNum) {
    CHECK_ARG(hMemspace != NULL, NULL, "hMemspace is NULL");
    CHECK_ARG(targetNum < hMemspace->size, NULL,
              "targetNum %u is out of range (the memspace has %zu targets)",
              targetNum, hMemspace->size);
    return hMemspace->targets[targetNum];
}

UMF_EXPORT umf_result_t umfMemspaceMemtargetAdd(
    umf_memspace_handle_t hMemspace, umf_const_memtarget_handle_t hMemtarget) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(hMemtarget != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget is NULL");
    if (!check_user_memspace(hMemspace, __func__)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    CHECK_ARG(memspace_find(hMemspace, hMemtarget) < 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget (type %d, id %u) is already in the memspace",
              (int)hMemtarget->type, hMemtarget->id);
    CHECK_ARG(hMemspace->size == 0 ||
                  hMemspace->targets[0]->type == hMemtarget->type,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget has type %d but the memspace holds type %d",
              (int)hMemtarget->type, (int)hMemspace->targets[0]->type);
    umf_memtarget_handle_t t = NULL;
    umf_result_t ret = memtarget_clone(hMemtarget, &t);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = append(hMemspace, t);
    if (ret != UMF_RESULT_SUCCESS) {
        memtarget_destroy(t);
    }
    return ret;
}

UMF_EXPORT umf_result_t umfMemspaceMemtargetRemove(
    umf_memspace_handle_t hMemspace, umf_const_memtarget_handle_t hMemtarget) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(hMemtarget != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget is NULL");
    if (!check_user_memspace(hMemspace, __func__)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    long i = memspace_find(hMemspace, hMemtarget);
    CHECK_ARG(i >= 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget (type %d, id %u) is not in the memspace",
              (int)hMemtarget->type, hMemtarget->id);
    // hMemtarget may be the very handle destroyed here: not used after.
    memtarget_destroy(hMemspace->targets[i]);
    memmove(&hMemspace->targets[i], &hMemspace->targets[i + 1],
            (hMemspace->size - (size_t)i - 1) * sizeof(umf_memtarget_handle_t));
    hMemspace->size--;
    return UMF_RESULT_SUCCESS;
}

// --- Public API: filters ---

typedef struct ids_args_t {
    const unsigned *ids;
    size_t n;
} ids_args_t;

static int decide_by_id(umf_memspace_handle_t ms,
                        umf_const_memtarget_handle_t t, void *args,
                        umf_result_t *stop_ret) {
    (void)ms, (void)stop_ret;
    const ids_args_t *a = args;
    for (size_t i = 0; i < a->n; i++) {
        if (a->ids[i] == t->id) {
            return 1;
        }
    }
    return 0;
}

UMF_EXPORT umf_result_t umfMemspaceFilterById(umf_memspace_handle_t hMemspace,
                                              unsigned *ids, size_t size) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(ids != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "ids is NULL");
    CHECK_ARG(size > 0, UMF_RESULT_ERROR_INVALID_ARGUMENT, "size is 0");
    if (!check_user_memspace(hMemspace, __func__)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    ids_args_t a = {ids, size};
    return filter(hMemspace, decide_by_id, &a);
}

static int decide_by_capacity(umf_memspace_handle_t ms,
                              umf_const_memtarget_handle_t t, void *args,
                              umf_result_t *stop_ret) {
    (void)ms;
    size_t cap = 0;
    umf_result_t ret = memtarget_capacity(t, &cap); // logs a failure
    if (ret != UMF_RESULT_SUCCESS) {
        *stop_ret = ret;
        return -1;
    }
    return (uint64_t)cap >= *(const uint64_t *)args;
}

UMF_EXPORT umf_result_t
umfMemspaceFilterByCapacity(umf_memspace_handle_t hMemspace, int64_t size) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(size >= 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "size is negative (%lld)", (long long)size);
    if (!check_user_memspace(hMemspace, __func__)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    uint64_t min = (uint64_t)size;
    return filter(hMemspace, decide_by_capacity, &min);
}

typedef struct user_args_t {
    umf_memspace_filter_func_t fn;
    void *args;
} user_args_t;

static int decide_by_user(umf_memspace_handle_t ms,
                          umf_const_memtarget_handle_t t, void *args,
                          umf_result_t *stop_ret) {
    const user_args_t *a = args;
    int r = a->fn(ms, t, a->args);
    if (r < 0) {
        LOG_ERR("the filter function returned %d for NUMA node %u; the "
                "memspace is unchanged",
                r, t->id);
        *stop_ret = UMF_RESULT_ERROR_USER_SPECIFIC;
    }
    return r;
}

UMF_EXPORT umf_result_t
umfMemspaceUserFilter(umf_memspace_handle_t hMemspace,
                      umf_memspace_filter_func_t filter_fn, void *args) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(filter_fn != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "filter is NULL");
    if (!check_user_memspace(hMemspace, __func__)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    user_args_t a = {filter_fn, args};
    return filter(hMemspace, decide_by_user, &a);
}
