/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_init.c - umfInit/umfTearDown: the count (the library's constructor
 * is one user), what works after full tear-down and what does not, pools
 * that outlive tear-down, re-initialisation, and the proxy exception.
 * Each test runs in its own process (Check's fork mode), so each starts
 * with the count at 1.
 */

#include <umf.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"
#include "umf_private.h"

typedef struct umf_alloc_info_t {
    void *base;
    size_t baseSize;
    umf_memory_pool_handle_t pool;
} umf_alloc_info_t;
umf_result_t umfMemoryTrackerGetAllocInfo(const void *ptr,
                                          umf_alloc_info_t *pAllocInfo);

static umf_memory_pool_handle_t make_pool(void) {
    umf_os_memory_provider_params_handle_t params;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params), 0);
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov), 0);
    umfOsMemoryProviderParamsDestroy(params);
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), prov, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     0);
    return pool;
}

START_TEST(test_init_version) {
    ck_assert_int_eq(umfGetCurrentVersion(), UMF_VERSION_CURRENT);
    ck_assert_int_eq(umfGetCurrentVersion(), 10);
}
END_TEST

START_TEST(test_init_counts_users) {
    // Constructor = 1 user; two more nest.
    ck_assert_int_eq(umfInit(), 0);
    ck_assert_int_eq(umfInit(), 0);
    umfTearDown();
    umfTearDown();
    // Still one user: everything works.
    umf_memory_pool_handle_t pool = make_pool();
    void *p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    umfFree(p);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_init_after_teardown) {
    umfTearDown(); // 1 -> 0
    umf_memory_provider_handle_t prov;
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params), 0);
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov), 0);
    umf_memory_pool_handle_t pool = (umf_memory_pool_handle_t)0x1;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), prov, NULL, 0, &pool),
                     UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_ptr_eq(pool, (umf_memory_pool_handle_t)0x1);
    int x;
    ck_assert_ptr_null(umfPoolByPtr(&x));
    ck_assert_int_eq(umfFree(&x), UMF_RESULT_SUCCESS);
    umf_alloc_info_t info;
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(&x, &info),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    // Providers do not need global state.
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p), 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 4096), 0);

    // More tear-downs than inits are refused, not wrapped around.
    umfTearDown();
    ck_assert_int_eq(umfInit(), 0); // 0 -> 1 again
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    p = umfPoolMalloc(pool, 10);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    umfFree(p);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
    umfOsMemoryProviderParamsDestroy(params);
}
END_TEST

START_TEST(test_init_pool_outlives_teardown) {
    umf_memory_pool_handle_t pool = make_pool();
    char *p = umfPoolMalloc(pool, 5000);
    ck_assert_ptr_nonnull(p);
    umfTearDown(); // 1 -> 0 with a live pool
    ck_assert_ptr_null(umfPoolByPtr(p));
    // The pool still works and frees correctly (its tracker is kept).
    char *q = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(q);
    ck_assert_int_eq(umfPoolFree(pool, q), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    // Re-init: a new pool works, lookups work again.
    ck_assert_int_eq(umfInit(), 0);
    pool = make_pool();
    p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_eq(umfPoolByPtr(p + 50), pool);
    umfFree(p);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_init_reinit_rereads_umf_log) {
    char path[] = "/tmp/umf_test_init_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "output:file,%s;level:debug", path);
    setenv("UMF_LOG", cfg, 1);
    umfTearDown();
    ck_assert_int_eq(umfInit(), 0);
    umfPoolDestroy(NULL); // logs an error about the NULL handle
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(buf, "Logger enabled") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "umfPoolDestroy: hPool is NULL") != NULL, "%s",
                  buf);
}
END_TEST

START_TEST(test_init_tracker_kept_under_proxy) {
    // What libumf_proxy.so tells libumf from its constructor. The
    // environment plays no part: LD_PRELOAD is cleared here, as many
    // programs do for their children.
    unsetenv("LD_PRELOAD");
    umf_private_proxy_present();
    umf_memory_pool_handle_t pool = make_pool();
    char *p = umfPoolMalloc(pool, 100);
    umfTearDown();
    // The proxy keeps freeing through the tracker until exit.
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
}
END_TEST

START_TEST(test_init_environment_not_read) {
    // A program that merely names the proxy in LD_PRELOAD (without it
    // being loaded) gets the ordinary tear-down.
    setenv("LD_PRELOAD", "/usr/lib/libumf_proxy.so", 1);
    umf_memory_pool_handle_t pool = make_pool();
    char *p = umfPoolMalloc(pool, 100);
    umfTearDown();
    ck_assert_ptr_null(umfPoolByPtr(p));
    unsetenv("LD_PRELOAD");
}
END_TEST

static Suite *init_suite(void) {
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("init");
    tcase_add_test(tc, test_init_version);
    tcase_add_test(tc, test_init_counts_users);
    tcase_add_test(tc, test_init_after_teardown);
    tcase_add_test(tc, test_init_pool_outlives_teardown);
    tcase_add_test(tc, test_init_reinit_rereads_umf_log);
    tcase_add_test(tc, test_init_tracker_kept_under_proxy);
    tcase_add_test(tc, test_init_environment_not_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    unsetenv("UMF_LOG");
    if (under_proxy()) {
        // These tests count umfInit/umfTearDown down to zero users.
        skip_binary("libumf_proxy.so is preloaded and is a user of libumf: "
                    "tear-down to zero users cannot happen");
    }
    return run_suite(init_suite());
}
