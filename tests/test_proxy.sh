#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_proxy.sh - unmodified programs under LD_PRELOAD=libumf_proxy.so, once
# per pool, with their output compared to a run without the proxy: python3
# (PYTHONMALLOC=malloc, an allocation-heavy script), sort of a few MB, a
# bash loop that forks 200 times, a C++ program (every operator new), a C
# program that dlopens a C++ library (operator new after jemalloc's),
# redis-server answering redis-cli and redis-benchmark (when installed),
# and the instrumented C suite test_proxy_api (semantics, pool ownership,
# 8 threads with cross-thread frees, fork from a threaded parent), also
# with size.threshold and the shared page dispositions; memspace= heaps;
# an LD_PRELOAD chain with jemalloc after the proxy; valgrind and gdb;
# stale shm names of dead processes; thp. Then the configuration: every
# error path exits 1 before main with one line, config file sections, the
# environment overriding the file, stats.
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
# Every setting below is this script's own: under `make check-under-proxy`
# the script itself runs preloaded, but its reference runs must not be.
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${CK_DEFAULT_TIMEOUT:=300}"
export CK_DEFAULT_TIMEOUT

: "${top_builddir:=.}" "${top_srcdir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
proxy="$top_builddir/.libs/libumf_proxy.so"
# The proxy's own libraries (libumf, libjemalloc_pool) from the build tree.
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
api="$top_builddir/tests/test_proxy_api"
cxx="$top_builddir/tests/proxy_cxx"
dlopen="$top_builddir/tests/proxy_dlopen"
plugin="$top_builddir/tests/.libs/libproxy_plugin.so"
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf_proxy_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

# Pools this build and machine have.
pools="host disjoint"
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

# Sanitizer builds (configure --enable-asan/--enable-tsan): the sanitizer's
# runtime must come first in LD_PRELOAD, before the proxy that needs it.
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }')
if [ -n "$san" ]; then
    # That runtime then serves malloc itself: what this script checks (the
    # program's heap in a UMF pool) cannot happen. The proxy's life cycle
    # still runs under the sanitizer in test_proxy_lifecycle.sh.
    echo "SKIP: sanitizer build: $(basename "$san") must come first in" \
        "LD_PRELOAD and then serves malloc instead of the proxy"
    exit 77
fi

run() { # run POOL-SETTINGS command...: under the proxy
    settings=$1
    shift
    env UMF_PROXY="$settings" LD_PRELOAD="$proxy" "$@"
}

# --- inputs and reference outputs (no proxy) ---
awk 'BEGIN { srand(7); for (i = 0; i < 250000; i++)
    printf "%d %s\n", int(rand() * 1e9), substr("abcdefghijklmnop", 1 + i % 16) }' \
    > "$tmp/sort.in"
cat > "$tmp/alloc.py" <<'EOF'
import random
random.seed(3)
d = {}
for i in range(150000):
    d[i] = [str(j) * (i % 7) for j in range(i % 13)]
    if i % 3 == 0:
        d.pop(random.randrange(i + 1), None)
b = bytearray()
for i in range(2000):
    b += bytes(random.randrange(256) for _ in range(50))
print(len(d), sum(len(v) for v in d.values()), len(b), hash(bytes(b)) != 0)
EOF
ref_sort=$(LC_ALL=C sort "$tmp/sort.in" | cksum)
ref_py=$(PYTHONMALLOC=malloc PYTHONHASHSEED=0 python3 "$tmp/alloc.py")
ref_cxx=$("$cxx")
forkloop='n=0; for i in $(seq 200); do x=$(echo "$i"); n=$((n + x)); done; echo $n'
ref_fork=$(bash -c "$forkloop")

