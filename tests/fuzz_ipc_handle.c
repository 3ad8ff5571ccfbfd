/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fuzz_ipc_handle.c - libFuzzer target over the consumer's handle parsing:
 * ipc_handle_check() on exactly the fuzzer's bytes (AddressSanitizer sees
 * any read past them), then umfOpenIPCHandle() through the handler of an
 * OS-provider pool on a buffer of the consumer's handle size.
 *
 * The first input byte picks how the rest is used:
 *   < 0x80  raw: the bytes are the handle (zero-padded or cut)
 *   >= 0x80 near-valid: the bytes are XOR'ed over a real handle of this
 *           process (so an empty rest opens and closes real memory); with
 *           bit 0 set the checksum is recomputed, so the checks behind it
 *           (values, the OS provider's data, the shm name, pidfd_getfd,
 *           the file identity) are reached too. The producer pid inside
 *           the OS data is always this process: the fuzzer takes no fds of
 *           other processes.
 * Every open that succeeds is closed again; nothing may crash or leak
 * mappings (the pool's mapping count is checked).
 *
 * Built against the sources with clang -fsanitize=fuzzer,address and run
 * for a fixed time by `make fuzz-ipc` (FUZZ_TIME seconds, default 60); not
 * part of `make check`.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umf/ipc.h>
#include <umf/pools/pool_proxy.h>
#include <umf/providers/provider_os_memory.h>

#include "ipc_cache.h"
#include "ipc_handle.h"
#include "providers/provider_os_memory_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static umf_memory_pool_handle_t prod, cons;
static umf_ipc_handler_handle_t handler;
static unsigned char *tmpl; // a real handle of prod
static size_t hsize;

static umf_memory_pool_handle_t shared_pool(void) {
    umf_os_memory_provider_params_handle_t p;
    umf_memory_provider_handle_t prov;
    umf_memory_pool_handle_t pool;
    if (umfOsMemoryProviderParamsCreate(&p) ||
        umfOsMemoryProviderParamsSetVisibility(p, UMF_MEM_MAP_SHARED) ||
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), p, &prov) ||
        umfPoolCreate(umfProxyPoolOps(), prov, NULL,
                      UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool)) {
        abort();
    }
    umfOsMemoryProviderParamsDestroy(p);
    return pool;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    prod = shared_pool();
    cons = shared_pool();
    if (umfPoolGetIPCHandler(cons, &handler)) {
        abort();
    }
    void *buf = umfPoolMalloc(prod, 8192);
    umf_ipc_handle_t h;
    if (!buf || umfGetIPCHandle((char *)buf + 100, &h, &hsize)) {
        abort();
    }
    tmpl = malloc(hsize);
    memcpy(tmpl, h, hsize);
    umfPutIPCHandle(h);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The parser alone, on exactly the input.
    (void)ipc_handle_check(data, size, "OS");
    if (size == 0) {
        return 0;
    }
    // A private buffer per run: the handle size the consumer reads.
    unsigned char *buf = malloc(hsize);
    const uint8_t *rest = data + 1;
    size_t n = size - 1 < hsize ? size - 1 : hsize;
    if (data[0] < 0x80) {
        memset(buf, 0, hsize);
        memcpy(buf, rest, n);
    } else {
        memcpy(buf, tmpl, hsize);
        for (size_t i = 0; i < n; i++) {
            buf[i] ^= rest[i];
        }
        os_ipc_data_t d;
        memcpy(&d, buf + sizeof(ipc_header_t), sizeof(d));
        d.pid = (int32_t)getpid();
        memcpy(buf + sizeof(ipc_header_t), &d, sizeof(d));
        if (data[0] & 1) {
            ipc_header_t hdr;
            memcpy(&hdr, buf, sizeof(hdr));
            hdr.checksum = ipc_checksum(buf, hsize);
            memcpy(buf, &hdr, sizeof(hdr));
        }
    }
    void *ptr = NULL;
    if (umfOpenIPCHandle(handler, (umf_ipc_handle_t)buf, &ptr) ==
        UMF_RESULT_SUCCESS) {
        if (umfCloseIPCHandle(ptr) != UMF_RESULT_SUCCESS) {
            abort();
        }
        // One open, one close: the mapping has no reference left, so a
        // second close is refused (an open that took two references, or
        // none, would show here).
        if (umfCloseIPCHandle(ptr) != UMF_RESULT_ERROR_INVALID_ARGUMENT) {
            fprintf(stderr, "fuzz_ipc_handle: a second close succeeded\n");
            abort();
        }
    }
    free(buf);
    return 0;
}
