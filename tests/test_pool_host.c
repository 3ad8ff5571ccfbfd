/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool_host.c - the host engine (lib/pools/pool_host.c) through the
 * UMF API: every size class (single pages and runs of pages), blocks freed
 * by other threads and taken back, misuse refused with checks=error
 * (double free, interior pointer, a block never handed out, in single
 * pages and in later pages of runs), malloc_usable_size of such pointers,
 * alignment, and pages given back and used again.
 */

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"
#include "pools/pool_host.h"

#define KiB ((size_t)1024)

static umf_memory_pool_handle_t make_pool(umf_disjoint_pool_checks_t checks) {
    umf_os_memory_provider_params_handle_t op;
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&op), 0);
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov), 0);
    umfOsMemoryProviderParamsDestroy(op);
    umf_host_pool_params_t p = {.name = "test", .checks = checks};
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfPoolCreate(umf_private_host_pool_ops(), prov, &p,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     0);
    return pool;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(seed + i * 7);
    }
}

static bool check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(seed + i * 7)) {
            return false;
        }
    }
    return true;
}

// Sizes around every class boundary, up to twice the engine's largest.
static size_t sizes[] = {0,     1,     15,     16,     17,     100,
                         128,   129,   1000,   4096,   5000,   16383,
                         16384, 16385, 20000,  32768,  32769,  50000,
                         65536, 65537, 100000, 131072, 131073, 262144};

START_TEST(test_host_every_size) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    enum { N = 40 };
    for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
        size_t n = sizes[si];
        unsigned char *b[N];
        for (int i = 0; i < N; i++) {
            b[i] = umfPoolMalloc(pool, n);
            ck_assert_ptr_nonnull(b[i]);
            ck_assert_uint_eq((uintptr_t)b[i] % 16, 0);
            size_t u = umfPoolMallocUsableSize(pool, b[i]);
            ck_assert_msg(u >= n && (n > 16 || u >= 16), "size %zu: usable %zu",
                          n, u);
            ck_assert_ptr_eq(umfPoolByPtr(b[i]), pool);
            fill(b[i], n, (unsigned)(si * 31 + i));
        }
        for (int i = 0; i < N; i++) {
            ck_assert_msg(check(b[i], n, (unsigned)(si * 31 + i)),
                          "size %zu: block %d overwritten", n, i);
            for (int j = 0; j < i && n; j++) {
                ck_assert((uintptr_t)b[i] + n <= (uintptr_t)b[j] ||
                          (uintptr_t)b[j] + n <= (uintptr_t)b[i]);
            }
        }
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(umfPoolFree(pool, b[i]), UMF_RESULT_SUCCESS);
        }
    }
    umfPoolDestroy(pool);
}
END_TEST

typedef struct {
    umf_memory_pool_handle_t pool;
    unsigned char **blocks;
    size_t *len;
    int n;
} batch_t;

static void *free_batch(void *arg) {
    batch_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        if (!check(b->blocks[i], b->len[i], (unsigned)i) ||
            umfPoolFree(b->pool, b->blocks[i]) != UMF_RESULT_SUCCESS) {
            return (void *)1;
        }
    }
    return NULL;
}

