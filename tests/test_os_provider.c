/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_os_provider.c - the OS memory provider through the public API only:
 * the params functions, every creation check, allocation (alignment,
 * zero-fill, failures and their native errors), free, protection enforced
 * by the MMU, page sizes and name, split/merge, purge (really releasing
 * memory: mincore, RSS, st_blocks of the backing file), shared memory
 * across fork for an anonymous fd and a named shm object, the shm object's
 * life cycle, UMF_MEM_FD_FUNC, IPC refused on private memory, and the
 * provider under a proxy pool.
 *
 * NUMA placement is tested in test_os_numa.c and test_os_numa_multi.c.
 * Tests that need a node use node 0, which every Linux machine has.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

#define R_OK_      UMF_RESULT_SUCCESS
#define R_INVAL    UMF_RESULT_ERROR_INVALID_ARGUMENT
#define R_NOTSUP   UMF_RESULT_ERROR_NOT_SUPPORTED
#define R_SPECIFIC UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC

#define MSG_ALLOC       "memory allocation failed"
#define MSG_FREE        "memory deallocation failed"
#define MSG_PURGE_LAZY  "lazy purging failed"
#define MSG_PURGE_FORCE "force purging failed"

static size_t page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t round_page(size_t n) {
    return (n + page() - 1) & ~(page() - 1);
}

// --- Provider configurations used by loop tests ---

enum { CFG_PRIVATE, CFG_MEMFD, CFG_SHM, CFG_DEFAULT_FD, CFG_COUNT };

static const struct {
    const char *name;
    bool shared;
    bool memfd_env; // UMF_MEM_FD_FUNC=memfd_create
    bool shm;       // named shm object
} cfgs[CFG_COUNT] = {
    [CFG_PRIVATE] = {"private", false, false, false},
    [CFG_MEMFD] = {"shared, memfd_create", true, true, false},
    [CFG_SHM] = {"shared, named shm", true, false, true},
    // Whatever fd the library picks without UMF_MEM_FD_FUNC: memfd_secret
    // where memory can be locked without limit, else memfd_create.
    [CFG_DEFAULT_FD] = {"shared, default anonymous fd", true, false, false},
};

typedef struct prov_t {
    umf_memory_provider_handle_t h;
    int cfg;
    char shm[NAME_MAX + 1]; // "" when none
    void *ptr;              // one allocation, for tests that pass it around
    size_t len;
} prov_t;

static void unique_shm_name(char *buf, size_t len, const char *tag) {
    static unsigned counter;
    snprintf(buf, len, "umf_test_os_%d_%s_%u", (int)getpid(), tag, counter++);
}

static umf_os_memory_provider_params_handle_t new_params(void) {
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), R_OK_);
    ck_assert_ptr_nonnull(p);
    return p;
}

static umf_memory_provider_handle_t
create_ok(umf_os_memory_provider_params_handle_t params) {
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &h), R_OK_);
    ck_assert_ptr_nonnull(h);
    return h;
}

static umf_result_t try_create(umf_os_memory_provider_params_handle_t params,
                               umf_memory_provider_handle_t *h) {
    *h = NULL;
    umf_result_t r =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, h);
    if (r != R_OK_) {
        *h = NULL;
    }
    return r;
}

// A provider of configuration `cfg` with `protection` (0 keeps the default).
static void prov_open(prov_t *p, int cfg, unsigned protection) {
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    if (cfgs[cfg].memfd_env) {
        ck_assert_int_eq(setenv("UMF_MEM_FD_FUNC", "memfd_create", 1), 0);
    } else {
        ck_assert_int_eq(unsetenv("UMF_MEM_FD_FUNC"), 0);
    }
    umf_os_memory_provider_params_handle_t params = new_params();
    if (protection) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetProtection(params, protection), R_OK_);
    }
    if (cfgs[cfg].shared) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetVisibility(params, UMF_MEM_MAP_SHARED),
            R_OK_);
    }
    if (cfgs[cfg].shm) {
        unique_shm_name(p->shm, sizeof(p->shm), "cfg");
        ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(params, p->shm),
                         R_OK_);
    }
    p->h = create_ok(params);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(params), R_OK_);
}

static void prov_close(prov_t *p) {
    umfMemoryProviderDestroy(p->h);
    p->h = NULL;
    unsetenv("UMF_MEM_FD_FUNC");
}

static void *alloc_ok(umf_memory_provider_handle_t h, size_t size,
                      size_t align) {
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, size, align, &ptr), R_OK_);
    ck_assert_ptr_nonnull(ptr);
    return ptr;
}

static void free_ok(umf_memory_provider_handle_t h, void *ptr, size_t size) {
    ck_assert_int_eq(umfMemoryProviderFree(h, ptr, size), R_OK_);
}

// --- Memory inspection ---

static void fill(void *ptr, size_t len, unsigned char v) {
    memset(ptr, v, len);
}

// Index of the first byte that is not `v`, or len.
static size_t first_not(const void *ptr, size_t len, unsigned char v) {
    const unsigned char *c = ptr;
    for (size_t i = 0; i < len; i++) {
        if (c[i] != v) {
            return i;
        }
    }
    return len;
}

#define ck_assert_all(ptr, len, v)                                             \
    do {                                                                       \
        size_t at_ = first_not((ptr), (len), (unsigned char)(v));              \
        ck_assert_msg(at_ == (len),                                            \
                      "byte %zu of %zu is 0x%02x, expected 0x%02x", at_,       \
                      (size_t)(len),                                           \
                      at_ < (len) ? ((const unsigned char *)(ptr))[at_] : 0u,  \
                      (unsigned)(unsigned char)(v));                           \
    } while (0)

// Pages of [ptr, ptr+len) resident in memory (mincore), or -1 with errno.
// The vector is static, not malloc'ed: an allocator (valgrind's, for one)
// could otherwise map the very range a test just freed and is probing.
// No Check assertion on the way either: Check allocates for each one.
static long resident_pages(void *ptr, size_t len) {
    static unsigned char vec[1 << 16]; // 256 MiB of 4 KiB pages
    size_t n = round_page(len) / page();
    if (n > sizeof(vec)) {
        fprintf(stderr, "resident_pages: %zu pages is too many\n", n);
        abort();
    }
    if (mincore(ptr, len, vec) != 0) {
        return -1;
    }
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        count += vec[i] & 1;
    }
    return count;
}

// Whether every page of [ptr, ptr+len) is mapped (mincore answers ENOMEM
// for unmapped pages).
static bool is_mapped(void *ptr, size_t len) {
    long r = resident_pages(ptr, len);
    if (r < 0) {
        if (errno != ENOMEM) {
            fprintf(stderr, "mincore(%p, %zu): errno %d\n", ptr, len, errno);
            abort();
        }
        return false;
    }
    return true;
}

static bool nothing_mapped(void *ptr, size_t len) {
    for (size_t off = 0; off < round_page(len); off += page()) {
        if (is_mapped((char *)ptr + off, page())) {
            return false;
        }
    }
    return true;
}

// Resident set size in pages, from /proc/self/statm.
static long rss_pages(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    long size = 0, rss = -1;
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &rss), 2);
    fclose(f);
    return rss;
}

// The /proc/self/maps line of the mapping holding `ptr`.
typedef struct mapping_t {
    char perms[5];
    unsigned long long offset;
    char path[PATH_MAX];
} mapping_t;

static bool find_mapping(const void *ptr, mapping_t *m) {
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert_ptr_nonnull(f);
    char line[PATH_MAX + 256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        int n = 0;
        memset(m, 0, sizeof(*m));
        if (sscanf(line, "%lx-%lx %4s %llx %*s %*s%n", &lo, &hi, m->perms,
                   &m->offset, &n) < 4) {
            continue;
        }
        if ((uintptr_t)ptr < lo || (uintptr_t)ptr >= hi) {
            continue;
        }
        const char *path = line + n;
        while (*path == ' ') {
            path++;
        }
        snprintf(m->path, sizeof(m->path), "%s", path);
        m->path[strcspn(m->path, "\n")] = '\0';
        // Offset of ptr itself within the file.
        m->offset += (uintptr_t)ptr - lo;
        found = true;
    }
    fclose(f);
    return found;
}

static void expect_perms(const void *ptr, const char *perms) {
    mapping_t m;
    ck_assert_msg(find_mapping(ptr, &m), "%p is not mapped", ptr);
    ck_assert_str_eq(m.perms, perms);
}

// --- File descriptors ---

#define MAX_FDS 1024

static size_t list_fds(int *fds) {
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FDS) {
        if (e->d_name[0] == '.') {
            continue;
        }
        int fd = atoi(e->d_name);
        if (fd != dirfd(d)) {
            fds[n++] = fd;
        }
    }
    closedir(d);
    return n;
}

static bool fd_link(int fd, char *buf, size_t len) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, len - 1);
    if (n < 0) {
        return false;
    }
    buf[n] = '\0';
    return true;
}

