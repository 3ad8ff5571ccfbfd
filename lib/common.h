/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * common.h - small macros shared by every file of lib/: export marking,
 * branch hints, alignment arithmetic and internal assertions.
 */

#ifndef UMF_COMMON_H
#define UMF_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

// Public definitions carry UMF_EXPORT; everything else is hidden
// (-fvisibility=hidden) and the version script lib/libumf.map lists the API.
#define UMF_EXPORT __attribute__((visibility("default")))

#define likely(x)    __builtin_expect(!!(x), 1)
#define unlikely(x)  __builtin_expect(!!(x), 0)
#define UMF_NOINLINE __attribute__((noinline))
#define UMF_COLD     __attribute__((cold))
#define UMF_UNUSED   __attribute__((unused))

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

// Acquire/release fences of the seqlocks. GCC's ThreadSanitizer does not
// support atomic_thread_fence (-Wtsan). Every field such a fence orders is
// itself an atomic, so TSan reports no race either way; the TSan build
// (x86 only: there acquire and release fences emit no instruction) keeps
// the compiler ordering.
#ifdef __SANITIZE_THREAD__
#define umf_fence(order) atomic_signal_fence(order)
#else
#define umf_fence(order) atomic_thread_fence(order)
#endif

// Engines that ThreadSanitizer cannot see into (tbbmalloc, and the jemalloc
// linked into libjemalloc_pool) order a free before the next allocation of
// the same block with their own, uninstrumented atomics: the pools mark
// that order on the block's address, so that TSan does not report the
// program's writes to a reused block as races. tbbmalloc may hand out
// freed memory at another block start (it splits and merges), so the
// scalable pool also orders every free before every later allocation on
// the pool itself.
#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define umf_tsan_acquire(p) __tsan_acquire((void *)(p))
#define umf_tsan_release(p) __tsan_release((void *)(p))
#else
#define umf_tsan_acquire(p) ((void)0)
#define umf_tsan_release(p) ((void)0)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool is_pow2(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

// pre: a is a power of two.
static inline size_t align_up(size_t x, size_t a) {
    return (x + a - 1) & ~(a - 1);
}

// pre: a is a power of two.
static inline uintptr_t align_down_ptr(uintptr_t x, uintptr_t a) {
    return x & ~(a - 1);
}

// Overflow-checked align_up: false when x rounded up to a does not fit.
static inline bool align_up_checked(size_t x, size_t a, size_t *out) {
    if (x > SIZE_MAX - (a - 1)) {
        return false;
    }
    *out = align_up(x, a);
    return true;
}

// Copies src into dst[cap] (cap > 0), cut short to fit, always ended by a
// NUL; what snprintf(dst, cap, "%s", src) does, without pulling printf's
// code and tables into a process's start-up (libumf and the proxy copy
// names while a preloaded program starts).
static inline void umf_str_copy(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

// Internal invariants only; compiled in by --enable-debug.
enum { umf_cfg_debug = UMF_CFG_DEBUG };
void umf_assert_fail(const char *expr, const char *file, int line,
                     const char *func) __attribute__((noreturn));
#define UMF_ASSERT(expr)                                                       \
    do {                                                                       \
        if (umf_cfg_debug && !(expr)) {                                        \
            umf_assert_fail(#expr, __FILE__, __LINE__, __func__);              \
        }                                                                      \
    } while (0)

#endif /* UMF_COMMON_H */
