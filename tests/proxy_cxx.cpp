// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// proxy_cxx.cpp - C++ allocation under libumf_proxy.so: every form of
// operator new (plain, array, nothrow, aligned) must end in the proxy's
// pool, and the standard containers must work. Run by tests/test_proxy.sh;
// prints a checksum that must match a run without the proxy.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <umf/memory_pool.h>

static int failures;

static void expect_pool(const void *p, const char *what) {
    if (!p || !umfPoolByPtr(p)) {
        std::fprintf(stderr, "FAIL: %s: %p is not in a UMF pool\n", what, p);
        failures++;
    }
}

struct alignas(256) Wide {
    unsigned char bytes[300];
};

int main() {
    bool preloaded = std::getenv("LD_PRELOAD") != nullptr;

    int *one = new int(7);
    int *many = new int[1000]();
    char *nothrow = new (std::nothrow) char[100];
    Wide *wide = new Wide;
    Wide *wides = new Wide[3];
    void *raw = ::operator new(123);
    void *raw_aligned = ::operator new(1000, std::align_val_t(4096));
    if (preloaded) {
        expect_pool(one, "new");
        expect_pool(many, "new[]");
        expect_pool(nothrow, "new(nothrow)[]");
        expect_pool(wide, "aligned new");
        expect_pool(wides, "aligned new[]");
        expect_pool(raw, "operator new");
        expect_pool(raw_aligned, "operator new(align_val_t)");
    }
    if (reinterpret_cast<std::uintptr_t>(wide) % 256 ||
        reinterpret_cast<std::uintptr_t>(wides) % 256 ||
        reinterpret_cast<std::uintptr_t>(raw_aligned) % 4096) {
        std::fprintf(stderr, "FAIL: aligned new is misaligned\n");
        failures++;
    }
    delete one;
    delete[] many;
    delete[] nothrow;
    delete wide;
    delete[] wides;
#if defined(__cpp_sized_deallocation)
    ::operator delete(raw, 123); // sized
#else
    ::operator delete(raw); // clang before 17 needs -fsized-deallocation
#endif
    ::operator delete(raw_aligned, std::align_val_t(4096));

    // Containers: a map of strings to vectors, grown and shrunk.
    unsigned long sum = 0;
    std::map<std::string, std::vector<long>> m;
    for (long i = 0; i < 20000; i++) {
        std::string key =
            "key-" + std::to_string(i % 997) + std::string(i % 40, 'x');
        auto &v = m[key];
        v.push_back(i);
        if (v.size() > 20) {
            v.erase(v.begin(), v.begin() + 10);
        }
    }
    for (auto &kv : m) {
        sum += kv.first.size();
        for (long x : kv.second) {
            sum += static_cast<unsigned long>(x);
        }
    }
    auto shared = std::make_shared<std::vector<std::string>>(1000, "text");
    sum += shared->size();
    std::unique_ptr<double[]> arr(new double[5000]);
    if (preloaded) {
        expect_pool(arr.get(), "unique_ptr<double[]>");
    }
    std::printf("checksum %lu\n", sum);
    return failures ? 1 : 0;
}
