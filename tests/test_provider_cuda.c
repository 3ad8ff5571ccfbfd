/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_provider_cuda.c - the CUDA provider against the test double of the
 * CUDA driver (tests/fake_cuda.c, chosen with UMF_CUDA_LIB): params and
 * creation checks, a missing driver, the global namespace, every memory
 * type, the context switch around each driver call, error mapping,
 * alignment, IPC between two processes and a disjoint pool on device
 * memory (which the CPU cannot touch: any access crashes the test).
 * Nothing here needs a GPU. Each test runs in its own process (Check's
 * fork mode), so each loads the driver afresh.
 */

#include <pthread.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_cuda.h>

#include "fake_cuda.h"
#include "gpu_test_util.h"
#include "helpers.h"

static void *fake;
#define FK(name) ((__typeof__(&name))gpu_fake_sym(fake, #name))

static const umf_usm_memory_type_t types[] = {
    UMF_MEMORY_TYPE_HOST, UMF_MEMORY_TYPE_DEVICE, UMF_MEMORY_TYPE_SHARED};

// A context of device 0, current on this thread.
static cu_context_t make_ctx(void) {
    cu_context_t c = NULL;
    ck_assert_int_eq(FK(cuInit)(0), CUDA_SUCCESS);
    ck_assert_int_eq(FK(cuCtxCreate_v2)(&c, 0, 0), CUDA_SUCCESS);
    return c;
}

static umf_result_t try_create(cu_context_t ctx, int dev,
                               umf_usm_memory_type_t type,
                               umf_memory_provider_handle_t *out) {
    umf_cuda_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfCUDAMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetContext(p, ctx),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetDevice(p, dev),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetMemoryType(p, type),
                     UMF_RESULT_SUCCESS);
    umf_result_t r =
        umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), p, out);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsDestroy(p), UMF_RESULT_SUCCESS);
    return r;
}

static umf_memory_provider_handle_t create(cu_context_t ctx,
                                           umf_usm_memory_type_t type) {
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(try_create(ctx, 0, type, &prov), UMF_RESULT_SUCCESS);
    return prov;
}

// --- Params and creation ---

