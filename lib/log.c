/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * log.c - the UMF_LOG logger.
 *
 * Syntax (the contract's): options separated by ';', each a whole token:
 *   output:stdout | output:stderr | output:file,<path>   (required)
 *   level:<debug|info|warning|error|fatal>               (default error)
 *   flush:<same>                                         (default error)
 *   timestamp:<yes|no>   pid:<yes|no>                    (default no)
 * When a key has several values, the first in the order above wins.
 *
 * Lines look like "[<ts ><pid ><LEVEL> UMF] <function>: <message>\n".
 * Every line is one write(2) on an unbuffered fd, so "flush" is always
 * honoured; the setting is kept for compatibility and shown at start-up.
 * Timestamps are UTC, computed here without tzset (which may allocate).
 *
 * Locking: none. The configuration is written by log_init (at umfInit time)
 * and read with relaxed loads; a line is formatted on the stack.
 */

#include "log.h"
#include "umf_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <umf/base.h>

#include "os_linux.h"

#define LOG_PATH_MAX 256
#define LOG_LINE_MAX 1024

_Atomic int log_threshold = LOG_LEVEL_OFF;

static struct {
    int fd;      // output fd; -1 while disabled
    int file_fd; // fd we opened for output:file, closed at fini
    int flush;   // log_level_t, informative only
    bool timestamp;
    bool pid;
} log_cfg = {.fd = -1, .file_fd = -1, .flush = LOG_LEVEL_ERROR};

static const char *const level_tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR",
                                         "FATAL"};
static const char *const level_names[] = {"debug", "info", "warning", "error",
                                          "fatal"};

// --- Parsing ---

// True when `opt` occurs in `s` as a whole ';'-separated token.
static bool has_token(const char *s, const char *opt) {
    size_t n = strlen(opt);
    for (const char *p = s; (p = strstr(p, opt)) != NULL; p++) {
        bool starts = p == s || p[-1] == ';';
        bool ends = p[n] == '\0' || p[n] == ';';
        if (starts && ends) {
            return true;
        }
    }
    return false;
}

// Finds "output:file," as a token start; copies the path (to ';' or end).
// Returns 1 found, 0 absent, -1 too long or empty.
static int find_file_output(const char *s, char *path, size_t cap) {
    const char *opt = "output:file,";
    for (const char *p = s; (p = strstr(p, opt)) != NULL; p++) {
        if (p != s && p[-1] != ';') {
            continue;
        }
        const char *start = p + strlen(opt);
        size_t len = strcspn(start, ";");
        if (len == 0 || len >= cap || len > LOG_PATH_MAX) {
            return -1;
        }
        memcpy(path, start, len);
        path[len] = '\0';
        return 1;
    }
    return 0;
}

static int find_level(const char *s, const char *key, int dflt) {
    char tok[32];
    for (int l = LOG_LEVEL_DEBUG; l <= LOG_LEVEL_FATAL; l++) {
        snprintf(tok, sizeof(tok), "%s:%s", key, level_names[l]);
        if (has_token(s, tok)) {
            return l;
        }
    }
    return dflt;
}

static bool is_known_token(const char *tok, size_t len) {
    static const char *const prefixes[] = {
        "output:", "level:", "flush:", "timestamp:", "pid:"};
    for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
        size_t pl = strlen(prefixes[i]);
        if (len > pl && strncmp(tok, prefixes[i], pl) == 0) {
            return true;
        }
    }
    return false;
}

static void say_stderr(const char *msg) {
    (void)os_write_all(2, msg, strlen(msg));
}

void log_init_from_string(const char *s) {
    log_fini();
    if (s == NULL) {
        return;
    }

    int fd = -1;
    char path[LOG_PATH_MAX + 1];
    if (has_token(s, "output:stdout")) {
        fd = 1;
    } else if (has_token(s, "output:stderr")) {
        fd = 2;
    } else {
        int r = find_file_output(s, path, sizeof(path));
        if (r < 0) {
            say_stderr("[ERROR UMF] log_init: UMF_LOG: the path of "
                       "output:file,<path> is empty or longer than 256 "
                       "characters; logging disabled\n");
            return;
        }
        if (r == 0) {
            say_stderr("[ERROR UMF] log_init: UMF_LOG has no valid output "
                       "option (output:stdout, output:stderr or "
                       "output:file,<path>); logging disabled\n");
            return;
        }
        fd = os_open_append(path);
        if (fd < 0) {
            char msg[LOG_PATH_MAX + 256], ebuf[128];
            snprintf(msg, sizeof(msg),
                     "[ERROR UMF] log_init: UMF_LOG: cannot open log file "
                     "%s: %s; logging disabled\n",
                     path, strerror_r(-fd, ebuf, sizeof(ebuf)));
            say_stderr(msg);
            return;
        }
        log_cfg.file_fd = fd;
    }

    int level = find_level(s, "level", LOG_LEVEL_ERROR);
    log_cfg.flush = find_level(s, "flush", LOG_LEVEL_ERROR);
    log_cfg.timestamp = has_token(s, "timestamp:yes");
    log_cfg.pid = has_token(s, "pid:yes");
    log_cfg.fd = fd;
    atomic_store_explicit(&log_threshold, level, memory_order_release);

    LOG_INFO("Logger enabled (UMF version: %s, level: %s, flush: %s, "
             "pid: %s, timestamp: %s)",
             PACKAGE_VERSION, level_names[level], level_names[log_cfg.flush],
             log_cfg.pid ? "yes" : "no", log_cfg.timestamp ? "yes" : "no");

    // Tell about options we do not know rather than drop them silently.
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ";");
        if (len > 0 && !is_known_token(p, len)) {
            LOG_ERR("UMF_LOG: unknown option '%.*s' ignored", (int)len, p);
        }
        p += len;
        if (*p == ';') {
            p++;
        }
    }
}

