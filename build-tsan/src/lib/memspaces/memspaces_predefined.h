/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspaces_predefined.h - the library's own memspaces (host-all, highest
 * capacity, highest bandwidth, lowest latency): built on first use,
 * destroyed at tear-down, rebuilt on first use after the next umfInit.
 */

#ifndef UMF_MEMSPACES_PREDEFINED_H
#define UMF_MEMSPACES_PREDEFINED_H

// Library tear-down (init.c): destroys every predefined memspace, before
// the topology goes. Handles given out before become invalid.
void memspaces_predefined_fini(void);

// fork.c
void memspaces_predefined_fork_prepare(void);
void memspaces_predefined_fork_parent(void);
void memspaces_predefined_fork_child(void);

#endif /* UMF_MEMSPACES_PREDEFINED_H */
