/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_cuda.c - the CUDA memory provider: host (cuMemAllocHost),
 * device (cuMemAlloc) or managed (cuMemAllocManaged, attached globally)
 * memory of one CUDA context, through the CUDA driver API.
 *
 * The driver is found at run time (gpu_loader.h: UMF_CUDA_LIB, then the
 * global namespace, then libcuda.so.1), once per process; without it,
 * creating a provider fails with UNKNOWN and one log line naming the
 * library, and nothing else changes.
 *
 * Every driver call runs with the provider's context current on the
 * calling thread, and the thread's own current context (possibly none) is
 * restored afterwards, so a pool never disturbs its caller's CUDA state.
 *
 * Alignment: the driver takes none. Requests above the minimum allocation
 * granularity are NOT_SUPPORTED; smaller ones are checked on the result,
 * which is freed again (INVALID_ALIGNMENT) when it does not meet them.
 *
 * Native errors are per thread: the CUresult and "<name> - <string>" as
 * cuGetErrorName / cuGetErrorString give them.
 *
 * No locks: the provider's state is read-only after creation.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <umf/providers/provider_cuda.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "providers/cuda_abi.h"
#include "providers/gpu_loader.h"

// --- The driver ---

typedef struct cu_api_t {
    cu_ctx_get_current_fn ctx_get_current;
    cu_ctx_set_current_fn ctx_set_current;
    cu_mem_alloc_fn mem_alloc;
    cu_mem_alloc_host_fn mem_alloc_host;
    cu_mem_alloc_managed_fn mem_alloc_managed;
    cu_mem_free_fn mem_free;
    cu_mem_free_host_fn mem_free_host;
    cu_mem_get_allocation_granularity_fn mem_get_allocation_granularity;
    cu_get_error_name_fn get_error_name;
    cu_get_error_string_fn get_error_string;
    cu_ipc_get_mem_handle_fn ipc_get_mem_handle;
    cu_ipc_open_mem_handle_fn ipc_open_mem_handle;
    cu_ipc_close_mem_handle_fn ipc_close_mem_handle;
} cu_api_t;

#define CU_SYM(name, field)                                                    \
    { name, offsetof(cu_api_t, field), false }

// cuCtxGetCurrent first: it is the probe for the global namespace.
static const gpu_sym_t cu_syms[] = {
    CU_SYM("cuCtxGetCurrent", ctx_get_current),
    CU_SYM("cuCtxSetCurrent", ctx_set_current),
    CU_SYM("cuMemAlloc_v2", mem_alloc),
    CU_SYM("cuMemAllocHost_v2", mem_alloc_host),
    CU_SYM("cuMemAllocManaged", mem_alloc_managed),
    CU_SYM("cuMemFree_v2", mem_free),
    CU_SYM("cuMemFreeHost", mem_free_host),
    CU_SYM("cuMemGetAllocationGranularity", mem_get_allocation_granularity),
    CU_SYM("cuGetErrorName", get_error_name),
    CU_SYM("cuGetErrorString", get_error_string),
    CU_SYM("cuIpcGetMemHandle", ipc_get_mem_handle),
    CU_SYM("cuIpcOpenMemHandle_v2", ipc_open_mem_handle),
    CU_SYM("cuIpcCloseMemHandle", ipc_close_mem_handle),
};

static cu_api_t cu_api;
static gpu_loader_t cu_loader = {
    .what = "CUDA driver",
    .env = "UMF_CUDA_LIB",
    .soname = "libcuda.so.1",
    .fix = "install the NVIDIA driver (libcuda.so.1) or set UMF_CUDA_LIB to "
           "the library's path",
    .syms = cu_syms,
    .nsyms = ARRAY_SIZE(cu_syms),
    .api = &cu_api,
};
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;

static void cu_load_once(void) {
    gpu_loader_run(&cu_loader);
}

// --- Native errors ---

static __thread struct {
    int32_t code;
    char msg[192];
} tls_cu_native;

