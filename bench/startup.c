/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * startup.c - what a preloaded allocator adds to a process that only
 * starts and exits: wall time of posix_spawn + wait of /bin/true, and the
 * peak RSS of a process that does nothing (this program itself, run with
 * --hwm, prints its own VmHWM).
 *
 *   startup RUNS ENV [ENV...]
 *
 * Each ENV is one configuration: environment entries separated by '|'
 * (for example "LD_PRELOAD=/path/libumf_proxy.so|UMF_PROXY=pool=host");
 * "-" is the plain environment of no preload. The configurations run in
 * turn, RUNS spawns each, for 5 rounds, so that drift on a shared machine
 * hits every one alike; the line per configuration gives the fastest
 * round's mean in ms and the mean VmHWM of 31 idle processes in KiB:
 *
 *   startup <ms> <KiB> <ENV>
 *
 * Unlike timing `env LD_PRELOAD=... /bin/true` from a shell, nothing else
 * is loaded, searched or forked in the measured part: the launcher itself
 * runs without the preload.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS    5
#define HWM_RUNS  31
#define MAX_CONF  16
#define MAX_ENV   16
#define TRUE_PATH "/bin/true"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// Splits conf into env[] (PATH kept, so that nothing is searched for).
static void make_env(char *conf, char **env) {
    size_t n = 0;
    env[n++] = "PATH=/usr/bin:/bin";
    if (strcmp(conf, "-") != 0) {
        for (char *save, *t = strtok_r(conf, "|", &save); t && n < MAX_ENV - 1;
             t = strtok_r(NULL, "|", &save)) {
            env[n++] = t;
        }
    }
    env[n] = NULL;
}

// Spawns argv under env and waits; the child's exit status must be 0.
static int run(char *const argv[], char *const env[], int out_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    }
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "startup: posix_spawn %s: %s\n", argv[0],
                strerror(err));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "startup: %s failed (status 0x%x)\n", argv[0], st);
        return -1;
    }
    return 0;
}

// Mean VmHWM (KiB) of HWM_RUNS idle copies of this program under env.
// Not the median: each process's RSS depends on where libc's code falls
// relative to the kernel's 64 KiB fault-around windows (its load address
// is random), so single values of one configuration form clusters 100-200
// KiB apart, and the median of a few runs jumps between them.
static long idle_hwm(const char *self, char *const env[]) {
    long sum = 0;
    for (int i = 0; i < HWM_RUNS; i++) {
        FILE *f = tmpfile();
        if (!f) {
            return -1;
        }
        char *argv[] = {(char *)self, "--hwm", NULL};
        long v;
        if (run(argv, env, fileno(f)) != 0 || fseek(f, 0, SEEK_SET) != 0 ||
            fscanf(f, "%ld", &v) != 1) {
            fclose(f);
            return -1;
        }
        fclose(f);
        sum += v;
    }
    return (sum + HWM_RUNS / 2) / HWM_RUNS;
}

// --hwm: print this process's own peak RSS in KiB.
static int print_hwm(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof(line), f)) {
        long kib;
        if (sscanf(line, "VmHWM: %ld", &kib) == 1) {
            printf("%ld\n", kib);
            fclose(f);
            return 0;
        }
    }
    if (f) {
        fclose(f);
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--hwm") == 0) {
        return print_hwm();
    }
    char *end;
    long runs = argc >= 3 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 3 || *end || runs < 1 || argc - 2 > MAX_CONF) {
        fprintf(stderr,
                "usage: startup RUNS ENV [ENV...] (at most %d; ENV: "
                "NAME=VALUE|NAME=VALUE..., or - for none)\n",
                MAX_CONF);
        return 2;
    }
    int nconf = argc - 2;
    char *env[MAX_CONF][MAX_ENV];
    char *label[MAX_CONF];
    double best[MAX_CONF];
    for (int j = 0; j < nconf; j++) {
        label[j] = argv[2 + j];
        char *copy = strdup(argv[2 + j]);
        if (!copy) {
            return 1;
        }
        make_env(copy, env[j]);
        best[j] = -1;
    }
    char *true_argv[] = {TRUE_PATH, NULL};
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < nconf; j++) {
            double t0 = now_ms();
            for (long i = 0; i < runs; i++) {
                if (run(true_argv, env[j], -1) != 0) {
                    fprintf(stderr, "startup: under %s\n", label[j]);
                    return 1;
                }
            }
            double t = (now_ms() - t0) / (double)runs;
            if (best[j] < 0 || t < best[j]) {
                best[j] = t;
            }
        }
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        perror("startup: /proc/self/exe");
        return 1;
    }
    self[len] = '\0';
    for (int j = 0; j < nconf; j++) {
        long kib = idle_hwm(self, env[j]);
        if (kib < 0) {
            fprintf(stderr, "startup: no VmHWM under %s\n", label[j]);
            return 1;
        }
        printf("startup %.3f %ld %s\n", best[j], kib, label[j]);
    }
    return 0;
}
