/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * base_alloc.c - size-class allocator for lib/'s metadata.
 *
 * Blocks up to 64 KiB come from per-class slabs (never returned to the OS)
 * with a LIFO free list; larger blocks are mmap'ed one by one. Slabs are
 * cut one after the other from shared 1 MiB mappings, a class's first slab
 * one block and each next one twice the last, up to 256 KiB: a process that
 * only starts up (libumf under the proxy, eight blocks of six classes) pays
 * one mmap and two touched pages, not a mapping and a page fault per class. Every
 * block starts with a 16-byte header (magic, class, mapping size) so ba_free
 * needs no size and can reject a pointer that is not ours.
 *
 * Locking: one mutex per size class, held only to pop/push a block or to
 * carve a new slab; fork.c takes them all (in class order) around fork().
 * Callers: the pool and provider front ends and their handles, the pools'
 * and the OS provider's bookkeeping, memspaces, memtargets and mempolicies,
 * the IPC caches and the OS provider's offset map (addr_map.c). Not the
 * tracker: it maps its own arenas, so a lookup never touches this
 * allocator. Most of these allocations are on slow paths (creation, IPC
 * open); a lock per class keeps the others cheap enough.
 */

#include "base_alloc.h"
#include "fork.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "common.h"
#include "log.h"
#include "os_linux.h"

#define BA_MAGIC 0xba5eba11u
#define BA_LARGE UINT32_MAX
#define BA_HDR   16

typedef struct ba_hdr_t {
    uint32_t magic;
    uint32_t cls;    // size class index, or BA_LARGE
    size_t map_size; // BA_LARGE: length of the mapping
} ba_hdr_t;

_Static_assert(sizeof(ba_hdr_t) == BA_HDR, "header keeps 16-byte alignment");

static const uint32_t class_sizes[] = {
    32,   48,    64,    96,    128,   192,   256,   384,
    512,  768,   1024,  1536,  2048,  3072,  4096,  6144,
    8192, 12288, 16384, 24576, 32768, 49152, 65536,
};
#define NCLASSES ARRAY_SIZE(class_sizes)

typedef struct ba_free_t {
    struct ba_free_t *next;
} ba_free_t;

typedef struct ba_class_t {
    pthread_mutex_t lock;
    ba_free_t *free_list;
    char *bump;
    char *bump_end;
    size_t next_slab; // size of this class's next slab; 0: the first
} __attribute__((aligned(64))) ba_class_t;

// Where slabs are cut from (taken inside a class's lock).
#define BA_REGION   ((size_t)1 << 20)
#define BA_SLAB_MAX ((size_t)256 << 10)
static pthread_mutex_t region_lock = PTHREAD_MUTEX_INITIALIZER;
static char *region_bump, *region_end;

static ba_class_t classes[NCLASSES] = {
    [0 ... NCLASSES - 1] = {.lock = PTHREAD_MUTEX_INITIALIZER},
};

static size_t class_of(size_t block) {
    // 23 classes: a linear scan is as fast as anything cleverer here.
    for (size_t i = 0; i < NCLASSES; i++) {
        if (block <= class_sizes[i]) {
            return i;
        }
    }
    return BA_LARGE;
}

// The next slab of class c (its lock held): one block, then doubling.
static size_t slab_size(size_t cls) {
    size_t s = class_sizes[cls];
    return s < classes[cls].next_slab ? classes[cls].next_slab : s;
}

// A slab of `size` bytes (a multiple of 16, at most 256 KiB), so 16-byte
// aligned like every block, zero; NULL when out of memory.
static void *slab_alloc(size_t size) {
    void *slab = NULL;
    pthread_mutex_lock(&region_lock);
    if ((size_t)(region_end - region_bump) < size) {
        void *r;
        int err = os_mmap_anon(BA_REGION, PROT_READ | PROT_WRITE, &r);
        if (err) {
            pthread_mutex_unlock(&region_lock);
            LOG_PERR(-err, "mmap of a %zu-byte metadata region failed",
                     BA_REGION);
            return NULL;
        }
        // The old region's tail (smaller than this slab) stays unused.
        region_bump = r;
        region_end = (char *)r + BA_REGION;
    }
    slab = region_bump;
    region_bump += size;
    pthread_mutex_unlock(&region_lock);
    return slab;
}

static void *alloc_large(size_t size) {
    size_t map;
    if (!align_up_checked(size + BA_HDR, os_page_size(), &map) ||
        size > SIZE_MAX - BA_HDR) {
        return NULL;
    }
    void *p;
    int r = os_mmap_anon(map, PROT_READ | PROT_WRITE, &p);
    if (r) {
        LOG_PERR(-r, "mmap of %zu bytes for metadata failed", map);
        return NULL;
    }
    ba_hdr_t *h = p;
    h->magic = BA_MAGIC;
    h->cls = BA_LARGE;
    h->map_size = map;
    return (char *)p + BA_HDR;
}

