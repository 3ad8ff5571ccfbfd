/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * thread.c - per-thread records, their life cycle and the fork gate (see
 * thread.h for the model).
 *
 * Locks: list_lock guards the list of live records and the client table.
 * It is a leaf: nothing else is taken while it is held, and a thread that
 * is inside a gated call is LIVE already, so it never waits for it. The
 * gate handler holds it only while it waits for the threads it lists.
 */

#include "thread.h"

#include <pthread.h>
#include <stdint.h>

#include "common.h"
#include "fork.h"
#include "log.h"
#include "os_linux.h"

_Thread_local ut_thread_t umf_ut_tls;
#define ut_tls umf_ut_tls

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static ut_thread_t *live; // LIVE records
static const ut_client_t *clients[UT_SLOTS];
static int nclients;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static bool key_ok;

static ut_gate_t gate;
// The forking thread, while the gate is closed (read by threads waiting).
static _Atomic(ut_thread_t *) gate_closer;

UMF_EXPORT ut_thread_t *umf_private_thread_self(void) {
    return &ut_tls;
}

UMF_EXPORT unsigned umf_private_thread_live_count(void) {
    unsigned n = 0;
    pthread_mutex_lock(&list_lock);
    for (ut_thread_t *t = live; t; t = t->next) {
        n++;
    }
    pthread_mutex_unlock(&list_lock);
    return n;
}

UMF_EXPORT ut_gate_t *umf_private_thread_gate(void) {
    return &gate;
}

UMF_EXPORT int umf_private_thread_client_register(const ut_client_t *c) {
    pthread_mutex_lock(&list_lock);
    int slot = -1;
    if (nclients < UT_SLOTS) {
        slot = nclients++;
        clients[slot] = c;
    }
    pthread_mutex_unlock(&list_lock);
    if (slot < 0) {
        LOG_ERR("no per-thread slot left for %s: it runs without "
                "per-thread state",
                c->name);
    }
    return slot;
}

static void unlink_locked(ut_thread_t *t) {
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        live = t->next;
    }
    if (t->next) {
        t->next->prev = t->prev;
    }
    t->prev = t->next = NULL;
}

// Releases every slot of t (LIVE or being ended).
static void release_slots(ut_thread_t *t, bool own_thread) {
    for (int i = 0; i < UT_SLOTS; i++) {
        void *s = t->slot[i];
        if (s) {
            t->slot[i] = NULL;
            const ut_client_t *c = clients[i];
            if (c && c->release) {
                c->release(s, own_thread);
            }
        }
    }
}

// The key's destructor: the thread is exiting.
static void thread_end(void *arg) {
    ut_thread_t *t = arg;
    // DEAD first: what the releases (and later destructors, and glibc's
    // own frees after them) call finds no per-thread state.
    t->state = UT_DEAD;
    release_slots(t, true);
    pthread_mutex_lock(&list_lock);
    unlink_locked(t);
    pthread_mutex_unlock(&list_lock);
}

// --- The exit guard (thread.h) ---
//
// A thread that armed a guard holds `begin` = the end key's index + 1 and
// `end` = GUARD_ARMED. begin's destructor enters the gate on the shared
// counter and marks end GUARD_HELD; end's destructor leaves. Only the
// engine's destructor, whose key lies between the two, runs inside.

#define GUARD_ARMED ((void *)1)
#define GUARD_HELD  ((void *)2)

static void shared_enter(ut_gate_t *g, ut_thread_t *t);

static void guard_begin(void *arg) {
    pthread_key_t end = (pthread_key_t)((uintptr_t)arg - 1);
    // NULL when end's destructor ran first (keys out of order): the hold
    // would never be released.
    if (pthread_getspecific(end) != GUARD_ARMED) {
        return;
    }
    ut_thread_t *t = &ut_tls;
    shared_enter(&gate, t);
    t->guard_holds++;
    if (pthread_setspecific(end, GUARD_HELD) != 0) {
        t->guard_holds--;
        atomic_fetch_sub_explicit(&gate.shared, 1, memory_order_release);
    }
}

static void guard_end(void *arg) {
    if (arg == GUARD_HELD) {
        ut_thread_t *t = &ut_tls;
        t->guard_holds--;
        atomic_fetch_sub_explicit(&gate.shared, 1, memory_order_release);
    }
}

UMF_EXPORT void umf_private_thread_exit_guard_open(ut_exit_guard_t *g) {
    g->ok = false;
    g->opened = pthread_key_create(&g->begin, guard_begin) == 0;
    if (!g->opened) {
        LOG_WARN("pthread_key_create failed: no exit guard (a fork during "
                 "a thread's exit may hang the child)");
    }
}

