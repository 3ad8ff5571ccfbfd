/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * addr_map.c - open-addressing hash map, linear probing, tombstones,
 * doubling at 70% occupancy (live + deleted), so probes stay short.
 */

#include "addr_map.h"

#include "base_alloc.h"

#define SLOT_EMPTY   0
#define SLOT_DELETED 1

static inline size_t hash(uint64_t k) {
    // Fibonacci hashing mixes the page-aligned low bits of addresses.
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static bool grow(addr_map_t *m) {
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->live * 2 < m->cap) {
        ncap = m->cap; // mostly tombstones: rehash in place-size
    }
    uint64_t *nk = ba_calloc(ncap, sizeof(uint64_t));
    uint64_t *nv = ba_alloc(ncap * sizeof(uint64_t));
    if (!nk || !nv) {
        ba_free(nk);
        ba_free(nv);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] > SLOT_DELETED) {
            size_t j = hash(m->keys[i]) & (ncap - 1);
            while (nk[j] != SLOT_EMPTY) {
                j = (j + 1) & (ncap - 1);
            }
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
    }
    ba_free(m->keys);
    ba_free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    m->used = m->live;
    return true;
}

// Slot holding key, or SIZE_MAX.
static size_t find(const addr_map_t *m, uint64_t stored) {
    if (m->cap == 0) {
        return SIZE_MAX;
    }
    size_t j = hash(stored) & (m->cap - 1);
    for (size_t n = 0; n < m->cap; n++, j = (j + 1) & (m->cap - 1)) {
        if (m->keys[j] == stored) {
            return j;
        }
        if (m->keys[j] == SLOT_EMPTY) {
            return SIZE_MAX;
        }
    }
    return SIZE_MAX;
}

bool addr_map_put(addr_map_t *m, uint64_t key, uint64_t val) {
    uint64_t stored = key + 2;
    size_t j = find(m, stored);
    if (j != SIZE_MAX) {
        m->vals[j] = val;
        return true;
    }
    if ((m->used + 1) * 10 > m->cap * 7 && !grow(m)) {
        return false;
    }
    j = hash(stored) & (m->cap - 1);
    while (m->keys[j] > SLOT_DELETED) {
        j = (j + 1) & (m->cap - 1);
    }
    m->used += m->keys[j] == SLOT_EMPTY;
    m->keys[j] = stored;
    m->vals[j] = val;
    m->live++;
    return true;
}

bool addr_map_get(const addr_map_t *m, uint64_t key, uint64_t *val) {
    size_t j = find(m, key + 2);
    if (j == SIZE_MAX) {
        return false;
    }
    if (val) {
        *val = m->vals[j];
    }
    return true;
}

bool addr_map_del(addr_map_t *m, uint64_t key, uint64_t *val) {
    size_t j = find(m, key + 2);
    if (j == SIZE_MAX) {
        return false;
    }
    if (val) {
        *val = m->vals[j];
    }
    m->keys[j] = SLOT_DELETED;
    m->live--;
    return true;
}

void addr_map_fini(addr_map_t *m) {
    ba_free(m->keys);
    ba_free(m->vals);
    *m = (addr_map_t)ADDR_MAP_INIT;
}
