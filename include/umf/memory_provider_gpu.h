/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/memory_provider_gpu.h - the kinds of memory a GPU provider (Level
 * Zero, CUDA) hands out.
 */

#ifndef UMF_MEMORY_PROVIDER_GPU_H
#define UMF_MEMORY_PROVIDER_GPU_H 1

#include <umf/memory_provider.h>

#ifdef __cplusplus
extern "C" {
#endif

/// USM memory type of a GPU provider's allocations.
typedef enum umf_usm_memory_type_t {
    UMF_MEMORY_TYPE_UNKNOWN = 0, ///< not set (the params default)
    UMF_MEMORY_TYPE_HOST,        ///< pinned host memory the device can access
    UMF_MEMORY_TYPE_DEVICE,      ///< device-local memory (not for the CPU)
    UMF_MEMORY_TYPE_SHARED,      ///< migratable memory for host and device
} umf_usm_memory_type_t;

#ifdef __cplusplus
}
#endif

#endif /* UMF_MEMORY_PROVIDER_GPU_H */
