/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_coarse_provider.c - the coarse provider through the public API:
 * every creation check, the fixed-buffer mode (exhaustion, coalescing,
 * stats), the upstream mode (immediate init, exact upstream requests,
 * merging of adjacent upstream blocks, destroy of the upstream), the three
 * strategies with alignments, free errors, split and merge, purge and page
 * sizes forwarded, no IPC, a random workload checked against a shadow
 * model, and 100,000 free blocks (correctness only; speed is in
 * bench/coarse_bench).
 */

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>

#include <umf/memory_provider.h>
#include <umf/providers/provider_coarse.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

#define R_OK_    UMF_RESULT_SUCCESS
#define R_INVAL  UMF_RESULT_ERROR_INVALID_ARGUMENT
#define R_NOTSUP UMF_RESULT_ERROR_NOT_SUPPORTED
#define R_OOM    UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY

// For loops of many iterations: Check records every ck_assert it passes
// (a write per assertion), which would dominate the run time.
#define FAST_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);              \
        }                                                                      \
    } while (0)
#define FAST_EQ(a, b) FAST_ASSERT((a) == (b))

static umf_memory_provider_handle_t make_os(void) {
    umf_os_memory_provider_params_handle_t p;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), R_OK_);
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     R_OK_);
    umfOsMemoryProviderParamsDestroy(p);
    return h;
}

static umf_memory_provider_handle_t
make_buffer(void *buf, size_t size, coarse_memory_provider_strategy_t s) {
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.init_buffer = buf;
    cp.init_buffer_size = size;
    cp.allocation_strategy = s;
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    return h;
}

static coarse_memory_provider_stats_t stats(umf_memory_provider_handle_t h) {
    return umfCoarseMemoryProviderGetStats(h);
}

// --- Creation ---

START_TEST(test_coarse_params_default_is_zero) {
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    ck_assert_ptr_null(cp.upstream_memory_provider);
    ck_assert_ptr_null(cp.init_buffer);
    ck_assert_uint_eq(cp.init_buffer_size, 0);
    ck_assert_int_eq(cp.allocation_strategy,
                     UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    ck_assert(!cp.immediate_init_from_upstream);
    ck_assert(!cp.destroy_upstream_memory_provider);
}
END_TEST

START_TEST(test_coarse_creation_checks) {
    static char buf[64 * 1024];
    umf_memory_provider_handle_t os = make_os(), h = NULL;
    umf_memory_provider_ops_t *ops = umfCoarseMemoryProviderOps();
    ck_assert_ptr_nonnull(ops);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, NULL, &h), R_INVAL);

    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    // Neither upstream nor buffer.
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // Both.
    cp.upstream_memory_provider = os;
    cp.init_buffer = buf;
    cp.init_buffer_size = sizeof(buf);
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // Buffer of size 0.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.init_buffer = buf;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // Immediate init of size 0.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    cp.immediate_init_from_upstream = true;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // A size with nothing to take it from.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    cp.init_buffer_size = 4096;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // destroy_upstream without an upstream.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.init_buffer = buf;
    cp.init_buffer_size = sizeof(buf);
    cp.destroy_upstream_memory_provider = true;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    // Unknown strategy.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.init_buffer = buf;
    cp.init_buffer_size = sizeof(buf);
    cp.allocation_strategy = UMF_COARSE_MEMORY_STRATEGY_MAX;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_INVAL);
    ck_assert_ptr_null(h);
    // Upstream without a buffer nor immediate init is fine.
    cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    ck_assert_int_eq(umfMemoryProviderCreate(ops, &cp, &h), R_OK_);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "coarse (OS)");
    coarse_memory_provider_stats_t s = stats(h);
    ck_assert_uint_eq(s.alloc_size, 0);
    ck_assert_uint_eq(s.num_all_blocks, 0);
    umfMemoryProviderDestroy(h);
    umfMemoryProviderDestroy(os);

    s = umfCoarseMemoryProviderGetStats(NULL);
    ck_assert_uint_eq(s.alloc_size + s.used_size + s.num_upstream_blocks +
                          s.num_all_blocks + s.num_free_blocks,
                      0);
}
END_TEST

