/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_os_numa_multi.c - the OS provider's NUMA modes across two nodes:
 * binding to the second node, interleaving pages (kernel interleave and
 * part-size interleave continuing from the provider's running byte
 * counter), SPLIT landing consecutive page ranges on the partition targets
 * in proportion to the weights, and PREFERRED over one or both nodes.
 * Policies are read back with get_mempolicy(MPOL_F_ADDR) and the pages'
 * nodes, after touching, with MPOL_F_NODE|MPOL_F_ADDR.
 *
 * Needs two NUMA nodes with memory; elsewhere it prints why and exits 77.
 */

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>

#include <hwloc.h>

#include <umf/memory_provider.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

// From <linux/mempolicy.h> (there is no libnuma here).
#define MPOL_DEFAULT        0
#define MPOL_PREFERRED      1
#define MPOL_BIND           2
#define MPOL_INTERLEAVE     3
#define MPOL_LOCAL          4
#define MPOL_PREFERRED_MANY 5
#define MPOL_F_NODE         (1UL << 0)
#define MPOL_F_ADDR         (1UL << 1)
#define MPOL_MODE_MASK      0xff

#define MASK_WORDS 16
#define MASK_BITS  (MASK_WORDS * 8 * sizeof(unsigned long))

static unsigned n0, n1;      // the first two nodes with memory
static unsigned max_node_id; // highest node os index

static size_t page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

// --- Kernel queries ---

typedef struct policy_t {
    int mode;
    unsigned long mask[MASK_WORDS];
} policy_t;

static long sys_get_mempolicy(int *mode, unsigned long *mask,
                              unsigned long maxnode, void *addr,
                              unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static policy_t policy_of(void *addr) {
    policy_t p;
    memset(&p, 0, sizeof(p));
    p.mode = -1;
    long r = sys_get_mempolicy(&p.mode, p.mask, MASK_BITS, addr, MPOL_F_ADDR);
    ck_assert_msg(r == 0, "get_mempolicy(%p, MPOL_F_ADDR): %s", addr,
                  strerror(errno));
    p.mode &= MPOL_MODE_MASK;
    return p;
}

static int node_of(void *addr) {
    int node = -1;
    long r = sys_get_mempolicy(&node, NULL, 0, addr, MPOL_F_NODE | MPOL_F_ADDR);
    ck_assert_msg(r == 0, "get_mempolicy(%p, MPOL_F_NODE|MPOL_F_ADDR): %s",
                  addr, strerror(errno));
    return node;
}

static bool mask_is(const unsigned long *mask, const unsigned *want,
                    unsigned n) {
    unsigned long expect[MASK_WORDS] = {0};
    const unsigned bits = 8 * sizeof(unsigned long);
    for (unsigned i = 0; i < n; i++) {
        expect[want[i] / bits] |= 1UL << (want[i] % bits);
    }
    return memcmp(mask, expect, sizeof(expect)) == 0;
}

// Page i of ptr is bound strictly to `node` alone.
static void expect_bound(unsigned char *ptr, size_t i, unsigned node,
                         const char *what) {
    policy_t p = policy_of(ptr + i * page());
    ck_assert_msg(p.mode == MPOL_BIND && mask_is(p.mask, &node, 1),
                  "%s: page %zu has mode %d mask %#lx, expected MPOL_BIND "
                  "{%u}",
                  what, i, p.mode, p.mask[0], node);
}

static void expect_on(unsigned char *ptr, size_t i, unsigned node,
                      const char *what) {
    int got = node_of(ptr + i * page());
    ck_assert_msg(got == (int)node, "%s: page %zu is on node %d, expected %u",
                  what, i, got, node);
}

// Touches every page, one page at a time, without huge pages (so every
// page is placed by itself).
static void touch(unsigned char *ptr, size_t npages) {
    (void)madvise(ptr, npages * page(), MADV_NOHUGEPAGE);
    for (size_t i = 0; i < npages; i++) {
        ptr[i * page()] = (unsigned char)i;
    }
}

// --- Providers ---

static umf_memory_provider_handle_t
make_provider(umf_numa_mode_t mode, const unsigned *list, unsigned nlist,
              size_t part_size, const umf_numa_split_partition_t *parts,
              unsigned nparts) {
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaMode(p, mode),
                     UMF_RESULT_SUCCESS);
    unsigned l[4] = {0};
    memcpy(l, list, sizeof(unsigned) * nlist);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaList(p, nlist ? l : NULL, nlist),
        UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, part_size),
                     UMF_RESULT_SUCCESS);
    umf_numa_split_partition_t pt[4] = {{0, 0}};
    memcpy(pt, parts, sizeof(*pt) * nparts);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetPartitions(p, nparts ? pt : NULL, nparts),
        UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(p);
    return h;
}

