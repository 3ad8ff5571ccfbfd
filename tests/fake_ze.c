/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fake_ze.c - a test double of the Level Zero loader (libze_loader.so.1)
 * over host memory, for `make check` on machines without a GPU. Memory
 * model, counters and failure injection: fake_gpu_heap.h. What it models
 * of a real driver:
 *   - one driver with two devices, contexts from zeContextCreate;
 *   - device memory the CPU cannot touch (PROT_NONE), host and shared
 *     memory it can; the alignment argument is honoured (a power of two,
 *     else ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT);
 *   - maxMemAllocSize: larger device/shared requests need the
 *     relaxed-allocation-limits descriptor (else UNSUPPORTED_SIZE);
 *   - IPC handles whose first four bytes are a file descriptor of the
 *     producer (as the real driver's dma-buf handles are), released by
 *     zeMemPutIpcHandle; zeMemOpenIpcHandle maps a descriptor of the
 *     calling process.
 */

#include <stdatomic.h>
#include <stdio.h>

#include "fake_gpu_heap.h"
#include "fake_ze.h"

#define FAKE_DEVICES 2
#define ZE_IPC_MAGIC 0x464b5a45u // "FKZE"

struct _ze_device_handle_t {
    int ordinal;
};
struct _ze_context_handle_t {
    int alive;
};
struct _ze_driver_handle_t {
    int unused;
};

static struct _ze_device_handle_t devices[FAKE_DEVICES] = {{0}, {1}};
static struct _ze_driver_handle_t driver;
static _Atomic uint64_t max_alloc = (uint64_t)1 << 30;
static _Atomic long relaxed_seen;
static _Atomic long open_handles;

typedef struct fake_ipc_t {
    int32_t fd; // first, as in the real driver's handle
    uint32_t magic;
    int32_t pid;
    int32_t kind;
    int64_t off;
    uint64_t len;
} fake_ipc_t;

_Static_assert(sizeof(fake_ipc_t) <= ZE_MAX_IPC_HANDLE_SIZE, "handle size");

#define ENTER(fn)                                                              \
    do {                                                                       \
        ze_result_t_ inj_ = fk_enter(fn);                                      \
        if (inj_) {                                                            \
            return inj_;                                                       \
        }                                                                      \
    } while (0)

static int device_ok(ze_device_handle_t d) {
    return d == &devices[0] || d == &devices[1];
}

ze_result_t_ zeInit(uint32_t flags) {
    ENTER("zeInit");
    return flags > 3 ? ZE_RESULT_ERROR_INVALID_ARGUMENT : ZE_RESULT_SUCCESS;
}

ze_result_t_ zeDriverGet(uint32_t *count, ze_driver_handle_t *drivers) {
    ENTER("zeDriverGet");
    if (!count) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (*count == 0 || !drivers) {
        *count = 1;
        return ZE_RESULT_SUCCESS;
    }
    drivers[0] = &driver;
    *count = 1;
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeDeviceGet(ze_driver_handle_t drv, uint32_t *count,
                         ze_device_handle_t *devs) {
    ENTER("zeDeviceGet");
    if (drv != &driver) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!count) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (*count == 0 || !devs) {
        *count = FAKE_DEVICES;
        return ZE_RESULT_SUCCESS;
    }
    uint32_t n = *count < FAKE_DEVICES ? *count : FAKE_DEVICES;
    for (uint32_t i = 0; i < n; i++) {
        devs[i] = &devices[i];
    }
    *count = n;
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeContextCreate(ze_driver_handle_t drv, const void *desc,
                             ze_context_handle_t *ctx) {
    ENTER("zeContextCreate");
    if (drv != &driver) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!desc || !ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    ze_context_handle_t c = calloc(1, sizeof(*c));
    if (!c) {
        return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    c->alive = 1;
    *ctx = c;
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeContextDestroy(ze_context_handle_t ctx) {
    ENTER("zeContextDestroy");
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    free(ctx);
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeDeviceGetProperties(ze_device_handle_t dev,
                                   ze_device_properties_t_ *props) {
    ENTER("zeDeviceGetProperties");
    if (!device_ok(dev)) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!props) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (props->stype != ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    void *next = props->pNext;
    memset(props, 0, sizeof(*props));
    props->stype = ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES;
    props->pNext = next;
    props->type = 1; // GPU
    props->vendorId = 0x8086;
    props->maxMemAllocSize = atomic_load(&max_alloc);
    snprintf(props->name, sizeof(props->name), "fake Level Zero device %d",
             dev->ordinal);
    return ZE_RESULT_SUCCESS;
}

static ze_result_t_ alloc_common(ze_context_handle_t ctx, size_t size,
                                 size_t alignment, int kind, void **pptr) {
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!pptr) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (size == 0) {
        return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
    }
    if (alignment & (alignment - 1)) {
        return ZE_RESULT_ERROR_UNSUPPORTED_ALIGNMENT;
    }
    void *p =
        fk_alloc(size, alignment > FK_PAGE ? alignment : FK_PAGE, kind, ctx);
    if (!p) {
        return kind == FK_HOST ? ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY
                               : ZE_RESULT_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    *pptr = p;
    return ZE_RESULT_SUCCESS;
}

// Size limit of device and shared memory.
static ze_result_t_ check_limit(const ze_device_mem_alloc_desc_t_ *desc,
                                size_t size) {
    if (!desc) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (desc->stype != ZE_STRUCTURE_TYPE_DEVICE_MEM_ALLOC_DESC) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const ze_relaxed_allocation_limits_exp_desc_t_ *ext = desc->pNext;
    int relaxed =
        ext &&
        ext->stype == ZE_STRUCTURE_TYPE_RELAXED_ALLOCATION_LIMITS_EXP_DESC &&
        (ext->flags & ZE_RELAXED_ALLOCATION_LIMITS_EXP_FLAG_MAX_SIZE);
    if (relaxed) {
        atomic_fetch_add(&relaxed_seen, 1);
    }
    if (size > atomic_load(&max_alloc) && !relaxed) {
        return ZE_RESULT_ERROR_UNSUPPORTED_SIZE;
    }
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeMemAllocHost(ze_context_handle_t ctx,
                            const ze_host_mem_alloc_desc_t_ *host_desc,
                            size_t size, size_t alignment, void **pptr) {
    ENTER("zeMemAllocHost");
    if (!host_desc) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (host_desc->stype != ZE_STRUCTURE_TYPE_HOST_MEM_ALLOC_DESC) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return alloc_common(ctx, size, alignment, FK_HOST, pptr);
}

ze_result_t_ zeMemAllocDevice(ze_context_handle_t ctx,
                              const ze_device_mem_alloc_desc_t_ *device_desc,
                              size_t size, size_t alignment,
                              ze_device_handle_t dev, void **pptr) {
    ENTER("zeMemAllocDevice");
    if (!device_ok(dev)) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    ze_result_t_ r = check_limit(device_desc, size);
    return r ? r : alloc_common(ctx, size, alignment, FK_DEVICE, pptr);
}

ze_result_t_ zeMemAllocShared(ze_context_handle_t ctx,
                              const ze_device_mem_alloc_desc_t_ *device_desc,
                              const ze_host_mem_alloc_desc_t_ *host_desc,
                              size_t size, size_t alignment,
                              ze_device_handle_t dev, void **pptr) {
    ENTER("zeMemAllocShared");
    if (dev && !device_ok(dev)) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!host_desc) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    ze_result_t_ r = check_limit(device_desc, size);
    return r ? r : alloc_common(ctx, size, alignment, FK_SHARED, pptr);
}

ze_result_t_ zeMemFree(ze_context_handle_t ctx, void *ptr) {
    ENTER("zeMemFree");
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    unsigned all = (1u << FK_HOST) | (1u << FK_DEVICE) | (1u << FK_SHARED);
    return fk_free(ptr, all, 0) ? ZE_RESULT_ERROR_INVALID_ARGUMENT
                                : ZE_RESULT_SUCCESS;
}

ze_result_t_ zeContextMakeMemoryResident(ze_context_handle_t ctx,
                                         ze_device_handle_t dev, void *ptr,
                                         size_t size) {
    ENTER("zeContextMakeMemoryResident");
    if (!ctx || !device_ok(dev)) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    return fk_contains(ptr, size) ? ZE_RESULT_SUCCESS
                                  : ZE_RESULT_ERROR_INVALID_ARGUMENT;
}

ze_result_t_ zeMemGetIpcHandle(ze_context_handle_t ctx, const void *ptr,
                               ze_ipc_mem_handle_t_ *handle) {
    ENTER("zeMemGetIpcHandle");
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    fk_block b = fk_lookup(ptr);
    if (!handle || !b.kind || b.imported) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int fd = fcntl(fk_heap_fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    fake_ipc_t h = {fd,     ZE_IPC_MAGIC,   (int32_t)getpid(),
                    b.kind, (int64_t)b.off, b.len};
    memset(handle, 0, sizeof(*handle));
    memcpy(handle->data, &h, sizeof(h));
    atomic_fetch_add(&open_handles, 1);
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeMemPutIpcHandle(ze_context_handle_t ctx,
                               ze_ipc_mem_handle_t_ handle) {
    ENTER("zeMemPutIpcHandle");
    fake_ipc_t h;
    memcpy(&h, handle.data, sizeof(h));
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (h.magic != ZE_IPC_MAGIC || h.pid != (int32_t)getpid()) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    close(h.fd);
    atomic_fetch_sub(&open_handles, 1);
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeMemOpenIpcHandle(ze_context_handle_t ctx, ze_device_handle_t dev,
                                ze_ipc_mem_handle_t_ handle, uint32_t flags,
                                void **pptr) {
    ENTER("zeMemOpenIpcHandle");
    fake_ipc_t h;
    memcpy(&h, handle.data, sizeof(h));
    if (!ctx || (dev && !device_ok(dev))) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!pptr) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    if (h.magic != ZE_IPC_MAGIC || flags > 3 || h.fd < 0 ||
        fcntl(h.fd, F_GETFD) < 0) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT; // no such fd here
    }
    void *p = fk_import(h.fd, (off_t)h.off, (size_t)h.len, h.kind, ctx);
    if (!p) {
        return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    *pptr = p;
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeMemCloseIpcHandle(ze_context_handle_t ctx, const void *ptr) {
    ENTER("zeMemCloseIpcHandle");
    if (!ctx) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    unsigned all = (1u << FK_HOST) | (1u << FK_DEVICE) | (1u << FK_SHARED);
    return fk_free(ptr, all, 1) ? ZE_RESULT_ERROR_INVALID_ARGUMENT
                                : ZE_RESULT_SUCCESS;
}

struct _ze_command_list_handle_t {
    ze_context_handle_t ctx;
};

ze_result_t_ zeCommandListCreateImmediate(ze_context_handle_t ctx,
                                          ze_device_handle_t dev,
                                          const void *queue_desc,
                                          ze_command_list_handle_t *list) {
    ENTER("zeCommandListCreateImmediate");
    if (!ctx || !device_ok(dev)) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!queue_desc || !list) {
        return ZE_RESULT_ERROR_INVALID_NULL_POINTER;
    }
    ze_command_list_handle_t l = calloc(1, sizeof(*l));
    if (!l) {
        return ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    l->ctx = ctx;
    *list = l;
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeCommandListAppendMemoryCopy(ze_command_list_handle_t list,
                                           void *dst, const void *src,
                                           size_t size, void *signal_event,
                                           uint32_t num_wait_events,
                                           void **wait_events) {
    ENTER("zeCommandListAppendMemoryCopy");
    (void)signal_event, (void)wait_events;
    if (!list) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    if (!dst || !src || num_wait_events) {
        return ZE_RESULT_ERROR_INVALID_ARGUMENT;
    }
    memcpy(fk_device_view(dst, size), fk_device_view(src, size), size);
    return ZE_RESULT_SUCCESS;
}

ze_result_t_ zeCommandListDestroy(ze_command_list_handle_t list) {
    ENTER("zeCommandListDestroy");
    if (!list) {
        return ZE_RESULT_ERROR_INVALID_NULL_HANDLE;
    }
    free(list);
    return ZE_RESULT_SUCCESS;
}

// --- Control ---

void fake_ze_memcpy(void *dst, const void *src, size_t n) {
    memcpy(fk_device_view(dst, n), fk_device_view(src, n), n);
}

long fake_ze_calls(const char *fn) {
    return fk_calls(fn);
}

void fake_ze_inject(const char *fn, uint32_t result, int times) {
    fk_inject(fn, result, times);
}

void fake_ze_reset(void) {
    fk_reset();
    atomic_store(&max_alloc, (uint64_t)1 << 30);
    atomic_store(&relaxed_seen, 0);
}

long fake_ze_live(void) {
    return fk_live();
}

void fake_ze_set_max_alloc(uint64_t bytes) {
    atomic_store(&max_alloc, bytes);
}

long fake_ze_relaxed_seen(void) {
    return atomic_load(&relaxed_seen);
}

long fake_ze_open_handles(void) {
    return atomic_load(&open_handles);
}
