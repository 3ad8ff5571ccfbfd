/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * headers_tu.c - one translation unit that includes every public header
 * (umf.h first, then each header, then each header twice more to exercise
 * the include guards) and pins at compile time what the contract fixes:
 * enum and macro values, include guards, the field order of the ops tables,
 * the layout of the split-partition structs and the exact prototype of
 * every declared function. It needs no library: main() repeats the value
 * checks at run time (plus the textual expansion of the version macros) and
 * calls a provider and a pool ops table written the way a user would.
 *
 * tests/test_headers_compile.sh compiles it as C99, C11, C17, gnu11, C++11 and
 * C++17 with -Wall -Wextra -Werror -pedantic and runs each program.
 */

#include <umf.h>

// --- What umf.h brings in by itself (contract section 1.1) ---
//
// umf.h includes memory_pool.h, memory_provider.h, mempolicy.h and
// memspace.h; those pull in base.h, memory_provider_ops.h and memtarget.h.
// Nothing else: the pool ops table, the proxy pool and the OS provider are
// separate headers.

#if !defined(UMF_UNIFIED_MEMORY_FRAMEWORK_H) || !defined(UMF_BASE_H) ||        \
    !defined(UMF_MEMORY_PROVIDER_OPS_H) || !defined(UMF_MEMORY_PROVIDER_H) ||  \
    !defined(UMF_MEMORY_POOL_H) || !defined(UMF_MEMPOLICY_H) ||                \
    !defined(UMF_MEMTARGET_H) || !defined(UMF_MEMSPACE_H)
#error "umf.h does not bring in the headers the contract lists"
#endif
#if defined(UMF_MEMORY_POOL_OPS_H) || defined(UMF_PROXY_MEMORY_POOL_H) ||      \
    defined(UMF_OS_MEMORY_PROVIDER_H) || defined(UMF_IPC_H)
#error "umf.h includes a header the contract does not list for it"
#endif

// --- Every header, then every header twice more ---

#include <umf/base.h>
#include <umf/memory_provider_ops.h>
#include <umf/memory_provider.h>
// umf_memory_pool_ops_t is typedef'd in memory_pool.h and again in
// memory_pool_ops.h, as the contract requires. C11 and C++ allow identical
// re-typedefs; C99 does not (6.7p3) and -pedantic reports it, so under C99
// that one diagnostic is switched off around the first inclusion.
#if !defined(__cplusplus) && defined(__STDC_VERSION__) &&                      \
    __STDC_VERSION__ < 201112L
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wtypedef-redefinition"
#pragma clang diagnostic ignored "-Wpedantic"
#include <umf/memory_pool_ops.h>
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <umf/memory_pool_ops.h>
#pragma GCC diagnostic pop
#else
#include <umf/memory_pool_ops.h>
#endif
#else
#include <umf/memory_pool_ops.h>
#endif
#include <umf/memory_pool.h>
#include <umf/ipc.h>
#include <umf/mempolicy.h>
#include <umf/memtarget.h>
#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/memory_provider_gpu.h>
#include <umf/providers/provider_cuda.h>
#include <umf/providers/provider_level_zero.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_scalable.h>

#include <umf.h>
#include <umf/base.h>
#include <umf/memory_provider_ops.h>
#include <umf/memory_provider.h>
#include <umf/memory_pool_ops.h>
#include <umf/memory_pool.h>
#include <umf/ipc.h>
#include <umf/mempolicy.h>
#include <umf/memtarget.h>
#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/memory_provider_gpu.h>
#include <umf/providers/provider_cuda.h>
#include <umf/providers/provider_level_zero.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_scalable.h>

#include <umf.h>
#include <umf/base.h>
#include <umf/memory_provider_ops.h>
#include <umf/memory_provider.h>
#include <umf/memory_pool_ops.h>
#include <umf/memory_pool.h>
#include <umf/ipc.h>
#include <umf/mempolicy.h>
#include <umf/memtarget.h>
#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/memory_provider_gpu.h>
#include <umf/providers/provider_cuda.h>
#include <umf/providers/provider_level_zero.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_scalable.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

// --- Include guards ---

#if UMF_UNIFIED_MEMORY_FRAMEWORK_H != 1 || UMF_BASE_H != 1 ||                  \
    UMF_MEMORY_PROVIDER_OPS_H != 1 || UMF_MEMORY_PROVIDER_H != 1 ||            \
    UMF_MEMORY_POOL_OPS_H != 1 || UMF_MEMORY_POOL_H != 1 ||                    \
    UMF_MEMPOLICY_H != 1 || UMF_MEMTARGET_H != 1 || UMF_MEMSPACE_H != 1 ||     \
    UMF_PROXY_MEMORY_POOL_H != 1 || UMF_JEMALLOC_MEMORY_POOL_H != 1 ||        \
    UMF_SCALABLE_MEMORY_POOL_H != 1 || UMF_IPC_H != 1
#error "an include guard macro is not defined to 1"
#endif
// pool_disjoint.h has no guard macro (#pragma once); its constant is
// checked below, with the other values.
#ifndef UMF_OS_MEMORY_PROVIDER_H
#error "UMF_OS_MEMORY_PROVIDER_H is not defined"
#endif
// The contract defines this one guard empty: ~(~X + 0) is 0 and ~(~X + 1)
// is 1 only when X expands to nothing.
#if ~(~UMF_OS_MEMORY_PROVIDER_H + 0) != 0 ||                                   \
    ~(~UMF_OS_MEMORY_PROVIDER_H + 1) != 1
#error "UMF_OS_MEMORY_PROVIDER_H is not defined empty"
#endif

#if UMF_MEMORY_PROVIDER_GPU_H != 1
#error "UMF_MEMORY_PROVIDER_GPU_H is not defined to 1"
#endif
#if !defined(UMF_PROVIDER_CUDA_H) || !defined(UMF_PROVIDER_LEVEL_ZERO_H)
#error "a GPU provider header guard is not defined"
#endif
#if ~(~UMF_PROVIDER_CUDA_H + 0) != 0 || ~(~UMF_PROVIDER_CUDA_H + 1) != 1 ||    \
    ~(~UMF_PROVIDER_LEVEL_ZERO_H + 0) != 0 ||                                  \
    ~(~UMF_PROVIDER_LEVEL_ZERO_H + 1) != 1
