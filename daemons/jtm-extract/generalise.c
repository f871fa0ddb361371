#include "generalise.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const jtm_gen_source_sql =
    "WITH r AS ("
    "  SELECT r.pid, r.gemeente, coalesce(r.path, '') AS path, r.first_signal_on, r.first_care_on, r.repeat_care,"
    "         r.episodes, p.sex, p.birth_month"
    "  FROM wh.route r LEFT JOIN wh.child_profile p ON p.pid = r.pid"
    "  WHERE r.gemeente IS NOT NULL"
    "), e AS ("
    "  SELECT e.* FROM wh.care_episode e JOIN r ON r.pid = e.pid"
    "), lv AS ("
    "  SELECT pid, string_agg(DISTINCT wh.care_level(category), '+' ORDER BY wh.care_level(category)) AS levels"
    "  FROM e WHERE started_on IS NOT NULL AND category IS NOT NULL GROUP BY pid"
    "), common_path AS (SELECT path FROM r GROUP BY path HAVING count(*) >= $1"
    "), common_cat AS (SELECT category FROM e GROUP BY category HAVING count(DISTINCT pid) >= $1"
    "), common_agb AS (SELECT provider_agb FROM e GROUP BY provider_agb HAVING count(DISTINCT pid) >= $1"
    "), common_ref AS (SELECT referrer FROM e GROUP BY referrer HAVING count(DISTINCT pid) >= $1"
    "), common_end AS (SELECT end_reason FROM e GROUP BY end_reason HAVING count(DISTINCT pid) >= $1"
    ") SELECT r.pid, CASE WHEN e.pid IS NULL THEN 'comparison' ELSE 'care' END, r.gemeente,"
    "  coalesce(r.sex::text, ''), coalesce(x.age::text, ''),"
    "  CASE WHEN r.path = '' OR r.path IN (SELECT path FROM common_path) THEN r.path ELSE 'OTHER' END,"
    "  CASE WHEN r.path = '' THEN '' WHEN r.path ~ '^(JGZ|VERZUIM)(>(JGZ|VERZUIM))*$' THEN 'signal'"
    "       WHEN r.path ~ '^(JGZ|VERZUIM)' THEN 'signal>care' ELSE 'care' END,"
    "  coalesce(lv.levels, ''),"
    "  coalesce(r.first_signal_on::text, ''), coalesce(r.first_care_on::text, ''),"
    "  CASE WHEN r.repeat_care THEN '1' ELSE '0' END, coalesce(r.episodes::text, '0'),"
    "  coalesce(wh.care_level(e.category), ''),"
    "  CASE WHEN e.pid IS NULL OR e.category IS NULL THEN '' WHEN e.category IN (SELECT category FROM common_cat)"
    "       THEN e.category ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL OR e.provider_agb IS NULL THEN ''"
    "       WHEN e.provider_agb IN (SELECT provider_agb FROM common_agb) THEN e.provider_agb ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL OR e.referrer IS NULL THEN ''"
    "       WHEN e.referrer IN (SELECT referrer FROM common_ref) THEN e.referrer ELSE 'OTHER' END,"
    "  coalesce(e.requested_on::text, ''), coalesce(e.allocated_on::text, ''),"
    "  coalesce(e.started_on::text, ''), coalesce(e.ended_on::text, ''),"
    "  CASE WHEN e.pid IS NULL OR e.end_reason IS NULL THEN ''"
    "       WHEN e.end_reason IN (SELECT end_reason FROM common_end) THEN e.end_reason ELSE 'OTHER' END,"
    "  CASE WHEN e.pid IS NULL THEN '' WHEN e.rejected THEN '1' ELSE '0' END,"
    "  coalesce(e.decision_days::text, ''), coalesce(e.start_days::text, '')"
    " FROM r LEFT JOIN e ON e.pid = r.pid LEFT JOIN lv ON lv.pid = r.pid"
    " CROSS JOIN LATERAL (SELECT date_part('year', age(coalesce(r.first_care_on, r.first_signal_on,"
    "                                                           date_trunc('year', current_date)::date),"
    "                                                  r.birth_month))::integer AS age) x"
    " ORDER BY r.pid";

