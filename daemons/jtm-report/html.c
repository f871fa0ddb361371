#include "html.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "charts.h"
#include "suppress.h"

/* No '<' or '&' anywhere in here: the page must stay well-formed XML. */
static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;"
    "margin:0;background:#f5f7fa;line-height:1.45}\n"
    "header,main,footer{max-width:1200px;margin:0 auto;padding:0 20px}\n"
    "header{padding-top:18px}h1{font-size:26px;margin:8px 0}h2{font-size:20px;margin:0 0 6px}\n"
    "h3{font-size:15px;margin:14px 0 4px;color:#323f4b}\n"
    ".meta{color:#52606d;margin:0 0 6px}.note{background:#fff8e1;border-left:4px solid #f0b429;padding:8px 12px}\n"
    ".note.internal{background:#fdecea;border-color:#d64545}\n"
    "nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:14px}nav a{color:#2563a8}\n"
    "section{background:#fff;border:1px solid #e4e7eb;border-radius:6px;margin:18px 0;padding:16px 20px}\n"
    "section p.desc{color:#52606d;margin:0 0 10px}\n"
    "svg{display:block;max-width:100%;height:auto;font-size:12px}\n"
    "svg text{fill:#1f2933}svg .tick{font-size:10px;fill:#52606d}svg .ptitle{font-weight:600;font-size:12px}\n"
    "svg .colhead{font-weight:600;fill:#52606d}svg .lg{font-size:11px}svg .empty{fill:#52606d}\n"
    "svg .axis{stroke:#9aa5b1;stroke-width:1}svg .grid{stroke:#e4e7eb;stroke-width:1}\n"
    "svg .wl{fill:none;stroke:#2563a8;stroke-width:2}svg .bound{fill:none;stroke:#d64545;stroke-width:1.3;"
    "stroke-dasharray:5 3}\n"
    "svg .pt{fill:#2563a8}svg .pt.hidden{fill:#9aa5b1}svg .alarm{fill:#d64545;stroke:#fff;stroke-width:1}\n"
    "svg .suppband{fill:#e4e7eb;fill-opacity:.7}svg .firing{fill:#fdecea}\n"
    "svg .iqr{fill:#7cafe0}svg .median{fill:#123f6e}svg .norm{stroke:#d64545;stroke-width:1.2;"
    "stroke-dasharray:6 3}svg .normlabel{font-size:10px;fill:#d64545}\n"
    "svg .ribbon{fill-opacity:.32}svg .ribbon:hover{fill-opacity:.6}svg .node{stroke:none}\n"
    "svg .nlabel{font-size:12px}svg .nlabel .n{fill:#52606d}\n"
    ".s-JGZ{fill:#2e7d32}.s-VERZUIM{fill:#f0b429}.s-AMB{fill:#2563a8}.s-GGZ{fill:#7b4fb0}.s-VERBLIJF{fill:#d64545}"
    ".s-CRISIS{fill:#9c2a2a}.s-JB{fill:#3d7f8c}.s-JR{fill:#8c6d3d}.s-OVERIG{fill:#7b8794}\n"
    "table{border-collapse:collapse;width:100%;font-size:14px}th,td{padding:5px 8px;border-bottom:1px solid #e4e7eb;"
    "text-align:left}\n"
    "td.n,td.v,td.d,th.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr.goal th{background:#f0f4f8;font-weight:600}tr.total td,tr.total th{font-weight:600}\n"
    "tr.sum td,tr.sum th{border-bottom:2px solid #9aa5b1}td.up{color:#2e7d32}td.down{color:#d64545}\n"
    ".legend{color:#52606d;font-size:13px}\n"
    "footer{color:#7b8794;font-size:12px;padding-bottom:24px}\n"
    "@media print{body{background:#fff}section{break-inside:avoid;border:none}}\n";

static void put_el(sbuf *b, const char *tag, const char *attrs, const char *text)
{
    sb_printf(b, "<%s%s%s>", tag, attrs ? " " : "", attrs ? attrs : "");
    sb_put_xml(b, text);
    sb_printf(b, "</%s>", tag);
}

