/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_file_heap.c - an ordinary program (no UMF calls) that
 * tests/test_proxy_file.sh runs under libumf_proxy.so with file.dir=DIR,
 * to see where its blocks live and what fork does to them.
 *
 *   where SIZE...   mallocs each size, writes it, and prints one line per
 *                   size: "SIZE PATH", PATH being the file its block maps
 *                   ("-" for anonymous memory, as /proc/self/maps says)
 *   fork DIR        blocks of several sizes on the heap's file in DIR;
 *                   forks 3 times: the parent overwrites every block at
 *                   once, the child must still see the contents of the
 *                   moment of fork, writes its own, frees and allocates,
 *                   must map nothing of DIR any more, and forks a
 *                   grandchild that does the same; the parent's blocks
 *                   must hold the parent's bytes at the end
 *
 * Exit status 0 when all went well; a message on stderr otherwise.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

// The path of the mapping that holds p ("-" if anonymous) into out.
static int mapping_of(const void *p, char *out, size_t cap) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        return -1;
    }
    char line[4096];
    int found = -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        int off = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &off) < 2) {
            continue;
        }
        if ((uintptr_t)p < lo || (uintptr_t)p >= hi) {
            continue;
        }
        char *path = line + off;
        path[strcspn(path, "\n")] = '\0';
        snprintf(out, cap, "%s", off && *path ? path : "-");
        found = 0;
        break;
    }
    fclose(f);
    return found;
}

// How many mappings of a file under dir this process has.
static int mappings_under(const char *dir) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        return -1;
    }
    char line[4096];
    int n = 0;
    size_t len = strlen(dir);
    while (fgets(line, sizeof(line), f)) {
        char *slash = strchr(line, '/');
        if (slash && strncmp(slash, dir, len) == 0 && slash[len] == '/') {
            n++;
        }
    }
    fclose(f);
    return n;
}

static int mode_where(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        size_t n = strtoull(argv[i], NULL, 0);
        char *p = malloc(n);
        if (!p) {
            fprintf(stderr, "malloc(%zu) failed\n", n);
            return 1;
        }
        memset(p, 0x5a, n);
        char path[4096];
        if (mapping_of(p, path, sizeof(path)) != 0) {
            fprintf(stderr, "%p (malloc(%zu)) is in no mapping\n", (void *)p,
                    n);
            return 1;
        }
        printf("%zu %s\n", n, path);
        // kept: later sizes must not reuse this block
    }
    return 0;
}

static const size_t sizes[] = {24, 1000, 70000, (size_t)3 << 20,
                               (size_t)16 << 20};
#define NBLOCKS (sizeof(sizes) / sizeof(sizes[0]))

static int check(unsigned char *const *b, unsigned char want, const char *who) {
    for (size_t i = 0; i < NBLOCKS; i++) {
        for (size_t j = 0; j < sizes[i]; j++) {
            if (b[i][j] != want) {
                fprintf(stderr,
                        "%s (pid %d): block %zu of %zu bytes: byte %zu is "
                        "0x%02x, expected 0x%02x\n",
                        who, (int)getpid(), i, sizes[i], j, b[i][j], want);
                return 1;
            }
        }
    }
    return 0;
}

static void fill(unsigned char *const *b, unsigned char v) {
    for (size_t i = 0; i < NBLOCKS; i++) {
        memset(b[i], v, sizes[i]);
    }
}

// A fork child: sees `want`, writes its own, allocates, forks once more
// when `depth` allows.
static int child(unsigned char **b, unsigned char want, const char *dir,
                 int depth) {
    if (check(b, want, "child")) {
        return 1;
    }
    int n = mappings_under(dir);
    if (n != 0) {
        fprintf(stderr, "child (pid %d): %d mappings of %s left\n",
                (int)getpid(), n, dir);
        return 1;
    }
    fill(b, 0xcc);
    for (size_t i = 0; i < NBLOCKS; i++) {
        free(b[i]);
        b[i] = malloc(sizes[i]);
        if (!b[i]) {
            fprintf(stderr, "child: malloc(%zu) failed\n", sizes[i]);
            return 1;
        }
    }
    for (int k = 0; k < 2000; k++) { // churn: slabs come and go
        void *q = malloc((size_t)(16 + (k * 97) % 300000));
        if (!q) {
            return 1;
        }
        memset(q, k, 16);
        free(q);
    }
    fill(b, 0xdd);
    if (depth > 0) {
        pid_t pid = fork();
        if (pid < 0) {
            return 1;
        }
        if (pid == 0) {
            _exit(child(b, 0xdd, dir, depth - 1));
        }
        fill(b, 0xee);
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
            fprintf(stderr, "grandchild failed\n");
            return 1;
        }
        return check(b, 0xee, "child after its child");
    }
    return check(b, 0xdd, "grandchild");
}

static int mode_fork(const char *dir) {
    unsigned char *b[NBLOCKS];
    for (size_t i = 0; i < NBLOCKS; i++) {
        b[i] = malloc(sizes[i]);
        char path[4096];
        if (!b[i] || mapping_of(b[i], path, sizeof(path)) != 0 ||
            strncmp(path, dir, strlen(dir)) != 0) {
            fprintf(stderr, "block of %zu bytes not on a file in %s\n",
                    sizes[i], dir);
            return 1;
        }
    }
    for (int round = 0; round < 3; round++) {
        unsigned char v = (unsigned char)(0x10 + round);
        fill(b, v);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            _exit(child(b, v, dir, 1));
        }
        // At once: the child must have its copy of v already.
        fill(b, (unsigned char)(v + 0x40));
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
            fprintf(stderr, "fork round %d: the child failed\n", round);
            return 1;
        }
        if (check(b, (unsigned char)(v + 0x40), "parent")) {
            return 1;
        }
        if (mappings_under(dir) == 0) {
            fprintf(stderr, "parent: the heap left %s\n", dir);
            return 1;
        }
    }
    for (size_t i = 0; i < NBLOCKS; i++) {
        free(b[i]);
    }
    printf("fork: ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "where") == 0) {
        return mode_where(argc - 2, argv + 2);
    }
    if (argc == 3 && strcmp(argv[1], "fork") == 0) {
        return mode_fork(argv[2]);
    }
    fprintf(stderr, "usage: %s where SIZE... | fork DIR\n", argv[0]);
    return 2;
}
