/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.h - the one fork registry of libumf (DESIGN.md invariants 7, 12).
 *
 * Each component registers its handlers with a rank. Before fork, the
 * prepare handlers run in increasing rank; after it, the parent (or child)
 * handlers in decreasing rank; in the child, the child_after handlers then
 * run in increasing rank, when every lock is usable again. The ranks are
 * the lock order: code holding a lock of rank r never takes a lock of a
 * lower rank. The table below is the whole order; DESIGN-NOTES.md
 * explains each entry. The registry names no component.
 */

#ifndef UMF_FORK_H
#define UMF_FORK_H

enum {
    // Outer locks: code holding them allocates (hwloc, dlopen), which
    // under libumf_proxy.so reaches a pool.
    FORK_RANK_INIT = 100,      // init.c: life cycle, tracker object
    FORK_RANK_MEMSPACES = 110, // predefined memspaces, built lazily
    FORK_RANK_TOPOLOGY = 120,  // the lazily loaded hwloc topology
    // Pools.
    FORK_RANK_GATE = 200,     // thread.c: no thread inside tbbmalloc or
                              // jemalloc (their locks have no handlers
                              // ordered with ours)
    FORK_RANK_JEMALLOC = 210, // the jemalloc pools' table lock
    FORK_RANK_DISJOINT = 300, // disjoint pools: registry, buckets, maps
    FORK_RANK_HOST = 305,     // host pools: registry, shared heaps, pages
    FORK_RANK_IPC = 310,      // IPC caches (under disjoint frees)
    // Below the pools.
    FORK_RANK_TRACKER = 400,     // tracker writer lock
    FORK_RANK_COARSE = 403,      // coarse providers (held across calls
                                 // to their upstream providers)
    FORK_RANK_FILE_DAX = 406,    // file and devdax providers
    FORK_RANK_OS_PROVIDER = 410, // OS provider registry and offset maps
    FORK_RANK_BASE_ALLOC = 500,  // base allocator size classes
    FORK_RANK_THREADS = 600,     // thread.c: the list of live threads
};

typedef struct fork_handler_t {
    const char *name;
    int rank;
    void (*prepare)(void); // may be NULL, as may the others
    void (*parent)(void);
    void (*child)(void);       // release or reset locks only
    void (*child_after)(void); // child state fix-ups; may take any lock
} fork_handler_t;

// Adds `h` (static storage; registering the same h twice adds it once).
// 0, or -1 when the table is full (logged).
int umf_private_fork_register(const fork_handler_t *h);

// Registers the registry's runner with pthread_atfork once more, for a
// library whose own third-party code registered pthread_atfork handlers
// after libumf did: the registry then runs before those (prepare handlers
// run in reverse order of registration) and after them in the parent and
// child. The registry runs once per fork however many times this is
// called.
void umf_private_fork_install_again(void);

#define fork_register umf_private_fork_register

// libumf's constructor: installs the runner once. 0 or an errno value.
int fork_hooks_install(void);

// --- The child's copy ---
// A component whose fork child copies memory that the parent goes on
// writing (a shared heap made private in the child) makes the parent's
// forking thread wait until the copy is done, so the child gets the memory
// as it was at fork(). In its handlers: prepare opens the gate (a pipe,
// with its lock held), parent waits until every copy of the write end is
// closed, child closes the gate once it has copied. A gate that could not
// be opened (no fds) does not wait: the failure is logged.
typedef struct fork_copy_gate_t {
    int fds[2]; // -1 when closed
} fork_copy_gate_t;

#define FORK_COPY_GATE_INIT                                                    \
    {                                                                          \
        { -1, -1 }                                                             \
    }

void fork_copy_gate_open(fork_copy_gate_t *g);
void fork_copy_gate_wait(fork_copy_gate_t *g);
void fork_copy_gate_close(fork_copy_gate_t *g);

#endif /* UMF_FORK_H */
