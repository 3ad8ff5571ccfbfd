/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool_disjoint.c - what is particular to the disjoint pool: params,
 * the bucket/slab algorithm seen from the provider, capacity and shared
 * limits, memory the CPU cannot touch, traces, thread caches (thread exit,
 * pool destroy, stale caches), destroy returning everything, and misuse
 * (double and interior frees, each in a child process: aborted with one
 * line, or refused with an error, never memory handed out twice) and
 * parameters too large to hold.
 * Behaviour common to all pools is in test_pools.c.
 */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_disjoint_ext.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"
#include "pools/pool_disjoint_internal.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

static umf_memory_provider_handle_t counting_provider(test_prov_params_t *pp) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, pp, &prov),
                     UMF_RESULT_SUCCESS);
    return prov;
}

// The contract's "typical tested configuration".
static umf_disjoint_pool_params_handle_t typical_params(void) {
    umf_disjoint_pool_params_handle_t p;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(p, 4096), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMaxPoolableSize(p, 4096), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetCapacity(p, 4), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, 64), 0);
    return p;
}

static umf_memory_pool_handle_t make_pool(umf_memory_provider_handle_t prov,
                                          umf_disjoint_pool_params_handle_t p,
                                          umf_pool_create_flags_t flags) {
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfDisjointPoolOps(), prov, p, flags, &pool),
                     UMF_RESULT_SUCCESS);
    return pool;
}

// --- params ---

START_TEST(test_pool_disjoint_params_api) {
    umf_disjoint_pool_params_handle_t p = (void *)0x1;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsDestroy(NULL), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(NULL, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetMaxPoolableSize(NULL, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetCapacity(NULL, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(NULL, 8),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetTrace(NULL, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetSharedLimits(NULL, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsSetName(NULL, "x"),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);

    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), UMF_RESULT_SUCCESS);
    const size_t bad[] = {0, 3, 6, 24, 100, (size_t)3 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, bad[i]),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
    }
    const size_t good[] = {1, 2, 4, 8, 64, 4096};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, good[i]),
                         UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfDisjointPoolParamsSetName(p, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // The name is copied.
    char name[] = "mine";
    ck_assert_int_eq(umfDisjointPoolParamsSetName(p, name), 0);
    name[0] = 'X';
    ck_assert_int_eq(umfDisjointPoolParamsDestroy(p), UMF_RESULT_SUCCESS);

    umf_disjoint_pool_shared_limits_handle_t l =
        umfDisjointPoolSharedLimitsCreate(1 << 20);
    ck_assert_ptr_nonnull(l);
    umfDisjointPoolSharedLimitsDestroy(l);
    umfDisjointPoolSharedLimitsDestroy(NULL);
}
END_TEST

START_TEST(test_pool_disjoint_null_params_are_defaults) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    void *a = umfPoolMalloc(pool, 64);
    void *b = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    // Both from one 2 MiB slab: the documented default.
    ck_assert_uint_eq(t->allocs, 1);
    ck_assert_uint_eq(t->allocated, 2 * MiB);
    umfPoolFree(pool, a);
    umfPoolFree(pool, b);
    // 1 MiB is chunked (two per slab); 2 MiB is pooled as a whole slab;
    // 2 MiB + 1 goes straight through.
    void *e = umfPoolMalloc(pool, MiB);
    ck_assert_uint_eq(t->allocated, 4 * MiB);
    void *c = umfPoolMalloc(pool, 2 * MiB);
    ck_assert_uint_eq(t->allocated, 6 * MiB);
    void *d = umfPoolMalloc(pool, 2 * MiB + 1);
    ck_assert_uint_eq(t->allocated, 8 * MiB + 1);
    umfPoolFree(pool, c);
    umfPoolFree(pool, d);
    umfPoolFree(pool, e);
    ck_assert_uint_eq(t->allocated, 6 * MiB); // c kept, d freed
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disjoint_create_errors) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_disjoint_pool_params_handle_t p = typical_params();
    // The min bucket can only be set to a power of two, so a pool cannot be
    // created with a bad one; NULL provider is refused by umfPoolCreate.
    umf_memory_pool_handle_t pool = (void *)0x1;
    ck_assert_int_eq(umfPoolCreate(umfDisjointPoolOps(), NULL, p, 0, &pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(pool, (void *)0x1);
    // Degenerate but valid settings: nothing pooled at all.
    ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(p, 0), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMaxPoolableSize(p, 0), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetCapacity(p, 0), 0);
    pool = make_pool(prov, p, 0);
    test_prov_t *t = test_prov_last;
    void *x = umfPoolMalloc(pool, 10);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(t->allocated, 10); // straight to the provider
    ck_assert_int_eq(umfPoolFree(pool, x), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->allocated, 0);
    umfPoolDestroy(pool);
    umfDisjointPoolParamsDestroy(p);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- the algorithm, seen from the provider ---

START_TEST(test_pool_disjoint_chunked_slabs) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);

    // 64 chunks of 64 B fill one 4 KiB slab; the 65th needs another.
    void *ptr[130];
    for (int i = 0; i < 64; i++) {
        ptr[i] = umfPoolMalloc(pool, 50);
        ck_assert_ptr_nonnull(ptr[i]);
    }
    ck_assert_uint_eq(t->allocs, 1);
    ck_assert_uint_eq(t->allocated, 4096);
    ptr[64] = umfPoolMalloc(pool, 64);
    ck_assert_uint_eq(t->allocs, 2);
    // All distinct, 64 B apart within a slab, nothing overlapping.
    for (int i = 0; i <= 64; i++) {
        for (int j = 0; j < i; j++) {
            uintptr_t a = (uintptr_t)ptr[i], b = (uintptr_t)ptr[j];
            ck_assert(a >= b + 64 || b >= a + 64);
        }
    }
    // Free everything: one empty slab is kept, the other goes back.
    for (int i = 0; i <= 64; i++) {
        ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool); // flushes this thread's cache, frees all slabs
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_uint_eq(t->allocs, t->frees);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Empty slabs kept by a bucket of `size` blocks (1000 B: 4 chunks in each
// 4 KiB slab; 500 B: 8) after three slabs' worth are freed: one (the
// contract's rule) by default, else what the internal settings say
// (sparse: keep_sparse, else keep_empty), within `limit` bytes (0: none).
static size_t slabs_kept(size_t size, size_t sparse, size_t empty,
                         size_t limit) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, 512), 0);
    // Exact statistics: no thread cache between the pool and the slabs.
    ck_assert_int_eq(umfDisjointPoolParamsSetTrace(p, 2), 0);
    if (sparse) {
        ck_assert_int_eq(umf_private_disjoint_params_set_keep_sparse(p, sparse),
                         UMF_RESULT_SUCCESS);
    }
    if (empty) {
        ck_assert_int_eq(umf_private_disjoint_params_set_keep_empty(p, empty),
                         UMF_RESULT_SUCCESS);
    }
    umf_disjoint_pool_shared_limits_handle_t lim =
        limit ? umfDisjointPoolSharedLimitsCreate(limit) : NULL;
    if (limit) {
        ck_assert_ptr_nonnull(lim);
        ck_assert_int_eq(umfDisjointPoolParamsSetSharedLimits(p, lim), 0);
    }
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    size_t per_slab = 4096 / (size == 1000 ? 1024 : 512), n = 3 * per_slab;
    void *ptr[24];
    for (size_t i = 0; i < n; i++) {
        ptr[i] = umfPoolMalloc(pool, size);
        ck_assert_ptr_nonnull(ptr[i]);
    }
    ck_assert_uint_eq(t->allocated, 3 * 4096);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
    }
    size_t kept = t->allocated / 4096;
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
    if (lim) {
        umfDisjointPoolSharedLimitsDestroy(lim);
    }
    return kept;
}

