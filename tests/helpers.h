/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * helpers.h - shared by the Check suites: running a suite, skipping a test
 * binary with a printed reason, a user-written provider and pool of the
 * kind a program written for UMF 0.10.1 would define, and two threads
 * racing to free one block.
 */

#ifndef UMF_TEST_HELPERS_H
#define UMF_TEST_HELPERS_H

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <umf/memory_pool.h>
#include <umf/memory_pool_ops.h>
#include <umf/memory_provider.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

// Automake's SKIP: say why, exit 77.
static inline void skip_binary(const char *why) {
    printf("SKIP: %s\n", why);
    fflush(stdout);
    exit(77);
}

// Divisor for the iteration counts of stress tests: 1 normally, larger
// under `make check-valgrind` (which sets UMF_TEST_SLOW), where threads run
// one at a time and spinning readers would starve writers.
static inline int test_slow_factor(void) {
    const char *v = getenv("UMF_TEST_SLOW");
    int f = v ? atoi(v) : 1;
    return f > 0 ? f : 1;
}

// libumf_proxy.so is preloaded (make check-under-proxy): malloc'd memory
// then belongs to the proxy's pool, and the proxy is a user of libumf.
static inline bool under_proxy(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "libumf_proxy") != NULL;
}

static inline int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

// --- A user-written provider: mmap-backed, counting, with fault injection ---

typedef struct test_prov_params_t {
    const char *name;
    size_t fail_after_bytes; // 0: never fail; else alloc fails past this
    int init_result;         // initialize returns this
} test_prov_params_t;

typedef struct test_prov_t {
    struct test_prov_t *keep_next; // all instances stay reachable (LSan)
    const char *name;
    void *params_seen; // what initialize received
    size_t fail_after_bytes;
    _Atomic size_t allocated, allocs, frees, purges, splits, merges;
    _Atomic int finalized;
} test_prov_t;

// Counters survive finalize so tests can check it ran; every instance is
// kept on a list so leak checkers see it as reachable, not lost.
static _Atomic(test_prov_t *) test_prov_last;
static _Atomic(test_prov_t *) test_prov_all;

static _Thread_local int32_t test_prov_native;

static inline umf_result_t tp_initialize(void *params, void **priv) {
    test_prov_params_t *p = params;
    if (p && p->init_result != UMF_RESULT_SUCCESS) {
        return (umf_result_t)p->init_result;
    }
    test_prov_t *t = calloc(1, sizeof(*t));
    if (!t) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    t->name = p && p->name ? p->name : "test_provider";
    t->fail_after_bytes = p ? p->fail_after_bytes : 0;
    t->params_seen = params;
    t->keep_next = atomic_load(&test_prov_all);
    while (!atomic_compare_exchange_weak(&test_prov_all, &t->keep_next, t)) {
    }
    test_prov_last = t;
    *priv = t;
    return UMF_RESULT_SUCCESS;
}

static inline void tp_finalize(void *priv) {
    test_prov_t *t = priv;
    t->finalized = 1; // leaked on purpose: tests read it afterwards
}