// --- Fixed buffer ---

START_TEST(test_coarse_buffer_exhaust_and_coalesce) {
    const size_t size = 1 * MiB;
    char *buf = aligned_alloc(4096, size);
    ck_assert_ptr_nonnull(buf);
    umf_memory_provider_handle_t h =
        make_buffer(buf, size, UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "coarse");
    coarse_memory_provider_stats_t s = stats(h);
    ck_assert_uint_eq(s.alloc_size, size);
    ck_assert_uint_eq(s.used_size, 0);
    ck_assert_uint_eq(s.num_upstream_blocks, 1);
    ck_assert_uint_eq(s.num_all_blocks, 1);
    ck_assert_uint_eq(s.num_free_blocks, 1);

    // Sixteen 64 KiB blocks fill it exactly, in address order.
    void *p[16];
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 64 * KiB, 0, &p[i]), R_OK_);
        ck_assert_ptr_eq(p[i], buf + (size_t)i * 64 * KiB);
        memset(p[i], i, 64 * KiB);
    }
    void *q = (void *)1;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1, 0, &q), R_OOM);
    s = stats(h);
    ck_assert_uint_eq(s.used_size, size);
    ck_assert_uint_eq(s.num_all_blocks, 16);
    ck_assert_uint_eq(s.num_free_blocks, 0);
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(((unsigned char *)p[i])[64 * KiB - 1], i);
    }
    // Free every other block: 8 free blocks, none adjacent.
    for (int i = 0; i < 16; i += 2) {
        ck_assert_int_eq(umfMemoryProviderFree(h, p[i], 64 * KiB), R_OK_);
    }
    s = stats(h);
    ck_assert_uint_eq(s.num_free_blocks, 8);
    ck_assert_uint_eq(s.num_all_blocks, 16);
    ck_assert_uint_eq(s.used_size, size / 2);
    // Then the rest (size 0 = "the block's size"): all coalesce to one.
    for (int i = 1; i < 16; i += 2) {
        ck_assert_int_eq(umfMemoryProviderFree(h, p[i], 0), R_OK_);
    }
    s = stats(h);
    ck_assert_uint_eq(s.num_free_blocks, 1);
    ck_assert_uint_eq(s.num_all_blocks, 1);
    ck_assert_uint_eq(s.used_size, 0);
    ck_assert_uint_eq(s.alloc_size, size);
    // The whole buffer in one piece again.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, size, 0, &q), R_OK_);
    ck_assert_ptr_eq(q, buf);
    ck_assert_int_eq(umfMemoryProviderFree(h, q, size), R_OK_);
    umfMemoryProviderDestroy(h);
    free(buf); // the provider never frees the user's buffer
}
END_TEST

START_TEST(test_coarse_free_errors) {
    static char buf[64 * 1024] __attribute__((aligned(64)));
    umf_memory_provider_handle_t h =
        make_buffer(buf, sizeof(buf), UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 1000, 0, &p), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, NULL, 0), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 999), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderFree(h, (char *)p + 8, 0),
                     UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 1000), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 1000), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 0, 0, &p), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 3, &p), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, SIZE_MAX, 0, &p), R_OOM);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 100, 0, NULL), R_INVAL);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_coarse_no_ipc_purge_and_pages) {
    static char buf[64 * 1024];
    umf_memory_provider_handle_t h =
        make_buffer(buf, sizeof(buf), UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    size_t sz = 0;
    ck_assert_int_eq(umfMemoryProviderGetIPCHandleSize(h, &sz), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, NULL, 4096), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, NULL, 4096), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, buf, 4096), R_NOTSUP);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, buf, 4096), R_NOTSUP);
    size_t ps = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(h, NULL, &ps), R_OK_);
    ck_assert_uint_eq(ps, (size_t)sysconf(_SC_PAGESIZE));
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 100, &ps),
                     R_OK_);
    ck_assert_uint_eq(ps, (size_t)sysconf(_SC_PAGESIZE));
    umfMemoryProviderDestroy(h);

    // With an upstream: forwarded.
    umf_memory_provider_handle_t os = make_os();
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    cp.destroy_upstream_memory_provider = true;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    void *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * 4096, 0, &p), R_OK_);
    memset(p, 1, 2 * 4096);
    ck_assert_int_eq(umfMemoryProviderPurgeForce(h, p, 2 * 4096), R_OK_);
    ck_assert_int_eq(((char *)p)[100], 0); // private anonymous: zero again
    ck_assert_int_eq(umfMemoryProviderPurgeLazy(h, p, 2 * 4096), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 0), R_OK_);
    umfMemoryProviderDestroy(h); // destroys os too
}
END_TEST

