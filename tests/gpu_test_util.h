/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * gpu_test_util.h - shared by the GPU provider suites: reaching a test
 * double of a driver, capturing libumf's log, checking that a CPU touch of
 * device memory crashes, and pipes for two-process IPC tests.
 */

#ifndef UMF_GPU_TEST_UTIL_H
#define UMF_GPU_TEST_UTIL_H

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// libumf's log configuration (exported for the proxy; as UMF_LOG=config).
void umf_private_log_configure(const char *umf_log_string);

// dlopen'ed test double: the same handle libumf gets for the same path.
static void *gpu_fake_open(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("SKIP: cannot load the test double %s: %s\n", path, dlerror());
        fflush(stdout);
        exit(77);
    }
    return h;
}

static void *gpu_fake_sym(void *h, const char *name) {
    void *f = dlsym(h, name);
    ck_assert_msg(f != NULL, "test double lacks %s", name);
    return f;
}

// Sends errors (only) to a fresh temporary file; returns its path.
static void gpu_log_capture(char path[64]) {
    strcpy(path, "/tmp/umf_gpu_log_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cfg[128];
    snprintf(cfg, sizeof(cfg), "output:file,%s;level:error", path);
    umf_private_log_configure(cfg);
}

// Lines in the log file, and how many contain needle; removes the file.
static int gpu_log_lines(const char *path, const char *needle, int *matching) {
    umf_private_log_configure("output:stderr;level:fatal");
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int n = 0;
    *matching = 0;
    while (fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, needle)) {
            (*matching)++;
        }
    }
    fclose(f);
    unlink(path);
    return n;
}

// pidfd_open(2) and pidfd_getfd(2) exist (Linux >= 5.6; valgrind lacks
// them). Otherwise prints why the calling test does not run IPC between
// processes and returns 0.
static int gpu_pidfd_works(const char *test) {
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0 && errno == ENOSYS) {
        printf("note: %s skipped: pidfd_open unavailable (ENOSYS: Linux < "
               "5.3, or valgrind)\n",
               test);
        return 0;
    }
    if (fd >= 0) {
        int d = (int)syscall(SYS_pidfd_getfd, fd, 0, 0);
        int e = errno;
        close(fd);
        if (d < 0 && e == ENOSYS) {
            printf("note: %s skipped: pidfd_getfd unavailable (ENOSYS: "
                   "Linux < 5.6, or valgrind)\n",
                   test);
            return 0;
        }
        if (d >= 0) {
            close(d);
        }
    }
    return 1;
}

// The signal that kills a child reading one byte at p (0: none).
static int gpu_touch_signal(const void *p) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        // The default action, also where a sanitizer installed its own
        // handler (it would report the fault and exit instead).
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        volatile const char *c = p;
        char v = *c;
        (void)v;
        _exit(0);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void gpu_write_all(int fd, const void *buf, size_t n) {
    const char *b = buf;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) {
            _exit(90);
        }
        b += w;
        n -= (size_t)w;
    }
}

// Reads exactly n bytes; 0, or -1 at end of file.
static int gpu_read_all(int fd, void *buf, size_t n) {
    char *b = buf;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r <= 0) {
            return -1;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

#endif /* UMF_GPU_TEST_UTIL_H */
