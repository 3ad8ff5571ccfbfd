/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_provider.c - the provider front end with a user-written provider:
 * ops validation and copying, params passed through, every function
 * forwarding to its op, NOT_SUPPORTED for absent optional ops, and the
 * per-thread last failed provider.
 */

#include <pthread.h>

#include "helpers.h"

static umf_memory_provider_handle_t make(test_prov_params_t *params) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, params, &h),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(h);
    return h;
}

START_TEST(test_provider_create_passes_params_and_copies_ops) {
    test_prov_params_t params = {.name = "mine"};
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, &params, &h),
                     UMF_RESULT_SUCCESS);
    test_prov_t *t = test_prov_last;
    ck_assert_ptr_eq(t->params_seen, &params);
    // The caller's table may change or go away after creation.
    memset(&ops, 0, sizeof(ops));
    ck_assert_str_eq(umfMemoryProviderGetName(h), "mine");
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, &p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 100), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->allocs, 1);
    ck_assert_uint_eq(t->frees, 1);
    umfMemoryProviderDestroy(h);
    ck_assert_int_eq(t->finalized, 1);

    // NULL params reach initialize as NULL.
    h = make(NULL);
    ck_assert_ptr_null(test_prov_last->params_seen);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_provider_initialize_error_returned_unchanged) {
    const int codes[] = {UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY,
                         UMF_RESULT_ERROR_USER_SPECIFIC,
                         UMF_RESULT_ERROR_UNKNOWN, 12345};
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
        test_prov_params_t params = {.init_result = codes[i]};
        umf_memory_provider_ops_t ops = test_provider_ops();
        umf_memory_provider_handle_t h = (umf_memory_provider_handle_t)0x1;
        ck_assert_int_eq(umfMemoryProviderCreate(&ops, &params, &h), codes[i]);
        ck_assert_ptr_eq(h, (umf_memory_provider_handle_t)0x1);
    }
}
END_TEST

START_TEST(test_provider_ops_validation) {
    umf_memory_provider_handle_t h = (umf_memory_provider_handle_t)0x1;
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.version = UMF_MAKE_VERSION(1, 0);
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);

    // Optional ops may all be NULL.
    ops = test_provider_ops();
    memset(&ops.ext, 0, sizeof(ops.ext));
    memset(&ops.ipc, 0, sizeof(ops.ipc));
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h),
                     UMF_RESULT_SUCCESS);
    void *p = (void *)0x1000;
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 10),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, p, 10),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, p, 10),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 10, 5),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, p, (char *)p + 5, 10),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    size_t sz;
    char data[16];
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &sz),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, p, 10, data),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(h, data),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    void *q;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, data, &q),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, p, 10),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- Forwarding ---

START_TEST(test_provider_forwards_every_op) {
    umf_memory_provider_handle_t h = make(NULL);
    test_prov_t *t = test_prov_last;
    size_t ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 100, &ps),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(ps, (size_t)sysconf(_SC_PAGESIZE));
    ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, &ps),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(ps, (size_t)sysconf(_SC_PAGESIZE));
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 8192, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, p, 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, p, 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->purges, 2);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 8192, 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(h, p, (char *)p + 4096, 8192),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->splits, 1);
    ck_assert_uint_eq(t->merges, 1);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 8192), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- Last failed provider and native errors ---

static void *other_thread_last_failed(void *arg) {
    (void)arg;
    return umfGetLastFailedMemoryProvider();
}

START_TEST(test_provider_last_failed_is_per_thread) {
    umf_memory_provider_handle_t a = make(NULL), b = make(NULL);
    void *p = NULL;
    ck_assert_ptr_null(umfGetLastFailedMemoryProvider());

    // Front-end argument failures do not count.
    ck_assert_int_eq(umfMemoryProviderAlloc(a, 10, 0, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(umfGetLastFailedMemoryProvider());

    // An op failure does, with the native error of the provider.
    ck_assert_int_eq(umfMemoryProviderAlloc(a, 0, 0, &p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), a);
    const char *msg = NULL;
    int32_t err = 0;
    umfMemoryProviderGetLastNativeError(a, &msg, &err);
    ck_assert_int_eq(err, 42);
    ck_assert_str_eq(msg, "test provider native error");

    ck_assert_int_eq(umfMemoryProviderFree(b, (void *)0x1000, 0),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), b);
    umfMemoryProviderGetLastNativeError(b, &msg, &err);
    ck_assert_int_eq(err, 43);

    // A success does not reset it; another thread has its own.
    ck_assert_int_eq(umfMemoryProviderAlloc(a, 10, 0, &p), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), b);
    pthread_t th;
    void *seen = (void *)0x1;
    pthread_create(&th, NULL, other_thread_last_failed, NULL);
    pthread_join(th, &seen);
    ck_assert_ptr_null(seen);
    ck_assert_int_eq(umfMemoryProviderFree(a, p, 10), UMF_RESULT_SUCCESS);

    // IPC failures do not set it.
    umf_memory_provider_handle_t c = make(NULL);
    size_t sz;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(c, &sz),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), b);

    // Destroying the provider forgets it.
    umfMemoryProviderDestroy(b);
    ck_assert_ptr_null(umfGetLastFailedMemoryProvider());
    umfMemoryProviderDestroy(a);
    umfMemoryProviderDestroy(c);
}
END_TEST

START_TEST(test_provider_out_of_memory_from_provider) {
    test_prov_params_t params = {.fail_after_bytes = 1 << 20};
    umf_memory_provider_handle_t h = make(&params);
    void *p = NULL, *q = (void *)0x77;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1 << 19, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1 << 20, 0, &q),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_eq(q, (void *)0x77);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), h);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 1 << 19), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

static Suite *provider_suite(void) {
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_provider_create_passes_params_and_copies_ops);
    tcase_add_test(tc, test_provider_initialize_error_returned_unchanged);
    tcase_add_test(tc, test_provider_ops_validation);
    suite_add_tcase(s, tc);
    tc = tcase_create("ops");
    tcase_add_test(tc, test_provider_forwards_every_op);
    tcase_add_test(tc, test_provider_last_failed_is_per_thread);
    tcase_add_test(tc, test_provider_out_of_memory_from_provider);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(provider_suite());
}
