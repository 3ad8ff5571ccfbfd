/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_consumer.c - the other half of ipc_producer.c: it receives an IPC
 * handle on the socket whose file descriptor is its argument, opens it
 * through the IPC handler of a pool of its own, reads the producer's
 * message, writes a reply into the same memory and closes the handle.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "ipc_consumer: %s failed\n", what);                \
            return 1;                                                          \
        }                                                                      \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: ipc_consumer SOCKET_FD; argument check");
    int sock = atoi(argv[1]);

    // 1. The consumer's pool: its provider must also be a shared OS
    //    provider. It needs no shm name, even for a producer that uses one:
    //    the handle names the producer's object.
    umf_os_memory_provider_params_handle_t params = NULL;
    CHECK(umfOsMemoryProviderParamsCreate(&params) == UMF_RESULT_SUCCESS,
          "umfOsMemoryProviderParamsCreate");
    umfOsMemoryProviderParamsSetVisibility(params, UMF_MEM_MAP_SHARED);
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t res =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &provider);
    umfOsMemoryProviderParamsDestroy(params);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemoryProviderCreate");
    umf_memory_pool_handle_t pool = NULL;
    CHECK(umfPoolCreate(umfProxyPoolOps(), provider, NULL,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER,
                        &pool) == UMF_RESULT_SUCCESS,
          "umfPoolCreate");

    // 2. Receive the handle: its size, then its bytes, into our memory.
    size_t size = 0;
    CHECK(read(sock, &size, sizeof(size)) == (ssize_t)sizeof(size) &&
              size > 0 && size < 65536,
          "receiving the handle size");
    void *bytes = malloc(size);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(sock, (char *)bytes + got, size - got);
        CHECK(n > 0, "receiving the handle");
        got += (size_t)n;
    }

    // 3. Open it through the pool's IPC handler: the producer's memory is
    //    mapped here (once per producer chunk, however often it is
    //    opened) and registered under our pool.
    umf_ipc_handler_handle_t handler = NULL;
    CHECK(umfPoolGetIPCHandler(pool, &handler) == UMF_RESULT_SUCCESS,
          "umfPoolGetIPCHandler");
    char *buf = NULL;
    res = umfOpenIPCHandle(handler, (umf_ipc_handle_t)bytes, (void **)&buf);
    free(bytes); // UMF keeps no pointer to the handle's bytes
    if (res != UMF_RESULT_SUCCESS) {
        fprintf(stderr,
                "ipc_consumer: umfOpenIPCHandle: %d (run with "
                "UMF_LOG=\"level:error;output:stderr\" to see why)\n",
                (int)res);
        return 1;
    }
    CHECK(umfPoolByPtr(buf) == pool, "umfPoolByPtr of the opened memory");

    // 4. Shared memory: what we read is the producer's, what we write it
    //    sees.
    printf("ipc_consumer: read \"%s\"\n", buf);
    CHECK(strcmp(buf, "hello from the producer") == 0, "reading the message");
    strcpy(buf + 1024, "hello from the consumer");

    // 5. Close when done (the mapping goes at the last close, or when the
    //    pool is destroyed), then tell the producer.
    CHECK(umfCloseIPCHandle(buf) == UMF_RESULT_SUCCESS, "umfCloseIPCHandle");
    CHECK(write(sock, "y", 1) == 1, "answering");
    umfPoolDestroy(pool);
    return 0;
}
