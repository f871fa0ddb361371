/* jtm-extract (docs/access.md, Study extracts) against a migrated database with synthetic facts:
 * k-anonymity over every column holds on the written CSV (each child's whole record is shared by
 * at least k children), the comparison group is in, two study keys (or two study ids) share no
 * pseudonym, no warehouse pid or full date leaves, rare values are merged, the metadata adds up,
 * the codebook (datapackage.json) describes every column with its type and labels, and the key
 * file and command line are checked with the conventional exit codes. Runs as a jtm_extractor
 * login. Linkage against the warehouse: it_extract_linkage.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testenv.h"

static char *g_ci, *g_login, *g_tmp, *g_bin;

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* 300 children: two large municipalities and one with 3 children (classes under k), three birth
 * years, two sexes, two common paths and a rare one (6 children: merged into OTHER), a provider
 * used by one child only (merged into OTHER). */
static void load(PGconn *c)
{
    exec_ok(c,
            "CREATE TEMP TABLE kid AS SELECT i, md5('kid' || i) AS pid,"
            "  CASE WHEN i <= 3 THEN 'GM0599' WHEN i % 3 = 0 THEN 'GM0363' ELSE 'GM0505' END AS gemeente,"
            "  1 + i % 2 AS sex,"
            "  CASE i % 7 WHEN 0 THEN '2021-03' WHEN 1 THEN '2015-06' WHEN 2 THEN '2015-11' WHEN 3 THEN '2016-01'"
            "       ELSE '2010-08' END AS birth_ym,"
            "  CASE WHEN i % 50 = 0 THEN 'JGZ>VERZUIM>CRISIS' WHEN i % 2 = 0 THEN 'JGZ>AMB' ELSE 'AMB' END AS path"
            " FROM generate_series(1, 300) i;"
            "INSERT INTO staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn, gemeente, payload)"
            " SELECT 'jgz', md5('ev' || i), pid, 'signal', date '2024-01-05', now(), 1, false, gemeente,"
            "        jsonb_build_object('client', jsonb_build_object('birth_ym', birth_ym, 'sex', sex, 'gemeente', gemeente))"
            " FROM kid;"
            "INSERT INTO wh.route (pid, gemeente, path, first_signal_on, first_care_on, episodes, repeat_care)"
            " SELECT pid, gemeente, path, CASE WHEN path LIKE 'JGZ%' THEN date '2024-01-05' END, date '2024-03-11',"
            "        1 + i % 2, i % 10 = 0 FROM kid;"
            "INSERT INTO wh.care_episode (pid, gemeente, category, provider_agb, referrer, requested_on, allocated_on,"
            "                             started_on, ended_on, end_reason)"
            " SELECT pid, gemeente, CASE WHEN e = 1 THEN '45' ELSE '43' END,"
            "        CASE WHEN i = 5 THEN '99999999' ELSE '1234567' || (i % 3) END, '01',"
            "        date '2024-02-02', date '2024-02-20', date '2024-03-11' + (e - 1) * 40,"
            "        CASE WHEN e = 1 THEN date '2024-04-17' END, CASE WHEN e = 1 THEN '31' END"
            " FROM kid, generate_series(1, 1 + i % 2) e;"
            /* 40 children known only from JGZ contacts: the comparison group */
            "INSERT INTO staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn, gemeente, payload)"
            " SELECT 'jgz', md5('cmp' || i), md5('cmp-kid' || i), 'contact', date '2024-02-01', now(), 1, false,"
            "        CASE WHEN i % 2 = 0 THEN 'GM0505' ELSE 'GM0363' END,"
            "        jsonb_build_object('client', jsonb_build_object('birth_ym', '2019-0' || (1 + i % 3), 'sex', 1 + i % 2))"
            " FROM generate_series(1, 40) i;"
            "INSERT INTO wh.route (pid, gemeente, path, episodes)"
            " SELECT md5('cmp-kid' || i), CASE WHEN i % 2 = 0 THEN 'GM0505' ELSE 'GM0363' END, NULL, 0"
            " FROM generate_series(1, 40) i");
}

static void write_key(const char *name, const char *bytes, int mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    jtm_test_write_file(path, bytes, mode);
}

