/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * thread.h - the one per-thread mechanism of libumf (DESIGN.md invariant
 * 12), used by every pool and by the proxy, and the fork gate around calls
 * into third-party engines (tbbmalloc, jemalloc).
 *
 * Each thread has one record, ut_thread_t, in libumf's TLS (no allocation,
 * so nothing to leak). A record goes through three states:
 *
 *   NEW   - nothing made yet; the first ut_set() or gated call makes it
 *   LIVE    (links it on the list of live threads and sets a pthread key
 *           whose destructor ends it) - unless the thread is already in
 *           glibc's last stage of exit, after its TSD destructors (see
 *           make_live in thread.c): then it goes straight to DEAD;
 *   LIVE  - components keep their per-thread state in its slots;
 *   DEAD  - the key's destructor ran: every slot was released (a client's
 *           release gives what the thread cached back to its pool) and the
 *           record is off the list. A DEAD record never becomes LIVE again.
 *
 * Calls that arrive after the destructor (glibc frees a detached thread's
 * TLS bookkeeping after TSD destructors; other keys' destructors may run
 * after ours) see DEAD: ut_set() refuses, slots stay empty, and every
 * component must then take its shared path (locked bucket, no tcache, ...)
 * without keeping anything per thread. So nothing is re-created, nothing
 * leaks and no list holds a dead thread.
 *
 * Fork: in the child only the forking thread's record stays live; the
 * records of the other threads (still mapped in the child) are released
 * with `own_thread` false and unlinked, after every fork child handler ran
 * (fork.c's child_after phase), so their caches go back to their pools.
 *
 * Clients: a component registers once (ut_client_register) and gets a slot
 * index. Its release callback runs on the exiting thread (own_thread true)
 * or, in a fork child, on the forking thread for another thread's state
 * (own_thread false: it must not touch the caller's TLS).
 *
 * The fork gate: tbbmalloc and jemalloc have internal locks that a fork in
 * the middle of a call would leave held in the child (tbbmalloc has no fork
 * handlers; jemalloc's are ordered after libumf's tracker lock). Every call
 * into them raises the calling thread's gate depth; the gate's fork handler
 * (rank FORK_RANK_GATE) closes the gate and waits until no other thread is
 * inside. The fast path writes only this thread's record: a relaxed store
 * plus a compiler barrier when membarrier(2) is available (the handler
 * issues the process-wide barrier), a seq_cst exchange otherwise. DEAD
 * threads, and threads whose record could not be made live, use a shared
 * counter with atomic read-modify-writes.
 *
 * Exported (umf_private_*, in no public header) for libjemalloc_pool and
 * libumf_proxy, which include this header.
 */

#ifndef UMF_THREAD_H
#define UMF_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

// Slots per thread: one per client (a component, not a pool).
#define UT_SLOTS 8

enum { UT_NEW = 0, UT_LIVE = 1, UT_DEAD = 2 };

typedef struct ut_thread_t {
    int state; // UT_NEW, UT_LIVE, UT_DEAD; written by its thread (and the
               // fork child handler)
    _Atomic unsigned gate_depth; // gated calls in progress
    void *slot[UT_SLOTS];
    struct ut_thread_t *prev, *next; // live records, under the list lock
    unsigned guard_holds; // exit guards holding the gate (on the shared
                          // counter) while this thread exits
} ut_thread_t;

typedef struct ut_client_t {
    const char *name;
    // Gives back what `state` caches and frees it. own_thread: called on
    // the thread the state belongs to (at its exit), else on the forking
    // thread in a fork child for a thread that does not exist there.
    void (*release)(void *state, bool own_thread);
} ut_client_t;

typedef struct ut_gate_t {
    _Atomic int closed;      // a fork is in progress: wait
    _Atomic unsigned shared; // depth of threads without a live record
    bool membarrier;         // the handler issues membarrier(2)
} ut_gate_t;

// This thread's record; never NULL (any state).
ut_thread_t *umf_private_thread_self(void);
// Registers a client (once per component; `c` in static storage): its
// slot, or -1 when all are taken.
int umf_private_thread_client_register(const ut_client_t *c);
// Stores `state` in this thread's slot, making the record LIVE first if it
// is NEW. False when the thread is DEAD or its key could not be set: the
// caller must not keep per-thread state then (nothing is stored).
bool umf_private_thread_set(int slot, void *state);
// Makes this thread's record LIVE if it is NEW; true when it is LIVE. False
// when the thread is past its TSD destructors (DEAD, or NEW in glibc's last
// stage of thread exit, which makes it DEAD) or has no key: the caller must
// then keep nothing per thread, and must not let a third-party engine make
// per-thread state either (jemalloc's would stay on its lists).
bool umf_private_thread_live(void);
// The gate word, for the inline functions below in other libraries.
ut_gate_t *umf_private_thread_gate(void);
// Slow path of ut_gate_enter: makes the record live, or counts the call
// on the shared counter, and waits while a fork is in progress. Returns
// the record to pass to ut_gate_leave (NULL: the shared counter).
ut_thread_t *umf_private_thread_gate_enter_slow(ut_gate_t *g, ut_thread_t *t);

// The exit guard. A third-party engine whose own TSD destructor takes its
// internal locks (tbbmalloc's, which releases the thread's caches, one key
// per tbbmalloc pool) runs that destructor outside any gated call: a fork
// meanwhile leaves the child with the lock held, and the child hangs in
// its first call. A guard is a pair of keys made around the engine's key:
// `begin` just before the engine creates it, `end` just after. glibc runs
// the destructors of one round in key order, and keys made one after the
// other get increasing indexes, so the engine's destructor runs between
// begin's (which enters the gate) and end's (which leaves it), and only
// it. Nothing else runs inside: another library's destructor that waits
// for a lock its own fork handler took before the gate closed (jemalloc's
// does) must not keep the forking thread waiting at the gate.
typedef struct ut_exit_guard_t {
    pthread_key_t begin, end;
    bool opened; // begin exists
    bool ok;     // both exist
} ut_exit_guard_t;
// Makes begin (right before the engine makes its key).
void umf_private_thread_exit_guard_open(ut_exit_guard_t *g);
// Makes end (right after). A guard that failed is logged and does nothing.
void umf_private_thread_exit_guard_close(ut_exit_guard_t *g);
// Deletes both keys (when the engine deletes its own).
void umf_private_thread_exit_guard_delete(ut_exit_guard_t *g);
// Arms `g` for this thread (LIVE threads only; once per thread and guard:
// cheap when armed already).
void umf_private_thread_exit_guard_arm(const ut_exit_guard_t *g);

// Live records (tests: after threads exit only the callers' stay).
unsigned umf_private_thread_live_count(void);

// libumf's own code reads the record directly (no call); other libraries
// call umf_private_thread_self.
extern _Thread_local ut_thread_t umf_ut_tls
    __attribute__((visibility("hidden")));
#define ut_self()          (&umf_ut_tls)
#define ut_client_register umf_private_thread_client_register
#define ut_set             umf_private_thread_set

static inline void *ut_get(const ut_thread_t *t, int slot) {
    return t->slot[slot];
}

// Enters a gated call; pass the result to ut_gate_leave.
static inline ut_thread_t *ut_gate_enter(ut_gate_t *g, ut_thread_t *t) {
    if (__builtin_expect(t->state == UT_LIVE, 1)) {
        unsigned n = atomic_load_explicit(&t->gate_depth, memory_order_relaxed);
        if (__builtin_expect(g->membarrier, 1)) {
            atomic_store_explicit(&t->gate_depth, n + 1, memory_order_relaxed);
            atomic_signal_fence(memory_order_seq_cst);
        } else {
            (void)atomic_exchange_explicit(&t->gate_depth, n + 1,
                                           memory_order_seq_cst);
        }
        if (__builtin_expect(
                !atomic_load_explicit(&g->closed, memory_order_seq_cst), 1) ||
            n != 0) {
            // n != 0: a nested call (the forking thread's own provider
            // callback); the handler does not wait for this thread.
            return t;
        }
        atomic_store_explicit(&t->gate_depth, n, memory_order_release);
    }
    return umf_private_thread_gate_enter_slow(g, t);
}

static inline void ut_gate_leave(ut_gate_t *g, ut_thread_t *t) {
    if (__builtin_expect(t != NULL, 1)) {
        unsigned n = atomic_load_explicit(&t->gate_depth, memory_order_relaxed);
        atomic_store_explicit(&t->gate_depth, n - 1, memory_order_release);
    } else {
        atomic_fetch_sub_explicit(&g->shared, 1, memory_order_release);
    }
}

// libumf only: registers the mechanism's fork handlers (init.c).
void thread_fork_register(void);

#endif /* UMF_THREAD_H */
