/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_wire.h - what the multi-process IPC tests and the IPC examples' test
 * programs share: sending IPC handles over a Unix socket (a length, then
 * the bytes), one-byte commands, and the byte patterns the producer and
 * the consumer write and verify.
 */

#ifndef UMF_TEST_IPC_WIRE_H
#define UMF_TEST_IPC_WIRE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int wire_send(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// 0 on success, 1 on EOF before the first byte, -1 on error or short read.
static inline int wire_recv(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = recv(fd, p + got, len - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0) {
            return got == 0 ? 1 : -1;
        }
        if (n < 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

// A handle message: the allocation's size, the handle's size, the handle.
typedef struct wire_msg_t {
    uint64_t alloc_size;
    uint32_t handle_size;
    uint32_t index;
} wire_msg_t;

static inline int wire_send_handle(int fd, uint32_t index, uint64_t alloc_size,
                                   const void *h, uint32_t hsize) {
    wire_msg_t m = {alloc_size, hsize, index};
    return wire_send(fd, &m, sizeof(m)) || wire_send(fd, h, hsize) ? -1 : 0;
}

static inline int wire_send_cmd(int fd, char c) {
    return wire_send(fd, &c, 1);
}

static inline int wire_recv_cmd(int fd, char *c) {
    return wire_recv(fd, c, 1);
}

static inline unsigned char wire_byte(size_t i, unsigned seed) {
    return (unsigned char)(i * 131u + seed * 7u + (i >> 8));
}

static inline void wire_fill(void *p, size_t n, unsigned seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        b[i] = wire_byte(i, seed);
    }
}

// 0 when p holds the pattern; else prints the first bad byte.
static inline int wire_check(const char *who, const void *p, size_t n,
                             unsigned seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != wire_byte(i, seed)) {
            fprintf(stderr, "%s: byte %zu of %zu is 0x%02x, want 0x%02x\n", who,
                    i, n, b[i], wire_byte(i, seed));
            return -1;
        }
    }
    return 0;
}

#endif /* UMF_TEST_IPC_WIRE_H */
