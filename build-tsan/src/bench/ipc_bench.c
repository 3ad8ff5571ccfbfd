/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_bench.c - cost of IPC handles, next to the raw system calls, in one
 * run. A forked producer process allocates CHUNKS chunks (proxy pool on a
 * shared OS provider, memfd) and sends their handles over a socket; this
 * process, the consumer, measures (nanoseconds per operation, median of 5
 * rounds):
 *
 *   get+put         umfGetIPCHandle + umfPutIPCHandle of a cached chunk
 *                   (on a producer pool of this process)
 *   cached open+close  umfOpenIPCHandle + umfCloseIPCHandle of a handle
 *                   whose mapping is open (a reference held elsewhere)
 *   idle open+close the same with no reference held (the idle list)
 *   first open+close  a chunk not mapped here (cycling through more chunks
 *                   than the idle list keeps): mmap + tracker + cache, and
 *                   the close's eviction of an older mapping (munmap)
 *   cold open+close umfMemoryProviderOpenIPCHandle + Close straight on a
 *                   provider with nothing of the producer open: pidfd_open,
 *                   pidfd_getfd, identity checks, mmap; munmap, close
 *   raw             pidfd_getfd + mmap + munmap + close on a pidfd opened
 *                   once: the floor for a first open
 *
 * The slow three run in interleaved rounds, so their ratios see the same
 * load on a shared machine.
 *
 *   ipc_bench [ROUNDS_SCALE [CHUNK_KIB]]   (defaults 1 and 2048)
 *
 * The chunk size matters for the first open: the tracker registers a
 * chunk in slots of the largest power of two not above its size (a 2 MiB
 * chunk is one slot, 64 KiB are sixteen 4 KiB slots).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#define CHUNKS 512
static size_t CHUNK_SIZE = 2u << 20; // pool chunks: disjoint's slab size
#define HMAX 1024

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static umf_memory_pool_handle_t shared_pool(void) {
    umf_os_memory_provider_params_handle_t p;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    if (umfOsMemoryProviderParamsCreate(&p) ||
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED) ||
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &prov) ||
        umfPoolCreate(umfProxyPoolOps(), prov, NULL,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool)) {
        fprintf(stderr, "ipc_bench: cannot create a shared pool\n");
        exit(1);
    }
    umfOsMemoryProviderParamsDestroy(p);
    return pool;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void (*op_fn)(long iters);

// Medians of 5 rounds of each op, rounds interleaved (op 0, op 1, ...,
// op 0, ...) so that ratios between them see the same machine load.
static void measure_n(int nops, const op_fn *fns, long iters, double *out) {
    double r[8][5];
    for (int o = 0; o < nops; o++) {
        fns[o](iters / 10 + 1); // warm-up
    }
    for (int k = 0; k < 5; k++) {
        for (int o = 0; o < nops; o++) {
            double t = now_ns();
            fns[o](iters);
            r[o][k] = (now_ns() - t) / (double)iters;
        }
    }
    for (int o = 0; o < nops; o++) {
        qsort(r[o], 5, sizeof(double), cmp_double);
        out[o] = r[o][2];
    }
}

static double measure(op_fn fn, long iters) {
    double r;
    measure_n(1, &fn, iters, &r);
    return r;
}

static unsigned char handles[CHUNKS][HMAX];
static size_t hsize;
static umf_ipc_handler_handle_t handler;
static umf_memory_provider_handle_t cold_prov;
static void *local_chunk;
static int raw_pidfd, raw_fd;
static long raw_off;

static void op_get_put(long n) {
    for (long i = 0; i < n; i++) {
        umf_ipc_handle_t h;
        size_t s;
        if (umfGetIPCHandle(local_chunk, &h, &s) || umfPutIPCHandle(h)) {
            abort();
        }
    }
}

static void op_open_close(long n) {
    for (long i = 0; i < n; i++) {
        void *p;
        if (umfOpenIPCHandle(handler, (umf_ipc_handle_t)handles[0], &p) ||
            umfCloseIPCHandle(p)) {
            abort();
        }
    }
}

static long next_chunk = 1;

static void op_first_open(long n) {
    for (long i = 0; i < n; i++) {
        void *p;
        long c = next_chunk;
        next_chunk = next_chunk + 1 < CHUNKS ? next_chunk + 1 : 1;
        if (umfOpenIPCHandle(handler, (umf_ipc_handle_t)handles[c], &p) ||
            umfCloseIPCHandle(p)) {
            abort();
        }
    }
}

// The provider part of handle c (after the library's header, whose size
// is the handle size minus the provider's).
static size_t prov_off;

static void op_cold(long n) {
    for (long i = 0; i < n; i++) {
        void *p;
        if (umfMemoryProviderOpenIPCHandle(cold_prov, handles[1] + prov_off,
                                           &p) ||
            umfMemoryProviderCloseIPCHandle(cold_prov, p, CHUNK_SIZE)) {
            abort();
        }
    }
}