#error "a GPU provider header guard is not defined empty"
#endif

// --- Preprocessor-visible values ---

#if UMF_VERSION_CURRENT != 10
#error "UMF_VERSION_CURRENT is not 10"
#endif
#if UMF_MAKE_VERSION(0, 10) != 10 || UMF_MAKE_VERSION(1, 2) != 0x10002 ||      \
    UMF_MAKE_VERSION(3, 0x12345) != 0x32345
#error "UMF_MAKE_VERSION"
#endif
#if UMF_MAJOR_VERSION(0x50007) != 5 || UMF_MINOR_VERSION(0x50007) != 7 ||      \
    UMF_MAJOR_VERSION(UMF_VERSION_CURRENT) != 0 ||                             \
    UMF_MINOR_VERSION(UMF_VERSION_CURRENT) != 10
#error "UMF_MAJOR_VERSION / UMF_MINOR_VERSION"
#endif
#if UMF_OS_RESULTS_START_FROM != 1000
#error "UMF_OS_RESULTS_START_FROM is not 1000"
#endif
// No 1.0 ops-version macros in 0.10.
#if defined(UMF_POOL_OPS_VERSION_CURRENT) ||                                   \
    defined(UMF_PROVIDER_OPS_VERSION_CURRENT)
#error "0.10 headers define a 1.0 ops version macro"
#endif

// --- Compile-time assertions ---

#if defined(__cplusplus)
#define HT_ASSERT(cond, name) static_assert(cond, #name)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define HT_ASSERT(cond, name) _Static_assert(cond, #name)
#else
#define HT_ASSERT(cond, name) typedef char ht_assert_##name[(cond) ? 1 : -1]
#endif

HT_ASSERT(UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE == 8 &&
              sizeof(UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE) ==
                  sizeof(size_t),
          disjoint_min_bucket_default);

// umf_result_t
HT_ASSERT(UMF_RESULT_SUCCESS == 0, result_success);
HT_ASSERT(UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY == 1, result_oom);
HT_ASSERT(UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC == 2, result_specific);
HT_ASSERT(UMF_RESULT_ERROR_INVALID_ARGUMENT == 3, result_invalid_argument);
HT_ASSERT(UMF_RESULT_ERROR_INVALID_ALIGNMENT == 4, result_invalid_alignment);
HT_ASSERT(UMF_RESULT_ERROR_NOT_SUPPORTED == 5, result_not_supported);
HT_ASSERT(UMF_RESULT_ERROR_USER_SPECIFIC == 6, result_user_specific);
HT_ASSERT(UMF_RESULT_ERROR_UNKNOWN == 0x7ffffffe, result_unknown);

// umf_usm_memory_type_t
HT_ASSERT(UMF_MEMORY_TYPE_UNKNOWN == 0, usm_unknown);
HT_ASSERT(UMF_MEMORY_TYPE_HOST == 1, usm_host);
HT_ASSERT(UMF_MEMORY_TYPE_DEVICE == 2, usm_device);
HT_ASSERT(UMF_MEMORY_TYPE_SHARED == 3, usm_shared);

// umf_memory_visibility_t
HT_ASSERT(UMF_MEM_MAP_PRIVATE == 1, vis_private);
HT_ASSERT(UMF_MEM_MAP_SHARED == 2, vis_shared);

// umf_mem_protection_flags_t
HT_ASSERT(UMF_PROTECTION_NONE == 1, prot_none);
HT_ASSERT(UMF_PROTECTION_READ == 2, prot_read);
HT_ASSERT(UMF_PROTECTION_WRITE == 4, prot_write);
HT_ASSERT(UMF_PROTECTION_EXEC == 8, prot_exec);
HT_ASSERT(UMF_PROTECTION_MAX == 9, prot_max);

// umf_pool_create_flag_t and umf_pool_create_flags_t (uint32_t)
HT_ASSERT(UMF_POOL_CREATE_FLAG_NONE == 0, flag_none);
HT_ASSERT(UMF_POOL_CREATE_FLAG_OWN_PROVIDER == 1, flag_own_provider);
HT_ASSERT(UMF_POOL_CREATE_FLAG_DISABLE_TRACKING == 2, flag_disable_tracking);
HT_ASSERT(UMF_POOL_CREATE_FLAG_FORCE_UINT32 == 0x7fffffff, flag_force_uint32);
HT_ASSERT(sizeof(umf_pool_create_flags_t) == 4, flags_size);
HT_ASSERT((umf_pool_create_flags_t)-1 == UINT32_MAX, flags_unsigned);

// umf_numa_mode_t
HT_ASSERT(UMF_NUMA_MODE_DEFAULT == 0, numa_default);
HT_ASSERT(UMF_NUMA_MODE_BIND == 1, numa_bind);
HT_ASSERT(UMF_NUMA_MODE_INTERLEAVE == 2, numa_interleave);
HT_ASSERT(UMF_NUMA_MODE_PREFERRED == 3, numa_preferred);
HT_ASSERT(UMF_NUMA_MODE_SPLIT == 4, numa_split);
HT_ASSERT(UMF_NUMA_MODE_LOCAL == 5, numa_local);

// umf_os_memory_provider_native_error_t
HT_ASSERT(UMF_OS_RESULT_SUCCESS == 1000, os_success);
HT_ASSERT(UMF_OS_RESULT_ERROR_ALLOC_FAILED == 1001, os_alloc_failed);
HT_ASSERT(UMF_OS_RESULT_ERROR_ADDRESS_NOT_ALIGNED == 1002, os_not_aligned);
HT_ASSERT(UMF_OS_RESULT_ERROR_BIND_FAILED == 1003, os_bind_failed);
HT_ASSERT(UMF_OS_RESULT_ERROR_FREE_FAILED == 1004, os_free_failed);
HT_ASSERT(UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED == 1005, os_purge_lazy);
HT_ASSERT(UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED == 1006, os_purge_force);
HT_ASSERT(UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED == 1007, os_topo);

