/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_cuda_real.c - the CUDA provider on a real GPU and the real driver
 * (libcuda.so.1, or the library UMF_CUDA_REAL_LIB names). Skips, saying
 * why, where there is no driver or no GPU: `make check` runs it
 * everywhere, and it only tests something on a machine with an NVIDIA GPU.
 * tests/test_provider_cuda covers the same provider against the test
 * double, with failure injection; this one checks what only the real
 * driver can: that the memory of each type is what CUDA says it is, that
 * the contents survive a disjoint pool on device memory, that errors map
 * as documented, and IPC between two processes.
 *
 * The driver is loaded here too (RTLD_GLOBAL, so libumf uses the same
 * copy); its calls are declared as cuda.h does. Each test runs in its own
 * process (Check's fork mode) and initialises CUDA there: CUDA cannot be
 * used in a child forked after cuInit, so main probes in a child too.
 */

#include <dlfcn.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_cuda.h>

#include "helpers.h"

extern char **environ;

typedef unsigned long long dptr_t; // CUdeviceptr
typedef int (*cu_init_fn)(unsigned);
typedef int (*cu_device_get_fn)(int *, int);
typedef int (*cu_ctx_create_fn)(void **, unsigned, int);
typedef int (*cu_ctx_destroy_fn)(void *);
typedef int (*cu_memcpy_htod_fn)(dptr_t, const void *, size_t);
typedef int (*cu_memcpy_dtoh_fn)(void *, dptr_t, size_t);
typedef int (*cu_memset_d8_fn)(dptr_t, unsigned char, size_t);
typedef int (*cu_ctx_synchronize_fn)(void);
typedef int (*cu_pointer_get_attribute_fn)(void *, int, dptr_t);

// CUpointer_attribute and CUmemorytype values (cuda.h).
#define CU_POINTER_ATTRIBUTE_MEMORY_TYPE 2
#define CU_POINTER_ATTRIBUTE_IS_MANAGED  8
#define CU_MEMORYTYPE_HOST               1
#define CU_MEMORYTYPE_DEVICE             2
#define CUDA_ERROR_OUT_OF_MEMORY         2

static struct {
    void *lib;
    cu_init_fn init;
    cu_device_get_fn device_get;
    cu_ctx_create_fn ctx_create;
    cu_ctx_destroy_fn ctx_destroy;
    cu_memcpy_htod_fn htod;
    cu_memcpy_dtoh_fn dtoh;
    cu_memset_d8_fn memset_d8;
    cu_ctx_synchronize_fn sync;
    cu_pointer_get_attribute_fn attr;
} cu;

static const char *lib_name(void) {
    const char *lib = getenv("UMF_CUDA_REAL_LIB");
    return lib && *lib ? lib : "libcuda.so.1";
}

// Loads the driver's entry points; false (and *why) when it cannot.
static bool load_driver(const char **why) {
    cu.lib = dlopen(lib_name(), RTLD_NOW | RTLD_GLOBAL);
    if (!cu.lib) {
        *why = dlerror();
        return false;
    }
    struct {
        const char *name;
        void **fn;
    } syms[] = {
        {"cuInit", (void **)&cu.init},
        {"cuDeviceGet", (void **)&cu.device_get},
        {"cuCtxCreate_v2", (void **)&cu.ctx_create},
        {"cuCtxDestroy_v2", (void **)&cu.ctx_destroy},
        {"cuMemcpyHtoD_v2", (void **)&cu.htod},
        {"cuMemcpyDtoH_v2", (void **)&cu.dtoh},
        {"cuMemsetD8_v2", (void **)&cu.memset_d8},
        {"cuCtxSynchronize", (void **)&cu.sync},
        {"cuPointerGetAttribute", (void **)&cu.attr},
    };
    for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
        *syms[i].fn = dlsym(cu.lib, syms[i].name);
        if (!*syms[i].fn) {
            *why = syms[i].name;
            return false;
        }
    }
    return true;
}

static void *ctx;

static void setup(void) {
    const char *why = NULL;
    ck_assert_msg(load_driver(&why), "driver: %s", why);
    int dev = -1;
    ck_assert_int_eq(cu.init(0), 0);
    ck_assert_int_eq(cu.device_get(&dev, 0), 0);
    ck_assert_int_eq(cu.ctx_create(&ctx, 0, dev), 0);
}

