#include "deliver.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "payload.h"
#include "pg.h"
#include "service.h"
#include "signals.h"

struct alert_sender {
    const alert_config *cfg;
    const alert_routes *routes;
    CURL *curl; /* reused: keeps connections to the receivers alive */
    unsigned long long rnd;
    alert_deliver_metrics m;
};

alert_sender *alert_sender_new(const alert_config *cfg, const alert_routes *routes, char *errstr, size_t errlen)
{
    alert_sender *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->routes = routes;
    s->curl = curl_easy_init();
    if (!s->curl) {
        free(s);
        snprintf(errstr, errlen, "curl_easy_init failed");
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->rnd = ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)ts.tv_sec ^ ((unsigned long long)getpid() << 40);
    if (!s->rnd)
        s->rnd = 0x9e3779b97f4a7c15ULL;
    return s;
}

void alert_sender_free(alert_sender *s)
{
    if (!s)
        return;
    curl_easy_cleanup(s->curl);
    free(s);
}

void alert_sender_set_metrics(alert_sender *s, const alert_deliver_metrics *m)
{
    if (s && m)
        s->m = *m;
}

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static unsigned long long xorshift(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

long alert_backoff_ms(long initial_ms, long max_ms, long attempt, unsigned long long *rnd)
{
    long d = initial_ms;
    for (long i = 1; i < attempt && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    long half = d / 2;
    return half + (long)(xorshift(rnd) % (unsigned long long)(d - half + 1));
}

#define SENDABLE ALERT_SENDABLE("d")

long alert_deliver_recover(PGconn *conn, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(conn, "UPDATE ops.alert_attempt SET outcome = 'interrupted', finished_at = clock_timestamp(),"
                                 " error = 'jtm-alert stopped before recording the result'"
                                 " WHERE outcome IS NULL");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    long n = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return n;
}

long alert_deliver_next_due_ms(PGconn *conn, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT greatest(0, ceil(extract(epoch FROM min(d.next_attempt_at) - clock_timestamp())"
                                 " * 1000))::bigint FROM ops.alert_delivery d WHERE " SENDABLE);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -2;
    }
    long ms = PQgetisnull(res, 0, 0) ? -1 : strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return ms;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* One HTTP POST. Returns the HTTP status (>= 100), or 0 with errbuf filled when no response came. */
static long post(alert_sender *s, const alert_route *rt, const char *key, const char *body, char *errbuf,
                 size_t errlen)
{
    /* Standard Webhooks headers: the id is the notice's idempotency key (the same on every retry, so
     * the receiver can drop repeats); the timestamp and signature are made anew for each attempt. */
    char sig[ALERT_SIGNATURE_LEN], sighdr[96], idhdr[96], tshdr[64];
    long long now = (long long)time(NULL);
    if (alert_webhook_signature(rt->secret, rt->secret_len, key, now, body, strlen(body), sig) != 0) {
        snprintf(errbuf, errlen, "cannot compute the signature");
        return 0;
    }
    snprintf(idhdr, sizeof idhdr, "webhook-id: %s", key);
    snprintf(tshdr, sizeof tshdr, "webhook-timestamp: %lld", now);
    snprintf(sighdr, sizeof sighdr, "webhook-signature: %s", sig);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, idhdr);
    h = curl_slist_append(h, tshdr);
    h = curl_slist_append(h, sighdr);
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "User-Agent: jtm-alert/" JTM_VERSION);
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, rt->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else {
        /* curl's message names the host and port at most, never the path or query of the URL. */
        snprintf(errbuf, errlen, "%s: %s", curl_easy_strerror(rc), cerr);
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return status;
}

char *alert_attempt_begin(PGconn *conn, const char *delivery_id, char *errstr, size_t errlen)
{
    const char *params[1] = {delivery_id};
    PGresult *res = PQexecParams(conn,
                                 "WITH d AS (UPDATE ops.alert_delivery SET attempts = attempts + 1"
                                 "  WHERE id = $1 AND status = 'pending' RETURNING id, attempts)"
                                 " INSERT INTO ops.alert_attempt (delivery_id, attempt)"
                                 " SELECT id, attempts FROM d RETURNING id::text",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            snprintf(errstr, errlen, "delivery %s is no longer pending", delivery_id);
        else
            jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return NULL;
    }
    char *id = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return id;
}

int alert_attempt_finish(PGconn *conn, const char *attempt_id, const char *delivery_id, long http_status,
                          const char *error, const char *outcome, const char *delivery_status, long delay_ms,
                          char *errstr, size_t errlen)
{
    char st[16], delay[24];
    snprintf(st, sizeof st, "%ld", http_status);
    snprintf(delay, sizeof delay, "%ld", delay_ms);
    const char *params[7] = {attempt_id, http_status ? st : NULL, error && *error ? error : NULL, outcome,
                             delivery_id, delivery_status, delay};
    PGresult *res = PQexecParams(conn,
                                 "WITH a AS (UPDATE ops.alert_attempt SET finished_at = clock_timestamp(),"
                                 "  http_status = $2::int, error = $3, outcome = $4 WHERE id = $1::bigint)"
                                 " UPDATE ops.alert_delivery SET status = $6,"
                                 "  next_attempt_at = clock_timestamp() + $7::bigint * interval '1 millisecond',"
                                 "  delivered_at = CASE WHEN $6 = 'delivered' THEN clock_timestamp() END,"
                                 "  last_http_status = $2::int, last_error = $3"
                                 " WHERE id = $5::bigint",
                                 7, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

void alert_attempt_outcome(const alert_config *cfg, int ok, int retryable, long attempt, unsigned long long *rnd,
                           const char **outcome, const char **delivery_status, long *delay_ms)
{
    *delay_ms = 0;
    if (ok) {
        *outcome = *delivery_status = "delivered";
    } else if (retryable && attempt < cfg->max_attempts) {
        *outcome = "retry";
        *delivery_status = "pending";
        *delay_ms = alert_backoff_ms((long)cfg->backoff_initial_ms, (long)cfg->backoff_max_ms, attempt, rnd);
    } else {
        *outcome = *delivery_status = "failed";
    }
}

/* Sends one notice and records the outcome. Returns 0, or -1 on a PostgreSQL error. */
static int deliver_one(PGconn *conn, alert_sender *s, const char *id, const char *gemeente, const char *kind,
                       const char *key, const char *body, long attempts_before, char *errstr, size_t errlen)
{
    const alert_route *rt = alert_routes_find_webhook(s->routes, gemeente);
    char *attempt_id = alert_attempt_begin(conn, id, errstr, errlen);
    if (!attempt_id)
        return -1;
    long attempt = attempts_before + 1;
    if (!rt) {
        log_error("delivery_failed", "delivery_id=%s gemeente=%s kind=%s reason=no_route", id, gemeente, kind);
        jtm_counter_add(s->m.failed, 1);
        int r = alert_attempt_finish(conn, attempt_id, id, 0, "no route for this municipality and no route.default",
                               "failed", "failed", 0, errstr, errlen);
        free(attempt_id);
        return r;
    }
    char err[CURL_ERROR_SIZE + 128] = "";
    long long t0 = mono_us();
    long status = post(s, rt, key, body, err, sizeof err);
    jtm_histogram_observe(s->m.attempt_ms, (double)(mono_us() - t0) / 1000.0);
    const char *outcome, *dstatus;
    long delay = 0;
    int retryable = status == 0 || status >= 500 || status == 408 || status == 429;
    alert_attempt_outcome(s->cfg, status >= 200 && status < 300, retryable, attempt, &s->rnd, &outcome, &dstatus,
                          &delay);
    jtm_counter_add(strcmp(outcome, "delivered") == 0 ? s->m.delivered
                    : strcmp(outcome, "retry") == 0     ? s->m.retried
                                                        : s->m.failed,
                    1);
    if (status && !(status >= 200 && status < 300) && !*err)
        snprintf(err, sizeof err, "HTTP %ld", status);
    char q[300] = "";
    if (*err)
        snprintf(q, sizeof q, " error=");
    if (*err)
        jtm_log_quote(q + 7, sizeof q - 7, err);
    jtm_log(strcmp(outcome, "delivered") == 0 ? JTM_LOG_INFO : strcmp(outcome, "retry") == 0 ? JTM_LOG_WARN : JTM_LOG_ERROR,
            "delivery_attempt", "delivery_id=%s gemeente=%s kind=%s route=%s attempt=%ld http_status=%ld outcome=%s retry_in_ms=%ld%s",
            id, gemeente, kind, rt->name, attempt, status, outcome, delay, q);
    int r = alert_attempt_finish(conn, attempt_id, id, status, err, outcome, dstatus, delay, errstr, errlen);
    free(attempt_id);
    return r;
}

int alert_deliver_due(PGconn *conn, alert_sender *s, long *sent, char *errstr, size_t errlen)
{
    *sent = 0;
    PGresult *res = PQexec(conn,
                           "SELECT d.id::text, d.gemeente, d.kind, d.idempotency_key, d.body, d.attempts"
                           " FROM ops.alert_delivery d"
                           " WHERE " SENDABLE " AND d.channel = 'webhook' AND d.next_attempt_at <= clock_timestamp()"
                           " ORDER BY d.next_attempt_at, d.id LIMIT 100");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(res) && jtm_run; i++) {
        jtm_service_watchdog(); /* up to 100 attempts of deliver.timeout_ms each */
        if (deliver_one(conn, s, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                        PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), strtol(PQgetvalue(res, i, 5), NULL, 10),
                        errstr, errlen) != 0) {
            rc = -1;
            break;
        }
        (*sent)++;
    }
    PQclear(res);
    return rc;
}
