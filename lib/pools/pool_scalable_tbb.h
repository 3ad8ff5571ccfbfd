/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_scalable_tbb.h - tbbmalloc's memory-pool API, as its C++ header
 * declares it (the scalable pool loads it with dlopen; bench/pool_bench
 * calls it directly to compare).
 */

#ifndef UMF_POOL_SCALABLE_TBB_H
#define UMF_POOL_SCALABLE_TBB_H

#include <stddef.h>
#include <stdint.h>

typedef struct tbb_pool_t tbb_pool_t; // rml::MemoryPool, opaque

// rml::MemPoolPolicy. The C++ `size_t &bytes` is passed as a pointer.
typedef struct tbb_policy_t {
    void *(*raw_alloc)(intptr_t pool_id, size_t *bytes);
    int (*raw_free)(intptr_t pool_id, void *raw_ptr, size_t raw_bytes);
    size_t granularity;
    int version;
    unsigned fixed_pool : 1, keep_all_memory : 1, reserved : 30;
} tbb_policy_t;

enum {
    TBB_POLICY_VERSION = 1, // MemPoolPolicy::TBBMALLOC_POOL_VERSION
    TBB_POOL_OK = 0,        // rml::POOL_OK; the other MemPoolError values fail
};

// The C++ names of the entry points.
#define TBB_SYM_POOL_CREATE_V1                                                 \
    "_ZN3rml14pool_create_v1ElPKNS_13MemPoolPolicyEPPNS_10MemoryPoolE"
#define TBB_SYM_POOL_MALLOC "_ZN3rml11pool_mallocEPNS_10MemoryPoolEm"
#define TBB_SYM_POOL_FREE   "_ZN3rml9pool_freeEPNS_10MemoryPoolEPv"

#endif /* UMF_POOL_SCALABLE_TBB_H */
