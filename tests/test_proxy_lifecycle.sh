#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_proxy_lifecycle.sh - tests/proxy_lifecycle (an ordinary program)
# under LD_PRELOAD=libumf_proxy.so with every pool: a detached-thread
# storm, late frees after TSD destructors with an RSS bound, exit with
# LD_PRELOAD cleared while threads still free, a handler that frees after
# every library destructor; fork from a threaded parent with a child
# that forks again, for every pool and every page disposition; and four
# threads forking at once.
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
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
proxy="$top_builddir/.libs/libumf_proxy.so"
prog="$top_builddir/tests/proxy_lifecycle"
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }
# Sanitizer builds: their runtime must come first in LD_PRELOAD, and then
# it serves malloc itself: this script would test the sanitizer's
# allocator (TSan also cannot start threads in the child of a threaded
# parent). The same life cycle runs through the API in test_lifecycle.
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }')
if [ -n "$san" ]; then
    echo "SKIP: sanitizer build: $(basename "$san") must come first in" \
        "LD_PRELOAD and then serves malloc instead of the proxy"
    exit 77
fi
preload="$proxy"

failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

pools="host disjoint"
[ -f "$(dirname "$proxy")/libjemalloc_pool.so.0" ] && pools="$pools jemalloc"
if ldconfig -p 2>/dev/null | grep -q 'libtbbmalloc\.so\.2'; then
    pools="$pools scalable"
else
    echo "note: libtbbmalloc.so.2 missing: pool=scalable not tested"
fi

# run SETTINGS MODE: the exit status must be 0 and stderr empty.
run() {
    out=$(env UMF_PROXY="$1" LD_PRELOAD="$preload" timeout 300 "$prog" "$2" \
        2>"$errf")
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$errf" ]; then
        fail "UMF_PROXY='$1' $2: exit $rc: $(head -c 300 "$errf")"
        return 1
    fi
    return 0
}

errf=$(mktemp "${TMPDIR:-/tmp}/umf_lifecycle.XXXXXX")
trap 'rm -f "$errf"' EXIT

for pool in $pools; do
    s="pool=$pool"
    run "$s" storm && echo "ok: $s storm"
    if run "$s" late; then
        # 13 KB per thread leaked before: 100 MB over 8,000 threads.
        if [ "$out" -gt 16384 ]; then
            fail "$s late: RSS grew $out KiB over 8,000 threads"
        else
            echo "ok: $s late (RSS +$out KiB over 8,000 threads)"
        fi
    fi
    run "$s" exit && echo "ok: $s exit"
    run "$s" atexit && echo "ok: $s atexit"
    run "$s" forks && echo "ok: $s forks"
    for d in "" ";page.disposition=shared-fd" ";page.disposition=shared-shm"; do
        run "$s$d" fork && echo "ok: $s$d fork"
    done
done
# No shm object of ours outlives its process.
left=$(ls /dev/shm 2>/dev/null | grep -c "umf_proxy_lib_shm_pid_" || true)
echo "note: /dev/shm holds $left umf_proxy_lib_shm_pid_* objects"

[ $failed -eq 0 ] && echo "all lifecycle runs passed"
exit $failed