static inline umf_result_t tp_alloc(void *priv, size_t size, size_t align,
                                    void **ptr) {
    test_prov_t *t = priv;
    if (size == 0) {
        test_prov_native = 42;
        return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
    }
    if (t->fail_after_bytes && t->allocated + size > t->fail_after_bytes) {
        test_prov_native = 7;
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (align < page) {
        align = page;
    }
    size_t len = (size + page - 1) & ~(page - 1);
    char *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (a > p) {
        munmap(p, (size_t)(a - p));
    }
    munmap(a + len, (size_t)(p + len + align - (a + len)));
    t->allocated += size;
    t->allocs++;
    *ptr = a;
    return UMF_RESULT_SUCCESS;
}

static inline umf_result_t tp_free(void *priv, void *ptr, size_t size) {
    test_prov_t *t = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    if (size == 0) {
        test_prov_native = 43;
        return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(ptr, (size + page - 1) & ~(page - 1));
    t->allocated -= size;
    t->frees++;
    return UMF_RESULT_SUCCESS;
}

static inline void tp_native(void *priv, const char **msg, int32_t *err) {
    (void)priv;
    *msg = "test provider native error";
    *err = test_prov_native;
}

static inline umf_result_t tp_rec_page(void *priv, size_t size, size_t *ps) {
    (void)priv, (void)size;
    *ps = (size_t)sysconf(_SC_PAGESIZE);
    return UMF_RESULT_SUCCESS;
}

static inline umf_result_t tp_min_page(void *priv, void *ptr, size_t *ps) {
    (void)priv, (void)ptr;
    *ps = (size_t)sysconf(_SC_PAGESIZE);
    return UMF_RESULT_SUCCESS;
}

static inline const char *tp_name(void *priv) {
    return ((test_prov_t *)priv)->name;
}

static inline umf_result_t tp_purge(void *priv, void *ptr, size_t size) {
    (void)ptr, (void)size;
    ((test_prov_t *)priv)->purges++;
    return UMF_RESULT_SUCCESS;
}

static inline umf_result_t tp_split(void *priv, void *ptr, size_t total,
                                    size_t first) {
    (void)ptr, (void)total, (void)first;
    ((test_prov_t *)priv)->splits++;
    return UMF_RESULT_SUCCESS;
}

static inline umf_result_t tp_merge(void *priv, void *lo, void *hi,
                                    size_t total) {
    (void)lo, (void)hi, (void)total;
    ((test_prov_t *)priv)->merges++;
    return UMF_RESULT_SUCCESS;
}

static inline umf_memory_provider_ops_t test_provider_ops(void) {
    umf_memory_provider_ops_t ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = tp_initialize,
        .finalize = tp_finalize,
        .alloc = tp_alloc,
        .get_last_native_error = tp_native,
        .get_recommended_page_size = tp_rec_page,
        .get_min_page_size = tp_min_page,
        .get_name = tp_name,
        .ext.free = tp_free,
        .ext.purge_lazy = tp_purge,
        .ext.purge_force = tp_purge,
        .ext.allocation_merge = tp_merge,
        .ext.allocation_split = tp_split,
    };
    return ops;
}

// --- A user-written pool: one provider chunk per allocation ---

typedef struct test_pool_t {
    struct test_pool_t *keep_next;         // all instances stay reachable
    umf_memory_provider_handle_t provider; // what initialize received
    void *params_seen;
    _Atomic size_t mallocs, frees;
} test_pool_t;

static _Atomic(test_pool_t *) test_pool_last; // pools made by any thread
static _Atomic(test_pool_t *) test_pool_all;
static _Thread_local umf_result_t test_pool_err;

static inline umf_result_t tpl_initialize(umf_memory_provider_handle_t prov,
                                          void *params, void **priv) {
    test_pool_t *p = calloc(1, sizeof(*p));
    if (!p) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->provider = prov;
    p->params_seen = params;
    p->keep_next = atomic_load(&test_pool_all);
    while (!atomic_compare_exchange_weak(&test_pool_all, &p->keep_next, p)) {
    }
    test_pool_last = p;
    *priv = p;
    return UMF_RESULT_SUCCESS;
}

static inline void tpl_finalize(void *priv) {
    (void)priv; // leaked on purpose: tests read it afterwards
}

static inline void *tpl_malloc(void *priv, size_t size) {
    test_pool_t *p = priv;
    void *ptr = NULL;
    test_pool_err = umfMemoryProviderAlloc(p->provider, size, 0, &ptr);
    if (test_pool_err != UMF_RESULT_SUCCESS) {
        return NULL;
    }
    p->mallocs++;
    return ptr;
}

static inline umf_result_t tpl_free(void *priv, void *ptr) {
    test_pool_t *p = priv;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    p->frees++;
    // A real pool would know the size; this one frees one page.
    return umfMemoryProviderFree(p->provider, ptr,
                                 (size_t)sysconf(_SC_PAGESIZE));
}

static inline umf_result_t tpl_last_error(void *priv) {
    (void)priv;
    return test_pool_err;
}

// Only the mandatory ops plus last error: calloc & co. come from defaults.
static inline umf_memory_pool_ops_t test_pool_ops(void) {
    umf_memory_pool_ops_t ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = tpl_initialize,
        .finalize = tpl_finalize,
        .malloc = tpl_malloc,
        .free = tpl_free,
        .get_last_allocation_error = tpl_last_error,
    };
    return ops;
}

// --- Racing double free ---
//
// Two threads free one block of `pool` at the same moment, `rounds` times
// (blocks of 16 B to 2 KiB): exactly one of each two frees succeeds. The
// pool's checks must be set to error.
typedef struct race_t {
    umf_memory_pool_handle_t pool;
    pthread_barrier_t go, done;
    void *_Atomic block;
    _Atomic int wins, losses;
    int rounds;
} race_t;

