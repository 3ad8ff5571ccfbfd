/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_file_memory.h - the file memory provider: maps a
 * regular file (also on an FSDAX filesystem, with MAP_SYNC), grown as
 * allocations need it.
 */

#ifndef UMF_FILE_MEMORY_PROVIDER_H
#define UMF_FILE_MEMORY_PROVIDER_H

#include <umf/providers/provider_os_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/// First native error code of the file provider.
#define UMF_FILE_RESULTS_START_FROM 3000

struct umf_file_memory_provider_params_t;

typedef struct umf_file_memory_provider_params_t
    *umf_file_memory_provider_params_handle_t;

/// New params for the file at path (copied): READ|WRITE, PRIVATE.
umf_result_t umfFileMemoryProviderParamsCreate(
    umf_file_memory_provider_params_handle_t *hParams, const char *path);

/// Frees params (NULL allowed).
umf_result_t umfFileMemoryProviderParamsDestroy(
    umf_file_memory_provider_params_handle_t hParams);

/// Replaces the path (copied; NULL or empty is an error).
umf_result_t umfFileMemoryProviderParamsSetPath(
    umf_file_memory_provider_params_handle_t hParams, const char *path);

/// Bit-or of UMF_PROTECTION_* (checked when the provider is created).
umf_result_t umfFileMemoryProviderParamsSetProtection(
    umf_file_memory_provider_params_handle_t hParams, unsigned protection);

/// Private or shared mapping of the file (IPC and FSDAX need shared).
umf_result_t umfFileMemoryProviderParamsSetVisibility(
    umf_file_memory_provider_params_handle_t hParams,
    umf_memory_visibility_t visibility);

/// Native errors of the file provider.
typedef enum umf_file_memory_provider_native_error {
    UMF_FILE_RESULT_SUCCESS = UMF_FILE_RESULTS_START_FROM,
    UMF_FILE_RESULT_ERROR_ALLOC_FAILED,
    UMF_FILE_RESULT_ERROR_FREE_FAILED,
    UMF_FILE_RESULT_ERROR_PURGE_FORCE_FAILED,
} umf_file_memory_provider_native_error_t;

/// Ops of the file provider.
umf_memory_provider_ops_t *umfFileMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_FILE_MEMORY_PROVIDER_H */