// A file descriptor opened since `before` was listed whose /proc/self/fd
// link starts with `prefix`, or -1.
static int new_fd(const int *before, size_t nbefore, const char *prefix) {
    int now[MAX_FDS];
    size_t n = list_fds(now);
    for (size_t i = 0; i < n; i++) {
        bool old = false;
        for (size_t j = 0; j < nbefore && !old; j++) {
            old = before[j] == now[i];
        }
        char lnk[PATH_MAX];
        if (!old && fd_link(now[i], lnk, sizeof(lnk)) &&
            strncmp(lnk, prefix, strlen(prefix)) == 0) {
            return now[i];
        }
    }
    return -1;
}

// Creates the provider of `cfg` and returns the fd backing its memory
// (-1 for private memory) by diffing /proc/self/fd.
static int prov_open_with_fd(prov_t *p, int cfg) {
    // Let the library initialise before listing fds.
    prov_t warm;
    prov_open(&warm, CFG_PRIVATE, 0);
    prov_close(&warm);
    int before[MAX_FDS];
    size_t nbefore = list_fds(before);
    prov_open(p, cfg, 0);
    if (!cfgs[cfg].shared) {
        return -1;
    }
    int fd = new_fd(before, nbefore, "/");
    ck_assert_msg(fd >= 0, "no new fd after creating a %s provider",
                  cfgs[cfg].name);
    return fd;
}

// 512-byte blocks the memory of `p` occupies in its backing file.
static long long backing_blocks(const prov_t *p, int fd) {
    struct stat st;
    if (p->shm[0]) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "/dev/shm/%s", p->shm);
        ck_assert_int_eq(stat(path, &st), 0);
    } else {
        ck_assert_int_eq(fstat(fd, &st), 0);
    }
    return (long long)st.st_blocks;
}

// --- Child processes ---

typedef int (*child_fn)(void *arg);

// Runs fn(arg) in a forked child (no core dumps, default SIGSEGV action) and
// returns its wait status.
static int run_child(child_fn fn, void *arg) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        (void)setrlimit(RLIMIT_CORE, &rl);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        _exit(fn(arg));
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void expect_exit0(int status) {
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "child did not exit 0 (status %#x%s%d)", (unsigned)status,
                  WIFSIGNALED(status) ? ", signal " : ", exit ",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void expect_segv(int status) {
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "child was not killed by SIGSEGV (status %#x%s%d)",
                  (unsigned)status,
                  WIFSIGNALED(status) ? ", signal " : ", exit ",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static int child_write(void *arg) {
    volatile unsigned char *c = arg;
    c[0] = 0x5a;
    return c[0] == 0x5a ? 0 : 2;
}

static int child_read(void *arg) {
    volatile unsigned char *c = arg;
    return c[0] == 0 ? 0 : 2;
}

// --- Native errors ---

static void expect_native(umf_memory_provider_handle_t h, int32_t code,
                          const char *text) {
    const char *msg = NULL;
    int32_t err = -1;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    ck_assert_int_eq(err, code);
    ck_assert_ptr_nonnull(msg);
    size_t n = strlen(text);
    ck_assert_msg(strncmp(msg, text, n) == 0 &&
                      (msg[n] == '\0' || strncmp(msg + n, ": ", 2) == 0),
                  "native message '%s' is not '%s[: <strerror>]'", msg, text);
}

// A second provider made to fail, so that the last failed provider is known.
static umf_memory_provider_handle_t make_other_failed(void) {
    umf_os_memory_provider_params_handle_t params = new_params();
    umf_memory_provider_handle_t other = create_ok(params);
    umfOsMemoryProviderParamsDestroy(params);
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(other, 0, 0, &ptr), R_SPECIFIC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), other);
    return other;
}

// ======================= params =======================

START_TEST(test_os_provider_params_create_destroy) {
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(NULL), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(NULL), R_OK_);
    umf_os_memory_provider_params_handle_t a = new_params();
    umf_os_memory_provider_params_handle_t b = new_params();
    ck_assert_ptr_ne(a, b);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(a), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(b), R_OK_);
    ck_assert_ptr_nonnull(umfOsMemoryProviderOps());
    ck_assert_ptr_eq(umfOsMemoryProviderOps(), umfOsMemoryProviderOps());
}
END_TEST

START_TEST(test_os_provider_params_setters_null_handle) {
    unsigned nodes[] = {0};
    umf_numa_split_partition_t parts[] = {{1, 0}};
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetProtection(NULL, UMF_PROTECTION_READ),
        R_INVAL);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(NULL, UMF_MEM_MAP_SHARED),
        R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(NULL, "x"), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(NULL, NULL), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(NULL, nodes, 1),
                     R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(NULL, NULL, 0),
                     R_INVAL);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(NULL, UMF_NUMA_MODE_BIND),
        R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(NULL, 4096), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(NULL, parts, 1),
                     R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(NULL, NULL, 0),
                     R_INVAL);
}
END_TEST

START_TEST(test_os_provider_params_null_lists) {
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 1), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 5), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 1),
                     R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 3),
                     R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 0), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 0), R_OK_);
    umfOsMemoryProviderParamsDestroy(p);
}
END_TEST

// (NULL, 0) clears a list set before: observable through creation checks.
START_TEST(test_os_provider_params_clear_lists) {
    umf_memory_provider_handle_t h;
    unsigned nodes[] = {0};
    umf_os_memory_provider_params_handle_t p = new_params();
    // DEFAULT with a list is refused; clearing the list makes it valid.
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, nodes, 1), R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, NULL, 0), R_OK_);
    h = create_ok(p);
    umfMemoryProviderDestroy(h);
    // BIND without a list is refused after clearing.
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_BIND), R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    // SPLIT with a weight-0 partition is refused; clearing the partitions
    // leaves equal weights over the list, which is valid.
    umf_numa_split_partition_t parts[] = {{0, 0}};
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, nodes, 1), R_OK_);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_SPLIT), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, parts, 1),
                     R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, NULL, 0), R_OK_);
    h = create_ok(p);
    void *ptr = alloc_ok(h, 3 * page(), 0);
    free_ok(h, ptr, 3 * page());
    umfMemoryProviderDestroy(h);
    umfOsMemoryProviderParamsDestroy(p);
}
END_TEST

// The later call of a setter wins.
START_TEST(test_os_provider_params_setters_overwrite) {
    umf_memory_provider_handle_t h;
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(umfOsMemoryProviderParamsSetProtection(p, 16), R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetProtection(
                         p, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE),
                     R_OK_);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(p, (umf_memory_visibility_t)3),
        R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_PRIVATE), R_OK_);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_INTERLEAVE),
        R_OK_);
    ck_assert_int_eq(try_create(p, &h), R_INVAL);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_DEFAULT), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, SIZE_MAX), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, 0), R_OK_);
    h = create_ok(p);
    umfMemoryProviderDestroy(h);
    umfOsMemoryProviderParamsDestroy(p);
}
END_TEST

// Lists and names are copied: the caller's buffers may change or go away,
// and params may be destroyed while providers made from them live on.
START_TEST(test_os_provider_params_copied) {
    unsigned nodes[] = {0};
    umf_numa_split_partition_t parts[] = {{1, 0}, {3, 0}};
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, nodes, 1), R_OK_);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_SPLIT), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(p, parts, 2),
                     R_OK_);
    nodes[0] = 999; // would be refused: no such node
    parts[0] = (umf_numa_split_partition_t){0, 7}; // weight 0, not in list
    umf_memory_provider_handle_t h1 = create_ok(p);

    char name[NAME_MAX + 1], saved[NAME_MAX + 1];
    unique_shm_name(name, sizeof(name), "copy");
    snprintf(saved, sizeof(saved), "%s", name);
    umf_os_memory_provider_params_handle_t q = new_params();
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(q, UMF_MEM_MAP_SHARED), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(q, name), R_OK_);
    memset(name, 'z', strlen(name)); // name now "zzz...", still valid
    umf_memory_provider_handle_t h2 = create_ok(q);
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", saved);
    ck_assert_int_eq(stat(path, &st), 0);
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    ck_assert_int_ne(stat(path, &st), 0);

    // The same params make a second provider.
    umf_memory_provider_handle_t h3 = create_ok(p);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(p), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsDestroy(q), R_OK_);

    umf_memory_provider_handle_t hs[] = {h1, h2, h3};
    for (size_t i = 0; i < ARRAY_SIZE(hs); i++) {
        char *ptr = alloc_ok(hs[i], 4 * page(), 0);
        ck_assert_all(ptr, 4 * page(), 0);
        fill(ptr, 4 * page(), 0x11);
        free_ok(hs[i], ptr, 4 * page());
        umfMemoryProviderDestroy(hs[i]);
    }
    snprintf(path, sizeof(path), "/dev/shm/%s", saved);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(test_os_provider_create_null_args) {
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), NULL, &h), R_INVAL);
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, NULL),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderCreate(NULL, p, &h), R_INVAL);
    umfOsMemoryProviderParamsDestroy(p);
    umfMemoryProviderDestroy(NULL); // no-op
}
END_TEST