static void section_open(sbuf *b, const char *id, const char *title, const char *desc)
{
    sb_printf(b, "<section id=\"%s\">\n", id);
    put_el(b, "h2", NULL, title);
    sb_puts(b, "\n");
    if (desc) {
        put_el(b, "p", "class=\"desc\"", desc);
        sb_puts(b, "\n");
    }
}

/* ---- indicators ---- */

static bool value_shown(const rpt_indicator *ind, const rpt_value *v, int t)
{
    if (!v->have)
        return false;
    switch (ind->kind) {
    case RPT_SHARE: return v->den > 0 && jtm_supp_share_ok(v->num, v->den, t);
    case RPT_DAYS: return v->num > 0 && !(t > 1 && v->num < t);
    case RPT_COUNT: return true;
    }
    return false;
}

/* The waiting-list chart shows the last week of the period per category, with small values
 * hidden; the "waiting at the end" total of this period would give their sum away when it is
 * below the threshold. True when the total may be shown. */
static bool waiting_total_safe(const jtm_report *r, int t)
{
    if (t <= 1)
        return true;
    const char *last = "";
    for (size_t s = 0; s < r->n_waiting; s++)
        for (size_t i = 0; i < r->waiting[s].n; i++)
            if (strcmp(r->waiting[s].weeks[i].week_start, last) > 0)
                last = r->waiting[s].weeks[i].week_start;
    long hidden = 0;
    for (size_t s = 0; s < r->n_waiting; s++)
        for (size_t i = 0; i < r->waiting[s].n; i++)
            if (strcmp(r->waiting[s].weeks[i].week_start, last) == 0 && jtm_supp_small(r->waiting[s].weeks[i].waiting, t))
                hidden += r->waiting[s].weeks[i].waiting;
    return hidden == 0 || hidden >= t;
}

/* Writes one value cell; returns whether a number was shown (for the change column). hide forces
 * "x" (secondary suppression decided by the caller). */
static bool value_cell(sbuf *b, const rpt_indicator *ind, const rpt_value *v, int t, bool hide)
{
    char s[48];
    if (hide && v->have) {
        sb_puts(b, "<td class=\"n\">x</td>");
        return false;
    }
    if (!v->have || (ind->kind == RPT_SHARE && v->den == 0) || (ind->kind == RPT_DAYS && v->num == 0)) {
        sb_puts(b, "<td class=\"v\">\xE2\x80\x93</td>");
        return false;
    }
    if (ind->kind == RPT_COUNT) {
        jtm_supp m = jtm_supp_small(v->num, t) ? JTM_SUPP_PRIMARY : JTM_SUPP_SHOWN;
        sb_puts(b, "<td class=\"n\">");
        sb_put_xml(b, jtm_supp_format(v->num, m, t, s));
        sb_puts(b, "</td>");
        return m == JTM_SUPP_SHOWN;
    }
    if (!value_shown(ind, v, t)) {
        sb_puts(b, "<td class=\"v\">x</td>");
        return false;
    }
    if (ind->kind == RPT_SHARE)
        snprintf(s, sizeof s, "%.1f%%", 100.0 * (double)v->num / (double)v->den);
    else
        snprintf(s, sizeof s, "%.0f", v->value);
    sb_puts(b, "<td class=\"v\">");
    sb_put_xml(b, s);
    sb_puts(b, "</td>");
    return true;
}

static double shown_number(const rpt_indicator *ind, const rpt_value *v)
{
    if (ind->kind == RPT_SHARE)
        return 100.0 * (double)v->num / (double)v->den;
    if (ind->kind == RPT_COUNT)
        return (double)v->num;
    return v->value;
}

