#include "extract.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

/* Column positions of the query below; the CSV has study_pid in place of pid. */
enum { C_PID = 0, C_GEMEENTE, C_SEX, C_AGE_BAND, C_PATH };

const char *const jtm_extract_columns[] = {
    "study_pid",      "gemeente",       "sex",          "age_band",        "path",
    "first_signal_month", "first_care_month", "repeat_care", "episodes",      "care_level",
    "category",       "provider",       "referrer",     "requested_month", "allocated_month",
    "started_month",  "ended_month",    "end_reason",   "rejected",        "decision_weeks",
    "start_weeks",
};
const size_t jtm_extract_ncolumns = sizeof jtm_extract_columns / sizeof *jtm_extract_columns;

/* One row per care episode of a child with a route, or one row without episode fields for a child
 * without episodes. Everything is coarsened here; $1 is rare_min. Children without a stage event
 * (empty path) have no route to study and are not extracted. */
static const char *extract_sql =
    "WITH r AS ("
    "  SELECT r.pid, r.gemeente, r.path, r.first_signal_on, r.first_care_on, r.repeat_care, r.episodes,"
    "         p.sex, p.birth_month"
    "  FROM wh.route r LEFT JOIN wh.child_profile p ON p.pid = r.pid"
    "  WHERE coalesce(r.path, '') <> '' AND r.gemeente IS NOT NULL"
    "), e AS ("
    "  SELECT e.* FROM wh.care_episode e JOIN r ON r.pid = e.pid"
    "), common_path AS (SELECT path FROM r GROUP BY path HAVING count(*) >= $1"
    "), common_cat AS (SELECT category FROM e GROUP BY category HAVING count(DISTINCT pid) >= $1"
    "), common_agb AS (SELECT provider_agb FROM e GROUP BY provider_agb HAVING count(DISTINCT pid) >= $1"
    "), common_ref AS (SELECT referrer FROM e GROUP BY referrer HAVING count(DISTINCT pid) >= $1"
    "), common_end AS (SELECT end_reason FROM e GROUP BY end_reason HAVING count(DISTINCT pid) >= $1"
    ") SELECT r.pid, r.gemeente, coalesce(r.sex::text, ''),"
    "  CASE WHEN x.age IS NULL THEN 'unknown' WHEN x.age < 4 THEN '0-3' WHEN x.age < 12 THEN '4-11'"
    "       WHEN x.age < 18 THEN '12-17' WHEN x.age < 24 THEN '18-23' ELSE '24+' END,"
    "  CASE WHEN r.path IN (SELECT path FROM common_path) THEN r.path ELSE 'OTHER' END,"
    "  coalesce(to_char(r.first_signal_on, 'YYYY-MM'), ''), coalesce(to_char(r.first_care_on, 'YYYY-MM'), ''),"
    "  CASE WHEN r.repeat_care THEN '1' ELSE '0' END, r.episodes::text,"
    "  coalesce(wh.care_level(e.category), ''),"
    "  CASE WHEN e.pid IS NULL OR e.category IS NULL THEN '' WHEN e.category IN (SELECT category FROM common_cat)"
    "       THEN e.category ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL OR e.provider_agb IS NULL THEN ''"
    "       WHEN e.provider_agb IN (SELECT provider_agb FROM common_agb) THEN e.provider_agb ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL OR e.referrer IS NULL THEN ''"
    "       WHEN e.referrer IN (SELECT referrer FROM common_ref) THEN e.referrer ELSE 'OTHER' END,"
    "  coalesce(to_char(e.requested_on, 'YYYY-MM'), ''), coalesce(to_char(e.allocated_on, 'YYYY-MM'), ''),"
    "  coalesce(to_char(e.started_on, 'YYYY-MM'), ''), coalesce(to_char(e.ended_on, 'YYYY-MM'), ''),"
    "  CASE WHEN e.pid IS NULL OR e.end_reason IS NULL THEN ''"
    "       WHEN e.end_reason IN (SELECT end_reason FROM common_end) THEN e.end_reason ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL THEN '' WHEN e.rejected THEN '1' ELSE '0' END,"
    "  coalesce(floor(e.decision_days / 7.0)::text, ''), coalesce(floor(e.start_days / 7.0)::text, '')"
    " FROM r LEFT JOIN e ON e.pid = r.pid"
    " CROSS JOIN LATERAL (SELECT date_part('year', age(coalesce(r.first_care_on, r.first_signal_on),"
    "                                                  r.birth_month))::integer AS age) x";

