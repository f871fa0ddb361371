#include "eventlog.h"

#include <stdlib.h>
#include <string.h>

#include "date.h"

static bool is(const char *s, const char *lit) { return s && strcmp(s, lit) == 0; }

int jtm_event_feed_code(const char *s)
{
    if (is(s, "soj"))
        return JTM_EV_FEED_SOJ;
    if (is(s, "jgz"))
        return JTM_EV_FEED_JGZ;
    if (is(s, "verzuim"))
        return JTM_EV_FEED_VERZUIM;
    return JTM_EV_FEED_OTHER;
}

int jtm_event_type_code(const char *s)
{
    static const struct {
        const char *name;
        int code;
    } types[] = {
        {"invoice", JTM_EV_T_INVOICE}, {"contact", JTM_EV_T_CONTACT},       {"allocation", JTM_EV_T_ALLOCATION},
        {"start", JTM_EV_T_START},     {"request", JTM_EV_T_REQUEST},       {"stop", JTM_EV_T_STOP},
        {"signal", JTM_EV_T_SIGNAL},   {"melding", JTM_EV_T_MELDING},       {"referral", JTM_EV_T_REFERRAL},
        {"answer", JTM_EV_T_ANSWER},   {"mazl", JTM_EV_T_MAZL},
    };
    for (size_t i = 0; s && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(s, types[i].name) == 0)
            return types[i].code;
    return JTM_EV_T_OTHER;
}

/* The strings of an entry, in this order; bit 2i of the mask: present, bit 2i+1: packed hex. */
enum {
    S_EVENT_ID,
    S_GEMEENTE,
    S_REFERENCE,
    S_ALLOCATION_NO,
    S_PROVIDER_AGB,
    S_CATEGORY,
    S_REFERRER,
    S_ANSWER,
    S_OUTCOME,
    S_END_REASON,
    S_DEBIT_CREDIT,
    S_BIRTH_YM,
    S_COUNT
};
#define M_AMOUNT (1u << 31)

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 in days since 1970-01-01 */
#define USEC_PER_DAY 86400000000LL

static const char **string_slot(jtm_event *e, int i)
{
    switch (i) {
    case S_EVENT_ID: return &e->event_id;
    case S_GEMEENTE: return &e->gemeente;
    case S_REFERENCE: return &e->reference;
    case S_ALLOCATION_NO: return &e->allocation_no;
    case S_PROVIDER_AGB: return &e->provider_agb;
    case S_CATEGORY: return &e->category;
    case S_REFERRER: return &e->referrer;
    case S_ANSWER: return &e->answer;
    case S_OUTCOME: return &e->outcome;
    case S_END_REASON: return &e->end_reason;
    case S_DEBIT_CREDIT: return &e->debit_credit;
    default: return &e->birth_ym;
    }
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static bool is_hex32(const char *s, size_t n)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < 32; i++)
        if (hexval(s[i]) < 0)
            return false;
    return true;
}

