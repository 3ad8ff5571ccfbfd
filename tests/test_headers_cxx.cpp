/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_headers_cxx.cpp - the public headers used from C++: every header
 * compiles (twice, for the guards), the declarations have C linkage (the
 * program links against libumf through them), the contract's values and
 * types hold, and a provider and a pool written in C++ work through the C
 * front ends. headers_cxx_check() returns 0, or the line of the first
 * check that failed.
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

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

extern "C" int headers_cxx_check(void);

// --- Compile-time facts ---

static_assert(UMF_VERSION_CURRENT == 10, "UMF_VERSION_CURRENT");
static_assert(UMF_MAKE_VERSION(1, 2) == 0x10002, "UMF_MAKE_VERSION");
static_assert(UMF_MAJOR_VERSION(0x30004) == 3, "UMF_MAJOR_VERSION");
static_assert(UMF_MINOR_VERSION(0x30004) == 4, "UMF_MINOR_VERSION");
static_assert(UMF_RESULT_ERROR_INVALID_ARGUMENT == 3, "INVALID_ARGUMENT");
static_assert(UMF_RESULT_ERROR_UNKNOWN == 0x7ffffffe, "UNKNOWN");
static_assert(UMF_PROTECTION_MAX == 9, "UMF_PROTECTION_MAX");
static_assert(UMF_MEM_MAP_SHARED == 2, "UMF_MEM_MAP_SHARED");
static_assert(UMF_POOL_CREATE_FLAG_DISABLE_TRACKING == 2, "DISABLE_TRACKING");
static_assert(UMF_NUMA_MODE_LOCAL == 5, "UMF_NUMA_MODE_LOCAL");
static_assert(UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED == 1007, "TOPO");
static_assert(UMF_MEMPOLICY_SPLIT == 3, "UMF_MEMPOLICY_SPLIT");
static_assert(UMF_MEMTARGET_TYPE_NUMA == 1, "UMF_MEMTARGET_TYPE_NUMA");

static_assert(std::is_same<umf_pool_create_flags_t, uint32_t>::value,
              "umf_pool_create_flags_t is uint32_t");
static_assert(
    std::is_same<decltype(umf_memory_provider_ops_t::version), uint32_t>::value,
    "provider ops version is uint32_t");
static_assert(
    std::is_same<decltype(umf_memory_pool_ops_t::version), uint32_t>::value,
    "pool ops version is uint32_t");
static_assert(
    std::is_same<umf_memory_provider_handle_t, umf_memory_provider_t *>::value,
    "provider handle");
static_assert(
    std::is_same<umf_memory_pool_handle_t, umf_memory_pool_t *>::value,
    "pool handle");
static_assert(
    std::is_same<umf_const_memspace_handle_t, const umf_memspace_t *>::value,
    "const memspace handle");
static_assert(std::is_same<decltype(&umfPoolByPtr),
                           umf_memory_pool_handle_t (*)(const void *)>::value,
              "umfPoolByPtr takes const void *");
static_assert(
    std::is_same<decltype(&umfMemoryProviderCreate),
                 umf_result_t (*)(const umf_memory_provider_ops_t *, void *,
                                  umf_memory_provider_handle_t *)>::value,
    "umfMemoryProviderCreate");
static_assert(std::is_same<decltype(&umfPoolCreate),
                           umf_result_t (*)(const umf_memory_pool_ops_t *,
                                            umf_memory_provider_handle_t,
                                            void *, umf_pool_create_flags_t,
                                            umf_memory_pool_handle_t *)>::value,
              "umfPoolCreate");
static_assert(std::is_same<decltype(&umfOsMemoryProviderOps),
                           umf_memory_provider_ops_t *(*)(void)>::value,
              "umfOsMemoryProviderOps");
static_assert(std::is_same<decltype(&umfProxyPoolOps),
                           umf_memory_pool_ops_t *(*)(void)>::value,
              "umfProxyPoolOps");

static_assert(std::is_standard_layout<umf_memory_provider_ops_t>::value &&
                  std::is_trivial<umf_memory_provider_ops_t>::value,
              "provider ops is a C struct");
