/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * cuda_bench.c - cost of umfPoolMalloc + umfPoolFree on a disjoint pool
 * over CUDA device memory, next to raw cuMemAlloc + cuMemFree, for sizes
 * of 64 B to 1 MiB (nanoseconds per pair, median of 5 rounds). The target
 * (issue 16) is a pool at least 50x faster than the driver for sizes up to
 * 64 KiB.
 *
 *   cuda_bench [ITERATIONS]     (default 20000 pairs per size and round)
 *
 * It loads the driver itself (UMF_CUDA_LIB, else libcuda.so.1, with
 * RTLD_GLOBAL: libumf then uses the same library) and exits 77 without
 * one. Against the test double (UMF_CUDA_LIB=tests/.libs/libfake_cuda.so)
 * it runs too, but its "driver" is mmap and its numbers mean nothing.
 * Not run by make check: speed is measured here, never asserted in tests.
 */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_cuda.h>

typedef int (*cu_init_fn)(unsigned flags);
typedef int (*cu_device_get_fn)(int *device, int ordinal);
typedef int (*cu_ctx_create_fn)(void **ctx, unsigned flags, int device);
typedef int (*cu_mem_alloc_fn)(unsigned long long *dptr, size_t size);
typedef int (*cu_mem_free_fn)(unsigned long long dptr);

enum { ROUNDS = 5, KEEP = 16 };

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    if (iters < KEEP) {
        iters = KEEP;
    }
    const char *lib = getenv("UMF_CUDA_LIB");
    void *cuda =
        dlopen(lib && *lib ? lib : "libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!cuda) {
        printf("SKIP: no CUDA driver (%s)\n", dlerror());
        return 77;
    }
    cu_init_fn cu_init = (cu_init_fn)dlsym(cuda, "cuInit");
    cu_device_get_fn device_get = (cu_device_get_fn)dlsym(cuda, "cuDeviceGet");
    cu_ctx_create_fn ctx_create =
        (cu_ctx_create_fn)dlsym(cuda, "cuCtxCreate_v2");
    cu_mem_alloc_fn mem_alloc = (cu_mem_alloc_fn)dlsym(cuda, "cuMemAlloc_v2");
    cu_mem_free_fn mem_free = (cu_mem_free_fn)dlsym(cuda, "cuMemFree_v2");
    int device = -1;
    void *ctx = NULL;
    if (!cu_init || !device_get || !ctx_create || !mem_alloc || !mem_free ||
        cu_init(0) || device_get(&device, 0) || ctx_create(&ctx, 0, device)) {
        printf("SKIP: CUDA found no GPU\n");
        return 77;
    }

    umf_cuda_memory_provider_params_handle_t cp = NULL;
    umf_memory_provider_handle_t prov = NULL;
    umf_disjoint_pool_params_handle_t dp = NULL;
    umf_memory_pool_handle_t pool = NULL;
    if (umfCUDAMemoryProviderParamsCreate(&cp) ||
        umfCUDAMemoryProviderParamsSetContext(cp, ctx) ||
        umfCUDAMemoryProviderParamsSetDevice(cp, device) ||
        umfCUDAMemoryProviderParamsSetMemoryType(cp, UMF_MEMORY_TYPE_DEVICE) ||
        umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), cp, &prov) ||
        umfDisjointPoolParamsCreate(&dp) ||
        umfDisjointPoolParamsSetMaxPoolableSize(dp, (size_t)1 << 20) ||
        umfPoolCreate(umfDisjointPoolOps(), prov, dp,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool)) {
        fprintf(stderr, "cuda_bench: no CUDA provider or pool\n");
        return 1;
    }
    umfCUDAMemoryProviderParamsDestroy(cp);
    umfDisjointPoolParamsDestroy(dp);

    printf("%-8s %12s %12s %8s\n", "size", "pool ns", "cuMem ns", "ratio");
    for (size_t size = 64; size <= ((size_t)1 << 20); size *= 4) {
        double pool_ns[ROUNDS], raw_ns[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            // A few blocks stay live so the pool is not always empty.
            void *keep[KEEP];
            unsigned long long rkeep[KEEP];
            double t0 = now_ns();
            for (long i = 0; i < iters; i++) {
                void *p = umfPoolMalloc(pool, size);
                if (!p) {
                    fprintf(stderr, "cuda_bench: pool malloc failed\n");
                    return 1;
                }
                if (i < KEEP) {
                    keep[i] = p;
                } else {
                    umfPoolFree(pool, p);
                }
            }
            pool_ns[r] = (now_ns() - t0) / (double)iters;
            for (int k = 0; k < KEEP; k++) {
                umfPoolFree(pool, keep[k]);
            }
            // The driver is slow: a tenth of the pairs.
            long raw_iters = iters / 10 > KEEP ? iters / 10 : KEEP;
            t0 = now_ns();
            for (long i = 0; i < raw_iters; i++) {
                unsigned long long d = 0;
                if (mem_alloc(&d, size)) {
                    fprintf(stderr, "cuda_bench: cuMemAlloc failed\n");
                    return 1;
                }
                if (i < KEEP) {
                    rkeep[i] = d;
                } else {
                    mem_free(d);
                }
            }
            raw_ns[r] = (now_ns() - t0) / (double)raw_iters;
            for (int k = 0; k < KEEP; k++) {
                mem_free(rkeep[k]);
            }
        }
        qsort(pool_ns, ROUNDS, sizeof(double), cmp_double);
        qsort(raw_ns, ROUNDS, sizeof(double), cmp_double);
        double p = pool_ns[ROUNDS / 2], q = raw_ns[ROUNDS / 2];
        printf("%-8zu %12.1f %12.1f %7.1fx\n", size, p, q, q / p);
    }
    umfPoolDestroy(pool);
    return 0;
}
