/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_level_zero.c - the Level Zero memory provider: host
 * (zeMemAllocHost), device (zeMemAllocDevice) or shared (zeMemAllocShared)
 * memory of a Level Zero context, each allocation made resident on the
 * devices the params list.
 *
 * The loader is found at run time (gpu_loader.h: UMF_ZE_LOADER_LIB, then
 * the global namespace, then libze_loader.so.1), once per process; without
 * it, creating a provider fails with UNKNOWN and one log line naming the
 * library, and nothing else changes.
 *
 * Alignment goes to the driver, which decides. Device and shared requests
 * above the device's maxMemAllocSize carry the relaxed-allocation-limits
 * descriptor. Purge, split and merge are not supported (as upstream).
 *
 * IPC: the handle data is the producer's pid and the driver's
 * ze_ipc_mem_handle_t, whose first bytes are the producer's file
 * descriptor of the memory (a dma-buf on real hardware). A consumer in
 * another process copies that descriptor with pidfd_getfd(2) (same user,
 * and ptrace permission over the producer: Yama's ptrace_scope 1 allows it
 * only for descendants, or a producer that called prctl(PR_SET_PTRACER)),
 * puts its copy in the handle for zeMemOpenIpcHandle and closes it after
 * the driver imported it.
 *
 * Native errors are per thread: the ze_result_t and its name.
 * No locks: the provider's state is read-only after creation.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <umf/providers/provider_level_zero.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"
#include "os_linux.h"
#include "providers/gpu_loader.h"
#include "providers/ze_abi.h"

#define ZE_PAGE_SIZE ((size_t)64 << 10)

// --- The loader ---

typedef struct ze_api_t {
    ze_mem_alloc_host_fn mem_alloc_host;
    ze_mem_alloc_device_fn mem_alloc_device;
    ze_mem_alloc_shared_fn mem_alloc_shared;
    ze_mem_free_fn mem_free;
    ze_device_get_properties_fn device_get_properties;
    ze_context_make_memory_resident_fn context_make_memory_resident;
    ze_mem_get_ipc_handle_fn mem_get_ipc_handle;
    ze_mem_put_ipc_handle_fn mem_put_ipc_handle; // optional (loader >= 1.6)
    ze_mem_open_ipc_handle_fn mem_open_ipc_handle;
    ze_mem_close_ipc_handle_fn mem_close_ipc_handle;
} ze_api_t;

#define ZE_SYM(name, field, opt)                                               \
    { name, offsetof(ze_api_t, field), opt }

// zeMemAllocHost first: it is the probe for the global namespace.
static const gpu_sym_t ze_syms[] = {
    ZE_SYM("zeMemAllocHost", mem_alloc_host, false),
    ZE_SYM("zeMemAllocDevice", mem_alloc_device, false),
    ZE_SYM("zeMemAllocShared", mem_alloc_shared, false),
    ZE_SYM("zeMemFree", mem_free, false),
    ZE_SYM("zeDeviceGetProperties", device_get_properties, false),
    ZE_SYM("zeContextMakeMemoryResident", context_make_memory_resident, false),
    ZE_SYM("zeMemGetIpcHandle", mem_get_ipc_handle, false),
    ZE_SYM("zeMemPutIpcHandle", mem_put_ipc_handle, true),
    ZE_SYM("zeMemOpenIpcHandle", mem_open_ipc_handle, false),
    ZE_SYM("zeMemCloseIpcHandle", mem_close_ipc_handle, false),
};

static ze_api_t ze_api;
static gpu_loader_t ze_loader = {
    .what = "Level Zero loader",
    .env = "UMF_ZE_LOADER_LIB",
    .soname = "libze_loader.so.1",
    .fix = "install the Level Zero loader (Debian: libze1) and a GPU driver, "
           "or set UMF_ZE_LOADER_LIB to the library's path",
    .syms = ze_syms,
    .nsyms = ARRAY_SIZE(ze_syms),
    .api = &ze_api,
};
static pthread_once_t ze_once = PTHREAD_ONCE_INIT;

