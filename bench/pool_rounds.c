/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_rounds.c - address space (VmSize) and resident memory (VmRSS) of a
 * pool on the OS provider over repeated fill/free rounds, next to glibc's
 * malloc doing the same. Each round allocates `blocks` random sizes (8 B to
 * 64 KiB, one in 32 up to 3 MiB), touching each, then frees them all in
 * random order. Not a test: it prints numbers for README.md.
 *
 *   bench/pool_rounds glibc|proxy|disjoint|scalable|jemalloc [rounds] [blocks]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_os_memory.h>
#ifdef HAVE_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#endif

static long status_kib(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, key, n)) {
            v = atol(line + n + 1);
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

static unsigned rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "jemalloc";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    size_t blocks = argc > 3 ? (size_t)atol(argv[3]) : 20000;
    umf_memory_pool_ops_t *ops = NULL;
    if (!strcmp(name, "proxy")) {
        ops = umfProxyPoolOps();
    } else if (!strcmp(name, "disjoint")) {
        ops = umfDisjointPoolOps();
    } else if (!strcmp(name, "scalable")) {
        ops = umfScalablePoolOps();
#ifdef HAVE_JEMALLOC_POOL
    } else if (!strcmp(name, "jemalloc")) {
        ops = umfJemallocPoolOps();
#endif
    } else if (strcmp(name, "glibc")) {
        fprintf(stderr, "unknown pool %s\n", name);
        return 2;
    }
    umf_memory_provider_handle_t prov = NULL;
    umf_memory_pool_handle_t pool = NULL;
    if (ops) {
        umf_os_memory_provider_params_handle_t op;
        if (umfOsMemoryProviderParamsCreate(&op) ||
            umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov) ||
            umfPoolCreate(ops, prov, NULL, 0, &pool)) {
            fprintf(stderr, "cannot create a %s pool\n", name);
            return 1;
        }
        umfOsMemoryProviderParamsDestroy(op);
    }
    void **p = calloc(blocks, sizeof(*p));
    size_t *order = calloc(blocks, sizeof(*order));
    unsigned seed = 42;
    long base = status_kib("VmSize:");
    printf("%-9s start VmSize %6ld MiB\n", name, base / 1024);
    for (int r = 1; r <= rounds; r++) {
        size_t bytes = 0;
        for (size_t i = 0; i < blocks; i++) {
            size_t size = rnd(&seed) % 32 == 0 ? 8 + rnd(&seed) % (3 << 20)
                                               : 8 + rnd(&seed) % 65536;
            p[i] = pool ? umfPoolMalloc(pool, size) : malloc(size);
            if (p[i]) {
                memset(p[i], 1, size < 256 ? size : 256);
                bytes += size;
            }
            order[i] = i;
        }
        long full = status_kib("VmSize:"), rss = status_kib("VmRSS:");
        for (size_t i = blocks - 1; i > 0; i--) {
            size_t j = rnd(&seed) % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < blocks; i++) {
            if (pool) {
                umfPoolFree(pool, p[order[i]]);
            } else {
                free(p[order[i]]);
            }
        }
        printf("%-9s round %d: %zu MiB live, VmSize %6ld MiB full, %6ld MiB "
               "after free; VmRSS %6ld MiB full\n",
               name, r, bytes >> 20, full / 1024, status_kib("VmSize:") / 1024,
               rss / 1024);
    }
    if (pool) {
        umfPoolDestroy(pool);
        umfMemoryProviderDestroy(prov);
    }
    free(p);
    free(order);
    return 0;
}
