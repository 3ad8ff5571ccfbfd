/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_disjoint_internal.h - settings of the disjoint pool that libumf's
 * own pools use and the public API does not offer.
 */

#ifndef UMF_POOL_DISJOINT_INTERNAL_H
#define UMF_POOL_DISJOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <umf/pools/pool_disjoint.h>

// Empty slabs a chunked bucket keeps when its slabs hold at most 4 chunks
// (n >= 1; the contract's rule, and the default, is 1). Such a slab
// empties whenever its few blocks are freed, and with one kept the pool
// maps and unmaps a slab for nearly every other allocation once a thread
// churns blocks of that size. The host engine's pool for blocks over
// UMF_HOST_MAX keeps 2. INVALID_ARGUMENT for NULL or n == 0.
umf_result_t
umf_private_disjoint_params_set_keep_sparse(umf_disjoint_pool_params_handle_t h,
                                            size_t n);

// Empty slabs every chunked bucket keeps (n >= 1; default 1; a bucket of
// at most 4 chunks a slab keeps the larger of this and keep_sparse), while
// the pool's limit on cached bytes allows (umfDisjointPoolParamsSet-
// SharedLimits). The host engine's pool for blocks over UMF_HOST_MAX keeps
// 8 within 32 MiB: with fewer, a thread churning buffers of 128 KiB-1 MiB
// had every slab that emptied unmapped, and the next one faulted its pages
// in again. INVALID_ARGUMENT for NULL or n == 0.
umf_result_t
umf_private_disjoint_params_set_keep_empty(umf_disjoint_pool_params_handle_t h,
                                           size_t n);

// Empty slabs kept for reuse go back to the provider once they have been
// empty for `ms` milliseconds (0, the default: never, the contract's rule),
// looked at by the pool's slow paths at most twice per `ms`. The host
// engine's large-block pool uses the engine's decay time (1 s by default).
// INVALID_ARGUMENT for NULL.
umf_result_t
umf_private_disjoint_params_set_decay(umf_disjoint_pool_params_handle_t h,
                                      size_t ms);

// What umfDisjointPoolOps returns, for libumf's own users: the host
// engine's large blocks (a constant address: no call into this file's
// code at start-up).
extern umf_memory_pool_ops_t umf_private_disjoint_ops;

// Whether ptr lies in one of the slabs of the disjoint pool `priv` (the
// pool's private data, as its ops get it) while no pool's range nests in
// another's: then its free and usable size are that pool's to answer,
// misuse included, without asking the tracker. (With nesting the tracker
// must name the innermost owner: a program's pool whose provider mallocs
// can put its first block at the start of one of ours.) Takes no lock: one
// walk of the pool's page map. False for blocks above MaxPoolableSize
// (those the pool keeps in its large-allocation table) and for anything
// else.
bool umf_private_disjoint_owns(void *priv, const void *ptr);

// For the proxy (exported): the private data of the disjoint pool behind
// pool handle `pool_handle`, or NULL when it is another kind of pool.
void *umf_private_disjoint_pool_of(void *pool_handle);

// Exported (the proxy's pool=disjoint heaps, the host engine's large-block
// pool): frees ptr and returns true when umf_private_disjoint_owns(dp,
// ptr); false: nothing done. The free is the pool's own (misuse checks
// included), with one page-map walk and no tracker walk.
bool umf_private_disjoint_free_owned(void *dp, void *ptr);

#endif /* UMF_POOL_DISJOINT_INTERNAL_H */
