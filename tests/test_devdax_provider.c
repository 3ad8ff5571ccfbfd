/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_devdax_provider.c - the devdax memory provider through the public
 * API: params functions (protection checked at once), creation checks
 * (size 0, a path that is not /dev/dax*, a missing device, a path that is
 * not a character device), and - on a stand-in for the device - mapping
 * and 2 MiB alignment, packing, exhaustion with its native error, no free,
 * purge, page sizes, name, split/merge, and IPC inside the process.
 *
 * No machine this runs on has a device DAX. The stand-in is a sparse
 * regular file, accepted only with UMF_DEVDAX_TEST_STANDIN=1 (test-only;
 * this program sets it for the stand-in tests and unsets it for the
 * checks of real-device paths). With UMF_TESTS_DEVDAX_PATH and
 * UMF_TESTS_DEVDAX_SIZE set (upstream's variables), the allocation test
 * also runs on that device.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include <umf/memory_provider.h>
#include <umf/providers/provider_devdax_memory.h>

#include "helpers.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

#define R_OK_      UMF_RESULT_SUCCESS
#define R_INVAL    UMF_RESULT_ERROR_INVALID_ARGUMENT
#define R_NOTSUP   UMF_RESULT_ERROR_NOT_SUPPORTED
#define R_SPECIFIC UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC

#define DAX_SIZE (64 * MiB)

static char standin[PATH_MAX - 64];

static void setup(void) {
    snprintf(standin, sizeof(standin), "%s/umf_test_dax_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(standin);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, DAX_SIZE), 0);
    close(fd);
    setenv("UMF_DEVDAX_TEST_STANDIN", "1", 1);
}

static void teardown(void) {
    unsetenv("UMF_DEVDAX_TEST_STANDIN");
    unlink(standin);
}

static umf_memory_provider_handle_t make(const char *path, size_t size) {
    umf_devdax_memory_provider_params_handle_t p;
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsCreate(&p, path, size),
                     R_OK_);
    umf_memory_provider_handle_t h = NULL;
    umf_result_t r =
        umfMemoryProviderCreate(umfDevDaxMemoryProviderOps(), p, &h);
    umfDevDaxMemoryProviderParamsDestroy(p);
    ck_assert_msg(r == R_OK_, "create on %s: %d", path, (int)r);
    return h;
}

START_TEST(test_devdax_params) {
    umf_devdax_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsCreate(NULL, "/dev/dax0.0", DAX_SIZE),
        R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsCreate(&p, NULL, DAX_SIZE),
                     R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsCreate(&p, "", DAX_SIZE),
                     R_INVAL);
    ck_assert_ptr_null(p);
    // Size is not checked here.
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsCreate(&p, "/dev/dax0.0", 0),
                     R_OK_);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetDeviceDax(p, NULL, 10),
                     R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetDeviceDax(p, "", 10),
                     R_INVAL);
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsSetDeviceDax(NULL, "/dev/dax1.0", 10),
        R_INVAL);
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsSetDeviceDax(p, "/dev/dax1.0", 10), R_OK_);
    // Protection: checked at once.
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetProtection(p, 0), R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetProtection(p, 0x100),
                     R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetProtection(NULL, 1),
                     R_INVAL);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetProtection(
                         p, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE),
                     R_OK_);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsDestroy(p), R_OK_);
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsDestroy(NULL), R_OK_);
}
END_TEST

