/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_setup.c - start-up and exit of libumf_proxy.so.
 *
 * The constructor reads the configuration (the file named by
 * UMF_PROXY_CONFIG, else /etc/umf/proxy.conf if present, then the UMF_PROXY
 * string, which wins), creates one provider and pool per heap (the base
 * heap and each tier: an OS provider, a memspace's, or for file.dir a
 * file provider under a coarse one), and only then opens the pools to
 * requests (px.ready). A bad configuration, or a heap that cannot be
 * created, prints one line to stderr and ends the program with status 1
 * before main runs: nothing is silently ignored.
 *
 * Nothing is torn down at exit: other libraries' destructors may still free
 * memory of the pools. With stats on, the report is printed by a destructor.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <umf/mempolicy.h>
#include <umf/memspace.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_disjoint_ext.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_jemalloc_ext.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_scalable.h>
#include <umf/pools/pool_scalable_ext.h>
#include <umf/providers/provider_coarse.h>
#include <umf/providers/provider_file_memory.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/providers/provider_os_memory_ext.h>

#include "common.h"
#include "pools/pool_disjoint_internal.h"
#include "proxy_internal.h"
#include "umf_private.h"

static px_config_t px_cfg; // static: the parser must not allocate

// Every configuration or set-up error ends here: one line on stderr, exit
// status 1, before main. `msg` is already escaped (px_escape).
static __attribute__((noreturn)) void px_die_escaped(const char *msg) {
    char line[1024];
    snprintf(line, sizeof(line), "umf_proxy: %s\n", msg);
    px_write_err(line);
    _exit(1);
}

// The same for a message that may echo user input (a path): escaped here,
// so that it stays one line.
static __attribute__((noreturn)) void px_die(const char *what,
                                             const char *detail) {
    char raw[768], msg[1000];
    snprintf(raw, sizeof(raw), "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
    px_escape(msg, sizeof(msg), raw);
    px_die_escaped(msg);
}

// Every online NUMA node, for numa.nodes=all (no hwloc at start-up).
static size_t px_online_nodes(unsigned *ids, size_t cap) {
    char buf[512];
    int fd = open("/sys/devices/system/node/online", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ids[0] = 0;
        return 1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        ids[0] = 0;
        return 1;
    }
    buf[n] = '\0';
    size_t count = 0;
    char *s = buf;
    while (*s && *s != '\n' && count < cap) {
        char *end;
        unsigned long lo = strtoul(s, &end, 10), hi = lo;
        if (end == s) {
            break;
        }
        s = end;
        if (*s == '-') {
            hi = strtoul(s + 1, &end, 10);
            s = end;
        }
        for (unsigned long i = lo; i <= hi && count < cap; i++) {
            ids[count++] = (unsigned)i;
        }
        if (*s == ',') {
            s++;
        }
    }
    return count ? count : 1;
}

static const char *px_result_str(umf_result_t r) {
    switch (r) {
    case UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY:
        return "out of host memory";
    case UMF_RESULT_ERROR_INVALID_ARGUMENT:
        return "invalid argument";
    case UMF_RESULT_ERROR_NOT_SUPPORTED:
        return "not supported";
    case UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC:
        return "provider error";
    default:
        return "error";
    }
}

// memspace=: the provider umfMemoryProviderCreateFromMemspace makes, with
// numa.mode (and numa.part_size) as the policy; no numa.mode: no policy,
// the contract's default for that memspace. The memspace's first Get
// loads the hardware topology (and allocates: px_depth is raised).
static umf_memory_provider_handle_t
px_make_memspace_provider(const px_pool_conf_t *pc) {
    static const char *const names[] = {
        [PX_MEMSPACE_HOST_ALL] = "host_all",
        [PX_MEMSPACE_HIGHEST_CAPACITY] = "highest_capacity",
        [PX_MEMSPACE_HIGHEST_BANDWIDTH] = "highest_bandwidth",
        [PX_MEMSPACE_LOWEST_LATENCY] = "lowest_latency",
    };
    umf_const_memspace_handle_t ms = NULL;
    switch (pc->memspace) {
    case PX_MEMSPACE_HOST_ALL:
        ms = umfMemspaceHostAllGet();
        break;
    case PX_MEMSPACE_HIGHEST_CAPACITY:
        ms = umfMemspaceHighestCapacityGet();
        break;
    case PX_MEMSPACE_HIGHEST_BANDWIDTH:
        ms = umfMemspaceHighestBandwidthGet();
        break;
    case PX_MEMSPACE_LOWEST_LATENCY:
        ms = umfMemspaceLowestLatencyGet();
        break;
    default:
        break;
    }
    char what[96];
    snprintf(what, sizeof(what), "memspace=%s", names[pc->memspace]);
    if (!ms) {
        px_die(what, pc->memspace == PX_MEMSPACE_HIGHEST_BANDWIDTH ||
                             pc->memspace == PX_MEMSPACE_LOWEST_LATENCY
                         ? "not available on this machine: the platform "
                           "reports no memory bandwidth or latency (no "
                           "HMAT); use host_all or highest_capacity"
                         : "not available: the hardware topology could not "
                           "be read (hwloc)");
    }
    umf_mempolicy_handle_t policy = NULL;
    umf_result_t r = UMF_RESULT_SUCCESS;
    if (pc->numa_mode >= 0) {
        umf_mempolicy_membind_t kind =
            pc->numa_mode == UMF_NUMA_MODE_INTERLEAVE ? UMF_MEMPOLICY_INTERLEAVE
            : pc->numa_mode == UMF_NUMA_MODE_PREFERRED ? UMF_MEMPOLICY_PREFERRED
            : pc->numa_mode == UMF_NUMA_MODE_SPLIT     ? UMF_MEMPOLICY_SPLIT
                                                       : UMF_MEMPOLICY_BIND;
        r = umfMempolicyCreate(kind, &policy);
        if (r == UMF_RESULT_SUCCESS && pc->numa_part_size) {
            r = umfMempolicySetInterleavePartSize(policy, pc->numa_part_size);
        }
    }
    umf_memory_provider_handle_t prov = NULL;
    if (r == UMF_RESULT_SUCCESS) {
        r = umfMemoryProviderCreateFromMemspace(ms, policy, &prov);
    }
    umfMempolicyDestroy(policy);
    if (r != UMF_RESULT_SUCCESS) {
        px_die(what, px_result_str(r));
    }
    return prov;
}

// --- A heap on a file (file.dir) ---

// The heap's file has no name: each process (and each heap) has a file of
// its own, so processes of one configuration (a build's compilers, a
// shell's children) never share or truncate one another's heap, and
// nothing is left in the directory whatever ends the process; the space
// is freed when the process and its fork children are gone. O_TMPFILE
// where the filesystem has it, else a fresh name removed at once.
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

// Returns an open descriptor of a new unnamed file in dir, or -errno.
static int px_file_create(const char *dir, const char *heap) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        return fd;
    }
    // EISDIR/EINVAL: a kernel without O_TMPFILE; EOPNOTSUPP: a filesystem.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        return -errno;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/.umf_proxy_heap_%d%s%s_XXXXXX",
                     dir, (int)getpid(), heap[0] ? "_" : "", heap);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    (void)unlink(path);
    return fd;
}

