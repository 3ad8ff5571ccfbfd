#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_ipc_proxy.sh - IPC from a program under LD_PRELOAD=libumf_proxy.so:
# with page.disposition=shared-fd and shared-shm (and each pool the proxy
# can run), tests/ipc_proxy_app mallocs a buffer, gets an IPC handle for
# it through the API and another process opens, checks and writes it.
set -u
# Under `make check-under-proxy` this script would only repeat itself: it
# sets every preload of its own, and it ran in `make check`.
case "${LD_PRELOAD:-}" in
*libumf_proxy*)
    echo "SKIP: make check-under-proxy: this script sets its own preloads" \
        "and ran without one in make check"
    exit 77
    ;;
esac
: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
proxy="$top_builddir/.libs/libumf_proxy.so"
# Sanitizer builds: the sanitizer's runtime first in LD_PRELOAD.
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }')
preload="${san:+$san:}$proxy"
if [ -n "$san" ]; then
    echo "SKIP: sanitizer build: $(basename "$san") must come first in" \
        "LD_PRELOAD and then serves malloc instead of the proxy"
    exit 77
fi
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
app="$top_builddir/tests/ipc_proxy_app"
peer="$top_builddir/tests/ipc_peer"
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }

pools="host disjoint proxy"
if [ -f "$(dirname "$proxy")/libjemalloc_pool.so.0" ]; then # loaded on demand
    pools="jemalloc $pools"
else
    echo "note: built without jemalloc: pool=jemalloc not tested"
fi
if ldconfig -p 2>/dev/null | grep -q 'libtbbmalloc\.so\.2'; then
    pools="$pools scalable"
else
    echo "note: libtbbmalloc.so.2 missing: pool=scalable not tested"
fi

status=0
for disp in shared-fd shared-shm; do
    for pool in $pools; do
        if out=$(env UMF_PROXY="page.disposition=$disp;pool=$pool" \
            UMF_LOG="level:error;output:stderr" LD_PRELOAD="$preload" \
            "$app" "$peer" 2>&1); then
            echo "PASS: $disp pool=$pool"
        else
            echo "FAIL: $disp pool=$pool: $out"
            status=1
        fi
        # The proxy removes its shm name at exit (other processes' names
        # are not ours to judge: /dev/shm is shared).
        pid=$(printf '%s\n' "$out" | sed -n 's/^ipc_proxy_app: pid \([0-9]*\):.*/\1/p')
        if [ -n "$pid" ] && [ -e "/dev/shm/umf_proxy_lib_shm_pid_$pid" ]; then
            echo "FAIL: $disp pool=$pool: /dev/shm/umf_proxy_lib_shm_pid_$pid left behind"
            status=1
        fi
    done
done
exit $status
