/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_lifecycle.c - an ordinary program (no UMF calls) that stresses
 * thread exit, fork and process exit; tests/test_proxy_lifecycle.sh runs it
 * under libumf_proxy.so with every pool and page disposition. Each mode
 * exits 0 when all went well; a crash, an abort or a hang (alarm) fails.
 *
 *   storm      20,000 detached threads, 8 at a time, each malloc/free and
 *              the frees glibc makes after a thread's TSD destructors
 *   late       8,000 joined threads whose last frees come after their
 *              destructors (strerror of an unknown errno, a failed
 *              dlopen); prints the RSS growth in KiB, must stay bounded
 *   fork       threads come and go while the main thread forks 20 times;
 *              each child allocates, runs a thread and forks a grandchild
 *              that does the same
 *   forks      4 threads fork at the same moment, 10 times each, while
 *              they allocate blocks of every size (small, runs of pages,
 *              large); each child allocates and runs a thread
 *   exit       LD_PRELOAD cleared, then exit while 4 threads still malloc
 *              and free
 *   atexit     LD_PRELOAD cleared; a handler registered before any
 *              constructor ran (preinit_array) frees memory after every
 *              library destructor, libumf's included
 */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static _Atomic long finished;

// Divisor of thread counts under sanitizers and valgrind (UMF_TEST_SLOW).
static long slow(void) {
    const char *v = getenv("UMF_TEST_SLOW");
    long f = v ? atol(v) : 1;
    return f > 0 ? f : 1;
}

static void *small_work(void *arg) {
    (void)arg;
    void *b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = malloc((size_t)(16 + 200 * i));
        if (b[i]) {
            memset(b[i], i, 16);
        }
    }
    for (int i = 0; i < 8; i++) {
        free(b[i]);
    }
    finished++;
    return NULL;
}

static int mode_storm(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    long total = 20000 / slow();
    for (long done = 0; done < total; done += 8) {
        for (int i = 0; i < 8; i++) {
            pthread_t t;
            if (pthread_create(&t, &attr, small_work, NULL) != 0) {
                perror("pthread_create");
                return 1;
            }
        }
        while (atomic_load(&finished) < done + 8) {
            usleep(50);
        }
    }
    pthread_attr_destroy(&attr);
    return 0;
}

// A thread whose frees come after its TSD destructors: glibc keeps the
// strerror buffer and the dlerror state in memory it frees at thread exit.
static void *late_work(void *arg) {
    (void)arg;
    small_work(NULL);
    (void)strerror(100000 + (int)(atomic_load(&finished) % 7));
    void *h = dlopen("libumf-does-not-exist.so.9", RTLD_NOW);
    if (h) {
        dlclose(h);
    }
    return NULL;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

static int mode_late(void) {
    int n = 200 + (int)(8000 / slow());
    long before = 0;
    for (int i = 0; i < n; i++) {
        if (i == 200) {
            before = rss_kib(); // after a warm-up
        }
        pthread_t t;
        if (pthread_create(&t, NULL, late_work, NULL) != 0) {
            perror("pthread_create");
            return 1;
        }
        pthread_join(t, NULL);
        if (i == n - 1) {
            printf("%ld\n", rss_kib() - before);
        }
    }
    return 0;
}

static _Atomic int stop;

static void *churner(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, small_work, NULL) == 0) {
            pthread_join(t, NULL);
        }
    }
    return NULL;
}

static int in_child(const char *kept, int depth) {
    if (strcmp(kept, "kept across fork") != 0) {
        return 2;
    }
    for (int i = 0; i < 200; i++) {
        char *p = malloc((size_t)(1 + i * 97));
        if (!p) {
            return 3;
        }
        memset(p, 3, (size_t)(1 + i * 97));
        free(p);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, small_work, NULL) != 0) {
        return 4;
    }
    pthread_join(t, NULL);
    if (depth > 0) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            _exit(in_child(kept, depth - 1));
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
            return 5;
        }
        if (WEXITSTATUS(st)) {
            return 10 + WEXITSTATUS(st);
        }
    }
    return 0;
}

