/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_disjoint_internal.h - the disjoint pool's fork hooks (fork.c).
 */

#ifndef UMF_POOL_DISJOINT_INTERNAL_H
#define UMF_POOL_DISJOINT_INTERNAL_H

void dp_fork_prepare(void);
void dp_fork_parent(void);
void dp_fork_child(void);

#endif /* UMF_POOL_DISJOINT_INTERNAL_H */
