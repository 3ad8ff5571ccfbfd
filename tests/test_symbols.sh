#!/bin/sh
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# test_symbols.sh - libumf.so imports no C allocator function (DESIGN.md
# invariant 1) and exports exactly the names of lib/libumf.map.
set -eu

: "${top_srcdir:=.}" "${top_builddir:=.}" "${NM:=nm}" "${READELF_CMD:=readelf}"
lib="$top_builddir/.libs/libumf.so"
map="$top_srcdir/lib/libumf.map"
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }

status=0

# --- no allocator imports ---
forbidden='malloc calloc realloc reallocarray free cfree strdup strndup
asprintf vasprintf posix_memalign aligned_alloc memalign valloc pvalloc
malloc_usable_size open_memstream getline getdelim realpath tempnam
__libc_malloc __libc_calloc __libc_realloc __libc_free __libc_memalign
__strdup __strndup'
# $NM may carry options (libtool sets "nm -B"): leave it unquoted.
undef=$($NM -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//')
[ -n "$undef" ] || { echo "FAIL: '$NM -D --undefined-only' listed nothing"; exit 1; }
for f in $forbidden; do
    if printf '%s\n' "$undef" | grep -qx "$f"; then
        echo "FAIL: libumf.so imports $f (lib/ must use its base allocator)"
        status=1
    fi
done
[ $status -eq 0 ] && echo "ok: no C allocator function among $(printf '%s\n' "$undef" | wc -l) imports"

# --- hwloc is loaded at run time, on first use (lib/topology.c) ---
if $READELF_CMD -d "$lib" 2>/dev/null | grep -q 'NEEDED.*libhwloc'; then
    echo "FAIL: libumf.so links libhwloc (it must dlopen it on first use)"
    status=1
elif printf '%s\n' "$undef" | grep -q '^hwloc_'; then
    echo "FAIL: libumf.so imports hwloc functions: $(printf '%s\n' "$undef" | grep '^hwloc_' | tr '\n' ' ')"
    status=1
else
    echo "ok: libumf.so neither links nor imports hwloc"
fi

# --- exports == version script ---
want=$(sed -n 's/^[[:space:]]*\(umf[A-Za-z0-9_]*\);.*/\1/p' "$map" | sort)
have=$($NM -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
       grep -v '^UMF_' | sort)
[ -n "$have" ] || { echo "FAIL: '$NM -D --defined-only' listed nothing"; exit 1; }
if [ "$want" != "$have" ]; then
    echo "FAIL: exports differ from $map (< map only, > library only):"
    printf "%s\n" "$want" > "${TMPDIR:-/tmp}/umf_want.$$"
    printf "%s\n" "$have" | diff "${TMPDIR:-/tmp}/umf_want.$$" - || true
    rm -f "${TMPDIR:-/tmp}/umf_want.$$"
    status=1
else
    echo "ok: $(printf '%s\n' "$have" | wc -l) exports, all in the version script"
fi

# --- libjemalloc_pool.so, when built: same two rules ---
jlib="$top_builddir/.libs/libjemalloc_pool.so"
if [ -f "$jlib" ]; then
    jundef=$($NM -D --undefined-only "$jlib" | awk '{print $NF}' | sed 's/@.*//')
    for f in $forbidden; do
        if printf '%s\n' "$jundef" | grep -qx "$f"; then
            echo "FAIL: libjemalloc_pool.so imports $f"
            status=1
        fi
    done
    jwant=$(sed -n 's/^[[:space:]]*\(umf[A-Za-z0-9_]*\);.*/\1/p' \
        "$top_srcdir/lib/pools/libjemalloc_pool.map" | sort)
    jhave=$($NM -D --defined-only "$jlib" | awk '{print $NF}' | sed 's/@.*//' |
        grep -v '^UMF_' | sort)
    if [ "$jwant" != "$jhave" ]; then
        echo "FAIL: libjemalloc_pool.so exports differ from its version script:"
        printf '%s\n' "$jhave"
        status=1
    else
        echo "ok: libjemalloc_pool.so exports $(printf '%s\n' "$jhave" | wc -l) names, imports no C allocator function"
    fi
else
    echo "note: libjemalloc_pool.so not built (no jemalloc), not checked"
fi

# --- libumf_proxy.so: exports exactly the malloc family and C++'s operator
# new/delete, imports none of them ---
plib="$top_builddir/.libs/libumf_proxy.so"
if [ -f "$plib" ]; then
    pundef=$($NM -D --undefined-only "$plib" | awk '{print $NF}' | sed 's/@.*//')
    for f in $forbidden _Znwm _Znam _ZdlPv _ZdaPv; do
        if printf '%s\n' "$pundef" | grep -qx "$f"; then
            echo "FAIL: libumf_proxy.so imports $f (it must define it)"
            status=1
        fi
    done
    pwant=$(sed -n 's/^[[:space:]]*\([_A-Za-z0-9]*\);.*/\1/p' \
        "$top_srcdir/proxy/libumf_proxy.map" | sort)
    phave=$($NM -D --defined-only "$plib" | awk '{print $NF}' | sort)
    if [ "$pwant" != "$phave" ]; then
        echo "FAIL: libumf_proxy.so exports differ from its version script:"
        printf '%s\n' "$phave"
        status=1
    elif $NM -D --defined-only "$plib" | grep -q '@'; then
        echo "FAIL: libumf_proxy.so exports versioned names (they would not interpose glibc's)"
        status=1
    else
        echo "ok: libumf_proxy.so exports the $(printf '%s\n' "$phave" | wc -l) malloc-family and operator new/delete names, unversioned"
    fi
fi

# --- GPU drivers are loaded at run time, never linked (DESIGN.md 9) ---
needed=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -Eq '^lib(cuda|ze_loader|tbbmalloc)\.'; then
    echo "FAIL: libumf.so links a library it must load at run time:"
    printf '%s\n' "$needed"
    status=1
else
    echo "ok: libumf.so links no GPU driver (NEEDED: $(printf '%s ' $needed))"
fi

# --- SONAME ---
soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
if [ "$soname" != "libumf.so.0" ]; then
    echo "FAIL: SONAME is '$soname', want libumf.so.0"
    status=1
fi
exit $status
