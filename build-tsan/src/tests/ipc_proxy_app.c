/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_proxy_app.c - a program run under LD_PRELOAD=libumf_proxy.so with a
 * shared page disposition (tests/test_ipc_proxy.sh): it mallocs a buffer,
 * which the proxy serves from OS-provider shared memory, gets an IPC
 * handle for it through the API, and hands it to another process
 * (tests/ipc_peer consume-one, a plain libumf program without the proxy),
 * which opens it, checks the data and writes back.
 *
 *   ipc_proxy_app PEER
 */

#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>

#include "ipc_wire.h"

#define SIZE (1u << 20)

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: ipc_proxy_app PEER\n");
        return 2;
    }
    char *buf = malloc(SIZE);
    if (buf) {
        wire_fill(buf, SIZE, 1);
    }
    if (!buf || !umfPoolByPtr(buf)) {
        fprintf(stderr, "ipc_proxy_app: malloc is not served by a UMF pool "
                        "(not under the proxy?)\n");
        return 1;
    }
    umf_ipc_handle_t h;
    size_t hs;
    umf_result_t r = umfGetIPCHandle(buf, &h, &hs);
    if (r != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "ipc_proxy_app: umfGetIPCHandle: %d\n", (int)r);
        return 1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
        perror("socketpair");
        return 1;
    }
    pid_t c = fork();
    if (c == 0) {
        close(sv[0]);
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", sv[1]);
        unsetenv("LD_PRELOAD"); // the consumer is a plain libumf program
        execl(argv[1], argv[1], "consume-one", fd, (char *)NULL);
        perror("execl");
        _exit(127);
    }
    close(sv[1]);
    // With Yama's ptrace_scope=1 a child may not take its parent's fds
    // unless the parent names it.
    (void)prctl(PR_SET_PTRACER, (unsigned long)c, 0, 0, 0);
    char cmd = 0;
    int ok = wire_send_handle(sv[0], 0, SIZE, h, (uint32_t)hs) == 0 &&
             wire_recv_cmd(sv[0], &cmd) == 0 && cmd == 'W';
    umfPutIPCHandle(h);
    int st = 0;
    waitpid(c, &st, 0);
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "ipc_proxy_app: the consumer failed\n");
        return 1;
    }
    if (wire_check("ipc_proxy_app", buf, SIZE, 2)) {
        return 1;
    }
    free(buf);
    printf("ipc_proxy_app: pid %d: consumer read the proxy heap's buffer and "
           "wrote back\n",
           (int)getpid());
    return 0;
}
