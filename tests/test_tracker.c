/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_tracker.c - the radix tracker: lookups of interior pointers at every
 * level, registration cost, overlap rejection, split/merge, removal of
 * part of a range, a randomised
 * comparison against a brute-force model, and multi-thread stress of
 * register/lookup/unregister/split/merge.
 *
 * The tracker never touches the ranges it maps, so tests use made-up
 * addresses.
 */

#include <pthread.h>
#include <stdint.h>

#include "helpers.h"
#include "tracker.h"

#define BASE ((uintptr_t)0x100000000000ULL) // 16 TiB, 1 GiB aligned
#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

static void *P(uintptr_t a) {
    return (void *)a;
}

static void *OWNER1 = (void *)0x1111;
static void *OWNER2 = (void *)0x2222;

static void expect_found(tracker_t *t, uintptr_t a, uintptr_t base,
                         size_t size, void *owner) {
    tracker_info_t info;
    ck_assert_msg(tracker_lookup(t, P(a), &info), "address %#lx not found",
                  (unsigned long)a);
    ck_assert_ptr_eq(info.base, P(base));
    ck_assert_uint_eq(info.size, size);
    ck_assert_ptr_eq(info.owner, owner);
}

static void expect_absent(tracker_t *t, uintptr_t a) {
    ck_assert_msg(!tracker_lookup(t, P(a), NULL), "address %#lx found",
                  (unsigned long)a);
}

START_TEST(test_tracker_lookup_empty) {
    tracker_t *t = tracker_create();
    ck_assert_ptr_nonnull(t);
    expect_absent(t, BASE);
    expect_absent(t, 0);
    expect_absent(t, UINTPTR_MAX);
    ck_assert(!tracker_lookup(NULL, P(BASE), NULL));
    tracker_destroy(t);
}
END_TEST

// One range of each size class, probed at its edges and inside.
static const size_t level_sizes[] = {
    1,           7,         63,          64,       65,        4095,
    4 * KiB,     4 * KiB + 1, 2 * MiB - 1, 2 * MiB, 3 * MiB + 17,
    1 * GiB - 4 * KiB, 1 * GiB, 5 * GiB + 3, 600 * GiB,
};

START_TEST(test_tracker_lookup_interior_ptr) {
    size_t size = level_sizes[_i];
    // Odd start offsets too: user providers may return any address.
    const uintptr_t offsets[] = {0, 8, 4096 + 48, 3 * MiB + 5};
    for (size_t o = 0; o < ARRAY_SIZE(offsets); o++) {
        tracker_t *t = tracker_create();
        uintptr_t b = BASE + offsets[o];
        ck_assert_int_eq(tracker_register(t, OWNER1, P(b), size),
                         UMF_RESULT_SUCCESS);
        ck_assert_uint_eq(tracker_count(t), 1);
        expect_found(t, b, b, size, OWNER1);
        expect_found(t, b + size - 1, b, size, OWNER1);
        expect_found(t, b + size / 2, b, size, OWNER1);
        expect_found(t, b + size / 3, b, size, OWNER1);
        expect_absent(t, b - 1);
        expect_absent(t, b + size);
        tracker_info_t info;
        ck_assert_int_eq(tracker_unregister(t, P(b), &info),
                         UMF_RESULT_SUCCESS);
        ck_assert_uint_eq(info.size, size);
        ck_assert_ptr_eq(info.owner, OWNER1);
        expect_absent(t, b);
        expect_absent(t, b + size - 1);
        ck_assert_uint_eq(tracker_count(t), 0);
        tracker_destroy(t);
    }
}
END_TEST

