/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_file_provider.c - the file memory provider through the public API:
 * params functions, every creation check, the file's creation (mode 0600,
 * 2 MiB, truncation, kept after destroy), allocation (alignment rules,
 * packing with alignment 0, growth of the file, overflow), contents
 * reaching the file for SHARED and not for PRIVATE, no free, purge,
 * page sizes and name, split/merge, IPC refused when PRIVATE, IPC inside
 * the process through the provider API (a second provider opens what the
 * first handed out), fork (a shared mapping is shared with the child;
 * marked private-after-fork, as the proxy's file heaps are, the child gets
 * a private copy and anonymous memory from then on, and the parent's
 * memory and file never see its writes), and FSDAX: the provider on
 * $UMF_TESTS_FSDAX_PATH when it is set (skipped with a line on stdout
 * otherwise; this machine has no DAX filesystem).
 *
 * Processes exchanging handles: tests/test_ipc_file.sh.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_file_memory.h>

#include "helpers.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

#define R_OK_    UMF_RESULT_SUCCESS
#define R_INVAL  UMF_RESULT_ERROR_INVALID_ARGUMENT
#define R_NOTSUP UMF_RESULT_ERROR_NOT_SUPPORTED
#define R_ALIGN  UMF_RESULT_ERROR_INVALID_ALIGNMENT

static char dir[PATH_MAX - 64];
static char path[PATH_MAX];

static size_t page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static void setup(void) {
    snprintf(dir, sizeof(dir), "%s/umf_test_file_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/heap", dir);
}

static void teardown(void) {
    char p[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/heap", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/other", dir);
    unlink(p);
    rmdir(dir);
}

static umf_memory_provider_handle_t
make(const char *file, umf_memory_visibility_t vis, unsigned prot) {
    umf_file_memory_provider_params_handle_t p;
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, file), R_OK_);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetVisibility(p, vis), R_OK_);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetProtection(p, prot), R_OK_);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(umfFileMemoryProviderOps(), p, &h),
                     R_OK_);
    umfFileMemoryProviderParamsDestroy(p);
    return h;
}

#define RW (UMF_PROTECTION_READ | UMF_PROTECTION_WRITE)

static off_t file_size(const char *file) {
    struct stat st;
    ck_assert_int_eq(stat(file, &st), 0);
    return st.st_size;
}

// --- Params and creation ---

START_TEST(test_file_params) {
    umf_file_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(NULL, path), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, NULL), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, ""), R_INVAL);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, path), R_OK_);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(p, NULL), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(p, ""), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(NULL, path), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetProtection(NULL, RW),
                     R_INVAL);
    ck_assert_int_eq(
        umfFileMemoryProviderParamsSetVisibility(NULL, UMF_MEM_MAP_SHARED),
        R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsDestroy(p), R_OK_);
    ck_assert_int_eq(umfFileMemoryProviderParamsDestroy(NULL), R_OK_);
}
END_TEST

START_TEST(test_file_creation_checks) {
    umf_memory_provider_ops_t *ops = umfFileMemoryProviderOps();
    ck_assert_ptr_nonnull(ops);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, NULL, &h), R_INVAL);

    umf_file_memory_provider_params_handle_t p;
    char bad[PATH_MAX + 64];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/heap", dir);
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, bad), R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    // A path of PATH_MAX - 1 characters.
    memset(bad, 'a', PATH_MAX - 1);
    bad[0] = '/';
    bad[PATH_MAX - 1] = '\0';
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(p, bad), R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    // A directory is not a file.
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(p, dir), R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetPath(p, path), R_OK_);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetProtection(p, 0x100),
                     R_OK_); // checked at creation
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    ck_assert_int_eq(umfFileMemoryProviderParamsSetProtection(p, RW), R_OK_);
    ck_assert_int_eq(
        umfFileMemoryProviderParamsSetVisibility(p, (umf_memory_visibility_t)7),
        R_OK_);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, p, &h), R_INVAL);
    ck_assert_ptr_null(h);
    umfFileMemoryProviderParamsDestroy(p);
}
END_TEST

