/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fake_cuda.c - a test double of the CUDA driver (libcuda.so.1) over host
 * memory, for `make check` on machines without a GPU. Memory model,
 * counters and failure injection: fake_gpu_heap.h. What it models of the
 * real driver:
 *   - a per-thread current context; every memory call needs one
 *     (CUDA_ERROR_INVALID_CONTEXT otherwise) and notes which it was;
 *   - device memory the CPU cannot touch (PROT_NONE), managed and host
 *     memory it can; cuMemcpy / cuMemsetD8 reach device memory;
 *   - allocations aligned to the 64 KiB minimum granularity (or, when told
 *     to, one page past it);
 *   - IPC handles (64 opaque bytes) that another process opens, device
 *     memory only, never in the producing process;
 *   - error names and strings for the results it returns.
 * Two devices exist (ordinals 0 and 1).
 */

#include <stdatomic.h>
#include <stdio.h>

#include "fake_cuda.h"
#include "fake_gpu_heap.h"

struct CUctx_st {
    int device;
};

static __thread cu_context_t tls_current;
static _Atomic(cu_context_t) last_ctx;

#define FAKE_DEVICES 2
#define CU_IPC_MAGIC 0x46414b4543554441ull // "FAKECUDA"

typedef struct fake_ipc_t {
    uint64_t magic;
    int32_t pid;
    int32_t fd;
    int64_t off;
    uint64_t len;
} fake_ipc_t;

_Static_assert(sizeof(fake_ipc_t) <= CU_IPC_HANDLE_SIZE, "IPC handle size");

// Counts the call; an injected failure wins, then "no current context".
#define ENTER(fn, needs_ctx)                                                   \
    do {                                                                       \
        cu_result_t inj_ = (cu_result_t)fk_enter(fn);                          \
        if (inj_) {                                                            \
            return inj_;                                                       \
        }                                                                      \
        if ((needs_ctx) && !tls_current) {                                     \
            return CUDA_ERROR_INVALID_CONTEXT;                                 \
        }                                                                      \
        if (needs_ctx) {                                                       \
            atomic_store(&last_ctx, tls_current);                              \
        }                                                                      \
    } while (0)

// --- Driver API ---

