/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * umf/ipc.h - sharing pool allocations between processes: a producer gets a
 * byte-copyable handle for memory of a tracked pool, a consumer opens it
 * through the IPC handler of one of its own pools. See umfGetIPCHandle(3).
 */

#ifndef UMF_IPC_H
#define UMF_IPC_H 1

#include <umf/base.h>
#include <umf/memory_pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An IPC handle: opaque bytes, sent as they are to another process.
typedef struct umf_ipc_data_t *umf_ipc_handle_t;

/// The consumer side of a pool (umfPoolGetIPCHandler); owned by the pool.
typedef void *umf_ipc_handler_handle_t;

/// Byte size of the IPC handles of memory from hPool (header + provider
/// data).
umf_result_t umfPoolGetIPCHandleSize(umf_memory_pool_handle_t hPool,
                                     size_t *size);

/// Creates a handle for the allocation containing ptr (any address inside a
/// tracked pool's chunk); *size receives its byte size. Release it with
/// umfPutIPCHandle().
umf_result_t umfGetIPCHandle(const void *ptr, umf_ipc_handle_t *ipcHandle,
                             size_t *size);

/// Releases a handle returned by umfGetIPCHandle() in this process.
umf_result_t umfPutIPCHandle(umf_ipc_handle_t ipcHandle);

/// Maps the memory a handle (a byte copy, possibly from another process)
/// describes through hIPCHandler and returns the address of the producer's
/// pointer in *ptr.
umf_result_t umfOpenIPCHandle(umf_ipc_handler_handle_t hIPCHandler,
                              umf_ipc_handle_t ipcHandle, void **ptr);

/// Tells UMF the consumer no longer uses ptr (from umfOpenIPCHandle()).
umf_result_t umfCloseIPCHandle(void *ptr);

/// The IPC handler of hPool, for umfOpenIPCHandle(); valid until the pool is
/// destroyed.
umf_result_t umfPoolGetIPCHandler(umf_memory_pool_handle_t hPool,
                                  umf_ipc_handler_handle_t *hIPCHandler);

#ifdef __cplusplus
}
#endif

#endif /* UMF_IPC_H */
