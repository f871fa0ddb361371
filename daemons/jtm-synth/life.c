/* The life of one synthetic child: who it is, the JGZ moments it passes, its school absence, and its
 * youth-care episodes, as the three suppliers would record them.
 *
 * Shape of the model (rates per year, tuned so that about 1 in 7 children is in care in a year):
 *  - JGZ: 13 moments in 0-4 (the first a home visit), school moments at about 5y2m (groep2), 10y3m
 *    (groep7), 13y3m and 15y3m (secondary); extra "indicatie" contacts; most outcomes geen_zorg or
 *    advies, a few referrals and signals; MAZL consults for some secondary pupils.
 *  - Absence: per school year a small chance of a melding (more in secondary and MBO), kinds in
 *    realistic proportion, most closed by a resolved event weeks later; thuiszitters (lrv) stay out
 *    for months and get their end_date in a status 2 resend of the melding. Rare exemptions.
 *  - Care: requests arrive as an age-dependent Poisson process scaled by a per-child risk that grows
 *    after each episode (repeat care). A request may be rejected, or is allocated after a skewed
 *    number of decision days (median about 3 weeks), care starts after start days (median about 4
 *    weeks), runs for a category-dependent time, stops with an end_reason and is invoiced monthly.
 *    Crisis and justice care often come without a request. Some children get a JGZ signal, a referral
 *    or an absence melding before their first request, and some get a second episode in parallel.
 *  - Window: only what happens in [start, end) is sent. A care episode or absence case that is still
 *    open on the start date is sent as a backlog at the start (its opening events with their real
 *    dates, recorded in the first hours of the window), so that every later event refers to
 *    something in the stream.
 *  - Noise (own random stream): late events (recorded weeks after they happened), duplicates (the
 *    same message sent again later), corrections (status 2) and withdrawals (status 3, leaf events
 *    only, so nothing that later events refer to is ever void), malformed copies for DLQ tests. */
#include <math.h>
#include <string.h>

#include "bsn.h"
#include "world.h"

#define DAY 86400L

typedef struct child {
    const synth_world *w;
    const synth_params *p;
    const synth_sink *sink;
    synth_rng r;  /* life */
    synth_rng nr; /* noise */
    synth_event id; /* identity fields, copied into every event */
    uint32_t idx, k, seq;
    long birth, start, end;
    int64_t start_ts;
    int muni, po, vo, so_track, mbo_track;
    double risk;
    int rc; /* first sink error */
} child;

static long age_days(const child *c, long day) { return day - c->birth; }

/* A working-hours timestamp lag_lo..lag_hi days after day. */
static int64_t stamp(child *c, long day, int lag_lo, int lag_hi)
{
    long d = day + synth_rng_range(&c->r, lag_lo, lag_hi);
    return (int64_t)d * DAY + 7 * 3600 + synth_rng_range(&c->r, 0, 11 * 3600 - 1);
}

static synth_event make(child *c, int type, long occurred)
{
    synth_event ev = c->id;
    ev.feed = (uint8_t)synth_type_feed[type];
    ev.type = (uint8_t)type;
    ev.status = 1;
    ev.occurred = (int32_t)occurred;
    ev.id_k = ++c->k;
    ev.d1 = ev.d2 = ev.d3 = -1;
    ev.n1 = ev.n2 = -1;
    ev.provider = ev.school = SYNTH_NONE;
    return ev;
}

static void deliver(child *c, synth_event *ev)
{
    if (c->rc)
        return;
    ev->seq = (uint64_t)c->idx << 24 | (c->seq++ & 0xFFFFFF);
    c->rc = c->sink->add(c->sink->ctx, ev);
}

/* A status 2 change of one non-key field, so the correction is visible but every reference
 * (reference, allocation_no, melding_ref) still holds. */