// --- Upstream mode ---

START_TEST(test_coarse_upstream_immediate_and_exact) {
    test_prov_params_t tp = {.name = "counting"};
    umf_memory_provider_ops_t tops = test_provider_ops();
    umf_memory_provider_handle_t up;
    ck_assert_int_eq(umfMemoryProviderCreate(&tops, &tp, &up), R_OK_);
    test_prov_t *t = test_prov_last;

    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = up;
    cp.immediate_init_from_upstream = true;
    cp.init_buffer_size = 1 * MiB;
    cp.destroy_upstream_memory_provider = true;
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    ck_assert_str_eq(umfMemoryProviderGetName(h), "coarse (counting)");
    ck_assert_uint_eq(atomic_load(&t->allocs), 1);
    ck_assert_uint_eq(atomic_load(&t->allocated), 1 * MiB);
    coarse_memory_provider_stats_t s = stats(h);
    ck_assert_uint_eq(s.alloc_size, 1 * MiB);
    ck_assert_uint_eq(s.num_upstream_blocks, 1);
    ck_assert_uint_eq(s.num_free_blocks, 1);

    // Fits: no upstream call.
    void *a, *b;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 512 * KiB, 0, &a), R_OK_);
    ck_assert_uint_eq(atomic_load(&t->allocs), 1);
    // Does not fit: exactly the size asked goes to the upstream.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 700 * KiB + 3, 0, &b), R_OK_);
    ck_assert_uint_eq(atomic_load(&t->allocs), 2);
    ck_assert_uint_eq(atomic_load(&t->allocated), 1 * MiB + 700 * KiB + 3);
    s = stats(h);
    ck_assert_uint_eq(s.alloc_size, 1 * MiB + 700 * KiB + 3);
    ck_assert_uint_eq(s.used_size, 512 * KiB + 700 * KiB + 3);
    memset(b, 7, 700 * KiB + 3);
    ck_assert_int_eq(umfMemoryProviderFree(h, b, 700 * KiB + 3), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, a, 0), R_OK_);
    ck_assert_uint_eq(atomic_load(&t->frees), 0); // kept until destroy
    umfMemoryProviderDestroy(h);
    ck_assert_uint_eq(atomic_load(&t->frees), 2);
    ck_assert_int_eq(atomic_load(&t->finalized), 1);
}
END_TEST

START_TEST(test_coarse_upstream_failure) {
    test_prov_params_t tp = {.name = "failing", .fail_after_bytes = 1 * MiB};
    umf_memory_provider_ops_t tops = test_provider_ops();
    umf_memory_provider_handle_t up, h;
    ck_assert_int_eq(umfMemoryProviderCreate(&tops, &tp, &up), R_OK_);
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = up;
    cp.immediate_init_from_upstream = true;
    cp.init_buffer_size = 2 * MiB; // more than the upstream gives
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OOM);
    cp.immediate_init_from_upstream = false;
    cp.init_buffer_size = 0;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * MiB, 0, &p), R_OOM);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 512 * KiB, 0, &p), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 0), R_OK_);
    umfMemoryProviderDestroy(h);
    umfMemoryProviderDestroy(up); // not destroyed by the coarse provider
}
END_TEST

