/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_devdax_memory.c - the devdax memory provider (contract section
 * 15).
 *
 * The whole device DAX character device (/dev/daxX.Y) is mapped once at
 * creation with MAP_SHARED_VALIDATE | MAP_SYNC, 2 MiB aligned; allocation
 * is a lock-free bump pointer inside that mapping (never reused, no free).
 * IPC handles carry the device path and the offset and length in it; a
 * consumer maps the 2 MiB-rounded range of the same device.
 *
 * Test stand-in: no machine this project is tested on has a device DAX.
 * With the environment variable UMF_DEVDAX_TEST_STANDIN=1 (test-only,
 * documented as such in umfDevDaxMemoryProviderOps(3)) the provider also
 * accepts a regular file of at least the given size anywhere (a tmpfs file
 * or a memfd through /proc/<pid>/fd/<n>) and maps it with plain MAP_SHARED,
 * because such files cannot do MAP_SYNC. Everything else - path checks
 * of the real device aside - runs the same code as with a device.
 *
 * Locks: the bump pointer is one atomic; one mutex guards the map of
 * mappings opened from IPC handles (taken by fork.c before fork, rank
 * FORK_RANK_FILE_DAX).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <umf/providers/provider_devdax_memory.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "log.h"
#include "os_linux.h"
#include "provider.h"
#include "providers/provider_file_memory_internal.h"

#undef LOG_PREFIX
#define LOG_PREFIX "devdax provider: "

#define DEVDAX_PREFIX "/dev/dax"

// --- Params ---

struct umf_devdax_memory_provider_params_t {
    char *path;
    size_t size;
    unsigned protection;
};

static bool path_ok(const char *path) {
    return path != NULL && path[0] != '\0';
}

static bool protection_ok(unsigned protection) {
    const unsigned known = UMF_PROTECTION_NONE | UMF_PROTECTION_READ |
                           UMF_PROTECTION_WRITE | UMF_PROTECTION_EXEC;
    return protection != 0 && (protection & ~known) == 0;
}