// file.map_sync=required: the file must take a MAP_SYNC mapping (DAX).
static int px_file_probe_sync(int fd) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
                   MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
    if (p == MAP_FAILED) {
        return -errno;
    }
    (void)munmap(p, page);
    return 0;
}

// The file provider on the heap's file, mapped shared (private file pages
// would be copied into anonymous memory as soon as they are written),
// under a coarse provider: the file provider never frees, the coarse one
// reuses what the pool gives back.
static umf_memory_provider_handle_t
px_make_file_provider(const px_pool_conf_t *pc, const char *heap) {
    char what[PX_PATH_MAX + PX_NAME_MAX + 32];
    snprintf(what, sizeof(what), "%s%s%sfile.dir %s", heap[0] ? "tier." : "",
             heap, heap[0] ? "." : "", pc->file_dir);
    int fd = px_file_create(pc->file_dir, heap);
    if (fd < 0) {
        char msg[sizeof(what) + 128];
        snprintf(msg, sizeof(msg), "%s: cannot create the heap's file", what);
        px_die(msg, strerror(-fd));
    }
    if (pc->file_map_sync == PX_MAP_SYNC_REQUIRED) {
        int r = px_file_probe_sync(fd);
        if (r < 0) {
            char msg[sizeof(what) + 128];
            snprintf(msg, sizeof(msg),
                     "%s: file.map_sync=required: no MAP_SYNC here", what);
            px_die(msg, r == -EOPNOTSUPP || r == -EINVAL
                            ? "not a DAX filesystem (FSDAX: ext4 or xfs "
                              "mounted with -o dax on persistent memory)"
                            : strerror(-r));
        }
    }
    // The provider opens the file again by this path (it is used for
    // nothing else: a coarse provider has no IPC).
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct stat st;
    if (stat(path, &st) != 0) {
        char msg[sizeof(what) + 128];
        snprintf(msg, sizeof(msg), "%s: cannot reach the heap's file as %s",
                 what, path);
        px_die(msg, "is /proc mounted?");
    }
    umf_file_memory_provider_params_handle_t params;
    umf_result_t r = umfFileMemoryProviderParamsCreate(&params, path);
    if (r == UMF_RESULT_SUCCESS) {
        r = umfFileMemoryProviderParamsSetVisibility(params,
                                                     UMF_MEM_MAP_SHARED);
    }
    umf_memory_provider_handle_t file = NULL;
    if (r == UMF_RESULT_SUCCESS) {
        r = umfMemoryProviderCreate(umfFileMemoryProviderOps(), params, &file);
    }
    umfFileMemoryProviderParamsDestroy(params);
    close(fd);
    if (r != UMF_RESULT_SUCCESS) {
        char msg[sizeof(what) + 128];
        snprintf(msg, sizeof(msg), "%s: cannot map the heap's file", what);
        px_die(msg, r == UMF_RESULT_ERROR_INVALID_ARGUMENT
                        ? "the file provider refused it (UMF_LOG=level:error "
                          "says why)"
                        : px_result_str(r));
    }
    // A heap stays private across fork, as with any malloc.
    r = umf_private_file_provider_private_after_fork(file);
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = file;
    cp.destroy_upstream_memory_provider = true;
    umf_memory_provider_handle_t prov = NULL;
    if (r == UMF_RESULT_SUCCESS) {
        r = umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &prov);
    }
    if (r != UMF_RESULT_SUCCESS) {
        px_die(what, px_result_str(r));
    }
    return prov;
}

