/* common/eventlog.c: a child's events in compact form (ops.linker_child.events) and the event a
 * validated message is stored as. Round trips, corrupt logs, and the fields and instants a
 * message gives, which must equal what PostgreSQL stores for it (the timestamps below were
 * computed by PostgreSQL 15: microseconds since 2000-01-01 of the same text as timestamptz). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"

static jtm_event base(const char *id)
{
    jtm_event e;
    memset(&e, 0, sizeof e);
    e.feed = JTM_EV_FEED_SOJ;
    e.type = JTM_EV_T_INVOICE;
    e.occurred_on = 19783;
    e.recorded_at = 762681600000000LL;
    e.event_id = id;
    e.allocated_on = e.start_date = e.end_date = JTM_NO_DATE;
    return e;
}

static void same_str(const char *a, const char *b, const char *what)
{
    if (!a || !b)
        cr_assert(a == b, "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
    else
        cr_assert_str_eq(a, b, "%s", what);
}

static void same_event(const jtm_event *a, const jtm_event *b)
{
    cr_assert_eq(a->feed, b->feed);
    cr_assert_eq(a->type, b->type);
    cr_assert_eq(a->occurred_on, b->occurred_on);
    cr_assert_eq(a->recorded_at, b->recorded_at);
    cr_assert_eq(a->allocated_on, b->allocated_on);
    cr_assert_eq(a->start_date, b->start_date);
    cr_assert_eq(a->end_date, b->end_date);
    cr_assert_eq(a->has_amount, b->has_amount);
    cr_assert_eq(a->amount_cents, b->amount_cents);
    same_str(a->event_id, b->event_id, "event_id");
    same_str(a->gemeente, b->gemeente, "gemeente");
    same_str(a->reference, b->reference, "reference");
    same_str(a->allocation_no, b->allocation_no, "allocation_no");
    same_str(a->provider_agb, b->provider_agb, "provider_agb");
    same_str(a->category, b->category, "category");
    same_str(a->referrer, b->referrer, "referrer");
    same_str(a->answer, b->answer, "answer");
    same_str(a->outcome, b->outcome, "outcome");
    same_str(a->end_reason, b->end_reason, "end_reason");
    same_str(a->debit_credit, b->debit_credit, "debit_credit");
    same_str(a->birth_ym, b->birth_ym, "birth_ym");
}

Test(eventlog, round_trip)
{
    char longref[300];
    memset(longref, 'r', sizeof longref - 1); /* a string longer than one varint byte */
    longref[sizeof longref - 1] = '\0';
    jtm_event in[3];
    in[0] = base("0123456789abcdef0123456789abcdef"); /* packed */
    in[0].allocation_no = "fedcba9876543210fedcba9876543210";
    in[0].category = "45";
    in[0].gemeente = "GM0505";
    in[0].has_amount = true;
    in[0].amount_cents = -9223372036854775807LL - 1;
    in[0].debit_credit = "C";
    in[0].birth_ym = "2012-05";
    in[1] = base("0123456789ABCDEF0123456789ABCDEF"); /* upper case: kept as text */
    in[1].feed = JTM_EV_FEED_JGZ;
    in[1].type = JTM_EV_T_OTHER;
    in[1].reference = longref;
    in[1].outcome = "";
    in[1].allocated_on = -5;
    in[1].start_date = 0;
    in[1].end_date = 80000;
    in[2] = base("x");
    in[2].recorded_at = -1;
    sbuf log = {0};
    jtm_eventlog_begin(&log);
    for (int i = 0; i < 3; i++)
        jtm_eventlog_append(&log, &in[i]);
    /* 30 fixed bytes an event, the amount, packed ids (16 bytes), strings with a length and a NUL */
    cr_assert_lt(log.len, 3 * 30 + 8 + 2 * 16 + sizeof longref + 80, "compact: %zu bytes", log.len);
    jtm_event *out = NULL;
    size_t n = 0, cap = 0;
    sbuf hex = {0};
    sb_reserve(&hex, jtm_eventlog_hex_room(log.len));
    cr_assert_eq(jtm_eventlog_decode((const unsigned char *)log.s, log.len, &out, &n, &cap, &hex), 0);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++)
        same_event(&out[i], &in[i]);
    /* entries without the version byte append to what is there */
    size_t before = n;
    sb_clear(&hex);
    sb_reserve(&hex, jtm_eventlog_hex_room(2 * log.len));
    n = 0;
    cr_assert_eq(jtm_eventlog_decode((const unsigned char *)log.s, log.len, &out, &n, &cap, &hex), 0);
    cr_assert_eq(jtm_eventlog_decode_entries((const unsigned char *)log.s + 1, log.len - 1, &out, &n, &cap, &hex), 0);
    cr_assert_eq(n, 2 * before);
    same_event(&out[3], &in[0]);
    free(out);
    sb_free(&hex);
    sb_free(&log);
}

