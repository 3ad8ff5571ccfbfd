/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_internal.h - state shared by the files of libumf_proxy.so.
 *
 * proxy.c        the malloc family (entry points, routing, bootstrap)
 * proxy_setup.c  constructor: configuration, providers and pools; exit
 * proxy_stats.c  per-thread counters and the report at exit
 * proxy_boot.c   the bootstrap region (linked last: see there)
 */

#ifndef UMF_PROXY_INTERNAL_H
#define UMF_PROXY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>

#include "pools/pool_disjoint_internal.h"
#include "pools/pool_host.h"
#include "proxy_config.h"

#define PX_HIDDEN __attribute__((visibility("hidden")))

// What malloc serves before the system allocator is resolved (dlsym may
// allocate) or while the set-up runs: blocks carved once, never reused.
#define PX_BOOT_SIZE ((size_t)256 << 10)
extern PX_HIDDEN unsigned char px_boot[PX_BOOT_SIZE];
#define px_likely(x)   __builtin_expect(!!(x), 1)
#define px_unlikely(x) __builtin_expect(!!(x), 0)

// The disjoint pool's max_poolable_size when the configuration leaves it
// (lib/pools/pool_disjoint.c, DP_DEFAULT_MAX_POOLABLE).
#define PX_DJ_MAX_POOLABLE_DEFAULT ((size_t)2 << 20)
// A disjoint heap without disjoint.capacity keeps up to PX_DJ_KEEP empty
// slabs per bucket, at most PX_DJ_KEPT bytes in all, each for at most
// PX_DJ_DECAY_MS (as the host engine's pool for large blocks).
#define PX_DJ_KEEP                 8
#define PX_DJ_KEPT                 ((size_t)64 << 20)
#define PX_DJ_DECAY_MS             1000

// The base heap plus one per tier.
#define PX_MAX_HEAPS (1 + PX_MAX_TIERS)

// The large-block cache of a heap (proxy.c, "Large-block cache"): slots
// of freed direct blocks kept mapped for reuse. `ptr` is NULL (empty),
// PX_LC_BUSY (a thread is filling or emptying it) or the block.
#define PX_LC_SLOTS 32
typedef struct px_lc_slot_t {
    void *_Atomic ptr;
    _Atomic size_t size;      // the block's usable size
    _Atomic uint64_t when_ms; // when it was freed (CLOCK_MONOTONIC_COARSE)
} px_lc_slot_t;

// One pool the proxy serves requests from.
typedef struct px_heap_t {
    umf_memory_pool_handle_t pool; // NULL: the system allocator (tiers)
    umf_memory_provider_handle_t provider;
    px_pool_kind_t kind;
    size_t min, max;     // the sizes routed here (tiers)
    bool native_calloc;  // the pool zeroes (else malloc + memset)
    bool native_realloc; // the pool reallocates (else copy)
    // Requests above this size are served by the pool straight from its
    // provider (disjoint: above max_poolable; proxy pool: all), so a
    // block of that size is a provider allocation of its own. SIZE_MAX:
    // the pool never does that (or we cannot know).
    size_t direct_above;
    // The provider's memory is fresh and zero-filled (the OS provider): a
    // calloc of a direct block need not clear it.
    bool fresh_zero;
    // ... and private anonymous mappings (page.disposition=private): a
    // realloc may move the pages of a direct block instead of copying.
    bool private_fresh;
    // The host engine's private data (pool=host), for the fast paths.
    void *hp;
    // The disjoint pool's (pool=disjoint), for free without a tracker walk.
    void *dj;
    // Freed direct blocks are kept for reuse (host and disjoint heaps of
    // private memory). `checks` is the pool's misuse setting (0 abort, 1
    // error, 2 off), applied to a free of a block in the cache and (the
    // base heap's) to a free of an unmapped block no pool owns.
    bool lc_on;
    int checks;
    px_lc_slot_t lc[PX_LC_SLOTS];
    _Atomic size_t lc_bytes; // what the slots hold (PX_LC_BYTES at most)
    char name[PX_NAME_MAX];
} px_heap_t;

