/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_pools.c - one conformance suite run over every pool x provider:
 * pools: proxy, disjoint, scalable, jemalloc (each where it is available;
 * a missing one is named on stdout, not silently passed over);
 * providers: OS private, OS shared (memfd), a small-chunk provider that
 * hands out exactly what is asked (like upstream's malloc-based test
 * provider), a PROT_NONE OS provider (pools that never touch memory only),
 * a provider that fails after N bytes, the coarse provider on a fixed
 * buffer and on an upstream OS provider (immediate init), the coarse
 * provider on a file provider (how a file is meant to be used under a pool
 * that returns memory), and the file provider itself (under the pools that
 * keep their memory, scalable and jemalloc: it has no free).
 *
 * Plus, per pool: isolation of two pools across 8 threads (every pointer
 * lies in its own provider's chunks, checked by a recording provider),
 * multi-thread stress with cross-thread frees, destroy with live
 * allocations, thread exit with cached blocks, and fork.
 */

#include <pthread.h>
#include <sys/wait.h>

#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_coarse.h>
#include <umf/providers/provider_file_memory.h>
#include <umf/providers/provider_os_memory.h>
#ifdef HAVE_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#endif

#include "helpers.h"
#include "pools/pool_host.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

// --- Pools -------------------------------------------------------------------

typedef struct pool_kind_t {
    const char *name;
    umf_memory_pool_ops_t *(*ops)(void);
    bool touches_memory;  // needs host-accessible memory (calloc, realloc)
    bool malloc0_ptr;     // malloc(0) gives a unique pointer
    bool small_chunks_ok; // works on a provider of arbitrary chunk sizes
} pool_kind_t;

static pool_kind_t pool_kinds[5];
static int npools;

static void add_pool(pool_kind_t k) {
    pool_kinds[npools++] = k;
}

// --- Providers ---------------------------------------------------------------

typedef struct recorded_t {
    pthread_mutex_t lock;
    uintptr_t base[1 << 14];
    size_t size[1 << 14];
    int n;
} recorded_t;

// A provider that hands out exactly the bytes asked for (any alignment
// asked is honoured), with free, and records every live chunk. Its params
// are its state, owned by the test (NULL: it makes its own).
typedef struct small_prov_t {
    recorded_t rec;
    size_t fail_after; // 0: never
    _Atomic size_t allocated;
    bool owned; // allocated by sp_init
} small_prov_t;

static void rec_add(recorded_t *r, void *p, size_t size) {
    pthread_mutex_lock(&r->lock);
    if (r->n < (int)ARRAY_SIZE(r->base)) {
        r->base[r->n] = (uintptr_t)p;
        r->size[r->n] = size;
        r->n++;
    }
    pthread_mutex_unlock(&r->lock);
}

static void rec_del(recorded_t *r, void *p) {
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n; i++) {
        if (r->base[i] == (uintptr_t)p) {
            r->base[i] = r->base[--r->n];
            r->size[i] = r->size[r->n];
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static bool rec_has(recorded_t *r, const void *p) {
    bool found = false;
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->n && !found; i++) {
        found = (uintptr_t)p - r->base[i] < r->size[i];
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

static umf_result_t sp_init(void *params, void **priv) {
    small_prov_t *sp = params;
    if (!sp) {
        sp = calloc(1, sizeof(*sp));
        sp->owned = true;
    }
    pthread_mutex_init(&sp->rec.lock, NULL);
    *priv = sp;
    return UMF_RESULT_SUCCESS;
}

static void sp_fini(void *priv) {
    small_prov_t *sp = priv;
    pthread_mutex_destroy(&sp->rec.lock);
    if (sp->owned) {
        free(sp);
    }
}

static umf_result_t sp_alloc(void *priv, size_t size, size_t align, void **p) {
    small_prov_t *sp = priv;
    if (size == 0) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (sp->fail_after && sp->allocated + size > sp->fail_after) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (align < 16) {
        align = 16;
    }
    if (align & (align - 1)) {
        return UMF_RESULT_ERROR_INVALID_ALIGNMENT;
    }
    void *m = aligned_alloc(align, (size + align - 1) & ~(align - 1));
    if (!m) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    sp->allocated += size;
    rec_add(&sp->rec, m, size);
    *p = m;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t sp_free(void *priv, void *p, size_t size) {
    small_prov_t *sp = priv;
    if (p) {
        rec_del(&sp->rec, p);
        sp->allocated -= size;
        free(p);
    }
    return UMF_RESULT_SUCCESS;
}

static void sp_err(void *priv, const char **m, int32_t *e) {
    (void)priv;
    *m = "small provider";
    *e = 0;
}

static umf_result_t sp_page(void *priv, size_t s, size_t *ps) {
    (void)priv, (void)s;
    *ps = 4096;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t sp_minpage(void *priv, void *p, size_t *ps) {
    (void)priv, (void)p;
    *ps = 4096;
    return UMF_RESULT_SUCCESS;
}

static const char *sp_name(void *priv) {
    (void)priv;
    return "small";
}

static umf_result_t sp_split(void *priv, void *p, size_t t, size_t f) {
    (void)priv, (void)p, (void)t, (void)f;
    return UMF_RESULT_ERROR_NOT_SUPPORTED; // chunks come from malloc
}

static umf_result_t sp_merge(void *priv, void *l, void *h, size_t t) {
    (void)priv, (void)l, (void)h, (void)t;
    return UMF_RESULT_ERROR_NOT_SUPPORTED;
}

static umf_memory_provider_ops_t small_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = sp_init,
    .finalize = sp_fini,
    .alloc = sp_alloc,
    .get_last_native_error = sp_err,
    .get_recommended_page_size = sp_page,
    .get_min_page_size = sp_minpage,
    .get_name = sp_name,
    .ext.free = sp_free,
    .ext.allocation_merge = sp_merge,
    .ext.allocation_split = sp_split,
};

typedef enum {
    PROV_OS_PRIVATE,
    PROV_OS_SHARED,
    PROV_SMALL,
    PROV_PROT_NONE,
    PROV_FAILING,
    PROV_COARSE_BUFFER,
    PROV_COARSE_UPSTREAM,
    PROV_COARSE_FILE,
    PROV_FILE,
    NPROVS
} prov_kind_t;

static const char *const prov_names[NPROVS] = {
    "os-private",    "os-shared",  "small-chunks", "prot-none", "fails-after-N",
    "coarse-buffer", "coarse(os)", "coarse(file)", "file"};

// Room for the other tests: jemalloc keeps (retains) the extents it grew
// geometrically, so its arena may hold tens of MiB.
static const size_t FAIL_AFTER = 256 * MiB;

static umf_memory_provider_handle_t make_os(bool shared, unsigned prot) {
    umf_os_memory_provider_params_handle_t p;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), 0);
    if (shared) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED), 0);
    }
    ck_assert_int_eq(umfOsMemoryProviderParamsSetProtection(p, prot), 0);
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     0);
    umfOsMemoryProviderParamsDestroy(p);
    return h;
}