// Without the stand-in switch: only character devices under /dev/dax.
START_TEST(test_devdax_creation_checks) {
    unsetenv("UMF_DEVDAX_TEST_STANDIN");
    umf_memory_provider_ops_t *ops = umfDevDaxMemoryProviderOps();
    ck_assert_ptr_nonnull(ops);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, NULL, &h), R_INVAL);
    umf_devdax_memory_provider_params_handle_t p;
    // A missing device (no machine here has /dev/dax99.99).
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsCreate(&p, "/dev/dax99.99", DAX_SIZE),
        R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    // Size 0.
    ck_assert_int_eq(umfDevDaxMemoryProviderParamsSetDeviceDax(p, standin, 0),
                     R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    // A regular file, not under /dev/dax: refused without the switch.
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsSetDeviceDax(p, standin, DAX_SIZE), R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    // A character device that is not a device DAX, not under /dev/dax.
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsSetDeviceDax(p, "/dev/zero", DAX_SIZE),
        R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    ck_assert_ptr_null(h);
    // With the switch, a stand-in smaller than the size given is refused.
    setenv("UMF_DEVDAX_TEST_STANDIN", "1", 1);
    ck_assert_int_eq(
        umfDevDaxMemoryProviderParamsSetDeviceDax(p, standin, 2 * DAX_SIZE),
        R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    umfDevDaxMemoryProviderParamsDestroy(p);
}
END_TEST

static void alloc_checks(const char *path, size_t size) {
    umf_memory_provider_handle_t h = make(path, size);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "DEVDAX");
    size_t ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, &ps), R_OK_);
    ck_assert_uint_eq(ps, 2 * MiB);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 10, &ps),
                     R_OK_);
    ck_assert_uint_eq(ps, 2 * MiB);
    // The first allocation is the start of the mapping, 2 MiB aligned.
    char *a, *b, *c;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, (void **)&a), R_OK_);
    ck_assert_uint_eq((uintptr_t)a % (2 * MiB), 0);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, (void **)&b), R_OK_);
    ck_assert_ptr_eq(b, a + 100); // packed
    // Alignment below 2 MiB is raised to 2 MiB.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 4096, (void **)&c), R_OK_);
    ck_assert_ptr_eq(c, a + 2 * MiB);
    memset(a, 1, 200);
    memset(c, 2, 100);
    // Bad alignments.
    void *x = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 3, &x), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 3 * MiB, &x), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 0, 0, &x), R_INVAL);
    // Past the end: provider-specific, native ALLOC_FAILED.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, size, 0, &x), R_SPECIFIC);
    const char *msg = NULL;
    int32_t err = 0;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    ck_assert_int_eq(err, UMF_DEVDAX_RESULT_ERROR_ALLOC_FAILED);
    ck_assert_str_eq(msg, "memory allocation failed");
    // The rest of the device in one piece still fits.
    size_t rest = size - 4 * MiB;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, rest, 2 * MiB, &x), R_OK_);
    ck_assert_ptr_eq(x, a + 4 * MiB);
    ((char *)x)[rest - 1] = 9;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1, 0, &x), R_SPECIFIC);
    // No free; purge lazy no, force yes; split/merge no-ops.
    ck_assert_int_eq(umfMemoryProviderFree(h, a, 100), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, a, 100), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, c, 4096), R_OK_);
    ck_assert_int_eq(c[0], 2); // shared mapping: the device keeps it
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, a, 200, 100), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, a, b, 200), R_OK_);
    umfMemoryProviderDestroy(h);
}

START_TEST(test_devdax_standin_alloc) {
    alloc_checks(standin, DAX_SIZE);
}
END_TEST

START_TEST(test_devdax_real_device_alloc) {
    const char *dev = getenv("UMF_TESTS_DEVDAX_PATH");
    const char *sz = getenv("UMF_TESTS_DEVDAX_SIZE");
    if (!dev || !*dev || !sz || !*sz) {
        printf("test_devdax_real_device_alloc: UMF_TESTS_DEVDAX_PATH/SIZE "
               "not set (no device DAX here): not run\n");
        return;
    }
    unsetenv("UMF_DEVDAX_TEST_STANDIN");
    alloc_checks(dev, (size_t)strtoull(sz, NULL, 0));
}
END_TEST

START_TEST(test_devdax_ipc_in_process) {
    umf_memory_provider_handle_t prod = make(standin, DAX_SIZE);
    size_t sz = 0;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(prod, &sz), R_OK_);
    char *data = calloc(1, sz);
    char *a, *b;
    ck_assert_int_eq(umfMemoryProviderAlloc(prod, 5000, 0, (void **)&a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(prod, 3 * MiB, 0, (void **)&b),
                     R_OK_);
    memset(b, 0x61, 3 * MiB);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prod, b, 3 * MiB, data),
                     R_OK_);
    // A second provider (here: on the same stand-in) opens it.
    umf_memory_provider_handle_t cons = make(standin, DAX_SIZE);
    char *q;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(cons, data, (void **)&q),
                     R_OK_);
    size_t same = 0;
    for (size_t i = 0; i < 3 * MiB; i++) {
        same += q[i] == 0x61;
    }
    ck_assert_uint_eq(same, 3 * MiB);
    q[3 * MiB - 1] = 0x62;
    ck_assert_int_eq(b[3 * MiB - 1], 0x62);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(cons, q, 3 * MiB), R_OK_);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(prod, data), R_OK_);
    // Without the switch, a stand-in's handle is refused by the consumer.
    unsetenv("UMF_DEVDAX_TEST_STANDIN");
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(cons, data, (void **)&q),
                     R_INVAL);
    setenv("UMF_DEVDAX_TEST_STANDIN", "1", 1);
    // Outside the mapping.
    static char foreign[64];
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prod, foreign, 10, data),
                     R_INVAL);
    free(data);
    umfMemoryProviderDestroy(cons);
    umfMemoryProviderDestroy(prod);
}
END_TEST

static Suite *devdax_suite(void) {
    Suite *s = suite_create("devdax_provider");
    TCase *tc = tcase_create("params");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_devdax_params);
    tcase_add_test(tc, test_devdax_creation_checks);
    suite_add_tcase(s, tc);

    tc = tcase_create("standin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_devdax_standin_alloc);
    tcase_add_test(tc, test_devdax_ipc_in_process);
    suite_add_tcase(s, tc);

    tc = tcase_create("device");
    tcase_add_test(tc, test_devdax_real_device_alloc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(devdax_suite());
}
