/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_config.c - the parser of the proxy's configuration: the config file
 * and the UMF_PROXY string, applied in that order to one px_config_t.
 *
 * It runs in libumf_proxy's constructor before any allocator exists, so it
 * never allocates: no malloc family, no stdio streams, no getenv (the
 * caller passes the strings). The file is read with open/read in chunks
 * into a line buffer on the stack (at most 64 KiB, lines of at most 1023
 * characters); values are parsed from spans of that buffer or of the
 * UMF_PROXY string and copied into the caller's struct. There is no global
 * mutable state, so loading is reentrant.
 *
 * Every key is a row of px_keys[], read by the parser, by the "did you
 * mean" search and by px_config_print. A per-pool key also exists as
 * tier.NAME.<key>. Items of [sections] that do not apply are parsed and
 * checked in full and only their assignment is skipped, so a typo is never
 * silently ignored. Rules that involve several keys (tier ranges, NUMA mode
 * and nodes) are checked once everything is applied and report the place
 * of the item they concern; for that the loader remembers where each tier
 * and each NUMA key was last set.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE // the GNU strerror_r, which returns its string
#endif

#include "proxy_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h> // snprintf into caller buffers only
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <umf/providers/provider_os_memory.h>

#define PX_FILE_MAX    ((size_t)64 << 10) // bytes of a config file
#define PX_LINE_MAX    1023               // characters of a line
#define PX_NODE_LIMIT  1024               // NUMA node ids are below this
#define PX_ENV_NAME    "UMF_PROXY"
#define PX_DEFAULT_STR "(default)"
#define PX_NO_FLAG     SIZE_MAX

#define PX_PRINTF(f, a) __attribute__((format(printf, f, a)))

// --- Spans: the parser never copies its input ---

typedef struct px_span_t {
    const char *p;
    size_t n;
} px_span_t;