static_assert(offsetof(umf_memory_provider_ops_t, version) == 0, "version");
static_assert(offsetof(umf_memory_provider_ops_t, get_last_native_error) <
                  offsetof(umf_memory_provider_ops_t,
                           get_recommended_page_size),
              "native error before page sizes");
static_assert(offsetof(umf_memory_provider_ops_t, get_name) <
                  offsetof(umf_memory_provider_ops_t, ext),
              "ext after get_name");
static_assert(offsetof(umf_memory_provider_ops_t, ext) <
                  offsetof(umf_memory_provider_ops_t, ipc),
              "ipc after ext");
static_assert(offsetof(umf_memory_provider_ext_ops_t, allocation_merge) <
                  offsetof(umf_memory_provider_ext_ops_t, allocation_split),
              "merge before split");
static_assert(offsetof(umf_memory_pool_ops_t, aligned_malloc) <
                  offsetof(umf_memory_pool_ops_t, malloc_usable_size),
              "pool ops order");
static_assert(sizeof(umf_numa_split_partition_t) ==
                      sizeof(umf_mempolicy_split_partition_t) &&
                  offsetof(umf_numa_split_partition_t, target) ==
                      offsetof(umf_mempolicy_split_partition_t, target),
              "partition layouts");

// --- A provider written in C++: page-aligned host memory, counting ---

namespace {

struct cxx_provider {
    int allocs = 0;
    int frees = 0;
    int finalized = 0;
};

cxx_provider *last_provider = nullptr;

umf_result_t cp_initialize(void *params, void **priv) {
    auto *p = static_cast<cxx_provider *>(params);
    if (!p) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    last_provider = p;
    *priv = p;
    return UMF_RESULT_SUCCESS;
}

void cp_finalize(void *priv) {
    static_cast<cxx_provider *>(priv)->finalized++;
}

umf_result_t cp_alloc(void *priv, size_t size, size_t alignment, void **ptr) {
    if (size == 0) {
        return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
    }
    if (alignment < 4096) {
        alignment = 4096;
    }
    void *p = nullptr;
    if (posix_memalign(&p, alignment, size) != 0) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    static_cast<cxx_provider *>(priv)->allocs++;
    *ptr = p;
    return UMF_RESULT_SUCCESS;
}

umf_result_t cp_free(void *priv, void *ptr, size_t) {
    if (ptr) {
        static_cast<cxx_provider *>(priv)->frees++;
        std::free(ptr);
    }
    return UMF_RESULT_SUCCESS;
}

void cp_native(void *, const char **msg, int32_t *err) {
    *msg = "cxx provider";
    *err = 1234;
}

umf_result_t cp_page(void *, size_t, size_t *page) {
    *page = 4096;
    return UMF_RESULT_SUCCESS;
}

umf_result_t cp_min_page(void *, void *, size_t *page) {
    *page = 4096;
    return UMF_RESULT_SUCCESS;
}

const char *cp_name(void *) {
    return "cxx_provider";
}

umf_memory_provider_ops_t cxx_provider_ops() {
    // No designated initialisers before C++20: fill in member by member.
    umf_memory_provider_ops_t ops;
    std::memset(&ops, 0, sizeof(ops));
    ops.version = UMF_VERSION_CURRENT;
    ops.initialize = cp_initialize;
    ops.finalize = cp_finalize;
    ops.alloc = cp_alloc;
    ops.get_last_native_error = cp_native;
    ops.get_recommended_page_size = cp_page;
    ops.get_min_page_size = cp_min_page;
    ops.get_name = cp_name;
    ops.ext.free = cp_free;
    return ops;
}

// An aggregate-initialised table (positional, nested braces), as C++
// programs written for 0.10 do.
const umf_memory_provider_ops_t cxx_provider_ops_aggregate = {
    UMF_VERSION_CURRENT,
    cp_initialize,
    cp_finalize,
    cp_alloc,
    cp_native,
    cp_page,
    cp_min_page,
    cp_name,
    {cp_free, nullptr, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

// --- A pool written in C++: one provider allocation per request ---

struct cxx_pool {
    umf_memory_provider_handle_t provider;
};

thread_local umf_result_t pool_err = UMF_RESULT_SUCCESS;

umf_result_t pl_initialize(umf_memory_provider_handle_t provider, void *,
                           void **priv) {
    *priv = new cxx_pool{provider};
    return UMF_RESULT_SUCCESS;
}

void pl_finalize(void *priv) {
    delete static_cast<cxx_pool *>(priv);
}

void *pl_aligned_malloc(void *priv, size_t size, size_t alignment) {
    void *p = nullptr;
    pool_err = umfMemoryProviderAlloc(static_cast<cxx_pool *>(priv)->provider,
                                      size, alignment, &p);
    return pool_err == UMF_RESULT_SUCCESS ? p : nullptr;
}

void *pl_malloc(void *priv, size_t size) {
    return pl_aligned_malloc(priv, size, 0);
}

void *pl_calloc(void *, size_t, size_t) {
    pool_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return nullptr;
}

void *pl_realloc(void *, void *, size_t) {
    pool_err = UMF_RESULT_ERROR_NOT_SUPPORTED;
    return nullptr;
}

size_t pl_usable_size(void *, void *) {
    return 0;
}

umf_result_t pl_free(void *priv, void *ptr) {
    return umfMemoryProviderFree(static_cast<cxx_pool *>(priv)->provider, ptr,
                                 4096);
}

umf_result_t pl_last_error(void *) {
    return pool_err;
}

const umf_memory_pool_ops_t cxx_pool_ops = {
    UMF_VERSION_CURRENT, pl_initialize,  pl_finalize,
    pl_malloc,           pl_calloc,      pl_realloc,
    pl_aligned_malloc,   pl_usable_size, pl_free,
    pl_last_error};

} // namespace

#define CXX_CHECK(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            return __LINE__;                                                   \
        }                                                                      \
    } while (0)

