/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memtarget.c - memory targets: life cycle, identity and the public
 * queries of umf/memtarget.h. Type-specific answers come from
 * memtarget_numa.c. No locks: a target is immutable once created.
 */

#include "memspaces/memtarget.h"

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "memspaces/memtarget_numa.h"

// --- Internal ---

umf_result_t memtarget_numa_create(unsigned id, umf_memtarget_handle_t *out) {
    umf_memtarget_handle_t t = ba_alloc(sizeof(*t));
    if (!t) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    t->type = UMF_MEMTARGET_TYPE_NUMA;
    t->id = id;
    *out = t;
    return UMF_RESULT_SUCCESS;
}

umf_result_t memtarget_clone(umf_const_memtarget_handle_t t,
                             umf_memtarget_handle_t *out) {
    umf_memtarget_handle_t c = ba_alloc(sizeof(*c));
    if (!c) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    *c = *t;
    *out = c;
    return UMF_RESULT_SUCCESS;
}

void memtarget_destroy(umf_memtarget_handle_t t) {
    ba_free(t);
}

bool memtarget_equal(umf_const_memtarget_handle_t a,
                     umf_const_memtarget_handle_t b) {
    return a->type == b->type && a->id == b->id;
}

umf_result_t memtarget_capacity(umf_const_memtarget_handle_t t,
                                size_t *capacity) {
    switch (t->type) {
    case UMF_MEMTARGET_TYPE_NUMA:
        return memtarget_numa_capacity(t->id, capacity);
    default:
        LOG_ERR("memory target of unknown type %d", (int)t->type);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
}

// --- Public API ---

UMF_EXPORT umf_result_t umfMemtargetGetType(
    umf_const_memtarget_handle_t hMemtarget, umf_memtarget_type_t *type) {
    CHECK_ARG(hMemtarget != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget is NULL");
    CHECK_ARG(type != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "type is NULL");
    *type = hMemtarget->type;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfMemtargetGetCapacity(
    umf_const_memtarget_handle_t hMemtarget, size_t *capacity) {
    CHECK_ARG(hMemtarget != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget is NULL");
    CHECK_ARG(capacity != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "capacity is NULL");
    return memtarget_capacity(hMemtarget, capacity);
}

UMF_EXPORT umf_result_t
umfMemtargetGetId(umf_const_memtarget_handle_t hMemtarget, unsigned *id) {
    CHECK_ARG(hMemtarget != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemtarget is NULL");
    CHECK_ARG(id != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "id is NULL");
    *id = hMemtarget->id;
    return UMF_RESULT_SUCCESS;
}