static bool px_is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static px_span_t px_trim(px_span_t s) {
    while (s.n && px_is_blank(s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && px_is_blank(s.p[s.n - 1])) {
        s.n--;
    }
    return s;
}

static bool px_span_eq(px_span_t s, const char *w) {
    size_t n = strlen(w);
    return s.n == n && memcmp(s.p, w, n) == 0;
}

static bool px_is_digit(char c) {
    return c >= '0' && c <= '9';
}

static char px_lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

// --- The key table ---

typedef enum px_type_t {
    PX_T_POOL,   // px_pool_kind_t; "system" in tiers only
    PX_T_DISP,   // px_disposition_t
    PX_T_TRI,    // px_tristate_t, from a bool word
    PX_T_BOOL,   // bool
    PX_T_SIZE,   // size_t, SIZE syntax
    PX_T_COUNT,  // size_t, digits only
    PX_T_NODES,  // numa_all_nodes / numa_nodes / numa_nnodes
    PX_T_MODE,   // int: umf_numa_mode_t, -1 unset
    PX_T_MSPACE, // px_memspace_t
    PX_T_LEVEL,  // char[16]
    PX_T_PATH,   // char[PX_PATH_MAX]
    PX_T_MIN,    // px_tier_t.min
    PX_T_MAX,    // px_tier_t.max
    PX_T_CHECKS, // int: umf_disjoint_pool_checks_t
    PX_T_SYNC,   // px_map_sync_t
} px_type_t;

typedef enum px_scope_t {
    PX_GLOBAL, // a field of px_config_t
    PX_POOL,   // a field of px_pool_conf_t: the base heap's, or a tier's
    PX_TIER,   // a field of px_tier_t, as tier.NAME.<key> only
} px_scope_t;

typedef struct px_key_t {
    const char *name;
    px_type_t type;
    px_scope_t scope;
    size_t off;      // of the field in its struct
    size_t flag;     // of the bool that says it was given, or PX_NO_FLAG
    bool zero_unset; // 0 stands for "not given", so 0 is refused
} px_key_t;

#define PC(f) offsetof(px_pool_conf_t, f)
#define CF(f) offsetof(px_config_t, f)
#define TR(f) offsetof(px_tier_t, f)

// In the order of the man page and of px_config_print.
static const px_key_t px_keys[] = {
    {"pool", PX_T_POOL, PX_POOL, PC(pool), PX_NO_FLAG, false},
    {"page.disposition", PX_T_DISP, PX_POOL, PC(disposition), PX_NO_FLAG,
     false},
    {"size.threshold", PX_T_SIZE, PX_GLOBAL, CF(size_threshold), PX_NO_FLAG,
     false},
    {"thp", PX_T_TRI, PX_POOL, PC(thp), PX_NO_FLAG, false},
    {"numa.nodes", PX_T_NODES, PX_POOL, PC(numa_nodes), PX_NO_FLAG, false},
    {"numa.mode", PX_T_MODE, PX_POOL, PC(numa_mode), PX_NO_FLAG, false},
    {"numa.part_size", PX_T_SIZE, PX_POOL, PC(numa_part_size), PX_NO_FLAG,
     true},
    {"memspace", PX_T_MSPACE, PX_POOL, PC(memspace), PX_NO_FLAG, false},
    {"file.dir", PX_T_PATH, PX_POOL, PC(file_dir), PX_NO_FLAG, false},
    {"file.map_sync", PX_T_SYNC, PX_POOL, PC(file_map_sync), PX_NO_FLAG, false},
    {"host.checks", PX_T_CHECKS, PX_POOL, PC(hp_checks), PC(hp_checks_set),
     false},
    {"disjoint.slab_min_size", PX_T_SIZE, PX_POOL, PC(dj_slab_min_size),
     PC(dj_slab_min_size_set), false},
    {"disjoint.max_poolable_size", PX_T_SIZE, PX_POOL, PC(dj_max_poolable_size),
     PC(dj_max_poolable_size_set), false},
    {"disjoint.capacity", PX_T_COUNT, PX_POOL, PC(dj_capacity),
     PC(dj_capacity_set), false},
    {"disjoint.min_bucket_size", PX_T_SIZE, PX_POOL, PC(dj_min_bucket_size),
     PC(dj_min_bucket_size_set), false},
    {"disjoint.checks", PX_T_CHECKS, PX_POOL, PC(dj_checks), PC(dj_checks_set),
     false},
    {"jemalloc.keep_all", PX_T_TRI, PX_POOL, PC(je_keep_all), PX_NO_FLAG,
     false},
    {"jemalloc.checks", PX_T_CHECKS, PX_POOL, PC(je_checks), PC(je_checks_set),
     false},
    {"scalable.granularity", PX_T_SIZE, PX_POOL, PC(sc_granularity), PX_NO_FLAG,
     true},
    {"scalable.keep_all", PX_T_TRI, PX_POOL, PC(sc_keep_all), PX_NO_FLAG,
     false},
    {"scalable.checks", PX_T_CHECKS, PX_POOL, PC(sc_checks), PC(sc_checks_set),
     false},
    {"stats", PX_T_BOOL, PX_GLOBAL, CF(stats), PX_NO_FLAG, false},
    {"stats.file", PX_T_PATH, PX_GLOBAL, CF(stats_file), PX_NO_FLAG, false},
    {"log", PX_T_LEVEL, PX_GLOBAL, CF(log_level), PX_NO_FLAG, false},
    {"log.file", PX_T_PATH, PX_GLOBAL, CF(log_file), PX_NO_FLAG, false},
    {"min", PX_T_MIN, PX_TIER, TR(min), PX_NO_FLAG, false},
    {"max", PX_T_MAX, PX_TIER, TR(max), PX_NO_FLAG, false},
};

#define PX_NKEYS (sizeof(px_keys) / sizeof(px_keys[0]))

typedef struct px_word_t {
    const char *word;
    int value;
} px_word_t;

static const px_word_t px_pool_words[] = {
    {"host", PX_POOL_HOST},
    {"disjoint", PX_POOL_DISJOINT},
    {"jemalloc", PX_POOL_JEMALLOC},
    {"scalable", PX_POOL_SCALABLE},
    {"proxy", PX_POOL_PROXY},
    {"system", PX_POOL_SYSTEM},
    {NULL, 0},
};

static const px_word_t px_disp_words[] = {
    {"private", PX_PAGES_PRIVATE},
    {"shared-shm", PX_PAGES_SHARED_SHM},
    {"shared-fd", PX_PAGES_SHARED_FD},
    {NULL, 0},
};

static const px_word_t px_mode_words[] = {
    {"default", UMF_NUMA_MODE_DEFAULT},
    {"bind", UMF_NUMA_MODE_BIND},
    {"interleave", UMF_NUMA_MODE_INTERLEAVE},
    {"preferred", UMF_NUMA_MODE_PREFERRED},
    {"split", UMF_NUMA_MODE_SPLIT},
    {"local", UMF_NUMA_MODE_LOCAL},
    {NULL, 0},
};

static const px_word_t px_mspace_words[] = {
    {"host_all", PX_MEMSPACE_HOST_ALL},
    {"highest_capacity", PX_MEMSPACE_HIGHEST_CAPACITY},
    {"highest_bandwidth", PX_MEMSPACE_HIGHEST_BANDWIDTH},
    {"lowest_latency", PX_MEMSPACE_LOWEST_LATENCY},
    {NULL, 0},
};

static const px_word_t px_sync_words[] = {
    {"auto", PX_MAP_SYNC_AUTO},
    {"required", PX_MAP_SYNC_REQUIRED},
    {NULL, 0},
};

static const px_word_t px_level_words[] = {
    {"debug", 0}, {"info", 1}, {"warning", 2}, {"error", 3}, {NULL, 0},
};

static const px_word_t px_bool_words[] = {
    {"1", 1},   {"0", 0},    {"yes", 1},   {"no", 0}, {"on", 1},
    {"off", 0}, {"true", 1}, {"false", 0}, {NULL, 0},
};

// The values of umf_disjoint_pool_checks_t (pool_disjoint_ext.h).
static const px_word_t px_checks_words[] = {
    {"abort", 0},
    {"error", 1},
    {"off", 2},
    {NULL, 0},
};

static const char *px_word_of(const px_word_t *w, int value) {
    for (; w->word; w++) {
        if (w->value == value) {
            return w->word;
        }
    }
    return NULL;
}

static const px_word_t *px_words_of(px_type_t type) {
    switch (type) {
    case PX_T_POOL:
        return px_pool_words;
    case PX_T_DISP:
        return px_disp_words;
    case PX_T_MODE:
        return px_mode_words;
    case PX_T_MSPACE:
        return px_mspace_words;
    case PX_T_LEVEL:
        return px_level_words;
    case PX_T_CHECKS:
        return px_checks_words;
    case PX_T_SYNC:
        return px_sync_words;
    case PX_T_TRI:
    case PX_T_BOOL:
        return px_bool_words;
    default:
        return NULL;
    }
}

// pool=system is for tiers only.
static bool px_word_allowed(px_type_t type, int value, bool tier) {
    return type != PX_T_POOL || tier || value != PX_POOL_SYSTEM;
}

const char *px_pool_name(px_pool_kind_t kind) {
    if (kind == PX_POOL_UNSET) {
        return PX_DEFAULT_STR;
    }
    const char *w = px_word_of(px_pool_words, (int)kind);
    return w ? w : "unknown";
}

// --- Sizes ---

enum { PX_SIZE_OK = 0, PX_SIZE_BAD = -1, PX_SIZE_OVERFLOW = -2 };

static int px_size_parse(const char *s, size_t len, size_t *out) {
    size_t i = 0, v = 0;
    if (!s || len == 0 || !px_is_digit(s[0])) {
        return PX_SIZE_BAD;
    }
    bool overflow = false;
    for (; i < len && px_is_digit(s[i]); i++) {
        size_t d = (size_t)(s[i] - '0');
        if (v > (SIZE_MAX - d) / 10) {
            overflow = true; // keep scanning: bad syntax wins
        } else {
            v = v * 10 + d;
        }
    }
    unsigned shift = 0;
    if (i < len) {
        switch (px_lower(s[i])) {
        case 'k':
            shift = 10;
            break;
        case 'm':
            shift = 20;
            break;
        case 'g':
            shift = 30;
            break;
        case 't':
            shift = 40;
            break;
        case 'b': // plain bytes: "100B"
            if (i + 1 != len) {
                return PX_SIZE_BAD;
            }
            i = len;
            break;
        default:
            return PX_SIZE_BAD;
        }
    }
    if (shift) {
        i++;
        size_t rest = len - i;
        if (rest == 1 && px_lower(s[i]) == 'b') {
            i++;
        } else if (rest == 2 && px_lower(s[i]) == 'i' &&
                   px_lower(s[i + 1]) == 'b') {
            i += 2;
        }
        if (i != len) {
            return PX_SIZE_BAD;
        }
        if (!overflow && v > (SIZE_MAX >> shift)) {
            overflow = true;
        }
        v <<= shift;
    }
    if (overflow) {
        return PX_SIZE_OVERFLOW;
    }
    *out = v;
    return PX_SIZE_OK;
}

// The shortest exact form: 2097152 -> "2M", 1000 -> "1000".
static const char *px_size_str(size_t v, char *buf, size_t cap) {
    static const char suffix[] = "KMGT";
    int i = -1;
    while (v && i < 3 && (v & 1023) == 0) {
        v >>= 10;
        i++;
    }
    if (i < 0) {
        snprintf(buf, cap, "%zu", v);
    } else {
        snprintf(buf, cap, "%zu%c", v, suffix[i]);
    }
    return buf;
}

// --- Glob: '*' any run, '?' any one character ---

static bool px_glob(px_span_t pat, const char *s) {
    size_t p = 0, i = 0, n = strlen(s);
    size_t star = SIZE_MAX, mark = 0;
    while (i < n) {
        if (p < pat.n && (pat.p[p] == '?' || pat.p[p] == s[i])) {
            p++;
            i++;
        } else if (p < pat.n && pat.p[p] == '*') {
            star = p++;
            mark = i;
        } else if (star != SIZE_MAX) {
            p = star + 1; // let the last '*' eat one more character
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < pat.n && pat.p[p] == '*') {
        p++;
    }
    return p == pat.n;
}

// --- Edit distance for "did you mean" ---

// Optimal string alignment distance (Levenshtein plus transpositions),
// on at most the first 63 characters of each string.
static size_t px_distance(const char *a, size_t an, const char *b, size_t bn) {
    enum { M = 64 };
    size_t rows[3][M];
    an = an < M - 1 ? an : M - 1;
    bn = bn < M - 1 ? bn : M - 1;
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= bn; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= an; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= bn; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) {
                d = cur[j - 1] + 1;
            }
            if (prev[j - 1] + cost < d) {
                d = prev[j - 1] + cost;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d) {
                d = pp[j - 2] + 1;
            }
            cur[j] = d;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[bn];
}

// --- Escaping for messages ---

size_t px_escape(char *dst, size_t cap, const char *src) {
    static const char hex[] = "0123456789abcdef";
    if (!dst || cap == 0) {
        return 0;
    }
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p;
         p++) {
        char e[4];
        size_t k = 0;
        switch (*p) {
        case '\n':
            e[k++] = '\\';
            e[k++] = 'n';
            break;
        case '\t':
            e[k++] = '\\';
            e[k++] = 't';
            break;
        case '\r':
            e[k++] = '\\';
            e[k++] = 'r';
            break;
        case '\\':
            e[k++] = '\\';
            e[k++] = '\\';
            break;
        default:
            if (*p < 0x20 || *p >= 0x7f) {
                e[k++] = '\\';
                e[k++] = 'x';
                e[k++] = hex[*p >> 4];
                e[k++] = hex[*p & 0xf];
            } else {
                e[k++] = (char)*p;
            }
        }
        if (n + k >= cap) {
            break; // never half an escape
        }
        memcpy(dst + n, e, k);
        n += k;
    }
    dst[n] = '\0';
    return n;
}