// umf_mempolicy_membind_t
HT_ASSERT(UMF_MEMPOLICY_INTERLEAVE == 0, policy_interleave);
HT_ASSERT(UMF_MEMPOLICY_BIND == 1, policy_bind);
HT_ASSERT(UMF_MEMPOLICY_PREFERRED == 2, policy_preferred);
HT_ASSERT(UMF_MEMPOLICY_SPLIT == 3, policy_split);

// umf_memtarget_type_t
HT_ASSERT(UMF_MEMTARGET_TYPE_UNKNOWN == 0, memtarget_unknown);
HT_ASSERT(UMF_MEMTARGET_TYPE_NUMA == 1, memtarget_numa);

// Version macros as integer constant expressions.
HT_ASSERT(UMF_VERSION_CURRENT == 10, version_current);
HT_ASSERT(UMF_MAKE_VERSION(0, 10) == UMF_VERSION_CURRENT, make_version);
HT_ASSERT(UMF_MAKE_VERSION(2, 0x1ffff) == 0x2ffff, make_version_mask);
HT_ASSERT(UMF_MAJOR_VERSION(UMF_MAKE_VERSION(7, 3)) == 7, major_version);
HT_ASSERT(UMF_MINOR_VERSION(UMF_MAKE_VERSION(7, 3)) == 3, minor_version);

// umf_memory_provider_ext_ops_t: free, purge_lazy, purge_force,
// allocation_merge, allocation_split; five pointers, nothing else.
#define EXT_OFF(m) offsetof(umf_memory_provider_ext_ops_t, m)
HT_ASSERT(EXT_OFF(free) == 0, ext_free_first);
HT_ASSERT(EXT_OFF(free) < EXT_OFF(purge_lazy), ext_order_1);
HT_ASSERT(EXT_OFF(purge_lazy) < EXT_OFF(purge_force), ext_order_2);
HT_ASSERT(EXT_OFF(purge_force) < EXT_OFF(allocation_merge), ext_order_3);
HT_ASSERT(EXT_OFF(allocation_merge) < EXT_OFF(allocation_split), ext_order_4);
HT_ASSERT(sizeof(umf_memory_provider_ext_ops_t) == 5 * sizeof(void (*)(void)),
          ext_size);

// umf_memory_provider_ipc_ops_t
#define IPC_OFF(m) offsetof(umf_memory_provider_ipc_ops_t, m)
HT_ASSERT(IPC_OFF(get_ipc_handle_size) == 0, ipc_size_first);
HT_ASSERT(IPC_OFF(get_ipc_handle_size) < IPC_OFF(get_ipc_handle), ipc_order_1);
HT_ASSERT(IPC_OFF(get_ipc_handle) < IPC_OFF(put_ipc_handle), ipc_order_2);
HT_ASSERT(IPC_OFF(put_ipc_handle) < IPC_OFF(open_ipc_handle), ipc_order_3);
HT_ASSERT(IPC_OFF(open_ipc_handle) < IPC_OFF(close_ipc_handle), ipc_order_4);
HT_ASSERT(sizeof(umf_memory_provider_ipc_ops_t) == 5 * sizeof(void (*)(void)),
          ipc_size);

// umf_memory_provider_ops_t: version, initialize, finalize, alloc,
// get_last_native_error, get_recommended_page_size, get_min_page_size,
// get_name, ext, ipc.
#define PROV_OFF(m) offsetof(umf_memory_provider_ops_t, m)
HT_ASSERT(PROV_OFF(version) == 0, prov_version_first);
HT_ASSERT(sizeof(((umf_memory_provider_ops_t *)0)->version) == 4,
          prov_version_size);
HT_ASSERT(PROV_OFF(version) < PROV_OFF(initialize), prov_order_1);
HT_ASSERT(PROV_OFF(initialize) < PROV_OFF(finalize), prov_order_2);
HT_ASSERT(PROV_OFF(finalize) < PROV_OFF(alloc), prov_order_3);
HT_ASSERT(PROV_OFF(alloc) < PROV_OFF(get_last_native_error), prov_order_4);
HT_ASSERT(PROV_OFF(get_last_native_error) < PROV_OFF(get_recommended_page_size),
          prov_order_5);
HT_ASSERT(PROV_OFF(get_recommended_page_size) < PROV_OFF(get_min_page_size),
          prov_order_6);
HT_ASSERT(PROV_OFF(get_min_page_size) < PROV_OFF(get_name), prov_order_7);
HT_ASSERT(PROV_OFF(get_name) < PROV_OFF(ext), prov_order_8);
HT_ASSERT(PROV_OFF(ext) < PROV_OFF(ipc), prov_order_9);
HT_ASSERT(PROV_OFF(ipc) + sizeof(umf_memory_provider_ipc_ops_t) ==
              sizeof(umf_memory_provider_ops_t),
          prov_ipc_last);
HT_ASSERT(PROV_OFF(ext) + sizeof(umf_memory_provider_ext_ops_t) ==
              PROV_OFF(ipc),
          prov_ext_then_ipc);

// umf_memory_pool_ops_t: version, initialize, finalize, malloc, calloc,
// realloc, aligned_malloc, malloc_usable_size, free,
// get_last_allocation_error.
#define POOL_OFF(m) offsetof(umf_memory_pool_ops_t, m)
HT_ASSERT(POOL_OFF(version) == 0, pool_version_first);
HT_ASSERT(sizeof(((umf_memory_pool_ops_t *)0)->version) == 4,
          pool_version_size);
HT_ASSERT(POOL_OFF(version) < POOL_OFF(initialize), pool_order_1);
HT_ASSERT(POOL_OFF(initialize) < POOL_OFF(finalize), pool_order_2);
HT_ASSERT(POOL_OFF(finalize) < POOL_OFF(malloc), pool_order_3);
HT_ASSERT(POOL_OFF(malloc) < POOL_OFF(calloc), pool_order_4);
HT_ASSERT(POOL_OFF(calloc) < POOL_OFF(realloc), pool_order_5);
HT_ASSERT(POOL_OFF(realloc) < POOL_OFF(aligned_malloc), pool_order_6);
HT_ASSERT(POOL_OFF(aligned_malloc) < POOL_OFF(malloc_usable_size),
          pool_order_7);