typedef struct row {
    char **v;        /* jtm_extract_ncolumns strings; v[0] is the study pseudonym */
    char *qi;        /* gemeente \x1f age band \x1f sex \x1f path */
    char pid[65];    /* warehouse pid, for counting children; never written */
    bool suppressed;
} row;

static void rows_free(row *rows, long n)
{
    for (long i = 0; i < n; i++) {
        if (rows[i].v)
            for (size_t c = 0; c < jtm_extract_ncolumns; c++)
                free(rows[i].v[c]);
        free(rows[i].v);
        free(rows[i].qi);
    }
    free(rows);
}

static int cmp_qi_pid(const void *a, const void *b)
{
    const row *x = *(row *const *)a, *y = *(row *const *)b;
    int c = strcmp(x->qi, y->qi);
    return c ? c : strcmp(x->pid, y->pid);
}

static int cmp_output(const void *a, const void *b)
{
    const row *x = a, *y = b;
    for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
        int d = strcmp(x->v[c], y->v[c]);
        if (d)
            return d;
    }
    return 0;
}

void jtm_extract_csv_field(FILE *out, const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, out);
        return;
    }
    fputc('"', out);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

/* Marks the children of classes under k. rows are grouped through an index sorted by (qi, pid). */
static void k_anonymise(row *rows, long n, long long k, jtm_extract_stats *s)
{
    size_t count = n > 0 ? (size_t)n : 1; /* n is a row count, never negative */
    row **idx = malloc(count * sizeof *idx);
    for (long i = 0; i < n; i++)
        idx[i] = &rows[i];
    qsort(idx, (size_t)n, sizeof *idx, cmp_qi_pid);
    s->smallest_class_written = 0;
    for (long i = 0; i < n;) {
        long j = i, children = 0;
        while (j < n && strcmp(idx[j]->qi, idx[i]->qi) == 0) {
            if (j == i || strcmp(idx[j]->pid, idx[j - 1]->pid) != 0)
                children++;
            j++;
        }
        s->classes++;
        s->children += children;
        if (children < k) {
            s->classes_suppressed++;
            s->children_suppressed += children;
            s->rows_suppressed += j - i;
            for (long t = i; t < j; t++)
                idx[t]->suppressed = true;
        } else if (s->smallest_class_written == 0 || children < s->smallest_class_written) {
            s->smallest_class_written = children;
        }
        i = j;
    }
    free(idx);
}