static void change_something(child *c, synth_event *ev)
{
    switch (ev->type) {
    case SYNTH_T_CONTACT: ev->c1 = (uint8_t)((ev->c1 + 1) % 4); break;
    case SYNTH_T_SIGNAL: ev->c0 = (uint8_t)((ev->c0 + 1) % 6); break;
    case SYNTH_T_REFERRAL: ev->c0 = (uint8_t)((ev->c0 + 1) % 7); break;
    case SYNTH_T_MAZL: ev->c1 = (uint8_t)((ev->c1 + 1) % 4); break;
    case SYNTH_T_MELDING:
        if (ev->n1 >= 0)
            ev->n1 += synth_rng_range(&c->nr, 1, 8);
        break;
    case SYNTH_T_VRIJSTELLING:
        if (ev->d2 >= 0)
            ev->d2 += 30;
        break;
    case SYNTH_T_RESOLVED: ev->c0 = (uint8_t)((ev->c0 + 1) % 5); break;
    case SYNTH_T_REQUEST: ev->d1 += 7; break;
    case SYNTH_T_ANSWER:
        if (ev->c1)
            ev->c1 = (uint8_t)(ev->c1 % 9 + 1);
        break;
    case SYNTH_T_ALLOCATION: ev->n1 += 1; break;
    case SYNTH_T_STOP: ev->c0 = (uint8_t)(ev->c0 == 0 ? 3 : 0); break;
    case SYNTH_T_INVOICE: ev->n2 += 100 * synth_rng_range(&c->nr, 1, 50); break;
    default: break;
    }
}

static int is_leaf(int type)
{
    return type == SYNTH_T_CONTACT || type == SYNTH_T_SIGNAL || type == SYNTH_T_REFERRAL ||
           type == SYNTH_T_MAZL || type == SYNTH_T_VRIJSTELLING || type == SYNTH_T_INVOICE;
}

/* Applies the window, placeholders and noise, then delivers. backlog: the event belongs to a case
 * still open at the start, so it is sent even when it happened before the window. */
static void push(child *c, synth_event ev, int backlog)
{
    const synth_params *p = c->p;
    if (ev.occurred >= c->end || ev.recorded_at / DAY >= c->end + 400)
        return;
    if (ev.recorded_at < c->start_ts) {
        if (!backlog)
            return;
        /* Squeeze the history into the first six hours of the window, order kept. */
        const int64_t span = 8LL * 365 * DAY;
        int64_t off = ev.recorded_at - (c->start_ts - span);
        if (off < 0)
            off = 0;
        ev.recorded_at = c->start_ts + 3600 + off * (6 * 3600) / span;
    }
    if (ev.occurred - c->birth < 92 && synth_rng_bern(&c->nr, p->placeholders)) {
        /* 000000000 (unborn) lingers on the first home visit; later it is 999999999 (unknown). */
        ev.bsn = synth_rng_bern(&c->nr, 0.3) && ev.occurred - c->birth < 15 ? 0u : 999999999u;
        ev.noise |= SYNTH_NOISE_PLACEHOLDER;
    }
    if (p->late > 0 && synth_rng_bern(&c->nr, p->late)) {
        ev.recorded_at += (int64_t)synth_rng_range(&c->nr, 14, 70) * DAY;
        ev.noise |= SYNTH_NOISE_LATE;
    }
    ev.send_at = ev.recorded_at;
    deliver(c, &ev);

    if (p->dirty > 0 && synth_rng_bern(&c->nr, p->dirty)) {
        synth_event bad = ev;
        bad.noise = 0;
        bad.dirty = (uint8_t)synth_rng_range(&c->nr, 1, 8);
        bad.send_at += synth_rng_range(&c->nr, 1, 600);
        deliver(c, &bad);
    }
    if (p->duplicates > 0 && synth_rng_bern(&c->nr, p->duplicates)) {
        synth_event dup = ev;
        dup.noise = SYNTH_NOISE_DUP;
        dup.send_at += synth_rng_range(&c->nr, 600, 3 * (int)DAY);
        deliver(c, &dup);
    }
    if (p->corrections > 0 && synth_rng_bern(&c->nr, p->corrections)) {
        synth_event fix = ev;
        fix.noise = 0;
        if (is_leaf(ev.type) && synth_rng_bern(&c->nr, 0.3))
            fix.status = 3;
        else {
            fix.status = 2;
            change_something(c, &fix);
        }
        fix.recorded_at += (int64_t)synth_rng_range(&c->nr, 1, 30) * DAY + synth_rng_range(&c->nr, 0, 3600);
        fix.send_at = fix.recorded_at;
        deliver(c, &fix);
    }
}

/* ---- JGZ ---- */

static void jgz_signal(child *c, long day, int domain)
{
    synth_event ev = make(c, SYNTH_T_SIGNAL, day);
    ev.c0 = (uint8_t)domain;
    ev.recorded_at = stamp(c, day, 0, 2);
    push(c, ev, 0);
}

