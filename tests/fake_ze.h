/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * fake_ze.h - the test double of the Level Zero loader (tests/fake_ze.c,
 * built as tests/.libs/libfake_ze_loader.so for `make check` only): the
 * calls it implements, and its control functions for tests. Tests reach
 * the library with dlopen + dlsym, the provider through UMF_ZE_LOADER_LIB.
 */

#ifndef UMF_FAKE_ZE_H
#define UMF_FAKE_ZE_H

#include <stdint.h>

#include "providers/ze_abi.h"

typedef struct _ze_driver_handle_t *ze_driver_handle_t;

// --- Level Zero API (the subset the provider, tests and examples call) ---
ze_result_t_ zeInit(uint32_t flags);
ze_result_t_ zeDriverGet(uint32_t *count, ze_driver_handle_t *drivers);
ze_result_t_ zeDeviceGet(ze_driver_handle_t driver, uint32_t *count,
                         ze_device_handle_t *devices);
ze_result_t_ zeContextCreate(ze_driver_handle_t driver, const void *desc,
                             ze_context_handle_t *ctx);
ze_result_t_ zeContextDestroy(ze_context_handle_t ctx);
ze_result_t_ zeDeviceGetProperties(ze_device_handle_t dev,
                                   ze_device_properties_t_ *props);
ze_result_t_ zeMemAllocHost(ze_context_handle_t ctx,
                            const ze_host_mem_alloc_desc_t_ *host_desc,
                            size_t size, size_t alignment, void **pptr);
ze_result_t_ zeMemAllocDevice(ze_context_handle_t ctx,
                              const ze_device_mem_alloc_desc_t_ *device_desc,
                              size_t size, size_t alignment,
                              ze_device_handle_t dev, void **pptr);
ze_result_t_ zeMemAllocShared(ze_context_handle_t ctx,
                              const ze_device_mem_alloc_desc_t_ *device_desc,
                              const ze_host_mem_alloc_desc_t_ *host_desc,
                              size_t size, size_t alignment,
                              ze_device_handle_t dev, void **pptr);
ze_result_t_ zeMemFree(ze_context_handle_t ctx, void *ptr);
ze_result_t_ zeContextMakeMemoryResident(ze_context_handle_t ctx,
                                         ze_device_handle_t dev, void *ptr,
                                         size_t size);
ze_result_t_ zeMemGetIpcHandle(ze_context_handle_t ctx, const void *ptr,
                               ze_ipc_mem_handle_t_ *handle);
ze_result_t_ zeMemPutIpcHandle(ze_context_handle_t ctx,
                               ze_ipc_mem_handle_t_ handle);
ze_result_t_ zeMemOpenIpcHandle(ze_context_handle_t ctx, ze_device_handle_t dev,
                                ze_ipc_mem_handle_t_ handle, uint32_t flags,
                                void **pptr);
ze_result_t_ zeMemCloseIpcHandle(ze_context_handle_t ctx, const void *ptr);

typedef struct _ze_command_list_handle_t *ze_command_list_handle_t;
// Immediate command lists copy synchronously (the queue descriptor is
// accepted as it is).
ze_result_t_ zeCommandListCreateImmediate(ze_context_handle_t ctx,
                                          ze_device_handle_t dev,
                                          const void *queue_desc,
                                          ze_command_list_handle_t *list);
ze_result_t_ zeCommandListAppendMemoryCopy(ze_command_list_handle_t list,
                                           void *dst, const void *src,
                                           size_t size, void *signal_event,
                                           uint32_t num_wait_events,
                                           void **wait_events);
ze_result_t_ zeCommandListDestroy(ze_command_list_handle_t list);

// --- Control (tests only) ---
// Copies n bytes as the device would (device memory included).
void fake_ze_memcpy(void *dst, const void *src, size_t n);
long fake_ze_calls(const char *fn);
// The next `times` calls of fn return result.
void fake_ze_inject(const char *fn, uint32_t result, int times);
// Clears counters, injections and the size limit.
void fake_ze_reset(void);
long fake_ze_live(void);
// maxMemAllocSize the devices report (default 1 GiB).
void fake_ze_set_max_alloc(uint64_t bytes);
// Device/shared allocations that carried the relaxed-limits descriptor.
long fake_ze_relaxed_seen(void);
// IPC handles got and not yet put (each holds a descriptor).
long fake_ze_open_handles(void);

#endif /* UMF_FAKE_ZE_H */