// Defaults: private, read/write, name "OS".
START_TEST(test_os_provider_params_defaults) {
    umf_os_memory_provider_params_handle_t p = new_params();
    umf_memory_provider_handle_t h = create_ok(p);
    umfOsMemoryProviderParamsDestroy(p);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "OS");
    unsigned char *ptr = alloc_ok(h, page(), 0);
    expect_perms(ptr, "rw-p");
    ck_assert_all(ptr, page(), 0);
    ptr[0] = 1;
    // Private: a child's write is not seen here.
    expect_exit0(run_child(child_write, ptr));
    ck_assert_uint_eq(ptr[0], 1);
    free_ok(h, ptr, page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// ======================= creation checks =======================

enum { SHM_NONE, SHM_VALID, SHM_SLASH, SHM_LEN_253, SHM_LEN_254 };

// Fields left out keep the params' defaults (mode DEFAULT, no list, ...).
typedef struct create_case_t {
    const char *what;
    umf_result_t expect;
    bool set_prot, set_vis;
    unsigned prot;
    int vis;
    umf_numa_mode_t mode;
    unsigned nodes[2];
    unsigned nnodes;
    size_t part_size;
    umf_numa_split_partition_t parts[2];
    unsigned nparts;
    int shm;
} create_case_t;

#define PROT(x) .set_prot = true, .prot = (x)
#define VIS(x)  .set_vis = true, .vis = (x)
#define SHARED  VIS(UMF_MEM_MAP_SHARED)
#define MODE(m) .mode = UMF_NUMA_MODE_##m
#define NODES(...)                                                             \
    .nodes = {__VA_ARGS__},                                                    \
    .nnodes = sizeof((unsigned[]){__VA_ARGS__}) / sizeof(unsigned)
#define PARTS(...)                                                             \
    .parts = {__VA_ARGS__},                                                    \
    .nparts = sizeof((umf_numa_split_partition_t[]){__VA_ARGS__}) /            \
              sizeof(umf_numa_split_partition_t)
#define P_N UMF_PROTECTION_NONE
#define P_R UMF_PROTECTION_READ
#define P_W UMF_PROTECTION_WRITE
#define P_X UMF_PROTECTION_EXEC

// clang-format off
static const create_case_t create_cases[] = {
    {"defaults", R_OK_, MODE(DEFAULT)},
    // Shared memory takes no NUMA mode but DEFAULT.
    {"shared+DEFAULT", R_OK_, SHARED},
    {"shared+BIND{0}", R_NOTSUP, SHARED, MODE(BIND), NODES(0)},
    {"shared+INTERLEAVE{0}", R_NOTSUP, SHARED, MODE(INTERLEAVE), NODES(0)},
    {"shared+PREFERRED", R_NOTSUP, SHARED, MODE(PREFERRED)},
    {"shared+PREFERRED{0}", R_NOTSUP, SHARED, MODE(PREFERRED), NODES(0)},
    {"shared+SPLIT{0}", R_NOTSUP, SHARED, MODE(SPLIT), NODES(0)},
    {"shared+LOCAL", R_NOTSUP, SHARED, MODE(LOCAL)},
    // Protection: a bit-or of UMF_PROTECTION_*; any other bit is refused.
    {"prot 16", R_INVAL, PROT(16)},
    {"prot 32", R_INVAL, PROT(32)},
    {"prot READ|WRITE|16", R_INVAL, PROT(P_R | P_W | 16)},
    {"prot 0x80000000", R_INVAL, PROT(0x80000000u)},
    {"prot 16, shared", R_INVAL, PROT(16), SHARED},
    {"prot 0", R_OK_, PROT(0)},
    {"prot NONE", R_OK_, PROT(P_N)},
    {"prot READ", R_OK_, PROT(P_R)},
    {"prot WRITE", R_OK_, PROT(P_W)},
    {"prot EXEC", R_OK_, PROT(P_X)},
    {"prot READ|WRITE", R_OK_, PROT(P_R | P_W)},
    {"prot NONE|READ", R_OK_, PROT(P_N | P_R)},
    {"prot READ|EXEC", R_OK_, PROT(P_R | P_X)},
    {"prot READ|WRITE|EXEC", R_OK_, PROT(P_R | P_W | P_X)},
    {"prot READ, shared", R_OK_, PROT(P_R), SHARED},
    // Visibility.
    {"visibility 0", R_INVAL, VIS(0)},
    {"visibility 3", R_INVAL, VIS(3)},
    {"visibility -1", R_INVAL, VIS(-1)},
    {"visibility PRIVATE", R_OK_, VIS(UMF_MEM_MAP_PRIVATE)},
    // Modes and lists.
    {"DEFAULT{0}", R_INVAL, MODE(DEFAULT), NODES(0)},
    {"LOCAL{0}", R_INVAL, MODE(LOCAL), NODES(0)},
    {"LOCAL", R_OK_, MODE(LOCAL)},
    {"BIND", R_INVAL, MODE(BIND)},
    {"INTERLEAVE", R_INVAL, MODE(INTERLEAVE)},
    {"SPLIT", R_INVAL, MODE(SPLIT)},
    {"SPLIT 1:0, no list", R_INVAL, MODE(SPLIT), PARTS({1, 0})},
    {"BIND{0}", R_OK_, MODE(BIND), NODES(0)},
    {"INTERLEAVE{0}", R_OK_, MODE(INTERLEAVE), NODES(0)},
    {"SPLIT{0}", R_OK_, MODE(SPLIT), NODES(0)},
    {"PREFERRED", R_OK_, MODE(PREFERRED)},
    {"PREFERRED{0}", R_OK_, MODE(PREFERRED), NODES(0)},
    {"mode 6", R_INVAL, .mode = (umf_numa_mode_t)6},
    // Partitions.
    {"SPLIT{0} 1:0,3:0", R_OK_, MODE(SPLIT), NODES(0), PARTS({1, 0}, {3, 0})},
    {"SPLIT{0} 0:0", R_INVAL, MODE(SPLIT), NODES(0), PARTS({0, 0})},
    {"SPLIT{0} 1:0,0:0", R_INVAL, MODE(SPLIT), NODES(0), PARTS({1, 0}, {0, 0})},
    {"SPLIT{0} 1:1", R_INVAL, MODE(SPLIT), NODES(0), PARTS({1, 1})},
    {"SPLIT{0} 1:0,1:999", R_INVAL, MODE(SPLIT), NODES(0),
     PARTS({1, 0}, {1, 999})},
    // Interleave part size: refused when rounding up to a page overflows.
    {"INTERLEAVE{0} part SIZE_MAX", R_INVAL, MODE(INTERLEAVE), NODES(0),
     .part_size = SIZE_MAX},
    {"INTERLEAVE{0} part SIZE_MAX-4094", R_INVAL, MODE(INTERLEAVE), NODES(0),
     .part_size = SIZE_MAX - 4094},
    {"INTERLEAVE{0} part 1", R_OK_, MODE(INTERLEAVE), NODES(0),
     .part_size = 1},
    {"INTERLEAVE{0} part 8192", R_OK_, MODE(INTERLEAVE), NODES(0),
     .part_size = 8192},
    // Node ids that do not exist.
    {"BIND{999}", R_INVAL, MODE(BIND), NODES(999)},
    {"BIND{0,999}", R_INVAL, MODE(BIND), NODES(0, 999)},
    {"BIND{UINT_MAX}", R_INVAL, MODE(BIND), NODES(UINT_MAX)},
    {"INTERLEAVE{999}", R_INVAL, MODE(INTERLEAVE), NODES(999)},
    {"PREFERRED{999}", R_INVAL, MODE(PREFERRED), NODES(999)},
    {"SPLIT{999} 1:999", R_INVAL, MODE(SPLIT), NODES(999), PARTS({1, 999})},
    // Shm names: no '/', at most NAME_MAX - 2 = 253 characters.
    {"shm name", R_OK_, SHARED, .shm = SHM_VALID},
    {"shm name with '/'", R_INVAL, SHARED, .shm = SHM_SLASH},
    {"shm name of 254 chars", R_INVAL, SHARED, .shm = SHM_LEN_254},
    {"shm name of 253 chars", R_OK_, SHARED, .shm = SHM_LEN_253},
};
// clang-format on

static void make_shm_name(int kind, char *buf, size_t len) {
    char base[64];
    unique_shm_name(base, sizeof(base), "create");
    switch (kind) {
    case SHM_VALID:
        snprintf(buf, len, "%s", base);
        break;
    case SHM_SLASH:
        snprintf(buf, len, "%s/sub", base);
        break;
    case SHM_LEN_253:
    case SHM_LEN_254: {
        size_t want = kind == SHM_LEN_253 ? 253 : 254;
        ck_assert_uint_gt(len, want);
        size_t n = strlen(base);
        memcpy(buf, base, n);
        memset(buf + n, 'n', want - n);
        buf[want] = '\0';
        break;
    }
    default:
        buf[0] = '\0';
    }
}

START_TEST(test_os_provider_create_checks) {
    const create_case_t *c = &create_cases[_i];
    umf_os_memory_provider_params_handle_t p = new_params();
    if (c->set_prot) {
        ck_assert_int_eq(umfOsMemoryProviderParamsSetProtection(p, c->prot),
                         R_OK_);
    }
    if (c->set_vis) {
        ck_assert_int_eq(umfOsMemoryProviderParamsSetVisibility(
                             p, (umf_memory_visibility_t)c->vis),
                         R_OK_);
    }
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaMode(p, c->mode), R_OK_);
    if (c->nnodes) {
        unsigned nodes[2];
        memcpy(nodes, c->nodes, sizeof(nodes));
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetNumaList(p, nodes, c->nnodes), R_OK_);
    }
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, c->part_size),
                     R_OK_);
    if (c->nparts) {
        umf_numa_split_partition_t parts[2];
        memcpy(parts, c->parts, sizeof(parts));
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetPartitions(p, parts, c->nparts), R_OK_);
    }
    char name[NAME_MAX + 1] = "";
    if (c->shm != SHM_NONE) {
        make_shm_name(c->shm, name, sizeof(name));
        ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, name), R_OK_);
    }
    umf_memory_provider_handle_t h;
    umf_result_t r = try_create(p, &h);
    umfOsMemoryProviderParamsDestroy(p);
    ck_assert_msg(r == c->expect,
                  "%s: umfMemoryProviderCreate returned %d, "
                  "expected %d",
                  c->what, (int)r, (int)c->expect);
    char path[PATH_MAX];
    struct stat st;
    if (name[0] && !strchr(name, '/')) {
        snprintf(path, sizeof(path), "/dev/shm/%s", name);
        ck_assert_msg((stat(path, &st) == 0) == (r == R_OK_),
                      "%s: /dev/shm/%s should exist iff creation succeeded",
                      c->what, name);
    }
    if (r != R_OK_) {
        return;
    }
    // A provider that was accepted works.
    unsigned prot = c->set_prot ? c->prot : P_R | P_W;
    char *ptr = alloc_ok(h, 2 * page(), 0);
    if ((prot & P_W) && (prot & P_R)) {
        ck_assert_all(ptr, 2 * page(), 0);
        fill(ptr, 2 * page(), 0x3c);
        ck_assert_all(ptr, 2 * page(), 0x3c);
    }
    free_ok(h, ptr, 2 * page());
    umfMemoryProviderDestroy(h);
    if (name[0]) {
        ck_assert_int_ne(stat(path, &st), 0);
        ck_assert_int_eq(errno, ENOENT);
    }
}
END_TEST

