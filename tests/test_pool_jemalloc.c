/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool_jemalloc.c - the jemalloc pool (libjemalloc_pool): params, every
 * allocation call of the contract, provider failures, keep-all, memory given
 * back at destroy, isolation of pools under threads (per-thread, per-pool
 * tcaches), tcaches released at thread exit, thousands of pools in a row,
 * and fork from a threaded parent.
 */

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include <umf/pools/pool_jemalloc.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

// --- Fixtures ---

// A counting test provider; `with_free` false drops its free op.
static umf_memory_provider_handle_t
test_provider(size_t fail_after_bytes, bool with_free, test_prov_t **counters) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    if (!with_free) {
        ops.ext.free = NULL;
    }
    test_prov_params_t params = {.fail_after_bytes = fail_after_bytes};
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, &params, &prov),
                     UMF_RESULT_SUCCESS);
    *counters = test_prov_last;
    return prov;
}

// A provider that keeps freed chunks and hands them out again, so pools
// created one after another reuse memory that is already faulted in.
typedef struct reuse_prov_t {
    pthread_mutex_t lock;
    struct {
        void *ptr;
        size_t size;
    } cache[64];
    size_t ncache, evict;
    _Atomic size_t allocated; // bytes handed out and not freed
} reuse_prov_t;

static reuse_prov_t *reuse_last;

static umf_result_t rp_initialize(void *params, void **priv) {
    (void)params;
    reuse_prov_t *rp = calloc(1, sizeof(*rp));
    if (!rp) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_mutex_init(&rp->lock, NULL);
    reuse_last = rp;
    *priv = rp;
    return UMF_RESULT_SUCCESS;
}

static void rp_finalize(void *priv) {
    reuse_prov_t *rp = priv;
    for (size_t i = 0; i < rp->ncache; i++) {
        munmap(rp->cache[i].ptr, rp->cache[i].size);
    }
    pthread_mutex_destroy(&rp->lock);
    free(rp);
}

static umf_result_t rp_alloc(void *priv, size_t size, size_t align,
                             void **ptr) {
    reuse_prov_t *rp = priv;
    pthread_mutex_lock(&rp->lock);
    for (size_t i = 0; i < rp->ncache; i++) {
        if (rp->cache[i].size == size &&
            (align == 0 || (uintptr_t)rp->cache[i].ptr % align == 0)) {
            *ptr = rp->cache[i].ptr;
            rp->cache[i] = rp->cache[--rp->ncache];
            pthread_mutex_unlock(&rp->lock);
            rp->allocated += size;
            return UMF_RESULT_SUCCESS;
        }
    }
    pthread_mutex_unlock(&rp->lock);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (align < page) {
        align = page;
    }
    char *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    char *a = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    if (a > p) {
        munmap(p, (size_t)(a - p));
    }
    munmap(a + size, (size_t)(p + size + align - (a + size)));
    rp->allocated += size;
    *ptr = a;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t rp_free(void *priv, void *ptr, size_t size) {
    reuse_prov_t *rp = priv;
    rp->allocated -= size;
    void *evict = NULL;
    size_t evict_size = 0;
    pthread_mutex_lock(&rp->lock);
    size_t i = rp->ncache;
    if (i < ARRAY_SIZE(rp->cache)) {
        rp->ncache++;
    } else { // full: the oldest entries give way
        i = rp->evict++ % ARRAY_SIZE(rp->cache);
        evict = rp->cache[i].ptr;
        evict_size = rp->cache[i].size;
    }
    rp->cache[i].ptr = ptr;
    rp->cache[i].size = size;
    pthread_mutex_unlock(&rp->lock);
    if (evict) {
        munmap(evict, evict_size);
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t rp_merge(void *priv, void *low, void *high, size_t total) {
    (void)priv, (void)low, (void)high, (void)total;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t rp_split(void *priv, void *ptr, size_t total,
                             size_t first) {
    (void)priv, (void)ptr, (void)total, (void)first;
    return UMF_RESULT_SUCCESS;
}

static const char *rp_name(void *priv) {
    (void)priv;
    return "reuse";
}

static umf_memory_provider_handle_t reuse_provider(reuse_prov_t **rp) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.initialize = rp_initialize;
    ops.finalize = rp_finalize;
    ops.alloc = rp_alloc;
    ops.ext.free = rp_free;
    ops.ext.purge_lazy = NULL;
    ops.ext.purge_force = NULL;
    ops.ext.allocation_merge = rp_merge;
    ops.ext.allocation_split = rp_split;
    ops.get_name = rp_name;
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov),
                     UMF_RESULT_SUCCESS);
    *rp = reuse_last;
    return prov;
}

static umf_memory_provider_handle_t
os_provider_vis(umf_memory_visibility_t vis) {
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetVisibility(params, vis),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov),
        UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(params);
    return prov;
}

static umf_memory_provider_handle_t os_provider(void) {
    return os_provider_vis(UMF_MEM_MAP_PRIVATE);
}

static umf_memory_pool_handle_t jemalloc_pool(umf_memory_provider_handle_t prov,
                                              bool keep_all,
                                              umf_pool_create_flags_t flags) {
    umf_jemalloc_pool_params_handle_t params;
    ck_assert_int_eq(umfJemallocPoolParamsCreate(&params), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfJemallocPoolParamsSetKeepAllMemory(params, keep_all),
                     UMF_RESULT_SUCCESS);
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(
        umfPoolCreate(umfJemallocPoolOps(), prov, params, flags, &pool),
        UMF_RESULT_SUCCESS);
    // Params are copied: gone before the pool is used.
    ck_assert_int_eq(umfJemallocPoolParamsDestroy(params), UMF_RESULT_SUCCESS);
    return pool;
}

static umf_memory_pool_handle_t os_pool(void) {
    return jemalloc_pool(os_provider(), false,
                         UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
}

// The mallctl of the jemalloc the pool uses, found at run time: the test
// does not link jemalloc, and libjemalloc_pool may hold a private copy.
typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static mallctl_fn jemalloc_mallctl(void) {
    mallctl_fn f = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
                                                "umf_private_jemalloc_mallctl");
    ck_assert_ptr_nonnull((void *)(uintptr_t)f);
    return f;
}

