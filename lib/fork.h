/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.h - the pthread_atfork handlers of libumf.
 */

#ifndef UMF_FORK_H
#define UMF_FORK_H

// Registers the handlers once; 0 or an errno value.
int fork_hooks_install(void);

#endif /* UMF_FORK_H */