// The fixed buffer of PROV_COARSE_BUFFER (one at a time): room for
// jemalloc's geometric growth, reserved lazily.
#define COARSE_BUFFER_SIZE (512 * MiB)
static void *coarse_buffer;

static umf_memory_provider_handle_t make_coarse(umf_memory_provider_handle_t up,
                                                void *buf, size_t size) {
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = up;
    cp.destroy_upstream_memory_provider = up != NULL;
    cp.immediate_init_from_upstream = up != NULL;
    cp.init_buffer = buf;
    cp.init_buffer_size = size;
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), 0);
    return h;
}

// A file provider on a fresh file, unlinked at once (the provider keeps
// it open until it goes).
static umf_memory_provider_handle_t make_file(void) {
    static int seq;
    char path[256];
    snprintf(path, sizeof(path), "%s/umf_test_pools_%d_%d",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             seq++);
    umf_file_memory_provider_params_handle_t p;
    ck_assert_int_eq(umfFileMemoryProviderParamsCreate(&p, path), 0);
    ck_assert_int_eq(
        umfFileMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED), 0);
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(umfMemoryProviderCreate(umfFileMemoryProviderOps(), p, &h),
                     0);
    umfFileMemoryProviderParamsDestroy(p);
    unlink(path);
    return h;
}