static void jgz_referral(child *c, long day, int to)
{
    synth_event ev = make(c, SYNTH_T_REFERRAL, day);
    ev.c0 = (uint8_t)to;
    ev.recorded_at = stamp(c, day, 0, 2);
    push(c, ev, 0);
}

static void jgz_contact(child *c, long day, int moment, int school)
{
    static const double outcome_w[] = {0.68, 0.22, 0.07, 0.03};
    static const double domain_w[] = {0.40, 0.20, 0.20, 0.05, 0.05, 0.10};
    static const double to_w[] = {0.35, 0.25, 0.15, 0.10, 0.08, 0.02, 0.05};
    synth_event ev = make(c, SYNTH_T_CONTACT, day);
    ev.c0 = (uint8_t)moment;
    ev.c1 = (uint8_t)synth_rng_pick(&c->r, outcome_w, 4);
    ev.school = (uint16_t)(school >= 0 ? school : SYNTH_NONE);
    ev.recorded_at = stamp(c, day, 0, 3);
    int outcome = ev.c1;
    push(c, ev, 0);
    if (outcome == OUT_VERWIJZING)
        jgz_referral(c, day + synth_rng_range(&c->r, 0, 7), synth_rng_pick(&c->r, to_w, 7));
    else if (synth_rng_bern(&c->r, 0.03))
        jgz_signal(c, day + synth_rng_range(&c->r, 0, 3), synth_rng_pick(&c->r, domain_w, 6));
}

static void sim_jgz(child *c)
{
    static const int ages04[] = {14, 28, 56, 91, 122, 183, 274, 335, 426, 548, 730, 1095, 1370};
    const long lo = c->start - 60, hi = c->end + 60;
    if (c->birth + 1500 >= lo)
        for (size_t i = 0; i < sizeof ages04 / sizeof *ages04; i++) {
            long day = c->birth + ages04[i] + synth_rng_range(&c->r, i ? -5 : -4, 10);
            int seen = synth_rng_bern(&c->r, 0.95);
            if (seen && day >= lo && day < hi)
                jgz_contact(c, day, i == 0 ? MOM_HUISBEZOEK : MOM_04, -1);
        }
    static const struct {
        int moment, age;
        double coverage;
    } school[] = {{MOM_GROEP2, 5 * 365 + 60, 0.88},
                  {MOM_GROEP7, 10 * 365 + 90, 0.85},
                  {MOM_VO_ONDER, 13 * 365 + 90, 0.80},
                  {MOM_VO_BOVEN, 15 * 365 + 90, 0.75}};
    for (int i = 0; i < 4; i++) {
        long day = c->birth + school[i].age + synth_rng_range(&c->r, -60, 60);
        int seen = synth_rng_bern(&c->r, school[i].coverage);
        if (!seen || day < lo || day >= hi)
            continue;
        int sch = i < 2 ? c->po : c->vo;
        jgz_contact(c, day, school[i].moment, sch);
    }
    /* Extra contacts on indication and MAZL consults, year by year through the window. */
    for (long y = c->start; y < c->end; y += 365) {
        long day = y + synth_rng_range(&c->r, 0, 364);
        long a = age_days(c, day);
        int indic = synth_rng_bern(&c->r, 0.04), mazl = synth_rng_bern(&c->r, 0.025);
        if (a < 0 || a >= 18 * 365)
            continue;
        if (indic)
            jgz_contact(c, day, MOM_INDICATIE, a >= 4 * 365 ? (a < 12 * 365 ? c->po : c->vo) : -1);
        if (mazl && a >= 12 * 365) {
            static const double trig_w[] = {0.55, 0.35, 0.10}, adv_w[] = {0.45, 0.30, 0.20, 0.05};
            synth_event ev = make(c, SYNTH_T_MAZL, day);
            ev.c0 = (uint8_t)synth_rng_pick(&c->r, trig_w, 3);
            ev.c1 = (uint8_t)synth_rng_pick(&c->r, adv_w, 4);
            ev.recorded_at = stamp(c, day, 0, 3);
            push(c, ev, 0);
        }
    }
}

/* ---- absence ---- */

static int school_of_type(child *c, int st)
{
    const synth_world *w = c->w;
    switch (st) {
    case ST_PO: return c->po;
    case ST_VO: return c->vo;
    case ST_MBO: return w->mbo[c->idx % (uint32_t)w->n_mbo];
    default: return w->so[c->idx % (uint32_t)w->n_so];
    }
}

