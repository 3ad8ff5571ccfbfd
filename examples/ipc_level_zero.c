/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_level_zero.c - GPU memory shared between two processes through UMF's
 * IPC API and a Level Zero provider of DEVICE memory (which the CPU does
 * not touch: data moves with the GPU's copy engine, an immediate command
 * list here).
 *
 *   producer (child)                      consumer (parent)
 *   pool on device memory
 *   p = umfPoolMalloc; copy a message in
 *   umfGetIPCHandle(p) --- handle bytes over a pipe --->
 *                                         umfOpenIPCHandle (own pool's
 *                                         IPC handler); copy out, check;
 *                                         umfCloseIPCHandle
 *                      <--- "done" ---
 *   umfPutIPCHandle; umfPoolFree
 *
 * The handle carries the producer's pid and the driver's handle, whose
 * first bytes are the producer's file descriptor of the memory; the
 * consumer copies that descriptor with pidfd_getfd(2). That needs the same
 * user and ptrace permission over the producer: with Yama's ptrace_scope 1
 * (the usual default) a process may only do it to its descendants, which
 * is why the consumer is the parent here; unrelated processes need the
 * producer to call prctl(PR_SET_PTRACER, consumer_pid). See
 * umfLevelZeroMemoryProviderOps(3).
 *
 * Without a Level Zero loader it says so and exits 77. `make check` runs
 * it against the test double of the loader.
 *
 * Build it against an installed umf with:
 *     cc ipc_level_zero.c $(pkg-config --cflags --libs umf) -ldl
 */

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_level_zero.h>

// The Level Zero calls used here (ze_api.h declares them).
typedef struct _ze_driver_handle_t *ze_driver_handle_t;
typedef struct _ze_command_list_handle_t *ze_command_list_handle_t;
static struct {
    uint32_t (*init)(uint32_t flags);
    uint32_t (*driver_get)(uint32_t *count, ze_driver_handle_t *d);
    uint32_t (*device_get)(ze_driver_handle_t d, uint32_t *count,
                           ze_device_handle_t *devices);
    uint32_t (*context_create)(ze_driver_handle_t d, const void *desc,
                               ze_context_handle_t *ctx);
    uint32_t (*list_create)(ze_context_handle_t ctx, ze_device_handle_t dev,
                            const void *queue_desc,
                            ze_command_list_handle_t *list);
    uint32_t (*copy)(ze_command_list_handle_t list, void *dst, const void *src,
                     size_t size, void *signal_event, uint32_t num_wait_events,
                     void **wait_events);
    uint32_t (*list_destroy)(ze_command_list_handle_t list);
    uint32_t (*context_destroy)(ze_context_handle_t ctx);
} ze;

// ze_context_desc_t and ze_command_queue_desc_t (stype 0xd and 0xe; mode
// 1 is ZE_COMMAND_QUEUE_MODE_SYNCHRONOUS: a copy is done when it returns).
struct context_desc {
    uint32_t stype;
    const void *next;
    uint32_t flags;
};
struct queue_desc {
    uint32_t stype;
    const void *next;
    uint32_t ordinal, index, flags, mode, priority;
};

typedef struct gpu_t {
    ze_context_handle_t context;
    ze_device_handle_t device;
    ze_command_list_handle_t list;
    umf_memory_pool_handle_t pool;
} gpu_t;

static const char message[] = "written to GPU memory by the producer";

// Loads the loader; 77 when there is none.
static int load(void) {
    const char *lib = getenv("UMF_ZE_LOADER_LIB");
    void *h =
        dlopen(lib && *lib ? lib : "libze_loader.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        printf("SKIP: no Level Zero loader (%s)\n", dlerror());
        return 77;
    }
    *(void **)&ze.init = dlsym(h, "zeInit");
    *(void **)&ze.driver_get = dlsym(h, "zeDriverGet");
    *(void **)&ze.device_get = dlsym(h, "zeDeviceGet");
    *(void **)&ze.context_create = dlsym(h, "zeContextCreate");
    *(void **)&ze.list_create = dlsym(h, "zeCommandListCreateImmediate");
    *(void **)&ze.copy = dlsym(h, "zeCommandListAppendMemoryCopy");
    *(void **)&ze.list_destroy = dlsym(h, "zeCommandListDestroy");
    *(void **)&ze.context_destroy = dlsym(h, "zeContextDestroy");
    if (!ze.init || !ze.driver_get || !ze.device_get || !ze.context_create ||
        !ze.list_create || !ze.copy || !ze.list_destroy ||
        !ze.context_destroy) {
        fprintf(stderr, "ipc_level_zero: the loader lacks a zeX call\n");
        return 1;
    }
    return 0;
}

