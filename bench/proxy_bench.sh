#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# proxy_bench.sh - wall time of whole processes (bench/proxy_work.c: the
# workloads exchange, prodcons, workingset, workingset:2, realloc, small,
# large, large:2, grow, bigcalloc)
# under each malloc: glibc (no preload), jemalloc, tbbmalloc_proxy,
# mimalloc, tcmalloc, and LD_PRELOAD=libumf_proxy.so with its default pool
# and with UMF_PROXY="pool=jemalloc", "pool=disjoint", "pool=scalable".
# Each cell is the median of R runs, with its ratio to glibc; a run that
# exits non-zero, times out, prints a checksum other than glibc's, or whose
# preload ld.so refused, makes the cell FAIL (reasons listed below the
# table). Then our default proxy against the best of jemalloc,
# tbbmalloc_proxy, mimalloc and tcmalloc per workload, and the proxy's
# start-up cost: the time of /bin/true (bench/startup.c, 200 runs per
# round) and the peak RSS of a process that only starts, with and
# without it.
# With /usr/bin/time (GNU time), each run also goes through it and a second
# table gives each cell's median peak RSS; every row pays its exec alike.
#
# Usage: bench/proxy_bench.sh [-q] [-r N] [-s SCALE] [-w 'WL ...']
#                             [--proxy PATH] [--tsv FILE] [--install]
#   -q          quick: R=1, scale 0.3, 50 start-up runs
#   -r N        runs per cell (default 5)
#   -s SCALE    work per run, passed to proxy_work (default 1)
#   -w LIST     workloads, each NAME or NAME:THREADS (also huge: 1-4 MiB
#               buffers, not in the default list)
#   --proxy P   libumf_proxy.so (default: $(dirname $0)/../.libs/...)
#   --tsv FILE  also write the results to FILE as tab-separated lines
#               (meta KEY VALUE; cell ROW LABEL WORKLOAD SECONDS RATIO
#               RSS_KIB, "-" where none; fail ROW LABEL WORKLOAD REASON;
#               startup MS_WITHOUT MS_WITH RSS_KIB_WITHOUT RSS_KIB_WITH):
#               what bench/bench_report.py (make bench-report) reads
#   --install   as root, apt-get install the allocators that are missing
# CC (default cc) builds proxy_work into a temporary directory. Allocators
# not installed, and our proxy when not built, are skipped with a note.
# Exits 1 when anything printed FAIL. On a 2-core VM, -q took about 2
# minutes and a full run takes far longer: at scale 1 some allocators
# spend many seconds per grow or bigcalloc run (see -w).
set -eu

usage() { # EXIT-STATUS: the header's usage part, on stderr unless asked for
    if [ "$1" = 0 ]; then
        sed -n '/^# Usage:/,/^# spend many/p' "$0" | sed 's/^# \{0,1\}//'
    else
        sed -n '/^# Usage:/,/^# spend many/p' "$0" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$1"
}

here=$(cd "$(dirname "$0")" && pwd)
proxy="$here/../.libs/libumf_proxy.so"
reps=5
scale=1
quick=0
install=0
reps_set=0
scale_set=0
workloads="exchange prodcons workingset workingset:2 realloc small large large:2 grow bigcalloc"
startup_runs=200
run_limit=120 # seconds before a run counts as hung
tsv=""

quote() { # ARG: ARG as sh would need it written
    case $1 in
    '' | *[!A-Za-z0-9_./:=,+-]*)
        printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
        ;;
    *) printf '%s' "$1" ;;
    esac
}
command_line="bench/proxy_bench.sh"
for a in "$@"; do
    command_line="$command_line $(quote "$a")"
done

while [ $# -gt 0 ]; do
    case $1 in
    -q) quick=1 ;;
    -r)
        [ $# -ge 2 ] || usage 2
        reps=$2 reps_set=1
        shift
        ;;
    -s)
        [ $# -ge 2 ] || usage 2
        scale=$2 scale_set=1
        shift
        ;;
    -w)
        [ $# -ge 2 ] || usage 2
        workloads=$2
        shift
        ;;
    --proxy)
        [ $# -ge 2 ] || usage 2
        proxy=$2
        shift
        ;;
    --proxy=*) proxy=${1#--proxy=} ;;
    --tsv)
        [ $# -ge 2 ] || usage 2
        tsv=$2
        shift
        ;;
    --install) install=1 ;;
    -h | --help) usage 0 ;;
    *)
        echo "proxy_bench: unknown argument '$1'" >&2
        usage 2
        ;;
    esac
    shift
