/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umfrun.c - run a program under libumf_proxy.so.
 *
 *   umfrun [options] [--] program [args...]
 *   umfrun --show [options] [program]
 *
 * Options become items of UMF_PROXY, appended to the string the
 * environment already has (later items win, so options win); -c names the
 * config file (UMF_PROXY_CONFIG). The result is checked with the proxy's
 * own parser, so a mistake is reported here, with the proxy's message,
 * before anything runs. Then LD_PRELOAD gets the proxy in front of the
 * entries it already has, and umfrun execs the program.
 *
 * --show prints what the proxy would do for that program: the effective
 * configuration, the pools this machine can create, the NUMA nodes, the
 * predefined memspaces and the transparent huge page settings.
 *
 * Exit status: the program's (umfrun execs it); 1 for a bad option or
 * configuration, 126 when the program cannot be executed, 127 when it is
 * not found, as env(1) does.
 *
 * umfrun is an ordinary program, not part of the libraries: it uses stdio
 * and setenv (DESIGN.md's invariant 1 is about libumf and the proxy
 * library, whose symbols tests/test_symbols.sh checks).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umf/memspace.h>
#include <umf/memtarget.h>

#include "proxy_config.h"

#ifndef UMFRUN_PROXY_LIBDIR
#define UMFRUN_PROXY_LIBDIR "/usr/local/lib"
#endif
#define UMFRUN_PROXY_SONAME "libumf_proxy.so.0"
#define UMFRUN_ENV_MAX      ((size_t)16 << 10)

static char env_proxy[UMFRUN_ENV_MAX];   // UMF_PROXY
static char env_preload[UMFRUN_ENV_MAX]; // LD_PRELOAD
static char proxy_path[PX_PATH_MAX];
static px_config_t cfg;