// Empty slabs kept: keep_sparse (buckets of at most 4 chunks a slab).
START_TEST(test_pool_disjoint_keep_empty_slabs) {
    ck_assert_uint_eq(slabs_kept(1000, 0, 0, 0), 1);
    ck_assert_uint_eq(slabs_kept(1000, 2, 0, 0), 2);
    ck_assert_uint_eq(slabs_kept(1000, 5, 0, 0), 3); // no more than it had
    ck_assert_uint_eq(slabs_kept(500, 2, 0, 0), 1);  // 8 chunks: not sparse
    // keep_empty: every chunked bucket; the larger of it and keep_sparse
    // for sparse ones; never past the pool's limit on cached bytes.
    ck_assert_uint_eq(slabs_kept(500, 0, 2, 0), 2);
    ck_assert_uint_eq(slabs_kept(500, 0, 8, 0), 3); // no more than it had
    ck_assert_uint_eq(slabs_kept(1000, 3, 2, 0), 3);
    ck_assert_uint_eq(slabs_kept(1000, 1, 2, 0), 2);
    ck_assert_uint_eq(slabs_kept(500, 0, 8, 2 * 4096), 2); // the limit
    umf_result_t (*set[])(umf_disjoint_pool_params_handle_t, size_t) = {
        umf_private_disjoint_params_set_keep_sparse,
        umf_private_disjoint_params_set_keep_empty,
    };
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(set[i](NULL, 2), UMF_RESULT_ERROR_INVALID_ARGUMENT);
        umf_disjoint_pool_params_handle_t p = typical_params();
        ck_assert_int_eq(set[i](p, 0), UMF_RESULT_ERROR_INVALID_ARGUMENT);
        umfDisjointPoolParamsDestroy(p);
    }
}
END_TEST

static void sleep_ms(long ms) {
    struct timespec pause = {0, ms * 1000 * 1000};
    while (nanosleep(&pause, &pause) != 0) {
    }
}

// Takes n blocks of 500 B (bucket 512: 8 chunks in each 4 KiB slab of
// typical_params), then frees them all.
static void take_and_free_500(umf_memory_pool_handle_t pool, int n) {
    void *ptr[24];
    ck_assert_int_le(n, 24);
    for (int i = 0; i < n; i++) {
        ptr[i] = umfPoolMalloc(pool, 500);
        ck_assert_ptr_nonnull(ptr[i]);
    }
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
    }
}

// Decay (internal): kept empty slabs go back once they have been empty for
// the decay time, when a slow path next looks; the contract's pool (decay
// 0) keeps them.
static size_t slabs_after_decay(size_t decay_ms) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, 512), 0);
    // No thread cache: every call takes the locked (slow) path.
    ck_assert_int_eq(umfDisjointPoolParamsSetTrace(p, 2), 0);
    ck_assert_int_eq(umf_private_disjoint_params_set_keep_empty(p, 8), 0);
    ck_assert_int_eq(umf_private_disjoint_params_set_decay(p, decay_ms), 0);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    take_and_free_500(pool, 24);
    ck_assert_uint_eq(t->allocated, 3 * 4096); // all three kept
    sleep_ms(150);
    // One slab is taken again, then the others are looked at.
    void *q = umfPoolMalloc(pool, 500);
    ck_assert_ptr_nonnull(q);
    size_t kept = t->allocated / 4096;
    ck_assert_int_eq(umfPoolFree(pool, q), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
    return kept;
}