done
if [ "$quick" = 1 ]; then
    [ "$reps_set" = 1 ] || reps=1
    [ "$scale_set" = 1 ] || scale=0.3
    startup_runs=50
fi
case $reps in
'' | *[!0-9]* | 0)
    echo "proxy_bench: -r wants a positive integer, not '$reps'" >&2
    exit 2
    ;;
esac
for wl in $workloads; do
    case ${wl%%:*} in
    exchange | prodcons | workingset | realloc | small | large | huge | grow | bigcalloc) ;;
    *)
        echo "proxy_bench: unknown workload '$wl' (exchange prodcons" \
            "workingset realloc small large huge grow bigcalloc, optionally" \
            ":THREADS)" >&2
        exit 2
        ;;
    esac
done

if [ -n "$tsv" ]; then
    # Now, so that an unwritable FILE fails before minutes of runs.
    : >"$tsv"
fi
tsv_line() { # FIELD...: one line of --tsv FILE, tabs and newlines inside
    # a field turned into spaces
    [ -n "$tsv" ] || return 0
    awk 'BEGIN {
        for (i = 1; i < ARGC; i++) {
            f = ARGV[i]
            gsub(/[\t\n]/, " ", f)
            printf "%s%s", f, (i < ARGC - 1 ? "\t" : "\n")
        } }' "$@" >>"$tsv"
}

# Our own runs set these; inherited ones would skew every row.
unset LD_PRELOAD UMF_PROXY UMF_PROXY_CONFIG UMF_LOG

tmp=$(mktemp -d "${TMPDIR:-/tmp}/proxy_bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- find and install the allocators ---

ldconfig_cmd=$(command -v ldconfig || echo /sbin/ldconfig)
multiarch=$(${CC:-cc} -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] || multiarch="$(uname -m)-linux-gnu"

find_lib() { # SONAME...: prints the path of the first found, or nothing
    for so in "$@"; do
        p=$("$ldconfig_cmd" -p 2>/dev/null |
            awk -v n="$so" '$1 == n { print $NF; exit }')
        if [ -n "$p" ] && [ -f "$p" ]; then
            echo "$p"
            return
        fi
        for d in "/usr/lib/$multiarch" "/lib/$multiarch" /usr/lib64 \
            /usr/local/lib /usr/lib; do
            if [ -f "$d/$so" ]; then
                echo "$d/$so"
                return
            fi
        done
    done
}

# row  sonames  package (Debian 12)
allocators="jemalloc:libjemalloc.so.2:libjemalloc2
tbbmalloc:libtbbmalloc_proxy.so.2:libtbbmalloc2
mimalloc:libmimalloc.so.2,libmimalloc.so.2.0:libmimalloc2.0
tcmalloc:libtcmalloc_minimal.so.4:libtcmalloc-minimal4"

lib_of() { # ROW: the preload library of an allocator row, or nothing
    line=$(echo "$allocators" | grep "^$1:")
    sonames=$(echo "$line" | cut -d: -f2 | tr , ' ')
    # shellcheck disable=SC2086 # split on purpose
    find_lib $sonames
}

if [ "$install" = 1 ]; then
    missing=""
    for row in jemalloc tbbmalloc mimalloc tcmalloc; do
        if [ -z "$(lib_of "$row")" ]; then
            missing="$missing $(echo "$allocators" | grep "^$row:" |
                cut -d: -f3)"
        fi
    done
    [ -x /usr/bin/time ] || missing="$missing time"
    if [ -z "$missing" ]; then
        :
    elif [ "$(id -u)" != 0 ]; then
        echo "note: --install needs root; not installing:$missing"
    else
        echo "installing:$missing" >&2
        apt-get update -qq >/dev/null ||
            echo "note: apt-get update failed"
        # One at a time: a package this release lacks spoils no other.
        for pkg in $missing; do
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "$pkg" >/dev/null 2>&1 ||
                echo "note: apt-get install $pkg failed"
        done
    fi