/* One absence case: the melding and, usually, its resolution (for lrv also the status 2 resend
 * with end_date). */
static void absence_case(child *c, long day, int kind, int st)
{
    synth_event ev = make(c, SYNTH_T_MELDING, day);
    ev.c0 = (uint8_t)kind;
    ev.c1 = (uint8_t)st;
    ev.school = (uint16_t)school_of_type(c, st);
    switch (kind) {
    case KIND_16U:
        ev.d1 = (int32_t)(day - 28 - synth_rng_range(&c->r, 0, 5));
        ev.d2 = (int32_t)(day - synth_rng_range(&c->r, 1, 4));
        ev.n1 = synth_rng_range(&c->r, 16, 40);
        break;
    case KIND_LUXE:
        ev.d1 = (int32_t)(day - synth_rng_range(&c->r, 8, 25));
        ev.d2 = ev.d1 + synth_rng_range(&c->r, 1, 6);
        ev.n1 = (ev.d2 - ev.d1 + 1) * 5;
        break;
    case KIND_OVERIG:
        ev.d1 = (int32_t)(day - synth_rng_range(&c->r, 7, 28));
        ev.d2 = (int32_t)(day - 1);
        ev.n1 = synth_rng_range(&c->r, 8, 30);
        break;
    case KIND_LRV: ev.d1 = (int32_t)(day - synth_rng_range(&c->r, 28, 60)); break;
    default: ev.d1 = (int32_t)(day - synth_rng_range(&c->r, 0, 45)); break;
    }
    ev.recorded_at = stamp(c, day, 0, 2);
    long res = -1;
    int outcome = 0;
    if (kind == KIND_LRV) {
        static const double w[] = {0.55, 0.25, 0.10, 0.02, 0.08};
        if (synth_rng_bern(&c->r, 0.9)) {
            /* At least five weeks: a correction of the melding (within 30 days) never lands
             * after the resend that carries its end_date. */
            res = day + (long)fmin(fmax(synth_rng_lognormal(&c->r, 90, 0.7), 35), 600);
            outcome = synth_rng_pick(&c->r, w, 5);
        }
    } else if (synth_rng_bern(&c->r, 0.85)) {
        static const double w[] = {0.75, 0.10, 0.02, 0.05, 0.08};
        res = day + synth_rng_range(&c->r, 7, 60);
        outcome = synth_rng_pick(&c->r, w, 5);
    }
    int backlog = res >= 0 && res + 5 >= c->start;
    synth_event melding = ev;
    push(c, ev, backlog);
    if (res < 0)
        return;
    if (kind == KIND_LRV) {
        melding.status = 2;
        melding.d2 = (int32_t)res;
        melding.recorded_at = stamp(c, res, 0, 1);
        melding.noise = 0;
        push(c, melding, 0);
    }
    synth_event r = make(c, SYNTH_T_RESOLVED, res);
    r.ref_k = melding.id_k;
    r.c0 = (uint8_t)outcome;
    r.recorded_at = stamp(c, res, 0, 2);
    push(c, r, 0);
}

static void sim_absence(child *c)
{
    jtm_date s = jtm_date_from_days(c->start), e = jtm_date_from_days(c->end);
    for (int y = s.year - 1; y <= e.year; y++) {
        long ys = jtm_date_to_days((jtm_date){y, 8, 1});
        long a = (ys + 61 - c->birth) / 365; /* age on October 1st */
        double u = synth_rng_unif(&c->r);
        long day = ys + 31 + synth_rng_range(&c->r, 0, 290);
        int vrij = synth_rng_bern(&c->r, 0.0025);
        if (a < 5 || a > 22 || ys + 365 < c->start - 400 || ys >= c->end)
            continue;
        int st;
        double p;
        if (a <= 11) {
            st = c->so_track ? ST_SO : ST_PO;
            p = c->so_track ? 0.06 : 0.012;
        } else if (a <= 15 || (a <= 17 && !c->mbo_track)) {
            st = c->so_track ? ST_SO : ST_VO;
            p = c->so_track ? 0.06 : 0.045;
        } else if (a <= 17) {
            st = ST_MBO;
            p = 0.06;
        } else {
            st = ST_MBO;
            p = 0.015; /* RMC: 18-23 without a qualification */
        }
        if (u < p) {
            int kind;
            if (a >= 18)
                kind = KIND_RMC;
            else {
                static const double po_w[] = {0.45, 0.08, 0.25, 0.04, 0, 0.18};
                static const double vo_w[] = {0.60, 0.12, 0.07, 0.03, 0, 0.18};
                kind = synth_rng_pick(&c->r, st == ST_PO ? po_w : vo_w, 6);
            }
            absence_case(c, day, kind, st);
        }
        if (vrij && a <= 17) {
            static const double art_w[] = {0.40, 0.05, 0.15, 0.05, 0.10, 0.10, 0.15};
            synth_event ev = make(c, SYNTH_T_VRIJSTELLING, day);
            ev.c0 = (uint8_t)synth_rng_pick(&c->r, art_w, 7);
            ev.d1 = (int32_t)day;
            ev.d2 = synth_rng_bern(&c->r, 0.8) ? (int32_t)(ys + 364) : -1;
            ev.recorded_at = stamp(c, day, 0, 5);
            push(c, ev, 0);
        }
    }
}

