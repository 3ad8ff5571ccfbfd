/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pool_scalable.c - the scalable pool (tbbmalloc) on a recording
 * user-written provider: params API, NULL params, a missing or wrong
 * tbbmalloc, granularity, provider out of memory, every allocation call,
 * ownership lookups, destroy returning everything, last error per thread,
 * threads freeing each other's memory, two pools that never mix memory.
 *
 * Without a loadable libtbbmalloc.so.2 only the missing-library tests run,
 * then the binary reports SKIP (exit 77).
 */

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <umf.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

#define MiB              ((size_t)1 << 20)
#define TBB_DEFAULT_NAME "libtbbmalloc.so.2"

// --- A recording provider: the test provider, plus every chunk it gave ---

typedef struct rec_chunk_t {
    test_prov_t *owner;
    uintptr_t base;
    size_t size;
    bool live;
} rec_chunk_t;

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static rec_chunk_t rec_chunks[8192];
static size_t rec_nchunks;
static _Atomic size_t rec_requests; // every alloc call, refused ones too

static umf_result_t rec_alloc(void *priv, size_t size, size_t align,
                              void **ptr) {
    rec_requests++;
    umf_result_t r = tp_alloc(priv, size, align, ptr);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    pthread_mutex_lock(&rec_lock);
    if (rec_nchunks < ARRAY_SIZE(rec_chunks)) {
        rec_chunks[rec_nchunks++] =
            (rec_chunk_t){priv, (uintptr_t)*ptr, size, true};
    }
    pthread_mutex_unlock(&rec_lock);
    return r;
}