UMF_EXPORT umf_result_t umfDevDaxMemoryProviderParamsCreate(
    umf_devdax_memory_provider_params_handle_t *hParams, const char *path,
    size_t size) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(path_ok(path), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "path is NULL or empty");
    umf_devdax_memory_provider_params_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->path = ba_strdup(path);
    if (!p->path) {
        ba_free(p);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->size = size;
    p->protection = UMF_PROTECTION_READ | UMF_PROTECTION_WRITE;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDevDaxMemoryProviderParamsDestroy(
    umf_devdax_memory_provider_params_handle_t hParams) {
    if (hParams) {
        ba_free(hParams->path);
        ba_free(hParams);
    }
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDevDaxMemoryProviderParamsSetDeviceDax(
    umf_devdax_memory_provider_params_handle_t hParams, const char *path,
    size_t size) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(path_ok(path), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "path is NULL or empty");
    char *copy = ba_strdup(path);
    if (!copy) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    ba_free(hParams->path);
    hParams->path = copy;
    hParams->size = size;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfDevDaxMemoryProviderParamsSetProtection(
    umf_devdax_memory_provider_params_handle_t hParams, unsigned protection) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(protection_ok(protection), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "protection 0x%x is 0 or has bits other than "
              "UMF_PROTECTION_*",
              protection);
    hParams->protection = protection;
    return UMF_RESULT_SUCCESS;
}

// --- Native errors ---

static const char *const native_texts[] = {
    "success",
    "memory allocation failed",
    "allocated address is not aligned",
    "memory deallocation failed",
    "force purging failed",
};

static _Thread_local struct {
    int32_t code; // 0 until the first failure of this thread
    char msg[256];
} tls_native;

static umf_result_t dax_fail(umf_devdax_memory_provider_native_error_t code,
                             int errnum) {
    const char *text = native_texts[code - UMF_DEVDAX_RESULTS_START_FROM];
    tls_native.code = (int32_t)code;
    if (errnum > 0) {
        char ebuf[128];
        snprintf(tls_native.msg, sizeof(tls_native.msg), "%s: %s", text,
                 strerror_r(errnum, ebuf, sizeof(ebuf)));
    } else {
        snprintf(tls_native.msg, sizeof(tls_native.msg), "%s", text);
    }
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static void dax_get_last_native_error(void *priv, const char **msg,
                                      int32_t *err) {
    (void)priv;
    if (!msg || !err) {
        return;
    }
    if (tls_native.code == 0) {
        *msg = native_texts[0];
        *err = UMF_DEVDAX_RESULT_SUCCESS;
        return;
    }
    *msg = tls_native.msg;
    *err = tls_native.code;
}

// --- Provider ---

typedef struct dax_provider_t {
    char path[PATH_MAX];
    void *base;
    size_t size;
    unsigned umf_prot;
    bool sync;            // MAP_SYNC (false only for the test stand-in)
    _Atomic size_t used;  // bump offset
    pthread_mutex_t lock; // opened
    addr_map_t opened;    // IPC: address handed out -> mapping
    struct dax_provider_t *reg_next;
} dax_provider_t;

// Every live devdax provider, for fork.c: its lock is taken before fork
// (rank FORK_RANK_FILE_DAX).
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static dax_provider_t *registry;

static void dax_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (dax_provider_t *d = registry; d; d = d->reg_next) {
        pthread_mutex_lock(&d->lock);
    }
}

static void dax_fork_release(void) {
    for (dax_provider_t *d = registry; d; d = d->reg_next) {
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t dax_fork_handler = {
    .name = "devdax providers",
    .rank = FORK_RANK_FILE_DAX,
    .prepare = dax_fork_prepare,
    .parent = dax_fork_release,
    .child = dax_fork_release, // the child's thread holds them
};

static const provider_traits_t dax_traits = {
    .zero_filled = false, // a device keeps its contents
    .ipc_data_matches_chunk = file_ipc_data_matches_chunk,
};

static bool standin_enabled(void) {
    const char *v = os_getenv("UMF_DEVDAX_TEST_STANDIN");
    return v != NULL && strcmp(v, "1") == 0;
}

static umf_result_t dax_initialize(void *params, void **priv) {
    umf_devdax_memory_provider_params_handle_t p = params;
    if (!p) {
        LOG_ERR("params is NULL (create them with "
                "umfDevDaxMemoryProviderParamsCreate)");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->size == 0) {
        LOG_ERR("size is 0 (give the size of the device)");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t plen = strlen(p->path);
    if (plen >= PATH_MAX) {
        LOG_ERR("path is %zu bytes long, the limit is %d", plen, PATH_MAX - 1);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int prot;
    if (!protection_ok(p->protection) ||
        os_prot_from_umf(p->protection, &prot) < 0) {
        LOG_ERR("protection 0x%x is not valid", p->protection);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    bool standin = standin_enabled();
    bool prefix = strncmp(p->path, DEVDAX_PREFIX, strlen(DEVDAX_PREFIX)) == 0;
    if (!prefix && !standin) {
        LOG_ERR("%s is not a device DAX (a path /dev/daxX.Y)", p->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int fd = os_open(p->path, O_RDWR, 0);
    if (fd < 0) {
        LOG_PERR(-fd, "cannot open %s", p->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    uint64_t fsize = 0;
    int kind = os_fd_kind(fd, &fsize);
    bool sync = true;
    if (kind != 1) {
        if (!(standin && kind == 2 && fsize >= p->size)) {
            LOG_ERR("%s is not a character device%s", p->path,
                    standin ? " nor a regular file of the size given" : "");
            os_close(fd);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        LOG_WARN("%s: test stand-in for a device DAX (UMF_DEVDAX_TEST_"
                 "STANDIN=1): plain shared mapping, no MAP_SYNC",
                 p->path);
        sync = false;
    }
    dax_provider_t *d = ba_calloc(1, sizeof(*d));
    if (!d) {
        os_close(fd);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    size_t len = align_up(p->size, os_page_size());
    int r = file_map(fd, 0, len, FILE_DAX_PAGE, prot,
                     sync ? FILE_MAP_SYNC : FILE_MAP_SHARED, &d->base);
    os_close(fd); // the mapping keeps the device
    if (r < 0) {
        LOG_PERR(-r, "cannot map %zu bytes of %s with MAP_SYNC", len, p->path);
        ba_free(d);
        return UMF_RESULT_ERROR_UNKNOWN;
    }
    memcpy(d->path, p->path, plen + 1);
    d->size = p->size;
    d->umf_prot = p->protection;
    d->sync = sync;
    pthread_mutex_init(&d->lock, NULL);
    (void)fork_register(&dax_fork_handler);
    provider_traits_register(umfDevDaxMemoryProviderOps(), &dax_traits);
    pthread_mutex_lock(&registry_lock);
    d->reg_next = registry;
    registry = d;
    pthread_mutex_unlock(&registry_lock);
    *priv = d;
    return UMF_RESULT_SUCCESS;
}

static void dax_finalize(void *priv) {
    dax_provider_t *d = priv;
    pthread_mutex_lock(&registry_lock);
    for (dax_provider_t **pp = &registry; *pp; pp = &(*pp)->reg_next) {
        if (*pp == d) {
            *pp = d->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    os_munmap(d->base, align_up(d->size, os_page_size()));
    addr_map_fini(&d->opened);
    pthread_mutex_destroy(&d->lock);
    ba_free(d);
}

static umf_result_t dax_alloc(void *priv, size_t size, size_t alignment,
                              void **ptr) {
    dax_provider_t *d = priv;
    if (!ptr) {
        LOG_ERR("ptr is NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *ptr = NULL;
    if (alignment != 0 &&
        (!is_pow2(alignment) ||
         (alignment % FILE_DAX_PAGE != 0 && FILE_DAX_PAGE % alignment != 0))) {
        LOG_ERR("alignment %zu is not a power of two that is a multiple or "
                "a divisor of 2 MiB",
                alignment);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (size == 0) {
        LOG_ERR("size is 0");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t a = alignment == 0
                   ? 1
                   : (alignment < FILE_DAX_PAGE ? FILE_DAX_PAGE : alignment);
    uintptr_t base = (uintptr_t)d->base;
    size_t old = atomic_load_explicit(&d->used, memory_order_relaxed);
    size_t start, end;
    do {
        start = align_up(base + old, a) - base;
        if (start < old || start > d->size || d->size - start < size) {
            LOG_ERR("out of device memory: %zu bytes (alignment %zu) asked, "
                    "%zu of %zu used",
                    size, alignment, old, d->size);
            return dax_fail(UMF_DEVDAX_RESULT_ERROR_ALLOC_FAILED, 0);
        }
        end = start + size;
        // relaxed: the offset orders nothing but itself.
    } while (!atomic_compare_exchange_weak_explicit(
        &d->used, &old, end, memory_order_relaxed, memory_order_relaxed));
    *ptr = (void *)(base + start);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_purge_force(void *priv, void *ptr, size_t size) {
    (void)priv;
    uintptr_t start = align_down_ptr((uintptr_t)ptr, os_page_size());
    size_t len = align_up((uintptr_t)ptr + size - start, os_page_size());
    int r = os_madvise((void *)start, len, MADV_DONTNEED);
    if (r < 0) {
        return dax_fail(UMF_DEVDAX_RESULT_ERROR_PURGE_FORCE_FAILED, -r);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_get_recommended_page_size(void *priv, size_t size,
                                                  size_t *page) {
    (void)priv, (void)size;
    if (!page) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *page = FILE_DAX_PAGE;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_get_min_page_size(void *priv, void *ptr, size_t *page) {
    (void)ptr;
    return dax_get_recommended_page_size(priv, 0, page);
}

static const char *dax_get_name(void *priv) {
    (void)priv;
    return "DEVDAX";
}

// The device stays mapped as a whole: nothing to do (contract: SUCCESS).
static umf_result_t dax_allocation_split(void *priv, void *ptr, size_t total,
                                         size_t first) {
    (void)priv, (void)ptr, (void)total, (void)first;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_allocation_merge(void *priv, void *low, void *high,
                                         size_t total) {
    (void)priv, (void)low, (void)high, (void)total;
    return UMF_RESULT_SUCCESS;
}

// --- IPC ---

static umf_result_t dax_get_ipc_handle_size(void *priv, size_t *size) {
    (void)priv;
    if (!size) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *size = sizeof(file_ipc_data_t);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_get_ipc_handle(void *priv, const void *ptr, size_t size,
                                       void *data) {
    dax_provider_t *d = priv;
    uintptr_t p = (uintptr_t)ptr, base = (uintptr_t)d->base;
    if (!ptr || !data || size == 0 || p < base || p - base >= d->size ||
        d->size - (p - base) < size) {
        LOG_ERR("get IPC handle: [%p, +%zu) is not memory of this provider",
                ptr, size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_ipc_data_t *h = data;
    memset(h, 0, sizeof(*h));
    h->magic = DEVDAX_IPC_MAGIC;
    h->version = FILE_IPC_VERSION;
    h->offset = p - base;
    h->size = size;
    h->protection = d->umf_prot;
    h->sync = d->sync;
    memcpy(h->path, d->path, strlen(d->path) + 1);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_put_ipc_handle(void *priv, void *data) {
    dax_provider_t *d = priv;
    const file_ipc_data_t *h = data;
    if (!h || strncmp(h->path, d->path, sizeof(h->path)) != 0) {
        LOG_ERR("put IPC handle: the handle is not of device %s", d->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t dax_open_ipc_handle(void *priv, void *data, void **ptr) {
    dax_provider_t *d = priv;
    if (!data || !ptr) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    const file_ipc_data_t *h = data;
    if (!h->sync && !standin_enabled()) {
        LOG_ERR("open IPC handle: the producer mapped %.64s without "
                "MAP_SYNC (a test stand-in); set UMF_DEVDAX_TEST_STANDIN=1 "
                "to open it",
                h->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return file_ipc_open_common(h, DEVDAX_IPC_MAGIC, true, &d->opened, &d->lock,
                                ptr);
}

static umf_result_t dax_close_ipc_handle(void *priv, void *ptr, size_t size) {
    (void)size;
    dax_provider_t *d = priv;
    return file_ipc_close_common(&d->opened, &d->lock, ptr);
}

static umf_memory_provider_ops_t dax_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = dax_initialize,
    .finalize = dax_finalize,
    .alloc = dax_alloc,
    .get_last_native_error = dax_get_last_native_error,
    .get_recommended_page_size = dax_get_recommended_page_size,
    .get_min_page_size = dax_get_min_page_size,
    .get_name = dax_get_name,
    .ext.free = NULL, // NOT_SUPPORTED: memory goes with the provider
    .ext.purge_lazy = NULL,
    .ext.purge_force = dax_purge_force,
    .ext.allocation_merge = dax_allocation_merge,
    .ext.allocation_split = dax_allocation_split,
    .ipc.get_ipc_handle_size = dax_get_ipc_handle_size,
    .ipc.get_ipc_handle = dax_get_ipc_handle,
    .ipc.put_ipc_handle = dax_put_ipc_handle,
    .ipc.open_ipc_handle = dax_open_ipc_handle,
    .ipc.close_ipc_handle = dax_close_ipc_handle,
};

UMF_EXPORT umf_memory_provider_ops_t *umfDevDaxMemoryProviderOps(void) {
    return &dax_ops;
}
