/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * test_proxy_config.c - the proxy's configuration parser (proxy_config.c,
 * compiled in): every key and value, the UMF_PROXY and file syntaxes,
 * [sections] with wildcards, file-then-environment precedence, sizes and
 * their overflow, tiers, NUMA lists and the rules checked at the end, heaps
 * on a file (file.dir, file.map_sync) and what they do not go with, the
 * exact error messages, files that cannot be read, px_config_print, and
 * the shipped examples (conf/) and man page (man/umf_proxy.conf.5).
 *
 * CONF_DIR and MAN_DIR name the source directories (default: relative to
 * the current directory, as when run from the top of the source tree).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <umf/pools/pool_disjoint_ext.h>
#include <umf/providers/provider_os_memory.h>

#include "helpers.h"
#include "proxy_config.h"

#ifndef CONF_DIR
#define CONF_DIR "conf"
#endif
#ifndef MAN_DIR
#define MAN_DIR "man"
#endif

#define ACC_SIZE                                                               \
    "a number of bytes with an optional binary suffix K, M, G or T, also "     \
    "written KB or KiB, such as 4096, 64K or 2MiB"
#define ACC_NODES                                                              \
    "all, or a list of NUMA node ids below 1024 such as 0,2-3, at most 64 "    \
    "nodes"
#define ACC_BOOL  "1, 0, yes, no, on, off, true, false"
#define ACC_PATH  "a non-empty path of at most 255 characters"
#define ACC_POOL  "host, disjoint, jemalloc, scalable, proxy"
#define ACC_MODE  "default, bind, interleave, preferred, split, local"
#define ACC_TNAME "1 to 31 of the characters A-Z a-z 0-9 _ -"

static char tmpdir[64];
static px_config_t cfg;
static char err[2048];