// --- Loading context and errors ---

typedef struct px_loc_t {
    const char *src; // file path, or NULL for UMF_PROXY
    unsigned line;   // 0: the file as a whole
} px_loc_t;

// Where the items that later checks talk about were set, per heap.
typedef struct px_track_t {
    px_loc_t first; // a tier's first item
    px_loc_t range; // its last min or max
    px_loc_t mode, nodes, part, mspace, disp, thp, file, sync;
    bool min_set;
} px_track_t;

typedef struct px_ctx_t {
    px_config_t *cfg;
    const char *prog;
    px_loc_t loc;  // of the item being parsed
    bool applying; // false inside a [section] that does not match
    char *err;
    size_t errlen;
    px_track_t track[1 + PX_MAX_TIERS]; // [0] the base heap
} px_ctx_t;

// Writes "<where>: <message>" to err. px_fail_at() also evaluates to -1 in
// the caller, where the static analyzer (which does not follow variadic
// calls) can see it.
static void px_fail_fmt(px_ctx_t *c, px_loc_t loc, const char *fmt, ...)
    PX_PRINTF(3, 4);
#define px_fail_at(...) (px_fail_fmt(__VA_ARGS__), -1)

static void px_fail_fmt(px_ctx_t *c, px_loc_t loc, const char *fmt, ...) {
    if (!c->err || c->errlen == 0) {
        return;
    }
    // Formatted whole, then escaped: the message echoes user input (values,
    // keys, paths), which may hold newlines or terminal escapes.
    char raw[1024];
    int n;
    if (!loc.src) {
        n = snprintf(raw, sizeof(raw), "%s: ", PX_ENV_NAME);
    } else if (loc.line) {
        n = snprintf(raw, sizeof(raw), "%s:%u: ", loc.src, loc.line);
    } else {
        n = snprintf(raw, sizeof(raw), "%s: ", loc.src);
    }
    if (n >= 0 && (size_t)n < sizeof(raw)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw + n, sizeof(raw) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    px_escape(c->err, c->errlen, raw);
}

// The "accepted: ..." text of a key.
static const char *px_accepted(const px_key_t *k, bool tier, char *buf,
                               size_t cap) {
    const px_word_t *w = px_words_of(k->type);
    if (w) {
        size_t n = 0;
        buf[0] = '\0';
        for (; w->word; w++) {
            if (!px_word_allowed(k->type, w->value, tier)) {
                continue;
            }
            int r = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", w->word);
            if (r < 0 || (size_t)r >= cap - n) {
                break;
            }
            n += (size_t)r;
        }
        return buf;
    }
    switch (k->type) {
    case PX_T_SIZE:
    case PX_T_MIN:
    case PX_T_MAX:
        snprintf(buf, cap,
                 "%sa number of bytes with an optional binary suffix K, M, G"
                 " or T, also written KB or KiB, such as 4096, 64K or 2MiB",
                 k->zero_unset ? "above 0, " : "");
        return buf;
    case PX_T_COUNT:
        return "a decimal number such as 4";
    case PX_T_NODES:
        return "all, or a list of NUMA node ids below 1024 such as 0,2-3, "
               "at most 64 nodes";
    case PX_T_PATH:
        return "a non-empty path of at most 255 characters";
    default:
        return "?";
    }
}

typedef struct px_item_t {
    px_span_t key, val; // as written
    const px_key_t *k;
    px_span_t tier; // the tier's name; n == 0: not a tier key
} px_item_t;

// "<key>: bad value '<v>' (<why>; accepted: <...>)"
static int px_bad_value(px_ctx_t *c, const px_item_t *it, const char *why) {
    char acc[256];
    return px_fail_at(c, c->loc, "%.*s: bad value '%.*s' (%s%saccepted: %s)",
                      (int)it->key.n, it->key.p, (int)it->val.n, it->val.p,
                      why ? why : "", why ? "; " : "",
                      px_accepted(it->k, it->tier.n != 0, acc, sizeof(acc)));
}

// --- Keys ---

static bool px_tier_name_ok(px_span_t name) {
    if (name.n == 0 || name.n >= PX_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < name.n; i++) {
        char ch = name.p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              px_is_digit(ch) || ch == '_' || ch == '-')) {
            return false;
        }
    }
    return true;
}