// Idle magazines (internal, pools with decay): a thread's magazine that
// was neither refilled nor drained for a decay time gives its chunks back
// when a slow path of that thread next looks, and the slab they kept from
// emptying counts as empty since then, so the same slow path's decay sweep
// gives it back. Slabs left after: eight 500 B chunks taken and freed (one
// slab, all of it in this thread's magazine), then, over a decay time
// apart, the first malloc of two fresh buckets (slow paths: one slab each).
static size_t slabs_after_idle(size_t decay_ms) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    ck_assert_int_eq(umf_private_disjoint_params_set_decay(p, decay_ms), 0);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    take_and_free_500(pool, 8);
    ck_assert_uint_eq(t->allocated, 4096); // held by the magazine
    sleep_ms(60);
    void *a = umfPoolMalloc(pool, 64); // looks: the 500 B magazine is idle
    ck_assert_ptr_nonnull(a);
    // With decay, the 500 B slab is gone: only the 64 B one is left.
    ck_assert_uint_eq(t->allocated, (decay_ms ? 4096 : 2 * 4096));
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    sleep_ms(60);
    void *b = umfPoolMalloc(pool, 128); // and now the 64 B magazine
    ck_assert_ptr_nonnull(b);
    size_t slabs = t->allocated / 4096;
    ck_assert_int_eq(umfPoolFree(pool, b), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_uint_eq(t->allocs, t->frees);
    umfMemoryProviderDestroy(prov);
    return slabs;
}

START_TEST(test_pool_disjoint_idle_magazines_go_back) {
    // Without decay (the contract's pool) the magazine keeps its slab.
    ck_assert_uint_eq(slabs_after_idle(0), 3);
    ck_assert_uint_eq(slabs_after_idle(50), 1);
}
END_TEST

START_TEST(test_pool_disjoint_decay) {
    ck_assert_uint_eq(slabs_after_decay(0), 3);
    ck_assert_uint_eq(slabs_after_decay(50), 1);
    ck_assert_int_eq(umf_private_disjoint_params_set_decay(NULL, 50),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_pool_disjoint_whole_slabs_and_capacity) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    // 3000 B: bucket 3072 > slab/2, so one whole 4 KiB slab per request.
    void *ptr[6];
    for (int i = 0; i < 6; i++) {
        ptr[i] = umfPoolMalloc(pool, 3000);
        ck_assert_ptr_nonnull(ptr[i]);
    }
    ck_assert_uint_eq(t->allocs, 6);
    ck_assert_uint_eq(t->allocated, 6 * 4096);
    for (int i = 0; i < 6; i++) {
        umfPoolFree(pool, ptr[i]);
    }
    // Capacity 4: four free slabs kept, two returned.
    ck_assert_uint_eq(t->frees, 2);
    ck_assert_uint_eq(t->allocated, 4 * 4096);
    // Reuse: four requests of the same bucket need no provider call.
    for (int i = 0; i < 4; i++) {
        ptr[i] = umfPoolMalloc(pool, 3070);
    }
    ck_assert_uint_eq(t->allocs, 6);
    for (int i = 0; i < 4; i++) {
        umfPoolFree(pool, ptr[i]);
    }
    // Above max poolable: straight through, exact size, freed at once.
    void *big = umfPoolMalloc(pool, 5000);
    ck_assert_uint_eq(t->allocs, 7);
    ck_assert_uint_eq(t->allocated, 4 * 4096 + 5000);
    ck_assert_uint_ge(umfPoolMallocUsableSize(pool, big), 5000);
    umfPoolFree(pool, big);
    ck_assert_uint_eq(t->allocated, 4 * 4096);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disjoint_shared_limits) {
    umf_disjoint_pool_shared_limits_handle_t lim =
        umfDisjointPoolSharedLimitsCreate(2 * 4096);
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_disjoint_pool_params_handle_t p = typical_params();
    ck_assert_int_eq(umfDisjointPoolParamsSetSharedLimits(p, lim), 0);
    umf_memory_pool_handle_t a = make_pool(prov, p, 0);
    umf_memory_pool_handle_t b = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    void *x[3], *y[3];
    for (int i = 0; i < 3; i++) {
        x[i] = umfPoolMalloc(a, 4000);
        y[i] = umfPoolMalloc(b, 4000);
    }
    ck_assert_uint_eq(t->allocated, 6 * 4096);
    for (int i = 0; i < 3; i++) {
        umfPoolFree(a, x[i]);
        umfPoolFree(b, y[i]);
    }
    // Only 8 KiB of free slabs may stay cached across both pools.
    ck_assert_uint_eq(t->allocated, 2 * 4096);
    umfPoolDestroy(a);
    umfPoolDestroy(b);
    ck_assert_uint_eq(t->allocated, 0);
    umfDisjointPoolSharedLimitsDestroy(lim);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disjoint_zero_size_and_unsupported) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    // Size 0: NULL, and the last error is not touched.
    ck_assert_ptr_null(umfPoolCalloc(pool, 1, 1));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_null(umfPoolMalloc(pool, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    void *p = umfPoolMalloc(pool, 10);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 20));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 12); // bucket 12
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, NULL), 0);
    // free(NULL) succeeds without asking the provider.
    size_t frees = t->frees;
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->frees, frees);
    umfPoolFree(pool, p);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disjoint_provider_errors_propagate) {
    test_prov_params_t pp = {.fail_after_bytes = 3 * MiB};
    umf_memory_provider_handle_t prov = counting_provider(&pp);
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    void *a = umfPoolMalloc(pool, 100); // takes a 2 MiB slab
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_null(umfPoolMalloc(pool, 1000)); // another slab: too much
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolMalloc(pool, 3 * MiB)); // large: too much
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // Never reset on success.
    ck_assert_ptr_nonnull(umfPoolMalloc(pool, 100));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A provider whose free fails: umfPoolFree passes the error on.
