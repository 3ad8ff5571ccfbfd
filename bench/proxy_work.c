/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_work.c - allocation-heavy workloads that call plain malloc, free
 * and realloc, for timing whole-process malloc replacements
 * (LD_PRELOAD=libumf_proxy.so, jemalloc, tbbmalloc_proxy, mimalloc,
 * tcmalloc) against glibc. bench/proxy_bench.sh builds and runs it.
 *
 *   exchange    T threads (default 4), each allocating 16-512 B messages
 *               for a random other thread; a message goes through the
 *               receiver's lock-free inbox, which verifies and frees it
 *               (cross-thread frees).
 *   prodcons    T producer/consumer pairs (default 1): the producer
 *               mallocs 64 B-4 KiB messages into a lock-free ring, the
 *               consumer verifies and frees them.
 *   workingset  T threads (default 1) sharing out a long-lived working set
 *               of 100k blocks of 8 B-32 KiB (mostly small), replacing
 *               random ones.
 *   realloc     T threads (default 1) growing buffers by realloc from 16 B
 *               to 1 MiB, 8 at a time with small blocks in between, and
 *               checking the contents survive each move.
 *   small       T threads (default 1) doing malloc/free of 8-256 B through
 *               a ring of 256 live blocks.
 *   large       T threads (default 1) each churning a ring of 16 buffers
 *               of 64 KiB-1 MiB (I/O buffers, images).
 *   huge        the same with buffers of 1-4 MiB (not in proxy_bench.sh's
 *               default list).
 *   grow        one buffer per round grown 3 MiB -> 11 MiB in 128 realloc
 *               steps of 64 KiB (20 rounds shared by T threads).
 *   bigcalloc   calloc of 256 MiB blocks touched on one page in 1024
 *               (40 rounds shared by T threads).
 *
 * Usage: proxy_work WORKLOAD [THREADS [SCALE]]   (THREADS 0: the default)
 *
 * The work is fixed by WORKLOAD and SCALE (threads share it out), so the
 * wall time of the whole process is what to compare. Every block is
 * written on each 64-byte step and at its end, and checked before it is
 * freed. On success the only output is one line on stdout:
 *   WORKLOAD threads=T scale=S checksum=HEX
 * The checksum depends only on the arguments (the random streams are per
 * thread and the sums commutative), never on the allocator or scheduling,
 * so a run whose line differs from glibc's is wrong. Any failure prints a
 * line on stderr and exits 1 (2 for bad usage).
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64

// --- Helpers ---

static _Noreturn void die(const char *what) {
    fprintf(stderr, "proxy_work: %s\n", what);
    // _Exit: other threads may still be allocating; run no destructors.
    _Exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        die("malloc returned NULL");
    }
    return p;
}

// splitmix64: a counter through a finaliser; one stream per thread.
typedef struct rng_t {
    uint64_t s;
} rng_t;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t rng_next(rng_t *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

// Uniform in [lo, hi].
static uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi) {
    uint64_t span = (uint64_t)hi - lo + 1;
    return lo + (uint32_t)(((rng_next(r) >> 32) * span) >> 32);
}

static rng_t rng_for(const char *workload, unsigned thread) {
    uint64_t h = 0;
    for (const char *c = workload; *c; c++) {
        h = h * 131 + (unsigned char)*c;
    }
    rng_t r = {mix64(h) ^ mix64(thread + 1)};
    return r;
}

// --- Block patterns ---

// One word per 64-byte step and the last word of the block: every cache
// line is touched and a clobbered or misplaced block is caught, without
// the pattern's own cost swamping the allocator's. The step words stop
// short of the last word so the two never overlap.
static void pat_fill(unsigned char *p, size_t n, uint64_t seed) {
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            p[i] = (unsigned char)(seed >> (8 * i));
        }
        return;
    }
    for (size_t i = 0; i + 16 <= n; i += 64) {
        uint64_t v = seed ^ i;
        memcpy(p + i, &v, 8);
    }
    uint64_t last = ~seed;
    memcpy(p + n - 8, &last, 8);
}

static bool pat_check(const unsigned char *p, size_t n, uint64_t seed) {
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            if (p[i] != (unsigned char)(seed >> (8 * i))) {
                return false;
            }
        }
        return true;
    }
    for (size_t i = 0; i + 16 <= n; i += 64) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v != (seed ^ i)) {
            return false;
        }
    }
    uint64_t last;
    memcpy(&last, p + n - 8, 8);
    return last == ~seed;
}

