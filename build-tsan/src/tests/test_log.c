/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_log.c - UMF_LOG: every key and value of the contract, the
 * first-value-wins rule, whole-token matching, line format, file/stdout/
 * stderr outputs, the error paths, and silence by default.
 */

#include <errno.h>
#include <fcntl.h>
#include <regex.h>

#include "helpers.h"
#include "log.h"

// Named emitters: their names appear in the log lines checked below.
static void emit(void);
static void emit_err(void);
static void emit_warn(void);

static char tmpdir[64];

static void make_tmpdir(void) {
    strcpy(tmpdir, "/tmp/umf_test_log_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

// Reads a whole (small) file into buf.
static size_t slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static void path_in_tmp(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

// Runs fn with fd `which` (1 or 2) redirected to a file; returns contents.
static void capture_fd(int which, void (*fn)(void), char *buf, size_t cap) {
    char path[256];
    path_in_tmp(path, sizeof(path), which == 1 ? "out" : "err");
    fflush(NULL);
    int saved = dup(which);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, which);
    close(fd);
    fn();
    fflush(NULL);
    dup2(saved, which);
    close(saved);
    slurp(path, buf, cap);
}

static bool matches(const char *text, const char *pattern) {
    regex_t re;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    bool ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static void setup(void) {
    make_tmpdir();
}

static void teardown(void) {
    log_fini();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

// Configures logging to tmp/name with `opts` appended.
static void log_to_file(const char *name, const char *opts, char *path,
                        size_t cap) {
    char cfg[512];
    path_in_tmp(path, cap, name);
    unlink(path);
    snprintf(cfg, sizeof(cfg), "output:file,%s;%s", path, opts);
    log_init_from_string(cfg);
}

START_TEST(test_log_silent_by_default) {
    log_init_from_string(NULL);
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    char out[256], err[256];
    capture_fd(2, emit, err, sizeof(err));
    capture_fd(1, emit, out, sizeof(out));
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(out, "");
}
END_TEST

static void emit(void) {
    LOG_FATAL("fatal %d", 1);
    LOG_ERR("error %d", 2);
    LOG_WARN("warn %d", 3);
    LOG_INFO("info %d", 4);
    LOG_DEBUG("debug %d", 5);
}

START_TEST(test_log_file_output_and_levels) {
    char path[256], buf[4096];
    // Default level is error.
    log_to_file("default", "", path, sizeof(path));
    emit();
    slurp(path, buf, sizeof(buf));
    ck_assert_msg(matches(buf, "^\\[FATAL UMF\\] emit: fatal 1$"), "%s", buf);
    ck_assert(matches(buf, "^\\[ERROR UMF\\] emit: error 2$"));
    ck_assert_int_eq(count_lines(buf), 2);

    log_to_file("warning", "level:warning", path, sizeof(path));
    emit();
    slurp(path, buf, sizeof(buf));
    ck_assert(matches(buf, "^\\[WARN  UMF\\] emit: warn 3$"));
    ck_assert_int_eq(count_lines(buf), 3);

    // Debug: the start-up line (INFO) plus all five.
    log_to_file("debug", "level:debug;flush:debug", path, sizeof(path));
    emit();
    slurp(path, buf, sizeof(buf));
    ck_assert_msg(matches(buf, "^\\[INFO  UMF\\] log_init_from_string: Logger "
                               "enabled \\(UMF version: 0\\.10\\.1, level: "
                               "debug, flush: debug, pid: no, timestamp: "
                               "no\\)$"),
                  "%s", buf);
    ck_assert(matches(buf, "^\\[INFO  UMF\\] emit: info 4$"));
    ck_assert(matches(buf, "^\\[DEBUG UMF\\] emit: debug 5$"));
    ck_assert_int_eq(count_lines(buf), 6);

    log_to_file("fatal", "level:fatal", path, sizeof(path));
    emit();
    slurp(path, buf, sizeof(buf));
    ck_assert_int_eq(count_lines(buf), 1);
}
END_TEST

START_TEST(test_log_appends_to_file) {
    char path[256], buf[1024];
    log_to_file("append", "", path, sizeof(path));
    LOG_ERR("one");
    log_to_file("append2", "", path, sizeof(path));
    path_in_tmp(path, sizeof(path), "append");
    char cfg[300];
    snprintf(cfg, sizeof(cfg), "output:file,%s", path);
    log_init_from_string(cfg);
    LOG_ERR("two");
    slurp(path, buf, sizeof(buf));
    ck_assert_int_eq(count_lines(buf), 2);
    ck_assert(matches(buf, "one$"));
    ck_assert(matches(buf, "two$"));
}
END_TEST

START_TEST(test_log_first_value_wins) {
    char path[256], buf[4096];
    // level:debug beats level:error whatever the order.
    log_to_file("first", "level:error;level:debug", path, sizeof(path));
    ck_assert(log_enabled(LOG_LEVEL_DEBUG));
    // output:stdout beats output:file.
    log_init_from_string("output:file,/nonexistent/x;output:stdout");
    char out[1024];
    capture_fd(1, emit_err, out, sizeof(out));
    ck_assert(matches(out, "^\\[ERROR UMF\\] emit_err: to stdout$"));
    // output:stdout beats output:stderr.
    log_init_from_string("output:stderr;output:stdout");
    capture_fd(1, emit_err, out, sizeof(out));
    ck_assert(matches(out, "to stdout"));
    (void)buf;
}
END_TEST

static void emit_err(void) {
    LOG_ERR("to stdout");
}

START_TEST(test_log_stderr_output) {
    char err[1024];
    log_init_from_string("output:stderr;level:info");
    capture_fd(2, emit_warn, err, sizeof(err));
    ck_assert(matches(err, "^\\[WARN  UMF\\] emit_warn: careful$"));
}
END_TEST

static void emit_warn(void) {
    LOG_WARN("careful");
}

START_TEST(test_log_whole_tokens_only) {
    // Not tokens: prefixes and suffixes glued to other text.
    log_init_from_string("xoutput:stderr");
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    log_init_from_string("output:stderrx;level:debug");
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    log_init_from_string("output:stderr;level:debugx");
    ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
    ck_assert(log_enabled(LOG_LEVEL_ERROR)); // default level
    log_init_from_string("output:stderr;xlevel:debug");
    ck_assert(!log_enabled(LOG_LEVEL_WARNING));
}
END_TEST

START_TEST(test_log_pid_and_timestamp) {
    char path[256], buf[1024];
    log_to_file("pidts", "pid:yes;timestamp:yes", path, sizeof(path));
    LOG_ERR("stamped");
    slurp(path, buf, sizeof(buf));
    char expect[256];
    snprintf(expect, sizeof(expect),
             "^\\[[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2} "
             "PID:%-6d TID:[0-9]+ *ERROR UMF\\] test_log_pid_and_timestamp_fn: "
             "stamped$",
             getpid());
    ck_assert_msg(matches(buf, expect), "got: %s", buf);
    // The year is plausible (the date is computed without tzset).
    int year = atoi(buf + 1);
    ck_assert_int_ge(year, 2024);
    ck_assert_int_le(year, 2100);

    log_to_file("nopid", "pid:no;timestamp:no", path, sizeof(path));
    LOG_ERR("plain");
    slurp(path, buf, sizeof(buf));
    ck_assert(matches(buf, "^\\[ERROR UMF\\] test_log_pid_and_timestamp_fn: "
                           "plain$"));
}
END_TEST

START_TEST(test_log_errno_suffix_and_truncation) {
    char path[256], buf[4096];
    log_to_file("errno", "", path, sizeof(path));
    LOG_PERR(ENOMEM, "mapping failed");
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    LOG_ERR("%s", big);
    slurp(path, buf, sizeof(buf));
    ck_assert(matches(buf, "mapping failed: Cannot allocate memory$"));
    // The long line is cut but still one line ending in a newline.
    ck_assert_int_eq(count_lines(buf), 2);
    char *second = strchr(buf, '\n') + 1;
    ck_assert_uint_le(strlen(second), 1024);
    ck_assert_int_eq(second[strlen(second) - 1], '\n');
}
END_TEST

static void init_missing_output(void) {
    log_init_from_string("level:debug");
}

static void init_long_path(void) {
    char cfg[600] = "output:file,";
    memset(cfg + strlen(cfg), 'a', 300);
    log_init_from_string(cfg);
}

static void init_bad_file(void) {
    log_init_from_string("output:file,/nonexistent-dir/umf.log");
}

static void init_unknown_option(void) {
    log_init_from_string("output:stderr;colour:yes");
}

START_TEST(test_log_bad_configs_say_why) {
    char err[1024];
    capture_fd(2, init_missing_output, err, sizeof(err));
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    ck_assert_int_eq(count_lines(err), 1);
    ck_assert(matches(err, "no valid output option"));

    capture_fd(2, init_long_path, err, sizeof(err));
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    ck_assert(matches(err, "longer than 256"));

    capture_fd(2, init_bad_file, err, sizeof(err));
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
    ck_assert(matches(err, "cannot open log file /nonexistent-dir/umf.log: "
                           "No such file or directory"));

    capture_fd(2, init_unknown_option, err, sizeof(err));
    ck_assert(log_enabled(LOG_LEVEL_ERROR));
    ck_assert_msg(matches(err, "unknown option 'colour:yes' ignored"), "%s",
                  err);
}
END_TEST

START_TEST(test_log_reads_env) {
    char path[256], cfg[300], buf[1024];
    path_in_tmp(path, sizeof(path), "env");
    snprintf(cfg, sizeof(cfg), "level:info;output:file,%s", path);
    setenv("UMF_LOG", cfg, 1);
    log_init();
    LOG_INFO("from env");
    unsetenv("UMF_LOG");
    slurp(path, buf, sizeof(buf));
    ck_assert(matches(buf, "Logger enabled"));
    ck_assert(matches(buf, "from env$"));
    log_init();
    ck_assert(!log_enabled(LOG_LEVEL_FATAL));
}
END_TEST

static Suite *log_suite(void) {
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_silent_by_default);
    tcase_add_test(tc, test_log_file_output_and_levels);
    tcase_add_test(tc, test_log_appends_to_file);
    tcase_add_test(tc, test_log_first_value_wins);
    tcase_add_test(tc, test_log_stderr_output);
    tcase_add_test(tc, test_log_whole_tokens_only);
    tcase_add_test(tc, test_log_pid_and_timestamp);
    tcase_add_test(tc, test_log_errno_suffix_and_truncation);
    tcase_add_test(tc, test_log_bad_configs_say_why);
    tcase_add_test(tc, test_log_reads_env);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    unsetenv("UMF_LOG");
    return run_suite(log_suite());
}
