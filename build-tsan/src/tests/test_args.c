/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_args.c - argument checking of every implemented public function:
 * NULL handles, NULL out-pointers, zero sizes, bad alignments and invalid
 * ops tables, with the result codes of the contract (sections 5, 7, 13, 19,
 * 26, 27, and "upstream crashes" -> INVALID_ARGUMENT or NULL/0). Every
 * failing call is also checked to leave its out-parameters alone (they are
 * pre-filled with sentinels), to not reach the provider's or pool's op, and
 * to not count as a provider failure in umfGetLastFailedMemoryProvider().
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <umf.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

// Exported by libumf for separately built pools; in no public header
// (contract section 27).
typedef struct umf_alloc_info_t {
    void *base;
    size_t baseSize;
    umf_memory_pool_handle_t pool;
} umf_alloc_info_t;
umf_result_t umfMemoryTrackerGetAllocInfo(const void *ptr,
                                          umf_alloc_info_t *pAllocInfo);

// --- Sentinels for out-parameters that must stay unchanged ---

#define SENT_PTR  ((void *)(uintptr_t)0x5e5e0001)
#define SENT_PROV ((umf_memory_provider_handle_t)(uintptr_t)0x5e5e0002)
#define SENT_POOL ((umf_memory_pool_handle_t)(uintptr_t)0x5e5e0003)
#define SENT_PARAMS                                                            \
    ((umf_os_memory_provider_params_handle_t)(uintptr_t)0x5e5e0004)
#define SENT_SIZE ((size_t)0x5e5e5e5e)
#define SENT_ERR  ((int32_t)-777)

#define INVALID UMF_RESULT_ERROR_INVALID_ARGUMENT

static size_t page_size(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

// --- Providers: the helpers' one with IPC ops added, and a bare one ---

static int ipc_calls;

static umf_result_t ci_size(void *priv, size_t *size) {
    (void)priv;
    ipc_calls++;
    *size = 16;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ci_get(void *priv, const void *ptr, size_t size,
                           void *data) {
    (void)priv, (void)ptr, (void)size, (void)data;
    ipc_calls++;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ci_put(void *priv, void *data) {
    (void)priv, (void)data;
    ipc_calls++;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ci_open(void *priv, void *data, void **ptr) {
    (void)priv;
    ipc_calls++;
    *ptr = data;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ci_close(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    ipc_calls++;
    return UMF_RESULT_SUCCESS;
}

// Every op set, IPC included.
static umf_memory_provider_ops_t full_ops(void) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.ipc.get_ipc_handle_size = ci_size;
    ops.ipc.get_ipc_handle = ci_get;
    ops.ipc.put_ipc_handle = ci_put;
    ops.ipc.open_ipc_handle = ci_open;
    ops.ipc.close_ipc_handle = ci_close;
    return ops;
}

// Only the mandatory ops.
static umf_memory_provider_ops_t bare_ops(void) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    memset(&ops.ext, 0, sizeof(ops.ext));
    memset(&ops.ipc, 0, sizeof(ops.ipc));
    return ops;
}

static umf_memory_provider_handle_t make_provider(umf_memory_provider_ops_t ops,
                                                  test_prov_t **state) {
    umf_memory_provider_handle_t h = NULL;
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_nonnull(test_prov_last);
    if (state) {
        *state = test_prov_last;
    }
    ipc_calls = 0;
    return h;
}

static umf_memory_provider_handle_t make_os_provider(void) {
    umf_os_memory_provider_params_handle_t params = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &h),
        UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(params),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(h);
    return h;
}

static umf_memory_pool_handle_t make_proxy_pool(void) {
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), make_os_provider(), NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(pool);
    return pool;
}

// Front-end argument failures must not be recorded as provider failures.
static umf_memory_provider_handle_t last_failed_before;

static void note_last_failed(void) {
    last_failed_before = umfGetLastFailedMemoryProvider();
}

static void expect_last_failed_unchanged(void) {
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), last_failed_before);
}

// ==========================================================================
// umfMemoryProviderCreate
// ==========================================================================

START_TEST(test_args_provider_create_null_ops) {
    umf_memory_provider_handle_t h = SENT_PROV;
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(NULL, NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    test_prov_params_t params = {.name = "x"};
    ck_assert_int_eq(umfMemoryProviderCreate(NULL, &params, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_int_eq(umfMemoryProviderCreate(NULL, NULL, NULL), INVALID);
}
END_TEST

START_TEST(test_args_provider_create_null_out) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, NULL), INVALID);
    ck_assert_ptr_null(test_prov_last); // initialize never ran
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), NULL, NULL), INVALID);
}
END_TEST

static const uint32_t bad_versions[] = {
    0,
    UMF_MAKE_VERSION(0, 9),
    UMF_MAKE_VERSION(0, 11),
    UMF_MAKE_VERSION(1, 0),
    UMF_MAKE_VERSION(1, 10),
    UINT32_MAX,
};

START_TEST(test_args_provider_create_bad_version) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.version = bad_versions[_i];
    umf_memory_provider_handle_t h = SENT_PROV;
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_ptr_null(test_prov_last);
}
END_TEST

// _i selects the mandatory op to leave NULL.
START_TEST(test_args_provider_create_null_mandatory_op) {
    umf_memory_provider_ops_t ops = full_ops();
    switch (_i) {
    case 0:
        ops.initialize = NULL;
        break;
    case 1:
        ops.finalize = NULL;
        break;
    case 2:
        ops.alloc = NULL;
        break;
    case 3:
        ops.get_last_native_error = NULL;
        break;
    case 4:
        ops.get_recommended_page_size = NULL;
        break;
    case 5:
        ops.get_min_page_size = NULL;
        break;
    case 6:
        ops.get_name = NULL;
        break;
    default:
        ck_abort();
    }
    umf_memory_provider_handle_t h = SENT_PROV;
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_ptr_null(test_prov_last);
}
END_TEST