/* ---- care ---- */

static const int care_cats[] = {40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55};
static const double care_w[] = {0.02, 0.05, 0.01, 0.03, 0.03, 0.50, 0.03, 0.03,
                                0.05, 0.01, 0.01, 0.08, 0.09, 0.01, 0.05, 0.005};
static const int care_median_days[] = {120, 180, 200, 300, 300, 150, 25, 270,
                                       365, 120, 180, 120, 240, 120, 240, 365};

/* New-request rate per year at an age, before the child's own risk factor. */
static double hazard(long age)
{
    if (age < 0)
        return 0;
    if (age < 4 * 365)
        return 0.045;
    if (age < 12 * 365)
        return 0.110;
    if (age < 18 * 365)
        return 0.140;
    if (age < 23 * 365)
        return 0.020;
    return 0;
}

static double cat_share(int cat)
{
    for (size_t i = 0; i < sizeof care_cats / sizeof *care_cats; i++)
        if (care_cats[i] == cat)
            return care_w[i];
    return 0;
}

/* Multiplier of waiting times for a request on day in a spike of this municipality and category
 * (1 outside spikes); *clear_by gets the day by which the spike's backlog has started (the region
 * catches up five to eight weeks after the extra requests stop, so the waiting list falls back). */
static double spike_wait(child *c, int cat, long day, long *clear_by)
{
    for (int i = 0; i < c->p->n_spikes; i++) {
        const synth_spike *s = &c->p->spikes[i];
        long end = s->first_day + s->weeks * 7L;
        if (s->muni == c->muni && s->category == cat && day >= s->first_day && day < end) {
            *clear_by = end + 35 + synth_rng_range(&c->r, 0, 21);
            return 1.0 + (s->factor - 1.0) * 0.5;
        }
    }
    *clear_by = 0;
    return 1.0;
}

static int invoice_volume(const synth_product *pr, int alloc_volume, long days, long duration)
{
    if (strcmp(pr->unit, "14") == 0)
        return (int)days;
    if (pr->frequency[0] == '2')
        return (int)fmax(1, floor(alloc_volume * days / 7.0 + 0.5));
    if (pr->frequency[0] == '4')
        return alloc_volume;
    return (int)fmax(1, floor((double)alloc_volume * days / (double)(duration > 0 ? duration : 1) + 0.5));
}

static void invoices(child *c, const synth_event *alloc, long start, long stop, long duration)
{
    const synth_product *pr = &synth_products[alloc->product];
    jtm_date d = jtm_date_from_days(start);
    for (;;) {
        long first = jtm_date_to_days((jtm_date){d.year, d.month, 1});
        long last = first + jtm_date_days_in_month(d.year, d.month) - 1;
        if (first > stop || last >= c->end)
            break;
        long ps = first > start ? first : start, pe = last < stop ? last : stop;
        synth_event ev = make(c, SYNTH_T_INVOICE, pe);
        ev.ref_k = ev.id_k; /* invoice number */
        ev.ref2_k = alloc->ref2_k;
        ev.product = alloc->product;
        ev.d1 = (int32_t)ps;
        ev.d2 = (int32_t)pe;
        ev.n1 = invoice_volume(pr, alloc->n1, pe - ps + 1, duration);
        ev.n2 = ev.n1 * pr->tariff_cents;
        ev.c0 = 'D';
        ev.recorded_at = stamp(c, last, 5, 25);
        int credit = synth_rng_bern(&c->r, 0.02);
        int64_t later = stamp(c, last, 35, 60);
        push(c, ev, 0);
        if (credit) {
            /* A credit note cancels the invoice, a new debit follows with a corrected volume. */
            synth_event cr = ev;
            cr.id_k = ++c->k;
            cr.ref_k = cr.id_k;
            cr.c0 = 'C';
            cr.recorded_at = later;
            cr.noise = 0;
            push(c, cr, 0);
            synth_event again = ev;
            again.id_k = ++c->k;
            again.ref_k = again.id_k;
            again.n1 = ev.n1 > 1 ? ev.n1 - 1 : ev.n1;
            again.n2 = again.n1 * pr->tariff_cents;
            again.recorded_at = later + 60;
            again.noise = 0;
            push(c, again, 0);
        }
        if (d.month == 12) {
            d.year++;
            d.month = 1;
        } else {
            d.month++;
        }
    }
}