// hwloc cannot discover the topology (HWLOC_COMPONENTS=stop makes its load
// fail): a provider that needs it fails with the native TOPO error.
START_TEST(test_os_provider_create_topology_failure) {
    const char *fork_mode = getenv("CK_FORK");
    if (fork_mode && strcmp(fork_mode, "no") == 0) {
        return; // the topology may already be loaded in this process
    }
    ck_assert_int_eq(setenv("HWLOC_COMPONENTS", "stop", 1), 0);
    unsigned nodes[] = {0};
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, nodes, 1), R_OK_);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_BIND), R_OK_);
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(try_create(p, &h), R_SPECIFIC);
    const char *msg = NULL;
    int32_t err = 0;
    // The native error is per thread; read it through another provider.
    umf_os_memory_provider_params_handle_t q = new_params();
    umf_memory_provider_handle_t other = create_ok(q);
    umfOsMemoryProviderParamsDestroy(q);
    umfMemoryProviderGetLastNativeError(other, &msg, &err);
    ck_assert_int_eq(err, UMF_OS_RESULT_ERROR_TOPO_DISCOVERY_FAILED);
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strncmp(msg, "HWLOC topology discovery failed", 31) == 0,
                  "native message '%s'", msg);
    umfMemoryProviderDestroy(other);
    // Discovery works again once hwloc may use its components.
    ck_assert_int_eq(unsetenv("HWLOC_COMPONENTS"), 0);
    h = create_ok(p);
    umfMemoryProviderDestroy(h);
    umfOsMemoryProviderParamsDestroy(p);
}
END_TEST

// ======================= alloc =======================

static const size_t alignments[] = {
    0, 1, 8, 64, 4 * KiB, 12 * KiB, 20 * KiB, 64 * KiB, 2 * MiB};
static const size_t alloc_sizes[] = {1, 100, 4 * KiB, 3 * 4 * KiB + 123,
                                     2 * MiB + 5};

// Loop index: configuration (private, memfd, shm) x alignment.
START_TEST(test_os_provider_alloc_aligned_zeroed) {
    int cfg = _i / (int)ARRAY_SIZE(alignments);
    size_t align = alignments[_i % ARRAY_SIZE(alignments)];
    if (align == 4 * KiB) {
        align = page();
    }
    prov_t pv;
    prov_open(&pv, cfg, 0);
    for (size_t s = 0; s < ARRAY_SIZE(alloc_sizes); s++) {
        size_t size = alloc_sizes[s];
        unsigned char *ptr = alloc_ok(pv.h, size, align);
        size_t want = align > page() ? align : page();
        ck_assert_msg((uintptr_t)ptr % want == 0,
                      "%s: %p (size %zu) not aligned to %zu", cfgs[cfg].name,
                      (void *)ptr, size, want);
        ck_assert(is_mapped(ptr, size));
        ck_assert_all(ptr, size, 0);
        fill(ptr, size, (unsigned char)(0x40 + s));
        ck_assert_all(ptr, size, 0x40 + s);
        expect_perms(ptr, cfgs[cfg].shared ? "rw-s" : "rw-p");
        free_ok(pv.h, ptr, size);
        ck_assert_msg(nothing_mapped(ptr, size),
                      "%s: [%p, +%zu) still mapped after free", cfgs[cfg].name,
                      (void *)ptr, size);
    }
    prov_close(&pv);
}
END_TEST

// Alignments that are neither a multiple nor a divisor of the page size
// (the contract's rule; 3 or 5 pages are multiples and therefore valid).
START_TEST(test_os_provider_alloc_bad_alignment) {
    const size_t bad[] = {24, 3, 100, page() + 8, 3 * page() / 2, SIZE_MAX};
    prov_t pv;
    prov_open(&pv, _i, 0);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        umf_memory_provider_handle_t other = make_other_failed();
        void *ptr = NULL;
        umf_result_t r = umfMemoryProviderAlloc(pv.h, page(), bad[i], &ptr);
        ck_assert_msg(r == R_INVAL, "alignment %zu: got %d, expected %d",
                      bad[i], (int)r, (int)R_INVAL);
        // The op failed, not the front end: this provider is the last failed.
        ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), pv.h);
        umfMemoryProviderDestroy(other);
    }
    prov_close(&pv);
}
END_TEST

START_TEST(test_os_provider_alloc_size_fails) {
    const size_t sizes[] = {0, SIZE_MAX, SIZE_MAX - page() + 2,
                            (size_t)1 << 62};
    prov_t pv;
    prov_open(&pv, _i, 0);
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        umf_memory_provider_handle_t other = make_other_failed();
        void *ptr = NULL;
        umf_result_t r = umfMemoryProviderAlloc(pv.h, sizes[i], 0, &ptr);
        ck_assert_msg(r == R_SPECIFIC, "size %zu: got %d, expected %d",
                      sizes[i], (int)r, (int)R_SPECIFIC);
        expect_native(pv.h, UMF_OS_RESULT_ERROR_ALLOC_FAILED, MSG_ALLOC);
        ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), pv.h);
        umfMemoryProviderDestroy(other);
    }
    // The same with an alignment above the page size.
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(pv.h, SIZE_MAX, 2 * MiB, &ptr),
                     R_SPECIFIC);
    expect_native(pv.h, UMF_OS_RESULT_ERROR_ALLOC_FAILED, MSG_ALLOC);
    prov_close(&pv);
}
END_TEST

START_TEST(test_os_provider_alloc_front_end_checks) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    void *ptr = NULL;
    umf_memory_provider_handle_t other = make_other_failed();
    ck_assert_int_eq(umfMemoryProviderAlloc(pv.h, page(), 0, NULL), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(NULL, page(), 0, &ptr), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderFree(NULL, NULL, 0), R_INVAL);
    // Front-end failures do not change the last failed provider.
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), other);
    umfMemoryProviderDestroy(other);
    prov_close(&pv);
}
END_TEST

// Live allocations never alias (shared memory: distinct file offsets), and
// a fresh allocation is zero-filled even where a freed one was.
START_TEST(test_os_provider_alloc_distinct_and_fresh) {
    enum { N = 24 };
    prov_t pv;
    prov_open(&pv, _i, 0);
    unsigned char *ptrs[N];
    size_t sizes[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            sizes[i] = (size_t)(i % 5 + 1) * page() - (size_t)i;
            ptrs[i] = alloc_ok(pv.h, sizes[i], i % 3 ? 0 : 64 * KiB);
            size_t nz = first_not(ptrs[i], sizes[i], 0);
            ck_assert_msg(nz == sizes[i],
                          "%s round %d: allocation %d (%p, %zu bytes) is not "
                          "zero-filled: byte %zu is 0x%02x",
                          cfgs[_i].name, round, i, (void *)ptrs[i], sizes[i],
                          nz, nz < sizes[i] ? ptrs[i][nz] : 0u);
            fill(ptrs[i], sizes[i], (unsigned char)(i + 1));
        }
        for (int i = 0; i < N; i++) {
            ck_assert_all(ptrs[i], sizes[i], i + 1);
        }
        for (int i = 0; i < N; i++) {
            free_ok(pv.h, ptrs[i], sizes[i]);
        }
    }
    prov_close(&pv);
}
END_TEST

