/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fake_cuda.h - the test double of the CUDA driver (tests/fake_cuda.c,
 * built as tests/.libs/libfake_cuda.so for `make check` only): the driver
 * calls it implements, and its control functions for tests. Tests reach
 * the library with dlopen + dlsym, the provider through UMF_CUDA_LIB.
 */

#ifndef UMF_FAKE_CUDA_H
#define UMF_FAKE_CUDA_H

#include <stdint.h>

#include "providers/cuda_abi.h"

// Extra CUresult values the fake returns.
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_MAP_FAILED     205

// --- Driver API (the subset the provider, tests and examples call) ---
cu_result_t cuInit(unsigned flags);
cu_result_t cuDeviceGet(cu_device_t *dev, int ordinal);
cu_result_t cuDeviceGetCount(int *count);
cu_result_t cuCtxCreate_v2(cu_context_t *pctx, unsigned flags, cu_device_t dev);
cu_result_t cuCtxDestroy_v2(cu_context_t ctx);
cu_result_t cuCtxGetCurrent(cu_context_t *pctx);
cu_result_t cuCtxSetCurrent(cu_context_t ctx);
cu_result_t cuMemAlloc_v2(cu_deviceptr_t *dptr, size_t size);
cu_result_t cuMemAllocHost_v2(void **pp, size_t size);
cu_result_t cuMemAllocManaged(cu_deviceptr_t *dptr, size_t size,
                              unsigned flags);
cu_result_t cuMemFree_v2(cu_deviceptr_t dptr);
cu_result_t cuMemFreeHost(void *p);
cu_result_t cuMemGetAllocationGranularity(size_t *granularity,
                                          const cu_mem_allocation_prop_t *prop,
                                          int option);
cu_result_t cuGetErrorName(cu_result_t error, const char **pstr);
cu_result_t cuGetErrorString(cu_result_t error, const char **pstr);
cu_result_t cuIpcGetMemHandle(cu_ipc_mem_handle_t *handle, cu_deviceptr_t dptr);
cu_result_t cuIpcOpenMemHandle_v2(cu_deviceptr_t *pdptr,
                                  cu_ipc_mem_handle_t handle, unsigned flags);
cu_result_t cuIpcCloseMemHandle(cu_deviceptr_t dptr);
cu_result_t cuMemcpy(cu_deviceptr_t dst, cu_deviceptr_t src, size_t n);
cu_result_t cuMemsetD8_v2(cu_deviceptr_t dst, unsigned char value, size_t n);

// --- Control (tests only) ---
// Calls of driver function fn since the last reset.
long fake_cu_calls(const char *fn);
// The next `times` calls of fn return result.
void fake_cu_inject(const char *fn, int result, int times);
// Clears counters, injections and misalignment.
void fake_cu_reset(void);
// Allocations (and opened IPC mappings) alive now.
long fake_cu_live(void);
// The context current when the last memory call ran.
cu_context_t fake_cu_last_ctx(void);
// Allocations are placed one page past a granularity boundary.
void fake_cu_set_misalign(int on);

// Granularities the fake reports: minimum 64 KiB, recommended 2 MiB.
#define FAKE_CU_MIN_GRANULARITY ((size_t)64 << 10)
#define FAKE_CU_REC_GRANULARITY ((size_t)2 << 20)

#endif /* UMF_FAKE_CUDA_H */
