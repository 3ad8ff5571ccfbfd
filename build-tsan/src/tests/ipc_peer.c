/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_peer.c - the two processes of tests/test_ipc_procs.sh, and their
 * driver. Linked to libumf (and libjemalloc_pool when built).
 *
 *   ipc_peer pools
 *       prints the pools this build and machine can run, one per line
 *   ipc_peer run POOL MECH COUNT [exit]
 *       driver: a socketpair, then fork+exec of a consumer and a producer;
 *       succeeds when both do. MECH is memfd or shm.
 *   ipc_peer produce SOCK POOL MECH COUNT MODE CONSUMER_PID
 *   ipc_peer consume SOCK POOL COUNT MODE PRODUCER_PID
 *   ipc_peer consume-one SOCK
 *       a consumer of one handle (tests/test_ipc_proxy.sh)
 *
 * The producer allocates COUNT buffers of varied sizes from a pool on a
 * shared OS provider (memfd or a named shm object), writes a pattern into
 * each, sends a handle for a pointer inside each over the socket and puts
 * the handle right away (as 0.10.1 programs do). The consumer opens them
 * all (all open at once) through the handler of its own pool of the same
 * kind, on a shared OS provider without a shm name, verifies the pattern
 * and writes another; the producer verifies that. Mode "close": the
 * consumer closes everything and the producer frees. Mode "exit": the
 * producer writes a last pattern and exits without freeing (a named shm
 * object is unlinked first); the consumer waits until the producer is gone
 * and verifies the last pattern through its mappings, which outlive it.
 */

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_os_memory.h>
#ifdef HAVE_JEMALLOC_POOL
#include <umf/pools/pool_jemalloc.h>
#endif

#include "ipc_wire.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "ipc_peer %s: ", role);                                \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        exit(1);                                                               \
    } while (0)

static const char *role = "driver";
static char shm_name[64];

static umf_memory_provider_handle_t make_provider(const char *mech) {
    umf_os_memory_provider_params_handle_t p;
    umf_memory_provider_handle_t prov = NULL;
    if (umfOsMemoryProviderParamsCreate(&p) ||
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED)) {
        FAIL("OS provider params");
    }
    if (strcmp(mech, "shm") == 0) {
        snprintf(shm_name, sizeof(shm_name), "umf_test_ipc_peer_%d",
                 (int)getpid());
        if (umfOsMemoryProviderParamsSetShmName(p, shm_name)) {
            FAIL("shm name");
        }
    } else if (strcmp(mech, "memfd") != 0 && strcmp(mech, "none") != 0) {
        FAIL("unknown mechanism %s (memfd or shm)", mech);
    }
    umf_result_t r =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &prov);
    umfOsMemoryProviderParamsDestroy(p);
    if (r) {
        FAIL("umfMemoryProviderCreate: %d", (int)r);
    }
    return prov;
}

// NULL when the pool cannot be created here (missing library).
static umf_memory_pool_handle_t make_pool(const char *kind,
                                          umf_memory_provider_handle_t prov) {
    umf_memory_pool_handle_t pool = NULL;
    const umf_pool_create_flags_t fl = UMF_POOL_CREATE_FLAG_OWN_PROVIDER;
    umf_result_t r = UMF_RESULT_ERROR_NOT_SUPPORTED;
    if (strcmp(kind, "proxy") == 0) {
        r = umfPoolCreate(umfProxyPoolOps(), prov, NULL, fl, &pool);
    } else if (strcmp(kind, "disjoint") == 0) {
        umf_disjoint_pool_params_handle_t dp;
        if (umfDisjointPoolParamsCreate(&dp) == UMF_RESULT_SUCCESS) {
            r = umfPoolCreate(umfDisjointPoolOps(), prov, dp, fl, &pool);
            umfDisjointPoolParamsDestroy(dp);
        }
    } else if (strcmp(kind, "scalable") == 0) {
        r = umfPoolCreate(umfScalablePoolOps(), prov, NULL, fl, &pool);
    } else if (strcmp(kind, "jemalloc") == 0) {
#ifdef HAVE_JEMALLOC_POOL
        r = umfPoolCreate(umfJemallocPoolOps(), prov, NULL, fl, &pool);
#endif
    }
    return r == UMF_RESULT_SUCCESS ? pool : NULL;
}