// A message between threads: this header, then a pattern seeded by tag.
typedef struct msg_t {
    struct msg_t *next; // inbox link (exchange)
    uint32_t size;      // bytes allocated, header included
    uint32_t tag;       // from the sender's stream
} msg_t;

static msg_t *msg_create(rng_t *r, uint32_t lo, uint32_t hi) {
    uint32_t size = rng_range(r, lo, hi);
    msg_t *m = xmalloc(size);
    m->next = NULL;
    m->size = size;
    m->tag = (uint32_t)rng_next(r);
    pat_fill((unsigned char *)(m + 1), size - sizeof(*m), m->tag);
    return m;
}

// Checks and frees; returns the message's share of the checksum.
static uint64_t msg_destroy(msg_t *m) {
    if (!pat_check((unsigned char *)(m + 1), m->size - sizeof(*m), m->tag)) {
        die("message pattern clobbered");
    }
    uint64_t h = mix64(((uint64_t)m->size << 32) | m->tag);
    free(m);
    return h;
}

// --- Threads ---

typedef struct worker_t {
    _Alignas(64) pthread_t tid;
    unsigned id;
    uint64_t sum; // this thread's share of the checksum
} worker_t;

static worker_t workers[MAX_THREADS];

// Runs fn on n threads and returns the sum of their sums.
static uint64_t threads_run(unsigned n, void *(*fn)(void *)) {
    for (unsigned i = 0; i < n; i++) {
        workers[i].id = i;
        workers[i].sum = 0;
        if (pthread_create(&workers[i].tid, NULL, fn, &workers[i])) {
            die("pthread_create failed");
        }
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(workers[i].tid, NULL);
        sum += workers[i].sum;
    }
    return sum;
}

static unsigned g_threads;
static double g_scale;

// Splits total work items among the threads: the first ones take the rest.
static uint64_t share(uint64_t total, unsigned id) {
    return total / g_threads + (id < total % g_threads);
}

static uint64_t scaled(double base) {
    double n = base * g_scale;
    return n < 1 ? 1 : (uint64_t)n;
}

// --- exchange ---

// Each thread's inbox is a lock-free stack that any thread pushes a batch
// onto (CAS) and only its owner empties whole (exchange), so there is no
// ABA. pending bounds what a descheduled receiver lets pile up.
typedef struct inbox_t {
    _Alignas(64) _Atomic(msg_t *) head;
    _Atomic long pending; // pushed and not yet taken; may dip below 0
} inbox_t;

#define X_BATCH       32
#define X_PENDING_MAX 8192

static inbox_t x_inbox[MAX_THREADS];
static _Atomic uint64_t x_received;
static uint64_t x_total;

static bool exchange_drain(worker_t *w) {
    inbox_t *in = &x_inbox[w->id];
    if (!atomic_load_explicit(&in->head, memory_order_relaxed)) {
        return false;
    }
    // acquire: pairs with the release CAS in exchange_push, so the
    // messages' contents written before the push are seen here.
    msg_t *m = atomic_exchange_explicit(&in->head, NULL, memory_order_acquire);
    long n = 0;
    while (m) {
        msg_t *next = m->next;
        w->sum += msg_destroy(m);
        m = next;
        n++;
    }
    atomic_fetch_sub_explicit(&in->pending, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&x_received, (uint64_t)n, memory_order_relaxed);
    return n > 0;
}

static void exchange_push(worker_t *w, unsigned dst, msg_t *head, msg_t *tail,
                          long n) {
    inbox_t *in = &x_inbox[dst];
    // A full inbox makes us wait, emptying our own meanwhile: every
    // waiter drains, so no cycle of full inboxes can stall.
    while (atomic_load_explicit(&in->pending, memory_order_relaxed) >
           X_PENDING_MAX) {
        if (!exchange_drain(w)) {
            sched_yield();
        }
    }
    msg_t *old = atomic_load_explicit(&in->head, memory_order_relaxed);
    do {
        tail->next = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &in->head, &old, head, memory_order_release, memory_order_relaxed));
    atomic_fetch_add_explicit(&in->pending, n, memory_order_relaxed);
}

