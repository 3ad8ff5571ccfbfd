/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf extension, not part of the UMF 0.10.1 API: misuse checks for the
 * jemalloc pool, which upstream does not have. A program that uses them builds
 * with this project only; the contract's header <umf/pools/pool_jemalloc.h>
 * is unchanged.
 */

#ifndef UMF_JEMALLOC_POOL_EXT_H
#define UMF_JEMALLOC_POOL_EXT_H

#include <umf/pools/pool_jemalloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/// @brief What the jemalloc pool does about a free or realloc of a pointer
/// that is not the start of a live block of the pool: a double free, a
/// pointer inside a block, a pointer the pool never handed out. The
/// engine itself checks none of these; the pool keeps a map with one bit
/// per 8 bytes of the memory it uses (1/64 of it) and two atomic
/// operations per malloc and free.
typedef enum umf_jemalloc_pool_checks_t {
    /// Detect it, write one line naming the pointer and the pool to stderr
    /// (whatever UMF_LOG says) and call abort(), as glibc does. The
    /// default under libumf_proxy.so.
    UMF_JEMALLOC_POOL_CHECKS_ABORT = 0,
    /// Detect it, log one line at error level and return
    /// UMF_RESULT_ERROR_INVALID_ARGUMENT (realloc: NULL, with that
    /// error); the pool changes nothing.
    UMF_JEMALLOC_POOL_CHECKS_ERROR = 1,
    /// No checks (the default through the API): the engine's own
    /// behaviour, which may hand memory out twice after such a call.
    UMF_JEMALLOC_POOL_CHECKS_OFF = 2,
} umf_jemalloc_pool_checks_t;

/// @brief Sets how the pool treats frees of pointers that are not live
/// blocks. With checks on, umfPoolMallocUsableSize of such a pointer is 0.
/// @param hParams handle to the parameters of the jemalloc pool
/// @param checks one of umf_jemalloc_pool_checks_t
/// @return UMF_RESULT_SUCCESS, or UMF_RESULT_ERROR_INVALID_ARGUMENT for a
///         NULL handle or a value outside the enumeration.
umf_result_t
umfJemallocPoolParamsSetChecks(umf_jemalloc_pool_params_handle_t hParams,
                               umf_jemalloc_pool_checks_t checks);

#ifdef __cplusplus
}
#endif

#endif /* UMF_JEMALLOC_POOL_EXT_H */