START_TEST(test_args_provider_create_split_merge_pair) {
    umf_memory_provider_handle_t h = SENT_PROV;
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.ext.allocation_merge = NULL; // split only
    test_prov_last = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_ptr_null(test_prov_last);

    ops = test_provider_ops();
    ops.ext.allocation_split = NULL; // merge only
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_ptr_null(test_prov_last);

    // Both NULL is fine, and both set is fine.
    ops.ext.allocation_merge = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_ne(h, SENT_PROV);
    umfMemoryProviderDestroy(h);
    ops = test_provider_ops();
    h = SENT_PROV;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &h),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_ne(h, SENT_PROV);
    umfMemoryProviderDestroy(h);
}
END_TEST

// _i is a bit mask of the five IPC ops to set: 0 and 31 are valid, the 30
// others must be refused.
START_TEST(test_args_provider_create_ipc_all_or_none) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    const umf_memory_provider_ops_t full = full_ops();
    if (_i & 1) {
        ops.ipc.get_ipc_handle_size = full.ipc.get_ipc_handle_size;
    }
    if (_i & 2) {
        ops.ipc.get_ipc_handle = full.ipc.get_ipc_handle;
    }
    if (_i & 4) {
        ops.ipc.put_ipc_handle = full.ipc.put_ipc_handle;
    }
    if (_i & 8) {
        ops.ipc.open_ipc_handle = full.ipc.open_ipc_handle;
    }
    if (_i & 16) {
        ops.ipc.close_ipc_handle = full.ipc.close_ipc_handle;
    }
    umf_memory_provider_handle_t h = SENT_PROV;
    test_prov_last = NULL;
    umf_result_t r = umfMemoryProviderCreate(&ops, NULL, &h);
    if (_i == 0 || _i == 31) {
        ck_assert_int_eq(r, UMF_RESULT_SUCCESS);
        ck_assert_ptr_ne(h, SENT_PROV);
        umfMemoryProviderDestroy(h);
    } else {
        ck_assert_msg(r == INVALID, "ipc mask %d: result %d", _i, (int)r);
        ck_assert_ptr_eq(h, SENT_PROV);
        ck_assert_ptr_null(test_prov_last);
    }
}
END_TEST

static const umf_result_t init_errors[] = {
    UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY,
    UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC,
    UMF_RESULT_ERROR_INVALID_ARGUMENT,
    UMF_RESULT_ERROR_INVALID_ALIGNMENT,
    UMF_RESULT_ERROR_NOT_SUPPORTED,
    UMF_RESULT_ERROR_USER_SPECIFIC,
    UMF_RESULT_ERROR_UNKNOWN,
};

START_TEST(test_args_provider_create_init_error_returned) {
    umf_memory_provider_ops_t ops = full_ops();
    test_prov_params_t params = {.init_result = (int)init_errors[_i]};
    umf_memory_provider_handle_t h = SENT_PROV;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, &params, &h),
                     init_errors[_i]);
    ck_assert_ptr_eq(h, SENT_PROV);
}
END_TEST

START_TEST(test_args_provider_destroy_null) {
    umfMemoryProviderDestroy(NULL); // no crash
    umf_memory_provider_handle_t h = make_provider(test_provider_ops(), NULL);
    umfMemoryProviderDestroy(h);
}
END_TEST

// ==========================================================================
// Provider front ends
// ==========================================================================

START_TEST(test_args_provider_null_handle) {
    char buf[64];
    void *ptr = SENT_PTR;
    size_t size = SENT_SIZE;
    note_last_failed();

    ck_assert_int_eq(umfMemoryProviderAlloc(NULL, 64, 0, &ptr), INVALID);
    ck_assert_ptr_eq(ptr, SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderAlloc(NULL, 0, 0, &ptr), INVALID);
    ck_assert_int_eq(umfMemoryProviderAlloc(NULL, 64, 3, NULL), INVALID);
    ck_assert_ptr_eq(ptr, SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderFree(NULL, buf, sizeof(buf)), INVALID);
    ck_assert_int_eq(umfMemoryProviderFree(NULL, NULL, 0), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(NULL, 64, &size),
                     INVALID);
    ck_assert_uint_eq(size, SENT_SIZE);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(NULL, NULL, &size),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(NULL, buf, &size),
                     INVALID);
    ck_assert_uint_eq(size, SENT_SIZE);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(NULL, buf, sizeof(buf)),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(NULL, buf, sizeof(buf)),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(NULL, buf, 64, 32),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(NULL, buf, buf + 32, 64),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(NULL, &size), INVALID);
    ck_assert_uint_eq(size, SENT_SIZE);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(NULL, buf, 64, buf),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(NULL, buf), INVALID);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(NULL, buf, &ptr), INVALID);
    ck_assert_ptr_eq(ptr, SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(NULL, buf, 64), INVALID);
    ck_assert_ptr_null(umfMemoryProviderGetName(NULL));
    umfMemoryProviderDestroy(NULL);
    expect_last_failed_unchanged();
}
END_TEST

START_TEST(test_args_provider_null_out_pointers) {
    test_prov_t *t;
    umf_memory_provider_handle_t h = make_provider(full_ops(), &t);
    note_last_failed();
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 64, 0, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 0, 0, NULL), INVALID);
    ck_assert_uint_eq(t->allocs, 0); // the op never ran
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 64, NULL),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, NULL), INVALID);
    expect_last_failed_unchanged();
    ck_assert_int_eq(ipc_calls, 0);

    // The same calls with their out-pointers work.
    size_t size = SENT_SIZE;
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 0, &size),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(size, page_size());
    size = SENT_SIZE;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, &size),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(size, page_size());
    umfMemoryProviderDestroy(h);
}
END_TEST