static void setup(void) {
    strcpy(tmpdir, "/tmp/umf_test_proxy_config_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", tmpdir,
             tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

// Writes `text` to tmpdir/name; returns the path (a static buffer each).
static const char *make_file(const char *name, const char *text) {
    static char paths[4][256];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static int load_env(const char *env) {
    memset(err, 'x', sizeof(err)); // must be overwritten
    return px_config_load(&cfg, env, NULL, false, NULL, err, sizeof(err));
}

static int load(const char *env, const char *path, bool required,
                const char *prog) {
    memset(err, 'x', sizeof(err));
    return px_config_load(&cfg, env, path, required, prog, err, sizeof(err));
}

// A failed load: the message is exactly `want`, one line.
#define ck_load_fails(rc, want)                                                \
    do {                                                                       \
        ck_assert_int_eq((rc), -1);                                            \
        ck_assert_str_eq(err, (want));                                         \
        ck_assert_ptr_null(strchr(err, '\n'));                                 \
    } while (0)

#define ck_load_ok(rc)                                                         \
    do {                                                                       \
        int rc_ = (rc);                                                        \
        ck_assert_msg(rc_ == 0, "load failed: %s", err);                       \
        ck_assert_str_eq(err, "");                                             \
    } while (0)

static const px_tier_t *tier_named(const char *name) {
    for (size_t i = 0; i < cfg.ntiers; i++) {
        if (strcmp(cfg.tiers[i].name, name) == 0) {
            return &cfg.tiers[i];
        }
    }
    return NULL;
}

static void ck_pool_conf_unset(const px_pool_conf_t *pc) {
    ck_assert_int_eq(pc->pool, PX_POOL_UNSET);
    ck_assert_int_eq(pc->disposition, PX_PAGES_PRIVATE);
    ck_assert_int_eq(pc->thp, PX_UNSET);
    ck_assert_int_eq(pc->numa_mode, -1);
    ck_assert(!pc->numa_all_nodes);
    ck_assert_uint_eq(pc->numa_nnodes, 0);
    ck_assert_uint_eq(pc->numa_part_size, 0);
    ck_assert(!pc->dj_slab_min_size_set && !pc->dj_max_poolable_size_set &&
              !pc->dj_capacity_set && !pc->dj_min_bucket_size_set);
    ck_assert_int_eq(pc->je_keep_all, PX_UNSET);
    ck_assert_uint_eq(pc->sc_granularity, 0);
    ck_assert_int_eq(pc->sc_keep_all, PX_UNSET);
    ck_assert_str_eq(pc->file_dir, "");
    ck_assert_int_eq(pc->file_map_sync, PX_MAP_SYNC_AUTO);
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

// px_config_print(cfg) into buf.
static void print_to(const px_config_t *c, char *buf, size_t cap) {
    char path[256];
    snprintf(path, sizeof(path), "%s/print.out", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    px_config_print(c, fd);
    close(fd);
    slurp(path, buf, cap);
}

// --- Defaults ---

START_TEST(test_proxy_config_defaults) {
    memset(&cfg, 0xa5, sizeof(cfg));
    px_config_defaults(&cfg);
    ck_pool_conf_unset(&cfg.base);
    ck_assert_uint_eq(cfg.size_threshold, 0);
    ck_assert_uint_eq(cfg.ntiers, 0);
    ck_assert(!cfg.stats);
    ck_assert_str_eq(cfg.stats_file, "");
    ck_assert_str_eq(cfg.log_level, "");
    ck_assert_str_eq(cfg.log_file, "");
    ck_assert_str_eq(cfg.file_used, "");

    // load starts from the defaults whatever the struct held
    memset(&cfg, 0xa5, sizeof(cfg));
    ck_load_ok(load(NULL, NULL, false, NULL));
    ck_pool_conf_unset(&cfg.base);
    ck_assert_uint_eq(cfg.ntiers, 0);
    ck_assert_str_eq(cfg.file_used, "");
    ck_load_ok(load_env(""));
    ck_load_ok(load_env(" ; ;; "));
    ck_pool_conf_unset(&cfg.base);
}
END_TEST

START_TEST(test_proxy_config_pool_names) {
    ck_assert_str_eq(px_pool_name(PX_POOL_DISJOINT), "disjoint");
    ck_assert_str_eq(px_pool_name(PX_POOL_JEMALLOC), "jemalloc");
    ck_assert_str_eq(px_pool_name(PX_POOL_SCALABLE), "scalable");
    ck_assert_str_eq(px_pool_name(PX_POOL_PROXY), "proxy");
    ck_assert_str_eq(px_pool_name(PX_POOL_SYSTEM), "system");
    ck_assert_str_eq(px_pool_name(PX_POOL_UNSET), "(default)");
    ck_assert_str_eq(px_pool_name((px_pool_kind_t)42), "unknown");
}
END_TEST

// --- Every key ---

START_TEST(test_proxy_config_every_key) {
    ck_load_ok(load_env(
        "pool=scalable; page.disposition=private; size.threshold=64;"
        "thp=on; numa.nodes=0,2-3; numa.mode=interleave;"
        "numa.part_size=8K; disjoint.slab_min_size=1M;"
        "disjoint.max_poolable_size=256K; disjoint.capacity=16;"
        "disjoint.min_bucket_size=32; disjoint.checks=error;"
        "host.checks=off;"
        "jemalloc.keep_all=yes; jemalloc.checks=off; scalable.granularity=4M; "
        "scalable.keep_all=false; scalable.checks=error; stats=1;"
        "stats.file=/tmp/umf stats.txt; log=warning; log.file=umf.log"));
    const px_pool_conf_t *pc = &cfg.base;
    ck_assert_int_eq(pc->pool, PX_POOL_SCALABLE);
    // (shared memory takes no NUMA settings: numa_rules)
    ck_assert_int_eq(pc->disposition, PX_PAGES_PRIVATE);
    ck_assert_uint_eq(cfg.size_threshold, 64);
    ck_assert_int_eq(pc->thp, PX_ON);
    ck_assert(!pc->numa_all_nodes);
    ck_assert_uint_eq(pc->numa_nnodes, 3);
    ck_assert_uint_eq(pc->numa_nodes[0], 0);
    ck_assert_uint_eq(pc->numa_nodes[1], 2);
    ck_assert_uint_eq(pc->numa_nodes[2], 3);
    ck_assert_int_eq(pc->numa_mode, UMF_NUMA_MODE_INTERLEAVE);
    ck_assert_uint_eq(pc->numa_part_size, 8192);
    ck_assert(pc->hp_checks_set);
    ck_assert_int_eq(pc->hp_checks, UMF_DISJOINT_POOL_CHECKS_OFF);
    ck_assert(pc->dj_slab_min_size_set);
    ck_assert_uint_eq(pc->dj_slab_min_size, 1 << 20);
    ck_assert(pc->dj_max_poolable_size_set);
    ck_assert_uint_eq(pc->dj_max_poolable_size, 256 << 10);
    ck_assert(pc->dj_capacity_set);
    ck_assert_uint_eq(pc->dj_capacity, 16);
    ck_assert(pc->dj_min_bucket_size_set);
    ck_assert_uint_eq(pc->dj_min_bucket_size, 32);
    ck_assert(pc->dj_checks_set);
    ck_assert_int_eq(pc->dj_checks, 1);
    ck_assert_int_eq(pc->je_keep_all, PX_ON);
    ck_assert(pc->je_checks_set);
    ck_assert_int_eq(pc->je_checks, 2);
    ck_assert_uint_eq(pc->sc_granularity, 4 << 20);
    ck_assert_int_eq(pc->sc_keep_all, PX_OFF);
    ck_assert(pc->sc_checks_set);
    ck_assert_int_eq(pc->sc_checks, 1);
    ck_assert(cfg.stats);
    ck_assert_str_eq(cfg.stats_file, "/tmp/umf stats.txt");
    ck_assert_str_eq(cfg.log_level, "warning");
    ck_assert_str_eq(cfg.log_file, "umf.log");
    ck_assert_uint_eq(cfg.ntiers, 0);

    // A heap on a file (its own load: it takes no NUMA keys and no thp).
    ck_load_ok(load_env("file.dir=/mnt/pmem0/my heaps;file.map_sync=required"));
    ck_assert_str_eq(cfg.base.file_dir, "/mnt/pmem0/my heaps");
    ck_assert_int_eq(cfg.base.file_map_sync, PX_MAP_SYNC_REQUIRED);
    ck_load_ok(load_env("file.dir=rel;file.map_sync=auto"));
    ck_assert_str_eq(cfg.base.file_dir, "rel");
    ck_assert_int_eq(cfg.base.file_map_sync, PX_MAP_SYNC_AUTO);

    // Zero sizes are values where 0 means something.
    ck_load_ok(load_env("disjoint.slab_min_size=0; disjoint.capacity=0;"
                        "size.threshold=0"));
    ck_assert(cfg.base.dj_slab_min_size_set);
    ck_assert_uint_eq(cfg.base.dj_slab_min_size, 0);
    ck_assert(cfg.base.dj_capacity_set);
    ck_assert_uint_eq(cfg.base.dj_capacity, 0);
}
END_TEST

START_TEST(test_proxy_config_every_tier_key) {
    ck_load_ok(load_env(
        "tier.big.min=1M; tier.big.max=1G; tier.big.pool=jemalloc;"
        "tier.big.page.disposition=private; tier.big.thp=off;"
        "tier.big.numa.nodes=1; tier.big.numa.mode=preferred;"
        "tier.big.disjoint.slab_min_size=2M;"
        "tier.big.disjoint.max_poolable_size=4M;"
        "tier.big.disjoint.capacity=2; tier.big.disjoint.min_bucket_size=64;"
        "tier.big.jemalloc.keep_all=0; tier.big.scalable.granularity=8M;"
        "tier.big.scalable.keep_all=true;"
        "tier.Huge_2-x.min=2G; tier.Huge_2-x.pool=system;"
        "tier.i.min=0; tier.i.max=1K; tier.i.numa.mode=interleave;"
        "tier.i.numa.nodes=all; tier.i.numa.part_size=64K"));
    ck_assert_uint_eq(cfg.ntiers, 3);
    const px_tier_t *t = &cfg.tiers[0];
    ck_assert_str_eq(t->name, "big");
    ck_assert_uint_eq(t->min, 1 << 20);
    ck_assert_uint_eq(t->max, (size_t)1 << 30);
    ck_assert_int_eq(t->pc.pool, PX_POOL_JEMALLOC);
    ck_assert_int_eq(t->pc.disposition, PX_PAGES_PRIVATE);
    ck_assert_int_eq(t->pc.thp, PX_OFF);
    ck_assert_uint_eq(t->pc.numa_nnodes, 1);
    ck_assert_uint_eq(t->pc.numa_nodes[0], 1);
    ck_assert_int_eq(t->pc.numa_mode, UMF_NUMA_MODE_PREFERRED);
    ck_assert(t->pc.dj_slab_min_size_set);
    ck_assert_uint_eq(t->pc.dj_slab_min_size, 2 << 20);
    ck_assert_uint_eq(t->pc.dj_max_poolable_size, 4 << 20);
    ck_assert_uint_eq(t->pc.dj_capacity, 2);
    ck_assert_uint_eq(t->pc.dj_min_bucket_size, 64);
    ck_assert_int_eq(t->pc.je_keep_all, PX_OFF);
    ck_assert_uint_eq(t->pc.sc_granularity, 8 << 20);
    ck_assert_int_eq(t->pc.sc_keep_all, PX_ON);

    t = &cfg.tiers[1];
    ck_assert_str_eq(t->name, "Huge_2-x");
    ck_assert_uint_eq(t->min, (size_t)2 << 30);
    ck_assert_uint_eq(t->max, SIZE_MAX); // not given: no upper limit
    ck_assert_int_eq(t->pc.pool, PX_POOL_SYSTEM);

    t = &cfg.tiers[2];
    ck_assert_str_eq(t->name, "i");
    ck_assert_uint_eq(t->min, 0);
    ck_assert_uint_eq(t->max, 1024);
    ck_assert(t->pc.numa_all_nodes);
    ck_assert_uint_eq(t->pc.numa_nnodes, 0);
    ck_assert_int_eq(t->pc.numa_mode, UMF_NUMA_MODE_INTERLEAVE);
    ck_assert_uint_eq(t->pc.numa_part_size, 64 << 10);
    ck_pool_conf_unset(&cfg.base); // tier keys leave the base alone

    ck_load_ok(load_env("tier.pm.min=1M;tier.pm.file.dir=/mnt/pmem0;"
                        "tier.pm.file.map_sync=required;tier.pm.pool=proxy"));
    t = tier_named("pm");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->pc.file_dir, "/mnt/pmem0");
    ck_assert_int_eq(t->pc.file_map_sync, PX_MAP_SYNC_REQUIRED);
    ck_assert_int_eq(t->pc.pool, PX_POOL_PROXY);
    ck_pool_conf_unset(&cfg.base);
}
END_TEST

typedef struct word_case_t {
    const char *env;
    size_t off; // of an int-sized field in px_pool_conf_t
    int want;
} word_case_t;

#define PCO(f) offsetof(px_pool_conf_t, f)

START_TEST(test_proxy_config_every_word) {
    static const word_case_t cases[] = {
        {"pool=disjoint", PCO(pool), PX_POOL_DISJOINT},
        {"pool=jemalloc", PCO(pool), PX_POOL_JEMALLOC},
        {"pool=scalable", PCO(pool), PX_POOL_SCALABLE},
        {"pool=proxy", PCO(pool), PX_POOL_PROXY},
        {"page.disposition=private", PCO(disposition), PX_PAGES_PRIVATE},
        {"page.disposition=shared-shm", PCO(disposition), PX_PAGES_SHARED_SHM},
        {"page.disposition=shared-fd", PCO(disposition), PX_PAGES_SHARED_FD},
        {"numa.mode=default", PCO(numa_mode), UMF_NUMA_MODE_DEFAULT},
        {"numa.mode=local", PCO(numa_mode), UMF_NUMA_MODE_LOCAL},
        {"numa.mode=bind;numa.nodes=0", PCO(numa_mode), UMF_NUMA_MODE_BIND},
        {"numa.mode=interleave;numa.nodes=0", PCO(numa_mode),
         UMF_NUMA_MODE_INTERLEAVE},
        {"numa.mode=preferred;numa.nodes=0", PCO(numa_mode),
         UMF_NUMA_MODE_PREFERRED},
        {"numa.mode=split;numa.nodes=0,1", PCO(numa_mode), UMF_NUMA_MODE_SPLIT},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        ck_load_ok(load_env(cases[i].env));
        int got;
        memcpy(&got, (const char *)&cfg.base + cases[i].off, sizeof(got));
        ck_assert_msg(got == cases[i].want, "%s: got %d", cases[i].env, got);
    }
    static const char *const levels[] = {"debug", "info", "warning", "error"};
    for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
        char env[64];
        snprintf(env, sizeof(env), "log=%s", levels[i]);
        ck_load_ok(load_env(env));
        ck_assert_str_eq(cfg.log_level, levels[i]);
    }
}
END_TEST

START_TEST(test_proxy_config_bool_words) {
    static const struct {
        const char *word;
        bool on;
    } words[] = {{"1", true},    {"0", false},    {"yes", true},
                 {"no", false},  {"on", true},    {"off", false},
                 {"true", true}, {"false", false}};
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        char env[256];
        const char *w = words[i].word;
        px_tristate_t tri = words[i].on ? PX_ON : PX_OFF;
        snprintf(env, sizeof(env),
                 "thp=%s; jemalloc.keep_all=%s; scalable.keep_all=%s; "
                 "stats=%s; tier.t.min=1; tier.t.thp=%s",
                 w, w, w, w, w);
        ck_load_ok(load_env(env));
        ck_assert_int_eq(cfg.base.thp, tri);
        ck_assert_int_eq(cfg.base.je_keep_all, tri);
        ck_assert_int_eq(cfg.base.sc_keep_all, tri);
        ck_assert_int_eq(cfg.stats, words[i].on);
        ck_assert_int_eq(cfg.tiers[0].pc.thp, tri);
    }
    ck_load_fails(load_env("thp=ON"), "UMF_PROXY: thp: bad value 'ON' "
                                      "(accepted: " ACC_BOOL ")");
}
END_TEST

// --- Bad values and unknown keys: the exact messages ---

typedef struct bad_case_t {
    const char *env;
    const char *want;
} bad_case_t;

START_TEST(test_proxy_config_bad_values) {
    static const bad_case_t cases[] = {
        {"pool=foo",
         "UMF_PROXY: pool: bad value 'foo' (accepted: " ACC_POOL ")"},
        {"pool=Disjoint",
         "UMF_PROXY: pool: bad value 'Disjoint' (accepted: " ACC_POOL ")"},
        {"pool=system",
         "UMF_PROXY: pool: bad value 'system' (accepted: " ACC_POOL ")"},
        {"pool=", "UMF_PROXY: pool: bad value '' (accepted: " ACC_POOL ")"},
        {"tier.t.pool=foo", "UMF_PROXY: tier.t.pool: bad value 'foo' "
                            "(accepted: " ACC_POOL ", system)"},
        {"page.disposition=shared",
         "UMF_PROXY: page.disposition: bad value 'shared' (accepted: "
         "private, shared-shm, shared-fd)"},
        {"size.threshold=-1", "UMF_PROXY: size.threshold: bad value '-1' "
                              "(accepted: " ACC_SIZE ")"},
        {"size.threshold=K", "UMF_PROXY: size.threshold: bad value 'K' "
                             "(accepted: " ACC_SIZE ")"},
        {"size.threshold=16777216T",
         "UMF_PROXY: size.threshold: bad value '16777216T' (too large, "
         "overflows size_t; accepted: " ACC_SIZE ")"},
        {"thp=maybe",
         "UMF_PROXY: thp: bad value 'maybe' (accepted: " ACC_BOOL ")"},
        {"numa.nodes=x", "UMF_PROXY: numa.nodes: bad value 'x' ('x' is not a "
                         "node id or range; accepted: " ACC_NODES ")"},
        {"numa.mode=first-touch",
         "UMF_PROXY: numa.mode: bad value 'first-touch' (accepted: " ACC_MODE
         ")"},
        {"numa.part_size=0", "UMF_PROXY: numa.part_size: bad value '0' (0 is "
                             "not allowed; accepted: above 0, " ACC_SIZE ")"},
        {"numa.part_size=4Q", "UMF_PROXY: numa.part_size: bad value '4Q' "
                              "(accepted: above 0, " ACC_SIZE ")"},
        {"disjoint.slab_min_size=1.5M",
         "UMF_PROXY: disjoint.slab_min_size: bad value '1.5M' "
         "(accepted: " ACC_SIZE ")"},
        {"disjoint.max_poolable_size=big",
         "UMF_PROXY: disjoint.max_poolable_size: bad value 'big' "
         "(accepted: " ACC_SIZE ")"},
        {"disjoint.capacity=4K", "UMF_PROXY: disjoint.capacity: bad value "
                                 "'4K' (accepted: a decimal number such as "
                                 "4)"},
        {"disjoint.capacity=-1", "UMF_PROXY: disjoint.capacity: bad value "
                                 "'-1' (accepted: a decimal number such as "
                                 "4)"},
        {"disjoint.capacity=99999999999999999999",
         "UMF_PROXY: disjoint.capacity: bad value '99999999999999999999' "
         "(too large; accepted: a decimal number such as 4)"},
        {"disjoint.min_bucket_size=8 B",
         "UMF_PROXY: disjoint.min_bucket_size: bad value '8 B' "
         "(accepted: " ACC_SIZE ")"},
        {"disjoint.checks=on",
         "UMF_PROXY: disjoint.checks: bad value 'on' (accepted: abort, "
         "error, off)"},
        {"host.checks=yes",
         "UMF_PROXY: host.checks: bad value 'yes' (accepted: abort, "
         "error, off)"},
        {"file.map_sync=on", "UMF_PROXY: file.map_sync: bad value 'on' "
                             "(accepted: auto, required)"},
        {"file.dir=",
         "UMF_PROXY: file.dir: bad value '' (accepted: " ACC_PATH ")"},
        {"jemalloc.keep_all=2", "UMF_PROXY: jemalloc.keep_all: bad value '2' "
                                "(accepted: " ACC_BOOL ")"},
        {"scalable.granularity=0",
         "UMF_PROXY: scalable.granularity: bad value '0' (0 is not allowed; "
         "accepted: above 0, " ACC_SIZE ")"},
        {"scalable.keep_all=y", "UMF_PROXY: scalable.keep_all: bad value 'y' "
                                "(accepted: " ACC_BOOL ")"},
        {"stats=enabled",
         "UMF_PROXY: stats: bad value 'enabled' (accepted: " ACC_BOOL ")"},
        {"stats.file=",
         "UMF_PROXY: stats.file: bad value '' (accepted: " ACC_PATH ")"},
        {"log=warn", "UMF_PROXY: log: bad value 'warn' (accepted: debug, "
                     "info, warning, error)"},
        {"log.file=  ",
         "UMF_PROXY: log.file: bad value '' (accepted: " ACC_PATH ")"},
        {"tier.t.min=1Q",
         "UMF_PROXY: tier.t.min: bad value '1Q' (accepted: " ACC_SIZE ")"},
        {"tier.t.max=-",
         "UMF_PROXY: tier.t.max: bad value '-' (accepted: " ACC_SIZE ")"},
        {"tier.t.numa.nodes=1-0",
         "UMF_PROXY: tier.t.numa.nodes: bad value '1-0' (range 1-0 is "
         "reversed; accepted: " ACC_NODES ")"},
        {"pool", "UMF_PROXY: expected key=value, found 'pool'"},
        {"pool=disjoint; stats", "UMF_PROXY: expected key=value, found "
                                 "'stats'"},
        {" = disjoint", "UMF_PROXY: no key before '=' in '= disjoint'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int rc = load_env(cases[i].env);
        ck_assert_msg(rc == -1, "%s: accepted", cases[i].env);
        ck_assert_msg(strcmp(err, cases[i].want) == 0,
                      "%s:\n got  %s\n want %s", cases[i].env, err,
                      cases[i].want);
    }

    // A path of 255 characters fits, 256 do not.
    char env[600], path[300], want[800];
    memset(path, 'p', 255);
    path[255] = '\0';
    snprintf(env, sizeof(env), "stats.file=%s", path);
    ck_load_ok(load_env(env));
    ck_assert_str_eq(cfg.stats_file, path);
    snprintf(env, sizeof(env), "log.file=%sq", path);
    snprintf(
        want, sizeof(want),
        "UMF_PROXY: log.file: bad value '%sq' (too long; accepted: " ACC_PATH
        ")",
        path);
    ck_load_fails(load_env(env), want);
}
END_TEST

START_TEST(test_proxy_config_unknown_keys) {
    static const bad_case_t cases[] = {
        {"numa.node=1",
         "UMF_PROXY: unknown key 'numa.node' (did you mean 'numa.nodes'?)"},
        {"pol=disjoint", "UMF_PROXY: unknown key 'pol' (did you mean 'pool'?)"},
        {"Pool=disjoint",
         "UMF_PROXY: unknown key 'Pool' (did you mean 'pool'?)"},
        {"size.treshold=1", "UMF_PROXY: unknown key 'size.treshold' (did you "
                            "mean 'size.threshold'?)"},
        {"stats.fiel=x",
         "UMF_PROXY: unknown key 'stats.fiel' (did you mean 'stats.file'?)"},
        {"disjoint.slab_min=2M", "UMF_PROXY: unknown key 'disjoint.slab_min' "
                                 "(did you mean 'disjoint.slab_min_size'?)"},
        {"jemalloc.keepall=on", "UMF_PROXY: unknown key 'jemalloc.keepall' "
                                "(did you mean 'jemalloc.keep_all'?)"},
        {"page.dispositon=private",
         "UMF_PROXY: unknown key 'page.dispositon' (did you mean "
         "'page.disposition'?)"},
        // tier keys: suggestions keep the tier's name
        {"tier.big.numa.node=1", "UMF_PROXY: unknown key "
                                 "'tier.big.numa.node' (did you mean "
                                 "'tier.big.numa.nodes'?)"},
        {"tier.big.mni=1", "UMF_PROXY: unknown key 'tier.big.mni' (did you "
                           "mean 'tier.big.min'?)"},
        {"tier.big=1", "UMF_PROXY: unknown key 'tier.big' (did you mean "
                       "'tier.big.min'?)"},
        {"teir.big.min=1", "UMF_PROXY: unknown key 'teir.big.min' (did you "
                           "mean 'tier.big.min'?)"},
        {"tiers.big.pool=proxy", "UMF_PROXY: unknown key 'tiers.big.pool' "
                                 "(did you mean 'tier.big.pool'?)"},
        // global keys do not exist per tier
        {"tier.big.stats=on", "UMF_PROXY: unknown key 'tier.big.stats' (did "
                              "you mean 'tier.big.max'?)"},
        // and tier keys not at the top
        {"min=1", "UMF_PROXY: unknown key 'min' (did you mean 'thp'?)"},
        // bad tier names
        {"tier..min=1",
         "UMF_PROXY: tier..min: bad tier name '' (accepted: " ACC_TNAME ")"},
        {"tier.=1",
         "UMF_PROXY: tier.: bad tier name '' (accepted: " ACC_TNAME ")"},
        {"tier.a b.min=1", "UMF_PROXY: tier.a b.min: bad tier name 'a b' "
                           "(accepted: " ACC_TNAME ")"},
        {"tier.big!.min=1", "UMF_PROXY: tier.big!.min: bad tier name 'big!' "
                            "(accepted: " ACC_TNAME ")"},
        {"tier.abcdefghijklmnopqrstuvwxyz012345.min=1",
         "UMF_PROXY: tier.abcdefghijklmnopqrstuvwxyz012345.min: bad tier "
         "name 'abcdefghijklmnopqrstuvwxyz012345' (accepted: " ACC_TNAME ")"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int rc = load_env(cases[i].env);
        ck_assert_msg(rc == -1, "%s: accepted", cases[i].env);
        ck_assert_msg(strcmp(err, cases[i].want) == 0,
                      "%s:\n got  %s\n want %s", cases[i].env, err,
                      cases[i].want);
    }
    // 31 characters is the longest name.
    ck_load_ok(load_env("tier.abcdefghijklmnopqrstuvwxyz01234.min=1"));
    ck_assert_str_eq(cfg.tiers[0].name, "abcdefghijklmnopqrstuvwxyz01234");
}
END_TEST

START_TEST(test_proxy_config_err_buffer) {
    // Truncated to the buffer, NUL-terminated; no buffer at all is fine.
    char small[12];
    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(px_config_load(&cfg, "pool=foo", NULL, false, NULL, small,
                                    sizeof(small)),
                     -1);
    ck_assert_str_eq(small, "UMF_PROXY: ");
    memset(small, 'x', sizeof(small));
    ck_assert_int_eq(
        px_config_load(&cfg, "pool=foo", NULL, false, NULL, small, 5), -1);
    ck_assert_str_eq(small, "UMF_");
    ck_assert_int_eq(
        px_config_load(&cfg, "pool=foo", NULL, false, NULL, NULL, 0), -1);
    ck_assert_int_eq(
        px_config_load(&cfg, "pool=proxy", NULL, false, NULL, NULL, 0), 0);
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
    // No "umf_proxy:" prefix: the caller adds it.
    ck_assert_int_eq(load_env("pool=foo"), -1);
    ck_assert_int_eq(strncmp(err, "UMF_PROXY: ", 11), 0);
    ck_assert_int_eq(
        px_config_load(NULL, NULL, NULL, false, NULL, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "px_config_load: cfg is NULL");
}
END_TEST

// --- Messages stay one line ---

START_TEST(test_proxy_config_escape) {
    char buf[64];
    ck_assert_uint_eq(px_escape(buf, sizeof(buf), "plain text 1=2;x"), 16);
    ck_assert_str_eq(buf, "plain text 1=2;x");
    px_escape(buf, sizeof(buf), "a\nb\tc\rd\\e\x1b[31m\x7f\x01\xc3\xa9");
    ck_assert_str_eq(buf, "a\\nb\\tc\\rd\\\\e\\x1b[31m\\x7f\\x01\\xc3\\xa9");
    // Cut to the buffer, never inside an escape, always terminated.
    memset(buf, 'Z', sizeof(buf));
    ck_assert_uint_eq(px_escape(buf, 4, "ab\ncd"), 2);
    ck_assert_str_eq(buf, "ab");
    ck_assert_uint_eq(px_escape(buf, 6, "ab\ncd"), 5);
    ck_assert_str_eq(buf, "ab\\nc");
    ck_assert_uint_eq(px_escape(buf, 1, "abc"), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(px_escape(buf, sizeof(buf), NULL), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(px_escape(NULL, 8, "abc"), 0);
}
END_TEST

START_TEST(test_proxy_config_errors_escape_input) {
    // A newline or a terminal escape in a value is echoed escaped.
    ck_load_fails(load_env("pool=dis\njoint"),
                  "UMF_PROXY: pool: bad value 'dis\\njoint' (accepted: "
                  "host, disjoint, jemalloc, scalable, proxy)");
    ck_load_fails(load_env("pool=\x1b[2Jx"),
                  "UMF_PROXY: pool: bad value '\\x1b[2Jx' (accepted: "
                  "host, disjoint, jemalloc, scalable, proxy)");
    // In a key (the unknown-key path) and in a file's path and lines.
    ck_assert_int_eq(load_env("po\bol=proxy"), -1);
    ck_assert_int_eq(strncmp(err, "UMF_PROXY: unknown key 'po\\x08ol'", 33), 0);
    const char *path = make_file("ctl\tname.conf", "pool = \x7fproxy\n");
    char want[512];
    snprintf(
        want, sizeof(want),
        "%.*s\\t%s:1: pool: bad value '\\x7fproxy' (accepted: host, disjoint, "
        "jemalloc, scalable, proxy)",
        (int)(strchr(path, '\t') - path), path, strchr(path, '\t') + 1);
    ck_load_fails(load(NULL, path, true, NULL), want);
    for (const char *p = err; *p; p++) {
        ck_assert_msg(*p >= 0x20 && *p < 0x7f, "raw byte 0x%02x in '%s'",
                      (unsigned char)*p, err);
    }
}
END_TEST

// --- Syntax and precedence ---

START_TEST(test_proxy_config_env_syntax) {
    // Empty items and blanks around keys and values are fine.
    ck_load_ok(load_env(";;  pool \t=\t proxy  ;  ; thp=on;"));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
    ck_assert_int_eq(cfg.base.thp, PX_ON);
    // The first '=' splits; values keep inner blanks and '=', '#'.
    ck_load_ok(load_env("log.file=/tmp/a=b #c d"));
    ck_assert_str_eq(cfg.log_file, "/tmp/a=b #c d");
    // A later item wins.
    ck_load_ok(load_env("pool=proxy;pool=disjoint;thp=on;thp=off"));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_DISJOINT);
    ck_assert_int_eq(cfg.base.thp, PX_OFF);
    ck_load_ok(load_env("numa.nodes=0-3;numa.nodes=all"));
    ck_assert(cfg.base.numa_all_nodes);
    ck_assert_uint_eq(cfg.base.numa_nnodes, 0);
    ck_load_ok(load_env("numa.nodes=all;numa.nodes=5"));
    ck_assert(!cfg.base.numa_all_nodes);
    ck_assert_uint_eq(cfg.base.numa_nnodes, 1);
    ck_assert_uint_eq(cfg.base.numa_nodes[0], 5);
    // Sections are a file thing: '[' starts no section here.
    ck_load_fails(load_env("[prog]"),
                  "UMF_PROXY: expected key=value, found '[prog]'");
}
END_TEST

START_TEST(test_proxy_config_file_syntax) {
    const char *path = make_file(
        "syntax.conf", "# a comment line\n"
                       "\n"
                       "   \t\n"
                       "pool = scalable   # trailing comment\n"
                       "thp=on\r\n"
                       "  size.threshold\t=\t 4K\n"
                       "  # indented comment\n"
                       "log.file = /var/log/umf proxy.log # spaces kept\n"
                       "stats = on"); // no final newline
    ck_load_ok(load(NULL, path, true, NULL));
    ck_assert_str_eq(cfg.file_used, path);
    ck_assert_int_eq(cfg.base.pool, PX_POOL_SCALABLE);
    ck_assert_int_eq(cfg.base.thp, PX_ON);
    ck_assert_uint_eq(cfg.size_threshold, 4096);
    ck_assert_str_eq(cfg.log_file, "/var/log/umf proxy.log");
    ck_assert(cfg.stats);

    // Errors name the file and the line.
    char want[512];
    path = make_file("bad.conf", "pool = disjoint\n"
                                 "# comment\n"
                                 "numa.node = 1\n");
    snprintf(want, sizeof(want),
             "%s:3: unknown key 'numa.node' (did you mean 'numa.nodes'?)",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);

    path = make_file("noeq.conf", "\n\npool disjoint\n");
    snprintf(want, sizeof(want),
             "%s:3: expected key=value, found 'pool disjoint'", path);
    ck_load_fails(load(NULL, path, true, NULL), want);

    path = make_file("badval.conf", "thp = on # fine\nthp = sometimes\n");
    snprintf(want, sizeof(want),
             "%s:2: thp: bad value 'sometimes' (accepted: " ACC_BOOL ")", path);
    ck_load_fails(load(NULL, path, true, NULL), want);

    // CRLF line ends count as blanks.
    path = make_file("crlf.conf", "pool = proxy\r\n\r\nthp = off\r\n");
    ck_load_ok(load(NULL, path, true, NULL));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
    ck_assert_int_eq(cfg.base.thp, PX_OFF);

    // A file of comments only, an empty file.
    path = make_file("empty.conf", "");
    ck_load_ok(load(NULL, path, true, NULL));
    ck_assert_str_eq(cfg.file_used, path);
    ck_pool_conf_unset(&cfg.base);
}
END_TEST

START_TEST(test_proxy_config_file_then_env) {
    const char *path = make_file("prec.conf", "pool = scalable\n"
                                              "thp = on\n"
                                              "size.threshold = 1K\n"
                                              "size.threshold = 2K\n"
                                              "stats.file = /from/file\n");
    ck_load_ok(load("pool=proxy; stats.file=/from/env", path, true, NULL));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY); // env wins
    ck_assert_str_eq(cfg.stats_file, "/from/env");  // env wins
    ck_assert_int_eq(cfg.base.thp, PX_ON);          // file only
    ck_assert_uint_eq(cfg.size_threshold, 2048);    // later line wins
    ck_assert_str_eq(cfg.file_used, path);

    // An error in the file stops before the environment is read...
    char want[512];
    path = make_file("prec_bad.conf", "pool = foo\n");
    snprintf(want, sizeof(want),
             "%s:1: pool: bad value 'foo' (accepted: " ACC_POOL ")", path);
    ck_load_fails(load("pool=bar", path, true, NULL), want);
    // ...and an error in the environment is UMF_PROXY's.
    path = make_file("prec_ok.conf", "pool = proxy\n");
    ck_load_fails(load("pool=bar", path, true, NULL),
                  "UMF_PROXY: pool: bad value 'bar' (accepted: " ACC_POOL ")");

    // Tiers merge across the sources: the file's min, env's max.
    path = make_file("prec_tier.conf", "tier.t.min = 4K\n"
                                       "tier.t.max = 8K\n"
                                       "tier.t.pool = proxy\n");
    ck_load_ok(load("tier.t.max=16K", path, true, NULL));
    ck_assert_uint_eq(cfg.ntiers, 1);
    ck_assert_uint_eq(cfg.tiers[0].min, 4096);
    ck_assert_uint_eq(cfg.tiers[0].max, 16384);
    ck_assert_int_eq(cfg.tiers[0].pc.pool, PX_POOL_PROXY);
}
END_TEST

// --- Sections ---

static const char sections_conf[] = "pool = disjoint\n"
                                    "[python*]\n"
                                    "pool = scalable\n"
                                    "[?ort]\n"
                                    "pool = proxy\n"
                                    "thp = on\n"
                                    "[*-server]\n"
                                    "pool = jemalloc\n"
                                    "tier.big.min = 1M\n"
                                    "[exact]\n"
                                    "size.threshold = 1K\n"
                                    "[*]\n"
                                    "stats = on\n";

START_TEST(test_proxy_config_sections) {
    const char *path = make_file("sections.conf", sections_conf);
    static const struct {
        const char *prog;
        px_pool_kind_t pool;
        px_tristate_t thp;
        size_t ntiers, threshold;
        bool stats;
    } cases[] = {
        {NULL, PX_POOL_DISJOINT, PX_UNSET, 0, 0, false},
        {"", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"python3", PX_POOL_SCALABLE, PX_UNSET, 0, 0, true},
        {"python", PX_POOL_SCALABLE, PX_UNSET, 0, 0, true},
        {"ipython", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"sort", PX_POOL_PROXY, PX_ON, 0, 0, true},
        {"port", PX_POOL_PROXY, PX_ON, 0, 0, true},
        {"ort", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"sorts", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"redis-server", PX_POOL_JEMALLOC, PX_UNSET, 1, 0, true},
        {"-server", PX_POOL_JEMALLOC, PX_UNSET, 1, 0, true},
        {"server", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"exact", PX_POOL_DISJOINT, PX_UNSET, 0, 1024, true},
        {"exactly", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
        {"Exact", PX_POOL_DISJOINT, PX_UNSET, 0, 0, true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        ck_load_ok(load(NULL, path, true, cases[i].prog));
        const char *p = cases[i].prog ? cases[i].prog : "(null)";
        ck_assert_msg(cfg.base.pool == cases[i].pool, "%s: pool %d", p,
                      cfg.base.pool);
        ck_assert_msg(cfg.base.thp == cases[i].thp, "%s: thp", p);
        ck_assert_msg(cfg.ntiers == cases[i].ntiers, "%s: ntiers", p);
        ck_assert_msg(cfg.size_threshold == cases[i].threshold, "%s: thr", p);
        ck_assert_msg(cfg.stats == cases[i].stats, "%s: stats", p);
    }

    // Wildcards in the middle, several stars, backtracking.
    path = make_file("glob.conf", "[a*b*c?]\n"
                                  "pool = proxy\n");
    static const struct {
        const char *prog;
        bool match;
    } globs[] = {{"abcd", true},   {"aXbYcZ", true}, {"abbbcccd", true},
                 {"abc", false},   {"acbd", false},  {"abcdc", false},
                 {"abcdcx", true}, {"ab", false}};
    for (size_t i = 0; i < ARRAY_SIZE(globs); i++) {
        ck_load_ok(load(NULL, path, true, globs[i].prog));
        ck_assert_msg((cfg.base.pool == PX_POOL_PROXY) == globs[i].match, "%s",
                      globs[i].prog);
    }

    // The environment applies whatever the program.
    path = make_file("env_sec.conf", "[other]\npool = proxy\n");
    ck_load_ok(load("thp=on", path, true, "mine"));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_UNSET);
    ck_assert_int_eq(cfg.base.thp, PX_ON);
}
END_TEST

START_TEST(test_proxy_config_sections_checked_when_skipped) {
    char want[512];
    // An unknown key, a bad value, a bad tier name in a section that does
    // not apply are still errors.
    const char *path = make_file("skip1.conf", "[nomatch]\n"
                                               "pool = disjoint\n"
                                               "numa.node = 1\n");
    snprintf(want, sizeof(want),
             "%s:3: unknown key 'numa.node' (did you mean 'numa.nodes'?)",
             path);
    ck_load_fails(load(NULL, path, true, "prog"), want);
    ck_load_fails(load(NULL, path, true, NULL), want);

    path = make_file("skip2.conf", "[nomatch]\nsize.threshold = 1X\n");
    snprintf(want, sizeof(want),
             "%s:2: size.threshold: bad value '1X' (accepted: " ACC_SIZE ")",
             path);
    ck_load_fails(load(NULL, path, true, "prog"), want);

    path = make_file("skip3.conf", "[nomatch]\ntier.a/b.min = 1\n");
    snprintf(want, sizeof(want),
             "%s:2: tier.a/b.min: bad tier name 'a/b' (accepted: " ACC_TNAME
             ")",
             path);
    ck_load_fails(load(NULL, path, true, "prog"), want);

    // Tiers of a skipped section do not exist (nor count towards the
    // limit), and cross-key rules concern only what applies.
    path = make_file("skip4.conf", "[nomatch]\n"
                                   "tier.t.max = 1K\n"
                                   "numa.mode = bind\n"
                                   "tier.a.min=1\ntier.b.min=2\n"
                                   "tier.c.min=3\ntier.d.min=4\n"
                                   "tier.e.min=5\ntier.f.min=6\n"
                                   "tier.g.min=7\ntier.h.min=8\n"
                                   "tier.i.min=9\n"
                                   "[prog]\n"
                                   "tier.x.min = 1M\n");
    ck_load_ok(load(NULL, path, true, "prog"));
    ck_assert_uint_eq(cfg.ntiers, 1);
    ck_assert_str_eq(cfg.tiers[0].name, "x");
    ck_assert_int_eq(cfg.base.numa_mode, -1);

    // Bad section headers.
    static const char *const headers[] = {"[]",   "[  ]",  "[prog",
                                          "[a]b", "[a[b]", "[a]]"};
    for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
        char text[64];
        snprintf(text, sizeof(text), "pool = proxy\n%s\n", headers[i]);
        path = make_file("hdr.conf", text);
        snprintf(want, sizeof(want),
                 "%s:2: bad section header '%s' (accepted: [program], where "
                 "* and ? are wildcards)",
                 path, headers[i]);
        ck_load_fails(load(NULL, path, true, "prog"), want);
    }
    // Blanks inside the brackets and a comment after them are fine.
    path = make_file("hdr_ok.conf", "[ prog ]  # the program\npool=proxy\n");
    ck_load_ok(load(NULL, path, true, "prog"));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
}
END_TEST

// --- Sizes ---

START_TEST(test_proxy_config_parse_size) {
    static const struct {
        const char *s;
        size_t want;
    } good[] = {
        {"0", 0},
        {"4096", 4096},
        {"007", 7},
        {"100B", 100},
        {"100b", 100},
        {"1K", 1024},
        {"1k", 1024},
        {"1KB", 1024},
        {"1kb", 1024},
        {"1KiB", 1024},
        {"1kib", 1024},
        {"1KIB", 1024},
        {"2M", (size_t)2 << 20},
        {"2MiB", (size_t)2 << 20},
        {"3G", (size_t)3 << 30},
        {"3gB", (size_t)3 << 30},
        {"5T", (size_t)5 << 40},
        {"5TiB", (size_t)5 << 40},
        {"16777215T", (size_t)16777215 << 40},
        {"18446744073709551615", SIZE_MAX},
        {"0K", 0},
    };
    // Through a size key, as users write them.
    char env[128];
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        snprintf(env, sizeof(env), "size.threshold=%s", good[i].s);
        ck_assert_msg(load_env(env) == 0, "%s refused: %s", good[i].s, err);
        ck_assert_msg(cfg.size_threshold == good[i].want, "%s: %zu", good[i].s,
                      cfg.size_threshold);
    }
    static const char *const bad[] = {
        "",
        "K",
        "B",
        "1 K",
        "-1",
        "+1",
        "1.5M",
        "0x10",
        "1iB",
        "1KBB",
        "1Ki",
        "1KiBB",
        "1X",
        "1MK",
        "1e3",
        "one",
        "1_000",
        // overflow
        "18446744073709551616",
        "99999999999999999999999",
        "16777216T",
        "17179869184G",
        "17592186044416M",
        "18014398509481984K",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(env, sizeof(env), "size.threshold=%s", bad[i]);
        ck_assert_msg(load_env(env) == -1, "'%s' accepted", bad[i]);
        ck_assert_msg(
            strncmp(err, "UMF_PROXY: size.threshold: bad value '", 38) == 0,
            "'%s': %s", bad[i], err);
    }
    // Blanks around a value are the item's, not the size's; the item ends
    // at ';'.
    ck_load_ok(load_env("size.threshold= 64K ;pool=proxy"));
    ck_assert_uint_eq(cfg.size_threshold, 65536);
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
}
END_TEST

START_TEST(test_proxy_config_size_overflow_in_keys) {
    static const char *const keys[] = {"size.threshold",
                                       "numa.part_size",
                                       "disjoint.slab_min_size",
                                       "disjoint.max_poolable_size",
                                       "disjoint.min_bucket_size",
                                       "scalable.granularity",
                                       "tier.t.min",
                                       "tier.t.max",
                                       "tier.t.disjoint.slab_min_size"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        char env[128], want[512];
        bool above0 =
            strstr(keys[i], "part_size") || strstr(keys[i], "granularity");
        snprintf(env, sizeof(env), "%s=18446744073709551616", keys[i]);
        snprintf(want, sizeof(want),
                 "UMF_PROXY: %s: bad value '18446744073709551616' (too "
                 "large, overflows size_t; accepted: %s" ACC_SIZE ")",
                 keys[i], above0 ? "above 0, " : "");
        ck_load_fails(load_env(env), want);
        snprintf(env, sizeof(env), "%s=17179869184GiB", keys[i]);
        ck_assert_int_eq(load_env(env), -1);
        ck_assert_ptr_nonnull(strstr(err, "too large, overflows size_t"));
    }
    ck_load_ok(load_env("size.threshold=18446744073709551615"));
    ck_assert_uint_eq(cfg.size_threshold, SIZE_MAX);
    ck_load_ok(load_env("size.threshold = 1MiB"));
    ck_assert_uint_eq(cfg.size_threshold, 1 << 20);
}
END_TEST

// --- Tiers ---

START_TEST(test_proxy_config_tiers) {
    // Adjacent ranges are fine; the order of definition is kept.
    ck_load_ok(load_env("tier.b.min=4K; tier.b.max=1048575; tier.a.min=0;"
                        "tier.a.max=4095; tier.c.min=1M; tier.c.max=1M;"
                        "tier.d.min=1048577"));
    ck_assert_uint_eq(cfg.ntiers, 4);
    ck_assert_str_eq(cfg.tiers[0].name, "b");
    ck_assert_uint_eq(cfg.tiers[0].min, 4096);
    ck_assert_uint_eq(cfg.tiers[0].max, 1048575);
    ck_assert_str_eq(cfg.tiers[1].name, "a");
    ck_assert_uint_eq(cfg.tiers[1].min, 0);
    ck_assert_uint_eq(cfg.tiers[1].max, 4095);
    ck_assert_str_eq(cfg.tiers[2].name, "c");
    ck_assert_uint_eq(cfg.tiers[2].min, 1 << 20);
    ck_assert_uint_eq(cfg.tiers[2].max, 1 << 20);
    ck_assert_str_eq(cfg.tiers[3].name, "d");
    ck_assert_uint_eq(cfg.tiers[3].max, SIZE_MAX);
    // Keys of one tier may come in any order and be given again.
    ck_load_ok(load_env("tier.t.pool=proxy; tier.t.max=8K; tier.t.min=1K;"
                        "tier.t.min=2K"));
    ck_assert_uint_eq(cfg.ntiers, 1);
    ck_assert_uint_eq(cfg.tiers[0].min, 2048);
    ck_assert_uint_eq(cfg.tiers[0].max, 8192);
    // Tier names are case-sensitive.
    ck_load_ok(load_env("tier.T.min=0; tier.T.max=1; tier.t.min=2"));
    ck_assert_uint_eq(cfg.ntiers, 2);
}
END_TEST

START_TEST(test_proxy_config_tier_errors) {
    // Overlaps name both tiers.
    ck_load_fails(load_env("tier.b.min=4K; tier.a.min=0; tier.a.max=4095;"
                           "tier.c.min=1M; tier.c.max=1M"),
                  "UMF_PROXY: tier.c (1M..1M) overlaps tier.b (4K..no "
                  "limit); tier ranges must not overlap");
    ck_load_fails(load_env("tier.a.min=1M; tier.b.min=4K; tier.b.max=2M"),
                  "UMF_PROXY: tier.b (4K..2M) overlaps tier.a (1M..no "
                  "limit); tier ranges must not overlap");
    ck_load_fails(load_env("tier.a.min=0; tier.a.max=4096; tier.b.min=4K"),
                  "UMF_PROXY: tier.b (4K..no limit) overlaps tier.a "
                  "(0..4K); tier ranges must not overlap");
    ck_load_fails(load_env("tier.a.min=100; tier.a.max=200;"
                           "tier.b.min=150; tier.b.max=160"),
                  "UMF_PROXY: tier.b (150..160) overlaps tier.a (100..200); "
                  "tier ranges must not overlap");
    ck_load_ok(load_env("tier.a.min=0; tier.a.max=4095; tier.b.min=4K;"
                        "tier.b.max=1M; tier.c.min=1025K"));

    // A tier needs min; min <= max.
    ck_load_fails(load_env("tier.t.max=1M"),
                  "UMF_PROXY: tier.t.min: not given (every tier needs "
                  "tier.t.min=SIZE)");
    ck_load_fails(load_env("tier.t.pool=proxy"),
                  "UMF_PROXY: tier.t.min: not given (every tier needs "
                  "tier.t.min=SIZE)");
    ck_load_fails(load_env("tier.t.min=2M; tier.t.max=1M"),
                  "UMF_PROXY: tier.t.min: 2M is above tier.t.max=1M");
    ck_load_fails(load_env("tier.t.min=1001; tier.t.max=1000"),
                  "UMF_PROXY: tier.t.min: 1001 is above tier.t.max=1000");
    ck_load_ok(load_env("tier.t.min=1M; tier.t.max=1M"));

    // At most PX_MAX_TIERS tiers; a ninth is an error naming the limit.
    char env[512] = "";
    for (int i = 0; i < PX_MAX_TIERS; i++) {
        char item[64];
        snprintf(item, sizeof(item), "tier.t%d.min=%dK;tier.t%d.max=%dK;", i,
                 i * 2, i, i * 2 + 1);
        strcat(env, item);
    }
    ck_load_ok(load_env(env));
    ck_assert_uint_eq(cfg.ntiers, PX_MAX_TIERS);
    strcat(env, "tier.t0.pool=proxy;"); // an existing tier: fine
    ck_load_ok(load_env(env));
    strcat(env, "tier.ninth.min=1G");
    ck_load_fails(load_env(env),
                  "UMF_PROXY: tier.ninth.min: too many tiers (at most 8)");

    // In a file, the errors point at the tier's lines.
    char want[512];
    const char *path = make_file("tiers.conf", "tier.a.min = 1K\n"
                                               "tier.a.max = 8K\n"
                                               "\n"
                                               "tier.b.pool = proxy\n"
                                               "tier.b.min = 4K\n");
    snprintf(want, sizeof(want),
             "%s:5: tier.b (4K..no limit) overlaps tier.a (1K..8K); tier "
             "ranges must not overlap",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    path = make_file("tiers2.conf", "pool = proxy\n"
                                    "tier.a.pool = proxy\n"
                                    "tier.a.max = 8K\n");
    snprintf(want, sizeof(want),
             "%s:2: tier.a.min: not given (every tier needs "
             "tier.a.min=SIZE)",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    // ...and at UMF_PROXY when the environment set the range last.
    ck_load_fails(load("tier.a.min=16K", path, true, NULL),
                  "UMF_PROXY: tier.a.min: 16K is above tier.a.max=8K");
}
END_TEST

START_TEST(test_proxy_config_tier_pool_settings) {
    // pool=system is for tiers only.
    ck_load_ok(load_env("tier.small.min=0; tier.small.max=255;"
                        "tier.small.pool=system"));
    ck_assert_int_eq(cfg.tiers[0].pc.pool, PX_POOL_SYSTEM);
    ck_assert_int_eq(cfg.base.pool, PX_POOL_UNSET);
    ck_load_fails(load_env("pool=system"),
                  "UMF_PROXY: pool: bad value 'system' (accepted: " ACC_POOL
                  ")");

    // A tier's settings start unset, not from the base's.
    ck_load_ok(load_env("pool=scalable; thp=on;"
                        "page.disposition=shared-fd; disjoint.capacity=9;"
                        "tier.t.min=1M"));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_SCALABLE);
    ck_assert_int_eq(cfg.base.disposition, PX_PAGES_SHARED_FD);
    ck_load_ok(load_env("numa.nodes=0; tier.t.min=1M"));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_BIND);
    ck_pool_conf_unset(&cfg.tiers[0].pc);
    // ...and base settings given after a tier do not reach it either.
    ck_load_ok(load_env("tier.t.min=1M; pool=proxy"));
    ck_pool_conf_unset(&cfg.tiers[0].pc);
    ck_assert_ptr_nonnull(tier_named("t"));
    ck_assert_ptr_null(tier_named("u"));
}
END_TEST

// --- NUMA ---

START_TEST(test_proxy_config_numa_lists) {
    static const struct {
        const char *list;
        size_t n;
        unsigned ids[8];
    } good[] = {
        {"0", 1, {0}},
        {"0,2-3", 3, {0, 2, 3}},
        {"3-5,1", 4, {3, 4, 5, 1}},
        {" 1 , 2 - 3 ", 3, {1, 2, 3}},
        {"7-7", 1, {7}},
        {"1023", 1, {1023}},
        {"0001", 1, {1}},
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        char env[96];
        snprintf(env, sizeof(env), "numa.nodes=%s", good[i].list);
        ck_load_ok(load_env(env));
        ck_assert(!cfg.base.numa_all_nodes);
        ck_assert_msg(cfg.base.numa_nnodes == good[i].n, "%s: %zu",
                      good[i].list, cfg.base.numa_nnodes);
        for (size_t j = 0; j < good[i].n; j++) {
            ck_assert_uint_eq(cfg.base.numa_nodes[j], good[i].ids[j]);
        }
    }
    ck_load_ok(load_env("numa.nodes=all"));
    ck_assert(cfg.base.numa_all_nodes);
    ck_assert_uint_eq(cfg.base.numa_nnodes, 0);

    // 64 nodes fit, 65 do not.
    ck_load_ok(load_env("numa.nodes=0-63"));
    ck_assert_uint_eq(cfg.base.numa_nnodes, PX_MAX_NODES);
    ck_assert_uint_eq(cfg.base.numa_nodes[63], 63);
    ck_load_ok(load_env("numa.nodes=960-1023"));
    ck_assert_uint_eq(cfg.base.numa_nodes[63], 1023);

    static const struct {
        const char *list, *why;
    } bad[] = {
        {"0-64", "more than 64 nodes"},
        {"0-31,100-132", "more than 64 nodes"},
        {"0-1023", "more than 64 nodes"},
        {"0,0", "node 0 given twice"},
        {"0-3,2", "node 2 given twice"},
        {"5,1-9", "node 5 given twice"},
        {"3-1", "range 3-1 is reversed"},
        {"1024", "node id '1024' is not below 1024"},
        {"0-1024", "node id '0-1024' is not below 1024"},
        {"99999999999", "node id '99999999999' is not below 1024"},
        {"1-", "'1-' is not a node id or range"},
        {"-1", "'-1' is not a node id or range"},
        {"1-2-3", "'1-2-3' is not a node id or range"},
        {"a", "'a' is not a node id or range"},
        {"1;2", NULL}, // ';' ends the item: "numa.nodes=1" then "2"
        {"0,,1", "empty list item"},
        {"0,", "empty list item"},
        {",0", "empty list item"},
        {"0 1", "'0 1' is not a node id or range"},
        {"ALL", "'ALL' is not a node id or range"},
        {"all,1", "'all' is not a node id or range"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char env[96], want[512];
        snprintf(env, sizeof(env), "numa.nodes=%s", bad[i].list);
        if (!bad[i].why) {
            ck_load_fails(load_env(env),
                          "UMF_PROXY: expected key=value, found '2'");
            continue;
        }
        snprintf(
            want, sizeof(want),
            "UMF_PROXY: numa.nodes: bad value '%s' (%s; accepted: " ACC_NODES
            ")",
            bad[i].list, bad[i].why);
        ck_load_fails(load_env(env), want);
    }
    ck_load_fails(load_env("numa.nodes="), "UMF_PROXY: numa.nodes: bad value "
                                           "'' (accepted: " ACC_NODES ")");
}
END_TEST

// memspace=: the four names, each alone or with a policy mode, in tiers
// too; what it cannot be combined with is refused, naming both keys.
START_TEST(test_proxy_config_memspace) {
    static const struct {
        const char *word;
        px_memspace_t value;
    } names[] = {
        {"host_all", PX_MEMSPACE_HOST_ALL},
        {"highest_capacity", PX_MEMSPACE_HIGHEST_CAPACITY},
        {"highest_bandwidth", PX_MEMSPACE_HIGHEST_BANDWIDTH},
        {"lowest_latency", PX_MEMSPACE_LOWEST_LATENCY},
    };
    char env[128];
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        snprintf(env, sizeof(env), "memspace=%s", names[i].word);
        ck_load_ok(load_env(env));
        ck_assert_int_eq(cfg.base.memspace, names[i].value);
        ck_assert_int_eq(cfg.base.numa_mode, -1); // no policy: its default
        snprintf(env, sizeof(env), "tier.t.min=1M;tier.t.memspace=%s",
                 names[i].word);
        ck_load_ok(load_env(env));
        ck_assert_int_eq(cfg.tiers[0].pc.memspace, names[i].value);
        ck_assert_int_eq(cfg.base.memspace, PX_MEMSPACE_UNSET);
    }
    ck_load_ok(load_env("memspace=host_all;numa.mode=interleave;"
                        "numa.part_size=2M"));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_INTERLEAVE);
    ck_assert_uint_eq(cfg.base.numa_part_size, 2u << 20);
    ck_load_ok(load_env("memspace=highest_capacity;numa.mode=split"));
    ck_load_ok(load_env("memspace=host_all;numa.mode=preferred"));

    ck_load_fails(load_env("memspace=fastest"),
                  "UMF_PROXY: memspace: bad value 'fastest' (accepted: "
                  "host_all, highest_capacity, highest_bandwidth, "
                  "lowest_latency)");
    ck_load_fails(load_env("memspace=host_all;numa.nodes=0"),
                  "UMF_PROXY: numa.nodes: not used with memspace=host_all "
                  "(the memspace chooses the nodes)");
    ck_load_fails(load_env("numa.mode=local;memspace=host_all"),
                  "UMF_PROXY: numa.mode: local does not go with "
                  "memspace=host_all (accepted with a memspace: bind, "
                  "interleave, preferred, split, or no numa.mode)");
    ck_load_fails(load_env("memspace=highest_capacity;"
                           "page.disposition=shared-fd"),
                  "UMF_PROXY: page.disposition: memory from "
                  "memspace=highest_capacity is private (accepted with a "
                  "memspace: private)");
    ck_load_fails(load_env("memspace=host_all;thp=on"),
                  "UMF_PROXY: thp: not supported with memspace=host_all");
    ck_load_fails(load_env("memspace=host_all;numa.part_size=4K"),
                  "UMF_PROXY: numa.part_size: needs numa.mode=interleave "
                  "(numa.mode is not set)");
    ck_load_fails(load_env("tier.t.min=0;tier.t.memspace=host_all;"
                           "tier.t.numa.nodes=all"),
                  "UMF_PROXY: tier.t.numa.nodes: not used with "
                  "tier.t.memspace=host_all (the memspace chooses the "
                  "nodes)");
}
END_TEST

// file.dir: the keys it does not go with, each reported at its own item.
START_TEST(test_proxy_config_file_rules) {
    static const bad_case_t cases[] = {
        {"file.map_sync=required", "UMF_PROXY: file.map_sync: needs file.dir "
                                   "(the directory of the heap's file)"},
        {"tier.t.min=0;tier.t.file.map_sync=required",
         "UMF_PROXY: tier.t.file.map_sync: needs tier.t.file.dir (the "
         "directory of the heap's file)"},
        {"file.dir=/d;page.disposition=shared-fd",
         "UMF_PROXY: page.disposition: not supported with file.dir (a heap "
         "on a file is shared memory already; drop page.disposition)"},
        {"page.disposition=shared-shm;file.dir=/d",
         "UMF_PROXY: page.disposition: not supported with file.dir (a heap "
         "on a file is shared memory already; drop page.disposition)"},
        {"file.dir=/d;memspace=host_all",
         "UMF_PROXY: memspace: not supported with file.dir (the file's pages "
         "are placed by its filesystem)"},
        {"file.dir=/d;numa.nodes=0",
         "UMF_PROXY: numa.nodes: not supported with file.dir (the file's "
         "pages are placed by its filesystem)"},
        {"file.dir=/d;numa.mode=default",
         "UMF_PROXY: numa.mode: not supported with file.dir (the file's "
         "pages are placed by its filesystem)"},
        {"file.dir=/d;numa.part_size=4K",
         "UMF_PROXY: numa.part_size: not supported with file.dir (the file's "
         "pages are placed by its filesystem)"},
        {"file.dir=/d;thp=off", "UMF_PROXY: thp: not supported with file.dir "
                                "(the file's filesystem chooses its page "
                                "size)"},
        {"tier.t.min=1M;tier.t.file.dir=/d;tier.t.numa.nodes=all",
         "UMF_PROXY: tier.t.numa.nodes: not supported with tier.t.file.dir "
         "(the file's pages are placed by its filesystem)"},
        {"tier.t.min=1M;tier.t.pool=system;tier.t.file.dir=/d",
         "UMF_PROXY: tier.t.file.dir: a tier with pool=system has no heap to "
         "put on a file"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        ck_load_fails(load_env(cases[i].env), cases[i].want);
    }
    // Per heap: the base's file.dir says nothing about a tier's keys, nor
    // a tier's about the base's.
    ck_load_ok(load_env("file.dir=/d;tier.t.min=1M;tier.t.numa.nodes=0;"
                        "tier.t.thp=on"));
    ck_load_ok(load_env("numa.nodes=0;tier.t.min=1M;tier.t.file.dir=/d;"
                        "tier.u.min=0;tier.u.max=1K;tier.u.file.dir=/e;"
                        "tier.u.pool=scalable"));
    // Where: the file line of the item that conflicts.
    const char *path = make_file("file.conf", "file.dir = /d\n"
                                              "\n"
                                              "thp = on\n");
    char want[512];
    snprintf(want, sizeof(want),
             "%s:3: thp: not supported with file.dir (the file's filesystem "
             "chooses its page size)",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    // The first conflict in the order page.disposition, memspace, NUMA
    // keys, thp is reported, wherever its item is.
    ck_load_fails(load("numa.mode=local", path, true, NULL),
                  "UMF_PROXY: numa.mode: not supported with file.dir (the "
                  "file's pages are placed by its filesystem)");
}
END_TEST

START_TEST(test_proxy_config_numa_rules) {
    // numa.nodes without numa.mode means bind.
    ck_load_ok(load_env("numa.nodes=1"));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_BIND);
    ck_load_ok(load_env("numa.nodes=all"));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_BIND);
    ck_load_ok(load_env("tier.t.min=1; tier.t.numa.nodes=0"));
    ck_assert_int_eq(cfg.tiers[0].pc.numa_mode, UMF_NUMA_MODE_BIND);
    ck_assert_int_eq(cfg.base.numa_mode, -1);
    // No nodes, no mode: nothing.
    ck_load_ok(load_env("pool=proxy"));
    ck_assert_int_eq(cfg.base.numa_mode, -1);
    // Modes without nodes.
    ck_load_ok(load_env("numa.mode=default"));
    ck_load_ok(load_env("numa.mode=local"));
    static const char *const need[] = {"bind", "interleave", "preferred",
                                       "split"};
    for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
        char env[64], want[256];
        snprintf(env, sizeof(env), "numa.mode=%s", need[i]);
        snprintf(want, sizeof(want),
                 "UMF_PROXY: numa.mode: %s needs numa.nodes (all, or a list "
                 "such as 0,2-3)",
                 need[i]);
        ck_load_fails(load_env(env), want);
        snprintf(env, sizeof(env), "tier.t.min=0;tier.t.numa.mode=%s", need[i]);
        snprintf(want, sizeof(want),
                 "UMF_PROXY: tier.t.numa.mode: %s needs tier.t.numa.nodes "
                 "(all, or a list such as 0,2-3)",
                 need[i]);
        ck_load_fails(load_env(env), want);
    }
    // Nodes with modes that take none.
    ck_load_fails(load_env("numa.nodes=0; numa.mode=local"),
                  "UMF_PROXY: numa.nodes: not used by numa.mode=local (nodes "
                  "go with bind, interleave, preferred or split)");
    ck_load_fails(load_env("numa.nodes=all; numa.mode=default"),
                  "UMF_PROXY: numa.nodes: not used by numa.mode=default "
                  "(nodes go with bind, interleave, preferred or split)");
    ck_load_fails(load_env("tier.t.min=0;tier.t.numa.mode=local;"
                           "tier.t.numa.nodes=1"),
                  "UMF_PROXY: tier.t.numa.nodes: not used by "
                  "tier.t.numa.mode=local (nodes go with bind, interleave, "
                  "preferred or split)");
    // numa.part_size goes with interleave only.
    ck_load_ok(load_env("numa.mode=interleave; numa.nodes=0,1;"
                        "numa.part_size=2M"));
    ck_assert_uint_eq(cfg.base.numa_part_size, 2 << 20);
    ck_load_fails(load_env("numa.part_size=2M"),
                  "UMF_PROXY: numa.part_size: needs numa.mode=interleave "
                  "(numa.mode is not set)");
    ck_load_fails(load_env("numa.part_size=2M; numa.nodes=0"),
                  "UMF_PROXY: numa.part_size: needs numa.mode=interleave "
                  "(numa.mode is bind, implied by numa.nodes)");
    ck_load_fails(load_env("numa.mode=split; numa.nodes=0;"
                           "numa.part_size=2M"),
                  "UMF_PROXY: numa.part_size: needs numa.mode=interleave "
                  "(numa.mode is split)");
    ck_load_fails(load_env("tier.t.min=0; tier.t.numa.part_size=4K"),
                  "UMF_PROXY: tier.t.numa.part_size: needs "
                  "tier.t.numa.mode=interleave (numa.mode is not set)");
    // The base's mode does not count for a tier.
    ck_load_fails(load_env("numa.mode=interleave; numa.nodes=0;"
                           "tier.t.min=0; tier.t.numa.part_size=4K"),
                  "UMF_PROXY: tier.t.numa.part_size: needs "
                  "tier.t.numa.mode=interleave (numa.mode is not set)");

    // Shared memory takes only the default NUMA mode (the OS provider's
    // rule): the message says so, whichever NUMA key breaks it.
    ck_load_fails(load_env("page.disposition=shared-shm;numa.nodes=all"),
                  "UMF_PROXY: numa.nodes: shared memory "
                  "(page.disposition=shared-shm) supports only the default "
                  "NUMA mode: drop numa.nodes and numa.mode, or use "
                  "page.disposition=private");
    ck_load_fails(load_env("numa.mode=local;page.disposition=shared-fd"),
                  "UMF_PROXY: numa.mode: shared memory "
                  "(page.disposition=shared-fd) supports only the default "
                  "NUMA mode: drop numa.nodes and numa.mode, or use "
                  "page.disposition=private");
    ck_load_fails(load_env("page.disposition=shared-fd;numa.mode=bind"),
                  "UMF_PROXY: numa.mode: shared memory "
                  "(page.disposition=shared-fd) supports only the default "
                  "NUMA mode: drop numa.nodes and numa.mode, or use "
                  "page.disposition=private");
    ck_load_fails(load_env("tier.t.min=0;tier.t.page.disposition=shared-shm;"
                           "tier.t.numa.nodes=0;tier.t.numa.mode=interleave"),
                  "UMF_PROXY: tier.t.numa.nodes: shared memory "
                  "(tier.t.page.disposition=shared-shm) supports only the "
                  "default NUMA mode: drop tier.t.numa.nodes and "
                  "tier.t.numa.mode, or use tier.t.page.disposition=private");
    ck_load_ok(load_env("page.disposition=shared-shm;numa.mode=default"));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_DEFAULT);
    // A tier's shared disposition does not constrain the base heap.
    ck_load_ok(load_env("numa.nodes=0;tier.t.min=1M;"
                        "tier.t.page.disposition=shared-fd"));

    // In a file, each rule points at the line of the key it concerns.
    char want[512];
    const char *path = make_file("numa.conf", "numa.nodes = 0\n"
                                              "numa.mode = local\n"
                                              "pool = proxy\n");
    snprintf(want, sizeof(want),
             "%s:1: numa.nodes: not used by numa.mode=local (nodes go with "
             "bind, interleave, preferred or split)",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    path = make_file("numa2.conf", "pool = proxy\nnuma.mode = bind\n");
    snprintf(want, sizeof(want),
             "%s:2: numa.mode: bind needs numa.nodes (all, or a list such as "
             "0,2-3)",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    // The environment completes the file.
    ck_load_ok(load("numa.nodes=0-1", path, true, NULL));
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_BIND);
    ck_assert_uint_eq(cfg.base.numa_nnodes, 2);
}
END_TEST

// --- Files that cannot be read ---

START_TEST(test_proxy_config_missing_file) {
    char path[256], want[512];
    snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
    // Not required: skipped, and the environment still applies.
    ck_load_ok(load("pool=proxy", path, false, NULL));
    ck_assert_str_eq(cfg.file_used, "");
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
    // Required (UMF_PROXY_CONFIG): an error.
    snprintf(want, sizeof(want), "%s: cannot read: %s", path, strerror(ENOENT));
    ck_load_fails(load("pool=proxy", path, true, NULL), want);
    ck_load_fails(load(NULL, "", true, NULL),
                  ": cannot read: No such file or directory");
}
END_TEST

START_TEST(test_proxy_config_unreadable_file) {
    char want[512];
    // Errors other than "does not exist" count even when not required.
    const char *file = make_file("plain", "pool = proxy\n");
    char path[300];
    snprintf(path, sizeof(path), "%s/sub.conf", file);
    snprintf(want, sizeof(want), "%s: cannot read: %s", path,
             strerror(ENOTDIR));
    ck_load_fails(load(NULL, path, false, NULL), want);
    // A directory opens but cannot be read.
    snprintf(want, sizeof(want), "%s: cannot read: %s", tmpdir,
             strerror(EISDIR));
    ck_load_fails(load(NULL, tmpdir, false, NULL), want);
    ck_load_fails(load(NULL, tmpdir, true, NULL), want);
    // No permission (root reads everything: not testable then).
    file = make_file("secret.conf", "pool = proxy\n");
    ck_assert_int_eq(chmod(file, 0), 0);
    if (geteuid() != 0) {
        snprintf(want, sizeof(want), "%s: cannot read: %s", file,
                 strerror(EACCES));
        ck_load_fails(load(NULL, file, false, NULL), want);
        ck_load_fails(load(NULL, file, true, NULL), want);
    }
    // A path too long to remember in file_used.
    char longpath[400];
    memset(longpath, 'd', 300);
    longpath[0] = '/';
    longpath[300] = '\0';
    snprintf(want, sizeof(want), "%s: path longer than 255 characters",
             longpath);
    ck_load_fails(load(NULL, longpath, false, NULL), want);
}
END_TEST

START_TEST(test_proxy_config_file_limits) {
    char want[512];
    static char text[(64 << 10) + 64];
    // Exactly 64 KiB: 1024 lines of 63 '#' and '\n'.
    size_t n = 0;
    for (int i = 0; i < 1024; i++) {
        memset(text + n, '#', 63);
        text[n + 63] = '\n';
        n += 64;
    }
    text[n] = '\0';
    ck_assert_uint_eq(strlen(text), 65536);
    const char *path = make_file("64k.conf", text);
    ck_load_ok(load(NULL, path, true, NULL));
    // One byte more.
    text[n] = 'x';
    text[n + 1] = '\0';
    path = make_file("64k1.conf", text);
    snprintf(want, sizeof(want), "%s: larger than the limit of 65536 bytes",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);

    // Lines: 1023 characters fit, 1024 do not.
    memset(text, ' ', 1023);
    memcpy(text, "pool=proxy", 10);
    memcpy(text + 1000, "# comment", 9);
    text[1023] = '\n';
    text[1024] = '\0';
    path = make_file("line1023.conf", text);
    ck_load_ok(load(NULL, path, true, NULL));
    ck_assert_int_eq(cfg.base.pool, PX_POOL_PROXY);
    memcpy(text, "thp=on\n\n", 8);
    memset(text + 8, ' ', 1024);
    memcpy(text + 8, "pool=proxy", 10);
    text[8 + 1024] = '\n';
    text[8 + 1025] = '\0';
    path = make_file("line1024.conf", text);
    snprintf(want, sizeof(want), "%s:3: line longer than 1023 characters",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    // ...also as the last line without '\n'.
    text[8 + 1024] = '\0';
    path = make_file("line1024b.conf", text);
    snprintf(want, sizeof(want), "%s:3: line longer than 1023 characters",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);

    // A NUL byte: not a text file.
    path = make_file("nul.conf", "pool = proxy\nthp = on\n");
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "stats = on\0\n", 12), 12);
    close(fd);
    snprintf(want, sizeof(want), "%s:3: NUL character: not a text file", path);
    ck_load_fails(load(NULL, path, true, NULL), want);
}
END_TEST

// A pipe has no size to check first: the bytes are counted.
START_TEST(test_proxy_config_file_limit_on_fifo) {
    char path[256], want[512];
    snprintf(path, sizeof(path), "%s/fifo", tmpdir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        int fd = open(path, O_WRONLY);
        char line[64];
        memset(line, '#', 63);
        line[63] = '\n';
        for (int i = 0; i < 1100 && fd >= 0; i++) {
            if (write(fd, line, 64) != 64) {
                break;
            }
        }
        _exit(0);
    }
    snprintf(want, sizeof(want), "%s: larger than the limit of 65536 bytes",
             path);
    ck_load_fails(load(NULL, path, true, NULL), want);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

// --- px_config_print ---

static const char default_print[] = "config file: none\n"
                                    "pool=(default)\n"
                                    "page.disposition=private\n"
                                    "size.threshold=0\n"
                                    "thp=(default)\n"
                                    "numa.nodes=(default)\n"
                                    "numa.mode=(default)\n"
                                    "numa.part_size=(default)\n"
                                    "memspace=(default)\n"
                                    "file.dir=(default)\n"
                                    "file.map_sync=auto\n"
                                    "host.checks=(default)\n"
                                    "disjoint.slab_min_size=(default)\n"
                                    "disjoint.max_poolable_size=(default)\n"
                                    "disjoint.capacity=(default)\n"
                                    "disjoint.min_bucket_size=(default)\n"
                                    "disjoint.checks=(default)\n"
                                    "jemalloc.keep_all=(default)\n"
                                    "jemalloc.checks=(default)\n"
                                    "scalable.granularity=(default)\n"
                                    "scalable.keep_all=(default)\n"
                                    "scalable.checks=(default)\n"
                                    "stats=off\n"
                                    "stats.file=(default)\n"
                                    "log=(default)\n"
                                    "log.file=(default)\n";

START_TEST(test_proxy_config_print) {
    static char out[16384];
    ck_load_ok(load_env(NULL));
    print_to(&cfg, out, sizeof(out));
    ck_assert_str_eq(out, default_print);

    const char *path =
        make_file("print.conf", "pool = disjoint\n"
                                "page.disposition = private\n"
                                "size.threshold = 1000\n"
                                "thp = off\n"
                                "numa.nodes = 0,2-3,5,7-9\n"
                                "numa.mode = interleave\n"
                                "numa.part_size = 2097152\n"
                                "disjoint.slab_min_size = 64K\n"
                                "disjoint.max_poolable_size = 1G\n"
                                "disjoint.capacity = 3\n"
                                "disjoint.min_bucket_size = 0\n"
                                "jemalloc.keep_all = on\n"
                                "scalable.granularity = 3T\n"
                                "scalable.keep_all = no\n"
                                "stats = yes\n"
                                "stats.file = /tmp/s\n"
                                "log = info\n"
                                "log.file = rel/l.log\n"
                                "tier.big.min = 1M\n"
                                "tier.big.pool = system\n"
                                "tier.small.min = 0\n"
                                "tier.small.max = 4095\n"
                                "tier.small.numa.nodes = all\n"
                                "tier.pm.min = 2G\n"
                                "tier.pm.file.dir = /mnt/pmem0/h\n"
                                "tier.pm.file.map_sync = required\n"
                                "tier.big.max = 1G\n");
    ck_load_ok(load(NULL, path, true, NULL));
    print_to(&cfg, out, sizeof(out));
    char want[12288];
    snprintf(want, sizeof(want),
             "config file: %s\n"
             "pool=disjoint\n"
             "page.disposition=private\n"
             "size.threshold=1000\n"
             "thp=off\n"
             "numa.nodes=0,2-3,5,7-9\n"
             "numa.mode=interleave\n"
             "numa.part_size=2M\n"
             "memspace=(default)\n"
             "file.dir=(default)\n"
             "file.map_sync=auto\n"
             "host.checks=(default)\n"
             "disjoint.slab_min_size=64K\n"
             "disjoint.max_poolable_size=1G\n"
             "disjoint.capacity=3\n"
             "disjoint.min_bucket_size=0\n"
             "disjoint.checks=(default)\n"
             "jemalloc.keep_all=on\n"
             "jemalloc.checks=(default)\n"
             "scalable.granularity=3T\n"
             "scalable.keep_all=off\n"
             "scalable.checks=(default)\n"
             "stats=on\n"
             "stats.file=/tmp/s\n"
             "log=info\n"
             "log.file=rel/l.log\n"
             "tier.big.min=1M\n"
             "tier.big.max=1G\n"
             "tier.big.pool=system\n"
             "tier.big.page.disposition=private\n"
             "tier.big.thp=(default)\n"
             "tier.big.numa.nodes=(default)\n"
             "tier.big.numa.mode=(default)\n"
             "tier.big.numa.part_size=(default)\n"
             "tier.big.memspace=(default)\n"
             "tier.big.file.dir=(default)\n"
             "tier.big.file.map_sync=auto\n"
             "tier.big.host.checks=(default)\n"
             "tier.big.disjoint.slab_min_size=(default)\n"
             "tier.big.disjoint.max_poolable_size=(default)\n"
             "tier.big.disjoint.capacity=(default)\n"
             "tier.big.disjoint.min_bucket_size=(default)\n"
             "tier.big.disjoint.checks=(default)\n"
             "tier.big.jemalloc.keep_all=(default)\n"
             "tier.big.jemalloc.checks=(default)\n"
             "tier.big.scalable.granularity=(default)\n"
             "tier.big.scalable.keep_all=(default)\n"
             "tier.big.scalable.checks=(default)\n"
             "tier.small.min=0\n"
             "tier.small.max=4095\n"
             "tier.small.pool=(default)\n"
             "tier.small.page.disposition=private\n"
             "tier.small.thp=(default)\n"
             "tier.small.numa.nodes=all\n"
             "tier.small.numa.mode=bind\n"
             "tier.small.numa.part_size=(default)\n"
             "tier.small.memspace=(default)\n"
             "tier.small.file.dir=(default)\n"
             "tier.small.file.map_sync=auto\n"
             "tier.small.host.checks=(default)\n"
             "tier.small.disjoint.slab_min_size=(default)\n"
             "tier.small.disjoint.max_poolable_size=(default)\n"
             "tier.small.disjoint.capacity=(default)\n"
             "tier.small.disjoint.min_bucket_size=(default)\n"
             "tier.small.disjoint.checks=(default)\n"
             "tier.small.jemalloc.keep_all=(default)\n"
             "tier.small.jemalloc.checks=(default)\n"
             "tier.small.scalable.granularity=(default)\n"
             "tier.small.scalable.keep_all=(default)\n"
             "tier.small.scalable.checks=(default)\n"
             "tier.pm.min=2G\n"
             "tier.pm.max=(default)\n"
             "tier.pm.pool=(default)\n"
             "tier.pm.page.disposition=private\n"
             "tier.pm.thp=(default)\n"
             "tier.pm.numa.nodes=(default)\n"
             "tier.pm.numa.mode=(default)\n"
             "tier.pm.numa.part_size=(default)\n"
             "tier.pm.memspace=(default)\n"
             "tier.pm.file.dir=/mnt/pmem0/h\n"
             "tier.pm.file.map_sync=required\n"
             "tier.pm.host.checks=(default)\n"
             "tier.pm.disjoint.slab_min_size=(default)\n"
             "tier.pm.disjoint.max_poolable_size=(default)\n"
             "tier.pm.disjoint.capacity=(default)\n"
             "tier.pm.disjoint.min_bucket_size=(default)\n"
             "tier.pm.disjoint.checks=(default)\n"
             "tier.pm.jemalloc.keep_all=(default)\n"
             "tier.pm.jemalloc.checks=(default)\n"
             "tier.pm.scalable.granularity=(default)\n"
             "tier.pm.scalable.keep_all=(default)\n"
             "tier.pm.scalable.checks=(default)\n",
             path);
    ck_assert_str_eq(out, want);
}
END_TEST

// Printed lines without "(default)" read back give the same print.
START_TEST(test_proxy_config_print_round_trip) {
    static char out[16384], again[16384], conf[16384];
    ck_load_ok(load_env("pool=jemalloc; numa.nodes=1023,0-62;"
                        "numa.mode=split; size.threshold=12345;"
                        "tier.a.min=1; tier.a.max=18446744073709551614;"
                        "tier.a.disjoint.capacity=18446744073709551615;"
                        "tier.a.scalable.granularity=1K;"
                        "tier.a.file.dir=/d/e;tier.a.file.map_sync=required;"
                        "log.file=/x/y=z"));
    print_to(&cfg, out, sizeof(out));
    // Keep the key=value lines that are set.
    size_t n = 0;
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        *nl = '\0';
        if (strchr(line, '=') && !strstr(line, "=(default)")) {
            n += (size_t)snprintf(conf + n, sizeof(conf) - n, "%s\n", line);
        }
        *nl = '\n';
        line = nl + 1;
    }
    ck_assert_ptr_nonnull(strstr(conf, "numa.nodes=1023,0-62\n"));
    ck_assert_ptr_nonnull(strstr(conf, "tier.a.max=18446744073709551614\n"));
    const char *path = make_file("round.conf", conf);
    ck_load_ok(load(NULL, path, true, NULL));
    print_to(&cfg, again, sizeof(again));
    ck_assert_str_eq(strchr(again, '\n'), strchr(out, '\n'));
}
END_TEST

// --- The shipped examples and the man page ---

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

START_TEST(test_proxy_config_examples_parse) {
    static const char *const progs[] = {
        NULL,   "",         "a.out",        "python3", "python3.11",
        "sort", "postgres", "redis-server", "java",    "memcached",
        "gcc",  "cc1plus",  "ld",           "node",
    };
    static const char *const required[] = {
        "interleave-all-nodes.conf", "small-to-system.conf",
        "shared-memory-ipc.conf",    "tiering-large-to-node1.conf",
        "per-program.conf",          "large-blocks-on-file.conf"};
    static char readme[65536];
    char path[512];
    snprintf(path, sizeof(path), "%s/README.md", CONF_DIR);
    ck_assert_msg(slurp(path, readme, sizeof(readme)) > 0, "cannot read %s",
                  path);

    DIR *d = opendir(CONF_DIR);
    ck_assert_msg(d != NULL, "cannot open %s", CONF_DIR);
    int nconf = 0;
    bool seen[ARRAY_SIZE(required)] = {false};
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!ends_with(e->d_name, ".conf")) {
            continue;
        }
        nconf++;
        snprintf(path, sizeof(path), "%s/%s", CONF_DIR, e->d_name);
        for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
            int rc = load(NULL, path, true, progs[i]);
            ck_assert_msg(rc == 0, "%s (prog %s): %s", path,
                          progs[i] ? progs[i] : "NULL", err);
            ck_assert_str_eq(cfg.file_used, path);
        }
        ck_assert_msg(strstr(readme, e->d_name) != NULL,
                      "%s/README.md does not list %s", CONF_DIR, e->d_name);
        for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
            seen[i] |= strcmp(e->d_name, required[i]) == 0;
        }
    }
    closedir(d);
    for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
        ck_assert_msg(seen[i], "%s/%s is missing", CONF_DIR, required[i]);
    }
    ck_assert_int_ge(nconf, (int)ARRAY_SIZE(required));
}
END_TEST

