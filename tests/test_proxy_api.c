/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_proxy_api.c - the malloc family under libumf_proxy.so. Run by
 * tests/test_proxy.sh with LD_PRELOAD set, once per pool; it fails when the
 * proxy is not loaded. Checks C/POSIX semantics (errno, alignment, zero
 * sizes, overflow), that every entry point's pointers belong to the proxy's
 * pool (umfPoolByPtr: this program links libumf and shares the proxy's
 * tracker), realloc keeping contents across pools and sizes, size.threshold
 * routing (PROXY_TEST_THRESHOLD), threads with cross-thread frees, fork
 * from a threaded parent, and the program's own pools nested in the
 * proxy's (a provider that mallocs): free, realloc and malloc_usable_size
 * of their blocks reach them whatever the proxy's owner cache holds, and a
 * pool that cannot size its blocks is never grown over its neighbours.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/wait.h>

#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_proxy.h>

#include "helpers.h"

// glibc declares these only in some configurations.
extern void *pvalloc(size_t size);
extern void *memalign(size_t align, size_t size);

// Hides a size from the compiler, which rejects huge constant requests.
static size_t opaque(size_t x) {
    volatile size_t v = x;
    return v;
}

static size_t threshold(void) {
    const char *t = getenv("PROXY_TEST_THRESHOLD");
    return t ? strtoul(t, NULL, 10) : 0;
}

// The compiler must not drop stores to p before free(p) (they are dead
// to it): the dirty-then-calloc tests rely on them.
static void keep_stores(void *p) {
    __asm__ volatile("" : : "r"(p) : "memory");
}

// The proxy's pool owns p (or, below the threshold, nobody does).
static void expect_proxy(void *p, size_t size) {
    ck_assert_ptr_nonnull(p);
    if (size < threshold()) {
        ck_assert_ptr_null(umfPoolByPtr(p));
    } else {
        ck_assert_msg(umfPoolByPtr(p) != NULL,
                      "%zu-byte block %p is not in a UMF pool", size, p);
    }
}

START_TEST(test_proxy_loaded) {
    ck_assert_msg(malloc_usable_size((void *)1) == 0xDEADBEEF,
                  "libumf_proxy.so is not preloaded");
}
END_TEST

START_TEST(test_proxy_malloc_sizes) {
    for (size_t s = 0; s < (8u << 20); s = s * 3 + 1) {
        unsigned char *p = malloc(s);
        expect_proxy(p, s);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        ck_assert_uint_ge(malloc_usable_size(p), s);
        memset(p, 0xab, s);
        free(p);
    }
}
END_TEST

// The heap is the host engine (the default pool, no tiers).
static bool host_heap(void) {
    const char *e = getenv("UMF_PROXY");
    return !e || ((!strstr(e, "pool=") || strstr(e, "pool=host")) &&
                  !strstr(e, "tier."));
}

// Every size up to 17 KiB, 40 live blocks at a time (so pages fill and
// the next page of the class is taken): each block fits its request, and
// in the host engine comes from a class at most a quarter (plus the
// 16-byte grain) larger. Its inline malloc finds pages through a table by
// size, the pool's own path through the class table: both must agree.
START_TEST(test_proxy_malloc_every_small_size) {
    enum { N = 40 };
    unsigned char *p[N];
    bool tight = host_heap();
    // Other pools: fewer sizes and blocks (pool=proxy maps each block).
    int n = tight ? N : 4;
    size_t step = tight ? 1 : 37;
    // Plain tests in the loops: each ck_assert costs Check a write(2).
    for (size_t s = 0; s <= (17u << 10); s += s < 2048 ? step : 8 * step) {
        for (int i = 0; i < n; i++) {
            p[i] = malloc(s);
            if (i == 0) {
                expect_proxy(p[i], s);
            }
            size_t u = p[i] ? malloc_usable_size(p[i]) : 0;
            if (!p[i] || u < s ||
                (tight && s >= threshold() && u > s + s / 4 + 16)) {
                ck_abort_msg("malloc(%zu) = %p: usable size %zu", s,
                             (void *)p[i], u);
            }
            memset(p[i], (int)(s + (size_t)i), s);
        }
        for (int i = 0; i < n; i++) {
            for (size_t k = 0; k < s; k += 61) {
                if (p[i][k] != (unsigned char)(s + (size_t)i)) {
                    ck_abort_msg("malloc(%zu): block %d clobbered at %zu", s, i,
                                 k);
                }
            }
            free(p[i]);
        }
    }
}
END_TEST