// PurgeLazy/PurgeForce(h, NULL, ...) fail the front-end check first, with
// or without purge ops.
START_TEST(test_args_provider_purge_null_ptr) {
    test_prov_t *t;
    umf_memory_provider_handle_t full = make_provider(full_ops(), &t);
    umf_memory_provider_handle_t bare = make_provider(bare_ops(), NULL);
    note_last_failed();
    umf_memory_provider_handle_t hs[] = {full, bare};
    for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
        ck_assert_int_eq(umfMemoryProviderPurgeLazy(hs[i], NULL, 0), INVALID);
        ck_assert_int_eq(umfMemoryProviderPurgeForce(hs[i], NULL, 0), INVALID);
        ck_assert_int_eq(umfMemoryProviderPurgeLazy(hs[i], NULL, 4096),
                         INVALID);
        ck_assert_int_eq(umfMemoryProviderPurgeForce(hs[i], NULL, 4096),
                         INVALID);
    }
    ck_assert_uint_eq(t->purges, 0);
    expect_last_failed_unchanged();

    char buf[64];
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(bare, buf, sizeof(buf)),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(bare, buf, sizeof(buf)),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(full, buf, sizeof(buf)),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->purges, 1);
    umfMemoryProviderDestroy(full);
    umfMemoryProviderDestroy(bare);
}
END_TEST

// Free has no front-end check besides the handle: without a free op it is
// NOT_SUPPORTED for every argument.
START_TEST(test_args_provider_free_without_free_op) {
    umf_memory_provider_handle_t bare = make_provider(bare_ops(), NULL);
    char buf[64];
    ck_assert_int_eq(umfMemoryProviderFree(bare, NULL, 0),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(umfMemoryProviderFree(bare, buf, sizeof(buf)),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(bare);
}
END_TEST

typedef struct {
    bool null_ptr;
    size_t total, first;
} split_case_t;

static const split_case_t bad_splits[] = {
    {true, 8192, 4096},  // NULL ptr
    {false, 8192, 0},    // firstSize 0
    {false, 0, 0},       // totalSize 0
    {false, 0, 4096},    // totalSize 0, firstSize >= totalSize
    {false, 4096, 4096}, // firstSize == totalSize
    {false, 4096, 8192}, // firstSize > totalSize
    {false, 1, 1},       {false, SIZE_MAX, SIZE_MAX},
};

START_TEST(test_args_provider_split_bad_args) {
    const split_case_t *c = &bad_splits[_i];
    test_prov_t *t;
    umf_memory_provider_handle_t full = make_provider(full_ops(), &t);
    umf_memory_provider_handle_t bare = make_provider(bare_ops(), NULL);
    char buf[64];
    void *p = c->null_ptr ? NULL : buf;
    note_last_failed();
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(full, p, c->total, c->first), INVALID);
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(bare, p, c->total, c->first), INVALID);
    ck_assert_uint_eq(t->splits, 0);
    expect_last_failed_unchanged();

    // The smallest valid split reaches the op (or NOT_SUPPORTED).
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(full, buf, 2, 1),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->splits, 1);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(bare, buf, 2, 1),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(full);
    umfMemoryProviderDestroy(bare);
}
END_TEST

typedef struct {
    intptr_t low, high; // offsets into a buffer; -1 means NULL
    size_t total;
} merge_case_t;

static const merge_case_t bad_merges[] = {
    {-1, 32, 64}, // lowPtr NULL
    {0, -1, 64},  // highPtr NULL
    {-1, -1, 64}, // both NULL
    {0, 32, 0},   // totalSize 0
    {32, 32, 64}, // lowPtr == highPtr
    {32, 0, 64},  // lowPtr > highPtr
    {0, 64, 64},  // highPtr - lowPtr == totalSize
    {0, 64, 32},  // highPtr - lowPtr > totalSize
    {0, 1, 1},
};

START_TEST(test_args_provider_merge_bad_args) {
    const merge_case_t *c = &bad_merges[_i];
    test_prov_t *t;
    umf_memory_provider_handle_t full = make_provider(full_ops(), &t);
    umf_memory_provider_handle_t bare = make_provider(bare_ops(), NULL);
    static char buf[128];
    void *lo = c->low < 0 ? NULL : buf + c->low;
    void *hi = c->high < 0 ? NULL : buf + c->high;
    note_last_failed();
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(full, lo, hi, c->total),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(bare, lo, hi, c->total),
                     INVALID);
    ck_assert_uint_eq(t->merges, 0);
    expect_last_failed_unchanged();

    // highPtr - lowPtr == totalSize - 1 is the largest valid distance.
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(full, buf, buf + 63, 64),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->merges, 1);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(bare, buf, buf + 32, 64),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(full);
    umfMemoryProviderDestroy(bare);
}
END_TEST

// _i == 0: a provider with IPC ops, 1: one without. NULL arguments are
// refused before the IPC ops are looked at.
START_TEST(test_args_provider_ipc_null_args) {
    umf_memory_provider_handle_t h =
        make_provider(_i == 0 ? full_ops() : bare_ops(), NULL);
    char buf[64];
    void *ptr = SENT_PTR;
    note_last_failed();
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, NULL, 64, buf), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, buf, 64, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, NULL, 0, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(h, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, NULL, &ptr), INVALID);
    ck_assert_ptr_eq(ptr, SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, buf, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, NULL, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, NULL, 64), INVALID);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, NULL, 0), INVALID);
    ck_assert_int_eq(ipc_calls, 0);
    expect_last_failed_unchanged();

    // Valid arguments: the ops run, or NOT_SUPPORTED without them.
    umf_result_t want =
        _i == 0 ? UMF_RESULT_SUCCESS : UMF_RESULT_ERROR_NOT_SUPPORTED;
    size_t size = SENT_SIZE;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &size), want);
    ck_assert_uint_eq(size, _i == 0 ? 16 : SENT_SIZE);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, buf, 64, buf), want);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(h, buf), want);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, buf, &ptr), want);
    ck_assert_ptr_eq(ptr, _i == 0 ? (void *)buf : SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, buf, 64), want);
    ck_assert_int_eq(ipc_calls, _i == 0 ? 5 : 0);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_args_provider_native_error_null_args) {
    const char *msg = NULL;
    int32_t err = SENT_ERR;
    umfMemoryProviderGetLastNativeError(NULL, &msg, &err); // no crash
    ck_assert_ptr_nonnull(msg);
    umfMemoryProviderGetLastNativeError(NULL, NULL, NULL);
    umfMemoryProviderGetLastNativeError(NULL, &msg, NULL);
    ck_assert_ptr_nonnull(msg);
    umfMemoryProviderGetLastNativeError(NULL, NULL, &err);

    umf_memory_provider_handle_t h = make_provider(full_ops(), NULL);
    void *p = SENT_PTR;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 0, 0, &p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_eq(p, SENT_PTR);
    umfMemoryProviderGetLastNativeError(h, NULL, NULL); // no crash
    msg = NULL;
    err = SENT_ERR;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    ck_assert_str_eq(msg, "test provider native error");
    ck_assert_int_eq(err, 42);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_args_provider_get_name) {
    ck_assert_ptr_null(umfMemoryProviderGetName(NULL));
    umf_memory_provider_handle_t h = make_provider(bare_ops(), NULL);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "test_provider");
    umfMemoryProviderDestroy(h);
}
END_TEST

