/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_cache.h - the IPC state of a pool: its producer cache (one entry per
 * chunk a handle was made for) and its consumer cache (one mapping per
 * producer chunk opened through the pool's handler). The state object is
 * also the pool's IPC handler (umf_ipc_handler_handle_t). Created on first
 * use, destroyed with the pool.
 */

#ifndef UMF_IPC_CACHE_H
#define UMF_IPC_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <umf/memory_pool.h>

#include "ipc_handle.h"
#include "tracker.h"

typedef struct ipc_pool_t ipc_pool_t;

// --- Tracker owners of consumer mappings ---
// A mapping opened through a pool's handler is registered under the pool's
// handle with bit 0 set: umfPoolByPtr answers the pool (as the contract
// says), while free paths can tell an IPC mapping from the pool's memory.

static inline void *ipc_owner_tag(umf_memory_pool_handle_t pool) {
    return (void *)((uintptr_t)pool | 1u);
}

static inline bool ipc_owner_is_mapping(const void *owner) {
    return ((uintptr_t)owner & 1u) != 0;
}

static inline umf_memory_pool_handle_t ipc_owner_pool(void *owner) {
    return (umf_memory_pool_handle_t)((uintptr_t)owner & ~(uintptr_t)1u);
}

// The pool's IPC state, created on first call; NULL when out of memory.
ipc_pool_t *ipc_pool_get(umf_memory_pool_handle_t pool);
// Puts every producer entry and closes every consumer mapping of the pool
// (pool destroy, after the pool's finalize, before its providers go).
void ipc_pool_destroy(umf_memory_pool_handle_t pool);

// --- Producer ---
// A handle for ptr, which lies in the pool's chunk described by chunk.
umf_result_t ipc_producer_get(ipc_pool_t *ip, const tracker_info_t *chunk,
                              const void *ptr, struct umf_ipc_data_t **out,
                              size_t *size);
// Releases a handle of ipc_producer_get.
umf_result_t ipc_producer_put(struct umf_ipc_data_t *h);
// Provider free of [ptr, ptr+size) of pool is about to run: put the cached
// entries of the chunks it touches. Cheap when the pool has none.
void ipc_producer_chunk_free_slow(umf_memory_pool_handle_t pool,
                                  tracker_t *tracker, const void *ptr,
                                  size_t size);
// Handle size of the pool's provider (header + provider data).
umf_result_t ipc_handle_size_of(ipc_pool_t *ip, size_t *size);

// --- Consumer ---
// hIPCHandler as given by the user: NULL unless it is one of ours.
ipc_pool_t *ipc_handler_check(const void *handler);
umf_result_t ipc_consumer_open(ipc_pool_t *ip, const void *handle, void **ptr);
// ptr lies in a mapping registered under owner (tagged).
umf_result_t ipc_consumer_close(void *owner, const tracker_info_t *mapping);

// Number of live entries (tests and the benchmark).
size_t ipc_producer_entries(umf_memory_pool_handle_t pool);

#endif /* UMF_IPC_CACHE_H */
