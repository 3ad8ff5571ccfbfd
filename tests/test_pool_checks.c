/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool_checks.c - the misuse checks of the jemalloc and scalable
 * pools (umfJemallocPoolParamsSetChecks, umfScalablePoolParamsSetChecks;
 * lib/blockmap.c), with checks set to error so that every misuse is seen
 * as a return value: double frees, frees of interior pointers and of
 * pointers the pool never handed out are refused and change nothing,
 * realloc of a freed block fails, malloc_usable_size of a pointer that is
 * no live block's start is 0, and of two threads freeing one block at once
 * exactly one succeeds. (The abort mode, and the same under the proxy, are
 * tests/test_misuse.sh's.) The jemalloc pool is tested where it is built.
 */

#include <pthread.h>

#include <umf/pools/pool_scalable.h>
#include <umf/pools/pool_scalable_ext.h>
#include <umf/providers/provider_os_memory.h>
#ifdef HAVE_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_jemalloc_ext.h>
#endif

#include "helpers.h"

enum { KIND_SCALABLE, KIND_JEMALLOC, NKINDS };
static const char *const kind_names[NKINDS] = {"scalable", "jemalloc"};

// A pool of `kind` over the OS provider with checks `mode` (0 abort, 1
// error, 2 off: the values of both enumerations), or NULL where the kind
// is not built.
static umf_memory_pool_handle_t make_pool(int kind, int mode) {
    umf_os_memory_provider_params_handle_t op;
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&op), 0);
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov), 0);
    umfOsMemoryProviderParamsDestroy(op);
    umf_memory_pool_handle_t pool = NULL;
    const umf_pool_create_flags_t own = UMF_POOL_CREATE_FLAG_OWN_PROVIDER;
    if (kind == KIND_SCALABLE) {
        umf_scalable_pool_params_handle_t p;
        ck_assert_int_eq(umfScalablePoolParamsCreate(&p), 0);
        ck_assert_int_eq(
            umfScalablePoolParamsSetChecks(p, (umf_scalable_pool_checks_t)mode),
            0);
        ck_assert_int_eq(
            umfPoolCreate(umfScalablePoolOps(), prov, p, own, &pool), 0);
        umfScalablePoolParamsDestroy(p);
        return pool;
    }
#ifdef HAVE_JEMALLOC_POOL
    umf_jemalloc_pool_params_handle_t p;
    ck_assert_int_eq(umfJemallocPoolParamsCreate(&p), 0);
    ck_assert_int_eq(
        umfJemallocPoolParamsSetChecks(p, (umf_jemalloc_pool_checks_t)mode), 0);
    ck_assert_int_eq(umfPoolCreate(umfJemallocPoolOps(), prov, p, own, &pool),
                     0);
    umfJemallocPoolParamsDestroy(p);
#else
    umfMemoryProviderDestroy(prov);
    printf("note: no jemalloc pool in this build; its checks are not "
           "tested\n");
#endif
    return pool;
}

START_TEST(test_pool_checks_params) {
    ck_assert_int_eq(
        umfScalablePoolParamsSetChecks(NULL, UMF_SCALABLE_POOL_CHECKS_OFF),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_scalable_pool_params_handle_t sp;
    ck_assert_int_eq(umfScalablePoolParamsCreate(&sp), 0);
    ck_assert_int_eq(
        umfScalablePoolParamsSetChecks(sp, (umf_scalable_pool_checks_t)3),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfScalablePoolParamsSetChecks(sp, (umf_scalable_pool_checks_t)-1),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfScalablePoolParamsSetChecks(sp, UMF_SCALABLE_POOL_CHECKS_ERROR), 0);
    umfScalablePoolParamsDestroy(sp);
#ifdef HAVE_JEMALLOC_POOL
    ck_assert_int_eq(
        umfJemallocPoolParamsSetChecks(NULL, UMF_JEMALLOC_POOL_CHECKS_OFF),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_jemalloc_pool_params_handle_t jp;
    ck_assert_int_eq(umfJemallocPoolParamsCreate(&jp), 0);
    ck_assert_int_eq(
        umfJemallocPoolParamsSetChecks(jp, (umf_jemalloc_pool_checks_t)3),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfJemallocPoolParamsSetChecks(jp, UMF_JEMALLOC_POOL_CHECKS_ABORT), 0);
    umfJemallocPoolParamsDestroy(jp);
#endif
}
END_TEST

static const size_t sizes[] = {8, 16, 40, 256, 4096, 20000, 200000, 3 << 20};

// Every misuse, for blocks of every kind of size: refused, nothing
// changes; the block itself stays usable and is freed once.
START_TEST(test_pool_checks_refused) {
    umf_memory_pool_handle_t pool = make_pool(_i, 1);
    if (!pool) {
        return;
    }
    const char *k = kind_names[_i];
    const umf_result_t bad = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        size_t n = sizes[i];
        unsigned char *p = umfPoolMalloc(pool, n);
        ck_assert_ptr_nonnull(p);
        memset(p, 0xa5, n);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), n);
        if (n >= 128) {
            ck_assert_msg(umfPoolFree(pool, p + 64) == bad,
                          "%s: free of p + 64 of a %zu B block accepted", k, n);
            ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p + 64), 0);
            ck_assert_ptr_null(umfPoolRealloc(pool, p + 64, 2 * n));
            ck_assert_int_eq(umfPoolGetLastAllocationError(pool), bad);
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), n);
            ck_assert_uint_eq(p[0], 0xa5);
            ck_assert_uint_eq(p[n - 1], 0xa5);
        }
        ck_assert_int_eq(umfPoolFree(pool, p), 0);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
        ck_assert_msg(umfPoolFree(pool, p) == bad,
                      "%s: double free of a %zu B block accepted", k, n);
        ck_assert_ptr_null(umfPoolRealloc(pool, p, 2 * n));
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool), bad);
        // realloc(p, 0) of a freed block: also refused.
        ck_assert_ptr_null(umfPoolRealloc(pool, p, 0));
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool), bad);
    }
    // A pointer the pool never handed out.
    static char outside[64];
    ck_assert_int_eq(umfPoolFree(pool, outside + 16), bad);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, outside + 16), 0);
    umfPoolDestroy(pool);
}
END_TEST

