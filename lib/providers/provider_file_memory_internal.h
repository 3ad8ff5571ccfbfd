/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_file_memory_internal.h - what the file and devdax providers
 * share, and what the IPC layer checks in their handle data: the layouts
 * of their IPC data and the mapping helper both use.
 */

#ifndef UMF_PROVIDER_FILE_MEMORY_INTERNAL_H
#define UMF_PROVIDER_FILE_MEMORY_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <umf/base.h>

#include "addr_map.h"

#define FILE_IPC_MAGIC   0x43504946u // "FIPC"
#define DEVDAX_IPC_MAGIC 0x43504944u // "DIPC"
#define FILE_IPC_VERSION 1u
#define FILE_DAX_PAGE    ((size_t)2 << 20) // 2 MiB: FSDAX and devdax pages

// The handle data of both providers: which file, which part of it.
typedef struct file_ipc_data_t {
    uint32_t magic;      // FILE_IPC_MAGIC or DEVDAX_IPC_MAGIC
    uint32_t version;    // FILE_IPC_VERSION
    uint64_t offset;     // file offset of the allocation (any byte)
    uint64_t size;       // bytes of the allocation
    uint32_t protection; // UMF_PROTECTION_* of the producer
    uint32_t sync;       // 1: map with MAP_SYNC (FSDAX, devdax)
    char path[PATH_MAX]; // NUL-terminated
} file_ipc_data_t;

// How file_map places a mapping.
typedef enum {
    FILE_MAP_PRIVATE, // MAP_PRIVATE
    FILE_MAP_SHARED,  // MAP_SHARED
    FILE_MAP_SYNC,    // MAP_SHARED_VALIDATE | MAP_SYNC
} file_map_mode_t;

// Maps [offset, offset+len) of fd at an address aligned to align (a power
// of two; at most the page size means any page). 0 or -errno.
// pre: offset and len are page multiples.
int file_map(int fd, uint64_t offset, size_t len, size_t align, int prot,
             file_map_mode_t mode, void **out);

// Consumer side of IPC for both providers: checks the data (magic, a
// NUL-terminated path, sizes), opens the file (a regular file, or with
// need_chardev also a character device) and maps the range it names,
// page-rounded (2 MiB with MAP_SYNC); the mapping is remembered in *opened
// (under *lock) by the address handed out. A file that cannot be opened
// or a malformed handle -> INVALID_ARGUMENT; a failed mmap -> UNKNOWN.
umf_result_t file_ipc_open_common(const file_ipc_data_t *d, uint32_t magic,
                                  bool need_chardev, addr_map_t *opened,
                                  pthread_mutex_t *lock, void **ptr);
// Unmaps what file_ipc_open_common mapped for ptr.
umf_result_t file_ipc_close_common(addr_map_t *opened, pthread_mutex_t *lock,
                                   void *ptr);

// For the IPC layer, which registers the chunk size of a handle's header
// in the tracker: true when the data of a FILE or DEVDAX handle maps
// exactly that many bytes, so a forged header cannot claim more.
bool file_ipc_data_matches_chunk(const void *data, uint64_t chunk_size);

#endif /* UMF_PROVIDER_FILE_MEMORY_INTERNAL_H */
