#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_umfrun.sh - the umfrun launcher: --help and --version, options
# turned into UMF_PROXY items after the environment's (so they win), the
# proxy put first in LD_PRELOAD with the entries already there kept, -c
# naming the config file, a program really running under the proxy (its
# stats appear), the exit statuses (1 for a bad option or configuration,
# with the proxy parser's message; 127 for a program not found; the
# program's own otherwise) and --show.
set -u
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${top_builddir:=.}" "${top_srcdir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
umfrun="$top_builddir/umfrun"
proxy="$top_builddir/.libs/libumf_proxy.so"
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
UMFRUN_PROXY=$proxy
# Sanitizer builds: umfrun puts the sanitizer's runtime first.
san=$(ldd "$top_builddir/.libs/libumf_proxy.so" 2>/dev/null |
    awk '/lib(a|t)san\.so/ { print $3; exit }')
lead="${san:+$san }$proxy"
export UMFRUN_PROXY
[ -x "$umfrun" ] || { echo "FAIL: $umfrun not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/umfrun_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}

# --- help, version, usage errors ---
out=$("$umfrun" --help) || fail "--help: exit $?"
case $out in
*"usage: umfrun"*"--pool"*"--show"*) ;;
*) fail "--help: no usage text: $out" ;;
esac
"$umfrun" --version | grep -q '^umfrun (umf) ' || fail "--version"
"$umfrun" >/dev/null 2>&1
[ $? -eq 1 ] || fail "no program: exit status not 1"
"$umfrun" --no-such-option true >/dev/null 2>&1
[ $? -eq 1 ] || fail "unknown option: exit status not 1"
out=$("$umfrun" -p dis true 2>&1)
st=$?
[ $st -eq 1 ] || fail "bad pool: exit status $st"
[ "$out" = "umfrun: UMF_PROXY: pool: bad value 'dis' (accepted: host, disjoint, jemalloc, scalable, proxy)" ] ||
    fail "bad pool: message '$out'"
out=$("$umfrun" -o threshold=64 true 2>&1)
case $out in
"umfrun: UMF_PROXY: unknown key 'threshold' (did you mean"*) ;;
*) fail "unknown key: message '$out'" ;;
esac
"$umfrun" -o pool true >/dev/null 2>&1
[ $? -eq 1 ] || fail "--set without '=': exit status not 1"
"$umfrun" -c "$tmp/missing.conf" true >/dev/null 2>&1
[ $? -eq 1 ] || fail "missing config file: exit status not 1"
"$umfrun" /no/such/program >/dev/null 2>&1
[ $? -eq 127 ] || fail "missing program: exit status not 127"
"$umfrun" sh -c 'exit 7'
[ $? -eq 7 ] || fail "the program's exit status is not passed on"

# --- environment: options after the environment's items; LD_PRELOAD ---
out=$(UMF_PROXY="pool=disjoint;stats=0" LD_PRELOAD=libfoo.so \
    "$umfrun" -p scalable -t 64K -s sh -c 'echo "$UMF_PROXY|$LD_PRELOAD"' 2>/dev/null)
[ "$out" = "pool=disjoint;stats=0;pool=scalable;size.threshold=64K;stats=1|$lead libfoo.so" ] ||
    fail "environment: got '$out'"
# The proxy is not preloaded twice.
out=$(LD_PRELOAD="${san:+$san:}$proxy" "$umfrun" sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
[ "$out" = "$lead" ] || fail "proxy twice in LD_PRELOAD: '$out'"

# --- a real run: the heap in the chosen pool, stats at exit ---
seq 20000 | sort -R > "$tmp/in"
out=$("$umfrun" -p disjoint --stats-file "$tmp/stats" sort -n "$tmp/in" | tail -1)
[ "$out" = 20000 ] || fail "sort under umfrun printed '$out'"
grep -q "(pid [0-9]*, sort)" "$tmp/stats" || fail "no stats for sort"
grep -q "disjoint" "$tmp/stats" || fail "stats do not name the disjoint pool"
printf 'stats = 1\nstats.file = %s/cstats\n' "$tmp" > "$tmp/c.conf"
"$umfrun" -c "$tmp/c.conf" true || fail "-c: true failed"
grep -q "(pid [0-9]*, true)" "$tmp/cstats" || fail "-c: the file was not used"

# --- --show ---
out=$("$umfrun" --show -p disjoint -M host_all sort) || fail "--show: exit $?"
for want in "configuration for sort" "pool=disjoint" "memspace=host_all" \
    "pools on this machine:" "disjoint   available" "NUMA nodes:" \
    "memspaces (memspace=NAME):" "host_all" "highest_capacity" \
    "transparent huge pages"; do
    case $out in
    *"$want"*) ;;
    *) fail "--show lacks '$want'" ;;
    esac
done
"$umfrun" --show -p nope >/dev/null 2>&1
[ $? -eq 1 ] || fail "--show with a bad value: exit status not 1"

[ $failed -eq 0 ] && echo "ok: umfrun tests passed"
exit $failed