static umf_memory_provider_handle_t px_make_provider(const px_pool_conf_t *pc,
                                                     const char *heap) {
    if (pc->file_dir[0]) {
        return px_make_file_provider(pc, heap);
    }
    if (pc->memspace != PX_MEMSPACE_UNSET) {
        return px_make_memspace_provider(pc);
    }
    umf_os_memory_provider_params_handle_t params;
    umf_result_t r = umfOsMemoryProviderParamsCreate(&params);
    if (r != UMF_RESULT_SUCCESS) {
        px_die("cannot create OS provider params", px_result_str(r));
    }
    if (pc->disposition != PX_PAGES_PRIVATE) {
        r = umfOsMemoryProviderParamsSetVisibility(params, UMF_MEM_MAP_SHARED);
        if (r == UMF_RESULT_SUCCESS && pc->disposition == PX_PAGES_SHARED_SHM) {
            char name[64];
            snprintf(name, sizeof(name), "umf_proxy_lib_shm_pid_%d%s%s",
                     (int)getpid(), heap[0] ? "_" : "", heap);
            r = umfOsMemoryProviderParamsSetShmName(params, name);
        }
        if (r != UMF_RESULT_SUCCESS) {
            px_die("page.disposition: cannot set up shared memory",
                   px_result_str(r));
        }
    }
    if (pc->numa_mode >= 0 || pc->numa_nnodes || pc->numa_all_nodes) {
        unsigned ids[PX_MAX_NODES]; // the setter takes a non-const list
        size_t n = pc->numa_nnodes;
        if (pc->numa_all_nodes) {
            n = px_online_nodes(ids, PX_MAX_NODES);
        } else {
            memcpy(ids, pc->numa_nodes, n * sizeof(ids[0]));
        }
        int mode = pc->numa_mode >= 0 ? pc->numa_mode : UMF_NUMA_MODE_BIND;
        if (n) {
            r = umfOsMemoryProviderParamsSetNumaList(params, ids, (unsigned)n);
        }
        if (r == UMF_RESULT_SUCCESS) {
            r = umfOsMemoryProviderParamsSetNumaMode(params,
                                                     (umf_numa_mode_t)mode);
        }
        if (r == UMF_RESULT_SUCCESS && pc->numa_part_size) {
            r = umfOsMemoryProviderParamsSetPartSize(params,
                                                     pc->numa_part_size);
        }
        if (r != UMF_RESULT_SUCCESS) {
            px_die("numa: bad NUMA settings", px_result_str(r));
        }
    }
    if (pc->thp != PX_UNSET) {
        r = umfOsMemoryProviderParamsSetHugePages(
            params,
            pc->thp == PX_ON ? UMF_OS_HUGE_PAGES_ON : UMF_OS_HUGE_PAGES_OFF);
        if (r != UMF_RESULT_SUCCESS) {
            px_die("thp: cannot set huge pages", px_result_str(r));
        }
    }
    umf_memory_provider_handle_t prov;
    r = umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov);
    umfOsMemoryProviderParamsDestroy(params);
    if (r == UMF_RESULT_SUCCESS && pc->disposition != PX_PAGES_PRIVATE) {
        // A heap stays private across fork, as with any malloc.
        r = umf_private_os_provider_private_after_fork(prov);
    }
    if (r == UMF_RESULT_SUCCESS && pc->disposition == PX_PAGES_SHARED_SHM) {
        // The name goes at once: nothing is left in /dev/shm whatever ends
        // the process. IPC consumers get the object through the
        // producer's pid and fd (pidfd_getfd, or /proc/<pid>/fd).
        r = umf_private_os_provider_unlink_name(prov);
    }
    if (r != UMF_RESULT_SUCCESS) {
        bool numa = pc->numa_mode >= 0 || pc->numa_nnodes || pc->numa_all_nodes;
        if (numa && r == UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC) {
            // NUMA node ids are checked against hwloc's topology; libumf
            // loads hwloc then (and keeps it loaded when that works).
            const char *hw = getenv("UMF_HWLOC_LIB");
            void *h = dlopen(hw && *hw ? hw : "libhwloc.so.15",
                             RTLD_LAZY | RTLD_NOLOAD);
            if (!h) {
                px_die("numa.nodes: NUMA placement needs hwloc at run time "
                       "and it could not be loaded",
                       "install the Debian package libhwloc15, or set "
                       "UMF_HWLOC_LIB to the library's path");
            }
            dlclose(h);
        }
        px_die(numa ? "cannot create the OS memory provider: check numa.nodes "
                      "and numa.mode against this machine's NUMA nodes "
                      "(/sys/devices/system/node/online)"
               : pc->thp == PX_ON && r == UMF_RESULT_ERROR_NOT_SUPPORTED
                   ? "thp=on: this kernel has no transparent huge pages "
                     "(/sys/kernel/mm/transparent_hugepage is missing)"
                   : "cannot create the OS memory provider",
               px_result_str(r));
    }
    return prov;
}

