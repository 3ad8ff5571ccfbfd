/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * consumer_headers.c - compiled against umf::headers only: every public
 * header must be found through the target's include directory.
 */

#include <umf.h>
#include <umf/ipc.h>
#include <umf/memory_pool.h>
#include <umf/memspace.h>
#include <umf/pools/pool_disjoint.h>
#include <umf/pools/pool_jemalloc.h>
#include <umf/pools/pool_proxy.h>
#include <umf/pools/pool_scalable.h>
#include <umf/providers/provider_os_memory.h>

int consumer_headers_version(void);

int consumer_headers_version(void) {
    return UMF_VERSION_CURRENT;
}