static int iters(int n) {
    int r = n / test_slow_factor();
    return r > 0 ? r : 1;
}

// --- Params ---

START_TEST(test_pool_jemalloc_params_api) {
    ck_assert_int_eq(umfJemallocPoolParamsCreate(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfJemallocPoolParamsDestroy(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfJemallocPoolParamsSetKeepAllMemory(NULL, true),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_jemalloc_pool_params_handle_t params = NULL;
    ck_assert_int_eq(umfJemallocPoolParamsCreate(&params), UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(params);
    ck_assert_int_eq(umfJemallocPoolParamsSetKeepAllMemory(params, true),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfJemallocPoolParamsSetKeepAllMemory(params, false),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfJemallocPoolParamsDestroy(params), UMF_RESULT_SUCCESS);
}
END_TEST

START_TEST(test_pool_jemalloc_null_params) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(umfPoolCreate(umfJemallocPoolOps(), prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t got;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &got), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(got, prov);
    void *p = umfPoolMalloc(pool, 1000);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    // Defaults: keep-all off, so everything went back.
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_uint_gt(t->frees, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_ops_table) {
    umf_memory_pool_ops_t *ops = umfJemallocPoolOps();
    ck_assert_ptr_nonnull(ops);
    ck_assert_uint_eq(ops->version, UMF_VERSION_CURRENT);
    ck_assert_ptr_nonnull(ops->initialize);
    ck_assert_ptr_nonnull(ops->finalize);
    ck_assert_ptr_nonnull(ops->malloc);
    ck_assert_ptr_nonnull(ops->calloc);
    ck_assert_ptr_nonnull(ops->realloc);
    ck_assert_ptr_nonnull(ops->aligned_malloc);
    ck_assert_ptr_nonnull(ops->malloc_usable_size);
    ck_assert_ptr_nonnull(ops->free);
    ck_assert_ptr_nonnull(ops->get_last_allocation_error);
}
END_TEST

// --- Allocation calls ---

START_TEST(test_pool_jemalloc_malloc_free) {
    umf_memory_pool_handle_t pool = os_pool();
    const size_t sizes[] = {1,     8,       100,     4096,   4097,
                            32768, 1 << 20, 3 << 20, 9 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        unsigned char *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x5a, sizes[i]);
        ck_assert_ptr_eq(umfPoolByPtr(p), pool);
        ck_assert_ptr_eq(umfPoolByPtr(p + sizes[i] - 1), pool);
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfFree(NULL), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

// Small blocks go through the magazines (pop on malloc, push on free,
// refill and flush of half a class at a time): small_blocks_distinct.
START_TEST(test_pool_jemalloc_magazine_blocks_distinct) {
    umf_memory_pool_handle_t pool = os_pool();
    small_blocks_distinct(pool);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_malloc_zero) {
    umf_memory_pool_handle_t pool = os_pool();
    void *a = umfPoolMalloc(pool, 0);
    void *b = umfPoolMalloc(pool, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_eq(umfPoolByPtr(a), pool);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfFree(b), UMF_RESULT_SUCCESS);
    void *c = umfPoolAlignedMalloc(pool, 0, 64);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq((uintptr_t)c % 64, 0);
    ck_assert_int_eq(umfPoolFree(pool, c), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_malloc_huge_fails) {
    umf_memory_pool_handle_t pool = os_pool();
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, SIZE_MAX / 2, 4096));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // The pool still works.
    void *p = umfPoolMalloc(pool, 10);
    ck_assert_ptr_nonnull(p);
    umfFree(p);
    umfPoolDestroy(pool);
}
END_TEST

static bool all_zero(const void *p, size_t n) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        if (c[i]) {
            return false;
        }
    }
    return true;
}

START_TEST(test_pool_jemalloc_calloc_zeroes) {
    umf_memory_pool_handle_t pool = os_pool();
    const size_t sizes[] = {1, 24, 1000, 4096, 40000, 1 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        // Dirty a block of this size first so calloc likely reuses it.
        unsigned char *d = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(d);
        memset(d, 0xa5, sizes[i]);
        umfPoolFree(pool, d);
        unsigned char *p = umfPoolCalloc(pool, 1, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_msg(all_zero(p, sizes[i]), "size %zu", sizes[i]);
        umfPoolFree(pool, p);
    }
    unsigned *q = umfPoolCalloc(pool, 1000, sizeof(unsigned));
    ck_assert_ptr_nonnull(q);
    ck_assert(all_zero(q, 1000 * sizeof(unsigned)));
    umfPoolFree(pool, q);
    void *z = umfPoolCalloc(pool, 0, 16);
    ck_assert_ptr_nonnull(z);
    umfPoolFree(pool, z);
    umfPoolDestroy(pool);
}
END_TEST

// On the OS provider calloc lets jemalloc clear only what is not known to
// be zero: fresh provider memory and pages after a forced purge are taken
// as zero. Dirty pages, purged pages (private: MADV_DONTNEED; shared:
// MADV_REMOVE) and reused large blocks must all read back as zeros.
START_TEST(test_pool_jemalloc_calloc_zeroes_after_purge) {
    static const umf_memory_visibility_t vis[] = {UMF_MEM_MAP_PRIVATE,
                                                  UMF_MEM_MAP_SHARED};
    mallctl_fn mallctl = jemalloc_mallctl();
    // keep_all: jemalloc retains what it lets go of, after a forced purge,
    // and reuses it as zero pages.
    for (size_t v = 0; v < 2 * ARRAY_SIZE(vis); v++) {
        bool keep_all = v >= ARRAY_SIZE(vis);
        umf_memory_provider_handle_t prov =
            os_provider_vis(vis[v % ARRAY_SIZE(vis)]);
        umf_memory_pool_handle_t pool =
            jemalloc_pool(prov, keep_all, UMF_POOL_CREATE_FLAG_OWN_PROVIDER);
        const size_t sizes[] = {100, 20000, 300000, 3 << 20, 20 << 20};
        for (int round = 0; round < 3; round++) {
            for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
                unsigned char *d = umfPoolMalloc(pool, sizes[i]);
                ck_assert_ptr_nonnull(d);
                memset(d, 0x5a, sizes[i]);
                umfPoolFree(pool, d);
                if (round == 1) {
                    // Every arena's dirty pages purged now (forced).
                    unsigned all = 4096; // MALLCTL_ARENAS_ALL
                    char name[64];
                    snprintf(name, sizeof(name), "arena.%u.purge", all);
                    ck_assert_int_eq(mallctl(name, NULL, NULL, NULL, 0), 0);
                }
                unsigned char *p = umfPoolCalloc(pool, 1, sizes[i]);
                ck_assert_ptr_nonnull(p);
                ck_assert_msg(all_zero(p, sizes[i]),
                              "visibility %d, keep_all %d, round %d, size %zu",
                              (int)vis[v % ARRAY_SIZE(vis)], keep_all, round,
                              sizes[i]);
                memset(p, 0x77, sizes[i]); // dirty for the next round
                umfPoolFree(pool, p);
            }
        }
        umfPoolDestroy(pool);
    }
}
END_TEST

START_TEST(test_pool_jemalloc_calloc_overflow) {
    umf_memory_pool_handle_t pool = os_pool();
    ck_assert_ptr_null(umfPoolCalloc(pool, SIZE_MAX / 2, 3));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolCalloc(pool, 3, SIZE_MAX / 2));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolCalloc(pool, (SIZE_MAX >> 1) + 2, 2));
    umfPoolDestroy(pool);
}
END_TEST

static unsigned char pattern(size_t i) {
    return (unsigned char)(i * 7 + 1);
}

// True when p[0, n) holds pattern(i) at every i.
static bool has_pattern(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != pattern(i)) {
            return false;
        }
    }
    return true;
}

