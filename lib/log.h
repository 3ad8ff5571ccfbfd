/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * log.h - the UMF_LOG logger. Quiet unless UMF_LOG enables it; each message
 * is formatted into a stack buffer and written with one write(2), so logging
 * never allocates and lines from different threads never interleave.
 */

#ifndef UMF_LOG_H
#define UMF_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"

typedef enum log_level_t {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARNING,
    LOG_LEVEL_ERROR,
    LOG_LEVEL_FATAL,
    LOG_LEVEL_OFF, // threshold while logging is disabled
} log_level_t;

// Lowest level printed; LOG_LEVEL_OFF while disabled.
extern _Atomic int log_threshold;

// Reads UMF_LOG and (re)configures the logger. Called at umfInit 0->1.
void log_init(void);
// Same, from an explicit string (tests, the proxy's own `log` key).
void log_init_from_string(const char *config);
// Disables logging and closes a log file.
void log_fini(void);

void log_emit(log_level_t level, const char *func, int errnum, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));

static inline bool log_enabled(log_level_t level) {
    return (int)level >=
           atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

#define LOG_AT_(level, errnum, ...)                                            \
    do {                                                                       \
        if (unlikely(log_enabled(level))) {                                    \
            log_emit(level, __func__, errnum, __VA_ARGS__);                    \
        }                                                                      \
    } while (0)

#define LOG_DEBUG(...)          LOG_AT_(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define LOG_INFO(...)           LOG_AT_(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define LOG_WARN(...)           LOG_AT_(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define LOG_ERR(...)            LOG_AT_(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define LOG_FATAL(...)          LOG_AT_(LOG_LEVEL_FATAL, 0, __VA_ARGS__)
// Same, ending the message with ": <strerror(errnum)>" (errnum > 0).
#define LOG_PERR(errnum, ...)   LOG_AT_(LOG_LEVEL_ERROR, errnum, __VA_ARGS__)
#define LOG_PWARN(errnum, ...)  LOG_AT_(LOG_LEVEL_WARNING, errnum, __VA_ARGS__)
#define LOG_PDEBUG(errnum, ...) LOG_AT_(LOG_LEVEL_DEBUG, errnum, __VA_ARGS__)

// Argument check failure: one line naming the argument, then `ret`.
#define CHECK_ARG(cond, ret, ...)                                              \
    do {                                                                       \
        if (unlikely(!(cond))) {                                               \
            LOG_ERR(__VA_ARGS__);                                              \
            return ret;                                                        \
        }                                                                      \
    } while (0)

// A free (or realloc) of ptr that names no live block of one of our
// pools (engine "disjoint", "host", "jemalloc" or "scalable"; pool `name`,
// or "" for pools without one). With `stop`:
// one line on stderr, whatever UMF_LOG says, then abort(), as glibc does;
// else one line at error level and UMF_RESULT_ERROR_INVALID_ARGUMENT.
#define UMF_MISUSE_FREED   "already freed (double free)"
#define UMF_MISUSE_INSIDE  "not the start of a block"
#define UMF_MISUSE_FOREIGN "not a block of this pool"
#define UMF_MISUSE_NOT_LIVE                                                    \
    "not a live block (already freed, inside a block, or never handed out)"
int umf_misuse_report(const char *engine, const char *name, int stop,
                      const void *ptr, const char *why)
    __attribute__((noinline, cold));

#endif /* UMF_LOG_H */