static void teardown(void) {
    if (ctx) {
        cu.ctx_destroy(ctx);
        ctx = NULL;
    }
}

static umf_memory_provider_handle_t provider(umf_usm_memory_type_t type) {
    umf_cuda_memory_provider_params_handle_t p = NULL;
    ck_assert_int_eq(umfCUDAMemoryProviderParamsCreate(&p), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetContext(p, ctx),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetDevice(p, 0),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfCUDAMemoryProviderParamsSetMemoryType(p, type),
                     UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t prov = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfCUDAMemoryProviderOps(), p, &prov),
        UMF_RESULT_SUCCESS);
    umfCUDAMemoryProviderParamsDestroy(p);
    return prov;
}

static umf_memory_pool_handle_t disjoint_on(umf_memory_provider_handle_t prov) {
    umf_disjoint_pool_params_handle_t p = NULL;
    ck_assert_int_eq(umfDisjointPoolParamsCreate(&p), UMF_RESULT_SUCCESS);
    umf_memory_pool_handle_t pool = NULL;
    ck_assert_int_eq(umfPoolCreate(umfDisjointPoolOps(), prov, p,
                                   UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool),
                     UMF_RESULT_SUCCESS);
    umfDisjointPoolParamsDestroy(p);
    return pool;
}

// Fills n bytes at the GPU address d with a pattern of seed, through the
// driver, and checks them back.
static void fill(dptr_t d, size_t n, unsigned seed) {
    unsigned char *h = malloc(n);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++) {
        h[i] = (unsigned char)(seed * 131u + i * 7u);
    }
    ck_assert_int_eq(cu.htod(d, h, n), 0);
    free(h);
}

static bool holds(dptr_t d, size_t n, unsigned seed) {
    unsigned char *h = malloc(n);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(cu.dtoh(h, d, n), 0);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        ok = h[i] == (unsigned char)(seed * 131u + i * 7u);
    }
    free(h);
    return ok;
}

static const umf_usm_memory_type_t types[] = {
    UMF_MEMORY_TYPE_HOST, UMF_MEMORY_TYPE_DEVICE, UMF_MEMORY_TYPE_SHARED};
static const char *const type_names[] = {"host", "device", "shared"};

// Each type: what CUDA says the memory is, page sizes, alignments, and the
// contents through the driver (and through the CPU where it can touch it).
START_TEST(test_memory_types) {
    umf_usm_memory_type_t type = types[_i];
    umf_memory_provider_handle_t prov = provider(type);
    size_t min_page = 0, rec_page = 0;
    ck_assert_int_eq(umfMemoryProviderGetMinPageSize(prov, NULL, &min_page),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(
        umfMemoryProviderGetRecommendedPageSize(prov, 4096, &rec_page),
        UMF_RESULT_SUCCESS);
    ck_assert_uint_gt(min_page, 0);
    printf("%s: min page %zu, recommended page %zu\n", type_names[_i], min_page,
           rec_page);
    static const size_t sizes[] = {1, 100, 4096, 65536, 1 << 20, 64 << 20};
    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        void *p = NULL;
        size_t align = s % 2 ? min_page : 0;
        ck_assert_int_eq(umfMemoryProviderAlloc(prov, sizes[s], align, &p),
                         UMF_RESULT_SUCCESS);
        ck_assert_ptr_nonnull(p);
        if (align) {
            ck_assert_uint_eq((uintptr_t)p % align, 0);
        }
        dptr_t d = (dptr_t)(uintptr_t)p;
        int mtype = 0, managed = 0;
        ck_assert_int_eq(cu.attr(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d),
                         0);
        ck_assert_int_eq(cu.attr(&mtype, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d),
                         0);
        if (type == UMF_MEMORY_TYPE_HOST) {
            ck_assert_int_eq(mtype, CU_MEMORYTYPE_HOST);
            ck_assert_int_eq(managed, 0);
        } else if (type == UMF_MEMORY_TYPE_DEVICE) {
            ck_assert_int_eq(mtype, CU_MEMORYTYPE_DEVICE);
            ck_assert_int_eq(managed, 0);
        } else {
            ck_assert_int_eq(managed, 1);
        }
        fill(d, sizes[s], (unsigned)s);
        ck_assert(holds(d, sizes[s], (unsigned)s));
        if (type != UMF_MEMORY_TYPE_DEVICE) {
            // The CPU sees what the driver wrote, and the driver what the
            // CPU writes.
            unsigned char *c = p;
            ck_assert_uint_eq(c[sizes[s] - 1],
                              (unsigned char)(s * 131u + (sizes[s] - 1) * 7u));
            memset(c, 0x3c, sizes[s]);
            unsigned char last = 0;
            ck_assert_int_eq(cu.dtoh(&last, d + sizes[s] - 1, 1), 0);
            ck_assert_uint_eq(last, 0x3c);
        }
        ck_assert_int_eq(umfMemoryProviderFree(prov, p, sizes[s]),
                         UMF_RESULT_SUCCESS);
    }
    // An alignment above the granularity is refused, not ignored.
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, 4096, min_page * 2, &p),
                     UMF_RESULT_ERROR_NOT_SUPPORTED);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// Out of device memory: the documented code, and the driver's own.