static int check_values() {
    CXX_CHECK(umfGetCurrentVersion() == UMF_VERSION_CURRENT);
    CXX_CHECK(UMF_MAJOR_VERSION(umfGetCurrentVersion()) == 0);
    CXX_CHECK(UMF_MINOR_VERSION(umfGetCurrentVersion()) == 10);
    CXX_CHECK(UMF_OS_RESULTS_START_FROM == 1000);
    CXX_CHECK(UMF_OS_RESULT_SUCCESS == 1000);
    CXX_CHECK(UMF_PROTECTION_NONE == 1 && UMF_PROTECTION_READ == 2 &&
              UMF_PROTECTION_WRITE == 4 && UMF_PROTECTION_EXEC == 8);
    CXX_CHECK(UMF_POOL_CREATE_FLAG_OWN_PROVIDER == 1 &&
              UMF_POOL_CREATE_FLAG_FORCE_UINT32 == 0x7fffffff);
    return 0;
}

static int check_provider(const umf_memory_provider_ops_t *ops) {
    cxx_provider state;
    umf_memory_provider_handle_t h = nullptr;
    CXX_CHECK(umfMemoryProviderCreate(ops, &state, &h) == UMF_RESULT_SUCCESS);
    CXX_CHECK(h != nullptr && last_provider == &state);
    const char *name = umfMemoryProviderGetName(h);
    CXX_CHECK(name != nullptr && std::strcmp(name, "cxx_provider") == 0);
    void *p = nullptr;
    CXX_CHECK(umfMemoryProviderAlloc(h, 100, 0, &p) == UMF_RESULT_SUCCESS);
    CXX_CHECK(p != nullptr && reinterpret_cast<uintptr_t>(p) % 4096 == 0);
    std::memset(p, 0xab, 100);
    CXX_CHECK(umfMemoryProviderFree(h, p, 100) == UMF_RESULT_SUCCESS);
    CXX_CHECK(state.allocs == 1 && state.frees == 1);
    CXX_CHECK(umfMemoryProviderAlloc(h, 0, 0, &p) ==
              UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    CXX_CHECK(umfGetLastFailedMemoryProvider() == h);
    const char *msg = nullptr;
    int32_t err = 0;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    CXX_CHECK(msg != nullptr && std::strcmp(msg, "cxx provider") == 0);
    CXX_CHECK(err == 1234);
    size_t page = 0;
    CXX_CHECK(umfMemoryProviderGetRecommendedPageSize(h, 1, &page) ==
                  UMF_RESULT_SUCCESS &&
              page == 4096);
    // Optional ops left NULL: the front end answers NOT_SUPPORTED.
    char buf[16];
    CXX_CHECK(umfMemoryProviderPurgeLazy(h, buf, sizeof(buf)) ==
              UMF_RESULT_ERROR_NOT_SUPPORTED);
    CXX_CHECK(umfMemoryProviderAllocationSplit(h, buf, 16, 8) ==
              UMF_RESULT_ERROR_NOT_SUPPORTED);
    CXX_CHECK(umfMemoryProviderGetIPCHandleSize(h, &page) ==
              UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(h);
    CXX_CHECK(state.finalized == 1);
    return 0;
}

static int check_pool() {
    cxx_provider state;
    umf_memory_provider_ops_t ops = cxx_provider_ops();
    umf_memory_provider_handle_t prov = nullptr;
    CXX_CHECK(umfMemoryProviderCreate(&ops, &state, &prov) ==
              UMF_RESULT_SUCCESS);
    umf_memory_pool_handle_t pool = nullptr;
    CXX_CHECK(umfPoolCreate(&cxx_pool_ops, prov, nullptr,
                            UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                            &pool) == UMF_RESULT_SUCCESS);
    CXX_CHECK(pool != nullptr);
    umf_memory_provider_handle_t got = nullptr;
    CXX_CHECK(umfPoolGetMemoryProvider(pool, &got) == UMF_RESULT_SUCCESS &&
              got == prov);
    void *p = umfPoolMalloc(pool, 64);
    CXX_CHECK(p != nullptr);
    CXX_CHECK(umfPoolByPtr(p) == pool);
    CXX_CHECK(umfPoolByPtr(static_cast<char *>(p) + 63) == pool);
    CXX_CHECK(umfPoolCalloc(pool, 1, 1) == nullptr);
    CXX_CHECK(umfPoolGetLastAllocationError(pool) ==
              UMF_RESULT_ERROR_NOT_SUPPORTED);
    CXX_CHECK(umfFree(p) == UMF_RESULT_SUCCESS);
    // Not this pool's any more (under the proxy, the provider's malloc'd
    // memory still belongs to the proxy's pool).
    CXX_CHECK(umfPoolByPtr(p) != pool);
    CXX_CHECK(state.allocs == 1 && state.frees == 1);
    umfPoolDestroy(pool);
    CXX_CHECK(state.finalized == 1); // OWN_PROVIDER
    return 0;
}

static int check_os_and_proxy() {
    umf_memory_provider_ops_t *os = umfOsMemoryProviderOps();
    CXX_CHECK(os != nullptr && os->version == UMF_VERSION_CURRENT);
    umf_memory_pool_ops_t *proxy = umfProxyPoolOps();
    CXX_CHECK(proxy != nullptr && proxy->version == UMF_VERSION_CURRENT);
    umf_os_memory_provider_params_handle_t params = nullptr;
    CXX_CHECK(umfOsMemoryProviderParamsCreate(&params) == UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t prov = nullptr;
    CXX_CHECK(umfMemoryProviderCreate(os, params, &prov) == UMF_RESULT_SUCCESS);
    CXX_CHECK(umfOsMemoryProviderParamsDestroy(params) == UMF_RESULT_SUCCESS);
    CXX_CHECK(std::strcmp(umfMemoryProviderGetName(prov), "OS") == 0);
    umf_memory_pool_handle_t pool = nullptr;
    CXX_CHECK(umfPoolCreate(proxy, prov, nullptr,
                            UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                            &pool) == UMF_RESULT_SUCCESS);
    void *p = umfPoolAlignedMalloc(pool, 8192, 8192);
    CXX_CHECK(p != nullptr && reinterpret_cast<uintptr_t>(p) % 8192 == 0);
    CXX_CHECK(umfPoolFree(pool, p) == UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    return 0;
}

extern "C" int headers_cxx_check(void) {
    int r;
    if ((r = check_values()) != 0 ||
        (r = check_provider(&cxx_provider_ops_aggregate)) != 0) {
        return r;
    }
    umf_memory_provider_ops_t ops = cxx_provider_ops();
    if ((r = check_provider(&ops)) != 0 || (r = check_pool()) != 0 ||
        (r = check_os_and_proxy()) != 0) {
        return r;
    }
    return 0;
}
