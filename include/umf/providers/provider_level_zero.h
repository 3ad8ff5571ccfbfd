/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_level_zero.h - the Level Zero memory provider:
 * host, device or shared memory of a Level Zero context, from the Level
 * Zero loader (libze_loader), which libumf loads at run time. The two
 * handle types are declared exactly as ze_api.h declares them, so a
 * program may include both headers; this one needs no Level Zero header.
 */

#ifndef UMF_PROVIDER_LEVEL_ZERO_H
#define UMF_PROVIDER_LEVEL_ZERO_H

#include <umf/memory_provider_gpu.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _ze_device_handle_t *ze_device_handle_t;
typedef struct _ze_context_handle_t *ze_context_handle_t;

struct umf_level_zero_memory_provider_params_t;

/// Parameters of a Level Zero provider (create, set, pass to
/// umfMemoryProviderCreate, destroy).
typedef struct umf_level_zero_memory_provider_params_t
    *umf_level_zero_memory_provider_params_handle_t;

/// New params: context NULL, device NULL, memory type UNKNOWN, no resident
/// devices.
umf_result_t umfLevelZeroMemoryProviderParamsCreate(
    umf_level_zero_memory_provider_params_handle_t *hParams);

/// Frees params (NULL allowed).
umf_result_t umfLevelZeroMemoryProviderParamsDestroy(
    umf_level_zero_memory_provider_params_handle_t hParams);

/// The context to allocate in (required, not NULL).
umf_result_t umfLevelZeroMemoryProviderParamsSetContext(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_context_handle_t hContext);

/// The device (NULL for HOST memory, required otherwise).
umf_result_t umfLevelZeroMemoryProviderParamsSetDevice(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t hDevice);

/// HOST (zeMemAllocHost), DEVICE (zeMemAllocDevice) or SHARED
/// (zeMemAllocShared).
umf_result_t umfLevelZeroMemoryProviderParamsSetMemoryType(
    umf_level_zero_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType);

/// Devices every allocation is made resident on. Stores the pointer: keep
/// the array alive until the provider is created (which copies it).
umf_result_t umfLevelZeroMemoryProviderParamsSetResidentDevices(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t *hDevices, uint32_t deviceCount);

/// Ops of the Level Zero provider.
umf_memory_provider_ops_t *umfLevelZeroMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_PROVIDER_LEVEL_ZERO_H */
