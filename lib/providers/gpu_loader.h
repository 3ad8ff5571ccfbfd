/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * gpu_loader.h - finds a GPU driver library at run time (DESIGN.md
 * invariant 9: libumf links neither the CUDA driver nor the Level Zero
 * loader) and fills a table of its entry points, once per process.
 *
 * Where the entry points come from, first match wins:
 *   1. the library named by an environment variable (UMF_CUDA_LIB,
 *      UMF_ZE_LOADER_LIB): a path or a soname, for test doubles and
 *      drivers installed off the loader's path;
 *   2. the program's global namespace, when the first symbol of the table
 *      is there (the program linked or preloaded the driver, or dlopen'ed
 *      it RTLD_GLOBAL): upstream UMF's only way, and the same library the
 *      program itself calls;
 *   3. dlopen of the driver's soname (libcuda.so.1, libze_loader.so.1).
 * The library stays loaded (RTLD_NODELETE) for the life of the process.
 * A failure is remembered with its one-line reason; the caller logs it
 * each time a provider cannot be created.
 */

#ifndef UMF_GPU_LOADER_H
#define UMF_GPU_LOADER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <umf/base.h>

typedef struct gpu_sym_t {
    const char *name; // as the library exports it
    size_t offset;    // of the function pointer in the API table
    bool optional;    // NULL in the table when missing
} gpu_sym_t;

typedef struct gpu_loader_t {
    const char *what;   // "CUDA driver"
    const char *env;    // environment variable naming the library
    const char *soname; // default library
    const char *fix;    // what to do about a missing library
    const gpu_sym_t *syms;
    size_t nsyms;
    void *api; // table the symbols are written into
    // Results, written once by gpu_loader_run.
    umf_result_t result;
    char source[128]; // where the symbols came from
    char error[384];  // the reason, when result is not SUCCESS
} gpu_loader_t;

// Fills l->api; sets l->result and, on failure, l->error. Call it from a
// pthread_once routine: it is not safe to run twice or concurrently.
void gpu_loader_run(gpu_loader_t *l);

#endif /* UMF_GPU_LOADER_H */
