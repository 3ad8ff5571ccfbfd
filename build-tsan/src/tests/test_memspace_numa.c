/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_memspace_numa.c - memory from providers and pools made from a
 * memspace and a policy lands where the policy says, on the machine as it
 * is (one NUMA node is enough): every page's policy is read back with
 * get_mempolicy(MPOL_F_ADDR), and after touching, its node with
 * get_mempolicy(MPOL_F_NODE) and move_pages(2), which must agree.
 *
 * The node used is the first node with memory. Placement across several
 * nodes is tested in test_memspace_numa_multi.c.
 */

#include <stdint.h>

#include <hwloc.h>

#include <umf/memspace.h>

#include "helpers.h"
#include "numa_query.h"

#define MAX_NODES 64

static unsigned node0;            // first node with memory
static unsigned nodes[MAX_NODES]; // every node, logical order
static unsigned nnodes;

// --- Cases ---

typedef enum space_t {
    SPACE_NODE0,      // umfMemspaceCreateFromNumaArray({node0})
    SPACE_HOST_ALL,   // the predefined host-all memspace itself
    SPACE_HOST_CLONE, // a clone of it
    SPACE_HIGHEST_CAP // the predefined highest-capacity memspace
} space_t;

typedef enum expect_t {
    EXPECT_DEFAULT,        // no policy on the pages
    EXPECT_BIND_NODE0,     // MPOL_BIND {node0}
    EXPECT_BIND_ALL,       // MPOL_BIND over every node
    EXPECT_BIND_FIRST_CAP, // MPOL_BIND {first node of highest capacity}
    EXPECT_INTERLEAVE,     // MPOL_INTERLEAVE {node0}
    EXPECT_PREFERRED,      // MPOL_PREFERRED {node0}
} expect_t;

#define NO_POLICY (-1)

typedef struct case_t {
    const char *name;
    space_t space;
    int policy; // umf_mempolicy_membind_t or NO_POLICY
    size_t part_pages;
    unsigned split_weight; // 0: no custom partitions
    expect_t expect;
} case_t;

static const case_t cases[] = {
    {"host-all, no policy", SPACE_HOST_ALL, NO_POLICY, 0, 0, EXPECT_DEFAULT},
    {"clone of host-all, no policy", SPACE_HOST_CLONE, NO_POLICY, 0, 0,
     EXPECT_BIND_ALL},
    {"highest capacity, no policy", SPACE_HIGHEST_CAP, NO_POLICY, 0, 0,
     EXPECT_BIND_FIRST_CAP},
    {"{node0}, no policy", SPACE_NODE0, NO_POLICY, 0, 0, EXPECT_BIND_NODE0},
    {"{node0}, BIND", SPACE_NODE0, UMF_MEMPOLICY_BIND, 0, 0, EXPECT_BIND_NODE0},
    {"{node0}, INTERLEAVE", SPACE_NODE0, UMF_MEMPOLICY_INTERLEAVE, 0, 0,
     EXPECT_INTERLEAVE},
    {"{node0}, INTERLEAVE by 2 pages", SPACE_NODE0, UMF_MEMPOLICY_INTERLEAVE, 2,
     0, EXPECT_BIND_NODE0},
    {"{node0}, PREFERRED", SPACE_NODE0, UMF_MEMPOLICY_PREFERRED, 0, 0,
     EXPECT_PREFERRED},
    {"{node0}, SPLIT", SPACE_NODE0, UMF_MEMPOLICY_SPLIT, 0, 0,
     EXPECT_BIND_NODE0},
    {"{node0}, SPLIT weight 3", SPACE_NODE0, UMF_MEMPOLICY_SPLIT, 0, 3,
     EXPECT_BIND_NODE0},
    {"host-all, BIND", SPACE_HOST_ALL, UMF_MEMPOLICY_BIND, 0, 0,
     EXPECT_BIND_ALL},
};