// An upstream that hands out consecutive pieces of one region and agrees
// to merge any two adjacent ones (so the coarse provider can merge its
// upstream blocks).
typedef struct {
    char *base;
    size_t used, size;
    int merges, frees;
} seq_up_t;

static umf_result_t seq_init(void *params, void **priv) {
    *priv = params;
    return R_OK_;
}
static void seq_fini(void *priv) {
    (void)priv;
}
static umf_result_t seq_alloc(void *priv, size_t size, size_t align,
                              void **ptr) {
    (void)align;
    seq_up_t *s = priv;
    if (s->size - s->used < size) {
        return R_OOM;
    }
    *ptr = s->base + s->used;
    s->used += size;
    return R_OK_;
}
static umf_result_t seq_free(void *priv, void *ptr, size_t size) {
    (void)ptr, (void)size;
    ((seq_up_t *)priv)->frees++;
    return R_OK_;
}
static void seq_err(void *priv, const char **m, int32_t *e) {
    (void)priv, (void)m, (void)e;
}
static umf_result_t seq_page(void *priv, size_t s, size_t *p) {
    (void)priv, (void)s;
    *p = 4096;
    return R_OK_;
}
static umf_result_t seq_minpage(void *priv, void *ptr, size_t *p) {
    (void)priv, (void)ptr;
    *p = 4096;
    return R_OK_;
}
static const char *seq_name(void *priv) {
    (void)priv;
    return "seq";
}
static umf_result_t seq_merge(void *priv, void *l, void *h, size_t t) {
    (void)l, (void)h, (void)t;
    ((seq_up_t *)priv)->merges++;
    return R_OK_;
}
static umf_result_t seq_split(void *priv, void *p, size_t t, size_t f) {
    (void)priv, (void)p, (void)t, (void)f;
    return R_OK_;
}

static umf_memory_provider_ops_t seq_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = seq_init,
    .finalize = seq_fini,
    .alloc = seq_alloc,
    .get_last_native_error = seq_err,
    .get_recommended_page_size = seq_page,
    .get_min_page_size = seq_minpage,
    .get_name = seq_name,
    .ext.free = seq_free,
    .ext.allocation_merge = seq_merge,
    .ext.allocation_split = seq_split,
};

START_TEST(test_coarse_upstream_blocks_merge) {
    static char region[1 << 20] __attribute__((aligned(4096)));
    seq_up_t s = {region, 0, sizeof(region), 0, 0};
    umf_memory_provider_handle_t up, h;
    ck_assert_int_eq(umfMemoryProviderCreate(&seq_ops, &s, &up), R_OK_);
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = up;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    void *a, *b, *c;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 64 * KiB, 0, &a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 64 * KiB, 0, &b), R_OK_);
    ck_assert_ptr_eq(b, region + 64 * KiB);
    ck_assert_int_eq(s.merges, 1);
    coarse_memory_provider_stats_t st = stats(h);
    ck_assert_uint_eq(st.num_upstream_blocks, 1);
    ck_assert_uint_eq(st.num_all_blocks, 2);
    // Used blocks of one upstream block can be merged, and free ones
    // coalesce across the old boundary.
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, a, b, 128 * KiB),
                     R_OK_);
    ck_assert_int_eq(
        umfMemoryProviderAllocationSplit(h, a, 128 * KiB, 64 * KiB), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, a, 64 * KiB), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, b, 64 * KiB), R_OK_);
    st = stats(h);
    ck_assert_uint_eq(st.num_all_blocks, 1);
    ck_assert_uint_eq(st.num_free_blocks, 1);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 128 * KiB, 0, &c), R_OK_);
    ck_assert_ptr_eq(c, region);
    ck_assert_int_eq(umfMemoryProviderFree(h, c, 0), R_OK_);
    umfMemoryProviderDestroy(h);
    ck_assert_int_eq(s.frees, 1); // one (merged) upstream block
    umfMemoryProviderDestroy(up);
}
END_TEST

// --- Split / merge ---

