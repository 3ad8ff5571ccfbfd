/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * custom_file_provider.c - a memory provider written by the user: its
 * memory is a file. It shows what a provider must implement (the ops table
 * of umf/memory_provider_ops.h) and that any pool can then hand out that
 * memory. Built and run by `make check`; exits non-zero if anything does
 * not behave as described.
 *
 * The provider: every allocation takes fresh, page-aligned offsets at the
 * end of the file (grown with ftruncate) and maps them MAP_SHARED, so what
 * the program writes lands in the file. free unmaps and punches a hole in
 * the file (the disk space goes back). There is no reuse of offsets: that
 * is the pool's job. (The library's own file provider, umf/providers/
 * provider_file_memory.h, does more: FSDAX, IPC, packing.)
 *
 * Usage: custom_file_provider [FILE]   (default: a temporary file)
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE // memmem
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <umf/memory_pool.h>
#include <umf/memory_provider.h>
#include <umf/pools/pool_disjoint.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "custom_file_provider: %s failed\n", what);        \
            return 1;                                                          \
        }                                                                      \
    } while (0)

// --- The provider ------------------------------------------------------------

// Its state: what initialize returns and every other op receives.
typedef struct file_provider_t {
    int fd;
    off_t end;   // next free offset in the file (a page multiple)
    size_t page; // system page size
    int last_errno;
} file_provider_t;

// initialize receives the params pointer given to umfMemoryProviderCreate:
// here simply the path.
static umf_result_t fp_initialize(void *params, void **provider) {
    const char *path = params;
    if (!path) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    file_provider_t *fp = calloc(1, sizeof(*fp));
    if (!fp) {
        return UMF_RESULT_ERROR_OUT_OF_HOST_MEMORY;
    }
    fp->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fp->fd < 0) {
        free(fp);
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    fp->page = (size_t)sysconf(_SC_PAGESIZE);
    *provider = fp;
    return UMF_RESULT_SUCCESS;
}

static void fp_finalize(void *provider) {
    file_provider_t *fp = provider;
    close(fp->fd);
    free(fp);
}

// A failure of the system goes back as MEMORY_PROVIDER_SPECIFIC, with the
// errno kept for get_last_native_error.
static umf_result_t fp_fail(file_provider_t *fp) {
    fp->last_errno = errno;
    return UMF_RESULT_ERROR_MEMORY_PROVIDER_SPECIFIC;
}

static umf_result_t fp_alloc(void *provider, size_t size, size_t alignment,
                             void **ptr) {
    file_provider_t *fp = provider;
    // Pages are the natural alignment (alignment 0); more is not offered.
    if (alignment > fp->page || (alignment & (alignment - 1))) {
        return UMF_RESULT_ERROR_INVALID_ALIGNMENT;
    }
    if (size == 0 || size > (size_t)1 << 40) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t len = (size + fp->page - 1) & ~(fp->page - 1);
    off_t off = fp->end; // single-threaded use: no lock (see main)
    if (ftruncate(fp->fd, off + (off_t)len) != 0) {
        return fp_fail(fp);
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fp->fd, off);
    if (p == MAP_FAILED) {
        return fp_fail(fp);
    }
    fp->end = off + (off_t)len;
    *ptr = p;
    return UMF_RESULT_SUCCESS;
}

// free receives the size given to alloc (or 0 when the caller does not
// know it; this provider then cannot free, and says so).
static umf_result_t fp_free(void *provider, void *ptr, size_t size) {
    file_provider_t *fp = provider;
    if (!ptr) {
        return UMF_RESULT_SUCCESS;
    }
    if (size == 0) {
        return UMF_RESULT_ERROR_INVALID_ARGUMENT;
    }
    size_t len = (size + fp->page - 1) & ~(fp->page - 1);
    // MADV_REMOVE through the mapping frees the file's blocks behind it,
    // so the provider needs no table of offsets.
    if (madvise(ptr, len, MADV_REMOVE) != 0 || munmap(ptr, len) != 0) {
        return fp_fail(fp);
    }
    return UMF_RESULT_SUCCESS;
}

static void fp_last_native_error(void *provider, const char **msg,
                                 int32_t *err) {
    file_provider_t *fp = provider;
    *msg = strerror(fp->last_errno);
    *err = fp->last_errno;
}

static umf_result_t fp_page_size(void *provider, size_t size, size_t *page) {
    (void)size;
    *page = ((file_provider_t *)provider)->page;
    return UMF_RESULT_SUCCESS;
}

