/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_new.c - C++ operator new and delete, every variant of the Itanium
 * C++ ABI (plain, array, nothrow, sized, aligned), defined by the proxy.
 *
 * libstdc++'s operators call malloc and free, so they would reach the
 * proxy anyway; but the first definition in the process wins, and other
 * libraries export their own: Debian's libjemalloc.so.2 (loaded with the
 * jemalloc pool) defines all of them on jemalloc's arenas. A C++ library
 * loaded after it (dlopen'ed plugins, Python extension modules) would then
 * get memory the proxy's free does not know. Being preloaded, these
 * definitions come first.
 *
 * Out of memory: the throwing forms must call the new-handler and throw
 * std::bad_alloc, which C cannot do, so the slow path hands the request to
 * libstdc++'s own operator (it calls malloc, which is ours again, runs the
 * handler loop and throws). The nothrow forms do the same through
 * libstdc++'s nothrow operator, which catches and returns NULL. Only when
 * no libstdc++ is loaded (then nobody could catch a bad_alloc) does a
 * throwing form end the program, with a message, as an uncaught
 * exception would.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "proxy_internal.h"

#define PX_EXPORT __attribute__((visibility("default")))
#define PX_COLD   __attribute__((noinline, cold))

// The mangled names; declared here because no C header has them.
void *_Znwm(size_t size);
void *_Znam(size_t size);
void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt);
void *_ZnamRKSt9nothrow_t(size_t size, const void *nt);
void *_ZnwmSt11align_val_t(size_t size, size_t align);
void *_ZnamSt11align_val_t(size_t size, size_t align);
void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
                                         const void *nt);
void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
                                         const void *nt);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t size);
void _ZdaPvm(void *p, size_t size);
void _ZdlPvRKSt9nothrow_t(void *p, const void *nt);
void _ZdaPvRKSt9nothrow_t(void *p, const void *nt);
void _ZdlPvSt11align_val_t(void *p, size_t align);
void _ZdaPvSt11align_val_t(void *p, size_t align);
void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align);
void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align);
void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nt);
void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *nt);

// libstdc++'s definition of `name`, or NULL when libstdc++ is not loaded.
static void *px_libstdcxx_sym(const char *name) {
    px_enter(); // dlopen/dlsym may allocate: the system allocator
    void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *f = h ? dlsym(h, name) : NULL;
    if (h) {
        dlclose(h); // drops the reference RTLD_NOLOAD took
    }
    px_leave();
    return f;
}

static PX_COLD void *px_new_fail(const char *name, size_t size, size_t align,
                                 bool nothrow) {
    void *f = px_libstdcxx_sym(name);
    if (f) {
        // The same request through libstdc++: handler loop, then throw
        // (or NULL for nothrow). Its allocation calls our malloc.
        if (align) {
            return nothrow ? ((void *(*)(size_t, size_t, const void *))f)(
                                 size, align, NULL)
                           : ((void *(*)(size_t, size_t))f)(size, align);
        }
        return nothrow ? ((void *(*)(size_t, const void *))f)(size, NULL)
                       : ((void *(*)(size_t))f)(size);
    }
    if (nothrow) {
        return NULL;
    }
    px_write_err("umf_proxy: operator new: out of memory and no libstdc++ "
                 "to throw std::bad_alloc\n");
    abort();
}

static inline void *px_new(const char *name, size_t size, bool nothrow) {
    void *p = malloc(size ? size : 1);
    return px_likely(p != NULL) ? p : px_new_fail(name, size, 0, nothrow);
}

static inline void *px_new_aligned(const char *name, size_t size, size_t align,
                                   bool nothrow) {
    void *p = NULL;
    // align_val_t is a power of two by the standard; anything else is
    // undefined behaviour, answered here as out of memory.
    if (align && (align & (align - 1)) == 0) {
        size_t a = align < sizeof(void *) ? sizeof(void *) : align;
        if (posix_memalign(&p, a, size ? size : 1) != 0) {
            p = NULL;
        }
    }
    return px_likely(p != NULL) ? p : px_new_fail(name, size, align, nothrow);
}

PX_EXPORT void *_Znwm(size_t size) {
    return px_new("_Znwm", size, false);
}
PX_EXPORT void *_Znam(size_t size) {
    return px_new("_Znam", size, false);
}
PX_EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt) {
    (void)nt;
    return px_new("_ZnwmRKSt9nothrow_t", size, true);
}
PX_EXPORT void *_ZnamRKSt9nothrow_t(size_t size, const void *nt) {
    (void)nt;
    return px_new("_ZnamRKSt9nothrow_t", size, true);
}
PX_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t align) {
    return px_new_aligned("_ZnwmSt11align_val_t", size, align, false);
}
PX_EXPORT void *_ZnamSt11align_val_t(size_t size, size_t align) {
    return px_new_aligned("_ZnamSt11align_val_t", size, align, false);
}
PX_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
                                                   const void *nt) {
    (void)nt;
    return px_new_aligned("_ZnwmSt11align_val_tRKSt9nothrow_t", size, align,
                          true);
}
PX_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t align,
                                                   const void *nt) {
    (void)nt;
    return px_new_aligned("_ZnamSt11align_val_tRKSt9nothrow_t", size, align,
                          true);
}

// Every delete is free: the tracker knows each block's pool and size.
PX_EXPORT void _ZdlPv(void *p) {
    free(p);
}
PX_EXPORT void _ZdaPv(void *p) {
    free(p);
}
PX_EXPORT void _ZdlPvm(void *p, size_t size) {
    (void)size;
    free(p);
}
PX_EXPORT void _ZdaPvm(void *p, size_t size) {
    (void)size;
    free(p);
}
PX_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    free(p);
}
PX_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    free(p);
}
PX_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align) {
    (void)align;
    free(p);
}
PX_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align) {
    (void)align;
    free(p);
}
PX_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align) {
    (void)size, (void)align;
    free(p);
}
PX_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align) {
    (void)size, (void)align;
    free(p);
}
PX_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
                                                   const void *nt) {
    (void)align, (void)nt;
    free(p);
}
PX_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align,
                                                   const void *nt) {
    (void)align, (void)nt;
    free(p);
}