// A context, a copy list and a disjoint pool on device memory; each
// process makes its own (a forked child must not reuse its parent's).
// -2 when the driver finds no GPU, -1 when UMF fails.
static int gpu_open(gpu_t *g) {
    ze_driver_handle_t driver = NULL;
    uint32_t n = 1;
    struct context_desc cdesc = {0xd, NULL, 0};
    struct queue_desc qdesc = {0xe, NULL, 0, 0, 0, 1, 0};
    if (ze.init(0) != 0 || ze.driver_get(&n, &driver) != 0 || n == 0 ||
        ze.device_get(driver, &n, &g->device) != 0 || n == 0 ||
        ze.context_create(driver, &cdesc, &g->context) != 0 ||
        ze.list_create(g->context, g->device, &qdesc, &g->list) != 0) {
        return -2;
    }
    umf_level_zero_memory_provider_params_handle_t params = NULL;
    umf_memory_provider_handle_t provider = NULL;
    if (umfLevelZeroMemoryProviderParamsCreate(&params) != UMF_RESULT_SUCCESS) {
        return -1;
    }
    umfLevelZeroMemoryProviderParamsSetContext(params, g->context);
    umfLevelZeroMemoryProviderParamsSetDevice(params, g->device);
    umfLevelZeroMemoryProviderParamsSetMemoryType(params,
                                                  UMF_MEMORY_TYPE_DEVICE);
    umf_result_t res = umfMemoryProviderCreate(umfLevelZeroMemoryProviderOps(),
                                               params, &provider);
    umfLevelZeroMemoryProviderParamsDestroy(params);
    if (res != UMF_RESULT_SUCCESS) {
        return -1;
    }
    umf_disjoint_pool_params_handle_t pool_params = NULL;
    if (umfDisjointPoolParamsCreate(&pool_params) != UMF_RESULT_SUCCESS) {
        return -1;
    }
    res = umfPoolCreate(umfDisjointPoolOps(), provider, pool_params,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &g->pool);
    umfDisjointPoolParamsDestroy(pool_params);
    return res == UMF_RESULT_SUCCESS ? 0 : -1;
}

// Destroys the pool (and its provider), the copy list and the context.
static void gpu_close(gpu_t *g) {
    umfPoolDestroy(g->pool);
    ze.list_destroy(g->list);
    ze.context_destroy(g->context);
}

static int producer(int to_consumer, int from_consumer) {
    gpu_t g;
    int r = gpu_open(&g);
    if (r == -2) {
        return 77; // no GPU: the consumer reports it
    }
    if (r != 0) {
        fprintf(stderr, "producer: no GPU pool\n");
        return 1;
    }
    void *p = umfPoolMalloc(g.pool, sizeof(message));
    if (!p || ze.copy(g.list, p, message, sizeof(message), NULL, 0, NULL)) {
        fprintf(stderr, "producer: allocation or copy failed\n");
        return 1;
    }
    umf_ipc_handle_t handle = NULL;
    size_t size = 0;
    if (umfGetIPCHandle(p, &handle, &size) != UMF_RESULT_SUCCESS) {
        fprintf(stderr, "producer: umfGetIPCHandle failed\n");
        return 1;
    }
    // The handle is plain bytes: send its size, then the bytes.
    if (write(to_consumer, &size, sizeof(size)) != sizeof(size) ||
        write(to_consumer, handle, size) != (ssize_t)size) {
        return 1;
    }
    char done;
    if (read(from_consumer, &done, 1) != 1) { // keep p alive until then
        return 1;
    }
    umfPutIPCHandle(handle);
    umfPoolFree(g.pool, p);
    gpu_close(&g);
    return 0;
}

static int consumer(int from_producer, int to_producer) {
    size_t size = 0;
    char handle[4096];
    if (read(from_producer, &size, sizeof(size)) != sizeof(size) ||
        size > sizeof(handle) ||
        read(from_producer, handle, size) != (ssize_t)size) {
        return 2; // the producer failed; main says why
    }
    gpu_t g;
    if (gpu_open(&g) != 0) {
        fprintf(stderr, "consumer: no GPU pool\n");
        return 1;
    }
    // Open through the IPC handler of a pool of the same kind of provider.
    umf_ipc_handler_handle_t handler = NULL;
    void *p = NULL;
    if (umfPoolGetIPCHandler(g.pool, &handler) != UMF_RESULT_SUCCESS ||
        umfOpenIPCHandle(handler, (umf_ipc_handle_t)handle, &p) !=
            UMF_RESULT_SUCCESS) {
        fprintf(stderr, "consumer: umfOpenIPCHandle failed\n");
        return 1;
    }
    char text[sizeof(message)] = "";
    int ok = ze.copy(g.list, text, p, sizeof(text), NULL, 0, NULL) == 0 &&
             strcmp(text, message) == 0;
    printf("consumer: read \"%s\" from the producer's GPU memory\n", text);
    umfCloseIPCHandle(p);
    if (write(to_producer, "x", 1) != 1) {
        ok = 0;
    }
    gpu_close(&g);
    return ok ? 0 : 1;
}

int main(void) {
    int r = load();
    if (r != 0) {
        return r;
    }
    int to_consumer[2], to_producer[2];
    if (pipe(to_consumer) != 0 || pipe(to_producer) != 0) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(to_consumer[0]);
        close(to_producer[1]);
        _exit(producer(to_consumer[1], to_producer[0]));
    }
    close(to_consumer[1]);
    close(to_producer[0]);
    int ret = consumer(to_consumer[0], to_producer[1]);
    close(to_producer[1]);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        fprintf(stderr, "ipc_level_zero: the producer died\n");
        return 1;
    }
    if (WEXITSTATUS(status) == 77) {
        printf("SKIP: Level Zero found no GPU\n");
        return 77;
    }
    if (WEXITSTATUS(status) != 0 || ret != 0) {
        fprintf(stderr, "ipc_level_zero: %s failed\n",
                WEXITSTATUS(status) != 0 ? "the producer" : "the consumer");
        return 1;
    }
    return 0;
}
