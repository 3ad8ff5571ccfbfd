/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_memspace_numa_multi.c - memspace policies across two NUMA nodes:
 * BIND to the second node, INTERLEAVE page by page and in parts, SPLIT in
 * proportion to custom weights, PREFERRED, a filtered memspace, the
 * highest-capacity memspace binding to its first node only (and a clone
 * of it to all), and a pool on the second node. Pages are checked with
 * get_mempolicy(2) and move_pages(2) after touching.
 *
 * Needs two NUMA nodes with memory; elsewhere it prints why and exits 77.
 */

#include <stdint.h>

#include <hwloc.h>

#include <umf/memspace.h>

#include "helpers.h"
#include "numa_query.h"

static unsigned n0, n1; // the first two nodes with memory

static umf_memspace_handle_t space(const unsigned *ids, size_t n) {
    unsigned copy[4];
    memcpy(copy, ids, n * sizeof(unsigned));
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(copy, n, &ms),
                     UMF_RESULT_SUCCESS);
    return ms;
}

static umf_memory_provider_handle_t provider(umf_const_memspace_handle_t ms,
                                             umf_const_mempolicy_handle_t pol) {
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, pol, &h),
                     UMF_RESULT_SUCCESS);
    return h;
}

static umf_mempolicy_handle_t policy(umf_mempolicy_membind_t kind) {
    umf_mempolicy_handle_t p = NULL;
    ck_assert_int_eq(umfMempolicyCreate(kind, &p), UMF_RESULT_SUCCESS);
    return p;
}

static unsigned char *alloc_touched(umf_memory_provider_handle_t h,
                                    size_t npages) {
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, npages * nq_page(), 0, &p),
                     UMF_RESULT_SUCCESS);
    nq_touch(p, npages);
    return p;
}

static void expect_on(unsigned char *p, size_t i, unsigned node,
                      const char *what) {
    int got = nq_node_of(p + i * nq_page());
    ck_assert_msg(got == (int)node, "%s: page %zu is on node %d, expected %u",
                  what, i, got, node);
}

START_TEST(test_memspace_numa_multi_bind_second) {
    unsigned ids[] = {n1};
    umf_memspace_handle_t ms = space(ids, 1);
    umf_mempolicy_handle_t pol = policy(UMF_MEMPOLICY_BIND);
    umf_memory_provider_handle_t h = provider(ms, pol);
    unsigned char *p = alloc_touched(h, 16);
    for (size_t i = 0; i < 16; i++) {
        nq_policy_t pp = nq_policy_of(p + i * nq_page());
        ck_assert_int_eq(pp.mode, NQ_MPOL_BIND);
        ck_assert(nq_mask_is(pp.mask, &n1, 1));
        expect_on(p, i, n1, "BIND {n1}");
    }
    umfMemoryProviderFree(h, p, 16 * nq_page());
    umfMemoryProviderDestroy(h);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(ms);
}
END_TEST

START_TEST(test_memspace_numa_multi_interleave_pages) {
    unsigned ids[] = {n0, n1};
    umf_memspace_handle_t ms = space(ids, 2);
    umf_mempolicy_handle_t pol = policy(UMF_MEMPOLICY_INTERLEAVE);
    umf_memory_provider_handle_t h = provider(ms, pol);
    const size_t n = 64;
    unsigned char *p = alloc_touched(h, n);
    size_t on0 = 0, on1 = 0;
    for (size_t i = 0; i < n; i++) {
        nq_policy_t pp = nq_policy_of(p + i * nq_page());
        ck_assert_int_eq(pp.mode, NQ_MPOL_INTERLEAVE);
        ck_assert(nq_mask_is(pp.mask, ids, 2));
        int node = nq_node_of(p + i * nq_page());
        on0 += node == (int)n0;
        on1 += node == (int)n1;
    }
    ck_assert_uint_eq(on0 + on1, n);
    ck_assert_msg(on0 >= n / 4 && on1 >= n / 4, "%zu on n0, %zu on n1", on0,
                  on1);
    umfMemoryProviderFree(h, p, n * nq_page());
    umfMemoryProviderDestroy(h);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(ms);
}
END_TEST