static const px_key_t *px_key_find(px_span_t name, bool tier) {
    for (size_t i = 0; i < PX_NKEYS; i++) {
        const px_key_t *k = &px_keys[i];
        bool fits = tier ? k->scope != PX_GLOBAL : k->scope != PX_TIER;
        if (fits && px_span_eq(name, k->name)) {
            return k;
        }
    }
    return NULL;
}

// Keeps the candidate nearest to `key`; the first one wins ties.
static void px_nearest_try(px_span_t key, const char *cand, char *best,
                           size_t cap, size_t *best_d) {
    size_t d = px_distance(key.p, key.n, cand, strlen(cand));
    if (d < *best_d) {
        *best_d = d;
        snprintf(best, cap, "%s", cand);
    }
}

// The valid key nearest to an unknown one. Under tier.NAME. only tier
// keys compete; elsewhere the top-level keys, and, for a key shaped like
// x.NAME.y with a valid NAME, tier.NAME.<key> too (for "teir.big.min").
static void px_nearest(px_span_t key, px_span_t tier, char *best, size_t cap) {
    size_t best_d = SIZE_MAX;
    char cand[128];
    px_span_t name = tier;
    if (!tier.n) {
        const char *d1 = memchr(key.p, '.', key.n);
        const char *d2 =
            d1 ? memchr(d1 + 1, '.', key.n - (size_t)(d1 + 1 - key.p)) : NULL;
        if (d2) {
            name = (px_span_t){d1 + 1, (size_t)(d2 - d1 - 1)};
        }
        for (size_t i = 0; i < PX_NKEYS; i++) {
            if (px_keys[i].scope != PX_TIER) {
                px_nearest_try(key, px_keys[i].name, best, cap, &best_d);
            }
        }
        if (!px_tier_name_ok(name)) {
            return;
        }
    }
    // min and max first: they win ties ("tier.big" -> "tier.big.min")
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < PX_NKEYS; i++) {
            if (px_keys[i].scope != (pass ? PX_POOL : PX_TIER)) {
                continue;
            }
            snprintf(cand, sizeof(cand), "tier.%.*s.%s", (int)name.n, name.p,
                     px_keys[i].name);
            px_nearest_try(key, cand, best, cap, &best_d);
        }
    }
}

static int px_unknown_key(px_ctx_t *c, px_span_t key, px_span_t tier) {
    char best[128] = "";
    px_nearest(key, tier, best, sizeof(best));
    return px_fail_at(c, c->loc, "unknown key '%.*s' (did you mean '%s'?)",
                      (int)key.n, key.p, best);
}

static int px_key_resolve(px_ctx_t *c, px_item_t *it) {
    static const char prefix[] = "tier.";
    const size_t plen = sizeof(prefix) - 1;
    px_span_t key = it->key;
    it->tier = (px_span_t){NULL, 0};
    if (key.n >= plen && memcmp(key.p, prefix, plen) == 0) {
        px_span_t rest = {key.p + plen, key.n - plen};
        const char *dot = memchr(rest.p, '.', rest.n);
        px_span_t name = {rest.p, dot ? (size_t)(dot - rest.p) : rest.n};
        if (!px_tier_name_ok(name)) {
            return px_fail_at(c, c->loc,
                              "%.*s: bad tier name '%.*s' (accepted: 1 to "
                              "%d of the characters A-Z a-z 0-9 _ -)",
                              (int)key.n, key.p, (int)name.n, name.p,
                              PX_NAME_MAX - 1);
        }
        px_span_t sub = {dot ? dot + 1 : rest.p + rest.n,
                         dot ? rest.n - name.n - 1 : 0};
        it->tier = name;
        it->k = px_key_find(sub, true);
        if (!it->k) {
            return px_unknown_key(c, key, name);
        }
        return 0;
    }
    it->k = px_key_find(key, false);
    if (!it->k) {
        return px_unknown_key(c, key, it->tier);
    }
    return 0;
}

// --- Values ---

typedef struct px_value_t {
    int word;
    size_t num;
    bool all;
    size_t nnodes;
    unsigned nodes[PX_MAX_NODES];
} px_value_t;

static int px_parse_words(px_ctx_t *c, const px_item_t *it, px_value_t *v) {
    for (const px_word_t *w = px_words_of(it->k->type); w->word; w++) {
        if (px_span_eq(it->val, w->word) &&
            px_word_allowed(it->k->type, w->value, it->tier.n != 0)) {
            v->word = w->value;
            return 0;
        }
    }
    return px_bad_value(c, it, NULL);
}

// One node id: digits only, below PX_NODE_LIMIT.
static int px_node_id(px_span_t s, unsigned *out) {
    unsigned v = 0;
    if (s.n == 0) {
        return -1;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (!px_is_digit(s.p[i])) {
            return -1;
        }
        v = v * 10 + (unsigned)(s.p[i] - '0');
        if (v >= PX_NODE_LIMIT) {
            return -2;
        }
    }
    *out = v;
    return 0;
}

static int px_parse_nodes(px_ctx_t *c, const px_item_t *it, px_value_t *v) {
    char why[96];
    v->all = false;
    v->nnodes = 0;
    if (px_span_eq(it->val, "all")) {
        v->all = true;
        return 0;
    }
    if (it->val.n == 0) {
        return px_bad_value(c, it, NULL);
    }
    const char *p = it->val.p, *end = it->val.p + it->val.n;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        px_span_t item = px_trim((px_span_t){p, (size_t)(stop - p)});
        if (item.n == 0) {
            return px_bad_value(c, it, "empty list item");
        }
        const char *dash = memchr(item.p, '-', item.n);
        px_span_t lo_s = {item.p, dash ? (size_t)(dash - item.p) : item.n};
        px_span_t hi_s =
            dash ? (px_span_t){dash + 1, item.n - lo_s.n - 1} : lo_s;
        lo_s = px_trim(lo_s);
        hi_s = px_trim(hi_s);
        unsigned lo = 0, hi = 0;
        int r1 = px_node_id(lo_s, &lo);
        int r2 = r1 == -1 ? 0 : px_node_id(hi_s, &hi);
        if (r1 == -1 || r2 == -1) {
            snprintf(why, sizeof(why), "'%.*s' is not a node id or range",
                     (int)(item.n < 32 ? item.n : 32), item.p);
            return px_bad_value(c, it, why);
        }
        if (r1 == -2 || r2 == -2) {
            snprintf(why, sizeof(why), "node id '%.*s' is not below %d",
                     (int)(item.n < 32 ? item.n : 32), item.p, PX_NODE_LIMIT);
            return px_bad_value(c, it, why);
        }
        if (lo > hi) {
            snprintf(why, sizeof(why), "range %u-%u is reversed", lo, hi);
            return px_bad_value(c, it, why);
        }
        if (v->nnodes + (size_t)(hi - lo) + 1 > PX_MAX_NODES) {
            snprintf(why, sizeof(why), "more than %d nodes", PX_MAX_NODES);
            return px_bad_value(c, it, why);
        }
        for (unsigned id = lo; id <= hi; id++) {
            for (size_t j = 0; j < v->nnodes; j++) {
                if (v->nodes[j] == id) {
                    snprintf(why, sizeof(why), "node %u given twice", id);
                    return px_bad_value(c, it, why);
                }
            }
            v->nodes[v->nnodes++] = id;
        }
        if (!comma) {
            return 0;
        }
        p = comma + 1;
    }
}

