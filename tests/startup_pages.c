/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * startup_pages.c - an ordinary program (run by test_startup_pages.sh under
 * LD_PRELOAD=libumf_proxy.so with the default configuration) that starts,
 * makes and frees small blocks in two threads and with stdio, and then
 * says which pages of libumf's code are in its memory.
 *
 * The kernel maps a library's code 64 KiB at a time around each page a
 * process runs (fault-around), so code that start-up never runs still
 * costs RSS when it shares a 64 KiB window with code that it does. libumf
 * is linked with its segments 64 KiB aligned and with the objects of the
 * start-up and default paths first (Makefile.am), so such a program runs
 * only code of the first window of libumf's text: the rest (IPC,
 * memspaces, the other providers and pools) stays out of its memory. A
 * page present past that window means a call on the start-up path into
 * code placed after it (or a new object placed before it); the offsets
 * printed say which (nm -n on libumf.so).
 *
 * Exit 0: only the first window is present; 1: pages past it are; 77:
 * the layout cannot be checked here (the reason is printed).
 */

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW ((uintptr_t)64 << 10)
#define PAGE   ((uintptr_t)4096)

// Small blocks of many sizes, kept a while and freed, some by realloc.
static void *churn(void *arg) {
    (void)arg;
    void *keep[64];
    for (int round = 0; round < 16; round++) {
        for (int i = 0; i < 64; i++) {
            size_t size = (size_t)(i * 37 + round * 11) % 2048 + 1;
            keep[i] = i % 3 == 0 ? calloc(1, size) : malloc(size);
            if (!keep[i]) {
                return "malloc failed";
            }
            memset(keep[i], i, size);
        }
        for (int i = 0; i < 64; i++) {
            if (i % 5 == 0) {
                void *p = realloc(keep[i], 3000);
                if (!p) {
                    return "realloc failed";
                }
                keep[i] = p;
            }
            free(keep[i]);
        }
    }
    return NULL;
}

int main(void) {
#if UMF_CFG_DEBUG || !defined(__OPTIMIZE__)
    printf("SKIP: unoptimised build (--enable-debug or -O0): its code is "
           "larger than the optimised layout the check is about\n");
    return 77;
#endif
    pthread_t t;
    void *err = NULL;
    if (pthread_create(&t, NULL, churn, NULL) != 0) {
        printf("FAIL: pthread_create\n");
        return 1;
    }
    const char *mine = churn(NULL);
    pthread_join(t, &err);
    if (mine || err) {
        printf("FAIL: %s\n", mine ? mine : (const char *)err);
        return 1;
    }

    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) {
        printf("SKIP: /proc/self/maps cannot be read\n");
        return 77;
    }
    char line[1024];
    uintptr_t start = 0, end = 0, off = 0;
    char path[512] = "";
    bool preloaded = false;
    while (fgets(line, sizeof(line), maps)) {
        uintptr_t a, b, o;
        char perm[8], p[512] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %511s", &a, &b, perm, &o, p) <
            4) {
            continue;
        }
        if (strstr(p, "libumf_proxy.so")) {
            preloaded = true;
        }
        const char *base = strrchr(p, '/');
        if (base && strncmp(base, "/libumf.so", 10) == 0 &&
            strcmp(perm, "r-xp") == 0) {
            start = a;
            end = b;
            off = o;
            snprintf(path, sizeof(path), "%s", p);
        }
    }
    fclose(maps);
    if (!preloaded || !start) {
        printf("FAIL: libumf_proxy.so or libumf.so's code is not mapped "
               "(LD_PRELOAD=%s)\n",
               getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "");
        return 1;
    }
    if (start % WINDOW != 0) {
        printf("SKIP: libumf's code is mapped at %#lx, not 64 KiB aligned "
               "(this loader ignores the segments' alignment): where "
               "fault-around windows fall is left to chance\n",
               (unsigned long)start);
        return 77;
    }
    if (end - start <= WINDOW) {
        printf("SKIP: libumf's code is %lu KiB, one window: nothing to "
               "check\n",
               (unsigned long)((end - start) >> 10));
        return 77;
    }

    int pm = open("/proc/self/pagemap", O_RDONLY);
    if (pm < 0) {
        printf("SKIP: /proc/self/pagemap cannot be read\n");
        return 77;
    }
    size_t first = 0, past = 0;
    char where[512] = "";
    size_t nw = 0;
    for (uintptr_t a = start; a < end; a += PAGE) {
        uint64_t e;
        if (pread(pm, &e, sizeof(e), (off_t)(a / PAGE * sizeof(e))) !=
            (ssize_t)sizeof(e)) {
            close(pm);
            printf("SKIP: /proc/self/pagemap cannot be read\n");
            return 77;
        }
        if (!(e >> 63)) {
            continue; // not present
        }
        if (a - start < WINDOW) {
            first++;
        } else {
            past++;
            if (nw < sizeof(where) - 32) {
                nw += (size_t)snprintf(where + nw, sizeof(where) - nw, " %#lx",
                                       (unsigned long)(off + a - start));
            }
        }
    }
    close(pm);
    if (past) {
        printf("FAIL: %zu pages of libumf's code past its first 64 KiB are "
               "in memory (file offsets%s of %s): start-up or the default "
               "paths call code placed after the first window (see "
               "Makefile.am, libumf_core_la_SOURCES)\n",
               past, where, path);
        return 1;
    }
    printf("ok: %zu KiB of libumf's %lu KiB of code in memory, all in its "
           "first 64 KiB\n",
           first * 4, (unsigned long)((end - start) >> 10));
    return 0;
}