START_TEST(test_file_created_2mib_0600_kept) {
    // An existing longer file is truncated to 2 MiB.
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 5 * MiB), 0);
    close(fd);
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_PRIVATE, RW);
    ck_assert_int_eq(file_size(path), 2 * MiB);
    umfMemoryProviderDestroy(h);
    ck_assert_int_eq(access(path, F_OK), 0); // not deleted
    // A new file: mode 0600.
    char other[PATH_MAX + 16];
    snprintf(other, sizeof(other), "%s/other", dir);
    h = make(other, UMF_MEM_MAP_PRIVATE, RW);
    struct stat st;
    ck_assert_int_eq(stat(other, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(st.st_size, 2 * MiB);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- Allocation ---

START_TEST(test_file_alloc_alignment_and_packing) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_PRIVATE, RW);
    void *a = NULL, *b = NULL;
    // Alignment 0 packs allocations back to back.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, &a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, &b), R_OK_);
    ck_assert_ptr_eq(b, (char *)a + 100);
    // Below a page: raised to a page.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 64, &b), R_OK_);
    ck_assert_uint_eq((uintptr_t)b % page(), 0);
    // Above a page: honoured.
    for (size_t al = 2 * page(); al <= 4 * MiB; al *= 4) {
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 3000, al, &b), R_OK_);
        ck_assert_uint_eq((uintptr_t)b % al, 0);
        memset(b, 0x5a, 3000);
    }
    // Not a power of two.
    b = (void *)1;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 3 * page(), &b), R_ALIGN);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 48, &b), R_ALIGN);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, SIZE_MAX, 0, &b), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, SIZE_MAX - 10, 0, &b), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, NULL), R_INVAL);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_file_grows_and_shared_contents_reach_file) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_SHARED, RW);
    unsigned char *p[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 3 * MiB, 0, (void **)&p[i]),
                         R_OK_);
        memset(p[i], 0x10 + i, 3 * MiB);
    }
    ck_assert_int_ge(file_size(path), (off_t)(12 * MiB));
    // Every byte written is in the file, each allocation at its own
    // offsets: count the bytes of each pattern.
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    size_t count[4] = {0};
    static unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t k = 0; k < n; k++) {
            if (buf[k] >= 0x10 && buf[k] < 0x14) {
                count[buf[k] - 0x10]++;
            }
        }
    }
    close(fd);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(count[i], 3 * MiB);
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_file_private_contents_stay_private) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_PRIVATE, RW);
    unsigned char *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1 * MiB, 0, (void **)&p), R_OK_);
    memset(p, 0x77, 1 * MiB);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    static unsigned char buf[1 << 16];
    ssize_t n;
    size_t seen = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t k = 0; k < n; k++) {
            seen += buf[k] == 0x77;
        }
    }
    close(fd);
    ck_assert_uint_eq(seen, 0);
    // Purge force drops the private copy: the file's zeros come back.
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, p, 1 * MiB), R_OK_);
    ck_assert_int_eq(p[0], 0);
    ck_assert_int_eq(p[1 * MiB - 1], 0);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_file_no_free_pages_name_split_merge) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_SHARED, RW);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 8 * page(), 0, &p), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 8 * page()), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderFree(h, NULL, 0), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, p, page()), R_NOTSUP);
    ((char *)p)[0] = 1;
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, p, page()), R_OK_);
    ck_assert_int_eq(((char *)p)[0], 1); // shared: the file keeps it
    size_t ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, p, &ps), R_OK_);
    ck_assert_uint_eq(ps, page()); // not FSDAX here
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 100, &ps),
                     R_OK_);
    ck_assert_uint_eq(ps, page());
    ck_assert_str_eq(umfMemoryProviderGetName(h), "FILE");
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(h, p, 8 * page(), 2 * page()), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(
                         h, p, (char *)p + 2 * page(), 8 * page()),
                     R_OK_);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 8 * page(), 0),
                     R_INVAL);
    const char *msg = NULL;
    int32_t err = -1;
    umfMemoryProviderGetLastNativeError(h, &msg, &err);
    ck_assert_ptr_nonnull(msg);
    umfMemoryProviderDestroy(h);
}
END_TEST