/* A date YYYY-MM-DD at a precision: 0 month, 1 quarter, 2 year, 3 withheld. */
static void gen_date(const char *d, int precision, char *out, size_t len)
{
    if (!*d) {
        snprintf(out, len, "%s", "");
    } else if (strlen(d) < 10 || precision >= 3) {
        snprintf(out, len, "*");
    } else if (precision == 0) {
        snprintf(out, len, "%.7s", d);
    } else if (precision == 1) {
        int m = atoi(d + 5);
        snprintf(out, len, "%.4s-Q%d", d, (m - 1) / 3 + 1);
    } else {
        snprintf(out, len, "%.4s", d);
    }
}

static void gen_age(const char *age, int two_bands, char *out, size_t len)
{
    if (!*age) {
        snprintf(out, len, "unknown");
        return;
    }
    int a = atoi(age);
    if (two_bands)
        snprintf(out, len, "%s", a < 12 ? "0-11" : "12+");
    else
        snprintf(out, len, "%s", a < 4 ? "0-3" : a < 12 ? "4-11" : a < 18 ? "12-17" : a < 24 ? "18-23" : "24+");
}

/* Days to whole weeks (mode 0), week bands (1) or withheld (2). */
static void gen_weeks(const char *days, int mode, char *out, size_t len)
{
    if (!*days) {
        snprintf(out, len, "%s", "");
        return;
    }
    long w = atol(days);
    w = w < 0 ? -((-w + 6) / 7) : w / 7;
    if (mode == 0)
        snprintf(out, len, "%ld", w);
    else if (mode == 1)
        snprintf(out, len, "%s", w <= 4 ? "0-4" : w <= 8 ? "5-8" : w <= 13 ? "9-13" : "14+");
    else
        snprintf(out, len, "*");
}

static const char *referrer_group(const char *r)
{
    if (!*r)
        return "";
    if (!strcmp(r, "01"))
        return "local";
    if (!strcmp(r, "02") || !strcmp(r, "03") || !strcmp(r, "05"))
        return "medical";
    if (!strcmp(r, "04") || !strcmp(r, "08"))
        return "legal";
    if (!strcmp(r, "06"))
        return "self";
    return "other";
}

static const char *end_group(const char *e)
{
    if (!*e)
        return "";
    if (!strcmp(e, "31"))
        return "planned";
    if (!strcmp(e, "32") || !strcmp(e, "33") || !strcmp(e, "34") || !strcmp(e, "35"))
        return "early";
    return "other";
}

static void gen_episodes(const char *n, int banded, char *out, size_t len)
{
    if (!banded || atol(n) < 3)
        snprintf(out, len, "%s", n);
    else
        snprintf(out, len, "3+");
}

/* The hierarchy, one line per level. Dates: 0 month, 1 quarter, 2 year, 3 withheld. weeks: 0 whole
 * weeks, 1 bands, 2 withheld. rows: 1 one per episode, 0 one per child (episode fields withheld).
 * gemeente, sex, repeat, category/provider, rejected: 0 kept, 1 withheld. age: 0 five bands, 1 two,
 * 2 withheld. path: 0 path, 1 class, 2 withheld. levels: 0 the set, 1 the main level. episodes: 0
 * the number, 1 0/1/2/3+, 2 withheld. referrer, end reason: 0 code, 1 group, 2 withheld. */
typedef struct level_def {
    int first_signal, first_care, req_alloc, started, ended, weeks, rows;
    int gemeente, sex, age, path, levels, repeat, episodes, cat_prov, referrer, end_reason, rejected;
} level_def;

