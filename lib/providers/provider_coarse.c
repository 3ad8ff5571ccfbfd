/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_coarse.c - the coarse provider (contract section 16).
 *
 * It hands out blocks carved from "upstream blocks": the user's fixed
 * buffer, or chunks taken from an upstream provider (exactly the size asked
 * for when no free block fits). Every upstream block is tiled by blocks,
 * used or free; a block is split when a request takes part of it, and a
 * freed block coalesces with free neighbours of the same upstream block.
 * Two upstream blocks that are adjacent become one when the upstream's
 * allocation_merge agrees, after which their blocks coalesce too.
 *
 * Data structures, all metadata from the base allocator:
 * - every block is on one doubly-linked list in address order (neighbours
 *   for coalescing); a block that starts an upstream block is flagged, so
 *   coalescing never crosses an upstream boundary that was not merged;
 * - an address map (addr_map.h) from block start to block, for free, split
 *   and merge;
 * - free blocks sit in an AVL tree ordered by (size, address): the search
 *   for the smallest fitting block, the next block of the same size
 *   (CHECK_ALL_SIZE) and removal are O(log n) in the number of free blocks;
 * - upstream blocks are a sorted array (binary search on insertion; they
 *   are few, and only change when memory comes from the upstream).
 *
 * Locks: one mutex per provider around everything, held across calls to
 * the upstream provider. fork.c takes them all before fork (rank
 * FORK_RANK_COARSE: below the pools, which call the provider with their
 * own locks held, above the providers a coarse provider calls).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <umf/providers/provider_coarse.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "log.h"
#include "os_linux.h"
#include "provider.h"

#undef LOG_PREFIX
#define LOG_PREFIX "coarse: "

// --- Blocks and the free tree ---

typedef struct cb_block_t {
    uintptr_t addr;
    size_t size;
    struct cb_block_t *prev, *next;  // address order, all blocks
    struct cb_block_t *left, *right; // free tree (free blocks only)
    int height;                      // free tree; 0 when not in it
    bool used;
    bool ub_start; // first block of an upstream block
} cb_block_t;

typedef struct cb_upstream_t {
    uintptr_t addr;
    size_t size;
} cb_upstream_t;

typedef struct coarse_t {
    pthread_mutex_t lock;
    umf_memory_provider_handle_t upstream; // NULL: fixed buffer
    bool destroy_upstream;
    bool upstream_has_free;
    coarse_memory_provider_strategy_t strategy;
    cb_block_t *head; // lowest block
    cb_block_t *tail; // highest block
    cb_block_t *free_root;
    addr_map_t by_addr; // block start -> cb_block_t *
    cb_upstream_t *ubs; // sorted by addr
    size_t nubs, ubs_cap;
    // stats
    size_t alloc_size, used_size, nblocks, nfree;
    char name[64];
    struct coarse_t *reg_next; // registry of live providers (fork)
} coarse_t;

// (size, addr) order of the free tree.
static int cb_cmp(const cb_block_t *a, size_t size, uintptr_t addr) {
    if (a->size != size) {
        return a->size < size ? -1 : 1;
    }
    if (a->addr != addr) {
        return a->addr < addr ? -1 : 1;
    }
    return 0;
}

static int cb_h(const cb_block_t *b) {
    return b ? b->height : 0;
}

static void cb_fix(cb_block_t *b) {
    int l = cb_h(b->left), r = cb_h(b->right);
    b->height = (l > r ? l : r) + 1;
}

static cb_block_t *cb_rot_right(cb_block_t *b) {
    cb_block_t *l = b->left;
    b->left = l->right;
    l->right = b;
    cb_fix(b);
    cb_fix(l);
    return l;
}

static cb_block_t *cb_rot_left(cb_block_t *b) {
    cb_block_t *r = b->right;
    b->right = r->left;
    r->left = b;
    cb_fix(b);
    cb_fix(r);
    return r;
}

