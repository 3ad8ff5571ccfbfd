/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf extension, not part of the UMF 0.10.1 API: settings of the OS memory
 * provider that upstream does not have. A program that uses them builds
 * with this project only; the contract's header
 * <umf/providers/provider_os_memory.h> is unchanged.
 */

#ifndef UMF_OS_MEMORY_PROVIDER_EXT_H
#define UMF_OS_MEMORY_PROVIDER_EXT_H

#include <umf/providers/provider_os_memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/// @brief Transparent huge pages for the provider's memory.
typedef enum umf_os_huge_pages_t {
    /// No advice: the system-wide setting
    /// (/sys/kernel/mm/transparent_hugepage/enabled) decides.
    UMF_OS_HUGE_PAGES_DEFAULT = 0,
    /// madvise(MADV_HUGEPAGE) on every allocation, and allocations of at
    /// least one huge page aligned to the huge page size so that they can
    /// be backed by huge pages. Provider creation fails with
    /// UMF_RESULT_ERROR_NOT_SUPPORTED on a kernel without transparent huge
    /// pages.
    UMF_OS_HUGE_PAGES_ON = 1,
    /// madvise(MADV_NOHUGEPAGE) on every allocation: never huge pages.
    UMF_OS_HUGE_PAGES_OFF = 2,
} umf_os_huge_pages_t;

/// @brief Sets the transparent huge page mode of an OS provider.
/// @param hParams handle to the parameters of the OS memory provider
/// @param mode one of umf_os_huge_pages_t (checked at provider creation)
/// @return UMF_RESULT_SUCCESS, or UMF_RESULT_ERROR_INVALID_ARGUMENT for a
///         NULL handle.
umf_result_t umfOsMemoryProviderParamsSetHugePages(
    umf_os_memory_provider_params_handle_t hParams, umf_os_huge_pages_t mode);

#ifdef __cplusplus
}
#endif

#endif /* UMF_OS_MEMORY_PROVIDER_EXT_H */
