/* Unit tests of jtm-alert's notice (daemons/jtm-alert/payload.c) and retry delay (deliver.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "deliver.h"
#include "payload.h"

/* The example of the Standard Webhooks specification (its reference libraries test the same):
 * secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, decoded to its 24 key bytes. */
Test(alert_payload, signature_standard_webhooks_vector)
{
    static const unsigned char key[24] = {0x31, 0xf2, 0x90, 0xf6, 0xbf, 0x06, 0x29, 0x8a, 0xab, 0x4f, 0x08, 0xd4,
                                          0x3c, 0x3f, 0x08, 0x2c, 0xf6, 0x48, 0xa3, 0x62, 0xda, 0x2d, 0xa4, 0xb0};
    char sig[ALERT_SIGNATURE_LEN];
    const char *body = "{\"test\": 2432232314}";
    cr_assert_eq(alert_webhook_signature(key, sizeof key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330LL, body,
                                         strlen(body), sig),
                 0);
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* The id and the time are signed: changing either changes the signature. */
    char other[ALERT_SIGNATURE_LEN];
    alert_webhook_signature(key, sizeof key, "msg_p5jXN8AQM9LWM0D4loKWxJeK", 1614265330LL, body, strlen(body), other);
    cr_assert_str_neq(sig, other);
    alert_webhook_signature(key, sizeof key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331LL, body, strlen(body), other);
    cr_assert_str_neq(sig, other);
}

Test(alert_payload, idempotency_key_stable_and_distinct)
{
    char a[33], b[33], c[33], d[33];
    alert_idempotency_key("GM0505", "45", "C1", "2026-05-25", "firing", a);
    alert_idempotency_key("GM0505", "45", "C1", "2026-05-25", "firing", b);
    alert_idempotency_key("GM0505", "45", "C1", "2026-05-25", "resolved", c);
    alert_idempotency_key("GM0505", "4", "5C1", "2026-05-25", "firing", d); /* joins are unambiguous */
    cr_assert_eq(strlen(a), 32);
    cr_assert_str_eq(a, b);
    cr_assert_str_neq(a, c);
    cr_assert_str_neq(a, d);
    for (int i = 0; i < 32; i++)
        cr_assert(strchr("0123456789abcdef", a[i]));
}

Test(alert_payload, notice_json)
{
    char weeks[3][11] = {"2026-05-11", "2026-05-18", "2026-05-25"};
    double waiting[3] = {10, 11, 40}, upper[3] = {NAN, 13.456, 12.0049};
    alert_notice n = {.gemeente = "GM0505", .category = "45", .method = "C2", .week = "2026-05-25",
                      .status = "firing", .observed = 40, .upper_bound = 12.0049, .idempotency_key = "k",
                      .n = 3, .weeks = weeks, .waiting = waiting, .upper = upper};
    char *s = alert_notice_json(&n);
    cr_assert_not_null(s);
    cr_assert(strncmp(s, "{\"municipality\":\"GM0505\",\"category\":\"45\",\"status\":\"firing\",\"week\":\"2026-05-25\","
                         "\"observed\":40,\"upper_bound\":12.0,",
                      strlen("{\"municipality\":\"GM0505\",\"category\":\"45\",\"status\":\"firing\",\"week\":\"2026-05-25\","
                             "\"observed\":40,\"upper_bound\":12.0,")) == 0,
              "%s", s);
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_not_null(j);
    json_t *series = json_object_get(j, "series");
    cr_assert_eq(json_array_size(series), 3);
    cr_assert(json_is_null(json_object_get(json_array_get(series, 0), "upper_bound")));
    cr_assert_float_eq(json_real_value(json_object_get(json_array_get(series, 1), "upper_bound")), 13.46, 1e-9);
    const char *summary = json_string_value(json_object_get(j, "summary"));
    cr_assert_not_null(strstr(summary, "GM0505"));
    cr_assert_not_null(strstr(summary, "wachtten 40 trajecten"), "%s", summary);
    cr_assert_not_null(strstr(summary, "bovengrens van 12,0 (EARS C2)"), "%s", summary);
    cr_assert_null(strstr(summary, "http"));
    cr_assert(json_is_null(json_object_get(j, "municipality_name")));
    cr_assert_null(json_object_get(j, "waiting"));
    cr_assert_null(json_object_get(j, "report_url"));
    json_decref(j);
    free(s);
}

/* What a municipality acts on: names, children and episodes, decision and start waits, the
 * providers holding the start wait, a link apart from the link-free summary. */
Test(alert_payload, notice_says_who_waits_and_where)
{
    char weeks[1][11] = {"2026-11-30"};
    double waiting[1] = {140}, upper[1] = {87.43};
    alert_wait_detail d = {.children = 131, .episodes = 140, .for_decision = 116, .for_start = 24, .nproviders = 2,
                           .providers = {{"12345678", 15}, {"87654321", 9}}};
    alert_notice n = {.gemeente = "GM0505", .category = "45", .method = "C2", .week = "2026-11-30",
                      .status = "firing", .observed = 140, .upper_bound = 87.43, .idempotency_key = "k",
                      .n = 1, .weeks = weeks, .waiting = waiting, .upper = upper, .gemeente_name = "Dordrecht",
                      .category_label = "45 ambulant", .detail = &d,
                      .report_url = "https://monitor.example/rapport/GM0505.html#waiting"};
    char *s = alert_notice_json(&n);
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_not_null(j, "%s", s);
    const char *summary = json_string_value(json_object_get(j, "summary"));
    cr_assert_str_eq(summary,
                     "Wachtlijst Dordrecht (GM0505), categorie 45 ambulant: in de week van 30 november 2026 wachtten "
                     "131 kinderen (140 trajecten), boven de verwachte bovengrens van 87,4 (EARS C2). 116 wachten op "
                     "een besluit van de gemeente, 24 op de start van zorg, vooral bij aanbieders 12345678 (15), "
                     "87654321 (9).");
    cr_assert_str_eq(json_string_value(json_object_get(j, "municipality_name")), "Dordrecht");
    cr_assert_str_eq(json_string_value(json_object_get(j, "category_label")), "45 ambulant");
    json_t *w = json_object_get(j, "waiting");
    cr_assert_eq(json_integer_value(json_object_get(w, "children")), 131);
    cr_assert_eq(json_integer_value(json_object_get(w, "episodes")), 140);
    cr_assert_eq(json_integer_value(json_object_get(w, "for_decision")), 116);
    cr_assert_eq(json_integer_value(json_object_get(w, "for_start")), 24);
    json_t *p = json_object_get(w, "start_wait_by_provider");
    cr_assert_eq(json_array_size(p), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(p, 0), "provider_agb")), "12345678");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(p, 0), "waiting_for_start")), 15);
    cr_assert_str_eq(json_string_value(json_object_get(j, "report_url")), n.report_url);
    json_decref(j);
    free(s);
}

Test(alert_payload, backoff_doubles_with_jitter_and_cap)
{
    unsigned long long rnd = 12345;
    for (int rep = 0; rep < 200; rep++) {
        long d1 = alert_backoff_ms(1000, 60000, 1, &rnd);
        long d3 = alert_backoff_ms(1000, 60000, 3, &rnd);
        long d20 = alert_backoff_ms(1000, 60000, 20, &rnd);
        cr_assert(d1 >= 500 && d1 <= 1000, "%ld", d1);
        cr_assert(d3 >= 2000 && d3 <= 4000, "%ld", d3);
        cr_assert(d20 >= 30000 && d20 <= 60000, "%ld", d20);
    }
}
