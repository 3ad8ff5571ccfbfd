/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_ze_abi.c - built only where the Level Zero headers are installed
 * (Debian: libze-dev). The Level Zero provider and its test double declare
 * the driver's ABI themselves (lib/providers/ze_abi.h), so the doubles
 * cannot catch a wrong value there; this program compares every value and
 * layout of ze_abi.h with the real ze_api.h at compile time, and that
 * umf/providers/provider_level_zero.h can be included with it. When the
 * loader itself is installed (libze1) it also checks that the provider
 * resolves every entry point it needs from the real libze_loader.so.1:
 * creating a HOST provider calls no driver function, so this needs no GPU.
 */

#include <level_zero/ze_api.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

// The real values, captured before ze_abi.h's macros take the same names.
enum {
    REAL_SUCCESS = ZE_RESULT_SUCCESS,
    REAL_DEVICE_LOST = ZE_RESULT_ERROR_DEVICE_LOST,
    REAL_OUT_OF_HOST_MEMORY = ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY,
    REAL_OUT_OF_DEVICE_MEMORY = ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY,
    REAL_UNINITIALIZED = ZE_RESULT_ERROR_UNINITIALIZED,
    REAL_UNSUPPORTED_FEATURE = ZE_RESULT_ERROR_UNSUPPORTED_FEATURE,
    REAL_INVALID_ARGUMENT = ZE_RESULT_ERROR_INVALID_ARGUMENT,
    REAL_INVALID_NULL_HANDLE = ZE_RESULT_ERROR_INVALID_NULL_HANDLE,
    REAL_INVALID_NULL_POINTER = ZE_RESULT_ERROR_INVALID_NULL_POINTER,
    REAL_INVALID_SIZE = ZE_RESULT_ERROR_INVALID_SIZE,
    REAL_UNSUPPORTED_SIZE = ZE_RESULT_ERROR_UNSUPPORTED_SIZE,
    REAL_UNSUPPORTED_ALIGNMENT = ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT,
    REAL_UNKNOWN = ZE_RESULT_ERROR_UNKNOWN,
    REAL_ST_DEVICE_PROPERTIES = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES,
    REAL_ST_DEVICE_MEM_ALLOC_DESC = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC,
    REAL_ST_HOST_MEM_ALLOC_DESC = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC,
    REAL_ST_RELAXED = ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC,
    REAL_RELAXED_MAX_SIZE = ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE,
};

#include <umf/providers/provider_level_zero.h>

#include "providers/ze_abi.h"

#define SAME(real, ours) _Static_assert((real) == (ours), #ours)

SAME(REAL_SUCCESS, ZE_RESULT_SUCCESS);
SAME(REAL_DEVICE_LOST, ZE_RESULT_ERROR_DEVICE_LOST);
SAME(REAL_OUT_OF_HOST_MEMORY, ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY);
SAME(REAL_OUT_OF_DEVICE_MEMORY, ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY);
SAME(REAL_UNINITIALIZED, ZE_RESULT_ERROR_UNINITIALIZED);
SAME(REAL_UNSUPPORTED_FEATURE, ZE_RESULT_ERROR_UNSUPPORTED_FEATURE);
SAME(REAL_INVALID_ARGUMENT, ZE_RESULT_ERROR_INVALID_ARGUMENT);
SAME(REAL_INVALID_NULL_HANDLE, ZE_RESULT_ERROR_INVALID_NULL_HANDLE);
SAME(REAL_INVALID_NULL_POINTER, ZE_RESULT_ERROR_INVALID_NULL_POINTER);
SAME(REAL_INVALID_SIZE, ZE_RESULT_ERROR_INVALID_SIZE);
SAME(REAL_UNSUPPORTED_SIZE, ZE_RESULT_ERROR_UNSUPPORTED_SIZE);
SAME(REAL_UNSUPPORTED_ALIGNMENT, ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT);
SAME(REAL_UNKNOWN, ZE_RESULT_ERROR_UNKNOWN);
SAME(REAL_ST_DEVICE_PROPERTIES, ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES);
SAME(REAL_ST_DEVICE_MEM_ALLOC_DESC, ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC);
SAME(REAL_ST_HOST_MEM_ALLOC_DESC, ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC);
SAME(REAL_ST_RELAXED, ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC);
SAME(REAL_RELAXED_MAX_SIZE, ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE);
SAME(sizeof(ze_result_t), sizeof(ze_result_t_));

