/* The rules of wh.recompute_children (schemas/sql/0009), for one child at a time. Each block below
 * names the CTE of that function it mirrors; where SQL semantics are subtle (NULLs in array_agg
 * picks, DISTINCT over NULLs, least() skipping NULLs, date + interval) the comment says so. */
#include "derive.h"

#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "grow.h"

/* alc: one allocation_no's allocation, start, stop and invoice events. "First" below is first in
 * the CTE's order: allocation messages before the others, then latest first. */
typedef struct alc_group {
    const char *allocation_no;
    const jtm_event *latest_alloc; /* first allocation message */
    const jtm_event *latest_other; /* first of the others */
    const jtm_event *latest_stop;
    const char *reference, *provider_agb; /* of the first allocation message that has one */
    const char *category_alloc, *category_other;
    int32_t allocated_on, start_min, stop_start_min;
    __int128 invoiced;
} alc_group;

/* req: the first request (earliest) per reference, and rej: the first rejection of it. */
typedef struct req_row {
    const jtm_event *request;
    int32_t rejected_on;
} req_row;

typedef struct stage_row {
    int32_t d;
    int rank; /* 1 JGZ, 2 VERZUIM, 3 care */
    const char *stage;
} stage_row;

static bool is(const char *s, const char *lit) { return s && strcmp(s, lit) == 0; }

/* SQL's IS NOT DISTINCT FROM for text */
static bool same(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* NULLs first, then bytewise: any fixed total order will do for DISTINCT */
static int cmp_opt(const char *a, const char *b)
{
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

static int32_t min_date(int32_t a, int32_t b)
{
    if (a == JTM_NO_DATE)
        return b;
    if (b == JTM_NO_DATE)
        return a;
    return a < b ? a : b;
}

static int32_t month_start(int32_t days)
{
    jtm_date d = jtm_date_from_days(days);
    d.day = 1;
    return (int32_t)jtm_date_to_days(d);
}

/* date + interval 'N years': the same day N years on, the month's last day when it has fewer. */
static int32_t plus_years(int32_t days, int years)
{
    jtm_date d = jtm_date_from_days(days);
    d.year += years;
    int last = jtm_date_days_in_month(d.year, d.month);
    if (d.day > last)
        d.day = last;
    return (int32_t)jtm_date_to_days(d);
}

/* to_date(birth_ym, 'YYYY-MM'); JTM_NO_DATE for anything else (staging's CHECK lets only that in). */
static int32_t birth_month(const char *ym)
{
    if (!ym || strlen(ym) != 7 || ym[4] != '-')
        return JTM_NO_DATE;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (ym[i] < '0' || ym[i] > '9'))
            return JTM_NO_DATE;
    jtm_date d = {atoi(ym), (ym[5] - '0') * 10 + (ym[6] - '0'), 1};
    if (d.month < 1 || d.month > 12)
        return JTM_NO_DATE;
    return (int32_t)jtm_date_to_days(d);
}

const char *lk_care_level(const char *c)
{
    if (is(c, "41") || is(c, "45"))
        return "AMB";
    if (is(c, "51") || is(c, "52") || is(c, "54"))
        return "GGZ";
    if (is(c, "43") || is(c, "44"))
        return "VERBLIJF";
    if (is(c, "46"))
        return "CRISIS";
    if (is(c, "48"))
        return "JB";
    if (is(c, "47"))
        return "JR";
    return "OVERIG";
}

bool lk_episode_waiting(const lk_episode *e, int32_t *from, int32_t *until)
{
    /* coalesce(requested_on, allocated_on); least() skips NULLs */
    int32_t f = e->requested_on != JTM_NO_DATE ? e->requested_on : e->allocated_on;
    int32_t u = min_date(min_date(e->started_on, e->ended_on), e->rejected_on);
    if (f == JTM_NO_DATE || (u != JTM_NO_DATE && u <= f))
        return false;
    *from = f;
    *until = u;
    return true;
}

void lk_derived_init(lk_derived *d) { memset(d, 0, sizeof *d); }

void lk_derived_free(lk_derived *d)
{
    free(d->episodes);
    free(d->facts);
    free(d->groups);
    free(d->requests);
    free(d->stages);
    free(d->path_buf);
    memset(d, 0, sizeof *d);
}

/* The rules' "latest" order: occurred_on, recorded_at, event_id descending (event_id bytewise, as
 * COLLATE "C"); the feed only orders what the rules leave tied, so the result never depends on the
 * order the events came in. */
static int latest_first(const void *pa, const void *pb)
{
    const jtm_event *a = pa, *b = pb;
    if (a->occurred_on != b->occurred_on)
        return a->occurred_on > b->occurred_on ? -1 : 1;
    if (a->recorded_at != b->recorded_at)
        return a->recorded_at > b->recorded_at ? -1 : 1;
    int c = strcmp(a->event_id, b->event_id);
    if (c != 0)
        return c > 0 ? -1 : 1;
    return (a->feed < b->feed) - (a->feed > b->feed);
}

static int stage_order(const void *pa, const void *pb)
{
    const stage_row *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    return strcmp(a->stage, b->stage);
}

static int fact_order(const void *pa, const void *pb)
{
    const lk_fact *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    if (a->from_month != b->from_month)
        return a->from_month < b->from_month ? -1 : 1;
    return cmp_opt(a->gemeente, b->gemeente);
}

static bool is_alloc_event(const jtm_event *e)
{
    return e->feed == JTM_EV_FEED_SOJ && e->allocation_no &&
           (e->type == JTM_EV_T_ALLOCATION || e->type == JTM_EV_T_START || e->type == JTM_EV_T_STOP || e->type == JTM_EV_T_INVOICE);
}

/* alc: events are latest first, so the first of each kind seen is the one the SQL picks. */
static int build_groups(lk_derived *d, const jtm_event *ev, size_t n, size_t *ngroups)
{
    alc_group *g = d->groups;
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        const jtm_event *e = &ev[i];
        if (!is_alloc_event(e))
            continue;
        size_t k = 0;
        while (k < ng && strcmp(g[k].allocation_no, e->allocation_no) != 0)
            k++;
        if (k == ng) {
            if (lk_grow(&d->groups, &d->cap_groups, ng + 1, sizeof *g) != 0)
                return -1;
            g = d->groups;
            memset(&g[k], 0, sizeof g[k]);
            g[k].allocation_no = e->allocation_no;
            g[k].allocated_on = g[k].start_min = g[k].stop_start_min = JTM_NO_DATE;
            ng++;
        }
        alc_group *a = &g[k];
        if (e->type == JTM_EV_T_ALLOCATION) {
            if (!a->latest_alloc)
                a->latest_alloc = e;
            if (!a->reference)
                a->reference = e->reference;
            if (!a->provider_agb)
                a->provider_agb = e->provider_agb;
            if (!a->category_alloc)
                a->category_alloc = e->category;
            a->allocated_on = min_date(a->allocated_on, e->allocated_on);
            continue;
        }
        if (!a->latest_other)
            a->latest_other = e;
        if (!a->category_other)
            a->category_other = e->category;
        if (e->type == JTM_EV_T_START)
            a->start_min = min_date(a->start_min, e->start_date);
        else if (e->type == JTM_EV_T_STOP) {
            a->stop_start_min = min_date(a->stop_start_min, e->start_date);
            if (!a->latest_stop)
                a->latest_stop = e;
        } else if (e->has_amount) /* invoice: debits minus credits; a NULL amount adds nothing */
            a->invoiced += is(e->debit_credit, "C") ? -(__int128)e->amount_cents : (__int128)e->amount_cents;
    }
    *ngroups = ng;
    return 0;
}

