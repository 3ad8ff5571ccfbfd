/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * jemalloc_paths.c - what each layer of the jemalloc pool costs, one mode
 * per run, N malloc+free pairs of 8-256 B on a ring of 1,000 live blocks:
 *
 *   flags0   jemalloc's mallocx/dallocx with no flags (its thread cache
 *            and automatic arena: the raw engine of pool_bench)
 *   arena    mallocx/dallocx with an explicit arena and thread cache, as
 *            a pool must call them (its memory comes from its arena)
 *   pool     umfPoolMalloc/umfPoolFree on a jemalloc pool (OS provider)
 *
 *   ./bench/jemalloc_paths MODE [PAIRS]   (default 20,000,000)
 *
 * Prints ns per pair. Under valgrind --tool=callgrind, the instruction
 * count divided by PAIRS is the cost per pair (set-up is a few hundred
 * thousand instructions: use PAIRS of 200,000 or more).
 */

#include <jemalloc/jemalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/providers/provider_os_memory.h>

#define RING 1000

static int mode; // 0 flags0, 1 arena, 2 pool
static int aflags, fflags;
static umf_memory_pool_handle_t pool;

static void *alloc(size_t n) {
    return mode == 2 ? umfPoolMalloc(pool, n) : mallocx(n, aflags);
}

static void release(void *p) {
    if (mode == 2) {
        (void)umfPoolFree(pool, p);
    } else {
        dallocx(p, fflags);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    static const char *const names[] = {"flags0", "arena", "pool"};
    mode = -1;
    for (int i = 0; argc > 1 && i < 3; i++) {
        if (strcmp(argv[1], names[i]) == 0) {
            mode = i;
        }
    }
    char *end = NULL;
    long pairs = argc > 2 ? strtol(argv[2], &end, 10) : 20000000;
    if (mode < 0 || argc > 3 || (end && *end) || pairs < 1) {
        fprintf(stderr, "usage: jemalloc_paths flags0|arena|pool [PAIRS]\n");
        return 2;
    }
    if (mode == 1) {
        unsigned arena, tc;
        size_t sz = sizeof(unsigned);
        if (mallctl("arenas.create", &arena, &sz, NULL, 0) != 0 ||
            mallctl("tcache.create", &tc, &sz, NULL, 0) != 0) {
            fprintf(stderr, "jemalloc_paths: mallctl failed\n");
            return 1;
        }
        aflags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tc);
        fflags = MALLOCX_TCACHE(tc);
    } else if (mode == 2) {
        umf_os_memory_provider_params_handle_t pp = NULL;
        umf_memory_provider_handle_t prov = NULL;
        if (umfOsMemoryProviderParamsCreate(&pp) != UMF_RESULT_SUCCESS ||
            umfMemoryProviderCreate(umfOsMemoryProviderOps(), pp, &prov) !=
                UMF_RESULT_SUCCESS ||
            umfPoolCreate(umfJemallocPoolOps(), prov, NULL,
                          UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                          &pool) != UMF_RESULT_SUCCESS) {
            fprintf(stderr, "jemalloc_paths: no jemalloc pool\n");
            return 1;
        }
        umfOsMemoryProviderParamsDestroy(pp);
    }
    void *ring[RING];
    for (int i = 0; i < RING; i++) {
        ring[i] = alloc(16);
    }
    unsigned s = 12345;
    double t0 = now();
    for (long i = 0; i < pairs; i++) {
        int k = (int)(i % RING);
        release(ring[k]);
        s = s * 1103515245u + 12345u;
        ring[k] = alloc(8 + (s >> 16) % 249);
        if (!ring[k]) {
            fprintf(stderr, "jemalloc_paths: allocation failed\n");
            return 1;
        }
    }
    double t = now() - t0;
    for (int i = 0; i < RING; i++) {
        release(ring[i]);
    }
    printf("%s: %.1f ns per pair\n", names[mode], t / (double)pairs * 1e9);
    if (pool) {
        umfPoolDestroy(pool);
    }
    return 0;
}
