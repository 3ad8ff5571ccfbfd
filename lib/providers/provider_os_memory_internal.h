/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * provider_os_memory_internal.h - what lib/ needs from the OS provider
 * beyond its public ops: the fork hooks of shared providers' locks, and
 * the layout of its IPC handle data.
 */

#ifndef UMF_PROVIDER_OS_MEMORY_INTERNAL_H
#define UMF_PROVIDER_OS_MEMORY_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <umf/memory_provider.h>

// --- IPC handle data of the OS provider (tests forge it) ---

#define OS_IPC_NAME_CAP            (NAME_MAX - 1) // a shm name of NAME_MAX - 2 + NUL
#define OS_IPC_MAGIC               0x4350494fu // "OIPC"
#define OS_IPC_VERSION             1u
#define OS_IPC_MEMFD               1u
#define OS_IPC_SHM                 2u
#define OS_IPC_SIZE_MAX            ((uint64_t)1 << 47)
// Not in the contract's enum (it stops at 1007): the native error of a
// failed IPC open, with errno.
#define OS_RESULT_ERROR_IPC_FAILED 1008

typedef struct os_ipc_data_t {
    uint32_t magic;                 // OS_IPC_MAGIC
    uint32_t version;               // OS_IPC_VERSION
    uint32_t kind;                  // OS_IPC_MEMFD or OS_IPC_SHM
    int32_t pid;                    // producer
    int32_t fd;                     // producer's fd (OS_IPC_MEMFD), else -1
    uint32_t protection;            // producer's PROT_* (informative)
    uint64_t offset;                // file offset of the chunk, page multiple
    uint64_t size;                  // mapped size, page multiple
    uint64_t dev, ino;              // identity of the file
    char shm_name[OS_IPC_NAME_CAP]; // OS_IPC_SHM: NUL-terminated
} os_ipc_data_t;

// For the IPC layer, which registers the chunk size of a handle's header
// in the tracker: true when the OS provider's data maps exactly that
// (page-rounded), so a forged header cannot claim more than is mapped.
bool os_ipc_data_matches_chunk(const void *data, uint64_t chunk_size);

#endif /* UMF_PROVIDER_OS_MEMORY_INTERNAL_H */
