/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf extension, not part of the UMF 0.10.1 API: settings of the disjoint
 * pool that upstream does not have. A program that uses them builds with
 * this project only; the contract's header <umf/pools/pool_disjoint.h> is
 * unchanged.
 */

#ifndef UMF_DISJOINT_POOL_EXT_H
#define UMF_DISJOINT_POOL_EXT_H

#include <umf/pools/pool_disjoint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// @brief What the disjoint pool does about a free (or realloc, or
/// malloc_usable_size) of a pointer that is not the start of a live block
/// of the pool: a double free, a pointer inside a block, a pointer the pool
/// never handed out.
typedef enum umf_disjoint_pool_checks_t {
    /// The default: detect it, write one line naming the pointer and the
    /// pool to stderr (whatever UMF_LOG says) and call abort(), as glibc
    /// does.
    UMF_DISJOINT_POOL_CHECKS_ABORT = 0,
    /// Detect it, log one line at error level and return
    /// UMF_RESULT_ERROR_INVALID_ARGUMENT; the pool changes nothing.
    UMF_DISJOINT_POOL_CHECKS_ERROR = 1,
    /// No checks on the fast paths (slightly faster): a double free of a
    /// small block can then hand its memory out twice. Only what the slow
    /// paths see for free is still refused.
    UMF_DISJOINT_POOL_CHECKS_OFF = 2,
} umf_disjoint_pool_checks_t;

/// @brief Sets how the pool treats frees of pointers that are not live
/// blocks.
/// @param hParams handle to the parameters of the disjoint pool
/// @param checks one of umf_disjoint_pool_checks_t
/// @return UMF_RESULT_SUCCESS, or UMF_RESULT_ERROR_INVALID_ARGUMENT for a
///         NULL handle or a value outside the enumeration.
umf_result_t
umfDisjointPoolParamsSetChecks(umf_disjoint_pool_params_handle_t hParams,
                               umf_disjoint_pool_checks_t checks);

#ifdef __cplusplus
}
#endif

#endif /* UMF_DISJOINT_POOL_EXT_H */
