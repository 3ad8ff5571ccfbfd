/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/memtarget.h - memory targets (NUMA nodes) of a memspace.
 */

#ifndef UMF_MEMTARGET_H
#define UMF_MEMTARGET_H 1

#include <stddef.h>
#include <umf/base.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct umf_memtarget_t *umf_memtarget_handle_t;
typedef const struct umf_memtarget_t *umf_const_memtarget_handle_t;

typedef enum umf_memtarget_type_t {
    UMF_MEMTARGET_TYPE_UNKNOWN = 0,
    UMF_MEMTARGET_TYPE_NUMA = 1,
} umf_memtarget_type_t;

umf_result_t umfMemtargetGetType(umf_const_memtarget_handle_t hMemtarget,
                                 umf_memtarget_type_t *type);
umf_result_t umfMemtargetGetCapacity(umf_const_memtarget_handle_t hMemtarget,
                                     size_t *capacity);
umf_result_t umfMemtargetGetId(umf_const_memtarget_handle_t hMemtarget,
                               unsigned *id);

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMTARGET_H */