static unsigned char *alloc_ok(umf_memory_provider_handle_t h, size_t size) {
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, size, 0, &ptr),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(ptr);
    return ptr;
}

static void free_ok(umf_memory_provider_handle_t h, void *ptr, size_t size) {
    ck_assert_int_eq(umfMemoryProviderFree(h, ptr, size), UMF_RESULT_SUCCESS);
}

// ======================= BIND =======================

START_TEST(test_os_numa_multi_bind_second) {
    unsigned list[] = {n1};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_BIND, list, 1, 0, NULL, 0);
    const size_t n = 32;
    unsigned char *ptr = alloc_ok(h, n * page());
    for (size_t i = 0; i < n; i++) {
        expect_bound(ptr, i, n1, "BIND {n1}");
    }
    touch(ptr, n);
    for (size_t i = 0; i < n; i++) {
        expect_on(ptr, i, n1, "BIND {n1}");
    }
    free_ok(h, ptr, n * page());
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_os_numa_multi_bind_both) {
    unsigned list[] = {n0, n1};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_BIND, list, 2, 0, NULL, 0);
    const size_t n = 32;
    unsigned char *ptr = alloc_ok(h, n * page());
    for (size_t i = 0; i < n; i++) {
        policy_t p = policy_of(ptr + i * page());
        ck_assert_int_eq(p.mode, MPOL_BIND);
        ck_assert(mask_is(p.mask, list, 2));
    }
    touch(ptr, n);
    for (size_t i = 0; i < n; i++) {
        int node = node_of(ptr + i * page());
        ck_assert(node == (int)n0 || node == (int)n1);
    }
    free_ok(h, ptr, n * page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// ======================= INTERLEAVE =======================

// Part size 0: the kernel interleaves page by page over both nodes.
START_TEST(test_os_numa_multi_interleave_pages) {
    unsigned list[] = {n0, n1};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_INTERLEAVE, list, 2, 0, NULL, 0);
    const size_t n = 64;
    unsigned char *ptr = alloc_ok(h, n * page());
    for (size_t i = 0; i < n; i++) {
        policy_t p = policy_of(ptr + i * page());
        ck_assert_int_eq(p.mode, MPOL_INTERLEAVE);
        ck_assert(mask_is(p.mask, list, 2));
    }
    touch(ptr, n);
    size_t on0 = 0, on1 = 0;
    for (size_t i = 0; i < n; i++) {
        int node = node_of(ptr + i * page());
        on0 += node == (int)n0;
        on1 += node == (int)n1;
    }
    ck_assert_uint_eq(on0 + on1, n);
    ck_assert_msg(on0 >= n / 4 && on1 >= n / 4,
                  "interleaved pages not spread: %zu on node %u, %zu on node "
                  "%u",
                  on0, n0, on1, n1);
    free_ok(h, ptr, n * page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// Part size > 0: each part-size chunk is bound to one node, round-robin,
// and an allocation starts at node (bytes allocated before / part) % n.
START_TEST(test_os_numa_multi_interleave_parts) {
    unsigned list[] = {n0, n1};
    const size_t part_pages = 2;
    umf_memory_provider_handle_t h = make_provider(
        UMF_NUMA_MODE_INTERLEAVE, list, 2, part_pages * page(), NULL, 0);
    const size_t allocs[] = {8, 6, 3, 4, 2, 5, 1, 2};
    size_t bytes_before = 0;
    for (size_t a = 0; a < ARRAY_SIZE(allocs); a++) {
        size_t n = allocs[a];
        unsigned char *ptr = alloc_ok(h, n * page());
        size_t start = (bytes_before / (part_pages * page())) % 2;
        char what[96];
        snprintf(what, sizeof(what),
                 "allocation %zu (%zu pages, %zu bytes before)", a, n,
                 bytes_before);
        for (size_t i = 0; i < n; i++) {
            unsigned node = list[(start + i / part_pages) % 2];
            expect_bound(ptr, i, node, what);
        }
        touch(ptr, n);
        for (size_t i = 0; i < n; i++) {
            expect_on(ptr, i, list[(start + i / part_pages) % 2], what);
        }
        bytes_before += n * page();
        // Keep every other allocation: the counter runs on regardless.
        if (a % 2) {
            free_ok(h, ptr, n * page());
        }
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

// ======================= SPLIT =======================

typedef struct split_case_t {
    umf_numa_split_partition_t parts[2];
    unsigned nparts;
    size_t pages;
} split_case_t;

static void resolve(umf_numa_split_partition_t *p) {
    // Targets in the cases are 0 and 1: indexes of n0 and n1.
    p->target = p->target ? n1 : n0;
}

// Pages [0, first) on the first partition's target, the rest on the
// second's; first = pages * w0 / (w0 + w1) exactly when it divides.
START_TEST(test_os_numa_multi_split_weights) {
    const split_case_t cases[] = {
        {{{1, 0}, {3, 1}}, 2, 8},  {{{1, 0}, {3, 1}}, 2, 400},
        {{{3, 1}, {1, 0}}, 2, 8},  {{{1, 0}, {1, 1}}, 2, 10},
        {{{2, 1}, {6, 0}}, 2, 16}, {{{0, 0}, {0, 0}}, 0, 12}, // equal weights
    };
    unsigned list[] = {n0, n1};
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        umf_numa_split_partition_t parts[2] = {cases[c].parts[0],
                                               cases[c].parts[1]};
        resolve(&parts[0]);
        resolve(&parts[1]);
        unsigned w0 = cases[c].nparts ? parts[0].weight : 1;
        unsigned w1 = cases[c].nparts ? parts[1].weight : 1;
        unsigned t0 = cases[c].nparts ? parts[0].target : n0;
        unsigned t1 = cases[c].nparts ? parts[1].target : n1;
        umf_memory_provider_handle_t h = make_provider(
            UMF_NUMA_MODE_SPLIT, list, 2, 0, parts, cases[c].nparts);
        size_t n = cases[c].pages;
        size_t first = n * w0 / (w0 + w1);
        unsigned char *ptr = alloc_ok(h, n * page());
        char what[96];
        snprintf(what, sizeof(what), "SPLIT %u:%u case %zu, %zu pages", w0, w1,
                 c, n);
        for (size_t i = 0; i < n; i++) {
            expect_bound(ptr, i, i < first ? t0 : t1, what);
        }
        touch(ptr, n);
        for (size_t i = 0; i < n; i++) {
            expect_on(ptr, i, i < first ? t0 : t1, what);
        }
        free_ok(h, ptr, n * page());
        umfMemoryProviderDestroy(h);
    }
}
END_TEST

// Sizes that do not divide: a prefix on the first target, its length
// within a page of the exact share, the rest on the second target.
START_TEST(test_os_numa_multi_split_uneven) {
    unsigned list[] = {n0, n1};
    umf_numa_split_partition_t parts[] = {{1, n0}, {3, n1}};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_SPLIT, list, 2, 0, parts, 2);
    const size_t sizes[] = {1, 2, 3, 5, 7, 9, 31};
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        size_t n = sizes[s];
        unsigned char *ptr = alloc_ok(h, n * page());
        size_t first = 0;
        while (first < n && policy_of(ptr + first * page()).mode == MPOL_BIND &&
               mask_is(policy_of(ptr + first * page()).mask, &n0, 1)) {
            first++;
        }
        for (size_t i = first; i < n; i++) {
            expect_bound(ptr, i, n1, "SPLIT 1:3 uneven");
        }
        // first ~ n / 4, within one page.
        ck_assert_msg(4 * first + 4 >= n && 4 * first <= n + 4,
                      "%zu pages: %zu on the weight-1 node", n, first);
        free_ok(h, ptr, n * page());
    }
    umfMemoryProviderDestroy(h);
}
END_TEST

// ======================= PREFERRED =======================

START_TEST(test_os_numa_multi_preferred_second) {
    unsigned list[] = {n1};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_PREFERRED, list, 1, 0, NULL, 0);
    const size_t n = 16;
    unsigned char *ptr = alloc_ok(h, n * page());
    for (size_t i = 0; i < n; i++) {
        policy_t p = policy_of(ptr + i * page());
        ck_assert_int_eq(p.mode, MPOL_PREFERRED);
        ck_assert(mask_is(p.mask, &n1, 1));
    }
    touch(ptr, n);
    for (size_t i = 0; i < n; i++) {
        expect_on(ptr, i, n1, "PREFERRED {n1}");
    }
    free_ok(h, ptr, n * page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// Several nodes: MPOL_PREFERRED_MANY (MPOL_PREFERRED on the first node
// where the kernel predates it).
START_TEST(test_os_numa_multi_preferred_many) {
    unsigned list[] = {n0, n1};
    umf_memory_provider_handle_t h =
        make_provider(UMF_NUMA_MODE_PREFERRED, list, 2, 0, NULL, 0);
    const size_t n = 16;
    unsigned char *ptr = alloc_ok(h, n * page());
    for (size_t i = 0; i < n; i++) {
        policy_t p = policy_of(ptr + i * page());
        ck_assert_msg(
            (p.mode == MPOL_PREFERRED_MANY && mask_is(p.mask, list, 2)) ||
                (p.mode == MPOL_PREFERRED && mask_is(p.mask, &n0, 1)),
            "PREFERRED {n0,n1}: page %zu has mode %d mask %#lx", i, p.mode,
            p.mask[0]);
    }
    touch(ptr, n);
    for (size_t i = 0; i < n; i++) {
        int node = node_of(ptr + i * page());
        ck_assert(node == (int)n0 || node == (int)n1);
    }
    free_ok(h, ptr, n * page());
    umfMemoryProviderDestroy(h);
}
END_TEST

// ======================= node ids =======================

START_TEST(test_os_numa_multi_node_ids_checked) {
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(p, UMF_NUMA_MODE_BIND),
        UMF_RESULT_SUCCESS);
    unsigned bad[] = {n0, n1, max_node_id + 1};
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, bad, 3),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(p, bad, 2),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    umfOsMemoryProviderParamsDestroy(p);
}
END_TEST

