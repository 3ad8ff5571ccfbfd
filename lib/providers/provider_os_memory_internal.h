/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_os_memory_internal.h - what lib/ needs from the OS provider
 * beyond its public ops: the fork hooks of shared providers' locks.
 */

#ifndef UMF_PROVIDER_OS_MEMORY_INTERNAL_H
#define UMF_PROVIDER_OS_MEMORY_INTERNAL_H

#include <umf/memory_provider.h>

void os_provider_fork_prepare(void);
void os_provider_fork_parent(void);
void os_provider_fork_child(void);

// Exported for libumf_proxy.so: a fork child of this (shared) provider
// gets private copies of its mappings and a new backing file.
umf_result_t
umf_private_os_provider_private_after_fork(umf_memory_provider_handle_t h);

#endif /* UMF_PROVIDER_OS_MEMORY_INTERNAL_H */