static unsigned first_capacity_node(void) {
    umf_const_memtarget_handle_t t =
        umfMemspaceMemtargetGet(umfMemspaceHighestCapacityGet(), 0);
    unsigned id = 0;
    ck_assert_int_eq(umfMemtargetGetId(t, &id), UMF_RESULT_SUCCESS);
    return id;
}

static bool in_nodes(int node) {
    for (unsigned i = 0; i < nnodes; i++) {
        if ((int)nodes[i] == node) {
            return true;
        }
    }
    return false;
}

// The memspace of a case; *owned is set when the caller must destroy it.
static umf_const_memspace_handle_t make_space(space_t s,
                                              umf_memspace_handle_t *owned) {
    *owned = NULL;
    switch (s) {
    case SPACE_NODE0: {
        unsigned ids[] = {node0};
        ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 1, owned),
                         UMF_RESULT_SUCCESS);
        return *owned;
    }
    case SPACE_HOST_ALL:
        return umfMemspaceHostAllGet();
    case SPACE_HOST_CLONE:
        ck_assert_int_eq(umfMemspaceClone(umfMemspaceHostAllGet(), owned),
                         UMF_RESULT_SUCCESS);
        return *owned;
    case SPACE_HIGHEST_CAP:
        return umfMemspaceHighestCapacityGet();
    }
    return NULL;
}

static umf_mempolicy_handle_t make_policy(const case_t *c,
                                          umf_mempolicy_split_partition_t *p) {
    if (c->policy == NO_POLICY) {
        return NULL;
    }
    umf_mempolicy_handle_t pol = NULL;
    ck_assert_int_eq(
        umfMempolicyCreate((umf_mempolicy_membind_t)c->policy, &pol),
        UMF_RESULT_SUCCESS);
    if (c->part_pages) {
        ck_assert_int_eq(
            umfMempolicySetInterleavePartSize(pol, c->part_pages * nq_page()),
            UMF_RESULT_SUCCESS);
    }
    if (c->split_weight) {
        p->weight = c->split_weight;
        p->target = node0;
        ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(pol, p, 1),
                         UMF_RESULT_SUCCESS);
    }
    return pol;
}

// The page's policy and, once touched, its node, as the case expects.
static void check_page(const case_t *c, unsigned char *page, size_t i,
                       bool touched) {
    nq_policy_t p = nq_policy_of(page);
    unsigned first = first_capacity_node();
    bool ok = false;
    switch (c->expect) {
    case EXPECT_DEFAULT:
        ok = p.mode == NQ_MPOL_DEFAULT;
        break;
    case EXPECT_BIND_NODE0:
        ok = p.mode == NQ_MPOL_BIND && nq_mask_is(p.mask, &node0, 1);
        break;
    case EXPECT_BIND_ALL:
        ok = p.mode == NQ_MPOL_BIND && nq_mask_is(p.mask, nodes, nnodes);
        break;
    case EXPECT_BIND_FIRST_CAP:
        ok = p.mode == NQ_MPOL_BIND && nq_mask_is(p.mask, &first, 1);
        break;
    case EXPECT_INTERLEAVE:
        ok = p.mode == NQ_MPOL_INTERLEAVE && nq_mask_is(p.mask, &node0, 1);
        break;
    case EXPECT_PREFERRED:
        ok =
            (p.mode == NQ_MPOL_PREFERRED || p.mode == NQ_MPOL_PREFERRED_MANY) &&
            nq_mask_is(p.mask, &node0, 1);
        break;
    }
    ck_assert_msg(ok, "%s: page %zu has policy mode %d, mask %#lx", c->name, i,
                  p.mode, p.mask[0]);
    if (!touched) {
        return;
    }
    int node = nq_node_of(page);
    switch (c->expect) {
    case EXPECT_DEFAULT:
    case EXPECT_BIND_ALL:
        ok = nnodes == 1 ? node == (int)node0 : in_nodes(node);
        break;
    case EXPECT_BIND_FIRST_CAP:
        ok = node == (int)first;
        break;
    default:
        ok = node == (int)node0;
        break;
    }
    ck_assert_msg(ok, "%s: page %zu is on node %d", c->name, i, node);
}