static void *exchange_thread(void *arg) {
    worker_t *w = arg;
    rng_t r = rng_for("exchange", w->id);
    msg_t *head[MAX_THREADS] = {0}, *tail[MAX_THREADS] = {0};
    long count[MAX_THREADS] = {0};
    uint64_t n = share(x_total, w->id);

    for (uint64_t i = 0; i < n; i++) {
        unsigned dst = 0;
        if (g_threads > 1) {
            dst = (w->id + 1 + rng_range(&r, 0, g_threads - 2)) % g_threads;
        }
        msg_t *m = msg_create(&r, 16, 512);
        m->next = head[dst];
        head[dst] = m;
        if (!tail[dst]) {
            tail[dst] = m;
        }
        if (++count[dst] == X_BATCH) {
            exchange_push(w, dst, head[dst], tail[dst], count[dst]);
            head[dst] = tail[dst] = NULL;
            count[dst] = 0;
        }
        if ((i & 15) == 15) {
            exchange_drain(w);
        }
    }
    for (unsigned d = 0; d < g_threads; d++) {
        if (count[d]) {
            exchange_push(w, d, head[d], tail[d], count[d]);
        }
    }
    while (atomic_load_explicit(&x_received, memory_order_relaxed) < x_total) {
        if (!exchange_drain(w)) {
            sched_yield();
        }
    }
    return NULL;
}

static uint64_t work_exchange(void) {
    x_total = scaled(1.5e6);
    return threads_run(g_threads, exchange_thread);
}

// --- prodcons ---

// A single-producer single-consumer ring per pair. The producer owns
// tail, the consumer head; each index is published with release and
// read with acquire by the other side.
#define PC_RING 1024

typedef struct pc_ring_t {
    _Alignas(64) _Atomic size_t head;
    _Alignas(64) _Atomic size_t tail;
    _Alignas(64) msg_t *slot[PC_RING];
} pc_ring_t;

static pc_ring_t pc_rings[MAX_THREADS / 2];
static uint64_t pc_total;

static void *prodcons_producer(void *arg) {
    worker_t *w = arg;
    unsigned pair = w->id / 2;
    pc_ring_t *q = &pc_rings[pair];
    rng_t r = rng_for("prodcons", pair);
    uint64_t n =
        pc_total / (g_threads / 2) + (pair < pc_total % (g_threads / 2));
    size_t t = 0;

    for (uint64_t i = 0; i < n; i++) {
        msg_t *m = msg_create(&r, 64, 4096);
        // acquire: pairs with the consumer's release of head, so the slot
        // is free before we write it.
        while (t - atomic_load_explicit(&q->head, memory_order_acquire) ==
               PC_RING) {
            sched_yield();
        }
        q->slot[t % PC_RING] = m;
        t++;
        atomic_store_explicit(&q->tail, t, memory_order_release);
    }
    // A NULL slot ends the stream.
    while (t - atomic_load_explicit(&q->head, memory_order_acquire) ==
           PC_RING) {
        sched_yield();
    }
    q->slot[t % PC_RING] = NULL;
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return NULL;
}

static void *prodcons_consumer(void *arg) {
    worker_t *w = arg;
    pc_ring_t *q = &pc_rings[w->id / 2];
    size_t h = 0;

    for (;;) {
        // acquire: pairs with the producer's release of tail, so the
        // slot and the message it points to are written.
        size_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (t == h) {
            sched_yield();
            continue;
        }
        for (; h != t; h++) {
            msg_t *m = q->slot[h % PC_RING];
            if (!m) {
                return NULL;
            }
            w->sum += msg_destroy(m);
        }
        atomic_store_explicit(&q->head, h, memory_order_release);
    }
}

static void *prodcons_thread(void *arg) {
    worker_t *w = arg;
    return w->id % 2 ? prodcons_consumer(arg) : prodcons_producer(arg);
}

static uint64_t work_prodcons(void) {
    pc_total = scaled(6.0e5);
    // THREADS counts pairs.
    unsigned pairs = g_threads;
    g_threads = 2 * pairs;
    uint64_t sum = threads_run(g_threads, prodcons_thread);
    g_threads = pairs;
    return sum;
}

// --- workingset ---

#define WS_BLOCKS 100000

// 70% 8-128 B, 20% to 1 KiB, 8% to 8 KiB, 2% to 32 KiB: about 1 KiB on
// average, so 100k blocks hold about 95 MB.
static uint32_t ws_size(rng_t *r) {
    uint32_t u = rng_range(r, 0, 99);
    if (u < 70) {
        return rng_range(r, 8, 128);
    }
    if (u < 90) {
        return rng_range(r, 129, 1024);
    }
    if (u < 98) {
        return rng_range(r, 1025, 8192);
    }
    return rng_range(r, 8193, 32768);
}

