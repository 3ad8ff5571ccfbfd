/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider.h - the provider handle behind umf_memory_provider_handle_t.
 */

#ifndef UMF_PROVIDER_H
#define UMF_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include <umf/memory_provider.h>

struct umf_memory_provider_t {
    umf_memory_provider_ops_t ops; // a copy: the caller's table may go away
    void *priv;                    // what ops.initialize returned
};

// The private state of a provider (for pools and wrappers inside lib/).
static inline void *provider_priv(umf_memory_provider_handle_t h) {
    return h->priv;
}

// What lib/ may know about a kind of provider beyond its ops, declared by
// the provider itself (so that no layer names another): found by the
// provider's alloc function.
typedef struct provider_traits_t {
    // Every allocation is fresh, zero-filled memory (a pool asked for
    // zeroed memory may skip clearing it).
    bool zero_filled;
    // IPC: true when the provider's handle data maps exactly chunk_size
    // bytes, so a forged handle header cannot claim more than is mapped.
    // NULL: the provider checks its own data in open_ipc_handle.
    bool (*ipc_data_matches_chunk)(const void *data, uint64_t chunk_size);
} provider_traits_t;

// Declares the traits of providers with these ops (`t` in static storage;
// once per kind; later calls for the same ops are ignored).
void provider_traits_register(const umf_memory_provider_ops_t *ops,
                              const provider_traits_t *t);
// The traits of h's kind, or NULL when it declared none.
const provider_traits_t *provider_traits(umf_memory_provider_handle_t h);

#endif /* UMF_PROVIDER_H */