// --- The jemalloc pool, loaded only when configured ---

// libjemalloc_pool.so is not a dependency of the proxy: a program whose
// heaps use other pools does not load it (nor jemalloc, linked into it),
// which was most of the proxy's start-up cost. It cannot be dlopen'ed
// either: jemalloc's TLS is initial-exec (2.6 KB) and glibc's surplus of
// static TLS for dlopen is 512 bytes by default. So when the configuration
// asks for it and it is not loaded yet (umfrun preloads it; so may the
// user, or the program may link it), the constructor starts the program
// again, before main, with the library appended to LD_PRELOAD. A second
// refusal (LD_PRELOAD already names it) is a one-line error.
#define PX_JE_SONAME "libjemalloc_pool.so.0"

static struct {
    umf_result_t (*params_create)(umf_jemalloc_pool_params_handle_t *);
    umf_result_t (*params_destroy)(umf_jemalloc_pool_params_handle_t);
    umf_result_t (*set_keep_all)(umf_jemalloc_pool_params_handle_t, bool);
    umf_result_t (*set_checks)(umf_jemalloc_pool_params_handle_t,
                               umf_jemalloc_pool_checks_t);
    const umf_memory_pool_ops_t *(*ops)(void);
} px_je;

static bool px_je_bind(void *h) {
    px_je.params_create = (umf_result_t(*)(
        umf_jemalloc_pool_params_handle_t *))dlsym(h, "umfJemallocPool"
                                                      "ParamsCreate");
    px_je.params_destroy = (umf_result_t(*)(
        umf_jemalloc_pool_params_handle_t))dlsym(h, "umfJemallocPool"
                                                    "ParamsDestroy");
    px_je.set_keep_all =
        (umf_result_t(*)(umf_jemalloc_pool_params_handle_t, bool))dlsym(
            h, "umfJemallocPoolParamsSetKeepAllMemory");
    px_je.set_checks = (umf_result_t(*)(
        umf_jemalloc_pool_params_handle_t,
        umf_jemalloc_pool_checks_t))dlsym(h, "umfJemallocPoolParamsSetChecks");
    px_je.ops =
        (const umf_memory_pool_ops_t *(*)(void))dlsym(h, "umfJemallocPoolOps");
    return px_je.params_create && px_je.params_destroy && px_je.set_keep_all &&
           px_je.set_checks && px_je.ops;
}

