#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_headers_compile.sh - the public headers compile cleanly, alone and all
# together, as C99, C11, C17, gnu11, C++11 and C++17 with -Wall -Wextra
# -Werror -pedantic, and the values they define are the contract's:
# tests/headers_tu.c pins them at compile time and checks them again when
# run. It needs no library.
#
# Environment (exported by the Makefile): CC, CXX, top_srcdir, top_builddir.

set -eu

CC=${CC:-cc}
CXX=${CXX:-c++}
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}

src="$top_srcdir/tests/headers_tu.c"
inc="$top_srcdir/include"
if [ ! -f "$src" ]; then
    echo "FAIL: $src not found (set top_srcdir)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/umf_headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

WFLAGS="-Wall -Wextra -Werror -pedantic"
failed=0

# $1: label, $2: compiler, $3: extra flags (word-split on purpose)
build_and_run() {
    exe="$tmp/headers_$1"
    # shellcheck disable=SC2086
    if ! $2 $3 $WFLAGS -I"$inc" "$src" -o "$exe" >"$tmp/$1.log" 2>&1; then
        echo "FAIL: headers_tu $1: does not compile ($2 $3)"
        sed 's/^/    /' "$tmp/$1.log"
        failed=1
        return 0
    fi
    if [ -s "$tmp/$1.log" ]; then
        echo "FAIL: headers_tu $1: compiler output (should be none)"
        sed 's/^/    /' "$tmp/$1.log"
        failed=1
        return 0
    fi
    if ! "$exe" >"$tmp/$1.run" 2>&1; then
        echo "FAIL: headers_tu $1: run-time checks failed"
        sed 's/^/    /' "$tmp/$1.run"
        failed=1
        return 0
    fi
    echo "PASS: headers_tu $1 ($2 $3)"
}

for std in c99 c11 c17 gnu11; do
    build_and_run "$std" "$CC" "-std=$std"
done
for std in c++11 c++17; do
    build_and_run "$std" "$CXX" "-x c++ -std=$std"
done

# Each header alone is self-contained and brings in exactly what contract
# section 1.1 lists (checked through the include guards it must define).
# Format: header|guards that must be defined|guards that must not be.
standalone() {
    cat <<'EOF'
umf.h|UMF_UNIFIED_MEMORY_FRAMEWORK_H UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H UMF_MEMPOLICY_H UMF_MEMSPACE_H UMF_BASE_H UMF_MEMORY_PROVIDER_OPS_H UMF_MEMTARGET_H|UMF_MEMORY_POOL_OPS_H UMF_IPC_H
umf/base.h|UMF_BASE_H|UMF_MEMORY_PROVIDER_OPS_H UMF_MEMORY_PROVIDER_H
umf/memory_provider_ops.h|UMF_MEMORY_PROVIDER_OPS_H UMF_BASE_H|UMF_MEMORY_PROVIDER_H
umf/memory_provider.h|UMF_MEMORY_PROVIDER_H UMF_BASE_H UMF_MEMORY_PROVIDER_OPS_H|UMF_MEMORY_POOL_H
umf/memory_pool_ops.h|UMF_MEMORY_POOL_OPS_H UMF_BASE_H UMF_MEMORY_PROVIDER_H UMF_MEMORY_PROVIDER_OPS_H|UMF_MEMORY_POOL_H
umf/memory_pool.h|UMF_MEMORY_POOL_H UMF_BASE_H UMF_MEMORY_PROVIDER_H UMF_MEMORY_PROVIDER_OPS_H|UMF_MEMORY_POOL_OPS_H
umf/ipc.h|UMF_IPC_H UMF_BASE_H UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H UMF_MEMORY_PROVIDER_OPS_H|UMF_MEMORY_POOL_OPS_H
umf/mempolicy.h|UMF_MEMPOLICY_H UMF_BASE_H|UMF_MEMORY_PROVIDER_H
umf/memtarget.h|UMF_MEMTARGET_H UMF_BASE_H|UMF_MEMORY_PROVIDER_H
umf/memspace.h|UMF_MEMSPACE_H UMF_BASE_H UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H UMF_MEMPOLICY_H UMF_MEMTARGET_H|UMF_MEMORY_POOL_OPS_H
umf/providers/provider_os_memory.h|UMF_OS_MEMORY_PROVIDER_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_H
umf/memory_provider_gpu.h|UMF_MEMORY_PROVIDER_GPU_H UMF_MEMORY_PROVIDER_H UMF_MEMORY_PROVIDER_OPS_H UMF_BASE_H|UMF_MEMORY_POOL_H
umf/providers/provider_cuda.h|UMF_PROVIDER_CUDA_H UMF_MEMORY_PROVIDER_GPU_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_H UMF_PROVIDER_LEVEL_ZERO_H
umf/providers/provider_level_zero.h|UMF_PROVIDER_LEVEL_ZERO_H UMF_MEMORY_PROVIDER_GPU_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_H UMF_PROVIDER_CUDA_H
umf/pools/pool_proxy.h|UMF_PROXY_MEMORY_POOL_H UMF_BASE_H UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H|UMF_MEMORY_POOL_OPS_H
umf/pools/pool_disjoint.h|UMF_DISJOINT_POOL_MIN_BUCKET_DEFAULT_SIZE UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_OPS_H
umf/pools/pool_jemalloc.h|UMF_JEMALLOC_MEMORY_POOL_H UMF_MEMORY_POOL_OPS_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_H
umf/pools/pool_scalable.h|UMF_SCALABLE_MEMORY_POOL_H UMF_MEMORY_POOL_H UMF_MEMORY_PROVIDER_H UMF_BASE_H|UMF_MEMORY_POOL_OPS_H
EOF
}

n=0
bad=0
standalone >"$tmp/standalone.list"
while IFS='|' read -r hdr need forbid; do
    n=$((n + 1))
    tu="$tmp/alone_$n.c"
    {
        echo "#include <$hdr>"
        echo "#include <$hdr>"
        for g in $need; do
            printf '#ifndef %s\n#error "%s does not define or bring in %s"\n#endif\n' \
                "$g" "$hdr" "$g"
        done
        for g in $forbid; do
            printf '#ifdef %s\n#error "%s brings in %s, not listed by the contract"\n#endif\n' \
                "$g" "$hdr" "$g"
        done
        echo "int umf_alone_$n;"
    } >"$tu"
    for cc_std in "$CC|-x c -std=c11" "$CXX|-x c++ -std=c++11"; do
        comp=${cc_std%%|*}
        flags=${cc_std#*|}
        # shellcheck disable=SC2086
        if ! $comp $flags $WFLAGS -I"$inc" -fsyntax-only "$tu" \
            >"$tmp/alone.log" 2>&1 || [ -s "$tmp/alone.log" ]; then
            echo "FAIL: $hdr alone ($comp $flags)"
            sed 's/^/    /' "$tmp/alone.log"
            bad=1
        fi
    done
done <"$tmp/standalone.list"
if [ "$bad" -eq 0 ]; then
    echo "PASS: each of $n headers alone, C11 and C++11"
else
    failed=1
fi

exit "$failed"
