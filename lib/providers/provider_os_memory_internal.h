/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_os_memory_internal.h - what lib/ needs from the OS provider
 * beyond its public ops: the fork hooks of shared providers' locks.
 */

#ifndef UMF_PROVIDER_OS_MEMORY_INTERNAL_H
#define UMF_PROVIDER_OS_MEMORY_INTERNAL_H

void os_provider_fork_prepare(void);
void os_provider_fork_parent(void);
void os_provider_fork_child(void);

#endif /* UMF_PROVIDER_OS_MEMORY_INTERNAL_H */
