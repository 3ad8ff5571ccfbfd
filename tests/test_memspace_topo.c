/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_memspace_topo.c - the selection logic of the predefined memspaces
 * and of the filters on machines this one is not: hwloc topologies written
 * as XML files (tests/topologies/, described in its README.md), loaded
 * through HWLOC_XMLFILE. Each test points HWLOC_XMLFILE at its file and
 * re-initialises the library (umfTearDown + umfInit), which drops the
 * cached topology and the predefined memspaces, so the next Get reads the
 * file; this works with and without Check's fork mode.
 *
 * Only the choice of nodes is checked (ids, order, capacities), and that
 * providers can be created for them: the nodes exist only in the file, so
 * memory bound to them could not be allocated here.
 */

#include <limits.h>
#include <stdint.h>

#include <umf.h>
#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

#define GiB ((size_t)1 << 30)

static void use_topology(const char *file) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", TOPO_DIR, file);
    ck_assert_int_eq(setenv("HWLOC_XMLFILE", path, 1), 0);
    umfTearDown(); // drops the topology and the predefined memspaces
    ck_assert_int_eq(umfInit(), 0);
}

static unsigned id_at(umf_const_memspace_handle_t ms, unsigned i) {
    umf_const_memtarget_handle_t t = umfMemspaceMemtargetGet(ms, i);
    ck_assert_ptr_nonnull(t);
    unsigned id = UINT_MAX;
    ck_assert_int_eq(umfMemtargetGetId(t, &id), UMF_RESULT_SUCCESS);
    return id;
}

static size_t cap_at(umf_const_memspace_handle_t ms, unsigned i) {
    size_t cap = 0;
    ck_assert_int_eq(
        umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, i), &cap),
        UMF_RESULT_SUCCESS);
    return cap;
}

static void expect_ids(umf_const_memspace_handle_t ms, const unsigned *ids,
                       size_t n, const char *what) {
    ck_assert_msg(ms != NULL, "%s: NULL memspace", what);
    size_t got = umfMemspaceMemtargetNum(ms);
    char list[128] = "";
    for (size_t i = 0, off = 0; i < got && off < sizeof(list) - 12; i++) {
        off += (size_t)snprintf(list + off, sizeof(list) - off, " %u",
                                id_at(ms, (unsigned)i));
    }
    ck_assert_msg(got == n, "%s: %zu targets (%s), expected %zu", what, got,
                  list, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(id_at(ms, (unsigned)i) == ids[i],
                      "%s: targets are%s; expected node %u at %zu", what, list,
                      ids[i], i);
    }
}

static umf_memspace_handle_t clone_of(umf_const_memspace_handle_t ms) {
    umf_memspace_handle_t c = NULL;
    ck_assert_int_eq(umfMemspaceClone(ms, &c), UMF_RESULT_SUCCESS);
    return c;
}

// ============ hmat_5nodes.xml: two packages, DRAM + HBM each, CXL ============

START_TEST(test_memspace_topo_hmat_host_all) {
    use_topology("hmat_5nodes.xml");
    // hwloc's logical order: package 0's nodes, package 1's, then the
    // machine-level node - not OS index order.
    const unsigned want[] = {0, 2, 1, 3, 4};
    expect_ids(umfMemspaceHostAllGet(), want, 5, "host-all");
    const size_t caps[] = {8 * GiB, 2 * GiB, 6 * GiB, 2 * GiB, 32 * GiB};
    for (unsigned i = 0; i < 5; i++) {
        ck_assert_uint_eq(cap_at(umfMemspaceHostAllGet(), i), caps[i]);
    }
}
END_TEST

START_TEST(test_memspace_topo_hmat_highest_capacity) {
    use_topology("hmat_5nodes.xml");
    // Largest first; the two 2 GiB nodes keep host-all order (2 before 3).
    const unsigned want[] = {4, 0, 1, 2, 3};
    umf_const_memspace_handle_t ms = umfMemspaceHighestCapacityGet();
    expect_ids(ms, want, 5, "highest capacity");
    ck_assert_ptr_eq(umfMemspaceHighestCapacityGet(), ms);
}
END_TEST

// Per package the local node with the best value; remote nodes with
// better values (node 3 from package 0) do not count; the CXL node, local
// to all, loses everywhere; the machine-wide initiator has no values.
START_TEST(test_memspace_topo_hmat_highest_bandwidth) {
    use_topology("hmat_5nodes.xml");
    const unsigned want[] = {2, 3};
    umf_const_memspace_handle_t ms = umfMemspaceHighestBandwidthGet();
    expect_ids(ms, want, 2, "highest bandwidth");
    ck_assert_ptr_eq(umfMemspaceHighestBandwidthGet(), ms);
}
END_TEST

START_TEST(test_memspace_topo_hmat_lowest_latency) {
    use_topology("hmat_5nodes.xml");
    // Node 1 is 10 ns from package 0 in the file, but remote to it.
    const unsigned want[] = {0, 1};
    umf_const_memspace_handle_t ms = umfMemspaceLowestLatencyGet();
    expect_ids(ms, want, 2, "lowest latency");
    ck_assert_ptr_eq(umfMemspaceLowestLatencyGet(), ms);
}
END_TEST

