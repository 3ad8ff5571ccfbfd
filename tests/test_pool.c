/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool.c - the pool front end with a user-written pool and provider:
 * create flags (own provider, disable tracking), the tracking wrapper,
 * umfPoolByPtr and umfFree for interior pointers and across pools, defaults
 * for optional ops, last allocation error, destroy with live allocations,
 * threads and fork.
 */

#include <pthread.h>
#include <sys/wait.h>

#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

static umf_memory_provider_handle_t make_provider(test_prov_params_t *params) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, params, &h),
                     UMF_RESULT_SUCCESS);
    return h;
}

static umf_memory_pool_handle_t make_pool(umf_memory_provider_handle_t prov,
                                          void *params,
                                          umf_pool_create_flags_t flags) {
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, params, flags, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(pool);
    return pool;
}

START_TEST(test_pool_tracked_by_default) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    int params_marker;
    umf_memory_pool_handle_t pool = make_pool(prov, &params_marker, 0);
    test_pool_t *tp = test_pool_last;
    // The pool got the params unchanged and a wrapper, not our handle.
    ck_assert_ptr_eq(tp->params_seen, &params_marker);
    ck_assert_ptr_ne(tp->provider, prov);
    ck_assert_str_eq(umfMemoryProviderGetName(tp->provider), "test_provider");
    umf_memory_provider_handle_t got = NULL;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &got), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(got, prov);

    char *p = umfPoolMalloc(pool, 3000);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + 1234), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + 2999), pool);
    ck_assert_ptr_null(umfPoolByPtr(p + 3000));
    ck_assert_ptr_null(umfPoolByPtr(p - 1));
    int on_stack;
    ck_assert_ptr_null(umfPoolByPtr(&on_stack));

    // umfFree finds the pool from an interior-free-safe start pointer.
    ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tp->frees, 1);
    ck_assert_ptr_null(umfPoolByPtr(p));
    // Not ours: nothing happens, success.
    ck_assert_int_eq(umfFree(&on_stack), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfFree(NULL), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tp->frees, 1);

    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_disable_tracking) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    umf_memory_pool_handle_t pool =
        make_pool(prov, NULL, UMF_POOL_CREATE_FLAG_DISABLE_TRACKING);
    test_pool_t *tp = test_pool_last;
    ck_assert_ptr_eq(tp->provider, prov); // direct, no wrapper
    void *p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolByPtr(p));
    ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS); // silently nothing
    ck_assert_uint_eq(tp->frees, 0);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tp->frees, 1);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_own_provider) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool =
        make_pool(prov, NULL, UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    umfPoolDestroy(pool);
    ck_assert_int_eq(t->finalized, 1);

    // Without the flag the provider outlives the pool.
    prov = make_provider(NULL);
    t = test_prov_last;
    pool = make_pool(prov, NULL, 0);
    umfPoolDestroy(pool);
    ck_assert_int_eq(t->finalized, 0);
    umfMemoryProviderDestroy(prov);
    ck_assert_int_eq(t->finalized, 1);
}
END_TEST

static umf_result_t failing_init(umf_memory_provider_handle_t prov,
                                 void *params, void **priv) {
    (void)prov, (void)params, (void)priv;
    return UMF_RESULT_ERROR_USER_SPECIFIC;
}

