/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * level_zero_shared_memory.c - GPU shared memory: a Level Zero provider of
 * SHARED memory (migratable between host and device) under a disjoint
 * pool, which keeps its bookkeeping in host memory and never touches the
 * memory it hands out. The program allocates from the pool, writes and
 * reads the memory from the CPU (shared memory allows that), and frees.
 *
 * The program needs a Level Zero context and device, so it talks to the
 * loader itself. It does not link it: it dlopen's the library named by
 * UMF_ZE_LOADER_LIB, or libze_loader.so.1, with RTLD_GLOBAL, and libumf
 * then finds the same library (see umfLevelZeroMemoryProviderOps(3) for
 * how libumf looks for it). Without a loader it says so and exits 77.
 * `make check` runs it against the test double of the loader
 * (tests/.libs/libfake_ze_loader.so); on a machine with an Intel GPU it
 * runs unchanged on the real driver.
 *
 * Build it against an installed umf with:
 *     cc level_zero_shared_memory.c $(pkg-config --cflags --libs umf) -ldl
 */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_level_zero.h>

// The few Level Zero calls needed to get a context (ze_api.h declares
// them; this example does without the SDK).
typedef struct _ze_driver_handle_t *ze_driver_handle_t;
typedef uint32_t (*ze_init_fn)(uint32_t flags);
typedef uint32_t (*ze_driver_get_fn)(uint32_t *count, ze_driver_handle_t *d);
typedef uint32_t (*ze_device_get_fn)(ze_driver_handle_t d, uint32_t *count,
                                     ze_device_handle_t *devices);
typedef uint32_t (*ze_context_create_fn)(ze_driver_handle_t d, const void *desc,
                                         ze_context_handle_t *ctx);
typedef uint32_t (*ze_context_destroy_fn)(ze_context_handle_t ctx);

// ze_context_desc_t: {ZE_STRUCTURE_TYPE_CONTEXT_DESC (0xd), pNext, flags}.
struct context_desc {
    uint32_t stype;
    const void *next;
    uint32_t flags;
};

int main(void) {
    // 1. Find the loader and get a context of the first device.
    const char *lib = getenv("UMF_ZE_LOADER_LIB");
    if (!lib || !*lib) {
        lib = "libze_loader.so.1";
    }
    void *ze = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!ze) {
        printf("SKIP: no Level Zero loader (%s)\n", dlerror());
        return 77;
    }
    ze_init_fn ze_init = (ze_init_fn)dlsym(ze, "zeInit");
    ze_driver_get_fn driver_get = (ze_driver_get_fn)dlsym(ze, "zeDriverGet");
    ze_device_get_fn device_get = (ze_device_get_fn)dlsym(ze, "zeDeviceGet");
    ze_context_create_fn context_create =
        (ze_context_create_fn)dlsym(ze, "zeContextCreate");
    ze_context_destroy_fn context_destroy =
        (ze_context_destroy_fn)dlsym(ze, "zeContextDestroy");
    if (!ze_init || !driver_get || !device_get || !context_create ||
        !context_destroy) {
        fprintf(stderr, "level_zero_shared_memory: %s lacks a zeX call\n", lib);
        return 1;
    }
    ze_driver_handle_t driver = NULL;
    ze_device_handle_t device = NULL;
    ze_context_handle_t context = NULL;
    uint32_t n = 1;
    struct context_desc desc = {0xd, NULL, 0};
    if (ze_init(0) != 0 || driver_get(&n, &driver) != 0 || n == 0 ||
        device_get(driver, &n, &device) != 0 || n == 0 ||
        context_create(driver, &desc, &context) != 0) {
        printf("SKIP: Level Zero found no GPU\n");
        return 77;
    }

    // 2. The provider: shared memory of that device in that context.
    //    Params are copied at creation and may be destroyed right after.
    umf_level_zero_memory_provider_params_handle_t params = NULL;
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t res = umfLevelZeroMemoryProviderParamsCreate(&params);
    if (res == UMF_RESULT_SUCCESS) {
        umfLevelZeroMemoryProviderParamsSetContext(params, context);
        umfLevelZeroMemoryProviderParamsSetDevice(params, device);
        umfLevelZeroMemoryProviderParamsSetMemoryType(params,
                                                      UMF_MEMORY_TYPE_SHARED);
        res = umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(), params,
                                      &provider);
        umfLevelZeroMemoryProviderParamsDestroy(params);
    }
    if (res != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "level_zero_shared_memory: no provider (%d)\n",
                (int)res);
        return 1;
    }

    // 3. The pool: disjoint, the pool for memory UMF must not touch. It
    //    owns the provider and destroys it with itself.
    umf_disjoint_pool_params_handle_t pool_params = NULL;
    umf_memory_pool_handle_t pool = NULL;
    res = umfDisjointPoolParamsCreate(&pool_params);
    if (res == UMF_RESULT_SUCCESS) {
        res = umfPoolCreate(umfDisjointPoolOps(), provider, pool_params,
                            UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
        umfDisjointPoolParamsDestroy(pool_params);
    }
    if (res != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "level_zero_shared_memory: no pool (%d)\n", (int)res);
        umfMemoryProviderDestroy(provider);
        return 1;
    }

    // 4. Use it: shared memory is visible to the CPU and to the GPU.
    const char msg[] = "shared between host and device";
    char *buf = umfPoolMalloc(pool, 1024);
    int ok = buf != NULL;
    if (ok) {
        strcpy(buf, msg);
        ok = strcmp(buf, msg) == 0 && umfPoolByPtr(buf) == pool;
        printf("level_zero_shared_memory: %p holds \"%s\"\n", (void *)buf, buf);
        ok = umfPoolFree(pool, buf) == UMF_RESULT_SUCCESS && ok;
    }

    umfPoolDestroy(pool); // and the provider
    context_destroy(context);
    if (!ok) {
        fprintf(stderr, "level_zero_shared_memory: allocation failed\n");
        return 1;
    }
    return 0;
}