START_TEST(test_proxy_malloc_zero_unique) {
    void *a = malloc(0), *b = malloc(0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    free(a);
    free(b);
    free(NULL);
}
END_TEST

START_TEST(test_proxy_malloc_enomem) {
    errno = 0;
    ck_assert_ptr_null(malloc(opaque(SIZE_MAX - 4096)));
    ck_assert_int_eq(errno, ENOMEM);
    errno = 0;
    ck_assert_ptr_null(malloc(opaque((size_t)1 << 62)));
    ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_proxy_calloc) {
    for (size_t s = 1; s < (4u << 20); s = s * 5 + 3) {
        unsigned char *p = malloc(s);
        memset(p, 0xff, s); // dirty memory the pool may hand out again
        keep_stores(p);
        free(p);
        p = calloc(1, s);
        expect_proxy(p, s);
        for (size_t i = 0; i < s; i += 61) {
            ck_assert_uint_eq(p[i], 0);
        }
        ck_assert_uint_eq(p[s - 1], 0);
        free(p);
    }
    errno = 0;
    ck_assert_ptr_null(calloc(opaque(SIZE_MAX / 2), 3));
    ck_assert_int_eq(errno, ENOMEM);
    void *z = calloc(0, 0);
    ck_assert_ptr_nonnull(z);
    free(z);
}
END_TEST

// Large blocks come straight from the provider: calloc must still give
// zeros after the same sizes were dirtied and freed.
START_TEST(test_proxy_calloc_large) {
    static const size_t sizes[] = {(3u << 20) + 5, (24u << 20) + 4099};
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t s = sizes[k];
            unsigned char *p = malloc(s);
            ck_assert_ptr_nonnull(p);
            memset(p, 0xff, s);
            keep_stores(p);
            free(p);
            p = calloc(s, 1);
            expect_proxy(p, s);
            for (size_t i = 0; i < s; i += 4093) {
                ck_assert_uint_eq(p[i], 0);
            }
            ck_assert_uint_eq(p[s - 1], 0);
            free(p);
        }
    }
}
END_TEST

static unsigned char grow_byte(size_t i) {
    return (unsigned char)((i * 2654435761u) >> 13);
}

// A large block grown in small steps (the proxy moves its pages instead
// of copying them): every byte written survives, with odd sizes too.
START_TEST(test_proxy_realloc_grow_large) {
    size_t s = (3u << 20) + 123;
    unsigned char *p = malloc(s);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < s; i++) {
        p[i] = grow_byte(i);
    }
    int moves = 0;
    for (int step = 0; step < 96; step++) {
        size_t n = s + (64u << 10) + (size_t)step * 7;
        unsigned char *was = p;
        p = realloc(p, n);
        expect_proxy(p, n);
        moves += p != was;
        ck_assert_uint_ge(malloc_usable_size(p), n);
        for (size_t i = s; i < n; i++) {
            p[i] = grow_byte(i);
        }
        s = n;
        if (step % 32 == 31) {
            size_t bad = SIZE_MAX;
            for (size_t i = 0; i < s && bad == SIZE_MAX; i++) {
                if (p[i] != grow_byte(i)) {
                    bad = i;
                }
            }
            ck_assert_msg(bad == SIZE_MAX, "byte %zu of %zu lost at step %d",
                          bad, s, step);
        }
    }
    // Every pool grows a large block geometrically: 96 steps of 64 KiB from
    // 3 MiB move it a few times, not at every step.
    ck_assert_msg(moves <= 8, "%d moves in 96 growth steps", moves);
    // Back down to a small block: the head survives.
    p = realloc(p, 100);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < 100; i++) {
        ck_assert_uint_eq(p[i], grow_byte(i));
    }
    free(p);
}
END_TEST

