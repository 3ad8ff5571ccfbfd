/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/providers/provider_coarse.h - the coarse provider: carves blocks out
 * of a fixed buffer given by the user, or out of big chunks taken from an
 * upstream provider, splitting and coalescing them.
 */

#ifndef UMF_COARSE_PROVIDER_H
#define UMF_COARSE_PROVIDER_H

#include <stdbool.h>
#include <string.h>

#include <umf/memory_provider.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How a free block is chosen for a request of size and alignment.
typedef enum coarse_memory_provider_strategy_t {
    /// The smallest free block of at least size + alignment; the aligned
    /// part is cut out of it (this may leave fragments).
    UMF_COARSE_MEMORY_STRATEGY_FASTEST = 0,
    /// The first free block of at least size is checked for alignment;
    /// if it does not fit, as FASTEST.
    UMF_COARSE_MEMORY_STRATEGY_FASTEST_BUT_ONE,
    /// Every free block of the first size that fits is checked for
    /// alignment; if none fits, as FASTEST.
    UMF_COARSE_MEMORY_STRATEGY_CHECK_ALL_SIZE,
    /// Number of strategies (not a strategy).
    UMF_COARSE_MEMORY_STRATEGY_MAX
} coarse_memory_provider_strategy_t;

/// Parameters of the coarse provider, passed by address to
/// umfMemoryProviderCreate(). Exactly one of upstream_memory_provider and
/// init_buffer must be set.
typedef struct coarse_memory_provider_params_t {
    /// Provider the memory comes from (upstream mode), or NULL.
    umf_memory_provider_handle_t upstream_memory_provider;
    /// How free blocks are chosen.
    coarse_memory_provider_strategy_t allocation_strategy;
    /// The only memory handed out (fixed-buffer mode), or NULL. Not freed
    /// by the provider.
    void *init_buffer;
    /// Size of init_buffer, or of the first chunk taken from the upstream
    /// when immediate_init_from_upstream is set.
    size_t init_buffer_size;
    /// Take init_buffer_size bytes from the upstream at creation.
    bool immediate_init_from_upstream;
    /// Destroy the upstream provider with this one.
    bool destroy_upstream_memory_provider;
} coarse_memory_provider_params_t;

/// Counters of a coarse provider.
typedef struct coarse_memory_provider_stats_t {
    size_t alloc_size;          ///< bytes obtained (buffer or upstream)
    size_t used_size;           ///< bytes in allocated blocks
    size_t num_upstream_blocks; ///< chunks from the upstream, after merging
    size_t num_all_blocks;      ///< used + free blocks
    size_t num_free_blocks;     ///< free blocks
} coarse_memory_provider_stats_t;

/// Ops of the coarse provider.
umf_memory_provider_ops_t *umfCoarseMemoryProviderOps(void);

/// A snapshot of the counters of a coarse provider (all zero for NULL).
coarse_memory_provider_stats_t
umfCoarseMemoryProviderGetStats(umf_memory_provider_handle_t provider);

/// All-zero parameters: no upstream, FASTEST, no buffer, both flags false.
static inline coarse_memory_provider_params_t
umfCoarseMemoryProviderParamsDefault(void) {
    coarse_memory_provider_params_t coarse_memory_provider_params;
    memset(&coarse_memory_provider_params, 0,
           sizeof(coarse_memory_provider_params));
    return coarse_memory_provider_params;
}

#ifdef __cplusplus
}
#endif

#endif /* UMF_COARSE_PROVIDER_H */