// ======================= free =======================

START_TEST(test_os_provider_free_null) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    ck_assert_int_eq(umfMemoryProviderFree(pv.h, NULL, 0), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(pv.h, NULL, page()), R_OK_);
    prov_close(&pv);
}
END_TEST

START_TEST(test_os_provider_free_fails) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    unsigned char *ptr = alloc_ok(pv.h, 2 * page(), 0);
    fill(ptr, 2 * page(), 0x77);

    umf_memory_provider_handle_t other = make_other_failed();
    ck_assert_int_eq(umfMemoryProviderFree(pv.h, ptr, 0), R_SPECIFIC);
    expect_native(pv.h, UMF_OS_RESULT_ERROR_FREE_FAILED, MSG_FREE);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), pv.h);
    umfMemoryProviderDestroy(other);

    // A pointer that is not page aligned cannot be unmapped.
    ck_assert_int_eq(umfMemoryProviderFree(pv.h, ptr + 1, page()), R_SPECIFIC);
    expect_native(pv.h, UMF_OS_RESULT_ERROR_FREE_FAILED, MSG_FREE);

    // Failed frees left the memory alone.
    ck_assert(is_mapped(ptr, 2 * page()));
    ck_assert_all(ptr, 2 * page(), 0x77);
    free_ok(pv.h, ptr, 2 * page());
    ck_assert(nothing_mapped(ptr, 2 * page()));
    prov_close(&pv);
}
END_TEST

// ======================= native errors =======================

typedef struct thread_arg_t {
    umf_memory_provider_handle_t h;
    umf_memory_provider_handle_t last_failed_before;
    umf_memory_provider_handle_t last_failed_after;
    umf_result_t r;
    int32_t code;
} thread_arg_t;

static void *fail_free_thread(void *arg) {
    thread_arg_t *t = arg;
    t->last_failed_before = umfGetLastFailedMemoryProvider();
    static char dummy[1];
    // A non-page-aligned pointer: munmap fails.
    t->r = umfMemoryProviderFree(t->h, dummy, 0);
    const char *msg;
    umfMemoryProviderGetLastNativeError(t->h, &msg, &t->code);
    t->last_failed_after = umfGetLastFailedMemoryProvider();
    return NULL;
}

START_TEST(test_os_provider_native_error_per_thread) {
    prov_t a, b;
    prov_open(&a, CFG_PRIVATE, 0);
    prov_open(&b, CFG_PRIVATE, 0);
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(a.h, 0, 0, &ptr), R_SPECIFIC);
    expect_native(a.h, UMF_OS_RESULT_ERROR_ALLOC_FAILED, MSG_ALLOC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), a.h);

    thread_arg_t t = {.h = b.h};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fail_free_thread, &t), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_ptr_null(t.last_failed_before);
    ck_assert_int_eq(t.r, R_SPECIFIC);
    ck_assert_int_eq(t.code, UMF_OS_RESULT_ERROR_FREE_FAILED);
    ck_assert_ptr_eq(t.last_failed_after, b.h);

    // This thread still sees its own failure.
    expect_native(a.h, UMF_OS_RESULT_ERROR_ALLOC_FAILED, MSG_ALLOC);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), a.h);
    prov_close(&b);
    prov_close(&a);
}
END_TEST

// ======================= protection =======================

START_TEST(test_os_provider_protection_read_only) {
    prov_t pv;
    prov_open(&pv, _i, UMF_PROTECTION_READ);
    unsigned char *ptr = alloc_ok(pv.h, 2 * page(), 0);
    expect_perms(ptr, cfgs[_i].shared ? "r--s" : "r--p");
    ck_assert_all(ptr, 2 * page(), 0); // readable
    expect_exit0(run_child(child_read, ptr + page()));
    expect_segv(run_child(child_write, ptr));
    expect_segv(run_child(child_write, ptr + page()));
    ck_assert_all(ptr, 2 * page(), 0);
    free_ok(pv.h, ptr, 2 * page());
    prov_close(&pv);
}
END_TEST

static const unsigned no_access[] = {UMF_PROTECTION_NONE, 0};

// Loop index: configuration x {NONE, 0}.
START_TEST(test_os_provider_protection_none) {
    int cfg = _i / 2;
    // prov_open treats protection 0 as "default": set it up by hand.
    if (cfgs[cfg].memfd_env) {
        setenv("UMF_MEM_FD_FUNC", "memfd_create", 1);
    }
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetProtection(p, no_access[_i % 2]), R_OK_);
    char name[NAME_MAX + 1];
    if (cfgs[cfg].shared) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED),
            R_OK_);
    }
    if (cfgs[cfg].shm) {
        unique_shm_name(name, sizeof(name), "none");
        ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, name), R_OK_);
    }
    umf_memory_provider_handle_t h = create_ok(p);
    umfOsMemoryProviderParamsDestroy(p);
    unsigned char *ptr = alloc_ok(h, 2 * page(), 0);
    expect_perms(ptr, cfgs[cfg].shared ? "---s" : "---p");
    expect_segv(run_child(child_read, ptr));
    expect_segv(run_child(child_read, ptr + page()));
    expect_segv(run_child(child_write, ptr));
    free_ok(h, ptr, 2 * page());
    umfMemoryProviderDestroy(h);
    unsetenv("UMF_MEM_FD_FUNC");
}
END_TEST

START_TEST(test_os_provider_protection_read_write) {
    prov_t pv;
    prov_open(&pv, _i, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE);
    unsigned char *ptr = alloc_ok(pv.h, page(), 0);
    expect_perms(ptr, cfgs[_i].shared ? "rw-s" : "rw-p");
    expect_exit0(run_child(child_write, ptr));
    // Shared memory sees the child's write, private memory does not.
    ck_assert_uint_eq(ptr[0], cfgs[_i].shared ? 0x5a : 0);
    free_ok(pv.h, ptr, page());
    prov_close(&pv);
}
END_TEST

// EXEC combined with the other bits is a valid bit-or of UMF_PROTECTION_*.
START_TEST(test_os_provider_protection_exec) {
    const struct {
        unsigned prot;
        const char *perms;
    } cases[] = {
        {UMF_PROTECTION_EXEC, "--x"},
        {UMF_PROTECTION_READ | UMF_PROTECTION_EXEC, "r-x"},
        {UMF_PROTECTION_READ | UMF_PROTECTION_WRITE | UMF_PROTECTION_EXEC,
         "rwx"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        umf_os_memory_provider_params_handle_t p = new_params();
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetProtection(p, cases[i].prot), R_OK_);
        umf_memory_provider_handle_t h;
        umf_result_t r = try_create(p, &h);
        umfOsMemoryProviderParamsDestroy(p);
        ck_assert_msg(r == R_OK_,
                      "protection %u (%s): umfMemoryProviderCreate returned "
                      "%d",
                      cases[i].prot, cases[i].perms, (int)r);
        void *ptr = alloc_ok(h, page(), 0);
        char perms[5];
        snprintf(perms, sizeof(perms), "%sp", cases[i].perms);
        expect_perms(ptr, perms);
        free_ok(h, ptr, page());
        umfMemoryProviderDestroy(h);
    }
}
END_TEST

// ======================= page sizes, name =======================

START_TEST(test_os_provider_page_sizes_and_name) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    const size_t sizes[] = {0, 1, page(), 2 * MiB, (size_t)1 << 40};
    size_t ps = 0;
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        ps = 0;
        ck_assert_int_eq(
            umfMemoryProviderGetRecommendedPageSize(pv.h, sizes[i], &ps),
            R_OK_);
        ck_assert_uint_eq(ps, page());
    }
    ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(pv.h, NULL, &ps), R_OK_);
    ck_assert_uint_eq(ps, page());
    void *ptr = alloc_ok(pv.h, 2 * MiB, 2 * MiB);
    ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(pv.h, ptr, &ps), R_OK_);
    ck_assert_uint_eq(ps, page());
    free_ok(pv.h, ptr, 2 * MiB);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(pv.h, 1, NULL),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(pv.h, NULL, NULL),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(NULL, 1, &ps),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(NULL, NULL, &ps), R_INVAL);
    ck_assert_str_eq(umfMemoryProviderGetName(pv.h), "OS");
    ck_assert_ptr_null(umfMemoryProviderGetName(NULL));
    prov_close(&pv);
}
END_TEST

// ======================= split / merge =======================

START_TEST(test_os_provider_split_merge) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    size_t pg = page();
    unsigned char *ptr = alloc_ok(pv.h, 4 * pg, 0);
    fill(ptr, 4 * pg, 0x21);

    // Split, then free the halves separately.
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(pv.h, ptr, 4 * pg, pg),
                     R_OK_);
    free_ok(pv.h, ptr, pg);
    ck_assert(nothing_mapped(ptr, pg));
    ck_assert(is_mapped(ptr + pg, 3 * pg));
    ck_assert_all(ptr + pg, 3 * pg, 0x21);
    free_ok(pv.h, ptr + pg, 3 * pg);
    ck_assert(nothing_mapped(ptr + pg, 3 * pg));

    // Split and merge back, then free as one.
    ptr = alloc_ok(pv.h, 4 * pg, 0);
    fill(ptr, 4 * pg, 0x22);
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(pv.h, ptr, 4 * pg, 3 * pg), R_OK_);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(pv.h, ptr, ptr + 3 * pg, 4 * pg),
        R_OK_);
    ck_assert_all(ptr, 4 * pg, 0x22);
    free_ok(pv.h, ptr, 4 * pg);
    ck_assert(nothing_mapped(ptr, 4 * pg));
    prov_close(&pv);
}
END_TEST

