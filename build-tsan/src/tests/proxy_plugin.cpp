// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// proxy_plugin.cpp - a C++ library that tests/proxy_dlopen loads with
// dlopen under libumf_proxy.so: it arrives after the proxy's own
// libraries (Debian's jemalloc among them, which defines operator new), so
// its operator new must still be the proxy's. Each function exercises one
// form of new and returns the block, or reports how an impossible request
// failed (std::bad_alloc caught, or nullptr from nothrow).

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

extern "C" {

void *plugin_new(std::size_t n) {
    return new char[n];
}

void plugin_delete(void *p) {
    delete[] static_cast<char *>(p);
}

void *plugin_new_aligned(std::size_t n, std::size_t align) {
    return ::operator new(n, std::align_val_t(align));
}

void plugin_delete_aligned(void *p, std::size_t align) {
    ::operator delete(p, std::align_val_t(align));
}

// 1 when new of `n` bytes threw std::bad_alloc.
int plugin_new_throws(std::size_t n) {
    try {
        void *p = ::operator new(n);
        ::operator delete(p);
        return 0;
    } catch (const std::bad_alloc &) {
        return 1;
    }
}

// 1 when nothrow new of `n` bytes returned nullptr.
int plugin_new_nothrow_null(std::size_t n) {
    void *p = ::operator new(n, std::nothrow);
    ::operator delete(p);
    return p == nullptr;
}

// A vector of strings built and torn down inside the library.
std::size_t plugin_containers(void) {
    std::vector<std::string> v;
    std::size_t sum = 0;
    for (int i = 0; i < 5000; i++) {
        v.push_back(std::string(static_cast<std::size_t>(i % 100), 'q'));
    }
    for (const auto &s : v) {
        sum += s.size();
    }
    return sum;
}
}