// Large blocks freed and allocated again (the proxy keeps freed blocks of
// their own provider allocation for reuse): no two live blocks share a
// byte, contents survive, a calloc is zero, and realloc keeps a reused
// block that is a little too big.
START_TEST(test_proxy_large_reuse) {
    size_t mib = (size_t)1 << 20;
    unsigned char *a = malloc(12 * mib);
    expect_proxy(a, 12 * mib);
    memset(a, 0xaa, 12 * mib);
    keep_stores(a);
    free(a);
    unsigned char *b = malloc(3 * mib + 1);
    unsigned char *c = malloc(12 * mib);
    expect_proxy(b, 3 * mib + 1);
    expect_proxy(c, 12 * mib);
    ck_assert_msg((uintptr_t)b + 3 * mib + 1 <= (uintptr_t)c ||
                      (uintptr_t)c + 12 * mib <= (uintptr_t)b,
                  "live blocks %p and %p overlap", (void *)b, (void *)c);
    ck_assert_uint_ge(malloc_usable_size(b), 3 * mib + 1);
    memset(b, 0x11, 3 * mib + 1);
    memset(c, 0x22, 12 * mib);
    // Growing b a little: kept where it is or moved, contents intact.
    unsigned char *b2 = realloc(b, 5 * mib);
    ck_assert_ptr_nonnull(b2);
    for (size_t i = 0; i <= 3 * mib; i += 4093) {
        ck_assert_uint_eq(b2[i], 0x11);
    }
    ck_assert_uint_eq(b2[3 * mib], 0x11);
    for (size_t i = 0; i < 12 * mib; i += 4093) {
        ck_assert_uint_eq(c[i], 0x22);
    }
    free(b2);
    free(c);
    // calloc right after freeing dirty blocks of the same size: zero.
    for (int i = 0; i < 6; i++) {
        unsigned char *d = malloc(6 * mib);
        ck_assert_ptr_nonnull(d);
        memset(d, 0x33, 6 * mib);
        keep_stores(d);
        free(d);
        unsigned char *z = calloc(1, 6 * mib);
        ck_assert_ptr_nonnull(z);
        for (size_t k = 0; k < 6 * mib; k += 4093) {
            ck_assert_uint_eq(z[k], 0);
        }
        free(z);
    }
}
END_TEST

// Threads allocate, fill, check and free large blocks of many sizes at
// once: a block handed to two threads shows as a broken fill.
typedef struct large_arg_t {
    unsigned id;
    int rounds;
    const char *error;
} large_arg_t;

static void *large_thread(void *p) {
    large_arg_t *a = p;
    uint64_t x = a->id * 0x9e3779b97f4a7c15u + 1;
    for (int r = 0; r < a->rounds && !a->error; r++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = ((size_t)2 << 20) + (size_t)(x % (10u << 20));
        uint32_t *b = malloc(n);
        if (!b || malloc_usable_size(b) < n) {
            a->error = "no block, or one too small";
            break;
        }
        size_t words = n / sizeof(uint32_t);
        uint32_t tag = a->id << 24 | (uint32_t)r;
        for (size_t i = 0; i < words; i += 4093) {
            b[i] = tag;
        }
        b[words - 1] = tag;
        sched_yield();
        for (size_t i = 0; i < words; i += 4093) {
            if (b[i] != tag) {
                a->error = "a live block was written by another thread";
            }
        }
        if (b[words - 1] != tag) {
            a->error = "a live block's end was written by another thread";
        }
        free(b);
    }
    return NULL;
}

START_TEST(test_proxy_large_reuse_threads) {
    enum { T = 4 };
    pthread_t t[T];
    large_arg_t a[T];
    for (unsigned i = 0; i < T; i++) {
        a[i] = (large_arg_t){.id = i + 1, .rounds = 100 / test_slow_factor()};
        ck_assert_int_eq(pthread_create(&t[i], NULL, large_thread, &a[i]), 0);
    }
    for (unsigned i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(!a[i].error, "thread %u: %s", i, a[i].error);
    }
}
END_TEST