static umf_result_t failing_free(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

START_TEST(test_pool_disjoint_provider_free_error_returned) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.ext.free = failing_free;
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov), 0);
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    void *big = umfPoolMalloc(pool, 4 * MiB);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(umfPoolFree(pool, big),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    // Still known to the pool: a retry fails the same way, not worse.
    ck_assert_int_eq(umfPoolFree(pool, big),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- memory the CPU cannot touch ---

START_TEST(test_pool_disjoint_works_on_prot_none) {
    umf_os_memory_provider_params_handle_t op;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&op), 0);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetProtection(op, UMF_PROTECTION_NONE), 0);
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov), 0);
    umfOsMemoryProviderParamsDestroy(op);
    umf_memory_pool_handle_t pool =
        make_pool(prov, NULL, UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    // Any touch of this memory would kill the test with SIGSEGV.
    void *ptrs[500];
    for (int i = 0; i < 500; i++) {
        size_t size = (size_t)(1 + (i * 7919) % (3 * MiB));
        ptrs[i] = i % 3
                      ? umfPoolMalloc(pool, size)
                      : umfPoolAlignedMalloc(pool, size, (size_t)1 << (i % 22));
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert_ptr_eq(umfPoolByPtr(ptrs[i]), pool);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, ptrs[i]), size);
    }
    for (int i = 0; i < 500; i++) {
        ck_assert_int_eq(umfFree(ptrs[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_disjoint_without_tracking) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool =
        make_pool(prov, NULL, UMF_POOL_CREATE_FLAG_DISABLE_TRACKING);
    // The pool knows its large allocations' sizes itself.
    void *big = umfPoolMalloc(pool, 3 * MiB);
    void *small = umfPoolMalloc(pool, 100);
    ck_assert_ptr_null(umfPoolByPtr(big));
    ck_assert_int_eq(umfPoolFree(pool, big), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, small), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- traces ---

static char *capture_stdout(void (*fn)(void)) {
    static char buf[16384];
    char path[] = "/tmp/umf_dp_trace_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    fn();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static int trace_level;

static void traced_run(void) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_disjoint_pool_params_handle_t p = typical_params();
    umfDisjointPoolParamsSetTrace(p, trace_level);
    umfDisjointPoolParamsSetName(p, "traced");
    umf_memory_pool_handle_t pool;
    umfPoolCreate(umfDisjointPoolOps(), prov, p, 0, &pool);
    umfDisjointPoolParamsDestroy(p);
    void *a = umfPoolMalloc(pool, 100);
    umfPoolFree(pool, a);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}

START_TEST(test_pool_disjoint_trace_levels) {
    trace_level = 0;
    ck_assert_str_eq(capture_stdout(traced_run), "");
    trace_level = 2;
    char *out = capture_stdout(traced_run);
    ck_assert_msg(strstr(out, "traced: bucket") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "traced: 128 ") != NULL, "%s", out);
    ck_assert_ptr_null(strstr(out, "malloc"));
    trace_level = 3;
    out = capture_stdout(traced_run);
    ck_assert_msg(strstr(out, "traced: malloc 0x") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "traced: free 0x") != NULL, "%s", out);
}
END_TEST

START_TEST(test_pool_disjoint_double_free_detected_when_traced) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_disjoint_pool_params_handle_t p = typical_params();
    umfDisjointPoolParamsSetTrace(p, 2); // no thread cache: every free checked
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(p, UMF_DISJOINT_POOL_CHECKS_ERROR), 0);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    void *a = umfPoolMalloc(pool, 100), *b = umfPoolMalloc(pool, 100);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_ERROR_INVALID_ARGUMENT);
    void *w = umfPoolMalloc(pool, 3000);
    ck_assert_int_eq(umfPoolFree(pool, w), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, b), UMF_RESULT_SUCCESS);
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1); // the level-2 statistics at destroy
    umfPoolDestroy(pool);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- thread caches ---

typedef struct {
    umf_memory_pool_handle_t pool;
    int n;
} th_arg_t;

static void *alloc_free_and_exit(void *arg) {
    th_arg_t *a = arg;
    void *keep[64];
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 64; i++) {
            keep[i] = umfPoolMalloc(a->pool, 16 + (size_t)i * 8);
        }
        for (int i = 0; i < 64; i++) {
            umfPoolFree(a->pool, keep[i]);
        }
    }
    return NULL; // leaves chunks in its magazines
}

