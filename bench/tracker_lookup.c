/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * tracker_lookup.c - umfPoolByPtr throughput with 1, 1,000 and 1,000,000
 * registered chunks. A constant-time lookup (DESIGN.md invariant 2) gives a
 * flat line; a search tree would slow down by the log of the count.
 *
 * The chunks come from a user-written provider that hands out 4 KiB slices
 * of one PROT_NONE reservation (never touched), under a proxy pool, so
 * registering a million chunks costs address space, not memory. Lookups
 * hit random interior addresses. Three columns per count:
 *   all      - random chunks among all registered: the working set grows
 *              with the count, so caches and TLB miss more at 1,000,000;
 *   hot-1000 - random chunks among the first 1,000 (or all, if fewer):
 *              the same addresses at every count, so this isolates the cost
 *              of the structure itself and must stay flat;
 *   bsearch  - a binary search over the sorted chunk starts, on the same
 *              addresses as "all": what a logarithmic structure pays on the
 *              same memory (upstream used a search tree).
 * Run: ./bench/tracker_lookup [lookups]
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_proxy.h>

#define CHUNK      4096
#define MAX_CHUNKS 1000000

typedef struct {
    char *base;
    size_t next;
} slicer_t;

static umf_result_t sl_init(void *params, void **priv) {
    *priv = params;
    return UMF_RESULT_SUCCESS;
}
static void sl_fini(void *priv) {
    (void)priv;
}
static umf_result_t sl_alloc(void *priv, size_t size, size_t align, void **p) {
    slicer_t *s = priv;
    (void)align;
    if (size != CHUNK || s->next >= MAX_CHUNKS) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    // Leave a one-chunk gap so every chunk is a separate range.
    *p = s->base + 2 * CHUNK * s->next++;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t sl_free(void *priv, void *p, size_t size) {
    (void)priv, (void)p, (void)size;
    return UMF_RESULT_SUCCESS;
}
static void sl_err(void *priv, const char **m, int32_t *e) {
    (void)priv;
    *m = "";
    *e = 0;
}
static umf_result_t sl_page(void *priv, size_t s, size_t *ps) {
    (void)priv, (void)s;
    *ps = 4096;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t sl_minpage(void *priv, void *p, size_t *ps) {
    (void)priv, (void)p;
    *ps = 4096;
    return UMF_RESULT_SUCCESS;
}
static const char *sl_name(void *priv) {
    (void)priv;
    return "slicer";
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum { NADDR = 1 << 16 };
static const char *addr[NADDR];

// Random interior addresses of random chunks among the first `among`,
// spread over `spread` chunks: chunk index = (k * spread / among).
static void set_addresses(char **chunks, size_t among, size_t spread) {
    rng = 88172645463325252ULL;
    for (int i = 0; i < NADDR; i++) {
        uint64_t r = next_rand();
        size_t k = (size_t)(r % among) * (spread / among);
        addr[i] = chunks[k] + (r >> 40) % CHUNK;
    }
}

// 1 if a lies in some chunk: greatest start <= a, then a bounds check.
static int bsearch_chunk(char **chunks, size_t n, const char *a) {
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (chunks[mid] <= a) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return a >= chunks[lo] && a < chunks[lo] + CHUNK;
}

int main(int argc, char **argv) {
    long lookups = argc > 1 ? atol(argv[1]) : 20000000;
    static slicer_t sl;
    size_t span = (size_t)2 * CHUNK * MAX_CHUNKS;
    sl.base = mmap(NULL, span, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sl.base == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    umf_memory_provider_ops_t ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = sl_init,
        .finalize = sl_fini,
        .alloc = sl_alloc,
        .get_last_native_error = sl_err,
        .get_recommended_page_size = sl_page,
        .get_min_page_size = sl_minpage,
        .get_name = sl_name,
        .ext.free = sl_free,
    };
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    if (umfMemoryProviderCreate(&ops, &sl, &prov) ||
        umfPoolCreate(umfProxyPoolOps(), prov, NULL, 0, &pool)) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }

    static char *chunks[MAX_CHUNKS];
    const size_t counts[] = {1, 1000, MAX_CHUNKS};
    size_t have = 0;
    printf("umfPoolByPtr on random interior pointers, %ld lookups per cell, "
           "ns per lookup\n",
           lookups);
    printf("%10s %10s %10s %10s %14s\n", "chunks", "all", "hot-1000", "bsearch",
           "register (s)");
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        double t0 = now();
        while (have < counts[c]) {
            chunks[have] = umfPoolMalloc(pool, CHUNK);
            if (!chunks[have]) {
                fprintf(stderr, "registering chunk %zu failed\n", have);
                return 1;
            }
            have++;
        }
        double reg = now() - t0;
        size_t hot = have < 1000 ? have : 1000;
        double ns[2];
        for (int mode = 0; mode < 2; mode++) {
            set_addresses(chunks, mode == 0 ? have : hot,
                          mode == 0 ? have : hot);
            t0 = now();
            long found = 0;
            for (long i = 0; i < lookups; i++) {
                found += umfPoolByPtr(addr[i & (NADDR - 1)]) == pool;
            }
            double dt = now() - t0;
            if (found != lookups) {
                fprintf(stderr, "lookup failed (%ld of %ld found)\n", found,
                        lookups);
                return 1;
            }
            ns[mode] = dt * 1e9 / (double)lookups;
        }
        // Chunks are handed out at rising addresses: already sorted.
        set_addresses(chunks, have, have);
        t0 = now();
        long found = 0;
        for (long i = 0; i < lookups; i++) {
            found += bsearch_chunk(chunks, have, addr[i & (NADDR - 1)]);
        }
        double bs = (now() - t0) * 1e9 / (double)lookups;
        if (found != lookups) {
            fprintf(stderr, "bsearch baseline failed\n");
            return 1;
        }
        printf("%10zu %10.2f %10.2f %10.2f %14.3f\n", counts[c], ns[0], ns[1],
               bs, reg);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
    return 0;
}