for pool in $pools proxy; do
    s="pool=$pool"
    echo "== $s"
    slow=1
    [ "$pool" = proxy ] && slow=20 # every block is an mmap
    out=$(UMF_TEST_SLOW=$slow run "$s" "$api" 2>&1) || fail "$s: test_proxy_api: $out"
    printf '%s\n' "$out" | tail -1
    [ "$(run "$s" "$cxx" 2>&1)" = "$ref_cxx" ] || fail "$s: C++ program"
    out=$(run "$s" "$dlopen" "$plugin" 2>&1) ||
        fail "$s: C program dlopening a C++ library: $out"
    [ "$(run "$s" bash -c "$forkloop" 2>&1)" = "$ref_fork" ] ||
        fail "$s: bash fork loop"
    # The proxy pool maps every block: the heavy programs are for real pools.
    [ "$pool" = proxy ] && continue
    [ "$(LC_ALL=C run "$s" sort "$tmp/sort.in" | cksum)" = "$ref_sort" ] ||
        fail "$s: sort"
    [ "$(PYTHONMALLOC=malloc PYTHONHASHSEED=0 run "$s" python3 "$tmp/alloc.py" 2>&1)" = "$ref_py" ] ||
        fail "$s: python3"
    out=$(PROXY_TEST_THRESHOLD=128 run "$s;size.threshold=128" "$api" 2>&1) ||
        fail "$s;size.threshold=128: test_proxy_api: $out"
    for d in shared-shm shared-fd; do
        out=$(run "$s;page.disposition=$d" "$api" 2>&1) ||
            fail "$s;page.disposition=$d: test_proxy_api: $out"
    done
done

# --- libjemalloc_pool is loaded only when a heap uses it: the program is
# started again with it preloaded (arguments kept), or it is preloaded ---
maps_has_je='grep -c libjemalloc_pool /proc/self/maps || true'
[ "$(run "" sh -c "$maps_has_je")" = 0 ] ||
    fail "default pool: libjemalloc_pool.so loaded"
[ "$(run "pool=scalable" sh -c "$maps_has_je")" = 0 ] ||
    fail "pool=scalable: libjemalloc_pool.so loaded"
case " $pools " in *" jemalloc "*)
    [ "$(run "pool=jemalloc" sh -c "$maps_has_je")" != 0 ] ||
        fail "pool=jemalloc: libjemalloc_pool.so not loaded"
    got=$(run "pool=jemalloc" sh -c 'printf "[%s]" "$@"' x 'a b' '' "c'd")
    [ "$got" = "[a b][][c'd]" ] ||
        fail "pool=jemalloc: arguments changed by the restart: $got"
    got=$(run "tier.big.min=1M;tier.big.pool=jemalloc" sh -c 'echo "$LD_PRELOAD"')
    case "$got" in *libjemalloc_pool.so.0) ;; *)
        fail "tier with pool=jemalloc: not restarted with it: $got" ;; esac
    got=$(UMF_PROXY=pool=jemalloc \
        LD_PRELOAD="$proxy $(dirname "${proxy##*:}")/libjemalloc_pool.so.0" \
        sh -c 'echo "$LD_PRELOAD"')
    case "$got" in *libjemalloc_pool.so.0*libjemalloc_pool.so.0*)
        fail "pool=jemalloc: restarted although preloaded: $got" ;; esac
    # A proxy with no libjemalloc_pool beside it: one restart, then an
    # error (never a loop).
    mkdir "$tmp/alone"
    cp "${proxy##*:}" "$tmp/alone/"
    out=$(UMF_PROXY=pool=jemalloc LD_PRELOAD="$tmp/alone/libumf_proxy.so" \
        timeout 60 sh -c 'echo ran' 2>&1) && fail "pool=jemalloc without the library: ran: $out"
    case "$out" in *"cannot load libjemalloc_pool.so.0"*) ;; *)
        fail "pool=jemalloc without the library: $out" ;; esac
    echo "== libjemalloc_pool loaded on demand: ok" ;;
esac

# --- hwloc (and the libudev and libm it brings) is loaded only when a heap
# asks for NUMA placement or a memspace ---
maps_has_hwloc='grep -c libhwloc /proc/self/maps || true'
for s in "" "pool=disjoint" "pool=scalable"; do
    [ "$(run "$s" sh -c "$maps_has_hwloc")" = 0 ] ||
        fail "'$s': libhwloc loaded although no heap uses NUMA"
