/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * coarse_bench.c - alloc+free of the coarse provider with few and with
 * many free blocks, to show the free-block search does not grow with their
 * number (the free blocks sit in a tree ordered by size).
 *
 * For each N in {10, 100000} and each strategy: a fixed buffer is cut into
 * 2N blocks of 64 bytes and every other one is freed, leaving N free
 * blocks of 64 bytes that never coalesce, plus one big free tail. Then a
 * timed loop allocates and frees a block of 4 KiB (only the tail fits, so
 * the search must pass over the N small blocks) and a block of 64 bytes
 * (taken from a small hole and put back). Prints ns per alloc+free pair,
 * the median of REPS runs.
 *
 * Usage: ./bench/coarse_bench [pairs-per-run]   (default 200000)
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <umf/providers/provider_coarse.h>

#define REPS 5

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run(size_t nfree, int strategy, size_t req, long pairs) {
    const size_t unit = 64;
    size_t size = 2 * nfree * unit + (1 << 20);
    char *buf = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
    void **p = calloc(2 * nfree, sizeof(void *));
    if (!buf || !p) {
        fprintf(stderr, "coarse_bench: out of memory\n");
        exit(1);
    }
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.init_buffer = buf;
    cp.init_buffer_size = size;
    cp.allocation_strategy = (coarse_memory_provider_strategy_t)strategy;
    umf_memory_provider_handle_t h;
    if (umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h)) {
        fprintf(stderr, "coarse_bench: cannot create the provider\n");
        exit(1);
    }
    for (size_t i = 0; i < 2 * nfree; i++) {
        if (umfMemoryProviderAlloc(h, unit, 0, &p[i])) {
            fprintf(stderr, "coarse_bench: set-up allocation failed\n");
            exit(1);
        }
    }
    for (size_t i = 0; i < 2 * nfree; i += 2) {
        umfMemoryProviderFree(h, p[i], unit);
    }
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < pairs; i++) {
            void *q;
            if (umfMemoryProviderAlloc(h, req, 0, &q) ||
                umfMemoryProviderFree(h, q, req)) {
                fprintf(stderr, "coarse_bench: alloc/free failed\n");
                exit(1);
            }
        }
        t[r] = (now_ns() - t0) / (double)pairs;
    }
    qsort(t, REPS, sizeof(t[0]), cmp_double);
    umfMemoryProviderDestroy(h);
    free(p);
    free(buf);
    return t[REPS / 2];
}

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 200000;
    static const char *const names[] = {"FASTEST", "FASTEST_BUT_ONE",
                                        "CHECK_ALL_SIZE"};
    static const size_t ns[] = {10, 100000};
    printf("coarse provider: ns per alloc+free pair (median of %d runs of "
           "%ld pairs)\n",
           REPS, pairs);
    printf("%-16s %12s %14s %14s\n", "strategy", "free blocks", "4 KiB (tail)",
           "64 B (hole)");
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            double big = run(ns[i], s, 4096, pairs);
            double small = run(ns[i], s, 64, pairs);
            printf("%-16s %12zu %14.1f %14.1f\n", names[s], ns[i], big, small);
        }
    }
    return 0;
}
