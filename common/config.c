#include "config.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fputs("jtm: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("jtm: out of memory\n", stderr);
        abort();
    }
    return d;
}

void jtm_kvlist_set(jtm_kvlist *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].value);
            l->items[i].value = xstrdup(value);
            return;
        }
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    l->items[l->count].key = xstrdup(key);
    l->items[l->count].value = xstrdup(value);
    l->count++;
}

void jtm_kvlist_merge(jtm_kvlist *dst, const jtm_kvlist *src)
{
    for (size_t i = 0; src && i < src->count; i++)
        jtm_kvlist_set(dst, src->items[i].key, src->items[i].value);
}

const char *jtm_kvlist_get(const jtm_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

void jtm_kvlist_free(jtm_kvlist *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

static const jtm_option *find_option(const jtm_option *table, const char *key)
{
    for (const jtm_option *o = table; o && o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o;
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Stores value into the field that o describes, checking type and bounds. */
static int set_option(const jtm_option *o, void *target, const char *value, char *errstr, size_t errlen)
{
    char *field = (char *)target + o->offset;
    bool bounded = !(o->min == 0 && o->max == 0);
    switch (o->type) {
    case JTM_OPT_STRING: {
        char **s = (char **)field;
        free(*s);
        *s = value ? xstrdup(value) : NULL;
        return 0;
    }
    case JTM_OPT_INT: {
        if (!value) {
            *(long long *)field = 0;
            return 0;
        }
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (errno || end == value || *end) {
            snprintf(errstr, errlen, "option %s: expected an integer", o->name);
            return -1;
        }
        if (bounded && (v < o->min || v > o->max)) {
            snprintf(errstr, errlen, "option %s: %lld out of range [%.0f, %.0f]", o->name, v, o->min, o->max);
            return -1;
        }
        *(long long *)field = v;
        return 0;
    }
    case JTM_OPT_DOUBLE: {
        if (!value) {
            *(double *)field = 0;
            return 0;
        }
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (errno || end == value || *end || !isfinite(v)) {
            snprintf(errstr, errlen, "option %s: expected a number", o->name);
            return -1;
        }
        if (bounded && (v < o->min || v > o->max)) {
            snprintf(errstr, errlen, "option %s: %g out of range [%g, %g]", o->name, v, o->min, o->max);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    case JTM_OPT_BOOL: {
        bool b = false;
        if (value && parse_bool(value, &b) != 0) {
            snprintf(errstr, errlen, "option %s: expected true or false", o->name);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    }
    }
    snprintf(errstr, errlen, "option %s: unknown type", o->name);
    return -1;
}

int jtm_config_defaults(const jtm_option *table, void *target, char *errstr, size_t errlen)
{
    for (const jtm_option *o = table; o && o->name; o++)
        if (set_option(o, target, o->default_value, errstr, errlen) != 0)
            return -1;
    return 0;
}

int jtm_config_set(const jtm_option *table, void *target, jtm_passthrough *pt, const char *key,
                   const char *value, char *errstr, size_t errlen)
{
    const jtm_option *o = find_option(table, key);
    if (o)
        return set_option(o, target, value, errstr, errlen);
    if (pt && pt->own_prefix && strncmp(key, pt->own_prefix, strlen(pt->own_prefix)) == 0) {
        jtm_kvlist_set(&pt->own, key, value);
        return 0;
    }
    if (pt && strncmp(key, "kafka.", 6) == 0 && key[6]) {
        jtm_kvlist_set(&pt->kafka, key + 6, value);
        return 0;
    }
    if (pt && strncmp(key, "pg.", 3) == 0 && key[3]) {
        jtm_kvlist_set(&pt->pg, key + 3, value);
        return 0;
    }
    snprintf(errstr, errlen, "unknown option %s", key);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int jtm_config_load_file(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                         char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errlen, "%s:%d: expected key = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        char inner[512];
        if (jtm_config_set(table, target, pt, key, value, inner, sizeof inner) != 0) {
            snprintf(errstr, errlen, "%s:%d: %s", path, lineno, inner);
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

/* JTM_BATCH_MAX -> batch.max is ambiguous in general, so match against the table's names. */
static int env_matches(const char *opt_name, const char *env_key, size_t env_len)
{
    size_t n = strlen(opt_name);
    if (n != env_len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = opt_name[i] == '.' ? '_' : (char)toupper((unsigned char)opt_name[i]);
        if (c != env_key[i])
            return 0;
    }
    return 1;
}

static int is_libpq_keyword(const char *key)
{
    PQconninfoOption *opts = PQconndefaults();
    int found = 0;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0)
            found = 1;
    PQconninfoFree(opts);
    return found;
}

int jtm_config_load_env(const jtm_option *table, void *target, jtm_passthrough *pt, char *errstr,
                        size_t errlen)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "JTM_", 4) != 0)
            continue;
        const char *name = *e + 4, *eq = strchr(name, '=');
        if (!eq)
            continue;
        size_t len = (size_t)(eq - name);
        const char *value = eq + 1;
        char key[256], inner[512];
        if (len + 8 >= sizeof key)
            continue;
        const jtm_option *hit = NULL;
        for (const jtm_option *o = table; o && o->name; o++)
            if (env_matches(o->name, name, len))
                hit = o;
        if (hit) {
            if (set_option(hit, target, value, inner, sizeof inner) != 0) {
                snprintf(errstr, errlen, "environment JTM_%.*s: %s", (int)len, name, inner);
                return -1;
            }
            continue;
        }
        if (len > 6 && strncmp(name, "KAFKA_", 6) == 0 && pt) {
            size_t k = 0;
            for (size_t i = 6; i < len; i++)
                key[k++] = name[i] == '_' ? '.' : (char)tolower((unsigned char)name[i]);
            key[k] = '\0';
            jtm_kvlist_set(&pt->kafka, key, value);
        } else if (len > 3 && strncmp(name, "PG_", 3) == 0 && pt) {
            size_t k = 0;
            for (size_t i = 3; i < len; i++)
                key[k++] = (char)tolower((unsigned char)name[i]);
            key[k] = '\0';
            /* Only libpq's own keywords: scripts' JTM_PG... variables must not leak into conninfo. */
            if (strcmp(key, "conninfo") == 0 || is_libpq_keyword(key))
                jtm_kvlist_set(&pt->pg, key, value);
        }
        /* Other JTM_* variables belong to scripts and tests, not to this program. */
    }
    return 0;
}

int jtm_config_load(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                    char *errstr, size_t errlen)
{
    if (jtm_config_defaults(table, target, errstr, errlen) != 0)
        return -1;
    if (path && jtm_config_load_file(table, target, pt, path, errstr, errlen) != 0)
        return -1;
    return jtm_config_load_env(table, target, pt, errstr, errlen);
}

void jtm_config_free(const jtm_option *table, void *target, jtm_passthrough *pt)
{
    for (const jtm_option *o = table; o && o->name; o++)
        if (o->type == JTM_OPT_STRING) {
            char **s = (char **)((char *)target + o->offset);
            free(*s);
            *s = NULL;
        }
    if (pt) {
        jtm_kvlist_free(&pt->kafka);
        jtm_kvlist_free(&pt->pg);
        jtm_kvlist_free(&pt->own);
    }
}

void jtm_config_print_help(const jtm_option *table, FILE *out)
{
    static const char *const type_names[] = {"string", "int", "number", "bool"};
    for (const jtm_option *o = table; o && o->name; o++) {
        char def[96];
        snprintf(def, sizeof def, "%s", o->default_value ? o->default_value : "-");
        fprintf(out, "  %-26s %-7s default %-20s %s\n", o->name, type_names[o->type], o->secret ? "-" : def,
                o->help ? o->help : "");
    }
    fprintf(out, "  %-26s %-7s %-28s %s\n", "kafka.<key>", "string", "", "passed to librdkafka");
    fprintf(out, "  %-26s %-7s %-28s %s\n", "pg.<key>", "string", "", "libpq keyword (pg.conninfo: whole string)");
}

/* libpq values: quote with single quotes, escaping ' and \ . */
static void append_pg_value(char **buf, size_t *len, size_t *cap, const char *key, const char *value)
{
    size_t need = strlen(key) + 2 * strlen(value) + 8;
    if (*len + need >= *cap) {
        *cap = (*len + need) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    char *p = *buf + *len;
    if (*len)
        *p++ = ' ';
    p += sprintf(p, "%s='", key);
    for (const char *v = value; *v; v++) {
        if (*v == '\'' || *v == '\\')
            *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *len = (size_t)(p - *buf);
}

char *jtm_config_pg_conninfo(const jtm_passthrough *pt)
{
    const char *base = jtm_kvlist_get(&pt->pg, "conninfo");
    size_t cap = 256 + (base ? strlen(base) : 0), len = 0;
    char *buf = xrealloc(NULL, cap);
    buf[0] = '\0';
    int is_uri = base && (strncmp(base, "postgresql://", 13) == 0 || strncmp(base, "postgres://", 11) == 0);
    if (base && *base) {
        if (is_uri) {
            /* A URI cannot be combined with keywords in one string: it stands alone. */
            free(buf);
            return xstrdup(base);
        } else {
            len = strlen(base);
            if (len + 1 > cap)
                buf = xrealloc(buf, cap = len + 256);
            memcpy(buf, base, len + 1);
        }
    }
    for (size_t i = 0; i < pt->pg.count; i++)
        if (strcmp(pt->pg.items[i].key, "conninfo") != 0)
            append_pg_value(&buf, &len, &cap, pt->pg.items[i].key, pt->pg.items[i].value);
    return buf;
}

int jtm_config_cli_add(jtm_kvlist *cli, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return -1;
    char *key = strndup(kv, (size_t)(eq - kv));
    if (!key) {
        fputs("jtm: out of memory\n", stderr);
        abort();
    }
    jtm_kvlist_set(cli, key, eq + 1);
    free(key);
    return 0;
}

int jtm_config_startup(const jtm_option *table, void *target, jtm_passthrough *pt, const char *path,
                       const jtm_kvlist *cli, char *errstr, size_t errlen)
{
    if (jtm_config_load(table, target, pt, path, errstr, errlen) != 0)
        return -1;
    for (size_t i = 0; cli && i < cli->count; i++) {
        char inner[512];
        if (jtm_config_set(table, target, pt, cli->items[i].key, cli->items[i].value, inner, sizeof inner) != 0) {
            snprintf(errstr, errlen, "command line: %s", inner);
            return -1;
        }
    }
    const jtm_option *lvl = find_option(table, "log.level");
    if (lvl && lvl->type == JTM_OPT_STRING) {
        const char *name = *(char **)((char *)target + lvl->offset);
        jtm_log_level level;
        if (!name || jtm_log_level_parse(name, &level) != 0) {
            snprintf(errstr, errlen, "option log.level: expected debug, info, warn or error");
            return -1;
        }
        jtm_log_set_level(level);
    }
    return 0;
}