static void *read_last_failed(void *arg) {
    (void)arg;
    return umfGetLastFailedMemoryProvider();
}

// Op failures set the last failed provider; argument failures do not.
START_TEST(test_args_last_failed_provider) {
    // Per thread, NULL until something fails on that thread.
    pthread_t th;
    void *seen = SENT_PTR;
    ck_assert_int_eq(pthread_create(&th, NULL, read_last_failed, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &seen), 0);
    ck_assert_ptr_null(seen);
    umf_memory_provider_handle_t a = make_provider(full_ops(), NULL);
    umf_memory_provider_handle_t b = make_provider(full_ops(), NULL);
    void *p = SENT_PTR;
    ck_assert_int_eq(umfMemoryProviderAlloc(a, 0, 0, &p),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), a);
    // b: only front-end failures.
    ck_assert_int_eq(umfMemoryProviderAlloc(b, 64, 0, NULL), INVALID);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(b, NULL, 0), INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(b, NULL, 2, 1), INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(b, p, p, 2), INVALID);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(b, NULL, NULL), INVALID);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), a);
    // b: an op failure.
    ck_assert_int_eq(umfMemoryProviderFree(b, SENT_PTR, 0),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), b);
    ck_assert_int_eq(pthread_create(&th, NULL, read_last_failed, NULL), 0);
    ck_assert_int_eq(pthread_join(th, &seen), 0);
    ck_assert_ptr_null(seen); // other threads are not affected
    umfMemoryProviderDestroy(a);
    umfMemoryProviderDestroy(b);
}
END_TEST

// ==========================================================================
// OS memory provider
// ==========================================================================

START_TEST(test_args_os_params_null_handle) {
    unsigned nodes[1] = {0};
    umf_numa_split_partition_t parts[1] = {{1, 0}};
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(NULL), INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(NULL),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetProtection(NULL, UMF_PROTECTION_READ),
        INVALID);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(NULL, UMF_MEM_MAP_SHARED),
        INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(NULL, "umf_args"),
                     INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(NULL, NULL), INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(NULL, nodes, 1),
                     INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(NULL, NULL, 0),
                     INVALID);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(NULL, UMF_NUMA_MODE_BIND),
        INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(NULL, 4096), INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(NULL, parts, 1),
                     INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(NULL, NULL, 0),
                     INVALID);
}
END_TEST

START_TEST(test_args_os_params_null_arrays) {
    umf_os_memory_provider_params_handle_t p = SENT_PARAMS;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_ptr_ne(p, SENT_PARAMS);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 1), INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 0),
                     UMF_RESULT_SUCCESS); // clears
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 2),
                     INVALID);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 0),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, NULL),
                     UMF_RESULT_SUCCESS); // clears
    // The refused calls changed nothing: the params still make a provider.
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(p), UMF_RESULT_SUCCESS);
}
END_TEST

START_TEST(test_args_os_create_null_params) {
    umf_memory_provider_handle_t h = SENT_PROV;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), NULL, &h), INVALID);
    ck_assert_ptr_eq(h, SENT_PROV);
}
END_TEST

// Creation checks of contract section 13, one bad setting per case.
typedef struct {
    const char *what;
    unsigned protection; // 0: default
    int visibility;      // 0: default
    int mode;            // -1: default
    unsigned nnodes;     // list {0, ...} of this length
    size_t part_size;
    unsigned nparts;
    umf_numa_split_partition_t parts[2];
    const char *shm_name;
    umf_result_t want;
} os_create_case_t;

static char long_shm_name[256];

static const os_create_case_t os_create_cases[] = {
    {"protection bit 16", 16, 0, -1, 0, 0, 0, {{0, 0}}, NULL, INVALID},
    {"protection bit 0x100",
     UMF_PROTECTION_READ | 0x100,
     0,
     -1,
     0,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"protection ~0u", ~0u, 0, -1, 0, 0, 0, {{0, 0}}, NULL, INVALID},
    {"visibility 3", 0, 3, -1, 0, 0, 0, {{0, 0}}, NULL, INVALID},
    {"visibility -1", 0, -1, -1, 0, 0, 0, {{0, 0}}, NULL, INVALID},
    {"DEFAULT with a node list",
     0,
     0,
     UMF_NUMA_MODE_DEFAULT,
     1,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"LOCAL with a node list",
     0,
     0,
     UMF_NUMA_MODE_LOCAL,
     1,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"BIND without nodes",
     0,
     0,
     UMF_NUMA_MODE_BIND,
     0,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"INTERLEAVE without nodes",
     0,
     0,
     UMF_NUMA_MODE_INTERLEAVE,
     0,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"SPLIT without nodes",
     0,
     0,
     UMF_NUMA_MODE_SPLIT,
     0,
     0,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"SPLIT partition weight 0",
     0,
     0,
     UMF_NUMA_MODE_SPLIT,
     1,
     0,
     1,
     {{0, 0}},
     NULL,
     INVALID},
    {"SPLIT partition target not in list",
     0,
     0,
     UMF_NUMA_MODE_SPLIT,
     1,
     0,
     1,
     {{1, 7}},
     NULL,
     INVALID},
    {"INTERLEAVE part size overflows",
     0,
     0,
     UMF_NUMA_MODE_INTERLEAVE,
     1,
     SIZE_MAX,
     0,
     {{0, 0}},
     NULL,
     INVALID},
    {"SHARED with BIND",
     0,
     UMF_MEM_MAP_SHARED,
     UMF_NUMA_MODE_BIND,
     1,
     0,
     0,
     {{0, 0}},
     NULL,
     UMF_RESULT_ERROR_NOT_SUPPORTED},
    {"SHARED with LOCAL",
     0,
     UMF_MEM_MAP_SHARED,
     UMF_NUMA_MODE_LOCAL,
     0,
     0,
     0,
     {{0, 0}},
     NULL,
     UMF_RESULT_ERROR_NOT_SUPPORTED},
    {"shm name with '/'",
     0,
     UMF_MEM_MAP_SHARED,
     -1,
     0,
     0,
     0,
     {{0, 0}},
     "umf/args",
     INVALID},
    {"shm name of 254 characters",
     0,
     UMF_MEM_MAP_SHARED,
     -1,
     0,
     0,
     0,
     {{0, 0}},
     long_shm_name,
     INVALID},
};