// The proxy's own directory + PX_JE_SONAME (where make install and the
// build tree's .libs put both).
static void px_je_path(char *out, size_t cap) {
    Dl_info info;
    const char *self = NULL;
    if (dladdr((void *)px_je_path, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/')) {
        self = info.dli_fname;
    }
    if (!self) {
        snprintf(out, cap, "%s", PX_JE_SONAME);
        return;
    }
    size_t dir = (size_t)(strrchr(self, '/') - self);
    snprintf(out, cap, "%.*s/%s", (int)dir, self, PX_JE_SONAME);
}

// LD_PRELOAD as this process's environment holds it (not getenv: a shell
// such as bash replaces getenv and setenv with its own), or NULL.
static const char *px_env_preload(void) {
    for (char **e = environ; e && *e; e++) {
        if (!strncmp(*e, "LD_PRELOAD=", 11)) {
            return *e + 11;
        }
    }
    return NULL;
}

// Starts this program again with `lib` appended to LD_PRELOAD. Returns
// only when that cannot be done. The command line, argv and a copy of
// the environment with the new LD_PRELOAD go in one anonymous mapping (no
// C allocator, no setenv) passed to execve: the new process certainly
// sees the library in LD_PRELOAD, so a second refusal cannot loop.
static void px_reexec_with(const char *lib) {
    const char *old = px_env_preload();
    if (old && strstr(old, lib)) {
        return; // already tried: loading it failed
    }
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    size_t nenv = 0, envbytes = 0;
    for (char **e = environ; e && *e; e++) {
        nenv++;
    }
    size_t olen = old ? strlen(old) : 0;
    envbytes = sizeof("LD_PRELOAD=") + olen + 1 + strlen(lib) + 1;
    size_t cap = (size_t)1 << 20, len = 0;
    char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    while (buf != MAP_FAILED) {
        ssize_t n = read(fd, buf + len, cap / 2 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        if (len == cap / 2) { // the command line takes at most half
            char *b = mremap(buf, cap, cap * 2, MREMAP_MAYMOVE);
            if (b == MAP_FAILED) {
                (void)munmap(buf, cap);
            }
            buf = b;
            cap *= 2;
        }
    }
    close(fd);
    if (buf == MAP_FAILED) {
        return;
    }
    size_t argc = 0;
    for (size_t i = 0; i < len; i++) {
        argc += buf[i] == '\0';
    }
    // After the command line: argv, envp (aligned), then LD_PRELOAD=...
    size_t at = (len + 1 + 15) & ~(size_t)15;
    size_t need = at + (argc + 1 + nenv + 2) * sizeof(char *) + envbytes;
    if (len == 0 || buf[len - 1] != '\0' || need > cap) {
        (void)munmap(buf, cap);
        return;
    }
    char **argv = (char **)(buf + at);
    char **envp = argv + argc + 1;
    char *preload = (char *)(envp + nenv + 2);
    size_t k = 0;
    for (char *a = buf; a < buf + len; a += strlen(a) + 1) {
        argv[k++] = a;
    }
    argv[k] = NULL;
    sprintf(preload, "LD_PRELOAD=%s%s%s", old ? old : "", olen ? " " : "", lib);
    k = 0;
    envp[k++] = preload;
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0) {
            envp[k++] = *e;
        }
    }
    envp[k] = NULL;
    execve("/proc/self/exe", argv, envp);
    (void)munmap(buf, cap);
}

// Makes px_je usable, or ends the program with one line.
static void px_je_load(void) {
    if (px_je.ops) {
        return;
    }
    // Loaded already: preloaded (umfrun, a restart), or linked by the
    // program.
    void *h = dlopen(PX_JE_SONAME, RTLD_NOW | RTLD_NOLOAD);
    char path[PATH_MAX];
    px_je_path(path, sizeof(path));
    if (!h) {
        // Works when the static TLS surplus allows it
        // (GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384).
        h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    }
    if (!h) {
        px_reexec_with(path);
        px_die("pool=jemalloc: cannot load " PX_JE_SONAME,
               "put it in LD_PRELOAD after libumf_proxy.so, or run the "
               "program with umfrun");
    }
    if (!px_je_bind(h)) {
        px_die("pool=jemalloc: " PX_JE_SONAME " lacks the jemalloc pool "
               "functions",
               path);
    }
}

