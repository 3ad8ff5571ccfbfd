/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * basic.c - the smallest useful UMF program: an OS memory provider (where
 * memory comes from) under a proxy pool (how it is handed out), then
 * allocation, ownership lookup and freeing. Built and run by `make check`;
 * it exits non-zero if anything does not behave as described.
 *
 * Build it against an installed umf with:
 *     cc basic.c $(pkg-config --cflags --libs umf) -o basic
 */

#include <stdio.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "basic: %s failed\n", what);                       \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(void) {
    // 1. Describe the memory: private, readable and writable pages (the
    //    defaults), with no NUMA binding. Params may be destroyed as soon as
    //    the provider exists.
    umf_os_memory_provider_params_handle_t params = NULL;
    umf_result_t res = umfOsMemoryProviderParamsCreate(&params);
    CHECK(res == UMF_RESULT_SUCCESS, "umfOsMemoryProviderParamsCreate");

    umf_memory_provider_handle_t provider = NULL;
    res = umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &provider);
    umfOsMemoryProviderParamsDestroy(params);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemoryProviderCreate");
    printf("provider: %s\n", umfMemoryProviderGetName(provider));

    // 2. A pool on top. The proxy pool passes each request to the provider;
    //    OWN_PROVIDER makes umfPoolDestroy destroy the provider too.
    umf_memory_pool_handle_t pool = NULL;
    res = umfPoolCreate(umfProxyPoolOps(), provider, NULL,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
    CHECK(res == UMF_RESULT_SUCCESS, "umfPoolCreate");

    // 3. Allocate and use memory like malloc'ed memory.
    char *text = umfPoolMalloc(pool, 64);
    CHECK(text != NULL, "umfPoolMalloc");
    strcpy(text, "hello from a UMF pool");
    printf("allocated %p: \"%s\"\n", (void *)text, text);

    // 4. Any address inside an allocation leads back to its pool, so code
    //    that only has the pointer can free it with umfFree.
    CHECK(umfPoolByPtr(text + 10) == pool, "umfPoolByPtr");
    int on_stack = 0;
    CHECK(umfPoolByPtr(&on_stack) == NULL, "umfPoolByPtr of a stack address");
    printf("umfPoolByPtr(text + 10) is our pool\n");

    // 5. Aligned allocation; unsupported calls say why through the pool's
    //    last allocation error.
    void *aligned = umfPoolAlignedMalloc(pool, 1000, 1 << 16);
    CHECK(aligned && ((uintptr_t)aligned & 0xffff) == 0, "aligned malloc");
    CHECK(umfPoolCalloc(pool, 4, 16) == NULL &&
              umfPoolGetLastAllocationError(pool) ==
                  UMF_RESULT_ERROR_NOT_SUPPORTED,
          "calloc reports NOT_SUPPORTED on the proxy pool");

    CHECK(umfFree(text) == UMF_RESULT_SUCCESS, "umfFree");
    CHECK(umfPoolFree(pool, aligned) == UMF_RESULT_SUCCESS, "umfPoolFree");

    umfPoolDestroy(pool); // also destroys the provider (OWN_PROVIDER)
    printf("done\n");
    return 0;
}
