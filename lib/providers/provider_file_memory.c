/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_file_memory.c - the file memory provider (contract section 14).
 *
 * Memory is a mapping of one regular file, private (copy-on-write) or
 * shared. Allocation is a bump pointer over the file: a request that does
 * not fit in the current window maps a new window at fresh file offsets
 * (the file is grown with posix_fallocate first), so offsets and addresses
 * are never reused and there is no free: everything is unmapped when the
 * provider is destroyed (use it under the coarse provider, or a pool that
 * keeps its memory). Alignment 0 packs allocations back to back inside a
 * window; other alignments are at least a page.
 *
 * FSDAX: with SHARED visibility, creation maps a page of the file with
 * MAP_SHARED_VALIDATE | MAP_SYNC. If the kernel accepts it the file is on
 * a DAX filesystem: every mapping then uses MAP_SYNC and the page size is
 * 2 MiB. If not, the provider still works, with ordinary shared mappings
 * and the system page size (upstream 0.10.1 does the same).
 *
 * IPC (SHARED only): the handle data is the path, the file offset and size
 * of the allocation and the protection; a consumer (another process of a
 * user that may open the file) re-opens the file by path and maps the
 * page-rounded range. Opened mappings are remembered by the address handed
 * out, so close unmaps exactly what open mapped.
 *
 * Native errors are per thread (code and message).
 *
 * Fork: a shared provider marked private-after-fork (the proxy's file
 * heaps, umf_private_file_provider_private_after_fork) does not stay
 * shared in a fork child: the child replaces its mappings of the file by
 * private copies (the parent's forking thread waits until it has them) and
 * closes the file; its new windows are then anonymous private memory, and
 * it has no IPC. Parent and child never write into each other's heap.
 *
 * Locks: one mutex per provider around the bump state, the window list and
 * the map of opened IPC mappings; fork.c takes them all before fork (rank
 * FORK_RANK_FILE_DAX).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <umf/providers/provider_file_memory.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "log.h"
#include "os_linux.h"
#include "provider.h"
#include "providers/provider_file_memory_internal.h"
#include "umf_private.h"

#undef LOG_PREFIX
#define LOG_PREFIX "file provider: "

// Smallest window mapped at a time: small requests share it.
#define FILE_WINDOW_MIN ((size_t)2 << 20)
// Size of the file right after creation (contract).
#define FILE_INIT_SIZE  ((off_t)2 << 20)

// --- Mapping helper (shared with the devdax provider) ---

// A reservation of len + extra bytes at res now holds len bytes at `at`:
// gives back the bytes before and after.
static void trim_reservation(void *res, size_t len, size_t extra,
                             uintptr_t at) {
    if (at > (uintptr_t)res) {
        os_munmap(res, at - (uintptr_t)res);
    }
    uintptr_t end = (uintptr_t)res + len + extra;
    if (at + len < end) {
        os_munmap((void *)(at + len), end - (at + len));
    }
}

int file_map(int fd, uint64_t offset, size_t len, size_t align, int prot,
             file_map_mode_t mode, void **out) {
    size_t page = os_page_size();
    size_t extra = align > page ? align : 0;
    void *res = NULL;
    // Reserve room for the aligned mapping, then put the file over it.
    int r = os_mmap_anon(len + extra, PROT_NONE, &res);
    if (r < 0) {
        return r;
    }
    uintptr_t at = extra ? align_up((uintptr_t)res, align) : (uintptr_t)res;
    void *p = (void *)at;
    switch (mode) {
    case FILE_MAP_PRIVATE:
        r = os_mmap_fd_private(p, len, prot, fd, (off_t)offset, &p);
        break;
    case FILE_MAP_SHARED:
        r = os_mmap_fd(&p, len, prot, fd, (off_t)offset, 1);
        break;
    case FILE_MAP_SYNC:
        r = os_mmap_fd_sync(p, len, prot, fd, (off_t)offset, &p);
        break;
    }
    if (r < 0) {
        os_munmap(res, len + extra);
        return r;
    }
    trim_reservation(res, len, extra, at);
    *out = p;
    return 0;
}

bool file_ipc_data_matches_chunk(const void *data, uint64_t chunk_size) {
    file_ipc_data_t d;
    memcpy(&d, data, sizeof(d));
    return d.size == chunk_size;
}

// --- Params ---

struct umf_file_memory_provider_params_t {
    char *path;
    unsigned protection;
    umf_memory_visibility_t visibility;
};

static bool path_ok(const char *path) {
    return path != NULL && path[0] != '\0';
}

UMF_EXPORT umf_result_t umfFileMemoryProviderParamsCreate(
    umf_file_memory_provider_params_handle_t *hParams, const char *path) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    CHECK_ARG(path_ok(path), UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "path is NULL or empty");
    umf_file_memory_provider_params_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->path = ba_strdup(path);
    if (!p->path) {
        ba_free(p);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->protection = UMF_PROTECTION_READ | UMF_PROTECTION_WRITE;
    p->visibility = UMF_MEM_MAP_PRIVATE;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfFileMemoryProviderParamsDestroy(
    umf_file_memory_provider_params_handle_t hParams) {
    if (hParams) {
        ba_free(hParams->path);
        ba_free(hParams);
    }
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfFileMemoryProviderParamsSetPath(
    umf_file_memory_provider_params_handle_t hParams, const char *path) {
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
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfFileMemoryProviderParamsSetProtection(
    umf_file_memory_provider_params_handle_t hParams, unsigned protection) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    hParams->protection = protection; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfFileMemoryProviderParamsSetVisibility(
    umf_file_memory_provider_params_handle_t hParams,
    umf_memory_visibility_t visibility) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    hParams->visibility = visibility; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

// --- Native errors ---

static const char *const native_texts[] = {
    "success",
    "memory allocation failed",
    "memory deallocation failed",
    "force purging failed",
};

static _Thread_local struct {
    int32_t code; // 0 until the first failure of this thread
    char msg[256];
} tls_native;

static umf_result_t file_fail(umf_file_memory_provider_native_error_t code,
                              int errnum) {
    const char *text = native_texts[code - UMF_FILE_RESULTS_START_FROM];
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

static void file_get_last_native_error(void *priv, const char **msg,
                                       int32_t *err) {
    (void)priv;
    if (!msg || !err) {
        return;
    }
    if (tls_native.code == 0) {
        *msg = native_texts[0];
        *err = UMF_FILE_RESULT_SUCCESS;
        return;
    }
    *msg = tls_native.msg;
    *err = tls_native.code;
}

// --- Provider ---

typedef struct file_window_t {
    uintptr_t addr;
    size_t size;
    uint64_t offset; // in the file
} file_window_t;

typedef struct file_opened_t {
    void *base; // what open mapped
    size_t len;
} file_opened_t;

typedef struct file_provider_t {
    pthread_mutex_t lock;
    int fd; // -1: a fork child's private copy, new windows anonymous
    char path[PATH_MAX];
    unsigned umf_prot;
    int prot;
    umf_memory_visibility_t visibility;
    bool fsdax;
    bool private_after_fork; // shared: a fork child copies, not shares
    size_t page;
    uint64_t file_end;      // next unused file offset (page multiple)
    uintptr_t cur, cur_end; // bump range of the current window
    file_window_t *wins;    // sorted by addr
    size_t nwins, wins_cap;
    addr_map_t opened; // IPC: address handed out -> file_opened_t *
    struct file_provider_t *reg_next;
} file_provider_t;

// Every live file provider, for fork.c: its lock is taken before fork
// (rank FORK_RANK_FILE_DAX).
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static file_provider_t *registry;

// The parent's forking thread waits here until a child has copied the
// mappings of private-after-fork providers (fork.h).
static fork_copy_gate_t fork_gate = FORK_COPY_GATE_INIT;

static bool copies_in_child(const file_provider_t *f) {
    return f->private_after_fork && f->fd >= 0 &&
           f->visibility == UMF_MEM_MAP_SHARED;
}

static void file_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    bool copies = false;
    for (file_provider_t *f = registry; f; f = f->reg_next) {
        pthread_mutex_lock(&f->lock);
        copies |= copies_in_child(f);
    }
    if (copies) {
        fork_copy_gate_open(&fork_gate);
    }
}

static void file_fork_parent(void) {
    fork_copy_gate_wait(&fork_gate); // the child has its copies
    for (file_provider_t *f = registry; f; f = f->reg_next) {
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

// In a fork child: the provider's shared mappings become private copies
// and the file is closed, so the child never writes into the parent's
// heap; its windows from now on are anonymous. pre: lock held.
static void child_go_private_locked(file_provider_t *f) {
    int r = os_privatize_fd_mappings(f->fd);
    if (r) {
        LOG_PERR(-r, "fork child: cannot copy the shared mappings of %s",
                 f->path);
    }
    (void)os_close(f->fd);
    f->fd = -1;
    f->visibility = UMF_MEM_MAP_PRIVATE; // no IPC from a private copy
    f->fsdax = false;
}

static void file_fork_child(void) {
    for (file_provider_t *f = registry; f; f = f->reg_next) {
        if (copies_in_child(f)) {
            child_go_private_locked(f);
        }
        pthread_mutex_unlock(&f->lock); // the child's thread holds it
    }
    fork_copy_gate_close(&fork_gate); // copies done: the parent goes on
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t file_fork_handler = {
    .name = "file providers",
    .rank = FORK_RANK_FILE_DAX,
    .prepare = file_fork_prepare,
    .parent = file_fork_parent,
    .child = file_fork_child,
};

// For libumf_proxy.so (a heap must stay private across fork, as with any
// malloc); in no public header.
UMF_EXPORT umf_result_t
umf_private_file_provider_private_after_fork(umf_memory_provider_handle_t h) {
    CHECK_ARG(h != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "provider is NULL");
    if (h->ops.alloc != umfFileMemoryProviderOps()->alloc) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_provider_t *f = provider_priv(h);
    pthread_mutex_lock(&registry_lock);
    f->private_after_fork = true;
    pthread_mutex_unlock(&registry_lock);
    return UMF_RESULT_SUCCESS;
}

static const provider_traits_t file_traits = {
    .zero_filled = false, // the first 2 MiB may hold an old file's data
    .ipc_data_matches_chunk = file_ipc_data_matches_chunk,
};

static file_map_mode_t map_mode(const file_provider_t *f) {
    if (f->visibility == UMF_MEM_MAP_PRIVATE) {
        return FILE_MAP_PRIVATE;
    }
    return f->fsdax ? FILE_MAP_SYNC : FILE_MAP_SHARED;
}

static umf_result_t file_initialize(void *params, void **priv) {
    umf_file_memory_provider_params_handle_t p = params;
    if (!p) {
        LOG_ERR("params is NULL (create them with "
                "umfFileMemoryProviderParamsCreate)");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t plen = strlen(p->path);
    if (plen >= PATH_MAX - 1) {
        LOG_ERR("path is %zu bytes long, the limit is %d", plen, PATH_MAX - 2);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int prot;
    if (os_prot_from_umf(p->protection, &prot) < 0) {
        LOG_ERR("protection 0x%x has bits other than UMF_PROTECTION_*",
                p->protection);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->visibility != UMF_MEM_MAP_PRIVATE &&
        p->visibility != UMF_MEM_MAP_SHARED) {
        LOG_ERR("visibility %d is not UMF_MEM_MAP_PRIVATE or "
                "UMF_MEM_MAP_SHARED",
                (int)p->visibility);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_provider_t *f = ba_calloc(1, sizeof(*f));
    if (!f) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    memcpy(f->path, p->path, plen + 1);
    f->umf_prot = p->protection;
    f->prot = prot;
    f->visibility = p->visibility;
    f->page = os_page_size();
    f->fd = os_open(p->path, O_RDWR | O_CREAT, 0600);
    if (f->fd < 0) {
        LOG_PERR(-f->fd, "cannot open or create %s", p->path);
        goto err_free;
    }
    if (os_fd_kind(f->fd, NULL) != 2) {
        LOG_ERR("%s is not a regular file", p->path);
        goto err_close;
    }
    int r = os_ftruncate(f->fd, FILE_INIT_SIZE);
    if (r < 0) {
        LOG_PERR(-r, "cannot set the size of %s", p->path);
        goto err_close;
    }
    if (f->visibility == UMF_MEM_MAP_SHARED) {
        void *probe;
        r = os_mmap_fd_sync(NULL, f->page, prot ? prot : PROT_READ, f->fd, 0,
                            &probe);
        if (r == 0) {
            os_munmap(probe, f->page);
            f->fsdax = true;
            f->page = FILE_DAX_PAGE;
            LOG_INFO("%s is on a DAX filesystem: MAP_SYNC, 2 MiB pages",
                     p->path);
        } else {
            LOG_INFO("%s: no MAP_SYNC (%d), not FSDAX: ordinary shared "
                     "mappings",
                     p->path, -r);
        }
    }
    pthread_mutex_init(&f->lock, NULL);
    (void)fork_register(&file_fork_handler);
    provider_traits_register(umfFileMemoryProviderOps(), &file_traits);
    pthread_mutex_lock(&registry_lock);
    f->reg_next = registry;
    registry = f;
    pthread_mutex_unlock(&registry_lock);
    *priv = f;
    return UMF_RESULT_SUCCESS;

err_close:
    os_close(f->fd);
err_free:
    ba_free(f);
    return UMF_RESULT_ERROR_INVALID_ARGUMENT;
}

static void file_finalize(void *priv) {
    file_provider_t *f = priv;
    pthread_mutex_lock(&registry_lock);
    for (file_provider_t **pp = &registry; *pp; pp = &(*pp)->reg_next) {
        if (*pp == f) {
            *pp = f->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    for (size_t i = 0; i < f->nwins; i++) {
        os_munmap((void *)f->wins[i].addr, f->wins[i].size);
    }
    ba_free(f->wins);
    // Mappings opened from IPC handles and never closed: the cache above
    // closes them first; what is left here is the user's leak.
    addr_map_fini(&f->opened);
    if (f->fd >= 0) {
        os_close(f->fd);
    }
    pthread_mutex_destroy(&f->lock);
    ba_free(f);
}

// Anonymous private memory of len bytes aligned to align, for the windows
// of a fork child's private copy of a heap (fd -1).
static int anon_map(size_t len, size_t align, int prot, void **out) {
    size_t extra = align > os_page_size() ? align : 0;
    void *res;
    int r = os_mmap_anon(len + extra, prot, &res);
    if (r < 0) {
        return r;
    }
    uintptr_t at = extra ? align_up((uintptr_t)res, align) : (uintptr_t)res;
    trim_reservation(res, len, extra, at);
    *out = (void *)at;
    return 0;
}

// Maps len bytes aligned to align at the next file offsets, which the
// file is grown to hold; in a fork child's private copy (no file),
// anonymous memory. pre: lock held.
static umf_result_t window_map_locked(file_provider_t *f, size_t len,
                                      size_t align, void **p) {
    uint64_t off = f->file_end;
    int r;
    if (f->fd < 0) {
        r = anon_map(len, align, f->prot, p);
        if (r < 0) {
            LOG_PERR(-r, "cannot map %zu bytes of private memory", len);
            return file_fail(UMF_FILE_RESULT_ERROR_ALLOC_FAILED, -r);
        }
        return UMF_RESULT_SUCCESS; // no file offsets taken
    }
    if (off > (uint64_t)INT64_MAX - len) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    r = os_fallocate(f->fd, (off_t)off, (off_t)len);
    if (r < 0) {
        LOG_PERR(-r, "cannot grow %s to %llu bytes", f->path,
                 (unsigned long long)(off + len));
        return UMF_RESULT_ERROR_UNKNOWN;
    }
    r = file_map(f->fd, off, len, align, f->prot, map_mode(f), p);
    if (r < 0) {
        LOG_PERR(-r, "cannot map %zu bytes of %s at offset %llu", len, f->path,
                 (unsigned long long)off);
        return file_fail(UMF_FILE_RESULT_ERROR_ALLOC_FAILED, -r);
    }
    f->file_end = off + len;
    return UMF_RESULT_SUCCESS;
}

// Maps a new window of at least size bytes aligned to align and makes it
// the bump range. pre: lock held.
static umf_result_t window_new_locked(file_provider_t *f, size_t size,
                                      size_t align) {
    size_t len;
    if (!align_up_checked(size, f->page, &len)) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (len < FILE_WINDOW_MIN) {
        len = align_up(FILE_WINDOW_MIN, f->page);
    }
    if (f->nwins == f->wins_cap) {
        size_t cap = f->wins_cap ? 2 * f->wins_cap : 16;
        file_window_t *n = ba_realloc(f->wins, cap * sizeof(*n));
        if (!n) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        f->wins = n;
        f->wins_cap = cap;
    }
    void *p;
    uint64_t off = f->file_end;
    umf_result_t res = window_map_locked(f, len, align, &p);
    if (res != UMF_RESULT_SUCCESS) {
        return res;
    }
    // Insert in address order.
    size_t i = f->nwins;
    while (i > 0 && f->wins[i - 1].addr > (uintptr_t)p) {
        f->wins[i] = f->wins[i - 1];
        i--;
    }
    f->wins[i] = (file_window_t){(uintptr_t)p, len, off};
    f->nwins++;
    f->cur = (uintptr_t)p;
    f->cur_end = (uintptr_t)p + len;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_alloc(void *priv, size_t size, size_t alignment,
                               void **ptr) {
    file_provider_t *f = priv;
    if (!ptr) {
        LOG_ERR("ptr is NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *ptr = NULL;
    if (alignment != 0 && (!is_pow2(alignment) || (alignment % f->page != 0 &&
                                                   f->page % alignment != 0))) {
        LOG_ERR("alignment %zu is not a power of two that is a multiple or "
                "a divisor of the page size %zu",
                alignment, f->page);
        return UMF_RESULT_ERROR_INVALID_ALIGNMENT;
    }
    if (size == 0) {
        LOG_ERR("size is 0");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t a = alignment == 0 ? 1 : (alignment < f->page ? f->page : alignment);
    size_t rounded;
    if (!align_up_checked(size, f->page, &rounded) || rounded > SIZE_MAX - a) {
        LOG_ERR("size %zu is too large", size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&f->lock);
    uintptr_t at = f->cur ? align_up(f->cur, a) : 0;
    if (!f->cur || at < f->cur || at > f->cur_end || f->cur_end - at < size) {
        umf_result_t r = window_new_locked(f, size, a);
        if (r != UMF_RESULT_SUCCESS) {
            pthread_mutex_unlock(&f->lock);
            return r;
        }
        at = f->cur; // the window is aligned to a
    }
    f->cur = at + size;
    pthread_mutex_unlock(&f->lock);
    *ptr = (void *)at;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_purge_force(void *priv, void *ptr, size_t size) {
    file_provider_t *f = priv;
    uintptr_t start = align_down_ptr((uintptr_t)ptr, os_page_size());
    size_t len = align_up((uintptr_t)ptr + size - start, os_page_size());
    (void)f;
    int r = os_madvise((void *)start, len, MADV_DONTNEED);
    if (r < 0) {
        return file_fail(UMF_FILE_RESULT_ERROR_PURGE_FORCE_FAILED, -r);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_get_recommended_page_size(void *priv, size_t size,
                                                   size_t *page) {
    (void)size;
    file_provider_t *f = priv;
    if (!page) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *page = f->page;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_get_min_page_size(void *priv, void *ptr,
                                           size_t *page) {
    (void)ptr;
    return file_get_recommended_page_size(priv, 0, page);
}

static const char *file_get_name(void *priv) {
    (void)priv;
    return "FILE";
}

// Windows are never unmapped before the provider goes, so splitting and
// merging allocations changes nothing here.
static umf_result_t file_allocation_split(void *priv, void *ptr, size_t total,
                                          size_t first) {
    (void)priv, (void)ptr;
    if (first == 0 || first >= total) {
        LOG_ERR("split: firstSize %zu must be in (0, %zu)", first, total);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_allocation_merge(void *priv, void *low, void *high,
                                          size_t total) {
    (void)priv;
    if ((uintptr_t)high <= (uintptr_t)low ||
        (uintptr_t)high - (uintptr_t)low >= total) {
        LOG_ERR("merge: %p and %p are not two parts of %zu bytes", low, high,
                total);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

// --- IPC ---

static umf_result_t ipc_check(const file_provider_t *f) {
    if (f->visibility != UMF_MEM_MAP_SHARED) {
        LOG_ERR("IPC needs a provider with UMF_MEM_MAP_SHARED visibility");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_get_ipc_handle_size(void *priv, size_t *size) {
    umf_result_t r = ipc_check(priv);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    if (!size) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *size = sizeof(file_ipc_data_t);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_get_ipc_handle(void *priv, const void *ptr,
                                        size_t size, void *data) {
    file_provider_t *f = priv;
    umf_result_t r = ipc_check(f);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    if (!ptr || !data || size == 0) {
        LOG_ERR("get IPC handle: ptr, data and size must be set");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    uintptr_t p = (uintptr_t)ptr;
    pthread_mutex_lock(&f->lock);
    size_t lo = 0, hi = f->nwins;
    while (lo < hi) { // first window with addr > p
        size_t mid = lo + (hi - lo) / 2;
        if (f->wins[mid].addr > p) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    const file_window_t *w = lo > 0 ? &f->wins[lo - 1] : NULL;
    if (!w || p - w->addr >= w->size || w->size - (p - w->addr) < size) {
        pthread_mutex_unlock(&f->lock);
        LOG_ERR("get IPC handle: [%p, +%zu) is not memory of this provider",
                ptr, size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_ipc_data_t *d = data;
    memset(d, 0, sizeof(*d));
    d->magic = FILE_IPC_MAGIC;
    d->version = FILE_IPC_VERSION;
    d->offset = w->offset + (p - w->addr);
    d->size = size;
    d->protection = f->umf_prot;
    d->sync = f->fsdax;
    memcpy(d->path, f->path, strlen(f->path) + 1);
    pthread_mutex_unlock(&f->lock);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_put_ipc_handle(void *priv, void *data) {
    file_provider_t *f = priv;
    umf_result_t r = ipc_check(f);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    const file_ipc_data_t *d = data;
    if (!d || strncmp(d->path, f->path, sizeof(d->path)) != 0) {
        LOG_ERR("put IPC handle: the handle is not of file %s", f->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

umf_result_t file_ipc_open_common(const file_ipc_data_t *d, uint32_t magic,
                                  bool need_chardev, addr_map_t *opened,
                                  pthread_mutex_t *lock, void **ptr) {
    if (d->magic != magic || d->version != FILE_IPC_VERSION ||
        memchr(d->path, '\0', sizeof(d->path)) == NULL || d->path[0] == '\0' ||
        d->size == 0 || d->size > ((uint64_t)1 << 47) ||
        d->offset > ((uint64_t)1 << 62)) {
        LOG_ERR("open IPC handle: malformed handle data");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int prot;
    if (os_prot_from_umf(d->protection, &prot) < 0) {
        LOG_ERR("open IPC handle: bad protection 0x%x", d->protection);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    int fd = os_open(d->path, O_RDWR, 0);
    if (fd < 0) {
        LOG_PERR(-fd, "open IPC handle: cannot open %s", d->path);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    uint64_t fsize = 0;
    int kind = os_fd_kind(fd, &fsize);
    size_t gran = d->sync ? FILE_DAX_PAGE : os_page_size();
    uint64_t start = d->offset & ~(uint64_t)(gran - 1);
    uint64_t len = align_up((size_t)(d->offset - start + d->size), gran);
    umf_result_t r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    if (need_chardev ? kind != 1 && kind != 2 : kind != 2) {
        LOG_ERR("open IPC handle: %s is not a %s", d->path,
                need_chardev ? "device" : "regular file");
        goto out_close;
    }
    if (kind == 2 && d->offset + d->size > fsize) {
        LOG_ERR("open IPC handle: [%llu, +%llu) lies past the end of %s",
                (unsigned long long)d->offset, (unsigned long long)d->size,
                d->path);
        goto out_close;
    }
    void *base;
    int e = file_map(fd, start, len, 0, prot,
                     d->sync ? FILE_MAP_SYNC : FILE_MAP_SHARED, &base);
    if (e < 0) {
        LOG_PERR(-e, "open IPC handle: cannot map %s", d->path);
        r = UMF_RESULT_ERROR_UNKNOWN;
        goto out_close;
    }
    file_opened_t *o = ba_alloc(sizeof(*o));
    void *p = (char *)base + (d->offset - start);
    pthread_mutex_lock(lock);
    if (!o ||
        !addr_map_put(opened, (uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)o)) {
        pthread_mutex_unlock(lock);
        ba_free(o);
        os_munmap(base, len);
        r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        goto out_close;
    }
    pthread_mutex_unlock(lock);
    o->base = base;
    o->len = len;
    *ptr = p;
    r = UMF_RESULT_SUCCESS;
out_close:
    os_close(fd);
    return r;
}

umf_result_t file_ipc_close_common(addr_map_t *opened, pthread_mutex_t *lock,
                                   void *ptr) {
    uint64_t v;
    pthread_mutex_lock(lock);
    bool found = addr_map_del(opened, (uint64_t)(uintptr_t)ptr, &v);
    pthread_mutex_unlock(lock);
    if (!found) {
        LOG_ERR("close IPC handle: %p was not opened by this provider", ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_opened_t *o = (file_opened_t *)(uintptr_t)v;
    os_munmap(o->base, o->len);
    ba_free(o);
    return UMF_RESULT_SUCCESS;
}

static umf_result_t file_open_ipc_handle(void *priv, void *data, void **ptr) {
    file_provider_t *f = priv;
    umf_result_t r = ipc_check(f);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    if (!data || !ptr) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return file_ipc_open_common(data, FILE_IPC_MAGIC, false, &f->opened,
                                &f->lock, ptr);
}

static umf_result_t file_close_ipc_handle(void *priv, void *ptr, size_t size) {
    (void)size;
    file_provider_t *f = priv;
    umf_result_t r = ipc_check(f);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    return file_ipc_close_common(&f->opened, &f->lock, ptr);
}

static umf_memory_provider_ops_t file_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = file_initialize,
    .finalize = file_finalize,
    .alloc = file_alloc,
    .get_last_native_error = file_get_last_native_error,
    .get_recommended_page_size = file_get_recommended_page_size,
    .get_min_page_size = file_get_min_page_size,
    .get_name = file_get_name,
    .ext.free = NULL, // NOT_SUPPORTED: memory goes with the provider
    .ext.purge_lazy = NULL,
    .ext.purge_force = file_purge_force,
    .ext.allocation_merge = file_allocation_merge,
    .ext.allocation_split = file_allocation_split,
    .ipc.get_ipc_handle_size = file_get_ipc_handle_size,
    .ipc.get_ipc_handle = file_get_ipc_handle,
    .ipc.put_ipc_handle = file_put_ipc_handle,
    .ipc.open_ipc_handle = file_open_ipc_handle,
    .ipc.close_ipc_handle = file_close_ipc_handle,
};

UMF_EXPORT umf_memory_provider_ops_t *umfFileMemoryProviderOps(void) {
    return &file_ops;
}
