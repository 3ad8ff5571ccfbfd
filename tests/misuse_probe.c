/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * misuse_probe.c - one heap misuse, judged by what follows it. Used by
 * tests/test_misuse.sh and scripts/misuse_table.sh.
 *
 *   misuse_probe HEAP PROBE
 *
 * HEAP: malloc (the C allocator: the proxy's pool when libumf_proxy.so is
 * preloaded, else glibc's), or disjoint | host | jemalloc | scalable (that
 * pool over the OS provider, through the UMF API, with its default
 * settings), or jemalloc-checked | scalable-checked (with its checks set to
 * abort). PROBE:
 *   double-free-40      free a 40 B block twice
 *   double-free-200000  free a 200,000 B block twice
 *   double-free-4M      free a 4 MiB block twice (a block of its own
 *                       provider allocation, which the proxy may keep for
 *                       reuse)
 *   double-free-4M-late the same, the second free 1.2 s later, after
 *                       other large blocks (the proxy's large-block cache
 *                       has given the first back to the OS by then)
 *   free-interior-256   free p + 64 of a live 256 B block
 *   realloc-freed       realloc (40 -> 80 B) of a freed 40 B block
 *   usable-freed        malloc_usable_size of a freed 40 B block
 *   usable-freed-4M     malloc_usable_size of a freed 4 MiB block
 *   usable-interior     malloc_usable_size of p + 64 of a live 256 B block
 *
 * The usable-* probes print "outcome: usable size N" and exit 0.
 *
 * After the misuse, 32 blocks of the probe's size are allocated and checked
 * against each other and against the block still live: no two may share a
 * byte. Prints one line "outcome: ..." and exits 0 (no overlap; the misuse
 * was refused or went unnoticed), 2 (overlap: memory handed out twice) or
 * 77 (this heap is not available here). A heap that detects the misuse and
 * stops the program shows as SIGABRT, with its line on stderr.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_scalable.h>
#include <umf/pools/pool_scalable_ext.h>
#include <umf/providers/provider_os_memory.h>

#include "pools/pool_host.h"
#ifdef HAVE_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_jemalloc_ext.h>
#endif

#define NBLOCKS 32

static umf_memory_pool_handle_t pool; // NULL: the C allocator

static void *h_malloc(size_t n) {
    return pool ? umfPoolMalloc(pool, n) : malloc(n);
}

static const char *h_free(void *p) {
    if (!pool) {
        free(p);
        return "";
    }
    umf_result_t r = umfPoolFree(pool, p);
    return r == UMF_RESULT_SUCCESS ? "" : " (refused with an error)";
}

static void *h_realloc(void *p, size_t n) {
    return pool ? umfPoolRealloc(pool, p, n) : realloc(p, n);
}

static size_t h_usable(void *p) {
    return pool ? umfPoolMallocUsableSize(pool, p) : malloc_usable_size(p);
}

// Hides pointers from the compiler, which warns about uses after free.
static void *launder(void *p) {
    void *volatile v = p;
    return v;
}

static bool overlap(uintptr_t a, uintptr_t b, size_t n) {
    return a < b + n && b < a + n;
}

