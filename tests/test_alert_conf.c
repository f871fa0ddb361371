/* Unit tests of jtm-alert's configuration (daemons/jtm-alert/conf.c): route keys next to the
 * option table, secret files refused when group/others can read them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "testenv.h"

Test(alert_conf, routes_from_file_and_overrides)
{
    char *dir = jtm_test_tmpdir(), *path = NULL, *sec = NULL, *text = NULL;
    cr_assert(asprintf(&path, "%s/a.conf", dir) > 0);
    cr_assert(asprintf(&sec, "%s/s", dir) > 0);
    jtm_test_write_file(sec, "top-secret-of-the-region-at-least-32b\n", 0600);
    cr_assert(asprintf(&text,
                       "# routes\nalert.method = C2\nalert.min_count = 3\n"
                       "route.GM0505.url = https://gm0505.example/hook?a=b\nroute.GM0505.secret_file = %s\n"
                       "route.default.url = https://regio.example/hook\nroute.default.secret_file = %s\n",
                       sec, sec) > 0);
    jtm_test_write_file(path, text, 0644);
    alert_config cfg = {0};
    jtm_passthrough pt = {0};
    alert_routes r = {0};
    char err[512];
    char ov1[] = "route.GM0363.url=http://127.0.0.1:1/x", ov2[200];
    snprintf(ov2, sizeof ov2, "route.GM0363.secret_file=%s", sec);
    jtm_kvlist cli = {0};
    cr_assert_eq(jtm_config_cli_add(&cli, ov1), 0);
    cr_assert_eq(jtm_config_cli_add(&cli, ov2), 0);
    cr_assert_eq(alert_config_load(&cfg, &pt, &r, path, &cli, err, sizeof err), 0, "%s", err);
    jtm_kvlist_free(&cli);
    cr_assert_str_eq(cfg.method, "C2");
    cr_assert_eq(cfg.min_count, 3);
    cr_assert_eq(cfg.baseline, 13);
    cr_assert_eq(r.count, 3);
    cr_assert_eq(alert_routes_load_secrets(&r, false, err, sizeof err), 0, "%s", err);
    const alert_route *a = alert_routes_find(&r, "GM0505");
    cr_assert_str_eq(a->name, "GM0505");
    cr_assert_eq(a->secret_len, 37);
    cr_assert(memcmp(a->secret, "top-secret-of-the-region-at-least-32b", 37) == 0);
    cr_assert_str_eq(alert_routes_find(&r, "GM0363")->url, "http://127.0.0.1:1/x");
    cr_assert_str_eq(alert_routes_find(&r, "GM9999")->name, "default");
    alert_config_free(&cfg, &pt, &r);

    /* Group-readable secret: refused, and the error does not contain it. */
    jtm_test_write_file(sec, "top-secret-of-the-region-at-least-32b\n", 0640);
    memset(&cfg, 0, sizeof cfg);
    cr_assert_eq(alert_config_load(&cfg, &pt, &r, path, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(alert_routes_load_secrets(&r, false, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "refused"));
    cr_assert_null(strstr(err, "top-secret"));
    alert_config_free(&cfg, &pt, &r);

    /* Malformed route keys and unknown options are errors naming the key. */
    char bad1[] = "route.GM0505.token=x", bad2[] = "route..url=x", bad3[] = "alert.unknown=1";
    char *bads[] = {bad1, bad2, bad3};
    for (int i = 0; i < 3; i++) {
        memset(&cfg, 0, sizeof cfg);
        jtm_kvlist one = {0};
        cr_assert_eq(jtm_config_cli_add(&one, bads[i]), 0);
        cr_assert_eq(alert_config_load(&cfg, &pt, &r, NULL, &one, err, sizeof err), -1, "%s accepted", bads[i]);
        jtm_kvlist_free(&one);
        alert_config_free(&cfg, &pt, &r);
    }
    alert_routes none = {0};
    cr_assert_null(alert_routes_find(&none, "GM0505"));
    free(text);
    free(sec);
    free(path);
    free(dir);
}

/* Loads one route with url and secret file content; returns alert_routes_load_secrets' result. */
static int load_one(const char *url, const char *secret, bool allow_http, alert_routes *r, char *err, size_t errlen)
{
    char *dir = jtm_test_tmpdir(), *sec = NULL;
    cr_assert(asprintf(&sec, "%s/s", dir) > 0);
    jtm_test_write_file(sec, secret, 0600);
    cr_assert_eq(alert_routes_set(r, "route.default.url", url, err, errlen), 1);
    cr_assert_eq(alert_routes_set(r, "route.default.secret_file", sec, err, errlen), 1);
    int rc = alert_routes_load_secrets(r, allow_http, err, errlen);
    free(sec), free(dir);
    return rc;
}

Test(alert_conf, short_secrets_are_refused_without_showing_them)
{
    alert_routes r = {0};
    char err[512];
    cr_assert_eq(load_one("https://x.example/h", "thirty-one-bytes-of-secret-text\n", false, &r, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "too short"), "%s", err);
    cr_assert_null(strstr(err, "thirty-one"));
    alert_routes_free(&r);
    cr_assert_eq(load_one("https://x.example/h", "thirty-two-bytes-of-secret-text!\n", false, &r, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(r.items[0].secret_len, 32);
    alert_routes_free(&r);
}

Test(alert_conf, whsec_secrets_decode_as_standard_webhooks_does)
{
    alert_routes r = {0};
    char err[512];
    /* 32 bytes 0x00..0x1f in base64. */
    cr_assert_eq(load_one("https://x.example/h", "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", false, &r, err,
                          sizeof err),
                 0, "%s", err);
    cr_assert_eq(r.items[0].secret_len, 32);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(r.items[0].secret[i], i);
    alert_routes_free(&r);
    /* 24 decoded bytes (the specification's own example length) are below the minimum. */
    cr_assert_eq(load_one("https://x.example/h", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", false, &r, err, sizeof err),
                 -1);
    alert_routes_free(&r);
    cr_assert_eq(load_one("https://x.example/h", "whsec_not*base64*at*all*of*enough*length*really\n", false, &r, err,
                          sizeof err),
                 -1);
    cr_assert_not_null(strstr(err, "base64"), "%s", err);
    alert_routes_free(&r);
}

Test(alert_conf, plain_http_only_to_loopback_unless_allowed)
{
    const char *secret = "a-webhook-secret-of-at-least-32-bytes\n";
    const char *loop[] = {"http://127.0.0.1:8099/h", "http://127.1.2.3/h", "http://localhost:1/h", "http://[::1]:80/h"};
    const char *remote[] = {"http://gm0505.example/hook", "http://10.0.0.1/h", "http://128.0.0.1/h",
                            "http://127.0.0.1.evil.example/h"};
    alert_routes r = {0};
    char err[512];
    for (size_t i = 0; i < sizeof loop / sizeof *loop; i++) {
        cr_assert_eq(load_one(loop[i], secret, false, &r, err, sizeof err), 0, "%s: %s", loop[i], err);
        alert_routes_free(&r);
    }
    for (size_t i = 0; i < sizeof remote / sizeof *remote; i++) {
        cr_assert_eq(load_one(remote[i], secret, false, &r, err, sizeof err), -1, "%s accepted", remote[i]);
        cr_assert_not_null(strstr(err, "loopback"), "%s", err);
        alert_routes_free(&r);
        cr_assert_eq(load_one(remote[i], secret, true, &r, err, sizeof err), 0, "%s with allow_http: %s", remote[i], err);
        alert_routes_free(&r);
    }
    cr_assert_eq(load_one("https://gm0505.example/hook", secret, false, &r, err, sizeof err), 0, "%s", err);
    alert_routes_free(&r);
}
