/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace_numa.c - choosing NUMA memory with memspaces: list the
 * machine's nodes (the host-all memspace) and their order by capacity
 * (highest-capacity), make a memspace of the largest node, bind a pool to
 * it, and check with the kernel that every page of an allocation is there.
 * With two or more nodes it also interleaves an allocation over all of
 * them and counts the pages per node; with one node it says so and skips
 * that part. Built and run by `make check`: it exits 1 if memory is not
 * where the policy says, 77 if the kernel cannot tell (no get_mempolicy).
 *
 * Build it against an installed umf with:
 *     cc memspace_numa.c $(pkg-config --cflags --libs umf) -o memspace_numa
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <umf/memspace.h>

#define MPOL_F_NODE (1UL << 0) // from <linux/mempolicy.h>
#define MPOL_F_ADDR (1UL << 1)
#define MAX_NODES   64

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "memspace_numa: %s failed\n", what);               \
            return 1;                                                          \
        }                                                                      \
    } while (0)

// The NUMA node holding the (touched) page at addr, or -1.
static int node_of(void *addr) {
    int node = -1;
    if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, addr,
                MPOL_F_NODE | MPOL_F_ADDR) != 0) {
        return -1;
    }
    return node;
}

static unsigned target_id(umf_const_memspace_handle_t ms, unsigned i) {
    unsigned id = 0;
    umfMemtargetGetId(umfMemspaceMemtargetGet(ms, i), &id);
    return id;
}

static void print_memspace(const char *name, umf_const_memspace_handle_t ms) {
    printf("%s:", name);
    for (unsigned i = 0; i < umfMemspaceMemtargetNum(ms); i++) {
        size_t cap = 0;
        umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, i), &cap);
        printf(" node %u (%zu MiB)", target_id(ms, i), cap >> 20);
    }
    printf("\n");
}

int main(void) {
    int probe = -1;
    if (syscall(SYS_get_mempolicy, &probe, NULL, 0UL, NULL, 0UL) != 0) {
        printf("SKIP: get_mempolicy(2) fails here (%s): cannot show where "
               "memory is\n",
               strerror(errno));
        return 77;
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);

    // 1. The machine's nodes, and the same nodes largest first. These
    //    memspaces belong to the library: never destroy them.
    umf_const_memspace_handle_t all = umfMemspaceHostAllGet();
    umf_const_memspace_handle_t by_capacity = umfMemspaceHighestCapacityGet();
    CHECK(all && by_capacity, "umfMemspaceHostAllGet/HighestCapacityGet");
    print_memspace("host-all", all);
    print_memspace("highest capacity", by_capacity);

    // 2. A memspace of our own holding the largest node, and a pool whose
    //    memory is bound to it (the BIND policy: that node and no other).
    unsigned largest = target_id(by_capacity, 0);
    umf_memspace_handle_t mine = NULL;
    umf_result_t res = umfMemspaceCreateFromNumaArray(&largest, 1, &mine);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemspaceCreateFromNumaArray");
    umf_mempolicy_handle_t bind = NULL;
    res = umfMempolicyCreate(UMF_MEMPOLICY_BIND, &bind);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMempolicyCreate");
    umf_memory_pool_handle_t pool = NULL;
    res = umfPoolCreateFromMemspace(mine, bind, &pool);
    CHECK(res == UMF_RESULT_SUCCESS, "umfPoolCreateFromMemspace");
    // The pool keeps what it needs: memspace and policy may go now.
    umfMempolicyDestroy(bind);
    umfMemspaceDestroy(mine);

    const size_t size = 4 << 20;
    unsigned char *buf = umfPoolCalloc(pool, 1, size); // touches every page
    CHECK(buf != NULL, "umfPoolCalloc");
    size_t on_node = 0, pages = size / page;
    for (size_t i = 0; i < pages; i++) {
        on_node += node_of(buf + i * page) == (int)largest;
    }
    printf("bound %zu MiB to node %u: %zu of %zu pages there\n", size >> 20,
           largest, on_node, pages);
    CHECK(on_node == pages, "every page on the chosen node");
    umfFree(buf);
    umfPoolDestroy(pool);

    // 3. Interleave over every node: a modifiable copy of host-all with
    //    the INTERLEAVE policy, pages round-robin over the nodes.
    size_t n = umfMemspaceMemtargetNum(all);
    if (n < 2) {
        printf("one NUMA node: interleaving across nodes is not shown\n");
        printf("done\n");
        return 0;
    }
    umf_memspace_handle_t copy = NULL;
    CHECK(umfMemspaceClone(all, &copy) == UMF_RESULT_SUCCESS,
          "umfMemspaceClone");
    umf_mempolicy_handle_t il = NULL;
    CHECK(umfMempolicyCreate(UMF_MEMPOLICY_INTERLEAVE, &il) ==
              UMF_RESULT_SUCCESS,
          "umfMempolicyCreate");
    umf_memory_provider_handle_t prov = NULL;
    res = umfMemoryProviderCreateFromMemspace(copy, il, &prov);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemoryProviderCreateFromMemspace");
    umfMempolicyDestroy(il);
    void *vp = NULL;
    CHECK(umfMemoryProviderAlloc(prov, size, 0, &vp) == UMF_RESULT_SUCCESS,
          "umfMemoryProviderAlloc");
    unsigned char *p = vp;
    size_t count[MAX_NODES] = {0};
    for (size_t i = 0; i < pages; i++) {
        p[i * page] = 1;
        int node = node_of(p + i * page);
        if (node >= 0 && node < MAX_NODES) {
            count[node]++;
        }
    }
    printf("interleaved %zu MiB over %zu nodes:", size >> 20, n);
    for (unsigned i = 0; i < n; i++) {
        unsigned id = target_id(copy, i);
        printf(" node %u: %zu pages", id, id < MAX_NODES ? count[id] : 0);
    }
    printf("\n");
    umfMemoryProviderFree(prov, p, size);
    umfMemoryProviderDestroy(prov);
    umfMemspaceDestroy(copy);
    printf("done\n");
    return 0;
}
