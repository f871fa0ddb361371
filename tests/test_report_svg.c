/* Unit tests of jtm-report's drawing layer (daemons/jtm-report: sbuf, svg, flow, suppress, i18n,
 * charts, html): escaping, well-formed output (xmllint), Sankey layout conservation, suppression
 * invariants. No database. */
#include <criterion/criterion.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "html.h"
#include "i18n.h"
#include "report.h"
#include "xml.h"
#include "suppress.h"
#include "svg.h"
#include "testenv.h"

Test(report_svg, xml_escaping_covers_markup_quotes_controls_and_bad_utf8)
{
    sbuf b = {0};
    sb_put_xml(&b, "<a href=\"x\">&'</a>");
    cr_assert_str_eq(sb_str(&b), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    sb_free(&b);
    sb_put_xml(&b, "a\x01" "b\tc\xff" "d\xC3\xA9" "e\xED\xA0\x80" "f\xEF\xBF\xBF");
    cr_assert_str_eq(sb_str(&b), "a\xEF\xBF\xBD" "b\tc\xEF\xBF\xBD" "d\xC3\xA9" "e\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                                 "f\xEF\xBF\xBD");
    sb_free(&b);
    sb_put_xml(&b, "\xC3"); /* truncated sequence at the end */
    cr_assert_str_eq(sb_str(&b), "\xEF\xBF\xBD");
    sb_free(&b);
    sb_put_xml(&b, NULL);
    cr_assert_str_eq(sb_str(&b), "");
}

Test(report_svg, text_elements_escape_their_content_and_attributes)
{
    sbuf b = {0};
    svg_open(&b, "c\"1", 100, 50, "t<&>", "d'");
    svg_text(&b, 1, 2, "x\"y", "end", "</text><script>alert(1)</script>");
    svg_close(&b);
    const char *s = sb_str(&b);
    cr_assert(strstr(s, "id=\"c&quot;1\""), "%s", s);
    cr_assert(strstr(s, "<title id=\"c&quot;1-title\">t&lt;&amp;&gt;</title>"), "%s", s);
    cr_assert_null(strstr(s, "<script"), "%s", s);
    cr_assert(strstr(s, "&lt;/text&gt;&lt;script&gt;"), "%s", s);
    sb_free(&b);
}

Test(report_svg, i18n_has_every_label_in_both_languages)
{
    for (int m = 0; m < M__COUNT; m++) {
        cr_assert_str_neq(jtm_i18n(JTM_LANG_NL, (jtm_msg)m), "?", "nl label %d missing", m);
        cr_assert_str_neq(jtm_i18n(JTM_LANG_EN, (jtm_msg)m), "?", "en label %d missing", m);
    }
    jtm_lang l;
    cr_assert_eq(jtm_lang_parse("en", &l), 0);
    cr_assert_eq(l, JTM_LANG_EN);
    cr_assert_eq(jtm_lang_parse("de", &l), -1);
    char out[300];
    cr_assert_str_eq(jtm_i18n_int(JTM_LANG_EN, M_ROUTES_PUBLIC, 10, out, sizeof out),
                     "Routes of fewer than 10 children are left out.");
    cr_assert_str_eq(jtm_i18n_category(JTM_LANG_NL, "45"), "45 ambulant");
    cr_assert_str_eq(jtm_i18n_category(JTM_LANG_NL, "99"), "99");
    cr_assert_str_eq(jtm_i18n_stage(JTM_LANG_EN, "VERBLIJF"), "Residential");
}

Test(report_svg, nice_steps_are_whole_and_respect_the_minimum)
{
    cr_assert_eq(svg_nice_step(37, 4, 1), 10);
    cr_assert_eq(svg_nice_step(3, 4, 1), 1);
    cr_assert_eq(svg_nice_step(20, 4, 10), 10);
    cr_assert_eq(svg_nice_step(180, 4, 7), 50);
}

/* Checks what the Sankey layout promises: each ribbon has width value * scale; a node's outgoing
 * ribbons are contiguous from its top and fit in it; its incoming ribbons fill it from the top;
 * columns fit the height. */
static void check_layout(const svg_flow_node *n, size_t nn, const svg_flow_link *l, size_t nl, const svg_flow_geom *g)
{
    const double eps = 1e-6;
    for (size_t i = 0; i < nn; i++) {
        double in = 0, out = 0;
        cr_assert_geq(n[i].y, -eps);
        cr_assert_leq(n[i].y + n[i].h, g->height + eps, "node %zu leaves the area", i);
        cr_assert_float_eq(n[i].h, n[i].value * g->scale, eps);
        /* outgoing ribbons, by start offset */
        double next = n[i].y;
        for (int pass = 0; pass < (int)nl; pass++) {
            int found = -1;
            for (size_t k = 0; k < nl; k++)
                if ((size_t)l[k].src == i && fabs(l[k].sy - next) < eps && l[k].w > 0)
                    found = (int)k;
            if (found < 0)
                break;
            next += l[found].w;
        }
        for (size_t k = 0; k < nl; k++) {
            cr_assert_float_eq(l[k].w, l[k].value * g->scale, eps);
            if ((size_t)l[k].src == i) {
                out += l[k].value;
                cr_assert_geq(l[k].sy, n[i].y - eps);
                cr_assert_leq(l[k].sy + l[k].w, n[i].y + n[i].h + eps);
            }
            if ((size_t)l[k].dst == i) {
                in += l[k].value;
                cr_assert_geq(l[k].ty, n[i].y - eps);
                cr_assert_leq(l[k].ty + l[k].w, n[i].y + n[i].h + eps);
            }
        }
        cr_assert_float_eq(next - n[i].y, out * g->scale, eps, "outgoing ribbons of node %zu are not contiguous", i);
        cr_assert_leq(out, n[i].value + eps);
        cr_assert_leq(in, n[i].value + eps);
        if (in > 0)
            cr_assert_float_eq(in, n[i].value, eps, "node %zu: inflow must be its value", i);
    }
    /* no two ribbons overlap at a node end */
    for (size_t a = 0; a < nl; a++)
        for (size_t c = a + 1; c < nl; c++) {
            if (l[a].src == l[c].src)
                cr_assert(l[a].sy + l[a].w <= l[c].sy + eps || l[c].sy + l[c].w <= l[a].sy + eps);
            if (l[a].dst == l[c].dst)
                cr_assert(l[a].ty + l[a].w <= l[c].ty + eps || l[c].ty + l[c].w <= l[a].ty + eps);
        }
}

static const rpt_route sample_routes[] = {
    {"JGZ>AMB", 40}, {"JGZ>AMB>VERBLIJF", 12}, {"JGZ>VERZUIM>AMB", 25}, {"VERZUIM>AMB", 18},
    {"VERZUIM>GGZ", 4}, {"AMB", 60}, {"AMB>VERBLIJF", 7}, {"GGZ", 3}, {"JGZ>AMB>AMB", 0},
    {"JGZ>VERZUIM>AMB>VERBLIJF>CRISIS>JB>JR", 11}, {"JB>JR", 9}, {"CRISIS", 2},
};

Test(report_svg, sankey_layout_conserves_flow)
{
    for (int threshold = 0; threshold <= 10; threshold += 10) {
        jtm_flow f;
        cr_assert_eq(jtm_flow_build(sample_routes, sizeof sample_routes / sizeof sample_routes[0], threshold, &f), 0);
        cr_assert_gt(f.n_nodes, 3);
        svg_flow_geom g = {900, 400, 16, 12, 0};
        cr_assert_eq(svg_sankey_layout(f.nodes, f.n_nodes, f.links, f.n_links, &g), 0);
        check_layout(f.nodes, f.n_nodes, f.links, f.n_links, &g);
        /* graph-level conservation: children into a node = node children (columns > 0) */
        long col0 = 0;
        for (size_t i = 0; i < f.n_nodes; i++) {
            long in = 0, out = 0;
            for (size_t k = 0; k < f.n_links; k++) {
                if ((size_t)f.links[k].dst == i)
                    in += f.link_children[k];
                if ((size_t)f.links[k].src == i)
                    out += f.link_children[k];
            }
            if (f.nodes[i].column == 0)
                col0 += f.node_children[i];
            else
                cr_assert_eq(in, f.node_children[i]);
            cr_assert_leq(out, f.node_children[i]);
        }
        cr_assert_eq(col0, f.shown);
        cr_assert_eq(f.total, 40 + 12 + 25 + 18 + 4 + 60 + 7 + 3 + 11 + 9 + 2);
        if (threshold == 0) {
            cr_assert_eq(f.shown, f.total);
            /* seven stages, cut at six columns */
            int maxcol = 0;
            for (size_t i = 0; i < f.n_nodes; i++)
                maxcol = f.nodes[i].column > maxcol ? f.nodes[i].column : maxcol;
            cr_assert_eq(maxcol, JTM_FLOW_MAX_COLUMNS - 1);
        }
        jtm_flow_free(&f);
    }
}

/* A region has thousands of distinct paths: building must stay linear in their stages. */
Test(report_svg, flow_of_many_distinct_paths_is_fast_and_conserves)
{
    static const char *const st[] = {"JGZ", "VERZUIM", "AMB", "GGZ", "VERBLIJF", "CRISIS", "JB", "JR", "OVERIG"};
    enum { N = 60000 };
    rpt_route *routes = calloc(N, sizeof *routes);
    unsigned seed = 7;
    long total = 0;
    for (int i = 0; i < N; i++) {
        char path[128] = "";
        int len = 1 + i % 7;
        for (int k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            if (k)
                strcat(path, ">");
            strcat(path, st[(seed >> 16) % 9]);
        }
        routes[i].path = strdup(path);
        routes[i].children = 1 + i % 13;
        total += routes[i].children;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    jtm_flow f;
    cr_assert_eq(jtm_flow_build(routes, N, 10, &f), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_assert_lt(s, 3.0, "building took %.2f s", s);
    cr_assert_eq(f.total, total);
    svg_flow_geom g = {900, 600, 16, 8, 0};
    cr_assert_eq(svg_sankey_layout(f.nodes, f.n_nodes, f.links, f.n_links, &g), 0);
    check_layout(f.nodes, f.n_nodes, f.links, f.n_links, &g);
    for (size_t k = 0; k < f.n_links; k++)
        cr_assert_geq(f.link_children[k], 10);
    jtm_flow_free(&f);
    for (int i = 0; i < N; i++)
        free(routes[i].path);
    free(routes);
}

Test(report_svg, sankey_layout_refuses_backward_links)
{
    svg_flow_node n[2] = {{.column = 1}, {.column = 0}};
    svg_flow_link l[1] = {{.src = 0, .dst = 1, .value = 3}};
    svg_flow_geom g = {100, 100, 10, 5, 0};
    cr_assert_eq(svg_sankey_layout(n, 2, l, 1, &g), -1);
    l[0].dst = 7;
    cr_assert_eq(svg_sankey_layout(n, 2, l, 1, &g), -1);
}

Test(report_svg, public_flow_shows_no_small_count_and_no_small_remainder)
{
    const int T = 10;
    jtm_flow f;
    cr_assert_eq(jtm_flow_build(sample_routes, sizeof sample_routes / sizeof sample_routes[0], T, &f), 0);
    for (size_t i = 0; i < f.n_nodes; i++) {
        cr_assert_geq(f.node_children[i], T, "node %zu shows %ld", i, f.node_children[i]);
        long out = 0;
        for (size_t k = 0; k < f.n_links; k++)
            if ((size_t)f.links[k].src == i)
                out += f.link_children[k];
        long rest = f.node_children[i] - out;
        cr_assert(rest == 0 || rest >= T, "node %zu: rest %ld gives a small count away", i, rest);
    }
    for (size_t k = 0; k < f.n_links; k++)
        cr_assert_geq(f.link_children[k], T);
    cr_assert(f.total - f.shown == 0 || f.total - f.shown >= T);
    jtm_flow_free(&f);
}

Test(report_svg, line_suppression_hides_until_the_rest_is_safe)
{
    long parts[] = {30, 4, 12, 50};
    jtm_supp m[4];
    jtm_supp_line(96, parts, 4, 10, m); /* rest 0 + hidden 4 -> hide 12 too */
    cr_assert_eq(m[1], JTM_SUPP_PRIMARY);
    cr_assert_eq(m[2], JTM_SUPP_SECONDARY);
    cr_assert_eq(m[0], JTM_SUPP_SHOWN);
    cr_assert_eq(m[3], JTM_SUPP_SHOWN);
    jtm_supp_line(110, parts, 4, 10, m); /* rest 14 + 4 hidden = 18: fine */
    cr_assert_eq(m[2], JTM_SUPP_SHOWN);
    jtm_supp_line(99, parts, 4, 0, m);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(m[i], JTM_SUPP_SHOWN);
}

/* The invariants jtm_supp_table promises, on many pseudo-random tables. */
Test(report_svg, table_suppression_invariants_hold)
{
    const int T = 10;
    unsigned seed = 12345;
    for (int trial = 0; trial < 500; trial++) {
        size_t rows = 1 + (size_t)(trial % 5), cols = 1 + (size_t)((trial / 5) % 4), w = cols + 1;
        long m[6 * 5];
        jtm_supp k[6 * 5];
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                seed = seed * 1103515245u + 12345u;
                unsigned v = (seed >> 16) % 40;
                m[r * w + c] = v < 10 ? 0 : v < 25 ? (long)(v - 9) : (long)v;
            }
        jtm_supp_table(m, rows, cols, T, k);
        for (size_t i = 0; i < (rows + 1) * w; i++)
            if (k[i] == JTM_SUPP_SHOWN)
                cr_assert(!jtm_supp_small(m[i], T), "trial %d: small count %ld shown", trial, m[i]);
        for (int dir = 0; dir < 2; dir++) {
            size_t lines = dir ? cols + 1 : rows + 1, len = dir ? rows : cols;
            for (size_t a = 0; a < lines; a++) {
                size_t hidden = 0;
                long hidden_sum = 0;
                for (size_t j = 0; j < len; j++) {
                    size_t at = dir ? j * w + a : a * w + j;
                    if (k[at] != JTM_SUPP_SHOWN) {
                        hidden++;
                        hidden_sum += m[at];
                    }
                }
                size_t tot = dir ? rows * w + a : a * w + cols;
                bool th = k[tot] != JTM_SUPP_SHOWN;
                size_t all = hidden + th;
                cr_assert(all == 0 || all >= 2, "trial %d: a line with one hidden entry", trial);
                if (!th && hidden)
                    cr_assert(hidden_sum == 0 || hidden_sum >= T, "trial %d: hidden cells sum to %ld", trial,
                              hidden_sum);
            }
        }
    }
}

Test(report_svg, share_and_format)
{
    cr_assert(jtm_supp_share_ok(20, 50, 10));
    cr_assert_not(jtm_supp_share_ok(5, 50, 10));
    cr_assert_not(jtm_supp_share_ok(45, 50, 10));
    cr_assert(jtm_supp_share_ok(0, 50, 10));
    char s[24];
    cr_assert_str_eq(jtm_supp_format(4, JTM_SUPP_PRIMARY, 10, s), "<10");
    cr_assert_str_eq(jtm_supp_format(14, JTM_SUPP_SECONDARY, 10, s), "x");
    cr_assert_str_eq(jtm_supp_format(14, JTM_SUPP_SHOWN, 10, s), "14");
}

/* A report with every part filled, small counts, and hostile strings. */
static void sample_report(jtm_report *r, bool public_)
{
    memset(r, 0, sizeof *r);
    r->gemeente = strdup("GM<&>\"'");
    strcpy(r->from, "2024-01");
    strcpy(r->to, "2024-06");
    strcpy(r->prev_from, "2023-07");
    strcpy(r->prev_to, "2023-12");
    strcpy(r->generated, "2026-11-25 18:00 UTC");
    r->public_ = public_;
    r->threshold = 10;
    r->n_routes = sizeof sample_routes / sizeof sample_routes[0];
    r->routes = calloc(r->n_routes, sizeof *r->routes);
    for (size_t i = 0; i < r->n_routes; i++) {
        r->routes[i].path = strdup(sample_routes[i].path);
        r->routes[i].children = sample_routes[i].children;
    }
    r->routes[r->n_routes - 1].path[0] = 'X'; /* "XRISIS": an unknown stage is drawn, escaped */
    r->alerts_available = true;
    r->n_waiting = 2;
    r->waiting = calloc(2, sizeof *r->waiting);
    const char *cats[2] = {"45", "<43>"};
    for (size_t s = 0; s < 2; s++) {
        strcpy(r->waiting[s].category, cats[s]);
        r->waiting[s].n = 12;
        r->waiting[s].weeks = calloc(12, sizeof(rpt_week));
        for (size_t i = 0; i < 12; i++) {
            rpt_week *w = &r->waiting[s].weeks[i];
            snprintf(w->week_start, sizeof w->week_start, "2024-%02zu-%02zu", 1 + i / 4, 1 + (i % 4) * 7);
            w->waiting = s == 0 ? 20 + (long)i : (long)(i % 6);
            w->upper = i < 7 ? NAN : 28.5;
            w->alarm = s == 0 && i == 11;
        }
    }
    r->n_decision = 3;
    r->decision = calloc(3, sizeof(rpt_days));
    r->decision[0] = (rpt_days){"45", "2024-Q1", 25, 20, 35, 61};
    r->decision[1] = (rpt_days){"45", "2024-Q2", 4, 10, 12, 13};
    r->decision[2] = (rpt_days){"43", "2024-Q1", 14, 40, 70, 100};
    r->n_start = 1;
    r->start = calloc(1, sizeof(rpt_days));
    r->start[0] = (rpt_days){"45", "2024-Q1", 18, 5, 21, 40};
    r->n_indicators = 5;
    r->indicators = calloc(5, sizeof(rpt_indicator));
    /* 31 (category 45) + 5 (category <43>, hidden) in the last week: 36 would give the 5 away */
    r->indicators[4] = (rpt_indicator){3, M_IND_WAITING_END, RPT_COUNT, {true, 36, 0, 36}, {true, 20, 0, 20}};
    r->indicators[0] = (rpt_indicator){1, M_IND_JGZ_SEEN, RPT_COUNT, {true, 140, 0, 140}, {true, 7, 0, 7}};
    r->indicators[1] = (rpt_indicator){2, M_IND_REF_MEDICAL, RPT_SHARE, {true, 20, 60, 0}, {true, 3, 40, 0}};
    r->indicators[2] = (rpt_indicator){3, M_IND_DECISION_MEDIAN, RPT_DAYS, {true, 25, 0, 35}, {true, 9, 0, 30}};
    r->indicators[3] = (rpt_indicator){5, M_IND_PLANNED_END, RPT_SHARE, {false, 0, 0, 0}, {true, 0, 0, 0}};
    r->population_by_pc4 = true;
    r->n_population = 4;
    r->population = calloc(4, sizeof(rpt_pop));
    r->population[0] = (rpt_pop){"3311", "0-3", {120, 0, 14, 2, 3}};
    r->population[1] = (rpt_pop){"3311", "4-11", {80, 12, 30, 5, 6}};
    r->population[2] = (rpt_pop){"3312", "0-3", {95, 0, 11, 0, 1}};
    r->population[3] = (rpt_pop){"3312", "12-17", {40, 25, 22, 9, 4}};
}

static char *write_tmp(const char *content, const char *name)
{
    char *dir = jtm_test_tmpdir(), *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    jtm_test_write_file(path, content, 0644);
    free(dir);
    return path;
}

/* Every count the page shows sits in an element of class "n" or, in a tooltip, right before its
 * unit word; none of them may be 1..9 in a public report. Returns how many small ones it found. */
static int small_counts(const char *page)
{
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "class=\"n\">([0-9]+)<|([0-9]+) (kinderen|children|wachtend|waiting|trajecten|episodes)",
                         REG_EXTENDED),
                 0);
    int found = 0;
    regmatch_t m[4];
    const char *p = page;
    while (regexec(&re, p, 4, m, 0) == 0) {
        int g = m[1].rm_so >= 0 ? 1 : 2;
        long v = strtol(p + m[g].rm_so, NULL, 10);
        if (v >= 1 && v <= 9)
            found++;
        p += m[0].rm_eo;
    }
    regfree(&re);
    return found;
}

Test(report_svg, page_is_well_formed_xml_and_has_every_chart)
{
    for (int pub = 0; pub < 2; pub++) {
        jtm_report r;
        sample_report(&r, pub);
        sbuf b = {0};
        char err[256];
        cr_assert_eq(jtm_report_render(&r, &b, err, sizeof err), 0, "%s", err);
        const char *page = sb_str(&b);
        static const char *const ids[] = {"chart-routes", "chart-waiting", "chart-decision-days", "chart-start-days",
                                          "table-indicators", "table-population"};
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            char needle[64];
            snprintf(needle, sizeof needle, "id=\"%s\"", ids[i]);
            cr_assert(strstr(page, needle), "missing %s", ids[i]);
        }
        cr_assert_null(strstr(page, "<script"));
        /* nothing loaded from outside: no src, no external href, no url(), no @import */
        cr_assert_null(strstr(page, "src="));
        cr_assert_null(strstr(page, "href=\"http"));
        cr_assert_null(strstr(page, "url("));
        cr_assert_null(strstr(page, "@import"));
        cr_assert(strstr(page, "GM&lt;&amp;&gt;&quot;&#39;"));
        char *path = write_tmp(page, "report.html");
        char *cmd = NULL, *out = NULL;
        cr_assert_geq(asprintf(&cmd, "xmllint --noout --nonet '%s' 2>&1", path), 0);
        int rc = jtm_test_sh(cmd, &out);
        cr_assert_eq(rc, 0, "xmllint: %s", out);
        if (pub)
            cr_assert_eq(small_counts(page), 0, "public page shows small counts");
        else
            cr_assert_gt(small_counts(page), 0, "internal page shows the small counts (the check works)");
        free(out);
        free(cmd);
        free(path);
        sb_free(&b);
        jtm_report_free(&r);
    }
}

