/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_headers.c - the public headers at run time: every value the contract
 * pins, the field order of the ops tables, the library's own ops tables,
 * a provider and a pool table written with designated initialisers, and
 * the same from C++ (headers_cxx_check() in test_headers_cxx.cpp).
 * tests/test_headers_compile.sh checks the same headers at compile time under
 * several language standards.
 */

#include <umf.h>
#include <umf/base.h>
#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/memory_pool_ops.h>
#include <umf/memory_provider.h>
#include <umf/memory_provider_ops.h>
#include <umf/mempolicy.h>
#include <umf/memspace.h>
#include <umf/memtarget.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/providers/provider_cuda.h>
#include <umf/providers/provider_level_zero.h>

#include <stddef.h>

#include "helpers.h"

// Defined in test_headers_cxx.cpp; 0 when every C++ check passed, else the
// line of the first failed one.
int headers_cxx_check(void);

#define STR(x)  STR_(x)
#define STR_(x) #x

// --- Values ---

START_TEST(test_headers_version) {
    ck_assert_int_eq(UMF_VERSION_CURRENT, 10);
    ck_assert_int_eq(UMF_MAKE_VERSION(0, 10), 10);
    ck_assert_int_eq(UMF_MAKE_VERSION(1, 2), 0x10002);
    ck_assert_int_eq(UMF_MAKE_VERSION(3, 0x12345), 0x32345);
    ck_assert_int_eq(UMF_MAJOR_VERSION(0x50007), 5);
    ck_assert_int_eq(UMF_MINOR_VERSION(0x50007), 7);
    ck_assert_int_eq(umfGetCurrentVersion(), UMF_VERSION_CURRENT);
    ck_assert_int_eq(UMF_MAJOR_VERSION(umfGetCurrentVersion()), 0);
    ck_assert_int_eq(UMF_MINOR_VERSION(umfGetCurrentVersion()), 10);
    // The contract keeps the macros' arguments unparenthesised.
    ck_assert_str_eq(STR(UMF_MAKE_VERSION(a, b)),
                     "((a << 16) | (b & 0x0000ffff))");
    ck_assert_str_eq(STR(UMF_MAJOR_VERSION(v)), "(v >> 16)");
    ck_assert_str_eq(STR(UMF_MINOR_VERSION(v)), "(v & 0x0000ffff)");
    ck_assert_str_eq(STR(UMF_VERSION_CURRENT),
                     "((0 << 16) | (10 & 0x0000ffff))");
}
END_TEST

START_TEST(test_headers_result_codes) {
    ck_assert_int_eq(UMF_RESULT_SUCCESS, 0);
    ck_assert_int_eq(UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY, 1);
    ck_assert_int_eq(UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC, 2);
    ck_assert_int_eq(UMF_RESULT_ERROR_INVALID_ARGUMENT, 3);
    ck_assert_int_eq(UMF_RESULT_ERROR_INVALID_ALIGNMENT, 4);
    ck_assert_int_eq(UMF_RESULT_ERROR_NOT_SUPPORTED, 5);
    ck_assert_int_eq(UMF_RESULT_ERROR_USER_SPECIFIC, 6);
    ck_assert_int_eq(UMF_RESULT_ERROR_UNKNOWN, 0x7ffffffe);
    ck_assert_uint_eq(sizeof(umf_result_t), sizeof(int));
}
END_TEST

