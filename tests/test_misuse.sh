#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_misuse.sh - heap misuse probes (tests/misuse_probe: double free of
# 40 B and 200,000 B, free(p + 64) of a live 256 B block, realloc of a
# freed block), each in its own process, judged by outcome. The host and
# disjoint pools must stop the program (SIGABRT) with one line naming the
# pointer and the pool, through the UMF API and as the proxy's pool, and
# with host.checks=error / disjoint.checks=error be refused with no
# overlap. The other pools
# (jemalloc, scalable, proxy) are run too and must end (no hang); what they
# do is documented, not asserted: see scripts/misuse_table.sh and README.md.
set -u
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd)
probe="$top_builddir/tests/misuse_probe"
proxy="$top_builddir/.libs/libumf_proxy.so"
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
[ -x "$probe" ] || { echo "FAIL: $probe not built"; exit 1; }
[ -f "$proxy" ] || { echo "FAIL: $proxy not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf_misuse_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Sanitizer builds: the sanitizer's runtime serves malloc, so the proxy
# rows cannot run (see test_proxy.sh); the API rows still do.
san=$(ldd "$proxy" 2>/dev/null | awk '/lib(a|t)san\.so/ { print $3; exit }')
if [ -n "$san" ]; then
    echo "note: sanitizer build ($(basename "$san")): proxy rows skipped," \
        "the UMF API rows run"
fi
failed=0
fail() {
    echo "FAIL: $*"
    failed=1
}
probes="double-free-40 double-free-200000 free-interior-256 realloc-freed"

# run_probe LABEL PROXY-SETTINGS|- HEAP PROBE: sets st, out, err
run_probe() {
    if [ "$2" != - ] && [ -n "$san" ]; then
        st=skip
        return
    fi
    if [ "$2" = - ]; then
        timeout 60 "$probe" "$3" "$4" > "$tmp/out" 2> "$tmp/err"
    else
        timeout 60 env UMF_PROXY="$2" LD_PRELOAD="$proxy" \
            "$probe" "$3" "$4" > "$tmp/out" 2> "$tmp/err"
    fi
    st=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
    [ $st -eq 124 ] && fail "$1 $4: hangs"
}

# expect_abort LABEL NAME: SIGABRT, one stderr line naming a pointer and
# the pool NAME
expect_abort() {
    [ "$st" = skip ] && return
    if [ $st -ne 134 ]; then
        fail "$1: expected SIGABRT (134), got $st: $out $err"
        return
    fi
    case $err in
    *"umf: disjoint pool \"$2\": free(0x"*"): "*"; aborting"*) ;;
    *"umf: host pool \"$2\": free(0x"*"): "*"; aborting"*) ;;
    *) fail "$1: stderr does not name the pointer and the pool: $err" ;;
    esac
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] ||
        fail "$1: more than one line on stderr: $err"
}

for p in $probes; do
    # The UMF API: the disjoint pool has no realloc (NOT_SUPPORTED), so a
    # realloc of a freed block changes nothing there.
    run_probe "api disjoint" - disjoint "$p"
    if [ "$p" = realloc-freed ]; then
        [ $st -eq 0 ] || fail "api disjoint $p: $st: $out $err"
    else
        expect_abort "api disjoint $p" disjoint_pool
    fi
    # The host engine through the API (its blocks over 16 KiB are its
    # inner disjoint pool's, which reports under the same name).
    run_probe "api host" - host "$p"
    expect_abort "api host $p" host
    # The proxy's default pool (host), and with explicit settings.
    for s in "" "pool=host;size.threshold=16" "pool=disjoint;size.threshold=16"; do
        run_probe "proxy '$s'" "$s" malloc "$p"
        expect_abort "proxy '$s' $p" umf_proxy
    done
done
echo "== disjoint and host: every probe stopped with one line"

# disjoint.checks=error: refused, nothing handed out twice.
for p in $probes; do
    for s in "pool=disjoint;disjoint.checks=error" "pool=host;host.checks=error"; do
        run_probe "proxy $s" "$s" malloc "$p"
        [ "$st" = skip ] || [ $st -eq 0 ] ||
            fail "proxy $s $p: status $st: $out $err"
    done
done
echo "== checks=error: every probe refused, no overlap"

# The others: must end; the outcome is printed for the log.
for p in $probes; do
    for h in jemalloc scalable; do
        run_probe "api $h" - "$h" "$p"
        echo "api $h $p: status $st: $out"
        run_probe "proxy pool=$h" "pool=$h" malloc "$p"
        echo "proxy pool=$h $p: status $st: $out"
    done
done
exit $failed