HT_ASSERT(POOL_OFF(malloc_usable_size) < POOL_OFF(free), pool_order_8);
HT_ASSERT(POOL_OFF(free) < POOL_OFF(get_last_allocation_error), pool_order_9);
HT_ASSERT(POOL_OFF(get_last_allocation_error) + sizeof(void (*)(void)) ==
              sizeof(umf_memory_pool_ops_t),
          pool_last);

// umf_numa_split_partition_t and umf_mempolicy_split_partition_t are cast
// to each other: identical layout, weight then target.
HT_ASSERT(sizeof(umf_numa_split_partition_t) ==
              sizeof(umf_mempolicy_split_partition_t),
          partition_size);
HT_ASSERT(sizeof(umf_numa_split_partition_t) == 2 * sizeof(unsigned),
          partition_two_unsigned);
HT_ASSERT(offsetof(umf_numa_split_partition_t, weight) == 0,
          numa_partition_weight);
HT_ASSERT(offsetof(umf_numa_split_partition_t, target) == sizeof(unsigned),
          numa_partition_target);
HT_ASSERT(offsetof(umf_mempolicy_split_partition_t, weight) == 0,
          policy_partition_weight);
HT_ASSERT(offsetof(umf_mempolicy_split_partition_t, target) == sizeof(unsigned),
          policy_partition_target);

// --- Every declared function, redeclared with the contract's prototype ---
//
// A differing parameter or return type (const-ness of pointees included)
// makes this a conflicting declaration, in C and in C++. Nothing here is
// called or referenced, so the program needs no library.

