/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_gpu_jemalloc.c - the jemalloc pool on device memory of the Level
 * Zero test double (PROT_NONE to the CPU). It works only once the pool
 * keeps all of its metadata in host memory (issue 14); until then the
 * pool crashes or fails on such memory, and this program says so and
 * exits 77 (SKIP). The work runs in a child process so that a crash is
 * seen, not suffered. Not a Check suite: one scenario, one verdict.
 */

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/providers/provider_level_zero.h>

#include "fake_ze.h"

static void *fake;
#define FK(name) ((__typeof__(&name))dlsym(fake, #name))

#define FAIL(code, what)                                                       \
    do {                                                                       \
        fprintf(stderr, "test_gpu_jemalloc: %s\n", what);                      \
        _exit(code);                                                           \
    } while (0)

static void run(void) {
    ze_driver_handle_t drv = NULL;
    ze_device_handle_t dev = NULL;
    ze_context_handle_t ctx = NULL;
    uint32_t n = 1;
    int desc[4] = {0};
    if (FK(zeInit)(0) || FK(zeDriverGet)(&n, &drv) ||
        FK(zeDeviceGet)(drv, &n, &dev) ||
        FK(zeContextCreate)(drv, desc, &ctx)) {
        FAIL(2, "the Level Zero double did not set up");
    }
    umf_level_zero_memory_provider_params_handle_t p = NULL;
    umf_memory_provider_handle_t prov = NULL;
    if (umfLevelZeroMemoryProviderParamsCreate(&p) ||
        umfLevelZeroMemoryProviderParamsSetContext(p, ctx) ||
        umfLevelZeroMemoryProviderParamsSetDevice(p, dev) ||
        umfLevelZeroMemoryProviderParamsSetMemoryType(p,
                                                      UMF_MEMORY_TYPE_DEVICE) ||
        umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(), p, &prov)) {
        FAIL(2, "no Level Zero provider on the double");
    }
    umfLevelZeroMemoryProviderParamsDestroy(p);
    umf_memory_pool_handle_t pool = NULL;
    if (umfPoolCreate(umfJemallocPoolOps(), prov, NULL,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool)) {
        FAIL(3, "umfPoolCreate(jemalloc) on device memory failed");
    }
    enum { N = 300 };
    void *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = umfPoolMalloc(pool, (size_t)16 << (i % 17)); // 16 B - 1 MiB
        if (!ptrs[i] || umfPoolByPtr(ptrs[i]) != pool) {
            FAIL(4, "umfPoolMalloc on device memory failed");
        }
    }
    char in[256], out[256];
    memset(in, 0x7e, sizeof(in));
    FK(fake_ze_memcpy)(ptrs[7], in, sizeof(in));
    FK(fake_ze_memcpy)(out, ptrs[7], sizeof(out));
    if (memcmp(in, out, sizeof(in)) != 0) {
        FAIL(5, "device memory lost its contents");
    }
    for (int i = 0; i < N; i++) {
        if (umfPoolFree(pool, ptrs[i])) {
            FAIL(6, "umfPoolFree on device memory failed");
        }
    }
    umfPoolDestroy(pool);
    _exit(0);
}

int main(void) {
    setenv("UMF_ZE_LOADER_LIB", FAKE_ZE_LIB, 1);
    fake = dlopen(FAKE_ZE_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!fake) {
        printf("SKIP: cannot load the Level Zero double %s\n", FAKE_ZE_LIB);
        return 77;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        run();
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("PASS: jemalloc pool on PROT_NONE device memory: 300 "
               "allocations of 16 B - 1 MiB, contents kept, all freed\n");
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
        return 1; // the double or the provider broke: a real failure
    }
    printf("SKIP: the jemalloc pool cannot use memory the CPU may not touch "
           "yet (%s %d); it needs its metadata in host memory (issue 14)\n",
           WIFSIGNALED(st) ? "killed by signal" : "exit status",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    return 77;
}
