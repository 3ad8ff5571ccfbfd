/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * numa_query.h - asks the kernel where memory is, for the memspace
 * placement tests: the policy of a page (get_mempolicy(MPOL_F_ADDR)), and
 * the node holding a touched page, both by get_mempolicy(MPOL_F_NODE |
 * MPOL_F_ADDR) and by move_pages(2) with no target nodes (a query). Raw
 * system calls: there is no libnuma here.
 */

#ifndef UMF_TEST_NUMA_QUERY_H
#define UMF_TEST_NUMA_QUERY_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <check.h>

// From <linux/mempolicy.h>.
#define NQ_MPOL_DEFAULT        0
#define NQ_MPOL_PREFERRED      1
#define NQ_MPOL_BIND           2
#define NQ_MPOL_INTERLEAVE     3
#define NQ_MPOL_LOCAL          4
#define NQ_MPOL_PREFERRED_MANY 5
#define NQ_MPOL_F_NODE         (1UL << 0)
#define NQ_MPOL_F_ADDR         (1UL << 1)
#define NQ_MPOL_MODE_MASK      0xff // drops MPOL_F_STATIC_NODES & co.

#define NQ_MASK_WORDS 16
#define NQ_MASK_BITS  (NQ_MASK_WORDS * 8 * sizeof(unsigned long))

typedef struct nq_policy_t {
    int mode;
    unsigned long mask[NQ_MASK_WORDS];
} nq_policy_t;

static inline size_t nq_page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static inline long nq_get_mempolicy(int *mode, unsigned long *mask,
                                    unsigned long maxnode, void *addr,
                                    unsigned long flags) {
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

// The policy the page at addr was given (mbind).
static inline nq_policy_t nq_policy_of(void *addr) {
    nq_policy_t p;
    memset(&p, 0, sizeof(p));
    p.mode = -1;
    long r =
        nq_get_mempolicy(&p.mode, p.mask, NQ_MASK_BITS, addr, NQ_MPOL_F_ADDR);
    ck_assert_msg(r == 0, "get_mempolicy(%p, MPOL_F_ADDR): %s", addr,
                  strerror(errno));
    p.mode &= NQ_MPOL_MODE_MASK;
    return p;
}

// The node of the touched page at addr, asked twice: get_mempolicy and
// move_pages must agree.
static inline int nq_node_of(void *addr) {
    int node = -1;
    long r =
        nq_get_mempolicy(&node, NULL, 0, addr, NQ_MPOL_F_NODE | NQ_MPOL_F_ADDR);
    ck_assert_msg(r == 0, "get_mempolicy(%p, MPOL_F_NODE|MPOL_F_ADDR): %s",
                  addr, strerror(errno));
    void *pages[1] = {addr};
    int status[1] = {-1};
    r = syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0);
    ck_assert_msg(r == 0, "move_pages(query %p): %s", addr, strerror(errno));
    ck_assert_msg(status[0] == node,
                  "page %p: get_mempolicy says node %d, move_pages %d", addr,
                  node, status[0]);
    return node;
}

static inline bool nq_mask_is(const unsigned long *mask, const unsigned *want,
                              unsigned n) {
    unsigned long expect[NQ_MASK_WORDS] = {0};
    const unsigned bits = 8 * sizeof(unsigned long);
    for (unsigned i = 0; i < n; i++) {
        expect[want[i] / bits] |= 1UL << (want[i] % bits);
    }
    return memcmp(mask, expect, sizeof(expect)) == 0;
}

// Touches every page one at a time, without huge pages, so each page is
// placed by its own policy.
static inline void nq_touch(unsigned char *ptr, size_t npages) {
    (void)madvise(ptr, npages * nq_page(), MADV_NOHUGEPAGE);
    for (size_t i = 0; i < npages; i++) {
        ptr[i * nq_page()] = (unsigned char)(i + 1);
    }
}

// NULL when both system calls work here, else why not.
static inline const char *nq_unavailable(void) {
    int mode = -1;
    if (nq_get_mempolicy(&mode, NULL, 0, NULL, 0) != 0) {
        return errno == ENOSYS ? "get_mempolicy(2) is not implemented"
                               : "get_mempolicy(2) is not permitted here";
    }
    int status = -1;
    void *pages[1] = {&mode};
    if (syscall(SYS_move_pages, 0, 1UL, pages, NULL, &status, 0) != 0) {
        return errno == ENOSYS ? "move_pages(2) is not implemented"
                               : "move_pages(2) is not permitted here";
    }
    return NULL;
}

#endif /* UMF_TEST_NUMA_QUERY_H */