// Loads CONF_DIR/file for prog into cfg.
static void load_example(const char *file, const char *prog) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", CONF_DIR, file);
    ck_load_ok(load(NULL, path, true, prog));
}

// Each example does what its name says.
START_TEST(test_proxy_config_examples_say_what_they_do) {
    load_example("interleave-all-nodes.conf", NULL);
    ck_assert(cfg.base.numa_all_nodes);
    ck_assert_int_eq(cfg.base.numa_mode, UMF_NUMA_MODE_INTERLEAVE);

    load_example("small-to-system.conf", NULL);
    ck_assert_uint_gt(cfg.size_threshold, 0);

    load_example("shared-memory-ipc.conf", NULL);
    ck_assert_int_ne(cfg.base.disposition, PX_PAGES_PRIVATE);

    load_example("large-blocks-on-file.conf", NULL);
    ck_assert_str_eq(cfg.base.file_dir, "");
    const px_tier_t *big = tier_named("big");
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(big->min, 1 << 20);
    ck_assert_str_eq(big->pc.file_dir, "/mnt/pmem0");
    ck_assert_int_eq(big->pc.file_map_sync, PX_MAP_SYNC_REQUIRED);

    load_example("tiering-large-to-node1.conf", NULL);
    bool node1 = false;
    for (size_t i = 0; i < cfg.ntiers; i++) {
        const px_tier_t *t = &cfg.tiers[i];
        node1 |= t->min >= (1 << 20) && t->max == SIZE_MAX &&
                 t->pc.numa_nnodes == 1 && t->pc.numa_nodes[0] == 1 &&
                 t->pc.numa_mode == UMF_NUMA_MODE_BIND;
    }
    ck_assert(node1);

    // per-program.conf differs between programs.
    static char a[16384], b[16384];
    load_example("per-program.conf", "python3");
    print_to(&cfg, a, sizeof(a));
    load_example("per-program.conf", "a.out");
    print_to(&cfg, b, sizeof(b));
    ck_assert_str_ne(a, b);
}
END_TEST