UMF_EXPORT void umf_private_thread_exit_guard_close(ut_exit_guard_t *g) {
    if (!g->opened) {
        return;
    }
    if (pthread_key_create(&g->end, guard_end) != 0) {
        LOG_WARN("pthread_key_create failed: no exit guard (a fork during "
                 "a thread's exit may hang the child)");
        (void)pthread_key_delete(g->begin);
        g->opened = false;
        return;
    }
    g->ok = true;
}

UMF_EXPORT void umf_private_thread_exit_guard_delete(ut_exit_guard_t *g) {
    if (g->ok) {
        (void)pthread_key_delete(g->end);
    }
    if (g->opened) {
        (void)pthread_key_delete(g->begin);
    }
    g->ok = g->opened = false;
}

UMF_EXPORT void umf_private_thread_exit_guard_arm(const ut_exit_guard_t *g) {
    if (!g->ok || ut_tls.state != UT_LIVE ||
        pthread_getspecific(g->end) != NULL) {
        return;
    }
    // end first: a begin without its end would hold nothing anyway.
    if (pthread_setspecific(g->end, GUARD_ARMED) == 0 &&
        pthread_setspecific(g->begin, (void *)((uintptr_t)g->end + 1)) != 0) {
        (void)pthread_setspecific(g->end, NULL);
    }
}

static void key_create(void) {
    int err = pthread_key_create(&key, thread_end);
    if (err) {
        LOG_PERR(err, "pthread_key_create failed: pools run without "
                      "per-thread caches");
    } else {
        key_ok = true;
    }
}

// NEW -> LIVE. False when the thread is DEAD or has no key.
//
// A thread whose first call comes after its TSD destructors (glibc freeing
// the TLS of other exited threads from a detached thread's last stage)
// must not become LIVE: its key would never be destroyed again, and its
// record, in TLS memory the next thread reuses, would stay on the list.
// glibc's last stage blocks every signal, SIGCANCEL included, which no
// running thread can do through glibc (os_thread_exiting): such a thread
// goes straight to DEAD. One system call per thread, here only.
static UMF_NOINLINE UMF_COLD bool make_live(ut_thread_t *t) {
    if (t->state != UT_NEW) {
        return t->state == UT_LIVE;
    }
    if (os_thread_exiting()) {
        t->state = UT_DEAD;
        return false;
    }
    pthread_once(&key_once, key_create);
    if (!key_ok || pthread_setspecific(key, t) != 0) {
        return false;
    }
    pthread_mutex_lock(&list_lock);
    t->prev = NULL;
    t->next = live;
    if (live) {
        live->prev = t;
    }
    live = t;
    t->state = UT_LIVE;
    pthread_mutex_unlock(&list_lock);
    return true;
}

UMF_EXPORT bool umf_private_thread_live(void) {
    ut_thread_t *t = &ut_tls;
    return likely(t->state == UT_LIVE) || make_live(t);
}

UMF_EXPORT bool umf_private_thread_set(int slot, void *state) {
    if (slot < 0 || slot >= UT_SLOTS) {
        return false;
    }
    ut_thread_t *t = &ut_tls;
    if (unlikely(t->state != UT_LIVE) && !make_live(t)) {
        return false;
    }
    t->slot[slot] = state;
    return true;
}

// --- The fork gate ---

// Enters on the shared counter, waiting while a fork is in progress
// (unless t is inside already, under an exit guard, or is the forker).
static void shared_enter(ut_gate_t *g, ut_thread_t *t) {
    for (;;) {
        atomic_fetch_add_explicit(&g->shared, 1, memory_order_seq_cst);
        if (t->guard_holds != 0 || atomic_load(&gate_closer) == t ||
            !atomic_load_explicit(&g->closed, memory_order_seq_cst)) {
            return;
        }
        atomic_fetch_sub_explicit(&g->shared, 1, memory_order_release);
        while (atomic_load_explicit(&g->closed, memory_order_acquire)) {
            os_yield();
        }
    }
}