START_TEST(test_pool_jemalloc_realloc_keeps_contents) {
    umf_memory_pool_handle_t pool = os_pool();
    unsigned char *p = umfPoolRealloc(pool, NULL, 10); // = malloc
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    size_t size = 10;
    for (size_t i = 0; i < size; i++) {
        p[i] = pattern(i);
    }
    const size_t grow[] = {100, 5000, 70000, 3 << 20, 8 << 20};
    for (size_t g = 0; g < ARRAY_SIZE(grow); g++) {
        p = umfPoolRealloc(pool, p, grow[g]);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_eq(umfPoolByPtr(p + grow[g] - 1), pool);
        ck_assert(has_pattern(p, size));
        for (size_t i = size; i < grow[g]; i++) {
            p[i] = pattern(i);
        }
        size = grow[g];
    }
    const size_t shrink[] = {1 << 20, 3000, 17};
    for (size_t g = 0; g < ARRAY_SIZE(shrink); g++) {
        p = umfPoolRealloc(pool, p, shrink[g]);
        ck_assert_ptr_nonnull(p);
        ck_assert(has_pattern(p, shrink[g]));
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), shrink[g]);
    }
    umfPoolFree(pool, p);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_realloc_zero_frees) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, false, 0);
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX)); // last error: OOM
    void *p = umfPoolMalloc(pool, 8 << 20);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    // Growing past anything the provider can give fails and keeps p.
    p = umfPoolMalloc(pool, 100);
    strcpy(p, "kept");
    ck_assert_ptr_null(umfPoolRealloc(pool, p, SIZE_MAX - 4096));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_str_eq(p, "kept");
    umfPoolFree(pool, p);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_aligned_malloc) {
    umf_memory_pool_handle_t pool = os_pool();
    for (size_t a = 1; a <= (size_t)2 << 20; a <<= 1) {
        const size_t sizes[] = {1, 100, a, 3 * a + 1};
        for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
            unsigned char *p = umfPoolAlignedMalloc(pool, sizes[i], a);
            ck_assert_msg(p != NULL, "size %zu alignment %zu", sizes[i], a);
            ck_assert_uint_eq((uintptr_t)p % a, 0);
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[i]);
            p[0] = 1;
            p[sizes[i] - 1] = 2;
            ck_assert_ptr_eq(umfPoolByPtr(p + sizes[i] - 1), pool);
            ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
        }
    }
    void *p = umfPoolAlignedMalloc(pool, 100, 0); // 0 = malloc
    ck_assert_ptr_nonnull(p);
    umfFree(p);
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_aligned_malloc_bad_alignment) {
    umf_memory_pool_handle_t pool = os_pool();
    const size_t bad[] = {3, 24, 4095, 3 * 4096, SIZE_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 64, bad[i]));
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
    }
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_usable_size) {
    umf_memory_pool_handle_t pool = os_pool();
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, NULL), 0);
    for (size_t s = 1; s < ((size_t)4 << 20); s = s * 3 + 1) {
        unsigned char *p = umfPoolMalloc(pool, s);
        ck_assert_ptr_nonnull(p);
        size_t u = umfPoolMallocUsableSize(pool, p);
        ck_assert_uint_ge(u, s);
        memset(p, 0x11, u); // all of it is ours
        umfPoolFree(pool, p);
    }
    umfPoolDestroy(pool);
}
END_TEST

