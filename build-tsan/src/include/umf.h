/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf.h - the umbrella header: pools, providers, memspaces and mempolicies,
 * plus library set-up and tear-down.
 */

#ifndef UMF_UNIFIED_MEMORY_FRAMEWORK_H
#define UMF_UNIFIED_MEMORY_FRAMEWORK_H 1

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/mempolicy.h>
#include <umf/memspace.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Adds a user of the library; the first user sets up global state.
/// Returns 0, or -1 if set-up failed. Calling it is optional.
int umfInit(void);

/// Drops a user added by umfInit(); the last one tears global state down.
void umfTearDown(void);

/// Returns UMF_VERSION_CURRENT of the library.
int umfGetCurrentVersion(void);

#ifdef __cplusplus
}
#endif

#endif /* UMF_UNIFIED_MEMORY_FRAMEWORK_H */