START_TEST(test_tracker_register_cost_is_in_large_granules) {
    tracker_t *t = tracker_create();
    // 1 GiB, aligned: one 1 GiB slot. 262,144 page entries would need MiBs.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), GiB),
                     UMF_RESULT_SUCCESS);
    size_t aligned = tracker_node_bytes(t);
    ck_assert_uint_le(aligned, 64 * KiB);
    // 1 GiB, misaligned by a page: still two 1 GiB slots, no new node.
    ck_assert_int_eq(
        tracker_register(t, OWNER2, P(BASE + 4 * GiB + 4 * KiB), GiB),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tracker_node_bytes(t), aligned);
    // 64 GiB: 64 slots of 1 GiB.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 64 * GiB), 64 * GiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_le(tracker_node_bytes(t), 2 * aligned);
    expect_found(t, BASE + 100 * GiB, BASE + 64 * GiB, 64 * GiB, OWNER2);
    tracker_destroy(t);
}
END_TEST

START_TEST(test_tracker_zero_size_and_limits) {
    tracker_t *t = tracker_create();
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 0),
                     UMF_RESULT_SUCCESS);
    expect_absent(t, BASE);
    ck_assert_uint_eq(tracker_count(t), 0);
    ck_assert_int_eq(
        tracker_register(t, OWNER1, P(TRACKER_ADDR_LIMIT), 4096),
        UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(
        tracker_register(t, OWNER1, P(TRACKER_ADDR_LIMIT - 4096), 8192),
        UMF_RESULT_ERROR_NOT_SUPPORTED);
    ck_assert_int_eq(tracker_register(t, OWNER1,
                                      P(TRACKER_ADDR_LIMIT - 4096), 4096),
                     UMF_RESULT_SUCCESS);
    expect_found(t, TRACKER_ADDR_LIMIT - 1, TRACKER_ADDR_LIMIT - 4096, 4096,
                 OWNER1);
    ck_assert_int_eq(tracker_unregister(t, P(BASE), NULL),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    tracker_destroy(t);
}
END_TEST

START_TEST(test_tracker_rejects_overlap) {
    tracker_t *t = tracker_create();
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    // Same level, overlapping the tail.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 4 * KiB), 8 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Smaller range inside (another level) of the same owner. (Another
    // owner's would nest: test_tracker_nested.)
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE + 100), 64),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Larger range covering the start.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE - 4 * MiB), 4 * MiB + 100),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // The exact same range twice.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 8 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Nothing changed.
    ck_assert_uint_eq(tracker_count(t), 1);
    expect_found(t, BASE + 5000, BASE, 8 * KiB, OWNER1);
    expect_absent(t, BASE + 8 * KiB);
    // Touching neighbours are fine.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 8 * KiB), 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE - 64), 64),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE - 1, BASE - 64, 64, OWNER2);
    expect_found(t, BASE, BASE, 8 * KiB, OWNER1);
    expect_found(t, BASE + 8 * KiB, BASE + 8 * KiB, 4 * KiB, OWNER2);
    tracker_destroy(t);
}
END_TEST

