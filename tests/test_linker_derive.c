/* daemons/jtm-linker/derive.c: the rules of wh.recompute_children for one child, on the edges that
 * a synthetic region rarely reaches (it_linker_derive compares whole regions with the SQL rules):
 * the five-year repeat-care bound, several stops of one allocation, a child that moved, where an
 * episode's category comes from, same-day stage order, credits, DISTINCT facts. */
#include <criterion/criterion.h>
#include <string.h>

#include "date.h"
#include "derive.h"

static int32_t D(const char *s)
{
    jtm_date d;
    cr_assert_eq(jtm_date_parse(s, strlen(s), &d), 0, "%s", s);
    return (int32_t)jtm_date_to_days(d);
}

/* An event with every optional field absent. */
static jtm_event ev(int feed, int type, const char *occurred, const char *id)
{
    static int64_t seq;
    jtm_event e;
    memset(&e, 0, sizeof e);
    e.feed = feed;
    e.type = type;
    e.occurred_on = D(occurred);
    e.recorded_at = ++seq;
    e.event_id = id;
    e.gemeente = "GM0505";
    e.birth_ym = "2012-05";
    e.allocated_on = e.start_date = e.end_date = JTM_NO_DATE;
    return e;
}

static jtm_event alloc(const char *no, const char *on, const char *category, const char *id)
{
    jtm_event e = ev(JTM_EV_FEED_SOJ, JTM_EV_T_ALLOCATION, on, id);
    e.allocation_no = no;
    e.allocated_on = D(on);
    e.category = category;
    return e;
}

static jtm_event start(const char *no, const char *on, const char *id)
{
    jtm_event e = ev(JTM_EV_FEED_SOJ, JTM_EV_T_START, on, id);
    e.allocation_no = no;
    e.start_date = D(on);
    e.category = "45";
    return e;
}

static jtm_event stop(const char *no, const char *start_on, const char *end_on, const char *reason, const char *id)
{
    jtm_event e = ev(JTM_EV_FEED_SOJ, JTM_EV_T_STOP, end_on ? end_on : start_on, id);
    e.allocation_no = no;
    e.start_date = D(start_on);
    e.end_date = end_on ? D(end_on) : JTM_NO_DATE;
    e.end_reason = reason;
    e.category = "45";
    return e;
}

static lk_derived derive(jtm_event *e, size_t n)
{
    lk_derived d;
    lk_derived_init(&d);
    cr_assert_eq(lk_derive_child(&d, e, n), 0);
    return d;
}

Test(linker_derive, no_events_no_rows)
{
    lk_derived d = derive(NULL, 0);
    cr_assert_not(d.route.present);
    cr_assert_eq(d.n_episodes, 0);
    cr_assert_eq(d.n_facts, 0);
    lk_derived_free(&d);
}

/* Care again within five years of an end (date + interval '5 years': a 29 February ends on the
 * 28th), at least a day after it. */