START_TEST(test_out_of_memory) {
    umf_memory_provider_handle_t prov = provider(UMF_MEMORY_TYPE_DEVICE);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(prov, (size_t)1 << 50, 0, &p),
                     UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY);
    ck_assert_ptr_null(p);
    const char *msg = NULL;
    int32_t code = 0;
    umfMemoryProviderGetLastNativeError(prov, &msg, &code);
    ck_assert_int_eq(code, CUDA_ERROR_OUT_OF_MEMORY);
    ck_assert_ptr_nonnull(msg);
    printf("out of memory: native %d (%s)\n", code, msg);
    umfMemoryProviderDestroy(prov);
}
END_TEST

// A disjoint pool on device memory: thousands of blocks of many sizes,
// each filled through the driver; no two share a byte, and every block
// keeps its contents while others come and go.
START_TEST(test_disjoint_on_device) {
    umf_memory_pool_handle_t pool =
        disjoint_on(provider(UMF_MEMORY_TYPE_DEVICE));
    enum { N = 3000 };
    static void *blk[N];
    static size_t len[N];
    unsigned r = 12345;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (blk[i] && (r = r * 1103515245u + 12345u) % 2) {
                continue; // kept from the last round
            }
            if (blk[i]) {
                ck_assert_int_eq(umfPoolFree(pool, blk[i]), UMF_RESULT_SUCCESS);
            }
            r = r * 1103515245u + 12345u;
            len[i] = 1 + (r >> 8) % (i % 10 == 0 ? 300000 : 2000);
            blk[i] = umfPoolMalloc(pool, len[i]);
            ck_assert_ptr_nonnull(blk[i]);
            ck_assert_ptr_eq(umfPoolByPtr(blk[i]), pool);
            fill((dptr_t)(uintptr_t)blk[i], len[i], (unsigned)i);
        }
        ck_assert_int_eq(cu.sync(), 0);
        for (int i = 0; i < N; i++) {
            ck_assert_msg(holds((dptr_t)(uintptr_t)blk[i], len[i], (unsigned)i),
                          "round %d: block %d (%zu bytes at %p) overwritten",
                          round, i, len[i], blk[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(umfPoolFree(pool, blk[i]), UMF_RESULT_SUCCESS);
        blk[i] = NULL;
    }
    umfPoolDestroy(pool);
}
END_TEST

// Shared (managed) memory in a pool, used by the CPU.
START_TEST(test_disjoint_on_shared) {
    umf_memory_pool_handle_t pool =
        disjoint_on(provider(UMF_MEMORY_TYPE_SHARED));
    for (int i = 0; i < 1000; i++) {
        size_t n = (size_t)(1 + i * 37);
        unsigned char *p = umfPoolMalloc(pool, n);
        ck_assert_ptr_nonnull(p);
        memset(p, i & 0xff, n);
        unsigned char last = 0;
        ck_assert_int_eq(cu.dtoh(&last, (dptr_t)(uintptr_t)(p + n - 1), 1), 0);
        ck_assert_uint_eq(last, (unsigned)(i & 0xff));
        ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    }
    umfPoolDestroy(pool);
}
END_TEST

// IPC: this process makes a handle for a block inside a pooled device
// allocation, a second process (this program, spawned with "consumer")
// opens it through a pool of its own and checks the contents.
static int consumer(void) {
    setup();
    unsigned char h[4096];
    size_t n = fread(h, 1, sizeof(h), stdin);
    if (n < sizeof(size_t)) {
        return 10;
    }
    size_t len;
    memcpy(&len, h, sizeof(len));
    umf_memory_pool_handle_t pool =
        disjoint_on(provider(UMF_MEMORY_TYPE_DEVICE));
    umf_ipc_handler_handle_t handler = NULL;
    if (umfPoolGetIPCHandler(pool, &handler) != UMF_RESULT_SUCCESS) {
        return 11;
    }
    void *p = NULL;
    umf_result_t r =
        umfOpenIPCHandle(handler, (umf_ipc_handle_t)(h + sizeof(len)), &p);
    if (r != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfOpenIPCHandle: %d\n", (int)r);
        return 12;
    }
    bool ok = holds((dptr_t)(uintptr_t)p, len, 77);
    // Write back, for the producer to see.
    fill((dptr_t)(uintptr_t)p, len, 78);
    cu.sync();
    if (umfCloseIPCHandle(p) != UMF_RESULT_SUCCESS) {
        return 13;
    }
    umfPoolDestroy(pool);
    teardown();
    return ok ? 0 : 14;
}

START_TEST(test_ipc_two_processes) {
    umf_memory_pool_handle_t pool =
        disjoint_on(provider(UMF_MEMORY_TYPE_DEVICE));
    size_t len = 200000;
    void *p = umfPoolMalloc(pool, len);
    ck_assert_ptr_nonnull(p);
    fill((dptr_t)(uintptr_t)p, len, 77);
    ck_assert_int_eq(cu.sync(), 0);
    umf_ipc_handle_t h = NULL;
    size_t hsize = 0;
    ck_assert_int_eq(umfGetIPCHandle(p, &h, &hsize), UMF_RESULT_SUCCESS);
    ck_assert_uint_le(hsize + sizeof(len), 4096);

    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ck_assert_int_gt(sl, 0);
    self[sl] = '\0';
    char *argv[] = {self, "consumer", NULL};
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, self, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    ck_assert_int_eq(write(fds[1], &len, sizeof(len)), (ssize_t)sizeof(len));
    ck_assert_int_eq(write(fds[1], h, hsize), (ssize_t)hsize);
    close(fds[1]);
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "consumer status %d",
                  st);
    // What the consumer wrote is here.
    ck_assert(holds((dptr_t)(uintptr_t)p, len, 78));
    ck_assert_int_eq(umfPutIPCHandle(h), UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfPoolFree(pool, p), UMF_RESULT_SUCCESS);
    umfPoolDestroy(pool);
}
END_TEST

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "consumer") == 0) {
        return consumer();
    }
    const char *why = NULL;
    if (!load_driver(&why)) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "no CUDA driver (%s): the real-GPU checks run only on a "
                 "machine with an NVIDIA GPU",
                 why ? why : lib_name());
        skip_binary(msg);
    }
    // Probe the GPU in a child: CUDA is unusable in children forked after
    // cuInit, and Check forks one per test.
    pid_t pid = fork();
    if (pid == 0) {
        int dev = -1;
        _exit(cu.init(0) == 0 && cu.device_get(&dev, 0) == 0 ? 0 : 1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
        WEXITSTATUS(st) != 0) {
        skip_binary("the CUDA driver is installed but finds no GPU");
    }
    Suite *s = suite_create("cuda_real");
    TCase *tc = tcase_create("gpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_memory_types, 0, (int)ARRAY_SIZE(types));
    tcase_add_test(tc, test_out_of_memory);
    tcase_add_test(tc, test_disjoint_on_device);
    tcase_add_test(tc, test_disjoint_on_shared);
    tcase_add_test(tc, test_ipc_two_processes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