static int px_parse_value(px_ctx_t *c, const px_item_t *it, px_value_t *v) {
    switch (it->k->type) {
    case PX_T_POOL:
    case PX_T_DISP:
    case PX_T_TRI:
    case PX_T_BOOL:
    case PX_T_MODE:
    case PX_T_MSPACE:
    case PX_T_LEVEL:
    case PX_T_CHECKS:
    case PX_T_SYNC:
        return px_parse_words(c, it, v);
    case PX_T_SIZE:
    case PX_T_MIN:
    case PX_T_MAX: {
        int r = px_size_parse(it->val.p, it->val.n, &v->num);
        if (r == PX_SIZE_OVERFLOW) {
            return px_bad_value(c, it, "too large, overflows size_t");
        }
        if (r != PX_SIZE_OK) {
            return px_bad_value(c, it, NULL);
        }
        if (it->k->zero_unset && v->num == 0) {
            return px_bad_value(c, it, "0 is not allowed");
        }
        return 0;
    }
    case PX_T_COUNT: {
        size_t n = 0;
        bool ok = it->val.n > 0;
        for (size_t i = 0; ok && i < it->val.n; i++) {
            ok = px_is_digit(it->val.p[i]);
        }
        if (!ok) {
            return px_bad_value(c, it, NULL);
        }
        if (px_size_parse(it->val.p, it->val.n, &n) != PX_SIZE_OK) {
            return px_bad_value(c, it, "too large");
        }
        v->num = n;
        return 0;
    }
    case PX_T_NODES:
        return px_parse_nodes(c, it, v);
    case PX_T_PATH:
        if (it->val.n == 0) {
            return px_bad_value(c, it, NULL);
        }
        if (it->val.n >= PX_PATH_MAX) {
            return px_bad_value(c, it, "too long");
        }
        return 0;
    }
    return px_bad_value(c, it, NULL);
}

// --- Applying ---

static void px_pool_conf_defaults(px_pool_conf_t *pc) {
    memset(pc, 0, sizeof(*pc));
    pc->numa_mode = -1;
}

void px_config_defaults(px_config_t *cfg) {
    if (!cfg) {
        return;
    }
    // Field by field: the tiers (px_tier_get sets one up when it is first
    // named) and the strings past their first byte stay untouched, so the
    // proxy's copy, in .bss, costs a process one page at start-up, not two.
    px_pool_conf_defaults(&cfg->base);
    cfg->size_threshold = 0;
    cfg->ntiers = 0;
    cfg->stats = false;
    cfg->log_level[0] = '\0';
    cfg->stats_file[0] = '\0';
    cfg->log_file[0] = '\0';
    cfg->file_used[0] = '\0';
}

// The tier called `name`, created on first use; NULL when full.
static px_tier_t *px_tier_get(px_ctx_t *c, px_span_t name, px_track_t **track) {
    px_config_t *cfg = c->cfg;
    for (size_t i = 0; i < cfg->ntiers; i++) {
        if (px_span_eq(name, cfg->tiers[i].name)) {
            *track = &c->track[1 + i];
            return &cfg->tiers[i];
        }
    }
    if (cfg->ntiers == PX_MAX_TIERS) {
        return NULL;
    }
    px_tier_t *t = &cfg->tiers[cfg->ntiers];
    *track = &c->track[1 + cfg->ntiers];
    cfg->ntiers++;
    memset(t, 0, sizeof(*t));
    memcpy(t->name, name.p, name.n);
    t->max = SIZE_MAX;
    px_pool_conf_defaults(&t->pc); // not the base's: the proxy fills in
    (*track)->first = c->loc;
    (*track)->range = c->loc;
    return t;
}

static int px_store(px_ctx_t *c, const px_item_t *it, const px_value_t *v) {
    const px_key_t *k = it->k;
    px_track_t *tr = &c->track[0];
    char *base;
    if (k->scope == PX_GLOBAL) {
        base = (char *)c->cfg;
    } else if (!it->tier.n) {
        base = (char *)&c->cfg->base;
    } else {
        px_tier_t *t = px_tier_get(c, it->tier, &tr);
        if (!t) {
            return px_fail_at(c, c->loc, "%.*s: too many tiers (at most %d)",
                              (int)it->key.n, it->key.p, PX_MAX_TIERS);
        }
        base = k->scope == PX_TIER ? (char *)t : (char *)&t->pc;
    }
    void *field = base + k->off;
    switch (k->type) {
    case PX_T_POOL:
        *(px_pool_kind_t *)field = (px_pool_kind_t)v->word;
        break;
    case PX_T_DISP:
        *(px_disposition_t *)field = (px_disposition_t)v->word;
        tr->disp = c->loc;
        break;
    case PX_T_TRI:
        *(px_tristate_t *)field = v->word ? PX_ON : PX_OFF;
        if (k->scope == PX_POOL && k->off == PC(thp)) {
            tr->thp = c->loc;
        }
        break;
    case PX_T_BOOL:
        *(bool *)field = v->word != 0;
        break;
    case PX_T_MODE:
        *(int *)field = v->word;
        tr->mode = c->loc;
        break;
    case PX_T_MSPACE:
        *(px_memspace_t *)field = (px_memspace_t)v->word;
        tr->mspace = c->loc;
        break;
    case PX_T_LEVEL:
        snprintf(field, sizeof(c->cfg->log_level), "%s",
                 px_word_of(px_level_words, v->word));
        break;
    case PX_T_CHECKS:
        *(int *)field = v->word;
        break;
    case PX_T_PATH:
        memcpy(field, it->val.p, it->val.n);
        ((char *)field)[it->val.n] = '\0';
        if (k->scope == PX_POOL) { // file.dir
            tr->file = c->loc;
        }
        break;
    case PX_T_SYNC:
        *(px_map_sync_t *)field = (px_map_sync_t)v->word;
        tr->sync = c->loc;
        break;
    case PX_T_NODES: {
        px_pool_conf_t *pc = (px_pool_conf_t *)base;
        pc->numa_all_nodes = v->all;
        pc->numa_nnodes = v->nnodes;
        memcpy(pc->numa_nodes, v->nodes, v->nnodes * sizeof(v->nodes[0]));
        tr->nodes = c->loc;
        break;
    }
    case PX_T_MIN:
    case PX_T_MAX:
        tr->min_set |= k->type == PX_T_MIN;
        tr->range = c->loc;
        *(size_t *)field = v->num;
        break;
    case PX_T_SIZE:
    case PX_T_COUNT:
        *(size_t *)field = v->num;
        if (k->scope == PX_POOL && k->off == PC(numa_part_size)) {
            tr->part = c->loc;
        }
        break;
    }
    if (k->flag != PX_NO_FLAG) {
        *(bool *)(base + k->flag) = true;
    }
    return 0;
}

