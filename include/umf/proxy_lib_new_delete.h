/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/proxy_lib_new_delete.h - C++ only. Include it in exactly one
 * translation unit of a C++ program: it defines replacements of the global
 * operators new and delete that call malloc, aligned_alloc and free, so
 * that a program running with libumf_proxy.so (LD_PRELOAD, or linked to
 * it) gets its C++ allocations from the proxy's UMF pool too. From C it
 * declares nothing.
 */

#ifndef UMF_PROXY_LIB_NEW_DELETE_H
#define UMF_PROXY_LIB_NEW_DELETE_H

#if defined(__cplusplus)

#include <new>

#ifndef _WIN32
#include <stdlib.h>
#endif

static inline void *internal_aligned_alloc(size_t alignment, size_t size) {
#ifdef _WIN32
    return _aligned_malloc(size, alignment);
#else
    return aligned_alloc(alignment, size);
#endif
}

// [[nodiscard]] is C++17; older standards get no attribute (it only adds
// a warning for ignored results).
#if __cplusplus >= 201703L || (defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#define UMF_PROXY_NODISCARD [[nodiscard]]
#else
#define UMF_PROXY_NODISCARD
#endif

#if defined(_MSC_VER) && defined(_Ret_notnull_) &&                             \
    defined(_Post_writable_byte_size_)
#define decl_new(n)                                                            \
    UMF_PROXY_NODISCARD _Ret_notnull_ _Post_writable_byte_size_(n)
#define decl_new_nothrow(n)                                                    \
    UMF_PROXY_NODISCARD _Ret_maybenull_ _Success_(return != NULL)              \
        _Post_writable_byte_size_(n)
#else
#define decl_new(n)         UMF_PROXY_NODISCARD
#define decl_new_nothrow(n) UMF_PROXY_NODISCARD
#endif

#if defined(_MSC_VER)
#pragma warning(push)
#pragma warning(disable : 28251)
#endif

void operator delete(void *p) noexcept {
    free(p);
}
void operator delete[](void *p) noexcept {
    free(p);
}

void operator delete(void *p, const std::nothrow_t &) noexcept {
    free(p);
}
void operator delete[](void *p, const std::nothrow_t &) noexcept {
    free(p);
}

decl_new(n) void *operator new(std::size_t n) noexcept(false) {
    void *p = malloc(n);
    if (p == NULL) {
        throw std::bad_alloc();
    }
    return p;
}

decl_new(n) void *operator new[](std::size_t n) noexcept(false) {
    void *p = malloc(n);
    if (p == NULL) {
        throw std::bad_alloc();
    }
    return p;
}

decl_new_nothrow(n) void *operator new(std::size_t n,
                                       const std::nothrow_t &) noexcept {
    return malloc(n);
}

decl_new_nothrow(n) void *operator new[](std::size_t n,
                                         const std::nothrow_t &) noexcept {
    return malloc(n);
}

#if (__cplusplus >= 201402L || (defined(_MSC_VER) && _MSC_VER >= 1916))
void operator delete(void *p, std::size_t) noexcept {
    free(p);
}
void operator delete[](void *p, std::size_t) noexcept {
    free(p);
}
#endif

#if (__cplusplus > 201402L || defined(__cpp_aligned_new))
void operator delete(void *p, std::align_val_t) noexcept {
    free(p);
}
void operator delete[](void *p, std::align_val_t) noexcept {
    free(p);
}
void operator delete(void *p, std::size_t, std::align_val_t) noexcept {
    free(p);
}
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept {
    free(p);
}
void operator delete(void *p, std::align_val_t,
                     const std::nothrow_t &) noexcept {
    free(p);
}
void operator delete[](void *p, std::align_val_t,
                       const std::nothrow_t &) noexcept {
    free(p);
}

decl_new(n) void *operator new(std::size_t n,
                               std::align_val_t al) noexcept(false) {
    void *p = internal_aligned_alloc(static_cast<size_t>(al), n);
    if (p == NULL) {
        throw std::bad_alloc();
    }
    return p;
}

decl_new(n) void *operator new[](std::size_t n,
                                 std::align_val_t al) noexcept(false) {
    void *p = internal_aligned_alloc(static_cast<size_t>(al), n);
    if (p == NULL) {
        throw std::bad_alloc();
    }
    return p;
}

decl_new_nothrow(n) void *operator new(std::size_t n, std::align_val_t al,
                                       const std::nothrow_t &) noexcept {
    return internal_aligned_alloc(static_cast<size_t>(al), n);
}

decl_new_nothrow(n) void *operator new[](std::size_t n, std::align_val_t al,
                                         const std::nothrow_t &) noexcept {
    return internal_aligned_alloc(static_cast<size_t>(al), n);
}
#endif

#if defined(_MSC_VER)
#pragma warning(pop)
#endif

#endif // defined(__cplusplus)

#endif /* UMF_PROXY_LIB_NEW_DELETE_H */
