/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fork.c - the fork registry (see fork.h): makes fork() safe (DESIGN.md
 * invariant 7). Before fork every registered lock is taken in rank order,
 * so no other thread holds one at the instant of the fork; afterwards the
 * parent releases them, and the child, which has only the forking thread,
 * releases them too and then repairs its state (child_after).
 *
 * The table is static (no allocation) and guarded by reg_lock, which the
 * runner holds from prepare to parent/child, so no registration changes it
 * during a fork. So a component registers only while it holds no lock of
 * the registry (its first use, or libumf's set-up before init_lock):
 * otherwise a fork in between would wait for that lock under reg_lock.
 *
 * Several pthread_atfork registrations of the runner may exist (see
 * umf_private_fork_install_again): `depth` counts the prepare calls of the
 * fork in progress in this thread; the first runs the prepare handlers
 * and the last parent/child call runs the others. glibc runs one fork's
 * handlers in the forking thread, but two threads that fork at once run
 * theirs at the same time (it drops its own lock around each handler):
 * the second one waits for reg_lock in its prepare, so the forks take
 * turns. (A depth shared by all threads let the second fork skip every
 * prepare while the first held the locks: its child started with them
 * held and hung at its first allocation.)
 */

#include "fork.h"

#include <pthread.h>

#include "common.h"
#include "log.h"
#include "os_linux.h"

#define FORK_MAX_HANDLERS 32

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const fork_handler_t *table[FORK_MAX_HANDLERS]; // sorted by rank
static int nhandlers;
static _Thread_local unsigned depth; // runner calls of this thread's fork

UMF_EXPORT int umf_private_fork_register(const fork_handler_t *h) {
    int ret = 0;
    pthread_mutex_lock(&reg_lock);
    int i;
    for (i = 0; i < nhandlers; i++) {
        if (table[i] == h) {
            goto out;
        }
    }
    if (nhandlers == FORK_MAX_HANDLERS) {
        LOG_ERR("fork registry full: %s has no fork handlers", h->name);
        ret = -1;
        goto out;
    }
    // Insertion keeps equal ranks in registration order.
    for (i = nhandlers; i > 0 && table[i - 1]->rank > h->rank; i--) {
        table[i] = table[i - 1];
    }
    table[i] = h;
    nhandlers++;
out:
    pthread_mutex_unlock(&reg_lock);
    return ret;
}

static void run_prepare(void) {
    if (depth++ > 0) {
        return;
    }
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < nhandlers; i++) {
        if (table[i]->prepare) {
            table[i]->prepare();
        }
    }
}

static void run_parent(void) {
    if (--depth > 0) {
        return;
    }
    for (int i = nhandlers - 1; i >= 0; i--) {
        if (table[i]->parent) {
            table[i]->parent();
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

static void run_child(void) {
    if (--depth > 0) {
        return;
    }
    for (int i = nhandlers - 1; i >= 0; i--) {
        if (table[i]->child) {
            table[i]->child();
        }
    }
    // The forking thread locked it: unlocking in the child is defined for
    // the thread that owns it (never re-initialise a locked mutex).
    pthread_mutex_unlock(&reg_lock);
    for (int i = 0; i < nhandlers; i++) {
        if (table[i]->child_after) {
            table[i]->child_after();
        }
    }
}

#ifdef __GLIBC__
// pthread_atfork is a stub that glibc links into each library from
// libc_nonshared.a; it ends up after all of libumf's code, in a 64 KiB
// fault-around window that start-up would otherwise not touch (see
// Makefile.am on the object order). The stub's whole body is this call of
// the exported __register_atfork with the library's __dso_handle (which
// lets glibc drop the handlers if the library is unloaded).
extern int __register_atfork(void (*prepare)(void), void (*parent)(void),
                             void (*child)(void), void *dso_handle);
extern void *__dso_handle __attribute__((weak, visibility("hidden")));

static int atfork(void (*prepare)(void), void (*parent)(void),
                  void (*child)(void)) {
    return __register_atfork(prepare, parent, child,
                             &__dso_handle ? __dso_handle : NULL);
}
#else
#define atfork pthread_atfork
#endif

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_err;

static void install(void) {
    install_err = atfork(run_prepare, run_parent, run_child);
}

int fork_hooks_install(void) {
    pthread_once(&install_once, install);
    return install_err;
}

UMF_EXPORT void umf_private_fork_install_again(void) {
    int err = atfork(run_prepare, run_parent, run_child);
    if (err) {
        LOG_PERR(err, "pthread_atfork failed; fork() while another thread "
                      "allocates may deadlock");
    }
}

// --- The child's copy ---

void fork_copy_gate_open(fork_copy_gate_t *g) {
    if (g->fds[0] >= 0) {
        return;
    }
    if (os_pipe(g->fds) != 0) {
        g->fds[0] = g->fds[1] = -1;
        LOG_WARN("fork: no pipe to wait for the child's copy of the heap");
    }
}

void fork_copy_gate_wait(fork_copy_gate_t *g) {
    if (g->fds[0] < 0) {
        return;
    }
    (void)os_close(g->fds[1]);
    os_read_until_eof(g->fds[0]); // the child has copied and closed its end
    (void)os_close(g->fds[0]);
    g->fds[0] = g->fds[1] = -1;
}

void fork_copy_gate_close(fork_copy_gate_t *g) {
    if (g->fds[0] < 0) {
        return;
    }
    (void)os_close(g->fds[0]);
    (void)os_close(g->fds[1]);
    g->fds[0] = g->fds[1] = -1;
}