START_TEST(test_proxy_realloc) {
    unsigned char *p = realloc(NULL, 10); // = malloc
    expect_proxy(p, 10);
    for (int i = 0; i < 10; i++) {
        p[i] = (unsigned char)i;
    }
    size_t s = 10;
    // Grow through every size range and shrink back: contents kept.
    for (size_t n = 17; n < (16u << 20); n = n * 2 + 5) {
        p = realloc(p, n);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < s && i < 10; i++) {
            ck_assert_uint_eq(p[i], i);
        }
        s = n;
    }
    for (size_t n = s; n > 10; n /= 3) {
        p = realloc(p, n);
        ck_assert_ptr_nonnull(p);
        for (size_t i = 0; i < 10; i++) {
            ck_assert_uint_eq(p[i], i);
        }
    }
    errno = 0;
    ck_assert_ptr_null(realloc(p, opaque(SIZE_MAX - 64)));
    ck_assert_int_eq(errno, ENOMEM);
    ck_assert_uint_eq(p[3], 3);        // still there after a failed realloc
    ck_assert_ptr_null(realloc(p, 0)); // frees, as glibc
}
END_TEST

START_TEST(test_proxy_reallocarray) {
    int *a = reallocarray(NULL, 100, sizeof(int));
    expect_proxy(a, 100 * sizeof(int));
    for (int i = 0; i < 100; i++) {
        a[i] = i;
    }
    a = reallocarray(a, 10000, sizeof(int));
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a[99], 99);
    errno = 0;
    ck_assert_ptr_null(reallocarray(a, opaque(SIZE_MAX / 2), 4));
    ck_assert_int_eq(errno, ENOMEM);
    free(a);
}
END_TEST

START_TEST(test_proxy_aligned) {
    for (size_t a = 1; a <= (2u << 20); a <<= 1) {
        for (size_t s = 1; s < (1u << 20); s = s * 7 + 1) {
            void *p = NULL;
            if (a >= sizeof(void *)) {
                ck_assert_int_eq(posix_memalign(&p, a, s), 0);
                expect_proxy(p, s);
                ck_assert_uint_eq((uintptr_t)p % a, 0);
                free(p);
            }
            p = aligned_alloc(a, s);
            expect_proxy(p, s);
            ck_assert_uint_eq((uintptr_t)p % a, 0);
            free(p);
            p = memalign(a, s);
            expect_proxy(p, s);
            ck_assert_uint_eq((uintptr_t)p % a, 0);
            ck_assert_uint_ge(malloc_usable_size(p), s);
            p = realloc(p, s * 2); // an aligned block reallocates too
            ck_assert_ptr_nonnull(p);
            free(p);
        }
    }
    void *p = (void *)0x1234;
    ck_assert_int_eq(posix_memalign(&p, 24, 10), EINVAL);
    ck_assert_int_eq(posix_memalign(&p, 4, 10), EINVAL); // < sizeof(void*)
    ck_assert_ptr_eq(p, (void *)0x1234);                 // untouched on error
    errno = 0;
    ck_assert_ptr_null(aligned_alloc(opaque(24), 48));
    ck_assert_int_eq(errno, EINVAL);
    void *m = memalign(opaque(24), 10); // glibc: rounded up to 32
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq((uintptr_t)m % 32, 0);
    free(m);
}
END_TEST

START_TEST(test_proxy_valloc) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = valloc(100);
    expect_proxy(p, 100);
    ck_assert_uint_eq((uintptr_t)p % page, 0);
    free(p);
    p = pvalloc(100);
    expect_proxy(p, page); // a whole page is what gets allocated
    ck_assert_uint_eq((uintptr_t)p % page, 0);
    ck_assert_uint_ge(malloc_usable_size(p), page);
    free(p);
}
END_TEST

// A pointer from glibc's allocator proper (not through our malloc): what a
// program's memory from before the preload looks like. Freed by us.
START_TEST(test_proxy_frees_foreign_memory) {
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(libc);
    void *(*sys_malloc)(size_t) = (void *(*)(size_t))dlsym(libc, "malloc");
    ck_assert_ptr_nonnull((void *)(uintptr_t)sys_malloc);
    char *p = sys_malloc(1000);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolByPtr(p));
    strcpy(p, "hello");
    p = realloc(p, 100000); // stays with the system allocator
    ck_assert_str_eq(p, "hello");
    ck_assert_ptr_null(umfPoolByPtr(p));
    ck_assert_uint_ge(malloc_usable_size(p), 100000);
    free(p);
    dlclose(libc);
}
END_TEST

