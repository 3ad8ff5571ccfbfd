/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fake_gpu_heap.h - the memory model shared by the test doubles of the GPU
 * drivers (fake_cuda.c, fake_ze.c); included by each, so every fake has
 * its own state.
 *
 * All memory lives in one memfd per process (the "device heap"); each
 * allocation takes fresh offsets of it. Host and shared memory is mapped
 * readable and writable. Device memory is mapped PROT_NONE where the
 * program sees it, so any CPU access crashes the test, and a second,
 * private read-write view of the same pages stands for the device: the
 * fakes' copy functions go through it. Because the heap is a file, another
 * process can map an allocation: the fakes' IPC handles carry the
 * producer's pid, the heap's fd number and the offset, and the consumer
 * copies the fd with pidfd_getfd(2).
 *
 * Every entry point counts its calls and can be told to fail the next n
 * calls with a given result (fk_inject). One mutex guards everything.
 * Test code: it may use malloc.
 */

#ifndef UMF_FAKE_GPU_HEAP_H
#define UMF_FAKE_GPU_HEAP_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { FK_HOST = 1, FK_DEVICE = 2, FK_SHARED = 3 };

#define FK_PAGE 4096u

typedef struct fk_block {
    struct fk_block *next;
    char *cpu;    // what the program gets (PROT_NONE for device memory)
    char *dev;    // read-write view (== cpu for host and shared memory)
    size_t len;   // mapped bytes (page multiple)
    off_t off;    // in the heap (or in the imported file)
    int kind;     // FK_*
    int imported; // mapped from another process's handle
    void *ctx;    // context it was allocated in
} fk_block;

typedef struct fk_counter {
    char fn[48];
    long calls;
    uint32_t inject_result;
    int inject_times;
} fk_counter;

static struct {
    pthread_mutex_t lock;
    int fd;
    off_t end;
    fk_block *blocks;
    long live;
    int misalign;
    fk_counter counters[64];
} fk = {PTHREAD_MUTEX_INITIALIZER, -1, 0, NULL, 0, 0, {{{0}, 0, 0, 0}}};

// pre: fk.lock held.
static inline fk_counter *fk_counter_locked(const char *fn) {
    for (size_t i = 0; i < sizeof(fk.counters) / sizeof(fk.counters[0]); i++) {
        fk_counter *c = &fk.counters[i];
        if (c->fn[0] == '\0') {
            strncpy(c->fn, fn, sizeof(c->fn) - 1);
            return c;
        }
        if (strcmp(c->fn, fn) == 0) {
            return c;
        }
    }
    return NULL;
}

// Counts a call of fn; returns the result to fail it with (0: none).
static inline uint32_t fk_enter(const char *fn) {
    pthread_mutex_lock(&fk.lock);
    fk_counter *c = fk_counter_locked(fn);
    uint32_t r = 0;
    if (c) {
        c->calls++;
        if (c->inject_times > 0) {
            c->inject_times--;
            r = c->inject_result;
        }
    }
    pthread_mutex_unlock(&fk.lock);
    return r;
}

