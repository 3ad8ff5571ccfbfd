/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * blockmap.h - the live-block map: which addresses are the start of a
 * block that a pool has handed out and not yet taken back.
 *
 * The jemalloc and scalable pools use it for their misuse checks (their
 * engines keep no such record a caller can ask): malloc marks the block's
 * start, free and realloc unmark it and refuse a pointer that was not
 * marked (a double free, a pointer inside a block, a pointer the pool never
 * handed out), malloc_usable_size answers 0 for one.
 *
 * One bit per 8 bytes of address space (the smallest block either engine
 * makes is 8 bytes, 8-aligned), in leaves of 1 MiB that each cover 64 MiB,
 * mapped (MAP_NORESERVE) when a block is first marked in their range and
 * kept for the life of the process: the map costs 1/64 of the memory the
 * pools actually touch. The leaf table is 16 MiB of reserved address space
 * for the 47-bit user address space; blocks above it are not covered (every
 * question about them answers "live"), nor is a range whose leaf could not
 * be mapped (logged once).
 *
 * Thread safety: all functions; marks and unmarks are atomic, so two
 * threads freeing one block at once are told apart (one of them is
 * refused). Each library that uses the map (libumf.so and the jemalloc
 * pool's library) has its own copy; a pool uses only its library's.
 */

#ifndef UMF_BLOCKMAP_H
#define UMF_BLOCKMAP_H 1

#include <stdbool.h>
#include <stddef.h>

// Marks p as the start of a live block.
void bm_mark(const void *p);

// Unmarks p. true: p was marked (or is not covered); false: it was not,
// and nothing changed.
bool bm_unmark(const void *p);

// Whether p is marked (or not covered).
bool bm_live(const void *p);

// Unmarks everything in [addr, addr + size): memory a pool gave back to its
// provider, which may have held blocks the program never freed.
void bm_forget(const void *addr, size_t size);

#endif /* UMF_BLOCKMAP_H */
