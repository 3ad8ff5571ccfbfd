#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_ipc_file.sh - IPC between real processes (tests/ipc_peer.c) for the
# file provider and the devdax provider, every pool this build can run:
# 10 and 1,000 handles, then the producer exiting while the consumer still
# maps its memory.
#
# There is no device DAX here: the devdax runs use a regular file standing
# in for /dev/daxX.Y (UMF_DEVDAX_TEST_STANDIN=1, test-only), mapped without
# MAP_SYNC. The file provider runs on a file in $TMPDIR (not FSDAX: no
# MAP_SYNC either).
set -u

: "${top_builddir:=.}"
peer="$top_builddir/tests/ipc_peer"
[ -x "$peer" ] || { echo "FAIL: $peer not built"; exit 1; }

pools=$("$peer" pools) || { echo "FAIL: ipc_peer pools"; exit 1; }
[ -n "$pools" ] || { echo "FAIL: no pool available"; exit 1; }
echo "pools: $(echo $pools)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/umf_ipc_file.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' HUP INT TERM

status=0
# The pools' complaints about the provider having no free are expected
# (file and devdax memory goes back when the provider is destroyed); any
# other error line fails the run.
run() {
    out=$(env "UMF_LOG=level:error;output:stderr" "$peer" run "$@" 2>&1)
    rc=$?
    echo "$out" | grep -v -e 'provider free of' -e 'could not free' \
        -e 'pool_destroy failed' -e 'stand-in' -e '^\[ERROR UMF\] sp_finalize'
    [ $rc -eq 0 ] || status=1
}

dax_size=$((256 * 1024 * 1024))
for pool in $pools; do
    # file: the producer's file and the consumer's own provider's file.
    rm -f "$dir/f" "$dir/f.consumer"
    IPC_PEER_FILE="$dir/f"; export IPC_PEER_FILE
    run "$pool" file 10
    run "$pool" file 1000
    run "$pool" file 50 exit
    # devdax stand-ins: sparse files of the "device" size.
    rm -f "$dir/d" "$dir/d.consumer"
    truncate -s "$dax_size" "$dir/d" "$dir/d.consumer" || {
        echo "FAIL: truncate"; exit 1; }
    IPC_PEER_FILE="$dir/d"; export IPC_PEER_FILE
    UMF_DEVDAX_TEST_STANDIN=1 IPC_PEER_DAX_SIZE=$dax_size \
        run "$pool" devdax 10
    UMF_DEVDAX_TEST_STANDIN=1 IPC_PEER_DAX_SIZE=$dax_size \
        run "$pool" devdax 50 exit
done
exit $status
