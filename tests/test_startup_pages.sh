#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_startup_pages.sh - tests/startup_pages (an ordinary program) under
# LD_PRELOAD=libumf_proxy.so with the default configuration: of libumf's
# code, start-up and small blocks in two threads bring only the first
# 64 KiB fault-around window into memory (README, "Start-up").
set -u
case "${LD_PRELOAD:-}" in
*libumf_proxy*)
    echo "SKIP: make check-under-proxy: this script sets its own preload" \
        "and ran without one in make check"
    exit 77
    ;;
esac
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
proxy="$top_builddir/.libs/libumf_proxy.so"
prog="$top_builddir/tests/startup_pages"
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }
# Sanitizer builds instrument every function: the code is larger and
# their runtime, first in LD_PRELOAD, serves malloc instead of the proxy.
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t|ub)san\.so/ { print $3; exit }')
if [ -n "$san" ]; then
    echo "SKIP: sanitizer build ($(basename "$san")): its code layout is" \
        "not the one shipped"
    exit 77
fi
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    LD_PRELOAD="$proxy" "$prog"
