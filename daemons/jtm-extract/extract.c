#include "extract.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

const char *const jtm_extract_columns[] = {
    "study_pid",   "group",          "generalisation", "gemeente",     "sex",        "age_band",
    "path",        "care_levels",    "first_signal",   "first_care",   "repeat_care", "episodes",
    "care_level",  "category",       "provider",       "referrer",     "requested",  "allocated",
    "started",     "ended",          "end_reason",     "rejected",     "decision_weeks", "start_weeks",
};
const size_t jtm_extract_ncolumns = sizeof jtm_extract_columns / sizeof *jtm_extract_columns;

const char *const jtm_extract_group_names[JTM_XG_N] = {"all", "care", "comparison", "residential", "crisis"};

typedef struct child {
    size_t first, n; /* source rows */
    int level;       /* released at; -1 not (yet) */
    long matches;    /* unplaced children sharing the released record (those placed at a finer level
                      * could be told apart by their own rows, so they are not counted) */
    char *sig;       /* signature at the level being placed */
} child;

typedef struct out_row {
    char **v; /* jtm_extract_ncolumns strings */
} out_row;

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

static int cmp_sig(const void *a, const void *b)
{
    const child *x = *(child *const *)a, *y = *(child *const *)b;
    int c = strcmp(x->sig, y->sig);
    return c ? c : (x->first < y->first ? -1 : x->first > y->first);
}

static int cmp_output(const void *a, const void *b)
{
    const out_row *x = a, *y = b;
    for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
        int d = strcmp(x->v[c], y->v[c]);
        if (d)
            return d;
    }
    return 0;
}

/* Signatures of every child at level (all of them: the risk counts everyone read). */
static int signatures(child *ch, size_t nch, const jtm_gen_src *src, int level)
{
    for (size_t i = 0; i < nch; i++) {
        jtm_gen_record r;
        if (jtm_gen_child(src + ch[i].first, ch[i].n, level, &r) != 0)
            return -1;
        free(ch[i].sig);
        ch[i].sig = jtm_gen_signature(&r);
        jtm_gen_record_free(&r);
        if (!ch[i].sig)
            return -1;
    }
    return 0;
}

/* Places children level by level: a set of >= k unplaced children sharing the record at a level is
 * released there. */
static int place(child *ch, size_t nch, const jtm_gen_src *src, long long k, jtm_extract_stats *s)
{
    child **idx = malloc((nch ? nch : 1) * sizeof *idx);
    if (!idx)
        return -1;
    for (size_t i = 0; i < nch; i++)
        idx[i] = &ch[i];
    for (int level = 0; level < JTM_GEN_LEVELS; level++) {
        if (signatures(ch, nch, src, level) != 0) {
            free(idx);
            return -1;
        }
        qsort(idx, nch, sizeof *idx, cmp_sig);
        for (size_t i = 0; i < nch;) {
            size_t j = i;
            long unplaced = 0;
            while (j < nch && strcmp(idx[j]->sig, idx[i]->sig) == 0)
                unplaced += idx[j++]->level < 0;
            if (unplaced >= k) {
                s->classes++;
                if (s->smallest_class_written == 0 || unplaced < s->smallest_class_written)
                    s->smallest_class_written = unplaced;
                for (size_t t = i; t < j; t++)
                    if (idx[t]->level < 0) {
                        idx[t]->level = level;
                        idx[t]->matches = unplaced;
                    }
            } else if (unplaced > 0 && level == JTM_GEN_LEVELS - 1) {
                s->classes_suppressed++;
            }
            i = j;
        }
    }
    free(idx);
    return 0;
}

static void group_flags(const jtm_gen_src row, bool g[JTM_XG_N])
{
    g[JTM_XG_ALL] = true;
    g[JTM_XG_CARE] = strcmp(row[S_GROUP], "care") == 0;
    g[JTM_XG_COMPARISON] = !g[JTM_XG_CARE];
    g[JTM_XG_RESIDENTIAL] = strstr(row[S_CARE_LEVELS], "VERBLIJF") != NULL;
    g[JTM_XG_CRISIS] = strstr(row[S_CARE_LEVELS], "CRISIS") != NULL;
}

/* The released rows of one child (with its study pseudonym) appended to *rows, and its loss. */
static int release(const child *c, const jtm_gen_src *src, const char *sp, out_row **rows, size_t *nrows,
                   size_t *cap, long *generalised, long *cells)
{
    jtm_gen_record at, l0;
    if (jtm_gen_child(src + c->first, c->n, c->level, &at) != 0)
        return -1;
    if (jtm_gen_child(src + c->first, c->n, 0, &l0) != 0) {
        jtm_gen_record_free(&at);
        return -1;
    }
    jtm_gen_loss(&l0, &at, generalised, cells);
    jtm_gen_record_free(&l0);
    int rc = 0;
    for (size_t i = 0; i < at.nrows && rc == 0; i++) {
        if (*nrows == *cap) {
            size_t ncap = *cap ? 2 * *cap : 1024;
            out_row *q = realloc(*rows, ncap * sizeof *q);
            if (!q) {
                rc = -1;
                break;
            }
            *rows = q;
            *cap = ncap;
        }
        char **v = calloc(jtm_extract_ncolumns, sizeof *v);
        if (!v || !(v[0] = strdup(sp))) {
            free(v);
            rc = -1;
            break;
        }
        for (int col = 0; col < G_NCOLS; col++) {
            v[col + 1] = at.rows[i][col];
            at.rows[i][col] = NULL;
        }
        (*rows)[(*nrows)++] = (out_row){v};
    }
    jtm_gen_record_free(&at);
    return rc;
}

