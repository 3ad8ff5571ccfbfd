#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_ipc_procs.sh - IPC between real processes (tests/ipc_peer.c): a
# driver fork+execs a consumer and a producer that exchange handles over a
# Unix socket. For every pool this build can run (proxy, disjoint,
# scalable, jemalloc) x both sharing mechanisms (memfd via pidfd_getfd,
# named shm object): 10 handles; then 1,000 handles open at once; then the
# producer exiting while the consumer still maps its memory.
set -u

: "${top_builddir:=.}"
peer="$top_builddir/tests/ipc_peer"
[ -x "$peer" ] || { echo "FAIL: $peer not built"; exit 1; }

pools=$("$peer" pools) || { echo "FAIL: ipc_peer pools"; exit 1; }
[ -n "$pools" ] || { echo "FAIL: no pool available"; exit 1; }
echo "pools: $(echo $pools)"

status=0
extra_env=UMF_TEST_IPC=1
run() {
    # A failure prints the library's reason.
    if ! env "$extra_env" "UMF_LOG=level:error;output:stderr" \
        "$peer" run "$@"; then
        echo "  (with $extra_env)"
        status=1
    fi
}
for pool in $pools; do
    for mech in memfd shm; do
        run "$pool" "$mech" 10
        run "$pool" "$mech" 1000
        run "$pool" "$mech" 50 exit
    done
    # memfd_create rather than memfd_secret (the default where memory may
    # be locked without limit, e.g. as root).
    extra_env=UMF_MEM_FD_FUNC=memfd_create
    run "$pool" memfd 10
    extra_env=UMF_TEST_IPC=1
done
# No shm object of an exited producer left in /dev/shm (live ones may be
# another run's: /dev/shm is shared).
for name in $(ls /dev/shm 2>/dev/null | grep '^umf_test_ipc_peer_' || true); do
    if ! kill -0 "${name#umf_test_ipc_peer_}" 2>/dev/null; then
        echo "FAIL: /dev/shm/$name left behind"
        status=1
    fi
done
exit $status