static void setup(void)
{
    g_ci = jtm_test_create_db("extract", 1);
    PGconn *c = PQconnectdb(g_ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    load(c);
    PQfinish(c);
    g_login = jtm_test_unique("ext");
    for (char *p = g_login; *p; p++)
        if (*p == '-')
            *p = '_';
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' extractor %s >/dev/null 2>&1", JTM_SOURCE_DIR, g_ci, g_login);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    g_tmp = jtm_test_tmpdir();
    g_bin = jtm_test_bin("jtm-extract");
    write_key("a.key", "study-key-A-0123456789abcdef-0123456789", 0600);
    write_key("b.key", "study-key-B-0123456789abcdef-0123456789", 0600);
    write_key("open.key", "study-key-C-0123456789abcdef-0123456789", 0640);
    write_key("short.key", "0123456789abcdef", 0600);
}

static void teardown(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    jtm_test_sh(cmd, NULL);
    free(g_ci);
    free(g_login);
    free(g_tmp);
    free(g_bin);
}

/* Runs jtm-extract as the extractor login; extra is appended to the command line. */
static int run_extract(const char *user, const char *key, const char *study, const char *out, const char *extra)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s -X 'pg.conninfo=%s user=%s' -X log.level=warn --study-key-file %s/%s --study-id %s -o %s/%s %s 2>&1",
             g_bin, g_ci, user ? user : g_login, g_tmp, key, study, g_tmp, out, extra ? extra : "");
    char *o = NULL;
    int rc = jtm_test_sh(cmd, &o);
    if (rc != 0)
        cr_log_info("%s -> %d: %s", cmd, rc, o);
    free(o);
    return rc;
}

typedef struct csv {
    char **lines; /* data lines, header excluded */
    int n;
    char *header;
} csv;

static csv read_csv(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s missing", path);
    csv c = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (!c.header) {
            c.header = strdup(line);
            continue;
        }
        c.lines = realloc(c.lines, (size_t)(c.n + 1) * sizeof *c.lines);
        c.lines[c.n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return c;
}

static void csv_free(csv *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->lines[i]);
    free(c->lines);
    free(c->header);
}

