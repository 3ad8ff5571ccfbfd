/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_memspace.c - memspaces, memtargets and mempolicies on the machine as
 * it is (any number of NUMA nodes, with or without HMAT): argument checks,
 * user memspaces (new, from a NUMA array, clone, add, remove), the three
 * filters, the predefined memspaces compared with what hwloc reports
 * (same pointer on every Get, from many threads, rebuilt after tear-down),
 * and providers and pools made from a memspace and a policy. Placement of
 * the memory is checked in test_memspace_numa.c; the selection logic on
 * machines with several nodes, through XML topologies, in
 * test_memspace_topo.c.
 */

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>

#include <hwloc.h>

#include <umf.h>
#include <umf/memspace.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"

#define MAX_NODES 64

static unsigned nodes[MAX_NODES]; // every NUMA node, hwloc logical order
static size_t node_caps[MAX_NODES];
static unsigned nnodes;
static unsigned absent_node; // an id no node of this machine has
static bool has_bandwidth, has_latency;

// --- Helpers ---

static umf_memspace_handle_t from_ids(const unsigned *ids, size_t n) {
    unsigned copy[16];
    memcpy(copy, ids, n * sizeof(unsigned));
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(copy, n, &ms),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(ms);
    return ms;
}

// The editing tests need more nodes than most machines have: they run on
// tests/topologies/flat_10nodes.xml (nodes 0-9, HWLOC_XMLFILE), loaded in
// the test's own process (Check forks each test).
static void use_flat_topology(void) {
    ck_assert_int_eq(setenv("HWLOC_XMLFILE", TOPO_DIR "/flat_10nodes.xml", 1),
                     0);
    umfTearDown(); // drops the topology and the predefined memspaces
    ck_assert_int_eq(umfInit(), 0);
    umf_const_memspace_handle_t all = umfMemspaceHostAllGet();
    ck_assert_msg(all != NULL && umfMemspaceMemtargetNum(all) == 10,
                  "flat_10nodes.xml was not loaded");
}

static void leave_flat_topology(void) {
    unsetenv("HWLOC_XMLFILE");
    umfTearDown();
    umfInit();
}

static unsigned id_at(umf_const_memspace_handle_t ms, unsigned i) {
    umf_const_memtarget_handle_t t = umfMemspaceMemtargetGet(ms, i);
    ck_assert_ptr_nonnull(t);
    unsigned id = UINT_MAX;
    ck_assert_int_eq(umfMemtargetGetId(t, &id), UMF_RESULT_SUCCESS);
    return id;
}

// The memspace's targets are exactly `ids`, in that order.
static void expect_ids(umf_const_memspace_handle_t ms, const unsigned *ids,
                       size_t n, const char *what) {
    size_t got = umfMemspaceMemtargetNum(ms);
    ck_assert_msg(got == n, "%s: %zu targets, expected %zu", what, got, n);
    for (size_t i = 0; i < n; i++) {
        unsigned id = id_at(ms, (unsigned)i);
        ck_assert_msg(id == ids[i], "%s: target %zu is node %u, expected %u",
                      what, i, id, ids[i]);
    }
}

static bool is_node(unsigned id) {
    for (unsigned i = 0; i < nnodes; i++) {
        if (nodes[i] == id) {
            return true;
        }
    }
    return false;
}

// ======================= mempolicy =======================

START_TEST(test_memspace_policy_create_destroy) {
    const umf_mempolicy_membind_t kinds[] = {
        UMF_MEMPOLICY_INTERLEAVE, UMF_MEMPOLICY_BIND, UMF_MEMPOLICY_PREFERRED,
        UMF_MEMPOLICY_SPLIT, (umf_mempolicy_membind_t)42};
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        umf_mempolicy_handle_t p = NULL;
        // The kind is not validated at creation (contract).
        ck_assert_int_eq(umfMempolicyCreate(kinds[i], &p), UMF_RESULT_SUCCESS);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(umfMempolicyDestroy(p), UMF_RESULT_SUCCESS);
    }
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_BIND, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicyDestroy(NULL), UMF_RESULT_SUCCESS);
}
END_TEST

