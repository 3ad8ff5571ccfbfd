/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * pool_proxy.c - the proxy pool: each request goes straight to the
 * provider. calloc, realloc and malloc_usable_size are not supported (the
 * pool cannot touch or size the provider's memory); free passes size 0 and
 * the tracking wrapper supplies the size it registered (with tracking
 * disabled the provider gets 0, as in the contract). The last allocation error is per thread and shared by
 * all proxy pools, as in the contract.
 */

#include <umf/memory_pool_ops.h>
#include <umf/pools/pool_proxy.h>

#include "base_alloc.h"
#include "common.h"
#include "log.h"

typedef struct proxy_pool_t {
    umf_memory_provider_handle_t provider;
} proxy_pool_t;

static _Thread_local umf_result_t tls_last_error;
// The pool whose call set tls_last_error: a success resets only its own
// error, so another proxy pool's call in between does not wipe it.
static _Thread_local const void *tls_last_error_pool;

static umf_result_t pp_initialize(umf_memory_provider_handle_t provider,
                                  void *params, void **priv) {
    (void)params; // the proxy pool has none
    proxy_pool_t *pp = ba_calloc(1, sizeof(*pp));
    if (!pp) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    pp->provider = provider;
    *priv = pp;
    return UMF_RESULT_SUCCESS;
}

static void pp_finalize(void *priv) {
    ba_free(priv);
}

static void *pp_aligned_malloc(void *priv, size_t size, size_t alignment) {
    proxy_pool_t *pp = priv;
    void *p = NULL;
    umf_result_t r = umfMemoryProviderAlloc(pp->provider, size, alignment, &p);
    if (r == UMF_RESULT_SUCCESS && alignment > 1 &&
        (uintptr_t)p % alignment != 0) { // (any alignment the provider takes)
        // The provider ignores alignment: the proxy pool only forwards, so
        // it refuses rather than hand out a misaligned block.
        (void)umfMemoryProviderFree(pp->provider, p, size);
        r = UMF_RESULT_ERROR_INVALID_ALIGNMENT;
    }
    if (r != UMF_RESULT_SUCCESS || tls_last_error_pool == pp) {
        tls_last_error = r;
        tls_last_error_pool = pp;
    }
    return r == UMF_RESULT_SUCCESS ? p : NULL;
}

static void *pp_malloc(void *priv, size_t size) {
    return pp_aligned_malloc(priv, size, 0);
}

static void *pp_calloc(void *priv, size_t num, size_t size) {
    (void)priv, (void)num, (void)size;
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    tls_last_error_pool = priv;
    return NULL;
}

static void *pp_realloc(void *priv, void *ptr, size_t size) {
    (void)priv, (void)ptr, (void)size;
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    tls_last_error_pool = priv;
    return NULL;
}

static size_t pp_malloc_usable_size(void *priv, void *ptr) {
    (void)priv, (void)ptr;
    tls_last_error = UMF_RESULT_ERROR_NOT_SUPPORTED;
    tls_last_error_pool = priv;
    return 0;
}

static umf_result_t pp_free(void *priv, void *ptr) {
    proxy_pool_t *pp = priv;
    return umfMemoryProviderFree(pp->provider, ptr, 0);
}

static umf_result_t pp_get_last_allocation_error(void *priv) {
    (void)priv;
    return tls_last_error;
}

static umf_memory_pool_ops_t proxy_pool_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = pp_initialize,
    .finalize = pp_finalize,
    .malloc = pp_malloc,
    .calloc = pp_calloc,
    .realloc = pp_realloc,
    .aligned_malloc = pp_aligned_malloc,
    .malloc_usable_size = pp_malloc_usable_size,
    .free = pp_free,
    .get_last_allocation_error = pp_get_last_allocation_error,
};

UMF_EXPORT umf_memory_pool_ops_t *umfProxyPoolOps(void) {
    return &proxy_pool_ops;
}