/* req and rej: per reference, the earliest request (events are latest first, so the last seen) and
 * the earliest rejecting answer. */
static int build_requests(lk_derived *d, const jtm_event *ev, size_t n, size_t *nreq)
{
    req_row *r = d->requests;
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        const jtm_event *e = &ev[i];
        if (e->feed != JTM_EV_FEED_SOJ || e->type != JTM_EV_T_REQUEST || !e->reference)
            continue;
        size_t k = 0;
        while (k < nr && strcmp(r[k].request->reference, e->reference) != 0)
            k++;
        if (k == nr) {
            if (lk_grow(&d->requests, &d->cap_requests, nr + 1, sizeof *r) != 0)
                return -1;
            r = d->requests;
            r[k].rejected_on = JTM_NO_DATE;
            nr++;
        }
        r[k].request = e;
    }
    for (size_t i = 0; i < n; i++) {
        const jtm_event *e = &ev[i];
        if (e->feed != JTM_EV_FEED_SOJ || e->type != JTM_EV_T_ANSWER || !e->reference || !is(e->answer, "1"))
            continue;
        for (size_t k = 0; k < nr; k++)
            if (strcmp(r[k].request->reference, e->reference) == 0)
                r[k].rejected_on = min_date(r[k].rejected_on, e->occurred_on);
    }
    *nreq = nr;
    return 0;
}

static lk_episode *new_episode(lk_derived *d)
{
    if (lk_grow((void **)&d->episodes, &d->cap_episodes, d->n_episodes + 1, sizeof *d->episodes) != 0)
        return NULL;
    lk_episode *e = &d->episodes[d->n_episodes++];
    memset(e, 0, sizeof *e);
    e->requested_on = e->allocated_on = e->started_on = e->ended_on = e->rejected_on = JTM_NO_DATE;
    return e;
}

