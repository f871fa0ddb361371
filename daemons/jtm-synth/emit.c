#include "emit.h"

#include <string.h>

typedef struct out {
    char *p;
} out;

static inline void lit(out *o, const char *s, size_t n)
{
    memcpy(o->p, s, n);
    o->p += n;
}
#define LIT(o, s) lit(o, s, sizeof(s) - 1)

static inline void str(out *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o->p, s, n);
    o->p += n;
}

static inline void qstr(out *o, const char *s)
{
    *o->p++ = '"';
    str(o, s);
    *o->p++ = '"';
}

static void uint_(out *o, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o->p++ = tmp[--n];
}

static void digits(out *o, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        o->p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    o->p += width;
}

static void date_raw(out *o, long day)
{
    jtm_date d = jtm_date_from_days(day);
    digits(o, (unsigned)d.year, 4);
    *o->p++ = '-';
    digits(o, (unsigned)d.month, 2);
    *o->p++ = '-';
    digits(o, (unsigned)d.day, 2);
}

static void qdate(out *o, long day)
{
    *o->p++ = '"';
    date_raw(o, day);
    *o->p++ = '"';
}

static void qts(out *o, int64_t ts)
{
    long day = (long)(ts / 86400);
    long s = (long)(ts % 86400);
    if (s < 0) {
        s += 86400;
        day--;
    }
    *o->p++ = '"';
    date_raw(o, day);
    *o->p++ = 'T';
    digits(o, (unsigned)(s / 3600), 2);
    *o->p++ = ':';
    digits(o, (unsigned)(s / 60 % 60), 2);
    *o->p++ = ':';
    digits(o, (unsigned)(s % 60), 2);
    LIT(o, "Z\"");
}

static const char *const id_prefix[SYNTH_FEEDS] = {"ggd.", "lp.", "soj."};

/* "<prefix><child>.<k>" */
static void ident(out *o, const char *prefix, uint32_t child, uint32_t k)
{
    str(o, prefix);
    uint_(o, child);
    *o->p++ = '.';
    uint_(o, k);
}

static void qident(out *o, const char *prefix, uint32_t child, uint32_t k)
{
    *o->p++ = '"';
    ident(o, prefix, child, k);
    *o->p++ = '"';
}

static void product(out *o, const synth_event *ev)
{
    const synth_product *pr = &synth_products[ev->product];
    LIT(o, ",\"product\":{\"category\":\"");
    uint_(o, (unsigned)pr->category);
    LIT(o, "\",\"code\":");
    qstr(o, pr->code);
    *o->p++ = '}';
}

enum {
    DIRTY_JSON = 1, DIRTY_BSN, DIRTY_NO_BSN, DIRTY_DATE, DIRTY_FEED, DIRTY_STATUS_TYPE, DIRTY_TYPE, DIRTY_SEX
};