// Parts of 2 pages, round robin from the memspace's first node (the
// provider's running byte counter starts at 0).
START_TEST(test_memspace_numa_multi_interleave_parts) {
    unsigned ids[] = {n1, n0}; // memspace order decides who starts
    umf_memspace_handle_t ms = space(ids, 2);
    umf_mempolicy_handle_t pol = policy(UMF_MEMPOLICY_INTERLEAVE);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(pol, 2 * nq_page()),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = provider(ms, pol);
    unsigned char *p = alloc_touched(h, 12);
    for (size_t i = 0; i < 12; i++) {
        expect_on(p, i, ids[(i / 2) % 2], "INTERLEAVE by 2 pages");
    }
    umfMemoryProviderFree(h, p, 12 * nq_page());
    umfMemoryProviderDestroy(h);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(ms);
}
END_TEST

START_TEST(test_memspace_numa_multi_split) {
    unsigned ids[] = {n0, n1};
    umf_memspace_handle_t ms = space(ids, 2);
    umf_mempolicy_handle_t pol = policy(UMF_MEMPOLICY_SPLIT);
    umf_mempolicy_split_partition_t parts[] = {{1, n0}, {3, n1}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(pol, parts, 2),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = provider(ms, pol);
    umfMempolicyDestroy(pol); // the provider copied the partitions
    unsigned char *p = alloc_touched(h, 16);
    for (size_t i = 0; i < 16; i++) {
        expect_on(p, i, i < 4 ? n0 : n1, "SPLIT 1:3");
    }
    umfMemoryProviderFree(h, p, 16 * nq_page());
    umfMemoryProviderDestroy(h);

    // No partitions: equal weights in memspace order.
    pol = policy(UMF_MEMPOLICY_SPLIT);
    h = provider(ms, pol);
    p = alloc_touched(h, 10);
    for (size_t i = 0; i < 10; i++) {
        expect_on(p, i, i < 5 ? n0 : n1, "SPLIT equal");
    }
    umfMemoryProviderFree(h, p, 10 * nq_page());
    umfMemoryProviderDestroy(h);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(ms);
}
END_TEST

START_TEST(test_memspace_numa_multi_preferred) {
    unsigned ids[] = {n1};
    umf_memspace_handle_t ms = space(ids, 1);
    umf_mempolicy_handle_t pol = policy(UMF_MEMPOLICY_PREFERRED);
    umf_memory_provider_handle_t h = provider(ms, pol);
    unsigned char *p = alloc_touched(h, 8);
    for (size_t i = 0; i < 8; i++) {
        nq_policy_t pp = nq_policy_of(p + i * nq_page());
        ck_assert_int_eq(pp.mode, NQ_MPOL_PREFERRED);
        expect_on(p, i, n1, "PREFERRED {n1}");
    }
    umfMemoryProviderFree(h, p, 8 * nq_page());
    umfMemoryProviderDestroy(h);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(ms);
}
END_TEST

// A clone of host-all filtered down to the second node.
START_TEST(test_memspace_numa_multi_filtered) {
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceClone(umfMemspaceHostAllGet(), &ms),
                     UMF_RESULT_SUCCESS);
    unsigned keep[] = {n1};
    ck_assert_int_eq(umfMemspaceFilterById(ms, keep, 1), UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = provider(ms, NULL); // BIND
    unsigned char *p = alloc_touched(h, 8);
    for (size_t i = 0; i < 8; i++) {
        expect_on(p, i, n1, "host-all filtered to {n1}");
    }
    umfMemoryProviderFree(h, p, 8 * nq_page());
    umfMemoryProviderDestroy(h);
    umfMemspaceDestroy(ms);
}
END_TEST

// The highest-capacity memspace itself binds to its first node only; a
// clone of it binds to all its nodes.
START_TEST(test_memspace_numa_multi_highest_capacity) {
    umf_const_memspace_handle_t hc = umfMemspaceHighestCapacityGet();
    ck_assert_ptr_nonnull(hc);
    unsigned first = 0;
    umfMemtargetGetId(umfMemspaceMemtargetGet(hc, 0), &first);
    umf_memory_provider_handle_t h = provider(hc, NULL);
    unsigned char *p = alloc_touched(h, 4);
    for (size_t i = 0; i < 4; i++) {
        nq_policy_t pp = nq_policy_of(p + i * nq_page());
        ck_assert_int_eq(pp.mode, NQ_MPOL_BIND);
        ck_assert(nq_mask_is(pp.mask, &first, 1));
        expect_on(p, i, first, "highest capacity");
    }
    umfMemoryProviderFree(h, p, 4 * nq_page());
    umfMemoryProviderDestroy(h);

    umf_memspace_handle_t clone = NULL;
    ck_assert_int_eq(umfMemspaceClone(hc, &clone), UMF_RESULT_SUCCESS);
    h = provider(clone, NULL);
    void *q = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, nq_page(), 0, &q),
                     UMF_RESULT_SUCCESS);
    nq_policy_t pp = nq_policy_of(q);
    ck_assert_int_eq(pp.mode, NQ_MPOL_BIND);
    ck_assert(!nq_mask_is(pp.mask, &first, 1)); // more than the first
    umfMemoryProviderFree(h, q, nq_page());
    umfMemoryProviderDestroy(h);
    umfMemspaceDestroy(clone);
}
END_TEST