static size_t alloc_size(unsigned i) {
    return 64 + (i * 977u) % 65536u;
}

static int produce(int sock, const char *kind, const char *mech, unsigned count,
                   bool exit_mode, int consumer) {
    role = "producer";
    // Yama ptrace_scope=1: only the process we name may take our fds.
    (void)prctl(PR_SET_PTRACER, (unsigned long)consumer, 0, 0, 0);
    umf_memory_pool_handle_t pool = make_pool(kind, make_provider(mech));
    if (!pool) {
        FAIL("cannot create a %s pool", kind);
    }
    char **bufs = calloc(count, sizeof(*bufs));
    for (unsigned i = 0; i < count; i++) {
        size_t n = alloc_size(i);
        bufs[i] = umfPoolMalloc(pool, n);
        if (!bufs[i]) {
            FAIL("umfPoolMalloc(%zu) failed", n);
        }
        wire_fill(bufs[i], n, i);
        umf_ipc_handle_t h;
        size_t hs;
        // A pointer inside the allocation, not its start.
        umf_result_t r = umfGetIPCHandle(bufs[i] + n / 2, &h, &hs);
        if (r) {
            FAIL("umfGetIPCHandle: %d", (int)r);
        }
        if (wire_send_handle(sock, i, n, h, (uint32_t)hs)) {
            FAIL("send");
        }
        if (umfPutIPCHandle(h)) { // right after sending, as 0.10.1 did
            FAIL("umfPutIPCHandle");
        }
    }
    char c = 0;
    if (wire_recv_cmd(sock, &c) || c != 'W') {
        FAIL("consumer did not confirm its writes (got '%c')", c);
    }
    for (unsigned i = 0; i < count; i++) {
        if (wire_check(role, bufs[i], alloc_size(i), i + 100)) {
            FAIL("buffer %u: the consumer's writes are not visible", i);
        }
    }
    if (exit_mode) {
        for (unsigned i = 0; i < count; i++) {
            wire_fill(bufs[i], alloc_size(i), i + 200);
        }
        if (shm_name[0]) {
            char path[80];
            snprintf(path, sizeof(path), "/%s", shm_name);
            (void)shm_unlink(path); // the consumer's mappings keep it
        }
        (void)wire_send_cmd(sock, 'X');
        _exit(0); // no free, no destroy
    }
    if (wire_send_cmd(sock, 'D') || wire_recv_cmd(sock, &c) || c != 'C') {
        FAIL("consumer did not close (got '%c')", c);
    }
    for (unsigned i = 0; i < count; i++) {
        umfPoolFree(pool, bufs[i]);
    }
    free(bufs);
    umfPoolDestroy(pool);
    return 0;
}

