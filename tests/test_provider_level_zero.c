/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_provider_level_zero.c - the Level Zero provider against the test
 * double of the Level Zero loader (tests/fake_ze.c, chosen with
 * UMF_ZE_LOADER_LIB): params and creation checks, a missing loader, every
 * memory type, alignment, resident devices, the relaxed allocation limit,
 * error mapping, IPC (in one process, between two processes through
 * pidfd_getfd, and a producer that cannot be reached) and a disjoint pool
 * on device memory (which the CPU cannot touch: any access crashes the
 * test). Nothing here needs a GPU. Each test runs in its own process
 * (Check's fork mode), so each loads the driver afresh.
 */

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_level_zero.h>

#include "fake_ze.h"
#include "gpu_test_util.h"
#include "helpers.h"

static void *fake;
#define FK(name) ((__typeof__(&name))gpu_fake_sym(fake, #name))

static const umf_usm_memory_type_t types[] = {
    UMF_MEMORY_TYPE_HOST, UMF_MEMORY_TYPE_DEVICE, UMF_MEMORY_TYPE_SHARED};

static ze_context_handle_t ctx;
static ze_device_handle_t devs[2];

// One context and the double's two devices.
static void ze_setup(void) {
    ze_driver_handle_t drv = NULL;
    uint32_t n = 1;
    ck_assert_int_eq(FK(zeInit)(0), ZE_RESULT_SUCCESS);
    ck_assert_int_eq(FK(zeDriverGet)(&n, &drv), ZE_RESULT_SUCCESS);
    n = 2;
    ck_assert_int_eq(FK(zeDeviceGet)(drv, &n, devs), ZE_RESULT_SUCCESS);
    ck_assert_uint_eq(n, 2);
    int desc[4] = {0};
    ck_assert_int_eq(FK(zeContextCreate)(drv, desc, &ctx), ZE_RESULT_SUCCESS);
    FK(fake_ze_reset)();
}

static umf_result_t try_create(ze_context_handle_t c, ze_device_handle_t d,
                               umf_usm_memory_type_t type,
                               ze_device_handle_t *resident, uint32_t nres,
                               umf_memory_provider_handle_t *out) {
    umf_level_zero_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsCreate(&p),
                     UMF_RESULT_SUCCESS);
    if (c) {
        ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetContext(p, c),
                         UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetDevice(p, d),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetMemoryType(p, type),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfLevelZeroMemoryProviderParamsSetResidentDevices(p, resident, nres),
        UMF_RESULT_SUCCESS);
    umf_result_t r =
        umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(), p, out);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsDestroy(p),
                     UMF_RESULT_SUCCESS);
    return r;
}

static umf_memory_provider_handle_t create(umf_usm_memory_type_t type) {
    umf_memory_provider_handle_t prov = NULL;
    ze_device_handle_t d = type == UMF_MEMORY_TYPE_HOST ? NULL : devs[0];
    ck_assert_int_eq(try_create(ctx, d, type, NULL, 0, &prov),
                     UMF_RESULT_SUCCESS);
    return prov;
}

static umf_memory_pool_handle_t disjoint_on(umf_memory_provider_handle_t p) {
    umf_disjoint_pool_params_handle_t dp = NULL;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&dp), UMF_RESULT_SUCCESS);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfDisjointPoolOps(), p, dp,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_SUCCESS);
    umfDisjointPoolParamsDestroy(dp);
    return pool;
}

// --- Params and creation ---

