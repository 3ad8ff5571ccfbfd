/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_cache.c - the producer and consumer caches of a pool.
 *
 * Producer: one entry per chunk a handle was made for, keyed by the chunk's
 * base: the provider's handle data, a process-unique 64-bit id and the
 * number of handles given out and not yet put. The first umfGetIPCHandle of
 * a chunk calls the provider's get_ipc_handle; later ones copy the entry
 * into a fresh handle buffer. umfPutIPCHandle frees the buffer and drops
 * the count; the entry, and with it the id a consumer caches by, stays until
 * the chunk goes back to the provider (the tracking wrapper's free calls
 * ipc_producer_chunk_free_slow) or the pool is destroyed: then the
 * provider's put_ipc_handle runs, once per entry.
 *
 * Consumer: one mapping per (producer pid, producer chunk base), holding the
 * handle id it was opened for and a reference count. Open on a hit with the
 * same id takes a reference; a miss calls the provider's open_ipc_handle
 * and registers the mapping in the tracker under the pool (tagged, see
 * ipc_cache.h), so umfPoolByPtr answers the pool and umfCloseIPCHandle
 * finds the mapping from any address inside it. A close that drops the
 * last reference parks the mapping on an idle list (at most IPC_IDLE_MAX per
 * pool, oldest evicted), so open/close cycles of one handle do not map and
 * unmap each time. A hit with another id (the producer freed the chunk and
 * a new one took its address) replaces the entry: an idle mapping is
 * unmapped, one still referenced is only unindexed and lives until its
 * last close or the pool's destroy — a mapping never goes away under a
 * consumer that has not closed it (0.10.1 programs never close at all).
 *
 * Locks: per pool, prod_lock (producer cache) and cons_lock (consumer
 * cache), held across the provider's IPC ops and tracker writes; a registry
 * lock over all pools for fork. Order (fork.c, level 0.5): registry, then
 * per pool prod_lock, cons_lock; below them the tracker, providers and the
 * base allocator. Nothing here runs on an allocation path: the free hook
 * reads one atomic count when the pool has no entries.
 */

#include "ipc_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <umf/memory_provider.h>

#include "addr_map.h"
#include "base_alloc.h"
#include "common.h"
#include "fork.h"
#include "init.h"
#include "log.h"
#include "os_linux.h"
#include "pool.h"
#include "provider.h"

#define IPC_HANDLER_MAGIC 0x48435049u // "IPCH"
#define IPC_BOX_MAGIC     0x5542434950464d55ull
#define IPC_IDLE_MAX      64

typedef struct prod_entry_t {
    struct prod_entry_t *prev, *next; // all entries of the pool
    uint64_t id;
    uintptr_t base;
    size_t size;
    int pid;              // the process that made it (entries die with fork)
    size_t handles;       // given out, not yet put
    unsigned char data[]; // provider data, provider_size bytes
} prod_entry_t;

typedef struct cons_map_t {
    struct cons_map_t *prev, *next;           // all mappings of the pool
    struct cons_map_t *idle_prev, *idle_next; // while refs == 0
    int pid;                                  // producer
    uint64_t base;                            // producer chunk base
    uint64_t id;  // producer handle id it was opened for
    uint64_t key; // by_key slot, when indexed
    bool indexed; // the current mapping for (pid, base)
    bool idle;    // on the idle list
    void *addr;   // where it is mapped here
    size_t size;  // registered size (the chunk's)
    size_t refs;  // opens minus closes
} cons_map_t;

struct ipc_pool_t {
    uint32_t version; // UMF_VERSION_CURRENT: upstream's check on a handler
    uint32_t magic;   // IPC_HANDLER_MAGIC
    umf_memory_pool_handle_t pool;
    umf_memory_provider_handle_t provider; // the user's provider
    tracker_t *tracker;
    _Atomic size_t provider_size; // 0 until the provider answered
    char provider_name[IPC_PROVIDER_NAME_LEN];
    struct ipc_pool_t *reg_prev, *reg_next;