START_TEST(test_proxy_threshold) {
    size_t t = threshold();
    if (t == 0) {
        return; // run with PROXY_TEST_THRESHOLD set by test_proxy.sh
    }
    char *small = malloc(t - 1), *big = malloc(t);
    ck_assert_ptr_null(umfPoolByPtr(small));
    ck_assert_ptr_nonnull(umfPoolByPtr(big));
    // realloc never changes the allocator.
    small = realloc(small, t * 4);
    ck_assert_ptr_null(umfPoolByPtr(small));
    big = realloc(big, 1);
    ck_assert_ptr_nonnull(umfPoolByPtr(big));
    free(small);
    free(big);
}
END_TEST

// --- threads ---

enum { NTHREADS = 8, PER_THREAD = 20000, RING = 64 };

static _Atomic(void *) mailbox[NTHREADS][RING];

static void *worker(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    uint64_t s = 0x9E3779B97F4A7C15ull * (id + 1);
    uintptr_t bad = 0;
    int n = PER_THREAD / test_slow_factor();
    for (int i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t size = 16 + s % 2000;
        unsigned char *p = malloc(size);
        if (!p || (uintptr_t)p % 16) {
            bad++;
            continue;
        }
        memset(p, (int)id, size);
        p[0] = (unsigned char)id;
        // Hand it to another thread's mailbox; free what was there.
        size_t to = (id + 1 + s % (NTHREADS - 1)) % NTHREADS;
        void *old = atomic_exchange(&mailbox[to][s % RING], p);
        free(old);
    }
    return (void *)bad;
}

START_TEST(test_proxy_threads_cross_free) {
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_ptr_null(bad);
    }
    for (int i = 0; i < NTHREADS; i++) {
        for (int j = 0; j < RING; j++) {
            free(atomic_exchange(&mailbox[i][j], NULL));
        }
    }
}
END_TEST

// --- fork ---

static _Atomic int spin_stop;

static void *spinner(void *arg) {
    (void)arg;
    while (!atomic_load(&spin_stop)) {
        void *p = malloc(64 + (size_t)rand() % 5000);
        free(p);
    }
    return NULL;
}

START_TEST(test_proxy_fork_threaded_parent) {
    pthread_t t[3];
    atomic_store(&spin_stop, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, spinner, NULL), 0);
    }
    char *shared = malloc(4096);
    strcpy(shared, "parent");
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            // The child allocates and frees at once, and its heap is its own.
            int ok = strcmp(shared, "parent") == 0;
            size_t limit = threshold();
            for (int i = 0; i < 2000; i++) {
                size_t n = 16 + (size_t)i * 7;
                void *p = malloc(n);
                ok &= p != NULL && (umfPoolByPtr(p) != NULL) == (n >= limit);
                free(p);
            }
            strcpy(shared, "child");
            _exit(ok ? 0 : 1);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert_str_eq(shared, "parent"); // the child wrote its copy
    }
    atomic_store(&spin_stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
    }
    free(shared);
}
END_TEST

// --- the program's own pools, nested in the proxy's ---

// A provider that takes its memory from malloc, i.e. from the proxy's pool:
// its chunks nest inside the proxy's chunks in the tracker.
static umf_result_t mp_init(void *params, void **priv) {
    (void)params;
    *priv = (void *)1;
    return UMF_RESULT_SUCCESS;
}
static void mp_fini(void *priv) {
    (void)priv;
}
static umf_result_t mp_alloc(void *priv, size_t size, size_t align,
                             void **ptr) {
    (void)priv;
    if (align < 4096) {
        align = 4096;
    }
    *ptr = aligned_alloc(align, (size + align - 1) & ~(align - 1));
    return *ptr ? UMF_RESULT_SUCCESS : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
}
static umf_result_t mp_free(void *priv, void *ptr, size_t size) {
    (void)priv, (void)size;
    free(ptr);
    return UMF_RESULT_SUCCESS;
}
static void mp_err(void *priv, const char **msg, int32_t *err) {
    (void)priv;
    *msg = "";
    *err = 0;
}
static umf_result_t mp_page(void *priv, size_t size, size_t *page) {
    (void)priv, (void)size;
    *page = 4096;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t mp_min_page(void *priv, void *ptr, size_t *page) {
    (void)priv, (void)ptr;
    *page = 4096;
    return UMF_RESULT_SUCCESS;
}
static const char *mp_name(void *priv) {
    (void)priv;
    return "malloc_provider";
}

static umf_memory_provider_handle_t malloc_provider(void) {
    umf_memory_provider_ops_t ops = {
        .version = UMF_VERSION_CURRENT,
        .initialize = mp_init,
        .finalize = mp_fini,
        .alloc = mp_alloc,
        .get_last_native_error = mp_err,
        .get_recommended_page_size = mp_page,
        .get_min_page_size = mp_min_page,
        .get_name = mp_name,
        .ext.free = mp_free,
    };
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov),
                     UMF_RESULT_SUCCESS);
    return prov;
}