#ifdef __cplusplus
extern "C" {
#endif

int umfInit(void);
void umfTearDown(void);
int umfGetCurrentVersion(void);

umf_result_t umfMemoryProviderCreate(const umf_memory_provider_ops_t *ops,
                                     void *params,
                                     umf_memory_provider_handle_t *hProvider);
void umfMemoryProviderDestroy(umf_memory_provider_handle_t hProvider);
umf_result_t umfMemoryProviderAlloc(umf_memory_provider_handle_t hProvider,
                                    size_t size, size_t alignment, void **ptr);
umf_result_t umfMemoryProviderFree(umf_memory_provider_handle_t hProvider,
                                   void *ptr, size_t size);
void umfMemoryProviderGetLastNativeError(umf_memory_provider_handle_t hProvider,
                                         const char **ppMessage,
                                         int32_t *pError);
umf_result_t
umfMemoryProviderGetRecommendedPageSize(umf_memory_provider_handle_t hProvider,
                                        size_t size, size_t *pageSize);
umf_result_t
umfMemoryProviderGetMinPageSize(umf_memory_provider_handle_t hProvider,
                                void *ptr, size_t *pageSize);
umf_result_t umfMemoryProviderPurgeLazy(umf_memory_provider_handle_t hProvider,
                                        void *ptr, size_t size);
umf_result_t umfMemoryProviderPurgeForce(umf_memory_provider_handle_t hProvider,
                                         void *ptr, size_t size);
umf_result_t
umfMemoryProviderGetIPCHandleSize(umf_memory_provider_handle_t hProvider,
                                  size_t *size);
umf_result_t
umfMemoryProviderGetIPCHandle(umf_memory_provider_handle_t hProvider,
                              const void *ptr, size_t size,
                              void *providerIpcData);
umf_result_t
umfMemoryProviderPutIPCHandle(umf_memory_provider_handle_t hProvider,
                              void *providerIpcData);
umf_result_t
umfMemoryProviderOpenIPCHandle(umf_memory_provider_handle_t hProvider,
                               void *providerIpcData, void **ptr);
umf_result_t
umfMemoryProviderCloseIPCHandle(umf_memory_provider_handle_t hProvider,
                                void *ptr, size_t size);
const char *umfMemoryProviderGetName(umf_memory_provider_handle_t hProvider);
umf_memory_provider_handle_t umfGetLastFailedMemoryProvider(void);
umf_result_t
umfMemoryProviderAllocationSplit(umf_memory_provider_handle_t hProvider,
                                 void *ptr, size_t totalSize, size_t firstSize);
umf_result_t
umfMemoryProviderAllocationMerge(umf_memory_provider_handle_t hProvider,
                                 void *lowPtr, void *highPtr, size_t totalSize);

umf_result_t umfPoolCreate(const umf_memory_pool_ops_t *ops,
                           umf_memory_provider_handle_t provider, void *params,
                           umf_pool_create_flags_t flags,
                           umf_memory_pool_handle_t *hPool);
void umfPoolDestroy(umf_memory_pool_handle_t hPool);
void *umfPoolMalloc(umf_memory_pool_handle_t hPool, size_t size);
void *umfPoolAlignedMalloc(umf_memory_pool_handle_t hPool, size_t size,
                           size_t alignment);
void *umfPoolCalloc(umf_memory_pool_handle_t hPool, size_t num, size_t size);
void *umfPoolRealloc(umf_memory_pool_handle_t hPool, void *ptr, size_t size);
size_t umfPoolMallocUsableSize(umf_memory_pool_handle_t hPool, void *ptr);
umf_result_t umfPoolFree(umf_memory_pool_handle_t hPool, void *ptr);
umf_result_t umfFree(void *ptr);
umf_result_t umfPoolGetLastAllocationError(umf_memory_pool_handle_t hPool);
umf_memory_pool_handle_t umfPoolByPtr(const void *ptr);
umf_result_t umfPoolGetMemoryProvider(umf_memory_pool_handle_t hPool,
                                      umf_memory_provider_handle_t *hProvider);

umf_result_t umfPoolGetIPCHandleSize(umf_memory_pool_handle_t hPool,
                                     size_t *size);
umf_result_t umfGetIPCHandle(const void *ptr, umf_ipc_handle_t *ipcHandle,
                             size_t *size);
umf_result_t umfPutIPCHandle(umf_ipc_handle_t ipcHandle);
umf_result_t umfOpenIPCHandle(umf_ipc_handler_handle_t hIPCHandler,
                              umf_ipc_handle_t ipcHandle, void **ptr);
umf_result_t umfCloseIPCHandle(void *ptr);
umf_result_t umfPoolGetIPCHandler(umf_memory_pool_handle_t hPool,
                                  umf_ipc_handler_handle_t *hIPCHandler);

umf_result_t umfMempolicyCreate(umf_mempolicy_membind_t bind,
                                umf_mempolicy_handle_t *hPolicy);
umf_result_t umfMempolicyDestroy(umf_mempolicy_handle_t hPolicy);
umf_result_t umfMempolicySetInterleavePartSize(umf_mempolicy_handle_t hPolicy,
                                               size_t partSize);
umf_result_t
umfMempolicySetCustomSplitPartitions(umf_mempolicy_handle_t hPolicy,
                                     umf_mempolicy_split_partition_t *partList,
                                     size_t partListLen);

umf_result_t umfMemtargetGetType(umf_const_memtarget_handle_t hMemtarget,
                                 umf_memtarget_type_t *type);
umf_result_t umfMemtargetGetCapacity(umf_const_memtarget_handle_t hMemtarget,
                                     size_t *capacity);
umf_result_t umfMemtargetGetId(umf_const_memtarget_handle_t hMemtarget,
                               unsigned *id);

umf_result_t umfPoolCreateFromMemspace(umf_const_memspace_handle_t hMemspace,
                                       umf_const_mempolicy_handle_t hPolicy,
                                       umf_memory_pool_handle_t *hPool);
umf_result_t
umfMemoryProviderCreateFromMemspace(umf_const_memspace_handle_t hMemspace,
                                    umf_const_mempolicy_handle_t hPolicy,
                                    umf_memory_provider_handle_t *hProvider);
umf_result_t umfMemspaceCreateFromNumaArray(unsigned *nodeIds, size_t numIds,
                                            umf_memspace_handle_t *hMemspace);
void umfMemspaceDestroy(umf_memspace_handle_t hMemspace);
umf_const_memspace_handle_t umfMemspaceHostAllGet(void);
umf_const_memspace_handle_t umfMemspaceHighestCapacityGet(void);
umf_const_memspace_handle_t umfMemspaceHighestBandwidthGet(void);
umf_const_memspace_handle_t umfMemspaceLowestLatencyGet(void);
umf_result_t umfMemspaceNew(umf_memspace_handle_t *hMemspace);
size_t umfMemspaceMemtargetNum(umf_const_memspace_handle_t hMemspace);
umf_const_memtarget_handle_t
umfMemspaceMemtargetGet(umf_const_memspace_handle_t hMemspace,
                        unsigned targetNum);
umf_result_t umfMemspaceMemtargetAdd(umf_memspace_handle_t hMemspace,
                                     umf_const_memtarget_handle_t hMemtarget);
umf_result_t
umfMemspaceMemtargetRemove(umf_memspace_handle_t hMemspace,
                           umf_const_memtarget_handle_t hMemtarget);
umf_result_t umfMemspaceClone(umf_const_memspace_handle_t hMemspace,
                              umf_memspace_handle_t *hNewMemspace);
umf_result_t umfMemspaceFilterById(umf_memspace_handle_t hMemspace,
                                   unsigned *ids, size_t size);
umf_result_t umfMemspaceFilterByCapacity(umf_memspace_handle_t hMemspace,
                                         int64_t size);
umf_result_t umfMemspaceUserFilter(umf_memspace_handle_t hMemspace,
                                   umf_memspace_filter_func_t filter,
                                   void *args);

umf_result_t umfOsMemoryProviderParamsCreate(
    umf_os_memory_provider_params_handle_t *hParams);
umf_result_t umfOsMemoryProviderParamsDestroy(
    umf_os_memory_provider_params_handle_t hParams);
umf_result_t umfOsMemoryProviderParamsSetProtection(
    umf_os_memory_provider_params_handle_t hParams, unsigned protection);
umf_result_t umfOsMemoryProviderParamsSetVisibility(
    umf_os_memory_provider_params_handle_t hParams,
    umf_memory_visibility_t visibility);
umf_result_t umfOsMemoryProviderParamsSetShmName(
    umf_os_memory_provider_params_handle_t hParams, const char *shm_name);
umf_result_t umfOsMemoryProviderParamsSetNumaList(
    umf_os_memory_provider_params_handle_t hParams, unsigned *numa_list,
    unsigned numa_list_len);
umf_result_t umfOsMemoryProviderParamsSetNumaMode(
    umf_os_memory_provider_params_handle_t hParams, umf_numa_mode_t numa_mode);
umf_result_t umfOsMemoryProviderParamsSetPartSize(
    umf_os_memory_provider_params_handle_t hParams, size_t part_size);
umf_result_t umfOsMemoryProviderParamsSetPartitions(
    umf_os_memory_provider_params_handle_t hParams,
    umf_numa_split_partition_t *partitions, unsigned partitions_len);
umf_memory_provider_ops_t *umfOsMemoryProviderOps(void);

umf_memory_pool_ops_t *umfProxyPoolOps(void);

umf_result_t umfCUDAMemoryProviderParamsCreate(
    umf_cuda_memory_provider_params_handle_t *hParams);
umf_result_t umfCUDAMemoryProviderParamsDestroy(
    umf_cuda_memory_provider_params_handle_t hParams);
umf_result_t umfCUDAMemoryProviderParamsSetContext(
    umf_cuda_memory_provider_params_handle_t hParams, void *hContext);
umf_result_t umfCUDAMemoryProviderParamsSetDevice(
    umf_cuda_memory_provider_params_handle_t hParams, int hDevice);
umf_result_t umfCUDAMemoryProviderParamsSetMemoryType(
    umf_cuda_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType);
umf_memory_provider_ops_t *umfCUDAMemoryProviderOps(void);

umf_result_t umfLevelZeroMemoryProviderParamsCreate(
    umf_level_zero_memory_provider_params_handle_t *hParams);
umf_result_t umfLevelZeroMemoryProviderParamsDestroy(
    umf_level_zero_memory_provider_params_handle_t hParams);
umf_result_t umfLevelZeroMemoryProviderParamsSetContext(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_context_handle_t hContext);
umf_result_t umfLevelZeroMemoryProviderParamsSetDevice(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t hDevice);
umf_result_t umfLevelZeroMemoryProviderParamsSetMemoryType(
    umf_level_zero_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType);
umf_result_t umfLevelZeroMemoryProviderParamsSetResidentDevices(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t *hDevices, uint32_t deviceCount);
umf_memory_provider_ops_t *umfLevelZeroMemoryProviderOps(void);

#ifdef __cplusplus
}
#endif