START_TEST(test_os_provider_split_merge_front_end_checks) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    size_t pg = page();
    unsigned char *ptr = alloc_ok(pv.h, 4 * pg, 0);
    umf_memory_provider_handle_t other = make_other_failed();

    ck_assert_int_eq(umfMemoryProviderAllocationSplit(NULL, ptr, 4 * pg, pg),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(pv.h, NULL, 4 * pg, pg),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(pv.h, ptr, 4 * pg, 0),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(pv.h, ptr, 0, 0),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(pv.h, ptr, 0, pg),
                     R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(pv.h, ptr, 4 * pg, 4 * pg), R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(pv.h, ptr, 4 * pg, 5 * pg), R_INVAL);

    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(NULL, ptr, ptr + pg, 4 * pg), R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(pv.h, NULL, ptr + pg, 4 * pg),
        R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(pv.h, ptr, NULL, 4 * pg),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(pv.h, ptr, ptr + pg, 0),
                     R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(pv.h, ptr + pg, ptr, 4 * pg), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(pv.h, ptr, ptr, 4 * pg),
                     R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(pv.h, ptr, ptr + 4 * pg, 4 * pg),
        R_INVAL);
    ck_assert_int_eq(
        umfMemoryProviderAllocationMerge(pv.h, ptr, ptr + 5 * pg, 4 * pg),
        R_INVAL);

    ck_assert_int_eq(umfMemoryProviderPurgeLazy(pv.h, NULL, pg), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(pv.h, NULL, pg), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(NULL, ptr, pg), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(NULL, ptr, pg), R_INVAL);

    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), other);
    umfMemoryProviderDestroy(other);
    free_ok(pv.h, ptr, 4 * pg);
    prov_close(&pv);
}
END_TEST

// ======================= purge =======================

START_TEST(test_os_provider_purge_force_private) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    size_t len = 16 * page();
    unsigned char *ptr = alloc_ok(pv.h, len, 0);
    ck_assert_int_eq(madvise(ptr, len, MADV_NOHUGEPAGE), 0);
    fill(ptr, len, 0xab);
    ck_assert_int_eq(resident_pages(ptr, len), 16);
    // Part of the range: the rest stays.
    ck_assert_int_eq(
        umfMemoryProviderPurgeForce(pv.h, ptr + 4 * page(), 8 * page()), R_OK_);
    ck_assert_int_eq(resident_pages(ptr, len), 8);
    ck_assert_int_eq(resident_pages(ptr + 4 * page(), 8 * page()), 0);
    ck_assert_all(ptr, 4 * page(), 0xab);
    ck_assert_all(ptr + 4 * page(), 8 * page(), 0);
    ck_assert_all(ptr + 12 * page(), 4 * page(), 0xab);
    // Still usable.
    fill(ptr, len, 0xcd);
    ck_assert_all(ptr, len, 0xcd);
    free_ok(pv.h, ptr, len);
    prov_close(&pv);
}
END_TEST

// Purge really gives the memory back: the process's RSS drops.
START_TEST(test_os_provider_purge_force_rss) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    size_t len = 64 * MiB;
    long npages = (long)(len / page());
    unsigned char *ptr = alloc_ok(pv.h, len, 0);
    fill(ptr, len, 0x5e);
    long touched = rss_pages();
    ck_assert_int_ge(touched, npages);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(pv.h, ptr, len), R_OK_);
    long purged = rss_pages();
    ck_assert_msg(touched - purged >= npages * 15 / 16,
                  "RSS went from %ld to %ld pages after purging %ld pages",
                  touched, purged, npages);
    ck_assert_int_eq(resident_pages(ptr, len), 0);
    ck_assert_all(ptr, len, 0);
    free_ok(pv.h, ptr, len);
    prov_close(&pv);
}
END_TEST

// Lazy purge: SUCCESS, and every page keeps its data or reads as zeros.
START_TEST(test_os_provider_purge_lazy) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    size_t n = 16, len = n * page();
    unsigned char *ptr = alloc_ok(pv.h, len, 0);
    fill(ptr, len, 0x9d);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(pv.h, ptr, len), R_OK_);
    for (size_t i = 0; i < n; i++) {
        unsigned char *pgp = ptr + i * page();
        size_t z = first_not(pgp, page(), 0);
        size_t d = first_not(pgp, page(), 0x9d);
        ck_assert_msg(z == page() || d == page(),
                      "%s: page %zu is neither intact nor zero after lazy "
                      "purge",
                      cfgs[_i].name, i);
    }
    fill(ptr, len, 0x13);
    ck_assert_all(ptr, len, 0x13);
    free_ok(pv.h, ptr, len);
    prov_close(&pv);
}
END_TEST

START_TEST(test_os_provider_purge_failures) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    unsigned char *ptr = alloc_ok(pv.h, 2 * page(), 0);
    umf_memory_provider_handle_t other = make_other_failed();
    // madvise needs a page-aligned start.
    ck_assert_int_eq(umfMemoryProviderPurgeForce(pv.h, ptr + 1, page()),
                     R_SPECIFIC);
    expect_native(pv.h, UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED,
                  MSG_PURGE_FORCE);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), pv.h);
    umfMemoryProviderDestroy(other);
    other = make_other_failed();
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(pv.h, ptr + 1, page()),
                     R_SPECIFIC);
    expect_native(pv.h, UMF_OS_RESULT_ERROR_PURGE_LAZY_FAILED, MSG_PURGE_LAZY);
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), pv.h);
    umfMemoryProviderDestroy(other);
    free_ok(pv.h, ptr, 2 * page());
    prov_close(&pv);
}
END_TEST

// Shared memory: force purge makes the range read back as zeros and
// releases the backing file's pages. Loop index: shared configurations.
START_TEST(test_os_provider_purge_force_shared) {
    static const int shared_cfgs[] = {CFG_MEMFD, CFG_SHM, CFG_DEFAULT_FD};
    int cfg = shared_cfgs[_i];
    prov_t pv;
    int fd = prov_open_with_fd(&pv, cfg);
    // memfd_secret files account no blocks; memfds and shm objects do.
    char lnk[PATH_MAX];
    ck_assert(fd_link(fd, lnk, sizeof(lnk)));
    bool counts_blocks = strncmp(lnk, "/secretmem", 10) != 0;
    size_t n = 32, len = n * page();
    unsigned char *ptr = alloc_ok(pv.h, len, 0);
    long long blocks0 = backing_blocks(&pv, fd);
    fill(ptr, len, 0x6b);
    long long blocks1 = backing_blocks(&pv, fd);
    ck_assert_msg(!counts_blocks || blocks1 - blocks0 >= (long long)(len / 512),
                  "%s: writing %zu bytes added only %lld blocks to the "
                  "backing file",
                  cfgs[cfg].name, len, blocks1 - blocks0);
    umf_result_t r = umfMemoryProviderPurgeForce(pv.h, ptr, len);
    if (cfg == CFG_DEFAULT_FD && r != R_OK_) {
        // memfd_secret memory cannot be released: a reported failure is
        // acceptable there, but then the data must be intact.
        ck_assert_int_eq(r, R_SPECIFIC);
        expect_native(pv.h, UMF_OS_RESULT_ERROR_PURGE_FORCE_FAILED,
                      MSG_PURGE_FORCE);
        ck_assert_all(ptr, len, 0x6b);
    } else {
        ck_assert_int_eq(r, R_OK_);
        ck_assert_int_eq(resident_pages(ptr, len), 0);
        long long blocks2 = backing_blocks(&pv, fd);
        ck_assert_msg(!counts_blocks ||
                          blocks1 - blocks2 >= (long long)(len / 512),
                      "%s: purge released %lld of %zu blocks", cfgs[cfg].name,
                      blocks1 - blocks2, len / 512);
        ck_assert_all(ptr, len, 0);
        // Another process mapping the same memory sees zeros as well.
        expect_exit0(run_child(child_read, ptr + len / 2));
    }
    fill(ptr, len, 0x2f);
    ck_assert_all(ptr, len, 0x2f);
    free_ok(pv.h, ptr, len);
    prov_close(&pv);
}
END_TEST

// ======================= shared memory =======================

typedef struct share_arg_t {
    unsigned char *ptr;
    size_t len;
} share_arg_t;

static int child_verify_and_answer(void *arg) {
    share_arg_t *s = arg;
    for (size_t i = 0; i < s->len; i++) {
        if (s->ptr[i] != (unsigned char)(i * 7 + 1)) {
            return 3;
        }
    }
    for (size_t i = 0; i < s->len; i++) {
        s->ptr[i] = (unsigned char)(i * 13 + 5);
    }
    return 0;
}

