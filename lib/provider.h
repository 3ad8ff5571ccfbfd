/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider.h - the provider handle behind umf_memory_provider_handle_t.
 */

#ifndef UMF_PROVIDER_H
#define UMF_PROVIDER_H

#include <umf/memory_provider.h>

struct umf_memory_provider_t {
    umf_memory_provider_ops_t ops; // a copy: the caller's table may go away
    void *priv;                    // what ops.initialize returned
};

// The private state of a provider (for pools and wrappers inside lib/).
static inline void *provider_priv(umf_memory_provider_handle_t h) {
    return h->priv;
}

#endif /* UMF_PROVIDER_H */
