#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_gpu_examples.sh - runs the GPU examples against the test doubles of
# the drivers (tests/.libs/libfake_ze_loader.so, libfake_cuda.so), chosen
# with UMF_ZE_LOADER_LIB and UMF_CUDA_LIB. Each must exit 0; a skip (77)
# is a failure here, since the doubles are always built.
#
# Environment (exported by the Makefile): top_builddir.
set -u

: "${top_builddir:=.}"
UMF_ZE_LOADER_LIB=$(cd "$top_builddir" && pwd)/tests/.libs/libfake_ze_loader.so
UMF_CUDA_LIB=$(cd "$top_builddir" && pwd)/tests/.libs/libfake_cuda.so
export UMF_ZE_LOADER_LIB UMF_CUDA_LIB

status=0
for ex in level_zero_shared_memory cuda_shared_memory ipc_level_zero; do
    out=$("$top_builddir/examples/$ex" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS: $ex: $(printf '%s\n' "$out" | tail -n 1)"
    else
        echo "FAIL: $ex exited $rc"
        printf '%s\n' "$out" | sed 's/^/    /'
        status=1
    fi
done
exit $status