/* Field i (0-based) of a line without quoted fields, into out. */
static void field(const char *line, int i, char *out, size_t outlen)
{
    const char *p = line;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    cr_assert(p, "line has fewer than %d fields: %s", i + 1, line);
    size_t n = strcspn(p, ",");
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every child's whole record (its rows without the study pseudonym, sorted) is shared by at least k
 * children. Returns the number of children. */
static int check_k_anonymous(const csv *c, int k)
{
    /* rows sorted by study pseudonym: one record per run of equal pseudonyms */
    char **recs = calloc((size_t)c->n + 1, sizeof *recs);
    int nrec = 0;
    for (int i = 0; i < c->n;) {
        int j = i;
        while (j < c->n && strncmp(c->lines[j], c->lines[i], 33) == 0)
            j++;
        char **rows = calloc((size_t)(j - i), sizeof *rows);
        size_t len = 1;
        for (int t = i; t < j; t++) {
            rows[t - i] = c->lines[t] + 33;
            len += strlen(rows[t - i]) + 1;
        }
        qsort(rows, (size_t)(j - i), sizeof *rows, cmp_str);
        char *r = calloc(len, 1);
        for (int t = 0; t < j - i; t++) {
            strcat(r, rows[t]);
            strcat(r, "\n");
        }
        free(rows);
        recs[nrec++] = r;
        i = j;
    }
    qsort(recs, (size_t)nrec, sizeof *recs, cmp_str);
    for (int i = 0; i < nrec;) {
        int j = i;
        while (j < nrec && strcmp(recs[j], recs[i]) == 0)
            j++;
        cr_assert_geq(j - i, k, "record %s is shared by %d children (< k = %d)", recs[i], j - i, k);
        i = j;
    }
    for (int i = 0; i < nrec; i++)
        free(recs[i]);
    free(recs);
    return nrec;
}

static json_t *read_meta(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.meta.json", g_tmp, name);
    json_error_t e;
    json_t *m = json_load_file(path, 0, &e);
    cr_assert(m, "%s: %s", path, e.text);
    return m;
}

static long meta_count(json_t *m, const char *key)
{
    json_t *v = json_object_get(json_object_get(m, "counts"), key);
    cr_assert(json_is_integer(v), "counts.%s missing", key);
    return (long)json_integer_value(v);
}

Test(extract, k_anonymous_coarsened_and_metadata_adds_up, .init = setup, .fini = teardown)
{
    cr_assert_eq(run_extract(NULL, "a.key", "studyA", "a.csv", NULL), 0);
    csv c = read_csv("a.csv");
    cr_assert_str_eq(c.header, "study_pid,group,generalisation,gemeente,sex,age_band,path,care_levels,first_signal,"
                               "first_care,repeat_care,episodes,care_level,category,provider,referrer,requested,"
                               "allocated,started,ended,end_reason,rejected,decision_weeks,start_weeks");
    int children = check_k_anonymous(&c, 5);
    json_t *m = read_meta("a.csv");
    cr_assert_eq(meta_count(m, "children_written"), children);
    cr_assert_eq(meta_count(m, "rows_written"), c.n);
    cr_assert_eq(meta_count(m, "children_read"), 340);
    cr_assert_eq(meta_count(m, "children_written") + meta_count(m, "children_suppressed"), 340);
    long by_level = 0;
    json_t *lv = json_object_get(json_object_get(m, "counts"), "children_by_level");
    const char *lk;
    json_t *lvv;
    json_object_foreach(lv, lk, lvv) by_level += (long)json_integer_value(lvv);
    cr_assert_eq(by_level, children);
    /* The comparison group is in, flagged, and reported with its loss; the risk was measured. */
    int comparison = 0;
    for (int i = 0; i < c.n; i++)
        comparison += strstr(c.lines[i], ",comparison,") != NULL;
    cr_assert_eq(comparison, 40);
    json_t *groups = json_object_get(m, "groups");
    cr_assert_eq(json_array_size(groups), 5);
    json_t *cg = json_array_get(groups, 2);
    cr_assert_str_eq(json_string_value(json_object_get(cg, "group")), "comparison");
    cr_assert_eq(json_integer_value(json_object_get(cg, "children_kept")), 40);
    json_t *risk = json_object_get(m, "risk");
    cr_assert_geq(json_integer_value(json_object_get(risk, "smallest_match")), 5);
    cr_assert_eq(json_integer_value(json_object_get(risk, "children_unique")), 0);
    cr_assert_leq(json_real_value(json_object_get(risk, "max_risk")), 0.2 + 1e-9);
    cr_assert_geq(meta_count(m, "smallest_class_written"), 5);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "parameters"), "k")), 5);
    cr_assert_str_eq(json_string_value(json_object_get(m, "study_id")), "studyA");
    char *dump = json_dumps(m, 0);
    cr_assert(!strstr(dump, "a.key") && !strstr(dump, "study-key-A"), "metadata names the key");
    free(dump);
    json_decref(m);

    /* Nothing identifying or fine-grained in the rows. */
    regex_t full_date;
    cr_assert_eq(regcomp(&full_date, "[0-9]{4}-[0-9]{2}-[0-9]{2}", REG_EXTENDED | REG_NOSUB), 0);
    PGconn *db = PQconnectdb(g_ci);
    PGresult *pids = PQexec(db, "SELECT pid FROM wh.route");
    for (int i = 0; i < c.n; i++) {
        cr_assert(regexec(&full_date, c.lines[i], 0, NULL, 0) != 0, "full date in %s", c.lines[i]);
        cr_assert(!strstr(c.lines[i], "GM0599"), "a municipality of 3 children was written");
        cr_assert(!strstr(c.lines[i], "99999999"), "a rare provider was not merged");
        cr_assert(!strstr(c.lines[i], "JGZ>VERZUIM>CRISIS"), "a rare path was not merged");
        for (int p = 0; p < PQntuples(pids); p += 37)
            cr_assert(!strstr(c.lines[i], PQgetvalue(pids, p, 0)), "a warehouse pid left");
    }
    PQclear(pids);
    PQfinish(db);
    regfree(&full_date);
    /* Rows are ordered by study pseudonym, not by pid. */
    for (int i = 1; i < c.n; i++)
        cr_assert_leq(strncmp(c.lines[i - 1], c.lines[i], 32), 0);
    csv_free(&c);

    /* The same key and study give the same file; a larger k holds too. */
    cr_assert_eq(run_extract(NULL, "a.key", "studyA", "a2.csv", NULL), 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cmp -s %s/a.csv %s/a2.csv", g_tmp, g_tmp);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0, "extract is deterministic");
    cr_assert_eq(run_extract(NULL, "a.key", "studyA", "k40.csv", "-k 40"), 0);
    csv k40 = read_csv("k40.csv");
    check_k_anonymous(&k40, 40);
    csv_free(&k40);
}