static cb_block_t *cb_balance(cb_block_t *b) {
    cb_fix(b);
    int bal = cb_h(b->left) - cb_h(b->right);
    if (bal > 1) {
        if (cb_h(b->left->left) < cb_h(b->left->right)) {
            b->left = cb_rot_left(b->left);
        }
        return cb_rot_right(b);
    }
    if (bal < -1) {
        if (cb_h(b->right->right) < cb_h(b->right->left)) {
            b->right = cb_rot_right(b->right);
        }
        return cb_rot_left(b);
    }
    return b;
}

static cb_block_t *cb_insert(cb_block_t *root, cb_block_t *n) {
    if (!root) {
        n->left = n->right = NULL;
        n->height = 1;
        return n;
    }
    if (cb_cmp(n, root->size, root->addr) < 0) {
        root->left = cb_insert(root->left, n);
    } else {
        root->right = cb_insert(root->right, n);
    }
    return cb_balance(root);
}

static cb_block_t *cb_remove_min(cb_block_t *root, cb_block_t **min) {
    if (!root->left) {
        *min = root;
        return root->right;
    }
    root->left = cb_remove_min(root->left, min);
    return cb_balance(root);
}

// pre: n is in the tree.
static cb_block_t *cb_remove(cb_block_t *root, cb_block_t *n) {
    int c = cb_cmp(n, root->size, root->addr);
    if (c < 0) {
        root->left = cb_remove(root->left, n);
    } else if (c > 0) {
        root->right = cb_remove(root->right, n);
    } else {
        cb_block_t *l = root->left, *r = root->right;
        root->height = 0;
        if (!r) {
            return l;
        }
        cb_block_t *min;
        r = cb_remove_min(r, &min);
        min->left = l;
        min->right = r;
        return cb_balance(min);
    }
    return cb_balance(root);
}

// The first free block in (size, addr) order after (size, addr), or NULL.
static cb_block_t *cb_first_after(cb_block_t *root, size_t size,
                                  uintptr_t addr) {
    cb_block_t *best = NULL;
    while (root) {
        if (cb_cmp(root, size, addr) > 0) {
            best = root;
            root = root->left;
        } else {
            root = root->right;
        }
    }
    return best;
}

// The smallest free block of at least size (lowest address among equals).
static cb_block_t *cb_lower_bound(cb_block_t *root, size_t size) {
    cb_block_t *best = NULL;
    while (root) {
        if (root->size >= size) {
            best = root;
            root = root->left;
        } else {
            root = root->right;
        }
    }
    return best;
}

static void free_add(coarse_t *c, cb_block_t *b) {
    b->used = false;
    c->free_root = cb_insert(c->free_root, b);
    c->nfree++;
}

static void free_del(coarse_t *c, cb_block_t *b) {
    c->free_root = cb_remove(c->free_root, b);
    b->height = 0;
    c->nfree--;
}

// --- Block list ---

static cb_block_t *block_new(coarse_t *c, uintptr_t addr, size_t size) {
    cb_block_t *b = ba_calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->addr = addr;
    b->size = size;
    if (!addr_map_put(&c->by_addr, addr, (uint64_t)(uintptr_t)b)) {
        ba_free(b);
        return NULL;
    }
    c->nblocks++;
    return b;
}

// Inserts b after pos (pos NULL: at the head).
static void list_insert_after(coarse_t *c, cb_block_t *pos, cb_block_t *b) {
    b->prev = pos;
    b->next = pos ? pos->next : c->head;
    if (b->next) {
        b->next->prev = b;
    } else {
        c->tail = b;
    }
    if (pos) {
        pos->next = b;
    } else {
        c->head = b;
    }
}

// Unlinks and frees b (its bytes now belong to a neighbour).
static void block_drop(coarse_t *c, cb_block_t *b) {
    if (b->prev) {
        b->prev->next = b->next;
    } else {
        c->head = b->next;
    }
    if (b->next) {
        b->next->prev = b->prev;
    } else {
        c->tail = b->prev;
    }
    addr_map_del(&c->by_addr, b->addr, NULL);
    c->nblocks--;
    ba_free(b);
}

