/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * base_alloc.h - the allocator for lib/'s own metadata (DESIGN.md
 * invariant 1: lib/ never calls malloc & co.). mmap-backed, thread-safe,
 * 16-byte aligned, never returns NULL for lack of anything but memory.
 */

#ifndef UMF_BASE_ALLOC_H
#define UMF_BASE_ALLOC_H

#include <stddef.h>

void *ba_alloc(size_t size);
void *ba_calloc(size_t num, size_t size);
// Grows or shrinks; contents up to the smaller size are kept.
void *ba_realloc(void *ptr, size_t size);
void ba_free(void *ptr);
size_t ba_usable_size(const void *ptr);
char *ba_strdup(const char *s);
// Zeroed block aligned to a 64-byte cache line; free it with
// ba_free_cacheline.
void *ba_calloc_cacheline(size_t size);
void ba_free_cacheline(void *ptr);
char *ba_strndup(const char *s, size_t n);

// pthread_atfork hooks (fork.c): take every lock before fork, release after.
void ba_fork_register(void);

#endif /* UMF_BASE_ALLOC_H */
