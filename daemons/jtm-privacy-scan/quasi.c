#include "quasi.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bsn.h"
#include "date.h"
#include "jdoc.h"
#include "pg.h"

/* One event's age, as compact as the warehouse's size needs. */
typedef struct age_obs {
    uint8_t pid[16];
    int32_t birth_month; /* year * 12 + month - 1 */
    int32_t occurred;    /* days since 1970 */
    int32_t age;
} age_obs;

struct jtm_quasi {
    FILE *report;
    long max_reported, reported;
    jtm_jdoc doc;
    age_obs *obs;
    size_t n, cap;
    long events, age_steps, code_fields;
    bool finished;
};

jtm_quasi *jtm_quasi_new(FILE *report, long max_reported)
{
    jtm_quasi *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->report = report;
    q->max_reported = max_reported;
    jtm_jdoc_init(&q->doc);
    return q;
}

void jtm_quasi_free(jtm_quasi *q)
{
    if (!q)
        return;
    jtm_jdoc_free(&q->doc);
    free(q->obs);
    free(q);
}

static void report(jtm_quasi *q, const char *kind, const char *source, long line, const char *hint)
{
    if (!q->report || q->reported >= q->max_reported)
        return;
    q->reported++;
    fprintf(q->report, "finding kind=%s source=%s line=%ld hint=\"%s\"\n", kind, source, line, hint);
}

/* ---- what a code must not look like ---- */

static bool digits_at(const char *s, size_t n, size_t at, size_t count)
{
    if (at + count > n)
        return false;
    for (size_t i = at; i < at + count; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool is_hash(const char *s, size_t n)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    return true;
}

/* What v looks like, or NULL. */
static const char *looks_like(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)v[i]))
            return "name";
        if (isupper((unsigned char)v[i]) && i + 2 < n && islower((unsigned char)v[i + 1]) &&
            islower((unsigned char)v[i + 2]))
            return "name";
        if (!isdigit((unsigned char)v[i]) || (i > 0 && isdigit((unsigned char)v[i - 1])))
            continue;
        size_t run = i;
        while (run < n && isdigit((unsigned char)v[run]))
            run++;
        run -= i;
        char norm[10];
        bool glued = (i > 0 && isxdigit((unsigned char)v[i - 1])) || (i + run < n && isxdigit((unsigned char)v[i + run]));
        if (run == 9 && !glued && jtm_bsn_check(v + i, 9, norm) == JTM_BSN_VALID)
            return "bsn"; /* not inside a run of hex digits (as scan.h) */
        if (run == 4 && i + 10 <= n && v[i + 4] == '-' && digits_at(v, n, i + 5, 2) && v[i + 7] == '-' &&
            digits_at(v, n, i + 8, 2))
            return "date"; /* YYYY-MM-DD */
        if (run == 2 && i + 10 <= n && v[i + 2] == '-' && digits_at(v, n, i + 3, 2) && v[i + 5] == '-' &&
            digits_at(v, n, i + 6, 4))
            return "date"; /* DD-MM-YYYY */
        if (run == 4 && v[i] != '0') {
            size_t k = i + 4;
            if (k < n && v[k] == ' ')
                k++;
            if (k + 2 <= n && isalpha((unsigned char)v[k]) && isalpha((unsigned char)v[k + 1]) &&
                !(k + 2 < n && isalnum((unsigned char)v[k + 2])))
                return "postcode";
        }
    }
    return NULL;
}

static bool is_date_field(const char *key, size_t klen)
{
    static const char *const dates[] = {"occurred_on", "recorded_at", "requested_start", "allocated_on",
                                        "valid_from", "valid_to", "start_date", "end_date",
                                        "period_start", "period_end", NULL};
    for (int i = 0; dates[i]; i++)
        if (strlen(dates[i]) == klen && memcmp(dates[i], key, klen) == 0)
            return true;
    return false;
}

