#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_proxy_file.sh - the proxy's heaps on a file (file.dir=DIR) in a
# temporary directory: blocks land in a mapping of a file in DIR (read
# from /proc/self/maps by tests/proxy_file_heap), for the base heap and
# for a tier only; nothing is left in DIR, during or after a run; fork
# gives the child a private copy (the parent overwrites its blocks right
# after fork, the child must see the old bytes, and its own writes,
# frees and new blocks never reach the parent's file), also from a
# threaded parent (test_proxy_api and proxy_lifecycle fork) and in bash,
# which forks for every command substitution; no IPC handles for its
# blocks (NOT_SUPPORTED); sort and python3 give the
# output they give without the proxy; every pool; and the errors: a
# directory that is missing or not a directory, file.map_sync=required off
# DAX, and the keys file.dir does not go with, each one line and exit 1
# before main.
set -u
case "${LD_PRELOAD:-}" in
*libumf_proxy*)
    echo "SKIP: make check-under-proxy: this script sets its own preloads" \
        "and ran without one in make check"
    exit 77
    ;;
esac
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${CK_DEFAULT_TIMEOUT:=300}"
export CK_DEFAULT_TIMEOUT

: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
proxy="$top_builddir/.libs/libumf_proxy.so"
prog="$top_builddir/tests/proxy_file_heap"
api="$top_builddir/tests/test_proxy_api"
life="$top_builddir/tests/proxy_lifecycle"
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }')
if [ -n "$san" ]; then
    echo "SKIP: sanitizer build: $(basename "$san") must come first in" \
        "LD_PRELOAD and then serves malloc instead of the proxy"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf_proxy_file.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P) # as /proc/self/maps writes it
heap="$tmp/heap"
mkdir "$heap"
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

run() { # run SETTINGS command...: under the proxy
    settings=$1
    shift
    env UMF_PROXY="$settings" LD_PRELOAD="$proxy" "$@"
}