static int consume(int sock, const char *kind, unsigned count, bool exit_mode,
                   int producer) {
    role = "consumer";
    umf_memory_pool_handle_t pool = make_pool(kind, make_provider("none"));
    if (!pool) {
        FAIL("cannot create a %s pool", kind);
    }
    umf_ipc_handler_handle_t hd;
    if (umfPoolGetIPCHandler(pool, &hd)) {
        FAIL("umfPoolGetIPCHandler");
    }
    size_t want;
    if (umfPoolGetIPCHandleSize(pool, &want)) {
        FAIL("umfPoolGetIPCHandleSize");
    }
    char **opened = calloc(count, sizeof(*opened));
    size_t *sizes = calloc(count, sizeof(*sizes));
    unsigned char hbuf[4096];
    for (unsigned i = 0; i < count; i++) {
        wire_msg_t m;
        if (wire_recv(sock, &m, sizeof(m)) || m.index != i ||
            m.handle_size > sizeof(hbuf) ||
            wire_recv(sock, hbuf, m.handle_size)) {
            FAIL("receive of handle %u", i);
        }
        if (m.handle_size != want) {
            FAIL("handle of %u bytes, umfPoolGetIPCHandleSize says %zu",
                 (unsigned)m.handle_size, want);
        }
        void *q;
        umf_result_t r = umfOpenIPCHandle(hd, (umf_ipc_handle_t)hbuf, &q);
        if (r) {
            FAIL("umfOpenIPCHandle of handle %u: %d (UMF_LOG=level:error;"
                 "output:stderr says why)",
                 i, (int)r);
        }
        if (umfPoolByPtr(q) != pool) {
            FAIL("umfPoolByPtr(opened) is not the consumer's pool");
        }
        sizes[i] = m.alloc_size;
        opened[i] = (char *)q - m.alloc_size / 2;
    }
    // All of them open at once.
    for (unsigned i = 0; i < count; i++) {
        if (wire_check(role, opened[i], sizes[i], i)) {
            FAIL("buffer %u: not the producer's data", i);
        }
        wire_fill(opened[i], sizes[i], i + 100);
    }
    char c = 0;
    if (wire_send_cmd(sock, 'W') || wire_recv_cmd(sock, &c)) {
        FAIL("lost the producer");
    }
    if (exit_mode) {
        if (c != 'X') {
            FAIL("expected the producer's exit notice, got '%c'", c);
        }
        // Gone for good: the socket closes at its exit, and the driver reaps
        // it (bounded wait for that; not a timing assertion).
        (void)wire_recv_cmd(sock, &c);
        for (int k = 0; k < 10000 && kill(producer, 0) == 0; k++) {
            usleep(1000);
        }
        if (kill(producer, 0) == 0) {
            FAIL("producer %d still exists", producer);
        }
        for (unsigned i = 0; i < count; i++) {
            if (wire_check(role, opened[i], sizes[i], i + 200)) {
                FAIL("buffer %u: mapping lost its data after the producer "
                     "exited",
                     i);
            }
        }
    } else if (c != 'D') {
        FAIL("expected 'D', got '%c'", c);
    }
    for (unsigned i = 0; i < count; i++) {
        if (umfCloseIPCHandle(opened[i] + sizes[i] / 2)) {
            FAIL("umfCloseIPCHandle");
        }
    }
    if (!exit_mode && wire_send_cmd(sock, 'C')) {
        FAIL("send");
    }
    free(opened);
    free(sizes);
    umfPoolDestroy(pool);
    return 0;
}

// One handle, from a program under the proxy: verify the pattern (seed 1,
// size in the message), write seed 2, confirm.
static int consume_one(int sock) {
    role = "consumer";
    umf_memory_pool_handle_t pool = make_pool("proxy", make_provider("none"));
    umf_ipc_handler_handle_t hd;
    if (!pool || umfPoolGetIPCHandler(pool, &hd)) {
        FAIL("consumer pool");
    }
    wire_msg_t m;
    unsigned char hbuf[4096];
    if (wire_recv(sock, &m, sizeof(m)) || m.handle_size > sizeof(hbuf) ||
        wire_recv(sock, hbuf, m.handle_size)) {
        FAIL("receive");
    }
    void *q;
    umf_result_t r = umfOpenIPCHandle(hd, (umf_ipc_handle_t)hbuf, &q);
    if (r) {
        FAIL("umfOpenIPCHandle: %d", (int)r);
    }
    if (wire_check(role, q, m.alloc_size, 1)) {
        FAIL("not the producer's data");
    }
    wire_fill(q, m.alloc_size, 2);
    if (umfCloseIPCHandle(q) || wire_send_cmd(sock, 'W')) {
        FAIL("close or send");
    }
    umfPoolDestroy(pool);
    return 0;
}

// The child keeps its end of the socket (not close-on-exec) and closes
// the other, so that it sees EOF when its peer exits.
static pid_t spawn(const char *self, char *const argv[], int other_end) {
    pid_t pid = fork();
    if (pid < 0) {
        FAIL("fork");
    }
    if (pid == 0) {
        close(other_end);
        execv(self, argv);
        perror("execv");
        _exit(127);
    }
    return pid;
}