/* Every string member of object obj (and of its objects), named parent.key. */
static void check_codes(jtm_quasi *q, uint32_t obj, const char *parent, const char *source, long line)
{
    const jtm_jdoc *d = &q->doc;
    for (uint32_t c = obj + 1; c < jtm_jdoc_node(d, obj)->end; c = jtm_jdoc_node(d, c)->end) {
        const jtm_jnode *m = jtm_jdoc_node(d, c);
        char path[96];
        snprintf(path, sizeof path, "%s%s%.*s", parent ? parent : "", parent ? "." : "",
                 (int)(m->klen > 40 ? 40 : m->klen), m->key);
        if (m->type == JTM_J_OBJECT) {
            if (!parent)
                check_codes(q, c, path, source, line);
            continue;
        }
        if (m->type != JTM_J_STRING || is_date_field(m->key, m->klen) || is_hash(m->v.str.s, m->v.str.n))
            continue;
        const char *what = looks_like(m->v.str.s, m->v.str.n);
        if (what) {
            q->code_fields++;
            char hint[160];
            snprintf(hint, sizeof hint, "field=%s looks like a %s", path, what);
            report(q, "code_field", source, line, hint);
        }
    }
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/* The age observation of a pseudonymised event, when it has one. */
static void collect_age(jtm_quasi *q)
{
    const jtm_jdoc *d = &q->doc;
    const jtm_jnode *pid = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "pid"));
    const jtm_jnode *occ = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "occurred_on"));
    uint32_t client = jtm_jdoc_getz(d, 0, "client");
    if (!client || jtm_jdoc_node(d, client)->type != JTM_J_OBJECT)
        return;
    const jtm_jnode *bym = jtm_jdoc_node(d, jtm_jdoc_getz(d, client, "birth_ym"));
    const jtm_jnode *age = jtm_jdoc_node(d, jtm_jdoc_getz(d, client, "age_months"));
    jtm_date at;
    if (!jtm_jdoc_getz(d, 0, "pid") || pid->type != JTM_J_STRING || !is_hash(pid->v.str.s, pid->v.str.n) ||
        !jtm_jdoc_getz(d, 0, "occurred_on") || occ->type != JTM_J_STRING ||
        jtm_date_parse(occ->v.str.s, occ->v.str.n, &at) != 0 || !jtm_jdoc_getz(d, client, "birth_ym") ||
        bym->type != JTM_J_STRING || bym->v.str.n != 7 || !digits_at(bym->v.str.s, 7, 0, 4) ||
        !digits_at(bym->v.str.s, 7, 5, 2) || !jtm_jdoc_getz(d, client, "age_months") || age->type != JTM_J_INT)
        return;
    const char *ym = bym->v.str.s;
    int year = (ym[0] - '0') * 1000 + (ym[1] - '0') * 100 + (ym[2] - '0') * 10 + (ym[3] - '0');
    int month = (ym[5] - '0') * 10 + (ym[6] - '0');
    if (month < 1 || month > 12)
        return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 4096;
        age_obs *o = realloc(q->obs, cap * sizeof *o);
        if (!o)
            return; /* counted as read, not evaluated */
        q->obs = o;
        q->cap = cap;
    }
    age_obs *o = &q->obs[q->n++];
    for (int i = 0; i < 16; i++)
        o->pid[i] = (uint8_t)(hexval(pid->v.str.s[2 * i]) << 4 | hexval(pid->v.str.s[2 * i + 1]));
    o->birth_month = year * 12 + month - 1;
    o->occurred = (int32_t)jtm_date_to_days(at);
    o->age = age->v.i < INT32_MIN ? INT32_MIN : age->v.i > INT32_MAX ? INT32_MAX : (int32_t)age->v.i;
}

void jtm_quasi_event(jtm_quasi *q, const char *source, long line, const char *text, size_t len)
{
    const char *brace = memchr(text, '{', len);
    if (!brace)
        return;
    len -= (size_t)(brace - text);
    while (len && (brace[len - 1] == '\n' || brace[len - 1] == '\r'))
        len--;
    if (jtm_jdoc_parse(&q->doc, brace, len) != 0 || jtm_jdoc_node(&q->doc, 0)->type != JTM_J_OBJECT ||
        !jtm_jdoc_getz(&q->doc, 0, "pid") || !jtm_jdoc_getz(&q->doc, 0, "client"))
        return;
    q->events++;
    check_codes(q, 0, NULL, source, line);
    collect_age(q);
}