START_TEST(test_headers_enums) {
    ck_assert_int_eq(UMF_MEM_MAP_PRIVATE, 1);
    ck_assert_int_eq(UMF_MEM_MAP_SHARED, 2);

    ck_assert_int_eq(UMF_PROTECTION_NONE, 1);
    ck_assert_int_eq(UMF_PROTECTION_READ, 2);
    ck_assert_int_eq(UMF_PROTECTION_WRITE, 4);
    ck_assert_int_eq(UMF_PROTECTION_EXEC, 8);
    ck_assert_int_eq(UMF_PROTECTION_MAX, 9);

    ck_assert_int_eq(UMF_POOL_CREATE_FLAG_NONE, 0);
    ck_assert_int_eq(UMF_POOL_CREATE_FLAG_OWN_PROVIDER, 1);
    ck_assert_int_eq(UMF_POOL_CREATE_FLAG_DISABLE_TRACKING, 2);
    ck_assert_int_eq(UMF_POOL_CREATE_FLAG_FORCE_UINT32, 0x7fffffff);
    umf_pool_create_flags_t flags = 0;
    flags -= 1;
    ck_assert_uint_eq(flags, UINT32_MAX);

    ck_assert_int_eq(UMF_NUMA_MODE_DEFAULT, 0);
    ck_assert_int_eq(UMF_NUMA_MODE_BIND, 1);
    ck_assert_int_eq(UMF_NUMA_MODE_INTERLEAVE, 2);
    ck_assert_int_eq(UMF_NUMA_MODE_PREFERRED, 3);
    ck_assert_int_eq(UMF_NUMA_MODE_SPLIT, 4);
    ck_assert_int_eq(UMF_NUMA_MODE_LOCAL, 5);

    ck_assert_int_eq(UMF_OS_RESULTS_START_FROM, 1000);
    ck_assert_int_eq(UMF_OS_RESULT_SUCCESS, 1000);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_ALLOC_FAILED, 1001);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_ADDRESS_NOT_ALIGNED, 1002);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_BIND_FAILED, 1003);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_FREE_FAILED, 1004);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED, 1005);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED, 1006);
    ck_assert_int_eq(UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED, 1007);

    ck_assert_int_eq(UMF_MEMPOLICY_INTERLEAVE, 0);
    ck_assert_int_eq(UMF_MEMPOLICY_BIND, 1);
    ck_assert_int_eq(UMF_MEMPOLICY_PREFERRED, 2);
    ck_assert_int_eq(UMF_MEMPOLICY_SPLIT, 3);

    ck_assert_int_eq(UMF_MEMTARGET_TYPE_UNKNOWN, 0);
    ck_assert_int_eq(UMF_MEMTARGET_TYPE_NUMA, 1);
}
END_TEST

START_TEST(test_headers_include_guards) {
    ck_assert_int_eq(UMF_UNIFIED_MEMORY_FRAMEWORK_H, 1);
    ck_assert_int_eq(UMF_BASE_H, 1);
    ck_assert_int_eq(UMF_MEMORY_PROVIDER_OPS_H, 1);
    ck_assert_int_eq(UMF_MEMORY_PROVIDER_H, 1);
    ck_assert_int_eq(UMF_MEMORY_POOL_OPS_H, 1);
    ck_assert_int_eq(UMF_MEMORY_POOL_H, 1);
    ck_assert_int_eq(UMF_MEMPOLICY_H, 1);
    ck_assert_int_eq(UMF_MEMTARGET_H, 1);
    ck_assert_int_eq(UMF_MEMSPACE_H, 1);
    ck_assert_int_eq(UMF_PROXY_MEMORY_POOL_H, 1);
    ck_assert_int_eq(UMF_IPC_H, 1);
#ifndef UMF_OS_MEMORY_PROVIDER_H
    ck_abort_msg("UMF_OS_MEMORY_PROVIDER_H is not defined");
#endif
    ck_assert_str_eq("<" STR(UMF_OS_MEMORY_PROVIDER_H) ">", "<>"); // empty
}
END_TEST

// --- Layout ---

#define OFF(t, m) offsetof(t, m)