// A range inside another owner's range nests: lookups inside it find it,
// the rest stays the outer owner's, and removing either restores the
// right answers (under the proxy, a pool whose provider mallocs).
START_TEST(test_tracker_nested) {
    void *o3 = (void *)0x3333, *o4 = (void *)0x4444, *o5 = (void *)0x5555;
    tracker_t *t = tracker_create();
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 4 * KiB), 64),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 4 * KiB + 5, BASE + 4 * KiB, 64, OWNER2);
    expect_found(t, BASE + 100, BASE, 8 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB + 64, BASE, 8 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB - 1, BASE, 8 * KiB, OWNER1);
    ck_assert_uint_eq(tracker_count(t), 2);
    tracker_info_t info;
    // has_nested: the answer holds for the whole range only when nothing
    // is nested in it (what the proxy's owner cache relies on).
    ck_assert(tracker_lookup(t, P(BASE + 100), &info));
    ck_assert(info.has_nested);
    ck_assert(tracker_lookup(t, P(BASE + 4 * KiB + 5), &info));
    ck_assert(!info.has_nested);
    ck_assert_int_eq(tracker_register(t, o3, P(BASE + 64 * KiB), 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert(tracker_lookup(t, P(BASE + 64 * KiB + 1), &info));
    ck_assert(!info.has_nested);
    ck_assert_int_eq(tracker_unregister(t, P(BASE + 64 * KiB), NULL),
                     UMF_RESULT_SUCCESS);
    ck_assert(tracker_lookup_owner(t, P(BASE + 4 * KiB + 5), OWNER1, &info));
    ck_assert_ptr_eq(info.base, P(BASE));
    ck_assert(tracker_lookup_owner(t, P(BASE + 4 * KiB + 5), OWNER2, &info));
    ck_assert_ptr_eq(info.base, P(BASE + 4 * KiB));
    ck_assert(!tracker_lookup_owner(t, P(BASE + 100), OWNER2, &info));
    // A partial overlap with the inner range is still refused.
    ck_assert_int_eq(tracker_register(t, o3, P(BASE + 4 * KiB + 32), 64),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    // Three deep, then four (the limit), then refused.
    ck_assert_int_eq(tracker_register(t, o3, P(BASE + 4 * KiB + 8), 16),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, o4, P(BASE + 4 * KiB + 10), 4),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, o5, P(BASE + 4 * KiB + 11), 1),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    expect_found(t, BASE + 4 * KiB + 11, BASE + 4 * KiB + 10, 4, o4);
    expect_found(t, BASE + 4 * KiB + 9, BASE + 4 * KiB + 8, 16, o3);
    expect_found(t, BASE + 4 * KiB + 30, BASE + 4 * KiB, 64, OWNER2);
    ck_assert_uint_eq(tracker_count(t), 4);
    // Removing the middle range takes what is nested in it along.
    ck_assert_int_eq(tracker_remove_range(t, OWNER2, P(BASE + 4 * KiB), 64),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 4 * KiB + 11, BASE, 8 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB + 9, BASE, 8 * KiB, OWNER1);
    ck_assert_uint_eq(tracker_count(t), 1);

    // The same range with another owner: the inner one answers, and
    // unregister removes the innermost first.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 1, BASE, 8 * KiB, OWNER2);
    ck_assert_int_eq(tracker_unregister(t, P(BASE), &info),
                     UMF_RESULT_SUCCESS);
    ck_assert_ptr_eq(info.owner, OWNER2);
    expect_found(t, BASE + 1, BASE, 8 * KiB, OWNER1);

    // An outer range that goes first takes its nested ranges along, so
    // nothing stale answers for the addresses later.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 64), 64),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    expect_absent(t, BASE + 64);
    expect_absent(t, BASE);
    ck_assert_uint_eq(tracker_count(t), 0);
    ck_assert_int_eq(tracker_register(t, o3, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, o4, P(BASE + 64), 64),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 64, BASE + 64, 64, o4);
    // Cutting the outer range keeps the nested one reachable.
    ck_assert_int_eq(tracker_remove_range(t, o3, P(BASE + 4 * KiB), 4 * KiB),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 64, BASE + 64, 64, o4);
    expect_found(t, BASE + 200, BASE, 4 * KiB, o3);
    // Dropping the outer owner drops the nested range too.
    ck_assert_uint_eq(tracker_drop_owner(t, o3), 1);
    expect_absent(t, BASE + 64);
    ck_assert_uint_eq(tracker_count(t), 0);
    tracker_destroy(t);
}
END_TEST

// The epoch moves exactly when an address may lose or change its owner,
// so a reader's cached answer stays right while it does not move.
START_TEST(test_tracker_epoch) {
    tracker_t *t = tracker_create();
    const _Atomic uint64_t *ep = tracker_epoch(t);
    uint64_t e = atomic_load(ep);
    // New ranges in free address space: no change.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 8 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE + 64 * KiB), 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(atomic_load(ep), e);
    // A refused registration: no change.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE + 4 * KiB), 8 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(atomic_load(ep), e);
    // A range nested in another owner's: part of it changed hands.
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 128), 64),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_gt(atomic_load(ep), e);
    e = atomic_load(ep);
    ck_assert_int_eq(tracker_remove_range(t, OWNER2, P(BASE + 128), 64),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_gt(atomic_load(ep), e);
    e = atomic_load(ep);
    ck_assert_int_eq(tracker_unregister(t, P(BASE + 64 * KiB), NULL),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_gt(atomic_load(ep), e);
    e = atomic_load(ep);
    ck_assert_uint_eq(tracker_drop_owner(t, OWNER1), 1);
    ck_assert_uint_gt(atomic_load(ep), e);
    tracker_destroy(t);
}
END_TEST

// Two ranges of one level sharing every slot boundary they can.
START_TEST(test_tracker_adjacent_ranges_share_slots) {
    tracker_t *t = tracker_create();
    // Three 4 KiB+2 KiB ranges, misaligned so slots hold two entries.
    uintptr_t b = BASE + 2 * KiB;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tracker_register(t, (void *)(uintptr_t)(i + 1),
                                          P(b + i * 6 * KiB), 6 * KiB),
                         UMF_RESULT_SUCCESS);
    }
    for (int i = 0; i < 3; i++) {
        for (size_t off = 0; off < 6 * KiB; off += 512) {
            expect_found(t, b + i * 6 * KiB + off, b + i * 6 * KiB, 6 * KiB,
                         (void *)(uintptr_t)(i + 1));
        }
    }
    ck_assert_int_eq(tracker_unregister(t, P(b + 6 * KiB), NULL),
                     UMF_RESULT_SUCCESS);
    expect_absent(t, b + 6 * KiB);
    expect_absent(t, b + 12 * KiB - 1);
    expect_found(t, b + 6 * KiB - 1, b, 6 * KiB, (void *)1);
    expect_found(t, b + 12 * KiB, b + 12 * KiB, 6 * KiB, (void *)3);
    tracker_destroy(t);
}
END_TEST

