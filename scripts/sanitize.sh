#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# sanitize.sh asan|tsan [make arguments] - builds the distribution's files
# (make distdir) in build-asan/ or build-tsan/ with AddressSanitizer plus
# UndefinedBehaviorSanitizer, or ThreadSanitizer, and runs make check
# there. Called by `make check-asan` and `make check-tsan` from a configured
# tree; the tree's own build is not touched.
set -eu
kind=${1:?usage: sanitize.sh asan|tsan [make arguments]}
shift
case "$kind" in
asan)
    flags="--enable-asan --enable-ubsan"
    # Leaks are reported by LeakSanitizer at exit of every test program.
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    export ASAN_OPTIONS UBSAN_OPTIONS
    ;;
tsan)
    flags="--enable-tsan"
    # The suites fork from threaded parents and start threads in the
    # children, which is what they test. TSan's lock-order detector keeps
    # at most 64 locks held by one thread and stops with a CHECK failure
    # beyond: fork's prepare handlers hold every bucket lock of every pool
    # (the order is fork.h's ranks, not TSan's to judge), so it is off.
    TSAN_OPTIONS="die_after_fork=0:halt_on_error=1:detect_deadlocks=0:suppressions=$(pwd)/tests/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    export TSAN_OPTIONS
    ;;
*)
    echo "sanitize.sh: unknown kind '$kind' (asan or tsan)" >&2
    exit 2
    ;;
esac
jobs=$(nproc 2>/dev/null || echo 2)
dir="build-$kind"
rm -rf "$dir"
mkdir -p "$dir"
make distdir distdir="$dir/src" >/dev/null
cd "$dir/src"
./configure -q $flags
make -j"$jobs"
# Sanitizers slow stress tests down: fewer iterations (as under valgrind).
make -j"$jobs" check UMF_TEST_SLOW=4 "$@"