// --- Handle types are pointers to the named (incomplete) structs ---

static struct umf_memory_provider_t *const ht_h_provider =
    (umf_memory_provider_handle_t)0;
static struct umf_memory_pool_t *const ht_h_pool = (umf_memory_pool_handle_t)0;
static struct umf_mempolicy_t *const ht_h_policy = (umf_mempolicy_handle_t)0;
static const struct umf_mempolicy_t *const ht_h_cpolicy =
    (umf_const_mempolicy_handle_t)0;
static struct umf_memtarget_t *const ht_h_target = (umf_memtarget_handle_t)0;
static const struct umf_memtarget_t *const ht_h_ctarget =
    (umf_const_memtarget_handle_t)0;
static struct umf_memspace_t *const ht_h_space = (umf_memspace_handle_t)0;
static const struct umf_memspace_t *const ht_h_cspace =
    (umf_const_memspace_handle_t)0;
static struct umf_os_memory_provider_params_t *const ht_h_osparams =
    (umf_os_memory_provider_params_handle_t)0;
static struct umf_cuda_memory_provider_params_t *const ht_h_cuparams =
    (umf_cuda_memory_provider_params_handle_t)0;
static struct umf_level_zero_memory_provider_params_t *const ht_h_zeparams =
    (umf_level_zero_memory_provider_params_handle_t)0;
// Level Zero's handle types, spelled as ze_api.h spells them.
static struct _ze_device_handle_t *const ht_h_zedev = (ze_device_handle_t)0;
static struct _ze_context_handle_t *const ht_h_zectx = (ze_context_handle_t)0;

// --- A user-written provider and pool ---

static int ht_calls;

static umf_result_t ht_initialize(void *params, void **provider) {
    *provider = params;
    ht_calls++;
    return UMF_RESULT_SUCCESS;
}
static void ht_finalize(void *provider) {
    (void)provider;
    ht_calls++;
}
static umf_result_t ht_alloc(void *provider, size_t size, size_t alignment,
                             void **ptr) {
    (void)provider, (void)size, (void)alignment;
    *ptr = NULL;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}