START_TEST(test_args_os_create_bad_params) {
    const os_create_case_t *c = &os_create_cases[_i];
    memset(long_shm_name, 'n', 254);
    long_shm_name[254] = '\0';
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    if (c->protection) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetProtection(p, c->protection),
            UMF_RESULT_SUCCESS); // checked at creation
    }
    if (c->visibility) {
        ck_assert_int_eq(umfOsMemoryProviderParamsSetVisibility(
                             p, (umf_memory_visibility_t)c->visibility),
                         UMF_RESULT_SUCCESS);
    }
    if (c->mode >= 0) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetNumaMode(p, (umf_numa_mode_t)c->mode),
            UMF_RESULT_SUCCESS);
    }
    unsigned nodes[2] = {0, 1};
    if (c->nnodes) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetNumaList(p, nodes, c->nnodes),
            UMF_RESULT_SUCCESS);
    }
    if (c->part_size) {
        ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, c->part_size),
                         UMF_RESULT_SUCCESS);
    }
    if (c->nparts) {
        umf_numa_split_partition_t parts[2];
        memcpy(parts, c->parts, sizeof(parts));
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetPartitions(p, parts, c->nparts),
            UMF_RESULT_SUCCESS);
    }
    if (c->shm_name) {
        ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, c->shm_name),
                         UMF_RESULT_SUCCESS);
    }
    umf_memory_provider_handle_t h = SENT_PROV;
    umf_result_t r = umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h);
    ck_assert_msg(r == c->want, "%s: result %d, expected %d", c->what, (int)r,
                  (int)c->want);
    ck_assert_ptr_eq(h, SENT_PROV);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(p), UMF_RESULT_SUCCESS);
}
END_TEST

// Every bit-or of UMF_PROTECTION_NONE/READ/WRITE/EXEC (1, 2, 4, 8: all
// below UMF_PROTECTION_MAX) is valid, 0 too (PROT_NONE); other bits are not.
// Upstream checks bit by bit, so READ|EXEC (10) and READ|WRITE|EXEC (14)
// are accepted even though they are numerically >= UMF_PROTECTION_MAX.
static const struct {
    unsigned prot;
    umf_result_t want;
} os_protections[] = {
    {0, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_NONE, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_READ, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_READ | UMF_PROTECTION_WRITE, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_EXEC, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_READ | UMF_PROTECTION_EXEC, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_WRITE | UMF_PROTECTION_EXEC, UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_READ | UMF_PROTECTION_WRITE | UMF_PROTECTION_EXEC,
     UMF_RESULT_SUCCESS},
    {UMF_PROTECTION_NONE | UMF_PROTECTION_READ | UMF_PROTECTION_WRITE |
         UMF_PROTECTION_EXEC,
     UMF_RESULT_SUCCESS},
    {16, INVALID},
    {UMF_PROTECTION_READ | 16, INVALID},
    {32, INVALID},
    {1u << 31, INVALID},
};

START_TEST(test_args_os_create_protection_bits) {
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetProtection(p, os_protections[_i].prot),
        UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = SENT_PROV;
    umf_result_t r = umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(p), UMF_RESULT_SUCCESS);
    ck_assert_msg(
        r == os_protections[_i].want, "protection %#x: result %d, expected %d",
        os_protections[_i].prot, (int)r, (int)os_protections[_i].want);
    if (r == UMF_RESULT_SUCCESS) {
        ck_assert_ptr_ne(h, SENT_PROV);
        umfMemoryProviderDestroy(h);
    } else {
        ck_assert_ptr_eq(h, SENT_PROV);
    }
}
END_TEST

// Neither a multiple nor a divisor of the page size: refused by the OS
// provider with INVALID_ARGUMENT (not INVALID_ALIGNMENT), before any mapping.
static const size_t bad_alignments[] = {
    3, 6, 12, 24, 100, 4095, 4097, 3 * 4096 / 2, 5 * 4096 + 8, SIZE_MAX,
};

START_TEST(test_args_os_alloc_bad_alignment) {
    umf_memory_provider_handle_t h = make_os_provider();
    void *p = SENT_PTR;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 4096, bad_alignments[_i], &p),
                     INVALID);
    ck_assert_ptr_eq(p, SENT_PTR);
    // The op reported it, so it counts as this provider's failure.
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), h);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1, bad_alignments[_i], &p),
                     INVALID);
    ck_assert_ptr_eq(p, SENT_PTR);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_args_os_alloc_good_alignments) {
    umf_memory_provider_handle_t h = make_os_provider();
    const size_t page = page_size();
    const size_t aligns[] = {0,        1,        2,         8,
                             64,       page / 2, page,      2 * page,
                             3 * page, 5 * page, 16 * page, 512 * page};
    for (size_t i = 0; i < ARRAY_SIZE(aligns); i++) {
        void *p = SENT_PTR;
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, aligns[i], &p),
                         UMF_RESULT_SUCCESS);
        ck_assert_ptr_ne(p, SENT_PTR);
        ck_assert_ptr_nonnull(p);
        size_t a = aligns[i] > page ? aligns[i] : page;
        ck_assert_uint_eq((uintptr_t)p % a, 0);
        ck_assert_int_eq(umfMemoryProviderFree(h, p, 100), UMF_RESULT_SUCCESS);
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