    pthread_mutex_t prod_lock;
    addr_map_t prod_by_base; // chunk base -> prod_entry_t *
    prod_entry_t *prod_list;
    _Atomic size_t prod_count;

    pthread_mutex_t cons_lock;
    addr_map_t cons_by_key;  // hash(pid, base) -> cons_map_t *
    addr_map_t cons_by_addr; // mapping address -> cons_map_t *
    cons_map_t *cons_list;
    cons_map_t *idle_head, *idle_tail; // head: most recently closed
    size_t nidle, nmaps;
};

// A handle buffer: this box, then the handle (16-byte aligned).
typedef struct ipc_box_t {
    uint64_t cookie; // IPC_BOX_MAGIC ^ address of the box; 0 once put
    uint64_t total;
} ipc_box_t;

static _Atomic uint64_t next_handle_id = 1;

// getpid() is a system call; the pid changes only in a fork child, where
// ipc_fork_child resets this.
static _Atomic int cached_pid;

static int self_pid(void) {
    int pid = atomic_load_explicit(&cached_pid, memory_order_relaxed);
    if (unlikely(pid == 0)) {
        pid = os_getpid();
        atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
    }
    return pid;
}

// --- Registry (fork) ---

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ipc_pool_t *registry;

static const fork_handler_t ipc_fork_handler;

static void registry_add(ipc_pool_t *ip) {
    (void)fork_register(&ipc_fork_handler);
    pthread_mutex_lock(&registry_lock);
    ip->reg_prev = NULL;
    ip->reg_next = registry;
    if (registry) {
        registry->reg_prev = ip;
    }
    registry = ip;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(ipc_pool_t *ip) {
    pthread_mutex_lock(&registry_lock);
    if (ip->reg_prev) {
        ip->reg_prev->reg_next = ip->reg_next;
    } else {
        registry = ip->reg_next;
    }
    if (ip->reg_next) {
        ip->reg_next->reg_prev = ip->reg_prev;
    }
    pthread_mutex_unlock(&registry_lock);
}

// --- Life cycle ---

ipc_pool_t *ipc_pool_get(umf_memory_pool_handle_t pool) {
    // Pairs with the release CAS below: a reader sees a complete object.
    ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
    if (likely(ip != NULL)) {
        return ip;
    }
    ip = ba_calloc(1, sizeof(*ip));
    if (!ip) {
        LOG_ERR("no memory for the IPC state of pool %p", (void *)pool);
        return NULL;
    }
    ip->version = UMF_VERSION_CURRENT;
    ip->magic = IPC_HANDLER_MAGIC;
    ip->pool = pool;
    ip->provider = pool->provider;
    ip->tracker = pool->tracker;
    const char *name = umfMemoryProviderGetName(pool->provider);
    strncpy(ip->provider_name, name ? name : "", sizeof(ip->provider_name) - 1);
    pthread_mutex_init(&ip->prod_lock, NULL);
    pthread_mutex_init(&ip->cons_lock, NULL);
    ipc_pool_t *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&pool->ipc, &expected, ip,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        pthread_mutex_destroy(&ip->prod_lock);
        pthread_mutex_destroy(&ip->cons_lock);
        ba_free(ip);
        return expected; // another thread was first
    }
    registry_add(ip);
    return ip;
}

umf_result_t ipc_handle_size_of(ipc_pool_t *ip, size_t *size) {
    size_t psz = atomic_load_explicit(&ip->provider_size, memory_order_relaxed);
    if (unlikely(psz == 0)) {
        umf_result_t r = umfMemoryProviderGetIPCHandleSize(ip->provider, &psz);
        if (r == UMF_RESULT_ERROR_NOT_SUPPORTED) {
            LOG_ERR("provider %s has no IPC ops: its memory cannot be shared "
                    "or opened through IPC handles",
                    ip->provider_name);
        }
        if (r != UMF_RESULT_SUCCESS) {
            return r;
        }
        if (psz == 0 || ipc_handle_size(psz) == 0) {
            LOG_ERR("provider %s reports an IPC handle size of %zu bytes",
                    ip->provider_name, psz);
            return UMF_RESULT_ERROR_UNKNOWN;
        }
        atomic_store_explicit(&ip->provider_size, psz, memory_order_relaxed);
    }
    *size = ipc_handle_size(psz);
    return UMF_RESULT_SUCCESS;
}