done
[ "$(run "numa.nodes=0;numa.mode=bind" sh -c "$maps_has_hwloc")" != 0 ] ||
    fail "numa.nodes=0: libhwloc not loaded"
[ "$(run "memspace=host_all" sh -c "$maps_has_hwloc")" != 0 ] ||
    fail "memspace=host_all: libhwloc not loaded"
out=$(run "numa.nodes=0;numa.mode=bind" \
    env UMF_HWLOC_LIB=/nonexistent/libhwloc.so true 2>&1) &&
    fail "numa.nodes without hwloc: ran"
case "$out" in *"needs hwloc at run time"*"UMF_HWLOC_LIB"*) ;; *)
    fail "numa.nodes without hwloc: $out" ;; esac
echo "== libhwloc loaded on demand: ok"

# --- LD_PRELOAD chains: another malloc library after the proxy becomes its
# system allocator (memory from before the pools, below the threshold) ---
jelib=$(ldconfig -p 2>/dev/null | sed -n 's/.*libjemalloc\.so\.2 .*=> //p' | head -1)
if [ -n "$jelib" ]; then
    got=$(LC_ALL=C UMF_PROXY="size.threshold=64" LD_PRELOAD="$proxy $jelib" \
        sort "$tmp/sort.in" | cksum)
    [ "$got" = "$ref_sort" ] || fail "LD_PRELOAD='proxy jemalloc': sort"
    got=$(PYTHONMALLOC=malloc PYTHONHASHSEED=0 UMF_PROXY="size.threshold=64" \
        LD_PRELOAD="$proxy $jelib" python3 "$tmp/alloc.py" 2>&1)
    [ "$got" = "$ref_py" ] || fail "LD_PRELOAD='proxy jemalloc': python3: $got"
    echo "== LD_PRELOAD chain with $jelib: ok"
fi

# --- valgrind and gdb run programs under the proxy ---
if command -v valgrind >/dev/null; then
    # somalloc=nouserintercepts: valgrind keeps the proxy's malloc (by
    # default it would put its own in front of it).
    seq 3000 | sort -R > "$tmp/v.in"
    out=$(valgrind -q --trace-children=yes --error-exitcode=9 \
        --soname-synonyms=somalloc=nouserintercepts \
        env LD_PRELOAD="$proxy" UMF_PROXY="stats=1" sort -n "$tmp/v.in" 2>&1)
    st=$?
    [ $st -eq 0 ] || fail "valgrind: exit status $st: $(printf '%s' "$out" | tail -5)"
    case $out in
    *"3000"*"umf_proxy stats"*) ;;
    *) fail "valgrind: sort under the proxy did not run: $(printf '%s' "$out" | tail -5)" ;;
    esac
    echo "== valgrind: ok"
fi
if command -v gdb >/dev/null; then
    printf '2\n1\n' > "$tmp/g.in"
    out=$(gdb -q -batch -ex run --args env LD_PRELOAD="$proxy" sort -n "$tmp/g.in" 2>&1)
    case $out in
    *"exited normally"*) ;;
    *) fail "gdb: $(printf '%s' "$out" | tail -3)" ;;
    esac
    echo "== gdb: ok"
fi

# --- memspace=: the heap from a predefined memspace ---
for m in "memspace=host_all" "memspace=highest_capacity;numa.mode=bind" \
    "memspace=host_all;numa.mode=interleave;numa.part_size=64K"; do
    out=$(run "pool=disjoint;$m" "$api" 2>&1) || fail "$m: test_proxy_api: $out"
done
echo "== memspace=: test_proxy_api passed"