START_TEST(test_coarse_split_merge) {
    static char buf[256 * 1024] __attribute__((aligned(4096)));
    umf_memory_provider_handle_t h =
        make_buffer(buf, sizeof(buf), UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    void *p, *q;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 64 * KiB, 0, &p), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 64 * KiB, 0, &q), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 64 * KiB, 0),
                     R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 32 * KiB, 4096),
                     R_INVAL); // wrong total
    ck_assert_int_eq(umfMemoryProviderAllocationSplit(h, p, 64 * KiB, 4096),
                     R_OK_);
    ck_assert_uint_eq(stats(h).num_all_blocks, 4);
    char *p2 = (char *)p + 4096;
    ck_assert_int_eq(umfMemoryProviderFree(h, p2, 60 * KiB), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 4096), R_OK_);
    // Merge needs adjacent used blocks and the exact total.
    void *a, *b;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 4096, 0, &a), R_OK_);
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 8192, 0, &b), R_OK_);
    ck_assert_ptr_eq(b, (char *)a + 4096);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, a, b, 4096), R_INVAL);
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, b, q, 8192 + 64 * KiB),
                     R_INVAL); // not adjacent
    ck_assert_int_eq(umfMemoryProviderAllocationMerge(h, a, b, 3 * 4096),
                     R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, b, 0), UMF_RESULT_ERROR_UNKNOWN);
    ck_assert_int_eq(umfMemoryProviderFree(h, a, 3 * 4096), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, q, 0), R_OK_);
    coarse_memory_provider_stats_t s = stats(h);
    ck_assert_uint_eq(s.num_all_blocks, 1);
    ck_assert_uint_eq(s.used_size, 0);
    umfMemoryProviderDestroy(h);
}
END_TEST

// --- Strategies ---

// The FASTEST strategy: smallest block of size + alignment, aligned part
// cut out (fragments before and after).
START_TEST(test_coarse_strategy_fastest_cuts) {
    const size_t pg = 4096;
    char *buf = aligned_alloc(16 * pg, 16 * pg);
    umf_memory_provider_handle_t h =
        make_buffer(buf, 16 * pg, UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    void *first, *p;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, pg, 0, &first), R_OK_);
    ck_assert_ptr_eq(first, buf);
    // Free block [1, 16): 2 pages aligned to 4 pages -> page 4; pages 1-3
    // stay free before it and 6-15 after it.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * pg, 4 * pg, &p), R_OK_);
    ck_assert_ptr_eq(p, buf + 4 * pg);
    coarse_memory_provider_stats_t s = stats(h);
    ck_assert_uint_eq(s.num_free_blocks, 2);
    ck_assert_uint_eq(s.num_all_blocks, 4);
    ck_assert_uint_eq(s.used_size, 3 * pg);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 0), R_OK_);
    ck_assert_int_eq(umfMemoryProviderFree(h, first, 0), R_OK_);
    ck_assert_uint_eq(stats(h).num_all_blocks, 1);
    umfMemoryProviderDestroy(h);
    free(buf);
}
END_TEST