// --- Producer ---

// pre: prod_lock held. Unlinks e and calls the provider's put.
static void prod_entry_put_locked(ipc_pool_t *ip, prod_entry_t *e, bool put) {
    (void)addr_map_del(&ip->prod_by_base, e->base, NULL);
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        ip->prod_list = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    atomic_fetch_sub_explicit(&ip->prod_count, 1, memory_order_relaxed);
    if (put) {
        umf_result_t r = umfMemoryProviderPutIPCHandle(ip->provider, e->data);
        if (r != UMF_RESULT_SUCCESS) {
            LOG_ERR("provider %s: put_ipc_handle of chunk %p failed (%d)",
                    ip->provider_name, (void *)e->base, (int)r);
        }
    }
    if (e->handles) {
        LOG_DEBUG("chunk %p: cache entry released with %zu handle(s) not put",
                  (void *)e->base, e->handles);
    }
    ba_free(e);
}

umf_result_t ipc_producer_get(ipc_pool_t *ip, const tracker_info_t *chunk,
                              const void *ptr, struct umf_ipc_data_t **out,
                              size_t *size) {
    size_t total;
    umf_result_t r = ipc_handle_size_of(ip, &total);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    size_t psz = total - sizeof(ipc_header_t);
    ipc_box_t *box = ba_alloc(sizeof(ipc_box_t) + total);
    if (!box) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    struct umf_ipc_data_t *h = (struct umf_ipc_data_t *)(box + 1);
    memset(&h->hdr, 0, sizeof(h->hdr));

    uintptr_t base = (uintptr_t)chunk->base;
    int me = self_pid();
    pthread_mutex_lock(&ip->prod_lock);
    uint64_t v;
    prod_entry_t *e = NULL;
    if (addr_map_get(&ip->prod_by_base, base, &v)) {
        e = (prod_entry_t *)(uintptr_t)v;
        if (e->size != chunk->size || e->pid != me) {
            // Not the chunk it was made for: cannot happen unless the free
            // hook was bypassed; start over rather than hand out stale data.
            LOG_WARN("chunk %p: stale IPC cache entry replaced", (void *)base);
            prod_entry_put_locked(ip, e, e->pid == me);
            e = NULL;
        }
    }
    if (!e) {
        e = ba_alloc(sizeof(*e) + psz);
        if (!e) {
            r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
            goto err_unlock;
        }
        memset(e, 0, sizeof(*e) + psz);
        r = umfMemoryProviderGetIPCHandle(ip->provider, chunk->base,
                                          chunk->size, e->data);
        if (r != UMF_RESULT_SUCCESS) {
            LOG_DEBUG("provider %s: get_ipc_handle of [%p, +%zu) failed (%d)",
                      ip->provider_name, chunk->base, chunk->size, (int)r);
            ba_free(e);
            goto err_unlock;
        }
        if (!addr_map_put(&ip->prod_by_base, base, (uint64_t)(uintptr_t)e)) {
            (void)umfMemoryProviderPutIPCHandle(ip->provider, e->data);
            ba_free(e);
            r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
            goto err_unlock;
        }
        e->id =
            atomic_fetch_add_explicit(&next_handle_id, 1, memory_order_relaxed);
        e->base = base;
        e->size = chunk->size;
        e->pid = me;
        e->next = ip->prod_list;
        if (e->next) {
            e->next->prev = e;
        }
        ip->prod_list = e;
        atomic_fetch_add_explicit(&ip->prod_count, 1, memory_order_relaxed);
    }
    e->handles++;
    h->hdr.handle_id = e->id;
    memcpy(h->provider_data, e->data, psz);
    pthread_mutex_unlock(&ip->prod_lock);

    h->hdr.total_size = (uint32_t)total;
    h->hdr.provider_size = (uint32_t)psz;
    h->hdr.base = base;
    h->hdr.size = chunk->size;
    h->hdr.offset = (uintptr_t)ptr - base;
    h->hdr.pid = me;
    memcpy(h->hdr.provider, ip->provider_name, sizeof(h->hdr.provider));
    ipc_header_seal(h);
    box->cookie = IPC_BOX_MAGIC ^ (uint64_t)(uintptr_t)box;
    box->total = total;
    *out = h;
    *size = total;
    return UMF_RESULT_SUCCESS;

err_unlock:
    pthread_mutex_unlock(&ip->prod_lock);
    ba_free(box);
    return r;
}