static void usage(FILE *f) {
    fputs(
        "usage: umfrun [options] [--] program [args...]\n"
        "       umfrun --show [options] [program]\n"
        "Run a program with its malloc served by a UMF pool "
        "(LD_PRELOAD=libumf_proxy.so).\n"
        "\n"
        "  -p, --pool NAME         pool: host (default), jemalloc, scalable,\n"
        "                          disjoint, proxy\n"
        "  -n, --numa-nodes LIST   NUMA nodes of the heap: all, or ids such "
        "as 0,2-3\n"
        "  -m, --numa-mode MODE    bind, interleave, preferred, split, local, "
        "default\n"
        "      --part-size SIZE    interleave in parts of SIZE bytes\n"
        "  -M, --memspace NAME     host_all, highest_capacity, "
        "highest_bandwidth,\n"
        "                          lowest_latency\n"
        "  -t, --threshold SIZE    requests below SIZE to the system "
        "allocator\n"
        "  -d, --disposition D     private, shared-shm, shared-fd\n"
        "      --thp on|off        transparent huge pages for the heap\n"
        "  -s, --stats             print the pool's statistics at exit\n"
        "      --stats-file PATH   ... to PATH instead of stderr\n"
        "  -c, --config FILE       read the configuration file FILE\n"
        "  -o, --set KEY=VALUE     any other key of umf_proxy.conf(5); "
        "repeatable\n"
        "      --proxy PATH        the proxy library "
        "(default: " UMFRUN_PROXY_LIBDIR "/" UMFRUN_PROXY_SONAME ")\n"
        "      --show              print the effective configuration, the "
        "pools,\n"
        "                          NUMA nodes and memspaces; run nothing\n"
        "  -h, --help              this text\n"
        "  -V, --version           umfrun's version\n"
        "\n"
        "Options are appended to UMF_PROXY (they win over its items and "
        "the file's).\n"
        "See umfrun(1), umf_proxy(7) and umf_proxy.conf(5).\n",
        f);
}

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt,
                                                                ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("umfrun: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

// Appends "key=value" to UMF_PROXY, ';'-separated.
static void add_item(const char *key, const char *value) {
    size_t n = strlen(env_proxy);
    int r = snprintf(env_proxy + n, sizeof(env_proxy) - n, "%s%s%s%s",
                     n ? ";" : "", key, value ? "=" : "", value ? value : "");
    if (r < 0 || (size_t)r >= sizeof(env_proxy) - n) {
        die("the settings are longer than %zu bytes", sizeof(env_proxy) - 1);
    }
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void find_proxy(const char *opt) {
    const char *p = opt ? opt : getenv("UMFRUN_PROXY");
    if (p && *p) {
        if (access(p, R_OK) != 0) {
            die("proxy library %s: %s", p, strerror(errno));
        }
        snprintf(proxy_path, sizeof(proxy_path), "%s", p);
        return;
    }
    snprintf(proxy_path, sizeof(proxy_path), "%s/%s", UMFRUN_PROXY_LIBDIR,
             UMFRUN_PROXY_SONAME);
    if (access(proxy_path, R_OK) != 0) {
        // Not installed there: let the dynamic linker search for it.
        snprintf(proxy_path, sizeof(proxy_path), "%s", UMFRUN_PROXY_SONAME);
    }
}

// A sanitizer build (configure --enable-asan/--enable-tsan) links the
// proxy to the sanitizer's runtime, which must come first in LD_PRELOAD:
// umfrun, built the same way, finds the runtime it runs with.
static int find_san_runtime(struct dl_phdr_info *info, size_t size,
                            void *data) {
    (void)size;
    const char *name = info->dlpi_name;
    if (name && (strstr(name, "/libasan.so") || strstr(name, "/libtsan.so"))) {
        snprintf(data, PATH_MAX, "%s", name);
        return 1;
    }
    return 0;
}

// LD_PRELOAD = the proxy (after a sanitizer runtime, in sanitizer builds),
// then the entries already there (without another copy of the proxy).
static void set_preload(void) {
    const char *old = getenv("LD_PRELOAD");
    char san[PATH_MAX] = "";
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    (void)dl_iterate_phdr(find_san_runtime, san);
#else
    (void)find_san_runtime;
#endif
    size_t n = (size_t)snprintf(env_preload, sizeof(env_preload), "%s%s%s", san,
                                san[0] ? " " : "", proxy_path);
    const char *s = old ? old : "";
    while (*s) {
        size_t len = strcspn(s, " :");
        bool is_proxy = len >= strlen("libumf_proxy.so") &&
                        strstr(s, "libumf_proxy.so") &&
                        strstr(s, "libumf_proxy.so") < s + len;
        bool is_san = san[0] && len == strlen(san) && !strncmp(s, san, len);
        if (len && !is_proxy && !is_san) {
            int r = snprintf(env_preload + n, sizeof(env_preload) - n, " %.*s",
                             (int)len, s);
            if (r < 0 || (size_t)r >= sizeof(env_preload) - n) {
                die("LD_PRELOAD is longer than %zu bytes",
                    sizeof(env_preload) - 1);
            }
            n += (size_t)r;
        }
        s += len;
        s += strspn(s, " :");
    }
    // A heap with the jemalloc pool: its library beside the proxy is
    // preloaded too (the proxy would otherwise start the program again
    // with it, since it cannot be dlopen'ed: static TLS).
    bool je = cfg.base.pool == PX_POOL_JEMALLOC;
    for (size_t i = 0; i < cfg.ntiers; i++) {
        je |= cfg.tiers[i].pc.pool == PX_POOL_JEMALLOC;
    }
    const char *slash = strrchr(proxy_path, '/');
    if (je && slash && !strstr(env_preload, "libjemalloc_pool.so")) {
        int r = snprintf(env_preload + n, sizeof(env_preload) - n,
                         " %.*s/libjemalloc_pool.so.0",
                         (int)(slash - proxy_path), proxy_path);
        if (r < 0 || (size_t)r >= sizeof(env_preload) - n) {
            die("LD_PRELOAD is longer than %zu bytes", sizeof(env_preload) - 1);
        }
    }
    if (setenv("LD_PRELOAD", env_preload, 1) != 0) {
        die("cannot set LD_PRELOAD: %s", strerror(errno));
    }
}

// --- --show ---

static void show_pools(void) {
    printf("\npools on this machine:\n");
    printf("  host       available (part of libumf)\n");
    printf("  disjoint   available (part of libumf)\n");
    printf("  proxy      available (part of libumf)\n");
#ifdef HAVE_JEMALLOC_POOL
    printf("  jemalloc   available (libjemalloc_pool)\n");
#else
    printf("  jemalloc   not available: umf was built without jemalloc "
           "(install libjemalloc-dev and rebuild)\n");
#endif
    const char *tbb = getenv("UMF_TBBMALLOC_LIB");
    if (!tbb || !*tbb) {
        tbb = "libtbbmalloc.so.2";
    }
    void *h = dlopen(tbb, RTLD_NOW | RTLD_LOCAL);
    if (h && dlsym(h, "_ZN3rml14pool_create_v1ElPKNS_13MemPoolPolicyEPPNS_"
                      "10MemoryPoolE")) {
        printf("  scalable   available (%s)\n", tbb);
    } else {
        printf("  scalable   not available: %s not found or not tbbmalloc "
               "(apt-get install libtbbmalloc2)\n",
               tbb);
    }
    if (h) {
        dlclose(h);
    }
    printf("  default    %s\n", px_pool_name(PX_POOL_DEFAULT));
}

static unsigned long long node_mem_kib(unsigned node) {
    char path[96], buf[4096];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/meminfo",
             node);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    const char *t = strstr(buf, "MemTotal:");
    return t ? strtoull(t + strlen("MemTotal:"), NULL, 10) : 0;
}

static void show_nodes(void) {
    char buf[512];
    int fd = open("/sys/devices/system/node/online", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    printf("\nNUMA nodes:");
    if (n <= 0) {
        printf(" unknown (/sys/devices/system/node/online unreadable)\n");
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf(" %s\n", buf);
    char *s = buf;
    while (*s) {
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
        for (unsigned long i = lo; i <= hi; i++) {
            printf("  node %lu   %llu MiB\n", i,
                   node_mem_kib((unsigned)i) >> 10);
        }
        if (*s == ',') {
            s++;
        }
    }
}

static void show_memspace(const char *name, umf_const_memspace_handle_t ms,
                          const char *why_null) {
    printf("  %-18s ", name);
    if (!ms) {
        printf("not available (%s)\n", why_null);
        return;
    }
    size_t n = umfMemspaceMemtargetNum(ms);
    printf("nodes");
    for (size_t i = 0; i < n; i++) {
        umf_const_memtarget_handle_t t =
            umfMemspaceMemtargetGet(ms, (unsigned)i);
        unsigned id = 0;
        if (t && umfMemtargetGetId(t, &id) == UMF_RESULT_SUCCESS) {
            printf(" %u", id);
        }
    }
    printf("\n");
}

static void show_memspaces(void) {
    printf("\nmemspaces (memspace=NAME):\n");
    show_memspace("host_all", umfMemspaceHostAllGet(), "no hwloc topology");
    show_memspace("highest_capacity", umfMemspaceHighestCapacityGet(),
                  "no hwloc topology");
    show_memspace("highest_bandwidth", umfMemspaceHighestBandwidthGet(),
                  "the platform reports no memory bandwidth (no HMAT)");
    show_memspace("lowest_latency", umfMemspaceLowestLatencyGet(),
                  "the platform reports no memory latency (no HMAT)");
}

static void show_thp_file(const char *label, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n <= 0) {
        printf("  %-14s not supported by this kernel\n", label);
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf("  %-14s %s\n", label, buf);
}

static void show(const char *prog) {
    printf("umf_proxy configuration for %s\n", prog ? prog : "any program");
    printf("  UMF_PROXY=%s\n", env_proxy);
    printf("  proxy library: %s\n", proxy_path);
    printf("\neffective settings (key=value):\n");
    fflush(stdout);
    px_config_print(&cfg, STDOUT_FILENO);
    show_pools();
    show_nodes();
    show_memspaces();
    printf("\ntransparent huge pages (thp=on|off):\n");
    show_thp_file("enabled", "/sys/kernel/mm/transparent_hugepage/enabled");
    show_thp_file("shmem_enabled",
                  "/sys/kernel/mm/transparent_hugepage/shmem_enabled");
}

// --- main ---

enum {
    OPT_PART_SIZE = 256,
    OPT_THP,
    OPT_STATS_FILE,
    OPT_PROXY,
    OPT_SHOW,
};

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"pool", required_argument, NULL, 'p'},
        {"numa-nodes", required_argument, NULL, 'n'},
        {"numa-mode", required_argument, NULL, 'm'},
        {"part-size", required_argument, NULL, OPT_PART_SIZE},
        {"memspace", required_argument, NULL, 'M'},
        {"threshold", required_argument, NULL, 't'},
        {"disposition", required_argument, NULL, 'd'},
        {"thp", required_argument, NULL, OPT_THP},
        {"stats", no_argument, NULL, 's'},
        {"stats-file", required_argument, NULL, OPT_STATS_FILE},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 'o'},
        {"proxy", required_argument, NULL, OPT_PROXY},
        {"show", no_argument, NULL, OPT_SHOW},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("UMF_PROXY");
    if (env && strlen(env) >= sizeof(env_proxy)) {
        die("UMF_PROXY is longer than %zu bytes", sizeof(env_proxy) - 1);
    }
    snprintf(env_proxy, sizeof(env_proxy), "%s", env ? env : "");
    const char *config = NULL, *proxy_opt = NULL;
    bool show_only = false;
    int c;
    // '+': options end at the program's name.
    while ((c = getopt_long(argc, argv, "+p:n:m:M:t:d:sc:o:hV", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'p':
            add_item("pool", optarg);
            break;
        case 'n':
            add_item("numa.nodes", optarg);
            break;
        case 'm':
            add_item("numa.mode", optarg);
            break;
        case OPT_PART_SIZE:
            add_item("numa.part_size", optarg);
            break;
        case 'M':
            add_item("memspace", optarg);
            break;
        case 't':
            add_item("size.threshold", optarg);
            break;
        case 'd':
            add_item("page.disposition", optarg);
            break;
        case OPT_THP:
            add_item("thp", optarg);
            break;
        case 's':
            add_item("stats", "1");
            break;
        case OPT_STATS_FILE:
            add_item("stats", "1");
            add_item("stats.file", optarg);
            break;
        case 'c':
            config = optarg;
            break;
        case 'o':
            if (!strchr(optarg, '=')) {
                die("--set %s: expected KEY=VALUE", optarg);
            }
            add_item(optarg, NULL);
            break;
        case OPT_PROXY:
            proxy_opt = optarg;
            break;
        case OPT_SHOW:
            show_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("umfrun (umf) %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    const char *prog = optind < argc ? argv[optind] : NULL;
    if (!prog && !show_only) {
        fputs("umfrun: no program given\n", stderr);
        usage(stderr);
        return 1;
    }

    // The configuration the proxy will read, checked by its own parser.
    const char *path = config ? config : getenv("UMF_PROXY_CONFIG");
    bool required = path != NULL;
    if (!path) {
        path = PX_CONFIG_DEFAULT;
    }
    char err[512];
    if (px_config_load(&cfg, env_proxy, path, required,
                       prog ? base_name(prog) : NULL, err, sizeof(err)) != 0) {
        die("%s", err);
    }
    find_proxy(proxy_opt);
    if (show_only) {
        show(prog ? base_name(prog) : NULL);
        return 0;
    }

    if (setenv("UMF_PROXY", env_proxy, 1) != 0 ||
        (config && setenv("UMF_PROXY_CONFIG", config, 1) != 0)) {
        die("cannot set the environment: %s", strerror(errno));
    }
    set_preload();
    execvp(prog, argv + optind);
    int e = errno;
    fprintf(stderr, "umfrun: cannot run %s: %s\n", prog, strerror(e));
    return e == ENOENT ? 127 : 126;
}
