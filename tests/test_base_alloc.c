/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_base_alloc.c - the metadata allocator: sizes of every class and
 * above, alignment, contents, calloc zeroing and overflow, realloc, foreign
 * pointers, and a multi-thread stress with cross-thread frees.
 */

#include <pthread.h>
#include <stdint.h>

#include "base_alloc.h"
#include "helpers.h"

static void fill(unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(seed + i * 7);
    }
}

static bool check(const unsigned char *p, size_t n, unsigned char seed) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (unsigned char)(seed + i * 7)) {
            return false;
        }
    }
    return true;
}

START_TEST(test_base_alloc_sizes_alignment_contents) {
    enum { N = 64 };
    void *ptrs[N];
    size_t sizes[N];
    size_t s = 1;
    for (int i = 0; i < N; i++) {
        sizes[i] = s;
        s = s * 3 / 2 + 1; // 1 .. several MiB, hitting every class
        if (s > (8u << 20)) {
            s = 5;
        }
        ptrs[i] = ba_alloc(sizes[i]);
        ck_assert_ptr_nonnull(ptrs[i]);
        ck_assert_uint_eq((uintptr_t)ptrs[i] % 16, 0);
        ck_assert_uint_ge(ba_usable_size(ptrs[i]), sizes[i]);
        fill(ptrs[i], sizes[i], (unsigned char)i);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_msg(check(ptrs[i], sizes[i], (unsigned char)i),
                      "block %d of %zu bytes was overwritten", i, sizes[i]);
        ba_free(ptrs[i]);
    }
}
END_TEST

START_TEST(test_base_alloc_reuses_freed_blocks) {
    void *a = ba_alloc(100);
    ba_free(a);
    void *b = ba_alloc(100);
    ck_assert_ptr_eq(a, b); // LIFO free list of the class
    ba_free(b);
    ba_free(NULL); // no-op
}
END_TEST

START_TEST(test_base_alloc_calloc) {
    // Dirty a block, free it, and calloc the same class: must be zero.
    unsigned char *d = ba_alloc(500);
    memset(d, 0xab, 500);
    ba_free(d);
    unsigned char *z = ba_calloc(50, 10);
    ck_assert_ptr_nonnull(z);
    for (int i = 0; i < 500; i++) {
        ck_assert_uint_eq(z[i], 0);
    }
    ba_free(z);
    ck_assert_ptr_null(ba_calloc(SIZE_MAX / 2, 3)); // overflow
    ck_assert_ptr_null(ba_alloc(SIZE_MAX));
    ck_assert_ptr_null(ba_alloc(SIZE_MAX - 8));
}
END_TEST

START_TEST(test_base_alloc_realloc_and_strings) {
    unsigned char *p = ba_realloc(NULL, 10);
    fill(p, 10, 3);
    p = ba_realloc(p, 100000);
    ck_assert_ptr_nonnull(p);
    ck_assert(check(p, 10, 3));
    fill(p, 100000, 4);
    p = ba_realloc(p, 20);
    ck_assert(check(p, 20, 4));
    ba_free(p);

    char *s = ba_strdup("hello, umf");
    ck_assert_str_eq(s, "hello, umf");
    char *t = ba_strndup("abcdef", 3);
    ck_assert_str_eq(t, "abc");
    ba_free(s);
    ba_free(t);
}
END_TEST

START_TEST(test_base_alloc_foreign_pointer_ignored) {
    // A pointer without our header is refused, not corrupting anything.
    static uint64_t not_ours[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ba_free(&not_ours[4]);
    ck_assert_uint_eq(ba_usable_size(&not_ours[4]), 0);
    ck_assert_uint_eq(not_ours[2], 3);
    // Double free is caught by the cleared magic.
    void *p = ba_alloc(64);
    ba_free(p);
    ba_free(p);
    void *q = ba_alloc(64), *r = ba_alloc(64);
    ck_assert_ptr_ne(q, r); // the free list was not corrupted into a cycle
    ba_free(q);
    ba_free(r);
}
END_TEST

// --- threads ---

#define NT    8
#define SLOTS 256

typedef struct {
    _Atomic(unsigned char *) slot[SLOTS];
    _Atomic(size_t) size[SLOTS];
} shared_t;

static shared_t shared;

static void *stress(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t s = 0x9e3779b9u * (id + 1);
    unsigned long bad = 0;
    int iters = 40000 / test_slow_factor();
    for (int it = 0; it < iters; it++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        unsigned k = (unsigned)(s % SLOTS);
        size_t size = 1 + (s >> 16) % (it % 50 == 0 ? 200000 : 2000);
        unsigned char *mine = ba_alloc(size);
        if (!mine) {
            bad++;
            continue;
        }
        memset(mine, (int)(k & 0xff), size);
        atomic_store(&shared.size[k], 0);
        // Take whatever another thread left in the slot and free it here.
        unsigned char *old = atomic_exchange(&shared.slot[k], NULL);
        if (old) {
            size_t n = ba_usable_size(old);
            if (n == 0 || old[0] != (unsigned char)(k & 0xff)) {
                bad++;
            }
            ba_free(old);
        }
        atomic_store(&shared.slot[k], mine);
    }
    return (void *)(uintptr_t)bad;
}

START_TEST(test_base_alloc_mt_cross_thread_free) {
    pthread_t t[NT];
    for (unsigned i = 0; i < NT; i++) {
        pthread_create(&t[i], NULL, stress, (void *)(uintptr_t)i);
    }
    for (unsigned i = 0; i < NT; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        ck_assert_uint_eq((uintptr_t)bad, 0);
    }
    for (int k = 0; k < SLOTS; k++) {
        ba_free(atomic_exchange(&shared.slot[k], NULL));
    }
}
END_TEST

static Suite *base_alloc_suite(void) {
    Suite *s = suite_create("base_alloc");
    TCase *tc = tcase_create("basic");
    tcase_add_test(tc, test_base_alloc_sizes_alignment_contents);
    tcase_add_test(tc, test_base_alloc_reuses_freed_blocks);
    tcase_add_test(tc, test_base_alloc_calloc);
    tcase_add_test(tc, test_base_alloc_realloc_and_strings);
    tcase_add_test(tc, test_base_alloc_foreign_pointer_ignored);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_test(tc, test_base_alloc_mt_cross_thread_free);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return run_suite(base_alloc_suite());
}