static umf_result_t fp_min_page_size(void *provider, void *ptr, size_t *page) {
    (void)ptr;
    *page = ((file_provider_t *)provider)->page;
    return UMF_RESULT_SUCCESS;
}

static const char *fp_name(void *provider) {
    (void)provider;
    return "custom_file";
}

// Every field listed: the optional ones this provider lacks are NULL, and
// the library answers NOT_SUPPORTED for them (split/merge must be both set
// or both NULL; the five IPC ops likewise).
static umf_memory_provider_ops_t file_provider_ops = {
    .version = UMF_VERSION_CURRENT,
    .initialize = fp_initialize,
    .finalize = fp_finalize,
    .alloc = fp_alloc,
    .get_last_native_error = fp_last_native_error,
    .get_recommended_page_size = fp_page_size,
    .get_min_page_size = fp_min_page_size,
    .get_name = fp_name,
    .ext.free = fp_free,
    .ext.purge_lazy = NULL,
    .ext.purge_force = NULL,
    .ext.allocation_merge = NULL,
    .ext.allocation_split = NULL,
};

// --- The program ---------------------------------------------------------------

int main(int argc, char **argv) {
    char tmp[] = "/tmp/umf_custom_file_XXXXXX";
    const char *path = argc > 1 ? argv[1] : NULL;
    if (!path) {
        int fd = mkstemp(tmp);
        CHECK(fd >= 0, "mkstemp");
        close(fd);
        path = tmp;
    }

    // 1. The provider, from the ops table and its params (the path).
    umf_memory_provider_handle_t provider = NULL;
    umf_result_t res =
        umfMemoryProviderCreate(&file_provider_ops, (void *)path, &provider);
    CHECK(res == UMF_RESULT_SUCCESS, "umfMemoryProviderCreate");
    printf("provider %s on %s\n", umfMemoryProviderGetName(provider), path);

    // 2. A disjoint pool on it: small requests share slabs the pool takes
    //    from the provider; the pool serialises nothing for us, so a
    //    provider used from several threads must lock (this one is used
    //    from one thread only).
    umf_disjoint_pool_params_handle_t dp = NULL;
    CHECK(umfDisjointPoolParamsCreate(&dp) == UMF_RESULT_SUCCESS,
          "umfDisjointPoolParamsCreate");
    umf_memory_pool_handle_t pool = NULL;
    res = umfPoolCreate(umfDisjointPoolOps(), provider, dp,
                        UMF_POOL_CREATE_FLAG_OWN_PROVIDER, &pool);
    umfDisjointPoolParamsDestroy(dp);
    CHECK(res == UMF_RESULT_SUCCESS, "umfPoolCreate");

    // 3. Use it: what is written goes to the file.
    const char msg[] = "written through a UMF pool into a file";
    char *text = umfPoolMalloc(pool, sizeof(msg));
    CHECK(text != NULL, "umfPoolMalloc");
    memcpy(text, msg, sizeof(msg));
    char *big = umfPoolMalloc(pool, 5 << 20); // straight from the provider
    CHECK(big != NULL, "umfPoolMalloc(5 MiB)");
    memset(big, 'x', 5 << 20);
    CHECK(umfPoolByPtr(text) == pool && umfPoolByPtr(big + 12345) == pool,
          "umfPoolByPtr");

    // 4. Read the file back: the message and the 5 MiB of 'x' are there.
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open for reading");
    static char buf[1 << 16];
    size_t found_msg = 0, xs = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            xs += buf[i] == 'x';
        }
        if (memmem(buf, (size_t)n, msg, sizeof(msg) - 1)) {
            found_msg = 1;
        }
    }
    close(fd);
    printf("the file holds the message: %s; bytes of 'x': %zu\n",
           found_msg ? "yes" : "no", xs);
    CHECK(found_msg && xs == (size_t)5 << 20, "contents in the file");

    // 5. Free and destroy (OWN_PROVIDER: the provider goes with the pool).
    CHECK(umfFree(big) == UMF_RESULT_SUCCESS, "umfFree(big)");
    CHECK(umfPoolFree(pool, text) == UMF_RESULT_SUCCESS, "umfPoolFree");
    umfPoolDestroy(pool);
    if (path == tmp) {
        unlink(tmp);
    }
    printf("done\n");
    return 0;
}