# --- shm objects of dead processes are removed by a shared-shm proxy ---
sh -c 'exit 0' &
dead=$!
wait $dead
stale=/dev/shm/umf_proxy_lib_shm_pid_$dead
live=/dev/shm/umf_proxy_lib_shm_pid_$$_keep
if [ -d /dev/shm ] && ! kill -0 "$dead" 2>/dev/null; then
    : > "$stale"
    : > "$live"
    run "page.disposition=shared-shm" true || fail "shared-shm: true failed"
    [ -e "$stale" ] && fail "shared-shm: stale $stale of a dead process left"
    [ -e "$live" ] || fail "shared-shm: $live of a live process removed"
    rm -f "$stale" "$live"
fi

# --- thp: the heap's mappings carry the advice (VmFlags hg / nh) ---
if [ -e /sys/kernel/mm/transparent_hugepage/enabled ]; then
    for pool in $pools; do
        n=$(run "pool=$pool;thp=on" cat /proc/self/smaps | grep -c '^VmFlags:.* hg')
        [ "$n" -ge 1 ] || fail "pool=$pool;thp=on: no mapping with MADV_HUGEPAGE"
        n=$(run "pool=$pool;thp=off" cat /proc/self/smaps | grep -c '^VmFlags:.* nh')
        [ "$n" -ge 1 ] || fail "pool=$pool;thp=off: no mapping with MADV_NOHUGEPAGE"
    done
    echo "== thp=on/off: advice applied (pools: $pools)"
else
    echo "note: no transparent huge pages in this kernel: thp not tested"
fi

# --- redis (Debian's redis-server and redis-tools, when installed) ---
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    for pool in $pools; do
        port=$((20000 + $$ % 20000))
        run "pool=$pool" redis-server --port "$port" --bind 127.0.0.1 \
            --save '' --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
        rpid=$!
        i=0
        until redis-cli -p "$port" ping >/dev/null 2>&1 || [ $i -ge 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        got=$(redis-cli -p "$port" set k hello >/dev/null &&
            redis-cli -p "$port" append k ", world" >/dev/null &&
            redis-cli -p "$port" get k)
        [ "$got" = "hello, world" ] || fail "pool=$pool: redis-cli got '$got'"
        redis-benchmark -p "$port" -q -n 20000 -t set,get,lpush,lpop \
            -d 256 >"$tmp/bench.out" 2>&1 || fail "pool=$pool: redis-benchmark"
        grep -q "requests per second" "$tmp/bench.out" ||
            fail "pool=$pool: redis-benchmark printed no results"
        redis-cli -p "$port" memory doctor >/dev/null 2>&1 # uses usable size
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
        wait $rpid || fail "pool=$pool: redis-server exited badly: $(cat "$tmp/redis.log" | tail -3)"
        echo "== redis under pool=$pool: ok"
    done
else
    echo "note: redis-server/redis-benchmark not installed: redis not tested (apt-get install redis-server)"
fi

# --- configuration ---
expect_error() { # expect_error SETTINGS EXPECTED-SUBSTRING [env...]
    settings=$1 want=$2
    shift 2
    out=$(env "$@" UMF_PROXY="$settings" LD_PRELOAD="$proxy" \
        sh -c 'echo main-ran' 2>&1)
    st=$?
    [ $st -eq 1 ] || fail "'$settings': exit status $st, expected 1"
    case $out in
    *main-ran*) fail "'$settings': the program ran" ;;
    esac
    case $out in
    "umf_proxy: "*"$want"*) ;;
    *) fail "'$settings': message '$out' lacks '$want'" ;;
    esac
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] ||
        fail "'$settings': more than one line: $out"
}
expect_error "pol=jemalloc" "did you mean 'pool'"
expect_error "pool=foo" "disjoint"
expect_error "size.threshold=abc" "size.threshold"
expect_error "numa.mode=sideways" "numa.mode"
expect_error "stats=maybe" "stats"
expect_error "tier.big.max=1M" "tier"
expect_error "tier.a.min=1K;tier.b.min=2K;tier.a.max=4K" "overlap"
expect_error "" "cannot read" UMF_PROXY_CONFIG="$tmp/missing.conf"
expect_error "stats=1;stats.file=$tmp/no/such/dir/stats" "stats.file"
# log.file and stats.file follow one rule: opened only when their output is
# on, and one that cannot be opened stops the program with one line.
expect_error "log=error;log.file=$tmp/no/such/dir/log" \
    "log.file $tmp/no/such/dir/log: cannot open: No such file or directory"