// One `key=value` item (trimmed, non-empty).
static int px_item(px_ctx_t *c, px_span_t text) {
    const char *eq = memchr(text.p, '=', text.n);
    if (!eq) {
        return px_fail_at(c, c->loc, "expected key=value, found '%.*s'",
                          (int)text.n, text.p);
    }
    px_item_t it = {
        .key = px_trim((px_span_t){text.p, (size_t)(eq - text.p)}),
        .val = px_trim((px_span_t){eq + 1, text.n - (size_t)(eq - text.p) - 1}),
    };
    if (it.key.n == 0) {
        return px_fail_at(c, c->loc, "no key before '=' in '%.*s'", (int)text.n,
                          text.p);
    }
    if (px_key_resolve(c, &it) != 0) {
        return -1;
    }
    px_value_t v = {0}; // zeroed: the analyzer cannot tell which fields
                        // each key type sets
    if (px_parse_value(c, &it, &v) != 0) {
        return -1;
    }
    return c->applying ? px_store(c, &it, &v) : 0;
}

// --- Sources ---

static int px_load_env(px_ctx_t *c, const char *env) {
    c->loc = (px_loc_t){NULL, 0};
    c->applying = true;
    for (const char *p = env;;) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        px_span_t item = px_trim((px_span_t){p, n});
        if (item.n && px_item(c, item) != 0) {
            return -1;
        }
        if (!semi) {
            return 0;
        }
        p = semi + 1;
    }
}

static int px_file_line(px_ctx_t *c, const char *line, size_t n) {
    if (memchr(line, '\0', n)) {
        return px_fail_at(c, c->loc, "NUL character: not a text file");
    }
    const char *hash = memchr(line, '#', n);
    px_span_t s = px_trim((px_span_t){line, hash ? (size_t)(hash - line) : n});
    if (s.n == 0) {
        return 0;
    }
    if (s.p[0] != '[') {
        return px_item(c, s);
    }
    px_span_t name = px_trim((px_span_t){s.p + 1, s.n - 1});
    if (name.n && name.p[name.n - 1] == ']') {
        name = px_trim((px_span_t){name.p, name.n - 1});
    } else {
        name.n = 0;
    }
    if (name.n == 0 || memchr(name.p, '[', name.n) ||
        memchr(name.p, ']', name.n)) {
        return px_fail_at(c, c->loc,
                          "bad section header '%.*s' (accepted: [program], "
                          "where * and ? are wildcards)",
                          (int)s.n, s.p);
    }
    c->applying = c->prog && px_glob(name, c->prog);
    return 0;
}

static int px_read_file(px_ctx_t *c, int fd);

static int px_load_file(px_ctx_t *c, const char *path, bool required) {
    char ebuf[128];
    c->loc = (px_loc_t){path, 0};
    c->applying = true;
    if (strlen(path) >= PX_PATH_MAX) {
        return px_fail_at(c, c->loc, "path longer than %d characters",
                          PX_PATH_MAX - 1);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && !required) {
            return 0;
        }
        return px_fail_at(c, c->loc, "cannot read: %s",
                          strerror_r(e, ebuf, sizeof(ebuf)));
    }
    snprintf(c->cfg->file_used, sizeof(c->cfg->file_used), "%s", path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (size_t)st.st_size > PX_FILE_MAX) {
        close(fd);
        return px_fail_at(c, c->loc, "larger than the limit of %zu bytes",
                          PX_FILE_MAX);
    }
    int rc = px_read_file(c, fd);
    close(fd);
    return rc;
}

// The lines of an open config file. Not inlined: its buffers (6 KiB of
// stack) are paid for only when there is a file, not by every start-up.
static __attribute__((noinline)) int px_read_file(px_ctx_t *c, int fd) {
    char ebuf[128];
    char chunk[4096], line[PX_LINE_MAX] = "";
    size_t len = 0, total = 0;
    int rc = 0;
    c->loc.line = 1;
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof(chunk));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            int e = errno;
            c->loc.line = 0;
            rc = px_fail_at(c, c->loc, "cannot read: %s",
                            strerror_r(e, ebuf, sizeof(ebuf)));
            break;
        }
        if (got == 0) {
            if (len) { // a last line without '\n'
                rc = px_file_line(c, line, len);
            }
            break;
        }
        total += (size_t)got;
        if (total > PX_FILE_MAX) { // not a regular file: counted
            c->loc.line = 0;
            rc = px_fail_at(c, c->loc, "larger than the limit of %zu bytes",
                            PX_FILE_MAX);
            break;
        }
        for (ssize_t i = 0; i < got && rc == 0; i++) {
            if (chunk[i] == '\n') {
                rc = px_file_line(c, line, len);
                len = 0;
                c->loc.line++;
            } else if (len == sizeof(line)) {
                rc = px_fail_at(c, c->loc, "line longer than %d characters",
                                PX_LINE_MAX);
            } else {
                line[len++] = chunk[i];
            }
        }
        if (rc) {
            break;
        }
    }
    return rc;
}

// --- Validation of the applied result ---

static const char *px_mode_name(int mode) {
    const char *w = px_word_of(px_mode_words, mode);
    return w ? w : "?";
}

// NUMA rules of one heap; `pre` is "" or "tier.NAME.".
static int px_check_memspace(px_ctx_t *c, px_pool_conf_t *pc,
                             const px_track_t *tr, const char *pre) {
    const char *ms = px_word_of(px_mspace_words, (int)pc->memspace);
    if (pc->numa_all_nodes || pc->numa_nnodes) {
        return px_fail_at(c, tr->nodes,
                          "%snuma.nodes: not used with %smemspace=%s (the "
                          "memspace chooses the nodes)",
                          pre, pre, ms);
    }
    int m = pc->numa_mode;
    if (m == UMF_NUMA_MODE_DEFAULT || m == UMF_NUMA_MODE_LOCAL) {
        return px_fail_at(c, tr->mode,
                          "%snuma.mode: %s does not go with %smemspace=%s "
                          "(accepted with a memspace: bind, interleave, "
                          "preferred, split, or no numa.mode)",
                          pre, px_word_of(px_mode_words, m), pre, ms);
    }
    if (pc->disposition != PX_PAGES_PRIVATE) {
        return px_fail_at(c, tr->disp,
                          "%spage.disposition: memory from %smemspace=%s is "
                          "private (accepted with a memspace: private)",
                          pre, pre, ms);
    }
    if (pc->thp != PX_UNSET) {
        return px_fail_at(c, tr->thp, "%sthp: not supported with %smemspace=%s",
                          pre, pre, ms);
    }
    if (pc->numa_part_size && m != UMF_NUMA_MODE_INTERLEAVE) {
        return px_fail_at(c, tr->part,
                          "%snuma.part_size: needs %snuma.mode=interleave "
                          "(numa.mode is %s)",
                          pre, pre, m < 0 ? "not set" : px_mode_name(m));
    }
    return 0;
}