// Blocks of every kind freed by another thread go back to their pages and
// are handed out again, with no two live blocks sharing bytes.
START_TEST(test_host_other_thread_frees) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    enum { N = 600 };
    unsigned char *blocks[N];
    size_t len[N];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            len[i] = sizes[(size_t)(i + round) % ARRAY_SIZE(sizes)];
            blocks[i] = umfPoolMalloc(pool, len[i]);
            ck_assert_ptr_nonnull(blocks[i]);
            fill(blocks[i], len[i], (unsigned)i);
        }
        batch_t b = {pool, blocks, len, N};
        pthread_t t;
        void *res;
        ck_assert_int_eq(pthread_create(&t, NULL, free_batch, &b), 0);
        ck_assert_int_eq(pthread_join(t, &res), 0);
        ck_assert_ptr_null(res);
    }
    // Taken back: a batch of the same sizes fits without overlap.
    for (int i = 0; i < N; i++) {
        blocks[i] = umfPoolMalloc(pool, len[i]);
        ck_assert_ptr_nonnull(blocks[i]);
        fill(blocks[i], len[i], (unsigned)i);
    }
    for (int i = 0; i < N; i++) {
        ck_assert(check(blocks[i], len[i], (unsigned)i));
        ck_assert_int_eq(umfPoolFree(pool, blocks[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
}
END_TEST

static void *double_free_remote(void *arg) {
    batch_t *b = arg;
    return (void *)(uintptr_t)umfPoolFree(b->pool, b->blocks[0]);
}

// With checks=error every misuse is refused and changes nothing.
START_TEST(test_host_misuse_refused) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    // 100: a single page; 20000, 50000, 100000: runs of 4, 8 and 16 pages,
    // the later blocks in the run's later pages.
    size_t kinds[] = {100, 20000, 50000, 100000};
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        size_t n = kinds[k];
        unsigned char *b[12];
        for (int i = 0; i < 12; i++) {
            b[i] = umfPoolMalloc(pool, n);
            ck_assert_ptr_nonnull(b[i]);
        }
        unsigned char *last = b[11];
        ck_assert_int_eq(umfPoolFree(pool, last + 16),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, last + 16), 0);
        ck_assert_int_eq(umfPoolFree(pool, last), UMF_RESULT_SUCCESS);
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, last), 0);
        ck_assert_int_eq(umfPoolFree(pool, last),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
        ck_assert_ptr_null(umfPoolRealloc(pool, last, 2 * n));
        // A double free from another thread is refused too.
        batch_t bt = {pool, &last, NULL, 1};
        pthread_t t;
        void *res;
        ck_assert_int_eq(pthread_create(&t, NULL, double_free_remote, &bt), 0);
        ck_assert_int_eq(pthread_join(t, &res), 0);
        ck_assert_int_eq((int)(uintptr_t)res,
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
        // Nothing was handed out twice: 12 new blocks overlap no live one.
        unsigned char *c[12];
        for (int i = 0; i < 12; i++) {
            c[i] = umfPoolMalloc(pool, n);
            ck_assert_ptr_nonnull(c[i]);
            for (int j = 0; j < 11; j++) {
                ck_assert(c[i] + n <= b[j] || b[j] + n <= c[i]);
            }
            for (int j = 0; j < i; j++) {
                ck_assert(c[i] + n <= c[j] || c[j] + n <= c[i]);
            }
        }
        for (int i = 0; i < 12; i++) {
            ck_assert_int_eq(umfPoolFree(pool, c[i]), UMF_RESULT_SUCCESS);
        }
        for (int i = 0; i < 11; i++) {
            ck_assert_int_eq(umfPoolFree(pool, b[i]), UMF_RESULT_SUCCESS);
        }
    }
    umfPoolDestroy(pool);
}
END_TEST

static void *large_first(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    unsigned char *b = umfPoolMalloc(pool, 300 * KiB);
    if (b) {
        fill(b, 300 * KiB, 5);
    }
    return b;
}

// The pool for blocks over UMF_HOST_MAX is made on first use: before it
// exists a foreign pointer is refused as after, and threads that race to
// make it all get blocks from the same one.
START_TEST(test_host_large_pool_on_first_use) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    static unsigned char foreign[256];
    ck_assert_int_eq(umfPoolFree(pool, foreign + 64),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, foreign + 64), 0);
    umfPoolDestroy(pool);

    for (int round = 0; round < 4; round++) {
        pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
        pthread_t t[4];
        void *res[4];
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(pthread_create(&t[i], NULL, large_first, pool), 0);
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(pthread_join(t[i], &res[i]), 0);
            ck_assert_ptr_nonnull(res[i]);
        }
        for (int i = 0; i < 4; i++) {
            ck_assert(check(res[i], 300 * KiB, 5));
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, res[i]), 300 * KiB);
            ck_assert_ptr_eq(umfPoolByPtr(res[i]), pool);
        }
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(umfPoolFree(pool, res[i]), UMF_RESULT_SUCCESS);
            ck_assert_int_eq(umfPoolFree(pool, res[i]),
                             UMF_RESULT_ERROR_INVALID_ARGUMENT);
        }
        umfPoolDestroy(pool);
    }
}
END_TEST

static size_t stash_len(const hp_heap_t *h, unsigned r) {
    size_t n = 0;
    for (const hp_page_t *pg = h->stash[r]; pg; pg = pg->next) {
        n++;
    }
    return n;
}