static void indicator_table(sbuf *b, const jtm_report *r)
{
    int t = jtm_report_threshold(r);
    jtm_lang L = r->lang;
    sb_puts(b, "<table id=\"table-indicators\">\n<thead><tr>");
    put_el(b, "th", NULL, jtm_i18n(L, M_COL_INDICATOR));
    char h[64];
    snprintf(h, sizeof h, "%s (%s \xE2\x80\x93 %s)", jtm_i18n(L, M_COL_CURRENT), r->from, r->to);
    put_el(b, "th", "class=\"num\"", h);
    snprintf(h, sizeof h, "%s (%s \xE2\x80\x93 %s)", jtm_i18n(L, M_COL_PREVIOUS), r->prev_from, r->prev_to);
    put_el(b, "th", "class=\"num\"", h);
    put_el(b, "th", "class=\"num\"", jtm_i18n(L, M_COL_CHANGE));
    sb_puts(b, "</tr></thead>\n<tbody>\n");
    for (int goal = 1; goal <= 5; goal++) {
        char g[160];
        snprintf(g, sizeof g, "%s %d: %s", jtm_i18n(L, M_COL_GOAL), goal, jtm_i18n(L, M_GOAL1 + goal - 1));
        sb_puts(b, "<tr class=\"goal\">");
        put_el(b, "th", "colspan=\"4\"", g);
        sb_puts(b, "</tr>\n");
        for (size_t i = 0; i < r->n_indicators; i++) {
            const rpt_indicator *ind = &r->indicators[i];
            if (ind->goal != goal)
                continue;
            sb_puts(b, "<tr>");
            put_el(b, "td", NULL, jtm_i18n(L, ind->label));
            bool hide_cur = ind->label == M_IND_WAITING_END && !waiting_total_safe(r, t);
            bool a = value_cell(b, ind, &ind->cur, t, hide_cur);
            bool p = value_cell(b, ind, &ind->prev, t, false);
            if (a && p) {
                double d = shown_number(ind, &ind->cur) - shown_number(ind, &ind->prev);
                char s[48];
                if (ind->kind == RPT_SHARE)
                    snprintf(s, sizeof s, "%+.1f %s", d, jtm_i18n(L, M_PP));
                else
                    snprintf(s, sizeof s, "%+.0f", d);
                sb_printf(b, "<td class=\"d%s\">", d > 0 ? " up" : d < 0 ? " down" : "");
                sb_put_xml(b, s);
                sb_puts(b, "</td>");
            } else {
                sb_puts(b, "<td class=\"d\">\xE2\x80\x93</td>");
            }
            sb_puts(b, "</tr>\n");
        }
    }
    sb_puts(b, "</tbody></table>\n");
}

/* ---- population ---- */

static const char *const age_bands[] = {"0-3", "4-11", "12-17", "18-23"};
#define N_BANDS 4

