/*
 * SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
 *
 * proxy_config.h - the proxy's configuration: the UMF_PROXY string and the
 * config file, parsed into one px_config_t. Used by libumf_proxy.so (in its
 * constructor, before any allocator is ready) and by umfrun (--show), so
 * the parser never allocates: no malloc, no stdio streams; files are read
 * with open/read into caller-free static storage.
 *
 * Syntax (both sources): `key=value` items. In UMF_PROXY they are separated
 * by ';'; in the file, one per line as `key = value`, '#' starts a comment,
 * and a line `[name]` starts a section whose items apply only when the
 * program's name (basename of the executable) matches `name` ('*' and '?'
 * are wildcards). Items before the first section apply to every program.
 * Items are applied in order: the file first, then UMF_PROXY, so the
 * environment wins; a later item for the same key replaces an earlier one.
 */

#ifndef UMF_PROXY_CONFIG_H
#define UMF_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define PX_MAX_TIERS 8   // tier.NAME.* groups
#define PX_MAX_NODES 64  // NUMA node ids per list
#define PX_NAME_MAX  32  // tier names, including the NUL
#define PX_PATH_MAX  256 // paths and strings, including the NUL

typedef enum px_pool_kind_t {
    PX_POOL_UNSET = 0, // not configured: the proxy picks its default pool
    PX_POOL_DISJOINT,
    PX_POOL_JEMALLOC,
    PX_POOL_SCALABLE,
    PX_POOL_PROXY,
    PX_POOL_SYSTEM, // tiers only: the range goes to the system allocator
    PX_POOL_HOST,   // the host-memory engine (lib/pools/pool_host.c)
} px_pool_kind_t;

typedef enum px_disposition_t {
    PX_PAGES_PRIVATE = 0,
    PX_PAGES_SHARED_SHM, // named shm object umf_proxy_lib_shm_pid_<pid>
    PX_PAGES_SHARED_FD,  // anonymous memfd
} px_disposition_t;

// A predefined memspace (memspace=); the provider then comes from
// umfMemoryProviderCreateFromMemspace.
typedef enum px_memspace_t {
    PX_MEMSPACE_UNSET = 0,
    PX_MEMSPACE_HOST_ALL,
    PX_MEMSPACE_HIGHEST_CAPACITY,
    PX_MEMSPACE_HIGHEST_BANDWIDTH,
    PX_MEMSPACE_LOWEST_LATENCY,
} px_memspace_t;

// file.map_sync=: what a heap on a file (file.dir=) needs of its filesystem.
typedef enum px_map_sync_t {
    PX_MAP_SYNC_AUTO = 0, // MAP_SYNC where the filesystem is DAX
    PX_MAP_SYNC_REQUIRED, // a DAX filesystem, or an error at start-up
} px_map_sync_t;

typedef enum px_tristate_t {
    PX_UNSET = 0,
    PX_OFF,
    PX_ON,
} px_tristate_t;

// One pool with its OS provider: the base heap, or one tier.
typedef struct px_pool_conf_t {
    px_pool_kind_t pool;          // pool=
    px_disposition_t disposition; // page.disposition=
    px_tristate_t thp;            // thp=on|off (transparent huge pages)

    // NUMA (numa.nodes=, numa.mode=, numa.part_size=). mode is a
    // umf_numa_mode_t value, or -1 when unset.
    int numa_mode;
    bool numa_all_nodes; // numa.nodes=all
    unsigned numa_nodes[PX_MAX_NODES];
    size_t numa_nnodes;
    size_t numa_part_size;  // 0 = unset
    px_memspace_t memspace; // memspace= (with numa.mode as policy)

    // The heap on a file of its own in this directory (file.dir=; ""
    // unset), mapped shared, with file.map_sync=.
    char file_dir[PX_PATH_MAX];
    px_map_sync_t file_map_sync;

    // disjoint.slab_min_size=, .max_poolable_size=, .capacity=,
    // .min_bucket_size=; each with a flag saying it was given.
    size_t dj_slab_min_size, dj_max_poolable_size, dj_capacity,
        dj_min_bucket_size;
    bool dj_slab_min_size_set, dj_max_poolable_size_set, dj_capacity_set,
        dj_min_bucket_size_set;
    // disjoint.checks=abort|error|off: umf_disjoint_pool_checks_t values.
    int dj_checks;
    bool dj_checks_set;
    int hp_checks;
    bool hp_checks_set;

    px_tristate_t je_keep_all; // jemalloc.keep_all=
    int je_checks;             // jemalloc.checks=, as dj_checks
    bool je_checks_set;
    size_t sc_granularity;     // scalable.granularity= (0 = unset)
    px_tristate_t sc_keep_all; // scalable.keep_all=
    int sc_checks;             // scalable.checks=, as dj_checks
    bool sc_checks_set;
} px_pool_conf_t;