static int px_check_numa(px_ctx_t *c, px_pool_conf_t *pc, const px_track_t *tr,
                         const char *pre) {
    if (pc->memspace != PX_MEMSPACE_UNSET) {
        return px_check_memspace(c, pc, tr, pre);
    }
    bool nodes = pc->numa_all_nodes || pc->numa_nnodes;
    bool implied = false;
    // The OS provider maps shared memory (memfd or shm object) with the
    // default NUMA policy only (UMF_NUMA_MODE_DEFAULT); say so here rather
    // than let provider creation fail.
    if (pc->disposition != PX_PAGES_PRIVATE &&
        (nodes ||
         (pc->numa_mode >= 0 && pc->numa_mode != UMF_NUMA_MODE_DEFAULT))) {
        return px_fail_at(
            c, nodes ? tr->nodes : tr->mode,
            "%s%s: shared memory (%spage.disposition=%s) supports only the "
            "default NUMA mode: drop %snuma.nodes and %snuma.mode, or use "
            "%spage.disposition=private",
            pre, nodes ? "numa.nodes" : "numa.mode", pre,
            px_word_of(px_disp_words, (int)pc->disposition), pre, pre, pre);
    }
    if (nodes && pc->numa_mode < 0) {
        pc->numa_mode = UMF_NUMA_MODE_BIND; // documented default
        implied = true;
    }
    int m = pc->numa_mode;
    bool wants = m == UMF_NUMA_MODE_BIND || m == UMF_NUMA_MODE_INTERLEAVE ||
                 m == UMF_NUMA_MODE_PREFERRED || m == UMF_NUMA_MODE_SPLIT;
    if (wants && !nodes) {
        return px_fail_at(c, tr->mode,
                          "%snuma.mode: %s needs %snuma.nodes (all, or a "
                          "list such as 0,2-3)",
                          pre, px_mode_name(m), pre);
    }
    if (nodes && (m == UMF_NUMA_MODE_DEFAULT || m == UMF_NUMA_MODE_LOCAL)) {
        return px_fail_at(c, tr->nodes,
                          "%snuma.nodes: not used by %snuma.mode=%s (nodes "
                          "go with bind, interleave, preferred or split)",
                          pre, pre, px_mode_name(m));
    }
    if (pc->numa_part_size && m != UMF_NUMA_MODE_INTERLEAVE) {
        return px_fail_at(c, tr->part,
                          "%snuma.part_size: needs %snuma.mode=interleave "
                          "(numa.mode is %s%s)",
                          pre, pre, m < 0 ? "not set" : px_mode_name(m),
                          implied ? ", implied by numa.nodes" : "");
    }
    return 0;
}

// A heap on a file (file.dir) is the file provider's, mapped shared: none
// of the OS provider's settings apply to it. `pre` is "" or "tier.NAME.".
static int px_check_file(px_ctx_t *c, const px_pool_conf_t *pc,
                         const px_track_t *tr, const char *pre) {
    static const char placed[] = "the file's pages are placed by its "
                                 "filesystem";
    if (!pc->file_dir[0]) {
        if (pc->file_map_sync != PX_MAP_SYNC_AUTO) {
            return px_fail_at(c, tr->sync,
                              "%sfile.map_sync: needs %sfile.dir (the "
                              "directory of the heap's file)",
                              pre, pre);
        }
        return 0;
    }
    if (pc->pool == PX_POOL_SYSTEM) {
        return px_fail_at(c, tr->file,
                          "%sfile.dir: a tier with pool=system has no heap "
                          "to put on a file",
                          pre);
    }
    const char *key = NULL, *why = placed;
    px_loc_t at = tr->file;
    if (pc->disposition != PX_PAGES_PRIVATE) {
        key = "page.disposition";
        at = tr->disp;
        why = "a heap on a file is shared memory already; drop "
              "page.disposition";
    } else if (pc->memspace != PX_MEMSPACE_UNSET) {
        key = "memspace";
        at = tr->mspace;
    } else if (pc->numa_all_nodes || pc->numa_nnodes) {
        key = "numa.nodes";
        at = tr->nodes;
    } else if (pc->numa_mode >= 0) {
        key = "numa.mode";
        at = tr->mode;
    } else if (pc->numa_part_size) {
        key = "numa.part_size";
        at = tr->part;
    } else if (pc->thp != PX_UNSET) {
        key = "thp";
        at = tr->thp;
        why = "the file's filesystem chooses its page size";
    }
    if (key) {
        return px_fail_at(c, at, "%s%s: not supported with %sfile.dir (%s)",
                          pre, key, pre, why);
    }
    return 0;
}

static const char *px_max_str(size_t v, char *buf, size_t cap) {
    return v == SIZE_MAX ? "no limit" : px_size_str(v, buf, cap);
}

static int px_validate(px_ctx_t *c) {
    px_config_t *cfg = c->cfg;
    char pre[PX_NAME_MAX + 8], a[32], b[32], d[32], e[32];
    if (px_check_file(c, &cfg->base, &c->track[0], "") != 0 ||
        px_check_numa(c, &cfg->base, &c->track[0], "") != 0) {
        return -1;
    }
    for (size_t i = 0; i < cfg->ntiers; i++) {
        px_tier_t *t = &cfg->tiers[i];
        const px_track_t *tr = &c->track[1 + i];
        snprintf(pre, sizeof(pre), "tier.%s.", t->name);
        if (!tr->min_set) {
            return px_fail_at(c, tr->first,
                              "%smin: not given (every tier needs "
                              "%smin=SIZE)",
                              pre, pre);
        }
        if (t->min > t->max) {
            return px_fail_at(c, tr->range, "%smin: %s is above %smax=%s", pre,
                              px_size_str(t->min, a, sizeof(a)), pre,
                              px_size_str(t->max, b, sizeof(b)));
        }
        if (px_check_file(c, &t->pc, tr, pre) != 0 ||
            px_check_numa(c, &t->pc, tr, pre) != 0) {
            return -1;
        }
    }
    for (size_t j = 1; j < cfg->ntiers; j++) {
        const px_tier_t *tj = &cfg->tiers[j];
        for (size_t i = 0; i < j; i++) {
            const px_tier_t *ti = &cfg->tiers[i];
            if (ti->min <= tj->max && tj->min <= ti->max) {
                return px_fail_at(
                    c, c->track[1 + j].range,
                    "tier.%s (%s..%s) overlaps tier.%s (%s..%s); tier "
                    "ranges must not overlap",
                    tj->name, px_size_str(tj->min, a, sizeof(a)),
                    px_max_str(tj->max, b, sizeof(b)), ti->name,
                    px_size_str(ti->min, d, sizeof(d)),
                    px_max_str(ti->max, e, sizeof(e)));
            }
        }
    }
    return 0;
}