// FASTEST_BUT_ONE and CHECK_ALL_SIZE take an already aligned block of the
// exact size without cutting; FASTEST cuts from a bigger one.
START_TEST(test_coarse_strategy_aligned_reuse) {
    const size_t pg = 4096;
    char *buf = aligned_alloc(32 * pg, 32 * pg);
    umf_memory_provider_handle_t h =
        make_buffer(buf, 32 * pg, (coarse_memory_provider_strategy_t)_i);
    // Blocks of 2 pages at 0, 2, 4, ..., then free those at 2, 6, 10 (2-page
    // holes at page offsets 2 mod 4) and 4 (offset 0 mod 4, aligned to 4).
    void *p[16];
    for (int i = 0; i < 16; i++) {
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * pg, 0, &p[i]), R_OK_);
    }
    ck_assert_int_eq(umfMemoryProviderFree(h, p[1], 0), R_OK_);  // pages 2-3
    ck_assert_int_eq(umfMemoryProviderFree(h, p[3], 0), R_OK_);  // 6-7
    ck_assert_int_eq(umfMemoryProviderFree(h, p[6], 0), R_OK_);  // 12-13
    ck_assert_int_eq(umfMemoryProviderFree(h, p[15], 0), R_OK_); // 30-31
    ck_assert_int_eq(umfMemoryProviderFree(h, p[14], 0), R_OK_); // 28-31
    // Free: [2,4) [6,8) [12,14) (2 pages) and [28,32) (4 pages).
    // 2 pages aligned to 2 pages. FASTEST: the smallest block of >= 4
    // pages, [28,32), cut. The others: [2,4) is aligned, taken whole.
    static const size_t want1[] = {28, 2, 2};
    static const size_t nfree1[] = {4, 3, 3};
    void *q = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * pg, 2 * pg, &q), R_OK_);
    ck_assert_ptr_eq(q, buf + want1[_i] * pg);
    ck_assert_uint_eq(stats(h).num_free_blocks, nfree1[_i]);
    // 2 pages aligned to 4 pages: no block of >= 6 pages, so FASTEST fails
    // and FASTEST_BUT_ONE too (its first block of 2 pages, [6,8) or
    // [2,4), is not aligned); CHECK_ALL_SIZE finds [12,14).
    void *r = NULL;
    umf_result_t res = umfMemoryProviderAlloc(h, 2 * pg, 4 * pg, &r);
    if (_i == UMF_COARSE_MEMORY_STRATEGY_CHECK_ALL_SIZE) {
        ck_assert_int_eq(res, R_OK_);
        ck_assert_ptr_eq(r, buf + 12 * pg);
        ck_assert_int_eq(umfMemoryProviderFree(h, r, 0), R_OK_);
    } else {
        ck_assert_int_eq(res, R_OOM);
    }
    ck_assert_int_eq(umfMemoryProviderFree(h, q, 0), R_OK_);
    umfMemoryProviderDestroy(h);
    free(buf);
}
END_TEST

// --- Shadow-model workload ---

START_TEST(test_coarse_random_against_model) {
    const size_t size = 4 * MiB;
    unsigned char *buf = aligned_alloc(4096, size);
    umf_memory_provider_handle_t h =
        make_buffer(buf, size, (coarse_memory_provider_strategy_t)_i);
    enum { N = 512 };
    struct {
        unsigned char *p;
        size_t n;
    } live[N] = {{0}};
    unsigned seed = 12345 + (unsigned)_i;
    size_t used = 0;
    for (int it = 0; it < 20000 / test_slow_factor(); it++) {
        int k = rand_r(&seed) % N;
        if (live[k].p) {
            for (size_t j = 0; j < live[k].n; j += 97) {
                FAST_EQ(live[k].p[j], (unsigned char)k);
            }
            FAST_EQ(umfMemoryProviderFree(h, live[k].p,
                                          rand_r(&seed) % 2 ? live[k].n : 0),
                    R_OK_);
            used -= live[k].n;
            live[k].p = NULL;
            continue;
        }
        size_t n = 1 + (size_t)rand_r(&seed) % 20000;
        size_t align = (size_t)1 << (rand_r(&seed) % 14);
        if (rand_r(&seed) % 3 == 0) {
            align = 0;
        }
        void *p = NULL;
        umf_result_t r = umfMemoryProviderAlloc(h, n, align, &p);
        if (r == R_OOM) {
            continue;
        }
        FAST_EQ(r, R_OK_);
        FAST_ASSERT((unsigned char *)p >= buf &&
                    (unsigned char *)p + n <= buf + size);
        if (align) {
            FAST_EQ((uintptr_t)p % align, 0);
        }
        memset(p, k, n);
        live[k].p = p;
        live[k].n = n;
        used += n;
        coarse_memory_provider_stats_t s = stats(h);
        FAST_EQ(s.used_size, used);
        FAST_ASSERT(s.num_free_blocks <= s.num_all_blocks);
    }
    for (int k = 0; k < N; k++) {
        if (live[k].p) {
            for (size_t j = 0; j < live[k].n; j += 61) {
                FAST_EQ(live[k].p[j], (unsigned char)k);
            }
            FAST_EQ(umfMemoryProviderFree(h, live[k].p, 0), R_OK_);
        }
    }
    coarse_memory_provider_stats_t s = stats(h);
    FAST_EQ(s.used_size, 0);
    FAST_EQ(s.num_all_blocks, 1);
    FAST_EQ(s.num_free_blocks, 1);
    umfMemoryProviderDestroy(h);
    free(buf);
}
END_TEST