START_TEST(test_pool_jemalloc_by_ptr_interior) {
    umf_memory_pool_handle_t a = os_pool();
    umf_memory_pool_handle_t b = os_pool();
    const size_t sizes[] = {16, 3000, 100000, 5 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        char *pa = umfPoolMalloc(a, sizes[i]);
        char *pb = umfPoolMalloc(b, sizes[i]);
        ck_assert_ptr_nonnull(pa);
        ck_assert_ptr_nonnull(pb);
        for (size_t off = 0; off < sizes[i]; off += sizes[i] / 7 + 1) {
            ck_assert_ptr_eq(umfPoolByPtr(pa + off), a);
            ck_assert_ptr_eq(umfPoolByPtr(pb + off), b);
        }
        ck_assert_ptr_eq(umfPoolByPtr(pa + sizes[i] - 1), a);
        // umfFree finds the owner of each.
        ck_assert_int_eq(umfFree(pb), UMF_RESULT_SUCCESS);
        ck_assert_int_eq(umfFree(pa), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(a);
    umfPoolDestroy(b);
}
END_TEST

START_TEST(test_pool_jemalloc_disable_tracking) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    umf_memory_pool_handle_t pool =
        jemalloc_pool(prov, false, UMF_POOL_CREATE_FLAG_DISABLE_TRACKING);
    void *p = umfPoolMalloc(pool, 300);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(umfPoolByPtr(p)); // invisible without tracking
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    p = umfPoolMalloc(pool, 4 << 20);
    ck_assert_ptr_nonnull(p);
    umfPoolDestroy(pool); // jemalloc knows every extent's size
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static void *last_error_thread(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    void *p = umfPoolMalloc(pool, 10);
    umf_result_t r = umfPoolGetLastAllocationError(pool);
    umfFree(p);
    return (void *)(uintptr_t)r;
}

START_TEST(test_pool_jemalloc_last_error_per_thread) {
    umf_memory_pool_handle_t pool = os_pool();
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX));
    pthread_t th;
    void *r;
    ck_assert_int_eq(pthread_create(&th, NULL, last_error_thread, pool), 0);
    pthread_join(th, &r);
    ck_assert_uint_eq((uintptr_t)r, UMF_RESULT_SUCCESS);
    // Not reset by later successful calls.
    void *p = umfPoolMalloc(pool, 10);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    umfFree(p);
    umfPoolDestroy(pool);
}
END_TEST

// --- Provider failures, keep-all, destroy ---

START_TEST(test_pool_jemalloc_provider_out_of_memory) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(16 << 20, true, &t);
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, false, 0);
    ck_assert_ptr_null(umfPoolMalloc(pool, 32 << 20));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // Fill the provider up in pieces until it refuses.
    void *held[200];
    size_t n = 0;
    while (n < ARRAY_SIZE(held)) {
        void *p = umfPoolMalloc(pool, 256 << 10);
        if (!p) {
            break;
        }
        ck_assert_ptr_eq(umfPoolByPtr(p), pool);
        held[n++] = p;
    }
    ck_assert_uint_lt(n, ARRAY_SIZE(held));
    ck_assert_uint_gt(n, 10);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_uint_le(t->allocated, 16 << 20);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(umfPoolFree(pool, held[i]), UMF_RESULT_SUCCESS);
    }
    void *p = umfPoolMalloc(pool, 256 << 10); // freed memory serves again
    ck_assert_ptr_nonnull(p);
    umfPoolFree(pool, p);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_create_takes_nothing_from_provider) {
    // The arenas' own metadata lives in host memory: creating a pool on a
    // provider with only 1 MiB takes nothing from it, and allocations that
    // do not fit fail cleanly while small ones work.
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(1 << 20, true, &t);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfJemallocPoolOps(), prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(t->allocs, 0);
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_ptr_null(umfPoolMalloc(pool, 2 << 20));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    void *p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_uint_eq(t->allocs, t->frees);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static void churn(umf_memory_pool_handle_t pool, int n) {
    void *held[64];
    for (int r = 0; r < n; r++) {
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            held[i] = umfPoolMalloc(pool, (i * 4099 + (size_t)r) % 70000 + 1);
            ck_assert_ptr_nonnull(held[i]);
        }
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            ck_assert_int_eq(umfPoolFree(pool, held[i]), UMF_RESULT_SUCCESS);
        }
    }
}

START_TEST(test_pool_jemalloc_keep_all_never_frees) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, true, 0);
    churn(pool, 20);
    void *big = umfPoolMalloc(pool, 12 << 20);
    ck_assert_ptr_nonnull(big);
    umfPoolFree(pool, big);
    void *live = umfPoolMalloc(pool, 5000);
    ck_assert_ptr_nonnull(live);
    size_t before = t->allocated;
    ck_assert_uint_gt(before, 12 << 20);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->frees, 0);
    ck_assert_uint_eq(t->allocated, before);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_keep_all_provider_without_free) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, false, &t);
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, true, 0);
    churn(pool, 20);
    void *big = umfPoolMalloc(pool, 6 << 20);
    ck_assert_ptr_nonnull(big);
    memset(big, 1, 6 << 20);
    umfPoolFree(pool, big);
    big = umfPoolMalloc(pool, 6 << 20); // served again, no provider free
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_eq(umfPoolByPtr(big), pool);
    umfPoolDestroy(pool); // with a live block
    ck_assert_uint_eq(t->frees, 0);
    ck_assert_uint_gt(t->allocated, 6 << 20);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_destroy_returns_memory) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, false, 0);
    for (size_t s = 8; s < ((size_t)16 << 20); s = s * 2 + 8) {
        for (int i = 0; i < 8; i++) {
            void *p = umfPoolMalloc(pool, s);
            ck_assert_ptr_nonnull(p);
            memset(p, 3, s);
            if (i % 2) {
                umfPoolFree(pool, p); // some cached, most live
            }
        }
    }
    ck_assert_uint_gt(t->allocated, 16 << 20);
    umfPoolDestroy(pool);
    ck_assert_uint_eq(t->allocated, 0);
    ck_assert_uint_gt(t->frees, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_many_pools_in_a_row) {
    // Arena indices, slots and (on this provider) memory are reused.
    reuse_prov_t *rp;
    umf_memory_provider_handle_t prov = reuse_provider(&rp);
    int n = iters(5000);
    for (int i = 0; i < n; i++) {
        umf_memory_pool_handle_t pool;
        ck_assert_int_eq(
            umfPoolCreate(umfJemallocPoolOps(), prov, NULL, 0, &pool),
            UMF_RESULT_SUCCESS);
        char *p = umfPoolMalloc(pool, 100 + (size_t)i % 5000);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_eq(umfPoolByPtr(p), pool);
        p[0] = 1;
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
        if (i % 2) {
            ck_assert_ptr_nonnull(umfPoolMalloc(pool, 50)); // live at destroy
        }
        umfPoolDestroy(pool);
        ck_assert_uint_eq(rp->allocated, 0);
    }
    umfMemoryProviderDestroy(prov);
}
END_TEST