START_TEST(test_memspace_topo_hmat_filters) {
    use_topology("hmat_5nodes.xml");
    umf_memspace_handle_t ms = clone_of(umfMemspaceHostAllGet());
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, (int64_t)(6 * GiB)),
                     UMF_RESULT_SUCCESS);
    const unsigned big[] = {0, 1, 4};
    expect_ids(ms, big, 3, "capacity >= 6 GiB");
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, (int64_t)(6 * GiB + 1)),
                     UMF_RESULT_SUCCESS);
    const unsigned bigger[] = {0, 4};
    expect_ids(ms, bigger, 2, "capacity > 6 GiB");
    unsigned ids[] = {4, 3};
    ck_assert_int_eq(umfMemspaceFilterById(ms, ids, 2), UMF_RESULT_SUCCESS);
    const unsigned only4[] = {4};
    expect_ids(ms, only4, 1, "by id {4,3}");
    umfMemspaceDestroy(ms);

    // Highest capacity minus the CXL node: DRAM first.
    ms = clone_of(umfMemspaceHighestCapacityGet());
    umf_memspace_handle_t cxl = NULL;
    unsigned cxl_id[] = {4};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(cxl_id, 1, &cxl),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(cxl, 0)),
        UMF_RESULT_SUCCESS);
    const unsigned dram_first[] = {0, 1, 2, 3};
    expect_ids(ms, dram_first, 4, "highest capacity without CXL");
    umfMemspaceDestroy(ms);
    umfMemspaceDestroy(cxl);
}
END_TEST

// A user filter that keeps nodes of at least 4 GiB and at most 16 GiB.
static int dram_only(umf_const_memspace_handle_t ms,
                     umf_const_memtarget_handle_t t, void *args) {
    (void)ms;
    const size_t *bounds = args;
    size_t cap = 0;
    if (umfMemtargetGetCapacity(t, &cap) != UMF_RESULT_SUCCESS) {
        return -1;
    }
    return cap >= bounds[0] && cap <= bounds[1];
}

START_TEST(test_memspace_topo_hmat_user_filter) {
    use_topology("hmat_5nodes.xml");
    umf_memspace_handle_t ms = clone_of(umfMemspaceHostAllGet());
    size_t bounds[] = {4 * GiB, 16 * GiB};
    ck_assert_int_eq(umfMemspaceUserFilter(ms, dram_only, bounds),
                     UMF_RESULT_SUCCESS);
    const unsigned want[] = {0, 1};
    expect_ids(ms, want, 2, "user filter 4..16 GiB");
    umfMemspaceDestroy(ms);
}
END_TEST

// Providers: node ids are checked against the (XML) topology at creation.
START_TEST(test_memspace_topo_hmat_providers) {
    use_topology("hmat_5nodes.xml");
    umf_const_memspace_handle_t spaces[] = {
        umfMemspaceHostAllGet(), umfMemspaceHighestCapacityGet(),
        umfMemspaceHighestBandwidthGet(), umfMemspaceLowestLatencyGet()};
    for (size_t i = 0; i < ARRAY_SIZE(spaces); i++) {
        umf_memory_provider_handle_t h = NULL;
        ck_assert_int_eq(
            umfMemoryProviderCreateFromMemspace(spaces[i], NULL, &h),
            UMF_RESULT_SUCCESS);
        umfMemoryProviderDestroy(h);
    }
    // SPLIT over the highest-bandwidth nodes, 3:1.
    umf_mempolicy_handle_t split = NULL;
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_SPLIT, &split),
                     UMF_RESULT_SUCCESS);
    umf_mempolicy_split_partition_t parts[] = {{3, 2}, {1, 3}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, parts, 2),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(
                         umfMemspaceHighestBandwidthGet(), split, &h),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    // A partition on a node outside the memspace does not fit it.
    umf_mempolicy_split_partition_t outside[] = {{3, 2}, {1, 0}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, outside, 2),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(
                         umfMemspaceHighestBandwidthGet(), split, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // The highest-capacity memspace gives its first node (4) only, so a
    // partition on its second node (0) does not fit either.
    umf_mempolicy_split_partition_t second[] = {{1, 4}, {1, 0}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, second, 2),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(
                         umfMemspaceHighestCapacityGet(), split, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // ... while a clone of it gives all five.
    umf_memspace_handle_t c = clone_of(umfMemspaceHighestCapacityGet());
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(c, split, &h),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    umfMemspaceDestroy(c);
    umfMempolicyDestroy(split);

    // Node 5 is in no file: refused when the memspace is created (the
    // topology the OS provider checks against is the same).
    unsigned ids[] = {0, 5};
    umf_memspace_handle_t bad = NULL;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 2, &bad),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(bad);
}
END_TEST

// ============ nomemattr_4nodes.xml: four packages, no HMAT ============