// A program's pool nested in the proxy's: the proxy pool (every block one
// malloc, no usable size) or a disjoint pool of 64 KiB slabs.
static umf_memory_pool_handle_t nested_pool(int kind,
                                            umf_memory_provider_handle_t prov) {
    umf_memory_pool_handle_t q = NULL;
    if (kind == 0) {
        ck_assert_int_eq(umfPoolCreate(umfProxyPoolOps(), prov, NULL, 0, &q),
                         UMF_RESULT_SUCCESS);
        return q;
    }
    umf_disjoint_pool_params_handle_t dp;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&dp), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetSlabMinSize(dp, 64 << 10), 0);
    ck_assert_int_eq(umfDisjointPoolParamsSetMaxPoolableSize(dp, 64 << 10), 0);
    ck_assert_int_eq(umfPoolCreate(umfDisjointPoolOps(), prov, dp, 0, &q),
                     UMF_RESULT_SUCCESS);
    umfDisjointPoolParamsDestroy(dp);
    return q;
}

// What the proxy must say about q: the pool's own answer (0 for the proxy
// pool, which cannot size its blocks).
static void expect_q(umf_memory_pool_handle_t q, void *blk, size_t n,
                     const char *when) {
    ck_assert_msg(umfPoolByPtr(blk) == q, "%s: %p not in the program's pool",
                  when, blk);
    size_t want = umfPoolMallocUsableSize(q, blk);
    ck_assert_msg(want == 0 || want >= n, "%s: pool says %zu", when, want);
    ck_assert_msg(malloc_usable_size(blk) == want,
                  "%s: malloc_usable_size(%p) = %zu, the pool says %zu", when,
                  blk, malloc_usable_size(blk), want);
}

// Each assertion costs Check a message to its parent: one for a buffer.
static bool all_bytes(const unsigned char *p, int c, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)c) {
            return false;
        }
    }
    return true;
}

// Warms the proxy's owner cache with its own block x, three ways.
static void *warm(void *x, size_t n, int how) {
    switch (how) {
    case 0:
        ck_assert_uint_ge(malloc_usable_size(x), n);
        return x;
    case 1:
        x = realloc(x, n);
        ck_assert_ptr_nonnull(x);
        return x;
    default:
        free(x);
        x = malloc(n);
        ck_assert_ptr_nonnull(x);
        return x;
    }
}

START_TEST(test_proxy_nested_pool_owner_cache) {
    int kind = _i / 3, how = _i % 3;
    enum { NXMAX = 48, NQ = 8 };
    const size_t xs = 40000, qs = 3000;
    // pool=proxy maps every block (UMF_TEST_SLOW=20 there).
    int NX = NXMAX / test_slow_factor() < NQ ? NQ : NXMAX / test_slow_factor();
    void *x[NXMAX];
    umf_memory_provider_handle_t prov = malloc_provider();
    umf_memory_pool_handle_t q = nested_pool(kind, prov);
    unsigned char *b[NQ];
    for (int k = 0; k < NQ; k++) {
        b[k] = umfPoolMalloc(q, qs);
        ck_assert_ptr_nonnull(b[k]);
        memset(b[k], 0x40 + k, qs);
        expect_q(q, b[k], qs, "before warming");
    }
    // The proxy's blocks next to q's chunks: the same shape as what q's
    // provider asked for (so the same proxy chunk), and others.
    const size_t qchunk = kind == 0 ? 4096 : 65536;
    for (int i = 0; i < NX; i++) {
        x[i] = i % 2 ? malloc(xs) : aligned_alloc(4096, qchunk);
        ck_assert_ptr_nonnull(x[i]);
    }
    for (int i = 0; i < NX; i++) {
        x[i] = warm(x[i], i % 2 ? xs : qchunk, how);
        for (int k = 0; k < NQ; k++) {
            expect_q(q, b[k], qs, "after warming");
        }
    }
    // realloc and free of q's blocks stay in q whatever is cached.
    for (int k = 0; k < NQ; k++) {
        (void)warm(x[k], k % 2 ? xs : qchunk, 0);
        unsigned char *r = realloc(b[k], 2 * qs);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(umfPoolByPtr(r) == q, "realloc moved %p out of its pool",
                      (void *)b[k]);
        ck_assert_msg(all_bytes(r, 0x40 + k, qs), "realloc lost data");
        b[k] = r;
        (void)warm(x[k], k % 2 ? xs : qchunk, 0);
        free(b[k]);
    }
    // The proxy's pool never hands out what belongs to q.
    void *m[NXMAX];
    for (int i = 0; i < NX; i++) {
        m[i] = malloc(qs);
        ck_assert_ptr_nonnull(m[i]);
        ck_assert_msg(umfPoolByPtr(m[i]) != q,
                      "malloc returned %p of the program's pool", m[i]);
    }
    for (int i = 0; i < NX; i++) {
        free(m[i]);
    }
    umfPoolDestroy(q);
    umfMemoryProviderDestroy(prov);
    for (int i = 0; i < NX; i++) {
        free(x[i]);
    }
}
END_TEST