// Writing to memory of a READ-only provider faults (checked in a child).
START_TEST(test_file_protection_read_only) {
    umf_memory_provider_handle_t h =
        make(path, UMF_MEM_MAP_SHARED, UMF_PROTECTION_READ);
    volatile char *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, page(), 0, (void **)&p), R_OK_);
    ck_assert_int_eq(p[0], 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        // The default action, also under AddressSanitizer (whose handler
        // would report the fault and exit instead).
        signal(SIGSEGV, SIG_DFL);
        p[0] = 1;
        _exit(0);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- IPC through the provider API ---

START_TEST(test_file_ipc_private_invalid) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_PRIVATE, RW);
    size_t sz;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &sz), R_INVAL);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, page(), 0, &p), R_OK_);
    char data[8192];
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(h, p, page(), data),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(h, data), R_INVAL);
    void *q;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(h, data, &q), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(h, p, page()), R_INVAL);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_file_ipc_in_process) {
    umf_memory_provider_handle_t prod = make(path, UMF_MEM_MAP_SHARED, RW);
    char other[PATH_MAX + 16];
    snprintf(other, sizeof(other), "%s/other", dir);
    umf_memory_provider_handle_t cons = make(other, UMF_MEM_MAP_SHARED, RW);
    size_t sz = 0;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(prod, &sz), R_OK_);
    ck_assert_uint_gt(sz, strlen(path));
    char *data = calloc(1, sz);
    // A packed (not page-aligned) allocation after a first one.
    char *a, *b;
    ck_assert_int_eq(umfMemoryProviderAlloc(prod, 1000, 0, (void **)&a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(prod, 3 * page(), 0, (void **)&b),
                     R_OK_);
    ck_assert_ptr_eq(b, a + 1000);
    memset(b, 0x42, 3 * page());
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prod, b, 3 * page(), data),
                     R_OK_);
    // Memory that is not the provider's.
    static char foreign[4096];
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prod, foreign, 10, data + 0),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderGetIPCHandle(prod, b, 3 * page(), data),
                     R_OK_);
    char *q = NULL;
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(cons, data, (void **)&q),
                     R_OK_);
    ck_assert_ptr_ne(q, b);
    size_t same = 0;
    for (size_t i = 0; i < 3 * page(); i++) {
        same += q[i] == 0x42;
    }
    ck_assert_uint_eq(same, 3 * page());
    q[5] = 0x43; // the same file: visible to the producer
    ck_assert_int_eq(b[5], 0x43);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(cons, q, 3 * page()),
                     R_OK_);
    ck_assert_int_eq(umfMemoryProviderCloseIPCHandle(cons, q, 3 * page()),
                     R_INVAL);
    // Put: the handle must name the producer's file.
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(cons, data), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPutIPCHandle(prod, data), R_OK_);
    // A handle of a file that is gone cannot be opened.
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(cons, data, (void **)&q),
                     R_INVAL);
    // A forged handle: bad magic, unterminated path.
    memset(data, 0x7f, sz);
    ck_assert_int_eq(umfMemoryProviderOpenIPCHandle(cons, data, (void **)&q),
                     R_INVAL);
    free(data);
    umfMemoryProviderDestroy(cons);
    umfMemoryProviderDestroy(prod);
}
END_TEST

// --- A pool on it ---

START_TEST(test_file_proxy_pool_umffree_not_supported) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_SHARED, RW);
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), h, NULL, 0, &pool),
                     R_OK_);
    char *p = umfPoolMalloc(pool, 5000);
    ck_assert_ptr_nonnull(p);
    memset(p, 1, 5000);
    ck_assert_ptr_eq(umfPoolByPtr(p + 4999), pool);
    // The provider has no free: the proxy pool passes NOT_SUPPORTED on.
    ck_assert_int_eq(umfPoolFree(pool, p), R_NOTSUP);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- Fork ---

// For libumf_proxy.so, not API: a shared provider whose fork children get
// private copies of its memory (the proxy's heaps on a file).
umf_result_t
umf_private_file_provider_private_after_fork(umf_memory_provider_handle_t h);

// How many bytes of the file equal v.
static size_t file_count(const char *file, unsigned char v) {
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    static unsigned char buf[1 << 16];
    ssize_t n;
    size_t seen = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t k = 0; k < n; k++) {
            seen += buf[k] == v;
        }
    }
    close(fd);
    return seen;
}

static int wait_child(pid_t pid) {
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "the child was killed by signal %d",
                  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return WEXITSTATUS(st);
}

// Without the mark, a shared mapping is shared with a fork child.
START_TEST(test_file_fork_shared_is_shared) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_SHARED, RW);
    volatile unsigned char *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, MiB, 0, (void **)&p), R_OK_);
    memset((void *)p, 0x21, MiB);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        p[100] = 0x42;
        _exit(0);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(p[100], 0x42);
    umfMemoryProviderDestroy(h);
}
END_TEST

// In the child of a private-after-fork provider: the contents of the
// moment of fork, then its own writes, a private copy (no IPC), and new
// memory that is not the file's. Returns 0 or the number of the failure.
static int private_child(umf_memory_provider_handle_t h, unsigned char *a,
                         unsigned char *b, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (b[i] != (unsigned char)(i * 7 + 1)) {
            return 1;
        }
    }
    memset(b, 0x99, len);
    memset(a, 0x99, 1000);
    size_t sz;
    if (umfMemoryProviderGetIPCHandleSize(h, &sz) != R_INVAL) {
        return 2; // a private copy has no IPC
    }
    unsigned char *c;
    if (umfMemoryProviderAlloc(h, 5 * MiB, 2 * MiB, (void **)&c) != R_OK_) {
        return 3;
    }
    if ((uintptr_t)c % (2 * MiB) != 0) {
        return 4;
    }
    memset(c, 0x99, 5 * MiB);
    if (umfMemoryProviderPurgeForce(h, c, MiB) != R_OK_ || c[0] != 0) {
        return 5; // anonymous memory: zeros after the purge
    }
    umfMemoryProviderDestroy(h);
    return 0;
}