size_t synth_emit(const synth_world *w, const synth_event *ev, char *buf, char *key, size_t *keylen)
{
    const int dirty = ev->dirty;
    out k = {key};
    ident(&k, id_prefix[ev->feed], ev->child, ev->id_k);
    if (dirty)
        LIT(&k, ".x"); /* a malformed copy never shares the id of a real event */
    *keylen = (size_t)(k.p - key);

    out o = {buf};
    LIT(&o, "{\"event_id\":\"");
    lit(&o, key, *keylen);
    LIT(&o, "\",\"feed\":");
    qstr(&o, synth_feed_names[dirty == DIRTY_FEED ? (ev->feed + 1) % SYNTH_FEEDS : ev->feed]);
    LIT(&o, ",\"type\":");
    qstr(&o, dirty == DIRTY_TYPE ? "unknown_type" : synth_type_names[ev->type]);
    LIT(&o, ",\"occurred_on\":");
    if (dirty == DIRTY_DATE) {
        jtm_date d = jtm_date_from_days(ev->occurred);
        *o.p++ = '"';
        digits(&o, (unsigned)d.year, 4);
        LIT(&o, "-02-30\"");
    } else {
        qdate(&o, ev->occurred);
    }
    LIT(&o, ",\"recorded_at\":");
    qts(&o, ev->recorded_at);
    LIT(&o, ",\"status\":");
    if (dirty == DIRTY_STATUS_TYPE)
        *o.p++ = '"';
    *o.p++ = (char)('0' + ev->status);
    if (dirty == DIRTY_STATUS_TYPE)
        *o.p++ = '"';

    LIT(&o, ",\"client\":{");
    if (dirty != DIRTY_NO_BSN) {
        LIT(&o, "\"bsn\":\"");
        uint32_t b = ev->bsn;
        if (dirty == DIRTY_BSN) /* wrong check digit (123456789 fails the 11-test too) */
            b = b == 0 || b == 999999999u ? 123456789u : b / 10 * 10 + (b % 10 + 1) % 10;
        digits(&o, b, 9);
        LIT(&o, "\",");
    }
    LIT(&o, "\"birth_date\":");
    qdate(&o, ev->birth);
    LIT(&o, ",\"sex\":");
    uint_(&o, dirty == DIRTY_SEX ? 7u : ev->sex);
    LIT(&o, ",\"postcode\":\"");
    digits(&o, ev->pc4, 4);
    if (ev->pc_space)
        *o.p++ = ' ';
    lit(&o, ev->pc_letters, 2);
    LIT(&o, "\",\"gemeente\":");
    qstr(&o, w->p->munis[ev->muni].code);
    LIT(&o, ",\"name\":\"");
    str(&o, ev->sex == 2 ? synth_first_names_f[ev->first_name] : synth_first_names_m[ev->first_name]);
    *o.p++ = ' ';
    str(&o, synth_last_names[ev->last_name]);
    LIT(&o, "\"}");

    switch (ev->type) {
    case SYNTH_T_CONTACT:
        LIT(&o, ",\"moment\":");
        qstr(&o, synth_moments[ev->c0]);
        LIT(&o, ",\"outcome\":");
        qstr(&o, synth_outcomes[ev->c1]);
        if (ev->school != SYNTH_NONE) {
            LIT(&o, ",\"school_brin\":");
            qstr(&o, w->schools[ev->school].brin);
        }
        break;
    case SYNTH_T_SIGNAL:
        LIT(&o, ",\"domain\":");
        qstr(&o, synth_domains[ev->c0]);
        break;
    case SYNTH_T_REFERRAL:
        LIT(&o, ",\"to\":");
        qstr(&o, synth_referral_to[ev->c0]);
        break;
    case SYNTH_T_MAZL:
        LIT(&o, ",\"trigger\":");
        qstr(&o, synth_mazl_triggers[ev->c0]);
        LIT(&o, ",\"advice\":");
        qstr(&o, synth_mazl_advice[ev->c1]);
        break;
    case SYNTH_T_MELDING:
        LIT(&o, ",\"kind\":");
        qstr(&o, synth_melding_kinds[ev->c0]);
        LIT(&o, ",\"start_date\":");
        qdate(&o, ev->d1);
        if (ev->d2 >= 0) {
            LIT(&o, ",\"end_date\":");
            qdate(&o, ev->d2);
        }
        if (ev->n1 >= 0) {
            LIT(&o, ",\"hours\":");
            uint_(&o, (unsigned)ev->n1);
        }
        LIT(&o, ",\"school_brin\":");
        qstr(&o, w->schools[ev->school].brin);
        LIT(&o, ",\"school_type\":");
        qstr(&o, synth_school_types[ev->c1]);
        break;
    case SYNTH_T_VRIJSTELLING:
        LIT(&o, ",\"article\":");
        qstr(&o, synth_articles[ev->c0]);
        LIT(&o, ",\"valid_from\":");
        qdate(&o, ev->d1);
        if (ev->d2 >= 0) {
            LIT(&o, ",\"valid_to\":");
            qdate(&o, ev->d2);
        }
        break;
    case SYNTH_T_RESOLVED:
        LIT(&o, ",\"melding_ref\":");
        qident(&o, id_prefix[SYNTH_FEED_VERZUIM], ev->child, ev->ref_k);
        LIT(&o, ",\"outcome\":");
        qstr(&o, synth_resolved_outcomes[ev->c0]);
        break;
    case SYNTH_T_REQUEST:
        LIT(&o, ",\"reference\":");
        qident(&o, "ref.", ev->child, ev->ref_k);
        LIT(&o, ",\"provider_agb\":");
        qstr(&o, w->providers[ev->provider].agb);
        product(&o, ev);
        LIT(&o, ",\"requested_start\":");
        qdate(&o, ev->d1);
        LIT(&o, ",\"referrer\":");
        qstr(&o, synth_referrers[ev->c0]);
        break;
    case SYNTH_T_ANSWER:
        LIT(&o, ",\"reference\":");
        qident(&o, "ref.", ev->child, ev->ref_k);
        LIT(&o, ",\"answer\":\"");
        *o.p++ = (char)ev->c0;
        *o.p++ = '"';
        if (ev->c1) {
            LIT(&o, ",\"reject_reason\":\"");
            *o.p++ = (char)('0' + ev->c1);
            *o.p++ = '"';
        }
        break;
    case SYNTH_T_ALLOCATION: {
        const synth_product *pr = &synth_products[ev->product];
        LIT(&o, ",\"allocation_no\":");
        qident(&o, "tw.", ev->child, ev->ref2_k);
        if (ev->ref_k) {
            LIT(&o, ",\"reference\":");
            qident(&o, "ref.", ev->child, ev->ref_k);
        }
        LIT(&o, ",\"provider_agb\":");
        qstr(&o, w->providers[ev->provider].agb);
        product(&o, ev);
        LIT(&o, ",\"allocated_on\":");
        qdate(&o, ev->d1);
        LIT(&o, ",\"valid_from\":");
        qdate(&o, ev->d2);
        if (ev->d3 >= 0) {
            LIT(&o, ",\"valid_to\":");
            qdate(&o, ev->d3);
        }
        LIT(&o, ",\"volume\":");
        uint_(&o, (unsigned)ev->n1);
        LIT(&o, ",\"unit\":");
        qstr(&o, pr->unit);
        LIT(&o, ",\"frequency\":");
        qstr(&o, pr->frequency);
        break;
    }
    case SYNTH_T_START:
        LIT(&o, ",\"allocation_no\":");
        qident(&o, "tw.", ev->child, ev->ref2_k);
        product(&o, ev);
        LIT(&o, ",\"start_date\":");
        qdate(&o, ev->d1);
        break;
    case SYNTH_T_STOP:
        LIT(&o, ",\"allocation_no\":");
        qident(&o, "tw.", ev->child, ev->ref2_k);
        product(&o, ev);
        LIT(&o, ",\"start_date\":");
        qdate(&o, ev->d1);
        LIT(&o, ",\"end_date\":");
        qdate(&o, ev->d2);
        LIT(&o, ",\"end_reason\":");
        qstr(&o, synth_end_reasons[ev->c0]);
        break;
    case SYNTH_T_INVOICE:
        LIT(&o, ",\"invoice_no\":");
        qident(&o, "fac.", ev->child, ev->ref_k);
        LIT(&o, ",\"allocation_no\":");
        qident(&o, "tw.", ev->child, ev->ref2_k);
        product(&o, ev);
        LIT(&o, ",\"period_start\":");
        qdate(&o, ev->d1);
        LIT(&o, ",\"period_end\":");
        qdate(&o, ev->d2);
        LIT(&o, ",\"volume\":");
        uint_(&o, (unsigned)ev->n1);
        LIT(&o, ",\"unit\":");
        qstr(&o, synth_products[ev->product].unit);
        LIT(&o, ",\"amount_cents\":");
        uint_(&o, (unsigned)ev->n2);
        LIT(&o, ",\"debit_credit\":\"");
        *o.p++ = (char)ev->c0;
        *o.p++ = '"';
        break;
    default: break;
    }
    *o.p++ = '}';
    size_t len = (size_t)(o.p - buf);
    if (dirty == DIRTY_JSON)
        len = len * 3 / 5; /* cut off mid-object: not JSON at all */
    return len;
}