// Parent writes, child checks and writes back, parent checks.
START_TEST(test_os_provider_shared_fork) {
    static const int shared_cfgs[] = {CFG_MEMFD, CFG_SHM, CFG_DEFAULT_FD};
    int cfg = shared_cfgs[_i];
    prov_t pv;
    prov_open(&pv, cfg, 0);
    share_arg_t s = {alloc_ok(pv.h, 5 * page() + 3, 64 * KiB), 5 * page() + 3};
    for (size_t i = 0; i < s.len; i++) {
        s.ptr[i] = (unsigned char)(i * 7 + 1);
    }
    expect_exit0(run_child(child_verify_and_answer, &s));
    for (size_t i = 0; i < s.len; i++) {
        ck_assert_msg(s.ptr[i] == (unsigned char)(i * 13 + 5),
                      "%s: byte %zu not written back by the child",
                      cfgs[cfg].name, i);
    }
    free_ok(pv.h, s.ptr, s.len);
    prov_close(&pv);
}
END_TEST

static int child_free(void *arg) {
    prov_t *pv = arg;
    // The child's copy of the provider frees its copy of the mapping.
    return umfMemoryProviderFree(pv->h, pv->ptr, pv->len) == UMF_RESULT_SUCCESS
               ? 0
               : 4;
}

// Free is munmap of this process's mapping: a child freeing its inherited
// copy of shared memory leaves the data alone for the parent.
START_TEST(test_os_provider_shared_free_in_child_keeps_data) {
    static const int shared_cfgs[] = {CFG_MEMFD, CFG_SHM, CFG_DEFAULT_FD};
    int cfg = shared_cfgs[_i];
    prov_t pv;
    prov_open(&pv, cfg, 0);
    pv.len = 4 * page();
    pv.ptr = alloc_ok(pv.h, pv.len, 0);
    fill(pv.ptr, pv.len, 0x3e);
    expect_exit0(run_child(child_free, &pv));
    ck_assert_msg(first_not(pv.ptr, pv.len, 0x3e) == pv.len,
                  "%s: data lost after a child freed its copy (byte %zu)",
                  cfgs[cfg].name, first_not(pv.ptr, pv.len, 0x3e));
    free_ok(pv.h, pv.ptr, pv.len);
    prov_close(&pv);
}
END_TEST

// Private memory is copied on fork: the child's writes stay in the child.
START_TEST(test_os_provider_private_fork_not_shared) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    share_arg_t s = {alloc_ok(pv.h, 2 * page(), 0), 2 * page()};
    for (size_t i = 0; i < s.len; i++) {
        s.ptr[i] = (unsigned char)(i * 7 + 1);
    }
    expect_exit0(run_child(child_verify_and_answer, &s));
    for (size_t i = 0; i < s.len; i++) {
        ck_assert_uint_eq(s.ptr[i], (unsigned char)(i * 7 + 1));
    }
    free_ok(pv.h, s.ptr, s.len);
    prov_close(&pv);
}
END_TEST

// For libumf_proxy.so, not API: a shared provider whose fork children get
// private copies of its memory (the heap of a preloaded program).
umf_result_t
umf_private_os_provider_private_after_fork(umf_memory_provider_handle_t h);

typedef struct private_fork_arg_t {
    share_arg_t s;
    prov_t pv;
} private_fork_arg_t;

static int child_private_copy(void *arg) {
    private_fork_arg_t *a = arg;
    int r = child_verify_and_answer(&a->s);
    if (r) {
        return r;
    }
    // The child's provider still allocates, from a file of its own.
    prov_t *pv = &a->pv;
    void *p = NULL;
    if (umfMemoryProviderAlloc(pv->h, page(), 0, &p) != UMF_RESULT_SUCCESS) {
        return 5;
    }
    memset(p, 0x11, page());
    if (umfMemoryProviderFree(pv->h, p, page()) != UMF_RESULT_SUCCESS) {
        return 6;
    }
    // Memory from before the fork (a private copy now) can still be split
    // and merged, as a pool does with its extents (jemalloc).
    size_t len = round_page(a->s.len);
    if (umfMemoryProviderAllocationSplit(pv->h, a->s.ptr, len, page()) !=
            UMF_RESULT_SUCCESS ||
        umfMemoryProviderAllocationMerge(pv->h, a->s.ptr, a->s.ptr + page(),
                                         len) != UMF_RESULT_SUCCESS) {
        return 7;
    }
    return 0;
}

// Marked private-after-fork, a shared provider's memory is copied into the
// child like private memory: the child's writes stay in the child. Without
// the mark (test_os_provider_shared_fork) they reach the parent.
START_TEST(test_os_provider_shared_private_after_fork) {
    static const int shared_cfgs[] = {CFG_MEMFD, CFG_SHM, CFG_DEFAULT_FD};
    int cfg = shared_cfgs[_i];
    private_fork_arg_t a;
    prov_open(&a.pv, cfg, 0);
    ck_assert_int_eq(umf_private_os_provider_private_after_fork(a.pv.h),
                     UMF_RESULT_SUCCESS);
    a.s.len = 3 * page() + 5;
    a.s.ptr = alloc_ok(a.pv.h, a.s.len, 0);
    for (size_t i = 0; i < a.s.len; i++) {
        a.s.ptr[i] = (unsigned char)(i * 7 + 1);
    }
    expect_exit0(run_child(child_private_copy, &a));
    for (size_t i = 0; i < a.s.len; i++) {
        ck_assert_msg(a.s.ptr[i] == (unsigned char)(i * 7 + 1),
                      "%s: byte %zu written by the child", cfgs[cfg].name, i);
    }
    free_ok(a.pv.h, a.s.ptr, a.s.len);
    prov_close(&a.pv);
}
END_TEST

START_TEST(test_os_provider_private_after_fork_args) {
    ck_assert_int_eq(umf_private_os_provider_private_after_fork(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t other;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &other),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umf_private_os_provider_private_after_fork(other),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT); // not an OS provider
    umfMemoryProviderDestroy(other);
}
END_TEST

// The named object exists with mode 0600 while the provider lives, holds
// the allocations' data, and is gone after destroy.
START_TEST(test_os_provider_shm_object) {
    char name[NAME_MAX + 1], path[PATH_MAX];
    unique_shm_name(name, sizeof(name), "obj");
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);

    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, name), R_OK_);
    umf_memory_provider_handle_t h = create_ok(p);
    umfOsMemoryProviderParamsDestroy(p);

    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_uint_eq(st.st_uid, geteuid());

    // The data is in the object: read it through the file, at the offset
    // the mapping shows.
    size_t len = 3 * page();
    unsigned char *ptr = alloc_ok(h, len, 0);
    for (size_t i = 0; i < len; i++) {
        ptr[i] = (unsigned char)(i * 31 + 9);
    }
    mapping_t m;
    ck_assert(find_mapping(ptr, &m));
    ck_assert_str_eq(m.perms, "rw-s");
    ck_assert_str_eq(m.path, path);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char *buf = malloc(len);
    ck_assert_int_eq(pread(fd, buf, len, (off_t)m.offset), (ssize_t)len);
    ck_assert_int_eq(memcmp(buf, ptr, len), 0);
    // And writes through the file show up in the mapping.
    memset(buf, 0xe1, page());
    ck_assert_int_eq(pwrite(fd, buf, page(), (off_t)m.offset + (off_t)page()),
                     (ssize_t)page());
    ck_assert_all(ptr + page(), page(), 0xe1);
    free(buf);
    close(fd);

    free_ok(h, ptr, len);
    umfMemoryProviderDestroy(h);
    ck_assert_int_ne(stat(path, &st), 0);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

// A stale object of the same name is replaced at creation.
START_TEST(test_os_provider_shm_replaces_existing) {
    char name[NAME_MAX + 1], path[PATH_MAX];
    unique_shm_name(name, sizeof(name), "stale");
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fchmod(fd, 0644), 0);
    ck_assert_int_eq(write(fd, "stale data", 10), 10);
    struct stat old;
    ck_assert_int_eq(fstat(fd, &old), 0);
    close(fd);

    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, name), R_OK_);
    umf_memory_provider_handle_t h = create_ok(p);
    umfOsMemoryProviderParamsDestroy(p);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    char buf[10];
    ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
    ck_assert_int_ne(memcmp(buf, "stale data", 10), 0);
    close(fd);
    unsigned char *ptr = alloc_ok(h, page(), 0);
    ck_assert_all(ptr, page(), 0);
    free_ok(h, ptr, page());
    umfMemoryProviderDestroy(h);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

