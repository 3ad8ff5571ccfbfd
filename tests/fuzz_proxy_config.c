/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fuzz_proxy_config.c - libFuzzer target over the proxy's configuration
 * parser (proxy/proxy_config.c): the UMF_PROXY string and the config file.
 *
 * The first input byte picks the sources (bit 0: UMF_PROXY, bit 1: a
 * config file, neither: both), bit 2 the program name for [sections]
 * ("python3.11" or none); the second byte where the rest is cut between
 * the file and the string. The file is written to one temporary file per
 * process. Checked on every input, beyond "no crash, no out-of-bounds
 * access" (AddressSanitizer):
 *   - px_config_load returns 0 or -1;
 *   - on -1 the message is one non-empty line of printable ASCII (the
 *     input it echoes escaped), starting with where: "UMF_PROXY: " or
 *     "<file>:";
 *   - on 0 the configuration prints (umfrun --show, stats) without error;
 *   - px_escape of the raw input is printable ASCII, fits its buffer and
 *     is cut only between escapes.
 *
 * Built against the sources with clang -fsanitize=fuzzer,address and run
 * for a fixed time by `make fuzz-proxy-config` (FUZZ_TIME seconds, default
 * 60); not part of `make check`.
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_path[64];
static int fz_fd = -1;
static int fz_null = -1;

static void fz_fail(const char *what, const char *msg) {
    fprintf(stderr, "fuzz_proxy_config: %s: [%s]\n", what, msg);
    abort();
}

static void fz_printable(const char *what, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            fz_fail(what, s);
        }
    }
}

static void fz_setup(void) {
    snprintf(fz_path, sizeof(fz_path), "/dev/shm/umf_fuzz_conf.%d.XXXXXX",
             (int)getpid());
    fz_fd = mkstemp(fz_path);
    fz_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fz_fd < 0 || fz_null < 0) {
        perror("fuzz_proxy_config: set-up");
        exit(1);
    }
}

static void fz_cleanup(void) {
    if (fz_fd >= 0) {
        unlink(fz_path);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fz_fd < 0) {
        fz_setup();
        atexit(fz_cleanup);
    }
    if (size < 2) {
        return 0;
    }
    unsigned mode = data[0];
    size_t rest = size - 2;
    size_t cut = (size_t)data[1] * rest / 255;
    const uint8_t *body = data + 2;

    bool use_env = (mode & 3) != 2;
    bool use_file = (mode & 3) != 1;
    const char *prog = (mode & 4) ? "python3.11" : NULL;

    // The string: NUL-terminated copy of its part (an embedded NUL ends it,
    // as it would in the environment).
    char env[4096];
    size_t en = rest - cut < sizeof(env) - 1 ? rest - cut : sizeof(env) - 1;
    memcpy(env, body + cut, en);
    env[en] = '\0';

    if (use_file) {
        if (ftruncate(fz_fd, 0) != 0 ||
            pwrite(fz_fd, body, cut, 0) != (ssize_t)cut) {
            perror("fuzz_proxy_config: writing the config file");
            exit(1);
        }
    }

    static px_config_t cfg;
    char err[512];
    memset(err, 'Z', sizeof(err));
    int r =
        px_config_load(&cfg, use_env ? env : NULL, use_file ? fz_path : NULL,
                       true, prog, err, sizeof(err));
    if (r == 0) {
        if (err[0] != '\0') {
            fz_fail("success with a message", err);
        }
        px_config_print(&cfg, fz_null);
    } else if (r == -1) {
        if (memchr(err, '\0', sizeof(err)) == NULL) {
            fz_fail("message not terminated", "");
        }
        if (err[0] == '\0') {
            fz_fail("error without a message", "");
        }
        fz_printable("message not printable ASCII", err);
        if (strncmp(err, "UMF_PROXY: ", 11) != 0 &&
            strncmp(err, fz_path, strlen(fz_path)) != 0) {
            fz_fail("message does not say where", err);
        }
    } else {
        fz_fail("px_config_load returned neither 0 nor -1", "");
    }

    // px_escape on the raw string, into a buffer of a size the input picks.
    char esc[64];
    size_t cap = 1 + (size_t)(mode >> 3) % sizeof(esc);
    memset(esc, 'Z', sizeof(esc));
    size_t n = px_escape(esc, cap, env);
    if (n >= cap || esc[n] != '\0' || strlen(esc) != n) {
        fz_fail("px_escape overran or miscounted", "");
    }
    fz_printable("px_escape output not printable ASCII", esc);
    if (n > 0 && esc[n - 1] == '\\') {
        // A trailing backslash must be a whole "\\" escape.
        size_t k = 0;
        while (k < n && esc[n - 1 - k] == '\\') {
            k++;
        }
        if (k % 2) {
            fz_fail("px_escape cut an escape in half", esc);
        }
    }
    return 0;
}