static int run(const char *self, const char *kind, const char *mech,
               const char *count, bool exit_mode) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        FAIL("socketpair");
    }
    char fdc[16], fdp[16], cpid[16], ppid[16];
    snprintf(fdc, sizeof(fdc), "%d", sv[1]);
    snprintf(fdp, sizeof(fdp), "%d", sv[0]);
    const char *mode = exit_mode ? "exit" : "close";
    // The consumer first (the producer allows it to take its fds), then the
    // producer; the consumer learns the producer's pid from its first line.
    int pp[2];
    if (pipe(pp)) {
        FAIL("pipe");
    }
    char pfd[16];
    snprintf(pfd, sizeof(pfd), "%d", pp[0]);
    char *cargv[] = {(char *)self,  "consume",    fdc, (char *)kind,
                     (char *)count, (char *)mode, pfd, NULL};
    pid_t c = spawn(self, cargv, sv[0]);
    snprintf(cpid, sizeof(cpid), "%d", (int)c);
    char *pargv[] = {(char *)self, "produce",    fdp,
                     (char *)kind, (char *)mech, (char *)count,
                     (char *)mode, cpid,         NULL};
    pid_t p = spawn(self, pargv, sv[1]);
    snprintf(ppid, sizeof(ppid), "%d", (int)p);
    if (write(pp[1], ppid, sizeof(ppid)) != (ssize_t)sizeof(ppid)) {
        FAIL("pipe write");
    }
    close(pp[0]);
    close(pp[1]);
    close(sv[0]);
    close(sv[1]);
    int sp, sc;
    waitpid(p, &sp, 0);
    waitpid(c, &sc, 0);
    bool ok = WIFEXITED(sp) && WEXITSTATUS(sp) == 0 && WIFEXITED(sc) &&
              WEXITSTATUS(sc) == 0;
    printf("%s: pool=%s mech=%s count=%s mode=%s (producer %s, consumer "
           "%s)\n",
           ok ? "PASS" : "FAIL", kind, mech, count, mode,
           WIFEXITED(sp) && !WEXITSTATUS(sp) ? "ok" : "failed",
           WIFEXITED(sc) && !WEXITSTATUS(sc) ? "ok" : "failed");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "pools") == 0) {
        const char *kinds[] = {"proxy", "disjoint", "scalable", "jemalloc"};
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
            umf_memory_pool_handle_t pool =
                make_pool(kinds[i], make_provider("memfd"));
            if (pool) {
                printf("%s\n", kinds[i]);
                umfPoolDestroy(pool);
            } else {
                fprintf(stderr, "note: %s pool unavailable here (%s)\n",
                        kinds[i],
                        strcmp(kinds[i], "scalable") == 0
                            ? "libtbbmalloc.so.2 missing"
                            : "not built: no jemalloc");
            }
        }
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "run") == 0) {
        return run(argv[0], argv[2], argv[3], argv[4],
                   argc >= 6 && strcmp(argv[5], "exit") == 0);
    }
    if (argc == 8 && strcmp(argv[1], "produce") == 0) {
        return produce(atoi(argv[2]), argv[3], argv[4], (unsigned)atoi(argv[5]),
                       strcmp(argv[6], "exit") == 0, atoi(argv[7]));
    }
    if (argc == 7 && strcmp(argv[1], "consume") == 0) {
        char buf[16] = {0};
        int pfd = atoi(argv[6]);
        if (read(pfd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            role = "consumer";
            FAIL("no producer pid");
        }
        close(pfd);
        return consume(atoi(argv[2]), argv[3], (unsigned)atoi(argv[4]),
                       strcmp(argv[5], "exit") == 0, atoi(buf));
    }
    if (argc == 3 && strcmp(argv[1], "consume-one") == 0) {
        return consume_one(atoi(argv[2]));
    }
    fprintf(stderr, "usage: ipc_peer pools | run POOL memfd|shm COUNT "
                    "[exit] | consume-one SOCK\n");
    return 2;
}
