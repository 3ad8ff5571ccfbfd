/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_tracking.h - the wrapper a tracked pool talks to instead of the
 * user's provider: it registers every chunk in the tracker before the pool
 * sees it and unregisters it before it goes back.
 */

#ifndef UMF_PROVIDER_TRACKING_H
#define UMF_PROVIDER_TRACKING_H

#include <stdbool.h>
#include <umf/memory_pool.h>

#include <umf/memory_provider.h>

#include "tracker.h"

umf_result_t tracking_provider_create(umf_memory_provider_handle_t upstream,
                                      umf_memory_pool_handle_t pool,
                                      tracker_t *tracker,
                                      umf_memory_provider_handle_t *out);

#endif /* UMF_PROVIDER_TRACKING_H */