START_TEST(test_pool_disjoint_thread_exit_returns_cached_chunks) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    for (int k = 0; k < 20; k++) {
        pthread_t th;
        th_arg_t a = {pool, k};
        pthread_create(&th, NULL, alloc_free_and_exit, &a);
        pthread_join(th, NULL);
    }
    // Each exited thread gave its chunks back: no slab is in use, so at
    // most one empty slab per bucket used (16..520 B -> 15 buckets).
    ck_assert_uint_le(t->allocated, 15 * 2 * MiB);
    // And every chunk is free: a fresh thread can fill slabs exactly.
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A pool on prov with the given checks and slab size (0: the default).
static umf_memory_pool_handle_t
checked_pool(umf_memory_provider_handle_t prov, size_t slab,
             umf_disjoint_pool_checks_t checks) {
    umf_disjoint_pool_params_handle_t p;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), 0);
    if (slab) {
        ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(p, slab), 0);
    }
    ck_assert_int_eq(umfDisjointPoolParamsSetChecks(p, checks), 0);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    return pool;
}

// Block addresses in ascending order (qsort).
static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

// Blocks of four slabs, freed by another thread: they go through its
// magazine (which drains as it fills, and at its exit) back to the slabs
// they came from. Handed out again, they take no new slab and no two
// overlap; freed again, each is refused once as a double free.
#define XT_BLOCKS 256 // of 1 KiB: 64 a 64 KiB slab
static void *free_all(void *arg) {
    void **ptr = arg;
    for (int i = 0; i < XT_BLOCKS; i++) {
        if (umfPoolFree(umfPoolByPtr(ptr[i]), ptr[i]) != UMF_RESULT_SUCCESS) {
            return (void *)1;
        }
    }
    return NULL;
}

START_TEST(test_pool_disjoint_cross_thread_frees_back_to_their_slabs) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool =
        checked_pool(prov, 64 * 1024, UMF_DISJOINT_POOL_CHECKS_ERROR);
    void *ptr[XT_BLOCKS];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < XT_BLOCKS; i++) {
            ptr[i] = umfPoolMalloc(pool, 1024);
            ck_assert_ptr_nonnull(ptr[i]);
            memset(ptr[i], round, 1024);
        }
        size_t held = t->allocated;
        if (round == 0) {
            ck_assert_uint_ge(held, 4 * 64 * 1024);
        }
        qsort(ptr, XT_BLOCKS, sizeof(*ptr), cmp_ptr);
        for (int i = 1; i < XT_BLOCKS; i++) {
            ck_assert_msg((char *)ptr[i - 1] + 1024 <= (char *)ptr[i],
                          "round %d: %p and %p overlap", round, ptr[i - 1],
                          ptr[i]);
        }
        pthread_t th;
        void *ret;
        ck_assert_int_eq(pthread_create(&th, NULL, free_all, ptr), 0);
        ck_assert_int_eq(pthread_join(th, &ret), 0);
        ck_assert_ptr_null(ret);
        ck_assert_uint_le(t->allocated, held);
        for (int i = 0; i < XT_BLOCKS; i++) {
            ck_assert_int_eq(umfPoolFree(pool, ptr[i]),
                             UMF_RESULT_ERROR_INVALID_ARGUMENT);
        }
    }
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Checks off: a block freed twice sits in the thread's magazine twice.
// When the thread exits, the drain finds the chunk's slab through the page
// map and refuses the second copy (one error line), so the slab holds the
// chunk once: what the pool hands out next does not overlap, and every
// slab goes back at destroy.
static void *free_twice_and_exit(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    void *x = umfPoolMalloc(pool, 1024);
    if (!x) {
        return (void *)1;
    }
    (void)umfPoolFree(pool, x);
    (void)umfPoolFree(pool, x);
    return NULL;
}