// More pools alive at once than threads have tcache slots for (128): the
// last ones run without tcaches.
START_TEST(test_pool_jemalloc_many_pools_at_once) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = test_provider(0, true, &t);
    enum { N = 140 };
    static umf_memory_pool_handle_t pools[N];
    static void *ptrs[N];
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(
            umfPoolCreate(umfJemallocPoolOps(), prov, NULL, 0, &pools[i]),
            UMF_RESULT_SUCCESS);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            ptrs[i] = umfPoolMalloc(pools[i], 200);
            ck_assert_ptr_nonnull(ptrs[i]);
            ck_assert_ptr_eq(umfPoolByPtr(ptrs[i]), pools[i]);
        }
        for (int i = 0; i < N; i++) {
            ck_assert_int_eq(umfFree(ptrs[i]), UMF_RESULT_SUCCESS);
        }
    }
    for (int i = 0; i < N; i++) {
        umfPoolDestroy(pools[i]);
    }
    ck_assert_uint_eq(t->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_jemalloc_os_provider_split_merge) {
    // The OS provider really splits and merges; jemalloc does both as it
    // carves and coalesces extents.
    umf_memory_pool_handle_t pool = os_pool();
    void *held[256];
    for (int r = 0; r < 4; r++) {
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            held[i] = umfPoolMalloc(pool, (i % 17 + 1) * 20000);
            ck_assert_ptr_nonnull(held[i]);
            ck_assert_ptr_eq(umfPoolByPtr(held[i]), pool);
        }
        for (size_t i = 0; i < ARRAY_SIZE(held); i += 2) {
            umfPoolFree(pool, held[i]);
        }
        for (size_t i = 1; i < ARRAY_SIZE(held); i += 2) {
            umfPoolFree(pool, held[i]);
        }
    }
    umfPoolDestroy(pool);
}
END_TEST

// A provider that remembers what it handed out and counts frees of ranges
// that are not one whole earlier allocation. jemalloc (with "retain")
// assumes address ranges never go back piecemeal: if one did, another arena
// could map the range and jemalloc would coalesce extents of two arenas.
typedef struct whole_prov_t {
    pthread_mutex_t lock;
    struct {
        uintptr_t base;
        size_t size;
    } live[4096];
    size_t nlive;
    _Atomic size_t partial_frees, whole_frees;
} whole_prov_t;

static whole_prov_t whole_prov = {.lock = PTHREAD_MUTEX_INITIALIZER};

static umf_result_t wp_alloc(void *priv, size_t size, size_t align,
                             void **ptr) {
    umf_result_t ret = rp_alloc(priv, size, align, ptr);
    if (ret == UMF_RESULT_SUCCESS) {
        pthread_mutex_lock(&whole_prov.lock);
        ck_assert_uint_lt(whole_prov.nlive, ARRAY_SIZE(whole_prov.live));
        whole_prov.live[whole_prov.nlive].base = (uintptr_t)*ptr;
        whole_prov.live[whole_prov.nlive++].size = size;
        pthread_mutex_unlock(&whole_prov.lock);
    }
    return ret;
}

static umf_result_t wp_free(void *priv, void *ptr, size_t size) {
    bool whole = false;
    pthread_mutex_lock(&whole_prov.lock);
    for (size_t i = 0; i < whole_prov.nlive; i++) {
        if (whole_prov.live[i].base == (uintptr_t)ptr &&
            whole_prov.live[i].size == size) {
            whole_prov.live[i] = whole_prov.live[--whole_prov.nlive];
            whole = true;
            break;
        }
    }
    pthread_mutex_unlock(&whole_prov.lock);
    if (whole) {
        whole_prov.whole_frees++;
    } else {
        whole_prov.partial_frees++;
    }
    ((reuse_prov_t *)priv)->allocated -= size;
    munmap(ptr, size); // never reused by this provider: the OS may reuse it
    return UMF_RESULT_SUCCESS;
}