START_TEST(test_cuda_params_null) {
    ck_assert_int_eq(umfCUDAMemoryProviderParamsCreate(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsDestroy(NULL),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetContext(NULL, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetDevice(NULL, 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfCUDAMemoryProviderParamsSetMemoryType(NULL, UMF_MEMORY_TYPE_HOST),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(umfCUDAMemoryProviderOps());
}
END_TEST

START_TEST(test_cuda_create_rejects) {
    umf_memory_provider_handle_t prov = NULL;
    cu_context_t ctx = make_ctx();
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), NULL, &prov),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_create(ctx, 0, UMF_MEMORY_TYPE_UNKNOWN, &prov),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_create(ctx, 0, (umf_usm_memory_type_t)4, &prov),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_create(NULL, 0, UMF_MEMORY_TYPE_DEVICE, &prov),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(try_create(ctx, -1, UMF_MEMORY_TYPE_DEVICE, &prov),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // A device the driver does not have: its error, nothing created.
    ck_assert_int_eq(try_create(ctx, 7, UMF_MEMORY_TYPE_DEVICE, &prov),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_null(prov);
}
END_TEST

// Without a driver: UNKNOWN and exactly one log line naming the library.
START_TEST(test_cuda_no_driver) {
    setenv("UMF_CUDA_LIB", "/nonexistent/libcuda.so.1", 1);
    char path[64];
    gpu_log_capture(path);
    umf_memory_provider_handle_t prov = NULL;
    int fake_ctx;
    ck_assert_int_eq(
        try_create((cu_context_t)&fake_ctx, 0, UMF_MEMORY_TYPE_DEVICE, &prov),
        UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_ptr_null(prov);
    int named = 0;
    int lines = gpu_log_lines(path, "/nonexistent/libcuda.so.1", &named);
    ck_assert_int_eq(lines, 1);
    ck_assert_int_eq(named, 1);
    // Remembered: a second attempt fails the same way, with one line.
    gpu_log_capture(path);
    ck_assert_int_eq(
        try_create((cu_context_t)&fake_ctx, 0, UMF_MEMORY_TYPE_HOST, &prov),
        UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_int_eq(gpu_log_lines(path, "UMF_CUDA_LIB", &named), 1);
    ck_assert_int_eq(named, 1);
}
END_TEST

// A library that is not the driver (the Level Zero double): UNKNOWN and
// one line naming the missing entry point.
START_TEST(test_cuda_driver_lacks_symbol) {
    setenv("UMF_CUDA_LIB", FAKE_ZE_LIB, 1);
    char path[64];
    gpu_log_capture(path);
    umf_memory_provider_handle_t prov = NULL;
    int fake_ctx;
    ck_assert_int_eq(
        try_create((cu_context_t)&fake_ctx, 0, UMF_MEMORY_TYPE_DEVICE, &prov),
        UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_ptr_null(prov);
    int named = 0;
    ck_assert_int_eq(gpu_log_lines(path, "lacks cuCtxGetCurrent", &named), 1);
    ck_assert_int_eq(named, 1);
}
END_TEST

// Without UMF_CUDA_LIB a driver in the global namespace is used.
START_TEST(test_cuda_global_namespace) {
    unsetenv("UMF_CUDA_LIB");
    void *g = dlopen(FAKE_CUDA_LIB, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(g);
    long before = FK(fake_cu_calls)("cuMemGetAllocationGranularity");
    cu_context_t ctx = make_ctx();
    umf_memory_provider_handle_t prov = create(ctx, UMF_MEMORY_TYPE_DEVICE);
    ck_assert_int_eq(FK(fake_cu_calls)("cuMemGetAllocationGranularity"),
                     before + 2);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- Memory types ---

START_TEST(test_cuda_memory_types) {
    umf_usm_memory_type_t type = types[_i];
    cu_context_t ctx = make_ctx();
    FK(fake_cu_reset)();
    umf_memory_provider_handle_t prov = create(ctx, type);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "CUDA");
    size_t page = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(prov, NULL, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, FAKE_CU_MIN_GRANULARITY);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(prov, 1, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, FAKE_CU_REC_GRANULARITY);

    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 3000, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(FK(fake_cu_live)(), 1);
    const char *alloc_fn = type == UMF_MEMORY_TYPE_HOST ? "cuMemAllocHost_v2"
                           : type == UMF_MEMORY_TYPE_DEVICE
                               ? "cuMemAlloc_v2"
                               : "cuMemAllocManaged";
    ck_assert_int_eq(FK(fake_cu_calls)(alloc_fn), 1);

    // Contents: the CPU writes host and managed memory; device memory is
    // filled and read back by the driver, and crashes a CPU reader.
    char buf[3000];
    if (type == UMF_MEMORY_TYPE_DEVICE) {
        ck_assert_int_eq(
            FK(cuMemsetD8_v2)((cu_deviceptr_t)(uintptr_t)p, 0x5a, sizeof(buf)),
            CUDA_SUCCESS);
        ck_assert_int_eq(gpu_touch_signal(p), SIGSEGV);
    } else {
        memset(p, 0x5a, sizeof(buf));
        ck_assert_int_eq(gpu_touch_signal(p), 0);
    }
    ck_assert_int_eq(FK(cuMemcpy)((cu_deviceptr_t)(uintptr_t)buf,
                                  (cu_deviceptr_t)(uintptr_t)p, sizeof(buf)),
                     CUDA_SUCCESS);
    for (size_t i = 0; i < sizeof(buf); i++) {
        ck_assert_int_eq(buf[i], 0x5a);
    }

    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 3000), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_cu_calls)(type == UMF_MEMORY_TYPE_HOST
                                           ? "cuMemFreeHost"
                                           : "cuMemFree_v2"),
                     1);
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, NULL, 0), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_cuda_not_supported_ops) {
    cu_context_t ctx = make_ctx();
    umf_memory_provider_handle_t prov = create(ctx, UMF_MEMORY_TYPE_SHARED);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 1 << 17, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(prov, p, 4096),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(prov, p, 4096),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(prov, p, 1 << 17, 65536),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(prov, p, (char *)p + 65536, 1 << 17),
        UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 1 << 17),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- The context switch ---

START_TEST(test_cuda_context_switch_restore) {
    cu_context_t mine = make_ctx();
    cu_context_t theirs = make_ctx(); // now current
    ck_assert_int_eq(FK(cuCtxSetCurrent)(mine), CUDA_SUCCESS);
    umf_memory_provider_handle_t prov = create(theirs, UMF_MEMORY_TYPE_DEVICE);
    cu_context_t cur = NULL;
    ck_assert_int_eq(FK(cuCtxGetCurrent)(&cur), CUDA_SUCCESS);
    ck_assert_ptr_eq(cur, mine);

    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(FK(fake_cu_last_ctx)(), theirs);
    ck_assert_int_eq(FK(cuCtxGetCurrent)(&cur), CUDA_SUCCESS);
    ck_assert_ptr_eq(cur, mine);

    // No current context at all: the provider's for the call, none after.
    ck_assert_int_eq(FK(cuCtxSetCurrent)(NULL), CUDA_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 4096), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(FK(fake_cu_last_ctx)(), theirs);
    ck_assert_int_eq(FK(cuCtxGetCurrent)(&cur), CUDA_SUCCESS);
    ck_assert_ptr_null(cur);

    // Restored after a failure too.
    ck_assert_int_eq(FK(cuCtxSetCurrent)(mine), CUDA_SUCCESS);
    FK(fake_cu_inject)("cuMemAlloc_v2", CUDA_ERROR_OUT_OF_MEMORY, 1);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_int_eq(FK(cuCtxGetCurrent)(&cur), CUDA_SUCCESS);
    ck_assert_ptr_eq(cur, mine);

    // Already current: no switch at all.
    long sets = FK(fake_cu_calls)("cuCtxSetCurrent");
    ck_assert_int_eq(FK(cuCtxSetCurrent)(theirs), CUDA_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 4096), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_cu_calls)("cuCtxSetCurrent"), sets + 1);
    umfMemoryProviderDestroy(prov);
    ck_assert_int_eq(FK(cuCtxDestroy_v2)(mine), CUDA_SUCCESS);
    ck_assert_int_eq(FK(cuCtxDestroy_v2)(theirs), CUDA_SUCCESS);
}
END_TEST

// --- Errors ---

START_TEST(test_cuda_error_mapping) {
    cu_context_t ctx = make_ctx();
    umf_memory_provider_handle_t prov = create(ctx, UMF_MEMORY_TYPE_DEVICE);
    static const struct {
        int cu;
        umf_result_t umf;
    } map[] = {
        {CUDA_ERROR_OUT_OF_MEMORY, UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY},
        {CUDA_ERROR_INVALID_VALUE, UMF_RESULT_ERROR_INVALID_ARGUMENT},
        {CUDA_ERROR_INVALID_HANDLE, UMF_RESULT_ERROR_INVALID_ARGUMENT},
        {CUDA_ERROR_INVALID_RESOURCE_TYPE, UMF_RESULT_ERROR_INVALID_ARGUMENT},
        {CUDA_ERROR_LAUNCH_FAILED, UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        void *p = (void *)0x1;
        FK(fake_cu_inject)("cuMemAlloc_v2", map[i].cu, 1);
        ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 0, &p), map[i].umf);
        ck_assert_ptr_eq(p, (void *)0x1); // untouched on failure
    }
    // The "device lost" kind of failure: the driver's name and string.
    const char *msg = NULL;
    int32_t code = 0;
    umfMemoryProviderGetLastNativeError(prov, &msg, &code);
    ck_assert_int_eq(code, CUDA_ERROR_LAUNCH_FAILED);
    ck_assert_str_eq(msg,
                     "CUDA_ERROR_LAUNCH_FAILED - unspecified launch failure");
    // A free of something that is not an allocation.
    int x;
    ck_assert_int_eq(umfMemoryProviderFree(prov, &x, sizeof(x)),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_cuda_alignment) {
    cu_context_t ctx = make_ctx();
    umf_memory_provider_handle_t prov = create(ctx, UMF_MEMORY_TYPE_DEVICE);
    FK(fake_cu_reset)();
    void *p = NULL;
    // Above the granularity: refused before the driver is asked.
    ck_assert_int_eq(
        umfMemoryProviderAlloc(prov, 4096, 2 * FAKE_CU_MIN_GRANULARITY, &p),
        UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 3, &p),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(FK(fake_cu_calls)("cuMemAlloc_v2"), 0);
    // Up to the granularity: met by the driver's placement.
    ck_assert_int_eq(
        umfMemoryProviderAlloc(prov, 4096, FAKE_CU_MIN_GRANULARITY, &p),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq((uintptr_t)p % FAKE_CU_MIN_GRANULARITY, 0);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 4096), UMF_RESULT_SUCCESS);
    // A result that misses the alignment is freed again.
    FK(fake_cu_set_misalign)(1);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 8192, &p),
                     UMF_RESULT_ERROR_INVALID_ALIGNMENT);
    ck_assert_int_eq(FK(fake_cu_calls)("cuMemFree_v2"), 2);
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, 4096, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 4096), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- Pools on device memory ---

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

