/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * gpu_loader.c - run-time loading of a GPU driver's entry points (see
 * gpu_loader.h for the order in which places are tried). Runs once per
 * process and driver under the caller's pthread_once, so it takes no lock;
 * the API table it fills is read only after that pthread_once returned.
 */

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "os_linux.h"
#include "providers/gpu_loader.h"

// POSIX dlsym: object and function pointers share one representation.
_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
               "function pointers must fit the pointers dlsym returns");

// Resolves every symbol through handle (NULL: the global namespace).
static bool resolve(gpu_loader_t *l, void *handle, const char *from) {
    for (size_t i = 0; i < l->nsyms; i++) {
        const gpu_sym_t *s = &l->syms[i];
        void *addr =
            handle ? os_dlsym(handle, s->name) : os_dlsym_global(s->name);
        if (!addr && !s->optional) {
            snprintf(l->error, sizeof(l->error), "%s \"%s\" lacks %s; %s",
                     l->what, from, s->name, l->fix);
            return false;
        }
        memcpy((char *)l->api + s->offset, &addr, sizeof(addr));
    }
    return true;
}

void gpu_loader_run(gpu_loader_t *l) {
    l->result = UMF_RESULT_ERROR_UNKNOWN;
    const char *name = os_getenv(l->env);
    if (name && *name) {
        void *h = os_dlopen(name);
        if (!h) {
            snprintf(l->error, sizeof(l->error),
                     "cannot load the %s \"%s\" named by %s (%s)", l->what,
                     name, l->env, os_dlerror());
            return;
        }
        if (!resolve(l, h, name)) {
            return;
        }
        snprintf(l->source, sizeof(l->source), "%s (%s)", name, l->env);
    } else if (os_dlsym_global(l->syms[0].name)) {
        if (!resolve(l, NULL, "global namespace")) {
            return;
        }
        snprintf(l->source, sizeof(l->source),
                 "the program's global namespace");
    } else {
        void *h = os_dlopen(l->soname);
        if (!h) {
            snprintf(l->error, sizeof(l->error),
                     "cannot load the %s \"%s\" (%s); %s", l->what, l->soname,
                     os_dlerror(), l->fix);
            return;
        }
        if (!resolve(l, h, l->soname)) {
            return;
        }
        snprintf(l->source, sizeof(l->source), "%s", l->soname);
    }
    l->result = UMF_RESULT_SUCCESS;
    LOG_INFO("%s: entry points from %s", l->what, l->source);
}