static void ze_load_once(void) {
    gpu_loader_run(&ze_loader);
}

// --- Native errors ---

static __thread struct {
    int32_t code;
    char msg[160];
} tls_ze_native;

static const char *ze_result_name(ze_result_t_ r) {
    switch (r) {
    case ZE_RESULT_SUCCESS:
        return "ZE_RESULT_SUCCESS";
    case ZE_RESULT_ERROR_DEVICE_LOST:
        return "ZE_RESULT_ERROR_DEVICE_LOST";
    case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY:
        return "ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY";
    case ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY:
        return "ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY";
    case ZE_RESULT_ERROR_UNINITIALIZED:
        return "ZE_RESULT_ERROR_UNINITIALIZED";
    case ZE_RESULT_ERROR_UNSUPPORTED_FEATURE:
        return "ZE_RESULT_ERROR_UNSUPPORTED_FEATURE";
    case ZE_RESULT_ERROR_INVALID_ARGUMENT:
        return "ZE_RESULT_ERROR_INVALID_ARGUMENT";
    case ZE_RESULT_ERROR_INVALID_NULL_HANDLE:
        return "ZE_RESULT_ERROR_INVALID_NULL_HANDLE";
    case ZE_RESULT_ERROR_INVALID_NULL_POINTER:
        return "ZE_RESULT_ERROR_INVALID_NULL_POINTER";
    case ZE_RESULT_ERROR_INVALID_SIZE:
        return "ZE_RESULT_ERROR_INVALID_SIZE";
    case ZE_RESULT_ERROR_UNSUPPORTED_SIZE:
        return "ZE_RESULT_ERROR_UNSUPPORTED_SIZE";
    case ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT:
        return "ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT";
    case ZE_RESULT_ERROR_UNKNOWN:
        return "ZE_RESULT_ERROR_UNKNOWN";
    default:
        return "ze_result_t";
    }
}