int jtm_extract_run(PGconn *conn, const jtm_extract_params *p, jtm_key *study_key, FILE *csv,
                    jtm_extract_stats *s, char *errstr, size_t errlen)
{
    int rc = -1;
    row *rows = NULL;
    long n = 0;
    memset(s, 0, sizeof *s);
    char rare[32], prefix[64];
    snprintf(rare, sizeof rare, "%lld", p->rare_min);
    snprintf(prefix, sizeof prefix, "study:%s:", p->study_id);
    const char *params[1] = {rare};
    /* One snapshot for the whole read. */
    if (jtm_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr, errlen) != 0)
        return -1;
    PGresult *res = PQexecParams(conn, extract_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        char ignore[256];
        jtm_pg_exec(conn, "ROLLBACK", ignore, sizeof ignore);
        return -1;
    }
    n = PQntuples(res);
    if ((size_t)PQnfields(res) != jtm_extract_ncolumns) {
        snprintf(errstr, errlen, "extract query returned %d columns, expected %zu", PQnfields(res),
                 jtm_extract_ncolumns);
        PQclear(res);
        goto out;
    }
    rows = calloc((size_t)(n ? n : 1), sizeof *rows);
    if (!rows) {
        snprintf(errstr, errlen, "out of memory for %ld rows", n);
        PQclear(res);
        goto out;
    }
    for (long i = 0; i < n; i++) {
        row *r = &rows[i];
        const char *pid = PQgetvalue(res, (int)i, C_PID);
        snprintf(r->pid, sizeof r->pid, "%s", pid);
        r->v = calloc(jtm_extract_ncolumns, sizeof *r->v);
        char sp[JTM_PSEUDONYM_HEX + 1];
        if (!r->v || jtm_pseudonym_hex(study_key, prefix, pid, strlen(pid), sp) != 0) {
            snprintf(errstr, errlen, "cannot make the study pseudonym");
            PQclear(res);
            n = i + 1;
            goto out;
        }
        r->v[0] = strdup(sp);
        for (size_t c = 1; c < jtm_extract_ncolumns; c++)
            r->v[c] = strdup(PQgetvalue(res, (int)i, (int)c));
        if (asprintf(&r->qi, "%s\x1f%s\x1f%s\x1f%s", r->v[C_GEMEENTE], r->v[C_AGE_BAND], r->v[C_SEX],
                     r->v[C_PATH]) < 0)
            r->qi = NULL;
        if (!r->qi) {
            snprintf(errstr, errlen, "out of memory");
            PQclear(res);
            n = i + 1;
            goto out;
        }
    }
    PQclear(res);
    char ignore[256];
    jtm_pg_exec(conn, "COMMIT", ignore, sizeof ignore);

    s->rows = n;
    k_anonymise(rows, n, p->k, s);
    s->children_written = s->children - s->children_suppressed;
    s->rows_written = s->rows - s->rows_suppressed;

    /* Output order: by study pseudonym and then the fields, never by pid. */
    qsort(rows, (size_t)n, sizeof *rows, cmp_output);
    for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
        if (c)
            fputc(',', csv);
        jtm_extract_csv_field(csv, jtm_extract_columns[c]);
    }
    fputc('\n', csv);
    for (long i = 0; i < n; i++) {
        if (rows[i].suppressed)
            continue;
        for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
            if (c)
                fputc(',', csv);
            jtm_extract_csv_field(csv, rows[i].v[c]);
        }
        fputc('\n', csv);
    }
    if (ferror(csv)) {
        snprintf(errstr, errlen, "write error on the CSV");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        char ignore2[256];
        jtm_pg_exec(conn, "ROLLBACK", ignore2, sizeof ignore2);
    }
    rows_free(rows, n);
    return rc;
}

int jtm_extract_write_meta(FILE *out, const jtm_extract_params *p, const jtm_extract_stats *s,
                           const char *csv_name, const char *csv_sha256_hex)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *cols = json_array();
    for (size_t c = 0; c < jtm_extract_ncolumns; c++)
        json_array_append_new(cols, json_string(jtm_extract_columns[c]));
    json_t *meta = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s,"
        " s:{s:s, s:I, s:I, s:[ssss], s:s, s:[sssss], s:s, s:s},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
        "tool", "jtm-extract", "version", JTM_VERSION, "created_at", now, "study_id", p->study_id,
        "file", csv_name, "sha256", csv_sha256_hex ? csv_sha256_hex : "",
        "parameters", "pseudonym", "first 16 bytes of HMAC-SHA256(study key, \"study:<study_id>:\" + pid), hex",
        "k", (json_int_t)p->k, "rare_min", (json_int_t)p->rare_min, "quasi_identifiers", "gemeente",
        "age_band", "sex", "path", "date_precision", "month", "age_bands", "0-3", "4-11", "12-17", "18-23",
        "24+", "age_at", "first care, else first signal", "rare_values",
        "path, category, provider, referrer and end_reason held by fewer than rare_min children are OTHER",
        "counts", "children_read", (json_int_t)s->children, "rows_read", (json_int_t)s->rows,
        "children_written", (json_int_t)s->children_written, "rows_written", (json_int_t)s->rows_written,
        "children_suppressed", (json_int_t)s->children_suppressed, "rows_suppressed",
        (json_int_t)s->rows_suppressed, "classes", (json_int_t)s->classes, "classes_suppressed",
        (json_int_t)s->classes_suppressed, "smallest_class_written", (json_int_t)s->smallest_class_written,
        "columns", cols);
    if (!meta)
        return -1;
    int rc = json_dumpf(meta, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
    fputc('\n', out);
    json_decref(meta);
    return rc;
}