/* One care episode from a request (or a direct allocation) on day t; category < 0 draws one.
 * Returns the last day the episode occupies (stop, or the request day when rejected). */
static long episode(child *c, long t, int category, int parallel_ok)
{
    synth_rng *r = &c->r;
    long age = age_days(c, t);
    int cat = category >= 0 ? category : care_cats[synth_rng_pick(r, care_w, 16)];
    if ((cat == 47 && age < 12 * 365) || (cat == 46 && age < 365))
        cat = 45;
    int ci = 0;
    while (care_cats[ci] != cat)
        ci++;
    /* referrer indices into synth_referrers: 01 02 03 04 05 06 08 */
    static const double ref_base[] = {0.30, 0.385, 0.055, 0.04, 0.11, 0.08, 0.03};
    static const double ref_justice[] = {0, 0, 0, 0.62, 0, 0, 0.38};
    static const double ref_crisis[] = {0.45, 0.20, 0, 0.20, 0.05, 0.10, 0};
    int justice = cat == 47 || cat == 48 || cat == 49;
    int referrer = synth_rng_pick(r, justice ? ref_justice : cat == 46 ? ref_crisis : ref_base, 7);
    int provider = synth_world_pick_provider(c->w, r, cat);
    int product = synth_world_pick_product(r, cat);
    const synth_product *pr = &synth_products[product];
    int has_request = synth_rng_bern(r, cat == 46 ? 0.3 : justice ? 0.5 : 0.97);
    long clear_by;
    double mult = spike_wait(c, cat, t, &clear_by);
    int crisis = cat == 46;
    long decision = crisis ? synth_rng_range(r, 0, 2)
                           : (long)fmin(fmax(synth_rng_lognormal(r, 21, 0.8) * mult, 1), 400);
    int rejected = has_request && !justice && !crisis && synth_rng_bern(r, 0.07);
    int investigating = has_request && !rejected && decision > 5 && synth_rng_bern(r, 0.12);
    long start_days = crisis ? synth_rng_range(r, 0, 1)
                             : (long)fmin(fmax(synth_rng_lognormal(r, 28, 0.75) * mult, 0), 400);
    long duration = (long)fmin(fmax(synth_rng_lognormal(r, care_median_days[ci], 0.8), 14), 1100);
    static const double end_w[] = {0.62, 0.09, 0.06, 0.10, 0.04, 0.02, 0.02, 0.03, 0.015, 0.005};
    int end_reason = synth_rng_pick(r, end_w, 10);
    if (clear_by && t + decision + start_days > clear_by) {
        long room = clear_by - t > 2 ? clear_by - t : 2;
        if (decision > room / 2)
            decision = room / 2;
        start_days = room - decision;
    }
    long allocated = t + decision, start = allocated + start_days, stop = start + duration;
    long last = rejected ? t + 40 : stop;
    int pre_route = synth_rng_bern(r, 0.30), pre_absence = synth_rng_bern(r, 0.12);
    long pre_day = t - synth_rng_range(r, 30, 200), abs_day = t - synth_rng_range(r, 30, 150);
    int parallel = parallel_ok && synth_rng_bern(r, 0.12);
    long par_day = t + synth_rng_range(r, 0, 60);
    int par_cat = care_cats[synth_rng_pick(r, care_w, 16)];
    if (par_cat == cat)
        par_cat = cat == 45 ? 52 : 45;

    /* The route to care: a JGZ signal or an absence melding some months before. */
    if (has_request && age >= 4 * 365 && age < 18 * 365) {
        if (pre_route)
            jgz_signal(c, pre_day, synth_rng_bern(r, 0.6) ? 0 : 2);
        if (pre_absence && age >= 6 * 365)
            absence_case(c, abs_day, synth_rng_bern(r, 0.7) ? KIND_16U : KIND_LRV, age < 12 * 365 ? ST_PO : ST_VO);
        if (referrer == 2)
            jgz_referral(c, t - synth_rng_range(r, 3, 20), synth_rng_bern(r, 0.5) ? 2 : 1);
    }
    /* Its stop and last invoices can be recorded up to about 100 days after the stop. */
    int backlog = last + 100 >= c->start;
    uint32_t ref_k = 0;
    if (has_request) {
        synth_event rq = make(c, SYNTH_T_REQUEST, t);
        ref_k = rq.ref_k = rq.id_k;
        rq.provider = (uint16_t)provider;
        rq.product = (uint8_t)product;
        rq.d1 = (int32_t)(t + synth_rng_range(r, 7, 35));
        rq.c0 = (uint8_t)referrer;
        rq.recorded_at = stamp(c, t, 0, 2);
        push(c, rq, backlog);
        if (rejected) {
            synth_event an = make(c, SYNTH_T_ANSWER, t + synth_rng_range(r, 5, 40));
            an.ref_k = ref_k;
            an.c0 = '1';
            an.c1 = (uint8_t)synth_rng_range(r, 1, 9);
            an.recorded_at = stamp(c, an.occurred, 0, 1);
            push(c, an, backlog);
            return t;
        }
        if (investigating) {
            synth_event an = make(c, SYNTH_T_ANSWER, t + synth_rng_range(r, 2, (int)(decision > 14 ? 14 : decision - 1)));
            an.ref_k = ref_k;
            an.c0 = '2';
            an.c1 = 0;
            an.recorded_at = stamp(c, an.occurred, 0, 1);
            push(c, an, backlog);
        }
    }
    synth_event al = make(c, SYNTH_T_ALLOCATION, allocated);
    al.ref_k = ref_k;
    al.ref2_k = al.id_k; /* allocation number */
    al.provider = (uint16_t)provider;
    al.product = (uint8_t)product;
    al.d1 = (int32_t)allocated;
    long valid_from = allocated + synth_rng_range(r, 0, 7);
    if (valid_from > start)
        valid_from = start;
    al.d2 = (int32_t)valid_from;
    if (synth_rng_bern(r, 0.75)) {
        long planned = (long)(duration * (1.0 + synth_rng_unif(r) * 0.5));
        al.d3 = (int32_t)(valid_from + (planned < 90 ? 90 : planned));
        if (al.d3 < stop)
            al.d3 = (int32_t)stop;
    }
    al.n1 = synth_rng_range(r, pr->vol_lo, pr->vol_hi);
    al.c0 = 0; /* no change_reason */
    al.recorded_at = stamp(c, allocated, 0, 2);
    push(c, al, backlog);

    synth_event st = make(c, SYNTH_T_START, start);
    st.ref2_k = al.ref2_k;
    st.product = al.product;
    st.d1 = (int32_t)start;
    st.recorded_at = stamp(c, start, 0, 3);
    push(c, st, backlog);

    invoices(c, &al, start, stop < c->end ? stop : c->end - 1, duration);

    synth_event sp = make(c, SYNTH_T_STOP, stop);
    sp.ref2_k = al.ref2_k;
    sp.product = al.product;
    sp.d1 = (int32_t)start;
    sp.d2 = (int32_t)stop;
    sp.c0 = (uint8_t)end_reason;
    sp.recorded_at = stamp(c, stop, 0, 5);
    push(c, sp, 0);

    if (parallel) {
        long other = episode(c, par_day, par_cat, 0);
        if (other > last)
            last = other;
    }
    return last;
}