START_TEST(test_file_fork_private_after_fork) {
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_SHARED, RW);
    ck_assert_int_eq(umf_private_file_provider_private_after_fork(h), R_OK_);
    // A packed block, then one larger than the rest of the first window.
    const size_t len = 3 * MiB + 5;
    unsigned char *a, *b;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1000, 0, (void **)&a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, len, 0, (void **)&b), R_OK_);
    for (size_t i = 0; i < len; i++) {
        b[i] = (unsigned char)(i * 7 + 1);
    }
    memset(a, 0x55, 1000);
    off_t size_before = file_size(path);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(private_child(h, a, b, len));
    }
    // The parent writes at once: the child has its copy already.
    memset(b, 0x33, len);
    ck_assert_int_eq(wait_child(pid), 0);
    for (size_t i = 0; i < len; i++) {
        ck_assert_int_eq(b[i], 0x33);
    }
    for (size_t i = 0; i < 1000; i++) {
        ck_assert_int_eq(a[i], 0x55);
    }
    // Nothing of the child reached the file: not its writes, not its new
    // allocation (the file did not grow).
    ck_assert_uint_eq(file_count(path, 0x99), 0);
    ck_assert_uint_eq(file_count(path, 0x33), len);
    ck_assert_int_eq(file_size(path), size_before);
    // The parent's provider is as it was: shared, with IPC.
    size_t sz;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &sz), R_OK_);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_file_private_after_fork_args) {
    ck_assert_int_eq(umf_private_file_provider_private_after_fork(NULL),
                     R_INVAL);
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t other;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &other), R_OK_);
    ck_assert_int_eq(umf_private_file_provider_private_after_fork(other),
                     R_INVAL); // not a file provider
    umfMemoryProviderDestroy(other);
    // A private mapping is copy-on-write already: accepted, nothing to do.
    umf_memory_provider_handle_t h = make(path, UMF_MEM_MAP_PRIVATE, RW);
    ck_assert_int_eq(umf_private_file_provider_private_after_fork(h), R_OK_);
    volatile unsigned char *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, MiB, 0, (void **)&p), R_OK_);
    p[0] = 1;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        p[0] = 2;
        _exit(0);
    }
    ck_assert_int_eq(wait_child(pid), 0);
    ck_assert_int_eq(p[0], 1);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- FSDAX (needs a file on a DAX filesystem) ---

START_TEST(test_file_fsdax) {
    const char *fsdax = getenv("UMF_TESTS_FSDAX_PATH");
    if (!fsdax || !*fsdax) {
        printf("test_file_fsdax: UMF_TESTS_FSDAX_PATH is not set (a file on "
               "an FSDAX mount): not run\n");
        return;
    }
    umf_memory_provider_handle_t h = make(fsdax, UMF_MEM_MAP_SHARED, RW);
    size_t ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, &ps), R_OK_);
    ck_assert_uint_eq(ps, 2 * MiB);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 3 * MiB, 2 * MiB, &p), R_OK_);
    ck_assert_uint_eq((uintptr_t)p % (2 * MiB), 0);
    memset(p, 3, 3 * MiB);
    umfMemoryProviderDestroy(h);
}
END_TEST

static Suite *file_suite(void) {
    Suite *s = suite_create("file_provider");
    TCase *tc = tcase_create("create");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_params);
    tcase_add_test(tc, test_file_creation_checks);
    tcase_add_test(tc, test_file_created_2mib_0600_kept);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_alloc_alignment_and_packing);
    tcase_add_test(tc, test_file_grows_and_shared_contents_reach_file);
    tcase_add_test(tc, test_file_private_contents_stay_private);
    tcase_add_test(tc, test_file_no_free_pages_name_split_merge);
    tcase_add_test(tc, test_file_protection_read_only);
    tcase_add_test(tc, test_file_proxy_pool_umffree_not_supported);
    suite_add_tcase(s, tc);

    tc = tcase_create("ipc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_ipc_private_invalid);
    tcase_add_test(tc, test_file_ipc_in_process);
    suite_add_tcase(s, tc);

    tc = tcase_create("fork");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_file_fork_shared_is_shared);
    tcase_add_test(tc, test_file_fork_private_after_fork);
    tcase_add_test(tc, test_file_private_after_fork_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("fsdax");
    tcase_add_test(tc, test_file_fsdax);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(file_suite());
}