// A program's pool that cannot size its blocks (no malloc_usable_size op)
// and carves many blocks out of one provider chunk: malloc_usable_size
// says 0 (the documented answer when the pool cannot tell), realloc copies
// and never grows a block over the next one.
typedef struct bump_pool_t {
    umf_memory_provider_handle_t prov;
    unsigned char *chunk;
    size_t used;
} bump_pool_t;
#define BUMP_CHUNK ((size_t)1 << 20)
static umf_result_t bpl_init(umf_memory_provider_handle_t prov, void *params,
                             void **priv) {
    (void)params;
    static bump_pool_t bp; // one at a time
    bp.prov = prov;
    bp.used = 0;
    void *c = NULL;
    umf_result_t r = umfMemoryProviderAlloc(prov, BUMP_CHUNK, 0, &c);
    bp.chunk = c;
    *priv = &bp;
    return r;
}
static void bpl_fini(void *priv) {
    bump_pool_t *bp = priv;
    umfMemoryProviderFree(bp->prov, bp->chunk, BUMP_CHUNK);
}
static void *bpl_malloc(void *priv, size_t size) {
    bump_pool_t *bp = priv;
    size = (size + 63) & ~(size_t)63;
    if (size > BUMP_CHUNK - bp->used) {
        return NULL;
    }
    void *p = bp->chunk + bp->used;
    bp->used += size;
    return p;
}
static umf_result_t bpl_free(void *priv, void *ptr) {
    (void)priv, (void)ptr;
    return UMF_RESULT_SUCCESS;
}
static umf_result_t bpl_err(void *priv) {
    (void)priv;
    return UMF_RESULT_SUCCESS;
}

static umf_memory_pool_ops_t bump_pool_ops(void) {
    return (umf_memory_pool_ops_t){
        .version = UMF_VERSION_CURRENT,
        .initialize = bpl_init,
        .finalize = bpl_fini,
        .malloc = bpl_malloc,
        .free = bpl_free,
        .get_last_allocation_error = bpl_err,
    };
}

START_TEST(test_proxy_user_pool_without_usable_size) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov), 0);
    umf_memory_pool_ops_t pops = bump_pool_ops();
    umf_memory_pool_handle_t q;
    ck_assert_int_eq(umfPoolCreate(&pops, prov, NULL, 0, &q), 0);
    unsigned char *a = umfPoolMalloc(q, 100);
    unsigned char *n = umfPoolMalloc(q, 100);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(n, a + 128); // neighbours in one tracker chunk
    uintptr_t a_at = (uintptr_t)a;
    n = (unsigned char *)opaque((uintptr_t)n); // the compiler knows a + 128
    ck_assert_uint_eq(umfPoolMallocUsableSize(q, a), 0); // cannot tell
    ck_assert_uint_eq(malloc_usable_size(a), 0);
    memset(a, 'a', 100);
    memset(n, 'n', 100);
    unsigned char *r = realloc(a, 600000);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_ne((uintptr_t)r, a_at); // copied, not grown over n
    ck_assert_ptr_eq(umfPoolByPtr(r), q);
    ck_assert(all_bytes(r, 'a', 100));
    ck_assert(all_bytes(n, 'n', 100)); // the neighbour is untouched
    // Shrinking copies too, and only what the new block holds.
    unsigned char *t = realloc(n, 50);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t[49], 'n');
    umfPoolDestroy(q);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// The same pool on memory the proxy hands out: its provider mallocs its