static umf_memory_provider_handle_t make_provider(prov_kind_t k) {
    umf_memory_provider_handle_t h = NULL;
    static small_prov_t failing; // one failing provider at a time
    switch (k) {
    case PROV_COARSE_BUFFER:
        coarse_buffer =
            mmap(NULL, COARSE_BUFFER_SIZE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        ck_assert_ptr_ne(coarse_buffer, MAP_FAILED);
        return make_coarse(NULL, coarse_buffer, COARSE_BUFFER_SIZE);
    case PROV_COARSE_UPSTREAM:
        return make_coarse(
            make_os(false, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE), NULL,
            16 * MiB);
    case PROV_COARSE_FILE:
        return make_coarse(make_file(), NULL, 16 * MiB);
    case PROV_FILE:
        return make_file();
    case PROV_OS_PRIVATE:
        return make_os(false, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE);
    case PROV_OS_SHARED:
        return make_os(true, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE);
    case PROV_PROT_NONE:
        return make_os(false, UMF_PROTECTION_NONE);
    case PROV_SMALL:
        ck_assert_int_eq(umfMemoryProviderCreate(&small_ops, NULL, &h), 0);
        return h;
    case PROV_FAILING:
        memset(&failing, 0, sizeof(failing));
        failing.fail_after = FAIL_AFTER;
        ck_assert_int_eq(umfMemoryProviderCreate(&small_ops, &failing, &h), 0);
        return h;
    default:
        ck_abort();
    }
    return NULL;
}

// --- Fixture: pool kind x provider kind from the loop index -------------------

typedef struct {
    const pool_kind_t *kind;
    prov_kind_t prov_kind;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    bool skip; // combination not meaningful (said so on stdout)
} fix_t;

static bool combo_valid(const pool_kind_t *k, prov_kind_t pk) {
    if (pk == PROV_PROT_NONE && k->touches_memory) {
        return false; // calloc/realloc zero and copy: host memory only
    }
    if ((pk == PROV_SMALL || pk == PROV_FAILING) && !k->small_chunks_ok) {
        return false;
    }
    if (pk == PROV_FILE && strcmp(k->name, "scalable") != 0 &&
        strcmp(k->name, "jemalloc") != 0) {
        // The file provider has no free: the proxy and disjoint pools pass
        // its NOT_SUPPORTED on from umfPoolFree (coarse(file) covers them).
        return false;
    }
    return true;
}

static umf_memory_pool_handle_t create_pool(const pool_kind_t *k,
                                            umf_memory_provider_handle_t prov) {
    umf_memory_pool_handle_t pool = NULL;
    umf_result_t r = umfPoolCreate(k->ops(), prov, NULL, 0, &pool);
    ck_assert_msg(r == UMF_RESULT_SUCCESS, "%s: umfPoolCreate: %d", k->name,
                  (int)r);
    return pool;
}

static void fix_open(fix_t *f, int i) {
    f->kind = &pool_kinds[i / NPROVS];
    f->prov_kind = (prov_kind_t)(i % NPROVS);
    f->skip = !combo_valid(f->kind, f->prov_kind);
    f->prov = NULL;
    f->pool = NULL;
    if (f->skip) {
        return;
    }
    f->prov = make_provider(f->prov_kind);
    f->pool = create_pool(f->kind, f->prov);
}

static void fix_close(fix_t *f) {
    if (f->pool) {
        umfPoolDestroy(f->pool);
    }
    if (f->prov) {
        umfMemoryProviderDestroy(f->prov);
    }
    if (f->prov_kind == PROV_COARSE_BUFFER && coarse_buffer) {
        munmap(coarse_buffer, COARSE_BUFFER_SIZE);
        coarse_buffer = NULL;
    }
}

static bool host(const fix_t *f) {
    return f->prov_kind != PROV_PROT_NONE;
}

#define NAME(f) f.kind->name, prov_names[f.prov_kind]

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(seed * 31 + i);
    }
}