START_TEST(test_headers_provider_ops_layout) {
    typedef umf_memory_provider_ops_t P;
    const size_t order[] = {
        OFF(P, version),
        OFF(P, initialize),
        OFF(P, finalize),
        OFF(P, alloc),
        OFF(P, get_last_native_error),
        OFF(P, get_recommended_page_size),
        OFF(P, get_min_page_size),
        OFF(P, get_name),
        OFF(P, ext),
        OFF(P, ipc),
    };
    ck_assert_uint_eq(order[0], 0);
    for (size_t i = 1; i < ARRAY_SIZE(order); i++) {
        ck_assert_msg(order[i - 1] < order[i], "member %zu out of order", i);
    }
    ck_assert_uint_eq(sizeof(((P *)0)->version), sizeof(uint32_t));
    ck_assert_uint_eq(OFF(P, ipc) + sizeof(umf_memory_provider_ipc_ops_t),
                      sizeof(P));

    typedef umf_memory_provider_ext_ops_t E;
    const size_t ext[] = {OFF(E, free), OFF(E, purge_lazy), OFF(E, purge_force),
                          OFF(E, allocation_merge), OFF(E, allocation_split)};
    for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
        ck_assert_uint_eq(ext[i], i * sizeof(void (*)(void)));
    }
    ck_assert_uint_eq(sizeof(E), 5 * sizeof(void (*)(void)));

    typedef umf_memory_provider_ipc_ops_t I;
    const size_t ipc[] = {OFF(I, get_ipc_handle_size), OFF(I, get_ipc_handle),
                          OFF(I, put_ipc_handle), OFF(I, open_ipc_handle),
                          OFF(I, close_ipc_handle)};
    for (size_t i = 0; i < ARRAY_SIZE(ipc); i++) {
        ck_assert_uint_eq(ipc[i], i * sizeof(void (*)(void)));
    }
    ck_assert_uint_eq(sizeof(I), 5 * sizeof(void (*)(void)));
}
END_TEST

START_TEST(test_headers_pool_ops_layout) {
    typedef umf_memory_pool_ops_t O;
    const size_t order[] = {
        OFF(O, version),        OFF(O, initialize),
        OFF(O, finalize),       OFF(O, malloc),
        OFF(O, calloc),         OFF(O, realloc),
        OFF(O, aligned_malloc), OFF(O, malloc_usable_size),
        OFF(O, free),           OFF(O, get_last_allocation_error),
    };
    ck_assert_uint_eq(order[0], 0);
    for (size_t i = 1; i < ARRAY_SIZE(order); i++) {
        ck_assert_msg(order[i - 1] < order[i], "member %zu out of order", i);
    }
    ck_assert_uint_eq(sizeof(((O *)0)->version), sizeof(uint32_t));
    ck_assert_uint_eq(
        OFF(O, get_last_allocation_error) + sizeof(void (*)(void)), sizeof(O));
}
END_TEST

START_TEST(test_headers_split_partitions_interchangeable) {
    ck_assert_uint_eq(sizeof(umf_numa_split_partition_t),
                      sizeof(umf_mempolicy_split_partition_t));
    ck_assert_uint_eq(OFF(umf_numa_split_partition_t, weight), 0);
    ck_assert_uint_eq(OFF(umf_mempolicy_split_partition_t, weight), 0);
    ck_assert_uint_eq(OFF(umf_numa_split_partition_t, target),
                      sizeof(unsigned));
    ck_assert_uint_eq(OFF(umf_mempolicy_split_partition_t, target),
                      sizeof(unsigned));
    umf_mempolicy_split_partition_t mp[2] = {{.weight = 3, .target = 1},
                                             {.weight = 5, .target = 0}};
    const umf_numa_split_partition_t *np = (const void *)mp;
    ck_assert_uint_eq(np[0].weight, 3);
    ck_assert_uint_eq(np[0].target, 1);
    ck_assert_uint_eq(np[1].weight, 5);
    ck_assert_uint_eq(np[1].target, 0);
}
END_TEST

// --- The library's own tables ---