/* ep: an episode per allocation group (with the request its reference names), then one per
 * request that no allocation names. */
static int build_episodes(lk_derived *d, size_t ngroups, size_t nreq)
{
    const alc_group *g = d->groups;
    const req_row *r = d->requests;
    for (size_t k = 0; k < ngroups; k++) {
        const alc_group *a = &g[k];
        const jtm_event *req = NULL;
        for (size_t j = 0; a->reference && j < nreq && !req; j++)
            if (strcmp(r[j].request->reference, a->reference) == 0)
                req = r[j].request;
        if (a->invoiced > INT64_MAX || a->invoiced < INT64_MIN)
            return -1; /* sum(...)::bigint fails in SQL too */
        lk_episode *e = new_episode(d);
        if (!e)
            return -1;
        /* coalesce(alloc_gemeente, request's, the group's first event's) */
        const char *alloc_gm = a->latest_alloc ? a->latest_alloc->gemeente : NULL;
        const char *first_gm = a->latest_alloc ? a->latest_alloc->gemeente : a->latest_other->gemeente;
        e->gemeente = alloc_gm ? alloc_gm : req && req->gemeente ? req->gemeente : first_gm;
        const char *cat = a->category_alloc ? a->category_alloc : a->category_other;
        e->category = cat ? cat : req ? req->category : NULL;
        e->provider_agb = a->provider_agb ? a->provider_agb : req ? req->provider_agb : NULL;
        e->referrer = req ? req->referrer : NULL;
        e->requested_on = req ? req->occurred_on : JTM_NO_DATE;
        e->allocated_on = a->allocated_on;
        e->started_on = a->start_min != JTM_NO_DATE ? a->start_min : a->stop_start_min;
        e->ended_on = a->latest_stop ? a->latest_stop->end_date : JTM_NO_DATE;
        e->end_reason = a->latest_stop ? a->latest_stop->end_reason : NULL;
        e->has_invoiced = true;
        e->invoiced_cents = (int64_t)a->invoiced;
    }
    for (size_t j = 0; j < nreq; j++) {
        const jtm_event *req = r[j].request;
        bool allocated = false;
        for (size_t k = 0; k < ngroups && !allocated; k++)
            allocated = g[k].reference && strcmp(g[k].reference, req->reference) == 0;
        if (allocated)
            continue;
        lk_episode *e = new_episode(d);
        if (!e)
            return -1;
        e->gemeente = req->gemeente;
        e->category = req->category;
        e->provider_agb = req->provider_agb;
        e->referrer = req->referrer;
        e->requested_on = req->occurred_on;
        e->rejected = r[j].rejected_on != JTM_NO_DATE;
        e->rejected_on = r[j].rejected_on;
    }
    return 0;
}

static bool is_jgz_stage(const jtm_event *e)
{
    return e->feed == JTM_EV_FEED_JGZ &&
           (e->type == JTM_EV_T_SIGNAL || e->type == JTM_EV_T_REFERRAL || e->type == JTM_EV_T_MAZL ||
            (e->type == JTM_EV_T_CONTACT && is(e->outcome, "verwijzing")));
}

/* stage, staged, paths, rep: the path of stage events in date order with equal neighbours
 * merged, the first signal and care dates, started episodes, repeat care. */
