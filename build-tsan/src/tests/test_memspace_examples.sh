#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_memspace_examples.sh - examples/memspace_hmat on the XML topologies
# of tests/topologies: on the HMAT-style one it prints the nodes the
# highest-bandwidth and lowest-latency memspaces chose; on the one without
# memory attributes it skips (77) with its reason. (make check also runs
# the example on this machine, where it usually skips: no HMAT.)
set -eu

: "${top_srcdir:=.}" "${top_builddir:=.}"
prog="$top_builddir/examples/memspace_hmat"
topo="$top_srcdir/tests/topologies"
[ -x "$prog" ] || { echo "FAIL: $prog not built"; exit 1; }
status=0

out=$(HWLOC_XMLFILE="$topo/hmat_5nodes.xml" "$prog") || {
    echo "FAIL: memspace_hmat on hmat_5nodes.xml exited $?"; exit 1; }
printf '%s\n' "$out" | sed 's/^/memspace_hmat> /'
for want in 'highest bandwidth: 2 3' 'lowest latency: 0 1' \
            '  node 2: 2048 MiB' '  node 0: 8192 MiB'; do
    if ! printf '%s\n' "$out" | grep -qx "$want"; then
        echo "FAIL: no line '$want'"
        status=1
    fi
done

rc=0
out=$(HWLOC_XMLFILE="$topo/nomemattr_4nodes.xml" "$prog") || rc=$?
printf '%s\n' "$out" | sed 's/^/memspace_hmat> /'
if [ $rc -ne 77 ] || ! printf '%s\n' "$out" | grep -q '^SKIP: .*no ACPI HMAT'; then
    echo "FAIL: without memory attributes memspace_hmat exited $rc, not 77 with a reason"
    status=1
fi
[ $status -eq 0 ] && echo "ok: memspace_hmat chose 2 3 / 0 1 and skipped without HMAT"
exit $status