UMF_EXPORT ut_thread_t *umf_private_thread_gate_enter_slow(ut_gate_t *g,
                                                           ut_thread_t *t) {
    if (t->state == UT_NEW) {
        (void)make_live(t);
    }
    if (t->guard_holds != 0) {
        // Between an exit guard's keys: inside already (on the shared
        // counter, which the forker waits for), so no wait.
        atomic_fetch_add_explicit(&g->shared, 1, memory_order_seq_cst);
        return NULL;
    }
    if (t->state == UT_LIVE) {
        for (;;) {
            unsigned n =
                atomic_load_explicit(&t->gate_depth, memory_order_relaxed);
            (void)atomic_exchange_explicit(&t->gate_depth, n + 1,
                                           memory_order_seq_cst);
            if (n != 0 || atomic_load(&gate_closer) == t ||
                !atomic_load_explicit(&g->closed, memory_order_seq_cst)) {
                return t;
            }
            atomic_store_explicit(&t->gate_depth, n, memory_order_release);
            while (atomic_load_explicit(&g->closed, memory_order_acquire)) {
                os_yield();
            }
        }
    }
    // DEAD (or no key): the shared counter.
    shared_enter(g, t);
    return NULL;
}

static void gate_prepare(void) {
    ut_thread_t *self = &ut_tls;
    pthread_mutex_lock(&list_lock);
    atomic_store(&gate_closer, self);
    atomic_store_explicit(&gate.closed, 1, memory_order_seq_cst);
    if (gate.membarrier) {
        int err = os_membarrier();
        if (err) {
            LOG_PWARN(-err, "membarrier failed: a pool call may run into "
                            "this fork");
        }
    }
    // Calls in progress finish: no lock they need is taken yet (only the
    // outer locks of lower ranks, which gated calls do not take).
    for (ut_thread_t *t = live; t; t = t->next) {
        if (t == self) {
            continue;
        }
        while (atomic_load_explicit(&t->gate_depth, memory_order_seq_cst)) {
            os_yield();
        }
    }
    // Calls counted on the shared counter (threads past their
    // destructors). A forking thread without a live record may hold one
    // of them itself: it cannot tell, so it does not wait.
    while (self->state == UT_LIVE &&
           atomic_load_explicit(&gate.shared, memory_order_seq_cst) != 0) {
        os_yield();
    }
    pthread_mutex_unlock(&list_lock);
}

static void gate_parent(void) {
    atomic_store(&gate_closer, NULL);
    atomic_store_explicit(&gate.closed, 0, memory_order_release);
}

static void gate_child(void) {
    atomic_store(&gate_closer, NULL);
    // membarrier registration belongs to the address space: the child
    // has a new one.
    if (gate.membarrier && os_membarrier_register() != 0) {
        gate.membarrier = false;
    }
    atomic_store_explicit(&gate.shared, 0, memory_order_relaxed);
    atomic_store_explicit(&gate.closed, 0, memory_order_release);
}

// The list itself, as a leaf at the end of the order.
static void list_prepare(void) {
    pthread_mutex_lock(&list_lock);
}

static void list_parent(void) {
    pthread_mutex_unlock(&list_lock);
}

// In the child, after every child handler: the other threads are gone.
// Their records are still mapped (glibc keeps their stacks in its cache);
// their states go back to their pools and the records leave the list.
static void list_child_after(void) {
    ut_thread_t *self = &ut_tls;
    ut_thread_t *next;
    for (ut_thread_t *t = live; t; t = next) {
        next = t->next;
        if (t == self) {
            continue;
        }
        release_slots(t, false);
        atomic_store_explicit(&t->gate_depth, 0, memory_order_relaxed);
        t->state = UT_DEAD;
        pthread_mutex_lock(&list_lock);
        unlink_locked(t);
        pthread_mutex_unlock(&list_lock);
    }
}

static const fork_handler_t gate_handler = {
    .name = "fork gate",
    .rank = FORK_RANK_GATE,
    .prepare = gate_prepare,
    .parent = gate_parent,
    .child = gate_child,
};

static const fork_handler_t list_handler = {
    .name = "thread list",
    .rank = FORK_RANK_THREADS,
    .prepare = list_prepare,
    .parent = list_parent,
    .child = list_parent,
    .child_after = list_child_after,
};

void thread_fork_register(void) {
#ifndef __SANITIZE_THREAD__
    // TSan does not model membarrier: the fast path then uses seq_cst
    // exchanges, which it does understand.
    gate.membarrier = os_membarrier_register() == 0;
#endif
    fork_register(&gate_handler);
    fork_register(&list_handler);
    // The key now, at libumf's set-up: glibc runs TSD destructors in key
    // order, so ours runs before those of libraries a pool loads later
    // (jemalloc's above all: a pool's thread state is released while
    // jemalloc's own is still there).
    pthread_once(&key_once, key_create);
}