START_TEST(test_memspace_topo_plain_host_all_capacity) {
    use_topology("nomemattr_4nodes.xml");
    const unsigned all[] = {0, 2, 5, 7};
    expect_ids(umfMemspaceHostAllGet(), all, 4, "host-all");
    const unsigned by_cap[] = {2, 7, 0, 5}; // 16, 8, 4, 1 GiB
    umf_const_memspace_handle_t hc = umfMemspaceHighestCapacityGet();
    expect_ids(hc, by_cap, 4, "highest capacity");
    const size_t caps[] = {16 * GiB, 8 * GiB, 4 * GiB, 1 * GiB};
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_uint_eq(cap_at(hc, i), caps[i]);
    }
}
END_TEST

// No memory attributes: both memspaces are NULL, on every call.
START_TEST(test_memspace_topo_plain_no_hmat) {
    use_topology("nomemattr_4nodes.xml");
    ck_assert_ptr_null(umfMemspaceHighestBandwidthGet());
    ck_assert_ptr_null(umfMemspaceLowestLatencyGet());
    ck_assert_ptr_null(umfMemspaceHighestBandwidthGet());
    ck_assert_ptr_null(umfMemspaceLowestLatencyGet());
    // The others are unaffected.
    ck_assert_ptr_nonnull(umfMemspaceHostAllGet());
    ck_assert_ptr_nonnull(umfMemspaceHighestCapacityGet());
}
END_TEST

START_TEST(test_memspace_topo_plain_unknown_node) {
    use_topology("nomemattr_4nodes.xml");
    unsigned ids[] = {5, 3}; // 3 is not in the file
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 2, &ms),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ms);
    // The file's node ids, not the machine's, are the ones that exist.
    unsigned keep[] = {5, 7};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(keep, 2, &ms),
                     UMF_RESULT_SUCCESS);
    size_t cap = 0;
    ck_assert_int_eq(
        umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, 0), &cap),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(cap, 1 * GiB);
    ck_assert_int_eq(
        umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, 1), &cap),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(cap, 8 * GiB);
    umfMemspaceDestroy(ms);
}
END_TEST

// Topologies change at re-initialisation: host-all follows the file.
START_TEST(test_memspace_topo_switch) {
    use_topology("hmat_5nodes.xml");
    ck_assert_uint_eq(umfMemspaceMemtargetNum(umfMemspaceHostAllGet()), 5);
    ck_assert_ptr_nonnull(umfMemspaceHighestBandwidthGet());
    use_topology("nomemattr_4nodes.xml");
    ck_assert_uint_eq(umfMemspaceMemtargetNum(umfMemspaceHostAllGet()), 4);
    ck_assert_ptr_null(umfMemspaceHighestBandwidthGet());
}
END_TEST

// ============ unloadable.xml: no topology at all ============

START_TEST(test_memspace_topo_unloadable) {
    use_topology("unloadable.xml");
    ck_assert_ptr_null(umfMemspaceHostAllGet());
    ck_assert_ptr_null(umfMemspaceHighestCapacityGet());
    ck_assert_ptr_null(umfMemspaceHighestBandwidthGet());
    ck_assert_ptr_null(umfMemspaceLowestLatencyGet());
    // Without a topology node ids cannot be checked: memspaces from ids
    // are not supported either (a provider from one could not be made).
    unsigned ids[] = {0};
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 1, &ms),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_ptr_null(ms);
    // The OS provider reports the failed discovery.
    umf_os_memory_provider_params_handle_t params = NULL;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetNumaList(params, ids, 1),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetNumaMode(params, UMF_NUMA_MODE_BIND),
        UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &h),
        UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC);
    umfOsMemoryProviderParamsDestroy(params);
}
END_TEST

static Suite *memspace_topo_suite(void) {
    Suite *s = suite_create("memspace_topo");
    TCase *tc = tcase_create("hmat_5nodes");
    tcase_add_test(tc, test_memspace_topo_hmat_host_all);
    tcase_add_test(tc, test_memspace_topo_hmat_highest_capacity);
    tcase_add_test(tc, test_memspace_topo_hmat_highest_bandwidth);
    tcase_add_test(tc, test_memspace_topo_hmat_lowest_latency);
    tcase_add_test(tc, test_memspace_topo_hmat_filters);
    tcase_add_test(tc, test_memspace_topo_hmat_user_filter);
    tcase_add_test(tc, test_memspace_topo_hmat_providers);
    suite_add_tcase(s, tc);

    tc = tcase_create("nomemattr_4nodes");
    tcase_add_test(tc, test_memspace_topo_plain_host_all_capacity);
    tcase_add_test(tc, test_memspace_topo_plain_no_hmat);
    tcase_add_test(tc, test_memspace_topo_plain_unknown_node);
    tcase_add_test(tc, test_memspace_topo_switch);
    suite_add_tcase(s, tc);

    tc = tcase_create("unloadable");
    tcase_add_test(tc, test_memspace_topo_unloadable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    // HWLOC_XMLFILE is set per test; start from a clean slate.
    unsetenv("HWLOC_XMLFILE");
    return run_suite(memspace_topo_suite());
}