START_TEST(test_headers_library_ops_tables) {
    const umf_memory_provider_ops_t *os = umfOsMemoryProviderOps();
    ck_assert_ptr_nonnull(os);
    ck_assert_uint_eq(os->version, UMF_VERSION_CURRENT);
    ck_assert_ptr_nonnull(os->initialize);
    ck_assert_ptr_nonnull(os->finalize);
    ck_assert_ptr_nonnull(os->alloc);
    ck_assert_ptr_nonnull(os->get_last_native_error);
    ck_assert_ptr_nonnull(os->get_recommended_page_size);
    ck_assert_ptr_nonnull(os->get_min_page_size);
    ck_assert_ptr_nonnull(os->get_name);
    // The OS provider supports every optional op (contract section 26).
    ck_assert_ptr_nonnull(os->ext.free);
    ck_assert_ptr_nonnull(os->ext.purge_lazy);
    ck_assert_ptr_nonnull(os->ext.purge_force);
    ck_assert_ptr_nonnull(os->ext.allocation_merge);
    ck_assert_ptr_nonnull(os->ext.allocation_split);
    ck_assert_ptr_nonnull(os->ipc.get_ipc_handle_size);
    ck_assert_ptr_nonnull(os->ipc.get_ipc_handle);
    ck_assert_ptr_nonnull(os->ipc.put_ipc_handle);
    ck_assert_ptr_nonnull(os->ipc.open_ipc_handle);
    ck_assert_ptr_nonnull(os->ipc.close_ipc_handle);
    ck_assert_ptr_eq(umfOsMemoryProviderOps(), os); // a static object

    const umf_memory_pool_ops_t *proxy = umfProxyPoolOps();
    ck_assert_ptr_nonnull(proxy);
    ck_assert_uint_eq(proxy->version, UMF_VERSION_CURRENT);
    // Upstream pool tables set all ten members.
    ck_assert_ptr_nonnull(proxy->initialize);
    ck_assert_ptr_nonnull(proxy->finalize);
    ck_assert_ptr_nonnull(proxy->malloc);
    ck_assert_ptr_nonnull(proxy->calloc);
    ck_assert_ptr_nonnull(proxy->realloc);
    ck_assert_ptr_nonnull(proxy->aligned_malloc);
    ck_assert_ptr_nonnull(proxy->malloc_usable_size);
    ck_assert_ptr_nonnull(proxy->free);
    ck_assert_ptr_nonnull(proxy->get_last_allocation_error);
    ck_assert_ptr_eq(umfProxyPoolOps(), proxy);

    // The GPU providers are always built (their drivers load at run time)
    // and fill every op (contract section 26; unsupported ones answer
    // NOT_SUPPORTED).
    const umf_memory_provider_ops_t *gpu[] = {umfCUDAMemoryProviderOps(),
                                              umfLevelZeroMemoryProviderOps()};
    const char *names[] = {"CUDA", "LEVEL_ZERO"};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(gpu[i]);
        ck_assert_uint_eq(gpu[i]->version, UMF_VERSION_CURRENT);
        ck_assert_str_eq(gpu[i]->get_name(NULL), names[i]);
        ck_assert_ptr_nonnull(gpu[i]->ext.free);
        ck_assert_ptr_nonnull(gpu[i]->ext.allocation_split);
        ck_assert_ptr_nonnull(gpu[i]->ipc.open_ipc_handle);
        ck_assert_int_eq(gpu[i]->ext.purge_lazy(NULL, NULL, 0),
                         UMF_RESULT_ERROR_NOT_SUPPORTED);
    }
}
END_TEST

// --- User tables with designated initialisers ---