fi

# --- the rows ---

rows="glibc"
for row in jemalloc tbbmalloc mimalloc tcmalloc; do
    if [ -n "$(lib_of "$row")" ]; then
        rows="$rows $row"
    else
        pkg=$(echo "$allocators" | grep "^$row:" | cut -d: -f3)
        echo "note: $row skipped: not installed (Debian package $pkg;" \
            "--install as root installs it)"
    fi
done

have_proxy=0
if [ -f "$proxy" ]; then
    proxy=$(cd "$(dirname "$proxy")" && pwd)/$(basename "$proxy")
    proxy_dir=$(dirname "$proxy")
    # The proxy's own libraries (libumf ...) from its build tree.
    umf_libpath="$proxy_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    have_proxy=1
    rows="$rows umf umf_disjoint"
    # Same rules as tests/test_proxy.sh for which pools this build has.
    if [ -f "$proxy_dir/libjemalloc_pool.so.0" ]; then
        rows="$rows umf_jemalloc"
    else
        echo "note: umf pool=jemalloc skipped: $proxy built without jemalloc"
    fi
    if [ -n "$(find_lib libtbbmalloc.so.2)" ]; then
        rows="$rows umf_scalable"
    else
        echo "note: umf pool=scalable skipped: libtbbmalloc.so.2 missing"
    fi
    # Run a private copy of the proxy and of its libraries from its own
    # directory: a rebuild during the run then cannot fail runs or mix
    # versions between rows.
    mkdir "$tmp/lib"
    LD_LIBRARY_PATH="$umf_libpath" ldd "$proxy" 2>/dev/null |
        awk -v d="$proxy_dir/" 'index($3, d) == 1 { print $1, $3 }' |
        while read -r so path; do
            cp -L "$path" "$tmp/lib/$so"
        done
    cp -L "$proxy" "$tmp/lib/libumf_proxy.so"
    # Loaded by the proxy only for pool=jemalloc (preloaded in that row).
    if [ -f "$proxy_dir/libjemalloc_pool.so.0" ]; then
        cp -L "$proxy_dir/libjemalloc_pool.so.0" "$tmp/lib/"
    fi
    echo "note: umf rows run a copy of $proxy taken now"
    proxy="$tmp/lib/libumf_proxy.so"
    umf_libpath="$tmp/lib:$umf_libpath"
    if [ -f /etc/umf/proxy.conf ]; then
        echo "note: /etc/umf/proxy.conf exists: its settings apply to" \
            "the umf rows"
    fi
else
    echo "note: umf rows skipped: $proxy not found (build it with make," \
        "or give --proxy PATH)"
fi

label_of() {
    case $1 in
    tbbmalloc) echo tbbmalloc_proxy ;;
    umf) echo "umf (default)" ;;
    umf_*) echo "umf pool=${1#umf_}" ;;
    *) echo "$1" ;;
    esac
}

for row in jemalloc tbbmalloc mimalloc tcmalloc; do
    case " $rows " in *" $row "*) ;; *) continue ;; esac
    case $row in
    jemalloc) lib_jemalloc=$(lib_of "$row") ;;
    tbbmalloc) lib_tbbmalloc=$(lib_of "$row") ;;
    mimalloc) lib_mimalloc=$(lib_of "$row") ;;
    tcmalloc) lib_tcmalloc=$(lib_of "$row") ;;
    esac
done