START_TEST(test_ze_params_null) {
    umf_level_zero_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsCreate(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsDestroy(NULL),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetContext(NULL, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetDevice(NULL, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetMemoryType(
                         NULL, UMF_MEMORY_TYPE_HOST),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfLevelZeroMemoryProviderParamsSetResidentDevices(NULL, NULL, 0),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsCreate(&p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfLevelZeroMemoryProviderParamsSetContext(p, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfLevelZeroMemoryProviderParamsSetResidentDevices(p, NULL, 2),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfLevelZeroMemoryProviderParamsSetResidentDevices(p, NULL, 0),
        UMF_RESULT_SUCCESS);
    umfLevelZeroMemoryProviderParamsDestroy(p);
    ck_assert_ptr_nonnull(umfLevelZeroMemoryProviderOps());
}
END_TEST

START_TEST(test_ze_create_rejects) {
    ze_setup();
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(), NULL, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        try_create(NULL, devs[0], UMF_MEMORY_TYPE_DEVICE, NULL, 0, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        try_create(ctx, devs[0], UMF_MEMORY_TYPE_HOST, NULL, 0, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        try_create(ctx, NULL, UMF_MEMORY_TYPE_DEVICE, NULL, 0, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        try_create(ctx, NULL, UMF_MEMORY_TYPE_SHARED, NULL, 0, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        try_create(ctx, devs[0], UMF_MEMORY_TYPE_UNKNOWN, NULL, 0, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(prov);
    // A device the driver does not know: its error at creation.
    int bogus;
    ck_assert_int_eq(try_create(ctx, (ze_device_handle_t)&bogus,
                                UMF_MEMORY_TYPE_DEVICE, NULL, 0, &prov),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_null(prov);
}
END_TEST

START_TEST(test_ze_no_loader) {
    setenv("UMF_ZE_LOADER_LIB", "/nonexistent/libze_loader.so.1", 1);
    char path[64];
    gpu_log_capture(path);
    umf_memory_provider_handle_t prov = NULL;
    int c;
    ck_assert_int_eq(try_create((ze_context_handle_t)&c, NULL,
                                UMF_MEMORY_TYPE_HOST, NULL, 0, &prov),
                     UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_ptr_null(prov);
    int named = 0;
    ck_assert_int_eq(
        gpu_log_lines(path, "/nonexistent/libze_loader.so.1", &named), 1);
    ck_assert_int_eq(named, 1);
}
END_TEST

// --- Memory ---

START_TEST(test_ze_memory_types) {
    umf_usm_memory_type_t type = types[_i];
    ze_setup();
    umf_memory_provider_handle_t prov = create(type);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "LEVEL_ZERO");
    size_t page = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(prov, NULL, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, 64 << 10);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(prov, 1, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, 64 << 10);

    static const size_t aligns[] = {0, 4096, 64 << 10, 2 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        void *p = NULL;
        ck_assert_int_eq(umfMemoryProviderAlloc(prov, 5000, aligns[i], &p),
                         UMF_RESULT_SUCCESS);
        if (aligns[i]) {
            ck_assert_uint_eq((uintptr_t)p % aligns[i], 0);
        }
        char in[5000], out[5000];
        memset(in, (int)i + 1, sizeof(in));
        if (type == UMF_MEMORY_TYPE_DEVICE) {
            FK(fake_ze_memcpy)(p, in, sizeof(in));
            ck_assert_int_eq(gpu_touch_signal(p), SIGSEGV);
        } else {
            memcpy(p, in, sizeof(in));
            ck_assert_int_eq(gpu_touch_signal(p), 0);
        }
        FK(fake_ze_memcpy)(out, p, sizeof(out));
        ck_assert_mem_eq(in, out, sizeof(in));
        ck_assert_int_eq(umfMemoryProviderFree(prov, p, 5000),
                         UMF_RESULT_SUCCESS);
    }
    const char *fn = type == UMF_MEMORY_TYPE_HOST     ? "zeMemAllocHost"
                     : type == UMF_MEMORY_TYPE_DEVICE ? "zeMemAllocDevice"
                                                      : "zeMemAllocShared";
    ck_assert_int_eq(FK(fake_ze_calls)(fn), (long)ARRAY_SIZE(aligns));
    ck_assert_int_eq(FK(fake_ze_calls)("zeMemFree"), (long)ARRAY_SIZE(aligns));
    ck_assert_int_eq(FK(fake_ze_live)(), 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, NULL, 0), UMF_RESULT_SUCCESS);

    void *q = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 1 << 17, 0, &q),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(prov, q, 4096),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(prov, q, 4096),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(prov, q, 1 << 17, 65536),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(prov, q, (char *)q + 65536, 1 << 17),
        UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderFree(prov, q, 1 << 17),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_ze_resident_devices) {
    ze_setup();
    ze_device_handle_t res[2] = {devs[0], devs[1]};
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(
        try_create(ctx, devs[0], UMF_MEMORY_TYPE_DEVICE, res, 2, &prov),
        UMF_RESULT_SUCCESS);
    res[0] = res[1] = NULL; // the provider copied them
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 8192, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_calls)("zeContextMakeMemoryResident"), 2);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 8192), UMF_RESULT_SUCCESS);
    // A device that cannot take it: the allocation goes back.
    FK(fake_ze_inject)
    ("zeContextMakeMemoryResident", ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY, 1);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 8192, 0, &p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_int_eq(FK(fake_ze_live)(), 0);
    ck_assert_int_eq(FK(fake_ze_calls)("zeMemFree"), 2);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_ze_relaxed_limit) {
    ze_setup();
    FK(fake_ze_set_max_alloc)(1 << 20);
    umf_memory_provider_handle_t prov = create(types[_i]);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 1 << 20, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_relaxed_seen)(), 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 1 << 20),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 3 << 20, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_relaxed_seen)(), 1);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 3 << 20),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_ze_error_mapping) {
    ze_setup();
    umf_memory_provider_handle_t prov = create(UMF_MEMORY_TYPE_DEVICE);
    static const struct {
        uint32_t ze;
        umf_result_t umf;
    } map[] = {
        {ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY,
         UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY},
        {ZE_RESULT_ERROR_INVALID_ARGUMENT, UMF_RESULT_ERROR_INVALID_ARGUMENT},
        {ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY,
         UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC},
        {ZE_RESULT_ERROR_DEVICE_LOST,
         UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        void *p = (void *)0x1;
        FK(fake_ze_inject)("zeMemAllocDevice", map[i].ze, 1);
        ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p), map[i].umf);
        ck_assert_ptr_eq(p, (void *)0x1);
    }
    const char *msg = NULL;
    int32_t code = 0;
    umfMemoryProviderGetLastNativeError(prov, &msg, &code);
    ck_assert_int_eq((uint32_t)code, ZE_RESULT_ERROR_DEVICE_LOST);
    ck_assert_ptr_nonnull(strstr(msg, "ZE_RESULT_ERROR_DEVICE_LOST"));
    // The driver decides about alignment.
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 3, &p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    umfMemoryProviderGetLastNativeError(prov, &msg, &code);
    ck_assert_int_eq((uint32_t)code, ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT);
    int x;
    ck_assert_int_eq(umfMemoryProviderFree(prov, &x, sizeof(x)),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(FK(fake_ze_live)(), 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_ze_disjoint_pool_device) {
    ze_setup();
    umf_memory_pool_handle_t pool = disjoint_on(create(UMF_MEMORY_TYPE_DEVICE));
    enum { N = 200 };
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = umfPoolMalloc(pool, (size_t)64 << (i % 15));
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert_ptr_eq(umfPoolByPtr(ptrs[i]), pool);
    }
    char in[64], out[64];
    memset(in, 0x21, sizeof(in));
    FK(fake_ze_memcpy)(ptrs[3], in, sizeof(in));
    FK(fake_ze_memcpy)(out, ptrs[3], sizeof(out));
    ck_assert_mem_eq(in, out, sizeof(in));
    ck_assert_int_eq(gpu_touch_signal(ptrs[3]), SIGSEGV);
    for (int i = N - 1; i >= 0; i--) {
        ck_assert_int_eq(umfPoolFree(pool, ptrs[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
    ck_assert_int_eq(FK(fake_ze_live)(), 0);
}
END_TEST

// --- IPC ---

// In one process the handle's descriptor is used as it is.
START_TEST(test_ze_ipc_same_process) {
    ze_setup();
    umf_memory_provider_handle_t prov = create(UMF_MEMORY_TYPE_HOST);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 65536, 0, &p),
                     UMF_RESULT_SUCCESS);
    strcpy(p, "hello from the producer");
    size_t hsize = 0;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(prov, &hsize),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_ge(hsize, 64 + sizeof(int));
    char data[256];
    ck_assert_uint_le(hsize, sizeof(data));
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prov, p, 65536, data),
                     UMF_RESULT_SUCCESS);
    void *q = NULL;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(prov, data, &q),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_ne(p, q);
    ck_assert_str_eq(q, "hello from the producer");
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(prov, q, 65536),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_open_handles)(), 1);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(prov, data),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_open_handles)(), 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 65536), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A producer that is gone: a clear native error, nothing mapped.
START_TEST(test_ze_ipc_producer_gone) {
    ze_setup();
    umf_memory_provider_handle_t prov = create(UMF_MEMORY_TYPE_DEVICE);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    char data[256];
    memset(data, 0, sizeof(data));
    int32_t dead = (int32_t)pid;
    int fd = 3;
    memcpy(data, &dead, sizeof(dead));
    memcpy(data + sizeof(int32_t), &fd, sizeof(fd));
    void *q = NULL;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(prov, data, &q),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    const char *msg = NULL;
    int32_t code = 0;
    umfMemoryProviderGetLastNativeError(prov, &msg, &code);
    ck_assert_int_lt(code, 0);
    ck_assert_ptr_nonnull(strstr(msg, "ptrace"));
    ck_assert_int_eq(FK(fake_ze_calls)("zeMemOpenIpcHandle"), 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

enum { IPC_SIZE = 10000, IPC_FILL = 0x4c };

static void ze_ipc_child(int to_parent, int from_parent) {
    ze_setup();
    umf_memory_pool_handle_t pool = disjoint_on(create(UMF_MEMORY_TYPE_DEVICE));
    void *p = umfPoolMalloc(pool, IPC_SIZE);
    if (!p) {
        _exit(10);
    }
    char fill[IPC_SIZE];
    memset(fill, IPC_FILL, sizeof(fill));
    FK(fake_ze_memcpy)(p, fill, sizeof(fill));
    umf_ipc_handle_t h = NULL;
    size_t hsize = 0;
    if (umfGetIPCHandle(p, &h, &hsize) != UMF_RESULT_SUCCESS) {
        _exit(11);
    }
    gpu_write_all(to_parent, &hsize, sizeof(hsize));
    gpu_write_all(to_parent, h, hsize);
    char done;
    if (gpu_read_all(from_parent, &done, 1) != 0) {
        _exit(12);
    }
    if (umfPutIPCHandle(h) != UMF_RESULT_SUCCESS ||
        umfPoolFree(pool, p) != UMF_RESULT_SUCCESS) {
        _exit(13);
    }
    umfPoolDestroy(pool);
    if (FK(fake_ze_live)() != 0) {
        _exit(14);
    }
    _exit(FK(fake_ze_open_handles)() == 0 ? 0 : 15);
}

START_TEST(test_ze_ipc_two_processes) {
    if (!gpu_pidfd_works("test_ze_ipc_two_processes")) {
        return;
    }
    int up[2], down[2];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        ze_ipc_child(up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    size_t hsize = 0;
    ck_assert_int_eq(gpu_read_all(up[0], &hsize, sizeof(hsize)), 0);
    ck_assert_uint_lt(hsize, 4096);
    char hbuf[4096];
    ck_assert_int_eq(gpu_read_all(up[0], hbuf, hsize), 0);

    ze_setup();
    umf_memory_pool_handle_t pool = disjoint_on(create(UMF_MEMORY_TYPE_DEVICE));
    umf_ipc_handler_handle_t handler = NULL;
    ck_assert_int_eq(umfPoolGetIPCHandler(pool, &handler), UMF_RESULT_SUCCESS);
    void *mapped = NULL;
    ck_assert_int_eq(umfOpenIPCHandle(handler, (umf_ipc_handle_t)hbuf, &mapped),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_ze_calls)("zeMemOpenIpcHandle"), 1);
    char out[IPC_SIZE];
    FK(fake_ze_memcpy)(out, mapped, sizeof(out));
    for (size_t i = 0; i < sizeof(out); i++) {
        ck_assert_int_eq((unsigned char)out[i], IPC_FILL);
    }
    ck_assert_int_eq(gpu_touch_signal(mapped), SIGSEGV);
    ck_assert_int_eq(umfCloseIPCHandle(mapped), UMF_RESULT_SUCCESS);
    gpu_write_all(down[1], "x", 1);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "producer failed (status 0x%x)", st);
    umfPoolDestroy(pool);
    ck_assert_int_eq(FK(fake_ze_live)(), 0);
}
END_TEST

static Suite *ze_suite(void) {
    Suite *s = suite_create("provider_level_zero");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_ze_params_null);
    tcase_add_test(tc, test_ze_create_rejects);
    tcase_add_test(tc, test_ze_no_loader);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_loop_test(tc, test_ze_memory_types, 0, (int)ARRAY_SIZE(types));
    tcase_add_test(tc, test_ze_resident_devices);
    tcase_add_loop_test(tc, test_ze_relaxed_limit, 1, 3); // DEVICE, SHARED
    tcase_add_test(tc, test_ze_error_mapping);
    suite_add_tcase(s, tc);
    tc = tcase_create("pools_ipc");
    tcase_add_test(tc, test_ze_disjoint_pool_device);
    tcase_add_test(tc, test_ze_ipc_same_process);
    tcase_add_test(tc, test_ze_ipc_producer_gone);
    tcase_add_test(tc, test_ze_ipc_two_processes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    // See test_provider_cuda.c: every test runs in a child process.
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0) {
        skip_binary("needs Check's fork mode (CK_FORK=no is set): each test "
                    "loads the driver afresh in its own process");
    }
    setenv("UMF_ZE_LOADER_LIB", FAKE_ZE_LIB, 1);
    fake = gpu_fake_open(FAKE_ZE_LIB);
    return run_suite(ze_suite());
}
