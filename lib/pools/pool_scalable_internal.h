/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_scalable_internal.h - the scalable pool's fork gate hooks (fork.c).
 */

#ifndef UMF_POOL_SCALABLE_INTERNAL_H
#define UMF_POOL_SCALABLE_INTERNAL_H

void sp_fork_prepare(void);
void sp_fork_parent(void);
void sp_fork_child(void);

#endif /* UMF_POOL_SCALABLE_INTERNAL_H */