static umf_memory_pool_handle_t
px_make_pool(px_pool_kind_t kind, const px_pool_conf_t *pc,
             umf_memory_provider_handle_t prov) {
    umf_memory_pool_handle_t pool = NULL;
    umf_result_t r = UMF_RESULT_ERROR_UNKNOWN;
    const umf_pool_create_flags_t flags = UMF_POOL_CREATE_FLAG_OWN_PROVIDER;
    switch (kind) {
    case PX_POOL_DISJOINT: {
        umf_disjoint_pool_params_handle_t p;
        if ((r = umfDisjointPoolParamsCreate(&p)) != UMF_RESULT_SUCCESS) {
            break;
        }
        if (pc->dj_slab_min_size_set) {
            r = umfDisjointPoolParamsSetSlabMinSize(p, pc->dj_slab_min_size);
        }
        if (r == UMF_RESULT_SUCCESS && pc->dj_max_poolable_size_set) {
            r = umfDisjointPoolParamsSetMaxPoolableSize(
                p, pc->dj_max_poolable_size);
        }
        if (r == UMF_RESULT_SUCCESS && pc->dj_capacity_set) {
            r = umfDisjointPoolParamsSetCapacity(p, pc->dj_capacity);
        }
        if (r == UMF_RESULT_SUCCESS && pc->dj_min_bucket_size_set) {
            r = umfDisjointPoolParamsSetMinBucketSize(p,
                                                      pc->dj_min_bucket_size);
        }
        if (r == UMF_RESULT_SUCCESS && pc->dj_checks_set) {
            r = umfDisjointPoolParamsSetChecks(
                p, (umf_disjoint_pool_checks_t)pc->dj_checks);
        }
        if (r == UMF_RESULT_SUCCESS) {
            r = umfDisjointPoolParamsSetName(p, "umf_proxy");
        }
        // Unless disjoint.capacity says how many free slabs to keep (then
        // the contract's rule, as configured): as the host engine's pool
        // for large blocks, more empty slabs kept (a program churning
        // 64 KiB-1 MiB buffers otherwise maps a slab and faults its pages
        // in every few calls), within a bound, and given back after a
        // second. The heap lives as long as the process, and so do its
        // limits.
        umf_disjoint_pool_shared_limits_handle_t lim = NULL;
        if (r == UMF_RESULT_SUCCESS && !pc->dj_capacity_set) {
            lim = umfDisjointPoolSharedLimitsCreate(PX_DJ_KEPT);
            r = lim ? umfDisjointPoolParamsSetSharedLimits(p, lim)
                    : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        if (r == UMF_RESULT_SUCCESS && lim) {
            r = umf_private_disjoint_params_set_keep_empty(p, PX_DJ_KEEP);
        }
        if (r == UMF_RESULT_SUCCESS && lim) {
            r = umf_private_disjoint_params_set_decay(p, PX_DJ_DECAY_MS);
        }
        if (r == UMF_RESULT_SUCCESS) {
            r = umfPoolCreate(umfDisjointPoolOps(), prov, p, flags, &pool);
        }
        if (r != UMF_RESULT_SUCCESS && lim) {
            umfDisjointPoolSharedLimitsDestroy(lim);
        }
        umfDisjointPoolParamsDestroy(p);
        break;
    }
    case PX_POOL_SCALABLE: {
        umf_scalable_pool_params_handle_t p;
        if ((r = umfScalablePoolParamsCreate(&p)) != UMF_RESULT_SUCCESS) {
            break;
        }
        if (pc->sc_granularity) {
            r = umfScalablePoolParamsSetGranularity(p, pc->sc_granularity);
        } else if (pc->thp == PX_ON) {
            // Whole huge pages from the provider, so that they can be used.
            r = umfScalablePoolParamsSetGranularity(p, (size_t)2 << 20);
        }
        if (r == UMF_RESULT_SUCCESS && pc->sc_keep_all != PX_UNSET) {
            r = umfScalablePoolParamsSetKeepAllMemory(p,
                                                      pc->sc_keep_all == PX_ON);
        }
        if (r ==
            UMF_RESULT_SUCCESS) { // checks on unless told (umf_proxy(7), MISUSE)
            r = umfScalablePoolParamsSetChecks(
                p, pc->sc_checks_set ? (umf_scalable_pool_checks_t)pc->sc_checks
                                     : UMF_SCALABLE_POOL_CHECKS_ABORT);
        }
        if (r == UMF_RESULT_SUCCESS) {
            r = umfPoolCreate(umfScalablePoolOps(), prov, p, flags, &pool);
        }
        umfScalablePoolParamsDestroy(p);
        break;
    }
    case PX_POOL_JEMALLOC: {
#ifdef HAVE_JEMALLOC_POOL
        px_je_load(); // done by px_setup already
        umf_jemalloc_pool_params_handle_t p;
        if ((r = px_je.params_create(&p)) != UMF_RESULT_SUCCESS) {
            break;
        }
        if (pc->je_keep_all != PX_UNSET) {
            r = px_je.set_keep_all(p, pc->je_keep_all == PX_ON);
        }
        if (r ==
            UMF_RESULT_SUCCESS) { // checks on unless told (umf_proxy(7), MISUSE)
            r = px_je.set_checks(
                p, pc->je_checks_set ? (umf_jemalloc_pool_checks_t)pc->je_checks
                                     : UMF_JEMALLOC_POOL_CHECKS_ABORT);
        }
        if (r == UMF_RESULT_SUCCESS) {
            r = umfPoolCreate(px_je.ops(), prov, p, flags, &pool);
        }
        px_je.params_destroy(p);
#else
        umfMemoryProviderDestroy(prov);
        px_die("pool=jemalloc: this libumf_proxy was built without jemalloc",
               "rebuild with libjemalloc-dev installed, or choose pool="
               "disjoint|scalable|proxy");
#endif
        break;
    }
    case PX_POOL_PROXY:
        r = umfPoolCreate(umfProxyPoolOps(), prov, NULL, flags, &pool);
        break;
    case PX_POOL_HOST: {
        umf_host_pool_params_t p = {
            .name = "umf_proxy",
            .checks = pc->hp_checks_set
                          ? (umf_disjoint_pool_checks_t)pc->hp_checks
                          : UMF_DISJOINT_POOL_CHECKS_ABORT,
        };
        r = umfPoolCreate(umf_private_host_pool_ops(), prov, &p, flags, &pool);
        break;
    }
    default:
        break;
    }
    if (r != UMF_RESULT_SUCCESS || !pool) {
        char what[96];
        snprintf(what, sizeof(what), "pool=%s: cannot create the pool",
                 px_pool_name(kind));
        px_die(what, kind == PX_POOL_SCALABLE
                         ? "libtbbmalloc.so.2 not found or unusable "
                           "(apt-get install libtbbmalloc2)"
                         : px_result_str(r));
    }
    return pool;
}

static void px_make_heap(px_heap_t *heap, const px_pool_conf_t *pc,
                         const char *name, unsigned index) {
    px_pool_kind_t kind =
        pc->pool != PX_POOL_UNSET ? pc->pool : PX_POOL_DEFAULT;
    heap->kind = kind;
    umf_str_copy(heap->name, sizeof(heap->name), name);
    if (kind == PX_POOL_SYSTEM) {
        heap->pool = NULL;
        return;
    }
    umf_memory_provider_handle_t prov = px_make_provider(pc, name);
    // Asked of the OS provider itself (the stats wrapper declares nothing).
    heap->fresh_zero = umf_private_provider_zero_filled(prov);
    heap->private_fresh = heap->fresh_zero &&
                          pc->disposition == PX_PAGES_PRIVATE &&
                          !pc->file_dir[0];
    heap->direct_above = SIZE_MAX;
    if (kind == PX_POOL_DISJOINT) {
        // The disjoint pool sends every request above max_poolable (2 MiB
        // by default) to its provider, one allocation per block.
        heap->direct_above = pc->dj_max_poolable_size_set
                                 ? pc->dj_max_poolable_size
                                 : PX_DJ_MAX_POOLABLE_DEFAULT;
    } else if (kind == PX_POOL_PROXY) {
        heap->direct_above = 0;
    } else if (kind == PX_POOL_HOST) {
        // Its large blocks: a disjoint pool with default settings.
        heap->direct_above = PX_DJ_MAX_POOLABLE_DEFAULT;
    }
    if (px.stats) {
        prov = px_stats_wrap_provider(prov, index);
        if (!prov) {
            px_die("stats: cannot set up counting", NULL);
        }
    }
    heap->provider = prov;
    heap->pool = px_make_pool(kind, pc, prov);
    heap->native_calloc = kind == PX_POOL_JEMALLOC || kind == PX_POOL_SCALABLE;
    // Freed blocks above direct_above are kept for reuse where they are
    // private memory of our own engines (proxy.c, "Large-block cache").
    heap->lc_on = heap->private_fresh && heap->direct_above != SIZE_MAX &&
                  (kind == PX_POOL_HOST || kind == PX_POOL_DISJOINT);
    px.lc_any |= heap->lc_on;
    heap->checks =
        kind == PX_POOL_HOST       ? (pc->hp_checks_set ? pc->hp_checks : 0)
        : kind == PX_POOL_DISJOINT ? (pc->dj_checks_set ? pc->dj_checks : 0)
        : kind == PX_POOL_JEMALLOC ? (pc->je_checks_set ? pc->je_checks : 0)
        : kind == PX_POOL_SCALABLE ? (pc->sc_checks_set ? pc->sc_checks : 0)
                                   : 0;
    heap->native_realloc = heap->native_calloc;
    if (kind == PX_POOL_HOST) {
        heap->hp = umf_private_host_pool_of(heap->pool);
        px.host_any = true;
        px.pagemap_any = true;
        px.hp_class = umf_private_host_class_table();
        px.hp_segmap = umf_private_host_segmap();
    } else if (kind == PX_POOL_DISJOINT) {
        heap->dj = umf_private_disjoint_pool_of(heap->pool);
        px.pagemap_any |= heap->dj != NULL;
    }
}

// A shared-shm heap's name is removed right after it is created, so no
// name outlives its process; names left by earlier versions of the proxy
// (or by a process killed in that instant) are removed by the next proxy
// with a shared-shm heap when their process is gone.
// The directory is read with getdents64 into a stack buffer (opendir
// would allocate).
#define PX_SHM_PREFIX "umf_proxy_lib_shm_pid_"

struct px_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void px_shm_collect_stale(void) {
    int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    _Alignas(8) char buf[8192];
    size_t plen = strlen(PX_SHM_PREFIX);
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        for (long off = 0; off < n;) {
            struct px_dirent64 *d = (struct px_dirent64 *)(buf + off);
            off += d->d_reclen;
            if (strncmp(d->d_name, PX_SHM_PREFIX, plen) != 0) {
                continue;
            }
            char *end;
            long pid = strtol(d->d_name + plen, &end, 10);
            if (end == d->d_name + plen || pid <= 0 ||
                (*end != '\0' && *end != '_')) {
                continue;
            }
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                char name[300];
                snprintf(name, sizeof(name), "/%s", d->d_name);
                (void)shm_unlink(name);
            }
        }
    }
    close(fd);
}