static int create_pool(const char *heap) {
    umf_memory_pool_ops_t *ops = NULL;
    void *params = NULL;
    umf_scalable_pool_params_handle_t sp = NULL;
#ifdef HAVE_JEMALLOC_POOL
    umf_jemalloc_pool_params_handle_t jp = NULL;
#endif
    if (strcmp(heap, "malloc") == 0) {
        return 0;
    } else if (strcmp(heap, "disjoint") == 0) {
        ops = umfDisjointPoolOps();
    } else if (strcmp(heap, "host") == 0) {
        ops = umf_private_host_pool_ops();
    } else if (strcmp(heap, "scalable") == 0) {
        ops = umfScalablePoolOps();
    } else if (strcmp(heap, "scalable-checked") == 0) {
        ops = umfScalablePoolOps();
        if (umfScalablePoolParamsCreate(&sp) != UMF_RESULT_SUCCESS ||
            umfScalablePoolParamsSetChecks(
                sp, UMF_SCALABLE_POOL_CHECKS_ABORT) != UMF_RESULT_SUCCESS) {
            printf("outcome: unavailable (scalable pool params)\n");
            return 77;
        }
        params = sp;
#ifdef HAVE_JEMALLOC_POOL
    } else if (strcmp(heap, "jemalloc") == 0) {
        ops = umfJemallocPoolOps();
    } else if (strcmp(heap, "jemalloc-checked") == 0) {
        ops = umfJemallocPoolOps();
        if (umfJemallocPoolParamsCreate(&jp) != UMF_RESULT_SUCCESS ||
            umfJemallocPoolParamsSetChecks(
                jp, UMF_JEMALLOC_POOL_CHECKS_ABORT) != UMF_RESULT_SUCCESS) {
            printf("outcome: unavailable (jemalloc pool params)\n");
            return 77;
        }
        params = jp;
#endif
    } else {
        printf("outcome: unavailable (no %s pool in this build)\n", heap);
        return 77;
    }
    umf_os_memory_provider_params_handle_t op;
    umf_memory_provider_handle_t prov;
    if (umfOsMemoryProviderParamsCreate(&op) != UMF_RESULT_SUCCESS ||
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov) !=
            UMF_RESULT_SUCCESS) {
        printf("outcome: unavailable (no OS provider)\n");
        return 77;
    }
    umfOsMemoryProviderParamsDestroy(op);
    umf_result_t r = umfPoolCreate(ops, prov, params,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
    if (sp) {
        umfScalablePoolParamsDestroy(sp);
    }
#ifdef HAVE_JEMALLOC_POOL
    if (jp) {
        umfJemallocPoolParamsDestroy(jp);
    }
#endif
    if (r != UMF_RESULT_SUCCESS) {
        printf("outcome: unavailable (cannot create the %s pool)\n", heap);
        return 77;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr,
                "usage: misuse_probe malloc|disjoint|host|jemalloc|scalable|"
                "jemalloc-checked|scalable-checked "
                "double-free-40|double-free-200000|double-free-4M|"
                "double-free-4M-late|"
                "free-interior-256|realloc-freed|usable-freed|"
                "usable-freed-4M|usable-interior\n");
        return 1;
    }
    int rc = create_pool(argv[1]);
    if (rc) {
        return rc;
    }
    const char *probe = argv[2];
    if (strcmp(probe, "usable-freed") == 0 ||
        strcmp(probe, "usable-freed-4M") == 0) {
        char *p = h_malloc(probe[12] ? (size_t)4 << 20 : 40);
        (void)h_free(p);
        printf("outcome: usable size %zu\n", h_usable(launder(p)));
        return 0;
    }
    if (strcmp(probe, "usable-interior") == 0) {
        char *p = h_malloc(256);
        printf("outcome: usable size %zu\n", h_usable(p + 64));
        (void)h_free(p);
        return 0;
    }
    size_t n;
    if (strcmp(probe, "double-free-40") == 0 ||
        strcmp(probe, "realloc-freed") == 0) {
        n = 40;
    } else if (strcmp(probe, "double-free-200000") == 0) {
        n = 200000;
    } else if (strcmp(probe, "double-free-4M") == 0 ||
               strcmp(probe, "double-free-4M-late") == 0) {
        n = (size_t)4 << 20;
    } else if (strcmp(probe, "free-interior-256") == 0) {
        n = 256;
    } else {
        fprintf(stderr, "misuse_probe: unknown probe %s\n", probe);
        return 1;
    }
    char *p = h_malloc(n);
    if (!p) {
        printf("outcome: unavailable (allocation failed)\n");
        return 77;
    }
    memset(p, 0x5a, n);
    uintptr_t live = 0; // a block the program still holds
    const char *note = "";
    if (strcmp(probe, "free-interior-256") == 0) {
        live = (uintptr_t)p;
        note = h_free(p + 64);
    } else if (strcmp(probe, "realloc-freed") == 0) {
        (void)h_free(p);
        void *q = h_realloc(launder(p), 2 * n);
        if (q) {
            live = (uintptr_t)q; // the program holds what realloc returned
            n *= 2;
        } else {
            note = " (realloc returned NULL)";
        }
    } else if (strcmp(probe, "double-free-4M-late") == 0) {
        (void)h_free(p);
        struct timespec pause = {1, 200000000};
        nanosleep(&pause, NULL);
        for (int i = 0; i < 8; i++) { // fills and turns over the cache
            void *q = h_malloc((size_t)(5 + i) << 20);
            (void)h_free(q);
        }
        note = h_free(launder(p));
    } else {
        (void)h_free(p);
        note = h_free(launder(p));
    }
    uintptr_t got[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        char *b = h_malloc(n);
        if (!b) {
            printf("outcome: allocation failed after the misuse%s\n", note);
            return 3;
        }
        got[i] = (uintptr_t)b;
        for (int j = 0; j < i; j++) {
            if (overlap(got[i], got[j], n)) {
                printf("outcome: overlap (two new blocks share bytes)%s\n",
                       note);
                return 2;
            }
        }
        if (live && overlap(got[i], live, n)) {
            printf("outcome: overlap (a new block shares bytes with a live "
                   "one)%s\n",
                   note);
            return 2;
        }
    }
    printf("outcome: no overlap%s\n", note);
    return 0;
}