START_TEST(test_pool_initialize_failure) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_ops_t ops = test_pool_ops();
    ops.initialize = failing_init;
    umf_memory_pool_handle_t pool = (umf_memory_pool_handle_t)0x1;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_ERROR_USER_SPECIFIC);
    ck_assert_ptr_eq(pool, (umf_memory_pool_handle_t)0x1);
    // Not destroyed even with OWN_PROVIDER; still usable.
    ck_assert_int_eq(t->finalized, 0);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 10, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 10), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_optional_ops_default_to_not_supported) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    umf_memory_pool_ops_t ops = test_pool_ops();
    ops.get_last_allocation_error = NULL;
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolCalloc(pool, 2, 8));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    void *p = umfPoolMalloc(pool, 8);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 16));
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 16, 64));
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_ops_copied) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    memset(&ops, 0, sizeof(ops));
    void *p = umfPoolMalloc(pool, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_last_error_and_failed_provider) {
    test_prov_params_t params = {.name = "small", .fail_after_bytes = 8192};
    umf_memory_provider_handle_t prov = make_provider(&params);
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    test_pool_t *tp = test_pool_last;
    void *p = umfPoolMalloc(pool, 4096);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolMalloc(pool, 8192));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // The failed provider is the tracking wrapper the pool talks to: same
    // name, different handle (as in the contract).
    umf_memory_provider_handle_t failed = umfGetLastFailedMemoryProvider();
    ck_assert_ptr_eq(failed, tp->provider);
    ck_assert_ptr_ne(failed, prov);
    ck_assert_str_eq(umfMemoryProviderGetName(failed), "small");
    const char *msg;
    int32_t err;
    umfMemoryProviderGetLastNativeError(failed, &msg, &err);
    ck_assert_int_eq(err, 7);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_free_routes_between_pools) {
    umf_memory_provider_handle_t pa = make_provider(NULL);
    umf_memory_pool_handle_t a = make_pool(pa, NULL, 0);
    test_pool_t *ta = test_pool_last;
    umf_memory_provider_handle_t pb = make_provider(NULL);
    umf_memory_pool_handle_t b = make_pool(pb, NULL, 0);
    test_pool_t *tb = test_pool_last;
    void *x[20];
    for (int i = 0; i < 20; i++) {
        x[i] = umfPoolMalloc(i % 2 ? a : b, 100 + (size_t)i);
        ck_assert_ptr_eq(umfPoolByPtr(x[i]), i % 2 ? a : b);
    }
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(umfFree(x[i]), UMF_RESULT_SUCCESS);
    }
    ck_assert_uint_eq(ta->frees, 10);
    ck_assert_uint_eq(tb->frees, 10);
    umfPoolDestroy(a);
    umfPoolDestroy(b);
    umfMemoryProviderDestroy(pa);
    umfMemoryProviderDestroy(pb);
}
END_TEST

