#!/bin/sh
# Build some of upstream UMF 0.10.1's gtest suites against an installed umf
# and run them. Not part of make check (it needs an upstream checkout and
# googletest, neither of which the build has).
#
#   scripts/upstream_suites.sh UPSTREAM_DIR [PREFIX] [SUITE...]
#
# UPSTREAM_DIR  a checkout of oneapi-src/unified-memory-framework at v0.10.1
# PREFIX        where `make install` put umf (default /usr/local)
# SUITE         any of: provider_coarse provider_file_memory
#               provider_devdax_memory provider_file_memory_ipc ipc_file_prov
#               scalable_pool jemalloc_pool disjoint_pool (default: all)
#
# Only the public headers and libraries under PREFIX are taken from umf.
# Upstream's own test helpers (test/common) and the header-only helpers
# its tests include from src/ (cpp_helpers.hpp, utils/utils_sanitizers.h)
# are taken from UPSTREAM_DIR. A suite that needs upstream's compiled
# internals (the base allocator umf_ba_global_*, utils_*) fails to build or
# link here: that is reported as "needs upstream internals", not as a umf
# failure. Output: a line per suite and the logs under $OUT
# (default ./upstream-suites).
set -u
UP=${1:?usage: $0 UPSTREAM_DIR [PREFIX] [SUITE...]}
PREFIX=${2:-/usr/local}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
SUITES=${*:-provider_coarse provider_file_memory provider_devdax_memory provider_file_memory_ipc ipc_file_prov scalable_pool jemalloc_pool disjoint_pool}
OUT=${OUT:-$PWD/upstream-suites}
mkdir -p "$OUT"
T=$UP/test
INC="-I$T/common -I$T -I$UP/src -I$UP/src/utils -I$PREFIX/include"
CXX=${CXX:-g++}
CC=${CC:-gcc}
CXXFLAGS="-std=c++17 -O1 -g $INC -DUMF_POOL_JEMALLOC_ENABLED=1 -DUMF_POOL_SCALABLE_ENABLED=1"
LIBS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib -lumf -ljemalloc_pool -lgtest -lgtest_main -pthread"

# upstream's C test helpers, each compiled on its own (one may fail)
HELPERS=
for c in test_helpers.c test_helpers_linux.c pool_null.c pool_trace.c \
    provider_null.c provider_trace.c; do
    [ -f "$T/common/$c" ] || continue
    if $CC -O1 -g $INC -c -o "$OUT/${c%.c}.o" "$T/common/$c" \
        >"$OUT/${c%.c}.build.log" 2>&1; then
        HELPERS="$HELPERS $OUT/${c%.c}.o"
    fi
done
MC=
if $CXX $CXXFLAGS -c -o "$OUT/malloc_compliance_tests.o" \
    "$T/malloc_compliance_tests.cpp" >"$OUT/mc.build.log" 2>&1; then
    MC=$OUT/malloc_compliance_tests.o
fi

report() { printf '%-26s %s\n' "$1" "$2"; }

build_run() { # name source...
    name=$1
    shift
    bin=$OUT/umf_test-$name
    if ! $CXX $CXXFLAGS -o "$bin" "$@" $HELPERS $LIBS \
        >"$OUT/$name.build.log" 2>&1; then
        if grep -q -e 'umf_ba_global' -e 'provider_ba_global' -e 'utils_' -e '_internal.h' \
            -e 'base_alloc' "$OUT/$name.build.log"; then
            report "$name" "not built: needs upstream internals ($OUT/$name.build.log)"
        else
            report "$name" "not built ($OUT/$name.build.log)"
        fi
        return
    fi
    (cd "$OUT" && timeout 900 "$bin" >"$OUT/$name.log" 2>&1)
    rc=$?
    passed=$(grep -c '^\[       OK \]' "$OUT/$name.log")
    failed=$(grep -c '^\[  FAILED  \] .*(' "$OUT/$name.log")
    skipped=$(grep -c '^\[  SKIPPED \] .*(' "$OUT/$name.log")
    report "$name" "rc=$rc passed=$passed failed=$failed skipped=$skipped"
}

for s in $SUITES; do
    case $s in
    provider_coarse | provider_file_memory | provider_devdax_memory | \
        provider_file_memory_ipc)
        build_run "$s" "$T/$s.cpp" ;;
    scalable_pool | jemalloc_pool | disjoint_pool)
        build_run "$s" "$T/pools/$s.cpp" $MC ;;
    ipc_file_prov)
        ok=1
        for side in producer consumer; do
            $CC -O1 -g $INC -o "$OUT/test_ipc_file_prov_$side" \
                "$T/ipc_file_prov_$side.c" "$T/common/ipc_common.c" \
                "$T/common/ipc_os_prov_common.c" -L"$PREFIX/lib" \
                -Wl,-rpath,"$PREFIX/lib" -lumf \
                >"$OUT/ipc_file_prov_$side.build.log" 2>&1 || ok=0
        done
        if [ $ok = 0 ]; then
            report ipc_file_prov "not built ($OUT/ipc_file_prov_*.build.log)"
        else
            (cd "$OUT" && timeout 120 bash "$T/ipc_file_prov.sh" \
                >"$OUT/ipc_file_prov.log" 2>&1)
            report ipc_file_prov "rc=$?"
        fi ;;
    *) report "$s" "unknown suite" ;;
    esac
done