static umf_result_t d_ipc_size(void *provider, size_t *size) {
    (void)provider;
    *size = 8;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t d_ipc_get(void *provider, const void *ptr, size_t size,
                              void *data) {
    (void)provider, (void)ptr, (void)size;
    memset(data, 0x5a, 8);
    return UMF_RESULT_SUCCESS;
}
static umf_result_t d_ipc_put(void *provider, void *data) {
    (void)provider, (void)data;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t d_ipc_open(void *provider, void *data, void **ptr) {
    (void)provider;
    *ptr = data;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t d_ipc_close(void *provider, void *ptr, size_t size) {
    (void)provider, (void)ptr, (void)size;
    return UMF_RESULT_SUCCESS;
}

static void *d_calloc(void *pool, size_t num, size_t size) {
    (void)pool, (void)num, (void)size;
    test_pool_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}
static void *d_realloc(void *pool, void *ptr, size_t size) {
    (void)pool, (void)ptr, (void)size;
    test_pool_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}
static void *d_aligned_malloc(void *pool, size_t size, size_t alignment) {
    (void)pool, (void)size, (void)alignment;
    test_pool_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return NULL;
}
static size_t d_usable_size(void *pool, void *ptr) {
    (void)pool, (void)ptr;
    return 4096;
}

static const umf_memory_provider_ops_t designated_provider_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = tp_initialize,
    .finalize = tp_finalize,
    .alloc = tp_alloc,
    .get_last_native_error = tp_native,
    .get_recommended_page_size = tp_rec_page,
    .get_min_page_size = tp_min_page,
    .get_name = tp_name,
    .ext.free = tp_free,
    .ext.purge_lazy = tp_purge,
    .ext.purge_force = tp_purge,
    .ext.allocation_merge = tp_merge,
    .ext.allocation_split = tp_split,
    .ipc.get_ipc_handle_size = d_ipc_size,
    .ipc.get_ipc_handle = d_ipc_get,
    .ipc.put_ipc_handle = d_ipc_put,
    .ipc.open_ipc_handle = d_ipc_open,
    .ipc.close_ipc_handle = d_ipc_close,
};

START_TEST(test_headers_designated_tables_work) {
    test_prov_params_t params = {.name = "designated"};
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(&designated_provider_ops, &params, &prov),
        UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(prov);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "designated");
    test_prov_t *t = test_prov_last;
    ck_assert_ptr_eq(t->params_seen, &params);

    // Each front end reaches the member the designator named.
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, page, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(prov, p, page),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(prov, p, page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->purges, 2);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(prov, p, page, 64),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(prov, p, (char *)p + 64, page),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->splits, 1);
    ck_assert_uint_eq(t->merges, 1);
    size_t hsize = 0;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(prov, &hsize),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(hsize, 8);
    unsigned char data[8] = {0};
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prov, p, page, data),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(data[7], 0x5a);
    void *opened = NULL;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(prov, data, &opened),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(opened, data);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(prov, opened, page),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(prov, data),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, page), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->frees, 1);

    // A pool table with designated initialisers, all ten members set as
    // the contract asks of user pools.
    const umf_memory_pool_ops_t pool_ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = tpl_initialize,
        .finalize = tpl_finalize,
        .malloc = tpl_malloc,
        .calloc = d_calloc,
        .realloc = d_realloc,
        .aligned_malloc = d_aligned_malloc,
        .malloc_usable_size = d_usable_size,
        .free = tpl_free,
        .get_last_allocation_error = tpl_last_error,
    };
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&pool_ops, prov, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_SUCCESS);
    void *q = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_eq(umfPoolByPtr(q), pool);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, q), 4096);
    ck_assert_ptr_null(umfPoolCalloc(pool, 1, 1));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfPoolFree(pool, q), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_int_eq(t->finalized, 1);
}
END_TEST

// --- C++ ---

START_TEST(test_headers_cxx) {
    int line = headers_cxx_check();
    ck_assert_msg(line == 0, "test_headers_cxx.cpp: check at line %d failed",
                  line);
}
END_TEST

static Suite *headers_suite(void) {
    Suite *s = suite_create("headers");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_headers_version);
    tcase_add_test(tc, test_headers_result_codes);
    tcase_add_test(tc, test_headers_enums);
    tcase_add_test(tc, test_headers_include_guards);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_test(tc, test_headers_provider_ops_layout);
    tcase_add_test(tc, test_headers_pool_ops_layout);
    tcase_add_test(tc, test_headers_split_partitions_interchangeable);
    suite_add_tcase(s, tc);

    tc = tcase_create("tables");
    tcase_add_test(tc, test_headers_library_ops_tables);
    tcase_add_test(tc, test_headers_designated_tables_work);
    suite_add_tcase(s, tc);

    tc = tcase_create("cxx");
    tcase_add_test(tc, test_headers_cxx);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(headers_suite());
}