// Roff without font changes and escaped hyphens, for searching.
static void roff_plain(char *s) {
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] == 'f' && r[2]) {
            r += 3;
        } else if (r[0] == '\\' && r[1] == '-') {
            *w++ = '-';
            r += 2;
        } else if (r[0] == '\\' && r[1] == '&') {
            r += 2;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

START_TEST(test_proxy_config_man_page_covers_keys) {
    static char man[131072], out[16384];
    char path[512];
    snprintf(path, sizeof(path), "%s/umf_proxy.conf.5", MAN_DIR);
    ck_assert_msg(slurp(path, man, sizeof(man)) > 0, "cannot read %s", path);
    roff_plain(man);

    // Every key px_config_print knows, as a tier's too.
    ck_load_ok(load_env("tier.NAME.min=0"));
    print_to(&cfg, out, sizeof(out));
    int nkeys = 0;
    for (char *line = out; *line;) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            const char *key = line;
            if (strncmp(line, "tier.NAME.", 10) == 0 &&
                strcmp(line + 10, "min") != 0 &&
                strcmp(line + 10, "max") != 0) {
                key = line + 10; // a pool key: documented once
            }
            ck_assert_msg(strstr(man, key) != NULL, "%s lacks key %s", path,
                          key);
            nkeys++;
        }
        line = nl + 1;
    }
    ck_assert_int_eq(nkeys, 25 + 2 + 20);

    // Every accepted word.
    static const char *const words[] = {
        "host",   "disjoint",   "jemalloc",   "scalable",  "proxy",
        "system", "private",    "shared-shm", "shared-fd", "default",
        "bind",   "interleave", "preferred",  "split",     "local",
        "debug",  "info",       "warning",    "error",     "yes",
        "true",   "false",      "all",        "0,2-3",     "abort",
        "auto",   "required",   "FSDAX",      "O_TMPFILE"};
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        ck_assert_msg(strstr(man, words[i]) != NULL, "%s lacks %s", path,
                      words[i]);
    }
    // What the brief says the page must state.
    static const char *const facts[] = {
        "UMF_PROXY_CONFIG", "/etc/umf/proxy.conf", "the default pool is host",
        "did you mean"};
    for (size_t i = 0; i < ARRAY_SIZE(facts); i++) {
        ck_assert_msg(strstr(man, facts[i]) != NULL, "%s lacks '%s'", path,
                      facts[i]);
    }
}
END_TEST