static bool check(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(seed * 31 + i)) {
            return false;
        }
    }
    return true;
}

static const size_t sizes[] = {
    1,    8,    15,    16,    24,     100,       256,     1000,
    4096, 4097, 20000, 65536, 100000, KiB * 500, 2 * MiB, 3 * MiB + 7};

// --- malloc/free, contents, ownership ---

START_TEST(test_pools_malloc_contents_and_owner) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip) {
        fix_close(&f);
        return;
    }
    void *p[ARRAY_SIZE(sizes)];
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        p[i] = umfPoolMalloc(f.pool, sizes[i]);
        ck_assert_msg(p[i] != NULL, "%s/%s: malloc(%zu) failed: %d", NAME(f),
                      sizes[i], umfPoolGetLastAllocationError(f.pool));
        // The proxy pool asks its provider for alignment 0, which the
        // coarse provider (as upstream's) reads as "none": blocks are
        // packed back to back, so after an odd size the next is odd too.
        bool packs = strcmp(f.kind->name, "proxy") == 0 &&
                     (f.prov_kind == PROV_COARSE_BUFFER ||
                      f.prov_kind == PROV_COARSE_UPSTREAM ||
                      f.prov_kind == PROV_COARSE_FILE);
        ck_assert_msg((uintptr_t)p[i] % 8 == 0 || sizes[i] < 8 || packs,
                      "%s/%s: %p misaligned", NAME(f), p[i]);
        ck_assert_ptr_eq(umfPoolByPtr(p[i]), f.pool);
        ck_assert_ptr_eq(umfPoolByPtr((char *)p[i] + sizes[i] - 1), f.pool);
        ck_assert_ptr_eq(umfPoolByPtr((char *)p[i] + sizes[i] / 2), f.pool);
        size_t us = umfPoolMallocUsableSize(f.pool, p[i]);
        ck_assert_msg(us == 0 || us >= sizes[i], "%s/%s: usable %zu < %zu",
                      NAME(f), us, sizes[i]);
        if (host(&f)) {
            fill(p[i], sizes[i], (unsigned)i);
        }
    }
    if (host(&f)) {
        for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
            ck_assert_msg(check(p[i], sizes[i], (unsigned)i),
                          "%s/%s: block of %zu bytes overwritten", NAME(f),
                          sizes[i]);
        }
    }
    // Free half through umfFree (routing), half through the pool.
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        umf_result_t r = i % 2 ? umfFree(p[i]) : umfPoolFree(f.pool, p[i]);
        ck_assert_int_eq(r, UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfPoolFree(f.pool, NULL), UMF_RESULT_SUCCESS);
    fix_close(&f);
}
END_TEST

START_TEST(test_pools_malloc_zero) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip) {
        fix_close(&f);
        return;
    }
    void *a = umfPoolMalloc(f.pool, 0), *b = umfPoolMalloc(f.pool, 0);
    if (f.kind->malloc0_ptr) {
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_ne(a, b);
    } else {
        // proxy: the provider decides (the OS provider fails size 0);
        // disjoint: NULL by contract.
        ck_assert(a == NULL || b != a);
    }
    umfPoolFree(f.pool, a);
    umfPoolFree(f.pool, b);
    fix_close(&f);
}
END_TEST