static cb_block_t *block_at(coarse_t *c, const void *ptr) {
    uint64_t v;
    if (!addr_map_get(&c->by_addr, (uint64_t)(uintptr_t)ptr, &v)) {
        return NULL;
    }
    return (cb_block_t *)(uintptr_t)v;
}

// a and b = a->next are contiguous in one upstream block.
static bool same_upstream(const cb_block_t *a, const cb_block_t *b) {
    return b && a->addr + a->size == b->addr && !b->ub_start;
}

// Splits b at off: b keeps [addr, addr+off), a new block (same state, not
// in the free tree) gets the rest. NULL when out of memory.
static cb_block_t *block_split(coarse_t *c, cb_block_t *b, size_t off) {
    cb_block_t *n = block_new(c, b->addr + off, b->size - off);
    if (!n) {
        return NULL;
    }
    n->used = b->used;
    b->size = off;
    list_insert_after(c, b, n);
    return n;
}

// --- Upstream blocks ---

// Index of the first upstream block with addr > a.
static size_t ub_upper(const coarse_t *c, uintptr_t a) {
    size_t lo = 0, hi = c->nubs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->ubs[mid].addr > a) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

// The last block of upstream block i.
static cb_block_t *ub_last_block(coarse_t *c, size_t i) {
    if (i + 1 < c->nubs) {
        return block_at(c, (void *)c->ubs[i + 1].addr)->prev;
    }
    return c->tail;
}

// Adds [addr, addr+size) as a new upstream block made of one block (used
// or free as `used` says), merging it with adjacent upstream blocks when
// the upstream allows. *out receives the block.
static umf_result_t ub_add(coarse_t *c, uintptr_t addr, size_t size, bool used,
                           cb_block_t **out) {
    if (c->nubs == c->ubs_cap) {
        size_t cap = c->ubs_cap ? 2 * c->ubs_cap : 16;
        cb_upstream_t *n = ba_realloc(c->ubs, cap * sizeof(*n));
        if (!n) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
        c->ubs = n;
        c->ubs_cap = cap;
    }
    cb_block_t *b = block_new(c, addr, size);
    if (!b) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    b->ub_start = true;
    size_t i = ub_upper(c, addr); // insert at i
    cb_block_t *pos = NULL;
    if (i > 0) {
        pos = ub_last_block(c, i - 1);
    }
    list_insert_after(c, pos, b);
    memmove(&c->ubs[i + 1], &c->ubs[i], (c->nubs - i) * sizeof(c->ubs[0]));
    c->ubs[i] = (cb_upstream_t){addr, size};
    c->nubs++;
    c->alloc_size += size;
    if (used) {
        b->used = true;
        c->used_size += size;
    } else {
        free_add(c, b);
    }
    *out = b;

    if (!c->upstream) {
        return UMF_RESULT_SUCCESS;
    }
    // Merge with the upstream block after, then with the one before.
    if (i + 1 < c->nubs && addr + size == c->ubs[i + 1].addr &&
        umfMemoryProviderAllocationMerge(
            c->upstream, (void *)addr, (void *)c->ubs[i + 1].addr,
            size + c->ubs[i + 1].size) == UMF_RESULT_SUCCESS) {
        block_at(c, (void *)c->ubs[i + 1].addr)->ub_start = false;
        c->ubs[i].size += c->ubs[i + 1].size;
        memmove(&c->ubs[i + 1], &c->ubs[i + 2],
                (c->nubs - i - 2) * sizeof(c->ubs[0]));
        c->nubs--;
    }
    if (i > 0 && c->ubs[i - 1].addr + c->ubs[i - 1].size == addr &&
        umfMemoryProviderAllocationMerge(
            c->upstream, (void *)c->ubs[i - 1].addr, (void *)addr,
            c->ubs[i - 1].size + c->ubs[i].size) == UMF_RESULT_SUCCESS) {
        b->ub_start = false;
        c->ubs[i - 1].size += c->ubs[i].size;
        memmove(&c->ubs[i], &c->ubs[i + 1],
                (c->nubs - i - 1) * sizeof(c->ubs[0]));
        c->nubs--;
    }
    return UMF_RESULT_SUCCESS;
}

