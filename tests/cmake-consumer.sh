#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# cmake-consumer.sh PREFIX LIBDIR SRCDIR - run by `make installcheck` (and so by
# `make distcheck`): build tests/cmake-consumer with CMake against the umf
# installed under PREFIX (find_package(umf) + umf::umf, umf::headers,
# umf::jemalloc_pool), run it; then again after moving the installed tree
# (the package is relocatable); then check that versions this release does
# not satisfy are refused. CC is the C compiler to use.
set -eu
prefix=$1
libdir=$2
srcdir=$3
if ! command -v cmake > /dev/null 2>&1; then
    echo "cmake-consumer: SKIP: cmake not found (apt-get install cmake)"
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf-cmake-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# build NAME PREFIX [cmake args...]: configure and build in $tmp/NAME.
build() {
    name=$1
    pfx=$2
    shift 2
    cmake -S "$srcdir/tests/cmake-consumer" -B "$tmp/$name" \
        -DCMAKE_PREFIX_PATH="$pfx" -DCMAKE_C_COMPILER="${CC:-cc}" \
        "$@" > "$tmp/$name.log" 2>&1 &&
        cmake --build "$tmp/$name" >> "$tmp/$name.log" 2>&1
}

case "$libdir" in
"$prefix"/*) libdir_rel=${libdir#"$prefix"/} ;;
*) libdir_rel= ;;
esac

if ! build installed "$prefix"; then
    cat "$tmp/installed.log"
    echo "cmake-consumer: FAIL: find_package(umf) against $prefix"
    exit 1
fi
grep -- '-- umf ' "$tmp/installed.log"
LD_LIBRARY_PATH="$libdir" "$tmp/installed/consumer"

# Relocated: the config finds everything relative to itself (when libdir
# is under the prefix, as by default).
if [ -n "$libdir_rel" ]; then
    cp -a "$prefix" "$tmp/moved"
    if ! build moved-build "$tmp/moved"; then
        cat "$tmp/moved-build.log"
        echo "cmake-consumer: FAIL: the moved tree was not usable"
        exit 1
    fi
    if ! grep -q "^umf_DIR:PATH=$tmp/moved/" "$tmp/moved-build/CMakeCache.txt"; then
        echo "cmake-consumer: FAIL: umf_DIR does not point into the moved tree"
        exit 1
    fi
    LD_LIBRARY_PATH="$tmp/moved/$libdir_rel" "$tmp/moved-build/consumer"
    rm -rf "$tmp/moved"
fi

# Requests this 0.10.x must refuse: another 0.x minor, a later version.
for want in 0.9 0.11 1.1.0; do
    if build "want$want" "$prefix" -DUMF_REQUEST="$want"; then
        echo "cmake-consumer: FAIL: find_package(umf $want) accepted"
        exit 1
    fi
    grep -q 'not compatible\|not suitable\|Could not find a configuration' \
        "$tmp/want$want.log" || {
        cat "$tmp/want$want.log"
        echo "cmake-consumer: FAIL: find_package(umf $want): unexpected error"
        exit 1
    }
done
# ... and ones it must accept: the exact version, a range around it.
for want in 0.10.1 0.10.0 0.9...0.11; do
    if ! build "want$want" "$prefix" -DUMF_REQUEST="$want"; then
        cat "$tmp/want$want.log"
        echo "cmake-consumer: FAIL: find_package(umf $want) refused"
        exit 1
    fi
done
echo "cmake-consumer: PASS"