// calloc, aligned_malloc and realloc mark what they return; a block realloc
// moved is no longer live at its old address.
START_TEST(test_pool_checks_every_allocation_call) {
    umf_memory_pool_handle_t pool = make_pool(_i, 1);
    if (!pool) {
        return;
    }
    const umf_result_t bad = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    void *c = umfPoolCalloc(pool, 10, 100);
    void *a = umfPoolAlignedMalloc(pool, 300, 4096);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 4096, 0);
    ck_assert_uint_ge(umfPoolMallocUsableSize(pool, c), 1000);
    ck_assert_uint_ge(umfPoolMallocUsableSize(pool, a), 300);
    ck_assert_int_eq(umfPoolFree(pool, c), 0);
    ck_assert_int_eq(umfPoolFree(pool, a), 0);
    ck_assert_int_eq(umfPoolFree(pool, a), bad);

    // Grow one block until realloc moves it.
    char *p = umfPoolMalloc(pool, 16);
    ck_assert_ptr_nonnull(p);
    strcpy(p, "kept");
    char *q = p;
    size_t n = 16;
    while (q == p && n < (64u << 20)) {
        n *= 2;
        q = umfPoolRealloc(pool, p, n);
        ck_assert_ptr_nonnull(q);
        if (q == p) {
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), n);
        }
    }
    ck_assert_ptr_ne(q, p);
    ck_assert_str_eq(q, "kept");
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
    ck_assert_int_eq(umfPoolFree(pool, p), bad);
    ck_assert_uint_ge(umfPoolMallocUsableSize(pool, q), n);
    ck_assert_int_eq(umfPoolFree(pool, q), 0);

    // realloc(p, 0) frees.
    p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 0));
    ck_assert_int_eq(umfPoolFree(pool, p), bad);
    umfPoolDestroy(pool);
}
END_TEST

// Two threads free one block at the same moment: exactly one succeeds.
START_TEST(test_pool_checks_racing_double_free) {
    umf_memory_pool_handle_t pool = make_pool(_i, 1);
    if (!pool) {
        return;
    }
    race_double_free(pool, 400 / test_slow_factor());
    umfPoolDestroy(pool);
}
END_TEST

// A pool destroyed with live blocks: a later pool does not take them for
// its own, wherever its memory lands.
START_TEST(test_pool_checks_destroyed_pool_blocks) {
    umf_memory_pool_handle_t old = make_pool(_i, 1);
    if (!old) {
        return;
    }
    void *live[ARRAY_SIZE(sizes)];
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        live[i] = umfPoolMalloc(old, sizes[i]);
        ck_assert_ptr_nonnull(live[i]);
    }
    umfPoolDestroy(old);
    umf_memory_pool_handle_t pool = make_pool(_i, 1);
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, live[i]), 0);
        ck_assert_int_eq(umfPoolFree(pool, live[i]),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
    }
    umfPoolDestroy(pool);
}
END_TEST

// Checks off (the API default): the engine's own behaviour, and live
// blocks work as ever.
START_TEST(test_pool_checks_off) {
    umf_memory_pool_handle_t pool = make_pool(_i, 2);
    if (!pool) {
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        void *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[i]);
        ck_assert_int_eq(umfPoolFree(pool, p), 0);
    }
    umfPoolDestroy(pool);
}
END_TEST

static Suite *checks_suite(void) {
    Suite *s = suite_create("pool_checks");
    TCase *tc = tcase_create("checks");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pool_checks_params);
    tcase_add_loop_test(tc, test_pool_checks_refused, 0, NKINDS);
    tcase_add_loop_test(tc, test_pool_checks_every_allocation_call, 0, NKINDS);
    tcase_add_loop_test(tc, test_pool_checks_racing_double_free, 0, NKINDS);
    tcase_add_loop_test(tc, test_pool_checks_destroyed_pool_blocks, 0, NKINDS);
    tcase_add_loop_test(tc, test_pool_checks_off, 0, NKINDS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(checks_suite());
}
