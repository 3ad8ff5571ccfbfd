/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace_hmat.c - choosing memory by performance: the highest-bandwidth
 * and lowest-latency memspaces, which the library builds from the
 * platform's memory attributes (ACPI HMAT, through hwloc). Prints the
 * nodes each chose, then allocates from a pool on the highest-bandwidth
 * nodes and checks that the pages are there.
 *
 * Most virtual machines and many servers report no HMAT: the memspaces
 * are then NULL and this program says so and exits 77 (make check's
 * SKIP). To see it choose, give hwloc a topology that has them:
 *     HWLOC_XMLFILE=tests/topologies/hmat_5nodes.xml examples/memspace_hmat
 * (with HWLOC_XMLFILE set the nodes need not exist here, so it prints the
 * choice and does not allocate).
 *
 * Build it against an installed umf with:
 *     cc memspace_hmat.c $(pkg-config --cflags --libs umf) -o memspace_hmat
 */

#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <umf/memspace.h>

#define MPOL_F_NODE (1UL << 0) // from <linux/mempolicy.h>
#define MPOL_F_ADDR (1UL << 1)

static unsigned target_id(umf_const_memspace_handle_t ms, unsigned i) {
    unsigned id = 0;
    umfMemtargetGetId(umfMemspaceMemtargetGet(ms, i), &id);
    return id;
}

static int in_memspace(umf_const_memspace_handle_t ms, int node) {
    for (unsigned i = 0; i < umfMemspaceMemtargetNum(ms); i++) {
        if ((int)target_id(ms, i) == node) {
            return 1;
        }
    }
    return 0;
}

// "name: 2 3" and one line per node with its capacity; "not reported"
// when the platform has no data for it.
static void print_memspace(const char *name, umf_const_memspace_handle_t ms) {
    if (!ms) {
        printf("%s: not reported by this platform\n", name);
        return;
    }
    printf("%s:", name);
    for (unsigned i = 0; i < umfMemspaceMemtargetNum(ms); i++) {
        printf(" %u", target_id(ms, i));
    }
    printf("\n");
    for (unsigned i = 0; i < umfMemspaceMemtargetNum(ms); i++) {
        size_t cap = 0;
        umfMemtargetGetCapacity(umfMemspaceMemtargetGet(ms, i), &cap);
        printf("  node %u: %zu MiB\n", target_id(ms, i), cap >> 20);
    }
}

int main(void) {
    umf_const_memspace_handle_t bw = umfMemspaceHighestBandwidthGet();
    umf_const_memspace_handle_t lat = umfMemspaceLowestLatencyGet();
    if (!bw && !lat) {
        printf("SKIP: this platform reports no memory bandwidth or latency "
               "(no ACPI HMAT); try HWLOC_XMLFILE=tests/topologies/"
               "hmat_5nodes.xml\n");
        return 77;
    }
    print_memspace("highest bandwidth", bw);
    print_memspace("lowest latency", lat);

    if (getenv("HWLOC_XMLFILE")) {
        printf("topology read from HWLOC_XMLFILE: its nodes may not exist "
               "here, so nothing is allocated\n");
        return 0;
    }
    umf_const_memspace_handle_t ms = bw ? bw : lat;
    // No policy: memory bound to the memspace's nodes (BIND).
    umf_memory_pool_handle_t pool = NULL;
    if (umfPoolCreateFromMemspace(ms, NULL, &pool) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "memspace_hmat: umfPoolCreateFromMemspace failed\n");
        return 1;
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 8 << 20;
    unsigned char *buf = umfPoolCalloc(pool, 1, size); // touches every page
    if (!buf) {
        fprintf(stderr, "memspace_hmat: umfPoolCalloc failed\n");
        return 1;
    }
    size_t inside = 0;
    for (size_t off = 0; off < size; off += page) {
        int node = -1;
        if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, buf + off,
                    MPOL_F_NODE | MPOL_F_ADDR) == 0) {
            inside += (size_t)in_memspace(ms, node);
        }
    }
    printf("%zu MiB from the %s memspace: %zu of %zu pages on its nodes\n",
           size >> 20, bw ? "highest-bandwidth" : "lowest-latency", inside,
           size / page);
    umfFree(buf);
    umfPoolDestroy(pool);
    if (inside != size / page) {
        fprintf(stderr, "memspace_hmat: pages outside the memspace\n");
        return 1;
    }
    printf("done\n");
    return 0;
}