Test(report_svg, public_waiting_total_does_not_reveal_hidden_categories)
{
    for (int pub = 0; pub < 2; pub++) {
        jtm_report r;
        sample_report(&r, pub);
        sbuf b = {0};
        char err[256];
        cr_assert_eq(jtm_report_render(&r, &b, err, sizeof err), 0, "%s", err);
        const char *row = strstr(sb_str(&b), jtm_i18n(JTM_LANG_NL, M_IND_WAITING_END));
        cr_assert_not_null(row);
        if (pub)
            cr_assert_eq(strncmp(strstr(row, "<td"), "<td class=\"n\">x</td>", 20), 0, "%.80s", row);
        else
            cr_assert_eq(strncmp(strstr(row, "<td"), "<td class=\"n\">36</td>", 21), 0, "%.80s", row);
        sb_free(&b);
        jtm_report_free(&r);
    }
}

Test(report_svg, empty_report_keeps_chart_ids)
{
    jtm_report r = {0};
    strcpy(r.from, "2024-01");
    strcpy(r.to, "2024-01");
    r.lang = JTM_LANG_EN;
    sbuf b = {0};
    char err[256];
    cr_assert_eq(jtm_report_render(&r, &b, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(sb_str(&b), "id=\"chart-routes\""));
    cr_assert(strstr(sb_str(&b), "id=\"chart-start-days\""));
    cr_assert(strstr(sb_str(&b), "No data in this period."));
    cr_assert(strstr(sb_str(&b), "lang=\"en\""));
    sb_free(&b);
}