umf_result_t ipc_producer_put(struct umf_ipc_data_t *h) {
    ipc_box_t *box = (ipc_box_t *)h - 1;
    if (box->cookie != (IPC_BOX_MAGIC ^ (uint64_t)(uintptr_t)box) ||
        box->total != h->hdr.total_size) {
        LOG_ERR("umfPutIPCHandle(%p): not a handle returned by "
                "umfGetIPCHandle in this process, or put twice",
                (void *)h);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    box->cookie = 0;
    // The chunk may be gone (its entry put at free); then only the buffer
    // is left to free.
    tracker_info_t info;
    tracker_t *t = umf_tracker();
    if (t && tracker_lookup(t, (void *)(uintptr_t)h->hdr.base, &info) &&
        !ipc_owner_is_mapping(info.owner) &&
        (uintptr_t)info.base == h->hdr.base) {
        umf_memory_pool_handle_t pool = info.owner;
        ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
        if (ip) {
            pthread_mutex_lock(&ip->prod_lock);
            uint64_t v;
            if (addr_map_get(&ip->prod_by_base, h->hdr.base, &v)) {
                prod_entry_t *e = (prod_entry_t *)(uintptr_t)v;
                if (e->id == h->hdr.handle_id && e->handles > 0) {
                    e->handles--;
                }
            }
            pthread_mutex_unlock(&ip->prod_lock);
        }
    }
    ba_free(box);
    return UMF_RESULT_SUCCESS;
}

void ipc_producer_chunk_free_slow(umf_memory_pool_handle_t pool,
                                  tracker_t *tracker, const void *ptr,
                                  size_t size) {
    ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
    if (!ip) {
        return;
    }
    uintptr_t at = (uintptr_t)ptr, end = at + size;
    if (end < at) {
        end = UINTPTR_MAX;
    }
    pthread_mutex_lock(&ip->prod_lock);
    // Every chunk of the pool the range touches loses its entry.
    while (at < end && ip->prod_list) {
        tracker_info_t info;
        if (!tracker_lookup(tracker, (void *)at, &info) || info.owner != pool) {
            break;
        }
        uint64_t v;
        if (addr_map_get(&ip->prod_by_base, (uintptr_t)info.base, &v)) {
            prod_entry_put_locked(ip, (prod_entry_t *)(uintptr_t)v, true);
        }
        at = (uintptr_t)info.base + info.size;
    }
    pthread_mutex_unlock(&ip->prod_lock);
}

size_t ipc_producer_entries(umf_memory_pool_handle_t pool) {
    ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
    return ip ? atomic_load_explicit(&ip->prod_count, memory_order_relaxed) : 0;
}

// --- Consumer ---

ipc_pool_t *ipc_handler_check(const void *handler) {
    const ipc_pool_t *ip = handler;
    if (!ip) {
        return NULL;
    }
    if (ip->version != UMF_VERSION_CURRENT) {
        LOG_ERR("hIPCHandler %p is not an IPC handler (its first word is not "
                "UMF_VERSION_CURRENT; a pool handle? use umfPoolGetIPCHandler)",
                handler);
        return NULL;
    }
    if (ip->magic != IPC_HANDLER_MAGIC) {
        LOG_ERR("hIPCHandler %p is not an IPC handler of this library "
                "(use umfPoolGetIPCHandler)",
                handler);
        return NULL;
    }
    return (ipc_pool_t *)ip;
}

static uint64_t cons_key(int pid, uint64_t base) {
    uint64_t k = base ^ ((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ull);
    k ^= k >> 31;
    k *= 0xbf58476d1ce4e5b9ull;
    k ^= k >> 29;
    return k > UINT64_MAX - 2 ? k - 2 : k;
}

static void idle_unlink(ipc_pool_t *ip, cons_map_t *m) {
    if (m->idle_prev) {
        m->idle_prev->idle_next = m->idle_next;
    } else {
        ip->idle_head = m->idle_next;
    }
    if (m->idle_next) {
        m->idle_next->idle_prev = m->idle_prev;
    } else {
        ip->idle_tail = m->idle_prev;
    }
    m->idle_prev = m->idle_next = NULL;
    m->idle = false;
    ip->nidle--;
}

static void unindex(ipc_pool_t *ip, cons_map_t *m) {
    if (m->indexed) {
        (void)addr_map_del(&ip->cons_by_key, m->key, NULL);
        m->indexed = false;
    }
}

// pre: cons_lock held. Unregisters and unmaps m and frees it.
static void cons_map_destroy_locked(ipc_pool_t *ip, cons_map_t *m) {
    unindex(ip, m);
    if (m->idle) {
        idle_unlink(ip, m);
    }
    (void)addr_map_del(&ip->cons_by_addr, (uintptr_t)m->addr, NULL);
    if (m->prev) {
        m->prev->next = m->next;
    } else {
        ip->cons_list = m->next;
    }
    if (m->next) {
        m->next->prev = m->prev;
    }
    ip->nmaps--;
    // Out of the tracker first: no lookup finds memory being unmapped.
    tracker_info_t old;
    if (tracker_unregister(ip->tracker, m->addr, &old) != UMF_RESULT_SUCCESS) {
        LOG_ERR("IPC mapping %p was not registered", m->addr);
    }
    umf_result_t r =
        umfMemoryProviderCloseIPCHandle(ip->provider, m->addr, m->size);
    if (r != UMF_RESULT_SUCCESS) {
        LOG_ERR("provider %s: close_ipc_handle(%p, %zu) failed (%d)",
                ip->provider_name, m->addr, m->size, (int)r);
    }
    ba_free(m);
}

// pre: cons_lock held; m->refs just dropped to 0.
static void cons_map_idle_locked(ipc_pool_t *ip, cons_map_t *m) {
    if (!m->indexed) {
        cons_map_destroy_locked(ip, m); // replaced: nobody can reuse it
        return;
    }
    m->idle_prev = NULL;
    m->idle_next = ip->idle_head;
    if (ip->idle_head) {
        ip->idle_head->idle_prev = m;
    } else {
        ip->idle_tail = m;
    }
    ip->idle_head = m;
    m->idle = true;
    ip->nidle++;
    if (ip->nidle > IPC_IDLE_MAX) {
        cons_map_destroy_locked(ip, ip->idle_tail);
    }
}

umf_result_t ipc_consumer_open(ipc_pool_t *ip, const void *handle, void **ptr) {
    size_t total;
    umf_result_t r = ipc_handle_size_of(ip, &total);
    if (r != UMF_RESULT_SUCCESS) {
        return r;
    }
    // Work on a private copy: the sender may still write the buffer. The
    // header comes first and says whether the rest is worth reading; no
    // more than this provider's handle size is ever read.
    _Alignas(16) unsigned char stackbuf[1024];
    unsigned char *buf = stackbuf;
    if (total > sizeof(stackbuf)) {
        buf = ba_alloc(total);
        if (!buf) {
            return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        }
    }
    ipc_header_t hdr;
    memcpy(&hdr, handle, sizeof(hdr));
    if (hdr.magic == IPC_MAGIC && hdr.total_size == total) {
        memcpy(buf, handle, total);
    } else {
        // Enough for the check to name what is wrong.
        memset(buf, 0, total);
        memcpy(buf, &hdr, sizeof(hdr));
    }
    r = ipc_handle_check(buf, total, ip->provider_name);
    if (r != UMF_RESULT_SUCCESS) {
        goto out;
    }
    memcpy(&hdr, buf, sizeof(hdr));
    struct umf_ipc_data_t *h = (struct umf_ipc_data_t *)buf;
    // The tracker gets the header's chunk size: where the provider says
    // how (its traits), check that its data maps exactly that. (A provider
    // without that trait must check its own data.)
    const provider_traits_t *traits = provider_traits(ip->provider);
    if (traits && traits->ipc_data_matches_chunk &&
        !traits->ipc_data_matches_chunk(h->provider_data, hdr.size)) {
        LOG_ERR("IPC handle rejected: the %s provider's data does not map "
                "the %llu-byte chunk the header names",
                ip->provider_name, (unsigned long long)hdr.size);
        r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        goto out;
    }

    uint64_t key = cons_key(hdr.pid, hdr.base);
    pthread_mutex_lock(&ip->cons_lock);
    uint64_t v;
    if (addr_map_get(&ip->cons_by_key, key, &v)) {
        cons_map_t *m = (cons_map_t *)(uintptr_t)v;
        if (m->pid == hdr.pid && m->base == hdr.base) {
            if (m->id == hdr.handle_id && m->size == hdr.size) {
                if (m->idle) {
                    idle_unlink(ip, m);
                }
                m->refs++;
                *ptr = (char *)m->addr + hdr.offset;
                pthread_mutex_unlock(&ip->cons_lock);
                goto out;
            }
            // The producer's chunk at that address is a new one.
            if (m->refs == 0) {
                cons_map_destroy_locked(ip, m);
            } else {
                unindex(ip, m);
            }
        }
        // else: a hash collision; the new mapping goes unindexed.
    }

    cons_map_t *m = ba_calloc(1, sizeof(*m));
    if (!m) {
        r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        goto out_unlock;
    }
    void *addr = NULL;
    r = umfMemoryProviderOpenIPCHandle(ip->provider, h->provider_data, &addr);
    if (r != UMF_RESULT_SUCCESS) {
        LOG_DEBUG("provider %s: open_ipc_handle failed (%d)", ip->provider_name,
                  (int)r);
        goto err_free_map;
    }
    r = tracker_register(ip->tracker, ipc_owner_tag(ip->pool), addr,
                         (size_t)hdr.size);
    if (r != UMF_RESULT_SUCCESS) {
        LOG_ERR("cannot register the IPC mapping [%p, +%llu) (%d)", addr,
                (unsigned long long)hdr.size, (int)r);
        goto err_close;
    }
    if (!addr_map_put(&ip->cons_by_addr, (uintptr_t)addr,
                      (uint64_t)(uintptr_t)m)) {
        r = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        goto err_unregister;
    }
    m->pid = hdr.pid;
    m->base = hdr.base;
    m->id = hdr.handle_id;
    m->key = key;
    m->addr = addr;
    m->size = (size_t)hdr.size;
    m->refs = 1;
    if (!addr_map_get(&ip->cons_by_key, key, NULL) &&
        addr_map_put(&ip->cons_by_key, key, (uint64_t)(uintptr_t)m)) {
        m->indexed = true;
    }
    m->next = ip->cons_list;
    if (m->next) {
        m->next->prev = m;
    }
    ip->cons_list = m;
    ip->nmaps++;
    *ptr = (char *)addr + hdr.offset;
    pthread_mutex_unlock(&ip->cons_lock);
    goto out;

err_unregister:
    (void)tracker_unregister(ip->tracker, addr, NULL);
err_close:
    (void)umfMemoryProviderCloseIPCHandle(ip->provider, addr, (size_t)hdr.size);
err_free_map:
    ba_free(m);
out_unlock:
    pthread_mutex_unlock(&ip->cons_lock);
out:
    if (buf != stackbuf) {
        ba_free(buf);
    }
    return r;
}

umf_result_t ipc_consumer_close(void *owner, const tracker_info_t *mapping) {
    umf_memory_pool_handle_t pool = ipc_owner_pool(owner);
    ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
    if (!ip) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    umf_result_t r = UMF_RESULT_SUCCESS;
    pthread_mutex_lock(&ip->cons_lock);
    uint64_t v;
    if (!addr_map_get(&ip->cons_by_addr, (uintptr_t)mapping->base, &v)) {
        LOG_ERR("no IPC mapping at %p", mapping->base);
        r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
    } else {
        cons_map_t *m = (cons_map_t *)(uintptr_t)v;
        if (m->refs == 0) {
            LOG_ERR("mapping %p closed more times than "
                    "opened",
                    m->addr);
            r = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        } else if (--m->refs == 0) {
            cons_map_idle_locked(ip, m);
        }
    }
    pthread_mutex_unlock(&ip->cons_lock);
    return r;
}

// --- Pool destroy ---

void ipc_pool_destroy(umf_memory_pool_handle_t pool) {
    ipc_pool_t *ip = atomic_load_explicit(&pool->ipc, memory_order_acquire);
    if (!ip) {
        return;
    }
    registry_remove(ip);
    size_t np = 0, nm = 0;
    pthread_mutex_lock(&ip->prod_lock);
    while (ip->prod_list) {
        prod_entry_put_locked(ip, ip->prod_list, true);
        np++;
    }
    pthread_mutex_unlock(&ip->prod_lock);
    pthread_mutex_lock(&ip->cons_lock);
    while (ip->cons_list) {
        cons_map_destroy_locked(ip, ip->cons_list);
        nm++;
    }
    pthread_mutex_unlock(&ip->cons_lock);
    if (np || nm) {
        LOG_DEBUG("pool %p destroyed: %zu IPC cache entries put, %zu IPC "
                  "mappings closed",
                  (void *)pool, np, nm);
    }
    addr_map_fini(&ip->prod_by_base);
    addr_map_fini(&ip->cons_by_key);
    addr_map_fini(&ip->cons_by_addr);
    pthread_mutex_destroy(&ip->prod_lock);
    pthread_mutex_destroy(&ip->cons_lock);
    atomic_store_explicit(&pool->ipc, NULL, memory_order_relaxed);
    ip->magic = 0;
    ba_free(ip);
}

// --- fork ---

static void ipc_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (ipc_pool_t *ip = registry; ip; ip = ip->reg_next) {
        pthread_mutex_lock(&ip->prod_lock);
        pthread_mutex_lock(&ip->cons_lock);
    }
}

static void ipc_fork_parent(void) {
    for (ipc_pool_t *ip = registry; ip; ip = ip->reg_next) {
        pthread_mutex_unlock(&ip->cons_lock);
        pthread_mutex_unlock(&ip->prod_lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

// The child is another producer: the parent's entries (its pid, its file
// descriptors) must never go into the child's handles. They are dropped
// without the provider's put, which belongs to the parent. Mappings opened
// by the parent are inherited and stay valid in the child.
static void ipc_fork_child(void) {
    atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
    for (ipc_pool_t *ip = registry; ip; ip = ip->reg_next) {
        while (ip->prod_list) {
            prod_entry_put_locked(ip, ip->prod_list, false);
        }
    }
    ipc_fork_parent(); // the child's only thread holds every lock
}

static const fork_handler_t ipc_fork_handler = {
    .name = "IPC caches",
    .rank = FORK_RANK_IPC,
    .prepare = ipc_fork_prepare,
    .parent = ipc_fork_parent,
    .child = ipc_fork_child,
};