START_TEST(test_pool_jemalloc_frees_only_whole_allocations) {
    reuse_prov_t *rp;
    umf_memory_provider_handle_t prov;
    {
        umf_memory_provider_ops_t ops = test_provider_ops();
        ops.initialize = rp_initialize;
        ops.finalize = rp_finalize;
        ops.alloc = wp_alloc;
        ops.ext.free = wp_free;
        ops.ext.purge_lazy = NULL;
        ops.ext.purge_force = NULL;
        ops.ext.allocation_merge = rp_merge;
        ops.ext.allocation_split = rp_split;
        ops.get_name = rp_name;
        ck_assert_int_eq(umfMemoryProviderCreate(&ops, NULL, &prov),
                         UMF_RESULT_SUCCESS);
        rp = reuse_last;
    }
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, false, 0);
    mallctl_fn mallctl_ = jemalloc_mallctl();
    void *held[256];
    for (int r = 0; r < 8; r++) {
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            held[i] = umfPoolMalloc(pool, (i % 29 + 1) * 9000 + (size_t)r);
            ck_assert_ptr_nonnull(held[i]);
        }
        // Free every other block, then purge: jemalloc gives the dirty
        // extents to the dalloc hook, each a piece of a larger allocation.
        for (size_t i = r % 2; i < ARRAY_SIZE(held); i += 2) {
            ck_assert_int_eq(umfPoolFree(pool, held[i]), UMF_RESULT_SUCCESS);
            held[i] = NULL;
        }
        ck_assert_int_eq(mallctl_("arena.4096.purge", NULL, NULL, NULL, 0), 0);
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            if (held[i]) {
                ck_assert_int_eq(umfPoolFree(pool, held[i]),
                                 UMF_RESULT_SUCCESS);
            }
        }
        ck_assert_int_eq(mallctl_("arena.4096.purge", NULL, NULL, NULL, 0), 0);
    }
    // Blocks larger than any extent grown so far get their own allocation.
    void *big = umfPoolMalloc(pool, (size_t)512 << 20);
    ck_assert_ptr_nonnull(big);
    ck_assert_int_eq(umfPoolFree(pool, big), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(mallctl_("arena.4096.purge", NULL, NULL, NULL, 0), 0);
    ck_assert_uint_eq(whole_prov.partial_frees, 0);
    umfPoolDestroy(pool); // pieces may go back now: the arena is gone
    ck_assert_uint_eq(rp->allocated, 0);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- Isolation between pools under threads ---

enum { ISO_THREADS = 8, ISO_SLOTS = 512 };

typedef struct iso_hdr_t {
    uint64_t id;
    uint64_t size; // bytes, a multiple of 8, >= sizeof(iso_hdr_t)
    uint64_t pool; // index in iso_pools
} iso_hdr_t;

static umf_memory_pool_handle_t iso_pools[2];
static _Atomic(iso_hdr_t *) iso_slots[ISO_SLOTS];
static _Atomic uint64_t iso_next_id = 1;

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// Checks a block is intact (no one else was handed it) and frees it.
static const char *iso_check_free(iso_hdr_t *h, uint64_t r) {
    umf_memory_pool_handle_t pool = iso_pools[h->pool];
    if (umfPoolByPtr(h) != pool ||
        umfPoolByPtr((char *)h + h->size - 1) != pool) {
        return "block outside its pool's chunks";
    }
    uint64_t *w = (uint64_t *)h;
    for (size_t i = sizeof(*h) / 8; i < h->size / 8; i++) {
        if (w[i] != h->id) {
            return "block overwritten: handed out twice";
        }
    }
    h->id = 0;
    umf_result_t ret = (r & 1) ? umfFree(h) : umfPoolFree(pool, h);
    return ret == UMF_RESULT_SUCCESS ? NULL : "free failed";
}

static const char *iso_alloc(uint64_t r, iso_hdr_t **out) {
    uint64_t k = (r >> 8) & 1;
    umf_memory_pool_handle_t pool = iso_pools[k];
    size_t size =
        (r >> 16) % 16 == 0 ? 4096 + (r >> 24) % 60000 : 24 + (r >> 24) % 400;
    size &= ~(size_t)7;
    iso_hdr_t *h;
    switch ((r >> 4) % 4) {
    case 0:
        h = umfPoolCalloc(pool, 1, size);
        break;
    case 1:
        h = umfPoolAlignedMalloc(pool, size, 64);
        break;
    case 2:
        h = umfPoolRealloc(pool, NULL, size);
        break;
    default:
        h = umfPoolMalloc(pool, size);
        break;
    }
    if (!h) {
        return "allocation failed";
    }
    if (umfPoolByPtr(h) != pool || umfPoolByPtr((char *)h + size - 1) != pool) {
        return "new block outside its pool's chunks";
    }
    if (umfPoolMallocUsableSize(pool, h) < size) {
        return "usable size below request";
    }
    h->id = atomic_fetch_add(&iso_next_id, 1);
    h->size = size;
    h->pool = k;
    uint64_t *w = (uint64_t *)h;
    for (size_t i = sizeof(*h) / 8; i < size / 8; i++) {
        w[i] = h->id;
    }
    *out = h;
    return NULL;
}

static void *iso_thread(void *arg) {
    uint64_t seed = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    int n = iters(20000);
    for (int it = 0; it < n; it++) {
        uint64_t r = xorshift(&seed);
        // Take a block some thread left, check it, free it.
        iso_hdr_t *old = atomic_exchange(&iso_slots[r % ISO_SLOTS], NULL);
        if (old) {
            const char *err = iso_check_free(old, r >> 32);
            if (err) {
                return (void *)err;
            }
        }
        iso_hdr_t *h;
        const char *err = iso_alloc(xorshift(&seed), &h);
        if (err) {
            return (void *)err;
        }
        old = atomic_exchange(&iso_slots[xorshift(&seed) % ISO_SLOTS], h);
        if (old && (err = iso_check_free(old, r >> 40))) {
            return (void *)err;
        }
    }
    return NULL;
}

START_TEST(test_pool_jemalloc_isolation_threads) {
    test_prov_t *t[2];
    umf_memory_provider_handle_t prov[2];
    for (int i = 0; i < 2; i++) {
        prov[i] = test_provider(0, true, &t[i]);
        iso_pools[i] = jemalloc_pool(prov[i], false, 0);
    }
    pthread_t th[ISO_THREADS];
    for (uintptr_t i = 0; i < ISO_THREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, iso_thread, (void *)i),
                         0);
    }
    const char *first_err = NULL;
    for (int i = 0; i < ISO_THREADS; i++) {
        void *err;
        pthread_join(th[i], &err);
        if (err && !first_err) {
            first_err = err;
        }
    }
    ck_assert_msg(first_err == NULL, "%s", first_err);
    for (size_t i = 0; i < ISO_SLOTS; i++) {
        iso_hdr_t *h = atomic_exchange(&iso_slots[i], NULL);
        if (h) {
            const char *err = iso_check_free(h, i);
            ck_assert_msg(err == NULL, "%s", err);
        }
    }
    for (int i = 0; i < 2; i++) {
        umfPoolDestroy(iso_pools[i]);
        ck_assert_uint_eq(t[i]->allocated, 0);
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

// --- Thread caches across thread exit and pool destroy ---

static umf_memory_pool_handle_t te_pools[2];

// Leaves blocks of both pools in this thread's caches, one block live.
static void *te_thread(void *arg) {
    void **keep = arg;
    for (int k = 0; k < 2; k++) {
        void *held[32];
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            held[i] = umfPoolMalloc(te_pools[k], 16 + i * 100);
            if (!held[i] || umfPoolByPtr(held[i]) != te_pools[k]) {
                return (void *)"allocation failed or in the wrong pool";
            }
        }
        for (size_t i = 1; i < ARRAY_SIZE(held); i++) {
            umfPoolFree(te_pools[k], held[i]);
        }
        keep[k] = held[0];
    }
    return NULL;
}

