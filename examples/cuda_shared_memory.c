/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * cuda_shared_memory.c - CUDA managed ("shared") memory through UMF: a CUDA
 * provider of SHARED memory (cuMemAllocManaged) under a disjoint pool. The
 * program allocates from the pool, writes and reads the memory from the
 * CPU (managed memory migrates on demand), and frees.
 *
 * It needs a CUDA context, so it talks to the driver itself. It does not
 * link it: it dlopen's the library named by UMF_CUDA_LIB, or libcuda.so.1,
 * with RTLD_GLOBAL, and libumf then finds the same library (see
 * umfCUDAMemoryProviderOps(3)). The provider makes its context current
 * around every driver call and restores the caller's, so the program's
 * own CUDA state is never disturbed. Without a driver it says so and
 * exits 77. `make check` runs it against the test double of the driver
 * (tests/.libs/libfake_cuda.so).
 *
 * Build it against an installed umf with:
 *     cc cuda_shared_memory.c $(pkg-config --cflags --libs umf) -ldl
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_cuda.h>

// The CUDA driver calls needed for a context (cuda.h declares them).
typedef int (*cu_init_fn)(unsigned flags);
typedef int (*cu_device_get_fn)(int *device, int ordinal);
typedef int (*cu_ctx_create_fn)(void **ctx, unsigned flags, int device);
typedef int (*cu_ctx_destroy_fn)(void *ctx);

int main(void) {
    // 1. Find the driver and create a context on device 0.
    const char *lib = getenv("UMF_CUDA_LIB");
    if (!lib || !*lib) {
        lib = "libcuda.so.1";
    }
    void *cuda = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!cuda) {
        printf("SKIP: no CUDA driver (%s)\n", dlerror());
        return 77;
    }
    cu_init_fn cu_init = (cu_init_fn)dlsym(cuda, "cuInit");
    cu_device_get_fn device_get = (cu_device_get_fn)dlsym(cuda, "cuDeviceGet");
    cu_ctx_create_fn ctx_create =
        (cu_ctx_create_fn)dlsym(cuda, "cuCtxCreate_v2");
    cu_ctx_destroy_fn ctx_destroy =
        (cu_ctx_destroy_fn)dlsym(cuda, "cuCtxDestroy_v2");
    if (!cu_init || !device_get || !ctx_create || !ctx_destroy) {
        fprintf(stderr, "cuda_shared_memory: %s lacks a cuX call\n", lib);
        return 1;
    }
    int device = -1;
    void *context = NULL;
    if (cu_init(0) != 0 || device_get(&device, 0) != 0 ||
        ctx_create(&context, 0, device) != 0) {
        printf("SKIP: CUDA found no GPU\n");
        return 77;
    }

    // 2. The provider: managed memory of that context and device.
    umf_cuda_memory_provider_params_handle_t params = NULL;
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t res = umfCUDAMemoryProviderParamsCreate(&params);
    if (res == UMF_RESULT_SUCCESS) {
        umfCUDAMemoryProviderParamsSetContext(params, context);
        umfCUDAMemoryProviderParamsSetDevice(params, device);
        umfCUDAMemoryProviderParamsSetMemoryType(params,
                                                 UMF_MEMORY_TYPE_SHARED);
        res = umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), params,
                                      &provider);
        umfCUDAMemoryProviderParamsDestroy(params);
    }
    if (res != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "cuda_shared_memory: no provider (%d)\n", (int)res);
        return 1;
    }

    // 3. A disjoint pool over it, owning the provider.
    umf_disjoint_pool_params_handle_t pool_params = NULL;
    umf_memory_pool_handle_t pool = NULL;
    res = umfDisjointPoolParamsCreate(&pool_params);
    if (res == UMF_RESULT_SUCCESS) {
        res = umfPoolCreate(umfDisjointPoolOps(), provider, pool_params,
                            UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
        umfDisjointPoolParamsDestroy(pool_params);
    }
    if (res != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "cuda_shared_memory: no pool (%d)\n", (int)res);
        umfMemoryProviderDestroy(provider);
        return 1;
    }

    // 4. Use it from the CPU; a kernel could use the same pointer.
    int *numbers = umfPoolMalloc(pool, 1000 * sizeof(int));
    int ok = numbers != NULL;
    long sum = 0;
    if (ok) {
        for (int i = 0; i < 1000; i++) {
            numbers[i] = i;
        }
        for (int i = 0; i < 1000; i++) {
            sum += numbers[i];
        }
        ok = sum == 499500 && umfPoolByPtr(numbers) == pool;
        printf("cuda_shared_memory: sum of 0..999 in managed memory at %p: "
               "%ld\n",
               (void *)numbers, sum);
        ok = umfPoolFree(pool, numbers) == UMF_RESULT_SUCCESS && ok;
    }

    umfPoolDestroy(pool); // and the provider
    ctx_destroy(context);
    if (!ok) {
        fprintf(stderr, "cuda_shared_memory: allocation failed\n");
        return 1;
    }
    return 0;
}