START_TEST(test_tracker_split_merge) {
    tracker_t *t = tracker_create();
    // 4 MiB (2 MiB level) split into 4 KiB (4 KiB level) + rest.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 4 * MiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_split(t, P(BASE), 4 * MiB, 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tracker_count(t), 2);
    expect_found(t, BASE, BASE, 4 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB - 1, BASE, 4 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB, BASE + 4 * KiB, 4 * MiB - 4 * KiB,
                 OWNER1);
    expect_found(t, BASE + 4 * MiB - 1, BASE + 4 * KiB, 4 * MiB - 4 * KiB,
                 OWNER1);
    // Split the rest at an odd byte.
    ck_assert_int_eq(tracker_split(t, P(BASE + 4 * KiB), 4 * MiB - 4 * KiB, 13),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 4 * KiB + 12, BASE + 4 * KiB, 13, OWNER1);
    expect_found(t, BASE + 4 * KiB + 13, BASE + 4 * KiB + 13,
                 4 * MiB - 4 * KiB - 13, OWNER1);
    // Merge everything back.
    ck_assert_int_eq(tracker_merge(t, P(BASE + 4 * KiB), P(BASE + 4 * KiB + 13),
                                   4 * MiB - 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_merge(t, P(BASE), P(BASE + 4 * KiB), 4 * MiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tracker_count(t), 1);
    expect_found(t, BASE + 3 * MiB, BASE, 4 * MiB, OWNER1);
    expect_found(t, BASE + 5000, BASE, 4 * MiB, OWNER1);

    // Wrong sizes and non-adjacent or foreign ranges are refused.
    ck_assert_int_eq(tracker_split(t, P(BASE), 4 * MiB + 1, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_split(t, P(BASE + 1), 4 * MiB - 1, 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_split(t, P(BASE), 4 * MiB, 4 * MiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_register(t, OWNER2, P(BASE + 4 * MiB), 4096),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_merge(t, P(BASE), P(BASE + 4 * MiB),
                                   4 * MiB + 4096),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT); // other owner
    ck_assert_int_eq(tracker_merge(t, P(BASE), P(BASE + 4 * MiB), 4 * MiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT); // sizes disagree
    expect_found(t, BASE, BASE, 4 * MiB, OWNER1);
    tracker_destroy(t);
}
END_TEST

START_TEST(test_tracker_remove_range) {
    tracker_t *t = tracker_create();
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 4 * MiB),
                     UMF_RESULT_SUCCESS);
    // A piece from the middle: the chunk is cut around it.
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE + 4 * KiB),
                                          8 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tracker_count(t), 2);
    expect_found(t, BASE, BASE, 4 * KiB, OWNER1);
    expect_found(t, BASE + 4 * KiB - 1, BASE, 4 * KiB, OWNER1);
    expect_absent(t, BASE + 4 * KiB);
    expect_absent(t, BASE + 12 * KiB - 1);
    expect_found(t, BASE + 12 * KiB, BASE + 12 * KiB, 4 * MiB - 12 * KiB,
                 OWNER1);
    expect_found(t, BASE + 4 * MiB - 1, BASE + 12 * KiB, 4 * MiB - 12 * KiB,
                 OWNER1);

    // Refused, changing nothing: across the gap, another owner's range,
    // the same piece twice, an empty or wrapping range.
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE), 16 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_remove_range(t, OWNER2, P(BASE), 4 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE + 4 * KiB),
                                          8 * KiB),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE), 0),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE), SIZE_MAX),
                     UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(tracker_count(t), 2);
    expect_found(t, BASE, BASE, 4 * KiB, OWNER1);
    expect_found(t, BASE + 12 * KiB, BASE + 12 * KiB, 4 * MiB - 12 * KiB,
                 OWNER1);

    // Across two adjacent ranges of one owner: both are cut.
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE + 4 * MiB), 2 * MiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE + 3 * MiB),
                                          2 * MiB),
                     UMF_RESULT_SUCCESS);
    expect_found(t, BASE + 3 * MiB - 1, BASE + 12 * KiB, 3 * MiB - 12 * KiB,
                 OWNER1);
    expect_absent(t, BASE + 3 * MiB);
    expect_absent(t, BASE + 5 * MiB - 1);
    expect_found(t, BASE + 5 * MiB, BASE + 5 * MiB, 1 * MiB, OWNER1);
    ck_assert_uint_eq(tracker_count(t), 3);

    // Whole ranges, by their exact extent.
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE), 4 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE + 12 * KiB),
                                          3 * MiB - 12 * KiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(tracker_remove_range(t, OWNER1, P(BASE + 5 * MiB),
                                          1 * MiB),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(tracker_count(t), 0);
    expect_absent(t, BASE);
    expect_absent(t, BASE + 5 * MiB);
    tracker_destroy(t);
}
END_TEST

