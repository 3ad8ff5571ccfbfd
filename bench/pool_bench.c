/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_bench.c - malloc/free throughput of each pool on the OS provider,
 * side by side with the raw engines in one run:
 *   glibc      malloc/free (called as __libc_malloc/__libc_free, so no
 *              other malloc in the process can stand in for it)
 *   jemalloc   mallocx/dallocx with jemalloc's normal thread cache
 *   tbbmalloc  scalable_malloc/scalable_free (dlopen'ed)
 *   tbbmalloc pool  rml::pool_malloc/pool_free on a pool of mmap'ed
 *              regions: the API the scalable pool calls, its raw engine
 *   jemalloc arena  mallocx/dallocx on an arena of its own with an
 *              explicit thread cache per thread: the calls the jemalloc
 *              pool makes, its raw engine
 *   disjoint, scalable, jemalloc pools through umfPoolMalloc/umfPoolFree
 *   disjoint-unchecked: the disjoint pool with its misuse checks off
 *   host, host-unchecked: the host engine (the proxy's default pool),
 *              with and without its misuse checks
 *
 * Workload per thread: a ring of live blocks; each step frees the oldest
 * and allocates a new one of a pre-drawn random size. Sizes: small 8-256 B
 * (ring 1,000), medium 257 B-64 KiB (ring 200), large 64 KiB-1 MiB (ring
 * 16). Threads 1, 2, 4 (each its own ring). Each cell is run REPS times and
 * the median of ns per malloc+free pair (wall time x threads / pairs) is
 * printed, with the ratio to the pool's raw engine (disjoint -> glibc,
 * scalable -> tbbmalloc pool, jemalloc pool -> jemalloc arena) and the speed-up from 1 to
 * 2 threads (total pairs/s).
 *
 * Usage: ./bench/pool_bench [seconds-per-cell]   (default 0.25)
 * POOL_BENCH_ONLY=glibc,disjoint (names, comma-separated) runs a subset
 * of the engines, POOL_BENCH_SIZES=small,medium a subset of the sizes.
 */

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_disjoint_ext.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_os_memory.h>

#include "pools/pool_host.h"
#include "pools/pool_scalable_tbb.h"
#ifdef HAVE_JEMALLOC_POOL
#include <jemalloc/jemalloc.h>
#include <umf/pools/pool_jemalloc.h>
#endif

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

#define REPS        5
#define MAX_THREADS 4
#define NSIZES      4096

#define MAX_ENGINES 16 // rows of engines[] and of each size class's ns[]

typedef struct engine_t {
    const char *name;
    const char *raw; // raw engine to compare with, or NULL
    void *(*alloc)(void *ctx, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
    int available;
} engine_t;

// --- engines ---

static void *glibc_alloc(void *ctx, size_t size) {
    (void)ctx;
    return __libc_malloc(size);
}
static void glibc_free(void *ctx, void *ptr) {
    (void)ctx;
    __libc_free(ptr);
}

#ifdef HAVE_JEMALLOC_POOL
static void *je_alloc(void *ctx, size_t size) {
    (void)ctx;
    return mallocx(size, 0);
}
static void je_free(void *ctx, void *ptr) {
    (void)ctx;
    dallocx(ptr, 0);
}

// An arena of its own and one explicit thread cache per thread, as the
// jemalloc pool calls them (its extent hooks aside).
static unsigned je_arena;
static _Thread_local int je_tc = -1;
static int je_tcache(void) {
    if (je_tc < 0) {
        unsigned tc;
        size_t sz = sizeof(tc);
        if (mallctl("tcache.create", &tc, &sz, NULL, 0) != 0) {
            fprintf(stderr, "jemalloc arena: tcache.create failed\n");
            exit(1);
        }
        je_tc = (int)tc;
    }
    return je_tc;
}
static void *je_arena_alloc(void *ctx, size_t size) {
    (void)ctx;
    return mallocx(size, MALLOCX_ARENA(je_arena) | MALLOCX_TCACHE(je_tcache()));
}
static void je_arena_free(void *ctx, void *ptr) {
    (void)ctx;
    dallocx(ptr, MALLOCX_TCACHE(je_tcache()));
}
static int je_arena_make(void) {
    size_t sz = sizeof(je_arena);
    return mallctl("arenas.create", &je_arena, &sz, NULL, 0) == 0;
}
#endif

static void *(*tbb_malloc)(size_t);
static void (*tbb_free)(void *);
static void *tbb_alloc_fn(void *ctx, size_t size) {
    (void)ctx;
    return tbb_malloc(size);
}
static void tbb_free_fn(void *ctx, void *ptr) {
    (void)ctx;
    tbb_free(ptr);
}

// tbbmalloc's pool API (dlsym'ed), on regions from mmap.
static int (*tbbp_create)(intptr_t, const tbb_policy_t *, tbb_pool_t **);
static void *(*tbbp_malloc)(tbb_pool_t *, size_t);
static bool (*tbbp_free)(tbb_pool_t *, void *);
static tbb_pool_t *tbbp_pool;
static void *tbbp_raw_alloc(intptr_t id, size_t *bytes) {
    (void)id;
    void *p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static int tbbp_raw_free(intptr_t id, void *p, size_t bytes) {
    (void)id;
    return munmap(p, bytes);
}
static void *tbbp_alloc(void *ctx, size_t size) {
    (void)ctx;
    return tbbp_malloc(tbbp_pool, size);
}
static void tbbp_free_fn(void *ctx, void *ptr) {
    (void)ctx;
    (void)tbbp_free(tbbp_pool, ptr);
}
static int tbbp_make(void *tbb) {
    if (!tbb) {
        return 0;
    }
    tbbp_create = (int (*)(intptr_t, const tbb_policy_t *, tbb_pool_t **))dlsym(
        tbb, TBB_SYM_POOL_CREATE_V1);
    tbbp_malloc =
        (void *(*)(tbb_pool_t *, size_t))dlsym(tbb, TBB_SYM_POOL_MALLOC);
    tbbp_free = (bool (*)(tbb_pool_t *, void *))dlsym(tbb, TBB_SYM_POOL_FREE);
    if (!tbbp_create || !tbbp_malloc || !tbbp_free) {
        return 0;
    }
    tbb_policy_t policy = {.raw_alloc = tbbp_raw_alloc,
                           .raw_free = tbbp_raw_free,
                           .granularity = (size_t)2 << 20, // as our pool's
                           .version = TBB_POLICY_VERSION};
    return tbbp_create(1, &policy, &tbbp_pool) == TBB_POOL_OK && tbbp_pool;
}

static void *pool_alloc(void *ctx, size_t size) {
    return umfPoolMalloc(ctx, size);
}
static void pool_free(void *ctx, void *ptr) {
    umfPoolFree(ctx, ptr);
}

static umf_memory_pool_handle_t make_pool_params(umf_memory_pool_ops_t *ops,
                                                 void *params) {
    umf_os_memory_provider_params_handle_t p;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    if (umfOsMemoryProviderParamsCreate(&p) ||
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &prov)) {
        return NULL;
    }
    umfOsMemoryProviderParamsDestroy(p);
    if (umfPoolCreate(ops, prov, params, UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                      &pool)) {
        umfMemoryProviderDestroy(prov);
        return NULL;
    }
    return pool;
}

static umf_memory_pool_handle_t make_pool(umf_memory_pool_ops_t *ops) {
    return make_pool_params(ops, NULL);
}

// The disjoint pool without its misuse checks (the cost of the checks is
// the difference to "disjoint").
static umf_memory_pool_handle_t make_disjoint_unchecked(void) {
    umf_disjoint_pool_params_handle_t p;
    if (umfDisjointPoolParamsCreate(&p) ||
        umfDisjointPoolParamsSetChecks(p, UMF_DISJOINT_POOL_CHECKS_OFF)) {
        return NULL;
    }
    umf_memory_pool_handle_t pool = make_pool_params(umfDisjointPoolOps(), p);
    umfDisjointPoolParamsDestroy(p);
    return pool;
}

static umf_memory_pool_handle_t make_host(bool checks) {
    umf_host_pool_params_t p = {
        .name = "host",
        .checks = checks ? UMF_DISJOINT_POOL_CHECKS_ABORT
                         : UMF_DISJOINT_POOL_CHECKS_OFF,
    };
    return make_pool_params(umf_private_host_pool_ops(), &p);
}

// --- workload ---

typedef struct size_class_t {
    const char *name;
    size_t lo, hi;
    int ring;
} size_class_t;

static const size_class_t classes[] = {
    {"small", 8, 256, 1000},
    {"medium", 257, 65536, 200},
    {"large", 65537, 1 << 20, 16},
};

typedef struct worker_t {
    const engine_t *e;
    const size_class_t *sc;
    double seconds;
    unsigned seed;
    uint64_t pairs;
    pthread_barrier_t *start;
} worker_t;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker(void *arg) {
    worker_t *w = arg;
    size_t *sizes = __libc_malloc(NSIZES * sizeof(size_t));
    void **ring = __libc_malloc((size_t)w->sc->ring * sizeof(void *));
    uint64_t s = 0x9e3779b97f4a7c15ULL * (w->seed + 1);
    for (int i = 0; i < NSIZES; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        sizes[i] = w->sc->lo + s % (w->sc->hi - w->sc->lo + 1);
    }
    for (int i = 0; i < w->sc->ring; i++) {
        ring[i] = w->e->alloc(w->e->ctx, sizes[i]);
    }
    pthread_barrier_wait(w->start);
    double end = now() + w->seconds;
    uint64_t pairs = 0;
    int slot = 0, k = 0;
    while (now() < end) {
        for (int batch = 0; batch < 256; batch++) {
            w->e->free(w->e->ctx, ring[slot]);
            ring[slot] = w->e->alloc(w->e->ctx, sizes[k]);
            if (!ring[slot]) {
                fprintf(stderr, "%s: allocation of %zu failed\n", w->e->name,
                        sizes[k]);
                exit(1);
            }
            if (++slot == w->sc->ring) {
                slot = 0;
            }
            k = (k + 1) & (NSIZES - 1);
        }
        pairs += 256;
    }
    for (int i = 0; i < w->sc->ring; i++) {
        w->e->free(w->e->ctx, ring[i]);
    }
    w->pairs = pairs;
    __libc_free(ring);
    __libc_free(sizes);
    return NULL;
}

// Total pairs per second with n threads.
static double run_cell(const engine_t *e, const size_class_t *sc, int n,
                       double seconds) {
    pthread_t th[MAX_THREADS];
    worker_t w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        w[i] = (worker_t){e, sc, seconds, (unsigned)i, 0, &start};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    uint64_t pairs = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        pairs += w[i].pairs;
    }
    double dt = now() - t0;
    pthread_barrier_destroy(&start);
    return (double)pairs / dt;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    double seconds = 0.25;
    if (argc > 1) {
        char *end;
        seconds = strtod(argv[1], &end);
        if (argc > 2 || *end || end == argv[1] || !(seconds > 0) ||
            seconds > 60) {
            fprintf(stderr, "usage: pool_bench [seconds-per-cell] (0 to 60, "
                            "default 0.25)\n");
            return 2;
        }
    }
    engine_t engines[MAX_ENGINES];
    int ne = 0;
    engines[ne++] = (engine_t){"glibc", NULL, glibc_alloc, glibc_free, NULL, 1};
#ifdef HAVE_JEMALLOC_POOL
    engines[ne++] = (engine_t){"jemalloc", NULL, je_alloc, je_free, NULL, 1};
#endif
    void *tbb = dlopen("libtbbmalloc.so.2", RTLD_NOW | RTLD_NODELETE);
    if (tbb) {
        tbb_malloc = (void *(*)(size_t))dlsym(tbb, "scalable_malloc");
        tbb_free = (void (*)(void *))dlsym(tbb, "scalable_free");
    }
    engines[ne++] = (engine_t){"tbbmalloc", NULL, tbb_alloc_fn,
                               tbb_free_fn, NULL, tbb_malloc && tbb_free};
    engines[ne++] = (engine_t){"tbbmalloc pool", NULL, tbbp_alloc,
                               tbbp_free_fn,     NULL, tbbp_make(tbb)};
#ifdef HAVE_JEMALLOC_POOL
    engines[ne++] = (engine_t){"jemalloc arena", NULL, je_arena_alloc,
                               je_arena_free,    NULL, je_arena_make()};
#endif
    engines[ne++] = (engine_t){"disjoint",
                               "glibc",
                               pool_alloc,
                               pool_free,
                               make_pool(umfDisjointPoolOps()),
                               1};
    engines[ne++] =
        (engine_t){"disjoint-unchecked",      "glibc", pool_alloc, pool_free,
                   make_disjoint_unchecked(), 1};
    engines[ne++] =
        (engine_t){"host", "glibc", pool_alloc, pool_free, make_host(true), 1};
    engines[ne++] = (engine_t){"host-unchecked", "glibc",          pool_alloc,
                               pool_free,        make_host(false), 1};
    engines[ne++] = (engine_t){"scalable",
                               "tbbmalloc pool",
                               pool_alloc,
                               pool_free,
                               make_pool(umfScalablePoolOps()),
                               1};
#ifdef HAVE_JEMALLOC_POOL
    engines[ne++] = (engine_t){"jemalloc pool",
                               "jemalloc arena",
                               pool_alloc,
                               pool_free,
                               make_pool(umfJemallocPoolOps()),
                               1};
#endif
    const char *only = getenv("POOL_BENCH_ONLY");
    for (int i = 0; i < ne; i++) {
        if (engines[i].raw && !engines[i].ctx) {
            engines[i].available = 0;
        }
        if (only) {
            char pat[64];
            snprintf(pat, sizeof(pat), ",%s,", engines[i].name);
            char list[512];
            snprintf(list, sizeof(list), ",%s,", only);
            if (!strstr(list, pat)) {
                engines[i].available = 0;
                continue;
            }
        }
        if (!engines[i].available) {
            printf("# %s: not available on this machine, skipped\n",
                   engines[i].name);
        }
    }

    const int threads[] = {1, 2, 4};
    printf("# ns per malloc+free pair (median of %d runs of %.2f s; lower is "
           "better); x = ratio to the raw engine; 1->2 = speed-up of total "
           "throughput from 1 to 2 threads\n",
           REPS, seconds);
    const char *only_sizes = getenv("POOL_BENCH_SIZES");
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        if (only_sizes) {
            char pat[64], list[512];
            snprintf(pat, sizeof(pat), ",%s,", classes[c].name);
            snprintf(list, sizeof(list), ",%s,", only_sizes);
            if (!strstr(list, pat)) {
                continue;
            }
        }
        printf("\n%-7s %-14s %9s %9s %9s %7s %7s %7s %6s\n", classes[c].name,
               "engine", "1 thr", "2 thr", "4 thr", "x(1)", "x(2)", "x(4)",
               "1->2");
        double ns[MAX_ENGINES][3] = {{0}}; // one row per engine
        for (int e = 0; e < ne; e++) {
            if (!engines[e].available) {
                continue;
            }
            double rate[3];
            for (int t = 0; t < 3; t++) {
                double r[REPS];
                for (int k = 0; k < REPS; k++) {
                    r[k] =
                        run_cell(&engines[e], &classes[c], threads[t], seconds);
                }
                qsort(r, REPS, sizeof(double), cmp_double);
                rate[t] = r[REPS / 2];
                // Per-thread cost: threads x wall time / pairs.
                ns[e][t] = 1e9 * threads[t] / rate[t];
            }
            printf("%-7s %-14s %9.1f %9.1f %9.1f", "", engines[e].name,
                   ns[e][0], ns[e][1], ns[e][2]);
            int raw = -1;
            for (int j = 0; engines[e].raw && j < ne; j++) {
                if (strcmp(engines[j].name, engines[e].raw) == 0 &&
                    engines[j].available) {
                    raw = j;
                }
            }
            for (int t = 0; t < 3; t++) {
                if (raw >= 0) {
                    printf(" %6.2fx", ns[e][t] / ns[raw][t]);
                } else {
                    printf(" %7s", "-");
                }
            }
            printf(" %5.2fx\n", rate[1] / rate[0]);
        }
    }
    for (int e = 0; e < ne; e++) {
        if (engines[e].raw && engines[e].ctx) {
            umfPoolDestroy(engines[e].ctx);
        }
    }
    return 0;
}