static Suite *proxy_config_suite(void) {
    Suite *s = suite_create("proxy_config");
    TCase *tc;

    tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_defaults);
    tcase_add_test(tc, test_proxy_config_pool_names);
    tcase_add_test(tc, test_proxy_config_every_key);
    tcase_add_test(tc, test_proxy_config_every_tier_key);
    tcase_add_test(tc, test_proxy_config_every_word);
    tcase_add_test(tc, test_proxy_config_bool_words);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_bad_values);
    tcase_add_test(tc, test_proxy_config_unknown_keys);
    tcase_add_test(tc, test_proxy_config_err_buffer);
    tcase_add_test(tc, test_proxy_config_escape);
    tcase_add_test(tc, test_proxy_config_errors_escape_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("syntax");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_env_syntax);
    tcase_add_test(tc, test_proxy_config_file_syntax);
    tcase_add_test(tc, test_proxy_config_file_then_env);
    suite_add_tcase(s, tc);

    tc = tcase_create("sections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_sections);
    tcase_add_test(tc, test_proxy_config_sections_checked_when_skipped);
    suite_add_tcase(s, tc);

    tc = tcase_create("sizes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_parse_size);
    tcase_add_test(tc, test_proxy_config_size_overflow_in_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("tiers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_tiers);
    tcase_add_test(tc, test_proxy_config_tier_errors);
    tcase_add_test(tc, test_proxy_config_tier_pool_settings);
    suite_add_tcase(s, tc);

    tc = tcase_create("numa");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_numa_lists);
    tcase_add_test(tc, test_proxy_config_numa_rules);
    tcase_add_test(tc, test_proxy_config_memspace);
    tcase_add_test(tc, test_proxy_config_file_rules);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_missing_file);
    tcase_add_test(tc, test_proxy_config_unreadable_file);
    tcase_add_test(tc, test_proxy_config_file_limits);
    tcase_add_test(tc, test_proxy_config_file_limit_on_fifo);
    suite_add_tcase(s, tc);

    tc = tcase_create("print");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_print);
    tcase_add_test(tc, test_proxy_config_print_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("docs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_proxy_config_examples_parse);
    tcase_add_test(tc, test_proxy_config_examples_say_what_they_do);
    tcase_add_test(tc, test_proxy_config_man_page_covers_keys);
    suite_add_tcase(s, tc);

    return s;
}

int main(void) {
    return run_suite(proxy_config_suite());
}
