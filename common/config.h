/* Configuration: one declarative table of options per program (redis/PgBouncer style), one file
 * per daemon, environment overrides, and pass-through keys for the libraries.
 *
 * File format: one "key = value" per line; '#' starts a comment line; blank lines ignored; the value
 * is the rest of the line, trimmed (no quoting needed; a value may contain spaces and '=').
 *   kafka.<key>  goes unchanged (prefix stripped) to rd_kafka_conf_set: kafka.bootstrap.servers
 *   pg.<key>     becomes a libpq connection keyword: pg.host, pg.dbname, pg.sslmode, ...
 *   pg.conninfo  a whole libpq conninfo string or URI; pg.<key> entries add to it
 *   <own_prefix>... keys the program interprets itself (see jtm_passthrough.own_prefix)
 *   anything else must be in the program's table, else it is a config error.
 * Precedence, later wins: table default < file < environment < command line (-X key=value).
 * Environment: JTM_<KEY> with '.' written as '_' and upper case: JTM_BATCH_MAX for batch.max;
 * JTM_KAFKA_<K> maps to kafka.<k lower case, '_' -> '.'> (JTM_KAFKA_BOOTSTRAP_SERVERS) and
 * JTM_PG_<K> to pg.<k lower case> (JTM_PG_CONNECT_TIMEOUT, JTM_PG_CONNINFO). */
#ifndef JTM_CONFIG_H
#define JTM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define JTM_EXIT_OK 0
#define JTM_EXIT_FAILURE 1     /* runtime failure after start-up */
#define JTM_EXIT_USAGE 2       /* bad command line */
#define JTM_EXIT_DATAERR 65    /* EX_DATAERR: input data unusable (one-shot tools) */
#define JTM_EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: broker/database unreachable at start-up */
#define JTM_EXIT_SOFTWARE 70   /* EX_SOFTWARE: internal error */
#define JTM_EXIT_IOERR 74      /* EX_IOERR */
#define JTM_EXIT_CONFIG 78     /* EX_CONFIG: bad or missing configuration, key file refused */

typedef enum { JTM_OPT_STRING, JTM_OPT_INT, JTM_OPT_DOUBLE, JTM_OPT_BOOL } jtm_opt_type;

typedef struct jtm_option {
    const char *name;          /* "batch.max" */
    jtm_opt_type type;
    const char *default_value; /* textual, parsed like a file value; NULL: no default (string NULL, number 0) */
    double min, max;           /* bounds for INT and DOUBLE; both 0: unbounded */
    size_t offset;             /* offsetof(your_config, field): char *, long long, double or bool */
    const char *help;          /* one line for --help */
    bool secret;               /* never printed (jtm_config_dump prints "<set>") */
} jtm_option;

#define JTM_OPT_STR(n, def, field, T, help) {n, JTM_OPT_STRING, def, 0, 0, offsetof(T, field), help, false}
#define JTM_OPT_SECRET(n, def, field, T, help) {n, JTM_OPT_STRING, def, 0, 0, offsetof(T, field), help, true}
#define JTM_OPT_INT(n, def, lo, hi, field, T, help) {n, JTM_OPT_INT, def, lo, hi, offsetof(T, field), help, false}
#define JTM_OPT_DBL(n, def, lo, hi, field, T, help) {n, JTM_OPT_DOUBLE, def, lo, hi, offsetof(T, field), help, false}
#define JTM_OPT_BOOL(n, def, field, T, help) {n, JTM_OPT_BOOL, def, 0, 0, offsetof(T, field), help, false}
#define JTM_OPT_END {NULL, JTM_OPT_STRING, NULL, 0, 0, 0, NULL, false}

/* An ordered list of pass-through key/value pairs (kafka.* or pg.*, prefix stripped). */
typedef struct jtm_kv {
    char *key;
    char *value;
} jtm_kv;
typedef struct jtm_kvlist {
    jtm_kv *items;
    size_t count, cap;
} jtm_kvlist;

/* Everything a program loaded besides its own table fields. */
typedef struct jtm_passthrough {
    jtm_kvlist kafka;
    jtm_kvlist pg;
    /* Keys with a variable part that the program reads itself (jtm-alert's route.<GMxxxx>.url):
     * set own_prefix (e.g. "route.") before loading; matching keys from the file and the command
     * line land in own, whole, in the order first given. NULL: no such keys. */
    const char *own_prefix;
    jtm_kvlist own;
} jtm_passthrough;

/* Applies the table defaults to target. Returns 0, or -1 with errstr (a table bug). */
int jtm_config_defaults(const jtm_option *table, void *target, char *errstr, size_t errlen);
/* Sets one key: a table option, kafka.* or pg.*. Returns 0, or -1 with errstr naming the key
 * (never the value of a secret). */
int jtm_config_set(const jtm_option *table, void *target, jtm_passthrough *pt, const char *key,
                   const char *value, char *errstr, size_t errlen);
/* Reads a config file. Errors name the file and line. */
int jtm_config_load_file(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                         char *errstr, size_t errlen);
/* Applies JTM_* environment variables (see above). */
int jtm_config_load_env(const jtm_option *table, void *target, jtm_passthrough *pt, char *errstr,
                        size_t errlen);
/* Defaults, then file (if path not NULL), then environment. The common start-up sequence. */
int jtm_config_load(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                    char *errstr, size_t errlen);
/* Records one "-X key=value" from the command line in cli (a later setting of the same key wins).
 * Returns -1 when there is no '='. Flags that stand for a key use jtm_kvlist_set(cli, key, value). */
int jtm_config_cli_add(jtm_kvlist *cli, const char *key_equals_value);
/* The start-up every program shares: defaults, the file (path may be NULL), the environment, then
 * the command-line settings in cli (may be NULL); then, when the table has a "log.level" string
 * option, that level is applied to the logger. Returns 0, or -1 with errstr naming the source. */
int jtm_config_startup(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                       const jtm_kvlist *cli, char *errstr, size_t errlen);
/* Frees the strings the table owns in target and the pass-through lists. */
void jtm_config_free(const jtm_option *table, void *target, jtm_passthrough *pt);
/* Prints the option table as --help text: name, type, default, help. */
void jtm_config_print_help(const jtm_option *table, FILE *out);

void jtm_kvlist_set(jtm_kvlist *l, const char *key, const char *value); /* replaces an existing key */
const char *jtm_kvlist_get(const jtm_kvlist *l, const char *key);
/* Sets every key of src in dst (src's value wins): a daemon's defaults, then the user's list. */
void jtm_kvlist_merge(jtm_kvlist *dst, const jtm_kvlist *src);
void jtm_kvlist_free(jtm_kvlist *l);

/* Builds a libpq conninfo string from pg.conninfo plus the other pg.* keys (values quoted as libpq
 * requires). Caller frees. Returns NULL only on allocation failure. */
char *jtm_config_pg_conninfo(const jtm_passthrough *pt);

#endif