static void expect_os_native(umf_memory_provider_handle_t h, int32_t code,
                             const char *prefix) {
    const char *msg = NULL;
    int32_t err = SENT_ERR;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    ck_assert_int_eq(err, code);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0,
                  "native message '%s' does not start with '%s'", msg, prefix);
}

START_TEST(test_args_os_alloc_bad_sizes) {
    umf_memory_provider_handle_t h = make_os_provider();
    const size_t sizes[] = {0, SIZE_MAX, SIZE_MAX - 4095, (size_t)1 << 62};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        void *p = SENT_PTR;
        ck_assert_int_eq(umfMemoryProviderAlloc(h, sizes[i], 0, &p),
                         UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
        ck_assert_ptr_eq(p, SENT_PTR);
        ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), h);
        expect_os_native(h, UMF_OS_RESULT_ERROR_ALLOC_FAILED,
                         "memory allocation failed");
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_args_os_free_bad_args) {
    umf_memory_provider_handle_t h = make_os_provider();
    const size_t page = page_size();
    ck_assert_int_eq(umfMemoryProviderFree(h, NULL, 0), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(h, NULL, page), UMF_RESULT_SUCCESS);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, page, 0, &p),
                     UMF_RESULT_SUCCESS);
    // Size 0 with a pointer: munmap refuses it.
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 0),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    expect_os_native(h, UMF_OS_RESULT_ERROR_FREE_FAILED,
                     "memory deallocation failed");
    // A pointer that is not page aligned.
    ck_assert_int_eq(umfMemoryProviderFree(h, (char *)p + 1, page - 1),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    expect_os_native(h, UMF_OS_RESULT_ERROR_FREE_FAILED,
                     "memory deallocation failed");
    // Still mapped after the refused frees.
    memset(p, 0x11, page);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, page), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

// IPC of a private OS provider: INVALID_ARGUMENT from every IPC op.
START_TEST(test_args_os_ipc_private) {
    umf_memory_provider_handle_t h = make_os_provider();
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 4096, 0, &p),
                     UMF_RESULT_SUCCESS);
    char data[256];
    size_t size = SENT_SIZE;
    void *opened = SENT_PTR;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &size), INVALID);
    ck_assert_uint_eq(size, SENT_SIZE);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, p, 4096, data), INVALID);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(h, data), INVALID);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, data, &opened), INVALID);
    ck_assert_ptr_eq(opened, SENT_PTR);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, p, 4096), INVALID);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 4096), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_args_os_purge_null_ptr) {
    umf_memory_provider_handle_t h = make_os_provider();
    note_last_failed();
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, NULL, 0), INVALID);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, NULL, 4096), INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, NULL, 8192, 4096),
                     INVALID);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, NULL, SENT_PTR, 8192),
                     INVALID);
    expect_last_failed_unchanged();
    umfMemoryProviderDestroy(h);
}
END_TEST

// ==========================================================================
// umfPoolCreate and the pool front ends
// ==========================================================================

static int fail_pool_inits;
static umf_result_t fail_pool_result;

static umf_result_t fail_pool_initialize(umf_memory_provider_handle_t prov,
                                         void *params, void **priv) {
    (void)prov, (void)params, (void)priv;
    fail_pool_inits++;
    return fail_pool_result;
}

START_TEST(test_args_pool_create_null_args) {
    umf_memory_provider_handle_t prov = make_provider(full_ops(), NULL);
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = SENT_POOL;
    test_pool_last = NULL;
    ck_assert_int_eq(umfPoolCreate(NULL, prov, NULL, 0, &pool), INVALID);
    ck_assert_ptr_eq(pool, SENT_POOL);
    ck_assert_int_eq(umfPoolCreate(&ops, NULL, NULL, 0, &pool), INVALID);
    ck_assert_ptr_eq(pool, SENT_POOL);
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0, NULL), INVALID);
    ck_assert_int_eq(umfPoolCreate(NULL, NULL, NULL, 0, NULL), INVALID);
    ck_assert_int_eq(umfPoolCreate(&ops, NULL, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     INVALID);
    ck_assert_ptr_eq(pool, SENT_POOL);
    ck_assert_ptr_null(test_pool_last); // initialize never ran
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), NULL, NULL, 0, &pool),
                     INVALID);
    ck_assert_ptr_eq(pool, SENT_POOL);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "test_provider");
    umfMemoryProviderDestroy(prov);
}
END_TEST