static int band_index(const char *s)
{
    for (int i = 0; i < N_BANDS; i++)
        if (strcmp(age_bands[i], s) == 0)
            return i;
    return -1;
}

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void population_table(sbuf *b, const jtm_report *r)
{
    int t = jtm_report_threshold(r);
    jtm_lang L = r->lang;
    /* Districts, sorted. */
    const char **ds = malloc((r->n_population ? r->n_population : 1) * sizeof *ds);
    if (!ds)
        abort();
    size_t nd = 0;
    for (size_t i = 0; i < r->n_population; i++) {
        if (band_index(r->population[i].age_band) < 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nd && !seen; k++)
            seen = strcmp(ds[k], r->population[i].district) == 0;
        if (!seen)
            ds[nd++] = r->population[i].district;
    }
    qsort(ds, nd, sizeof *ds, cmp_cstr);
    if (!r->population_by_pc4) {
        put_el(b, "p", "class=\"legend\"", jtm_i18n(L, M_POPULATION_NO_PC4));
        sb_puts(b, "\n");
    }
    if (nd == 0) {
        sb_puts(b, "<table id=\"table-population\"><tbody><tr>");
        put_el(b, "td", NULL, jtm_i18n(L, M_NO_DATA));
        sb_puts(b, "</tr></tbody></table>\n");
        free(ds);
        return;
    }
    /* One (districts + 1) x (bands + 1) table per measure, each suppressed on its own. */
    size_t w = N_BANDS + 1, cells = (nd + 1) * w;
    long *m = calloc(RPT_POP_MEASURES * cells, sizeof *m);
    jtm_supp *marks = calloc(RPT_POP_MEASURES * cells, sizeof *marks);
    if (!m || !marks)
        abort();
    for (size_t i = 0; i < r->n_population; i++) {
        int bi = band_index(r->population[i].age_band);
        if (bi < 0)
            continue;
        size_t di = 0;
        while (di < nd && strcmp(ds[di], r->population[i].district) != 0)
            di++;
        for (int k = 0; k < RPT_POP_MEASURES; k++)
            m[k * cells + di * w + (size_t)bi] += r->population[i].v[k];
    }
    for (int k = 0; k < RPT_POP_MEASURES; k++)
        jtm_supp_table(m + k * cells, nd, N_BANDS, t, marks + k * cells);
    static const jtm_msg cols[RPT_POP_MEASURES] = {M_COL_JGZ, M_COL_ABSENCE, M_COL_CARE, M_COL_RESIDENTIAL,
                                                   M_COL_STARTS};
    sb_puts(b, "<table id=\"table-population\">\n<thead><tr>");
    put_el(b, "th", NULL, r->population_by_pc4 ? jtm_i18n(L, M_COL_DISTRICT) : jtm_i18n(L, M_GEMEENTE));
    put_el(b, "th", NULL, jtm_i18n(L, M_COL_AGE));
    for (int k = 0; k < RPT_POP_MEASURES; k++)
        put_el(b, "th", "class=\"num\"", jtm_i18n(L, cols[k]));
    sb_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t di = 0; di <= nd; di++) {
        for (size_t bi = 0; bi <= N_BANDS; bi++) {
            sb_printf(b, "<tr%s>", di == nd ? (bi == N_BANDS ? " class=\"total\"" : " class=\"total\"")
                                            : (bi == N_BANDS ? " class=\"sum\"" : ""));
            put_el(b, "th", NULL, bi == 0 ? (di == nd ? jtm_i18n(L, M_TOTAL) : ds[di]) : "");
            put_el(b, "td", NULL, bi == N_BANDS ? jtm_i18n(L, M_TOTAL) : age_bands[bi]);
            for (int k = 0; k < RPT_POP_MEASURES; k++) {
                size_t at = k * cells + di * w + bi;
                char s[24];
                sb_puts(b, "<td class=\"n\">");
                sb_put_xml(b, jtm_supp_format(m[at], marks[at], t, s));
                sb_puts(b, "</td>");
            }
            sb_puts(b, "</tr>\n");
        }
    }
    sb_puts(b, "</tbody></table>\n");
    free(m);
    free(marks);
    free(ds);
}

/* ---- page ---- */

