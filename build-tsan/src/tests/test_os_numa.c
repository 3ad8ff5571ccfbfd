/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_os_numa.c - the OS provider's NUMA modes on the machine as it is,
 * which may have a single NUMA node. Every allocation's policy is read back
 * page by page with get_mempolicy(MPOL_F_ADDR), and after the pages are
 * touched, the node holding each page with MPOL_F_NODE|MPOL_F_ADDR.
 *
 * The node used is the first NUMA node with memory (node 0 on almost every
 * machine). Placement across several nodes is tested in
 * test_os_numa_multi.c.
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
#define MPOL_MODE_MASK      0xff // drops MPOL_F_STATIC_NODES & co.

#define MASK_WORDS 16
#define MASK_BITS  (MASK_WORDS * 8 * sizeof(unsigned long))
#define MAX_NODES  64

static unsigned node0;            // the node the tests bind to
static unsigned nodes[MAX_NODES]; // every NUMA node, by os index
static unsigned nnodes;

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

// Node of the (touched) page at addr.
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

static bool mask_empty(const unsigned long *mask) {
    return mask_is(mask, NULL, 0);
}

static bool node_exists(int node) {
    for (unsigned i = 0; i < nnodes; i++) {
        if ((int)nodes[i] == node) {
            return true;
        }
    }
    return false;
}

// --- Providers ---

typedef struct cfg_t {
    umf_numa_mode_t mode;
    unsigned list[2];
    unsigned nlist;
    size_t part_size;
    umf_numa_split_partition_t parts[2];
    unsigned nparts;
} cfg_t;

static umf_memory_provider_handle_t make_provider(const cfg_t *c) {
    umf_os_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaMode(p, c->mode),
                     UMF_RESULT_SUCCESS);
    unsigned list[2] = {c->list[0], c->list[1]};
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(
                         p, c->nlist ? list : NULL, c->nlist),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartSize(p, c->part_size),
                     UMF_RESULT_SUCCESS);
    umf_numa_split_partition_t parts[2] = {c->parts[0], c->parts[1]};
    ck_assert_int_eq(umfOsMemoryProviderParamsSetPartitions(
                         p, c->nparts ? parts : NULL, c->nparts),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &h),
                     UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(p);
    return h;
}

static unsigned char *alloc_ok(umf_memory_provider_handle_t h, size_t size,
                               size_t align) {
    void *ptr = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, size, align, &ptr),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(ptr);
    return ptr;
}

// Allocation sizes (in pages) and alignments every mode is checked with.
static const struct {
    size_t pages;
    size_t align;
} shapes[] = {{1, 0}, {7, 0}, {64, 0}, {5, 64 * 1024}, {3, 2 * 1024 * 1024}};

typedef bool (*policy_ok_fn)(const policy_t *p);
typedef bool (*node_ok_fn)(int node);

// Allocates every shape, checks each page's policy before and its node
// after touching it, and frees.
static void check_provider(const cfg_t *c, policy_ok_fn policy_ok,
                           node_ok_fn node_ok, const char *what) {
    umf_memory_provider_handle_t h = make_provider(c);
    for (size_t s = 0; s < ARRAY_SIZE(shapes); s++) {
        size_t len = shapes[s].pages * page();
        unsigned char *ptr = alloc_ok(h, len, shapes[s].align);
        for (size_t i = 0; i < shapes[s].pages; i++) {
            policy_t p = policy_of(ptr + i * page());
            ck_assert_msg(policy_ok(&p),
                          "%s: page %zu of %zu has policy mode %d, mask "
                          "%#lx",
                          what, i, shapes[s].pages, p.mode, p.mask[0]);
        }
        memset(ptr, 0x5c, len);
        for (size_t i = 0; i < shapes[s].pages; i++) {
            int node = node_of(ptr + i * page());
            ck_assert_msg(node_ok(node), "%s: page %zu of %zu is on node %d",
                          what, i, shapes[s].pages, node);
        }
        ck_assert_int_eq(umfMemoryProviderFree(h, ptr, len),
                         UMF_RESULT_SUCCESS);
    }
    umfMemoryProviderDestroy(h);
}

static bool on_node0(int node) {
    return node == (int)node0;
}

// Unbound memory: on the only node, or on some node of a larger machine.
static bool on_any_node(int node) {
    return nnodes == 1 ? node == (int)node0 : node_exists(node);
}

