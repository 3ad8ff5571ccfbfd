/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_dlopen.c - a C program that dlopens a C++ library (argv[1],
 * tests/proxy_plugin.cpp) under libumf_proxy.so, as nm does with its LLVM
 * plugin and python with C++ extension modules. Every block the library's
 * operator new returns must be in the proxy's pool (umfPoolByPtr: this
 * program links libumf and shares the proxy's tracker), deletes must work,
 * and an impossible request must throw std::bad_alloc (nothrow: NULL).
 * Run by tests/test_proxy.sh; exits 0 when all holds.
 */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <umf/memory_pool.h>

static int failures;

#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                               \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void *sym(void *h, const char *name) {
    void *f = dlsym(h, name);
    if (!f) {
        fprintf(stderr, "FAIL: %s not in the plugin: %s\n", name, dlerror());
        exit(1);
    }
    return f;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    void *(*pnew)(size_t) = (void *(*)(size_t))sym(h, "plugin_new");
    void (*pdel)(void *) = (void (*)(void *))sym(h, "plugin_delete");
    void *(*pnew_al)(size_t, size_t) =
        (void *(*)(size_t, size_t))sym(h, "plugin_new_aligned");
    void (*pdel_al)(void *, size_t) =
        (void (*)(void *, size_t))sym(h, "plugin_delete_aligned");
    int (*throws)(size_t) = (int (*)(size_t))sym(h, "plugin_new_throws");
    int (*nothrow_null)(size_t) =
        (int (*)(size_t))sym(h, "plugin_new_nothrow_null");
    size_t (*containers)(void) = (size_t(*)(void))sym(h, "plugin_containers");

    for (size_t n = 1; n < (4u << 20); n = n * 5 + 3) {
        unsigned char *p = pnew(n);
        EXPECT(p != NULL, "new[%zu] returned NULL", n);
        EXPECT(umfPoolByPtr(p) != NULL, "new[%zu] = %p is not in a UMF pool", n,
               (void *)p);
        memset(p, 0x5c, n);
        pdel(p);
    }
    void *a = pnew_al(3000, 4096);
    EXPECT(a && (uintptr_t)a % 4096 == 0, "aligned new: %p", a);
    EXPECT(umfPoolByPtr(a) != NULL, "aligned new %p is not in a UMF pool", a);
    pdel_al(a, 4096);

    size_t huge = SIZE_MAX / 2;
    EXPECT(throws(huge) == 1, "new of %zu bytes did not throw bad_alloc", huge);
    EXPECT(nothrow_null(huge) == 1, "nothrow new of %zu bytes not NULL", huge);
    EXPECT(throws(100) == 0, "new of 100 bytes threw");

    size_t sum = containers();
    EXPECT(sum == 247500, "containers: sum %zu, expected 247500", sum);
    dlclose(h);
    if (!failures) {
        printf("ok: operator new of a dlopen'ed C++ library is the proxy's\n");
    }
    return failures ? 1 : 0;
}