START_TEST(test_pools_calloc_zeroes) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip || !host(&f)) {
        fix_close(&f);
        return;
    }
    // Dirty memory first, so calloc cannot rely on fresh pages only.
    for (int round = 0; round < 2; round++) {
        unsigned char *d = umfPoolMalloc(f.pool, 3000);
        if (d) {
            memset(d, 0xee, 3000);
            umfPoolFree(f.pool, d);
        }
        unsigned char *z = umfPoolCalloc(f.pool, 30, 100);
        if (!z) {
            ck_assert_int_eq(umfPoolGetLastAllocationError(f.pool),
                             UMF_RESULT_ERROR_NOT_SUPPORTED);
            break; // proxy, disjoint
        }
        for (int i = 0; i < 3000; i++) {
            ck_assert_uint_eq(z[i], 0);
        }
        umfPoolFree(f.pool, z);
        // Overflow of num * size is refused.
        ck_assert_ptr_null(umfPoolCalloc(f.pool, SIZE_MAX / 2, 3));
    }
    fix_close(&f);
}
END_TEST

START_TEST(test_pools_realloc_keeps_contents) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip || !host(&f)) {
        fix_close(&f);
        return;
    }
    unsigned char *p = umfPoolMalloc(f.pool, 10);
    ck_assert_ptr_nonnull(p);
    fill(p, 10, 3);
    unsigned char *q = umfPoolRealloc(f.pool, p, 20);
    if (!q) {
        ck_assert_int_eq(umfPoolGetLastAllocationError(f.pool),
                         UMF_RESULT_ERROR_NOT_SUPPORTED);
        umfPoolFree(f.pool, p);
        fix_close(&f);
        return;
    }
    ck_assert(check(q, 10, 3));
    size_t steps[] = {100, 5000, 70000, MiB, 5 * MiB, 300, 7};
    size_t prev = 10;
    fill(q, 20, 4);
    prev = 20;
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        unsigned char *r = umfPoolRealloc(f.pool, q, steps[i]);
        ck_assert_msg(r != NULL, "%s/%s: realloc to %zu failed", NAME(f),
                      steps[i]);
        size_t keep = prev < steps[i] ? prev : steps[i];
        ck_assert_msg(check(r, keep, (unsigned)(i + 4)),
                      "%s/%s: realloc %zu -> %zu lost data", NAME(f), prev,
                      steps[i]);
        ck_assert_ptr_eq(umfPoolByPtr(r), f.pool);
        fill(r, steps[i], (unsigned)(i + 5));
        prev = steps[i];
        q = r;
    }
    // realloc(NULL, n) allocates.
    void *n = umfPoolRealloc(f.pool, NULL, 64);
    ck_assert_ptr_nonnull(n);
    umfPoolFree(f.pool, n);
    umfPoolFree(f.pool, q);
    fix_close(&f);
}
END_TEST

START_TEST(test_pools_aligned_every_power_of_two) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip) {
        fix_close(&f);
        return;
    }
    for (size_t a = 1; a <= 2 * MiB; a <<= 1) {
        const size_t sz[] = {1, 100, a, 3 * a + 1};
        for (size_t j = 0; j < ARRAY_SIZE(sz); j++) {
            if (sz[j] > 8 * MiB) {
                continue;
            }
            void *p = umfPoolAlignedMalloc(f.pool, sz[j], a);
            ck_assert_msg(p != NULL, "%s/%s: aligned(%zu, %zu) failed: %d",
                          NAME(f), sz[j], a,
                          umfPoolGetLastAllocationError(f.pool));
            ck_assert_msg((uintptr_t)p % a == 0, "%s/%s: %p not aligned to %zu",
                          NAME(f), p, a);
            ck_assert_ptr_eq(umfPoolByPtr(p), f.pool);
            size_t us = umfPoolMallocUsableSize(f.pool, p);
            ck_assert(us == 0 || us >= sz[j]);
            if (host(&f)) {
                memset(p, 0x3c, sz[j]);
            }
            ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
        }
    }
    fix_close(&f);
}
END_TEST