static int build_route(lk_derived *d, const jtm_event *ev, size_t n)
{
    lk_route *rt = &d->route;
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        ns += is_jgz_stage(&ev[i]) || (ev[i].feed == JTM_EV_FEED_VERZUIM && ev[i].type == JTM_EV_T_MELDING);
    for (size_t k = 0; k < d->n_episodes; k++)
        ns += d->episodes[k].started_on != JTM_NO_DATE;
    if (lk_grow(&d->stages, &d->cap_stages, ns, sizeof(stage_row)) != 0)
        return -1;
    stage_row *s = d->stages;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_jgz_stage(&ev[i]))
            s[m++] = (stage_row){ev[i].occurred_on, 1, "JGZ"};
        else if (ev[i].feed == JTM_EV_FEED_VERZUIM && ev[i].type == JTM_EV_T_MELDING)
            s[m++] = (stage_row){ev[i].occurred_on, 2, "VERZUIM"};
    }
    for (size_t k = 0; k < d->n_episodes; k++)
        if (d->episodes[k].started_on != JTM_NO_DATE)
            s[m++] = (stage_row){d->episodes[k].started_on, 3, lk_care_level(d->episodes[k].category)};
    if (m > 1)
        qsort(s, m, sizeof *s, stage_order);

    rt->path = NULL;
    rt->first_signal_on = rt->first_care_on = JTM_NO_DATE;
    rt->episodes = 0;
    size_t len = 0;
    for (size_t i = 0; i < m; i++) {
        if (s[i].rank < 3)
            rt->first_signal_on = min_date(rt->first_signal_on, s[i].d);
        else {
            rt->first_care_on = min_date(rt->first_care_on, s[i].d);
            rt->episodes++;
        }
        if (i > 0 && strcmp(s[i].stage, s[i - 1].stage) == 0)
            continue;
        size_t add = strlen(s[i].stage) + 1;
        if (lk_grow((void **)&d->path_buf, &d->path_cap, len + add + 1, 1) != 0)
            return -1;
        if (len > 0)
            d->path_buf[len++] = '>';
        memcpy(d->path_buf + len, s[i].stage, add - 1);
        len += add - 1;
        d->path_buf[len] = '\0';
        rt->path = d->path_buf;
    }

    /* rep: some episode started after another (or the same) ended, within five years of that end */
    rt->repeat_care = false;
    for (size_t a = 0; a < d->n_episodes && !rt->repeat_care; a++) {
        int32_t end = d->episodes[a].ended_on;
        if (end == JTM_NO_DATE)
            continue;
        int32_t limit = plus_years(end, 5);
        for (size_t b = 0; b < d->n_episodes && !rt->repeat_care; b++) {
            int32_t start = d->episodes[b].started_on;
            rt->repeat_care = start != JTM_NO_DATE && start > end && start <= limit;
        }
    }
    return 0;
}

static lk_fact *new_fact(lk_derived *d)
{
    if (lk_grow((void **)&d->facts, &d->cap_facts, d->n_facts + 1, sizeof *d->facts) != 0)
        return NULL;
    return &d->facts[d->n_facts++];
}

/* The population facts: JGZ and absence months (DISTINCT over gemeente and month), one per started
 * episode. */
static int build_facts(lk_derived *d, const jtm_event *ev, size_t n)
{
    for (int kind = LK_FACT_JGZ; kind <= LK_FACT_ABSENCE; kind++) {
        size_t first = d->n_facts;
        for (size_t i = 0; i < n; i++) {
            const jtm_event *e = &ev[i];
            bool counts = kind == LK_FACT_JGZ ? e->feed == JTM_EV_FEED_JGZ
                                              : e->feed == JTM_EV_FEED_VERZUIM && e->type == JTM_EV_T_MELDING;
            if (!counts)
                continue;
            lk_fact *f = new_fact(d);
            if (!f)
                return -1;
            int32_t month = month_start(e->occurred_on);
            *f = (lk_fact){kind, e->gemeente, month, month, false};
        }
        lk_fact *f = d->facts + first;
        size_t m = d->n_facts - first, kept = 0;
        if (m > 1)
            qsort(f, m, sizeof *f, fact_order);
        for (size_t i = 0; i < m; i++)
            if (kept == 0 || f[i].from_month != f[kept - 1].from_month || !same(f[i].gemeente, f[kept - 1].gemeente))
                f[kept++] = f[i];
        d->n_facts = first + kept;
    }
    for (size_t k = 0; k < d->n_episodes; k++) {
        const lk_episode *e = &d->episodes[k];
        if (e->started_on == JTM_NO_DATE)
            continue;
        lk_fact *f = new_fact(d);
        if (!f)
            return -1;
        *f = (lk_fact){LK_FACT_CARE, e->gemeente, month_start(e->started_on),
                       e->ended_on == JTM_NO_DATE ? JTM_NO_DATE : month_start(e->ended_on),
                       is(e->category, "43") || is(e->category, "44")};
    }
    return 0;
}

int lk_derive_child(lk_derived *d, jtm_event *ev, size_t n)
{
    d->n_episodes = 0;
    d->n_facts = 0;
    memset(&d->route, 0, sizeof d->route);
    if (n == 0)
        return 0;
    if (n > 1)
        qsort(ev, n, sizeof *ev, latest_first);
    size_t ngroups, nreq;
    if (build_groups(d, ev, n, &ngroups) != 0 || build_requests(d, ev, n, &nreq) != 0 ||
        build_episodes(d, ngroups, nreq) != 0 || build_route(d, ev, n) != 0 || build_facts(d, ev, n) != 0)
        return -1;
    /* child: gemeente and birth month of the latest event */
    d->route.present = true;
    d->route.gemeente = ev[0].gemeente;
    d->route.birth_month = birth_month(ev[0].birth_ym);
    return 0;
}
