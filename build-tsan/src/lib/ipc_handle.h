/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_handle.h - the byte layout of an IPC handle and its validation.
 *
 * A handle is an ipc_header_t followed by the provider's data. Every field
 * is fixed-size and little-endian as the machine writes it (producer and
 * consumer run on one machine). The consumer copies the bytes into memory
 * of its own before it looks at them (the sender could change a buffer in
 * shared memory under it) and reads no more than the size of its own
 * handles, so a short or forged buffer is never read past that size.
 */

#ifndef UMF_IPC_HANDLE_H
#define UMF_IPC_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include <umf/base.h>

#define IPC_MAGIC             0x49464d55u // "UMFI" in memory order
#define IPC_LAYOUT_VERSION    1u
#define IPC_PROVIDER_NAME_LEN 16
// Producer pids fit in 22 bits (the kernel's PID_MAX_LIMIT is 2^22).
#define IPC_PID_MAX           (1 << 22)
// Chunks live below 2^48 (the tracker's limit).
#define IPC_ADDR_LIMIT        ((uint64_t)1 << 48)

typedef struct ipc_header_t {
    uint32_t magic;         // IPC_MAGIC
    uint16_t version;       // IPC_LAYOUT_VERSION
    uint16_t header_size;   // sizeof(ipc_header_t)
    uint32_t total_size;    // header + provider data
    uint32_t provider_size; // bytes of provider data after the header
    uint64_t checksum;      // ipc_checksum() of all total_size bytes
    uint64_t handle_id;     // producer's id of the chunk's cache entry
    uint64_t base;          // chunk start in the producer
    uint64_t size;          // chunk size
    uint64_t offset;        // the producer's pointer minus base
    int32_t pid;            // producer process
    uint32_t reserved;      // 0
    char provider[IPC_PROVIDER_NAME_LEN]; // provider name, NUL-padded
} ipc_header_t;

// The public type is opaque; this is what its pointer points at.
struct umf_ipc_data_t {
    ipc_header_t hdr;
    unsigned char provider_data[]; // hdr.provider_size bytes
};

// 64-bit checksum of len bytes, computed as if the checksum field were 0.
// Catches corruption in transit, not forgery: it is not a MAC.
uint64_t ipc_checksum(const void *handle, size_t len);

// Fills in and seals (checksum) a header. The provider data must already
// follow it.
void ipc_header_seal(struct umf_ipc_data_t *h);

// Checks a handle copied into private memory of `len` bytes (the size of
// the consumer's own handles) against what the consumer expects: magic,
// version, sizes, provider name, checksum, pid and chunk bounds. SUCCESS or
// INVALID_ARGUMENT; a failure logs one line naming the field. Reads at most
// len bytes.
umf_result_t ipc_handle_check(const void *buf, size_t len,
                              const char *provider_name);

// The handle size for a provider part of provider_size bytes; 0 if too big.
size_t ipc_handle_size(size_t provider_size);

#endif /* UMF_IPC_HANDLE_H */