// Out of memory: the pool reports it and recovers when memory comes back.
START_TEST(test_pools_out_of_memory_error) {
    fix_t f;
    fix_open(&f, _i);
    if (f.skip || f.prov_kind != PROV_FAILING) {
        fix_close(&f);
        return;
    }
    void *keep[8192];
    int n = 0;
    void *p;
    while (n < (int)ARRAY_SIZE(keep) && (p = umfPoolMalloc(f.pool, 64 * KiB))) {
        keep[n++] = p;
    }
    ck_assert_msg(n < (int)ARRAY_SIZE(keep), "%s: never ran out", f.kind->name);
    umf_result_t e = umfPoolGetLastAllocationError(f.pool);
    ck_assert_msg(e == UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY ||
                      e == UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC,
                  "%s: last error %d after out of memory", f.kind->name, e);
    ck_assert_ptr_null(umfPoolMalloc(f.pool, 32 * MiB));
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(umfPoolFree(f.pool, keep[i]), UMF_RESULT_SUCCESS);
    }
    p = umfPoolMalloc(f.pool, 64 * KiB);
    ck_assert_msg(p != NULL, "%s: no recovery after frees", f.kind->name);
    umfPoolFree(f.pool, p);
    fix_close(&f);
}
END_TEST

// Destroy with live allocations returns every byte to the provider.
START_TEST(test_pools_destroy_with_live_allocations) {
    const pool_kind_t *k = &pool_kinds[_i];
    umf_memory_provider_ops_t tops = test_provider_ops();
    umf_memory_provider_handle_t counted;
    ck_assert_int_eq(umfMemoryProviderCreate(&tops, NULL, &counted), 0);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = create_pool(k, counted);
    void *keep[100];
    for (int i = 0; i < 100; i++) {
        keep[i] = umfPoolMalloc(pool, (size_t)(1 + i * 997 % 300000));
        ck_assert_ptr_nonnull(keep[i]);
    }
    for (int i = 0; i < 100; i += 3) {
        umfPoolFree(pool, keep[i]);
    }
    umfPoolDestroy(pool);
    if (strcmp(k->name, "proxy") != 0) {
        // The proxy pool frees nothing itself at destroy (its memory is
        // the program's until freed); the others give everything back.
        ck_assert_msg(t->allocated == 0, "%s: %zu bytes not returned", k->name,
                      (size_t)t->allocated);
    }
    // Nothing of the destroyed pool is attributed to it any more.
    for (int i = 1; i < 100; i += 3) {
        ck_assert_ptr_null(umfPoolByPtr(keep[i]));
    }
    umfMemoryProviderDestroy(counted);
}
END_TEST

// --- isolation across pools and threads ---

typedef struct {
    umf_memory_pool_handle_t pool[2];
    small_prov_t prov[2];
    _Atomic(void *) shared[256];
    _Atomic long bad;
} iso_t;

static iso_t iso;

static void *iso_worker(void *arg) {
    uint64_t s = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
    for (int it = 0; it < 4000 / test_slow_factor(); it++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int w = (int)(s & 1);
        size_t size = 1 + (s >> 8) % (it % 16 == 0 ? 200000 : 2000);
        void *p = umfPoolMalloc(iso.pool[w], size);
        if (!p || !rec_has(&iso.prov[w].rec, p) ||
            rec_has(&iso.prov[!w].rec, p) || umfPoolByPtr(p) != iso.pool[w]) {
            iso.bad++;
        }
        // Swap with a random shared slot; free what was there, wherever
        // it came from (cross-thread, cross-pool frees through umfFree).
        void *old = atomic_exchange(&iso.shared[(s >> 32) % 256], p);
        if (old && umfFree(old) != UMF_RESULT_SUCCESS) {
            iso.bad++;
        }
    }
    return NULL;
}

