/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_producer.c - share a pool allocation with another process through an
 * IPC handle. This program is the producer; it starts ipc_consumer (found
 * next to it, or given as the first argument), sends it a handle over a
 * Unix socket, and checks what the consumer wrote back into the shared
 * buffer. `make check` runs the pair, once with an anonymous memfd and
 * once with a named shm object (second argument "shm").
 *
 * Build both against an installed umf with:
 *     cc ipc_producer.c $(pkg-config --cflags --libs umf) -o ipc_producer
 *     cc ipc_consumer.c $(pkg-config --cflags --libs umf) -o ipc_consumer
 *
 * Permissions: with an anonymous memfd the consumer duplicates the
 * producer's file descriptor with pidfd_getfd(2), which the kernel allows
 * only to a process that may ptrace the producer: the same user and, with
 * Yama's ptrace_scope=1, only a process the producer names with
 * prctl(PR_SET_PTRACER, pid) (done below). A named shm object is created
 * mode 0600: the consumer must run as the same user.
 */

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_os_memory.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "ipc_producer: %s failed\n", what);                \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static const char message[] = "hello from the producer";

int main(int argc, char **argv) {
    // 1. Shared memory: an OS provider with UMF_MEM_MAP_SHARED visibility.
    //    Without a shm name its memory lives in an anonymous memfd; with
    //    one, in /dev/shm/<name>. Private memory cannot be shared.
    umf_os_memory_provider_params_handle_t params = NULL;
    CHECK(umfOsMemoryProviderParamsCreate(&params) == UMF_RESULT_SUCCESS,
          "umfOsMemoryProviderParamsCreate");
    umfOsMemoryProviderParamsSetVisibility(params, UMF_MEM_MAP_SHARED);
    char shm_name[64] = "";
    if (argc > 2 && strcmp(argv[2], "shm") == 0) {
        snprintf(shm_name, sizeof(shm_name), "umf_example_ipc_%d",
                 (int)getpid());
        umfOsMemoryProviderParamsSetShmName(params, shm_name);
    }
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t res =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &provider);
    umfOsMemoryProviderParamsDestroy(params);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemoryProviderCreate");

    // 2. Any pool works on top; the pool must be tracked (the default), so
    //    that umfGetIPCHandle can find the chunk a pointer belongs to.
    umf_disjoint_pool_params_handle_t dparams = NULL;
    CHECK(umfDisjointPoolParamsCreate(&dparams) == UMF_RESULT_SUCCESS,
          "umfDisjointPoolParamsCreate");
    umf_memory_pool_handle_t pool = NULL;
    res = umfPoolCreate(umfDisjointPoolOps(), provider, dparams,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
    umfDisjointPoolParamsDestroy(dparams);
    CHECK(res == UMF_RESULT_SUCCESS, "umfPoolCreate");

    char *buf = umfPoolMalloc(pool, 4096);
    CHECK(buf != NULL, "umfPoolMalloc");
    strcpy(buf, message);

    // 3. A handle for the buffer: bytes that mean something in another
    //    process. Its size is the pool's handle size.
    umf_ipc_handle_t handle = NULL;
    size_t handle_size = 0;
    CHECK(umfGetIPCHandle(buf, &handle, &handle_size) == UMF_RESULT_SUCCESS,
          "umfGetIPCHandle");

    // 4. Start the consumer with one end of a socket pair.
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    char consumer[PATH_MAX];
    if (argc > 1 && strcmp(argv[1], "-") != 0) {
        snprintf(consumer, sizeof(consumer), "%s", argv[1]);
    } else {
        char self[PATH_MAX];
        snprintf(self, sizeof(self), "%s", argv[0]);
        snprintf(consumer, sizeof(consumer), "%s/ipc_consumer", dirname(self));
    }
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        char fd[16];
        close(sv[0]);
        snprintf(fd, sizeof(fd), "%d", sv[1]);
        execl(consumer, consumer, fd, (char *)NULL);
        perror(consumer);
        _exit(127);
    }
    close(sv[1]);
    // Let the consumer take our memfd (needed under Yama ptrace_scope=1,
    // harmless elsewhere).
    prctl(PR_SET_PTRACER, (unsigned long)child, 0, 0, 0);

    // 5. Send the size, then the bytes. The handle may be put right away:
    //    the consumer's mapping does not depend on it.
    CHECK(write(sv[0], &handle_size, sizeof(handle_size)) ==
                  (ssize_t)sizeof(handle_size) &&
              write(sv[0], handle, handle_size) == (ssize_t)handle_size,
          "sending the handle");
    CHECK(umfPutIPCHandle(handle) == UMF_RESULT_SUCCESS, "umfPutIPCHandle");

    // 6. The consumer answers one byte once it has written its reply into
    //    the shared buffer.
    char done = 0;
    CHECK(read(sv[0], &done, 1) == 1 && done == 'y', "the consumer's answer");
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the consumer");
    CHECK(strcmp(buf + 1024, "hello from the consumer") == 0,
          "reading the consumer's reply");
    printf("ipc_producer: the consumer read \"%s\" and replied \"%s\" (%s)\n",
           message, buf + 1024, shm_name[0] ? "named shm object" : "memfd");

    umfPoolFree(pool, buf);
    umfPoolDestroy(pool); // also destroys the provider (and its shm name)
    return 0;
}