// Maps a failed CUresult; others are recorded as the native error.
static umf_result_t cu_result(cu_result_t r) {
    switch (r) {
    case CUDA_SUCCESS:
        return UMF_RESULT_SUCCESS;
    case CUDA_ERROR_OUT_OF_MEMORY:
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_HANDLE:
    case CUDA_ERROR_INVALID_RESOURCE_TYPE:
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    default:
        break;
    }
    const char *name = NULL;
    const char *text = NULL;
    if (cu_api.get_error_name(r, &name) != CUDA_SUCCESS || !name) {
        name = "unknown CUresult";
    }
    if (cu_api.get_error_string(r, &text) != CUDA_SUCCESS || !text) {
        text = "no description";
    }
    tls_cu_native.code = r;
    snprintf(tls_cu_native.msg, sizeof(tls_cu_native.msg), "%s - %s", name,
             text);
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static void cu_get_last_native_error(void *priv, const char **msg,
                                     int32_t *err) {
    (void)priv;
    if (tls_cu_native.code == 0) {
        *msg = "CUDA_SUCCESS - no error";
        *err = 0;
        return;
    }
    *msg = tls_cu_native.msg;
    *err = tls_cu_native.code;
}

// --- Params ---

struct umf_cuda_memory_provider_params_t {
    void *context;
    int device;
    umf_usm_memory_type_t type;
};

#define CHECK_PARAMS(h)                                                        \
    CHECK_ARG((h) != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL")

UMF_EXPORT umf_result_t umfCUDAMemoryProviderParamsCreate(
    umf_cuda_memory_provider_params_handle_t *hParams) {
    CHECK_PARAMS(hParams);
    umf_cuda_memory_provider_params_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->device = -1;
    p->type = UMF_MEMORY_TYPE_UNKNOWN;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfCUDAMemoryProviderParamsDestroy(
    umf_cuda_memory_provider_params_handle_t hParams) {
    ba_free(hParams);
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfCUDAMemoryProviderParamsSetContext(
    umf_cuda_memory_provider_params_handle_t hParams, void *hContext) {
    CHECK_PARAMS(hParams);
    hParams->context = hContext; // NULL is refused at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfCUDAMemoryProviderParamsSetDevice(
    umf_cuda_memory_provider_params_handle_t hParams, int hDevice) {
    CHECK_PARAMS(hParams);
    hParams->device = hDevice;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfCUDAMemoryProviderParamsSetMemoryType(
    umf_cuda_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType) {
    CHECK_PARAMS(hParams);
    hParams->type = memoryType; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

// --- Provider state and the context guard ---

typedef struct cu_provider_t {
    cu_context_t context;
    int device;
    umf_usm_memory_type_t type;
    size_t min_granularity; // min page size; the largest alignment taken
    size_t rec_granularity; // recommended page size
} cu_provider_t;

// Makes the provider's context current on this thread; *saved receives
// the thread's own, which cu_ctx_leave puts back.
static umf_result_t cu_ctx_enter(const cu_provider_t *cu, cu_context_t *saved) {
    cu_result_t r = cu_api.ctx_get_current(saved);
    if (r != CUDA_SUCCESS) {
        return cu_result(r);
    }
    if (*saved != cu->context) {
        r = cu_api.ctx_set_current(cu->context);
        if (r != CUDA_SUCCESS) {
            LOG_ERR("cuCtxSetCurrent(%p) failed (CUresult %d)",
                    (void *)cu->context, r);
            return cu_result(r);
        }
    }
    return UMF_RESULT_SUCCESS;
}

static void cu_ctx_leave(const cu_provider_t *cu, cu_context_t saved) {
    if (saved != cu->context) {
        cu_result_t r = cu_api.ctx_set_current(saved);
        if (r != CUDA_SUCCESS) {
            LOG_ERR("restoring the caller's CUDA context %p failed "
                    "(CUresult %d)",
                    (void *)saved, r);
        }
    }
}

static umf_result_t cu_granularity(cu_provider_t *cu, int option, size_t *out) {
    cu_mem_allocation_prop_t prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = cu->device;
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    cu_result_t r = cu_api.mem_get_allocation_granularity(out, &prop, option);
    cu_ctx_leave(cu, saved);
    return cu_result(r);
}

static umf_result_t cu_initialize(void *params, void **priv) {
    umf_cuda_memory_provider_params_handle_t p = params;
    CHECK_ARG(p != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "CUDA provider: params are NULL "
              "(umfCUDAMemoryProviderParamsCreate)");
    CHECK_ARG(p->type >= UMF_MEMORY_TYPE_HOST &&
                  p->type <= UMF_MEMORY_TYPE_SHARED,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "CUDA provider: memory type %d is not HOST, DEVICE or SHARED "
              "(umfCUDAMemoryProviderParamsSetMemoryType)",
              (int)p->type);
    CHECK_ARG(p->context != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "CUDA provider: no context "
              "(umfCUDAMemoryProviderParamsSetContext)");
    CHECK_ARG(
        p->device >= 0, UMF_RESULT_ERROR_INVALID_ARGUMENT,
        "CUDA provider: no device (umfCUDAMemoryProviderParamsSetDevice)");

    pthread_once(&cu_once, cu_load_once);
    if (cu_loader.result != UMF_RESULT_SUCCESS) {
        LOG_ERR("CUDA provider: %s", cu_loader.error);
        return cu_loader.result;
    }

    cu_provider_t *cu = ba_calloc(1, sizeof(*cu));
    if (!cu) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    cu->context = p->context;
    cu->device = p->device;
    cu->type = p->type;
    umf_result_t ret = cu_granularity(cu, CU_MEM_ALLOC_GRANULARITY_MINIMUM,
                                      &cu->min_granularity);
    if (ret == UMF_RESULT_SUCCESS) {
        ret = cu_granularity(cu, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED,
                             &cu->rec_granularity);
    }
    if (ret == UMF_RESULT_SUCCESS &&
        (!is_pow2(cu->min_granularity) || !is_pow2(cu->rec_granularity))) {
        LOG_ERR("CUDA provider: the driver's granularities (%zu, %zu) are "
                "not powers of two",
                cu->min_granularity, cu->rec_granularity);
        ret = UMF_RESULT_ERROR_UNKNOWN;
    }
    if (ret != UMF_RESULT_SUCCESS) {
        LOG_ERR("CUDA provider: cuMemGetAllocationGranularity for device %d "
                "failed (%d)",
                cu->device, (int)ret);
        ba_free(cu);
        return ret;
    }
    *priv = cu;
    return UMF_RESULT_SUCCESS;
}

static void cu_finalize(void *priv) {
    ba_free(priv);
}

// --- Allocation ---

// pre: the provider's context is current.
static cu_result_t cu_free_raw(const cu_provider_t *cu, void *ptr) {
    if (cu->type == UMF_MEMORY_TYPE_HOST) {
        return cu_api.mem_free_host(ptr);
    }
    return cu_api.mem_free((cu_deviceptr_t)(uintptr_t)ptr);
}

static umf_result_t cu_alloc(void *priv, size_t size, size_t alignment,
                             void **out) {
    cu_provider_t *cu = priv;
    if (alignment && !is_pow2(alignment)) {
        LOG_ERR("CUDA provider: alignment %zu is not a power of two",
                alignment);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (alignment > cu->min_granularity) {
        LOG_ERR("CUDA provider: alignment %zu is above the driver's "
                "allocation granularity %zu",
                alignment, cu->min_granularity);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    void *ptr = NULL;
    cu_deviceptr_t dptr = 0;
    cu_result_t r;
    switch (cu->type) {
    case UMF_MEMORY_TYPE_HOST:
        r = cu_api.mem_alloc_host(&ptr, size);
        break;
    case UMF_MEMORY_TYPE_DEVICE:
        r = cu_api.mem_alloc(&dptr, size);
        ptr = (void *)(uintptr_t)dptr;
        break;
    default: // SHARED (creation refused every other type)
        r = cu_api.mem_alloc_managed(&dptr, size, CU_MEM_ATTACH_GLOBAL);
        ptr = (void *)(uintptr_t)dptr;
        break;
    }
    ret = cu_result(r);
    if (ret == UMF_RESULT_SUCCESS && alignment &&
        ((uintptr_t)ptr & (alignment - 1))) {
        LOG_ERR("CUDA provider: the driver returned %p, not aligned to %zu",
                ptr, alignment);
        (void)cu_free_raw(cu, ptr);
        ret = UMF_RESULT_ERROR_INVALID_ALIGNMENT;
    }
    cu_ctx_leave(cu, saved);
    if (ret == UMF_RESULT_SUCCESS) {
        *out = ptr;
    }
    return ret;
}

static umf_result_t cu_free(void *priv, void *ptr, size_t size) {
    (void)size;
    cu_provider_t *cu = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret = cu_result(cu_free_raw(cu, ptr));
    cu_ctx_leave(cu, saved);
    return ret;
}

static umf_result_t cu_get_recommended_page_size(void *priv, size_t size,
                                                 size_t *page) {
    (void)size;
    *page = ((cu_provider_t *)priv)->rec_granularity;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t cu_get_min_page_size(void *priv, void *ptr, size_t *page) {
    (void)ptr;
    *page = ((cu_provider_t *)priv)->min_granularity;
    return UMF_RESULT_SUCCESS;
}

static const char *cu_get_name(void *priv) {
    (void)priv;
    return "CUDA";
}

// The driver cannot purge, split or merge its allocations.
static umf_result_t cu_purge_not_supported(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

static umf_result_t cu_merge_not_supported(void *priv, void *low, void *high,
                                           size_t total) {
    (void)priv, (void)low, (void)high, (void)total;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

static umf_result_t cu_split_not_supported(void *priv, void *ptr, size_t total,
                                           size_t first) {
    (void)priv, (void)ptr, (void)total, (void)first;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

// --- IPC: the driver's CUipcMemHandle is the handle data ---

static umf_result_t cu_get_ipc_handle_size(void *priv, size_t *size) {
    (void)priv;
    *size = sizeof(cu_ipc_mem_handle_t);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t cu_get_ipc_handle(void *priv, const void *ptr, size_t size,
                                      void *data) {
    (void)size;
    cu_provider_t *cu = priv;
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    cu_ipc_mem_handle_t h;
    ret = cu_result(
        cu_api.ipc_get_mem_handle(&h, (cu_deviceptr_t)(uintptr_t)ptr));
    cu_ctx_leave(cu, saved);
    if (ret == UMF_RESULT_SUCCESS) {
        memcpy(data, &h, sizeof(h));
    } else {
        LOG_ERR("CUDA provider: cuIpcGetMemHandle(%p) failed", ptr);
    }
    return ret;
}

static umf_result_t cu_put_ipc_handle(void *priv, void *data) {
    (void)priv, (void)data; // CUDA handles hold nothing to release
    return UMF_RESULT_SUCCESS;
}

static umf_result_t cu_open_ipc_handle(void *priv, void *data, void **out) {
    cu_provider_t *cu = priv;
    cu_ipc_mem_handle_t h;
    memcpy(&h, data, sizeof(h));
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    cu_deviceptr_t dptr = 0;
    ret = cu_result(cu_api.ipc_open_mem_handle(
        &dptr, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    cu_ctx_leave(cu, saved);
    if (ret == UMF_RESULT_SUCCESS) {
        *out = (void *)(uintptr_t)dptr;
    } else {
        LOG_ERR("CUDA provider: cuIpcOpenMemHandle failed");
    }
    return ret;
}

static umf_result_t cu_close_ipc_handle(void *priv, void *ptr, size_t size) {
    (void)size;
    cu_provider_t *cu = priv;
    cu_context_t saved;
    umf_result_t ret = cu_ctx_enter(cu, &saved);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    ret =
        cu_result(cu_api.ipc_close_mem_handle((cu_deviceptr_t)(uintptr_t)ptr));
    cu_ctx_leave(cu, saved);
    return ret;
}

static umf_memory_provider_ops_t cu_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = cu_initialize,
    .finalize = cu_finalize,
    .alloc = cu_alloc,
    .get_last_native_error = cu_get_last_native_error,
    .get_recommended_page_size = cu_get_recommended_page_size,
    .get_min_page_size = cu_get_min_page_size,
    .get_name = cu_get_name,
    .ext.free = cu_free,
    .ext.purge_lazy = cu_purge_not_supported,
    .ext.purge_force = cu_purge_not_supported,
    .ext.allocation_merge = cu_merge_not_supported,
    .ext.allocation_split = cu_split_not_supported,
    .ipc.get_ipc_handle_size = cu_get_ipc_handle_size,
    .ipc.get_ipc_handle = cu_get_ipc_handle,
    .ipc.put_ipc_handle = cu_put_ipc_handle,
    .ipc.open_ipc_handle = cu_open_ipc_handle,
    .ipc.close_ipc_handle = cu_close_ipc_handle,
};

UMF_EXPORT umf_memory_provider_ops_t *umfCUDAMemoryProviderOps(void) {
    return &cu_ops;
}