// 1 MiB chunk (under pool=host, a block of the large-block pool inside the
// host engine), and its first block starts where that chunk starts. free
// and malloc_usable_size of it are the program's pool's (the tracker's
// innermost owner), never the proxy's: the proxy's block stays live and
// is not handed out again. (The host engine frees its large blocks without
// asking the tracker only while no pool nests in another.)
START_TEST(test_proxy_user_pool_at_block_start) {
    umf_memory_provider_handle_t prov = malloc_provider();
    umf_memory_pool_ops_t pops = bump_pool_ops();
    umf_memory_pool_handle_t q;
    ck_assert_int_eq(umfPoolCreate(&pops, prov, NULL, 0, &q), 0);
    unsigned char *a = umfPoolMalloc(q, 100);
    ck_assert_ptr_nonnull(a);
    uintptr_t lo = (uintptr_t)a, hi = lo + BUMP_CHUNK;
    memset(a, 'a', BUMP_CHUNK);
    ck_assert_ptr_eq(umfPoolByPtr(a), q);
    ck_assert_uint_eq(malloc_usable_size(a), 0); // q cannot tell
    // q's free: nothing happens to the proxy's block (`a` stays usable:
    // q's free does nothing; the compiler is not told it is `a`).
    free((void *)opaque(lo));
    ck_assert_ptr_eq(umfPoolByPtr(a), q);
    ck_assert_uint_eq(malloc_usable_size(a), 0);
    // Blocks of the chunk's size and around it never land on it.
    enum { N = 24 };
    void *m[N];
    for (int i = 0; i < N; i++) {
        size_t n = BUMP_CHUNK - 4096 * (size_t)(i % 3);
        m[i] = malloc(n);
        ck_assert_ptr_nonnull(m[i]);
        uintptr_t at = (uintptr_t)m[i];
        ck_assert_msg(at + n <= lo || at >= hi,
                      "malloc(%zu) = %p overlaps the program's pool's chunk "
                      "at %p",
                      n, m[i], (void *)lo);
        memset(m[i], 'm', n);
    }
    ck_assert(all_bytes(a, 'a', BUMP_CHUNK));
    for (int i = 0; i < N; i++) {
        free(m[i]);
    }
    umfPoolDestroy(q);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static Suite *proxy_suite(void) {
    Suite *s = suite_create("proxy_api");
    TCase *tc = tcase_create("semantics");
    tcase_add_test(tc, test_proxy_loaded);
    tcase_add_test(tc, test_proxy_malloc_sizes);
    tcase_add_test(tc, test_proxy_malloc_every_small_size);
    tcase_add_test(tc, test_proxy_malloc_zero_unique);
    tcase_add_test(tc, test_proxy_malloc_enomem);
    tcase_add_test(tc, test_proxy_calloc);
    tcase_add_test(tc, test_proxy_calloc_large);
    tcase_add_test(tc, test_proxy_realloc);
    tcase_add_test(tc, test_proxy_realloc_grow_large);
    tcase_add_test(tc, test_proxy_large_reuse);
    tcase_add_test(tc, test_proxy_reallocarray);
    tcase_add_test(tc, test_proxy_aligned);
    tcase_add_test(tc, test_proxy_valloc);
    tcase_add_test(tc, test_proxy_frees_foreign_memory);
    tcase_add_test(tc, test_proxy_threshold);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_proxy_threads_cross_free);
    tcase_add_test(tc, test_proxy_large_reuse_threads);
    tcase_add_test(tc, test_proxy_fork_threaded_parent);
    suite_add_tcase(s, tc);
    tc = tcase_create("nested_pools");
    tcase_add_loop_test(tc, test_proxy_nested_pool_owner_cache, 0, 6);
    tcase_add_test(tc, test_proxy_user_pool_without_usable_size);
    tcase_add_test(tc, test_proxy_user_pool_at_block_start);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(proxy_suite());
}
