/* common/metrics.c: the Prometheus text format, the stats log line, concurrent updates, and the
 * HTTP endpoint fetched with libcurl. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

Test(metrics, render_format)
{
    jtm_metrics *m = jtm_metrics_new();
    jtm_counter *c = jtm_metrics_counter(m, "jtm_test_consumed_total", "raw messages read", NULL);
    jtm_counter *r1 = jtm_metrics_counter(m, "jtm_test_rejected_total", "rejects by reason", "reason=\"bsn_invalid\"");
    jtm_counter *r2 = jtm_metrics_counter(m, "jtm_test_rejected_total", "rejects by reason", "reason=\"json_parse\"");
    cr_assert_eq(jtm_metrics_counter(m, "jtm_test_rejected_total", "x", "reason=\"bsn_invalid\""), r1,
                 "same series, same object");
    cr_assert_null(jtm_metrics_gauge(m, "jtm_test_consumed_total", "type clash", NULL));
    cr_assert_null(jtm_metrics_counter(m, "9bad name", "", NULL));
    jtm_gauge *g = jtm_metrics_gauge(m, "jtm_test_lag", "consumer lag", "partition=\"3\"");
    static const double bounds[] = {0.001, 0.01, 0.1};
    jtm_histogram *h = jtm_metrics_histogram(m, "jtm_test_latency_seconds", "delivery latency", NULL, bounds, 3);
    jtm_counter_add(c, 5);
    jtm_counter_add(r1, 2);
    jtm_counter_add(r2, 1);
    jtm_gauge_set(g, 42);
    jtm_gauge_add(g, 0.5);
    jtm_histogram_observe(h, 0.0005);
    jtm_histogram_observe(h, 0.005);
    jtm_histogram_observe(h, 0.005);
    jtm_histogram_observe(h, 7);
    size_t len;
    char *text = jtm_metrics_render(m, &len);
    const char *expected =
        "# HELP jtm_test_consumed_total raw messages read\n"
        "# TYPE jtm_test_consumed_total counter\n"
        "jtm_test_consumed_total 5\n"
        "# HELP jtm_test_rejected_total rejects by reason\n"
        "# TYPE jtm_test_rejected_total counter\n"
        "jtm_test_rejected_total{reason=\"bsn_invalid\"} 2\n"
        "jtm_test_rejected_total{reason=\"json_parse\"} 1\n"
        "# HELP jtm_test_lag consumer lag\n"
        "# TYPE jtm_test_lag gauge\n"
        "jtm_test_lag{partition=\"3\"} 42.5\n"
        "# HELP jtm_test_latency_seconds delivery latency\n"
        "# TYPE jtm_test_latency_seconds histogram\n"
        "jtm_test_latency_seconds_bucket{le=\"0.001\"} 1\n"
        "jtm_test_latency_seconds_bucket{le=\"0.01\"} 3\n"
        "jtm_test_latency_seconds_bucket{le=\"0.1\"} 3\n"
        "jtm_test_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "jtm_test_latency_seconds_sum 7.0105\n"
        "jtm_test_latency_seconds_count 4\n";
    cr_expect_str_eq(text, expected);
    cr_expect_eq(len, strlen(text));
    free(text);

    char line[512];
    jtm_metrics_log_line(m, "jtm_test_", line, sizeof line);
    cr_expect_str_eq(line, "consumed=5 rejected.bsn_invalid=2 rejected.json_parse=1 lag.3=42.5 "
                           "latency_seconds.count=4 latency_seconds.p50=0.01 latency_seconds.p99=+Inf");
    jtm_metrics_free(m);
}

Test(metrics, log_line_folds_many_series_of_a_gauge)
{
    jtm_metrics *m = jtm_metrics_new();
    jtm_counter_add(jtm_metrics_counter(m, "jtm_t_consumed_total", "", NULL), 3);
    for (int p = 0; p < 9; p++) {
        char labels[32];
        snprintf(labels, sizeof labels, "partition=\"%d\"", p);
        jtm_gauge_set(jtm_metrics_gauge(m, "jtm_t_lag", "", labels), p == 4 ? 10 : 1);
    }
    char line[512];
    jtm_metrics_log_line(m, "jtm_t_", line, sizeof line);
    cr_expect_str_eq(line, "consumed=3 lag.sum=18 lag.max=10");
    jtm_metrics_free(m);
}

Test(metrics, label_escape_and_overflow)
{
    char buf[64];
    cr_expect_str_eq(jtm_metrics_label_escape(buf, sizeof buf, "a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    jtm_metrics *m = jtm_metrics_new();
    jtm_counter *last = NULL;
    for (int i = 0; i < JTM_METRICS_MAX_SERIES + 10; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"r%d\"", i);
        last = jtm_metrics_counter(m, "jtm_many_total", "", labels);
        cr_assert_not_null(last);
        jtm_counter_add(last, 1);
    }
    cr_expect_eq(jtm_counter_get(last), 10, "the overflow series collects the rest");
    char *text = jtm_metrics_render(m, NULL);
    cr_expect(strstr(text, "jtm_many_total{overflow=\"true\"} 10\n") != NULL);
    free(text);
    jtm_metrics_free(m);
}

typedef struct {
    jtm_counter *c;
    jtm_histogram *h;
} workers;

static void *hammer(void *arg)
{
    workers *w = arg;
    for (int i = 0; i < 100000; i++) {
        jtm_counter_add(w->c, 1);
        jtm_histogram_observe(w->h, 1.0);
    }
    return NULL;
}

Test(metrics, concurrent_updates_lose_nothing)
{
    jtm_metrics *m = jtm_metrics_new();
    static const double b[] = {0.5, 2};
    workers w = {jtm_metrics_counter(m, "jtm_n_total", "", NULL), jtm_metrics_histogram(m, "jtm_h", "", NULL, b, 2)};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(jtm_counter_get(w.c), 400000);
    cr_expect_eq(jtm_histogram_count(w.h), 400000);
    char *text = jtm_metrics_render(m, NULL);
    cr_expect(strstr(text, "jtm_h_sum 400000\n") != NULL, "%s", text);
    free(text);
    jtm_metrics_free(m);
}

typedef struct {
    char *p;
    size_t len;
} body;

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    body *b = arg;
    b->p = realloc(b->p, b->len + size * n + 1);
    memcpy(b->p + b->len, data, size * n);
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static long fetch(int port, const char *path, body *b)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    long code = 0;
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "GET %s", url);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

static int health(void *opaque, char *reason, size_t len)
{
    int *state = opaque;
    if (*state == 0)
        return 0;
    snprintf(reason, len, "broker_down");
    return 1;
}

Test(metrics, http_endpoint)
{
    char err[256];
    int state = 0;
    jtm_metrics *m = jtm_metrics_new();
    jtm_counter_add(jtm_metrics_counter(m, "jtm_http_total", "requests", NULL), 3);
    cr_assert_null(jtm_metrics_serve(m, "nonsense", NULL, NULL, err, sizeof err));
    cr_expect(strstr(err, "nonsense") != NULL);
    jtm_metrics_http *h = jtm_metrics_serve(m, "127.0.0.1:0", health, &state, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    int port = jtm_metrics_http_port(h);
    cr_assert_gt(port, 0);

    body b = {0};
    cr_expect_eq(fetch(port, "/metrics", &b), 200);
    cr_expect(strstr(b.p, "# TYPE jtm_http_total counter\njtm_http_total 3\n") != NULL, "%s", b.p);
    free(b.p);
    b = (body){0};
    cr_expect_eq(fetch(port, "/healthz", &b), 200);
    cr_expect_str_eq(b.p, "ok\n");
    free(b.p);
    state = 1;
    b = (body){0};
    cr_expect_eq(fetch(port, "/healthz", &b), 503);
    cr_expect_str_eq(b.p, "broker_down\n");
    free(b.p);
    b = (body){0};
    cr_expect_eq(fetch(port, "/nope", &b), 404);
    free(b.p);

    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    cr_expect_null(jtm_metrics_serve(m, listen, NULL, NULL, err, sizeof err), "port in use is an error");
    jtm_metrics_http_stop(h);
    jtm_metrics_free(m);
}