static inline long fk_calls(const char *fn) {
    pthread_mutex_lock(&fk.lock);
    fk_counter *c = fk_counter_locked(fn);
    long n = c ? c->calls : 0;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

static inline void fk_inject(const char *fn, uint32_t result, int times) {
    pthread_mutex_lock(&fk.lock);
    fk_counter *c = fk_counter_locked(fn);
    if (c) {
        c->inject_result = result;
        c->inject_times = times;
    }
    pthread_mutex_unlock(&fk.lock);
}

static inline void fk_reset(void) {
    pthread_mutex_lock(&fk.lock);
    memset(fk.counters, 0, sizeof(fk.counters));
    fk.misalign = 0;
    pthread_mutex_unlock(&fk.lock);
}

static inline long fk_live(void) {
    pthread_mutex_lock(&fk.lock);
    long n = fk.live;
    pthread_mutex_unlock(&fk.lock);
    return n;
}

// Maps [off, off+len) of fd at an address aligned to align (plus one page
// when misaligned), with the CPU view's protection for kind. 0 or -1.
static inline int fk_map_locked(fk_block *b, int fd, size_t align) {
    size_t slack = align + (fk.misalign ? FK_PAGE : 0);
    char *res = mmap(NULL, b->len + slack, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        return -1;
    }
    uintptr_t base = ((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1);
    if (fk.misalign) {
        base += FK_PAGE; // page aligned, but not to any larger alignment
    }
    int prot = b->kind == FK_DEVICE ? PROT_NONE : PROT_READ | PROT_WRITE;
    char *cpu =
        mmap((void *)base, b->len, prot, MAP_SHARED | MAP_FIXED, fd, b->off);
    if (cpu == MAP_FAILED) {
        munmap(res, b->len + slack);
        return -1;
    }
    if ((char *)base > res) {
        munmap(res, (size_t)((char *)base - res));
    }
    char *tail = (char *)base + b->len;
    if (tail < res + b->len + slack) {
        munmap(tail, (size_t)(res + b->len + slack - tail));
    }
    b->cpu = cpu;
    b->dev = cpu;
    if (b->kind == FK_DEVICE) {
        b->dev =
            mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b->off);
        if (b->dev == MAP_FAILED) {
            munmap(cpu, b->len);
            return -1;
        }
    }
    return 0;
}

// A new allocation of size bytes aligned to align (a power of two, at
// least a page). NULL when out of memory.
static inline void *fk_alloc(size_t size, size_t align, int kind, void *ctx) {
    pthread_mutex_lock(&fk.lock);
    void *out = NULL;
    fk_block *b = calloc(1, sizeof(*b));
    if (!b) {
        goto out;
    }
    if (fk.fd < 0) {
        fk.fd = (int)syscall(SYS_memfd_create, "fake_gpu_heap", 0);
        if (fk.fd < 0) {
            free(b);
            goto out;
        }
    }
    b->len = (size + FK_PAGE - 1) & ~(size_t)(FK_PAGE - 1);
    b->off = fk.end;
    b->kind = kind;
    b->ctx = ctx;
    if (ftruncate(fk.fd, fk.end + (off_t)b->len) != 0 ||
        fk_map_locked(b, fk.fd, align) != 0) {
        free(b);
        goto out;
    }
    fk.end += (off_t)b->len;
    b->next = fk.blocks;
    fk.blocks = b;
    fk.live++;
    out = b->cpu;
out:
    pthread_mutex_unlock(&fk.lock);
    return out;
}

// Maps an allocation of another process (or this one) from fd.
static inline void *fk_import(int fd, off_t off, size_t len, int kind,
                              void *ctx) {
    pthread_mutex_lock(&fk.lock);
    void *out = NULL;
    fk_block *b = calloc(1, sizeof(*b));
    if (b) {
        b->len = len;
        b->off = off;
        b->kind = kind;
        b->imported = 1;
        b->ctx = ctx;
        int saved = fk.misalign;
        fk.misalign = 0;
        if (fk_map_locked(b, fd, FK_PAGE) == 0) {
            b->next = fk.blocks;
            fk.blocks = b;
            fk.live++;
            out = b->cpu;
        } else {
            free(b);
        }
        fk.misalign = saved;
    }
    pthread_mutex_unlock(&fk.lock);
    return out;
}

// The block that starts at p; with `inside`, the one containing
// [p, p+n). pre: fk.lock held.
static inline fk_block *fk_find_locked(const void *p, size_t n, int inside) {
    for (fk_block *b = fk.blocks; b; b = b->next) {
        if (!inside && b->cpu == p) {
            return b;
        }
        if (inside && (const char *)p >= b->cpu &&
            (const char *)p + n <= b->cpu + b->len) {
            return b;
        }
    }
    return NULL;
}

// Copies of a block's facts (kind 0: no block starts at p).
static inline fk_block fk_lookup(const void *p) {
    pthread_mutex_lock(&fk.lock);
    fk_block *b = fk_find_locked(p, 0, 0);
    fk_block copy;
    memset(&copy, 0, sizeof(copy));
    if (b) {
        copy = *b;
    }
    pthread_mutex_unlock(&fk.lock);
    return copy;
}

// True when [p, p+n) lies inside one allocation.
static inline int fk_contains(const void *p, size_t n) {
    pthread_mutex_lock(&fk.lock);
    int r = fk_find_locked(p, n, 1) != NULL;
    pthread_mutex_unlock(&fk.lock);
    return r;
}

// Frees the block that starts at p if its kind is in kinds (a bit mask of
// 1 << FK_*) and imported matches. 0, or -1 when there is no such block.
static inline int fk_free(const void *p, unsigned kinds, int imported) {
    pthread_mutex_lock(&fk.lock);
    int r = -1;
    for (fk_block **pb = &fk.blocks; *pb; pb = &(*pb)->next) {
        fk_block *b = *pb;
        if (b->cpu != p) {
            continue;
        }
        if (!(kinds & (1u << b->kind)) || b->imported != imported) {
            break;
        }
        *pb = b->next;
        if (b->dev != b->cpu) {
            munmap(b->dev, b->len);
        }
        munmap(b->cpu, b->len);
        if (!b->imported) {
            (void)fallocate(fk.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                            b->off, (off_t)b->len);
        }
        free(b);
        fk.live--;
        r = 0;
        break;
    }
    pthread_mutex_unlock(&fk.lock);
    return r;
}

// Where the device would read or write [p, p+n): the read-write view of an
// allocation, or p itself for the program's own memory.
static inline char *fk_device_view(const void *p, size_t n) {
    pthread_mutex_lock(&fk.lock);
    fk_block *b = fk_find_locked(p, n, 1);
    char *v = b ? b->dev + ((const char *)p - b->cpu) : (char *)p;
    pthread_mutex_unlock(&fk.lock);
    return v;
}

// The heap's fd (for IPC handles); -1 before the first allocation.
static inline int fk_heap_fd(void) {
    pthread_mutex_lock(&fk.lock);
    int fd = fk.fd;
    pthread_mutex_unlock(&fk.lock);
    return fd;
}

// A copy of fd number `fd` of process pid (pidfd_getfd), or -errno.
static inline int fk_fd_of(int pid, int fd) {
    if (pid == (int)getpid()) {
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        return d < 0 ? -errno : d;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        return -errno;
    }
    int d = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    int e = errno;
    close(pidfd);
    return d < 0 ? -e : d;
}

#endif /* UMF_FAKE_GPU_HEAP_H */
