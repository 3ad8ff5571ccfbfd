/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * init.h - library life cycle: umfInit/umfTearDown, lazy set-up, and the
 * process-wide tracker every tracked pool registers its chunks in.
 */

#ifndef UMF_INIT_H
#define UMF_INIT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "tracker.h"

// The tracker lookups use; NULL before set-up and after tear-down.
extern _Atomic(tracker_t *) umf_tracker_pub;

static inline tracker_t *umf_tracker(void) {
    // Pairs with the release store in init.c that publishes the tracker.
    return atomic_load_explicit(&umf_tracker_pub, memory_order_acquire);
}

// Sets the library up if nobody has yet (works without umfInit).
// 0 on success; -1 when set-up failed or the library was torn down.
int umf_init_ensure(void);

// For a new tracked-or-not pool: the tracker it must use, holding it alive
// until umf_pool_detach(). NULL when the library is torn down.
tracker_t *umf_pool_attach(void);
void umf_pool_detach(void);

// LD_PRELOAD names libumf_proxy.so: keep the tracker at tear-down.
bool umf_under_proxy(void);

// fork.c
void init_fork_prepare(void);
void init_fork_parent(void);
void init_fork_child(void);
tracker_t *init_tracker_obj(void);

#endif /* UMF_INIT_H */