static umf_result_t rec_free(void *priv, void *ptr, size_t size) {
    pthread_mutex_lock(&rec_lock);
    for (size_t i = 0; i < rec_nchunks; i++) {
        if (rec_chunks[i].live && rec_chunks[i].owner == priv &&
            rec_chunks[i].base == (uintptr_t)ptr) {
            rec_chunks[i].live = false;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return tp_free(priv, ptr, size);
}

// The live chunk holding [p, p+size) whole, or none (owner NULL).
static rec_chunk_t rec_find(const void *p, size_t size) {
    rec_chunk_t found = {0};
    uintptr_t a = (uintptr_t)p;
    pthread_mutex_lock(&rec_lock);
    for (size_t i = 0; i < rec_nchunks; i++) {
        const rec_chunk_t *c = &rec_chunks[i];
        if (c->live && a >= c->base && a + size <= c->base + c->size) {
            found = *c;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    return found;
}

// Checks every chunk `owner` was ever given against the granularity.
static void rec_check_granularity(test_prov_t *owner, size_t granularity) {
    size_t n = 0;
    pthread_mutex_lock(&rec_lock);
    for (size_t i = 0; i < rec_nchunks; i++) {
        if (rec_chunks[i].owner == owner) {
            ck_assert_uint_ge(rec_chunks[i].size, granularity);
            ck_assert_uint_eq(rec_chunks[i].size % granularity, 0);
            n++;
        }
    }
    pthread_mutex_unlock(&rec_lock);
    ck_assert_uint_gt(n, 0);
}

static umf_memory_provider_handle_t rec_provider(size_t fail_after_bytes,
                                                 test_prov_t **out) {
    umf_memory_provider_ops_t ops = test_provider_ops();
    ops.alloc = rec_alloc;
    ops.ext.free = rec_free;
    test_prov_params_t params = {.fail_after_bytes = fail_after_bytes};
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&ops, &params, &prov),
                     UMF_RESULT_SUCCESS);
    *out = test_prov_last;
    return prov;
}

// granularity 0: NULL params (the defaults).
static umf_memory_pool_handle_t scalable_pool(umf_memory_provider_handle_t prov,
                                              size_t granularity,
                                              bool keep_all) {
    umf_scalable_pool_params_handle_t params = NULL;
    if (granularity) {
        ck_assert_int_eq(umfScalablePoolParamsCreate(&params),
                         UMF_RESULT_SUCCESS);
        ck_assert_int_eq(
            umfScalablePoolParamsSetGranularity(params, granularity),
            UMF_RESULT_SUCCESS);
        ck_assert_int_eq(
            umfScalablePoolParamsSetKeepAllMemory(params, keep_all),
            UMF_RESULT_SUCCESS);
    }
    umf_memory_pool_handle_t pool;
    ck_assert_int_eq(
        umfPoolCreate(umfScalablePoolOps(), prov, params, 0, &pool),
        UMF_RESULT_SUCCESS);
    if (params) {
        // The pool copied what it needs.
        ck_assert_int_eq(umfScalablePoolParamsDestroy(params),
                         UMF_RESULT_SUCCESS);
    }
    return pool;
}

static void check_all_returned(test_prov_t *t) {
    ck_assert_uint_gt(t->allocs, 0);
    ck_assert_uint_eq(t->allocs, t->frees);
    ck_assert_uint_eq(t->allocated, 0);
}

// --- UMF_TBBMALLOC_LIB and the log line about it ---

static char saved_tbb_env[4096];
static bool had_tbb_env;

static void tbb_env_save(void) {
    const char *v = getenv("UMF_TBBMALLOC_LIB");
    had_tbb_env = v != NULL;
    snprintf(saved_tbb_env, sizeof(saved_tbb_env), "%s", v ? v : "");
}

static void tbb_env_restore(void) {
    if (had_tbb_env) {
        setenv("UMF_TBBMALLOC_LIB", saved_tbb_env, 1);
    } else {
        unsetenv("UMF_TBBMALLOC_LIB");
    }
}

static char log_path[64];

// Restarts the library with UMF_LOG writing errors to a fresh file.
static void log_to_file(void) {
    snprintf(log_path, sizeof(log_path), "/tmp/umf_test_scalable_XXXXXX");
    int fd = mkstemp(log_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "output:file,%s;level:error", log_path);
    setenv("UMF_LOG", cfg, 1);
    umfTearDown();
    ck_assert_int_eq(umfInit(), 0);
}

// Quiet again; returns what was logged.
static void log_read_and_stop(char *buf, size_t cap) {
    unsetenv("UMF_LOG");
    umfTearDown();
    ck_assert_int_eq(umfInit(), 0);
    buf[0] = '\0';
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(log_path);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static bool have_tbb; // libtbbmalloc.so.2 loads here

// Pool creation with UMF_TBBMALLOC_LIB=lib fails with UNKNOWN and one
// error line; returns it in buf. The provider is left alone.
static void create_fails_with_lib(const char *lib, char *buf, size_t cap) {
    tbb_env_save();
    setenv("UMF_TBBMALLOC_LIB", lib, 1);
    log_to_file();
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = (umf_memory_pool_handle_t)0x1;
    ck_assert_int_eq(umfPoolCreate(umfScalablePoolOps(), prov, NULL, 0, &pool),
                     UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_ptr_eq(pool, (umf_memory_pool_handle_t)0x1); // untouched
    ck_assert_uint_eq(t->allocs, 0);
    ck_assert_int_eq(t->finalized, 0);
    log_read_and_stop(buf, cap);
    ck_assert_msg(count_lines(buf) == 1, "expected one line:\n%s", buf);
    ck_assert_msg(strstr(buf, lib) != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "libtbbmalloc2") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "UMF_TBBMALLOC_LIB") != NULL, "%s", buf);

    // Nothing else is affected: a user-written pool on the same provider
    // works, tracked as usual.
    umf_memory_pool_ops_t ops = test_pool_ops();
    ck_assert_int_eq(umfPoolCreate(&ops, prov, NULL, 0, &pool),
                     UMF_RESULT_SUCCESS);
    void *p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
    tbb_env_restore();
}

START_TEST(test_pool_scalable_missing_library) {
    char buf[2048];
    create_fails_with_lib("/nonexistent/libtbbmalloc.so.2", buf, sizeof(buf));
    // The loader's reason is in the line.
    ck_assert_msg(strstr(buf, "No such file or directory") != NULL, "%s", buf);
    if (!have_tbb) {
        return;
    }
    // A later pool, with the real library, works.
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    void *p = umfPoolMalloc(pool, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A library that loads but is not tbbmalloc: the missing symbol is named.
START_TEST(test_pool_scalable_missing_symbol) {
    char buf[2048];
    create_fails_with_lib("libc.so.6", buf, sizeof(buf));
    ck_assert_msg(strstr(buf, "rml::pool_create_v1") != NULL, "%s", buf);
    ck_assert_msg(strstr(buf, "undefined symbol") != NULL, "%s", buf);
}
END_TEST

// UMF_TBBMALLOC_LIB may name the real library (soname or path).
START_TEST(test_pool_scalable_env_names_library) {
    tbb_env_save();
    setenv("UMF_TBBMALLOC_LIB", TBB_DEFAULT_NAME, 1);
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    void *p = umfPoolMalloc(pool, 10);
    ck_assert_ptr_nonnull(p);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
    tbb_env_restore();
}
END_TEST

// --- Params ---

START_TEST(test_pool_scalable_params_api) {
    ck_assert_int_eq(umfScalablePoolParamsCreate(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfScalablePoolParamsDestroy(NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfScalablePoolParamsSetGranularity(NULL, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfScalablePoolParamsSetKeepAllMemory(NULL, true),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);

    umf_scalable_pool_params_handle_t params = NULL;
    ck_assert_int_eq(umfScalablePoolParamsCreate(&params), UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(params);
    ck_assert_int_eq(umfScalablePoolParamsSetGranularity(params, 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfScalablePoolParamsSetGranularity(params, 1),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfScalablePoolParamsSetGranularity(params, 3 * MiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfScalablePoolParamsSetKeepAllMemory(params, true),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfScalablePoolParamsSetKeepAllMemory(params, false),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfScalablePoolParamsDestroy(params), UMF_RESULT_SUCCESS);

    umf_memory_pool_ops_t *ops = umfScalablePoolOps();
    ck_assert_ptr_nonnull(ops);
    ck_assert_ptr_eq(ops, umfScalablePoolOps());
    ck_assert_uint_eq(ops->version, UMF_VERSION_CURRENT);
    ck_assert(ops->initialize && ops->finalize && ops->malloc && ops->calloc &&
              ops->realloc && ops->aligned_malloc && ops->malloc_usable_size &&
              ops->free && ops->get_last_allocation_error);
}
END_TEST

// NULL params and a fresh params object are the same: 2 MiB granularity,
// memory handed back when freed (keep-all off).
START_TEST(test_pool_scalable_null_params_defaults) {
    for (int explicit_params = 0; explicit_params < 2; explicit_params++) {
        test_prov_t *t;
        umf_memory_provider_handle_t prov = rec_provider(0, &t);
        umf_memory_pool_handle_t pool;
        if (explicit_params) {
            umf_scalable_pool_params_handle_t params;
            ck_assert_int_eq(umfScalablePoolParamsCreate(&params),
                             UMF_RESULT_SUCCESS);
            ck_assert_int_eq(
                umfPoolCreate(umfScalablePoolOps(), prov, params, 0, &pool),
                UMF_RESULT_SUCCESS);
            umfScalablePoolParamsDestroy(params);
        } else {
            pool = scalable_pool(prov, 0, false);
        }
        for (size_t size = 1; size <= 4 * MiB; size *= 4) {
            void *p = umfPoolMalloc(pool, size);
            ck_assert_ptr_nonnull(p);
            umfPoolFree(pool, p);
        }
        rec_check_granularity(t, 2 * MiB);
        // A huge block goes back to the provider when freed.
        void *big = umfPoolMalloc(pool, 64 * MiB);
        ck_assert_ptr_nonnull(big);
        size_t frees = t->frees;
        ck_assert_int_eq(umfPoolFree(pool, big), UMF_RESULT_SUCCESS);
        ck_assert_uint_gt(t->frees, frees);
        umfPoolDestroy(pool);
        check_all_returned(t);
        umfMemoryProviderDestroy(prov);
    }
}
END_TEST

// The provider sees no request below the granularity (tbbmalloc rounds
// each one up to a multiple of it), whatever the granularity.
START_TEST(test_pool_scalable_granularity) {
    const size_t grans[] = {4096, 100000, MiB, 3 * MiB, 8 * MiB};
    for (size_t g = 0; g < ARRAY_SIZE(grans); g++) {
        test_prov_t *t;
        umf_memory_provider_handle_t prov = rec_provider(0, &t);
        umf_memory_pool_handle_t pool = scalable_pool(prov, grans[g], false);
        static void *ptrs[500];
        for (size_t i = 0; i < ARRAY_SIZE(ptrs); i++) {
            ptrs[i] = umfPoolMalloc(pool, (i * 7919) % 300000 + 1);
            ck_assert_ptr_nonnull(ptrs[i]);
        }
        void *big = umfPoolAlignedMalloc(pool, 5 * MiB, 2 * MiB);
        ck_assert_ptr_nonnull(big);
        rec_check_granularity(t, grans[g]);
        for (size_t i = 0; i < ARRAY_SIZE(ptrs); i += 2) {
            umfPoolFree(pool, ptrs[i]);
        }
        umfPoolDestroy(pool);
        check_all_returned(t);
        umfMemoryProviderDestroy(prov);
    }
}
END_TEST

// --- Allocation ---

START_TEST(test_pool_scalable_provider_out_of_memory) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(8 * MiB, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);

    char *small = umfPoolMalloc(pool, 1000);
    ck_assert_ptr_nonnull(small);
    memset(small, 0x3c, 1000);

    ck_assert_ptr_null(umfPoolMalloc(pool, 16 * MiB));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // The next call starts from SUCCESS.
    void *p = umfPoolMalloc(pool, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);

    ck_assert_ptr_null(umfPoolCalloc(pool, 16, MiB));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 16 * MiB, 4096));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    // A failed realloc leaves the block as it was.
    ck_assert_ptr_null(umfPoolRealloc(pool, small, 16 * MiB));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    for (size_t i = 0; i < 1000; i++) {
        ck_assert_uint_eq((unsigned char)small[i], 0x3c);
    }

    // SIZE_MAX fails too; UNKNOWN when the provider was not even asked.
    size_t requests = rec_requests;
    ck_assert_ptr_null(umfPoolMalloc(pool, SIZE_MAX));
    umf_result_t err = umfPoolGetLastAllocationError(pool);
    if (rec_requests == requests) {
        ck_assert_int_eq(err, UMF_RESULT_ERROR_UNKNOWN);
    } else {
        ck_assert_int_eq(err, UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    }

    ck_assert_int_eq(umfPoolFree(pool, small), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_scalable_malloc_zero_unique) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    void *a = umfPoolMalloc(pool, 0);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    void *b = umfPoolMalloc(pool, 0);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    void *c = umfPoolAlignedMalloc(pool, 0, 256);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq((uintptr_t)c % 256, 0);
    ck_assert_ptr_ne(c, a);
    ck_assert_ptr_ne(c, b);
    ck_assert_ptr_eq(umfPoolByPtr(a), pool);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, b), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, c), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, NULL), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_scalable_calloc) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    // Dirty some blocks first so calloc has reused memory to clear.
    static void *dirty[256];
    for (size_t i = 0; i < ARRAY_SIZE(dirty); i++) {
        dirty[i] = umfPoolMalloc(pool, 256);
        memset(dirty[i], 0xff, 256);
    }
    for (size_t i = 0; i < ARRAY_SIZE(dirty); i++) {
        umfPoolFree(pool, dirty[i]);
    }
    for (size_t i = 0; i < ARRAY_SIZE(dirty); i++) {
        unsigned char *p = umfPoolCalloc(pool, 16, 16);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                         UMF_RESULT_SUCCESS);
        for (size_t j = 0; j < 256; j++) {
            ck_assert_uint_eq(p[j], 0);
        }
        dirty[i] = p;
    }
    for (size_t i = 0; i < ARRAY_SIZE(dirty); i++) {
        umfPoolFree(pool, dirty[i]);
    }
    unsigned char *big = umfPoolCalloc(pool, 3, MiB);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(big[0] | big[3 * MiB / 2] | big[3 * MiB - 1], 0);
    umfPoolFree(pool, big);

    // num * size overflows: NULL, out of memory, the provider not asked.
    size_t requests = rec_requests;
    ck_assert_ptr_null(umfPoolCalloc(pool, SIZE_MAX / 2, 3));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(umfPoolCalloc(pool, (size_t)1 << 33, (size_t)1 << 31));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_uint_eq(rec_requests, requests);

    void *z = umfPoolCalloc(pool, 0, 10);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    umfPoolFree(pool, z);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// On the OS provider, large callocs are cleared by the provider's forced
// purge: reused, dirty blocks of every alignment read back as zeros, with
// private and shared memory, and the bytes around the block are kept.
START_TEST(test_pool_scalable_calloc_large_os) {
    static const umf_memory_visibility_t vis[] = {UMF_MEM_MAP_PRIVATE,
                                                  UMF_MEM_MAP_SHARED};
    for (size_t v = 0; v < ARRAY_SIZE(vis); v++) {
        umf_os_memory_provider_params_handle_t params;
        ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                         UMF_RESULT_SUCCESS);
        ck_assert_int_eq(umfOsMemoryProviderParamsSetVisibility(params, vis[v]),
                         UMF_RESULT_SUCCESS);
        umf_memory_provider_handle_t prov;
        ck_assert_int_eq(
            umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov),
            UMF_RESULT_SUCCESS);
        umfOsMemoryProviderParamsDestroy(params);
        umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
        const size_t sizes[] = {MiB, MiB + 1, 3 * MiB + 4095, 17 * MiB + 100};
        for (int round = 0; round < 3; round++) {
            for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
                size_t n = sizes[i];
                unsigned char *d = umfPoolMalloc(pool, n);
                ck_assert_ptr_nonnull(d);
                memset(d, 0xc3, n);
                umfPoolFree(pool, d);
                // A live neighbour that the clearing must not touch.
                unsigned char *keep = umfPoolMalloc(pool, 5000);
                ck_assert_ptr_nonnull(keep);
                memset(keep, 0x3c, 5000);
                unsigned char *p = umfPoolCalloc(pool, 1, n);
                ck_assert_ptr_nonnull(p);
                for (size_t j = 0; j < n; j += 509) {
                    ck_assert_msg(p[j] == 0, "vis %d round %d size %zu at %zu",
                                  (int)vis[v], round, n, j);
                }
                ck_assert_uint_eq(p[n - 1], 0);
                for (size_t j = 0; j < 5000; j++) {
                    ck_assert_uint_eq(keep[j], 0x3c);
                }
                memset(p, 0x11, n);
                umfPoolFree(pool, p);
                umfPoolFree(pool, keep);
            }
        }
        umfPoolDestroy(pool);
        umfMemoryProviderDestroy(prov);
    }
}
END_TEST

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(i * 31 + seed);
    }
}

