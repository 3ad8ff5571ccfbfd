/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_cuda.h - the CUDA memory provider: host, device or
 * managed memory of one CUDA context, from the CUDA driver API (libcuda),
 * which libumf loads at run time. The context is passed as a void *, so
 * this header needs no CUDA header.
 */

#ifndef UMF_PROVIDER_CUDA_H
#define UMF_PROVIDER_CUDA_H

#include <umf/memory_provider_gpu.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umf_cuda_memory_provider_params_t;

/// Parameters of a CUDA provider (create, set, pass to
/// umfMemoryProviderCreate, destroy).
typedef struct umf_cuda_memory_provider_params_t
    *umf_cuda_memory_provider_params_handle_t;

/// New params: context NULL, device -1, memory type UNKNOWN.
umf_result_t umfCUDAMemoryProviderParamsCreate(
    umf_cuda_memory_provider_params_handle_t *hParams);

/// Frees params (NULL allowed).
umf_result_t umfCUDAMemoryProviderParamsDestroy(
    umf_cuda_memory_provider_params_handle_t hParams);

/// The CUcontext to allocate in (required).
umf_result_t umfCUDAMemoryProviderParamsSetContext(
    umf_cuda_memory_provider_params_handle_t hParams, void *hContext);

/// The CUdevice of that context (required).
umf_result_t umfCUDAMemoryProviderParamsSetDevice(
    umf_cuda_memory_provider_params_handle_t hParams, int hDevice);

/// HOST (cuMemAllocHost), DEVICE (cuMemAlloc) or SHARED (cuMemAllocManaged).
umf_result_t umfCUDAMemoryProviderParamsSetMemoryType(
    umf_cuda_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType);

/// Ops of the CUDA provider.
umf_memory_provider_ops_t *umfCUDAMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_PROVIDER_CUDA_H */