START_TEST(test_tracker_drop_owner) {
    tracker_t *t = tracker_create();
    for (int i = 0; i < 100; i++) {
        void *owner = i % 2 ? OWNER1 : OWNER2;
        size_t size = i % 5 == 0 ? 3 * MiB : (size_t)(100 + i);
        ck_assert_int_eq(
            tracker_register(t, owner, P(BASE + (uintptr_t)i * 4 * MiB), size),
            UMF_RESULT_SUCCESS);
    }
    ck_assert_uint_eq(tracker_drop_owner(t, OWNER1), 50);
    ck_assert_uint_eq(tracker_count(t), 50);
    for (int i = 0; i < 100; i++) {
        uintptr_t a = BASE + (uintptr_t)i * 4 * MiB + 50;
        if (i % 2) {
            expect_absent(t, a);
        } else {
            ck_assert(tracker_lookup(t, P(a), NULL));
        }
    }
    ck_assert_uint_eq(tracker_drop_owner(t, OWNER1), 0);
    ck_assert_uint_eq(tracker_drop_owner(t, OWNER2), 50);
    ck_assert_uint_eq(tracker_count(t), 0);
    tracker_destroy(t);
}
END_TEST

// --- Randomised comparison with a brute-force model ---

typedef struct {
    uintptr_t base;
    size_t size;
    void *owner;
} mrange_t;