for settings in "log.file=$tmp/no/such/dir/log" \
    "stats.file=$tmp/no/such/dir/stats"; do
    out=$(UMF_PROXY="$settings" LD_PRELOAD="$proxy" sh -c 'echo main-ran' 2>&1) ||
        fail "'$settings' (output off): exit status $?"
    [ "$out" = main-ran ] || fail "'$settings' (output off): said '$out'"
done
# Control characters in the input are echoed escaped: still one line.
expect_error "pool=dis
joint" "pool: bad value 'dis\\njoint'"
expect_error "$(printf 'pool=\033[2Jx')" "pool: bad value '\\x1b[2Jx'"
# Shared memory takes only the default NUMA mode; the message says that.
expect_error "page.disposition=shared-shm;numa.nodes=all" \
    "numa.nodes: shared memory (page.disposition=shared-shm) supports only the default NUMA mode"
# A log level does not add the library's own error line to the proxy's.
expect_error "log=warning;numa.nodes=1000" "numa.nodes"
expect_error "log=debug;memspace=fastest" "memspace"
expect_error "numa.nodes=1000;numa.mode=bind" "numa.nodes"
expect_error "memspace=fastest" "host_all, highest_capacity"
expect_error "memspace=host_all;numa.nodes=0" "numa.nodes: not used with memspace"
# Without HMAT data (most VMs) the bandwidth/latency memspaces do not exist.
if "$top_builddir/umfrun" --show | grep -q "lowest_latency .*not available"; then
    expect_error "memspace=lowest_latency" "memspace=lowest_latency: not available"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libtbbmalloc\.so\.2'; then
    expect_error "pool=scalable" "libtbbmalloc2"
fi

# Sections: the file's [sort] settings apply to sort only; UMF_PROXY wins.
cat > "$tmp/proxy.conf" <<'EOF'
# test configuration
stats = 1
stats.file = STATSDIR/all.txt
[so?t]
stats.file = STATSDIR/sort.txt
EOF
sed -i "s|STATSDIR|$tmp|" "$tmp/proxy.conf"
echo b > "$tmp/two"
echo a >> "$tmp/two"
UMF_PROXY_CONFIG="$tmp/proxy.conf" LD_PRELOAD="$proxy" sort "$tmp/two" >/dev/null ||
    fail "sort with a config file"
UMF_PROXY_CONFIG="$tmp/proxy.conf" LD_PRELOAD="$proxy" cat "$tmp/two" >/dev/null ||
    fail "cat with a config file"
grep -q "(pid [0-9]*, sort)" "$tmp/sort.txt" 2>/dev/null ||
    fail "[so?t] section did not apply to sort"
grep -q "(pid [0-9]*, cat)" "$tmp/all.txt" 2>/dev/null ||
    fail "global stats.file did not apply to cat"
grep -q "sort" "$tmp/all.txt" 2>/dev/null && fail "sort's stats went to the global file"
out=$(UMF_PROXY_CONFIG="$tmp/proxy.conf" UMF_PROXY="stats=0" LD_PRELOAD="$proxy" cat "$tmp/two" 2>&1)
[ "$(grep -c "" "$tmp/all.txt")" -eq 4 ] || fail "UMF_PROXY did not override the file"

# Stats: allocations, frees and the header, on stderr by default.
out=$(run "stats=1" sort "$tmp/two" 2>&1 >/dev/null)
case $out in
*"umf_proxy stats"*"allocs"*"frees routed to the system allocator"*) ;;
*) fail "stats output missing: $out" ;;
esac

[ $failed -eq 0 ] && echo "ok: proxy tests passed (pools: $pools proxy)"
exit $failed