static inline void *race_free(void *arg) {
    race_t *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(&r->go);
        umf_result_t ret = umfPoolFree(r->pool, atomic_load(&r->block));
        atomic_fetch_add(ret == UMF_RESULT_SUCCESS ? &r->wins : &r->losses, 1);
        pthread_barrier_wait(&r->done);
    }
    return NULL;
}

static inline void race_double_free(umf_memory_pool_handle_t pool, int rounds) {
    race_t r = {.pool = pool, .rounds = rounds};
    pthread_barrier_init(&r.go, NULL, 3);
    pthread_barrier_init(&r.done, NULL, 3);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, race_free, &r), 0);
    }
    for (int i = 0; i < r.rounds; i++) {
        void *b = umfPoolMalloc(r.pool, (size_t)(16 << (i % 8)));
        ck_assert_ptr_nonnull(b);
        atomic_store(&r.block, b);
        pthread_barrier_wait(&r.go);
        pthread_barrier_wait(&r.done);
        ck_assert_int_eq(atomic_load(&r.wins), i + 1);
        ck_assert_int_eq(atomic_load(&r.losses), i + 1);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&r.go);
    pthread_barrier_destroy(&r.done);
}

// --- Pools with per-thread magazines of small blocks ---

static inline int small_blocks_cmp(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (void *const *)a;
    uintptr_t y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

// Blocks of sizes around every size class up to 513 B, more of each than
// a magazine holds, freed in a scrambled order and taken again over six
// rounds: every live block is distinct, in the pool, as large as asked
// and keeps its contents.
static inline void small_blocks_distinct(umf_memory_pool_handle_t pool) {
    static const size_t sizes[] = {1,   8,   9,   16,  17,  48,  100, 128,
                                   129, 200, 256, 300, 448, 511, 512, 513};
    enum { PER = 100, N = PER * ARRAY_SIZE(sizes) };
    static unsigned char *live[N];
    static void *sorted[N];
    memset(live, 0, sizeof(live));
    for (int round = 0; round < 6; round++) {
        for (size_t i = 0; i < N; i++) { // what the last round freed
            if (!live[i]) {
                size_t sz = sizes[i % ARRAY_SIZE(sizes)];
                live[i] = umfPoolMalloc(pool, sz);
                ck_assert_ptr_nonnull(live[i]);
                ck_assert_ptr_eq(umfPoolByPtr(live[i]), pool);
                ck_assert_uint_ge(umfPoolMallocUsableSize(pool, live[i]), sz);
                memset(live[i], (int)(i & 0xff), sz);
            }
        }
        for (size_t i = 0; i < N; i++) {
            size_t sz = sizes[i % ARRAY_SIZE(sizes)];
            size_t k = 0;
            while (k < sz && live[i][k] == (unsigned char)(i & 0xff)) {
                k++;
            }
            ck_assert_msg(k == sz,
                          "round %d: block %zu (%zu B) clobbered at %zu", round,
                          i, sz, k);
        }
        memcpy(sorted, live, sizeof(sorted));
        qsort(sorted, N, sizeof(sorted[0]), small_blocks_cmp);
        for (size_t i = 1; i < N; i++) {
            ck_assert_msg(sorted[i] != sorted[i - 1],
                          "round %d: %p handed out twice", round, sorted[i]);
        }
        // Some of them go, in a scrambled order.
        for (size_t j = 0; j < N; j++) {
            size_t i = (j * 7919) % N;
            if (((i * 7 + (size_t)round) % 3 != 0 || (round & 1)) &&
                (i + (size_t)round) % 2 == 0) {
                ck_assert_int_eq(umfPoolFree(pool, live[i]),
                                 UMF_RESULT_SUCCESS);
                live[i] = NULL;
            }
        }
    }
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(umfPoolFree(pool, live[i]), UMF_RESULT_SUCCESS);
    }
}

// Fills this thread's magazines of pool in four classes (64 blocks of
// 64, 128, 256 and 512 B each, taken and given back): at least 16 blocks
// of each stay cached. NULL, or what failed.
static inline const char *fill_small_magazines(umf_memory_pool_handle_t pool) {
    static const size_t sizes[] = {64, 128, 256, 512};
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        void *b[64];
        for (size_t i = 0; i < ARRAY_SIZE(b); i++) {
            b[i] = umfPoolMalloc(pool, sizes[s]);
            if (!b[i]) {
                return "malloc failed";
            }
        }
        for (size_t i = 0; i < ARRAY_SIZE(b); i++) {
            umfPoolFree(pool, b[i]);
        }
    }
    return NULL;
}

#endif /* UMF_TEST_HELPERS_H */