static void ht_native(void *provider, const char **ppMessage, int32_t *pError) {
    (void)provider;
    *ppMessage = "ht";
    *pError = 77;
}
static umf_result_t ht_rec_page(void *provider, size_t size, size_t *pageSize) {
    (void)provider, (void)size;
    *pageSize = 4096;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_min_page(void *provider, void *ptr, size_t *pageSize) {
    (void)provider, (void)ptr;
    *pageSize = 4096;
    return UMF_RESULT_SUCCESS;
}
static const char *ht_name(void *provider) {
    (void)provider;
    return "headers_tu";
}
static umf_result_t ht_free(void *provider, void *ptr, size_t size) {
    (void)provider, (void)ptr, (void)size;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_purge_lazy(void *provider, void *ptr, size_t size) {
    (void)provider, (void)ptr, (void)size;
    return UMF_RESULT_ERROR_USER_SPECIFIC;
}
static umf_result_t ht_purge_force(void *provider, void *ptr, size_t size) {
    (void)provider, (void)ptr, (void)size;
    return UMF_RESULT_ERROR_UNKNOWN;
}
static umf_result_t ht_merge(void *hProvider, void *lowPtr, void *highPtr,
                             size_t totalSize) {
    (void)hProvider, (void)lowPtr, (void)highPtr, (void)totalSize;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_split(void *hProvider, void *ptr, size_t totalSize,
                             size_t firstSize) {
    (void)hProvider, (void)ptr, (void)totalSize, (void)firstSize;
    return UMF_RESULT_ERROR_INVALID_ARGUMENT;
}
static umf_result_t ht_ipc_size(void *provider, size_t *size) {
    (void)provider;
    *size = 24;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_ipc_get(void *provider, const void *ptr, size_t size,
                               void *providerIpcData) {
    (void)provider, (void)ptr, (void)size, (void)providerIpcData;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_ipc_put(void *provider, void *providerIpcData) {
    (void)provider, (void)providerIpcData;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_ipc_open(void *provider, void *providerIpcData,
                                void **ptr) {
    (void)provider, (void)providerIpcData;
    *ptr = NULL;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t ht_ipc_close(void *provider, void *ptr, size_t size) {
    (void)provider, (void)ptr, (void)size;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t htp_initialize(umf_memory_provider_handle_t provider,
                                   void *params, void **pool) {
    (void)provider;
    *pool = params;
    return UMF_RESULT_SUCCESS;
}
static void htp_finalize(void *pool) {
    (void)pool;
}
static void *htp_malloc(void *pool, size_t size) {
    (void)pool, (void)size;
    return NULL;
}
static void *htp_calloc(void *pool, size_t num, size_t size) {
    (void)pool, (void)num, (void)size;
    return NULL;
}
static void *htp_realloc(void *pool, void *ptr, size_t size) {
    (void)pool, (void)ptr, (void)size;
    return NULL;
}
static void *htp_aligned_malloc(void *pool, size_t size, size_t alignment) {
    (void)pool, (void)size, (void)alignment;
    return NULL;
}
static size_t htp_usable_size(void *pool, void *ptr) {
    (void)pool, (void)ptr;
    return 123;
}
static umf_result_t htp_free(void *pool, void *ptr) {
    (void)pool, (void)ptr;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t htp_last_error(void *pool) {
    (void)pool;
    return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
}

static int ht_filter(umf_const_memspace_handle_t hMemspace,
                     umf_const_memtarget_handle_t hMemtarget, void *args) {
    (void)hMemspace, (void)hMemtarget, (void)args;
    return 1;
}

#ifndef __cplusplus
// Designated initialisers, nested .ext. and .ipc. members, as in C programs
// and in STYLE.md.
static const umf_memory_provider_ops_t ht_provider_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = ht_initialize,
    .finalize = ht_finalize,
    .alloc = ht_alloc,
    .get_last_native_error = ht_native,
    .get_recommended_page_size = ht_rec_page,
    .get_min_page_size = ht_min_page,
    .get_name = ht_name,
    .ext.free = ht_free,
    .ext.purge_lazy = ht_purge_lazy,
    .ext.purge_force = ht_purge_force,
    .ext.allocation_merge = ht_merge,
    .ext.allocation_split = ht_split,
    .ipc.get_ipc_handle_size = ht_ipc_size,
    .ipc.get_ipc_handle = ht_ipc_get,
    .ipc.put_ipc_handle = ht_ipc_put,
    .ipc.open_ipc_handle = ht_ipc_open,
    .ipc.close_ipc_handle = ht_ipc_close,
};

static const umf_memory_pool_ops_t ht_pool_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = htp_initialize,
    .finalize = htp_finalize,
    .malloc = htp_malloc,
    .calloc = htp_calloc,
    .realloc = htp_realloc,
    .aligned_malloc = htp_aligned_malloc,
    .malloc_usable_size = htp_usable_size,
    .free = htp_free,
    .get_last_allocation_error = htp_last_error,
};
#endif

// Positional initialisers: every member's type is checked in order (C++11
// has no designated initialisers; C accepts these too).
static const umf_memory_provider_ops_t ht_provider_ops_pos = {
    UMF_VERSION_CURRENT,
    ht_initialize,
    ht_finalize,
    ht_alloc,
    ht_native,
    ht_rec_page,
    ht_min_page,
    ht_name,
    {ht_free, ht_purge_lazy, ht_purge_force, ht_merge, ht_split},
    {ht_ipc_size, ht_ipc_get, ht_ipc_put, ht_ipc_open, ht_ipc_close}};

static const umf_memory_pool_ops_t ht_pool_ops_pos = {
    UMF_VERSION_CURRENT, htp_initialize,  htp_finalize,
    htp_malloc,          htp_calloc,      htp_realloc,
    htp_aligned_malloc,  htp_usable_size, htp_free,
    htp_last_error};

static const umf_memspace_filter_func_t ht_filter_fn = ht_filter;

// --- Run-time checks ---

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
        }                                                                      \
    } while (0)

#define STR(x)  STR_(x)
#define STR_(x) #x

static void check_values(void) {
    CHECK(UMF_VERSION_CURRENT == 10);
    CHECK(UMF_RESULT_SUCCESS == 0);
    CHECK(UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY == 1);
    CHECK(UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC == 2);
    CHECK(UMF_RESULT_ERROR_INVALID_ARGUMENT == 3);
    CHECK(UMF_RESULT_ERROR_INVALID_ALIGNMENT == 4);
    CHECK(UMF_RESULT_ERROR_NOT_SUPPORTED == 5);
    CHECK(UMF_RESULT_ERROR_USER_SPECIFIC == 6);
    CHECK(UMF_RESULT_ERROR_UNKNOWN == 0x7ffffffe);
    CHECK(UMF_MEM_MAP_PRIVATE == 1 && UMF_MEM_MAP_SHARED == 2);
    CHECK(UMF_PROTECTION_NONE == 1 && UMF_PROTECTION_READ == 2 &&
          UMF_PROTECTION_WRITE == 4 && UMF_PROTECTION_EXEC == 8 &&
          UMF_PROTECTION_MAX == 9);
    CHECK(UMF_POOL_CREATE_FLAG_NONE == 0 &&
          UMF_POOL_CREATE_FLAG_OWN_PROVIDER == 1 &&
          UMF_POOL_CREATE_FLAG_DISABLE_TRACKING == 2 &&
          UMF_POOL_CREATE_FLAG_FORCE_UINT32 == 0x7fffffff);
    CHECK(UMF_NUMA_MODE_DEFAULT == 0 && UMF_NUMA_MODE_BIND == 1 &&
          UMF_NUMA_MODE_INTERLEAVE == 2 && UMF_NUMA_MODE_PREFERRED == 3 &&
          UMF_NUMA_MODE_SPLIT == 4 && UMF_NUMA_MODE_LOCAL == 5);
    CHECK(UMF_OS_RESULTS_START_FROM == 1000);
    CHECK(UMF_OS_RESULT_SUCCESS == 1000 &&
          UMF_OS_RESULT_ERROR_ALLOC_FAILED == 1001 &&
          UMF_OS_RESULT_ERROR_ADDRESS_NOT_ALIGNED == 1002 &&
          UMF_OS_RESULT_ERROR_BIND_FAILED == 1003 &&
          UMF_OS_RESULT_ERROR_FREE_FAILED == 1004 &&
          UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED == 1005 &&
          UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED == 1006 &&
          UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED == 1007);
    CHECK(UMF_MEMPOLICY_INTERLEAVE == 0 && UMF_MEMPOLICY_BIND == 1 &&
          UMF_MEMPOLICY_PREFERRED == 2 && UMF_MEMPOLICY_SPLIT == 3);
    CHECK(UMF_MEMTARGET_TYPE_UNKNOWN == 0 && UMF_MEMTARGET_TYPE_NUMA == 1);

    // The version macros expand exactly as the contract writes them (it
    // says to keep their arguments unparenthesised).
    CHECK(strcmp(STR(UMF_MAKE_VERSION(a, b)),
                 "((a << 16) | (b & 0x0000ffff))") == 0);
    CHECK(strcmp(STR(UMF_MAJOR_VERSION(v)), "(v >> 16)") == 0);
    CHECK(strcmp(STR(UMF_MINOR_VERSION(v)), "(v & 0x0000ffff)") == 0);
    CHECK(strcmp(STR(UMF_VERSION_CURRENT), "((0 << 16) | (10 & 0x0000ffff))") ==
          0);
    CHECK(strcmp(STR(UMF_OS_RESULTS_START_FROM), "1000") == 0);
    CHECK(UMF_MAJOR_VERSION(UMF_MAKE_VERSION(3, 7)) == 3);
    CHECK(UMF_MINOR_VERSION(UMF_MAKE_VERSION(3, 7)) == 7);

    // Layout facts, again at run time.
    CHECK(offsetof(umf_memory_provider_ext_ops_t, allocation_merge) <
          offsetof(umf_memory_provider_ext_ops_t, allocation_split));
    CHECK(offsetof(umf_memory_provider_ops_t, get_last_native_error) <
          offsetof(umf_memory_provider_ops_t, get_recommended_page_size));
    CHECK(offsetof(umf_memory_provider_ops_t, ext) <
          offsetof(umf_memory_provider_ops_t, ipc));
    CHECK(offsetof(umf_memory_pool_ops_t, malloc_usable_size) <
          offsetof(umf_memory_pool_ops_t, free));
    CHECK(sizeof(umf_numa_split_partition_t) ==
          sizeof(umf_mempolicy_split_partition_t));

    // The two partition structs really are interchangeable.
    umf_mempolicy_split_partition_t mp[2] = {{3, 1}, {5, 0}};
    const umf_numa_split_partition_t *np =
        (const umf_numa_split_partition_t *)(const void *)mp;
    CHECK(np[0].weight == 3 && np[0].target == 1);
    CHECK(np[1].weight == 5 && np[1].target == 0);

    umf_pool_create_flags_t flags = 0;
    flags -= 1;
    CHECK(flags == UINT32_MAX);
    umf_memory_provider_ops_t o;
    memset(&o, 0, sizeof(o));
    o.version -= 1;
    CHECK(o.version == UINT32_MAX); // uint32_t
}

static void check_provider_table(const umf_memory_provider_ops_t *ops) {
    void *priv = NULL;
    int tag = 5;
    size_t ps = 0;
    const char *msg = NULL;
    int32_t err = 0;
    void *p = &tag;

    CHECK(ops->version == UMF_VERSION_CURRENT);
    CHECK(ops->initialize(&tag, &priv) == UMF_RESULT_SUCCESS && priv == &tag);
    CHECK(ops->alloc(priv, 1, 0, &p) == UMF_RESULT_ERROR_NOT_SUPPORTED &&
          p == NULL);
    ops->get_last_native_error(priv, &msg, &err);
    CHECK(msg != NULL && strcmp(msg, "ht") == 0 && err == 77);
    CHECK(ops->get_recommended_page_size(priv, 1, &ps) == UMF_RESULT_SUCCESS &&
          ps == 4096);
    CHECK(ops->get_min_page_size(priv, NULL, &ps) == UMF_RESULT_SUCCESS);
    CHECK(strcmp(ops->get_name(priv), "headers_tu") == 0);
    CHECK(ops->ext.free(priv, NULL, 0) == UMF_RESULT_SUCCESS);
    CHECK(ops->ext.purge_lazy(priv, NULL, 0) == UMF_RESULT_ERROR_USER_SPECIFIC);
    CHECK(ops->ext.purge_force(priv, NULL, 0) == UMF_RESULT_ERROR_UNKNOWN);
    CHECK(ops->ext.allocation_merge == ht_merge);
    CHECK(ops->ext.allocation_split == ht_split);
    CHECK(ops->ext.allocation_split(priv, NULL, 2, 1) ==
          UMF_RESULT_ERROR_INVALID_ARGUMENT);
    CHECK(ops->ipc.get_ipc_handle_size(priv, &ps) == UMF_RESULT_SUCCESS &&
          ps == 24);
    CHECK(ops->ipc.get_ipc_handle == ht_ipc_get);
    CHECK(ops->ipc.put_ipc_handle == ht_ipc_put);
    CHECK(ops->ipc.open_ipc_handle == ht_ipc_open);
    CHECK(ops->ipc.close_ipc_handle == ht_ipc_close);
    ops->finalize(priv);
}

static void check_pool_table(const umf_memory_pool_ops_t *ops) {
    void *priv = NULL;
    int tag = 9;
    CHECK(ops->version == UMF_VERSION_CURRENT);
    CHECK(ops->initialize(ht_h_provider, &tag, &priv) == UMF_RESULT_SUCCESS &&
          priv == &tag);
    CHECK(ops->malloc == htp_malloc && ops->calloc == htp_calloc &&
          ops->realloc == htp_realloc &&
          ops->aligned_malloc == htp_aligned_malloc);
    CHECK(ops->malloc_usable_size(priv, NULL) == 123);
    CHECK(ops->free(priv, NULL) == UMF_RESULT_SUCCESS);
    CHECK(ops->get_last_allocation_error(priv) ==
          UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ops->finalize(priv);
}

int main(void) {
    check_values();
    ht_calls = 0;
    check_provider_table(&ht_provider_ops_pos);
    check_pool_table(&ht_pool_ops_pos);
#ifndef __cplusplus
    check_provider_table(&ht_provider_ops);
    check_pool_table(&ht_pool_ops);
    // Designated and positional tables put every op in the same member.
    CHECK(ht_provider_ops.get_last_native_error ==
              ht_provider_ops_pos.get_last_native_error &&
          ht_provider_ops.get_recommended_page_size ==
              ht_provider_ops_pos.get_recommended_page_size &&
          ht_provider_ops.ext.purge_force ==
              ht_provider_ops_pos.ext.purge_force &&
          ht_provider_ops.ext.allocation_merge ==
              ht_provider_ops_pos.ext.allocation_merge &&
          ht_provider_ops.ipc.open_ipc_handle ==
              ht_provider_ops_pos.ipc.open_ipc_handle);
    CHECK(ht_pool_ops.malloc_usable_size ==
              ht_pool_ops_pos.malloc_usable_size &&
          ht_pool_ops.free == ht_pool_ops_pos.free);
    CHECK(ht_calls == 4);
#else
    CHECK(ht_calls == 2);
#endif
    CHECK(ht_filter_fn(ht_h_cspace, ht_h_ctarget, NULL) == 1);
    CHECK(ht_h_pool == NULL && ht_h_policy == NULL && ht_h_cpolicy == NULL &&
          ht_h_target == NULL && ht_h_space == NULL && ht_h_osparams == NULL);
    CHECK(ht_h_cuparams == NULL && ht_h_zeparams == NULL &&
          ht_h_zedev == NULL && ht_h_zectx == NULL);
    CHECK(UMF_MEMORY_TYPE_UNKNOWN == 0 && UMF_MEMORY_TYPE_HOST == 1 &&
          UMF_MEMORY_TYPE_DEVICE == 2 && UMF_MEMORY_TYPE_SHARED == 3);
    if (failures) {
        fprintf(stderr, "headers_tu: %d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