#define MMAX 512
static mrange_t model[MMAX];
static int nmodel;

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rnd_size(void) {
    switch (rnd() % 6) {
    case 0:
        return 1 + rnd() % 63;
    case 1:
        return 64 + rnd() % 4032;
    case 2:
        return 4096 + rnd() % (2 * MiB);
    case 3:
        return 2 * MiB + rnd() % (64 * MiB);
    case 4:
        return 1 + rnd() % 300;
    default:
        return GiB + rnd() % (3 * GiB);
    }
}

static bool model_overlaps(uintptr_t b, size_t s) {
    for (int i = 0; i < nmodel; i++) {
        if (b < model[i].base + model[i].size && model[i].base < b + s) {
            return true;
        }
    }
    return false;
}

static int model_find(uintptr_t a) {
    for (int i = 0; i < nmodel; i++) {
        if (a - model[i].base < model[i].size) {
            return i;
        }
    }
    return -1;
}

static void model_check(tracker_t *t, uintptr_t a) {
    int i = model_find(a);
    if (i < 0) {
        expect_absent(t, a);
    } else {
        expect_found(t, a, model[i].base, model[i].size, model[i].owner);
    }
}

START_TEST(test_tracker_matches_model) {
    tracker_t *t = tracker_create();
    rng_state = 0x9e3779b97f4a7c15ULL + (uint64_t)_i;
    nmodel = 0;
    const uintptr_t span = 64 * GiB;
    int steps = 6000 / test_slow_factor();
    for (int step = 0; step < steps; step++) {
        int op = (int)(rnd() % 10);
        if (op < 4 && nmodel < MMAX) { // register
            uintptr_t b = BASE + rnd() % span;
            if (rnd() % 2) {
                b &= ~(uintptr_t)4095;
            }
            size_t s = rnd_size();
            if (model_overlaps(b, s)) {
                continue;
            }
            void *owner = (void *)(uintptr_t)(1 + rnd() % 3);
            ck_assert_int_eq(tracker_register(t, owner, P(b), s),
                             UMF_RESULT_SUCCESS);
            model[nmodel++] = (mrange_t){b, s, owner};
        } else if (op < 6 && nmodel > 0) { // unregister
            int i = (int)(rnd() % (uint64_t)nmodel);
            tracker_info_t info;
            ck_assert_int_eq(tracker_unregister(t, P(model[i].base), &info),
                             UMF_RESULT_SUCCESS);
            ck_assert_uint_eq(info.size, model[i].size);
            model[i] = model[--nmodel];
        } else if (op < 8 && nmodel > 0 && nmodel < MMAX) { // split
            int i = (int)(rnd() % (uint64_t)nmodel);
            if (model[i].size < 2) {
                continue;
            }
            size_t first = 1 + rnd() % (model[i].size - 1);
            ck_assert_int_eq(
                tracker_split(t, P(model[i].base), model[i].size, first),
                UMF_RESULT_SUCCESS);
            model[nmodel++] = (mrange_t){model[i].base + first,
                                         model[i].size - first, model[i].owner};
            model[i].size = first;
        } else if (nmodel > 1) { // merge with the right neighbour, if any
            int i = (int)(rnd() % (uint64_t)nmodel);
            int j = model_find(model[i].base + model[i].size);
            if (j < 0 || model[j].owner != model[i].owner) {
                continue;
            }
            size_t total = model[i].size + model[j].size;
            ck_assert_int_eq(tracker_merge(t, P(model[i].base),
                                           P(model[j].base), total),
                             UMF_RESULT_SUCCESS);
            model[i].size = total;
            model[j] = model[--nmodel];
        }
        ck_assert_uint_eq(tracker_count(t), (size_t)nmodel);
        // Probe around a few ranges and at random.
        for (int k = 0; k < 4 && nmodel > 0; k++) {
            mrange_t *r = &model[rnd() % (uint64_t)nmodel];
            model_check(t, r->base);
            model_check(t, r->base - 1);
            model_check(t, r->base + r->size - 1);
            model_check(t, r->base + r->size);
            model_check(t, r->base + rnd() % r->size);
        }
        model_check(t, BASE + rnd() % span);
    }
    // Remove everything; the map must be empty.
    while (nmodel > 0) {
        ck_assert_int_eq(tracker_unregister(t, P(model[0].base), NULL),
                         UMF_RESULT_SUCCESS);
        uintptr_t probe = model[0].base + model[0].size / 2;
        model[0] = model[--nmodel];
        model_check(t, probe);
    }
    ck_assert_uint_eq(tracker_count(t), 0);
    tracker_destroy(t);
}
END_TEST