// A size range routed to its own pool: tier.NAME.min= / tier.NAME.max=
// and tier.NAME.<any pool key above>.
typedef struct px_tier_t {
    char name[PX_NAME_MAX];
    size_t min; // inclusive; required
    size_t max; // inclusive; SIZE_MAX when not given
    px_pool_conf_t pc;
} px_tier_t;

// What px_config_defaults writes comes first and the tiers last: see there.
typedef struct px_config_t {
    px_pool_conf_t base;   // every size no tier claims
    size_t size_threshold; // size.threshold=: smaller requests -> system
    size_t ntiers;
    bool stats;                    // stats=
    char log_level[16];            // log= debug|info|warning|error ("")
    char stats_file[PX_PATH_MAX];  // stats.file= ("" = stderr)
    char log_file[PX_PATH_MAX];    // log.file= ("" = stderr)
    char file_used[PX_PATH_MAX];   // the config file read ("" = none)
    px_tier_t tiers[PX_MAX_TIERS]; // [0, ntiers) in use
} px_config_t;

// The file read when UMF_PROXY_CONFIG is not set (if it exists).
#define PX_CONFIG_DEFAULT "/etc/umf/proxy.conf"

// The pool when none is configured: host, the engine built for the
// proxy's case (host memory); bench/proxy_bench.sh compares it with the
// others and the README has the table.
#define PX_POOL_DEFAULT PX_POOL_HOST

// Sets every field to its unset value; tiers past ntiers are left as they
// were (a tier is set up when the configuration first names it).
void px_config_defaults(px_config_t *cfg);

// Loads the configuration: the file `path` (when non-NULL; a missing file
// is an error only when `path_required`), then the string `env` (may be
// NULL). `prog` is the program's name for [sections] (may be NULL: only
// unsectioned items apply). Validates the result (tier ranges must not
// overlap; a tier needs min; min <= max; numa.mode needs nodes where the
// mode does; part_size needs interleave; file.dir goes with no shared page
// disposition, NUMA key, memspace or thp, and file.map_sync needs it).
// Returns 0, or -1 with one line (no newline; the input it echoes is
// escaped with px_escape) in err describing the first problem: where (UMF_PROXY or file:line), the key, and the accepted
// values; for an unknown key, the nearest valid one ("did you mean ...").
int px_config_load(px_config_t *cfg, const char *env, const char *path,
                   bool path_required, const char *prog, char *err,
                   size_t errlen);

// Copies src to dst (cap bytes, always NUL-terminated) with every byte that
// is not printable ASCII escaped: \n, \t, \r, \\ and \xNN; an escape is never
// cut in half. For messages that echo user input on one line. Returns the
// length written.
size_t px_escape(char *dst, size_t cap, const char *src);

// Writes the configuration as `key=value` lines (every key, effective
// values, "(default)" where unset) to fd; for umfrun --show and stats.
void px_config_print(const px_config_t *cfg, int fd);

// Names of the pools, "disjoint" ... "system", for messages and --show.
const char *px_pool_name(px_pool_kind_t kind);

#endif /* UMF_PROXY_CONFIG_H */