START_TEST(test_pool_disjoint_checks_off_double_free_drained_once) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool =
        checked_pool(prov, 64 * 1024, UMF_DISJOINT_POOL_CHECKS_OFF);
    pthread_t th;
    void *ret;
    ck_assert_int_eq(pthread_create(&th, NULL, free_twice_and_exit, pool), 0);
    ck_assert_int_eq(pthread_join(th, &ret), 0);
    ck_assert_ptr_null(ret);
    enum { N = 64 }; // one 64 KiB slab of 1 KiB chunks
    char *ptr[N];
    for (int i = 0; i < N; i++) {
        ptr[i] = umfPoolMalloc(pool, 1024);
        ck_assert_ptr_nonnull(ptr[i]);
    }
    qsort(ptr, N, sizeof(*ptr), cmp_ptr);
    for (int i = 1; i < N; i++) {
        ck_assert_msg(ptr[i - 1] + 1024 <= ptr[i], "%p handed out twice",
                      (void *)ptr[i]);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Two threads free one block at the same moment: exactly one succeeds
// (free swaps the chunk's used byte atomically), so the chunk goes into one
// magazine, not two.
START_TEST(test_pool_disjoint_racing_double_free) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool =
        checked_pool(prov, 0, UMF_DISJOINT_POOL_CHECKS_ERROR);
    race_double_free(pool, 2000 / test_slow_factor());
    umfPoolDestroy(pool); // the threads' magazines went back at exit
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static _Atomic int phase;

static void *hold_cache_across_destroy(void *arg) {
    umf_memory_pool_handle_t *pools = arg;
    void *p = umfPoolMalloc(pools[0], 100);
    umfPoolFree(pools[0], p); // a cached chunk of pool 0
    atomic_store(&phase, 1);
    while (atomic_load(&phase) != 2) {
        sched_yield();
    }
    // Pool 0 is gone; pools[1] may have its slot. The stale cache must not
    // hand out pool 0's memory.
    uintptr_t bad = 0;
    for (int i = 0; i < 200; i++) {
        void *q = umfPoolMalloc(pools[1], 100);
        bad += !q || umfPoolByPtr(q) != pools[1];
        umfPoolFree(pools[1], q);
    }
    return (void *)bad;
}

START_TEST(test_pool_disjoint_stale_cache_after_destroy) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_memory_pool_handle_t pools[2];
    pools[0] = make_pool(prov, NULL, 0);
    pthread_t th;
    atomic_store(&phase, 0);
    pthread_create(&th, NULL, hold_cache_across_destroy, pools);
    while (atomic_load(&phase) != 1) {
        sched_yield();
    }
    umfPoolDestroy(pools[0]);
    pools[1] = make_pool(prov, NULL, 0); // likely the same slot
    atomic_store(&phase, 2);
    void *bad;
    pthread_join(th, &bad);
    ck_assert_uint_eq((uintptr_t)bad, 0);
    umfPoolDestroy(pools[1]);
    ck_assert_uint_eq(test_prov_last->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disjoint_many_pools_beyond_cache_slots) {
    // More pools than thread-cache slots: the rest use bucket locks.
    enum { N = 100 };
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_memory_pool_handle_t pools[N];
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        pools[i] = make_pool(prov, NULL, 0);
        ptrs[i] = umfPoolMalloc(pools[i], 24);
        ck_assert_ptr_eq(umfPoolByPtr(ptrs[i]), pools[i]);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(umfFree(ptrs[i]), UMF_RESULT_SUCCESS);
        umfPoolDestroy(pools[i]);
    }
    ck_assert_uint_eq(test_prov_last->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- misuse ---

// Pool for the probes: default sizes (thread caches on, 40 B and 200,000 B
// chunked, 3 MiB large), optionally traced (no thread caches: the locked
// paths) and with a checks setting.
static umf_memory_pool_handle_t misuse_pool(umf_memory_provider_handle_t prov,
                                            int trace, int checks) {
    umf_disjoint_pool_params_handle_t p;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetName(p, "probe_pool"), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetTrace(p, trace), 0);
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(p, (umf_disjoint_pool_checks_t)checks),
        0);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    return pool;
}

typedef enum {
    PROBE_DOUBLE_FREE_40,
    PROBE_DOUBLE_FREE_200000,
    PROBE_DOUBLE_FREE_WHOLE_SLAB, // 1.5 MiB: a whole-slab bucket
    PROBE_DOUBLE_FREE_LARGE,      // 3 MiB: straight to the provider
    PROBE_FREE_INTERIOR_256,
    PROBE_FREE_INTERIOR_LARGE,
    PROBE_FREE_INTERIOR_ALIGNED, // inside an over-allocated aligned block
    PROBE_COUNT
} probe_t;

static const size_t probe_size[PROBE_COUNT] = {
    40, 200000, 3 * MiB / 2, 3 * MiB, 256, 3 * MiB, 100};

// Runs probe on pool: the misuse, then the pointer it freed wrongly.
// Returns the result of the bad free.
static umf_result_t probe_run(umf_memory_pool_handle_t pool, probe_t probe,
                              void **live, void **bad) {
    size_t n = probe_size[probe];
    char *p = probe == PROBE_FREE_INTERIOR_ALIGNED
                  ? umfPoolAlignedMalloc(pool, n, 8192)
                  : umfPoolMalloc(pool, n);
    ck_assert_ptr_nonnull(p);
    *live = p;
    switch (probe) {
    case PROBE_FREE_INTERIOR_256:
    case PROBE_FREE_INTERIOR_LARGE:
    case PROBE_FREE_INTERIOR_ALIGNED:
        *bad = p + 64;
        return umfPoolFree(pool, p + 64);
    default:
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
        *live = NULL;
        *bad = p;
        return umfPoolFree(pool, p);
    }
}

// Runs fn(arg) in a child with stderr into buf; returns the wait status.
static int in_child(void (*fn)(int), int arg, char *buf, size_t len) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(fds[0], buf + got, len - 1 - got)) > 0) {
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void probe_child_abort(int arg) {
    probe_t probe = (probe_t)(arg & 0xff);
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_memory_pool_handle_t pool = misuse_pool(prov, arg >> 8, 0);
    void *live, *bad;
    (void)probe_run(pool, probe, &live, &bad);
    _exit(3); // not stopped: the test fails
}

START_TEST(test_pool_disjoint_misuse_aborts_with_one_line) {
    for (int trace = 0; trace <= 2; trace += 2) {
        char err[1024];
        int status =
            in_child(probe_child_abort, _i | trace << 8, err, sizeof(err));
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                      "probe %d (trace %d): status 0x%x, stderr: %s", _i, trace,
                      status, err);
        ck_assert_msg(strstr(err, "umf: disjoint pool \"probe_pool\": free(0x"),
                      "probe %d: %s", _i, err);
        ck_assert_msg(strchr(err, '\n') == strrchr(err, '\n'),
                      "probe %d: more than one line: %s", _i, err);
        const char *why =
            _i >= PROBE_FREE_INTERIOR_256 ? "not" : "already freed";
        if (_i == PROBE_DOUBLE_FREE_LARGE) {
            why = "not a block of this pool"; // gone back to the provider
        }
        ck_assert_msg(strstr(err, why), "probe %d: %s", _i, err);
    }
}
END_TEST

