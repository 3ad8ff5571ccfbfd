#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# misuse_table.sh - what each heap does about each misuse: runs
# tests/misuse_probe (build it with `make check` or
# `make tests/misuse_probe`) once per probe and heap, each in its own
# process, and prints a Markdown table (the one in README.md).
#
#   scripts/misuse_table.sh [BUILDDIR]
#
# Heaps: glibc's malloc (no proxy), the proxy with each pool (malloc/free
# under LD_PRELOAD=libumf_proxy.so), and each pool through the UMF API
# (jemalloc and scalable with their default settings, checks off, and with
# checks set to abort). The last two columns are what malloc_usable_size
# (umfPoolMallocUsableSize through the API) answers for a freed 40 B block
# and for p + 64 of a live 256 B block.
set -u
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG
b=$(cd "${1:-.}" && pwd)
probe="$b/tests/misuse_probe"
proxy="$b/.libs/libumf_proxy.so"
[ -x "$probe" ] && [ -f "$proxy" ] || {
    echo "misuse_table.sh: build first (make && make tests/misuse_probe)" >&2
    exit 1
}
LD_LIBRARY_PATH="$b/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf_misuse_table.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cell() { # proxy-settings|- heap probe -> one table cell
    if [ "$1" = - ]; then
        timeout 60 "$probe" "$2" "$3" > "$tmp/out" 2> "$tmp/err"
    else
        timeout 60 env UMF_PROXY="$1" LD_PRELOAD="$proxy" \
            "$probe" "$2" "$3" > "$tmp/out" 2> "$tmp/err"
    fi
    st=$?
    out=$(sed -n 's/^outcome: //p' "$tmp/out")
    err=$(head -1 "$tmp/err")
    case $st:$out in
    "0:usable size "*) echo "${out#usable size }" ;;
    0:*) echo "no overlap${out#no overlap}" ;;
    2:*) echo "**OVERLAP**: memory handed out twice" ;;
    77:*) echo "n/a" ;;
    124:*) echo "**hangs**" ;;
    134:*)
        case $err in
        "umf: "*" pool"*"; aborting") echo "stopped: one line" ;;
        "") echo "stopped (abort, no message)" ;;
        *) echo "stopped: \`$(printf '%s' "$err" | cut -c1-40)\`" ;;
        esac
        ;;
    139:*) echo "**crash** (SIGSEGV)" ;;
    *) echo "exit $st $out" ;;
    esac
}

probes="double-free-40 double-free-200000 double-free-4M free-interior-256 realloc-freed
usable-freed usable-freed-4M usable-interior"
printf '| heap |'
for p in $probes; do printf ' %s |' "$p"; done
printf '\n|---|'
for p in $probes; do printf -- '---|'; done
printf '\n'
row() { # label proxy-settings|- heap
    printf '| %s |' "$1"
    for p in $probes; do printf ' %s |' "$(cell "$2" "$3" "$p")"; done
    printf '\n'
}
row "glibc malloc (no proxy)" - malloc
for pool in host disjoint jemalloc scalable proxy; do
    row "proxy, pool=$pool" "pool=$pool" malloc
done
for pool in host disjoint jemalloc scalable; do
    row "API, $pool pool" - "$pool"
done
for pool in jemalloc scalable; do
    row "API, $pool pool, checks=abort" - "$pool-checked"
done
