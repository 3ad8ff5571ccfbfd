/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_os_memory.c - the OS memory provider.
 *
 * Private memory is anonymous mmap. Shared memory maps one file per
 * provider (a named POSIX shm object, or an anonymous memfd: memfd_secret
 * first, memfd_create as fallback, per the contract's UMF_MEM_FD_FUNC rule)
 * with MAP_SHARED. Every allocation takes fresh file offsets that are never
 * reused, so a new allocation is always zero-filled and never aliases memory
 * that a forked child or an IPC consumer still maps; a per-provider map
 * remembers each allocation's offset (for IPC handles, split and merge).
 * Free is munmap. In the process that created the provider, free first
 * releases the pages (MADV_REMOVE) so shared memory does not pile up in the
 * file; a forked child never does, so it cannot destroy its parent's data.
 * Secret memory cannot be released at all before the provider goes away.
 *
 * Transparent huge pages (our extension, provider_os_memory_ext.h): with
 * UMF_OS_HUGE_PAGES_ON every allocation is madvise(MADV_HUGEPAGE)'d and
 * allocations of at least one huge page are aligned to it, so the kernel
 * can back them with huge pages from the first fault; _OFF advises
 * MADV_NOHUGEPAGE.
 *
 * NUMA placement: node ids are checked against the hwloc topology at
 * creation (loaded lazily, only when a node list is given) and turned into a
 * node mask; each allocation then applies its policy with mbind(2) directly,
 * because hwloc cannot express MPOL_LOCAL or MPOL_PREFERRED_MANY.
 *
 * IPC (section "IPC" below): handles carry the producer's pid and fd
 * (memfd, taken with pidfd_getfd) or the shm name, plus offset, size and
 * the file's identity; consumers keep one fd per producer file while they
 * map any of it.
 *
 * Native errors are per thread: a code (UMF_OS_RESULT_*) and a message
 * "<fixed text>[: <strerror>]".
 *
 * Locks: a shared provider has one mutex around its offset map (taken on
 * allocation, free, split and merge, next to mmap/munmap system calls); all
 * shared providers are on a registry so fork.c can take their locks around
 * fork(). Private providers take no lock. The interleave byte counter is one
 * atomic per provider.
 */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <umf/providers/provider_os_memory.h>
#include <umf/providers/provider_os_memory_ext.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "log.h"
#include "os_linux.h"
#include "provider.h"
#include "providers/provider_os_memory_internal.h"
#include "topology.h"
#include "umf_private.h"

// mbind(2) modes, from <linux/mempolicy.h> (kept here: glibc has no header).
#define OS_MPOL_DEFAULT        0
#define OS_MPOL_PREFERRED      1
#define OS_MPOL_BIND           2
#define OS_MPOL_INTERLEAVE     3
#define OS_MPOL_LOCAL          4
#define OS_MPOL_PREFERRED_MANY 5

#define OS_MAX_NODES    1024
#define OS_MASK_WORDS   (OS_MAX_NODES / (8 * sizeof(unsigned long)))
#define OS_SHM_NAME_MAX (NAME_MAX - 2)
// Offset map values: the file offset, plus this bit on the start of an
// allocation made by alloc (never on a piece made by split). Offsets stay
// below 2^63.
#define OS_OFF_ORIGINAL ((uint64_t)1 << 63)
#define OS_OFF(v)       ((v) & ~OS_OFF_ORIGINAL)

// --- Params ---

struct umf_os_memory_provider_params_t {
    unsigned protection;
    umf_memory_visibility_t visibility;
    char *shm_name;
    unsigned *numa_list;
    unsigned numa_list_len;
    umf_numa_mode_t numa_mode;
    size_t part_size;
    umf_numa_split_partition_t *partitions;
    unsigned partitions_len;
    umf_os_huge_pages_t huge_pages; // extension
};

#define CHECK_PARAMS(h)                                                        \
    CHECK_ARG((h) != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "hParams is NULL")

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsCreate(
    umf_os_memory_provider_params_handle_t *hParams) {
    CHECK_ARG(hParams != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hParams is NULL");
    umf_os_memory_provider_params_handle_t p = ba_calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->protection = UMF_PROTECTION_READ | UMF_PROTECTION_WRITE;
    p->visibility = UMF_MEM_MAP_PRIVATE;
    p->numa_mode = UMF_NUMA_MODE_DEFAULT;
    *hParams = p;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsDestroy(
    umf_os_memory_provider_params_handle_t hParams) {
    if (hParams) {
        ba_free(hParams->shm_name);
        ba_free(hParams->numa_list);
        ba_free(hParams->partitions);
        ba_free(hParams);
    }
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetProtection(
    umf_os_memory_provider_params_handle_t hParams, unsigned protection) {
    CHECK_PARAMS(hParams);
    hParams->protection = protection; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetVisibility(
    umf_os_memory_provider_params_handle_t hParams,
    umf_memory_visibility_t visibility) {
    CHECK_PARAMS(hParams);
    hParams->visibility = visibility; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetShmName(
    umf_os_memory_provider_params_handle_t hParams, const char *shm_name) {
    CHECK_PARAMS(hParams);
    char *copy = NULL;
    if (shm_name && shm_name[0]) {
        // Keep one byte past the limit so creation can tell "too long".
        copy = ba_strndup(shm_name, OS_SHM_NAME_MAX + 1);
        if (!copy) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
    }
    ba_free(hParams->shm_name);
    hParams->shm_name = copy;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetNumaList(
    umf_os_memory_provider_params_handle_t hParams, unsigned *numa_list,
    unsigned numa_list_len) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(numa_list != NULL || numa_list_len == 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "numa_list is NULL but numa_list_len is %u", numa_list_len);
    unsigned *copy = NULL;
    if (numa_list_len) {
        copy = ba_alloc(sizeof(unsigned) * numa_list_len);
        if (!copy) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        memcpy(copy, numa_list, sizeof(unsigned) * numa_list_len);
    }
    ba_free(hParams->numa_list);
    hParams->numa_list = copy;
    hParams->numa_list_len = numa_list_len;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetNumaMode(
    umf_os_memory_provider_params_handle_t hParams, umf_numa_mode_t numa_mode) {
    CHECK_PARAMS(hParams);
    hParams->numa_mode = numa_mode; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetPartSize(
    umf_os_memory_provider_params_handle_t hParams, size_t part_size) {
    CHECK_PARAMS(hParams);
    hParams->part_size = part_size;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetPartitions(
    umf_os_memory_provider_params_handle_t hParams,
    umf_numa_split_partition_t *partitions, unsigned partitions_len) {
    CHECK_PARAMS(hParams);
    CHECK_ARG(partitions != NULL || partitions_len == 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "partitions is NULL but partitions_len is %u", partitions_len);
    umf_numa_split_partition_t *copy = NULL;
    if (partitions_len) {
        copy = ba_alloc(sizeof(*copy) * partitions_len);
        if (!copy) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        memcpy(copy, partitions, sizeof(*copy) * partitions_len);
    }
    ba_free(hParams->partitions);
    hParams->partitions = copy;
    hParams->partitions_len = partitions_len;
    return UMF_RESULT_SUCCESS;
}

UMF_EXPORT umf_result_t umfOsMemoryProviderParamsSetHugePages(
    umf_os_memory_provider_params_handle_t hParams, umf_os_huge_pages_t mode) {
    CHECK_PARAMS(hParams);
    hParams->huge_pages = mode; // checked at provider creation
    return UMF_RESULT_SUCCESS;
}

// --- Native errors ---

static const char *const native_texts[] = {
    "success",
    "memory allocation failed",
    "allocated address is not aligned",
    "binding memory to NUMA node failed",
    "memory deallocation failed",
    "lazy purging failed",
    "force purging failed",
    "HWLOC topology discovery failed",
    "IPC handle open failed", // 1008: ours, see OS_RESULT_ERROR_IPC_FAILED
};

static _Thread_local struct {
    int32_t code; // 0 until the first failure of this thread
    char msg[256];
} tls_native;

// Records a native error (errnum 0: none captured) and returns
// MEMORY_PROVIDER_SPECIFIC.
static umf_result_t os_fail(umf_os_memory_provider_native_error_t code,
                            int errnum) {
    const char *text = native_texts[code - UMF_OS_RESULTS_START_FROM];
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

static void os_get_last_native_error(void *priv, const char **msg,
                                     int32_t *err) {
    (void)priv;
    if (tls_native.code == 0) {
        *msg = native_texts[0];
        *err = UMF_OS_RESULT_SUCCESS;
        return;
    }
    *msg = tls_native.msg;
    *err = tls_native.code;
}

// --- Provider state ---

typedef struct os_provider_t {
    int prot;
    umf_memory_visibility_t visibility;
    int fd;      // shared: the backing file; -1 for private
    bool secret; // fd is a memfd_secret: pages cannot be released
    char shm_name[OS_SHM_NAME_MAX + 1]; // "" for an anonymous fd
    int creator_pid;         // shared: only it releases pages on free
    bool private_after_fork; // shared: a fork child copies, not shares
    bool has_private_copies; // a fork child that copied: see split
    pthread_mutex_t lock;    // shared: guards offsets and next_offset
    addr_map_t offsets;      // shared: allocation start -> file offset
    uint64_t next_offset;    // shared: offsets are never reused
    struct os_provider_t *reg_prev, *reg_next; // registry of shared ones
    // --- IPC consumer side (shared providers, under lock) ---
    struct os_ipc_source_t *ipc_sources; // producers' files, by identity
    addr_map_t ipc_maps;                 // mapping address -> os_ipc_map_t
    umf_numa_mode_t mode;
    unsigned nnodes;
    unsigned *nodes; // in list order
    unsigned long mask[OS_MASK_WORDS];
    size_t part_size; // page-rounded interleave part, 0 = kernel interleave
    _Atomic size_t interleave_bytes; // bytes placed so far (running counter)
    unsigned nparts;
    umf_numa_split_partition_t *parts; // SPLIT; equal weights if none given
    unsigned long total_weight;
    _Atomic bool warned_preferred_many;
    umf_os_huge_pages_t huge_pages;
    size_t huge_size; // the huge page size when huge_pages is ON, else 0
} os_provider_t;

// --- Registry of shared providers, for fork ---

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static os_provider_t *registry;

static const fork_handler_t os_fork_handler;

static const provider_traits_t os_traits;

static void registry_add(os_provider_t *os) {
    (void)fork_register(&os_fork_handler);
    provider_traits_register(umfOsMemoryProviderOps(), &os_traits);
    pthread_mutex_lock(&registry_lock);
    os->reg_prev = NULL;
    os->reg_next = registry;
    if (registry) {
        registry->reg_prev = os;
    }
    registry = os;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(os_provider_t *os) {
    pthread_mutex_lock(&registry_lock);
    if (os->reg_prev) {
        os->reg_prev->reg_next = os->reg_next;
    } else {
        registry = os->reg_next;
    }
    if (os->reg_next) {
        os->reg_next->reg_prev = os->reg_prev;
    }
    pthread_mutex_unlock(&registry_lock);
}

// A child copies the shared mappings of private-after-fork providers after
// fork() returned, while the parent runs on and writes to that same shared
// memory: the forking thread of the parent waits at this gate until the
// child has its copy, so the copy is the memory as it was at fork(). Other
// threads of a multi-threaded parent are not stopped (see DESIGN-NOTES).
static fork_copy_gate_t fork_gate = FORK_COPY_GATE_INIT;

static void os_provider_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    bool copies = false;
    for (os_provider_t *os = registry; os; os = os->reg_next) {
        pthread_mutex_lock(&os->lock);
        copies |= os->private_after_fork && os->fd >= 0;
    }
    if (copies) {
        fork_copy_gate_open(&fork_gate);
    }
}

static void os_provider_fork_parent(void) {
    fork_copy_gate_wait(&fork_gate); // the child has copied
    for (os_provider_t *os = registry; os; os = os->reg_next) {
        pthread_mutex_unlock(&os->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

// A provider marked private-after-fork, in the child: its mappings become
// private copies and it gets a backing file of its own, so parent and
// child never write into each other's memory.
static void child_go_private(os_provider_t *os) {
    int r = os_privatize_fd_mappings(os->fd);
    if (r) {
        LOG_PERR(-r, "fork child: cannot copy the shared mappings");
    }
    // An anonymous memfd even when the parent's file had a name: a child
    // often ends with _exit and could never remove a name of its own.
    os->shm_name[0] = '\0';
    int fd = os_memfd_create("umf_os_provider");
    if (fd >= 0 && os_ftruncate(fd, (off_t)INT64_MAX) != 0) {
        (void)os_close(fd);
        fd = -1;
    }
    if (fd < 0) {
        LOG_ERR("fork child: no new shared memory file; allocations fail");
    }
    (void)os_close(os->fd);
    os->fd = fd;
    os->secret = false;
    os->creator_pid = os_getpid();
    os->has_private_copies = true;
    addr_map_fini(&os->offsets);
    os->offsets = (addr_map_t)ADDR_MAP_INIT;
    os->next_offset = 0;
}

static void os_provider_fork_child(void) {
    for (os_provider_t *os = registry; os; os = os->reg_next) {
        if (os->private_after_fork && os->fd >= 0) {
            child_go_private(os);
        }
        pthread_mutex_unlock(&os->lock); // the child's thread holds it
    }
    fork_copy_gate_close(&fork_gate); // copies done: the parent goes on
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t os_fork_handler = {
    .name = "OS memory providers",
    .rank = FORK_RANK_OS_PROVIDER,
    .prepare = os_provider_fork_prepare,
    .parent = os_provider_fork_parent,
    .child = os_provider_fork_child,
};

// For libumf_proxy.so (a heap must stay private across fork even when it
// is mapped shared for IPC); in no public header.
UMF_EXPORT umf_result_t
umf_private_os_provider_private_after_fork(umf_memory_provider_handle_t h) {
    CHECK_ARG(h != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "provider is NULL");
    if (h->ops.alloc != umfOsMemoryProviderOps()->alloc) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    os_provider_t *os = provider_priv(h);
    pthread_mutex_lock(&registry_lock);
    os->private_after_fork = true;
    pthread_mutex_unlock(&registry_lock);
    return UMF_RESULT_SUCCESS;
}

// For libumf_proxy.so: removes the provider's shm name now (the object
// lives on while it is mapped or open), so that no name outlives the
// process whatever kills it; IPC handles then carry the producer's pid
// and fd instead of the name. In no public header.
UMF_EXPORT umf_result_t
umf_private_os_provider_unlink_name(umf_memory_provider_handle_t h) {
    CHECK_ARG(h != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT, "provider is NULL");
    if (h->ops.alloc != umfOsMemoryProviderOps()->alloc) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    os_provider_t *os = provider_priv(h);
    if (os->fd < 0) {
        return UMF_RESULT_SUCCESS; // private memory: no name, no lock
    }
    pthread_mutex_lock(&os->lock);
    if (os->shm_name[0]) {
        if (os_shm_is_fd(os->shm_name, os->fd)) {
            (void)os_shm_unlink(os->shm_name);
        }
        os->shm_name[0] = '\0';
    }
    pthread_mutex_unlock(&os->lock);
    return UMF_RESULT_SUCCESS;
}

static void mask_set(unsigned long *mask, unsigned node) {
    mask[node / (8 * sizeof(unsigned long))] |=
        1UL << (node % (8 * sizeof(unsigned long)));
}

static bool list_has(const unsigned *list, unsigned n, unsigned node) {
    for (unsigned i = 0; i < n; i++) {
        if (list[i] == node) {
            return true;
        }
    }
    return false;
}

// Checks the contract's creation rules in its order.
static umf_result_t validate_params(umf_os_memory_provider_params_handle_t p,
                                    int *prot) {
    if (os_prot_from_umf(p->protection, prot) != 0) {
        LOG_ERR("protection 0x%x has bits other than UMF_PROTECTION_NONE, "
                "_READ, _WRITE and _EXEC",
                p->protection);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->visibility != UMF_MEM_MAP_PRIVATE &&
        p->visibility != UMF_MEM_MAP_SHARED) {
        LOG_ERR("visibility %d is neither UMF_MEM_MAP_PRIVATE (1) nor "
                "UMF_MEM_MAP_SHARED (2)",
                (int)p->visibility);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->visibility == UMF_MEM_MAP_SHARED &&
        p->numa_mode != UMF_NUMA_MODE_DEFAULT) {
        LOG_ERR("shared visibility supports only UMF_NUMA_MODE_DEFAULT");
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    unsigned n = p->numa_list_len;
    switch (p->numa_mode) {
    case UMF_NUMA_MODE_DEFAULT:
    case UMF_NUMA_MODE_LOCAL:
        if (n) {
            LOG_ERR("NUMA mode %s takes no node list (%u nodes given)",
                    p->numa_mode == UMF_NUMA_MODE_LOCAL ? "LOCAL" : "DEFAULT",
                    n);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        break;
    case UMF_NUMA_MODE_BIND:
    case UMF_NUMA_MODE_INTERLEAVE:
    case UMF_NUMA_MODE_SPLIT:
        if (!n) {
            LOG_ERR("NUMA modes BIND, INTERLEAVE and SPLIT need a node list");
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        break;
    case UMF_NUMA_MODE_PREFERRED:
        break;
    default:
        LOG_ERR("unknown NUMA mode %d", (int)p->numa_mode);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->numa_mode == UMF_NUMA_MODE_SPLIT) {
        for (unsigned i = 0; i < p->partitions_len; i++) {
            if (p->partitions[i].weight == 0) {
                LOG_ERR("partition %u has weight 0", i);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
            if (!list_has(p->numa_list, n, p->partitions[i].target)) {
                LOG_ERR("partition %u targets node %u, which is not in the "
                        "NUMA list",
                        i, p->partitions[i].target);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
        }
    }
    if (p->numa_mode == UMF_NUMA_MODE_INTERLEAVE) {
        size_t rounded;
        if (!align_up_checked(p->part_size, os_page_size(), &rounded)) {
            LOG_ERR("interleave part size %zu overflows when rounded up to a "
                    "page",
                    p->part_size);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
    }
    if (n) {
        for (unsigned i = 0; i < n; i++) {
            if (p->numa_list[i] >= OS_MAX_NODES) {
                LOG_ERR("NUMA node id %u is out of range (max %d)",
                        p->numa_list[i], OS_MAX_NODES - 1);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
        }
        hwloc_topology_t topo = topology_get();
        if (!topo) {
            return os_fail(UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED, 0);
        }
        for (unsigned i = 0; i < n; i++) {
            if (!topology_has_numa_node(topo, p->numa_list[i])) {
                LOG_ERR("NUMA node %u does not exist on this machine",
                        p->numa_list[i]);
                return UMF_RESULT_ERROR_INVALID_ARGUMENT;
            }
        }
    }
    if (p->visibility == UMF_MEM_MAP_SHARED && p->shm_name) {
        size_t len = strlen(p->shm_name);
        if (len > OS_SHM_NAME_MAX || strchr(p->shm_name, '/')) {
            LOG_ERR("shm name '%s' must have no '/' and at most %d "
                    "characters",
                    p->shm_name, OS_SHM_NAME_MAX);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
    }
    return UMF_RESULT_SUCCESS;
}

// Huge pages: the mode is valid, and ON needs a kernel with transparent
// huge pages. A system setting that ignores the advice only warns: the
// memory still works, in small pages.
#define OS_THP_DIR "/sys/kernel/mm/transparent_hugepage/"

static umf_result_t check_huge_pages(umf_os_memory_provider_params_handle_t p,
                                     size_t *huge_size) {
    *huge_size = 0;
    switch (p->huge_pages) {
    case UMF_OS_HUGE_PAGES_DEFAULT:
    case UMF_OS_HUGE_PAGES_OFF:
        return UMF_RESULT_SUCCESS;
    case UMF_OS_HUGE_PAGES_ON:
        break;
    default:
        LOG_ERR("huge pages mode %d is not UMF_OS_HUGE_PAGES_DEFAULT (0), "
                "_ON (1) or _OFF (2)",
                (int)p->huge_pages);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    char buf[128];
    bool shared = p->visibility == UMF_MEM_MAP_SHARED;
    const char *knob =
        shared ? OS_THP_DIR "shmem_enabled" : OS_THP_DIR "enabled";
    if (os_read_small_file(knob, buf, sizeof(buf)) < 0) {
        LOG_ERR("huge pages: this kernel has no transparent huge pages (%s "
                "is missing)",
                knob);
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    if (strstr(buf, "[never]") || strstr(buf, "[deny]")) {
        LOG_WARN("huge pages: %s says %s: MADV_HUGEPAGE will have no effect",
                 knob, strstr(buf, "[never]") ? "never" : "deny");
    }
    size_t size = (size_t)2 << 20;
    if (os_read_small_file(OS_THP_DIR "hpage_pmd_size", buf, sizeof(buf)) > 0) {
        unsigned long long v = strtoull(buf, NULL, 10);
        if (v >= os_page_size() && (v & (v - 1)) == 0) {
            size = (size_t)v;
        }
    }
    *huge_size = size;
    return UMF_RESULT_SUCCESS;
}

// Opens the backing file of a shared provider.
static umf_result_t open_backing(os_provider_t *os, const char *shm_name) {
    int fd;
    if (shm_name) {
        fd = os_shm_create(shm_name);
        if (fd < 0) {
            LOG_PERR(-fd, "cannot create shm object /dev/shm/%s", shm_name);
            return UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        snprintf(os->shm_name, sizeof(os->shm_name), "%s", shm_name);
    } else {
        const char *func = os_getenv("UMF_MEM_FD_FUNC");
        fd = -ENOSYS;
        if (!(func && strstr(func, "memfd_create"))) {
            // Secret memory is locked memory: without an unlimited lock
            // limit it fails after a few MiB, so only use it where it works.
            if (os_can_lock_unlimited()) {
                fd = os_memfd_secret();
                os->secret = fd >= 0;
            } else {
                LOG_DEBUG("memfd_secret skipped: RLIMIT_MEMLOCK is limited");
            }
        }
        if (fd < 0) {
            fd = os_memfd_create("umf_os_provider");
        }
        if (fd < 0) {
            LOG_PERR(-fd, "cannot create a memfd for shared memory");
            return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, -fd);
        }
    }
    // Sparse file as large as offsets go: allocations map it at offsets
    // equal to their addresses.
    int r = os_ftruncate(fd, (off_t)INT64_MAX);
    if (r) {
        LOG_PERR(-r, "cannot size the shared memory file");
        (void)os_close(fd);
        if (shm_name) {
            (void)os_shm_unlink(shm_name);
        }
        return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, -r);
    }
    os->fd = fd;
    os->creator_pid = os_getpid();
    pthread_mutex_init(&os->lock, NULL);
    registry_add(os);
    LOG_DEBUG("shared memory backed by %s%s", shm_name ? "/dev/shm/" : "",
              shm_name ? shm_name
                       : (os->secret ? "memfd_secret" : "memfd_create"));
    return UMF_RESULT_SUCCESS;
}

static void os_finalize(void *priv);
static void ipc_fini_locked(os_provider_t *os);

static umf_result_t os_initialize(void *params, void **priv) {
    umf_os_memory_provider_params_handle_t p = params;
    CHECK_ARG(p != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "params is NULL (create them with "
              "umfOsMemoryProviderParamsCreate)");
    int prot;
    umf_result_t ret = validate_params(p, &prot);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }

    // Every OS provider's memory is fresh (private or shared): declare
    // it for all, not only for shared ones (registry_add).
    provider_traits_register(umfOsMemoryProviderOps(), &os_traits);
    os_provider_t *os = ba_calloc(1, sizeof(*os));
    if (!os) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    os->fd = -1;
    os->prot = prot;
    os->visibility = p->visibility;
    os->mode = p->numa_mode;
    os->nnodes = p->numa_list_len;
    if (os->nnodes) {
        os->nodes = ba_alloc(sizeof(unsigned) * os->nnodes);
        if (!os->nodes) {
            ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
            goto err_finalize;
        }
        memcpy(os->nodes, p->numa_list, sizeof(unsigned) * os->nnodes);
        for (unsigned i = 0; i < os->nnodes; i++) {
            mask_set(os->mask, os->nodes[i]);
        }
    }
    if (os->mode == UMF_NUMA_MODE_INTERLEAVE) {
        os->part_size = align_up(p->part_size, os_page_size());
    }
    if (os->mode == UMF_NUMA_MODE_SPLIT) {
        // Without partitions: equal weights over the list, in list order.
        os->nparts = p->partitions_len ? p->partitions_len : os->nnodes;
        os->parts = ba_alloc(sizeof(*os->parts) * os->nparts);
        if (!os->parts) {
            ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
            goto err_finalize;
        }
        for (unsigned i = 0; i < os->nparts; i++) {
            os->parts[i] = p->partitions_len
                               ? p->partitions[i]
                               : (umf_numa_split_partition_t){1, os->nodes[i]};
            os->total_weight += os->parts[i].weight;
        }
    }
    os->huge_pages = p->huge_pages;
    ret = check_huge_pages(p, &os->huge_size);
    if (ret != UMF_RESULT_SUCCESS) {
        goto err_finalize;
    }
    if (os->visibility == UMF_MEM_MAP_SHARED) {
        ret = open_backing(os, p->shm_name);
        if (ret != UMF_RESULT_SUCCESS) {
            goto err_finalize;
        }
    }
    *priv = os;
    return UMF_RESULT_SUCCESS;

err_finalize:
    os_finalize(os);
    return ret;
}

static void os_finalize(void *priv) {
    os_provider_t *os = priv;
    if (os->fd >= 0) {
        registry_remove(os);
        ipc_fini_locked(os);
        addr_map_fini(&os->offsets);
        pthread_mutex_destroy(&os->lock);
        // Remove our shm name unless somebody removed it and reused it.
        // (IPC consumers do not remove it, unlike upstream's.)
        if (os->shm_name[0] && os_shm_is_fd(os->shm_name, os->fd)) {
            (void)os_shm_unlink(os->shm_name);
        }
        (void)os_close(os->fd);
    }
    ba_free(os->nodes);
    ba_free(os->parts);
    ba_free(os);
}

// --- Allocation ---

// Maps `size` bytes (page multiple) at an address that is a multiple of
// `align` (a page multiple). Shared memory takes fresh file offsets.
static int map_region(os_provider_t *os, size_t size, size_t align,
                      void **out) {
    size_t page = os_page_size();
    bool shared = os->fd >= 0;
    if (!shared && align == page) {
        return os_mmap_anon(size, os->prot, out);
    }
    size_t extra = align - page, total;
    if (size > SIZE_MAX - extra) {
        return -ENOMEM;
    }
    total = size + extra;
    void *base;
    int r = os_mmap_anon(total, shared ? PROT_NONE : os->prot, &base);
    if (r) {
        return r;
    }
    uintptr_t b = (uintptr_t)base;
    // Alignments need not be powers of two (any page multiple is valid).
    uintptr_t a = (b + align - 1) / align * align;
    if (shared) {
        pthread_mutex_lock(&os->lock);
        uint64_t off = os->next_offset;
        if (off > (uint64_t)INT64_MAX - size) {
            r = -ENOSPC; // 2^63 bytes of offsets used up
        } else if (!addr_map_put(&os->offsets, a, off | OS_OFF_ORIGINAL)) {
            r = -ENOMEM;
        } else {
            void *at = (void *)a;
            r = os_mmap_fd(&at, size, os->prot, os->fd, (off_t)off, 1);
            if (r) {
                addr_map_del(&os->offsets, a, NULL);
            } else {
                os->next_offset = off + size;
            }
        }
        pthread_mutex_unlock(&os->lock);
        if (r) {
            (void)os_munmap(base, total);
            return r;
        }
    }
    if (a > b) {
        (void)os_munmap(base, a - b);
    }
    if (b + total > a + size) {
        (void)os_munmap((void *)(a + size), b + total - (a + size));
    }
    *out = (void *)a;
    return 0;
}

static int bind_one(void *addr, size_t len, int mode, unsigned node) {
    unsigned long mask[OS_MASK_WORDS] = {0};
    mask_set(mask, node);
    return os_mbind(addr, len, mode, mask, OS_MAX_NODES + 1, 0);
}

static int apply_numa(os_provider_t *os, void *addr, size_t len) {
    size_t page = os_page_size();
    char *a = addr;
    int r = 0;
    switch (os->mode) {
    case UMF_NUMA_MODE_DEFAULT:
        return 0;
    case UMF_NUMA_MODE_BIND:
        return os_mbind(addr, len, OS_MPOL_BIND, os->mask, OS_MAX_NODES + 1, 0);
    case UMF_NUMA_MODE_LOCAL:
        return os_mbind(addr, len, OS_MPOL_LOCAL, NULL, 0, 0);
    case UMF_NUMA_MODE_PREFERRED:
        if (os->nnodes == 0) {
            // An empty preferred mask means "the local node".
            return os_mbind(addr, len, OS_MPOL_PREFERRED, NULL, 0, 0);
        }
        if (os->nnodes == 1) {
            return bind_one(addr, len, OS_MPOL_PREFERRED, os->nodes[0]);
        }
        r = os_mbind(addr, len, OS_MPOL_PREFERRED_MANY, os->mask,
                     OS_MAX_NODES + 1, 0);
        if (r == -EINVAL) {
            // Kernels before 5.15 lack MPOL_PREFERRED_MANY.
            if (!atomic_exchange(&os->warned_preferred_many, true)) {
                LOG_WARN("MPOL_PREFERRED_MANY unsupported; preferring node "
                         "%u only",
                         os->nodes[0]);
            }
            r = bind_one(addr, len, OS_MPOL_PREFERRED, os->nodes[0]);
        }
        return r;
    case UMF_NUMA_MODE_INTERLEAVE:
        if (os->part_size == 0) {
            return os_mbind(addr, len, OS_MPOL_INTERLEAVE, os->mask,
                            OS_MAX_NODES + 1, 0);
        } else {
            // The first part goes to the node the running byte counter
            // points at: (bytes placed before / part size) mod nodes.
            size_t nparts = (len + os->part_size - 1) / os->part_size;
            size_t before = atomic_fetch_add_explicit(
                &os->interleave_bytes, len, memory_order_relaxed);
            size_t first = before / os->part_size;
            for (size_t k = 0; k < nparts && r == 0; k++) {
                size_t off = k * os->part_size;
                size_t n =
                    len - off < os->part_size ? len - off : os->part_size;
                r = bind_one(a + off, n, OS_MPOL_BIND,
                             os->nodes[(first + k) % os->nnodes]);
            }
            return r;
        }
    case UMF_NUMA_MODE_SPLIT: {
        // Partition i gets pages [pages*W_i/W, pages*W_{i+1}/W) where W_i
        // is the sum of the weights before it: proportional, exact cover.
        size_t pages = len / page;
        unsigned long cum = 0;
        for (unsigned i = 0; i < os->nparts && r == 0; i++) {
            size_t from =
                (size_t)((unsigned __int128)pages * cum / os->total_weight);
            cum += os->parts[i].weight;
            size_t to =
                (size_t)((unsigned __int128)pages * cum / os->total_weight);
            if (to > from) {
                r = bind_one(a + from * page, (to - from) * page, OS_MPOL_BIND,
                             os->parts[i].target);
            }
        }
        return r;
    }
    default:
        return -EINVAL;
    }
}

static umf_result_t os_free(void *priv, void *ptr, size_t size);

static umf_result_t os_alloc(void *priv, size_t size, size_t alignment,
                             void **ptr) {
    os_provider_t *os = priv;
    size_t page = os_page_size();
    if (alignment && alignment % page != 0 && page % alignment != 0) {
        LOG_ERR("alignment %zu is neither a multiple nor a divisor of the "
                "page size %zu",
                alignment, page);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (size == 0) {
        return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, EINVAL);
    }
    size_t map;
    if (!align_up_checked(size, page, &map)) {
        return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, ENOMEM);
    }
    void *addr;
    size_t align = alignment > page ? alignment : page;
    if (os->huge_size && map >= os->huge_size && align < os->huge_size &&
        os->huge_size % align == 0) {
        align = os->huge_size; // huge pages need huge-page-aligned ranges
    }
    int r = map_region(os, map, align, &addr);
    if (r) {
        LOG_PDEBUG(-r, "mmap of %zu bytes failed", map);
        return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, -r);
    }
    if (os->huge_pages != UMF_OS_HUGE_PAGES_DEFAULT) {
        r = os_madvise(addr, map,
                       os->huge_pages == UMF_OS_HUGE_PAGES_ON
                           ? MADV_HUGEPAGE
                           : MADV_NOHUGEPAGE);
        if (r) {
            LOG_PERR(-r, "madvise(%s) of [%p, +%zu) failed",
                     os->huge_pages == UMF_OS_HUGE_PAGES_ON ? "MADV_HUGEPAGE"
                                                            : "MADV_NOHUGEPAGE",
                     addr, map);
            (void)os_free(os, addr, map);
            return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, -r);
        }
    }
    r = apply_numa(os, addr, map);
    if (r && r != -ENOSYS) {
        LOG_PERR(-r, "mbind of [%p, +%zu) failed", addr, map);
        (void)os_munmap(addr, map);
        return os_fail(UMF_OS_RESULT_ERROR_BIND_FAILED, -r);
    }
    *ptr = addr;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t os_free(void *priv, void *ptr, size_t size) {
    os_provider_t *os = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    size_t len = size ? align_up(size, os_page_size()) : 0;
    // Only the creating process releases pages: in a forked child the same
    // pages are still the parent's live data. A failed release leaves the
    // pages in the file, which is harmless.
    if (os->fd >= 0 && len && !os->secret && os_getpid() == os->creator_pid) {
        (void)os_madvise(ptr, len, MADV_REMOVE);
    }
    int r = os_munmap(ptr, len);
    if (r) {
        LOG_PDEBUG(-r, "munmap(%p, %zu) failed", ptr, len);
        return os_fail(UMF_OS_RESULT_ERROR_FREE_FAILED, -r);
    }
    if (os->fd >= 0) {
        pthread_mutex_lock(&os->lock);
        (void)addr_map_del(&os->offsets, (uintptr_t)ptr, NULL);
        pthread_mutex_unlock(&os->lock);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t os_purge_lazy(void *priv, void *ptr, size_t size) {
    os_provider_t *os = priv;
    int r;
    if (os->fd < 0) {
        r = os_madvise(ptr, size, MADV_FREE);
    } else if (os->secret) {
        r = 0; // secret memory cannot be released; "lazy" allows doing nothing
    } else {
        // MADV_FREE is for private anonymous memory only.
        r = os_madvise(ptr, size, MADV_REMOVE);
    }
    return r ? os_fail(UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED, -r)
             : UMF_RESULT_SUCCESS;
}

static umf_result_t os_purge_force(void *priv, void *ptr, size_t size) {
    os_provider_t *os = priv;
    int r;
    if (os->fd < 0) {
        r = os_madvise(ptr, size, MADV_DONTNEED);
    } else if (os->secret) {
        r = -EOPNOTSUPP;
    } else {
        // DONTNEED on a shared mapping would read back the file's data.
        r = os_madvise(ptr, size, MADV_REMOVE);
    }
    return r ? os_fail(UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED, -r)
             : UMF_RESULT_SUCCESS;
}

static umf_result_t os_get_recommended_page_size(void *priv, size_t size,
                                                 size_t *page) {
    os_provider_t *os = priv;
    // With huge pages on, allocations of a huge page or more are best
    // made in whole huge pages.
    *page =
        os->huge_size && size >= os->huge_size ? os->huge_size : os_page_size();
    return UMF_RESULT_SUCCESS;
}

static umf_result_t os_get_min_page_size(void *priv, void *ptr, size_t *page) {
    (void)priv, (void)ptr;
    *page = os_page_size();
    return UMF_RESULT_SUCCESS;
}

static const char *os_get_name(void *priv) {
    (void)priv;
    return "OS";
}

// Split and merge: only shared memory has bookkeeping (file offsets).
static umf_result_t os_allocation_split(void *priv, void *ptr, size_t total,
                                        size_t first) {
    os_provider_t *os = priv;
    (void)total;
    if (os->fd < 0) {
        return UMF_RESULT_SUCCESS;
    }
    umf_result_t ret = UMF_RESULT_SUCCESS;
    uint64_t off;
    pthread_mutex_lock(&os->lock);
    if (!addr_map_get(&os->offsets, (uintptr_t)ptr, &off)) {
        if (!os->has_private_copies) {
            LOG_ERR("split of %p: not an allocation of this provider", ptr);
            ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        }
        // else: memory from before the fork, a private copy now: no offset
    } else if (!addr_map_put(&os->offsets, (uintptr_t)ptr + first,
                             OS_OFF(off) + first)) {
        ret = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_mutex_unlock(&os->lock);
    return ret;
}

static umf_result_t os_allocation_merge(void *priv, void *low, void *high,
                                        size_t total) {
    os_provider_t *os = priv;
    (void)total;
    if (os->fd < 0) {
        return UMF_RESULT_SUCCESS;
    }
    umf_result_t ret = UMF_RESULT_SUCCESS;
    uint64_t lo_off, hi_off;
    uintptr_t gap = (uintptr_t)high - (uintptr_t)low;
    pthread_mutex_lock(&os->lock);
    bool lo_known = addr_map_get(&os->offsets, (uintptr_t)low, &lo_off);
    bool hi_known = addr_map_get(&os->offsets, (uintptr_t)high, &hi_off);
    if (os->has_private_copies && !lo_known && !hi_known) {
        // Both from before the fork, private copies now: nothing to keep.
    } else if (!lo_known || !hi_known) {
        LOG_ERR("merge of %p and %p: not allocations of this provider", low,
                high);
        ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    } else if (OS_OFF(hi_off) != OS_OFF(lo_off) + gap) {
        // One allocation must be one file range (IPC maps it as one).
        LOG_ERR("merge of %p and %p: not adjacent in the backing file", low,
                high);
        ret = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    } else if (!(hi_off & OS_OFF_ORIGINAL)) {
        (void)addr_map_del(&os->offsets, (uintptr_t)high, NULL);
    }
    // else: high starts an allocation of its own, which the tracker keeps
    // as a chunk (it does not mirror merges); IPC handles of that chunk
    // need its offset, so the key stays (its value is still right).
    pthread_mutex_unlock(&os->lock);
    return ret;
}

// --- IPC ---
//
// Handle data: the producer's pid, its fd (memfd) or shm name, the file
// offset and size of the chunk, and the file's identity (device, inode).
// The consumer gets the file by pidfd_getfd (memfd: same user and ptrace
// rules as the kernel applies to ptrace attach) or shm_open (named object:
// file permissions; objects are created mode 0600), checks that it is the
// file the handle names and that it is shared memory, and maps the range.
// It does not remove the shm name (upstream's consumer does, which breaks a
// second consumer): the producer's provider removes it when destroyed.
//
// A consumer keeps one fd per producer file while it maps anything of it
// (os_ipc_source_t), so opening more chunks of one producer costs an mmap.
// The data has one fixed size whatever the name, so a consumer provider
// without a shm name, or with another one, opens any OS provider's handle.

typedef struct os_ipc_source_t {
    struct os_ipc_source_t *next;
    uint64_t dev, ino;
    int fd;
    size_t refs; // mappings of it
} os_ipc_source_t;

typedef struct os_ipc_map_t {
    os_ipc_source_t *src;
    size_t len;
} os_ipc_map_t;

static umf_result_t ipc_check(os_provider_t *os) {
    if (os->visibility != UMF_MEM_MAP_SHARED || os->fd < 0) {
        LOG_ERR("IPC needs an OS provider with UMF_MEM_MAP_SHARED visibility "
                "(umfOsMemoryProviderParamsSetVisibility), on both sides");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

// A native IPC failure: code 1008, "IPC handle open failed: <strerror>
// (<hint>)"; the same text goes to the log.
static umf_result_t os_ipc_fail(int errnum, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static umf_result_t os_ipc_fail(int errnum, const char *fmt, ...) {
    char hint[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hint, sizeof(hint), fmt, ap);
    va_end(ap);
    char ebuf[128];
    tls_native.code = OS_RESULT_ERROR_IPC_FAILED;
    snprintf(
        tls_native.msg, sizeof(tls_native.msg), "%s: %s (%s)",
        native_texts[OS_RESULT_ERROR_IPC_FAILED - UMF_OS_RESULTS_START_FROM],
        strerror_r(errnum, ebuf, sizeof(ebuf)), hint);
    LOG_ERR("%s", tls_native.msg);
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static umf_result_t os_get_ipc_handle_size(void *priv, size_t *size) {
    umf_result_t r = ipc_check(priv);
    if (r == UMF_RESULT_SUCCESS) {
        *size = sizeof(os_ipc_data_t);
    }
    return r;
}

static umf_result_t os_get_ipc_handle(void *priv, const void *ptr, size_t size,
                                      void *data) {
    os_provider_t *os = priv;
    umf_result_t r = ipc_check(os);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    uint64_t off;
    pthread_mutex_lock(&os->lock);
    bool found = addr_map_get(&os->offsets, (uintptr_t)ptr, &off);
    pthread_mutex_unlock(&os->lock);
    size_t len;
    if (!found || size == 0 || !align_up_checked(size, os_page_size(), &len)) {
        LOG_ERR("get_ipc_handle: [%p, +%zu) is not an allocation of this "
                "provider",
                ptr, size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    os_ipc_data_t d;
    memset(&d, 0, sizeof(d));
    int e = os_fd_identity(os->fd, &d.dev, &d.ino);
    if (e) {
        LOG_PERR(-e, "fstat of the shared memory file");
        return os_fail(UMF_OS_RESULT_ERROR_ALLOC_FAILED, -e);
    }
    d.magic = OS_IPC_MAGIC;
    d.version = OS_IPC_VERSION;
    d.pid = os_getpid();
    d.protection = (uint32_t)os->prot;
    d.offset = OS_OFF(off);
    d.size = len;
    if (os->shm_name[0]) {
        d.kind = OS_IPC_SHM;
        d.fd = -1;
        memcpy(d.shm_name, os->shm_name, sizeof(d.shm_name));
    } else {
        d.kind = OS_IPC_MEMFD;
        d.fd = os->fd;
    }
    memcpy(data, &d, sizeof(d));
    return UMF_RESULT_SUCCESS;
}

static umf_result_t os_put_ipc_handle(void *priv, void *data) {
    os_provider_t *os = priv;
    umf_result_t r = ipc_check(os);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    os_ipc_data_t d;
    memcpy(&d, data, sizeof(d));
    bool ours =
        d.magic == OS_IPC_MAGIC && d.pid == os_getpid() &&
        ((d.kind == OS_IPC_MEMFD && d.fd == os->fd && !os->shm_name[0]) ||
         (d.kind == OS_IPC_SHM && os->shm_name[0] &&
          strncmp(d.shm_name, os->shm_name, sizeof(d.shm_name)) == 0));
    if (!ours) {
        LOG_ERR("put_ipc_handle: the data is not a handle of this provider "
                "in this process");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS; // the handle holds nothing to release
}

// Names we shm_open for another process: what our own providers and the
// proxy create, nothing that could walk out of /dev/shm.
static bool shm_name_ok(const char *name, size_t cap) {
    const char *end = memchr(name, '\0', cap);
    if (!end || end == name) {
        return false;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return false;
    }
    for (const char *c = name; c < end; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
                  *c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static umf_result_t os_ipc_data_check(const os_ipc_data_t *d) {
    size_t page = os_page_size();
    const char *why = NULL;
    if (d->magic != OS_IPC_MAGIC || d->version != OS_IPC_VERSION) {
        why = "bad magic or version";
    } else if (d->kind != OS_IPC_MEMFD && d->kind != OS_IPC_SHM) {
        why = "unknown kind";
    } else if (d->pid <= 0 || d->pid > (1 << 22)) {
        why = "producer pid out of range";
    } else if (d->size == 0 || d->size % page || d->size > OS_IPC_SIZE_MAX) {
        why = "size not a page multiple in (0, 2^47]";
    } else if (d->offset % page || d->offset > (uint64_t)INT64_MAX - d->size) {
        why = "file offset not a page multiple or past the file";
    } else if (d->kind == OS_IPC_MEMFD && d->fd < 0) {
        why = "negative fd";
    } else if (d->kind == OS_IPC_SHM &&
               !shm_name_ok(d->shm_name, sizeof(d->shm_name))) {
        why = "shm name empty, unterminated or not [A-Za-z0-9._-]";
    }
    if (why) {
        LOG_ERR("OS provider IPC data rejected: %s", why);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

bool os_ipc_data_matches_chunk(const void *data, uint64_t chunk_size) {
    os_ipc_data_t d;
    memcpy(&d, data, sizeof(d));
    size_t page = os_page_size();
    return d.magic == OS_IPC_MAGIC && chunk_size <= OS_IPC_SIZE_MAX &&
           d.size == ((chunk_size + page - 1) & ~(uint64_t)(page - 1));
}

// What lib/ may know of this provider (provider.h): mmap and new file
// offsets give zero-filled memory; IPC handle data is checked above.
static const provider_traits_t os_traits = {
    .zero_filled = true,
    .ipc_data_matches_chunk = os_ipc_data_matches_chunk,
};

static umf_result_t ipc_fd_from_producer(const os_ipc_data_t *d, int *out) {
    int pidfd = os_pidfd_open(d->pid);
    if (pidfd < 0) {
        if (pidfd == -ESRCH) {
            return os_ipc_fail(-pidfd,
                               "producer process %d does not exist; "
                               "memfd handles need a live producer",
                               (int)d->pid);
        }
        return os_ipc_fail(-pidfd, "pidfd_open(%d) failed; needs Linux 5.3",
                           (int)d->pid);
    }
    int fd = os_pidfd_getfd(pidfd, d->fd);
    (void)os_close(pidfd);
    if (fd == -EPERM || fd == -ENOSYS) {
        // /proc/<pid>/fd needs ptrace read access only, which Yama does
        // not restrict: a consumer of the same user gets the file there.
        // (The caller checks that it is the handle's file.)
        int pfd = os_open_proc_fd(d->pid, d->fd);
        if (pfd >= 0) {
            *out = pfd;
            return UMF_RESULT_SUCCESS;
        }
    }
    if (fd == -EPERM) {
        int scope = os_ptrace_scope();
        return os_ipc_fail(
            EPERM,
            "may not take fd %d of pid %d: needs ptrace rights over it: same "
            "user, and with yama/ptrace_scope=%d the producer must call "
            "prctl(PR_SET_PTRACER, consumer pid); or use a shm name",
            (int)d->fd, (int)d->pid, scope);
    }
    if (fd == -ENOSYS) {
        return os_ipc_fail(ENOSYS, "pidfd_getfd needs Linux 5.6; use a shm "
                                   "name instead");
    }
    if (fd < 0) {
        return os_ipc_fail(-fd, "pidfd_getfd(pid %d, fd %d)", (int)d->pid,
                           (int)d->fd);
    }
    *out = fd;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t ipc_fd_from_name(const os_ipc_data_t *d, int *out) {
    int fd = os_shm_open(d->shm_name);
    if (fd == -ENOENT) {
        return os_ipc_fail(ENOENT,
                           "no shm object /dev/shm/%s: its provider "
                           "was destroyed",
                           d->shm_name);
    }
    if (fd == -EACCES) {
        return os_ipc_fail(EACCES,
                           "/dev/shm/%s has mode 0600: run the "
                           "consumer as the producer's user",
                           d->shm_name);
    }
    if (fd < 0) {
        return os_ipc_fail(-fd, "shm_open(%s)", d->shm_name);
    }
    *out = fd;
    return UMF_RESULT_SUCCESS;
}

// pre: os->lock held. The consumer's fd of the producer's file, with a
// reference for one more mapping.
static umf_result_t ipc_source_get_locked(os_provider_t *os,
                                          const os_ipc_data_t *d,
                                          os_ipc_source_t **out) {
    for (os_ipc_source_t *s = os->ipc_sources; s; s = s->next) {
        if (s->dev == d->dev && s->ino == d->ino) {
            s->refs++;
            *out = s;
            return UMF_RESULT_SUCCESS;
        }
    }
    int fd = -1;
    umf_result_t r = d->kind == OS_IPC_MEMFD ? ipc_fd_from_producer(d, &fd)
                                             : ipc_fd_from_name(d, &fd);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    uint64_t dev = 0, ino = 0;
    int e = os_fd_shmem_identity(fd, &dev, &ino);
    if ((e == 0 || e == -EBADF) && (dev != d->dev || ino != d->ino)) {
        LOG_ERR("IPC handle rejected: %s is not the file the handle names "
                "(stale handle: the producer exited and its pid was reused, "
                "or the shm object was re-created, e.g. by a consumer "
                "provider given the same shm name; or forged)",
                d->kind == OS_IPC_SHM ? d->shm_name : "the producer's fd");
        (void)os_close(fd);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (e) {
        LOG_PERR(e == -EBADF ? 0 : -e,
                 "IPC handle rejected: the producer's file is not shared "
                 "memory (tmpfs, hugetlbfs or memfd_secret)");
        (void)os_close(fd);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    os_ipc_source_t *s = ba_calloc(1, sizeof(*s));
    if (!s) {
        (void)os_close(fd);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    s->dev = dev;
    s->ino = ino;
    s->fd = fd;
    s->refs = 1;
    s->next = os->ipc_sources;
    os->ipc_sources = s;
    *out = s;
    return UMF_RESULT_SUCCESS;
}

// pre: os->lock held.
static void ipc_source_put_locked(os_provider_t *os, os_ipc_source_t *s) {
    if (--s->refs > 0) {
        return;
    }
    for (os_ipc_source_t **pp = &os->ipc_sources; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    (void)os_close(s->fd);
    ba_free(s);
}

static umf_result_t os_open_ipc_handle(void *priv, void *data, void **ptr) {
    os_provider_t *os = priv;
    umf_result_t r = ipc_check(os);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    os_ipc_data_t d; // a copy: data need not be aligned, nor stay put
    memcpy(&d, data, sizeof(d));
    r = os_ipc_data_check(&d);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    os_ipc_map_t *m = ba_alloc(sizeof(*m));
    if (!m) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_mutex_lock(&os->lock);
    os_ipc_source_t *src = NULL;
    r = ipc_source_get_locked(os, &d, &src);
    if (r != UMF_RESULT_SUCCESS) {
        goto err_unlock;
    }
    void *addr = NULL;
    int e = os_mmap_fd(&addr, (size_t)d.size, os->prot, src->fd,
                       (off_t)d.offset, 0);
    if (e) {
        r = os_ipc_fail(-e, "mmap of %llu bytes at file offset %llu",
                        (unsigned long long)d.size,
                        (unsigned long long)d.offset);
        goto err_put_source;
    }
    m->src = src;
    m->len = (size_t)d.size;
    if (!addr_map_put(&os->ipc_maps, (uintptr_t)addr, (uint64_t)(uintptr_t)m)) {
        (void)os_munmap(addr, (size_t)d.size);
        r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        goto err_put_source;
    }
    pthread_mutex_unlock(&os->lock);
    *ptr = addr;
    return UMF_RESULT_SUCCESS;

err_put_source:
    ipc_source_put_locked(os, src);
err_unlock:
    pthread_mutex_unlock(&os->lock);
    ba_free(m);
    return r;
}

static umf_result_t os_close_ipc_handle(void *priv, void *ptr, size_t size) {
    os_provider_t *os = priv;
    umf_result_t r = ipc_check(os);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    (void)size; // the mapping's own length is known
    uint64_t v;
    pthread_mutex_lock(&os->lock);
    if (!addr_map_del(&os->ipc_maps, (uintptr_t)ptr, &v)) {
        pthread_mutex_unlock(&os->lock);
        LOG_ERR("close_ipc_handle: %p is not a mapping opened by this "
                "provider",
                ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    os_ipc_map_t *m = (os_ipc_map_t *)(uintptr_t)v;
    int e = os_munmap(ptr, m->len);
    ipc_source_put_locked(os, m->src);
    pthread_mutex_unlock(&os->lock);
    ba_free(m);
    if (e) {
        return os_fail(UMF_OS_RESULT_ERROR_FREE_FAILED, -e);
    }
    return UMF_RESULT_SUCCESS;
}

// pre: os->lock held or no other user left. Drops the IPC bookkeeping of a
// provider going away; its mappings stay (upstream's finalize does not
// unmap them either; pools close theirs before).
static void ipc_fini_locked(os_provider_t *os) {
    for (size_t i = 0; i < os->ipc_maps.cap; i++) {
        if (os->ipc_maps.keys[i] > 1) {
            ba_free((void *)(uintptr_t)os->ipc_maps.vals[i]);
        }
    }
    addr_map_fini(&os->ipc_maps);
    while (os->ipc_sources) {
        os_ipc_source_t *s = os->ipc_sources;
        os->ipc_sources = s->next;
        (void)os_close(s->fd);
        ba_free(s);
    }
}

static umf_memory_provider_ops_t os_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = os_initialize,
    .finalize = os_finalize,
    .alloc = os_alloc,
    .get_last_native_error = os_get_last_native_error,
    .get_recommended_page_size = os_get_recommended_page_size,
    .get_min_page_size = os_get_min_page_size,
    .get_name = os_get_name,
    .ext.free = os_free,
    .ext.purge_lazy = os_purge_lazy,
    .ext.purge_force = os_purge_force,
    .ext.allocation_merge = os_allocation_merge,
    .ext.allocation_split = os_allocation_split,
    .ipc.get_ipc_handle_size = os_get_ipc_handle_size,
    .ipc.get_ipc_handle = os_get_ipc_handle,
    .ipc.put_ipc_handle = os_put_ipc_handle,
    .ipc.open_ipc_handle = os_open_ipc_handle,
    .ipc.close_ipc_handle = os_close_ipc_handle,
};

UMF_EXPORT umf_memory_provider_ops_t *umfOsMemoryProviderOps(void) {
    return &os_ops;
}