static void sim_care(child *c)
{
    const double hmax = 0.140 * c->risk / 365.0;
    double t = (double)(c->birth + 14);
    if (t < c->start - 1460)
        t = (double)(c->start - 1460);
    for (;;) {
        t += synth_rng_exp(&c->r, 1.0 / hmax);
        if (t >= c->end)
            break;
        long day = (long)t;
        double h = hazard(age_days(c, day)) * c->risk / 365.0;
        if (synth_rng_unif(&c->r) * hmax >= h)
            continue;
        long last = episode(c, day, -1, 1);
        if (last + 1 > t)
            t = (double)(last + 1);
        c->risk *= 1.3;
    }
    /* Spikes: extra requests in one municipality and category for some weeks. */
    for (int i = 0; i < c->p->n_spikes; i++) {
        const synth_spike *s = &c->p->spikes[i];
        long days = s->weeks * 7L;
        long day = s->first_day + synth_rng_range(&c->r, 0, (int)days - 1);
        double expect = (s->factor - 1.0) * hazard(age_days(c, day)) * c->risk / 365.0 * cat_share(s->category) * days;
        if (s->muni != c->muni || age_days(c, day) >= 18 * 365)
            continue;
        if (synth_rng_unif(&c->r) < expect)
            episode(c, day, s->category, 0);
    }
}