static int mode_fork(void) {
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, churner, NULL);
    }
    int ret = 0;
    for (int round = 0; round < 20 && !ret; round++) {
        char *kept = strdup("kept across fork");
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            _exit(in_child(kept, 1));
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            ret = 1;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "round %d: child status %d\n", round, st);
            ret = 1;
        }
        free(kept);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
    }
    return ret;
}

static pthread_barrier_t forks_start;

static void *forker(void *arg) {
    long id = (long)arg;
    int ret = 0;
    pthread_barrier_wait(&forks_start);
    for (int round = 0; round < 10 && !ret; round++) {
        // A small block, one of a run of pages, one over 128 KiB.
        size_t sizes[3] = {24 + (size_t)id, 40000, 300000 + (size_t)id * 4096};
        char *b[3];
        for (int i = 0; i < 3; i++) {
            b[i] = malloc(sizes[i]);
            if (!b[i]) {
                return (void *)1L;
            }
            memset(b[i], (int)id, sizes[i]);
        }
        char *kept = strdup("kept across fork");
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            for (int i = 0; i < 3; i++) {
                if (b[i][sizes[i] - 1] != (char)id) {
                    _exit(6);
                }
                free(b[i]);
            }
            _exit(in_child(kept, 0));
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            ret = 1;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "thread %ld round %d: child status %d\n", id, round,
                    st);
            ret = 1;
        }
        free(kept);
        for (int i = 0; i < 3; i++) {
            free(b[i]);
        }
    }
    return (void *)(long)ret;
}

// Forks from several threads at once: glibc runs each fork's handlers in
// its own thread, concurrently; the fork registry must still take every
// lock for each fork (a child that starts with one held hangs).
static int mode_forks(void) {
    enum { N = 4 };
    pthread_t th[N];
    pthread_barrier_init(&forks_start, NULL, N);
    fflush(NULL);
    for (long i = 0; i < N; i++) {
        if (pthread_create(&th[i], NULL, forker, (void *)i) != 0) {
            return 1;
        }
    }
    int ret = 0;
    for (int i = 0; i < N; i++) {
        void *r;
        pthread_join(th[i], &r);
        ret |= r != NULL;
    }
    pthread_barrier_destroy(&forks_start);
    return ret;
}

static void *forever(void *arg) {
    (void)arg;
    for (unsigned i = 0;; i++) {
        void *p = malloc(8 + (i % 2000));
        void *q = malloc(100000 + (i % 3) * 50000);
        free(p);
        free(q);
    }
    return NULL;
}

static int mode_exit(void) {
    unsetenv("LD_PRELOAD");
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        pthread_create(&t, NULL, forever, NULL);
        pthread_detach(t);
    }
    usleep(50000);
    return 0; // exit() with the threads still running
}

// --- atexit: a handler that runs after every library destructor ---

static void *late_blocks[64];

static void free_late(void) {
    for (int i = 0; i < 64; i++) {
        free(late_blocks[i]);
    }
    // And allocate again, as some destructors do.
    free(malloc(1000));
}

// Runs before any shared library's constructor, so the handler is
// registered before libumf's and the proxy's destructors and runs after
// them.
static void register_early(void) {
    atexit(free_late);
}
__attribute__((section(".preinit_array"),
               used)) static void (*const preinit)(void) = register_early;

static int mode_atexit(void) {
    unsetenv("LD_PRELOAD");
    for (int i = 0; i < 64; i++) {
        late_blocks[i] = malloc((size_t)(8 << (i % 16)));
        if (!late_blocks[i]) {
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s storm|late|fork|forks|exit|atexit\n",
                argv[0]);
        return 2;
    }
    alarm(240);
    const char *m = argv[1];
    if (!strcmp(m, "storm")) {
        return mode_storm();
    }
    if (!strcmp(m, "late")) {
        return mode_late();
    }
    if (!strcmp(m, "fork")) {
        return mode_fork();
    }
    if (!strcmp(m, "forks")) {
        return mode_forks();
    }
    if (!strcmp(m, "exit")) {
        return mode_exit();
    }
    if (!strcmp(m, "atexit")) {
        return mode_atexit();
    }
    return 2;
}