int px_config_load(px_config_t *cfg, const char *env, const char *path,
                   bool path_required, const char *prog, char *err,
                   size_t errlen) {
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!cfg) {
        if (err && errlen) {
            snprintf(err, errlen, "px_config_load: cfg is NULL");
        }
        return -1;
    }
    px_config_defaults(cfg);
    px_ctx_t c = {.cfg = cfg, .prog = prog, .err = err, .errlen = errlen};
    if (path && px_load_file(&c, path, path_required) != 0) {
        return -1;
    }
    if (env && px_load_env(&c, env) != 0) {
        return -1;
    }
    return px_validate(&c);
}

// --- Printing ---

typedef struct px_out_t {
    int fd;
    size_t n;
    char buf[2048];
} px_out_t;

static void px_out_flush(px_out_t *o) {
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break; // nothing sensible to do: --show or a stats header
        }
        off += (size_t)w;
    }
    o->n = 0;
}

static void px_out(px_out_t *o, const char *fmt, ...) PX_PRINTF(2, 3);

static void px_out(px_out_t *o, const char *fmt, ...) {
    char line[PX_PATH_MAX + PX_MAX_NODES * 8];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (o->n + len > sizeof(o->buf)) {
        px_out_flush(o);
    }
    memcpy(o->buf + o->n, line, len);
    o->n += len;
}

static const char *px_nodes_str(const px_pool_conf_t *pc, char *buf,
                                size_t cap) {
    if (pc->numa_all_nodes) {
        return "all";
    }
    if (!pc->numa_nnodes) {
        return PX_DEFAULT_STR;
    }
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < pc->numa_nnodes && n < cap; i++) {
        size_t j = i;
        while (j + 1 < pc->numa_nnodes &&
               pc->numa_nodes[j + 1] == pc->numa_nodes[j] + 1) {
            j++;
        }
        int r = j > i ? snprintf(buf + n, cap - n, "%s%u-%u", n ? "," : "",
                                 pc->numa_nodes[i], pc->numa_nodes[j])
                      : snprintf(buf + n, cap - n, "%s%u", n ? "," : "",
                                 pc->numa_nodes[i]);
        if (r < 0) {
            break;
        }
        n += (size_t)r;
        i = j;
    }
    return buf;
}

// The effective value of key k in the struct at base, as text.
static const char *px_value_str(const px_key_t *k, const char *base, char *buf,
                                size_t cap) {
    const void *field = base + k->off;
    if (k->flag != PX_NO_FLAG && !*(const bool *)(base + k->flag)) {
        return PX_DEFAULT_STR;
    }
    switch (k->type) {
    case PX_T_POOL:
        return px_pool_name(*(const px_pool_kind_t *)field);
    case PX_T_DISP: {
        const char *w =
            px_word_of(px_disp_words, (int)*(const px_disposition_t *)field);
        return w ? w : "?";
    }
    case PX_T_TRI: {
        px_tristate_t t = *(const px_tristate_t *)field;
        return t == PX_UNSET ? PX_DEFAULT_STR : t == PX_ON ? "on" : "off";
    }
    case PX_T_BOOL:
        return *(const bool *)field ? "on" : "off";
    case PX_T_MODE: {
        int m = *(const int *)field;
        return m < 0 ? PX_DEFAULT_STR : px_mode_name(m);
    }
    case PX_T_MSPACE: {
        px_memspace_t m = *(const px_memspace_t *)field;
        return m == PX_MEMSPACE_UNSET ? PX_DEFAULT_STR
                                      : px_word_of(px_mspace_words, (int)m);
    }
    case PX_T_LEVEL:
    case PX_T_PATH:
        return *(const char *)field ? (const char *)field : PX_DEFAULT_STR;
    case PX_T_CHECKS: {
        const char *w = px_word_of(px_checks_words, *(const int *)field);
        return w ? w : "?";
    }
    case PX_T_SYNC: {
        const char *w =
            px_word_of(px_sync_words, (int)*(const px_map_sync_t *)field);
        return w ? w : "?";
    }
    case PX_T_NODES:
        return px_nodes_str((const px_pool_conf_t *)base, buf, cap);
    case PX_T_MAX:
        if (*(const size_t *)field == SIZE_MAX) {
            return PX_DEFAULT_STR;
        }
        return px_size_str(*(const size_t *)field, buf, cap);
    case PX_T_SIZE:
    case PX_T_MIN:
        if (k->zero_unset && *(const size_t *)field == 0) {
            return PX_DEFAULT_STR;
        }
        return px_size_str(*(const size_t *)field, buf, cap);
    case PX_T_COUNT:
        snprintf(buf, cap, "%zu", *(const size_t *)field);
        return buf;
    }
    return "?";
}

void px_config_print(const px_config_t *cfg, int fd) {
    px_out_t o = {.fd = fd};
    char buf[PX_MAX_NODES * 8];
    if (!cfg) {
        return;
    }
    px_out(&o, "config file: %s\n",
           cfg->file_used[0] ? cfg->file_used : "none");
    for (size_t i = 0; i < PX_NKEYS; i++) {
        const px_key_t *k = &px_keys[i];
        if (k->scope == PX_TIER) {
            continue;
        }
        const char *base = k->scope == PX_GLOBAL ? (const char *)cfg
                                                 : (const char *)&cfg->base;
        px_out(&o, "%s=%s\n", k->name, px_value_str(k, base, buf, sizeof(buf)));
    }
    size_t ntiers = cfg->ntiers < PX_MAX_TIERS ? cfg->ntiers : PX_MAX_TIERS;
    for (size_t t = 0; t < ntiers; t++) {
        const px_tier_t *tier = &cfg->tiers[t];
        // min and max first, then the pool keys
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < PX_NKEYS; i++) {
                const px_key_t *k = &px_keys[i];
                if (k->scope != (pass ? PX_POOL : PX_TIER)) {
                    continue;
                }
                const char *base =
                    pass ? (const char *)&tier->pc : (const char *)tier;
                px_out(&o, "tier.%.*s.%s=%s\n", PX_NAME_MAX - 1, tier->name,
                       k->name, px_value_str(k, base, buf, sizeof(buf)));
            }
        }
    }
    px_out_flush(&o);
}