static void put_le(sbuf *b, uint64_t v, int bytes)
{
    char c[8];
    for (int i = 0; i < bytes; i++)
        c[i] = (char)(v >> (8 * i));
    sb_putn(b, c, (size_t)bytes);
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void jtm_eventlog_begin(sbuf *b)
{
    sb_clear(b);
    sb_putc(b, JTM_EVENTLOG_VERSION);
}

void jtm_eventlog_append(sbuf *b, const jtm_event *e)
{
    jtm_event copy = *e;
    uint32_t mask = e->has_amount ? M_AMOUNT : 0;
    for (int i = 0; i < S_COUNT; i++) {
        const char *s = *string_slot(&copy, i);
        if (!s)
            continue;
        mask |= 1u << (2 * i);
        if (is_hex32(s, strlen(s)))
            mask |= 1u << (2 * i + 1);
    }
    sb_putc(b, (char)e->feed);
    sb_putc(b, (char)e->type);
    put_le(b, mask, 4);
    put_le(b, (uint32_t)e->occurred_on, 4);
    put_le(b, (uint64_t)e->recorded_at, 8);
    put_le(b, (uint32_t)e->allocated_on, 4);
    put_le(b, (uint32_t)e->start_date, 4);
    put_le(b, (uint32_t)e->end_date, 4);
    if (e->has_amount)
        put_le(b, (uint64_t)e->amount_cents, 8);
    for (int i = 0; i < S_COUNT; i++) {
        const char *s = *string_slot(&copy, i);
        if (!s)
            continue;
        size_t n = strlen(s);
        if (mask & (1u << (2 * i + 1))) {
            char packed[16];
            for (int k = 0; k < 16; k++)
                packed[k] = (char)(hexval(s[2 * k]) << 4 | hexval(s[2 * k + 1]));
            sb_putn(b, packed, 16);
            continue;
        }
        for (size_t v = n; ; v >>= 7) { /* varint */
            sb_putc(b, (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
            if (v < 0x80)
                break;
        }
        sb_putn(b, s, n);
        sb_putc(b, '\0');
    }
}

int jtm_eventlog_decode(const unsigned char *p, size_t len, jtm_event **ev, size_t *n, size_t *cap, sbuf *hex)
{
    if (len == 0 || p[0] != JTM_EVENTLOG_VERSION)
        return -1;
    return jtm_eventlog_decode_entries(p + 1, len - 1, ev, n, cap, hex);
}

int jtm_eventlog_decode_entries(const unsigned char *p, size_t len, jtm_event **ev, size_t *n, size_t *cap, sbuf *hex)
{
    static const char digits[] = "0123456789abcdef";
    /* the caller reserved room in hex (jtm_eventlog_hex_room): pointers into it must not move */
    const unsigned char *q = p, *end = p + len;
    while (q < end) {
        if (end - q < 30)
            return -1;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            jtm_event *g = realloc(*ev, c * sizeof *g);
            if (!g)
                return -1;
            *ev = g;
            *cap = c;
        }
        jtm_event *e = &(*ev)[*n];
        memset(e, 0, sizeof *e);
        e->feed = q[0];
        e->type = q[1];
        uint32_t mask = (uint32_t)get_le(q + 2, 4);
        e->occurred_on = (int32_t)get_le(q + 6, 4);
        e->recorded_at = (int64_t)get_le(q + 10, 8);
        e->allocated_on = (int32_t)get_le(q + 18, 4);
        e->start_date = (int32_t)get_le(q + 22, 4);
        e->end_date = (int32_t)get_le(q + 26, 4);
        q += 30;
        if (mask & M_AMOUNT) {
            if (end - q < 8)
                return -1;
            e->has_amount = true;
            e->amount_cents = (int64_t)get_le(q, 8);
            q += 8;
        }
        for (int i = 0; i < S_COUNT; i++) {
            if (!(mask & (1u << (2 * i))))
                continue;
            const char **slot = string_slot(e, i);
            if (mask & (1u << (2 * i + 1))) {
                if (end - q < 16)
                    return -1;
                if (hex->len + 33 > hex->cap)
                    return -1;
                char *o = hex->s + hex->len;
                for (int k = 0; k < 16; k++) {
                    o[2 * k] = digits[q[k] >> 4];
                    o[2 * k + 1] = digits[q[k] & 15];
                }
                o[32] = '\0';
                hex->len += 33;
                *slot = o;
                q += 16;
                continue;
            }
            size_t v = 0;
            int shift = 0;
            for (;;) {
                if (q >= end || shift > 28)
                    return -1;
                v |= (size_t)(*q & 0x7f) << shift;
                shift += 7;
                if (!(*q++ & 0x80))
                    break;
            }
            if ((size_t)(end - q) < v + 1 || q[v] != '\0')
                return -1;
            *slot = (const char *)q;
            q += v + 1;
        }
        if (!e->event_id)
            return -1;
        (*n)++;
    }
    return 0;
}

size_t jtm_eventlog_hex_room(size_t len) { return len * 33 / 16 + 64; }

/* --- from a validated message ------------------------------------------------------------------- */

/* A string member as staging.event's typed column holds it: absent or JSON null gives NULL, a string
 * its text (copied NUL-terminated into out), anything else is not simple. */
static bool text_of(const jtm_jdoc *d, uint32_t obj, const char *key, sbuf *out, size_t *at)
{
    uint32_t i = jtm_jdoc_getz(d, obj, key);
    *at = 0;
    if (!i || jtm_jdoc_node(d, i)->type == JTM_J_NULL)
        return true;
    const jtm_jnode *n = jtm_jdoc_node(d, i);
    if (n->type != JTM_J_STRING || memchr(n->v.str.s, '\0', n->v.str.n))
        return false;
    *at = out->len + 1; /* 0 means NULL */
    sb_putn(out, n->v.str.s, n->v.str.n);
    sb_putc(out, '\0');
    return true;
}

static int32_t days_of(const jtm_jdoc *d, const char *key, bool *ok)
{
    uint32_t i = jtm_jdoc_getz(d, 0, key);
    if (!i || jtm_jdoc_node(d, i)->type == JTM_J_NULL)
        return JTM_NO_DATE;
    const jtm_jnode *n = jtm_jdoc_node(d, i);
    jtm_date date;
    if (n->type != JTM_J_STRING || jtm_date_parse(n->v.str.s, n->v.str.n, &date) != 0) {
        *ok = false;
        return JTM_NO_DATE;
    }
    return (int32_t)jtm_date_to_days(date);
}

static int two(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* An RFC 3339 timestamp (already checked by validate.c) as PostgreSQL stores it, exactly: whole
 * microseconds since 2000-01-01 UTC. false for a leap second or more than six fractional digits,
 * where PostgreSQL's rounding decides. */
static bool instant_of(const char *s, size_t len, int64_t *out)
{
    jtm_date date;
    if (len < 20 || jtm_date_parse(s, 10, &date) != 0)
        return false;
    int hh = two(s + 11), mm = two(s + 14), ss = two(s + 17);
    if (ss > 59)
        return false;
    int64_t us = 0;
    size_t i = 19;
    if (s[i] == '.') {
        int digitsn = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digitsn++) {
            if (digitsn == 6)
                return false;
            us = us * 10 + (s[i] - '0');
        }
        for (int k = digitsn; k < 6; k++)
            us *= 10;
    }
    int64_t offset = 0;
    if (s[i] == '+' || s[i] == '-')
        offset = (s[i] == '-' ? -1 : 1) * ((int64_t)two(s + i + 1) * 3600 + two(s + i + 4) * 60) * 1000000LL;
    *out = ((int64_t)jtm_date_to_days(date) - PG_EPOCH_DAYS) * USEC_PER_DAY +
           ((int64_t)hh * 3600 + mm * 60 + ss) * 1000000LL + us - offset;
    return true;
}

bool jtm_event_from_doc(const jtm_jdoc *d, jtm_event *e, sbuf *scratch)
{
    memset(e, 0, sizeof *e);
    sb_clear(scratch);
    uint32_t client = jtm_jdoc_getz(d, 0, "client"), product = jtm_jdoc_getz(d, 0, "product");
    if (product && jtm_jdoc_node(d, product)->type != JTM_J_OBJECT)
        product = 0; /* payload->'product'->>'category' of a non-object: NULL */
    struct {
        uint32_t obj;
        const char *key;
    } fields[S_COUNT] = {
        [S_EVENT_ID] = {0, "event_id"},       [S_GEMEENTE] = {client, "gemeente"},
        [S_REFERENCE] = {0, "reference"},     [S_ALLOCATION_NO] = {0, "allocation_no"},
        [S_PROVIDER_AGB] = {0, "provider_agb"}, [S_CATEGORY] = {product, "category"},
        [S_REFERRER] = {0, "referrer"},       [S_ANSWER] = {0, "answer"},
        [S_OUTCOME] = {0, "outcome"},         [S_END_REASON] = {0, "end_reason"},
        [S_DEBIT_CREDIT] = {0, "debit_credit"}, [S_BIRTH_YM] = {client, "birth_ym"},
    };
    size_t at[S_COUNT];
    for (int i = 0; i < S_COUNT; i++) {
        at[i] = 0;
        bool nested = i == S_GEMEENTE || i == S_CATEGORY || i == S_BIRTH_YM;
        if (nested && !fields[i].obj)
            continue;
        if (!text_of(d, fields[i].obj, fields[i].key, scratch, &at[i]))
            return false;
    }
    for (int i = 0; i < S_COUNT; i++) /* scratch no longer moves */
        *string_slot(e, i) = at[i] ? scratch->s + at[i] - 1 : NULL;
    if (!e->event_id)
        return false;
    const jtm_jnode *feed = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "feed"));
    const jtm_jnode *type = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "type"));
    char name[16];
    if (feed->type != JTM_J_STRING || type->type != JTM_J_STRING || feed->v.str.n >= sizeof name)
        return false;
    memcpy(name, feed->v.str.s, feed->v.str.n);
    name[feed->v.str.n] = '\0';
    e->feed = jtm_event_feed_code(name);
    if (type->v.str.n >= sizeof name)
        e->type = JTM_EV_T_OTHER;
    else {
        memcpy(name, type->v.str.s, type->v.str.n);
        name[type->v.str.n] = '\0';
        e->type = jtm_event_type_code(name);
    }
    bool ok = true;
    e->occurred_on = days_of(d, "occurred_on", &ok);
    e->allocated_on = days_of(d, "allocated_on", &ok);
    e->start_date = days_of(d, "start_date", &ok);
    e->end_date = days_of(d, "end_date", &ok);
    if (!ok || e->occurred_on == JTM_NO_DATE)
        return false;
    const jtm_jnode *rec = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "recorded_at"));
    if (rec->type != JTM_J_STRING || !instant_of(rec->v.str.s, rec->v.str.n, &e->recorded_at))
        return false;
    uint32_t amount = jtm_jdoc_getz(d, 0, "amount_cents");
    if (amount && jtm_jdoc_node(d, amount)->type != JTM_J_NULL) {
        if (jtm_jdoc_node(d, amount)->type != JTM_J_INT)
            return false;
        e->has_amount = true;
        e->amount_cents = jtm_jdoc_node(d, amount)->v.i;
    }
    return true;
}