static bool check_fill(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(i * 31 + seed)) {
            return false;
        }
    }
    return true;
}

START_TEST(test_pool_scalable_realloc) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);

    unsigned char *p = umfPoolRealloc(pool, NULL, 100); // = malloc
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_eq(umfPoolByPtr(p), pool);
    fill(p, 100, 7);
    const size_t sizes[] = {1000, 100000, 10 * MiB, 50, 3 * MiB, 8};
    size_t prev = 100;
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        p = umfPoolRealloc(pool, p, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                         UMF_RESULT_SUCCESS);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[i]);
        size_t kept = sizes[i] < prev ? sizes[i] : prev;
        ck_assert_msg(check_fill(p, kept, 7), "contents lost at %zu -> %zu",
                      prev, sizes[i]);
        fill(p, sizes[i], 7); // the whole new size is usable
        prev = sizes[i];
    }
    // realloc(p, 0) frees and returns NULL with SUCCESS.
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 0));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_scalable_aligned_malloc) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    const size_t sizes[] = {1, 100, 5000, 300000};
    for (size_t a = 1; a <= 2 * MiB; a <<= 1) {
        for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
            unsigned char *p = umfPoolAlignedMalloc(pool, sizes[s], a);
            ck_assert_msg(p != NULL, "size %zu alignment %zu", sizes[s], a);
            ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                             UMF_RESULT_SUCCESS);
            ck_assert_uint_eq((uintptr_t)p % a, 0);
            memset(p, 0x11, sizes[s]);
            ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[s]);
            ck_assert_ptr_eq(umfPoolByPtr(p + sizes[s] - 1), pool);
            ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
        }
    }
    // 0 means no alignment.
    void *p = umfPoolAlignedMalloc(pool, 100, 0);
    ck_assert_ptr_nonnull(p);
    umfPoolFree(pool, p);
    const size_t bad[] = {3, 24, 1000, 3 * MiB, SIZE_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        ck_assert_ptr_null(umfPoolAlignedMalloc(pool, 100, bad[i]));
        ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                         UMF_RESULT_ERROR_INVALID_ARGUMENT);
    }
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_scalable_usable_size) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    ck_assert_uint_eq(umfPoolMallocUsableSize(pool, NULL), 0);
    for (size_t size = 1; size <= 8 * MiB; size = size * 3 + 1) {
        unsigned char *p = umfPoolMalloc(pool, size);
        ck_assert_ptr_nonnull(p);
        size_t usable = umfPoolMallocUsableSize(pool, p);
        ck_assert_uint_ge(usable, size);
        memset(p, 0x77, usable); // all of it is ours
        ck_assert_uint_eq(umfPoolMallocUsableSize(pool, p), usable);
        umfPoolFree(pool, p);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Allocations lie inside provider chunks: the tracker answers for every
// byte of them, and umfFree finds the pool from the block's address.
START_TEST(test_pool_scalable_pool_by_ptr_interior) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    umf_memory_provider_handle_t got = NULL;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &got), UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(got, prov);
    const size_t sizes[] = {1, 64, 1000, 70000, 5 * MiB};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        unsigned char *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        rec_chunk_t c = rec_find(p, sizes[i]);
        ck_assert_ptr_eq(c.owner, t);
        ck_assert_uint_ne(c.base, (uintptr_t)p); // not a chunk start
        for (size_t off = 0; off < sizes[i]; off += sizes[i] / 7 + 1) {
            ck_assert_ptr_eq(umfPoolByPtr(p + off), pool);
        }
        ck_assert_ptr_eq(umfPoolByPtr(p + sizes[i] - 1), pool);
        ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
    }
    // umfFree through the tracker really frees: the space is reused.
    void *a = umfPoolMalloc(pool, 48);
    ck_assert_int_eq(umfFree(a), UMF_RESULT_SUCCESS);
    void *b = umfPoolMalloc(pool, 48);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(umfFree(b), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Destroy hands every chunk back, with outstanding blocks of all sizes,
// with keep-all off (_i == 0) and on (_i == 1).
START_TEST(test_pool_scalable_destroy_returns_all) {
    bool keep_all = _i == 1;
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 2 * MiB, keep_all);
    static void *ptrs[3000];
    for (size_t i = 0; i < ARRAY_SIZE(ptrs); i++) {
        size_t size = i % 100 == 0 ? MiB + i : (i * 131) % 20000 + 1;
        ptrs[i] = umfPoolMalloc(pool, size);
        ck_assert_ptr_nonnull(ptrs[i]);
    }
    void *huge = umfPoolMalloc(pool, 40 * MiB);
    ck_assert_ptr_nonnull(huge);
    size_t frees = t->frees;
    umfPoolFree(pool, huge);
    if (keep_all) {
        ck_assert_uint_eq(t->frees, frees); // kept until destroy
    }
    for (size_t i = 0; i < ARRAY_SIZE(ptrs); i += 3) {
        umfPoolFree(pool, ptrs[i]);
    }
    ck_assert_uint_gt(t->allocated, 0);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- Threads ---

static umf_memory_pool_handle_t shared_pool;

static void *thread_last_error(void *arg) {
    (void)arg;
    // A fresh thread: its last error is its own.
    void *p = umfPoolMalloc(shared_pool, 10);
    umf_result_t r = umfPoolGetLastAllocationError(shared_pool);
    umfFree(p);
    return (void *)(uintptr_t)r;
}

START_TEST(test_pool_scalable_last_error_per_thread) {
    test_prov_t *t, *t2;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_provider_handle_t prov2 = rec_provider(0, &t2);
    shared_pool = scalable_pool(prov, 0, false);
    umf_memory_pool_handle_t other = scalable_pool(prov2, 0, false);
    ck_assert_ptr_null(umfPoolAlignedMalloc(shared_pool, 8, 3));
    pthread_t th;
    void *r;
    ck_assert_int_eq(pthread_create(&th, NULL, thread_last_error, NULL), 0);
    pthread_join(th, &r);
    ck_assert_uint_eq((uintptr_t)r, UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolGetLastAllocationError(shared_pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Per thread, not per pool: every scalable pool reports it.
    ck_assert_int_eq(umfPoolGetLastAllocationError(other),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfPoolDestroy(other);
    umfPoolDestroy(shared_pool);
    umfMemoryProviderDestroy(prov2);
    umfMemoryProviderDestroy(prov);
}
END_TEST

#define NTHREADS   8
#define PER_THREAD 1500

typedef struct xfree_arg_t {
    unsigned id;
    int rounds;
} xfree_arg_t;

static void *xfree_ptrs[NTHREADS][PER_THREAD];
static size_t xfree_sizes[NTHREADS][PER_THREAD];
static pthread_barrier_t xfree_barrier;
static _Atomic int xfree_errors;

// Each round: allocate and fill, then check and free what the next thread
// allocated, so most frees cross threads.
static void *xfree_thread(void *p) {
    const xfree_arg_t *arg = p;
    unsigned id = arg->id;
    unsigned victim = (id + 1) % NTHREADS;
    for (int round = 0; round < arg->rounds; round++) {
        unsigned seed = id * 17 + (unsigned)round;
        for (size_t i = 0; i < PER_THREAD; i++) {
            size_t size = i % 211 == 0 ? 256 * 1024 + i : (i * 37 + id) % 3000;
            unsigned char *q = i % 5 == 0 ? umfPoolCalloc(shared_pool, 1, size)
                                          : umfPoolMalloc(shared_pool, size);
            if (!q) {
                xfree_errors++;
                continue;
            }
            if (umfPoolByPtr(q) != shared_pool) {
                xfree_errors++;
            }
            fill(q, size, seed);
            xfree_ptrs[id][i] = q;
            xfree_sizes[id][i] = size;
        }
        pthread_barrier_wait(&xfree_barrier);
        unsigned vseed = victim * 17 + (unsigned)round;
        for (size_t i = 0; i < PER_THREAD; i++) {
            unsigned char *q = xfree_ptrs[victim][i];
            if (!q) {
                continue;
            }
            if (!check_fill(q, xfree_sizes[victim][i], vseed)) {
                xfree_errors++;
            }
            // Mix the two ways to free.
            umf_result_t r = i % 2 ? umfPoolFree(shared_pool, q) : umfFree(q);
            if (r != UMF_RESULT_SUCCESS) {
                xfree_errors++;
            }
            xfree_ptrs[victim][i] = NULL;
        }
        pthread_barrier_wait(&xfree_barrier);
    }
    return NULL;
}

START_TEST(test_pool_scalable_threads_cross_free) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    shared_pool = scalable_pool(prov, 0, false);
    pthread_barrier_init(&xfree_barrier, NULL, NTHREADS);
    pthread_t th[NTHREADS];
    xfree_arg_t args[NTHREADS];
    int rounds = 20 / test_slow_factor();
    for (unsigned i = 0; i < NTHREADS; i++) {
        args[i] = (xfree_arg_t){i, rounds > 0 ? rounds : 1};
        ck_assert_int_eq(pthread_create(&th[i], NULL, xfree_thread, &args[i]),
                         0);
    }
    for (unsigned i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&xfree_barrier);
    ck_assert_int_eq(xfree_errors, 0);
    umfPoolDestroy(shared_pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Two pools, two providers: every block lies in a chunk of its own pool's
// provider, also after frees that fill tbbmalloc's caches.
// When pthread keys run out: with two left (the exit guard's first key
// and tbbmalloc's) the pool works without its guard, the guard's last
// key having failed; with fewer, tbbmalloc cannot make its key and the
// pool is refused. Either way no key is lost.
START_TEST(test_pool_scalable_keys_run_out) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    // tbbmalloc's one-time set-up (its own keys) first.
    umfPoolDestroy(scalable_pool(prov, 0, false));
    static pthread_key_t keys[PTHREAD_KEYS_MAX];
    size_t n = 0;
    while (n < PTHREAD_KEYS_MAX && pthread_key_create(&keys[n], NULL) == 0) {
        n++;
    }
    ck_assert_uint_gt(n, 3);
    for (size_t left = 0; left <= 3; left++) {
        for (size_t i = 0; i < left; i++) {
            ck_assert_int_eq(pthread_key_delete(keys[--n]), 0);
        }
        umf_memory_pool_handle_t pool = NULL;
        umf_result_t r =
            umfPoolCreate(umfScalablePoolOps(), prov, NULL, 0, &pool);
        if (left < 2) {
            ck_assert_int_ne(r, UMF_RESULT_SUCCESS);
            ck_assert_ptr_null(pool);
        } else {
            ck_assert_int_eq(r, UMF_RESULT_SUCCESS);
            char *p = umfPoolMalloc(pool, 100);
            ck_assert_ptr_nonnull(p);
            memset(p, 0x5a, 100);
            ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
            umfPoolDestroy(pool);
        }
        // Exactly `left` keys can be made again.
        for (size_t i = 0; i < left; i++) {
            ck_assert_int_eq(pthread_key_create(&keys[n++], NULL), 0);
        }
        pthread_key_t extra;
        ck_assert_int_ne(pthread_key_create(&extra, NULL), 0);
    }
    while (n) {
        ck_assert_int_eq(pthread_key_delete(keys[--n]), 0);
    }
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Small blocks go through the magazines: small_blocks_distinct.
START_TEST(test_pool_scalable_magazine_blocks_distinct) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    umf_memory_pool_handle_t pool = scalable_pool(prov, 0, false);
    // Creation takes nothing from the provider (the magazines' classes
    // are looked for on the first small allocations, not here).
    ck_assert_uint_eq(t->allocs, 0);
    small_blocks_distinct(pool);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// The magazines' classes are looked for on the first small allocation;
// when the provider refuses memory then, the allocation fails as it
// would without magazines, and the process's pools run without them:
// correct, as before.
START_TEST(test_pool_scalable_magazines_off_after_failed_set_up) {
    test_prov_t *t;
    umf_memory_provider_handle_t bad = rec_provider(1, &t);
    umf_memory_pool_handle_t pool = scalable_pool(bad, 0, false);
    ck_assert_ptr_null(umfPoolMalloc(pool, 64));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(bad);

    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    pool = scalable_pool(prov, 0, false);
    small_blocks_distinct(pool);
    umfPoolDestroy(pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A thread's magazine holds blocks of a pool that is then destroyed; the
// next pool (in the same slot) must never get them.
static pthread_barrier_t ms_barrier;
static umf_memory_pool_handle_t ms_pools[2];

static const char *ms_use(umf_memory_pool_handle_t pool) {
    void *held[64];
    for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
        held[i] = umfPoolMalloc(pool, 8 + (i % 16) * 32);
        if (!held[i] || umfPoolByPtr(held[i]) != pool) {
            return "allocation failed or in the wrong pool";
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(held); i++) {
        umfPoolFree(pool, held[i]);
    }
    return NULL;
}

static void *ms_thread(void *arg) {
    (void)arg;
    const char *err = ms_use(ms_pools[0]);
    err = err ? err : ms_use(ms_pools[0]); // magazines filled
    pthread_barrier_wait(&ms_barrier);     // main destroys pool 0
    pthread_barrier_wait(&ms_barrier);     // and creates pool 1
    for (int i = 0; i < 3 && !err; i++) {
        err = ms_use(ms_pools[1]);
    }
    return (void *)err;
}

START_TEST(test_pool_scalable_magazine_of_destroyed_pool_dropped) {
    test_prov_t *t[2];
    umf_memory_provider_handle_t prov[2];
    prov[0] = rec_provider(0, &t[0]);
    prov[1] = rec_provider(0, &t[1]);
    ms_pools[0] = scalable_pool(prov[0], 0, false);
    pthread_barrier_init(&ms_barrier, NULL, 2);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, ms_thread, NULL), 0);
    pthread_barrier_wait(&ms_barrier);
    umfPoolDestroy(ms_pools[0]);
    check_all_returned(t[0]); // the thread's cached blocks went with it
    ms_pools[1] = scalable_pool(prov[1], 0, false);
    pthread_barrier_wait(&ms_barrier);
    void *err;
    pthread_join(th, &err);
    ck_assert_msg(err == NULL, "%s", (char *)err);
    pthread_barrier_destroy(&ms_barrier);
    umfPoolDestroy(ms_pools[1]);
    check_all_returned(t[1]);
    for (int i = 0; i < 2; i++) {
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

// Threads that exit holding full magazines give their blocks back: 400
// of them (each caching at least 16 blocks of 64, 128, 256 and 512 B, 15
// KiB) leave the pool's footprint where 40 left it.
static umf_memory_pool_handle_t mx_pool;

static void *mx_thread(void *arg) {
    (void)arg;
    return (void *)fill_small_magazines(mx_pool);
}

static void mx_threads(int n) {
    for (int i = 0; i < n; i++) {
        pthread_t th;
        void *err;
        ck_assert_int_eq(pthread_create(&th, NULL, mx_thread, NULL), 0);
        pthread_join(th, &err);
        ck_assert_msg(err == NULL, "%s", (char *)err);
    }
}

START_TEST(test_pool_scalable_thread_exit_empties_magazines) {
    test_prov_t *t;
    umf_memory_provider_handle_t prov = rec_provider(0, &t);
    mx_pool = scalable_pool(prov, 0, false);
    mx_threads(40);
    size_t before = t->allocated;
    mx_threads(400);
    // Without the give-back: 400 x 15 KiB, 6 MiB more.
    ck_assert_msg(t->allocated <= before + (size_t)2 * MiB,
                  "the pool's provider holds %zu bytes after 400 more "
                  "threads, %zu before",
                  (size_t)t->allocated, before);
    umfPoolDestroy(mx_pool);
    check_all_returned(t);
    umfMemoryProviderDestroy(prov);
}
END_TEST

START_TEST(test_pool_scalable_two_pools_never_mix) {
    test_prov_t *ta, *tb;
    umf_memory_provider_handle_t pa = rec_provider(0, &ta);
    umf_memory_provider_handle_t pb = rec_provider(0, &tb);
    umf_memory_pool_handle_t a = scalable_pool(pa, 0, false);
    umf_memory_pool_handle_t b = scalable_pool(pb, MiB, true);
    umf_memory_pool_handle_t pools[2] = {a, b};
    test_prov_t *owners[2] = {ta, tb};
    static void *ptrs[2][1000];
    static size_t sizes[1000];
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 1000; i++) {
            sizes[i] =
                i % 97 == 0 ? 3 * MiB + i : (i * 53 + (size_t)round) % 9000 + 1;
            for (int k = 0; k < 2; k++) {
                void *p;
                switch (i % 4) {
                case 0:
                    p = umfPoolMalloc(pools[k], sizes[i]);
                    break;
                case 1:
                    p = umfPoolCalloc(pools[k], 1, sizes[i]);
                    break;
                case 2:
                    p = umfPoolAlignedMalloc(pools[k], sizes[i], 4096);
                    break;
                default:
                    p = umfPoolRealloc(pools[k], umfPoolMalloc(pools[k], 8),
                                       sizes[i]);
                    break;
                }
                ck_assert_ptr_nonnull(p);
                ck_assert_ptr_eq(umfPoolByPtr(p), pools[k]);
                ck_assert_ptr_eq(umfPoolByPtr((char *)p + sizes[i] - 1),
                                 pools[k]);
                rec_chunk_t c = rec_find(p, sizes[i]);
                ck_assert_msg(c.owner == owners[k],
                              "block %p of pool %d not in its provider's "
                              "chunks",
                              p, k);
                ptrs[k][i] = p;
            }
        }
        // Free in an order that interleaves the pools, leave some behind.
        for (size_t i = 0; i < 1000; i++) {
            if ((i + (size_t)round) % 5 != 0) {
                ck_assert_int_eq(umfFree(ptrs[i % 2][i]), UMF_RESULT_SUCCESS);
                ck_assert_int_eq(umfFree(ptrs[(i + 1) % 2][i]),
                                 UMF_RESULT_SUCCESS);
            }
        }
    }
    umfPoolDestroy(a);
    check_all_returned(ta);
    ck_assert_uint_gt(tb->allocated, 0); // b is untouched by a's destroy
    umfPoolDestroy(b);
    check_all_returned(tb);
    umfMemoryProviderDestroy(pa);
    umfMemoryProviderDestroy(pb);
}
END_TEST

// --- Suite ---

static void add_loading_tests(TCase *tc) {
    tcase_add_test(tc, test_pool_scalable_missing_library);
    tcase_add_test(tc, test_pool_scalable_missing_symbol);
}

static Suite *pool_scalable_suite(void) {
    Suite *s = suite_create("pool_scalable");
    TCase *tc = tcase_create("pool_scalable");
    add_loading_tests(tc);
    tcase_add_test(tc, test_pool_scalable_env_names_library);
    tcase_add_test(tc, test_pool_scalable_params_api);
    tcase_add_test(tc, test_pool_scalable_null_params_defaults);
    tcase_add_test(tc, test_pool_scalable_granularity);
    tcase_add_test(tc, test_pool_scalable_provider_out_of_memory);
    tcase_add_test(tc, test_pool_scalable_malloc_zero_unique);
    tcase_add_test(tc, test_pool_scalable_calloc);
    tcase_add_test(tc, test_pool_scalable_calloc_large_os);
    tcase_add_test(tc, test_pool_scalable_realloc);
    tcase_add_test(tc, test_pool_scalable_aligned_malloc);
    tcase_add_test(tc, test_pool_scalable_keys_run_out);
    tcase_add_test(tc, test_pool_scalable_usable_size);
    tcase_add_test(tc, test_pool_scalable_pool_by_ptr_interior);
    tcase_add_loop_test(tc, test_pool_scalable_destroy_returns_all, 0, 2);
    tcase_add_test(tc, test_pool_scalable_last_error_per_thread);
    tcase_add_test(tc, test_pool_scalable_threads_cross_free);
    tcase_add_test(tc, test_pool_scalable_two_pools_never_mix);
    tcase_add_test(tc, test_pool_scalable_magazine_blocks_distinct);
    tcase_add_test(tc, test_pool_scalable_magazines_off_after_failed_set_up);
    tcase_add_test(tc, test_pool_scalable_magazine_of_destroyed_pool_dropped);
    tcase_add_test(tc, test_pool_scalable_thread_exit_empties_magazines);
    suite_add_tcase(s, tc);
    return s;
}

// Only what runs without tbbmalloc.
static Suite *pool_scalable_loading_suite(void) {
    Suite *s = suite_create("pool_scalable");
    TCase *tc = tcase_create("pool_scalable_loading");
    add_loading_tests(tc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    unsetenv("UMF_LOG");
    const char *name = getenv("UMF_TBBMALLOC_LIB");
    if (!name || !*name) {
        name = TBB_DEFAULT_NAME;
    }
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    have_tbb = lib != NULL;
    if (!have_tbb) {
        char why[512];
        snprintf(why, sizeof(why),
                 "%s cannot be loaded (%s); install libtbbmalloc2", name,
                 dlerror());
        int rc = run_suite(pool_scalable_loading_suite());
        if (rc != EXIT_SUCCESS) {
            return rc;
        }
        skip_binary(why);
    }
    dlclose(lib);
    return run_suite(pool_scalable_suite());
}