// Upstream mode under a random workload: upstream chunks arrive at
// whatever addresses the OS picks (inserted before and after the others),
// and at the end every upstream block is one free block again.
START_TEST(test_coarse_random_upstream) {
    umf_memory_provider_handle_t os = make_os();
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    cp.destroy_upstream_memory_provider = true;
    cp.allocation_strategy = (coarse_memory_provider_strategy_t)_i;
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    enum { N = 256 };
    struct {
        unsigned char *p;
        size_t n;
    } live[N] = {{0}};
    unsigned seed = 777 + (unsigned)_i;
    size_t used = 0;
    for (int it = 0; it < 6000 / test_slow_factor(); it++) {
        int k = rand_r(&seed) % N;
        if (live[k].p) {
            FAST_EQ(live[k].p[0], (unsigned char)k);
            FAST_EQ(live[k].p[live[k].n - 1], (unsigned char)k);
            FAST_EQ(umfMemoryProviderFree(h, live[k].p, live[k].n), R_OK_);
            used -= live[k].n;
            live[k].p = NULL;
            continue;
        }
        size_t n = 1 + (size_t)rand_r(&seed) % 200000;
        size_t align = rand_r(&seed) % 2 ? 4096 : 0;
        void *p = NULL;
        FAST_EQ(umfMemoryProviderAlloc(h, n, align, &p), R_OK_);
        FAST_ASSERT(align == 0 || (uintptr_t)p % align == 0);
        memset(p, k, n);
        live[k].p = p;
        live[k].n = n;
        used += n;
    }
    coarse_memory_provider_stats_t s = stats(h);
    FAST_EQ(s.used_size, used);
    for (int k = 0; k < N; k++) {
        if (live[k].p) {
            FAST_EQ(umfMemoryProviderFree(h, live[k].p, 0), R_OK_);
        }
    }
    s = stats(h);
    ck_assert_uint_eq(s.used_size, 0);
    ck_assert_uint_eq(s.num_free_blocks, s.num_upstream_blocks);
    ck_assert_uint_eq(s.num_all_blocks, s.num_upstream_blocks);
    ck_assert_uint_gt(s.alloc_size, 0);
    umfMemoryProviderDestroy(h);
}
END_TEST

// fork while another thread allocates and frees: the child can use the
// provider at once (fork.c takes the provider's lock around fork).
static _Atomic int fork_stop;

static void *fork_hammer(void *arg) {
    umf_memory_provider_handle_t h = arg;
    while (!atomic_load(&fork_stop)) {
        void *p;
        if (umfMemoryProviderAlloc(h, 4096, 0, &p) == R_OK_) {
            memset(p, 1, 4096);
            umfMemoryProviderFree(h, p, 4096);
        }
    }
    return NULL;
}

START_TEST(test_coarse_fork_while_allocating) {
    umf_memory_provider_handle_t os = make_os();
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = os;
    cp.destroy_upstream_memory_provider = true;
    cp.immediate_init_from_upstream = true;
    cp.init_buffer_size = 1 * MiB;
    umf_memory_provider_handle_t h;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &h), R_OK_);
    atomic_store(&fork_stop, 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fork_hammer, h), 0);
    for (int i = 0; i < 20; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            void *p;
            int ok = umfMemoryProviderAlloc(h, 8192, 0, &p) == R_OK_ &&
                     umfMemoryProviderFree(h, p, 8192) == R_OK_ &&
                     umfCoarseMemoryProviderGetStats(h).used_size <= 4096;
            _exit(ok ? 0 : 1);
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    atomic_store(&fork_stop, 1);
    pthread_join(t, NULL);
    ck_assert_uint_eq(stats(h).used_size, 0);
    umfMemoryProviderDestroy(h);
}
END_TEST

