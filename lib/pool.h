/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool.h - the pool handle behind umf_memory_pool_handle_t.
 */

#ifndef UMF_POOL_H
#define UMF_POOL_H

#include <umf/memory_pool.h>
#include <umf/memory_pool_ops.h>

#include <stdatomic.h>

#include "tracker.h"

struct ipc_pool_t;

struct umf_memory_pool_t {
    void *priv;                  // what ops.initialize returned
    umf_memory_pool_ops_t ops;   // a copy, NULL optional ops filled in
    umf_memory_provider_handle_t provider;       // the user's provider
    umf_memory_provider_handle_t pool_provider;  // what the pool talks to
    umf_pool_create_flags_t flags;
    tracker_t *tracker;          // held alive until the pool is destroyed
    // IPC caches and handler (ipc_cache.c), created on first IPC call.
    _Atomic(struct ipc_pool_t *) ipc;
};

// Exported for pools built as separate libraries (as upstream's were); in no
// public header.
typedef struct umf_alloc_info_t {
    void *base;      // start of the tracked chunk containing ptr
    size_t baseSize; // its size
    umf_memory_pool_handle_t pool; // owning pool
} umf_alloc_info_t;

umf_result_t umfMemoryTrackerGetAllocInfo(const void *ptr,
                                          umf_alloc_info_t *pAllocInfo);


// Exported for libumf_proxy.so: umfMemoryTrackerGetAllocInfo, and whether
// the answer holds for every address of the chunk (no other pool's range
// nests in it).
umf_result_t umf_private_tracker_lookup(const void *ptr,
                                        umf_alloc_info_t *info,
                                        bool *cacheable);

#endif /* UMF_POOL_H */