// Provider: several sizes and alignments, every page checked.
START_TEST(test_memspace_numa_provider) {
    const case_t *c = &cases[_i];
    umf_memspace_handle_t owned = NULL;
    umf_const_memspace_handle_t ms = make_space(c->space, &owned);
    ck_assert_ptr_nonnull(ms);
    umf_mempolicy_split_partition_t part;
    umf_mempolicy_handle_t pol = make_policy(c, &part);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, pol, &h),
                     UMF_RESULT_SUCCESS);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(owned); // both may go once the provider exists

    const struct {
        size_t pages, align;
    } shapes[] = {{1, 0}, {9, 0}, {64, 0}, {4, 2 * 1024 * 1024}};
    for (size_t s = 0; s < ARRAY_SIZE(shapes); s++) {
        size_t len = shapes[s].pages * nq_page();
        void *vp = NULL;
        ck_assert_int_eq(umfMemoryProviderAlloc(h, len, shapes[s].align, &vp),
                         UMF_RESULT_SUCCESS);
        unsigned char *ptr = vp;
        for (size_t i = 0; i < shapes[s].pages; i++) {
            check_page(c, ptr + i * nq_page(), i, false);
        }
        nq_touch(ptr, shapes[s].pages);
        for (size_t i = 0; i < shapes[s].pages; i++) {
            check_page(c, ptr + i * nq_page(), i, true);
            ck_assert_uint_eq(ptr[i * nq_page()], (unsigned char)(i + 1));
        }
        ck_assert_int_eq(umfMemoryProviderFree(h, ptr, len),
                         UMF_RESULT_SUCCESS);
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

// Pool: small blocks (from slabs) and a large one (straight from the
// provider) land the same way.
START_TEST(test_memspace_numa_pool) {
    const case_t *c = &cases[_i];
    umf_memspace_handle_t owned = NULL;
    umf_const_memspace_handle_t ms = make_space(c->space, &owned);
    umf_mempolicy_split_partition_t part;
    umf_mempolicy_handle_t pol = make_policy(c, &part);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreateFromMemspace(ms, pol, &pool),
                     UMF_RESULT_SUCCESS);
    umfMempolicyDestroy(pol);
    umfMemspaceDestroy(owned);

    const size_t sizes[] = {64, 5000, 8 << 20};
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        unsigned char *p = umfPoolMalloc(pool, sizes[s]);
        ck_assert_ptr_nonnull(p);
        memset(p, 0x3c, sizes[s]);
        uintptr_t first = (uintptr_t)p & ~(uintptr_t)(nq_page() - 1);
        uintptr_t last =
            ((uintptr_t)p + sizes[s] - 1) & ~(uintptr_t)(nq_page() - 1);
        for (uintptr_t a = first; a <= last; a += nq_page()) {
            check_page(c, (unsigned char *)a, (a - first) / nq_page(), true);
        }
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
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
    bool found = false;
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o)) &&
           nnodes < MAX_NODES) {
        nodes[nnodes++] = o->os_index;
        if (!found && o->attr->numanode.local_memory > 0) {
            node0 = o->os_index;
            found = true;
        }
    }
    hwloc_topology_destroy(topo);
    if (!found) {
        skip_binary("hwloc reports no NUMA node with memory");
    }
    const char *why = nq_unavailable();
    if (why) {
        skip_binary(why);
    }
    printf("%u NUMA node(s); placement checked on node %u\n", nnodes, node0);
}

static Suite *memspace_numa_suite(void) {
    Suite *s = suite_create("memspace_numa");
    TCase *tc = tcase_create("provider");
    tcase_add_loop_test(tc, test_memspace_numa_provider, 0,
                        (int)ARRAY_SIZE(cases));
    suite_add_tcase(s, tc);
    tc = tcase_create("pool");
    tcase_add_loop_test(tc, test_memspace_numa_pool, 0, (int)ARRAY_SIZE(cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    discover_nodes();
    return run_suite(memspace_numa_suite());
}