// A block of `size` bytes; *fresh: it was never handed out before, so it
// is zero (new mappings are).
static void *ba_alloc_fresh(size_t size, bool *fresh) {
    *fresh = false;
    if (size == 0) {
        size = 1;
    }
    if (size > SIZE_MAX - BA_HDR) {
        return NULL;
    }
    size_t cls = class_of(size + BA_HDR);
    if (cls == BA_LARGE) {
        *fresh = true;
        return alloc_large(size);
    }

    ba_class_t *c = &classes[cls];
    char *block = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->free_list) {
        block = (char *)c->free_list;
        c->free_list = c->free_list->next;
    } else {
        if ((size_t)(c->bump_end - c->bump) < class_sizes[cls]) {
            size_t ss = slab_size(cls);
            void *slab = slab_alloc(ss);
            if (!slab) {
                pthread_mutex_unlock(&c->lock);
                return NULL;
            }
            // The tail of the old slab (smaller than one block) is dropped.
            c->bump = slab;
            c->bump_end = (char *)slab + ss;
            c->next_slab = ss < BA_SLAB_MAX ? 2 * ss : BA_SLAB_MAX;
        }
        block = c->bump;
        c->bump += class_sizes[cls];
        *fresh = true;
    }
    pthread_mutex_unlock(&c->lock);

    ba_hdr_t *h = (ba_hdr_t *)block;
    h->magic = BA_MAGIC;
    h->cls = (uint32_t)cls;
    h->map_size = 0;
    return block + BA_HDR;
}

void *ba_alloc(size_t size) {
    bool fresh;
    return ba_alloc_fresh(size, &fresh);
}

void *ba_calloc(size_t num, size_t size) {
    if (size != 0 && num > SIZE_MAX / size) {
        return NULL;
    }
    size_t total = num * size;
    bool fresh;
    void *p = ba_alloc_fresh(total, &fresh);
    if (p && !fresh) {
        // Recycled slab memory may hold old data; fresh memory is zero
        // (clearing it would only fault its pages in).
        memset(p, 0, total);
    }
    return p;
}

static ba_hdr_t *hdr_of(const void *ptr) {
    ba_hdr_t *h = (ba_hdr_t *)((uintptr_t)ptr - BA_HDR);
    if (h->magic != BA_MAGIC || (h->cls >= NCLASSES && h->cls != BA_LARGE)) {
        return NULL;
    }
    return h;
}

size_t ba_usable_size(const void *ptr) {
    if (!ptr) {
        return 0;
    }
    ba_hdr_t *h = hdr_of(ptr);
    if (!h) {
        return 0;
    }
    return (h->cls == BA_LARGE ? h->map_size : class_sizes[h->cls]) - BA_HDR;
}

void ba_free(void *ptr) {
    if (!ptr) {
        return;
    }
    ba_hdr_t *h = hdr_of(ptr);
    if (!h) {
        LOG_ERR("%p was not allocated by the base allocator; ignored", ptr);
        return;
    }
    if (h->cls == BA_LARGE) {
        h->magic = 0;
        int r = os_munmap(h, h->map_size);
        if (r) {
            LOG_PERR(-r, "munmap of metadata block %p failed", (void *)h);
        }
        return;
    }
    ba_class_t *c = &classes[h->cls];
    h->magic = 0; // a second free of the same block is caught above
    ba_free_t *f = (ba_free_t *)h;
    pthread_mutex_lock(&c->lock);
    f->next = c->free_list;
    c->free_list = f;
    pthread_mutex_unlock(&c->lock);
}

void *ba_realloc(void *ptr, size_t size) {
    if (!ptr) {
        return ba_alloc(size);
    }
    size_t old = ba_usable_size(ptr);
    if (old == 0) {
        LOG_ERR("%p was not allocated by the base allocator", ptr);
        return NULL;
    }
    if (size <= old && size > old / 2) {
        return ptr;
    }
    void *n = ba_alloc(size);
    if (!n) {
        return NULL;
    }
    memcpy(n, ptr, size < old ? size : old);
    ba_free(ptr);
    return n;
}

char *ba_strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = ba_alloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *ba_strdup(const char *s) {
    return ba_strndup(s, strlen(s));
}

void *ba_calloc_cacheline(size_t size) {
    if (size > SIZE_MAX - 64 - sizeof(void *)) {
        return NULL;
    }
    char *raw = ba_calloc(1, size + 64 + sizeof(void *));
    if (!raw) {
        return NULL;
    }
    char *p = (char *)align_up((uintptr_t)raw + sizeof(void *), 64);
    ((void **)p)[-1] = raw;
    return p;
}

void ba_free_cacheline(void *ptr) {
    if (ptr) {
        ba_free(((void **)ptr)[-1]);
    }
}

// --- fork ---

static void ba_fork_prepare(void) {
    for (size_t i = 0; i < NCLASSES; i++) {
        pthread_mutex_lock(&classes[i].lock);
    }
    pthread_mutex_lock(&region_lock);
}

static void ba_fork_parent(void) {
    pthread_mutex_unlock(&region_lock);
    for (size_t i = NCLASSES; i-- > 0;) {
        pthread_mutex_unlock(&classes[i].lock);
    }
}

static const fork_handler_t ba_fork_handler = {
    .name = "base allocator",
    .rank = FORK_RANK_BASE_ALLOC,
    .prepare = ba_fork_prepare,
    // The child has only the forking thread, which holds every lock.
    .parent = ba_fork_parent,
    .child = ba_fork_parent,
};

void ba_fork_register(void) {
    (void)fork_register(&ba_fork_handler);
}