static const level_def levels[JTM_GEN_LEVELS] = {
    /* fs fc ra st en wk rows  gm sx age path lv rp ep cp ref end rj */
    {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {2, 2, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0},
    {2, 2, 3, 2, 3, 2, 1, 0, 0, 0, 1, 0, 0, 1, 1, 2, 1, 1},
    {2, 2, 3, 3, 3, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 1},
    {3, 2, 3, 3, 3, 2, 0, 0, 1, 0, 1, 0, 0, 1, 1, 2, 2, 1},
    {3, 3, 3, 3, 3, 2, 0, 1, 1, 1, 1, 0, 0, 1, 1, 2, 2, 1},
    {3, 3, 3, 3, 3, 2, 0, 1, 1, 1, 2, 1, 1, 2, 1, 2, 2, 1},
    {3, 3, 3, 3, 3, 2, 0, 1, 1, 2, 2, 1, 1, 2, 1, 2, 2, 1},
};

/* The most intensive level of a care_levels set: CRISIS, VERBLIJF, JB, JR, GGZ, AMB, OVERIG. */
static const char *main_level(const char *set)
{
    static const char *const order[] = {"CRISIS", "VERBLIJF", "JB", "JR", "GGZ", "AMB", "OVERIG"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (strstr(set, order[i]))
            return order[i];
    return "";
}

static const char *keep_or_hide(const char *v, int hide) { return hide && *v ? "*" : v; }

static int fill_row(jtm_gen_src s, int level, bool care, char **o)
{
    const level_def *d = &levels[level];
    char b[G_NCOLS][64];
    for (int c = 0; c < G_NCOLS; c++)
        b[c][0] = '\0';
    snprintf(b[G_GROUP], 64, "%s", s[S_GROUP]);
    snprintf(b[G_LEVEL], 64, "%d", level);
    snprintf(b[G_GEMEENTE], 64, "%s", keep_or_hide(s[S_GEMEENTE], d->gemeente));
    snprintf(b[G_SEX], 64, "%s", keep_or_hide(s[S_SEX], d->sex));
    if (d->age == 2)
        snprintf(b[G_AGE_BAND], 64, "*");
    else
        gen_age(s[S_AGE], d->age, b[G_AGE_BAND], 64);
    snprintf(b[G_CARE_LEVELS], 64, "%s", d->levels ? main_level(s[S_CARE_LEVELS]) : s[S_CARE_LEVELS]);
    gen_date(s[S_FIRST_SIGNAL], d->first_signal, b[G_FIRST_SIGNAL], 64);
    gen_date(s[S_FIRST_CARE], d->first_care, b[G_FIRST_CARE], 64);
    snprintf(b[G_REPEAT], 64, "%s", keep_or_hide(s[S_REPEAT], d->repeat));
    if (d->episodes == 2)
        snprintf(b[G_EPISODES], 64, "*");
    else
        gen_episodes(s[S_EPISODES], d->episodes, b[G_EPISODES], 64);
    char *path = strdup(d->path == 0 ? s[S_PATH] : d->path == 1 ? s[S_PATH_CLASS] : keep_or_hide(s[S_PATH], 1));
    if (!path)
        return -1;
    if (!care) {
        /* comparison group: no episode fields at any level */
    } else if (!d->rows) {
        for (int c = G_FIRST_EPISODE_FIELD; c < G_NCOLS; c++)
            snprintf(b[c], 64, "*");
    } else {
        snprintf(b[G_CARE_LEVEL], 64, "%s", s[S_CARE_LEVEL]);
        snprintf(b[G_CATEGORY], 64, "%s", keep_or_hide(s[S_CATEGORY], d->cat_prov));
        snprintf(b[G_PROVIDER], 64, "%s", keep_or_hide(s[S_PROVIDER], d->cat_prov));
        snprintf(b[G_REFERRER], 64, "%s",
                 d->referrer == 0 ? s[S_REFERRER] : d->referrer == 1 ? referrer_group(s[S_REFERRER])
                                                                     : keep_or_hide(s[S_REFERRER], 1));
        gen_date(s[S_REQUESTED], d->req_alloc, b[G_REQUESTED], 64);
        gen_date(s[S_ALLOCATED], d->req_alloc, b[G_ALLOCATED], 64);
        gen_date(s[S_STARTED], d->started, b[G_STARTED], 64);
        gen_date(s[S_ENDED], d->ended, b[G_ENDED], 64);
        snprintf(b[G_END_REASON], 64, "%s",
                 d->end_reason == 0 ? s[S_END_REASON] : d->end_reason == 1 ? end_group(s[S_END_REASON])
                                                                           : keep_or_hide(s[S_END_REASON], 1));
        snprintf(b[G_REJECTED], 64, "%s", keep_or_hide(s[S_REJECTED], d->rejected));
        gen_weeks(s[S_DECISION_DAYS], d->weeks, b[G_DECISION_WEEKS], 64);
        gen_weeks(s[S_START_DAYS], d->weeks, b[G_START_WEEKS], 64);
    }
    for (int c = 0; c < G_NCOLS; c++) {
        o[c] = c == G_PATH ? path : strdup(b[c]);
        if (!o[c])
            return -1;
    }
    return 0;
}

void jtm_gen_record_free(jtm_gen_record *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        if (r->rows[i])
            for (int c = 0; c < G_NCOLS; c++)
                free(r->rows[i][c]);
        free(r->rows[i]);
    }
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}

int jtm_gen_child(const jtm_gen_src *src, size_t n, int level, jtm_gen_record *out)
{
    bool care = strcmp(src[0][S_GROUP], "care") == 0;
    size_t rows = (!levels[level].rows || !care) ? 1 : n;
    out->rows = calloc(rows, sizeof *out->rows);
    out->nrows = 0;
    if (!out->rows)
        return -1;
    for (size_t i = 0; i < rows; i++) {
        out->rows[i] = calloc(G_NCOLS, sizeof **out->rows);
        out->nrows = i + 1;
        if (!out->rows[i] || fill_row(src[i], level, care, out->rows[i]) != 0) {
            jtm_gen_record_free(out);
            return -1;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *jtm_gen_signature_rows(char ***rows, size_t nrows)
{
    char **lines = calloc(nrows ? nrows : 1, sizeof *lines);
    size_t total = 1;
    char *sig = NULL;
    if (!lines)
        return NULL;
    for (size_t i = 0; i < nrows; i++) {
        size_t len = 0;
        for (int c = 0; c < G_NCOLS; c++)
            len += strlen(rows[i][c]) + 1;
        if (!(lines[i] = malloc(len + 1)))
            goto out;
        char *p = lines[i];
        for (int c = 0; c < G_NCOLS; c++)
            p += sprintf(p, "%s\x1f", rows[i][c]);
        total += len + 1;
    }
    qsort(lines, nrows, sizeof *lines, cmp_str);
    if (!(sig = malloc(total)))
        goto out;
    char *p = sig;
    for (size_t i = 0; i < nrows; i++)
        p += sprintf(p, "%s\x1e", lines[i]);
    *p = '\0';
out:
    for (size_t i = 0; i < nrows; i++)
        free(lines[i]);
    free(lines);
    return sig;
}

char *jtm_gen_signature(const jtm_gen_record *r) { return jtm_gen_signature_rows(r->rows, r->nrows); }

void jtm_gen_loss(const jtm_gen_record *l0, const jtm_gen_record *at, long *generalised, long *cells)
{
    *generalised = 0;
    *cells = 0;
    for (size_t i = 0; i < l0->nrows; i++)
        for (int c = G_GEMEENTE; c < G_NCOLS; c++) {
            const char *v = l0->rows[i][c];
            if (!*v)
                continue;
            (*cells)++;
            /* rows line up at levels 0-2; from 3 on a child has one row and episode fields are * */
            const char *w = i < at->nrows ? at->rows[i][c] : c < G_FIRST_EPISODE_FIELD ? at->rows[0][c] : "*";
            if (strcmp(v, w) != 0)
                (*generalised)++;
        }
}