// 100,000 free blocks: the smallest fitting one is found among them.
START_TEST(test_coarse_many_free_blocks) {
    enum { NB = 100000 };
    const size_t unit = 64;
    size_t size = 2 * NB * unit + 4096;
    char *buf = aligned_alloc(4096, size);
    umf_memory_provider_handle_t h =
        make_buffer(buf, size, UMF_COARSE_MEMORY_STRATEGY_FASTEST);
    void **p = calloc(2 * NB, sizeof(void *));
    for (int i = 0; i < 2 * NB; i++) {
        FAST_EQ(umfMemoryProviderAlloc(h, unit, 0, &p[i]), R_OK_);
    }
    for (int i = 0; i < 2 * NB; i += 2) {
        FAST_EQ(umfMemoryProviderFree(h, p[i], unit), R_OK_);
    }
    coarse_memory_provider_stats_t s = stats(h);
    FAST_EQ(s.num_free_blocks, NB + 1); // + the 4 KiB tail
    // 64 bytes: one of the 64-byte holes (the lowest), not the tail.
    void *q;
    FAST_EQ(umfMemoryProviderAlloc(h, unit, 0, &q), R_OK_);
    FAST_EQ(q, p[0]);
    // 65 bytes fit only in the tail.
    void *t;
    FAST_EQ(umfMemoryProviderAlloc(h, unit + 1, 0, &t), R_OK_);
    FAST_EQ(t, buf + 2 * NB * unit);
    FAST_EQ(umfMemoryProviderFree(h, t, 0), R_OK_);
    FAST_EQ(umfMemoryProviderFree(h, q, 0), R_OK_);
    for (int i = 1; i < 2 * NB; i += 2) {
        FAST_EQ(umfMemoryProviderFree(h, p[i], 0), R_OK_);
    }
    FAST_EQ(stats(h).num_all_blocks, 1);
    umfMemoryProviderDestroy(h);
    free(p);
    free(buf);
}
END_TEST

static Suite *coarse_suite(void) {
    Suite *s = suite_create("coarse_provider");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, test_coarse_params_default_is_zero);
    tcase_add_test(tc, test_coarse_creation_checks);
    suite_add_tcase(s, tc);

    tc = tcase_create("buffer");
    tcase_add_test(tc, test_coarse_buffer_exhaust_and_coalesce);
    tcase_add_test(tc, test_coarse_free_errors);
    tcase_add_test(tc, test_coarse_no_ipc_purge_and_pages);
    tcase_add_test(tc, test_coarse_split_merge);
    suite_add_tcase(s, tc);

    tc = tcase_create("upstream");
    tcase_add_test(tc, test_coarse_upstream_immediate_and_exact);
    tcase_add_test(tc, test_coarse_upstream_failure);
    tcase_add_test(tc, test_coarse_upstream_blocks_merge);
    suite_add_tcase(s, tc);

    tc = tcase_create("fork");
    tcase_add_test(tc, test_coarse_fork_while_allocating);
    suite_add_tcase(s, tc);

    tc = tcase_create("strategies");
    tcase_add_test(tc, test_coarse_strategy_fastest_cuts);
    tcase_add_loop_test(tc, test_coarse_strategy_aligned_reuse, 0,
                        UMF_COARSE_MEMORY_STRATEGY_MAX);
    tcase_add_loop_test(tc, test_coarse_random_against_model, 0,
                        UMF_COARSE_MEMORY_STRATEGY_MAX);
    tcase_add_loop_test(tc, test_coarse_random_upstream, 0,
                        UMF_COARSE_MEMORY_STRATEGY_MAX);
    tcase_add_test(tc, test_coarse_many_free_blocks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(coarse_suite());
}