START_TEST(test_pools_isolation_8_threads) {
    const pool_kind_t *k = &pool_kinds[_i];
    umf_memory_provider_handle_t prov[2];
    memset(&iso, 0, sizeof(iso));
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            umfMemoryProviderCreate(&small_ops, &iso.prov[i], &prov[i]), 0);
        iso.pool[i] = create_pool(k, prov[i]);
    }
    pthread_t th[8];
    for (uintptr_t i = 0; i < 8; i++) {
        pthread_create(&th[i], NULL, iso_worker, (void *)i);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
    }
    for (int i = 0; i < 256; i++) {
        void *p = atomic_exchange(&iso.shared[i], NULL);
        if (p) {
            ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
        }
    }
    ck_assert_msg(iso.bad == 0, "%s: %ld bad pointers or frees", k->name,
                  (long)iso.bad);
    for (int i = 0; i < 2; i++) {
        umfPoolDestroy(iso.pool[i]);
        umfMemoryProviderDestroy(prov[i]);
    }
}
END_TEST

// --- thread exit with cached blocks, then destroy ---

static void *cache_and_exit(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    for (int i = 0; i < 300; i++) {
        void *p = umfPoolMalloc(pool, (size_t)(8 + i % 512));
        umfPoolFree(pool, p);
    }
    return NULL;
}

START_TEST(test_pools_thread_exit_then_destroy) {
    const pool_kind_t *k = &pool_kinds[_i];
    umf_memory_provider_ops_t tops = test_provider_ops();
    umf_memory_provider_handle_t prov;
    ck_assert_int_eq(umfMemoryProviderCreate(&tops, NULL, &prov), 0);
    test_prov_t *t = test_prov_last;
    umf_memory_pool_handle_t pool = create_pool(k, prov);
    for (int round = 0; round < 16; round++) {
        pthread_t th[4];
        for (int i = 0; i < 4; i++) {
            pthread_create(&th[i], NULL, cache_and_exit, pool);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
        }
    }
    umfPoolDestroy(pool);
    ck_assert_msg(t->allocated == 0, "%s: %zu bytes not returned", k->name,
                  (size_t)t->allocated);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- fork ---

static _Atomic int fork_stop;

static void *fork_churn(void *arg) {
    umf_memory_pool_handle_t pool = arg;
    while (!atomic_load(&fork_stop)) {
        void *p[16];
        for (int i = 0; i < 16; i++) {
            p[i] = umfPoolMalloc(pool, (size_t)(16 << (i % 12)));
        }
        for (int i = 0; i < 16; i++) {
            umfPoolFree(pool, p[i]);
        }
    }
    return NULL;
}

START_TEST(test_pools_fork_child_allocates) {
    const pool_kind_t *k = &pool_kinds[_i];
    umf_memory_provider_handle_t prov =
        make_os(false, UMF_PROTECTION_READ | UMF_PROTECTION_WRITE);
    umf_memory_pool_handle_t pool = create_pool(k, prov);
    atomic_store(&fork_stop, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, fork_churn, pool);
    }
    for (int round = 0; round < 10; round++) {
        char *kept = umfPoolMalloc(pool, 1000);
        ck_assert_ptr_nonnull(kept);
        strcpy(kept, "from the parent");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int ok = strcmp(kept, "from the parent") == 0 &&
                     umfPoolByPtr(kept) == pool;
            for (int i = 0; i < 200 && ok; i++) {
                char *p = umfPoolMalloc(pool, (size_t)(1 + i * 37));
                ok = p != NULL && umfPoolByPtr(p) == pool;
                if (ok) {
                    memset(p, 1, (size_t)(1 + i * 37));
                    ok = umfPoolFree(pool, p) == UMF_RESULT_SUCCESS;
                }
            }
            ok = ok && umfPoolFree(pool, kept) == UMF_RESULT_SUCCESS;
            _exit(ok ? 0 : 1);
        }
        ck_assert_int_gt(pid, 0);
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "%s: child failed (status %d)", k->name, st);
        ck_assert_str_eq(kept, "from the parent");
        umfPoolFree(pool, kept);
    }
    atomic_store(&fork_stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    umfPoolDestroy(pool);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// --- main ---

static umf_memory_pool_ops_t *proxy_ops(void) {
    return umfProxyPoolOps();
}
static umf_memory_pool_ops_t *host_ops(void) {
    return umf_private_host_pool_ops();
}
static umf_memory_pool_ops_t *disjoint_ops(void) {
    return umfDisjointPoolOps();
}
static umf_memory_pool_ops_t *scalable_ops(void) {
    return umfScalablePoolOps();
}
#ifdef HAVE_JEMALLOC_POOL
static umf_memory_pool_ops_t *jemalloc_ops(void) {
    return umfJemallocPoolOps();
}
#endif

// Runs before Check does: no ck_assert here.
static bool scalable_available(void) {
    umf_os_memory_provider_params_handle_t params;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    if (umfOsMemoryProviderParamsCreate(&params) != UMF_RESULT_SUCCESS) {
        return false;
    }
    umf_result_t r =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &prov);
    umfOsMemoryProviderParamsDestroy(params);
    if (r != UMF_RESULT_SUCCESS) {
        return false;
    }
    r = umfPoolCreate(umfScalablePoolOps(), prov, NULL, 0, &pool);
    if (r == UMF_RESULT_SUCCESS) {
        umfPoolDestroy(pool);
    }
    umfMemoryProviderDestroy(prov);
    return r == UMF_RESULT_SUCCESS;
}