# Runs `$prefix env VARS command...`, VARS selecting ROW's malloc. Every
# row goes through env, so each pays the same exec; prefix (the time
# limit, or nothing) is set by the caller.
prefix=""
with_row() { # ROW command...
    row=$1
    shift
    case $row in
    glibc) set -- env "$@" ;;
    jemalloc) set -- env LD_PRELOAD="$lib_jemalloc" "$@" ;;
    tbbmalloc) set -- env LD_PRELOAD="$lib_tbbmalloc" "$@" ;;
    mimalloc) set -- env LD_PRELOAD="$lib_mimalloc" "$@" ;;
    tcmalloc) set -- env LD_PRELOAD="$lib_tcmalloc" "$@" ;;
    umf) set -- env LD_PRELOAD="$proxy" LD_LIBRARY_PATH="$umf_libpath" "$@" ;;
    umf_*)
        set -- env LD_PRELOAD="$proxy" LD_LIBRARY_PATH="$umf_libpath" \
            UMF_PROXY="pool=${row#umf_}" "$@"
        ;;
    esac
    $prefix "$@"
}

# --- build ---

work="$tmp/proxy_work"
${CC:-cc} -O2 -std=c11 -pthread -o "$work" "$here/proxy_work.c"

limit=""
command -v timeout >/dev/null && limit="timeout $run_limit"
# Peak RSS of each run: GNU time inside the limit (which stops the whole
# process group), outside env, so that it measures the workload itself.
rss_timer=""
if [ -x /usr/bin/time ] &&
    /usr/bin/time -f 'rss=%M' true 2>&1 | grep -q '^rss=[0-9]'; then
    rss_timer="/usr/bin/time -f proxy_bench_rss=%M"
else
    echo "note: peak RSS per cell skipped: no GNU /usr/bin/time" \
        "(Debian package time; --install as root installs it)"
fi

key_of() { echo "$1" | tr ':' '_'; }

args_of() { # WORKLOAD-SPEC: proxy_work's arguments
    case $1 in
    *:*) echo "${1%%:*} ${1#*:} $scale" ;;
    *) echo "$1 0 $scale" ;;
    esac
}

# --- runs ---

# The reference: one untimed glibc run per workload (also a warm-up).
for wl in $workloads; do
    k=$(key_of "$wl")
    # shellcheck disable=SC2046 # split on purpose
    if ! $limit "$work" $(args_of "$wl") >"$tmp/ref_$k" 2>"$tmp/err"; then
        echo "proxy_bench: proxy_work $(args_of "$wl") fails under glibc:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
done

# One run: appends its nanoseconds to t_ROW_KEY and its peak RSS in KiB
# to r_ROW_KEY, or a reason to f_ROW_KEY.
run_one() { # ROW WORKLOAD-SPEC
    k=$(key_of "$2")
    t0=$(date +%s%N)
    rc=0
    prefix="$limit $rss_timer"
    # shellcheck disable=SC2046 # split on purpose
    with_row "$1" "$work" $(args_of "$2") >"$tmp/out" 2>"$tmp/err_t" ||
        rc=$?
    prefix=""
    t1=$(date +%s%N)
    grep -v '^proxy_bench_rss=' "$tmp/err_t" >"$tmp/err" || true
    rss_kib=$(sed -n 's/^proxy_bench_rss=//p' "$tmp/err_t" | tail -n 1)
    why=""
    if [ "$rc" = 124 ] && [ -n "$limit" ]; then
        why="hung: killed after ${run_limit}s"
    elif [ "$rc" != 0 ]; then
        why="exit status $rc"
    elif grep -q 'cannot be preloaded' "$tmp/err"; then
        why="ld.so did not preload it"
    elif ! cmp -s "$tmp/out" "$tmp/ref_$k"; then
        why="checksum differs from glibc's: $(head -c 200 "$tmp/out")"
    fi
    if [ -n "$why" ]; then
        echo "$why" >>"$tmp/w_$1_$k"
        {
            echo "$(label_of "$1") / $2: $why"
            tail -n 3 "$tmp/err" | sed 's/^/    /'
        } >>"$tmp/f_$1_$k"
    else
        echo $((t1 - t0)) >>"$tmp/t_$1_$k"
        if [ -n "$rss_kib" ]; then
            echo "$rss_kib" >>"$tmp/r_$1_$k"
        fi
    fi
}

r=1
while [ "$r" -le "$reps" ]; do
    echo "run $r/$reps ..." >&2
    # Rows inside workloads inside repetitions: drift in the machine's
    # speed spreads over every row alike.
    for wl in $workloads; do
        for row in $rows; do
            run_one "$row" "$wl"
        done
    done
    r=$((r + 1))
