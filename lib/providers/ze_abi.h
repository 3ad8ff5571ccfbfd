/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ze_abi.h - the part of the Level Zero API (ze_api.h, 1.x) that the Level
 * Zero provider calls, declared here so the build needs no Level Zero
 * headers. Only ABI facts: result and structure-type values, the layouts of
 * the descriptors and properties the provider passes, and the signatures
 * of the entry points. The test double tests/fake_ze.c implements the same
 * declarations.
 */

#ifndef UMF_ZE_ABI_H
#define UMF_ZE_ABI_H

#include <stddef.h>
#include <stdint.h>

#include <umf/providers/provider_level_zero.h> // ze_context/device handles

typedef uint32_t ze_result_t_; // ze_result_t (an enum, 32-bit)

#define ZE_RESULT_SUCCESS                     0
#define ZE_RESULT_ERROR_DEVICE_LOST           0x70000001u
#define ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY    0x70000002u
#define ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY  0x70000003u
#define ZE_RESULT_ERROR_UNINITIALIZED         0x78000001u
#define ZE_RESULT_ERROR_UNSUPPORTED_FEATURE   0x78000003u
#define ZE_RESULT_ERROR_INVALID_ARGUMENT      0x78000004u
#define ZE_RESULT_ERROR_INVALID_NULL_HANDLE   0x78000005u
#define ZE_RESULT_ERROR_INVALID_NULL_POINTER  0x78000007u
#define ZE_RESULT_ERROR_INVALID_SIZE          0x78000008u
#define ZE_RESULT_ERROR_UNSUPPORTED_SIZE      0x78000009u
#define ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT 0x7800000au
#define ZE_RESULT_ERROR_UNKNOWN               0x7ffffffeu

// ze_structure_type_t values.
#define ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES                  0x3u
#define ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC              0x15u
#define ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC                0x16u
#define ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC 0x00020001u
#define ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE       0x1u

#define ZE_MAX_IPC_HANDLE_SIZE 64
#define ZE_MAX_DEVICE_NAME     256

typedef struct ze_ipc_mem_handle_t_ { // ze_ipc_mem_handle_t
    char data[ZE_MAX_IPC_HANDLE_SIZE];
} ze_ipc_mem_handle_t_;

typedef struct ze_device_mem_alloc_desc_t_ {
    uint32_t stype;
    const void *pNext;
    uint32_t flags;
    uint32_t ordinal;
} ze_device_mem_alloc_desc_t_;

typedef struct ze_host_mem_alloc_desc_t_ {
    uint32_t stype;
    const void *pNext;
    uint32_t flags;
} ze_host_mem_alloc_desc_t_;

typedef struct ze_relaxed_allocation_limits_exp_desc_t_ {
    uint32_t stype;
    const void *pNext;
    uint32_t flags;
} ze_relaxed_allocation_limits_exp_desc_t_;

typedef struct ze_device_properties_t_ {
    uint32_t stype;
    void *pNext;
    uint32_t type;
    uint32_t vendorId;
    uint32_t deviceId;
    uint32_t flags;
    uint32_t subdeviceId;
    uint32_t coreClockRate;
    uint64_t maxMemAllocSize;
    uint32_t maxHardwareContexts;
    uint32_t maxCommandQueuePriority;
    uint32_t numThreadsPerEU;
    uint32_t physicalEUSimdWidth;
    uint32_t numEUsPerSubslice;
    uint32_t numSubslicesPerSlice;
    uint32_t numSlices;
    uint64_t timerResolution;
    uint32_t timestampValidBits;
    uint32_t kernelTimestampValidBits;
    uint8_t uuid[16];
    char name[ZE_MAX_DEVICE_NAME];
} ze_device_properties_t_;

_Static_assert(offsetof(ze_device_properties_t_, maxMemAllocSize) == 40,
               "ze_device_properties_t layout");

typedef ze_result_t_ (*ze_mem_alloc_host_fn)(
    ze_context_handle_t ctx, const ze_host_mem_alloc_desc_t_ *host_desc,
    size_t size, size_t alignment, void **pptr);
typedef ze_result_t_ (*ze_mem_alloc_device_fn)(
    ze_context_handle_t ctx, const ze_device_mem_alloc_desc_t_ *device_desc,
    size_t size, size_t alignment, ze_device_handle_t dev, void **pptr);
typedef ze_result_t_ (*ze_mem_alloc_shared_fn)(
    ze_context_handle_t ctx, const ze_device_mem_alloc_desc_t_ *device_desc,
    const ze_host_mem_alloc_desc_t_ *host_desc, size_t size, size_t alignment,
    ze_device_handle_t dev, void **pptr);
typedef ze_result_t_ (*ze_mem_free_fn)(ze_context_handle_t ctx, void *ptr);
typedef ze_result_t_ (*ze_device_get_properties_fn)(
    ze_device_handle_t dev, ze_device_properties_t_ *props);
typedef ze_result_t_ (*ze_context_make_memory_resident_fn)(
    ze_context_handle_t ctx, ze_device_handle_t dev, void *ptr, size_t size);
typedef ze_result_t_ (*ze_mem_get_ipc_handle_fn)(ze_context_handle_t ctx,
                                                 const void *ptr,
                                                 ze_ipc_mem_handle_t_ *handle);
typedef ze_result_t_ (*ze_mem_put_ipc_handle_fn)(ze_context_handle_t ctx,
                                                 ze_ipc_mem_handle_t_ handle);
typedef ze_result_t_ (*ze_mem_open_ipc_handle_fn)(ze_context_handle_t ctx,
                                                  ze_device_handle_t dev,
                                                  ze_ipc_mem_handle_t_ handle,
                                                  uint32_t flags, void **pptr);
typedef ze_result_t_ (*ze_mem_close_ipc_handle_fn)(ze_context_handle_t ctx,
                                                   const void *ptr);

#endif /* UMF_ZE_ABI_H */
