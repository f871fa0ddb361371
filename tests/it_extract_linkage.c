/* Linkage attack on a study extract (issue 21): an analyst login reads the warehouse (wh.route,
 * wh.care_episode, wh.child_profile), generalises every pid's record the documented way
 * (generalise.h, the library jtm-extract uses) and matches each extract child's rows, on every
 * column, against them. At most 1/k of the extract's children may match exactly one pid (the
 * extract's own guarantee is that none does). The same matching on records that are not
 * generalised (level 0, as the extract published them before) finds most children unique, so the
 * test has teeth. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generalise.h"
#include "testenv.h"

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static char *login(const char *ci, const char *role)
{
    char *name = jtm_test_unique(role), cmd[4096];
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' %s %s >/dev/null 2>&1", JTM_SOURCE_DIR, ci, role, name);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0, "%s", cmd);
    return name;
}

/* 1,500 children in care (1-3 episodes, dates over three years, eight providers, all referrers,
 * residential and crisis care among them) and 1,000 known only from JGZ. Deterministic. */
static void load(PGconn *c)
{
    exec_ok(c,
            "SELECT setseed(0.5);"
            "CREATE TEMP TABLE kid AS SELECT i, md5('lk' || i) AS pid,"
            "  (ARRAY['GM0505','GM0505','GM0505','GM0642','GM0642','GM0590','GM1978','GM1961','GM0512','GM0482'])"
            "    [1 + floor(random() * 10)::int] AS gemeente, 1 + floor(random() * 2)::int AS sex,"
            "  make_date(2005 + floor(random() * 18)::int, 1 + floor(random() * 12)::int, 1) AS birth,"
            "  i <= 1500 AS care, 1 + floor(random() * random() * 3)::int AS neps,"
            "  date '2023-01-01' + floor(random() * 900)::int AS t0, random() < 0.35 AS signal"
            " FROM generate_series(1, 2500) i;"
            "INSERT INTO staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn, gemeente, payload)"
            " SELECT 'jgz', md5('lkev' || i), pid, 'contact', t0, now(), 1, false, gemeente,"
            "        jsonb_build_object('client', jsonb_build_object('birth_ym', to_char(birth, 'YYYY-MM'), 'sex', sex))"
            " FROM kid;"
            "CREATE TEMP TABLE ep AS SELECT k.pid, k.gemeente, e,"
            "  (ARRAY['45','45','45','45','51','52','54','43','44','46','48','47'])[1 + floor(random() * 12)::int] AS category,"
            "  '1234567' || floor(random() * 8)::int AS provider,"
            "  (ARRAY['01','02','03','04','05','06','08'])[1 + floor(random() * 7)::int] AS referrer,"
            "  k.t0 + (e - 1) * 150 AS requested, floor(random() * 60)::int AS dd, floor(random() * 60)::int AS sd,"
            "  CASE WHEN random() < 0.6 THEN (ARRAY['31','31','32','33','34','35'])[1 + floor(random() * 6)::int] END AS reason"
            " FROM kid k, generate_series(1, k.neps) e WHERE k.care;"
            "INSERT INTO wh.care_episode (pid, gemeente, category, provider_agb, referrer, requested_on, allocated_on,"
            "                             started_on, ended_on, end_reason, rejected)"
            " SELECT pid, gemeente, category, provider, referrer, requested, requested + dd, requested + dd + sd,"
            "        CASE WHEN reason IS NOT NULL THEN requested + dd + sd + 90 END, reason, false FROM ep;"
            "INSERT INTO wh.route (pid, gemeente, path, first_signal_on, first_care_on, episodes, repeat_care)"
            " SELECT k.pid, k.gemeente,"
            "        CASE WHEN k.signal THEN 'JGZ' ELSE '' END"
            "        || coalesce(CASE WHEN k.signal AND k.care THEN '>' ELSE '' END"
            "                    || (SELECT string_agg(wh.care_level(category), '>' ORDER BY e) FROM ep WHERE ep.pid = k.pid), ''),"
            "        CASE WHEN k.signal THEN k.t0 - 20 END,"
            "        (SELECT min(requested + dd + sd) FROM ep WHERE ep.pid = k.pid),"
            "        CASE WHEN k.care THEN k.neps ELSE 0 END, k.care AND k.neps > 1 AND random() < 0.5"
            " FROM kid k");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* How many of the sorted sigs equal s. */
static long count_equal(char **sigs, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(sigs[mid], s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    long c = 0;
    while (lo + (size_t)c < n && strcmp(sigs[lo + (size_t)c], s) == 0)
        c++;
    return c;
}

Test(extract_linkage, analyst_matching_every_column_finds_at_most_one_in_k, .timeout = 300)
{
    const int k = 5;
    char *ci = jtm_test_create_db("linkage", 1), *dir = jtm_test_tmpdir(), cmd[8192], path[4096];
    PGconn *admin = PQconnectdb(ci);
    cr_assert_eq(PQstatus(admin), CONNECTION_OK);
    load(admin);
    PQfinish(admin);

    /* The extract, by the data steward. */
    char *steward = login(ci, "extractor"), *bin = jtm_test_bin("jtm-extract");
    snprintf(path, sizeof path, "%s/study.key", dir);
    jtm_test_write_file(path, "linkage-study-key-0123456789abcdef-0123456789", 0600);
    snprintf(cmd, sizeof cmd, "%s -X 'pg.conninfo=%s user=%s' -X log.level=warn --study-key-file %s --study-id lk -k %d"
             " -o %s/x.csv 2>&1", bin, ci, steward, path, k, dir);
    char *out = NULL;
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    free(out);

    /* The analyst's side: every pid's record at every level. */
    char *analyst = login(ci, "analyst"), aci[4096];
    snprintf(aci, sizeof aci, "%s user=%s", ci, analyst);
    PGconn *a = PQconnectdb(aci);
    cr_assert_eq(PQstatus(a), CONNECTION_OK, "%s", PQerrorMessage(a));
    const char *params[1] = {"10"};
    PGresult *src = PQexecParams(a, jtm_gen_source_sql, 1, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(src), PGRES_TUPLES_OK, "%s", PQerrorMessage(a));
    size_t n = (size_t)PQntuples(src), npid = 0;
    const char **cells = malloc(n * S_NCOLS * sizeof *cells);
    jtm_gen_src *rows = malloc(n * sizeof *rows);
    size_t *first = malloc(n * sizeof *first), *cnt = calloc(n, sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < S_NCOLS; c++)
            cells[i * S_NCOLS + c] = PQgetvalue(src, (int)i, c);
        rows[i] = &cells[i * S_NCOLS];
        if (i == 0 || strcmp(rows[i][S_PID], rows[i - 1][S_PID]) != 0)
            first[npid++] = i;
        cnt[npid - 1]++;
    }
    cr_assert_eq(npid, 2500);
    char **sigs[JTM_GEN_LEVELS];
    for (int l = 0; l < JTM_GEN_LEVELS; l++) {
        sigs[l] = malloc(npid * sizeof *sigs[l]);
        for (size_t p = 0; p < npid; p++) {
            jtm_gen_record r;
            cr_assert_eq(jtm_gen_child(rows + first[p], cnt[p], l, &r), 0);
            sigs[l][p] = jtm_gen_signature(&r);
            jtm_gen_record_free(&r);
        }
        qsort(sigs[l], npid, sizeof *sigs[l], cmp_str);
    }

    /* Teeth: records as they were before generalisation single most children out. */
    long unique0 = 0;
    for (size_t p = 0; p < npid; p++)
        unique0 += count_equal(sigs[0], npid, sigs[0][p]) == 1;
    cr_assert_gt(unique0, (long)npid / k, "level-0 records single out %ld of %zu children", unique0, npid);

    /* The extract's children, each matched on all its rows and columns. */
    snprintf(path, sizeof path, "%s/x.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    char *line = NULL;
    size_t cap = 0;
    char ***recrows = NULL, prev[40] = "";
    size_t nrec = 0, nrows = 0;
    long children = 0, unique = 0, unmatched = 0, smallest = -1;
    int level = -1;
    for (int eof = 0; !eof;) {
        ssize_t len = getline(&line, &cap, f);
        eof = len <= 0;
        if (!eof && line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (!eof && strncmp(line, "study_pid,", 10) == 0)
            continue;
        if (nrows && (eof || strncmp(line, prev, 32) != 0)) {
            char *s = jtm_gen_signature_rows(recrows, nrows);
            long m = count_equal(sigs[level], npid, s);
            children++;
            unique += m == 1;
            unmatched += m == 0;
            if (m > 0 && (smallest < 0 || m < smallest))
                smallest = m;
            free(s);
            for (size_t r = 0; r < nrows; r++) {
                for (int c = 0; c < G_NCOLS; c++)
                    free(recrows[r][c]);
                free(recrows[r]);
            }
            nrows = 0;
        }
        if (eof)
            break;
        snprintf(prev, sizeof prev, "%.32s", line);
        if (nrows == nrec) {
            nrec = nrec ? 2 * nrec : 16;
            recrows = realloc(recrows, nrec * sizeof *recrows);
        }
        char **fields = calloc(G_NCOLS, sizeof *fields), *save = NULL, *p = line + 33;
        for (int c = 0; c < G_NCOLS; c++) {
            size_t w = strcspn(p, ",");
            fields[c] = strndup(p, w);
            p += w + (p[w] == ',');
        }
        (void)save;
        level = atoi(fields[G_LEVEL]);
        cr_assert(level >= 0 && level < JTM_GEN_LEVELS);
        recrows[nrows++] = fields;
    }
    free(line);
    free(recrows);
    fclose(f);
    cr_log_info("linkage: %ld extract children, %ld match one pid, %ld none, smallest match %ld; level 0 unique %ld",
                children, unique, unmatched, smallest, unique0);
    cr_assert_gt(children, 2000, "the extract keeps most children (%ld)", children);
    cr_assert_eq(unmatched, 0, "every extract child matches the warehouse (the matching works)");
    cr_assert_leq(unique, children / k, "%ld of %ld extract children match exactly one pid", unique, children);
    cr_assert_geq(smallest, k);

    for (int l = 0; l < JTM_GEN_LEVELS; l++) {
        for (size_t p = 0; p < npid; p++)
            free(sigs[l][p]);
        free(sigs[l]);
    }
    free(cells);
    free(rows);
    free(first);
    free(cnt);
    PQclear(src);
    PQfinish(a);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(bin);
    free(steward);
    free(analyst);
    free(dir);
    free(ci);
}