Test(linker_derive, repeat_care_is_bounded_by_five_years)
{
    struct {
        const char *end, *restart;
        bool repeat;
    } cases[] = {
        {"2020-02-29", "2025-02-28", true}, {"2020-02-29", "2025-03-01", false},
        {"2019-06-30", "2024-06-30", true}, {"2019-06-30", "2024-07-01", false},
        {"2019-06-30", "2019-06-30", false}, /* no day without care */
        {"2019-06-30", "2019-07-01", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jtm_event e[] = {alloc("a1", "2019-01-01", "45", "e1"), start("a1", "2019-01-02", "e2"),
                        stop("a1", "2019-01-02", cases[i].end, "31", "e3"), alloc("a2", "2019-01-01", "45", "e4"),
                        start("a2", cases[i].restart, "e5")};
        lk_derived d = derive(e, 5);
        cr_assert_eq(d.route.repeat_care, cases[i].repeat, "end %s, care again %s", cases[i].end, cases[i].restart);
        cr_assert_eq(d.route.episodes, 2);
        lk_derived_free(&d);
    }
}

/* The latest stop message decides the end, even one without an end date. */
Test(linker_derive, the_latest_stop_decides)
{
    jtm_event e[] = {alloc("a1", "2023-01-01", "45", "e1"), start("a1", "2023-01-10", "e2"),
                    stop("a1", "2023-01-10", "2023-05-01", "32", "e3"), stop("a1", "2023-01-10", "2023-06-01", "31", "e4")};
    lk_derived d = derive(e, 4);
    cr_assert_eq(d.n_episodes, 1);
    cr_assert_eq(d.episodes[0].ended_on, D("2023-06-01"));
    cr_assert_str_eq(d.episodes[0].end_reason, "31");
    lk_derived_free(&d);
    jtm_event later = stop("a1", "2023-01-10", NULL, "20", "e5");
    later.occurred_on = D("2023-07-01");
    jtm_event f[] = {e[0], e[1], e[2], e[3], later};
    d = derive(f, 5);
    cr_assert_eq(d.episodes[0].ended_on, JTM_NO_DATE);
    cr_assert_str_eq(d.episodes[0].end_reason, "20");
    /* no end: the facts run on (to_month empty) */
    cr_assert_eq(d.facts[d.n_facts - 1].kind, LK_FACT_CARE);
    cr_assert_eq(d.facts[d.n_facts - 1].to_month, JTM_NO_DATE);
    lk_derived_free(&d);
}

/* The child's gemeente and birth month are its latest event's; an episode's gemeente is its latest
 * allocation's. */
Test(linker_derive, a_child_that_moved)
{
    jtm_event e[] = {alloc("a1", "2023-01-01", "45", "e1"), ev(JTM_EV_FEED_JGZ, JTM_EV_T_CONTACT, "2023-09-01", "e2")};
    e[0].gemeente = "GM0482";
    e[1].gemeente = "GM0590";
    e[1].birth_ym = "2012-06";
    lk_derived d = derive(e, 2);
    cr_assert_str_eq(d.route.gemeente, "GM0590");
    cr_assert_eq(d.route.birth_month, D("2012-06-01"));
    cr_assert_str_eq(d.episodes[0].gemeente, "GM0482");
    lk_derived_free(&d);
}

/* Category: the latest allocation that has one, else the latest other message of the allocation,
 * else the linked request. */
Test(linker_derive, where_the_category_comes_from)
{
    jtm_event req = ev(JTM_EV_FEED_SOJ, JTM_EV_T_REQUEST, "2022-12-01", "r1");
    req.reference = "ref1";
    req.category = "54";
    req.referrer = "02";
    jtm_event a1 = alloc("a1", "2023-01-01", "43", "e1"), a2 = alloc("a1", "2023-02-01", NULL, "e2");
    a1.reference = a2.reference = "ref1";
    jtm_event s = start("a1", "2023-03-01", "e3");
    s.category = "46";
    jtm_event e[] = {req, a1, a2, s};
    lk_derived d = derive(e, 4);
    cr_assert_eq(d.n_episodes, 1, "the request is the allocation's");
    cr_assert_str_eq(d.episodes[0].category, "43");
    cr_assert_str_eq(d.episodes[0].referrer, "02");
    cr_assert_eq(d.episodes[0].requested_on, D("2022-12-01"));
    cr_assert_eq(d.episodes[0].allocated_on, D("2023-01-01"), "the earliest allocation date");
    cr_assert_str_eq(d.route.path, "VERBLIJF");
    lk_derived_free(&d);
    a1.category = NULL;
    jtm_event f[] = {req, a1, a2, s};
    d = derive(f, 4);
    cr_assert_str_eq(d.episodes[0].category, "46");
    lk_derived_free(&d);
    jtm_event g[] = {req};
    d = derive(g, 1);
    cr_assert_str_eq(d.episodes[0].category, "54");
    cr_assert_eq(d.episodes[0].has_invoiced, false, "no allocation, no invoiced amount");
    lk_derived_free(&d);
}

/* Same day: JGZ, then VERZUIM, then care levels in name order; equal neighbours merged. */
Test(linker_derive, same_day_stages_and_merged_neighbours)
{
    jtm_event sig = ev(JTM_EV_FEED_JGZ, JTM_EV_T_SIGNAL, "2023-03-01", "j1");
    jtm_event ref = ev(JTM_EV_FEED_JGZ, JTM_EV_T_REFERRAL, "2023-03-02", "j2");
    jtm_event contact = ev(JTM_EV_FEED_JGZ, JTM_EV_T_CONTACT, "2023-03-03", "j3");
    contact.outcome = "advies"; /* no stage */
    jtm_event mld = ev(JTM_EV_FEED_VERZUIM, JTM_EV_T_MELDING, "2023-03-01", "v1");
    jtm_event a1 = alloc("a1", "2023-02-01", "45", "e1"), a2 = alloc("a2", "2023-02-01", "43", "e2");
    jtm_event s1 = start("a1", "2023-03-01", "e3"), s2 = start("a2", "2023-03-01", "e4");
    jtm_event e[] = {s2, a2, mld, contact, ref, sig, a1, s1};
    lk_derived d = derive(e, 8);
    cr_assert_str_eq(d.route.path, "JGZ>VERZUIM>AMB>VERBLIJF>JGZ");
    cr_assert_eq(d.route.first_signal_on, D("2023-03-01"));
    cr_assert_eq(d.route.first_care_on, D("2023-03-01"));
    cr_assert_eq(d.route.episodes, 2);
    lk_derived_free(&d);
    jtm_event m2 = ev(JTM_EV_FEED_VERZUIM, JTM_EV_T_MELDING, "2023-04-01", "v2");
    jtm_event f[] = {sig, ref, m2};
    d = derive(f, 3);
    cr_assert_str_eq(d.route.path, "JGZ>VERZUIM");
    cr_assert_eq(d.route.first_care_on, JTM_NO_DATE);
    lk_derived_free(&d);
}

Test(linker_derive, invoices_credits_and_waiting)
{
    jtm_event a = alloc("a1", "2023-01-10", "45", "e1");
    jtm_event i1 = ev(JTM_EV_FEED_SOJ, JTM_EV_T_INVOICE, "2023-02-28", "i1"), i2 = ev(JTM_EV_FEED_SOJ, JTM_EV_T_INVOICE, "2023-03-31", "i2"),
             i3 = ev(JTM_EV_FEED_SOJ, JTM_EV_T_INVOICE, "2023-04-30", "i3");
    i1.allocation_no = i2.allocation_no = i3.allocation_no = "a1";
    i1.category = i2.category = i3.category = "45";
    i1.has_amount = i2.has_amount = true;
    i1.amount_cents = 10000;
    i2.amount_cents = 2500;
    i2.debit_credit = "C";
    jtm_event e[] = {a, i1, i2, i3};
    lk_derived d = derive(e, 4);
    cr_assert_eq(d.episodes[0].invoiced_cents, 7500);
    int32_t from, until;
    cr_assert(lk_episode_waiting(&d.episodes[0], &from, &until), "allocated, not started: waiting");
    cr_assert_eq(from, D("2023-01-10"));
    cr_assert_eq(until, JTM_NO_DATE);
    lk_derived_free(&d);
    /* started on the day of allocation: no day on the waiting list */
    jtm_event s = start("a1", "2023-01-10", "e2");
    jtm_event f[] = {a, s};
    d = derive(f, 2);
    cr_assert_not(lk_episode_waiting(&d.episodes[0], &from, &until));
    lk_derived_free(&d);
    /* a rejected request waits until its rejection */
    jtm_event req = ev(JTM_EV_FEED_SOJ, JTM_EV_T_REQUEST, "2023-05-01", "r1");
    req.reference = "ref9";
    jtm_event ans = ev(JTM_EV_FEED_SOJ, JTM_EV_T_ANSWER, "2023-05-20", "r2");
    ans.reference = "ref9";
    ans.answer = "1";
    jtm_event g[] = {req, ans};
    d = derive(g, 2);
    cr_assert(d.episodes[0].rejected);
    cr_assert(lk_episode_waiting(&d.episodes[0], &from, &until));
    cr_assert_eq(until, D("2023-05-20"));
    lk_derived_free(&d);
}

/* Population facts: one per gemeente and month for JGZ (any type) and absence meldingen, one per
 * started episode (residential for 43 and 44). */
Test(linker_derive, distinct_facts)
{
    jtm_event e[] = {ev(JTM_EV_FEED_JGZ, JTM_EV_T_CONTACT, "2023-03-01", "j1"), ev(JTM_EV_FEED_JGZ, JTM_EV_T_SIGNAL, "2023-03-20", "j2"),
                    ev(JTM_EV_FEED_JGZ, JTM_EV_T_CONTACT, "2023-04-02", "j3"), ev(JTM_EV_FEED_JGZ, JTM_EV_T_CONTACT, "2023-03-05", "j4"),
                    ev(JTM_EV_FEED_VERZUIM, JTM_EV_T_OTHER, "2023-03-05", "v1"),
                    alloc("a1", "2023-01-01", "44", "e1"), start("a1", "2023-02-15", "e2")};
    e[3].gemeente = "GM0482";
    lk_derived d = derive(e, 7);
    int jgz = 0, absence = 0, care = 0;
    for (size_t i = 0; i < d.n_facts; i++) {
        jgz += d.facts[i].kind == LK_FACT_JGZ;
        absence += d.facts[i].kind == LK_FACT_ABSENCE;
        if (d.facts[i].kind == LK_FACT_CARE) {
            care++;
            cr_assert(d.facts[i].residential);
            cr_assert_eq(d.facts[i].from_month, D("2023-02-01"));
        }
    }
    cr_assert_eq(jgz, 3, "March GM0505, March GM0482, April GM0505");
    cr_assert_eq(absence, 0, "only meldingen count");
    cr_assert_eq(care, 1);
    lk_derived_free(&d);
}