done

median() { # FILE of numbers: their median
    sort -n "$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Median seconds of a cell, or nothing when any of its runs failed.
cell_s() { # ROW WORKLOAD-SPEC
    k=$(key_of "$2")
    if [ -f "$tmp/f_$1_$k" ] || [ ! -f "$tmp/t_$1_$k" ]; then
        return
    fi
    median "$tmp/t_$1_$k" | awk '{ printf "%.4f", $1 / 1e9 }'
}

# Median peak RSS of a cell in KiB, or nothing (failed, or not measured).
cell_rss() { # ROW WORKLOAD-SPEC
    k=$(key_of "$2")
    if [ -f "$tmp/f_$1_$k" ] || [ ! -f "$tmp/r_$1_$k" ]; then
        return
    fi
    median "$tmp/r_$1_$k" | awk '{ printf "%d", $1 }'
}

# --- the table ---

echo
echo "proxy_work wall time: median of $reps run(s), scale $scale;" \
    "(ratio to glibc, below 1 is faster)"
echo "$(uname -srm), $(nproc 2>/dev/null || echo '?') cores," \
    "$(ldd --version 2>/dev/null | head -n 1)"
printf '%-18s' "allocator"
for wl in $workloads; do
    printf ' %15s' "$wl"
done
echo
for row in $rows; do
    printf '%-18s' "$(label_of "$row")"
    for wl in $workloads; do
        s=$(cell_s "$row" "$wl")
        g=$(cell_s glibc "$wl")
        if [ -z "$s" ]; then
            printf ' %15s' FAIL
        elif [ -z "$g" ]; then
            printf ' %15s' "$(printf '%.3f (-)' "$s")"
        else
            printf ' %15s' "$(awk -v s="$s" -v g="$g" \
                'BEGIN { printf "%.3f (%.2f)", s, s / g }')"
        fi
    done
    echo
done
if [ -n "$rss_timer" ]; then
    echo
    echo "peak RSS in MiB (GNU time %M), median of $reps run(s):"
    printf '%-18s' "allocator"
    for wl in $workloads; do
        printf ' %15s' "$wl"
    done
    echo
    for row in $rows; do
        printf '%-18s' "$(label_of "$row")"
        for wl in $workloads; do
            m=$(cell_rss "$row" "$wl")
            if [ -z "$m" ]; then
                printf ' %15s' "-"
            else
                printf ' %15s' "$(awk -v m="$m" \
                    'BEGIN { printf "%.1f", m / 1024 }')"
            fi
        done
        echo
    done
fi
failed=0
for row in $rows; do
    for wl in $workloads; do
        f="$tmp/f_${row}_$(key_of "$wl")"
        [ -f "$f" ] || continue
        [ "$failed" = 1 ] || printf '\nFAIL:\n'
        failed=1
        sed 's/^/  /' "$f"
    done
done

if [ -n "$tsv" ]; then
    cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null |
        head -n 1)
    tsv_line meta date "$(date '+%Y-%m-%d %H:%M %Z')"
    tsv_line meta command "$command_line"
    tsv_line meta nproc "$(nproc 2>/dev/null || echo '?')"
    tsv_line meta cpu "${cpu:-$(uname -m)}"
    tsv_line meta kernel "$(uname -srm)"
    tsv_line meta libc "$(ldd --version 2>/dev/null | head -n 1)"
    tsv_line meta load "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
    tsv_line meta runs "$reps"
    tsv_line meta scale "$scale"
    tsv_line meta rss "$([ -n "$rss_timer" ] && echo "GNU time %M" ||
        echo none)"
    for wl in $workloads; do
        g=$(cell_s glibc "$wl")
        for row in $rows; do
            s=$(cell_s "$row" "$wl")
            ratio=-
            if [ -n "$s" ] && [ -n "$g" ]; then
                ratio=$(awk -v s="$s" -v g="$g" \
                    'BEGIN { printf "%.4f", s / g }')
            fi
            m=$(cell_rss "$row" "$wl")
            tsv_line cell "$row" "$(label_of "$row")" "$wl" "${s:-FAIL}" \
                "$ratio" "${m:--}"
            w="$tmp/w_${row}_$(key_of "$wl")"
            if [ -f "$w" ]; then
                tsv_line fail "$row" "$(label_of "$row")" "$wl" \
                    "$(head -n 1 "$w")"
            fi
        done
    done
