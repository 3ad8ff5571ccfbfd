#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_misuse.sh - heap misuse probes (tests/misuse_probe: double free of
# 40 B and 200,000 B, free(p + 64) of a live 256 B block, realloc of a
# freed block), each in its own process, judged by outcome. Every pool
# under the proxy (host, disjoint, jemalloc, scalable) and the host and
# disjoint pools through the UMF API (jemalloc and scalable with their
# checks set to abort) must stop the program (SIGABRT) with one line naming
# the pointer and the pool, and with <pool>.checks=error be refused with no
# overlap; pool=proxy must stop on the freed-block probes and refuse the
# interior free. malloc_usable_size of a freed or interior pointer must be
# 0 on all of them. The jemalloc and scalable pools through the API with
# their default settings (checks off) are run too and must end (no hang);
# what they do is documented, not asserted: see scripts/misuse_table.sh
# and README.md.
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
probes="double-free-40 double-free-200000 double-free-4M free-interior-256 realloc-freed"
# Pools built in: jemalloc only with its library.
pools="host disjoint scalable"
[ -f "$top_builddir/.libs/libjemalloc_pool.so" ] && pools="$pools jemalloc"

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
# the pool NAME (the name of a host or disjoint pool, or "jemalloc",
# "scalable" or "proxy": the engines whose line names no pool, or the
# proxy pool)
expect_abort() {
    [ "$st" = skip ] && return
    if [ $st -ne 134 ]; then
        fail "$1: expected SIGABRT (134), got $st: $out $err"
        return
    fi
    case $2:$err in
    jemalloc:*"umf: jemalloc pool: free(0x"*"): "*"; aborting"*) ;;
    scalable:*"umf: scalable pool: free(0x"*"): "*"; aborting"*) ;;
    # A freed block its pool unmapped (pool=proxy; scalable's large blocks).
    *:*"umf: "*" pool \"umf_proxy\": "*"(0x"*"): not a live block (already freed: its memory is unmapped); aborting"*) ;;
    *:*"umf: disjoint pool \"$2\": free(0x"*"): "*"; aborting"*) ;;
    *:*"umf: host pool \"$2\": free(0x"*"): "*"; aborting"*) ;;
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
    # jemalloc and scalable: checked by the proxy's default, and through
    # the API when their checks are set.
    for h in $pools; do
        case $h in jemalloc | scalable) ;; *) continue ;; esac
        run_probe "api $h-checked" - "$h-checked" "$p"
        expect_abort "api $h-checked $p" "$h"
        run_probe "proxy pool=$h" "pool=$h" malloc "$p"
        expect_abort "proxy pool=$h $p" "$h"
    done
    # pool=proxy: a freed block is unmapped; an interior free is refused.
    run_probe "proxy pool=proxy" "pool=proxy" malloc "$p"
    if [ "$p" = free-interior-256 ]; then
        [ "$st" = skip ] || [ $st -eq 0 ] ||
            fail "proxy pool=proxy $p: status $st: $out $err"
    else
        expect_abort "proxy pool=proxy $p" proxy
    fi
done
# A large block freed twice, the second time after the proxy's large-block
# cache gave it back to the OS.
for s in "" "pool=disjoint"; do
    run_probe "proxy '$s'" "$s" malloc double-free-4M-late
    [ "$st" = skip ] || case $st:$err in
    134:*"umf: "*" pool \"umf_proxy\": free(0x"*"): "*"; aborting"*) ;;
    *) fail "proxy '$s' double-free-4M-late: status $st: $out $err" ;;
    esac
done
echo "== every pool under the proxy: every probe stopped with one line"

# <pool>.checks=error: refused, nothing handed out twice.
for p in $probes; do
    for h in $pools; do
        s="pool=$h;$h.checks=error"
        run_probe "proxy $s" "$s" malloc "$p"
        [ "$st" = skip ] || [ $st -eq 0 ] ||
            fail "proxy $s $p: status $st: $out $err"
    done
done
echo "== checks=error: every probe refused, no overlap"

# malloc_usable_size of a freed or an interior pointer: 0, whatever the pool.
for p in usable-freed usable-freed-4M usable-interior; do
    for h in $pools proxy; do
        run_probe "proxy pool=$h" "pool=$h" malloc "$p"
        [ "$st" = skip ] && continue
        [ $st -eq 0 ] && [ "$out" = "outcome: usable size 0" ] ||
            fail "proxy pool=$h $p: status $st: $out $err"
    done
    for h in host disjoint $pools; do
        case $h in jemalloc | scalable) h=$h-checked ;; esac
        run_probe "api $h" - "$h" "$p"
        [ $st -eq 0 ] && [ "$out" = "outcome: usable size 0" ] ||
            fail "api $h $p: status $st: $out $err"
    done
done
echo "== malloc_usable_size: 0 for freed and interior pointers"

# The engines' own behaviour (the API default, checks off): must end; the
# outcome is printed for the log.
for p in $probes usable-freed usable-freed-4M usable-interior; do
    for h in $pools; do
        case $h in jemalloc | scalable) ;; *) continue ;; esac
        run_probe "api $h" - "$h" "$p"
        echo "api $h $p: status $st: $out"
    done
done
exit $failed
