#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# ipc_pair.sh - runs examples/ipc_producer, which starts ipc_consumer, with
# an anonymous memfd and with a named shm object (make check).
set -eu
: "${top_builddir:=.}"
dir="$top_builddir/examples"
"$dir/ipc_producer" "$dir/ipc_consumer" memfd
"$dir/ipc_producer" "$dir/ipc_consumer" shm