// With checks = ERROR the bad free is refused and changes nothing: the next
// allocations never share bytes with a live block or with each other.
START_TEST(test_pool_disjoint_misuse_error_hands_out_nothing_twice) {
    for (int trace = 0; trace <= 2; trace += 2) {
        umf_memory_provider_handle_t prov = counting_provider(NULL);
        umf_memory_pool_handle_t pool =
            misuse_pool(prov, trace, UMF_DISJOINT_POOL_CHECKS_ERROR);
        void *live, *bad;
        ck_assert_int_eq(probe_run(pool, (probe_t)_i, &live, &bad),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, bad), 0);
        size_t n = probe_size[_i];
        enum { N = 8 };
        char *got[N];
        for (int i = 0; i < N; i++) {
            got[i] = umfPoolMalloc(pool, n);
            ck_assert_ptr_nonnull(got[i]);
            for (int j = 0; j < i; j++) {
                ck_assert_msg(got[i] + n <= got[j] || got[j] + n <= got[i],
                              "probe %d: blocks %p and %p overlap", _i,
                              (void *)got[i], (void *)got[j]);
            }
            if (live) {
                char *l = live;
                ck_assert_msg(got[i] + n <= l || l + n <= got[i],
                              "probe %d: %p overlaps the live block %p", _i,
                              (void *)got[i], live);
            }
        }
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(umfPoolFree(pool, got[i]), UMF_RESULT_SUCCESS);
        }
        if (live) {
            ck_assert_int_eq(umfPoolFree(pool, live), UMF_RESULT_SUCCESS);
        }
        umfPoolDestroy(pool);
        umfMemoryProviderDestroy(prov);
    }
}
END_TEST

// malloc_usable_size: the block's size from its start, 0 for a freed
// pointer or one inside a block; aligned pointers work.
START_TEST(test_pool_disjoint_usable_size_of_blocks_only) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_memory_pool_handle_t pool = misuse_pool(prov, 0, 0);
    const size_t sizes[] = {40, 128, 200000, 3 * MiB / 2, 3 * MiB};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        char *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[i]);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p + 8), 0);
        ck_assert_int_eq(umfPoolFree(pool, p), 0);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
    }
    const size_t aligns[] = {64, 4096, 8192, 65536};
    for (size_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        char *p = umfPoolAlignedMalloc(pool, 100, aligns[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % aligns[i], 0);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), 100);
        ck_assert_int_eq(umfPoolFree(pool, p), 0);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// The used bytes (checks) of every chunk of a slab, for slabs of one
// free-bitmap word (1 KiB chunks, 64 a slab) and of 4, 8 and 16 words
// (256, 128 and 64 B). Two slabs' worth are handed out, sized, freed,
// freed again (refused), and handed out again without two blocks sharing a
// byte.
START_TEST(test_pool_disjoint_used_bytes_every_chunk) {
    const size_t sizes[] = {1024, 256, 128, 64};
    for (int trace = 0; trace <= 2; trace += 2) {
        umf_memory_provider_handle_t prov = counting_provider(NULL);
        umf_disjoint_pool_params_handle_t p;
        ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), 0);
        ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(p, 64 * 1024), 0);
        ck_assert_int_eq(umfDisjointPoolParamsSetTrace(p, trace), 0);
        ck_assert_int_eq(
            umfDisjointPoolParamsSetChecks(p, UMF_DISJOINT_POOL_CHECKS_ERROR),
            0);
        umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
        umfDisjointPoolParamsDestroy(p);
        for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
            size_t sz = sizes[k], n = 2 * (64 * 1024) / sz;
            char **ptr = calloc(n, sizeof(*ptr));
            ck_assert_ptr_nonnull(ptr);
            for (size_t i = 0; i < n; i++) {
                ptr[i] = umfPoolMalloc(pool, sz);
                ck_assert_ptr_nonnull(ptr[i]);
                ck_assert_uint_ge(umfPoolMallocUsableSize(pool, ptr[i]), sz);
            }
            for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
                ck_assert_uint_eq(umfPoolMallocUsableSize(pool, ptr[i]), 0);
            }
            for (size_t i = 0; i < n; i++) {
                ck_assert_msg(umfPoolFree(pool, ptr[i]) ==
                                  UMF_RESULT_ERROR_INVALID_ARGUMENT,
                              "size %zu, block %zu: double free accepted", sz,
                              i);
            }
            for (size_t i = 0; i < n; i++) {
                ptr[i] = umfPoolMalloc(pool, sz);
                ck_assert_ptr_nonnull(ptr[i]);
            }
            qsort(ptr, n, sizeof(*ptr), cmp_ptr);
            for (size_t i = 1; i < n; i++) {
                ck_assert_msg(ptr[i - 1] + sz <= ptr[i],
                              "size %zu: %p and %p overlap", sz,
                              (void *)ptr[i - 1], (void *)ptr[i]);
            }
            for (size_t i = 0; i < n; i++) {
                ck_assert_int_eq(umfPoolFree(pool, ptr[i]), UMF_RESULT_SUCCESS);
            }
            free(ptr);
        }
        umfPoolDestroy(pool);
        umfMemoryProviderDestroy(prov);
    }
}
END_TEST

