/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * tracker.h - which pool owns an address. Maps registered ranges
 * [base, base+size) to an owner (a pool handle) and answers for any address
 * inside a range. Lookups take no lock and write nothing: a bounded number
 * of dependent loads (DESIGN.md invariant 2), each slot read as a seqlock.
 * They are not lock-free in the strict sense: a lookup that meets a slot
 * while a writer is changing it spins until the writer is done (a writer
 * preempted there delays it), and a miss that overlapped a change is
 * retried. Writers serialise on one mutex.
 */

#ifndef UMF_TRACKER_H
#define UMF_TRACKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <umf/base.h>

typedef struct tracker_t tracker_t;

typedef struct tracker_info_t {
    void *base;  // start of the registered range containing the address
    size_t size; // its size
    void *owner; // what it was registered with (a pool handle)
    // tracker_lookup only: ranges of other owners are nested inside this
    // one, so other addresses of [base, base+size) may answer otherwise.
    bool has_nested;
} tracker_info_t;

// Highest address + 1 the tracker can hold (48-bit user address space).
#define TRACKER_ADDR_LIMIT ((uintptr_t)1 << 48)

tracker_t *tracker_create(void);
// Frees the tracker and all its nodes; no lookup may run concurrently.
void tracker_destroy(tracker_t *t);

// Registers [base, base+size) for owner. size 0 registers nothing (such a
// range is never found). A range wholly inside one range of another owner
// nests in it: lookups inside it find it, the rest of the outer range
// stays the outer owner's (up to 3 levels deep, else NOT_SUPPORTED). Any
// other overlap with a registered range -> INVALID_ARGUMENT; a range beyond TRACKER_ADDR_LIMIT -> NOT_SUPPORTED;
// no memory for nodes -> OUT_OF_HOST_MEMORY. Nothing changes on failure.
umf_result_t tracker_register(tracker_t *t, void *owner, const void *base,
                              size_t size);
// Removes the range starting at base (the innermost, where ranges nest),
// with whatever is still nested inside it; *info receives what it was.
// Not registered -> INVALID_ARGUMENT.
umf_result_t tracker_unregister(tracker_t *t, const void *base,
                                tracker_info_t *info);
// Removes [base, base+size) from owner's ranges: ranges inside it are
// unregistered, a range reaching over its start or end is cut there first.
// The range must be covered by ranges of owner without gaps; otherwise
// nothing changes and INVALID_ARGUMENT is returned. Lookups of addresses
// outside the range see no change at any moment.
umf_result_t tracker_remove_range(tracker_t *t, void *owner, const void *base,
                                  size_t size);
// Range containing ptr. Takes no lock (see above); false when no range
// contains it. Where ranges nest (one registered inside another owner's),
// the innermost.
bool tracker_lookup(const tracker_t *t, const void *ptr, tracker_info_t *info);
// The range of `owner` containing ptr, nested or not. Takes no lock.
bool tracker_lookup_owner(const tracker_t *t, const void *ptr, void *owner,
                          tracker_info_t *info);
// Removes every range of owner; returns how many.
size_t tracker_drop_owner(tracker_t *t, void *owner);
// A counter that changes whenever an address may have lost its owner or
// changed owner (removals, nested registrations); never for a new range in
// free address space. A reader may cache a lookup's answer while it reads
// the same value (acquire). Outermost tracker only.
const _Atomic uint64_t *tracker_epoch(const tracker_t *t);
// Number of registered ranges.
size_t tracker_count(const tracker_t *t);
// Whether any range lies nested inside another owner's range (a pool whose
// provider took its memory from another pool). Takes no lock. A range is
// counted before its registration returns, so a pointer into it that a
// thread obtained afterwards (through the pool that registered it) finds
// this true.
bool tracker_nested_any(const tracker_t *t);

// pthread_atfork hooks (fork.c).
void tracker_fork_prepare(tracker_t *t);
void tracker_fork_parent(tracker_t *t);
void tracker_fork_child(tracker_t *t);

#endif /* UMF_TRACKER_H */