// The CPU cannot touch device memory here (PROT_NONE): the disjoint pool
// keeps everything it knows in host memory, so this does not crash.
START_TEST(test_cuda_disjoint_pool_device) {
    cu_context_t ctx = make_ctx();
    umf_memory_pool_handle_t pool =
        disjoint_on(create(ctx, UMF_MEMORY_TYPE_DEVICE));
    enum { N = 200 };
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)64 << (i % 15); // 64 B .. 1 MiB
        ptrs[i] = umfPoolMalloc(pool, size);
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert_ptr_eq(umfPoolByPtr(ptrs[i]), pool);
    }
    void *a = umfPoolAlignedMalloc(pool, 100, 4096);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 4096, 0);
    // The driver reads and writes it.
    char in[64], out[64];
    memset(in, 0x33, sizeof(in));
    ck_assert_int_eq(FK(cuMemcpy)((cu_deviceptr_t)(uintptr_t)ptrs[0],
                                  (cu_deviceptr_t)(uintptr_t)in, sizeof(in)),
                     CUDA_SUCCESS);
    ck_assert_int_eq(FK(cuMemcpy)((cu_deviceptr_t)(uintptr_t)out,
                                  (cu_deviceptr_t)(uintptr_t)ptrs[0],
                                  sizeof(out)),
                     CUDA_SUCCESS);
    ck_assert_mem_eq(in, out, sizeof(in));
    ck_assert_int_eq(gpu_touch_signal(ptrs[0]), SIGSEGV);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(umfPoolFree(pool, ptrs[i]), UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
}
END_TEST