void jtm_quasi_line(void *q, const char *source, long line, const char *text, size_t len)
{
    jtm_quasi_event(q, source, line, text, len);
}

int jtm_quasi_database(jtm_quasi *q, PGconn *conn, char *errstr, size_t errlen)
{
    PGresult *r = PQexec(conn, "SELECT to_regclass('staging.event') IS NOT NULL");
    bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!have)
        return 0;
    if (jtm_pg_exec(conn, "DECLARE quasi NO SCROLL CURSOR FOR SELECT payload::text FROM staging.event", errstr, errlen) != 0)
        return -1;
    long row = 1;
    for (;;) {
        r = PQexec(conn, "FETCH 5000 FROM quasi");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            jtm_pg_result_error(conn, r, errstr, errlen);
            PQclear(r);
            return -1;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++, row++)
            jtm_quasi_event(q, "table:staging.event.payload", row, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
        PQclear(r);
        if (rows == 0)
            break;
    }
    return jtm_pg_exec(conn, "CLOSE quasi", errstr, errlen);
}

static int cmp_obs(const void *a, const void *b)
{
    const age_obs *x = a, *y = b;
    int c = memcmp(x->pid, y->pid, 16);
    return c ? c : (x->occurred > y->occurred) - (x->occurred < y->occurred);
}

void jtm_quasi_finish(jtm_quasi *q)
{
    if (q->finished)
        return;
    q->finished = true;
    bool steps = false; /* do ages step inside months anywhere in what was read? */
    for (size_t i = 0; i < q->n && !steps; i++) {
        jtm_date at = jtm_date_from_days(q->obs[i].occurred);
        steps = q->obs[i].age != at.year * 12 + at.month - 1 - q->obs[i].birth_month;
    }
    if (!steps)
        return;
    qsort(q->obs, q->n, sizeof *q->obs, cmp_obs);
    for (size_t i = 0, j; i < q->n; i = j) {
        int by = q->obs[i].birth_month / 12, bm = q->obs[i].birth_month % 12 + 1;
        const int dim = jtm_date_days_in_month(by, bm);
        int lo = 1, hi = dim;
        for (j = i; j < q->n && memcmp(q->obs[j].pid, q->obs[i].pid, 16) == 0; j++) {
            jtm_date at = jtm_date_from_days(q->obs[j].occurred);
            int months = at.year * 12 + at.month - 1 - q->obs[j].birth_month;
            if (months <= 0 || q->obs[j].birth_month != q->obs[i].birth_month)
                continue;
            if (q->obs[j].age == months - 1 && at.day + 1 > lo)
                lo = at.day + 1; /* the age has not stepped yet this month */
            else if (q->obs[j].age == months && at.day < jtm_date_days_in_month(at.year, at.month) && at.day < hi)
                hi = at.day; /* it has already */
        }
        if (hi - lo + 1 >= dim)
            continue;
        q->age_steps++;
        char hint[112];
        int n = snprintf(hint, sizeof hint, "pid=%02x%02x%02x%02x... ", q->obs[i].pid[0], q->obs[i].pid[1],
                         q->obs[i].pid[2], q->obs[i].pid[3]);
        if (hi >= lo)
            snprintf(hint + n, sizeof hint - (size_t)n, "birth date narrowed to %d of %d days", hi - lo + 1, dim);
        else /* the ages step on different days: still no calendar ages */
            snprintf(hint + n, sizeof hint - (size_t)n, "ages step inside months, on no one birth day");
        report(q, "age_steps", "events", 0, hint);
    }
}

long jtm_quasi_events(const jtm_quasi *q) { return q->events; }
long jtm_quasi_age_steps(const jtm_quasi *q) { return q->age_steps; }
long jtm_quasi_code_fields(const jtm_quasi *q) { return q->code_fields; }
