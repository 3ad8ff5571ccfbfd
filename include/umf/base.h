/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/base.h - version macros and the result codes every UMF call returns.
 */

#ifndef UMF_BASE_H
#define UMF_BASE_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Packs a major and a minor version into one integer.
#define UMF_MAKE_VERSION(_major, _minor)                                       \
    ((_major << 16) | (_minor & 0x0000ffff))
#define UMF_MAJOR_VERSION(_ver) (_ver >> 16)
#define UMF_MINOR_VERSION(_ver) (_ver & 0x0000ffff)
/// Version of this API; also the value of the `version` field of ops tables.
#define UMF_VERSION_CURRENT     UMF_MAKE_VERSION(0, 10)

/// Result of a UMF call; UMF_RESULT_SUCCESS is 0.
typedef enum umf_result_t {
    UMF_RESULT_SUCCESS = 0,                        ///< success
    UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY = 1,       ///< host memory ran out
    UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC = 2, ///< see the native error
    UMF_RESULT_ERROR_INVALID_ARGUMENT = 3,  ///< bad handle, pointer or value
    UMF_RESULT_ERROR_INVALID_ALIGNMENT = 4, ///< alignment rejected
    UMF_RESULT_ERROR_NOT_SUPPORTED = 5,     ///< not implemented here
    UMF_RESULT_ERROR_USER_SPECIFIC = 6,     ///< a user callback failed
    UMF_RESULT_ERROR_UNKNOWN = 0x7ffffffe   ///< internal failure
} umf_result_t;

#ifdef __cplusplus
}
#endif

#endif /* UMF_BASE_H */