// SetShmName(NULL) clears the name: an anonymous fd is used instead.
START_TEST(test_os_provider_shm_name_cleared) {
    char name[NAME_MAX + 1], path[PATH_MAX];
    unique_shm_name(name, sizeof(name), "cleared");
    snprintf(path, sizeof(path), "/dev/shm/%s", name);
    umf_os_memory_provider_params_handle_t p = new_params();
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, name), R_OK_);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetShmName(p, NULL), R_OK_);
    umf_memory_provider_handle_t h = create_ok(p);
    umfOsMemoryProviderParamsDestroy(p);
    struct stat st;
    ck_assert_int_ne(stat(path, &st), 0);
    unsigned char *ptr = alloc_ok(h, page(), 0);
    expect_perms(ptr, "rw-s");
    free_ok(h, ptr, page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// UMF_MEM_FD_FUNC=memfd_create: the backing fd is a memfd, closed again at
// destroy.
START_TEST(test_os_provider_memfd_env) {
    prov_t pv;
    int fd = prov_open_with_fd(&pv, CFG_MEMFD);
    char lnk[PATH_MAX];
    ck_assert(fd_link(fd, lnk, sizeof(lnk)));
    ck_assert_msg(strncmp(lnk, "/memfd:", 7) == 0,
                  "backing fd %d is '%s', not a memfd", fd, lnk);
    unsigned char *ptr = alloc_ok(pv.h, page(), 0);
    mapping_t m;
    ck_assert(find_mapping(ptr, &m));
    ck_assert_str_eq(m.perms, "rw-s");
    ck_assert_msg(strncmp(m.path, "/memfd:", 7) == 0,
                  "allocation maps '%s', not a memfd", m.path);
    free_ok(pv.h, ptr, page());
    prov_close(&pv);
    ck_assert_msg(!fd_link(fd, lnk, sizeof(lnk)) ||
                      strncmp(lnk, "/memfd:", 7) != 0,
                  "fd %d still open after destroy", fd);
}
END_TEST

// ======================= IPC =======================

START_TEST(test_os_provider_ipc_private_invalid) {
    prov_t pv;
    prov_open(&pv, CFG_PRIVATE, 0);
    unsigned char *ptr = alloc_ok(pv.h, page(), 0);
    fill(ptr, page(), 0x44);
    umf_memory_provider_handle_t other = make_other_failed();
    _Alignas(64) unsigned char data[4096];
    memset(data, 0, sizeof(data));
    size_t size = 12345;
    void *opened = NULL;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(pv.h, &size), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(pv.h, ptr, page(), data),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(pv.h, data), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(pv.h, data, &opened),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(pv.h, ptr, page()),
                     R_INVAL);
    // IPC failures do not touch the last failed provider, and close did not
    // unmap the allocation.
    ck_assert_ptr_eq(umfGetLastFailedMemoryProvider(), other);
    ck_assert(is_mapped(ptr, page()));
    ck_assert_all(ptr, page(), 0x44);
    umfMemoryProviderDestroy(other);
    free_ok(pv.h, ptr, page());
    prov_close(&pv);
}
END_TEST

// ======================= under a proxy pool =======================

START_TEST(test_os_provider_proxy_pool) {
    prov_t pv;
    prov_open(&pv, _i, 0);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), pv.h, NULL, 0, &pool),
                     R_OK_);
    ck_assert_ptr_nonnull(pool);
    umf_memory_provider_handle_t got = NULL;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &got), R_OK_);
    ck_assert_ptr_eq(got, pv.h);

    size_t size = 3 * page() + 17;
    unsigned char *p = umfPoolMalloc(pool, size);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % page(), 0);
    ck_assert_all(p, size, 0);
    fill(p, size, 0x71);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + 1), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + size / 2), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + page()), pool);
    ck_assert_ptr_eq(umfPoolByPtr(p + size - 1), pool);
    ck_assert_ptr_null(umfPoolByPtr(p + size));

    unsigned char *q = umfPoolAlignedMalloc(pool, 100, 64 * KiB);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq((uintptr_t)q % (64 * KiB), 0);
    ck_assert_all(q, 100, 0);
    ck_assert_ptr_eq(umfPoolByPtr(q + 99), pool);

    ck_assert_int_eq(umfPoolFree(pool, p), R_OK_);
    ck_assert_ptr_null(umfPoolByPtr(p));
    ck_assert_ptr_null(umfPoolByPtr(p + size - 1));
    ck_assert(nothing_mapped(p, size));
    ck_assert_int_eq(umfFree(q), R_OK_);
    ck_assert_ptr_null(umfPoolByPtr(q));
    ck_assert(nothing_mapped(q, 100));

    // The OS provider refuses size 0; the pool reports it.
    ck_assert_ptr_null(umfPoolMalloc(pool, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), R_SPECIFIC);
    umf_memory_provider_handle_t failed = umfGetLastFailedMemoryProvider();
    ck_assert_ptr_nonnull(failed);
    ck_assert_str_eq(umfMemoryProviderGetName(failed), "OS");
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, page(), 3 * page() / 2));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), R_INVAL);

    umfPoolDestroy(pool);
    prov_close(&pv);
}
END_TEST

// ======================= suite =======================

static Suite *os_provider_suite(void) {
    Suite *s = suite_create("os_provider");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_os_provider_params_create_destroy);
    tcase_add_test(tc, test_os_provider_params_setters_null_handle);
    tcase_add_test(tc, test_os_provider_params_null_lists);
    tcase_add_test(tc, test_os_provider_params_clear_lists);
    tcase_add_test(tc, test_os_provider_params_setters_overwrite);
    tcase_add_test(tc, test_os_provider_params_copied);
    tcase_add_test(tc, test_os_provider_params_defaults);
    tcase_add_test(tc, test_os_provider_create_null_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("create_checks");
    tcase_add_loop_test(tc, test_os_provider_create_checks, 0,
                        ARRAY_SIZE(create_cases));
    tcase_add_test(tc, test_os_provider_create_topology_failure);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_os_provider_alloc_aligned_zeroed, 0,
                        3 * ARRAY_SIZE(alignments));
    tcase_add_loop_test(tc, test_os_provider_alloc_bad_alignment, 0, CFG_COUNT);
    tcase_add_loop_test(tc, test_os_provider_alloc_size_fails, 0, CFG_COUNT);
    tcase_add_test(tc, test_os_provider_alloc_front_end_checks);
    tcase_add_loop_test(tc, test_os_provider_alloc_distinct_and_fresh, 0,
                        CFG_COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("free");
    tcase_add_loop_test(tc, test_os_provider_free_null, 0, CFG_COUNT);
    tcase_add_loop_test(tc, test_os_provider_free_fails, 0, CFG_COUNT);
    suite_add_tcase(s, tc);

    tc = tcase_create("native_error");
    tcase_add_test(tc, test_os_provider_native_error_per_thread);
    suite_add_tcase(s, tc);

    tc = tcase_create("protection");
    tcase_add_loop_test(tc, test_os_provider_protection_read_only, 0, 3);
    tcase_add_loop_test(tc, test_os_provider_protection_none, 0, 3 * 2);
    tcase_add_loop_test(tc, test_os_provider_protection_read_write, 0, 3);
    tcase_add_test(tc, test_os_provider_protection_exec);
    suite_add_tcase(s, tc);

    tc = tcase_create("page_size_name");
    tcase_add_loop_test(tc, test_os_provider_page_sizes_and_name, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("split_merge");
    tcase_add_loop_test(tc, test_os_provider_split_merge, 0, CFG_COUNT);
    tcase_add_test(tc, test_os_provider_split_merge_front_end_checks);
    suite_add_tcase(s, tc);

    tc = tcase_create("purge");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_os_provider_purge_force_private);
    tcase_add_test(tc, test_os_provider_purge_force_rss);
    tcase_add_loop_test(tc, test_os_provider_purge_lazy, 0, CFG_COUNT);
    tcase_add_test(tc, test_os_provider_purge_failures);
    tcase_add_loop_test(tc, test_os_provider_purge_force_shared, 0, 3);
    suite_add_tcase(s, tc);

    tc = tcase_create("shared");
    tcase_add_loop_test(tc, test_os_provider_shared_fork, 0, 3);
    tcase_add_loop_test(tc, test_os_provider_shared_private_after_fork, 0, 3);
    tcase_add_test(tc, test_os_provider_private_after_fork_args);
    tcase_add_loop_test(tc, test_os_provider_shared_free_in_child_keeps_data, 0,
                        3);
    tcase_add_test(tc, test_os_provider_private_fork_not_shared);
    tcase_add_test(tc, test_os_provider_shm_object);
    tcase_add_test(tc, test_os_provider_shm_replaces_existing);
    tcase_add_test(tc, test_os_provider_shm_name_cleared);
    tcase_add_test(tc, test_os_provider_memfd_env);
    suite_add_tcase(s, tc);

    tc = tcase_create("ipc");
    tcase_add_test(tc, test_os_provider_ipc_private_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("proxy_pool");
    tcase_add_loop_test(tc, test_os_provider_proxy_pool, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

// A test that fails leaves its provider, and so its shm object, behind:
// remove the objects of test processes that are gone (and, with CK_FORK=no,
// of this one, whose tests are all done).
static void remove_stale_shm(void) {
    DIR *d = opendir("/dev/shm");
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = 0;
        if (sscanf(e->d_name, "umf_test_os_%d_", &pid) == 1 && pid > 0 &&
            (pid == (int)getpid() || (kill(pid, 0) != 0 && errno == ESRCH))) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
            (void)unlink(path);
        }
    }
    closedir(d);
}

int main(void) {
    int ret = run_suite(os_provider_suite());
    remove_stale_shm();
    return ret;
}