typedef struct px_state_t {
    const uint8_t *hp_class; // the host engine's size-class table
    // Written by the constructor before `ready`, read-only after.
    size_t threshold; // size.threshold
    px_heap_t heaps[PX_MAX_HEAPS];
    size_t nheaps; // heaps[0] is the base heap
    size_t ntiers; // heaps[1..ntiers] are tiers, sorted by min
    bool stats;
    bool host_any; // a heap is pool=host: try its fast paths first
    // A heap is pool=host or pool=disjoint: free asks their disjoint
    // pools' page maps before the owner cache (px_pagemap_free).
    bool pagemap_any;
    bool lc_any; // a heap keeps freed large blocks (px_heap_t.lc_on)
    // No request goes to the system allocator (no size.threshold, no tier
    // with pool=system): a pointer no pool owns is rare, and is checked to
    // be mapped before the system allocator reads its header (a freed
    // block whose pool unmapped it; px_sys_unmapped).
    bool sys_rare;
    // The base heap is pool=host and serves every small request (no tiers,
    // no size threshold, no stats): malloc and free inline its fast paths.
    bool host_fast;
    _Atomic uint64_t *hp_segmap; // the engine's segment table
    _Atomic int ready;           // the pools exist: requests go to them
} px_state_t;

extern px_state_t px PX_HIDDEN;

// The system allocator (the next definition after ours, normally glibc's).
typedef struct px_sys_t {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    size_t (*usable_size)(void *);
} px_sys_t;

extern px_sys_t px_sys PX_HIDDEN;

// libumf's tracker epoch (umf_private_tracker_epoch), set by px_setup
// before px.ready; NULL until then.
extern const _Atomic uint64_t *px_epoch PX_HIDDEN;

// Resolves px_sys once (dlsym; its own allocations come from the bootstrap
// region). Returns true when px_sys.malloc is usable.
PX_HIDDEN bool px_sys_resolve(void);

// Calls into pools and the system allocator made from inside the proxy
// (or from libraries the pools call while a pool call is in progress)
// go to the system allocator: this thread-local depth says so.
// Per thread: hp, its heap of the base heap's host engine when
// px.host_fast, else NULL (also after the thread gave its heap up at
// exit); fast, hp while depth is 0 and NULL inside a pool call, the one
// word malloc's and free's inline paths test (so a malloc from inside
// the engine, a library its provider calls, never re-enters a heap in
// the middle of an update).
typedef struct px_tls_t {
    hp_heap_t *fast;
    hp_heap_t *hp;
    unsigned depth;
} px_tls_t;
extern __thread px_tls_t px_tls PX_HIDDEN
    __attribute__((tls_model("initial-exec")));
#define px_depth  (px_tls.depth)
#define px_hp_tls (px_tls.hp)

// Around every call into a pool or the system allocator made by the proxy.
static inline void px_enter(void) {
    px_tls.depth++;
    px_tls.fast = NULL;
}
static inline void px_leave(void) {
    if (--px_tls.depth == 0) {
        px_tls.fast = px_tls.hp;
    }
}
PX_HIDDEN void px_hp_exit(void);

// Heap of a pool handle, or NULL (a pool the program created itself).
PX_HIDDEN px_heap_t *px_heap_of(umf_memory_pool_handle_t pool);

// proxy_setup.c
PX_HIDDEN void px_setup(void);

// proxy_stats.c. Counting costs only writes to this thread's counters.
PX_HIDDEN void px_stats_alloc(unsigned heap, size_t requested, void *p);
PX_HIDDEN void px_stats_free(unsigned heap, void *p);
PX_HIDDEN void px_stats_sys_free(void);
PX_HIDDEN umf_memory_provider_handle_t
px_stats_wrap_provider(umf_memory_provider_handle_t inner, unsigned heap);
// Opens where the report goes (path, or a copy of stderr): 0 or -errno.
PX_HIDDEN int px_stats_open(const char *path);
PX_HIDDEN void px_stats_report(void);

// Writes a whole message to fd, or to fd 2 (no stdio: it may allocate).
PX_HIDDEN void px_write_fd(int fd, const char *msg);
PX_HIDDEN void px_write_err(const char *msg);

#endif /* UMF_PROXY_INTERNAL_H */