// --- Multi-thread stress ---

#define NTHREADS 8
#define REGION (64 * MiB)

typedef struct {
    tracker_t *t;
    int id;
    _Atomic int *stop;
    unsigned long lookups, errors;
} stress_arg_t;

static uintptr_t region_of(int id) {
    return BASE + (uintptr_t)id * REGION;
}

// Stable ranges that readers must always find: the first 1 MiB + 12 bytes
// of every region, right next to what the writers churn.
static const size_t STABLE = MiB + 12;

static void *stress_writer(void *p) {
    stress_arg_t *a = p;
    uint64_t s = 0x1234567ULL * (uint64_t)(a->id + 1);
    void *owner = (void *)(uintptr_t)(100 + a->id);
    uintptr_t lo = region_of(a->id) + STABLE;
    int iters = 3000 / test_slow_factor();
    for (int it = 0; it < iters; it++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t size = 1 + s % (it % 3 == 0 ? 8 * MiB : 8000);
        uintptr_t b = lo + (s >> 20) % 64;
        if (tracker_register(a->t, owner, P(b), size) != UMF_RESULT_SUCCESS) {
            a->errors++;
            continue;
        }
        tracker_info_t info;
        if (!tracker_lookup(a->t, P(b + size - 1), &info) ||
            info.base != P(b)) {
            a->errors++;
        }
        if (size > 1) {
            size_t first = 1 + (s >> 8) % (size - 1);
            if (tracker_split(a->t, P(b), size, first) != UMF_RESULT_SUCCESS ||
                !tracker_lookup(a->t, P(b + first), &info) ||
                info.base != P(b + first) ||
                tracker_merge(a->t, P(b), P(b + first), size) !=
                    UMF_RESULT_SUCCESS) {
                a->errors++;
            }
        }
        if (tracker_unregister(a->t, P(b), NULL) != UMF_RESULT_SUCCESS ||
            tracker_lookup(a->t, P(b), NULL)) {
            a->errors++;
        }
    }
    return NULL;
}

static void *stress_reader(void *p) {
    stress_arg_t *a = p;
    uint64_t s = 0xabcdefULL * (uint64_t)(a->id + 1);
    while (!atomic_load(a->stop)) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        int r = (int)(s % NTHREADS);
        uintptr_t base = region_of(r);
        uintptr_t addr = base + (s >> 8) % STABLE;
        tracker_info_t info;
        if (!tracker_lookup(a->t, P(addr), &info) || info.base != P(base) ||
            info.size != STABLE || info.owner != (void *)(uintptr_t)(1 + r)) {
            a->errors++;
        }
        // Anything found in a writer's area must contain the address.
        addr = base + STABLE + (s >> 30) % (9 * MiB);
        if (tracker_lookup(a->t, P(addr), &info) &&
            (addr - (uintptr_t)info.base >= info.size ||
             info.owner != (void *)(uintptr_t)(100 + r))) {
            a->errors++;
        }
        a->lookups += 2;
    }
    return NULL;
}

