/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * cuda_abi.h - the part of the CUDA driver API (cuda.h) that the CUDA
 * provider calls, declared here so the build needs no CUDA toolkit. Only
 * ABI facts: type sizes, struct layouts, enum values and the signatures of
 * the entry points, as cuda.h (CUDA 11/12) defines them. The test double
 * tests/fake_cuda.c implements the same declarations.
 */

#ifndef UMF_CUDA_ABI_H
#define UMF_CUDA_ABI_H

#include <stddef.h>

typedef int cu_result_t; // CUresult (an enum, int-sized)
typedef int cu_device_t; // CUdevice
typedef struct CUctx_st *cu_context_t;
typedef unsigned long long cu_deviceptr_t; // CUdeviceptr (64-bit)

// CUresult values the provider names.
#define CUDA_SUCCESS                     0
#define CUDA_ERROR_INVALID_VALUE         1
#define CUDA_ERROR_OUT_OF_MEMORY         2
#define CUDA_ERROR_NOT_INITIALIZED       3
#define CUDA_ERROR_INVALID_CONTEXT       201
#define CUDA_ERROR_INVALID_HANDLE        400
#define CUDA_ERROR_LAUNCH_FAILED         719
#define CUDA_ERROR_INVALID_RESOURCE_TYPE 914
#define CUDA_ERROR_UNKNOWN               999

#define CU_MEM_ATTACH_GLOBAL               0x1
#define CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS 0x1
#define CU_IPC_HANDLE_SIZE                 64

typedef struct cu_ipc_mem_handle_t { // CUipcMemHandle
    char reserved[CU_IPC_HANDLE_SIZE];
} cu_ipc_mem_handle_t;

// CUmemAllocationProp and its enums (cuMemGetAllocationGranularity).
#define CU_MEM_ALLOCATION_TYPE_PINNED        0x1
#define CU_MEM_HANDLE_TYPE_NONE              0x0
#define CU_MEM_LOCATION_TYPE_DEVICE          0x1
#define CU_MEM_ALLOC_GRANULARITY_MINIMUM     0x0
#define CU_MEM_ALLOC_GRANULARITY_RECOMMENDED 0x1

typedef struct cu_mem_location_t {
    int type; // CUmemLocationType
    int id;
} cu_mem_location_t;

typedef struct cu_mem_allocation_prop_t {
    int type;                 // CUmemAllocationType
    int requestedHandleTypes; // CUmemAllocationHandleType
    cu_mem_location_t location;
    void *win32HandleMetaData;
    struct {
        unsigned char compressionType;
        unsigned char gpuDirectRDMACapable;
        unsigned short usage;
        unsigned char reserved[4];
    } allocFlags;
} cu_mem_allocation_prop_t;

_Static_assert(sizeof(cu_mem_allocation_prop_t) == 32,
               "CUmemAllocationProp is 32 bytes on LP64");

// Entry points, by the symbol names libcuda.so.1 exports (the _v2 names are
// what cuda.h's macros select for 64-bit device pointers).
typedef cu_result_t (*cu_ctx_get_current_fn)(cu_context_t *pctx);
typedef cu_result_t (*cu_ctx_set_current_fn)(cu_context_t ctx);
typedef cu_result_t (*cu_mem_alloc_fn)(cu_deviceptr_t *dptr, size_t size);
typedef cu_result_t (*cu_mem_alloc_host_fn)(void **pp, size_t size);
typedef cu_result_t (*cu_mem_alloc_managed_fn)(cu_deviceptr_t *dptr,
                                               size_t size, unsigned flags);
typedef cu_result_t (*cu_mem_free_fn)(cu_deviceptr_t dptr);
typedef cu_result_t (*cu_mem_free_host_fn)(void *p);
typedef cu_result_t (*cu_mem_get_allocation_granularity_fn)(
    size_t *granularity, const cu_mem_allocation_prop_t *prop, int option);
typedef cu_result_t (*cu_get_error_name_fn)(cu_result_t error,
                                            const char **pstr);
typedef cu_result_t (*cu_get_error_string_fn)(cu_result_t error,
                                              const char **pstr);
typedef cu_result_t (*cu_ipc_get_mem_handle_fn)(cu_ipc_mem_handle_t *handle,
                                                cu_deviceptr_t dptr);
typedef cu_result_t (*cu_ipc_open_mem_handle_fn)(cu_deviceptr_t *pdptr,
                                                 cu_ipc_mem_handle_t handle,
                                                 unsigned flags);
typedef cu_result_t (*cu_ipc_close_mem_handle_fn)(cu_deviceptr_t dptr);

#endif /* UMF_CUDA_ABI_H */