typedef struct ws_slot_t {
    unsigned char *p;
    uint32_t size;
    uint32_t seed;
} ws_slot_t;

static void ws_fill(ws_slot_t *s, rng_t *r) {
    s->size = ws_size(r);
    s->seed = (uint32_t)rng_next(r);
    s->p = xmalloc(s->size);
    pat_fill(s->p, s->size, s->seed);
}

static uint64_t ws_drop(ws_slot_t *s) {
    if (!pat_check(s->p, s->size, s->seed)) {
        die("workingset block clobbered");
    }
    free(s->p);
    return mix64(((uint64_t)s->size << 32) | s->seed);
}

static uint64_t ws_steps;

static void *workingset_thread(void *arg) {
    worker_t *w = arg;
    rng_t r = rng_for("workingset", w->id);
    uint32_t n = (uint32_t)share(WS_BLOCKS, w->id);
    uint64_t steps = share(ws_steps, w->id);
    ws_slot_t *set = xmalloc(n * sizeof(*set));

    for (uint32_t i = 0; i < n; i++) {
        ws_fill(&set[i], &r);
    }
    for (uint64_t i = 0; i < steps; i++) {
        ws_slot_t *s = &set[rng_range(&r, 0, n - 1)];
        w->sum += ws_drop(s);
        ws_fill(s, &r);
    }
    for (uint32_t i = 0; i < n; i++) {
        w->sum += ws_drop(&set[i]);
    }
    free(set);
    return NULL;
}

static uint64_t work_workingset(void) {
    ws_steps = scaled(2.0e6);
    return threads_run(g_threads, workingset_thread);
}

// --- realloc ---

// A buffer grows by 5-50% (at least 16 B) a step up to exactly 1 MiB:
// at most 230 steps. Step k fills its new bytes with one byte value, so
// any byte's expected value is known from the step bounds.
#define RA_MAX     (1u << 20)
#define RA_STEPS   256
#define RA_LANES   8  // buffers growing side by side per thread
#define RA_OBSTACL 64 // small blocks kept live between the buffers

typedef struct ra_lane_t {
    unsigned char *p;
    uint32_t size;
    uint32_t nsteps;
    uint32_t seed;
    uint32_t end[RA_STEPS]; // end[k]: size after step k
} ra_lane_t;

static unsigned char ra_byte(const ra_lane_t *l, uint32_t k) {
    return (unsigned char)(l->seed + k * 37u);
}

// The expected value of byte i: the step whose range holds it.
static unsigned char ra_expect(const ra_lane_t *l, uint32_t i) {
    uint32_t lo = 0, hi = l->nsteps - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (l->end[mid] > i) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return ra_byte(l, lo);
}

static void ra_grow(ra_lane_t *l, rng_t *r) {
    uint32_t old = l->size;
    uint32_t add = (uint32_t)((uint64_t)old * rng_range(r, 5, 50) / 100);
    uint32_t size = old + (add < 16 ? 16 : add);
    if (size > RA_MAX || l->nsteps == RA_STEPS - 1) {
        size = RA_MAX;
    }
    unsigned char *p = l->p ? realloc(l->p, size) : malloc(size);
    if (!p) {
        die("realloc returned NULL");
    }
    l->p = p;
    if (old) {
        // Spot checks of what the move (if any) carried over.
        if (p[0] != ra_expect(l, 0) || p[old - 1] != ra_expect(l, old - 1) ||
            p[old / 2] != ra_expect(l, old / 2)) {
            die("realloc lost the buffer's contents");
        }
    }
    memset(p + old, ra_byte(l, l->nsteps), size - old);
    l->end[l->nsteps++] = size;
    l->size = size;
}

// Checks every step's first and last byte and a byte per 4 KiB, frees.
static uint64_t ra_finish(ra_lane_t *l) {
    uint32_t start = 0;
    for (uint32_t k = 0; k < l->nsteps; k++) {
        unsigned char v = ra_byte(l, k);
        for (uint32_t i = start; i < l->end[k]; i += 4096) {
            if (l->p[i] != v) {
                die("realloc buffer clobbered");
            }
        }
        if (l->p[l->end[k] - 1] != v) {
            die("realloc buffer clobbered");
        }
        start = l->end[k];
    }
    free(l->p);
    uint64_t h = mix64(((uint64_t)l->nsteps << 32) | l->seed);
    l->p = NULL;
    l->size = 0;
    l->nsteps = 0;
    return h;
}