// --- Registry (fork) ---

// Every live coarse provider, for fork.c: its lock is taken before fork
// (rank FORK_RANK_COARSE, below the pools, above the providers it calls).
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static coarse_t *registry;

static void coarse_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (coarse_t *c = registry; c; c = c->reg_next) {
        pthread_mutex_lock(&c->lock);
    }
}

static void coarse_fork_release(void) {
    for (coarse_t *c = registry; c; c = c->reg_next) {
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

static const fork_handler_t coarse_fork_handler = {
    .name = "coarse providers",
    .rank = FORK_RANK_COARSE,
    .prepare = coarse_fork_prepare,
    .parent = coarse_fork_release,
    .child = coarse_fork_release, // the child's thread holds them
};

static void registry_add(coarse_t *c) {
    (void)fork_register(&coarse_fork_handler);
    pthread_mutex_lock(&registry_lock);
    c->reg_next = registry;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(coarse_t *c) {
    pthread_mutex_lock(&registry_lock);
    for (coarse_t **pp = &registry; *pp; pp = &(*pp)->reg_next) {
        if (*pp == c) {
            *pp = c->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

// --- Ops ---

static umf_result_t coarse_alloc(void *priv, size_t size, size_t alignment,
                                 void **ptr);
static umf_result_t coarse_free(void *priv, void *ptr, size_t size);
static void coarse_finalize(void *priv);

static umf_result_t
coarse_check_params(const coarse_memory_provider_params_t *p) {
    if (!p) {
        LOG_ERR("params is NULL (pass a coarse_memory_provider_params_t *)");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if ((p->upstream_memory_provider == NULL) == (p->init_buffer == NULL)) {
        LOG_ERR("exactly one of upstream_memory_provider and init_buffer "
                "must be set");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->init_buffer_size == 0 &&
        (p->init_buffer || p->immediate_init_from_upstream)) {
        LOG_ERR("init_buffer_size is 0 but init_buffer or "
                "immediate_init_from_upstream is set");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->init_buffer_size > 0 && !p->init_buffer &&
        !p->immediate_init_from_upstream) {
        LOG_ERR("init_buffer_size is %zu but neither init_buffer nor "
                "immediate_init_from_upstream is set",
                p->init_buffer_size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (p->destroy_upstream_memory_provider && !p->upstream_memory_provider) {
        LOG_ERR("destroy_upstream_memory_provider without an upstream");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if ((unsigned)p->allocation_strategy >=
        (unsigned)UMF_COARSE_MEMORY_STRATEGY_MAX) {
        LOG_ERR("allocation_strategy %d is not one of 0..%d",
                (int)p->allocation_strategy,
                (int)UMF_COARSE_MEMORY_STRATEGY_MAX - 1);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    return UMF_RESULT_SUCCESS;
}

static umf_result_t coarse_initialize(void *params, void **priv) {
    const coarse_memory_provider_params_t *p = params;
    umf_result_t r = coarse_check_params(p);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    coarse_t *c = ba_calloc(1, sizeof(*c));
    if (!c) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->upstream = p->upstream_memory_provider;
    c->destroy_upstream = p->destroy_upstream_memory_provider;
    c->strategy = p->allocation_strategy;
    if (c->upstream) {
        snprintf(c->name, sizeof(c->name), "coarse (%s)",
                 umfMemoryProviderGetName(c->upstream));
        c->upstream_has_free = c->upstream->ops.ext.free != NULL;
    } else {
        snprintf(c->name, sizeof(c->name), "coarse");
    }

    cb_block_t *b;
    if (p->init_buffer) {
        r = ub_add(c, (uintptr_t)p->init_buffer, p->init_buffer_size, false,
                   &b);
    } else if (p->immediate_init_from_upstream) {
        void *mem = NULL;
        r = coarse_alloc(c, p->init_buffer_size, 0, &mem);
        if (r == UMF_RESULT_SUCCESS) {
            r = coarse_free(c, mem, p->init_buffer_size);
        }
    }
    if (r != UMF_RESULT_SUCCESS) {
        c->destroy_upstream = false; // the caller keeps it on failure
        coarse_finalize(c);
        return r;
    }
    registry_add(c);
    *priv = c;
    return UMF_RESULT_SUCCESS;
}

static void coarse_finalize(void *priv) {
    coarse_t *c = priv;
    registry_remove(c); // not there when initialize failed: a no-op
    for (cb_block_t *b = c->head, *n; b; b = n) {
        n = b->next;
        ba_free(b);
    }
    addr_map_fini(&c->by_addr);
    if (c->upstream && c->upstream_has_free) {
        for (size_t i = 0; i < c->nubs; i++) {
            umf_result_t r = umfMemoryProviderFree(
                c->upstream, (void *)c->ubs[i].addr, c->ubs[i].size);
            if (r != UMF_RESULT_SUCCESS) {
                LOG_WARN("upstream free of %p (%zu bytes) failed: %d",
                         (void *)c->ubs[i].addr, c->ubs[i].size, (int)r);
            }
        }
    }
    ba_free(c->ubs);
    if (c->upstream && c->destroy_upstream) {
        umfMemoryProviderDestroy(c->upstream);
    }
    pthread_mutex_destroy(&c->lock);
    ba_free(c);
}

// Removes and returns a free block for (size, alignment) by the provider's
// strategy, or NULL. pre: lock held.
static cb_block_t *find_free_locked(coarse_t *c, size_t size,
                                    size_t alignment) {
    size_t a = alignment > 1 ? alignment : 0;
    cb_block_t *b = NULL;
    if (a && c->strategy != UMF_COARSE_MEMORY_STRATEGY_FASTEST) {
        b = cb_lower_bound(c->free_root, size);
        if (c->strategy == UMF_COARSE_MEMORY_STRATEGY_FASTEST_BUT_ONE) {
            if (b && b->addr % a != 0) {
                b = NULL;
            }
        } else { // CHECK_ALL_SIZE: every block of the first fitting size
            size_t first = b ? b->size : 0;
            while (b && b->size == first && b->addr % a != 0) {
                b = cb_first_after(c->free_root, b->size, b->addr);
            }
            if (b && b->size != first) {
                b = NULL;
            }
        }
    }
    if (!b) {
        if (size > SIZE_MAX - a) {
            return NULL;
        }
        b = cb_lower_bound(c->free_root, size + a);
    }
    if (b) {
        free_del(c, b);
    }
    return b;
}

static umf_result_t coarse_alloc(void *priv, size_t size, size_t alignment,
                                 void **ptr) {
    coarse_t *c = priv;
    if (!ptr) {
        LOG_ERR("ptr is NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (size == 0) {
        LOG_ERR("size is 0");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (alignment > 1 && !is_pow2(alignment)) {
        LOG_ERR("alignment %zu is not a power of two", alignment);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&c->lock);
    cb_block_t *b = find_free_locked(c, size, alignment);
    if (b) {
        // Cut the aligned part out: the padding before it stays free, the
        // remainder after it too.
        size_t pad = alignment > 1 ? align_up(b->addr, alignment) - b->addr : 0;
        if (pad) {
            cb_block_t *n = block_split(c, b, pad);
            if (!n) {
                free_add(c, b);
                goto err_nomem;
            }
            free_add(c, b);
            b = n;
        }
        if (b->size > size) {
            cb_block_t *rest = block_split(c, b, size);
            if (!rest) {
                free_add(c, b); // the padding stays split: still valid
                goto err_nomem;
            }
            free_add(c, rest);
        }
        b->used = true;
        c->used_size += size;
        *ptr = (void *)b->addr;
        pthread_mutex_unlock(&c->lock);
        return UMF_RESULT_SUCCESS;
    }
    if (!c->upstream) {
        pthread_mutex_unlock(&c->lock);
        LOG_ERR("out of memory: no free block of %zu bytes (alignment %zu) "
                "in the buffer",
                size, alignment);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    void *mem = NULL;
    umf_result_t r = umfMemoryProviderAlloc(c->upstream, size, alignment, &mem);
    if (r != UMF_RESULT_SUCCESS || mem == NULL) {
        pthread_mutex_unlock(&c->lock);
        LOG_ERR("out of memory: the upstream provider failed to allocate "
                "%zu bytes (%d)",
                size, (int)r);
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    r = ub_add(c, (uintptr_t)mem, size, true, &b);
    if (r != UMF_RESULT_SUCCESS) {
        pthread_mutex_unlock(&c->lock);
        if (c->upstream_has_free) {
            umfMemoryProviderFree(c->upstream, mem, size);
        }
        return r;
    }
    *ptr = mem;
    pthread_mutex_unlock(&c->lock);
    return UMF_RESULT_SUCCESS;

err_nomem:
    pthread_mutex_unlock(&c->lock);
    return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
}

static umf_result_t coarse_free(void *priv, void *ptr, size_t size) {
    coarse_t *c = priv;
    if (ptr == NULL) {
        return UMF_RESULT_SUCCESS;
    }
    pthread_mutex_lock(&c->lock);
    cb_block_t *b = block_at(c, ptr);
    if (!b) {
        pthread_mutex_unlock(&c->lock);
        LOG_ERR("free of %p: not the start of a block of this provider", ptr);
        return UMF_RESULT_ERROR_UNKNOWN;
    }
    if (!b->used) {
        pthread_mutex_unlock(&c->lock);
        LOG_ERR("free of %p: the block is already free", ptr);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (size != 0 && size != b->size) {
        pthread_mutex_unlock(&c->lock);
        LOG_ERR("free of %p: size %zu is not the block's size %zu", ptr, size,
                b->size);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    c->used_size -= b->size;
    b->used = false;
    cb_block_t *n = b->next;
    if (n && !n->used && same_upstream(b, n)) {
        free_del(c, n);
        b->size += n->size;
        block_drop(c, n);
    }
    cb_block_t *p = b->prev;
    if (p && !p->used && same_upstream(p, b)) {
        free_del(c, p);
        p->size += b->size;
        block_drop(c, b);
        b = p;
    }
    free_add(c, b);
    pthread_mutex_unlock(&c->lock);
    return UMF_RESULT_SUCCESS;
}

static void coarse_get_last_native_error(void *priv, const char **msg,
                                         int32_t *err) {
    (void)priv, (void)msg, (void)err; // never MEMORY_PROVIDER_SPECIFIC
}

static umf_result_t coarse_get_recommended_page_size(void *priv, size_t size,
                                                     size_t *page) {
    coarse_t *c = priv;
    if (c->upstream) {
        return umfMemoryProviderGetRecommendedPageSize(c->upstream, size, page);
    }
    if (!page) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *page = os_page_size();
    return UMF_RESULT_SUCCESS;
}

static umf_result_t coarse_get_min_page_size(void *priv, void *ptr,
                                             size_t *page) {
    coarse_t *c = priv;
    if (c->upstream) {
        return umfMemoryProviderGetMinPageSize(c->upstream, ptr, page);
    }
    if (!page) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    *page = os_page_size();
    return UMF_RESULT_SUCCESS;
}

static const char *coarse_get_name(void *priv) {
    coarse_t *c = priv;
    return c ? c->name : "coarse";
}

static umf_result_t coarse_purge_lazy(void *priv, void *ptr, size_t size) {
    coarse_t *c = priv;
    if (!ptr) {
        LOG_ERR("purge: ptr is NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (!c->upstream) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return umfMemoryProviderPurgeLazy(c->upstream, ptr, size);
}

static umf_result_t coarse_purge_force(void *priv, void *ptr, size_t size) {
    coarse_t *c = priv;
    if (!ptr) {
        LOG_ERR("purge: ptr is NULL");
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    if (!c->upstream) {
        return UMF_RESULT_ERROR_NOT_SUPPORTED;
    }
    return umfMemoryProviderPurgeForce(c->upstream, ptr, size);
}

static umf_result_t coarse_allocation_split(void *priv, void *ptr, size_t total,
                                            size_t first) {
    coarse_t *c = priv;
    if (first == 0 || first >= total) {
        LOG_ERR("split of %p: firstSize %zu must be in (0, %zu)", ptr, first,
                total);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&c->lock);
    cb_block_t *b = block_at(c, ptr);
    umf_result_t r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    if (!b || !b->used || b->size != total) {
        LOG_ERR("split of %p: not an allocated block of %zu bytes", ptr, total);
        goto out;
    }
    r = block_split(c, b, first) ? UMF_RESULT_SUCCESS
                                 : UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
out:
    pthread_mutex_unlock(&c->lock);
    return r;
}

static umf_result_t coarse_allocation_merge(void *priv, void *low, void *high,
                                            size_t total) {
    coarse_t *c = priv;
    pthread_mutex_lock(&c->lock);
    cb_block_t *l = block_at(c, low), *h = block_at(c, high);
    umf_result_t r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    if (!l || !h || !l->used || !h->used || l->next != h ||
        !same_upstream(l, h) || l->size + h->size != total) {
        LOG_ERR("merge of %p and %p: not adjacent allocated blocks of one "
                "upstream block totalling %zu bytes",
                low, high, total);
        goto out;
    }
    l->size = total;
    block_drop(c, h);
    r = UMF_RESULT_SUCCESS;
out:
    pthread_mutex_unlock(&c->lock);
    return r;
}

UMF_EXPORT coarse_memory_provider_stats_t
umfCoarseMemoryProviderGetStats(umf_memory_provider_handle_t provider) {
    coarse_memory_provider_stats_t s;
    memset(&s, 0, sizeof(s));
    if (!provider) {
        LOG_ERR("provider is NULL");
        return s;
    }
    if (provider->ops.initialize != coarse_initialize) {
        LOG_ERR("provider %p is not a coarse provider", (void *)provider);
        return s;
    }
    coarse_t *c = provider_priv(provider);
    pthread_mutex_lock(&c->lock);
    s.alloc_size = c->alloc_size;
    s.used_size = c->used_size;
    s.num_upstream_blocks = c->nubs;
    s.num_all_blocks = c->nblocks;
    s.num_free_blocks = c->nfree;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static umf_memory_provider_ops_t coarse_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = coarse_initialize,
    .finalize = coarse_finalize,
    .alloc = coarse_alloc,
    .get_last_native_error = coarse_get_last_native_error,
    .get_recommended_page_size = coarse_get_recommended_page_size,
    .get_min_page_size = coarse_get_min_page_size,
    .get_name = coarse_get_name,
    .ext.free = coarse_free,
    .ext.purge_lazy = coarse_purge_lazy,
    .ext.purge_force = coarse_purge_force,
    .ext.allocation_merge = coarse_allocation_merge,
    .ext.allocation_split = coarse_allocation_split,
    .ipc.get_ipc_handle_size = NULL,
    .ipc.get_ipc_handle = NULL,
    .ipc.put_ipc_handle = NULL,
    .ipc.open_ipc_handle = NULL,
    .ipc.close_ipc_handle = NULL,
};

UMF_EXPORT umf_memory_provider_ops_t *umfCoarseMemoryProviderOps(void) {
    return &coarse_ops;
}