Test(eventlog, corrupt_logs_are_refused)
{
    jtm_event e = base("0123456789abcdef0123456789abcdef");
    e.gemeente = "GM0505";
    sbuf log = {0};
    jtm_eventlog_begin(&log);
    jtm_eventlog_append(&log, &e);
    jtm_event *out = NULL;
    size_t n = 0, cap = 0;
    sbuf hex = {0};
    sb_reserve(&hex, jtm_eventlog_hex_room(log.len));
    /* the version byte alone is an empty log; any cut inside the entry is refused */
    cr_assert_eq(jtm_eventlog_decode((const unsigned char *)log.s, 1, &out, &n, &cap, &hex), 0);
    cr_assert_eq(n, 0);
    for (size_t cut = 2; cut < log.len; cut++) {
        n = 0;
        cr_assert_eq(jtm_eventlog_decode((const unsigned char *)log.s, cut, &out, &n, &cap, &hex), -1, "cut at %zu", cut);
        sb_clear(&hex);
        sb_reserve(&hex, jtm_eventlog_hex_room(log.len));
    }
    log.s[0] = 2; /* a version this code does not know */
    n = 0;
    cr_assert_eq(jtm_eventlog_decode((const unsigned char *)log.s, log.len, &out, &n, &cap, &hex), -1);
    cr_assert_eq(jtm_eventlog_decode((const unsigned char *)"", 0, &out, &n, &cap, &hex), -1);
    free(out);
    sb_free(&hex);
    sb_free(&log);
}

static bool from(const char *json, jtm_event *e, sbuf *scratch, jtm_jdoc *d)
{
    cr_assert_eq(jtm_jdoc_parse(d, json, strlen(json)), 0, "%s", json);
    return jtm_event_from_doc(d, e, scratch);
}

#define MSG(rec, extra)                                                                                   \
    "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"stop\","             \
    "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"" rec "\",\"status\":1,"                           \
    "\"pid\":\"fedcba9876543210fedcba9876543210\",\"client\":{\"birth_ym\":\"2012-05\",\"gemeente\":\"GM0505\"}," \
    "\"allocation_no\":\"a\\u00e9\",\"product\":{\"category\":\"45\",\"code\":\"45A12\"}," extra "}"

Test(eventlog, a_message_as_it_is_stored)
{
    jtm_jdoc d;
    jtm_jdoc_init(&d);
    sbuf scratch = {0};
    jtm_event e;
    cr_assert(from(MSG("2024-03-02T08:00:00Z", "\"start_date\":\"2024-01-02\",\"end_date\":\"2024-03-01\","
                                               "\"end_reason\":\"31\",\"referrer\":null"),
                   &e, &scratch, &d));
    cr_assert_eq(e.feed, JTM_EV_FEED_SOJ);
    cr_assert_eq(e.type, JTM_EV_T_STOP);
    cr_assert_eq(e.recorded_at, 762681600000000LL);
    cr_assert_eq(e.occurred_on, 19783);
    cr_assert_eq(e.start_date, 19724);
    cr_assert_eq(e.end_date, 19783);
    cr_assert_eq(e.allocated_on, JTM_NO_DATE);
    cr_assert_str_eq(e.allocation_no, "a\xc3\xa9", "escapes decoded, as payload->>'allocation_no'");
    cr_assert_str_eq(e.category, "45");
    cr_assert_str_eq(e.gemeente, "GM0505");
    cr_assert_str_eq(e.birth_ym, "2012-05");
    cr_assert_str_eq(e.end_reason, "31");
    cr_assert_null(e.referrer, "JSON null is SQL NULL");
    cr_assert_null(e.reference);
    cr_assert_not(e.has_amount);
    /* instants as PostgreSQL stores them */
    cr_assert(from(MSG("2024-03-02T08:00:00.123456+01:00", "\"x\":1"), &e, &scratch, &d));
    cr_assert_eq(e.recorded_at, 762678000123456LL);
    cr_assert(from(MSG("1999-12-31t23:59:59.5-05:30", "\"x\":1"), &e, &scratch, &d));
    cr_assert_eq(e.recorded_at, 19799500000LL);
    cr_assert(from(MSG("2024-03-02 08:00:00.1z", "\"x\":1"), &e, &scratch, &d));
    cr_assert_eq(e.recorded_at, 762681600100000LL);
    cr_assert(from(MSG("2024-03-02T08:00:00Z", "\"amount_cents\":1250"), &e, &scratch, &d));
    cr_assert(e.has_amount && e.amount_cents == 1250);
    jtm_jdoc_free(&d);
    sb_free(&scratch);
}

/* Where a column would hold something other than the field's plain string, the message is not
 * stored directly (false): the upsert stores it and the child is rebuilt from what PostgreSQL made
 * of it. */
Test(eventlog, what_is_not_plain_is_left_to_postgresql)
{
    jtm_jdoc d;
    jtm_jdoc_init(&d);
    sbuf scratch = {0};
    jtm_event e;
    cr_assert_not(from(MSG("2024-03-02T08:00:00Z", "\"referrer\":2"), &e, &scratch, &d), "a number where a code is");
    cr_assert_not(from(MSG("2024-03-02T08:00:00Z", "\"end_reason\":{\"a\":1}"), &e, &scratch, &d));
    cr_assert_not(from(MSG("2016-12-31T23:59:60Z", "\"x\":1"), &e, &scratch, &d), "a leap second");
    cr_assert_not(from(MSG("2024-03-02T08:00:00.1234567Z", "\"x\":1"), &e, &scratch, &d), "seven fractional digits");
    cr_assert_not(from(MSG("2024-03-02T08:00:00Z", "\"amount_cents\":1.5"), &e, &scratch, &d));
    /* a product that is not an object gives no category (payload->'product'->>'category' is NULL) */
    const char *odd = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"request\","
                      "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\","
                      "\"client\":{\"gemeente\":\"GM0505\"},\"product\":\"45\"}";
    cr_assert(from(odd, &e, &scratch, &d));
    cr_assert_null(e.category);
    cr_assert_null(e.birth_ym);
    jtm_jdoc_free(&d);
    sb_free(&scratch);
}