static Suite *pools_suite(void) {
    Suite *s = suite_create("pools");
    int combos = npools * NPROVS;
    TCase *tc = tcase_create("conformance");
    tcase_add_loop_test(tc, test_pools_malloc_contents_and_owner, 0, combos);
    tcase_add_loop_test(tc, test_pools_malloc_zero, 0, combos);
    tcase_add_loop_test(tc, test_pools_calloc_zeroes, 0, combos);
    tcase_add_loop_test(tc, test_pools_realloc_keeps_contents, 0, combos);
    tcase_add_loop_test(tc, test_pools_aligned_every_power_of_two, 0, combos);
    tcase_add_loop_test(tc, test_pools_out_of_memory_error, 0, combos);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifecycle");
    tcase_add_loop_test(tc, test_pools_destroy_with_live_allocations, 0,
                        npools);
    tcase_add_loop_test(tc, test_pools_thread_exit_then_destroy, 0, npools);
    tcase_add_loop_test(tc, test_pools_fork_child_allocates, 0, npools);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_loop_test(tc, test_pools_isolation_8_threads, 0, npools);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    setenv("UMF_MEM_FD_FUNC", "memfd_create", 1);
    add_pool((pool_kind_t){"proxy", proxy_ops, false, false, true});
    add_pool((pool_kind_t){"disjoint", disjoint_ops, false, false, true});
    add_pool((pool_kind_t){"host", host_ops, true, true, true});
    if (scalable_available()) {
        add_pool((pool_kind_t){"scalable", scalable_ops, true, true, true});
    } else {
        printf("NOTE: scalable pool not tested: libtbbmalloc.so.2 cannot be "
               "loaded (apt-get install libtbbmalloc2)\n");
    }
#ifdef HAVE_JEMALLOC_POOL
    add_pool((pool_kind_t){"jemalloc", jemalloc_ops, true, true, true});
#else
    printf("NOTE: jemalloc pool not tested: built without libjemalloc-dev\n");
#endif
    printf("pools under test:");
    for (int i = 0; i < npools; i++) {
        printf(" %s", pool_kinds[i].name);
    }
    printf("\n");
    return run_suite(pools_suite());
}
