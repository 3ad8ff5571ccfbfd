/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_proxy_pool.c - the proxy pool on the OS provider and on a
 * user-written provider: every op of the contract, the calls it does not
 * support, last allocation error per thread, tracked free sizes.
 */

#include <pthread.h>

#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

static umf_memory_provider_handle_t os_provider(void) {
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov),
        UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(params);
    return prov;
}

static umf_memory_pool_handle_t proxy_pool(umf_memory_provider_handle_t prov,
                                           umf_pool_create_flags_t flags) {
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), prov, NULL, flags, &pool),
                     UMF_RESULT_SUCCESS);
    return pool;
}

START_TEST(test_proxy_pool_malloc_free) {
    umf_memory_pool_handle_t pool =
        proxy_pool(os_provider(), UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    const size_t sizes[] = {1, 100, 4096, 4097, 1 << 20, (3 << 20) + 5};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        unsigned char *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                         UMF_RESULT_SUCCESS);
        ck_assert_uint_eq((uintptr_t)p % (size_t)sysconf(_SC_PAGESIZE), 0);
        ck_assert_uint_eq(p[sizes[i] - 1], 0); // fresh pages
        memset(p, 0x5a, sizes[i]);
        ck_assert_ptr_eq(umfPoolByPtr(p + sizes[i] - 1), pool);
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
        ck_assert_ptr_null(umfPoolByPtr(p));
    }
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_proxy_pool_aligned_malloc) {
    umf_memory_pool_handle_t pool =
        proxy_pool(os_provider(), UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    for (size_t a = 1; a <= (size_t)4 << 20; a <<= 1) {
        void *p = umfPoolAlignedMalloc(pool, 1000, a);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % a, 0);
        ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
    }
    // The provider's rules apply: a page multiple is fine, even if it is
    // not a power of two...
    void *p3 = umfPoolAlignedMalloc(pool, 1000, 3 * 4096);
    ck_assert_ptr_nonnull(p3);
    ck_assert_uint_eq((uintptr_t)p3 % (3 * 4096), 0);
    umfFree(p3);
    // ...but neither a multiple nor a divisor of the page size is not.
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 1000, 3000));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_proxy_pool_unsupported_calls) {
    umf_memory_pool_handle_t pool =
        proxy_pool(os_provider(), UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    void *p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_null(umfPoolCalloc(pool, 1, 64));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_nonnull(umfPoolMalloc(pool, 1) /* resets to SUCCESS */);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 128));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfFree(p);
    umfPoolDestroy(pool); // the 1-byte block is reclaimed with the pool
}
END_TEST

START_TEST(test_proxy_pool_malloc_zero_and_huge_fail) {
    umf_memory_provider_handle_t prov = os_provider();
    umf_memory_pool_handle_t pool = proxy_pool(prov, 0);
    ck_assert_ptr_null(umfPoolMalloc(pool, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    const char *msg;
    int32_t err;
    umfMemoryProviderGetLastNativeError(umfGetLastFailedMemoryProvider(), &msg,
                                        &err);
    ck_assert_int_eq(err, UMF_OS_RESULT_ERROR_ALLOC_FAILED);
    ck_assert_msg(strncmp(msg, "memory allocation failed", 24) == 0, "%s", msg);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Free passes the tracked size to the provider; without tracking it is 0.
START_TEST(test_proxy_pool_free_size_from_tracker) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov),
                     UMF_RESULT_SUCCESS);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = proxy_pool(prov, 0);
    void *p = umfPoolMalloc(pool, 12345);
    ck_assert_uint_eq(t->allocated, 12345);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->allocated, 0); // our provider subtracts the size
    umfPoolDestroy(pool);

    pool = proxy_pool(prov, UMF_POOL_CREATE_FLAG_DISABLE_TRACKING);
    p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(p);
    // Size 0: the test provider, like the OS one, rejects it.
    ck_assert_int_eq(umfPoolFree(pool, p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static umf_memory_pool_handle_t shared_pool;

static void *thread_error(void *arg) {
    (void)arg;
    // A fresh thread: its last error is its own.
    void *p = umfPoolMalloc(shared_pool, 10);
    umf_result_t r = umfPoolGetLastAllocationError(shared_pool);
    umfFree(p);
    return (void *)(uintptr_t)r;
}

START_TEST(test_proxy_pool_last_error_is_per_thread) {
    shared_pool = proxy_pool(os_provider(), UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
    ck_assert_ptr_null(umfPoolCalloc(shared_pool, 1, 1));
    pthread_t th;
    void *r;
    pthread_create(&th, NULL, thread_error, NULL);
    pthread_join(th, &r);
    ck_assert_uint_eq((uintptr_t)r, UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolGetLastAllocationError(shared_pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfPoolDestroy(shared_pool);
}
END_TEST

static Suite *proxy_pool_suite(void) {
    Suite *s = suite_create("proxy_pool");
    TCase *tc = tcase_create("proxy_pool");
    tcase_add_test(tc, test_proxy_pool_malloc_free);
    tcase_add_test(tc, test_proxy_pool_aligned_malloc);
    tcase_add_test(tc, test_proxy_pool_unsupported_calls);
    tcase_add_test(tc, test_proxy_pool_malloc_zero_and_huge_fail);
    tcase_add_test(tc, test_proxy_pool_free_size_from_tracker);
    tcase_add_test(tc, test_proxy_pool_last_error_is_per_thread);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(proxy_pool_suite());
}
