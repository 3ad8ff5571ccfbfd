/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * addr_map.h - a hash map from 64-bit keys (addresses, ids) to 64-bit
 * values, for lib's slow-path bookkeeping (provider offsets, IPC caches).
 * Open addressing; memory from the base allocator. Not thread-safe: the
 * owner serialises access.
 */

#ifndef UMF_ADDR_MAP_H
#define UMF_ADDR_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct addr_map_t {
    uint64_t *keys; // 0: empty, 1: deleted; stored keys are key + 2
    uint64_t *vals;
    size_t cap;  // power of two, or 0 before the first insert
    size_t used; // live + deleted slots
    size_t live;
} addr_map_t;

#define ADDR_MAP_INIT                                                          \
    { 0 }

// Inserts or replaces. false when out of memory (map unchanged).
// pre: key <= UINT64_MAX - 2.
bool addr_map_put(addr_map_t *m, uint64_t key, uint64_t val);
bool addr_map_get(const addr_map_t *m, uint64_t key, uint64_t *val);
// Removes key; *val receives its value if val is not NULL.
bool addr_map_del(addr_map_t *m, uint64_t key, uint64_t *val);
void addr_map_fini(addr_map_t *m);

#endif /* UMF_ADDR_MAP_H */