// --- Threads ---
//
// Eight threads create their providers at once (whichever comes first
// loads the driver, once) and each runs a pool on device memory; a thread
// finds its own current context (none, later its own) after every call.
// No ck_assert off the main thread: each thread reports a step number.

typedef struct thread_arg_t {
    cu_context_t ctx;
    int failed_at; // 0: all went well
} thread_arg_t;

static void *cuda_thread(void *p) {
    thread_arg_t *a = p;
    umf_cuda_memory_provider_params_handle_t params = NULL;
    umf_memory_provider_handle_t prov = NULL;
    umf_memory_pool_handle_t pool = NULL;
    umf_disjoint_pool_params_handle_t dp = NULL;
    cu_context_t mine = NULL;
    a->failed_at = 1;
    if (umfCUDAMemoryProviderParamsCreate(&params) ||
        umfCUDAMemoryProviderParamsSetContext(params, a->ctx) ||
        umfCUDAMemoryProviderParamsSetDevice(params, 0) ||
        umfCUDAMemoryProviderParamsSetMemoryType(params,
                                                 UMF_MEMORY_TYPE_DEVICE) ||
        umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), params, &prov)) {
        return NULL;
    }
    umfCUDAMemoryProviderParamsDestroy(params);
    a->failed_at = 2;
    if (umfDisjointPoolParamsCreate(&dp) ||
        umfPoolCreate(umfDisjointPoolOps(), prov, dp,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool)) {
        return NULL;
    }
    umfDisjointPoolParamsDestroy(dp);
    for (int i = 0; i < 500; i++) {
        a->failed_at = 3;
        if (i == 250 && FK(cuCtxCreate_v2)(&mine, 0, 1) != CUDA_SUCCESS) {
            return NULL;
        }
        a->failed_at = 4;
        void *m = umfPoolMalloc(pool, (size_t)32 << (i % 12));
        cu_context_t cur = (cu_context_t)0x1;
        if (!m || FK(cuCtxGetCurrent)(&cur) != CUDA_SUCCESS || cur != mine ||
            umfPoolFree(pool, m) != UMF_RESULT_SUCCESS) {
            return NULL;
        }
    }
    umfPoolDestroy(pool);
    a->failed_at = 5;
    if (FK(cuCtxDestroy_v2)(mine) != CUDA_SUCCESS) {
        return NULL;
    }
    a->failed_at = 0;
    return NULL;
}

START_TEST(test_cuda_threads) {
    cu_context_t ctx = make_ctx();
    ck_assert_int_eq(FK(cuCtxSetCurrent)(NULL), CUDA_SUCCESS);
    enum { T = 8 };
    pthread_t th[T];
    thread_arg_t args[T];
    for (int i = 0; i < T; i++) {
        args[i].ctx = ctx;
        ck_assert_int_eq(pthread_create(&th[i], NULL, cuda_thread, &args[i]),
                         0);
    }
    for (int i = 0; i < T; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_msg(args[i].failed_at == 0, "thread %d failed at step %d", i,
                      args[i].failed_at);
    }
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
}
END_TEST