static void op_raw(long n) {
    for (long i = 0; i < n; i++) {
        int fd = (int)syscall(SYS_pidfd_getfd, raw_pidfd, raw_fd, 0);
        if (fd < 0) {
            abort();
        }
        void *p = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                       raw_off);
        if (p == MAP_FAILED) {
            abort();
        }
        munmap(p, CHUNK_SIZE);
        close(fd);
    }
}

int main(int argc, char **argv) {
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0) {
        scale = 1.0;
    }
    if (argc > 2 && atol(argv[2]) > 0) {
        CHUNK_SIZE = (size_t)atol(argv[2]) * 1024;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        perror("socketpair");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) { // the producer
        close(sv[0]);
        umf_memory_pool_handle_t prod = shared_pool();
        for (int i = 0; i < CHUNKS; i++) {
            void *p = umfPoolMalloc(prod, CHUNK_SIZE);
            umf_ipc_handle_t h;
            size_t s;
            if (!p || umfGetIPCHandle(p, &h, &s) || s > HMAX ||
                write(sv[1], &s, sizeof(s)) != (ssize_t)sizeof(s) ||
                write(sv[1], h, s) != (ssize_t)s) {
                _exit(1);
            }
            umfPutIPCHandle(h);
        }
        char c;
        (void)!read(sv[1], &c, 1); // until the consumer is done
        _exit(0);
    }
    close(sv[1]);
    prctl(PR_SET_PTRACER, (unsigned long)child, 0, 0, 0);
    for (int i = 0; i < CHUNKS; i++) {
        size_t s = 0, got = 0;
        if (read(sv[0], &s, sizeof(s)) != (ssize_t)sizeof(s) || s > HMAX) {
            fprintf(stderr, "ipc_bench: producer failed\n");
            return 1;
        }
        while (got < s) {
            ssize_t n = read(sv[0], handles[i] + got, s - got);
            if (n <= 0) {
                return 1;
            }
            got += (size_t)n;
        }
        hsize = s;
    }

    umf_memory_pool_handle_t cons = shared_pool();
    umf_memory_pool_handle_t local = shared_pool();
    umfPoolGetIPCHandler(cons, &handler);
    // The cold path on a provider of its own: nothing it maps stays open,
    // so every open takes the producer's fd anew.
    {
        umf_os_memory_provider_params_handle_t p;
        if (umfOsMemoryProviderParamsCreate(&p) ||
            umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED) ||
            umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &cold_prov)) {
            return 1;
        }
        umfOsMemoryProviderParamsDestroy(p);
    }
    size_t prov_size = 0;
    umfMemoryProviderGetIPCHandleSize(cold_prov, &prov_size);
    prov_off = hsize - prov_size;
    local_chunk = umfPoolMalloc(local, CHUNK_SIZE);

    // The raw floor: the producer's fd and the chunk's offset, from the
    // handle (the OS provider's data: magic, version, kind, pid, fd, prot,
    // offset, ...).
    int32_t pfd;
    uint64_t off;
    memcpy(&pfd, handles[1] + prov_off + 16, sizeof(pfd));
    memcpy(&off, handles[1] + prov_off + 24, sizeof(off));
    raw_fd = pfd;
    raw_off = (long)off;
    raw_pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    if (raw_pidfd < 0) {
        perror("pidfd_open");
        return 1;
    }

    long n = (long)(200000 * scale);
    long nslow = (long)(20000 * scale) + 1;
    double t_getput = measure(op_get_put, n);
    const op_fn slow[] = {op_first_open, op_cold, op_raw};
    double ts[3];
    measure_n(3, slow, nslow, ts);
    double t_first = ts[0], t_cold = ts[1], t_raw = ts[2];
    void *held;
    if (umfOpenIPCHandle(handler, (umf_ipc_handle_t)handles[0], &held)) {
        fprintf(stderr, "ipc_bench: open failed\n");
        return 1;
    }
    double t_cached = measure(op_open_close, n);
    umfCloseIPCHandle(held);
    double t_idle = measure(op_open_close, n);

    printf("IPC handles, ns per operation (median of 5), %d chunks of %d "
           "KiB, handle %zu bytes\n",
           CHUNKS, (int)(CHUNK_SIZE / 1024), hsize);
    printf("  %-34s %9.0f\n", "get+put (producer, cached chunk)", t_getput);
    printf("  %-34s %9.0f   target < 1000\n", "open+close, mapping open",
           t_cached);
    printf("  %-34s %9.0f\n", "open+close, mapping idle", t_idle);
    printf("  %-34s %9.0f   %.2fx raw (target <= 1.5x)\n",
           "first open+close (file known)", t_first, t_first / t_raw);
    printf("  %-34s %9.0f   %.2fx raw\n", "cold open+close (pidfd_getfd)",
           t_cold, t_cold / t_raw);
    printf("  %-34s %9.0f\n", "raw pidfd_getfd+mmap+munmap+close", t_raw);

    umfPoolFree(local, local_chunk);
    umfPoolDestroy(local);
    umfPoolDestroy(cons);
    umfMemoryProviderDestroy(cold_prov);
    close(raw_pidfd);
    (void)!write(sv[0], "x", 1);
    int st;
    waitpid(child, &st, 0);
    return 0;
}