static void out_rows_free(out_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < jtm_extract_ncolumns; c++)
            free(rows[i].v[c]);
        free(rows[i].v);
    }
    free(rows);
}

static int write_csv(FILE *csv, const out_row *rows, size_t n)
{
    for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
        if (c)
            fputc(',', csv);
        jtm_extract_csv_field(csv, jtm_extract_columns[c]);
    }
    fputc('\n', csv);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < jtm_extract_ncolumns; c++) {
            if (c)
                fputc(',', csv);
            jtm_extract_csv_field(csv, rows[i].v[c]);
        }
        fputc('\n', csv);
    }
    return ferror(csv) ? -1 : 0;
}

int jtm_extract_run(PGconn *conn, const jtm_extract_params *p, jtm_key *study_key, FILE *csv,
                    jtm_extract_stats *s, char *errstr, size_t errlen)
{
    int rc = -1;
    memset(s, 0, sizeof *s);
    char rare[32], prefix[64], ignore[256];
    snprintf(rare, sizeof rare, "%lld", p->rare_min);
    snprintf(prefix, sizeof prefix, "study:%s:", p->study_id);
    const char *params[1] = {rare};
    child *ch = NULL;
    size_t nch = 0, nout = 0, capout = 0;
    const char **cells = NULL;
    jtm_gen_src *src = NULL;
    out_row *out = NULL;
    /* One snapshot for the whole read. */
    if (jtm_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr, errlen) != 0)
        return -1;
    PGresult *res = PQexecParams(conn, jtm_gen_source_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        goto out;
    }
    jtm_pg_exec(conn, "COMMIT", ignore, sizeof ignore);
    size_t n = (size_t)PQntuples(res);
    if (PQnfields(res) != S_NCOLS) {
        snprintf(errstr, errlen, "extract query returned %d columns, expected %d", PQnfields(res), S_NCOLS);
        goto out;
    }
    cells = malloc((n ? n : 1) * S_NCOLS * sizeof *cells);
    src = malloc((n ? n : 1) * sizeof *src);
    ch = calloc(n ? n : 1, sizeof *ch);
    if (!cells || !src || !ch)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < S_NCOLS; c++)
            cells[i * S_NCOLS + c] = PQgetvalue(res, (int)i, c);
        src[i] = &cells[i * S_NCOLS];
        if (i == 0 || strcmp(src[i][S_PID], src[i - 1][S_PID]) != 0)
            ch[nch++] = (child){.first = i, .n = 0, .level = -1};
        ch[nch - 1].n++;
    }
    s->children = (long)nch;
    s->rows = (long)n;
    if (place(ch, nch, src, p->k, s) != 0)
        goto oom;
    double risk = 0;
    for (size_t i = 0; i < nch; i++) {
        bool g[JTM_XG_N];
        group_flags(src[ch[i].first], g);
        for (int x = 0; x < JTM_XG_N; x++)
            s->groups[x].children_read += g[x];
        if (ch[i].level < 0) {
            s->children_suppressed++;
            s->rows_suppressed += (long)ch[i].n;
            continue;
        }
        const char *pid = src[ch[i].first][S_PID];
        char sp[JTM_PSEUDONYM_HEX + 1];
        if (jtm_pseudonym_hex(study_key, prefix, pid, strlen(pid), sp) != 0) {
            snprintf(errstr, errlen, "cannot make the study pseudonym");
            goto out;
        }
        long gen = 0, all = 0;
        if (release(&ch[i], src, sp, &out, &nout, &capout, &gen, &all) != 0)
            goto oom;
        s->children_written++;
        s->children_by_level[ch[i].level]++;
        for (int x = 0; x < JTM_XG_N; x++)
            if (g[x]) {
                s->groups[x].children_kept++;
                s->groups[x].cells += all;
                s->groups[x].cells_generalised += gen;
            }
        if (s->smallest_match == 0 || ch[i].matches < s->smallest_match)
            s->smallest_match = ch[i].matches;
        s->children_unique += ch[i].matches == 1;
        risk += 1.0 / (double)ch[i].matches;
    }
    s->mean_risk = s->children_written ? risk / (double)s->children_written : 0;
    s->rows_written = (long)nout;

    /* Output order: by study pseudonym and then the fields, never by pid. */
    qsort(out, nout, sizeof *out, cmp_output);
    if (write_csv(csv, out, nout) != 0) {
        snprintf(errstr, errlen, "write error on the CSV");
        goto out;
    }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errlen, "out of memory");