// log= and log.file= take effect only when UMF_LOG is not set (it wins).
static bool px_log_wanted(const px_config_t *cfg) {
    return cfg->log_level[0] && !getenv("UMF_LOG");
}

// The rule for log.file and stats.file alike: a file is opened only when
// its output is on (log=LEVEL, stats=on), for appending, created 0644 if
// missing; one that cannot be opened stops the program before main.
static void px_out_file_die(const char *key, const char *path, int err) {
    char what[PX_PATH_MAX + 32];
    snprintf(what, sizeof(what), "%s %s: cannot open", key, path);
    px_die(what, strerror(err));
}

static void px_check_log_file(const px_config_t *cfg) {
    if (!px_log_wanted(cfg) || !cfg->log_file[0]) {
        return;
    }
    // The logger opens it again (the same flags) when it is configured.
    int fd =
        open(cfg->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        px_out_file_die("log.file", cfg->log_file, errno);
    }
    close(fd);
}

static void px_apply_log(const px_config_t *cfg) {
    if (!px_log_wanted(cfg)) {
        return;
    }
    char s[PX_PATH_MAX + 64];
    if (cfg->log_file[0]) {
        snprintf(s, sizeof(s), "level:%s;flush:%s;output:file,%s",
                 cfg->log_level, cfg->log_level, cfg->log_file);
    } else {
        snprintf(s, sizeof(s), "level:%s;flush:%s;output:stderr",
                 cfg->log_level, cfg->log_level);
    }
    umf_private_log_configure(s);
}

