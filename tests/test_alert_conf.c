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
    jtm_test_write_file(sec, "top-secret\n", 0600);
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
    cr_assert_eq(cfg.baseline, 7);
    cr_assert_eq(r.count, 3);
    cr_assert_eq(alert_routes_load_secrets(&r, err, sizeof err), 0, "%s", err);
    const alert_route *a = alert_routes_find(&r, "GM0505");
    cr_assert_str_eq(a->name, "GM0505");
    cr_assert_eq(a->secret_len, 10);
    cr_assert(memcmp(a->secret, "top-secret", 10) == 0);
    cr_assert_str_eq(alert_routes_find(&r, "GM0363")->url, "http://127.0.0.1:1/x");
    cr_assert_str_eq(alert_routes_find(&r, "GM9999")->name, "default");
    alert_config_free(&cfg, &pt, &r);

    /* Group-readable secret: refused, and the error does not contain it. */
    jtm_test_write_file(sec, "top-secret\n", 0640);
    memset(&cfg, 0, sizeof cfg);
    cr_assert_eq(alert_config_load(&cfg, &pt, &r, path, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(alert_routes_load_secrets(&r, err, sizeof err), -1);
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