// The contract's mapping: OUT_OF_HOST_MEMORY and INVALID_ARGUMENT keep
// their meaning, everything else is the native error.
static umf_result_t ze_result(ze_result_t_ r, const char *call) {
    switch (r) {
    case ZE_RESULT_SUCCESS:
        return UMF_RESULT_SUCCESS;
    case ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY:
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    case ZE_RESULT_ERROR_INVALID_ARGUMENT:
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    default:
        break;
    }
    tls_ze_native.code = (int32_t)r;
    snprintf(tls_ze_native.msg, sizeof(tls_ze_native.msg), "%s: %s (0x%x)",
             call, ze_result_name(r), (unsigned)r);
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static void ze_get_last_native_error(void *priv, const char **msg,
                                     int32_t *err) {
    (void)priv;
    if (tls_ze_native.code == 0) {
        *msg = "ZE_RESULT_SUCCESS";
        *err = 0;
        return;
    }
    *msg = tls_ze_native.msg;
    *err = tls_ze_native.code;
}

// --- Params ---

struct umf_level_zero_memory_provider_params_t {
    ze_context_handle_t context;
    ze_device_handle_t device;
    umf_usm_memory_type_t type;
    ze_device_handle_t *resident; // the caller's array (stored pointer)
    uint32_t resident_count;
};

#define CHECK_PARAMS(h)                                                        \
    CHECK_ARG((h) != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL")

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsCreate(
    umf_level_zero_memory_provider_params_handle_t *hParams) {
    CHECK_PARAMS(hParams);
    umf_level_zero_memory_provider_params_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->type = UMF_MEMORY_TYPE_UNKNOWN;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsDestroy(
    umf_level_zero_memory_provider_params_handle_t hParams) {
    ba_free(hParams);
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsSetContext(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_context_handle_t hContext) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(hContext != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hContext is NULL");
    hParams->context = hContext;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsSetDevice(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t hDevice) {
    CHECK_PARAMS(hParams);
    hParams->device = hDevice; // NULL is right for HOST memory
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsSetMemoryType(
    umf_level_zero_memory_provider_params_handle_t hParams,
    umf_usm_memory_type_t memoryType) {
    CHECK_PARAMS(hParams);
    hParams->type = memoryType; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfLevelZeroMemoryProviderParamsSetResidentDevices(
    umf_level_zero_memory_provider_params_handle_t hParams,
    ze_device_handle_t *hDevices, uint32_t deviceCount) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(hDevices != NULL || deviceCount == 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hDevices is NULL but deviceCount is %u", deviceCount);
    hParams->resident = hDevices;
    hParams->resident_count = deviceCount;
    return UMF_RESULT_SUCCESS;
}

// --- Provider state ---

typedef struct ze_provider_t {
    ze_context_handle_t context;
    ze_device_handle_t device;
    umf_usm_memory_type_t type;
    uint64_t max_alloc; // the device's maxMemAllocSize (0: HOST)
    uint32_t resident_count;
    ze_device_handle_t resident[]; // copied from the params
} ze_provider_t;

static umf_result_t ze_initialize(void *params, void **priv) {
    umf_level_zero_memory_provider_params_handle_t p = params;
    CHECK_ARG(p != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: params are NULL "
              "(umfLevelZeroMemoryProviderParamsCreate)");
    CHECK_ARG(p->context != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: no context "
              "(umfLevelZeroMemoryProviderParamsSetContext)");
    CHECK_ARG(p->type >= UMF_MEMORY_TYPE_HOST &&
                  p->type <= UMF_MEMORY_TYPE_SHARED,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: memory type %d is not HOST, DEVICE or "
              "SHARED (umfLevelZeroMemoryProviderParamsSetMemoryType)",
              (int)p->type);
    CHECK_ARG(p->type != UMF_MEMORY_TYPE_HOST || p->device == NULL,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: HOST memory takes no device (set it to "
              "NULL)");
    CHECK_ARG(p->type == UMF_MEMORY_TYPE_HOST || p->device != NULL,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: DEVICE and SHARED memory need a device "
              "(umfLevelZeroMemoryProviderParamsSetDevice)");
    CHECK_ARG(p->resident != NULL || p->resident_count == 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "Level Zero provider: resident devices are NULL");

    pthread_once(&ze_once, ze_load_once);
    if (ze_loader.result != UMF_RESULT_SUCCESS) {
        LOG_ERR("Level Zero provider: %s", ze_loader.error);
        return ze_loader.result;
    }

    ze_provider_t *ze = ba_calloc(1, sizeof(*ze) + sizeof(ze_device_handle_t) *
                                                       p->resident_count);
    if (!ze) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    ze->context = p->context;
    ze->device = p->device;
    ze->type = p->type;
    ze->resident_count = p->resident_count;
    if (p->resident_count) {
        memcpy(ze->resident, p->resident,
               sizeof(ze_device_handle_t) * p->resident_count);
    }
    if (ze->device) {
        ze_device_properties_t_ props;
        memset(&props, 0, sizeof(props));
        props.stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
        ze_result_t_ r = ze_api.device_get_properties(ze->device, &props);
        if (r != ZE_RESULT_SUCCESS) {
            umf_result_t ret = ze_result(r, "zeDeviceGetProperties");
            LOG_ERR("Level Zero provider: zeDeviceGetProperties failed "
                    "(0x%x)",
                    (unsigned)r);
            ba_free(ze);
            return ret;
        }
        ze->max_alloc = props.maxMemAllocSize;
    }
    *priv = ze;
    return UMF_RESULT_SUCCESS;
}

static void ze_finalize(void *priv) {
    ba_free(priv);
}

// --- Allocation ---

static umf_result_t ze_alloc(void *priv, size_t size, size_t alignment,
                             void **out) {
    ze_provider_t *ze = priv;
    ze_relaxed_allocation_limits_exp_desc_t_ relaxed = {
        .stype = ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC,
        .pNext = NULL,
        .flags = ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE,
    };
    ze_device_mem_alloc_desc_t_ dev_desc = {
        .stype = ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC,
        .pNext = size > ze->max_alloc ? &relaxed : NULL,
        .flags = 0,
        .ordinal = 0,
    };
    ze_host_mem_alloc_desc_t_ host_desc = {
        .stype = ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC,
        .pNext = NULL,
        .flags = 0,
    };
    void *ptr = NULL;
    ze_result_t_ r;
    const char *call;
    switch (ze->type) {
    case UMF_MEMORY_TYPE_HOST:
        call = "zeMemAllocHost";
        r = ze_api.mem_alloc_host(ze->context, &host_desc, size, alignment,
                                  &ptr);
        break;
    case UMF_MEMORY_TYPE_DEVICE:
        call = "zeMemAllocDevice";
        r = ze_api.mem_alloc_device(ze->context, &dev_desc, size, alignment,
                                    ze->device, &ptr);
        break;
    default: // SHARED (creation refused every other type)
        call = "zeMemAllocShared";
        r = ze_api.mem_alloc_shared(ze->context, &dev_desc, &host_desc, size,
                                    alignment, ze->device, &ptr);
        break;
    }
    if (r != ZE_RESULT_SUCCESS) {
        return ze_result(r, call);
    }
    for (uint32_t i = 0; i < ze->resident_count; i++) {
        r = ze_api.context_make_memory_resident(ze->context, ze->resident[i],
                                                ptr, size);
        if (r != ZE_RESULT_SUCCESS) {
            umf_result_t ret = ze_result(r, "zeContextMakeMemoryResident");
            LOG_ERR("Level Zero provider: making %p resident on device %u "
                    "failed (0x%x)",
                    ptr, i, (unsigned)r);
            (void)ze_api.mem_free(ze->context, ptr);
            return ret;
        }
    }
    *out = ptr;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ze_free(void *priv, void *ptr, size_t size) {
    (void)size;
    ze_provider_t *ze = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    return ze_result(ze_api.mem_free(ze->context, ptr), "zeMemFree");
}

static umf_result_t ze_get_page_size(void *priv, size_t size, size_t *page) {
    (void)priv, (void)size;
    *page = ZE_PAGE_SIZE;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ze_get_min_page_size(void *priv, void *ptr, size_t *page) {
    (void)priv, (void)ptr;
    *page = ZE_PAGE_SIZE;
    return UMF_RESULT_SUCCESS;
}

static const char *ze_get_name(void *priv) {
    (void)priv;
    return "LEVEL_ZERO";
}

static umf_result_t ze_purge_not_supported(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

static umf_result_t ze_merge_not_supported(void *priv, void *low, void *high,
                                           size_t total) {
    (void)priv, (void)low, (void)high, (void)total;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

static umf_result_t ze_split_not_supported(void *priv, void *ptr, size_t total,
                                           size_t first) {
    (void)priv, (void)ptr, (void)total, (void)first;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

// --- IPC ---

typedef struct ze_ipc_data_t {
    int32_t pid; // producer
    ze_ipc_mem_handle_t_ handle;
} ze_ipc_data_t;

static umf_result_t ze_get_ipc_handle_size(void *priv, size_t *size) {
    (void)priv;
    *size = sizeof(ze_ipc_data_t);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ze_get_ipc_handle(void *priv, const void *ptr, size_t size,
                                      void *data) {
    (void)size;
    ze_provider_t *ze = priv;
    ze_ipc_data_t d;
    memset(&d, 0, sizeof(d));
    ze_result_t_ r = ze_api.mem_get_ipc_handle(ze->context, ptr, &d.handle);
    if (r != ZE_RESULT_SUCCESS) {
        LOG_ERR("Level Zero provider: zeMemGetIpcHandle(%p) failed (0x%x)", ptr,
                (unsigned)r);
        return ze_result(r, "zeMemGetIpcHandle");
    }
    d.pid = os_getpid();
    memcpy(data, &d, sizeof(d));
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ze_put_ipc_handle(void *priv, void *data) {
    ze_provider_t *ze = priv;
    if (!ze_api.mem_put_ipc_handle) {
        return UMF_RESULT_SUCCESS; // an old loader: nothing to release
    }
    ze_ipc_data_t d;
    memcpy(&d, data, sizeof(d));
    return ze_result(ze_api.mem_put_ipc_handle(ze->context, d.handle),
                     "zeMemPutIpcHandle");
}

// A failure to reach the producer's descriptor: the native error is
// -errno and the message says what permission is missing.
static umf_result_t ze_ipc_fd_fail(int err, int pid) {
    int scope = os_ptrace_scope();
    char ebuf[96];
    tls_ze_native.code = -err;
    char yama[48];
    if (scope < 0) {
        snprintf(yama, sizeof(yama), "no Yama");
    } else {
        snprintf(yama, sizeof(yama), "Yama ptrace_scope %d", scope);
    }
    snprintf(tls_ze_native.msg, sizeof(tls_ze_native.msg),
             "cannot copy the IPC descriptor of process %d: %s (needs the "
             "same user and ptrace permission; %s)",
             pid, strerror_r(err, ebuf, sizeof(ebuf)), yama);
    LOG_ERR("Level Zero provider: %s", tls_ze_native.msg);
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static umf_result_t ze_open_ipc_handle(void *priv, void *data, void **out) {
    ze_provider_t *ze = priv;
    ze_ipc_data_t d;
    memcpy(&d, data, sizeof(d));
    int local_fd = -1;
    if (d.pid != os_getpid()) {
        int remote_fd;
        memcpy(&remote_fd, d.handle.data, sizeof(remote_fd));
        if (d.pid <= 0 || remote_fd < 0) {
            LOG_ERR("Level Zero provider: IPC handle names pid %d, fd %d",
                    (int)d.pid, remote_fd);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        int pidfd = os_pidfd_open(d.pid);
        if (pidfd < 0) {
            return ze_ipc_fd_fail(-pidfd, d.pid);
        }
        local_fd = os_pidfd_getfd(pidfd, remote_fd);
        (void)os_close(pidfd);
        if (local_fd < 0) {
            return ze_ipc_fd_fail(-local_fd, d.pid);
        }
        memcpy(d.handle.data, &local_fd, sizeof(local_fd));
    }
    void *ptr = NULL;
    ze_result_t_ r =
        ze_api.mem_open_ipc_handle(ze->context, ze->device, d.handle, 0, &ptr);
    if (local_fd >= 0) {
        (void)os_close(local_fd); // the driver holds its own reference now
    }
    if (r != ZE_RESULT_SUCCESS) {
        LOG_ERR("Level Zero provider: zeMemOpenIpcHandle failed (0x%x)",
                (unsigned)r);
        return ze_result(r, "zeMemOpenIpcHandle");
    }
    *out = ptr;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ze_close_ipc_handle(void *priv, void *ptr, size_t size) {
    (void)size;
    ze_provider_t *ze = priv;
    return ze_result(ze_api.mem_close_ipc_handle(ze->context, ptr),
                     "zeMemCloseIpcHandle");
}

static umf_memory_provider_ops_t ze_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = ze_initialize,
    .finalize = ze_finalize,
    .alloc = ze_alloc,
    .get_last_native_error = ze_get_last_native_error,
    .get_recommended_page_size = ze_get_page_size,
    .get_min_page_size = ze_get_min_page_size,
    .get_name = ze_get_name,
    .ext.free = ze_free,
    .ext.purge_lazy = ze_purge_not_supported,
    .ext.purge_force = ze_purge_not_supported,
    .ext.allocation_merge = ze_merge_not_supported,
    .ext.allocation_split = ze_split_not_supported,
    .ipc.get_ipc_handle_size = ze_get_ipc_handle_size,
    .ipc.get_ipc_handle = ze_get_ipc_handle,
    .ipc.put_ipc_handle = ze_put_ipc_handle,
    .ipc.open_ipc_handle = ze_open_ipc_handle,
    .ipc.close_ipc_handle = ze_close_ipc_handle,
};

UMF_EXPORT umf_memory_provider_ops_t *umfLevelZeroMemoryProviderOps(void) {
    return &ze_ops;
}
