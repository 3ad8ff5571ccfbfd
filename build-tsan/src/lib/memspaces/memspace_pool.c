/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * memspace_pool.c - umfPoolCreateFromMemspace (0.10.1 answers
 * NOT_SUPPORTED; the issue asks for it): the provider a memspace and a
 * policy imply (umfMemoryProviderCreateFromMemspace) under a disjoint
 * pool that owns it.
 *
 * Why disjoint: it is part of libumf and needs no optional library at run
 * time (scalable needs tbbmalloc, jemalloc lives in libjemalloc_pool), and
 * it is fast on host memory. Its one gap is that it never touches the
 * memory it hands out, so its calloc and realloc are NOT_SUPPORTED. A
 * memspace's memory is always host memory (NUMA nodes), so this pool is
 * the disjoint pool's ops table with calloc (malloc + zeroing) and
 * realloc (in place when the block fits, else malloc + copy + free) added
 * on top; everything else goes straight to the disjoint pool. Its last
 * allocation error covers both layers (a thread-local slot set on every
 * failure of an allocating op).
 *
 * The table is filled once (pthread_once) from umfDisjointPoolOps(); no
 * other state, no locks of its own.
 */

#include <pthread.h>
#include <string.h>

#include <umf/memory_pool_ops.h>
#include <umf/memspace.h>
#include <umf/pools/pool_disjoint.h>

#include "common.h"
#include "log.h"

static umf_memory_pool_ops_t msp_ops;   // what pools are created with
static umf_memory_pool_ops_t msp_inner; // the disjoint pool's own ops
static pthread_once_t msp_once = PTHREAD_ONCE_INIT;

static _Thread_local umf_result_t tls_msp_error = UMF_RESULT_SUCCESS;

// A failure of the disjoint pool: remember why.
static void *msp_inner_failed(void *priv) {
    tls_msp_error = msp_inner.get_last_allocation_error(priv);
    return NULL;
}

static void *msp_malloc(void *priv, size_t size) {
    void *p = msp_inner.malloc(priv, size);
    return likely(p != NULL) ? p : msp_inner_failed(priv);
}

static void *msp_aligned_malloc(void *priv, size_t size, size_t alignment) {
    void *p = msp_inner.aligned_malloc(priv, size, alignment);
    return likely(p != NULL) ? p : msp_inner_failed(priv);
}

static void *msp_calloc(void *priv, size_t num, size_t size) {
    if (size && num > SIZE_MAX / size) {
        tls_msp_error = UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    void *p = msp_malloc(priv, num * size);
    if (p) {
        memset(p, 0, num * size); // reused chunks are not zero
    }
    return p;
}

static void *msp_realloc(void *priv, void *ptr, size_t size) {
    if (!ptr) {
        return msp_malloc(priv, size);
    }
    if (size == 0) {
        (void)msp_inner.free(priv, ptr); // as realloc(3) on glibc
        return NULL;
    }
    size_t usable = msp_inner.malloc_usable_size(priv, ptr);
    if (usable == 0) {
        LOG_ERR("realloc of %p, which this pool did not allocate", ptr);
        tls_msp_error = UMF_RESULT_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    if (size <= usable && size >= usable / 2) {
        return ptr; // fits without wasting more than half
    }
    void *n = msp_malloc(priv, size);
    if (!n) {
        return NULL; // ptr stays valid, as realloc(3)
    }
    memcpy(n, ptr, size < usable ? size : usable);
    (void)msp_inner.free(priv, ptr);
    return n;
}

static umf_result_t msp_get_last_allocation_error(void *priv) {
    (void)priv;
    return tls_msp_error;
}

static void msp_ops_init(void) {
    msp_inner = *umfDisjointPoolOps();
    msp_ops = msp_inner;
    msp_ops.malloc = msp_malloc;
    msp_ops.calloc = msp_calloc;
    msp_ops.realloc = msp_realloc;
    msp_ops.aligned_malloc = msp_aligned_malloc;
    msp_ops.get_last_allocation_error = msp_get_last_allocation_error;
}

UMF_EXPORT umf_result_t umfPoolCreateFromMemspace(
    umf_const_memspace_handle_t hMemspace, umf_const_mempolicy_handle_t hPolicy,
    umf_memory_pool_handle_t *hPool) {
    CHECK_ARG(hMemspace != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace is NULL");
    CHECK_ARG(hPool != NULL, UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hPool is NULL");
    CHECK_ARG(umfMemspaceMemtargetNum(hMemspace) > 0,
              UMF_RESULT_ERROR_INVALID_ARGUMENT,
              "hMemspace has no memory targets");
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t ret =
        umfMemoryProviderCreateFromMemspace(hMemspace, hPolicy, &provider);
    if (ret != UMF_RESULT_SUCCESS) {
        return ret;
    }
    (void)pthread_once(&msp_once, msp_ops_init);
    // NULL params: the disjoint pool's defaults (2 MiB slabs).
    ret = umfPoolCreate(&msp_ops, provider, NULL,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER, hPool);
    if (ret != UMF_RESULT_SUCCESS) {
        umfMemoryProviderDestroy(provider);
    }
    return ret;
}