fi

echo
if [ "$have_proxy" = 1 ]; then
    echo "umf (default) / best of jemalloc, tbbmalloc_proxy, mimalloc," \
        "tcmalloc (below 1: ours is faster):"
    for wl in $workloads; do
        u=$(cell_s umf "$wl")
        best="" best_row=""
        for row in jemalloc tbbmalloc mimalloc tcmalloc; do
            case " $rows " in *" $row "*) ;; *) continue ;; esac
            s=$(cell_s "$row" "$wl")
            [ -n "$s" ] || continue
            if [ -z "$best" ] || awk -v a="$s" -v b="$best" \
                'BEGIN { exit !(a < b) }'; then
                best=$s best_row=$row
            fi
        done
        if [ -z "$u" ]; then
            printf '  %-15s FAIL (umf default failed)\n' "$wl"
        elif [ -z "$best" ]; then
            printf '  %-15s n/a (no peer result)\n' \
                "$wl"
        else
            awk -v w="$wl" -v u="$u" -v b="$best" \
                -v n="$(label_of "$best_row")" 'BEGIN {
                printf "  %-15s %.2f  (%.3f s vs %s %.3f s)\n",
                    w, u / b, u, n, b }'
        fi
    done
else
    echo "umf (default) vs jemalloc/tbbmalloc_proxy: skipped (no proxy)"
fi

# --- start-up cost ---

# bench/startup.c spawns /bin/true itself (no env, no shell in the timed
# part), the two configurations in turn for 5 rounds, and reports the
# fastest round's mean; peak RSS is the mean VmHWM of 31 processes that
# only start, print their VmHWM and exit (a median of 5 jumped by 100-200
# KiB between runs: libc's random load address decides how many of its
# 64 KiB fault-around windows a start touches). Both configurations carry the
# LD_LIBRARY_PATH the copy of the proxy needs: the loader searches it
# (and its glibc-hwcaps subdirectories) for libc too, about 0.13 ms on
# the 2-core VM, which an installed proxy does not pay.
echo
if [ "$have_proxy" = 1 ]; then
    startup="$tmp/startup"
    ${CC:-cc} -O2 -std=c11 -o "$startup" "$here/startup.c"
    if ! "$startup" "$startup_runs" "LD_LIBRARY_PATH=$umf_libpath" \
        "LD_PRELOAD=$proxy|LD_LIBRARY_PATH=$umf_libpath" \
        >"$tmp/startup.out" 2>"$tmp/st_err" ||
        grep -q 'cannot be preloaded' "$tmp/st_err"; then
        echo "start-up: FAIL: /bin/true under the proxy: $(head -1 "$tmp/st_err")"
        echo "peak RSS: skipped (start-up failed)"
        exit 1
    fi
    set -- $(awk 'NR == 1 { a = $2; ra = $3 } NR == 2 { b = $2; rb = $3 }
        END { print a, b, ra, rb }' "$tmp/startup.out")
    st_ms_without=$1
    st_ms_with=$2
    a=$3
    b=$4
    awk -v a="$st_ms_without" -v b="$st_ms_with" -v n="$startup_runs" 'BEGIN {
        printf "start-up: /bin/true, fastest of 5 rounds of %d runs: %.3f ms" \
            " without, %.3f ms with the proxy: %+.3f ms\n", n, a, b, b - a }'
    awk -v a="$a" -v b="$b" 'BEGIN {
        printf "peak RSS (VmHWM of a process that only starts): %d KiB" \
            " without, %d KiB with the proxy: %+d KiB\n", a, b, b - a }'
    tsv_line startup "$st_ms_without" "$st_ms_with" "$a" "$b"
    tsv_line meta startup_runs "$startup_runs"
else
    echo "start-up: skipped (no proxy)"
fi
# Every number printed; a FAIL anywhere is the exit status too.
exit "$failed"