out:
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        jtm_pg_exec(conn, "ROLLBACK", ignore, sizeof ignore);
    for (size_t i = 0; i < nch; i++)
        free(ch[i].sig);
    free(ch);
    free(src);
    free(cells);
    out_rows_free(out, nout);
    PQclear(res);
    return rc;
}

static const char *const level_text[JTM_GEN_LEVELS] = {
    "0: one row per episode; dates to the month, waiting and decision times in whole weeks, every field",
    "1: dates to the quarter (YYYY-Qn), weeks in bands 0-4, 5-8, 9-13, 14+",
    "2: dates to the year; requested, allocated, category and provider withheld (*); referrer grouped (local, "
    "medical, legal, self, other), end reason grouped (planned, early, other); episodes 0, 1, 2, 3+",
    "3: path as its class (signal, signal>care, care); episode rows keep care level, start year and end reason "
    "group only",
    "4: one row per child, episode fields withheld; path, first signal and first care to the year",
    "5: as 4, sex and first signal withheld, path class",
    "6: as 5, gemeente and first care withheld, age bands 0-11 and 12+",
    "7: as 6, path, repeat care and episodes withheld; care_levels holds the main (most intensive) level only",
    "8: as 7, age withheld",
};

int jtm_extract_write_meta(FILE *out, const jtm_extract_params *p, const jtm_extract_stats *s,
                           const char *csv_name, const char *csv_sha256_hex, const char *codebook_name)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *cols = json_array(), *levels = json_array(), *by_level = json_object(), *groups = json_array();
    for (size_t c = 0; c < jtm_extract_ncolumns; c++)
        json_array_append_new(cols, json_string(jtm_extract_columns[c]));
    for (int l = 0; l < JTM_GEN_LEVELS; l++) {
        char key[8];
        snprintf(key, sizeof key, "%d", l);
        json_array_append_new(levels, json_string(level_text[l]));
        json_object_set_new(by_level, key, json_integer(s->children_by_level[l]));
    }
    for (int x = 0; x < JTM_XG_N; x++) {
        const jtm_extract_group *g = &s->groups[x];
        json_array_append_new(
            groups, json_pack("{s:s, s:I, s:I, s:f, s:I, s:I, s:f}", "group", jtm_extract_group_names[x],
                              "children_read", (json_int_t)g->children_read, "children_kept",
                              (json_int_t)g->children_kept, "kept_share",
                              g->children_read ? (double)g->children_kept / (double)g->children_read : 0.0,
                              "cells", (json_int_t)g->cells, "cells_generalised", (json_int_t)g->cells_generalised,
                              "cells_generalised_share", g->cells ? (double)g->cells_generalised / (double)g->cells : 0.0));
    }
    json_t *meta = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
        " s:{s:s, s:I, s:I, s:s, s:o, s:s, s:s},"
        " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o},"
        " s:o, s:{s:s, s:I, s:f, s:f, s:I}, s:o}",
        "tool", "jtm-extract", "version", JTM_VERSION, "created_at", now, "study_id", p->study_id,
        "file", csv_name, "sha256", csv_sha256_hex ? csv_sha256_hex : "", "codebook", codebook_name ? codebook_name : "",
        "parameters", "pseudonym", "first 16 bytes of HMAC-SHA256(study key, \"study:<study_id>:\" + pid), hex",
        "k", (json_int_t)p->k, "rare_min", (json_int_t)p->rare_min, "quasi_identifiers",
        "every column: a child's whole record (all its rows) is shared by at least k children read",
        "generalisation_levels", levels, "age_at", "first care, else first signal, else 1 January of the extract year",
        "rare_values", "path, category, provider, referrer and end_reason held by fewer than rare_min children are OTHER",
        "counts", "children_read", (json_int_t)s->children, "rows_read", (json_int_t)s->rows, "children_written",
        (json_int_t)s->children_written, "rows_written", (json_int_t)s->rows_written, "children_suppressed",
        (json_int_t)s->children_suppressed, "rows_suppressed", (json_int_t)s->rows_suppressed, "classes",
        (json_int_t)s->classes, "classes_suppressed", (json_int_t)s->classes_suppressed, "smallest_class_written",
        (json_int_t)s->smallest_class_written, "children_by_level", by_level,
        "groups", groups,
        "risk", "measured_as", "children read whose record at the released level equals a released child's",
        "smallest_match", (json_int_t)s->smallest_match, "max_risk",
        s->smallest_match ? 1.0 / (double)s->smallest_match : 0.0, "mean_risk", s->mean_risk, "children_unique",
        (json_int_t)s->children_unique,
        "columns", cols);
    if (!meta)
        return -1;
    int rc = json_dumpf(meta, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
    fputc('\n', out);
    json_decref(meta);
    return rc;
}