START_TEST(test_memspace_numa_multi_pool) {
    unsigned ids[] = {n1};
    umf_memspace_handle_t ms = space(ids, 1);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreateFromMemspace(ms, NULL, &pool),
                     UMF_RESULT_SUCCESS);
    umfMemspaceDestroy(ms);
    const size_t sizes[] = {32, 100000, 4 << 20};
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        unsigned char *p = umfPoolCalloc(pool, 1, sizes[s]);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(nq_node_of(p), (int)n1);
        ck_assert_int_eq(nq_node_of(p + sizes[s] - 1), (int)n1);
        umfFree(p);
    }
    umfPoolDestroy(pool);
}
END_TEST

// ======================= setup =======================

static void discover_nodes(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        skip_binary("hwloc cannot load the topology");
    }
    int total = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    unsigned with_memory = 0;
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o))) {
        if (o->attr->numanode.local_memory == 0) {
            continue;
        }
        if (with_memory == 0) {
            n0 = o->os_index;
        } else if (with_memory == 1) {
            n1 = o->os_index;
        }
        with_memory++;
    }
    hwloc_topology_destroy(topo);
    if (with_memory < 2) {
        char why[96];
        snprintf(why, sizeof(why),
                 "%d NUMA node(s), %u with memory; needs 2 with memory", total,
                 with_memory);
        skip_binary(why);
    }
    const char *why = nq_unavailable();
    if (why) {
        skip_binary(why);
    }
}

static Suite *memspace_numa_multi_suite(void) {
    Suite *s = suite_create("memspace_numa_multi");
    TCase *tc = tcase_create("policies");
    tcase_add_test(tc, test_memspace_numa_multi_bind_second);
    tcase_add_test(tc, test_memspace_numa_multi_interleave_pages);
    tcase_add_test(tc, test_memspace_numa_multi_interleave_parts);
    tcase_add_test(tc, test_memspace_numa_multi_split);
    tcase_add_test(tc, test_memspace_numa_multi_preferred);
    suite_add_tcase(s, tc);
    tc = tcase_create("memspaces");
    tcase_add_test(tc, test_memspace_numa_multi_filtered);
    tcase_add_test(tc, test_memspace_numa_multi_highest_capacity);
    tcase_add_test(tc, test_memspace_numa_multi_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    discover_nodes();
    return run_suite(memspace_numa_multi_suite());
}
