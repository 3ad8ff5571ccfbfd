/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * ipc_handle.c - sealing and checking IPC handles (layout in ipc_handle.h).
 *
 * The checks run in order of cost and each failure logs one line: magic,
 * version, header size, provider name, total and provider sizes (against
 * the consumer's own handle size, so nothing past it is read), checksum,
 * then the values: pid in (0, 2^22], chunk non-empty and below 2^48, offset
 * inside the chunk, reserved bits zero. What the provider data means is the
 * provider's to check. No state, no locks; this file is also the fuzz
 * target's entry (tests/fuzz_ipc_handle.c).
 */

#include "ipc_handle.h"

#include <string.h>

#include "common.h"
#include "log.h"

static inline uint64_t mix(uint64_t h, uint64_t w) {
    h ^= w;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

// Four independent lanes of 8-byte words (so the multiplies overlap),
// folded at the end: about a cycle per 8 bytes.
uint64_t ipc_checksum(const void *handle, size_t len) {
    const unsigned char *p = handle;
    const size_t ck = offsetof(ipc_header_t, checksum);
    uint64_t h[4] = {0x6c62272e07bb0142ull ^ len, 0x8e3b5c7d1a2f4e6bull,
                     0x243f6a8885a308d3ull, 0x13198a2e03707344ull};
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * (size_t)l, 8);
            if (i + 8 * (size_t)l == ck) {
                w = 0; // the field itself counts as zero
            }
            h[l] = mix(h[l], w);
        }
    }
    for (int l = 0; i < len; i += 8, l = (l + 1) & 3) {
        uint64_t w = 0;
        memcpy(&w, p + i, len - i < 8 ? len - i : 8);
        if (i == ck) {
            w = 0;
        }
        h[l] = mix(h[l], w);
    }
    uint64_t r = mix(mix(mix(h[0], h[1]), h[2]), h[3]);
    return mix(r, 0x2545f4914f6cdd1dull);
}

void ipc_header_seal(struct umf_ipc_data_t *h) {
    h->hdr.magic = IPC_MAGIC;
    h->hdr.version = IPC_LAYOUT_VERSION;
    h->hdr.header_size = (uint16_t)sizeof(ipc_header_t);
    h->hdr.reserved = 0;
    h->hdr.checksum = 0;
    h->hdr.checksum = ipc_checksum(h, h->hdr.total_size);
}

size_t ipc_handle_size(size_t provider_size) {
    if (provider_size > UINT32_MAX - sizeof(ipc_header_t)) {
        return 0;
    }
    return sizeof(ipc_header_t) + provider_size;
}

#define REJECT(...)                                                            \
    do {                                                                       \
        LOG_ERR("IPC handle rejected: " __VA_ARGS__);                          \
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;                              \
    } while (0)

umf_result_t ipc_handle_check(const void *buf, size_t len,
                              const char *provider_name) {
    ipc_header_t h;
    if (len < sizeof(h)) {
        REJECT("the handle size %zu is smaller than a header (%zu)", len,
               sizeof(h));
    }
    memcpy(&h, buf, sizeof(h));
    if (h.magic != IPC_MAGIC) {
        REJECT("bad magic 0x%08x (not a UMF IPC handle, or corrupted)",
               (unsigned)h.magic);
    }
    if (h.version != IPC_LAYOUT_VERSION) {
        REJECT("layout version %u, this library reads version %u",
               (unsigned)h.version, IPC_LAYOUT_VERSION);
    }
    if (h.header_size != sizeof(h)) {
        REJECT("header size %u, expected %zu", (unsigned)h.header_size,
               sizeof(h));
    }
    char name[IPC_PROVIDER_NAME_LEN];
    memset(name, 0, sizeof(name));
    strncpy(name, provider_name ? provider_name : "", sizeof(name) - 1);
    if (memchr(h.provider, '\0', sizeof(h.provider)) == NULL ||
        strcmp(h.provider, name) != 0) {
        // Printed with a bound: it is not trusted to be a string.
        REJECT("made by a provider of type '%.*s', this handler's provider "
               "is '%s'",
               (int)sizeof(h.provider), h.provider, name);
    }
    if (h.total_size != len) {
        REJECT("size %u, handles of this handler's provider have %zu bytes",
               (unsigned)h.total_size, len);
    }
    if (h.provider_size != len - sizeof(h)) {
        REJECT("provider part of %u bytes in a %zu-byte handle",
               (unsigned)h.provider_size, len);
    }
    uint64_t sum = ipc_checksum(buf, len);
    if (sum != h.checksum) {
        REJECT("checksum mismatch (corrupted or truncated in transit)");
    }
    if (h.pid <= 0 || h.pid > IPC_PID_MAX) {
        REJECT("producer pid %d out of range (1..%d)", (int)h.pid, IPC_PID_MAX);
    }
    if (h.size == 0 || h.base == 0 || h.base >= IPC_ADDR_LIMIT ||
        h.size > IPC_ADDR_LIMIT - h.base) {
        REJECT("chunk [0x%llx, +%llu) is not a possible tracked chunk",
               (unsigned long long)h.base, (unsigned long long)h.size);
    }
    if (h.offset >= h.size) {
        REJECT("offset %llu outside the chunk of %llu bytes",
               (unsigned long long)h.offset, (unsigned long long)h.size);
    }
    if (h.reserved != 0 || h.handle_id == 0) {
        REJECT("reserved field set or handle id 0");
    }
    return UMF_RESULT_SUCCESS;
}