static uint64_t ra_buffers;

static void *realloc_thread(void *arg) {
    worker_t *w = arg;
    rng_t r = rng_for("realloc", w->id);
    uint64_t left = share(ra_buffers, w->id);
    ra_lane_t *lanes = xmalloc(RA_LANES * sizeof(*lanes));
    unsigned char *obstacle[RA_OBSTACL] = {0};
    unsigned live = 0, ob = 0;

    // A lane with seed 0 is idle: buffer seeds are odd.
    for (unsigned i = 0; i < RA_LANES; i++) {
        lanes[i].p = NULL;
        lanes[i].size = 0;
        lanes[i].nsteps = 0;
        lanes[i].seed = 0;
        if (left) {
            lanes[i].seed = (uint32_t)rng_next(&r) | 1;
            left--;
            live++;
        }
    }
    while (live) {
        for (unsigned i = 0; i < RA_LANES; i++) {
            ra_lane_t *l = &lanes[i];
            if (!l->seed) {
                continue;
            }
            ra_grow(l, &r);
            // A small block between the steps, so that the next realloc
            // cannot always grow in place.
            free(obstacle[ob]);
            obstacle[ob] = xmalloc(rng_range(&r, 16, 256));
            obstacle[ob][0] = 1;
            ob = (ob + 1) % RA_OBSTACL;
            if (l->size == RA_MAX) {
                w->sum += ra_finish(l);
                l->seed = 0;
                if (left) {
                    l->seed = (uint32_t)rng_next(&r) | 1;
                    left--;
                } else {
                    live--;
                }
            }
        }
    }
    for (unsigned i = 0; i < RA_OBSTACL; i++) {
        free(obstacle[i]);
    }
    free(lanes);
    return NULL;
}

static uint64_t work_realloc(void) {
    ra_buffers = scaled(300);
    return threads_run(g_threads, realloc_thread);
}

// --- small and large ---

// Each thread frees the oldest block of a ring of `ring` and allocates one
// of lo-hi bytes, writing its first and last byte (checked before the free).
typedef struct churn_t {
    const char *name;
    unsigned ring; // at most CH_RING_MAX
    uint32_t lo, hi;
    uint64_t ops;
} churn_t;

#define CH_RING_MAX 256

static churn_t ch;

static void *churn_thread(void *arg) {
    worker_t *w = arg;
    rng_t r = rng_for(ch.name, w->id);
    uint64_t n = share(ch.ops, w->id);
    unsigned char *ring[CH_RING_MAX] = {0};
    uint32_t size[CH_RING_MAX] = {0};

    for (uint64_t i = 0; i < n; i++) {
        unsigned k = i % ch.ring;
        if (ring[k]) {
            unsigned char *p = ring[k];
            if (p[0] != (unsigned char)size[k] ||
                p[size[k] - 1] != (unsigned char)(size[k] >> 1)) {
                die("churned block clobbered");
            }
            w->sum += size[k] * (uint64_t)(i + 1);
            free(p);
        }
        uint32_t s = rng_range(&r, ch.lo, ch.hi);
        unsigned char *p = xmalloc(s);
        p[s - 1] = (unsigned char)(s >> 1);
        p[0] = (unsigned char)s;
        ring[k] = p;
        size[k] = s;
    }
    for (unsigned k = 0; k < ch.ring; k++) {
        free(ring[k]);
    }
    return NULL;
}

static uint64_t work_small(void) {
    ch = (churn_t){"small", 256, 8, 256, scaled(3.0e7)};
    return threads_run(g_threads, churn_thread);
}

// Per-thread churn of buffers of 64 KiB-1 MiB (I/O buffers, images).
static uint64_t work_large(void) {
    ch = (churn_t){"large", 16, (64 << 10) + 1, 1 << 20, scaled(4.0e5)};
    return threads_run(g_threads, churn_thread);
}

// The same with buffers of 1-4 MiB (frames, compression windows).
static uint64_t work_huge(void) {
    ch = (churn_t){"huge", 16, (1 << 20) + 1, 4 << 20, scaled(5.0e4)};
    return threads_run(g_threads, churn_thread);
}

