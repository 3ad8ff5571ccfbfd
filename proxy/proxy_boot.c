/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_boot.c - the bootstrap region of libumf_proxy.so (proxy.c carves
 * it), alone in its file so that the link puts it last in .bss.
 *
 * Objects' .bss are laid out in link order. Defined in proxy.c, these
 * 256 KiB (untouched in most processes) sat between the proxy's own state
 * and the configuration that every start-up writes, so a start took a
 * page fault for each side of it; listed last in Makefile.am, the state
 * the set-up touches is contiguous: one page or two, beside .data.
 */

#include "proxy_internal.h"

_Alignas(64) unsigned char px_boot[PX_BOOT_SIZE];