// --- IPC between two processes ---
//
// The child produces: its own context, provider and pool, an allocation
// filled by the driver, and the handle's bytes sent over a pipe. The
// parent consumes through its own pool's IPC handler (a consumer may copy
// a descendant's descriptors under any Yama setting but 3).

enum { IPC_SIZE = 10000, IPC_FILL = 0x6b };

static void cuda_ipc_child(int to_parent, int from_parent) {
    cu_context_t ctx = make_ctx();
    umf_memory_pool_handle_t pool =
        disjoint_on(create(ctx, UMF_MEMORY_TYPE_DEVICE));
    void *p = umfPoolMalloc(pool, IPC_SIZE);
    if (!p || FK(cuMemsetD8_v2)((cu_deviceptr_t)(uintptr_t)p, IPC_FILL,
                                IPC_SIZE) != CUDA_SUCCESS) {
        _exit(10);
    }
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
    _exit(FK(fake_cu_live)() == 0 ? 0 : 14);
}

START_TEST(test_cuda_ipc_two_processes) {
    if (!gpu_pidfd_works("test_cuda_ipc_two_processes")) {
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
        cuda_ipc_child(up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    size_t hsize = 0;
    ck_assert_int_eq(gpu_read_all(up[0], &hsize, sizeof(hsize)), 0);
    ck_assert_uint_gt(hsize, sizeof(cu_ipc_mem_handle_t));
    ck_assert_uint_lt(hsize, 4096);
    char hbuf[4096];
    ck_assert_int_eq(gpu_read_all(up[0], hbuf, hsize), 0);

    cu_context_t ctx = make_ctx();
    umf_memory_pool_handle_t pool =
        disjoint_on(create(ctx, UMF_MEMORY_TYPE_DEVICE));
    umf_ipc_handler_handle_t handler = NULL;
    ck_assert_int_eq(umfPoolGetIPCHandler(pool, &handler), UMF_RESULT_SUCCESS);
    void *mapped = NULL;
    ck_assert_int_eq(umfOpenIPCHandle(handler, (umf_ipc_handle_t)hbuf, &mapped),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(FK(fake_cu_calls)("cuIpcOpenMemHandle_v2"), 1);
    char out[IPC_SIZE];
    ck_assert_int_eq(FK(cuMemcpy)((cu_deviceptr_t)(uintptr_t)out,
                                  (cu_deviceptr_t)(uintptr_t)mapped,
                                  sizeof(out)),
                     CUDA_SUCCESS);
    for (size_t i = 0; i < sizeof(out); i++) {
        ck_assert_int_eq((unsigned char)out[i], IPC_FILL);
    }
    ck_assert_int_eq(umfCloseIPCHandle(mapped), UMF_RESULT_SUCCESS);
    gpu_write_all(down[1], "x", 1);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "producer failed (status 0x%x)", st);
    umfPoolDestroy(pool);
    ck_assert_int_eq(FK(fake_cu_live)(), 0);
}
END_TEST

static Suite *cuda_suite(void) {
    Suite *s = suite_create("provider_cuda");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_cuda_params_null);
    tcase_add_test(tc, test_cuda_create_rejects);
    suite_add_tcase(s, tc);
    tc = tcase_create("loading");
    tcase_add_test(tc, test_cuda_no_driver);
    tcase_add_test(tc, test_cuda_driver_lacks_symbol);
    tcase_add_test(tc, test_cuda_global_namespace);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_add_loop_test(tc, test_cuda_memory_types, 0, (int)ARRAY_SIZE(types));
    tcase_add_test(tc, test_cuda_not_supported_ops);
    tcase_add_test(tc, test_cuda_context_switch_restore);
    tcase_add_test(tc, test_cuda_error_mapping);
    tcase_add_test(tc, test_cuda_alignment);
    suite_add_tcase(s, tc);
    tc = tcase_create("pools_ipc");
    tcase_add_test(tc, test_cuda_disjoint_pool_device);
    tcase_add_test(tc, test_cuda_threads);
    tcase_add_test(tc, test_cuda_ipc_two_processes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    // Every test runs in a child of this process: nothing here may load
    // the driver through libumf. The test double is loaded for its control
    // functions; libumf gets the same library through UMF_CUDA_LIB.
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0) {
        skip_binary("needs Check's fork mode (CK_FORK=no is set): each test "
                    "loads the driver afresh in its own process");
    }
    setenv("UMF_CUDA_LIB", FAKE_CUDA_LIB, 1);
    fake = gpu_fake_open(FAKE_CUDA_LIB);
    return run_suite(cuda_suite());
}
