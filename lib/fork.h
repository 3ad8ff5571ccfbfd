/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.h - the pthread_atfork handlers of libumf.
 */

#ifndef UMF_FORK_H
#define UMF_FORK_H

// Registers the handlers once; 0 or an errno value.
int fork_hooks_install(void);

// Exported for libjemalloc_pool's fork handlers (in no public header):
// the outer locks of libumf (see the lock order in fork.c), taken before
// a pool's own fork gate and released after it.
void umf_private_fork_prepare_outer(void);
void umf_private_fork_parent_outer(void);
void umf_private_fork_child_outer(void);

#endif /* UMF_FORK_H */
