/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * dram_and_fsdax.c - two pools in one program, as memkind users mix DRAM
 * and persistent memory: one pool on the OS provider (DRAM), one on the
 * file provider over a file on an FSDAX filesystem (persistent memory
 * mapped with MAP_SYNC). umfFree finds the pool of each allocation by
 * itself. Built and run by `make check`; exits non-zero if anything does
 * not behave as described.
 *
 * The FSDAX file is the first argument or $UMF_TESTS_FSDAX_PATH. Without
 * one - no machine this project is tested on has a DAX filesystem - the
 * example uses a file in /dev/shm (tmpfs: ordinary shared memory, no
 * MAP_SYNC) and says so; everything else runs the same.
 *
 * The file provider never frees (its memory goes when the provider is
 * destroyed), so the file pool puts the coarse provider between them: the
 * coarse provider takes big chunks of the file and hands them out and back
 * as the pool needs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/providers/provider_coarse.h>
#include <umf/providers/provider_file_memory.h>
#include <umf/providers/provider_os_memory.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "dram_and_fsdax: %s failed\n", what);              \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

// A disjoint pool on a provider; the pool owns (destroys) the provider.
static umf_memory_pool_handle_t make_pool(umf_memory_provider_handle_t prov) {
    umf_disjoint_pool_params_handle_t dp = NULL;
    CHECK(umfDisjointPoolParamsCreate(&dp) == UMF_RESULT_SUCCESS,
          "umfDisjointPoolParamsCreate");
    umf_memory_pool_handle_t pool = NULL;
    umf_result_t res = umfPoolCreate(umfDisjointPoolOps(), prov, dp,
                                     UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
    umfDisjointPoolParamsDestroy(dp);
    CHECK(res == UMF_RESULT_SUCCESS, "umfPoolCreate");
    return pool;
}

static umf_memory_pool_handle_t make_dram_pool(void) {
    umf_os_memory_provider_params_handle_t params = NULL;
    CHECK(umfOsMemoryProviderParamsCreate(&params) == UMF_RESULT_SUCCESS,
          "umfOsMemoryProviderParamsCreate");
    umf_memory_provider_handle_t os = NULL;
    umf_result_t res =
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &os);
    umfOsMemoryProviderParamsDestroy(params);
    CHECK(res == UMF_RESULT_SUCCESS, "OS provider");
    return make_pool(os);
}

static umf_memory_pool_handle_t make_fsdax_pool(const char *path) {
    // 1. The file provider. FSDAX needs a shared mapping: only then does
    //    the provider try MAP_SYNC (and use 2 MiB pages when it works).
    umf_file_memory_provider_params_handle_t fparams = NULL;
    CHECK(umfFileMemoryProviderParamsCreate(&fparams, path) ==
              UMF_RESULT_SUCCESS,
          "umfFileMemoryProviderParamsCreate");
    CHECK(umfFileMemoryProviderParamsSetVisibility(
              fparams, UMF_MEM_MAP_SHARED) == UMF_RESULT_SUCCESS,
          "umfFileMemoryProviderParamsSetVisibility");
    umf_memory_provider_handle_t file = NULL;
    umf_result_t res =
        umfMemoryProviderCreate(umfFileMemoryProviderOps(), fparams, &file);
    umfFileMemoryProviderParamsDestroy(fparams);
    CHECK(res == UMF_RESULT_SUCCESS, "file provider");
    size_t page = 0;
    umfMemoryProviderGetMinPageSize(file, NULL, &page);
    printf("file provider on %s: page size %zu (%s)\n", path, page,
           page == (size_t)2 << 20 ? "FSDAX, MAP_SYNC"
                                   : "not FSDAX: no MAP_SYNC");

    // 2. The coarse provider on top: 16 MiB of the file at once, split and
    //    coalesced as the pool takes and returns memory. It destroys the
    //    file provider with itself.
    coarse_memory_provider_params_t cp = umfCoarseMemoryProviderParamsDefault();
    cp.upstream_memory_provider = file;
    cp.immediate_init_from_upstream = true;
    cp.init_buffer_size = 16 << 20;
    cp.destroy_upstream_memory_provider = true;
    umf_memory_provider_handle_t coarse = NULL;
    res = umfMemoryProviderCreate(umfCoarseMemoryProviderOps(), &cp, &coarse);
    CHECK(res == UMF_RESULT_SUCCESS, "coarse provider");
    printf("provider of the FSDAX pool: %s\n",
           umfMemoryProviderGetName(coarse));
    return make_pool(coarse);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("UMF_TESTS_FSDAX_PATH");
    char shm_path[64];
    if (!path || !*path) {
        snprintf(shm_path, sizeof(shm_path), "/dev/shm/umf_dram_and_fsdax_%d",
                 (int)getpid());
        path = shm_path;
        printf("no FSDAX file given (argument or UMF_TESTS_FSDAX_PATH): "
               "using %s on tmpfs instead - not persistent memory\n",
               path);
    }
    umf_memory_pool_handle_t dram = make_dram_pool();
    umf_memory_pool_handle_t pmem = dram ? make_fsdax_pool(path) : NULL;
    if (!dram || !pmem) {
        return 1;
    }

    // Hot data in DRAM, data meant to persist in the file.
    char *hot[8], *cold[8];
    for (int i = 0; i < 8; i++) {
        hot[i] = umfPoolMalloc(dram, 1000 * (size_t)(i + 1));
        cold[i] = umfPoolMalloc(pmem, 3000 * (size_t)(i + 1));
        if (!hot[i] || !cold[i]) {
            fprintf(stderr, "dram_and_fsdax: allocation %d failed\n", i);
            return 1;
        }
        memset(hot[i], 'h', 1000 * (size_t)(i + 1));
        memset(cold[i], 'c', 3000 * (size_t)(i + 1));
    }
    // Each pointer knows its pool, so code holding only the pointer can
    // free it with umfFree.
    for (int i = 0; i < 8; i++) {
        if (umfPoolByPtr(hot[i]) != dram || umfPoolByPtr(cold[i]) != pmem ||
            cold[i][3000 * i] != 'c' || hot[i][1000 * i] != 'h') {
            fprintf(stderr, "dram_and_fsdax: pointer %d in the wrong pool\n",
                    i);
            return 1;
        }
    }
    printf("8 blocks in DRAM (%p...), 8 in the file (%p...): umfPoolByPtr "
           "tells them apart\n",
           (void *)hot[0], (void *)cold[0]);
    for (int i = 0; i < 8; i++) {
        if (umfFree(hot[i]) != UMF_RESULT_SUCCESS ||
            umfFree(cold[i]) != UMF_RESULT_SUCCESS) {
            fprintf(stderr, "dram_and_fsdax: umfFree %d failed\n", i);
            return 1;
        }
    }
    umfPoolDestroy(pmem);
    umfPoolDestroy(dram);
    if (path == shm_path) {
        unlink(shm_path);
    }
    printf("done\n");
    return 0;
}