// _i: 0 bad version (x3), 1..4 NULL initialize/finalize/malloc/free.
START_TEST(test_args_pool_create_bad_ops) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = make_provider(full_ops(), &t);
    umf_memory_pool_ops_t ops = test_pool_ops();
    const uint32_t versions[] = {0, UMF_MAKE_VERSION(1, 0),
                                 UMF_MAKE_VERSION(0, 9)};
    size_t nvariants = _i == 0 ? ARRAY_SIZE(versions) : 1;
    for (size_t v = 0; v < nvariants; v++) {
        ops = test_pool_ops();
        switch (_i) {
        case 0:
            ops.version = versions[v];
            break;
        case 1:
            ops.initialize = NULL;
            break;
        case 2:
            ops.finalize = NULL;
            break;
        case 3:
            ops.malloc = NULL;
            break;
        case 4:
            ops.free = NULL;
            break;
        default:
            ck_abort();
        }
        umf_memory_pool_handle_t pool = SENT_POOL;
        test_pool_last = NULL;
        ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL,
                                       UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                                       &pool),
                         INVALID);
        ck_assert_ptr_eq(pool, SENT_POOL);
        ck_assert_ptr_null(test_pool_last);
    }
    // A failed create never destroys the provider, OWN_PROVIDER or not.
    ck_assert_int_eq(t->finalized, 0);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "test_provider");
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_args_pool_create_init_error_returned) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = make_provider(full_ops(), &t);
    umf_memory_pool_ops_t ops = test_pool_ops();
    ops.initialize = fail_pool_initialize;
    fail_pool_result = init_errors[_i];
    fail_pool_inits = 0;
    umf_memory_pool_handle_t pool = SENT_POOL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     init_errors[_i]);
    ck_assert_ptr_eq(pool, SENT_POOL);
    ck_assert_int_eq(fail_pool_inits, 1);
    ck_assert_int_eq(t->finalized, 0);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 100, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(prov, p, 100), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_args_pool_destroy_null) {
    umfPoolDestroy(NULL); // upstream crashes; must not here
}
END_TEST

START_TEST(test_args_pool_null_handle) {
    char buf[64];
    ck_assert_ptr_null(umfPoolMalloc(NULL, 64));
    ck_assert_ptr_null(umfPoolMalloc(NULL, 0));
    ck_assert_ptr_null(umfPoolAlignedMalloc(NULL, 64, 64));
    ck_assert_ptr_null(umfPoolAlignedMalloc(NULL, 64, 3));
    ck_assert_ptr_null(umfPoolCalloc(NULL, 4, 16));
    ck_assert_ptr_null(umfPoolCalloc(NULL, 0, 0));
    ck_assert_ptr_null(umfPoolRealloc(NULL, NULL, 64));
    ck_assert_ptr_null(umfPoolRealloc(NULL, buf, 64));
    ck_assert_uint_eq(umfPoolMallocUsableSize(NULL, buf), 0);
    ck_assert_uint_eq(umfPoolMallocUsableSize(NULL, NULL), 0);
    ck_assert_int_eq(umfPoolFree(NULL, buf), INVALID);
    ck_assert_int_eq(umfPoolFree(NULL, NULL), INVALID);
    ck_assert_int_eq(umfPoolGetLastAllocationError(NULL), INVALID);
    umf_memory_provider_handle_t prov = SENT_PROV;
    ck_assert_int_eq(umfPoolGetMemoryProvider(NULL, &prov), INVALID);
    ck_assert_ptr_eq(prov, SENT_PROV);
    ck_assert_int_eq(umfPoolGetMemoryProvider(NULL, NULL), INVALID);
}
END_TEST

START_TEST(test_args_pool_get_provider_null_out) {
    umf_memory_provider_handle_t prov = make_provider(full_ops(), NULL);
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, NULL), INVALID);
    umf_memory_provider_handle_t got = SENT_PROV;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &got), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(got, prov); // the user's handle, not the wrapper
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Pools of the user's kind without the optional ops: the defaults fail
// with NOT_SUPPORTED rather than crash.
START_TEST(test_args_pool_free_null_and_zero_sizes) {
    umf_memory_provider_handle_t prov = make_provider(full_ops(), NULL);
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    // malloc(0): the provider refuses zero sizes.
    ck_assert_ptr_null(umfPoolMalloc(pool, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_args_pool_unknown_flags_ignored) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = make_provider(full_ops(), &t);
    umf_memory_pool_ops_t ops = test_pool_ops();
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0x100 | 0x40000000, &pool),
                     UMF_RESULT_SUCCESS);
    void *p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool); // still tracked
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_int_eq(t->finalized, 0); // not OWN_PROVIDER
    umfMemoryProviderDestroy(prov);
}
END_TEST

// umfFree and umfPoolByPtr of memory no pool owns.
START_TEST(test_args_free_untracked) {
    ck_assert_int_eq(umfFree(NULL), UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolByPtr(NULL));

    char stack[64];
    ck_assert_ptr_null(umfPoolByPtr(stack));
    ck_assert_ptr_null(umfPoolByPtr(stack + 63));
    ck_assert_int_eq(umfFree(stack), UMF_RESULT_SUCCESS);

    // Memory of no pool (mmap: under the proxy, malloc'd memory is a
    // pool's).
    char *heap = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(heap, MAP_FAILED);
    ck_assert_ptr_null(umfPoolByPtr(heap));
    ck_assert_ptr_null(umfPoolByPtr(heap + 500));
    ck_assert_int_eq(umfFree(heap), UMF_RESULT_SUCCESS);
    // umfFree did nothing: the block is still ours to use and free.
    memset(heap, 0x22, 1000);
    munmap(heap, 4096);

    static int global;
    ck_assert_ptr_null(umfPoolByPtr(&global));
    ck_assert_int_eq(umfFree(&global), UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolByPtr((void *)(uintptr_t)1));
    ck_assert_ptr_null(umfPoolByPtr((void *)UINTPTR_MAX));
    ck_assert_int_eq(umfFree((void *)UINTPTR_MAX), UMF_RESULT_SUCCESS);
}
END_TEST

START_TEST(test_args_tracker_alloc_info) {
    umf_alloc_info_t info = {SENT_PTR, SENT_SIZE, SENT_POOL};
    char stack[16];
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(NULL, &info), INVALID);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(stack, &info), INVALID);
    char *heap = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(heap, MAP_FAILED);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(heap, &info), INVALID);
    munmap(heap, 4096);
    ck_assert_ptr_eq(info.base, SENT_PTR);
    ck_assert_uint_eq(info.baseSize, SENT_SIZE);
    ck_assert_ptr_eq(info.pool, SENT_POOL);

    umf_memory_pool_handle_t pool = make_proxy_pool();
    char *p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(p, NULL), INVALID);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(NULL, NULL), INVALID);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(p + 50, &info),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(info.base, p);
    ck_assert_uint_eq(info.baseSize, 100);
    ck_assert_ptr_eq(info.pool, pool);
    // One past the chunk is not tracked.
    info = (umf_alloc_info_t){SENT_PTR, SENT_SIZE, SENT_POOL};
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(p + 100, &info), INVALID);
    ck_assert_ptr_eq(info.base, SENT_PTR);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryTrackerGetAllocInfo(p, &info), INVALID);
    ck_assert_ptr_eq(info.pool, SENT_POOL);
    umfPoolDestroy(pool);
}
END_TEST

