/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * rss_after_free.c - how much memory a malloc keeps after a program frees
 * everything: three rounds of 256 blocks of LO-HI bytes (default 128 KiB
 * + 1 to 1 MiB), each written whole and then all freed; then a pause of
 * PAUSE seconds (default 2) and 48 allocations of 200 KiB, freed again
 * (activity that lets a lazy decay run). Prints the resident set after
 * each step (/proc/self/statm). Run it under each malloc side by side:
 *
 *   cc -O2 -o /tmp/rss_after_free bench/rss_after_free.c
 *   /tmp/rss_after_free
 *   LD_PRELOAD=.libs/libumf_proxy.so /tmp/rss_after_free
 *   LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /tmp/rss_after_free
 *
 * Usage: rss_after_free [LO [HI [PAUSE]]]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f) {
        return -1;
    }
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
        resident = -1;
    }
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "rss_after_free: malloc(%zu) failed\n", n);
        exit(1);
    }
    return p;
}

int main(int argc, char **argv) {
    size_t lo = argc > 1 ? strtoul(argv[1], NULL, 0) : (128 << 10) + 1;
    size_t hi = argc > 2 ? strtoul(argv[2], NULL, 0) : 1 << 20;
    unsigned pause = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 2;
    if (lo == 0 || hi < lo) {
        fprintf(stderr, "usage: rss_after_free [LO [HI [PAUSE]]] (0 < LO "
                        "<= HI)\n");
        return 2;
    }
    enum { N = 256, AFTER = 48 };
    void *p[N];
    unsigned seed = 1;
    printf("start: %ld KiB\n", rss_kib());
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < N; i++) {
            seed = seed * 1103515245u + 12345u;
            size_t n = lo + (size_t)(seed >> 8) % (hi - lo + 1);
            p[i] = xmalloc(n);
            memset(p[i], 1, n);
        }
        long full = rss_kib();
        for (int i = 0; i < N; i++) {
            free(p[i]);
        }
        printf("round %d: %ld KiB with the blocks, %ld KiB after freeing "
               "them\n",
               r, full, rss_kib());
    }
    sleep(pause);
    for (int i = 0; i < AFTER; i++) {
        p[i] = xmalloc(200 << 10);
    }
    for (int i = 0; i < AFTER; i++) {
        free(p[i]);
    }
    printf("after %u s and %d allocations: %ld KiB\n", pause, AFTER, rss_kib());
    return 0;
}