static bool is_bind_node0(const policy_t *p) {
    return p->mode == MPOL_BIND && mask_is(p->mask, &node0, 1);
}

static bool is_interleave_node0(const policy_t *p) {
    return p->mode == MPOL_INTERLEAVE && mask_is(p->mask, &node0, 1);
}

static bool is_preferred_node0(const policy_t *p) {
    return (p->mode == MPOL_PREFERRED || p->mode == MPOL_PREFERRED_MANY) &&
           mask_is(p->mask, &node0, 1);
}

// Local allocation: MPOL_LOCAL, or (older kernels) preferred, empty mask.
static bool is_local(const policy_t *p) {
    return (p->mode == MPOL_LOCAL || p->mode == MPOL_PREFERRED) &&
           mask_empty(p->mask);
}

static bool is_default(const policy_t *p) {
    return p->mode == MPOL_DEFAULT && mask_empty(p->mask);
}

// ======================= tests =======================

START_TEST(test_os_numa_default) {
    cfg_t c = {.mode = UMF_NUMA_MODE_DEFAULT};
    check_provider(&c, is_default, on_any_node, "DEFAULT");
}
END_TEST

START_TEST(test_os_numa_bind) {
    cfg_t c = {.mode = UMF_NUMA_MODE_BIND, .list = {node0}, .nlist = 1};
    check_provider(&c, is_bind_node0, on_node0, "BIND");
}
END_TEST

START_TEST(test_os_numa_interleave) {
    cfg_t c = {.mode = UMF_NUMA_MODE_INTERLEAVE, .list = {node0}, .nlist = 1};
    check_provider(&c, is_interleave_node0, on_node0, "INTERLEAVE");
}
END_TEST

// With a part size every part is bound strictly to one node.
START_TEST(test_os_numa_interleave_parts) {
    const size_t part_sizes[] = {2 * page(), 1, page(), 3 * page() - 5};
    for (size_t i = 0; i < ARRAY_SIZE(part_sizes); i++) {
        cfg_t c = {.mode = UMF_NUMA_MODE_INTERLEAVE,
                   .list = {node0},
                   .nlist = 1,
                   .part_size = part_sizes[i]};
        char what[64];
        snprintf(what, sizeof(what), "INTERLEAVE part %zu", part_sizes[i]);
        check_provider(&c, is_bind_node0, on_node0, what);
    }
}
END_TEST

START_TEST(test_os_numa_preferred) {
    cfg_t c = {.mode = UMF_NUMA_MODE_PREFERRED, .list = {node0}, .nlist = 1};
    check_provider(&c, is_preferred_node0, on_node0, "PREFERRED");
}
END_TEST

START_TEST(test_os_numa_preferred_empty) {
    cfg_t c = {.mode = UMF_NUMA_MODE_PREFERRED};
    check_provider(&c, is_local, on_any_node, "PREFERRED {}");
}
END_TEST

START_TEST(test_os_numa_split) {
    cfg_t c = {.mode = UMF_NUMA_MODE_SPLIT,
               .list = {node0},
               .nlist = 1,
               .parts = {{1, node0}, {3, node0}},
               .nparts = 2};
    check_provider(&c, is_bind_node0, on_node0, "SPLIT 1:3");
}
END_TEST

// Without partitions: equal weights over the list.
START_TEST(test_os_numa_split_no_partitions) {
    cfg_t c = {.mode = UMF_NUMA_MODE_SPLIT, .list = {node0}, .nlist = 1};
    check_provider(&c, is_bind_node0, on_node0, "SPLIT");
}
END_TEST

START_TEST(test_os_numa_local) {
    cfg_t c = {.mode = UMF_NUMA_MODE_LOCAL};
    check_provider(&c, is_local, on_any_node, "LOCAL");
}
END_TEST

