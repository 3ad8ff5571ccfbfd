/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf_private.h - what libumf.so exports beyond the API, for its sibling
 * libraries only (libumf_proxy.so, libjemalloc_pool.so): one header that
 * both the definitions and the callers include, so no side copies a
 * prototype. Nothing here is API; the names start with umf_private_ and are
 * listed under "Not API" in lib/libumf.map.
 *
 * The fork registry (fork.h) and the per-thread mechanism (thread.h) are
 * exported the same way; include those for their functions.
 */

#ifndef UMF_PRIVATE_H
#define UMF_PRIVATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <umf/memory_provider.h>

// log.c: applies a UMF_LOG-syntax string (the proxy's log= keys).
void umf_private_log_configure(const char *umf_log_string);

// umf_misuse_report (log.h) for libumf_proxy.so: one line and abort() when
// `stop`, else logged at error level; returns UMF_RESULT_ERROR_INVALID_ARGUMENT.
int umf_private_misuse_report(const char *engine, const char *name, int stop,
                              const void *ptr, const char *why);

// pool.c: the tracker epoch, which changes whenever an address may lose or
// change its owner (the proxy's owner cache checks it).
const _Atomic uint64_t *umf_private_tracker_epoch(void);

// provider_tracking.c: true when the provider always gives zero-filled
// memory (the OS provider), looking through the tracking wrapper.
bool umf_private_provider_zero_filled(umf_memory_provider_handle_t h);

// provider_os_memory.c: a fork child of this (shared) OS provider gets
// private copies of its mappings and a new backing file.
umf_result_t
umf_private_os_provider_private_after_fork(umf_memory_provider_handle_t h);

// provider_file_memory.c: a fork child of this (shared) file provider gets
// private copies of its mappings and takes new memory from anonymous
// mappings, never from the file again.
umf_result_t
umf_private_file_provider_private_after_fork(umf_memory_provider_handle_t h);

// provider_os_memory.c: removes the shm name of a shared OS provider now
// (the object lives on while mapped or open); IPC handles then carry the
// producer's pid and fd.
umf_result_t
umf_private_os_provider_unlink_name(umf_memory_provider_handle_t h);

// init.c: the proxy is loaded; the tracker must outlive every destructor.
// Called by libumf_proxy.so's constructor, before it serves any
// allocation from a pool.
void umf_private_proxy_present(void);

#endif /* UMF_PRIVATE_H */