START_TEST(test_pool_destroy_with_live_allocations) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    char *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = umfPoolMalloc(pool, 4096);
    }
    umfPoolDestroy(pool);
    // Its chunks are no longer attributed to a dead pool.
    for (int i = 0; i < 5; i++) {
        ck_assert_ptr_null(umfPoolByPtr(p[i] + 10));
        ck_assert_int_eq(umfFree(p[i]), UMF_RESULT_SUCCESS);
    }
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_split_merge_through_wrapper) {
    umf_memory_provider_handle_t prov = make_provider(NULL);
    umf_memory_pool_handle_t pool = make_pool(prov, NULL, 0);
    umf_memory_provider_handle_t wrap = test_pool_last->provider;
    char *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(wrap, 64 * 1024, 0, (void **)&p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(wrap, p, 64 * 1024, 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(test_prov_last->splits, 1);
    // The tracker keeps the chunk whole: lookups answer the same.
    ck_assert_ptr_eq(umfPoolByPtr(p + 8192), pool);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(wrap, p, p + 4096, 64 * 1024),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(test_prov_last->merges, 1);
    // A piece freed from inside the chunk leaves the tracker; the rest
    // stays the pool's.
    ck_assert_int_eq(umfMemoryProviderFree(wrap, p + 8192, 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolByPtr(p + 8192));
    ck_assert_ptr_null(umfPoolByPtr(p + 12287));
    ck_assert_ptr_eq(umfPoolByPtr(p + 8191), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + 12288), pool);
    // A free from inside a chunk over the hole, or of size 0 inside a
    // chunk, is refused and changes nothing.
    ck_assert_int_eq(umfMemoryProviderFree(wrap, p + 4096, 8192),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemoryProviderFree(wrap, p + 4096, 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + 4096), pool);
    ck_assert_int_eq(umfMemoryProviderFree(wrap, p, 8192), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(wrap, p + 12288, 64 * 1024 - 12288),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolByPtr(p + 12288));
    ck_assert_ptr_null(umfPoolByPtr(p));
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- threads and fork ---

static umf_memory_pool_handle_t mt_pools[2];

static void *mt_worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uintptr_t bad = 0;
    int iters = 2000 / test_slow_factor();
    for (int i = 0; i < iters; i++) {
        umf_memory_pool_handle_t pool = mt_pools[(id + (uintptr_t)i) % 2];
        char *p = umfPoolMalloc(pool, 64 + (size_t)i % 4000);
        if (!p || umfPoolByPtr(p + 32) != pool) {
            bad++;
            continue;
        }
        p[0] = 1;
        if (umfFree(p) != UMF_RESULT_SUCCESS) {
            bad++;
        }
    }
    return (void *)bad;
}

START_TEST(test_pool_mt_alloc_free) {
    umf_memory_provider_handle_t prov[2];
    for (int i = 0; i < 2; i++) {
        prov[i] = make_provider(NULL);
        mt_pools[i] = make_pool(prov[i], NULL, 0);
    }
    pthread_t t[8];
    for (uintptr_t i = 0; i < 8; i++) {
        pthread_create(&t[i], NULL, mt_worker, (void *)i);
    }
    for (int i = 0; i < 8; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_uint_eq((uintptr_t)bad, 0);
    }
    for (int i = 0; i < 2; i++) {
        umfPoolDestroy(mt_pools[i]);
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

static _Atomic int fork_stop;

// Creates and destroys a provider and a pool with raw calls: Check's
// assertions take a mutex that a fork() could leave locked in the child.
static int churn_once(void) {
    umf_memory_provider_ops_t pops = test_provider_ops();
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t tmp;
    if (umfMemoryProviderCreate(&pops, NULL, &prov) != UMF_RESULT_SUCCESS) {
        return 0;
    }
    int ok = umfPoolCreate(&ops, prov, NULL, 0, &tmp) == UMF_RESULT_SUCCESS;
    if (ok) {
        void *p = umfPoolMalloc(tmp, 4096);
        ok = p && umfPoolByPtr(p) == tmp && umfFree(p) == UMF_RESULT_SUCCESS;
        umfPoolDestroy(tmp);
    }
    umfMemoryProviderDestroy(prov);
    return ok;
}

// Same with library code only (OS provider, proxy pool): what a child of
// a threaded parent runs, where the C allocator of a sanitizer build is not
// fork-safe.
static int churn_once_lib_only(void) {
    umf_os_memory_provider_params_handle_t params;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t tmp;
    if (umfOsMemoryProviderParamsCreate(&params) != UMF_RESULT_SUCCESS) {
        return 0;
    }
    int ok = umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov) ==
             UMF_RESULT_SUCCESS;
    umfOsMemoryProviderParamsDestroy(params);
    if (!ok) {
        return 0;
    }
    ok = umfPoolCreate(umfProxyPoolOps(), prov, NULL,
                       UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                       &tmp) == UMF_RESULT_SUCCESS;
    if (ok) {
        void *p = umfPoolMalloc(tmp, 4096);
        ok = p && umfPoolByPtr(p) == tmp && umfFree(p) == UMF_RESULT_SUCCESS;
        umfPoolDestroy(tmp);
    }
    return ok;
}

static void *fork_churn(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    uintptr_t bad = 0;
    while (!atomic_load(&fork_stop)) {
        void *p = umfPoolMalloc(pool, 4096);
        bad += !p || umfFree(p) != UMF_RESULT_SUCCESS;
        // Pool create/destroy takes the library's other locks too.
        bad += !churn_once();
    }
    return (void *)bad;
}

START_TEST(test_pool_fork_in_threaded_parent) {
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t os;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &os),
        UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(params);
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), os, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        pthread_create(&t[i], NULL, fork_churn, pool);
    }
    for (int round = 0; round < 30; round++) {
        char *kept = umfPoolMalloc(pool, 4096);
        ck_assert_ptr_nonnull(kept);
        strcpy(kept, "parent");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            // The child can allocate, look up and free at once.
            int ok = umfPoolByPtr(kept) == pool && strcmp(kept, "parent") == 0;
            for (int i = 0; i < 50 && ok; i++) {
                char *p = umfPoolMalloc(pool, 100);
                ok = p && umfPoolByPtr(p) == pool && umfFree(p) == 0 &&
                     churn_once_lib_only();
            }
            _exit(ok ? 0 : 3);
        }
        ck_assert_int_gt(pid, 0);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 0);
        umfFree(kept);
    }
    atomic_store(&fork_stop, 1);
    for (int i = 0; i < 3; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_uint_eq((uintptr_t)bad, 0);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(os);
}
END_TEST

static Suite *pool_suite(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_pool_tracked_by_default);
    tcase_add_test(tc, test_pool_disable_tracking);
    tcase_add_test(tc, test_pool_own_provider);
    tcase_add_test(tc, test_pool_initialize_failure);
    tcase_add_test(tc, test_pool_optional_ops_default_to_not_supported);
    tcase_add_test(tc, test_pool_ops_copied);
    suite_add_tcase(s, tc);
    tc = tcase_create("use");
    tcase_add_test(tc, test_pool_last_error_and_failed_provider);
    tcase_add_test(tc, test_pool_free_routes_between_pools);
    tcase_add_test(tc, test_pool_destroy_with_live_allocations);
    tcase_add_test(tc, test_pool_split_merge_through_wrapper);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_pool_mt_alloc_free);
    tcase_add_test(tc, test_pool_fork_in_threaded_parent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(pool_suite());
}