// --- grow ---

// One buffer grown from 3 MiB to 11 MiB in 128 realloc steps (a growing
// log or vector), written at each new end and checked at the last step.
#define GR_FROM  ((size_t)3 << 20)
#define GR_STEPS 128
#define GR_STEP  ((size_t)64 << 10)

static uint64_t gr_rounds;

static void *grow_thread(void *arg) {
    worker_t *w = arg;
    uint64_t n = share(gr_rounds, w->id);
    for (uint64_t i = 0; i < n; i++) {
        size_t size = GR_FROM;
        unsigned char *p = xmalloc(size);
        p[0] = 0x5a;
        for (unsigned k = 0; k < GR_STEPS; k++) {
            size_t next = size + GR_STEP;
            unsigned char *q = realloc(p, next);
            if (!q) {
                die("realloc returned NULL");
            }
            p = q;
            p[next - 1] = (unsigned char)k;
            size = next;
        }
        if (p[0] != 0x5a || p[size - 1] != (unsigned char)(GR_STEPS - 1) ||
            p[GR_FROM + GR_STEP - 1] != 0) {
            die("grown buffer clobbered");
        }
        w->sum += size;
        free(p);
    }
    return NULL;
}

static uint64_t work_grow(void) {
    gr_rounds = scaled(20);
    return threads_run(g_threads, grow_thread);
}

// --- bigcalloc ---

// calloc of 256 MiB blocks of which the program touches one page in 1024
// (a sparse table): fresh memory should cost nothing per untouched page.
#define BC_SIZE ((size_t)256 << 20)

static uint64_t bc_rounds;

static void *bigcalloc_thread(void *arg) {
    worker_t *w = arg;
    uint64_t n = share(bc_rounds, w->id);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *p = calloc(1, BC_SIZE);
        if (!p) {
            die("calloc returned NULL");
        }
        for (size_t off = 0; off < BC_SIZE; off += (size_t)4096 << 10) {
            if (p[off + 17] != 0) {
                die("calloc memory not zero");
            }
            p[off + 17] = 1;
            w->sum += off >> 20;
        }
        free(p);
    }
    return NULL;
}

static uint64_t work_bigcalloc(void) {
    bc_rounds = scaled(40);
    return threads_run(g_threads, bigcalloc_thread);
}

// --- main ---

static const struct {
    const char *name;
    unsigned threads; // default THREADS
    unsigned max_threads;
    uint64_t (*run)(void);
} workloads[] = {
    {"exchange", 4, MAX_THREADS, work_exchange},
    {"prodcons", 1, MAX_THREADS / 2, work_prodcons},
    {"workingset", 1, MAX_THREADS, work_workingset},
    {"realloc", 1, MAX_THREADS, work_realloc},
    {"small", 1, MAX_THREADS, work_small},
    {"large", 1, MAX_THREADS, work_large},
    {"huge", 1, MAX_THREADS, work_huge},
    {"grow", 1, MAX_THREADS, work_grow},
    {"bigcalloc", 1, MAX_THREADS, work_bigcalloc},
};

static _Noreturn void usage(void) {
    fprintf(stderr, "usage: proxy_work WORKLOAD [THREADS [SCALE]]\n"
                    "  WORKLOAD: exchange prodcons workingset realloc "
                    "small large huge grow bigcalloc\n"
                    "  THREADS: 0 for the workload's default; SCALE > 0 "
                    "(default 1) multiplies the work\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        usage();
    }
    int w = -1;
    for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
        if (!strcmp(argv[1], workloads[i].name)) {
            w = (int)i;
        }
    }
    if (w < 0) {
        usage();
    }

    char *end;
    unsigned long t = 0;
    if (argc > 2) {
        t = strtoul(argv[2], &end, 10);
        if (*end || end == argv[2] || t > workloads[w].max_threads) {
            usage();
        }
    }
    g_threads = t ? (unsigned)t : workloads[w].threads;
    g_scale = 1;
    if (argc > 3) {
        g_scale = strtod(argv[3], &end);
        if (*end || end == argv[3] || !(g_scale > 0 && g_scale <= 1000)) {
            usage();
        }
    }

    uint64_t sum = workloads[w].run();
    printf("%s threads=%u scale=%g checksum=%016llx\n", workloads[w].name,
           g_threads, g_scale, (unsigned long long)sum);
    return 0;
}