static int load_pseudonyms(const char *name, char ***out)
{
    csv c = read_csv(name);
    char **p = calloc((size_t)c.n + 1, sizeof *p);
    for (int i = 0; i < c.n; i++) {
        p[i] = calloc(1, 40);
        field(c.lines[i], 0, p[i], 40);
        cr_assert_eq(strlen(p[i]), 32, "pseudonym %s", p[i]);
    }
    int n = c.n;
    csv_free(&c);
    qsort(p, (size_t)n, sizeof *p, cmp_str);
    *out = p;
    return n;
}

static int shared(char **a, int na, char **b, int nb)
{
    int i = 0, j = 0, s = 0;
    while (i < na && j < nb) {
        int d = strcmp(a[i], b[j]);
        if (d == 0) {
            s++;
            i++;
            j++;
        } else if (d < 0) {
            i++;
        } else {
            j++;
        }
    }
    return s;
}

Test(extract, two_study_keys_share_no_pseudonym, .init = setup, .fini = teardown)
{
    cr_assert_eq(run_extract(NULL, "a.key", "studyA", "a.csv", NULL), 0);
    cr_assert_eq(run_extract(NULL, "b.key", "studyB", "b.csv", NULL), 0);
    cr_assert_eq(run_extract(NULL, "a.key", "studyC", "c.csv", NULL), 0);
    char **a, **b, **c;
    int na = load_pseudonyms("a.csv", &a), nb = load_pseudonyms("b.csv", &b), nc = load_pseudonyms("c.csv", &c);
    cr_assert_gt(na, 100);
    cr_assert_eq(na, nb, "same data, same rows");
    cr_assert_eq(shared(a, na, b, nb), 0, "two study keys share a pseudonym");
    cr_assert_eq(shared(a, na, c, nc), 0, "one key, two study ids share a pseudonym");
    for (int i = 0; i < na; i++)
        free(a[i]);
    for (int i = 0; i < nb; i++)
        free(b[i]);
    for (int i = 0; i < nc; i++)
        free(c[i]);
    free(a);
    free(b);
    free(c);
}

Test(extract, refuses_bad_keys_arguments_and_roles, .init = setup, .fini = teardown)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s --version", g_bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s --help >/dev/null", g_bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s --bogus 2>/dev/null", g_bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s -o %s/x.csv 2>/dev/null", g_bin, g_tmp);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2, "key and study id required");
    cr_assert_eq(run_extract(NULL, "open.key", "s", "x.csv", NULL), 78, "group-readable key refused");
    cr_assert_eq(run_extract(NULL, "short.key", "s", "x.csv", NULL), 78, "16-byte key refused");
    cr_assert_eq(run_extract(NULL, "missing.key", "s", "x.csv", NULL), 78);
    cr_assert_eq(run_extract(NULL, "a.key", "bad/id", "x.csv", NULL), 78);
    cr_assert_eq(run_extract(NULL, "a.key", "s", "x.csv", "-k 1"), 78, "k below 2");
    snprintf(cmd, sizeof cmd, "%s -X 'pg.conninfo=host=127.0.0.1 port=1' -X pg.connect_wait_ms=200 -X log.level=error"
             " --study-key-file %s/a.key --study-id s -o %s/x.csv 2>/dev/null", g_bin, g_tmp, g_tmp);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 69);
    /* A researcher login cannot read the rows an extract is made of. */
    char *res = jtm_test_unique("extres");
    for (char *p = res; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' researcher %s >/dev/null 2>&1", JTM_SOURCE_DIR, g_ci, res);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    cr_assert_eq(run_extract(res, "a.key", "s", "x.csv", NULL), 1);
    snprintf(cmd, sizeof cmd, "%s/x.csv", g_tmp);
    cr_assert_neq(access(cmd, F_OK), 0, "no partial output");
    free(res);
}

/* The codebook: a Frictionless data package whose one resource is the CSV, whose table schema
 * names every column in order with a type, and whose categories label coded columns. Loaded the way
 * a reader would: each value is a missing value ("" or "*"), or of the field's type and, for a
 * closed code list (constraints.enum), one of its values. */