START_TEST(test_tracker_mt_register_lookup_unregister) {
    tracker_t *t = tracker_create();
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(tracker_register(t, (void *)(uintptr_t)(1 + i),
                                          P(region_of(i)), STABLE),
                         UMF_RESULT_SUCCESS);
    }
    _Atomic int stop = 0;
    pthread_t w[NTHREADS], r[2];
    stress_arg_t wa[NTHREADS], ra[2];
    for (int i = 0; i < 2; i++) {
        ra[i] = (stress_arg_t){t, i, &stop, 0, 0};
        pthread_create(&r[i], NULL, stress_reader, &ra[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        wa[i] = (stress_arg_t){t, i, &stop, 0, 0};
        pthread_create(&w[i], NULL, stress_writer, &wa[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(w[i], NULL);
        ck_assert_uint_eq(wa[i].errors, 0);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(r[i], NULL);
        ck_assert_uint_eq(ra[i].errors, 0);
        ck_assert_uint_gt(ra[i].lookups, 0);
    }
    ck_assert_uint_eq(tracker_count(t), NTHREADS);
    tracker_destroy(t);
}
END_TEST

// A range split and merged over and over under readers that look up
// addresses inside it: every lookup must find a piece containing them.
typedef struct {
    tracker_t *t;
    _Atomic int *stop;
    unsigned long errors, lookups;
} churn_arg_t;

static void *churn_reader(void *p) {
    churn_arg_t *a = p;
    uint64_t s = 77;
    while (!atomic_load(a->stop)) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uintptr_t addr = BASE + s % (6 * MiB);
        tracker_info_t info;
        if (!tracker_lookup(a->t, P(addr), &info) ||
            addr - (uintptr_t)info.base >= info.size || info.owner != OWNER1) {
            a->errors++;
        }
        a->lookups++;
    }
    return NULL;
}

START_TEST(test_tracker_mt_split_merge_never_hides_memory) {
    tracker_t *t = tracker_create();
    ck_assert_int_eq(tracker_register(t, OWNER1, P(BASE), 6 * MiB),
                     UMF_RESULT_SUCCESS);
    _Atomic int stop = 0;
    churn_arg_t ra[3];
    pthread_t r[3];
    for (int i = 0; i < 3; i++) {
        ra[i] = (churn_arg_t){t, &stop, 0, 0};
        pthread_create(&r[i], NULL, churn_reader, &ra[i]);
    }
    const size_t cuts[] = {1, 63, 4096, 5000, 2 * MiB, 3 * MiB + 1, 6 * MiB - 1};
    int iters = 20000 / test_slow_factor();
    for (int it = 0; it < iters; it++) {
        size_t first = cuts[it % ARRAY_SIZE(cuts)];
        ck_assert_int_eq(tracker_split(t, P(BASE), 6 * MiB, first),
                         UMF_RESULT_SUCCESS);
        ck_assert_int_eq(tracker_merge(t, P(BASE), P(BASE + first), 6 * MiB),
                         UMF_RESULT_SUCCESS);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(r[i], NULL);
        ck_assert_uint_eq(ra[i].errors, 0);
    }
    tracker_destroy(t);
}
END_TEST

static Suite *tracker_suite(void) {
    Suite *s = suite_create("tracker");
    TCase *tc = tcase_create("basic");
    tcase_add_test(tc, test_tracker_lookup_empty);
    tcase_add_loop_test(tc, test_tracker_lookup_interior_ptr, 0,
                        ARRAY_SIZE(level_sizes));
    tcase_add_test(tc, test_tracker_register_cost_is_in_large_granules);
    tcase_add_test(tc, test_tracker_zero_size_and_limits);
    tcase_add_test(tc, test_tracker_rejects_overlap);
    tcase_add_test(tc, test_tracker_nested);
    tcase_add_test(tc, test_tracker_epoch);
    tcase_add_test(tc, test_tracker_adjacent_ranges_share_slots);
    tcase_add_test(tc, test_tracker_split_merge);
    tcase_add_test(tc, test_tracker_remove_range);
    tcase_add_test(tc, test_tracker_drop_owner);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_loop_test(tc, test_tracker_matches_model, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_test(tc, test_tracker_mt_register_lookup_unregister);
    tcase_add_test(tc, test_tracker_mt_split_merge_never_hides_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(tracker_suite());
}