START_TEST(test_memspace_policy_setters) {
    umf_mempolicy_handle_t il = NULL, split = NULL, bind = NULL;
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_INTERLEAVE, &il),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_SPLIT, &split),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_BIND, &bind),
                     UMF_RESULT_SUCCESS);
    umf_mempolicy_split_partition_t parts[] = {{1, 0}, {2, 1}};

    ck_assert_int_eq(umfMempolicySetInterleavePartSize(il, 8192),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(il, 0),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(NULL, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(split, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(bind, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);

    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, parts, 2),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, NULL, 0),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, NULL, 2),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(NULL, parts, 2),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(il, parts, 2),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(bind, parts, 2),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMempolicyDestroy(il);
    umfMempolicyDestroy(split);
    umfMempolicyDestroy(bind);
}
END_TEST

// ======================= memtarget =======================

START_TEST(test_memspace_target_queries) {
    umf_memspace_handle_t ms = from_ids(&nodes[0], 1);
    umf_const_memtarget_handle_t t = umfMemspaceMemtargetGet(ms, 0);
    ck_assert_ptr_nonnull(t);
    umf_memtarget_type_t type = UMF_MEMTARGET_TYPE_UNKNOWN;
    ck_assert_int_eq(umfMemtargetGetType(t, &type), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(type, UMF_MEMTARGET_TYPE_NUMA);
    unsigned id = UINT_MAX;
    ck_assert_int_eq(umfMemtargetGetId(t, &id), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(id, nodes[0]);
    size_t cap = 0;
    ck_assert_int_eq(umfMemtargetGetCapacity(t, &cap), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(cap, node_caps[0]);

    ck_assert_int_eq(umfMemtargetGetType(NULL, &type),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemtargetGetType(t, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemtargetGetId(NULL, &id),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemtargetGetId(t, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemtargetGetCapacity(NULL, &cap),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemtargetGetCapacity(t, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
}
END_TEST

// A node the machine does not have is refused where it is named, alone or
// among nodes that exist, and nothing is returned.
START_TEST(test_memspace_target_absent_node) {
    umf_memspace_handle_t out = (umf_memspace_handle_t)0x1;
    unsigned absent[] = {absent_node};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(absent, 1, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    unsigned mixed[] = {nodes[0], absent_node};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(mixed, 2, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    unsigned huge[] = {nodes[0], UINT_MAX};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(huge, 2, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (umf_memspace_handle_t)0x1); // left unchanged
    // Every node of the machine is accepted.
    umf_memspace_handle_t ms = from_ids(nodes, nnodes);
    expect_ids(ms, nodes, nnodes, "every node");
    umfMemspaceDestroy(ms);
}
END_TEST

// ======================= user memspaces =======================

START_TEST(test_memspace_new_empty) {
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceNew(&ms), UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(ms);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(ms), 0);
    ck_assert_ptr_null(umfMemspaceMemtargetGet(ms, 0));
    ck_assert_int_eq(umfMemspaceNew(NULL), UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(NULL), 0);
    ck_assert_ptr_null(umfMemspaceMemtargetGet(NULL, 0));
    umfMemspaceDestroy(ms);
    umfMemspaceDestroy(NULL); // allowed
}
END_TEST

START_TEST(test_memspace_from_numa_array) {
    // Order is the array's (on the 10-node topology).
    unsigned ids[] = {7, 3, 9, 0};
    umf_memspace_handle_t ms = from_ids(ids, 4);
    expect_ids(ms, ids, 4, "from {7,3,9,0}");
    ck_assert_ptr_null(umfMemspaceMemtargetGet(ms, 4));
    ck_assert_ptr_null(umfMemspaceMemtargetGet(ms, UINT_MAX));
    umfMemspaceDestroy(ms);

    umf_memspace_handle_t out = (umf_memspace_handle_t)0x1;
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(NULL, 1, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 0, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(ids, 1, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // A memspace holds no two equal targets.
    unsigned dup[] = {1, 2, 1};
    ck_assert_int_eq(umfMemspaceCreateFromNumaArray(dup, 3, &out),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_eq(out, (umf_memspace_handle_t)0x1); // left unchanged
}
END_TEST

START_TEST(test_memspace_clone_is_deep) {
    unsigned ids[] = {5, 1, 9};
    umf_memspace_handle_t ms = from_ids(ids, 3);
    umf_memspace_handle_t c = NULL;
    ck_assert_int_eq(umfMemspaceClone(ms, &c), UMF_RESULT_SUCCESS);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c, ms);
    expect_ids(c, ids, 3, "clone");
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_ptr_ne(umfMemspaceMemtargetGet(c, i),
                         umfMemspaceMemtargetGet(ms, i));
    }
    // Destroying the original leaves the clone intact.
    umfMemspaceDestroy(ms);
    expect_ids(c, ids, 3, "clone after the original went");

    umf_memspace_handle_t empty = NULL, c2 = NULL;
    ck_assert_int_eq(umfMemspaceNew(&empty), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemspaceClone(empty, &c2), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(c2), 0);

    ck_assert_int_eq(umfMemspaceClone(NULL, &c2),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceClone(c, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(c);
    umfMemspaceDestroy(c2);
    umfMemspaceDestroy(empty);
}
END_TEST

START_TEST(test_memspace_add_copies) {
    unsigned src_ids[] = {4, 2};
    umf_memspace_handle_t src = from_ids(src_ids, 2);
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceNew(&ms), UMF_RESULT_SUCCESS);

    umf_const_memtarget_handle_t t4 = umfMemspaceMemtargetGet(src, 0);
    umf_const_memtarget_handle_t t2 = umfMemspaceMemtargetGet(src, 1);
    ck_assert_int_eq(umfMemspaceMemtargetAdd(ms, t2), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemspaceMemtargetAdd(ms, t4), UMF_RESULT_SUCCESS);
    unsigned want[] = {2, 4};
    expect_ids(ms, want, 2, "after adding 2 then 4");
    // A copy, not the caller's handle.
    ck_assert_ptr_ne(umfMemspaceMemtargetGet(ms, 0), t2);
    // Equal targets (same type and id) are refused, from any memspace.
    ck_assert_int_eq(umfMemspaceMemtargetAdd(ms, t4),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfMemspaceMemtargetAdd(ms, umfMemspaceMemtargetGet(ms, 0)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    expect_ids(ms, want, 2, "after refused adds");
    // The source is untouched and may go.
    umfMemspaceDestroy(src);
    expect_ids(ms, want, 2, "after the source went");

    ck_assert_int_eq(umfMemspaceMemtargetAdd(NULL, t4),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceMemtargetAdd(ms, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
}
END_TEST

START_TEST(test_memspace_remove_by_equality) {
    unsigned ids[] = {3, 1, 4, 5};
    umf_memspace_handle_t ms = from_ids(ids, 4);
    unsigned other_ids[] = {4, 8};
    umf_memspace_handle_t other = from_ids(other_ids, 2);
    umf_const_memtarget_handle_t keep_handle = umfMemspaceMemtargetGet(ms, 3);

    // Node 4 named through another memspace's target: equal, so removed.
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(other, 0)),
        UMF_RESULT_SUCCESS);
    unsigned want[] = {3, 1, 5};
    expect_ids(ms, want, 3, "after removing 4");
    // Handles of the other targets stay valid.
    ck_assert_ptr_eq(umfMemspaceMemtargetGet(ms, 2), keep_handle);
    // Not there (any more): refused, nothing changes.
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(other, 0)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(other, 1)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    expect_ids(ms, want, 3, "after refused removes");
    // The memspace's own handle works too (it is destroyed by the call).
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(ms, 0)),
        UMF_RESULT_SUCCESS);
    unsigned want2[] = {1, 5};
    expect_ids(ms, want2, 2, "after removing the first");

    ck_assert_int_eq(umfMemspaceMemtargetRemove(NULL, keep_handle),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceMemtargetRemove(ms, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Down to empty, then nothing to remove.
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(ms, 1)),
        UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(ms, 0)),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(ms), 0);
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(other, 1)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
    umfMemspaceDestroy(other);
}
END_TEST

// ======================= filters =======================

START_TEST(test_memspace_filter_by_id) {
    unsigned ids[] = {6, 2, 9, 4};
    umf_memspace_handle_t ms = from_ids(ids, 4);
    unsigned keep[] = {4, 6, 77}; // 77: unknown ids are ignored
    ck_assert_int_eq(umfMemspaceFilterById(ms, keep, 3), UMF_RESULT_SUCCESS);
    unsigned want[] = {6, 4}; // memspace order, not the filter's
    expect_ids(ms, want, 2, "FilterById {4,6,77}");
    unsigned none[] = {1};
    ck_assert_int_eq(umfMemspaceFilterById(ms, none, 1), UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(ms), 0); // may end empty
    ck_assert_int_eq(umfMemspaceFilterById(ms, none, 1), UMF_RESULT_SUCCESS);

    ck_assert_int_eq(umfMemspaceFilterById(NULL, keep, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceFilterById(ms, NULL, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceFilterById(ms, keep, 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
}
END_TEST

START_TEST(test_memspace_filter_by_capacity) {
    umf_memspace_handle_t ms = NULL;
    ck_assert_int_eq(umfMemspaceClone(umfMemspaceHostAllGet(), &ms),
                     UMF_RESULT_SUCCESS);
    // 0 keeps every node; exactly the smallest capacity keeps it too.
    size_t smallest = SIZE_MAX;
    for (unsigned i = 0; i < nnodes; i++) {
        smallest = node_caps[i] < smallest ? node_caps[i] : smallest;
    }
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, 0), UMF_RESULT_SUCCESS);
    expect_ids(ms, nodes, nnodes, "FilterByCapacity 0");
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, (int64_t)smallest),
                     UMF_RESULT_SUCCESS);
    expect_ids(ms, nodes, nnodes, "FilterByCapacity smallest");
    // More than any node has: empty.
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, INT64_MAX),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(umfMemspaceMemtargetNum(ms), 0);

    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, -1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceFilterByCapacity(NULL, 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
}
END_TEST

typedef struct filter_log_t {
    umf_const_memspace_handle_t ms_seen;
    unsigned calls;
    unsigned stop_at; // return -1 on this call (1-based); 0 never
} filter_log_t;

// Keeps even ids, removes odd ones.
static int keep_even(umf_const_memspace_handle_t ms,
                     umf_const_memtarget_handle_t t, void *args) {
    filter_log_t *log = args;
    log->ms_seen = ms;
    log->calls++;
    if (log->stop_at && log->calls == log->stop_at) {
        return -1;
    }
    unsigned id = 0;
    umfMemtargetGetId(t, &id);
    return id % 2 == 0 ? 7 : 0; // any positive value keeps
}

START_TEST(test_memspace_user_filter) {
    unsigned ids[] = {1, 2, 3, 4, 6};
    umf_memspace_handle_t ms = from_ids(ids, 5);
    filter_log_t log = {0};
    ck_assert_int_eq(umfMemspaceUserFilter(ms, keep_even, &log),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(log.ms_seen, ms);
    ck_assert_uint_eq(log.calls, 5);
    unsigned want[] = {2, 4, 6};
    expect_ids(ms, want, 3, "UserFilter even");

    // A negative answer stops: USER_SPECIFIC, memspace unchanged, even
    // when earlier targets had been marked for removal.
    umf_memspace_handle_t ms2 = from_ids(ids, 5);
    filter_log_t stop = {.stop_at = 4};
    ck_assert_int_eq(umfMemspaceUserFilter(ms2, keep_even, &stop),
                     UMF_RESULT_ERROR_USER_SPECIFIC);
    ck_assert_uint_eq(stop.calls, 4);
    expect_ids(ms2, ids, 5, "stopped UserFilter");

    ck_assert_int_eq(umfMemspaceUserFilter(NULL, keep_even, &log),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceUserFilter(ms, NULL, &log),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(ms);
    umfMemspaceDestroy(ms2);
}
END_TEST

// ======================= predefined memspaces =======================

START_TEST(test_memspace_host_all) {
    umf_const_memspace_handle_t ms = umfMemspaceHostAllGet();
    ck_assert_ptr_nonnull(ms);
    expect_ids(ms, nodes, nnodes, "host-all");
    ck_assert_ptr_eq(umfMemspaceHostAllGet(), ms);
}
END_TEST

START_TEST(test_memspace_highest_capacity) {
    umf_const_memspace_handle_t ms = umfMemspaceHighestCapacityGet();
    ck_assert_ptr_nonnull(ms);
    ck_assert_ptr_eq(umfMemspaceHighestCapacityGet(), ms);
    ck_assert_ptr_ne(ms, umfMemspaceHostAllGet());
    ck_assert_uint_eq(umfMemspaceMemtargetNum(ms), nnodes);
    size_t prev = SIZE_MAX;
    for (unsigned i = 0; i < nnodes; i++) {
        size_t cap = 0;
        ck_assert_int_eq(
            umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, i), &cap),
            UMF_RESULT_SUCCESS);
        ck_assert_msg(cap <= prev,
                      "target %u has %zu bytes, more than the "
                      "one before (%zu)",
                      i, cap, prev);
        ck_assert(is_node(id_at(ms, i)));
        prev = cap;
    }
}
END_TEST

// NULL exactly when hwloc reports no values; otherwise real nodes, no
// duplicates, the same pointer every time.
static void check_best(umf_const_memspace_handle_t (*get)(void), bool has,
                       const char *what) {
    umf_const_memspace_handle_t ms = get();
    if (!has) {
        ck_assert_msg(ms == NULL, "%s: not NULL without HMAT data", what);
        ck_assert_ptr_null(get()); // and stays so
        return;
    }
    ck_assert_msg(ms != NULL, "%s: NULL although hwloc has values", what);
    ck_assert_ptr_eq(get(), ms);
    size_t n = umfMemspaceMemtargetNum(ms);
    ck_assert_uint_ge(n, 1);
    for (unsigned i = 0; i < n; i++) {
        ck_assert(is_node(id_at(ms, i)));
        for (unsigned j = 0; j < i; j++) {
            ck_assert_uint_ne(id_at(ms, i), id_at(ms, j));
        }
    }
}

START_TEST(test_memspace_bandwidth_latency) {
    check_best(umfMemspaceHighestBandwidthGet, has_bandwidth,
               "highest bandwidth");
    check_best(umfMemspaceLowestLatencyGet, has_latency, "lowest latency");
}
END_TEST

// Casting away const does not let a program edit or destroy them.
START_TEST(test_memspace_predefined_read_only) {
    umf_memspace_handle_t ms = (umf_memspace_handle_t)umfMemspaceHostAllGet();
    ck_assert_ptr_nonnull(ms);
    unsigned other_ids[] = {nodes[0]};
    umf_memspace_handle_t other = from_ids(other_ids, 1);
    ck_assert_int_eq(
        umfMemspaceMemtargetAdd(ms, umfMemspaceMemtargetGet(other, 0)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfMemspaceMemtargetRemove(ms, umfMemspaceMemtargetGet(ms, 0)),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    unsigned none[] = {absent_node};
    ck_assert_int_eq(umfMemspaceFilterById(ms, none, 1),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemspaceFilterByCapacity(ms, INT64_MAX),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    filter_log_t log = {0};
    ck_assert_int_eq(umfMemspaceUserFilter(ms, keep_even, &log),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(log.calls, 0);
    umfMemspaceDestroy(ms); // refused with a log line
    umfMemspaceDestroy((umf_memspace_handle_t)umfMemspaceHighestCapacityGet());
    ck_assert_ptr_eq(umfMemspaceHostAllGet(), ms);
    expect_ids(ms, nodes, nnodes, "host-all after refused edits");
    umfMemspaceDestroy(other);
}
END_TEST

#define GET_THREADS 8

static pthread_barrier_t get_barrier;

static void *get_all(void *arg) {
    umf_const_memspace_handle_t *out = arg;
    pthread_barrier_wait(&get_barrier);
    out[0] = umfMemspaceHostAllGet();
    out[1] = umfMemspaceHighestCapacityGet();
    out[2] = umfMemspaceHighestBandwidthGet();
    out[3] = umfMemspaceLowestLatencyGet();
    return NULL;
}

// First Gets racing from many threads: one memspace each, the same for all.
START_TEST(test_memspace_predefined_threads) {
    pthread_t th[GET_THREADS];
    umf_const_memspace_handle_t got[GET_THREADS][4];
    pthread_barrier_init(&get_barrier, NULL, GET_THREADS);
    for (int i = 0; i < GET_THREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, get_all, got[i]), 0);
    }
    for (int i = 0; i < GET_THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&get_barrier);
    ck_assert_ptr_nonnull(got[0][0]);
    ck_assert_ptr_nonnull(got[0][1]);
    for (int i = 1; i < GET_THREADS; i++) {
        for (int k = 0; k < 4; k++) {
            ck_assert_ptr_eq(got[i][k], got[0][k]);
        }
    }
}
END_TEST

// Tear-down destroys them; the next set-up builds them again, the same.
START_TEST(test_memspace_predefined_after_teardown) {
    ck_assert_ptr_nonnull(umfMemspaceHostAllGet());
    ck_assert_ptr_nonnull(umfMemspaceHighestCapacityGet());
    umfTearDown(); // the constructor's user: down to zero
    ck_assert_int_eq(umfInit(), 0);
    umf_const_memspace_handle_t ms = umfMemspaceHostAllGet();
    ck_assert_ptr_nonnull(ms);
    expect_ids(ms, nodes, nnodes, "host-all rebuilt");
    ck_assert_ptr_nonnull(umfMemspaceHighestCapacityGet());
    ck_assert_uint_eq(umfMemspaceMemtargetNum(umfMemspaceHighestCapacityGet()),
                      nnodes);
}
END_TEST

static void *get_loop(void *arg) {
    _Atomic int *stop = arg;
    while (!atomic_load(stop)) {
        (void)umfMemspaceHighestCapacityGet();
        (void)umfMemspaceHighestBandwidthGet();
    }
    return NULL;
}

// fork() while another thread uses the predefined memspaces: the child
// can rebuild them at once (the lock is taken around fork).
START_TEST(test_memspace_predefined_fork) {
    _Atomic int stop = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, get_loop, &stop), 0);
    for (int i = 0; i < 8; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            umfTearDown(); // drop them: the child builds them again
            int ok = umfInit() == 0 && umfMemspaceHostAllGet() != NULL &&
                     umfMemspaceMemtargetNum(umfMemspaceHostAllGet()) == nnodes;
            _exit(ok ? 0 : 1);
        }
        int st = 0;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                      "child %d: status %#x", i, st);
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
}
END_TEST

// ======================= providers from memspaces =======================

START_TEST(test_memspace_provider_args) {
    umf_memory_provider_handle_t h = NULL;
    umf_const_memspace_handle_t all = umfMemspaceHostAllGet();
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(NULL, NULL, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(all, NULL, NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_memspace_handle_t empty = NULL;
    ck_assert_int_eq(umfMemspaceNew(&empty), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(empty, NULL, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Emptied by a filter: the same.
    umf_memspace_handle_t emptied = from_ids(nodes, 1);
    ck_assert_int_eq(umfMemspaceFilterByCapacity(emptied, INT64_MAX),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(emptied, NULL, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(h);
    umfMemspaceDestroy(empty);
    umfMemspaceDestroy(emptied);
}
END_TEST

// Each policy kind over a memspace of this machine's first node.
START_TEST(test_memspace_provider_each_policy) {
    const umf_mempolicy_membind_t kinds[] = {
        UMF_MEMPOLICY_INTERLEAVE, UMF_MEMPOLICY_BIND, UMF_MEMPOLICY_PREFERRED,
        UMF_MEMPOLICY_SPLIT};
    umf_memspace_handle_t ms = from_ids(nodes, 1);
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        umf_mempolicy_handle_t pol = NULL;
        ck_assert_int_eq(umfMempolicyCreate(kinds[k], &pol),
                         UMF_RESULT_SUCCESS);
        umf_memory_provider_handle_t h = NULL;
        ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, pol, &h),
                         UMF_RESULT_SUCCESS);
        // The policy may go at once.
        umfMempolicyDestroy(pol);
        ck_assert_str_eq(umfMemoryProviderGetName(h), "OS");
        void *p = NULL;
        ck_assert_int_eq(umfMemoryProviderAlloc(h, 3 * 4096, 0, &p),
                         UMF_RESULT_SUCCESS);
        memset(p, 1, 3 * 4096);
        ck_assert_int_eq(umfMemoryProviderFree(h, p, 3 * 4096),
                         UMF_RESULT_SUCCESS);
        umfMemoryProviderDestroy(h);
    }
    // No policy, on a user memspace and on each predefined one.
    umf_const_memspace_handle_t spaces[] = {ms, umfMemspaceHostAllGet(),
                                            umfMemspaceHighestCapacityGet()};
    for (size_t i = 0; i < ARRAY_SIZE(spaces); i++) {
        umf_memory_provider_handle_t h = NULL;
        ck_assert_int_eq(
            umfMemoryProviderCreateFromMemspace(spaces[i], NULL, &h),
            UMF_RESULT_SUCCESS);
        umfMemoryProviderDestroy(h);
    }
    // The memspace may go at once too.
    umf_memspace_handle_t tmp = from_ids(nodes, 1);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(tmp, NULL, &h),
                     UMF_RESULT_SUCCESS);
    umfMemspaceDestroy(tmp);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 4096, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 4096), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    umfMemspaceDestroy(ms);
}
END_TEST

// Policies that do not fit the memspace, unknown nodes, unknown kinds.
START_TEST(test_memspace_provider_bad_policy) {
    umf_memspace_handle_t ms = from_ids(nodes, 1);
    umf_memory_provider_handle_t h = NULL;

    umf_mempolicy_handle_t split = NULL;
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_SPLIT, &split),
                     UMF_RESULT_SUCCESS);
    umf_mempolicy_split_partition_t outside[] = {{1, nodes[0]},
                                                 {1, absent_node}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, outside, 2),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, split, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_mempolicy_split_partition_t zero[] = {{0, nodes[0]}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, zero, 1),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, split, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_mempolicy_split_partition_t good[] = {{3, nodes[0]}};
    ck_assert_int_eq(umfMempolicySetCustomSplitPartitions(split, good, 1),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, split, &h),
                     UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
    h = NULL;
    umfMempolicyDestroy(split);

    umf_mempolicy_handle_t odd = NULL;
    ck_assert_int_eq(umfMempolicyCreate((umf_mempolicy_membind_t)42, &odd),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, odd, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMempolicyDestroy(odd);

    // Interleave part size that overflows when rounded to a page.
    umf_mempolicy_handle_t il = NULL;
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_INTERLEAVE, &il),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMempolicySetInterleavePartSize(il, SIZE_MAX),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfMemoryProviderCreateFromMemspace(ms, il, &h),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMempolicyDestroy(il);

    // (A node this machine lacks never gets into a memspace:
    // test_memspace_target_absent_node.)
    umfMemspaceDestroy(ms);
}
END_TEST

// ======================= pools from memspaces =======================

START_TEST(test_memspace_pool_args) {
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreateFromMemspace(NULL, NULL, &pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(
        umfPoolCreateFromMemspace(umfMemspaceHostAllGet(), NULL, NULL),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_memspace_handle_t empty = NULL;
    ck_assert_int_eq(umfMemspaceNew(&empty), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolCreateFromMemspace(empty, NULL, &pool),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umfMemspaceDestroy(empty);
    ck_assert_ptr_null(pool);
}
END_TEST

// The pool serves every allocation call, owns its OS provider, and
// memory is found by umfPoolByPtr / freed by umfFree.
START_TEST(test_memspace_pool_allocates) {
    umf_mempolicy_handle_t pol = NULL;
    ck_assert_int_eq(umfMempolicyCreate(UMF_MEMPOLICY_BIND, &pol),
                     UMF_RESULT_SUCCESS);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(
        umfPoolCreateFromMemspace(umfMemspaceHostAllGet(), pol, &pool),
        UMF_RESULT_SUCCESS);
    umfMempolicyDestroy(pol);
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(umfPoolGetMemoryProvider(pool, &prov), UMF_RESULT_SUCCESS);
    ck_assert_str_eq(umfMemoryProviderGetName(prov), "OS");

    const size_t sizes[] = {1, 8, 100, 4096, 65536, 3 << 20};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        unsigned char *p = umfPoolMalloc(pool, sizes[i]);
        ck_assert_ptr_nonnull(p);
        memset(p, 0xab, sizes[i]);
        ck_assert_ptr_eq(umfPoolByPtr(p + sizes[i] - 1), pool);
        ck_assert_uint_ge(umfPoolMallocUsableSize(pool, p), sizes[i]);
        ck_assert_int_eq(umfFree(p), UMF_RESULT_SUCCESS);
    }
    void *a = umfPoolAlignedMalloc(pool, 100, 4096);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq((uintptr_t)a % 4096, 0);
    ck_assert_int_eq(umfPoolFree(pool, a), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool); // destroys the provider too
}
END_TEST

// calloc zeroes reused chunks; realloc keeps the data, grows, shrinks.
START_TEST(test_memspace_pool_calloc_realloc) {
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(
        umfPoolCreateFromMemspace(umfMemspaceHostAllGet(), NULL, &pool),
        UMF_RESULT_SUCCESS);
    for (int round = 0; round < 4; round++) {
        unsigned char *d = umfPoolMalloc(pool, 256);
        ck_assert_ptr_nonnull(d);
        memset(d, 0xff, 256);
        umfPoolFree(pool, d); // the next calloc likely gets it back
        unsigned char *z = umfPoolCalloc(pool, 32, 8);
        ck_assert_ptr_nonnull(z);
        for (int i = 0; i < 256; i++) {
            ck_assert_uint_eq(z[i], 0);
        }
        umfPoolFree(pool, z);
    }
    ck_assert_ptr_null(umfPoolCalloc(pool, SIZE_MAX / 2, 4));
    ck_assert_int_eq(umfPoolGetLastAllocationError(pool),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);

    unsigned char *p = umfPoolRealloc(pool, NULL, 100); // = malloc
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 100; i++) {
        p[i] = (unsigned char)i;
    }
    const size_t steps[] = {90, 1000, 100000, 5 << 20, 50, 100};
    size_t kept = 100;
    for (size_t s = 0; s < ARRAY_SIZE(steps); s++) {
        p = umfPoolRealloc(pool, p, steps[s]);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_eq(umfPoolByPtr(p), pool);
        kept = steps[s] < kept ? steps[s] : kept;
        for (size_t i = 0; i < kept; i++) {
            ck_assert_uint_eq(p[i], (unsigned char)i);
        }
    }
    ck_assert_ptr_null(umfPoolRealloc(pool, p, 0)); // frees
    umfPoolDestroy(pool);
}
END_TEST

// ======================= setup =======================

static void discover_nodes(void) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        skip_binary("hwloc cannot load the topology");
    }
    hwloc_obj_t o = NULL;
    unsigned max_id = 0;
    while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o)) &&
           nnodes < MAX_NODES) {
        nodes[nnodes] = o->os_index;
        node_caps[nnodes] = (size_t)o->attr->numanode.local_memory;
        nnodes++;
        max_id = o->os_index > max_id ? o->os_index : max_id;
    }
    absent_node = max_id + 1;
    unsigned nr = 0;
    has_bandwidth = hwloc_memattr_get_targets(topo, HWLOC_MEMATTR_ID_BANDWIDTH,
                                              NULL, 0, &nr, NULL, NULL) == 0 &&
                    nr > 0;
    nr = 0;
    has_latency = hwloc_memattr_get_targets(topo, HWLOC_MEMATTR_ID_LATENCY,
                                            NULL, 0, &nr, NULL, NULL) == 0 &&
                  nr > 0;
    hwloc_topology_destroy(topo);
    if (nnodes == 0) {
        skip_binary("hwloc reports no NUMA node");
    }
    printf("%u NUMA node(s); HMAT bandwidth %s, latency %s\n", nnodes,
           has_bandwidth ? "yes" : "no", has_latency ? "yes" : "no");
}

static Suite *memspace_suite(void) {
    Suite *s = suite_create("memspace");
    TCase *tc = tcase_create("mempolicy");
    tcase_add_test(tc, test_memspace_policy_create_destroy);
    tcase_add_test(tc, test_memspace_policy_setters);
    suite_add_tcase(s, tc);

    tc = tcase_create("memtarget");
    tcase_add_test(tc, test_memspace_target_queries);
    tcase_add_test(tc, test_memspace_target_absent_node);
    suite_add_tcase(s, tc);

    tc = tcase_create("user");
    tcase_add_checked_fixture(tc, use_flat_topology, leave_flat_topology);
    tcase_add_test(tc, test_memspace_new_empty);
    tcase_add_test(tc, test_memspace_from_numa_array);
    tcase_add_test(tc, test_memspace_clone_is_deep);
    tcase_add_test(tc, test_memspace_add_copies);
    tcase_add_test(tc, test_memspace_remove_by_equality);
    suite_add_tcase(s, tc);

    tc = tcase_create("filter");
    tcase_add_checked_fixture(tc, use_flat_topology, leave_flat_topology);
    tcase_add_test(tc, test_memspace_filter_by_id);
    tcase_add_test(tc, test_memspace_user_filter);
    suite_add_tcase(s, tc);

    tc = tcase_create("filter_capacity");
    tcase_add_test(tc, test_memspace_filter_by_capacity);
    suite_add_tcase(s, tc);

    tc = tcase_create("predefined");
    tcase_add_test(tc, test_memspace_host_all);
    tcase_add_test(tc, test_memspace_highest_capacity);
    tcase_add_test(tc, test_memspace_bandwidth_latency);
    tcase_add_test(tc, test_memspace_predefined_read_only);
    tcase_add_test(tc, test_memspace_predefined_threads);
    tcase_add_test(tc, test_memspace_predefined_after_teardown);
    tcase_add_test(tc, test_memspace_predefined_fork);
    suite_add_tcase(s, tc);

    tc = tcase_create("provider");
    tcase_add_test(tc, test_memspace_provider_args);
    tcase_add_test(tc, test_memspace_provider_each_policy);
    tcase_add_test(tc, test_memspace_provider_bad_policy);
    suite_add_tcase(s, tc);

    tc = tcase_create("pool");
    tcase_add_test(tc, test_memspace_pool_args);
    tcase_add_test(tc, test_memspace_pool_allocates);
    tcase_add_test(tc, test_memspace_pool_calloc_realloc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    discover_nodes();
    return run_suite(memspace_suite());
}