START_TEST(test_pool_jemalloc_thread_exit_releases_tcaches) {
    test_prov_t *t[2];
    umf_memory_provider_handle_t prov[2];
    for (int i = 0; i < 2; i++) {
        prov[i] = test_provider(0, true, &t[i]);
        te_pools[i] = jemalloc_pool(prov[i], false, 0);
    }
    enum { BATCH = 8 };
    int rounds = iters(200) / BATCH + 1;
    for (int r = 0; r < rounds; r++) {
        pthread_t th[BATCH];
        void *keep[BATCH][2];
        for (int i = 0; i < BATCH; i++) {
            ck_assert_int_eq(pthread_create(&th[i], NULL, te_thread, keep[i]),
                             0);
        }
        for (int i = 0; i < BATCH; i++) {
            void *err;
            pthread_join(th[i], &err);
            ck_assert_msg(err == NULL, "%s", (char *)err);
            // Blocks of an exited thread are freed here.
            ck_assert_int_eq(umfFree(keep[i][0]), UMF_RESULT_SUCCESS);
            ck_assert_int_eq(umfPoolFree(te_pools[1], keep[i][1]),
                             UMF_RESULT_SUCCESS);
        }
    }
    // 400 tcaches were made; had they leaked, a new one would get a high
    // index (jemalloc hands freed indices out again first).
    mallctl_fn mallctl_ = jemalloc_mallctl();
    unsigned tc;
    size_t sz = sizeof(tc);
    ck_assert_int_eq(mallctl_("tcache.create", &tc, &sz, NULL, 0), 0);
    ck_assert_uint_lt(tc, 2 * BATCH + 8);
    ck_assert_int_eq(mallctl_("tcache.destroy", NULL, NULL, &tc, sizeof(tc)),
                     0);
    for (int i = 0; i < 2; i++) {
        umfPoolDestroy(te_pools[i]);
        ck_assert_uint_eq(t[i]->allocated, 0);
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

// Bytes of small blocks jemalloc counts as allocated, all arenas.
static size_t small_allocated(mallctl_fn mallctl_) {
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    ck_assert_int_eq(mallctl_("epoch", &epoch, &sz, &epoch, sz), 0);
    size_t v = 0;
    sz = sizeof(v);
    // 4096: MALLCTL_ARENAS_ALL
    ck_assert_int_eq(
        mallctl_("stats.arenas.4096.small.allocated", &v, &sz, NULL, 0), 0);
    return v;
}

static umf_memory_pool_handle_t mx_pool;

// Fills this thread's magazines of four classes and exits holding them.
static void *mx_thread(void *arg) {
    (void)arg;
    return (void *)fill_small_magazines(mx_pool);
}

// Thread exit gives the blocks cached in its magazines back to a pool
// that is still alive (jemalloc's count of allocated bytes comes back).
START_TEST(test_pool_jemalloc_thread_exit_empties_magazines) {
    mallctl_fn mallctl_ = jemalloc_mallctl();
    bool stats = false;
    size_t sz = sizeof(stats);
    if (mallctl_("config.stats", &stats, &sz, NULL, 0) != 0 || !stats) {
        printf("SKIP: this jemalloc keeps no statistics (config.stats)\n");
        return;
    }
    mx_pool = os_pool();
    // A first thread makes what jemalloc keeps after a thread (per-thread
    // structures it reuses); the second is measured.
    for (int round = 0; round < 2; round++) {
        size_t before = small_allocated(mallctl_);
        pthread_t th;
        void *err;
        ck_assert_int_eq(pthread_create(&th, NULL, mx_thread, NULL), 0);
        pthread_join(th, &err);
        ck_assert_msg(err == NULL, "%s", (char *)err);
        size_t after = small_allocated(mallctl_);
        if (round == 1) {
            // 16 to 32 blocks of each class were cached: at least 15 KiB.
            ck_assert_msg(after <= before + 4096,
                          "%zu bytes of small blocks still allocated after "
                          "the thread exited (%zu before)",
                          after, before);
        }
    }
    umfPoolDestroy(mx_pool);
}
END_TEST

enum { DB_THREADS = 4 };
static pthread_barrier_t db_barrier;
static umf_memory_pool_handle_t db_pools[3];

static const char *db_use(umf_memory_pool_handle_t pool) {
    void *held[40];
    for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
        held[i] = umfPoolMalloc(pool, 8 + i * 37);
        if (!held[i] || umfPoolByPtr(held[i]) != pool) {
            return "allocation failed or in the wrong pool";
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
        umfPoolFree(pool, held[i]);
    }
    return NULL;
}

static void *db_thread(void *arg) {
    (void)arg;
    const char *err = db_use(db_pools[0]);
    if (!err) {
        err = db_use(db_pools[1]);
    }
    pthread_barrier_wait(&db_barrier); // main destroys pools 0 and 1
    pthread_barrier_wait(&db_barrier); // main created pool 2
    for (int i = 0; i < 3 && !err; i++) {
        err = db_use(db_pools[2]); // takes a slot with a stale entry here
    }
    return (void *)err; // exits holding a stale entry and a live one
}

START_TEST(test_pool_jemalloc_destroy_before_thread_exit) {
    test_prov_t *t[3];
    umf_memory_provider_handle_t prov[3];
    for (int i = 0; i < 3; i++) {
        prov[i] = test_provider(0, true, &t[i]);
    }
    db_pools[0] = jemalloc_pool(prov[0], false, 0);
    db_pools[1] = jemalloc_pool(prov[1], false, 0);
    pthread_barrier_init(&db_barrier, NULL, DB_THREADS + 1);
    pthread_t th[DB_THREADS];
    for (int i = 0; i < DB_THREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, db_thread, NULL), 0);
    }
    pthread_barrier_wait(&db_barrier);
    // Destroyed while the threads hold tcaches for them.
    umfPoolDestroy(db_pools[0]);
    umfPoolDestroy(db_pools[1]);
    ck_assert_uint_eq(t[0]->allocated, 0);
    ck_assert_uint_eq(t[1]->allocated, 0);
    db_pools[2] = jemalloc_pool(prov[2], false, 0);
    pthread_barrier_wait(&db_barrier);
    for (int i = 0; i < DB_THREADS; i++) {
        void *err;
        pthread_join(th[i], &err);
        ck_assert_msg(err == NULL, "%s", (char *)err);
    }
    ck_assert_str_eq(db_use(db_pools[2]) ? "failed" : "ok", "ok");
    umfPoolDestroy(db_pools[2]);
    ck_assert_uint_eq(t[2]->allocated, 0);
    pthread_barrier_destroy(&db_barrier);
    for (int i = 0; i < 3; i++) {
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

// --- fork ---

static _Atomic int fork_stop;

static void *fork_churn(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    uint64_t seed = (uintptr_t)pthread_self() | 1;
    while (!atomic_load(&fork_stop)) {
        void *held[16];
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            held[i] = umfPoolMalloc(pool, xorshift(&seed) % 50000 + 1);
            if (!held[i]) {
                return (void *)1;
            }
        }
        for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
            umfFree(held[i]);
        }
    }
    return NULL;
}

