/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_os_huge_pages.c - the OS provider's transparent huge page setting
 * (our extension, umf/providers/provider_os_memory_ext.h): argument checks,
 * the advice really applied to each mapping (the VmFlags of
 * /proc/self/smaps: "hg" for MADV_HUGEPAGE, "nh" for MADV_NOHUGEPAGE),
 * huge-page alignment of large allocations, the recommended page size, and
 * shared memory. A kernel without transparent huge pages skips the binary.
 */

#include <stdint.h>

#include <umf/memory_provider.h>
#include <umf/providers/provider_os_memory.h>
#include <umf/providers/provider_os_memory_ext.h>

#include "helpers.h"

#define MiB     ((size_t)1 << 20)
#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"

static size_t huge_size(void) {
    FILE *f = fopen(THP_DIR "hpage_pmd_size", "r");
    unsigned long long v = 2 * MiB;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1) {
            v = 2 * MiB;
        }
        fclose(f);
    }
    return (size_t)v;
}

// The VmFlags line of the mapping that contains p, or "" if not found.
static void vm_flags(const void *p, char *out, size_t len) {
    FILE *f = fopen("/proc/self/smaps", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    bool inside = false;
    out[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        // A mapping's header line starts "lo-hi "; its fields "Name:".
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            strncpy(out, line + 8, len - 1);
            out[len - 1] = '\0';
            break;
        }
    }
    fclose(f);
}

static bool has_flag(const char *flags, const char *flag) {
    char padded[8];
    snprintf(padded, sizeof(padded), " %s", flag);
    const char *s = strstr(flags, padded);
    return s && (s[3] == ' ' || s[3] == '\n' || s[3] == '\0');
}

static umf_memory_provider_handle_t make(umf_os_huge_pages_t mode,
                                         bool shared) {
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    ck_assert_int_eq(umfOsMemoryProviderParamsSetHugePages(params, mode),
                     UMF_RESULT_SUCCESS);
    if (shared) {
        ck_assert_int_eq(
            umfOsMemoryProviderParamsSetVisibility(params, UMF_MEM_MAP_SHARED),
            UMF_RESULT_SUCCESS);
    }
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &h),
        UMF_RESULT_SUCCESS);
    umfOsMemoryProviderParamsDestroy(params);
    return h;
}

START_TEST(test_os_huge_pages_args) {
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetHugePages(NULL, UMF_OS_HUGE_PAGES_ON),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    umf_os_memory_provider_params_handle_t params;
    ck_assert_int_eq(umfOsMemoryProviderParamsCreate(&params),
                     UMF_RESULT_SUCCESS);
    // An out-of-range mode is refused when the provider is created.
    ck_assert_int_eq(
        umfOsMemoryProviderParamsSetHugePages(params, (umf_os_huge_pages_t)7),
        UMF_RESULT_SUCCESS);
    umf_memory_provider_handle_t h = NULL;
    ck_assert_int_eq(
        umfMemoryProviderCreate(umfOsMemoryProviderOps(), params, &h),
        UMF_RESULT_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(h);
    umfOsMemoryProviderParamsDestroy(params);
}
END_TEST

// _i: 0 private, 1 shared (memfd).
START_TEST(test_os_huge_pages_on) {
    bool shared = _i == 1;
    umf_memory_provider_handle_t h = make(UMF_OS_HUGE_PAGES_ON, shared);
    size_t hp = huge_size();
    size_t page = 0;
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 4 * hp, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, hp);
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 4096, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, (size_t)sysconf(_SC_PAGESIZE));

    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * hp, 0, &p),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq((uintptr_t)p % hp, 0); // aligned for huge pages
    memset(p, 0x5a, 2 * hp);
    char flags[512];
    vm_flags(p, flags, sizeof(flags));
    ck_assert_msg(has_flag(flags, "hg"), "no MADV_HUGEPAGE: VmFlags:%s", flags);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 2 * hp), UMF_RESULT_SUCCESS);

    // A small allocation is advised too, but needs no huge alignment.
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 8192, 0, &p),
                     UMF_RESULT_SUCCESS);
    vm_flags(p, flags, sizeof(flags));
    ck_assert_msg(has_flag(flags, "hg"), "no MADV_HUGEPAGE: VmFlags:%s", flags);
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 8192), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_os_huge_pages_off) {
    bool shared = _i == 1;
    umf_memory_provider_handle_t h = make(UMF_OS_HUGE_PAGES_OFF, shared);
    size_t hp = huge_size();
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 2 * hp, 0, &p),
                     UMF_RESULT_SUCCESS);
    char flags[512];
    vm_flags(p, flags, sizeof(flags));
    ck_assert_msg(has_flag(flags, "nh"), "no MADV_NOHUGEPAGE: VmFlags:%s",
                  flags);
    ck_assert_msg(!has_flag(flags, "hg"), "MADV_HUGEPAGE set: VmFlags:%s",
                  flags);
    size_t page = 0;
    ck_assert_int_eq(umfMemoryProviderGetRecommendedPageSize(h, 4 * hp, &page),
                     UMF_RESULT_SUCCESS);
    ck_assert_uint_eq(page, (size_t)sysconf(_SC_PAGESIZE));
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 2 * hp), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

START_TEST(test_os_huge_pages_default_no_advice) {
    umf_memory_provider_handle_t h = make(UMF_OS_HUGE_PAGES_DEFAULT, false);
    void *p = NULL;
    ck_assert_int_eq(umfMemoryProviderAlloc(h, 4 * MiB, 0, &p),
                     UMF_RESULT_SUCCESS);
    char flags[512];
    vm_flags(p, flags, sizeof(flags));
    ck_assert_msg(flags[0] != '\0', "mapping of %p not found in smaps", p);
    ck_assert(!has_flag(flags, "hg"));
    ck_assert(!has_flag(flags, "nh"));
    ck_assert_int_eq(umfMemoryProviderFree(h, p, 4 * MiB), UMF_RESULT_SUCCESS);
    umfMemoryProviderDestroy(h);
}
END_TEST

static Suite *os_huge_pages_suite(void) {
    Suite *s = suite_create("os_huge_pages");
    TCase *tc = tcase_create("huge_pages");
    tcase_add_test(tc, test_os_huge_pages_args);
    tcase_add_loop_test(tc, test_os_huge_pages_on, 0, 2);
    tcase_add_loop_test(tc, test_os_huge_pages_off, 0, 2);
    tcase_add_test(tc, test_os_huge_pages_default_no_advice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    if (access(THP_DIR "enabled", R_OK) != 0) {
        skip_binary("this kernel has no transparent huge pages "
                    "(" THP_DIR "enabled is missing)");
    }
    return run_suite(os_huge_pages_suite());
}