#define SAME_LAYOUT(real, ours)                                                \
    _Static_assert(sizeof(real) == sizeof(ours), "sizeof " #ours)
#define SAME_FIELD(real, ours, f)                                              \
    _Static_assert(offsetof(real, f) == offsetof(ours, f) &&                   \
                       sizeof(((real *)0)->f) == sizeof(((ours *)0)->f),       \
                   #ours "." #f)

SAME_LAYOUT(ze_ipc_mem_handle_t, ze_ipc_mem_handle_t_);
SAME_LAYOUT(ze_device_mem_alloc_desc_t, ze_device_mem_alloc_desc_t_);
SAME_FIELD(ze_device_mem_alloc_desc_t, ze_device_mem_alloc_desc_t_, pNext);
SAME_FIELD(ze_device_mem_alloc_desc_t, ze_device_mem_alloc_desc_t_, flags);
SAME_FIELD(ze_device_mem_alloc_desc_t, ze_device_mem_alloc_desc_t_, ordinal);
SAME_LAYOUT(ze_host_mem_alloc_desc_t, ze_host_mem_alloc_desc_t_);
SAME_FIELD(ze_host_mem_alloc_desc_t, ze_host_mem_alloc_desc_t_, flags);
SAME_LAYOUT(ze_relaxed_allocation_limits_exp_desc_t,
            ze_relaxed_allocation_limits_exp_desc_t_);
SAME_FIELD(ze_relaxed_allocation_limits_exp_desc_t,
           ze_relaxed_allocation_limits_exp_desc_t_, flags);
SAME_LAYOUT(ze_device_properties_t, ze_device_properties_t_);
SAME_FIELD(ze_device_properties_t, ze_device_properties_t_, stype);
SAME_FIELD(ze_device_properties_t, ze_device_properties_t_, pNext);
SAME_FIELD(ze_device_properties_t, ze_device_properties_t_, maxMemAllocSize);
SAME_FIELD(ze_device_properties_t, ze_device_properties_t_, uuid);
SAME_FIELD(ze_device_properties_t, ze_device_properties_t_, name);

int main(void) {
    printf("PASS: ze_abi.h agrees with ze_api.h %d.%d\n",
           ZE_MAJOR_VERSION(ZE_API_VERSION_CURRENT),
           ZE_MINOR_VERSION(ZE_API_VERSION_CURRENT));
    // The real loader, if installed: every entry point resolves.
    unsetenv("UMF_ZE_LOADER_LIB");
    umf_level_zero_memory_provider_params_handle_t p = NULL;
    umf_memory_provider_handle_t prov = NULL;
    int dummy;
    if (umfLevelZeroMemoryProviderParamsCreate(&p) ||
        umfLevelZeroMemoryProviderParamsSetContext(
            p, (ze_context_handle_t)&dummy) ||
        umfLevelZeroMemoryProviderParamsSetMemoryType(p,
                                                      UMF_MEMORY_TYPE_HOST)) {
        return 1;
    }
    umf_result_t r =
        umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(), p, &prov);
    umfLevelZeroMemoryProviderParamsDestroy(p);
    if (r == UMF_RESULT_ERROR_UNKNOWN) {
        printf("note: no Level Zero loader installed (libze1): entry points "
               "not checked\n");
        return 0;
    }
    if (r != UMF_RESULT_SUCCESS) {
        printf("FAIL: provider creation on the real loader: %d\n", (int)r);
        return 1;
    }
    umfMemoryProviderDestroy(prov);
    printf("PASS: every entry point resolves from libze_loader.so.1\n");
    return 0;
}