/* ---- identity ---- */

static void identity(child *c)
{
    synth_rng *r = &c->r;
    const synth_world *w = c->w;
    synth_event *id = &c->id;
    memset(id, 0, sizeof *id);
    id->child = c->idx;
    /* Born over the 23 years before the end, so every age 0-23 is present in the window. */
    c->birth = c->end - 1 - (long)synth_rng_below(r, 23 * 365 + 5);
    id->birth = (int32_t)c->birth;
    double u = synth_rng_unif(r);
    id->sex = (uint8_t)(u < 0.002 ? 0 : u < 0.5 ? 1 : 2);
    c->muni = synth_world_pick_muni(w, r);
    id->muni = (uint8_t)c->muni;
    const synth_muni *m = &c->p->munis[c->muni];
    int ri = (int)synth_rng_below(r, (uint32_t)m->n_ranges);
    id->pc4 = (uint16_t)synth_rng_range(r, m->pc4_lo[ri], m->pc4_hi[ri]);
    do {
        id->pc_letters[0] = (char)('A' + synth_rng_below(r, 26));
        id->pc_letters[1] = (char)('A' + synth_rng_below(r, 26));
    } while (id->pc_letters[0] == 'S' && (id->pc_letters[1] == 'A' || id->pc_letters[1] == 'D' ||
                                          id->pc_letters[1] == 'S'));
    id->pc_space = (uint8_t)synth_rng_bern(r, 0.03);
    id->first_name = (uint16_t)synth_rng_below(r, (uint32_t)(id->sex == 2 ? synth_n_first_f : synth_n_first_m));
    id->last_name = (uint16_t)synth_rng_below(r, (uint32_t)synth_n_last);
    /* BSN: 8 leading digits from an injective map of (child, attempt), completed by the 11-test. */
    for (uint32_t attempt = 0; attempt < 11; attempt++) {
        uint64_t v = ((uint64_t)c->idx * 11 + attempt) % 90000000ull;
        uint64_t lead = 10000000ull + (v * 48271ull + c->p->seed % 90000000ull) % 90000000ull;
        char first8[9], out[10];
        for (int i = 7; i >= 0; i--) {
            first8[i] = (char)('0' + lead % 10);
            lead /= 10;
        }
        first8[8] = '\0';
        if (jtm_bsn_complete(first8, out) == 0) {
            uint32_t b = 0;
            for (int i = 0; i < 9; i++)
                b = b * 10 + (uint32_t)(out[i] - '0');
            id->bsn = b;
            break;
        }
    }
    int npo = w->n_po[c->muni], nvo = w->n_vo[c->muni];
    c->po = w->po_of_muni[c->muni][synth_rng_below(r, (uint32_t)npo)];
    c->vo = w->vo_of_muni[c->muni][synth_rng_below(r, (uint32_t)nvo)];
    c->so_track = synth_rng_bern(r, 0.03);
    c->mbo_track = synth_rng_bern(r, 0.45);
    c->risk = synth_rng_lognormal(r, 0.85, 0.9);
}

int synth_life_child(const synth_world *w, uint32_t idx, const synth_sink *sink)
{
    child c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.p = w->p;
    c.sink = sink;
    c.idx = idx;
    c.start = w->start_day;
    c.end = w->end_day;
    c.start_ts = (int64_t)c.start * DAY;
    synth_rng_seed(&c.r, w->p->seed, 2ull * idx);
    synth_rng_seed(&c.nr, w->p->seed, 2ull * idx + 1);
    identity(&c);
    sim_jgz(&c);
    sim_absence(&c);
    sim_care(&c);
    return c.rc;
}