void log_init(void) {
    log_init_from_string(os_getenv("UMF_LOG"));
}

void log_fini(void) {
    atomic_store_explicit(&log_threshold, LOG_LEVEL_OFF, memory_order_release);
    log_cfg.fd = -1;
    if (log_cfg.file_fd >= 0) {
        (void)os_close(log_cfg.file_fd);
        log_cfg.file_fd = -1;
    }
    log_cfg.timestamp = false;
    log_cfg.pid = false;
    log_cfg.flush = LOG_LEVEL_ERROR;
}

// --- Emitting ---

// UTC "YYYY-MM-DDTHH:MM:SS " from the epoch, without tzset/localtime.
static int format_utc(char *buf, size_t cap) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long secs = ts.tv_sec;
    long long days = secs / 86400, rem = secs % 86400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    long long d = doy - (153 * mp + 2) / 5 + 1;
    long long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    return snprintf(buf, cap, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld ", y,
                    m, d, rem / 3600, rem % 3600 / 60, rem % 60);
}

void log_emit(log_level_t level, const char *func, int errnum, const char *fmt,
              ...) {
    int saved_errno = errno;
    int fd = log_cfg.fd;
    if (fd < 0 || level < LOG_LEVEL_DEBUG || level > LOG_LEVEL_FATAL) {
        return;
    }

    char line[LOG_LINE_MAX];
    size_t n = 0;
    line[n++] = '[';
    if (log_cfg.timestamp) {
        n += (size_t)format_utc(line + n, sizeof(line) - n);
    }
    if (log_cfg.pid) {
        n += (size_t)snprintf(
            line + n, sizeof(line) - n, "PID:%-6lu TID:%-6lu ",
            (unsigned long)os_getpid(), (unsigned long)os_gettid());
    }
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          "%s UMF] %s: ", level_tags[level], func);

    // Leave room for ": <strerror>" and the newline.
    const size_t reserve = 2;
    if (n < sizeof(line) - reserve) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(line + n, sizeof(line) - n - reserve, fmt, ap);
        va_end(ap);
        if (w > 0) {
            n += (size_t)w < sizeof(line) - n - reserve
                     ? (size_t)w
                     : sizeof(line) - n - reserve - 1;
        }
    }
    if (errnum > 0 && n < sizeof(line) - reserve) {
        char ebuf[128];
        const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
        int w = snprintf(line + n, sizeof(line) - n - reserve, ": %s", es);
        if (w > 0) {
            n += (size_t)w < sizeof(line) - n - reserve
                     ? (size_t)w
                     : sizeof(line) - n - reserve - 1;
        }
    }
    if (n > sizeof(line) - 1) {
        n = sizeof(line) - 1;
    }
    line[n++] = '\n';
    (void)os_write_all(fd, line, n);
    errno = saved_errno;
}

void umf_assert_fail(const char *expr, const char *file, int line,
                     const char *func) {
    char msg[512];
    int n = snprintf(msg, sizeof(msg),
                     "[FATAL UMF] %s: assertion failed: %s (%s:%d)\n", func,
                     expr, file, line);
    if (n > 0) {
        (void)os_write_all(
            2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    }
    abort();
}

// For libumf_proxy.so (its "log" key); in no public header.
UMF_EXPORT void umf_private_log_configure(const char *umf_log_string) {
    log_init_from_string(umf_log_string);
}

// For libumf_proxy.so (its large-block cache); in no public header.
UMF_EXPORT int umf_private_misuse_report(const char *engine, const char *name,
                                         int stop, const void *ptr,
                                         const char *why) {
    return umf_misuse_report(engine, name, stop, ptr, why);
}

int umf_misuse_report(const char *engine, const char *name, int stop,
                      const void *ptr, const char *why) {
    if (stop) {
        char line[256];
        int n = name[0] ? snprintf(line, sizeof(line),
                                   "umf: %s pool \"%s\": free(%p): %s; "
                                   "aborting\n",
                                   engine, name, ptr, why)
                        : snprintf(line, sizeof(line),
                                   "umf: %s pool: free(%p): %s; aborting\n",
                                   engine, ptr, why);
        if (n > 0) {
            (void)os_write_all(2, line,
                               (size_t)n < sizeof(line) ? (size_t)n
                                                        : sizeof(line) - 1);
        }
        abort();
    }
    LOG_ERR("%s pool \"%s\": free(%p): %s", engine, name, ptr, why);
    return UMF_RESULT_ERROR_INVALID_ARGUMENT;
}