Test(extract, datapackage_describes_every_column_with_type_and_labels, .init = setup, .fini = teardown)
{
    cr_assert_eq(run_extract(NULL, "a.key", "studyA", "a.csv", NULL), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/a.csv.datapackage.json", g_tmp);
    json_error_t e;
    json_t *pkg = json_load_file(path, 0, &e);
    cr_assert(pkg, "%s: %s", path, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(pkg, "profile")), "tabular-data-package");
    json_t *res = json_array_get(json_object_get(pkg, "resources"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(res, "path")), "a.csv");
    cr_assert_str_eq(json_string_value(json_object_get(res, "profile")), "tabular-data-resource");
    json_t *schema = json_object_get(res, "schema"), *fields = json_object_get(schema, "fields");
    json_t *missing = json_object_get(schema, "missingValues");
    cr_assert_eq(json_array_size(missing), 2);

    csv c = read_csv("a.csv");
    /* Header = the schema's field names, in order. */
    char *hdr = strdup(c.header), *save = NULL;
    size_t nf = 0;
    for (char *tok = strtok_r(hdr, ",", &save); tok; tok = strtok_r(NULL, ",", &save), nf++) {
        json_t *f = json_array_get(fields, nf);
        cr_assert(f, "column %s has no field", tok);
        cr_assert_str_eq(json_string_value(json_object_get(f, "name")), tok);
        const char *type = json_string_value(json_object_get(f, "type"));
        cr_assert(type && (!strcmp(type, "string") || !strcmp(type, "integer")), "%s: type %s", tok, type);
        cr_assert(json_string_length(json_object_get(f, "description")) > 10, "%s has no description", tok);
        cr_assert(json_is_string(json_object_get(f, "jtm:generalisation")), "%s: generalisation not documented", tok);
        json_t *cats = json_object_get(f, "categories");
        size_t ci;
        json_t *cat;
        json_array_foreach(cats, ci, cat) cr_assert(json_string_length(json_object_get(cat, "label")) > 0, "%s: unlabelled", tok);
    }
    free(hdr);
    cr_assert_eq(nf, json_array_size(fields), "a field without a column");

    /* Labels of a few coded columns. */
    json_t *sex = json_array_get(fields, 4);
    cr_assert_str_eq(json_string_value(json_object_get(sex, "type")), "integer");
    json_t *cats = json_object_get(sex, "categories");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(cats, 2), "value")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cats, 2), "label")), "female");
    json_t *grp = json_array_get(fields, 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(grp, "categories"), 1), "value")),
                     "comparison");

    /* Every value loads: missing, or typed and within a closed code list. */
    for (int i = 0; i < c.n; i++) {
        for (size_t f = 0; f < nf; f++) {
            char v[256];
            field(c.lines[i], (int)f, v, sizeof v);
            if (!*v || !strcmp(v, "*"))
                continue;
            json_t *fd = json_array_get(fields, f);
            int integer = !strcmp(json_string_value(json_object_get(fd, "type")), "integer");
            char *end = NULL;
            long long iv = integer ? strtoll(v, &end, 10) : 0;
            if (integer)
                cr_assert(end && !*end, "%s=%s is not an integer", json_string_value(json_object_get(fd, "name")), v);
            json_t *en = json_object_get(json_object_get(fd, "constraints"), "enum");
            if (!en)
                continue;
            int found = 0;
            size_t k;
            json_t *ev;
            json_array_foreach(en, k, ev) found |= integer ? json_integer_value(ev) == iv : !strcmp(json_string_value(ev), v);
            cr_assert(found, "%s=%s is not in its code list", json_string_value(json_object_get(fd, "name")), v);
        }
    }
    /* The descriptor pins the CSV it describes. */
    json_t *m = read_meta("a.csv");
    char want[80];
    snprintf(want, sizeof want, "sha256:%s", json_string_value(json_object_get(m, "sha256")));
    cr_assert_str_eq(json_string_value(json_object_get(res, "hash")), want);
    cr_assert_str_eq(json_string_value(json_object_get(m, "codebook")), "a.csv.datapackage.json");
    json_decref(m);
    csv_free(&c);
    json_decref(pkg);
}