void px_setup(void) {
    px_sys_resolve();
    px_enter(); // allocations made while we set up go to the system

    const char *env = getenv("UMF_PROXY");
    const char *path = getenv("UMF_PROXY_CONFIG");
    bool required = path != NULL;
    if (!path) {
        path = PX_CONFIG_DEFAULT;
    }
    char err[512];
    if (px_config_load(&px_cfg, env, path, required,
                       program_invocation_short_name, err, sizeof(err)) != 0) {
        px_die_escaped(err); // px_config_load escapes what it echoes
    }
    px_check_log_file(&px_cfg);

    px.stats = px_cfg.stats;
    if (px.stats) {
        int oerr = px_stats_open(px_cfg.stats_file);
        if (oerr) {
            px_out_file_die("stats.file", px_cfg.stats_file, -oerr);
        }
    }
    px.threshold = px_cfg.size_threshold;
    bool shm = px_cfg.base.disposition == PX_PAGES_SHARED_SHM;
    for (size_t i = 0; i < px_cfg.ntiers; i++) {
        shm |= px_cfg.tiers[i].pc.disposition == PX_PAGES_SHARED_SHM;
    }
    if (shm) {
        px_shm_collect_stale();
    }

#ifdef HAVE_JEMALLOC_POOL
    // Before any heap exists: this may start the program again.
    bool je = px_cfg.base.pool == PX_POOL_JEMALLOC ||
              (px_cfg.base.pool == PX_POOL_UNSET &&
               PX_POOL_DEFAULT == PX_POOL_JEMALLOC);
    for (size_t i = 0; i < px_cfg.ntiers; i++) {
        je |= px_cfg.tiers[i].pc.pool == PX_POOL_JEMALLOC;
    }
    if (je) {
        px_je_load();
    }
#endif

    px_make_heap(&px.heaps[0], &px_cfg.base, "", 0);
    px.nheaps = 1;
    // Tiers sorted by their first size, so routing scans in order.
    size_t order[PX_MAX_TIERS] = {0};
    for (size_t i = 0; i < px_cfg.ntiers; i++) {
        size_t j = i;
        while (j > 0 && px_cfg.tiers[order[j - 1]].min > px_cfg.tiers[i].min) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t i = 0; i < px_cfg.ntiers; i++) {
        const px_tier_t *t = &px_cfg.tiers[order[i]];
        px_heap_t *heap = &px.heaps[px.nheaps];
        px_make_heap(heap, &t->pc, t->name, (unsigned)px.nheaps);
        heap->min = t->min;
        heap->max = t->max;
        px.nheaps++;
    }
    px.ntiers = px.nheaps - 1;
    px.sys_rare = px.threshold == 0;
    for (size_t i = 0; i < px.nheaps; i++) {
        px.sys_rare &= px.heaps[i].pool != NULL; // a tier of pool=system
    }
    // Logging starts once the heaps exist: a set-up error above is the
    // proxy's one line, never also a line of the library's log.
    px_apply_log(&px_cfg);
    px_epoch = umf_private_tracker_epoch();
    // From here on, pool memory may be freed at any moment of exit: libumf
    // keeps its tracker published for good.
    umf_private_proxy_present();
    if (px.heaps[0].hp && px.ntiers == 0 && px.threshold == 0 && !px.stats) {
        umf_private_host_set_exit_hook(px_hp_exit);
        px.host_fast = true;
    }
    px_leave();
    atomic_store_explicit(&px.ready, 1, memory_order_release);
}

__attribute__((constructor)) static void px_ctor(void) {
    px_setup();
}

__attribute__((destructor)) static void px_dtor(void) {
    // Pools stay: later destructors may still free their memory. (Shm
    // names were removed as soon as their heaps existed.)
    if (px.stats) {
        px_stats_report();
    }
}