START_TEST(test_pool_disjoint_checks_param) {
    umf_disjoint_pool_params_handle_t p;
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(NULL, UMF_DISJOINT_POOL_CHECKS_OFF),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), 0);
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(p, (umf_disjoint_pool_checks_t)3),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(p, (umf_disjoint_pool_checks_t)-1),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfDisjointPoolParamsSetChecks(p, UMF_DISJOINT_POOL_CHECKS_OFF), 0);
    // Checks off: a good program works as before.
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_memory_pool_handle_t pool = make_pool(prov, p, 0);
    umfDisjointPoolParamsDestroy(p);
    for (size_t n = 8; n < 4 * MiB; n = n * 3 + 5) {
        void *a = umfPoolMalloc(pool, n);
        void *b = umfPoolAlignedMalloc(pool, n, 8192);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, a), n);
        ck_assert_int_eq(umfPoolFree(pool, a), 0);
        ck_assert_int_eq(umfPoolFree(pool, b), 0);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- parameters too large to hold ---

static umf_result_t create_with(size_t slab, size_t min_bucket,
                                size_t max_poolable) {
    umf_memory_provider_handle_t prov = counting_provider(NULL);
    umf_disjoint_pool_params_handle_t p;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(p, slab), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMinBucketSize(p, min_bucket), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMaxPoolableSize(p, max_poolable),
                     0);
    umf_memory_pool_handle_t pool = NULL;
    umf_result_t r = umfPoolCreate(umfDisjointPoolOps(), prov, p, 0, &pool);
    umfDisjointPoolParamsDestroy(p);
    if (r == UMF_RESULT_SUCCESS) {
        // Every size is served or refused, never a hang: the provider
        // refuses what it cannot map.
        for (size_t n = 1; n < 64 * MiB; n *= 7) {
            void *a = umfPoolMalloc(pool, n);
            if (a) {
                ck_assert_int_eq(umfPoolFree(pool, a), 0);
            }
        }
        umfPoolDestroy(pool);
    }
    umfMemoryProviderDestroy(prov);
    return r;
}

START_TEST(test_pool_disjoint_huge_params_refused_or_work) {
    const size_t GiB = 1024 * MiB;
    // 32 GiB slabs of 8 B chunks: 2^32 chunks, more than a slab can count
    // (it used to hang in umfPoolMalloc(8)).
    ck_assert_int_eq(create_with(32 * GiB, 8, 2 * MiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(create_with(SIZE_MAX, 8, 2 * MiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(create_with(SIZE_MAX - 4095, 64, SIZE_MAX),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(create_with(2 * MiB, (size_t)1 << 40, 2 * MiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(create_with(2 * MiB, (size_t)1 << 63, SIZE_MAX),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Large but holdable: work (the counting provider refuses above
    // what mmap gives).
    ck_assert_int_eq(create_with(2 * MiB, 8, SIZE_MAX), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(create_with(4096, 8, SIZE_MAX), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(create_with(64 * MiB, (size_t)1 << 31, 4 * GiB),
                     UMF_RESULT_SUCCESS);
}
END_TEST

static Suite *pool_disjoint_suite(void) {
    Suite *s = suite_create("pool_disjoint");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_pool_disjoint_params_api);
    tcase_add_test(tc, test_pool_disjoint_null_params_are_defaults);
    tcase_add_test(tc, test_pool_disjoint_create_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("algorithm");
    tcase_add_test(tc, test_pool_disjoint_chunked_slabs);
    tcase_add_test(tc, test_pool_disjoint_whole_slabs_and_capacity);
    tcase_add_test(tc, test_pool_disjoint_keep_empty_slabs);
    tcase_add_test(tc, test_pool_disjoint_decay);
    tcase_add_test(tc, test_pool_disjoint_idle_magazines_go_back);
    tcase_add_test(tc, test_pool_disjoint_shared_limits);
    tcase_add_test(tc, test_pool_disjoint_zero_size_and_unsupported);
    tcase_add_test(tc, test_pool_disjoint_provider_errors_propagate);
    tcase_add_test(tc, test_pool_disjoint_provider_free_error_returned);
    tcase_add_test(tc, test_pool_disjoint_works_on_prot_none);
    tcase_add_test(tc, test_pool_disjoint_without_tracking);
    suite_add_tcase(s, tc);
    tc = tcase_create("trace");
    tcase_add_test(tc, test_pool_disjoint_trace_levels);
    tcase_add_test(tc, test_pool_disjoint_double_free_detected_when_traced);
    suite_add_tcase(s, tc);
    tc = tcase_create("misuse");
    tcase_add_loop_test(tc, test_pool_disjoint_misuse_aborts_with_one_line, 0,
                        PROBE_COUNT);
    tcase_add_loop_test(tc,
                        test_pool_disjoint_misuse_error_hands_out_nothing_twice,
                        0, PROBE_COUNT);
    tcase_add_test(tc, test_pool_disjoint_usable_size_of_blocks_only);
    tcase_add_test(tc, test_pool_disjoint_used_bytes_every_chunk);
    tcase_add_test(tc, test_pool_disjoint_checks_param);
    tcase_add_test(tc, test_pool_disjoint_huge_params_refused_or_work);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_pool_disjoint_thread_exit_returns_cached_chunks);
    tcase_add_test(tc,
                   test_pool_disjoint_cross_thread_frees_back_to_their_slabs);
    tcase_add_test(tc, test_pool_disjoint_racing_double_free);
    tcase_add_test(tc, test_pool_disjoint_checks_off_double_free_drained_once);
    tcase_add_test(tc, test_pool_disjoint_stale_cache_after_destroy);
    tcase_add_test(tc, test_pool_disjoint_many_pools_beyond_cache_slots);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(pool_disjoint_suite());
}