// ==========================================================================
// Proxy pool over the OS provider
// ==========================================================================

START_TEST(test_args_proxy_malloc_zero) {
    umf_memory_pool_handle_t pool = make_proxy_pool();
    ck_assert_ptr_null(umfPoolMalloc(pool, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    // The failure is reported by the pool's (wrapped) OS provider.
    umf_memory_provider_handle_t failed = umfGetLastFailedMemoryProvider();
    ck_assert_ptr_nonnull(failed);
    ck_assert_str_eq(umfMemoryProviderGetName(failed), "OS");
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 0, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    // A success resets the last error.
    void *p = umfPoolMalloc(pool, 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_args_proxy_aligned_malloc_bad_alignment) {
    umf_memory_pool_handle_t pool = make_proxy_pool();
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 4096, bad_alignments[_i]));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), INVALID);
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 1, bad_alignments[_i]));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), INVALID);
    // Good alignments still work afterwards.
    void *p = umfPoolAlignedMalloc(pool, 64, 8 * page_size());
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % (8 * page_size()), 0);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_args_proxy_huge_and_unsupported) {
    umf_memory_pool_handle_t pool = make_proxy_pool();
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    ck_assert_ptr_null(umfPoolCalloc(pool, 1, 64));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_null(umfPoolCalloc(pool, 0, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_null(umfPoolRealloc(pool, NULL, 64));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    void *p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 128));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), 0);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, NULL), 0);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool); // realloc left it alone
    ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
    ck_assert_ptr_null(umfPoolByPtr(p));
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

// --------------------------------------------------------------------------

Suite *args_suite(void);

Suite *args_suite(void) {
    Suite *s = suite_create("args");

    TCase *tc = tcase_create("provider_create");
    tcase_add_test(tc, test_args_provider_create_null_ops);
    tcase_add_test(tc, test_args_provider_create_null_out);
    tcase_add_loop_test(tc, test_args_provider_create_bad_version, 0,
                        ARRAY_SIZE(bad_versions));
    tcase_add_loop_test(tc, test_args_provider_create_null_mandatory_op, 0, 7);
    tcase_add_test(tc, test_args_provider_create_split_merge_pair);
    tcase_add_loop_test(tc, test_args_provider_create_ipc_all_or_none, 0, 32);
    tcase_add_loop_test(tc, test_args_provider_create_init_error_returned, 0,
                        ARRAY_SIZE(init_errors));
    tcase_add_test(tc, test_args_provider_destroy_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("provider_calls");
    tcase_add_test(tc, test_args_provider_null_handle);
    tcase_add_test(tc, test_args_provider_null_out_pointers);
    tcase_add_test(tc, test_args_provider_purge_null_ptr);
    tcase_add_test(tc, test_args_provider_free_without_free_op);
    tcase_add_loop_test(tc, test_args_provider_split_bad_args, 0,
                        ARRAY_SIZE(bad_splits));
    tcase_add_loop_test(tc, test_args_provider_merge_bad_args, 0,
                        ARRAY_SIZE(bad_merges));
    tcase_add_loop_test(tc, test_args_provider_ipc_null_args, 0, 2);
    tcase_add_test(tc, test_args_provider_native_error_null_args);
    tcase_add_test(tc, test_args_provider_get_name);
    tcase_add_test(tc, test_args_last_failed_provider);
    suite_add_tcase(s, tc);

    tc = tcase_create("os_provider");
    tcase_add_test(tc, test_args_os_params_null_handle);
    tcase_add_test(tc, test_args_os_params_null_arrays);
    tcase_add_test(tc, test_args_os_create_null_params);
    tcase_add_loop_test(tc, test_args_os_create_bad_params, 0,
                        ARRAY_SIZE(os_create_cases));
    tcase_add_loop_test(tc, test_args_os_create_protection_bits, 0,
                        ARRAY_SIZE(os_protections));
    tcase_add_loop_test(tc, test_args_os_alloc_bad_alignment, 0,
                        ARRAY_SIZE(bad_alignments));
    tcase_add_test(tc, test_args_os_alloc_good_alignments);
    tcase_add_test(tc, test_args_os_alloc_bad_sizes);
    tcase_add_test(tc, test_args_os_free_bad_args);
    tcase_add_test(tc, test_args_os_ipc_private);
    tcase_add_test(tc, test_args_os_purge_null_ptr);
    suite_add_tcase(s, tc);

    tc = tcase_create("pool");
    tcase_add_test(tc, test_args_pool_create_null_args);
    tcase_add_loop_test(tc, test_args_pool_create_bad_ops, 0, 5);
    tcase_add_loop_test(tc, test_args_pool_create_init_error_returned, 0,
                        ARRAY_SIZE(init_errors));
    tcase_add_test(tc, test_args_pool_destroy_null);
    tcase_add_test(tc, test_args_pool_null_handle);
    tcase_add_test(tc, test_args_pool_get_provider_null_out);
    tcase_add_test(tc, test_args_pool_free_null_and_zero_sizes);
    tcase_add_test(tc, test_args_pool_unknown_flags_ignored);
    tcase_add_test(tc, test_args_free_untracked);
    tcase_add_test(tc, test_args_tracker_alloc_info);
    suite_add_tcase(s, tc);

    tc = tcase_create("proxy_pool");
    tcase_add_test(tc, test_args_proxy_malloc_zero);
    tcase_add_loop_test(tc, test_args_proxy_aligned_malloc_bad_alignment, 0,
                        ARRAY_SIZE(bad_alignments));
    tcase_add_test(tc, test_args_proxy_huge_and_unsupported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(args_suite());
}