cu_result_t cuInit(unsigned flags) {
    ENTER("cuInit", 0);
    return flags ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

cu_result_t cuDeviceGetCount(int *count) {
    ENTER("cuDeviceGetCount", 0);
    if (!count) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *count = FAKE_DEVICES;
    return CUDA_SUCCESS;
}

cu_result_t cuDeviceGet(cu_device_t *dev, int ordinal) {
    ENTER("cuDeviceGet", 0);
    if (!dev) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (ordinal < 0 || ordinal >= FAKE_DEVICES) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    *dev = ordinal;
    return CUDA_SUCCESS;
}

cu_result_t cuCtxCreate_v2(cu_context_t *pctx, unsigned flags,
                           cu_device_t dev) {
    (void)flags;
    ENTER("cuCtxCreate_v2", 0);
    if (!pctx) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (dev < 0 || dev >= FAKE_DEVICES) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    cu_context_t c = calloc(1, sizeof(*c));
    if (!c) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    c->device = dev;
    tls_current = c; // a new context becomes current, as in CUDA
    *pctx = c;
    return CUDA_SUCCESS;
}

cu_result_t cuCtxDestroy_v2(cu_context_t ctx) {
    ENTER("cuCtxDestroy_v2", 0);
    if (!ctx) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (tls_current == ctx) {
        tls_current = NULL;
    }
    free(ctx);
    return CUDA_SUCCESS;
}

cu_result_t cuCtxGetCurrent(cu_context_t *pctx) {
    ENTER("cuCtxGetCurrent", 0);
    if (!pctx) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *pctx = tls_current;
    return CUDA_SUCCESS;
}

cu_result_t cuCtxSetCurrent(cu_context_t ctx) {
    ENTER("cuCtxSetCurrent", 0);
    tls_current = ctx;
    return CUDA_SUCCESS;
}

static cu_result_t alloc_kind(void **out, size_t size, int kind) {
    if (!out || size == 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    void *p = fk_alloc(size, FAKE_CU_MIN_GRANULARITY, kind, tls_current);
    if (!p) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *out = p;
    return CUDA_SUCCESS;
}

cu_result_t cuMemAlloc_v2(cu_deviceptr_t *dptr, size_t size) {
    ENTER("cuMemAlloc_v2", 1);
    void *p = NULL;
    cu_result_t r = alloc_kind(dptr ? &p : NULL, size, FK_DEVICE);
    if (r == CUDA_SUCCESS) {
        *dptr = (cu_deviceptr_t)(uintptr_t)p;
    }
    return r;
}

cu_result_t cuMemAllocHost_v2(void **pp, size_t size) {
    ENTER("cuMemAllocHost_v2", 1);
    return alloc_kind(pp, size, FK_HOST);
}

cu_result_t cuMemAllocManaged(cu_deviceptr_t *dptr, size_t size,
                              unsigned flags) {
    ENTER("cuMemAllocManaged", 1);
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != 0x2 /* ATTACH_HOST */) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    void *p = NULL;
    cu_result_t r = alloc_kind(dptr ? &p : NULL, size, FK_SHARED);
    if (r == CUDA_SUCCESS) {
        *dptr = (cu_deviceptr_t)(uintptr_t)p;
    }
    return r;
}

cu_result_t cuMemFree_v2(cu_deviceptr_t dptr) {
    ENTER("cuMemFree_v2", 1);
    return fk_free((void *)(uintptr_t)dptr,
                   (1u << FK_DEVICE) | (1u << FK_SHARED), 0)
               ? CUDA_ERROR_INVALID_VALUE
               : CUDA_SUCCESS;
}

cu_result_t cuMemFreeHost(void *p) {
    ENTER("cuMemFreeHost", 1);
    return fk_free(p, 1u << FK_HOST, 0) ? CUDA_ERROR_INVALID_VALUE
                                        : CUDA_SUCCESS;
}

cu_result_t cuMemGetAllocationGranularity(size_t *granularity,
                                          const cu_mem_allocation_prop_t *prop,
                                          int option) {
    ENTER("cuMemGetAllocationGranularity", 0);
    if (!granularity || !prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED ||
        prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (prop->location.id < 0 || prop->location.id >= FAKE_DEVICES) {
        return CUDA_ERROR_INVALID_DEVICE;
    }
    switch (option) {
    case CU_MEM_ALLOC_GRANULARITY_MINIMUM:
        *granularity = FAKE_CU_MIN_GRANULARITY;
        return CUDA_SUCCESS;
    case CU_MEM_ALLOC_GRANULARITY_RECOMMENDED:
        *granularity = FAKE_CU_REC_GRANULARITY;
        return CUDA_SUCCESS;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

static const struct {
    cu_result_t r;
    const char *name, *text;
} errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED",
     "initialization error"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE",
     "invalid device ordinal"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT",
     "invalid device context"},
    {CUDA_ERROR_MAP_FAILED, "CUDA_ERROR_MAP_FAILED",
     "mapping of buffer object failed"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE",
     "invalid resource handle"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED",
     "unspecified launch failure"},
    {CUDA_ERROR_INVALID_RESOURCE_TYPE, "CUDA_ERROR_INVALID_RESOURCE_TYPE",
     "invalid resource type"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static cu_result_t describe(cu_result_t error, const char **pstr, int text) {
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        if (errors[i].r == error) {
            *pstr = text ? errors[i].text : errors[i].name;
            return CUDA_SUCCESS;
        }
    }
    *pstr = NULL;
    return CUDA_ERROR_INVALID_VALUE;
}

cu_result_t cuGetErrorName(cu_result_t error, const char **pstr) {
    ENTER("cuGetErrorName", 0);
    return pstr ? describe(error, pstr, 0) : CUDA_ERROR_INVALID_VALUE;
}

cu_result_t cuGetErrorString(cu_result_t error, const char **pstr) {
    ENTER("cuGetErrorString", 0);
    return pstr ? describe(error, pstr, 1) : CUDA_ERROR_INVALID_VALUE;
}

cu_result_t cuIpcGetMemHandle(cu_ipc_mem_handle_t *handle,
                              cu_deviceptr_t dptr) {
    ENTER("cuIpcGetMemHandle", 1);
    fk_block b = fk_lookup((void *)(uintptr_t)dptr);
    if (!handle || b.kind != FK_DEVICE || b.imported) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    fake_ipc_t h = {CU_IPC_MAGIC, (int32_t)getpid(), fk_heap_fd(),
                    (int64_t)b.off, b.len};
    memset(handle, 0, sizeof(*handle));
    memcpy(handle->reserved, &h, sizeof(h));
    return CUDA_SUCCESS;
}

cu_result_t cuIpcOpenMemHandle_v2(cu_deviceptr_t *pdptr,
                                  cu_ipc_mem_handle_t handle, unsigned flags) {
    ENTER("cuIpcOpenMemHandle_v2", 1);
    fake_ipc_t h;
    memcpy(&h, handle.reserved, sizeof(h));
    if (!pdptr || h.magic != CU_IPC_MAGIC || flags > 1) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (h.pid == (int32_t)getpid()) {
        return CUDA_ERROR_INVALID_CONTEXT; // CUDA refuses its own handles
    }
    int fd = fk_fd_of(h.pid, h.fd);
    if (fd < 0) {
        return CUDA_ERROR_MAP_FAILED;
    }
    void *p =
        fk_import(fd, (off_t)h.off, (size_t)h.len, FK_DEVICE, tls_current);
    close(fd);
    if (!p) {
        return CUDA_ERROR_MAP_FAILED;
    }
    *pdptr = (cu_deviceptr_t)(uintptr_t)p;
    return CUDA_SUCCESS;
}

cu_result_t cuIpcCloseMemHandle(cu_deviceptr_t dptr) {
    ENTER("cuIpcCloseMemHandle", 1);
    return fk_free((void *)(uintptr_t)dptr, 1u << FK_DEVICE, 1)
               ? CUDA_ERROR_INVALID_VALUE
               : CUDA_SUCCESS;
}

cu_result_t cuMemcpy(cu_deviceptr_t dst, cu_deviceptr_t src, size_t n) {
    ENTER("cuMemcpy", 1);
    memcpy(fk_device_view((void *)(uintptr_t)dst, n),
           fk_device_view((void *)(uintptr_t)src, n), n);
    return CUDA_SUCCESS;
}

cu_result_t cuMemsetD8_v2(cu_deviceptr_t dst, unsigned char value, size_t n) {
    ENTER("cuMemsetD8_v2", 1);
    memset(fk_device_view((void *)(uintptr_t)dst, n), value, n);
    return CUDA_SUCCESS;
}

// --- Control ---

long fake_cu_calls(const char *fn) {
    return fk_calls(fn);
}

void fake_cu_inject(const char *fn, int result, int times) {
    fk_inject(fn, (uint32_t)result, times);
}

void fake_cu_reset(void) {
    fk_reset();
    atomic_store(&last_ctx, NULL);
}

long fake_cu_live(void) {
    return fk_live();
}

cu_context_t fake_cu_last_ctx(void) {
    return atomic_load(&last_ctx);
}

void fake_cu_set_misalign(int on) {
    pthread_mutex_lock(&fk.lock);
    fk.misalign = on;
    pthread_mutex_unlock(&fk.lock);
}
