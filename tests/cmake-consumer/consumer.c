/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * consumer.c - built by tests/cmake-consumer/CMakeLists.txt against the
 * installed umf: a disjoint pool (in libumf) and, when the package has it,
 * a jemalloc pool (libjemalloc_pool), each over the OS provider. Exits
 * non-zero, saying what failed, if an allocation is not served and owned
 * by its pool.
 */

#include <stdio.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_os_memory.h>
#ifdef CONSUMER_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#endif

static int use_pool(const char *name, const umf_memory_pool_ops_t *ops,
                    void *pool_params) {
    umf_os_memory_provider_params_handle_t params = NULL;
    umf_memory_provider_handle_t provider = NULL;
    umf_memory_pool_handle_t pool = NULL;
    int ret = 1;

    if (umfOsMemoryProviderParamsCreate(&params) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfOsMemoryProviderParamsCreate failed\n");
        return 1;
    }
    if (umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &provider) !=
        UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfMemoryProviderCreate failed\n");
        goto err_params;
    }
    if (umfPoolCreate(ops, provider, pool_params,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                      &pool) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfPoolCreate(%s) failed\n", name);
        umfMemoryProviderDestroy(provider);
        goto err_params;
    }
    char *p = umfPoolMalloc(pool, 4096);
    if (p == NULL || umfPoolByPtr(p + 100) != pool) {
        fprintf(stderr, "consumer: %s: allocation not served or not owned\n",
                name);
        goto err_pool;
    }
    memset(p, 0x5a, 4096);
    if (p[4095] != 0x5a || umfFree(p) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: %s: write or umfFree failed\n", name);
        goto err_pool;
    }
    printf("consumer: %s pool: ok\n", name);
    ret = 0;
err_pool:
    umfPoolDestroy(pool);
err_params:
    umfOsMemoryProviderParamsDestroy(params);
    return ret;
}

int main(void) {
    umf_disjoint_pool_params_handle_t dp = NULL;
    if (umfDisjointPoolParamsCreate(&dp) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfDisjointPoolParamsCreate failed\n");
        return 1;
    }
    int ret = use_pool("disjoint", umfDisjointPoolOps(), dp);
    umfDisjointPoolParamsDestroy(dp);
#ifdef CONSUMER_JEMALLOC_POOL
    ret |= use_pool("jemalloc", umfJemallocPoolOps(), NULL);
#endif
    return ret;
}