static int fork_child_work(umf_memory_pool_handle_t pool, const char *kept) {
    if (umfPoolByPtr(kept) != pool || strcmp(kept, "parent") != 0) {
        return 2;
    }
    for (int i = 0; i < 100; i++) {
        char *p = umfPoolMalloc(pool, (size_t)i * 1000 + 1);
        if (!p || umfPoolByPtr(p) != pool) {
            return 3;
        }
        p[0] = 'c';
        if (umfFree(p) != UMF_RESULT_SUCCESS) {
            return 4;
        }
    }
    // A new pool in the child, destroyed there.
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t fresh;
    if (umfPoolGetMemoryProvider(pool, &prov) != UMF_RESULT_SUCCESS ||
        umfPoolCreate(umfJemallocPoolOps(), prov, NULL, 0, &fresh) !=
            UMF_RESULT_SUCCESS) {
        return 5;
    }
    void *q = umfPoolMalloc(fresh, 5000);
    if (!q || umfPoolByPtr(q) != fresh) {
        return 6;
    }
    umfPoolDestroy(fresh);
    return 0;
}

START_TEST(test_pool_jemalloc_fork_threaded_parent) {
    umf_memory_provider_handle_t prov = os_provider();
    umf_memory_pool_handle_t pool = jemalloc_pool(prov, false, 0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, fork_churn, pool), 0);
    }
    int rounds = iters(20);
    for (int r = 0; r < rounds; r++) {
        char *kept = umfPoolMalloc(pool, 4096);
        ck_assert_ptr_nonnull(kept);
        strcpy(kept, "parent");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60); // a deadlock fails the test instead of hanging it
            _exit(fork_child_work(pool, kept));
        }
        ck_assert_int_gt(pid, 0);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st), "child killed by signal %d",
                      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        ck_assert_int_eq(WEXITSTATUS(st), 0);
        umfFree(kept);
    }
    atomic_store(&fork_stop, 1);
    for (int i = 0; i < 3; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        ck_assert_ptr_null(bad);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

static Suite *pool_jemalloc_suite(void) {
    Suite *s = suite_create("pool_jemalloc");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_pool_jemalloc_params_api);
    tcase_add_test(tc, test_pool_jemalloc_null_params);
    tcase_add_test(tc, test_pool_jemalloc_ops_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("alloc");
    tcase_add_test(tc, test_pool_jemalloc_malloc_free);
    tcase_add_test(tc, test_pool_jemalloc_magazine_blocks_distinct);
    tcase_add_test(tc, test_pool_jemalloc_malloc_zero);
    tcase_add_test(tc, test_pool_jemalloc_malloc_huge_fails);
    tcase_add_test(tc, test_pool_jemalloc_calloc_zeroes);
    tcase_add_test(tc, test_pool_jemalloc_calloc_zeroes_after_purge);
    tcase_add_test(tc, test_pool_jemalloc_calloc_overflow);
    tcase_add_test(tc, test_pool_jemalloc_realloc_keeps_contents);
    tcase_add_test(tc, test_pool_jemalloc_realloc_zero_frees);
    tcase_add_test(tc, test_pool_jemalloc_aligned_malloc);
    tcase_add_test(tc, test_pool_jemalloc_aligned_malloc_bad_alignment);
    tcase_add_test(tc, test_pool_jemalloc_usable_size);
    tcase_add_test(tc, test_pool_jemalloc_by_ptr_interior);
    tcase_add_test(tc, test_pool_jemalloc_disable_tracking);
    tcase_add_test(tc, test_pool_jemalloc_last_error_per_thread);
    suite_add_tcase(s, tc);

    tc = tcase_create("provider");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pool_jemalloc_provider_out_of_memory);
    tcase_add_test(tc, test_pool_jemalloc_create_takes_nothing_from_provider);
    tcase_add_test(tc, test_pool_jemalloc_keep_all_never_frees);
    tcase_add_test(tc, test_pool_jemalloc_keep_all_provider_without_free);
    tcase_add_test(tc, test_pool_jemalloc_destroy_returns_memory);
    tcase_add_test(tc, test_pool_jemalloc_many_pools_in_a_row);
    tcase_add_test(tc, test_pool_jemalloc_many_pools_at_once);
    tcase_add_test(tc, test_pool_jemalloc_os_provider_split_merge);
    tcase_add_test(tc, test_pool_jemalloc_frees_only_whole_allocations);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_pool_jemalloc_isolation_threads);
    tcase_add_test(tc, test_pool_jemalloc_thread_exit_releases_tcaches);
    tcase_add_test(tc, test_pool_jemalloc_thread_exit_empties_magazines);
    tcase_add_test(tc, test_pool_jemalloc_destroy_before_thread_exit);
    tcase_add_test(tc, test_pool_jemalloc_fork_threaded_parent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(pool_jemalloc_suite());
}