// The kernel itself says MPOL_LOCAL for a LOCAL provider (value 4) where it
// knows that mode (Linux >= 5.13 reports it; older kernels say PREFERRED
// with an empty mask, accepted by test_os_numa_local).
START_TEST(test_os_numa_local_is_mpol_local) {
    // Does this kernel report MPOL_LOCAL? Ask it about a mapping of ours.
    void *probe = mmap(NULL, page(), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(probe, MAP_FAILED);
    long r = syscall(SYS_mbind, probe, page(), MPOL_LOCAL, NULL, 0UL, 0U);
    int kernel_mode = r == 0 ? policy_of(probe).mode : -1;
    munmap(probe, page());
    if (kernel_mode != MPOL_LOCAL) {
        return; // nothing more to check on this kernel
    }
    cfg_t c = {.mode = UMF_NUMA_MODE_LOCAL};
    umf_memory_provider_handle_t h = make_provider(&c);
    unsigned char *ptr = alloc_ok(h, 4 * page(), 0);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(policy_of(ptr + i * page()).mode, MPOL_LOCAL);
    }
    ck_assert_int_eq(umfMemoryProviderFree(h, ptr, 4 * page()),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

// Policies belong to the allocation, not to the provider's neighbours: a
// DEFAULT provider's memory stays unbound while a BIND provider lives.
START_TEST(test_os_numa_policies_do_not_leak) {
    cfg_t b = {.mode = UMF_NUMA_MODE_BIND, .list = {node0}, .nlist = 1};
    cfg_t d = {.mode = UMF_NUMA_MODE_DEFAULT};
    umf_memory_provider_handle_t hb = make_provider(&b);
    umf_memory_provider_handle_t hd = make_provider(&d);
    for (int i = 0; i < 8; i++) {
        unsigned char *pb = alloc_ok(hb, 3 * page(), 0);
        unsigned char *pd = alloc_ok(hd, 3 * page(), 0);
        for (size_t k = 0; k < 3; k++) {
            policy_t p = policy_of(pb + k * page());
            ck_assert(is_bind_node0(&p));
            p = policy_of(pd + k * page());
            ck_assert_msg(is_default(&p), "DEFAULT page has mode %d", p.mode);
        }
        ck_assert_int_eq(umfMemoryProviderFree(hb, pb, 3 * page()),
                         UMF_RESULT_SUCCESS);
        if (i % 2) {
            ck_assert_int_eq(umfMemoryProviderFree(hd, pd, 3 * page()),
                             UMF_RESULT_SUCCESS);
        }
    }
    umfMemoryProviderDestroy(hd);
    umfMemoryProviderDestroy(hb);
}
END_TEST

// ======================= setup =======================

static void discover_nodes(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        skip_binary("hwloc cannot load the topology");
    }
    bool have_node0 = false;
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o)) &&
           nnodes < MAX_NODES) {
        nodes[nnodes++] = o->os_index;
        if (!have_node0 && o->attr && o->attr->numanode.local_memory > 0) {
            node0 = o->os_index;
            have_node0 = true;
        }
    }
    hwloc_topology_destroy(topo);
    if (!have_node0) {
        skip_binary("hwloc reports no NUMA node with memory");
    }
}

static void probe_mempolicy(void) {
    int mode = -1;
    if (sys_get_mempolicy(&mode, NULL, 0, NULL, 0) != 0) {
        char why[128];
        if (errno == ENOSYS) {
            skip_binary("get_mempolicy(2) is not implemented (ENOSYS)");
        }
        if (errno == EPERM) {
            skip_binary("get_mempolicy(2) is not permitted here (EPERM)");
        }
        snprintf(why, sizeof(why), "get_mempolicy(2) fails: %s",
                 strerror(errno));
        skip_binary(why);
    }
}

static Suite *os_numa_suite(void) {
    Suite *s = suite_create("os_numa");
    TCase *tc = tcase_create("modes");
    tcase_add_test(tc, test_os_numa_default);
    tcase_add_test(tc, test_os_numa_bind);
    tcase_add_test(tc, test_os_numa_interleave);
    tcase_add_test(tc, test_os_numa_interleave_parts);
    tcase_add_test(tc, test_os_numa_preferred);
    tcase_add_test(tc, test_os_numa_preferred_empty);
    tcase_add_test(tc, test_os_numa_split);
    tcase_add_test(tc, test_os_numa_split_no_partitions);
    tcase_add_test(tc, test_os_numa_local);
    tcase_add_test(tc, test_os_numa_local_is_mpol_local);
    suite_add_tcase(s, tc);

    tc = tcase_create("isolation");
    tcase_add_test(tc, test_os_numa_policies_do_not_leak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    probe_mempolicy();
    discover_nodes();
    return run_suite(os_numa_suite());
}
