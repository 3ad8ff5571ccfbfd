#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# quickstart.sh - set up a fresh Debian 12 machine and build umf.
#
#   scripts/quickstart.sh run     install what is missing, build, run an
#                                 unmodified program (sort) under the proxy
#                                 with its stats shown
#   scripts/quickstart.sh check   install what is missing, build, check
#                                 the formatting (make format-check) and
#                                 run clang-tidy (make tidy), run the
#                                 whole test suite (make check), the suite
#                                 under the proxy (make check-under-proxy),
#                                 a clang build, and make distcheck (whose
#                                 installcheck builds a CMake consumer)
#
# Needs root (or sudo) only to install packages. Idempotent: packages that
# are present are not reinstalled, and an existing build is reused.
set -eu

cd "$(dirname "$0")/.."
mode=${1:-run}
jobs=$(nproc 2>/dev/null || echo 2)

need="build-essential autoconf automake libtool pkg-config libhwloc-dev check
libjemalloc-dev libtbbmalloc2"
# python3 and redis run under the proxy in make check; libze-dev (Level
# Zero headers and loader) lets tests/test_ze_abi check the Level Zero
# provider's view of the driver ABI against the real headers; cmake builds
# the CMake consumer of the installed tree (make installcheck, in
# distcheck); clang-format and clang-tidy (14 on Debian 12) for
# format-check and tidy.
[ "$mode" = check ] && need="$need clang python3 redis-server redis-tools libze-dev
cmake clang-format clang-tidy"

missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "quickstart: installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$jobs"

case "$mode" in
run)
    # sort, unmodified, its heap in a UMF pool; stats printed at exit.
    seq 200000 | shuf | LD_LIBRARY_PATH="$PWD/.libs" \
        LD_PRELOAD="$PWD/.libs/libumf_proxy.so" UMF_PROXY="stats=1" \
        sort -n | tail -n 1
    ;;
check)
    # Cheap static checks first: they fail in seconds to minutes.
    make format-check
    make tidy TIDY_JOBS="$jobs"
    make -j"$jobs" check
    # The whole suite again under LD_PRELOAD=libumf_proxy.so, twice.
    make -j"$jobs" check-under-proxy
    make -j"$jobs" distcheck
    # The build must also be warning-free with clang: build the library,
    # tests and benchmarks from the release tarball distcheck just made.
    rm -rf build-clang && mkdir build-clang
    tar -xzf umf-*.tar.gz -C build-clang --strip-components=1
    (cd build-clang && ./configure -q CC=clang CXX=clang++ &&
        make -j"$jobs" all && make -j"$jobs" check TESTS=)
    rm -rf build-clang
    echo "quickstart: all checks passed"
    ;;
*)
    echo "usage: $0 run|check" >&2
    exit 2
    ;;
esac