// A heap keeps emptied runs back from the pool, HP_STASH_BYTES of each
// kind at most, and gives back those that then sit unused.
START_TEST(test_host_stash_bounded_and_shrinks) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    hp_heap_t *h = umf_private_host_heap(umf_private_host_pool_of(pool));
    ck_assert_ptr_nonnull(h);
    // 40 KiB blocks: runs of 8 pages (kind 2), 12 blocks each; 20 runs.
    enum { N = 240 };
    const unsigned kind = 2;
    void *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = umfPoolMalloc(pool, 40 * KiB);
        ck_assert_ptr_nonnull(b[i]);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(umfPoolFree(pool, b[i]), UMF_RESULT_SUCCESS);
    }
    // One run stays the class's current one; of the 19 others the stash
    // keeps what HP_STASH_BYTES allows and the pool gets the rest.
    ck_assert_uint_eq(h->nstash[kind], HP_STASH_BYTES / (8 * HP_PAGE));
    ck_assert_uint_eq(stash_len(h, kind), h->nstash[kind]);
    // A stashed run is no block's: freeing into it is refused.
    ck_assert_int_eq(umfPoolFree(pool, h->stash[kind]->start),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);

    // 16 KiB blocks (single pages of 4) come and go: a page of kind 0
    // goes to the stash and back twice a round, while the 40 KiB runs
    // sit there unused, so they go back to the pool.
    for (int round = 0; round < 3 * HP_STASH_LOOK; round++) {
        unsigned char *c[8];
        for (int i = 0; i < 8; i++) {
            c[i] = umfPoolMalloc(pool, 16 * KiB);
            if (!c[i]) {
                ck_abort_msg("16 KiB block %d of round %d: NULL", i, round);
            }
            c[i][0] = (unsigned char)i;
        }
        for (int i = 0; i < 8; i++) {
            if (c[i][0] != (unsigned char)i ||
                umfPoolFree(pool, c[i]) != UMF_RESULT_SUCCESS) {
                ck_abort_msg("16 KiB block %d of round %d", i, round);
            }
        }
    }
    ck_assert_uint_eq(h->nstash[kind], 0);
    ck_assert_ptr_null(h->stash[kind]);
    ck_assert_uint_le(h->nstash[0], HP_STASH_BYTES / HP_PAGE);
    ck_assert_uint_eq(stash_len(h, 0), h->nstash[0]);

    // The runs given back serve again.
    for (int i = 0; i < N; i++) {
        b[i] = umfPoolMalloc(pool, 40 * KiB);
        ck_assert_ptr_nonnull(b[i]);
        memset(b[i], i, 40 * KiB);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq(((unsigned char *)b[i])[40 * KiB - 1],
                          (unsigned char)i);
        ck_assert_int_eq(umfPoolFree(pool, b[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
}
END_TEST

// A block-aligned pointer past what a page ever handed out is refused.
START_TEST(test_host_never_handed_out) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    unsigned char *a = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(a);
    // The page carves 4 KiB at a time: 64 blocks of 64 B later is beyond.
    unsigned char *beyond = a + 64 * 64 * 4;
    ck_assert_int_eq(umfPoolFree(pool, beyond),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, beyond), 0);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_host_aligned) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    size_t aligns[] = {16, 32, 64, 256, 4096, 16384, 65536, 1 << 20};
    size_t lens[] = {1, 24, 100, 5000, 40000};
    for (size_t a = 0; a < ARRAY_SIZE(aligns); a++) {
        for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
            void *p = umfPoolAlignedMalloc(pool, lens[l], aligns[a]);
            ck_assert_ptr_nonnull(p);
            ck_assert_uint_eq((uintptr_t)p % aligns[a], 0);
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), lens[l]);
            memset(p, 0xa5, lens[l]);
            ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
        }
    }
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 8, 48));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfPoolDestroy(pool);
}
END_TEST

static void *alloc_and_exit(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    for (int i = 0; i < 1000; i++) {
        void *p = umfPoolMalloc(pool, (size_t)(i % 50) * 100 + 1);
        if (!p) {
            return (void *)1;
        }
        umfPoolFree(pool, p);
    }
    return umfPoolMalloc(pool, 333); // left to the next thread to free
}

// Heaps of exited threads are adopted: many short threads do not grow the
// pool's memory without bound, and their leftover blocks stay valid.
START_TEST(test_host_thread_heaps_reused) {
    umf_memory_pool_handle_t pool = make_pool(UMF_DISJOINT_POOL_CHECKS_ERROR);
    void *left[64];
    for (int i = 0; i < 64; i++) {
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, alloc_and_exit, pool), 0);
        ck_assert_int_eq(pthread_join(t, &left[i]), 0);
        ck_assert_ptr_nonnull(left[i]);
        ck_assert_ptr_ne(left[i], (void *)1);
        memset(left[i], i, 333);
    }
    for (int i = 0; i < 64; i++) {
        ck_assert_uint_eq(((unsigned char *)left[i])[332], (unsigned char)i);
        ck_assert_int_eq(umfPoolFree(pool, left[i]), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
}
END_TEST

// Bad parameters are refused with INVALID_ARGUMENT and nothing is made.
START_TEST(test_host_bad_params) {
    umf_os_memory_provider_params_handle_t op;
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&op), 0);
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), op, &prov), 0);
    umfOsMemoryProviderParamsDestroy(op);
    umf_host_pool_params_t p = {.name = "bad",
                                .checks = (umf_disjoint_pool_checks_t)7};
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(
        umfPoolCreate(umf_private_host_pool_ops(), prov, &p, 0, &pool),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static Suite *host_suite(void) {
    Suite *s = suite_create("pool_host");
    TCase *tc = tcase_create("host");
    tcase_add_test(tc, test_host_every_size);
    tcase_add_test(tc, test_host_other_thread_frees);
    tcase_add_test(tc, test_host_misuse_refused);
    tcase_add_test(tc, test_host_never_handed_out);
    tcase_add_test(tc, test_host_large_pool_on_first_use);
    tcase_add_test(tc, test_host_stash_bounded_and_shrinks);
    tcase_add_test(tc, test_host_aligned);
    tcase_add_test(tc, test_host_thread_heaps_reused);
    tcase_add_test(tc, test_host_bad_params);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(host_suite());
}