// ======================= setup =======================

static void discover_nodes(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        skip_binary("hwloc cannot load the topology");
    }
    int total = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    if (total < 2) {
        char why[64];
        snprintf(why, sizeof(why), "only %d NUMA node(s); needs 2", total);
        hwloc_topology_destroy(topo);
        skip_binary(why);
    }
    unsigned with_memory = 0;
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o))) {
        if (o->os_index > max_node_id) {
            max_node_id = o->os_index;
        }
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
        char why[80];
        snprintf(why, sizeof(why),
                 "only %u of %d NUMA node(s) have memory; needs 2", with_memory,
                 total);
        skip_binary(why);
    }
}

static void probe_mempolicy(void) {
    int mode = -1;
    if (sys_get_mempolicy(&mode, NULL, 0, NULL, 0) != 0) {
        char why[128];
        snprintf(why, sizeof(why), "get_mempolicy(2) fails: %s",
                 strerror(errno));
        skip_binary(why);
    }
}

static Suite *os_numa_multi_suite(void) {
    Suite *s = suite_create("os_numa_multi");
    TCase *tc = tcase_create("bind");
    tcase_add_test(tc, test_os_numa_multi_bind_second);
    tcase_add_test(tc, test_os_numa_multi_bind_both);
    suite_add_tcase(s, tc);

    tc = tcase_create("interleave");
    tcase_add_test(tc, test_os_numa_multi_interleave_pages);
    tcase_add_test(tc, test_os_numa_multi_interleave_parts);
    suite_add_tcase(s, tc);

    tc = tcase_create("split");
    tcase_add_test(tc, test_os_numa_multi_split_weights);
    tcase_add_test(tc, test_os_numa_multi_split_uneven);
    suite_add_tcase(s, tc);

    tc = tcase_create("preferred");
    tcase_add_test(tc, test_os_numa_multi_preferred_second);
    tcase_add_test(tc, test_os_numa_multi_preferred_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("node_ids");
    tcase_add_test(tc, test_os_numa_multi_node_ids_checked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    discover_nodes();
    probe_mempolicy();
    return run_suite(os_numa_multi_suite());
}