# No file of the heap is ever left in its directory.
check_empty() {
    left=$(ls -A "$heap")
    [ -z "$left" ] || fail "$1: left in $heap: $left"
    rm -rf "${heap:?}"/* "$heap"/.[!.]* 2>/dev/null
}

# where SETTINGS SIZE: the path of the mapping that holds a block of SIZE.
where() {
    run "$1" "$prog" where "$2" | awk '{ print $2 }'
}

# --- blocks land in the file ---
for pool in $pools proxy; do
    s="pool=$pool;file.dir=$heap"
    for size in 24 5000 300000 $((64 << 20)); do
        got=$(where "$s" $size)
        case $got in
        "$heap/"*) ;;
        *) fail "$s: a block of $size bytes is in '$got', not a file in $heap" ;;
        esac
    done
    check_empty "$s"
done
echo "== file.dir: blocks of every size on the file (pools: $pools proxy)"

# A tier on the file, the rest of the heap anonymous.
s="tier.big.min=1M;tier.big.file.dir=$heap"
got=$(where "$s" 100)
[ "$got" = "-" ] || fail "$s: a block of 100 bytes is in '$got'"
got=$(where "$s" $((4 << 20)))
case $got in "$heap/"*) ;; *) fail "$s: a 4 MiB block is in '$got'" ;; esac
check_empty "$s"
# ... and the reverse: the base heap on the file, large blocks anonymous.
s="file.dir=$heap;tier.big.min=1M"
case $(where "$s" 100) in "$heap/"*) ;; *) fail "$s: small block not on the file" ;; esac
[ "$(where "$s" $((4 << 20)))" = "-" ] || fail "$s: 4 MiB block not anonymous"
echo "== file.dir per tier: ok"

# While the program runs, the directory holds no name either.
out=$(run "file.dir=$heap" sh -c 'ls -A "$1"' sh "$heap")
[ -z "$out" ] || fail "file.dir: names in $heap while running: $out"
check_empty "running"

# --- fork: parent and child never write into each other's heap ---
for pool in $pools proxy; do
    s="pool=$pool;file.dir=$heap"
    out=$(run "$s" timeout 300 "$prog" fork "$heap" 2>&1) ||
        fail "$s: fork: $out"
    check_empty "$s fork"
done
echo "== fork: the child gets a private copy (pools: $pools proxy)"

for pool in $pools; do
    s="pool=$pool;file.dir=$heap"
    out=$(run "$s" timeout 300 "$api" 2>&1) || fail "$s: test_proxy_api: $out"
    printf '%s: %s\n' "$s" "$(printf '%s\n' "$out" | tail -1)"
    out=$(run "$s" timeout 300 "$life" fork 2>&1) ||
        fail "$s: proxy_lifecycle fork: $out"
    check_empty "$s test_proxy_api"
done
s="tier.big.min=64K;tier.big.file.dir=$heap"
out=$(run "$s" timeout 300 "$api" 2>&1) || fail "$s: test_proxy_api: $out"
check_empty "$s test_proxy_api"

# No IPC handles for blocks of a file heap: NOT_SUPPORTED (5), no crash.
out=$(run "file.dir=$heap" "$top_builddir/tests/ipc_proxy_app" \
    "$top_builddir/tests/ipc_peer" 2>&1) && fail "file.dir: IPC worked: $out"
case $out in
*"umfGetIPCHandle: 5"*) ;;
*) fail "file.dir: umfGetIPCHandle did not say NOT_SUPPORTED: $out" ;;
esac
check_empty "ipc"

# --- real programs ---
awk 'BEGIN { srand(11); for (i = 0; i < 100000; i++)
    printf "%d %s\n", int(rand() * 1e9), substr("abcdefghijklmnop", 1 + i % 16) }' \
    > "$tmp/sort.in"
ref=$(LC_ALL=C sort "$tmp/sort.in" | cksum)
for s in "file.dir=$heap" "tier.big.min=4K;tier.big.file.dir=$heap"; do
    [ "$(LC_ALL=C run "$s" sort "$tmp/sort.in" | cksum)" = "$ref" ] ||
        fail "$s: sort"
done
forkloop='n=0; for i in $(seq 100); do x=$(echo "$i"); n=$((n + x)); done; echo $n'
[ "$(run "file.dir=$heap" bash -c "$forkloop" 2>&1)" = 5050 ] ||
    fail "file.dir: bash fork loop"
if command -v python3 >/dev/null; then
    py='d = {i: str(i) * (i % 9) for i in range(100000)}
b = bytearray(8 << 20)
print(len(d), sum(map(len, d.values())), len(b))'
    ref=$(PYTHONMALLOC=malloc python3 -c "$py")
    got=$(PYTHONMALLOC=malloc run "file.dir=$heap" python3 -c "$py" 2>&1)
    [ "$got" = "$ref" ] || fail "file.dir: python3: $got"
fi
check_empty "programs"
echo "== sort, bash, python3 with the heap on a file: ok"

# --- errors: one line, exit 1, before main ---
expect_error() { # expect_error SETTINGS EXPECTED-SUBSTRING
    out=$(env UMF_PROXY="$1" LD_PRELOAD="$proxy" sh -c 'echo main-ran' 2>&1)
    st=$?
    [ $st -eq 1 ] || fail "'$1': exit status $st, expected 1 ($out)"
    case $out in *main-ran*) fail "'$1': the program ran" ;; esac
    case $out in
    "umf_proxy: "*"$2"*) ;;
    *) fail "'$1': message '$out' lacks '$2'" ;;
    esac
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] ||
        fail "'$1': more than one line: $out"
}
expect_error "file.dir=$tmp/missing" \
    "file.dir $tmp/missing: cannot create the heap's file: No such file or directory"
: > "$tmp/plain"
expect_error "tier.t.min=1M;tier.t.file.dir=$tmp/plain" \
    "tier.t.file.dir $tmp/plain: cannot create the heap's file: Not a directory"
if [ "$(id -u)" != 0 ]; then
    mkdir "$tmp/ro"
    chmod 500 "$tmp/ro"
    expect_error "file.dir=$tmp/ro" "cannot create the heap's file: Permission denied"
fi
# No DAX filesystem here (if the temporary directory is one, say so).
out=$(run "file.dir=$heap;file.map_sync=required" sh -c 'echo main-ran' 2>&1)
if [ "$out" = main-ran ]; then
    echo "note: $heap is on a DAX filesystem: file.map_sync=required accepted"
else
    expect_error "file.dir=$heap;file.map_sync=required" \
        "file.map_sync=required: no MAP_SYNC here: not a DAX filesystem"
fi
expect_error "file.map_sync=required" "file.map_sync: needs file.dir"
expect_error "file.map_sync=yes" "file.map_sync: bad value 'yes' (accepted: auto, required)"
expect_error "file.dir=$heap;page.disposition=shared-fd" \
    "page.disposition: not supported with file.dir"
expect_error "file.dir=$heap;numa.nodes=0" "numa.nodes: not supported with file.dir"
expect_error "file.dir=$heap;numa.mode=local" "numa.mode: not supported with file.dir"
expect_error "file.dir=$heap;memspace=host_all" "memspace: not supported with file.dir"
expect_error "file.dir=$heap;thp=on" "thp: not supported with file.dir"
expect_error "tier.t.min=1M;tier.t.pool=system;tier.t.file.dir=$heap" \
    "tier.t.file.dir: a tier with pool=system has no heap to put on a file"
expect_error "file.dir=" "file.dir: bad value ''"
check_empty "errors"

[ $failed -eq 0 ] && echo "ok: heaps on a file"
exit $failed
