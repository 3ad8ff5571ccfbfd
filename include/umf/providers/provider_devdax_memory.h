/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_devdax_memory.h - the devdax memory provider:
 * maps a whole device DAX character device (/dev/daxX.Y) and hands out
 * pieces of it.
 */

#ifndef UMF_DEVDAX_MEMORY_PROVIDER_H
#define UMF_DEVDAX_MEMORY_PROVIDER_H

#include <umf/providers/provider_os_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/// First native error code of the devdax provider.
#define UMF_DEVDAX_RESULTS_START_FROM 2000

struct umf_devdax_memory_provider_params_t;

typedef struct umf_devdax_memory_provider_params_t
    *umf_devdax_memory_provider_params_handle_t;

/// New params for the device at path (copied) of size bytes.
umf_result_t umfDevDaxMemoryProviderParamsCreate(
    umf_devdax_memory_provider_params_handle_t *hParams, const char *path,
    size_t size);

/// Frees params (NULL allowed).
umf_result_t umfDevDaxMemoryProviderParamsDestroy(
    umf_devdax_memory_provider_params_handle_t hParams);

/// Replaces the device path (copied) and size.
umf_result_t umfDevDaxMemoryProviderParamsSetDeviceDax(
    umf_devdax_memory_provider_params_handle_t hParams, const char *path,
    size_t size);

/// Bit-or of UMF_PROTECTION_* (checked here).
umf_result_t umfDevDaxMemoryProviderParamsSetProtection(
    umf_devdax_memory_provider_params_handle_t hParams, unsigned protection);

/// Native errors of the devdax provider.
typedef enum umf_devdax_memory_provider_native_error {
    UMF_DEVDAX_RESULT_SUCCESS = UMF_DEVDAX_RESULTS_START_FROM,
    UMF_DEVDAX_RESULT_ERROR_ALLOC_FAILED,
    UMF_DEVDAX_RESULT_ERROR_ADDRESS_NOT_ALIGNED,
    UMF_DEVDAX_RESULT_ERROR_FREE_FAILED,
    UMF_DEVDAX_RESULT_ERROR_PURGE_FORCE_FAILED,
} umf_devdax_memory_provider_native_error_t;

/// Ops of the devdax provider.
umf_memory_provider_ops_t *umfDevDaxMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_DEVDAX_MEMORY_PROVIDER_H */