int jtm_report_render(const jtm_report *r, sbuf *b, char *errstr, size_t errlen)
{
    jtm_lang L = r->lang;
    int t = jtm_report_threshold(r);
    sb_puts(b, "<!DOCTYPE html>\n");
    sb_printf(b, "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"%s\" xml:lang=\"%s\">\n<head>\n",
              jtm_lang_code(L), jtm_lang_code(L));
    sb_puts(b, "<meta charset=\"utf-8\"/>\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
               "img-src data:\"/>\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
               "<meta name=\"generator\" content=\"jtm-report " JTM_VERSION "\"/>\n");
    char where[128];
    if (r->gemeente)
        snprintf(where, sizeof where, "%s %s", jtm_i18n(L, M_GEMEENTE), r->gemeente);
    else
        snprintf(where, sizeof where, "%s", jtm_i18n(L, M_REGION_ALL));
    char title[256];
    snprintf(title, sizeof title, "%s \xE2\x80\x94 %s, %s \xE2\x80\x93 %s", jtm_i18n(L, M_TITLE), where, r->from, r->to);
    put_el(b, "title", NULL, title);
    sb_puts(b, "\n<style>\n");
    sb_puts(b, css);
    sb_puts(b, "</style>\n</head>\n<body>\n<header>\n");
    put_el(b, "h1", NULL, jtm_i18n(L, M_TITLE));
    sb_puts(b, "\n");
    char meta[512];
    snprintf(meta, sizeof meta, "%s \xC2\xB7 %s %s \xE2\x80\x93 %s \xC2\xB7 %s %s \xE2\x80\x93 %s \xC2\xB7 %s %s", where,
             jtm_i18n(L, M_PERIOD), r->from, r->to, jtm_i18n(L, M_PREV_PERIOD), r->prev_from, r->prev_to,
             jtm_i18n(L, M_GENERATED), r->generated);
    put_el(b, "p", "class=\"meta\"", meta);
    sb_puts(b, "\n");
    if (t > 1) {
        char note[1024];
        jtm_i18n_int(L, M_PUBLIC_NOTE, t, note, sizeof note);
        put_el(b, "p", "class=\"note\" id=\"public-note\"", note);
    } else {
        put_el(b, "p", "class=\"note internal\"", jtm_i18n(L, M_INTERNAL_NOTE));
    }
    sb_puts(b, "\n<nav>");
    put_el(b, "strong", NULL, jtm_i18n(L, M_CONTENTS));
    sb_puts(b, "<ul>");
    static const struct {
        const char *id;
        jtm_msg m;
    } toc[] = {{"routes", M_ROUTES}, {"waiting", M_WAITING}, {"days", M_DAYS},
               {"indicators", M_INDICATORS}, {"population", M_POPULATION}};
    for (size_t i = 0; i < sizeof toc / sizeof toc[0]; i++) {
        sb_printf(b, "<li><a href=\"#%s\">", toc[i].id);
        sb_put_xml(b, jtm_i18n(L, toc[i].m));
        sb_puts(b, "</a></li>");
    }
    sb_puts(b, "</ul></nav>\n</header>\n<main>\n");

    section_open(b, "routes", jtm_i18n(L, M_ROUTES), jtm_i18n(L, M_ROUTES_DESC));
    if (jtm_chart_routes(b, r, errstr, errlen) != 0)
        return -1;
    if (t > 1) {
        char s[160];
        jtm_i18n_int(L, M_ROUTES_PUBLIC, t, s, sizeof s);
        put_el(b, "p", "class=\"legend\"", s);
    }
    sb_puts(b, "</section>\n");

    section_open(b, "waiting", jtm_i18n(L, M_WAITING), jtm_i18n(L, M_WAITING_DESC));
    if (jtm_chart_waiting(b, r, errstr, errlen) != 0)
        return -1;
    if (!r->alerts_available)
        put_el(b, "p", "class=\"legend\" id=\"no-alerts\"", jtm_i18n(L, M_WAITING_NO_ALERTS));
    else if (!r->gemeente)
        put_el(b, "p", "class=\"legend\"", jtm_i18n(L, M_WAITING_REGION_ALERTS));
    sb_puts(b, "</section>\n");

    section_open(b, "days", jtm_i18n(L, M_DAYS), jtm_i18n(L, M_DAYS_DESC));
    put_el(b, "h3", NULL, jtm_i18n(L, M_DECISION_DAYS));
    if (jtm_chart_days(b, r, 0, errstr, errlen) != 0)
        return -1;
    put_el(b, "h3", NULL, jtm_i18n(L, M_START_DAYS));
    if (jtm_chart_days(b, r, 1, errstr, errlen) != 0)
        return -1;
    sb_puts(b, "</section>\n");

    section_open(b, "indicators", jtm_i18n(L, M_INDICATORS), jtm_i18n(L, M_INDICATORS_DESC));
    indicator_table(b, r);
    sb_puts(b, "</section>\n");

    section_open(b, "population", jtm_i18n(L, M_POPULATION), jtm_i18n(L, M_POPULATION_DESC));
    population_table(b, r);
    if (t > 1) {
        char s[256];
        snprintf(s, sizeof s, "<%d: %s; x: %s", t, jtm_i18n(L, M_LEGEND_SUPPRESSED), jtm_i18n(L, M_LEGEND_SECONDARY));
        put_el(b, "p", "class=\"legend\"", s);
    }
    sb_puts(b, "</section>\n</main>\n<footer>");
    put_el(b, "p", NULL, jtm_i18n(L, M_FOOTER));
    sb_puts(b, "</footer>\n</body>\n</html>\n");
    return 0;
}

int jtm_report_write(const jtm_report *r, const char *path, char *errstr, size_t errlen)
{
    sbuf b = {0};
    int rc = -1, fd = -1;
    char *tmp = NULL;
    if (jtm_report_render(r, &b, errstr, errlen) != 0)
        goto out;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
        tmp = NULL;
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < b.len;) {
        ssize_t n = write(fd, b.s + off, b.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(errstr, errlen, "%s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    int synced = fsync(fd), closed = close(fd);
    fd = -1;
    if (synced != 0 || closed != 0) {
        snprintf(errstr, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    sb_free(&b);
    return rc;
}
