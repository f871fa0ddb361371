/* A webhook receiver for the jtm-alert integration tests (it_alert*.c), in process on loopback
 * with libmicrohttpd, plus the helpers those tests share (database with a waiting-list table,
 * config and secret files, starting jtm-alert). Header-only: each it_alert*.c is its own program.
 *
 * The receiver records every request (path, headers, body) and behaves like a receiver that
 * honours the idempotency key: the first 2xx answer for a key "accepts" the notice; later requests
 * with that key are answered 200 and counted as duplicates. It can be told to answer a list of
 * statuses first (500, 500, then 200 by default), and to hold the first request for a while
 * before answering (so a test can kill jtm-alert during delivery); acceptance is recorded when the
 * request arrives, before the hold, as a real receiver that processed the notice but whose answer
 * was lost. */
#ifndef JTM_TEST_ALERT_RECEIVER_H
#define JTM_TEST_ALERT_RECEIVER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testenv.h"

#define RX_MAX 256

typedef struct rx_request {
    char path[64];
    char key[80];  /* webhook-id */
    char ts[32];   /* webhook-timestamp */
    char sig[100]; /* webhook-signature */
    char ctype[64];
    char *body;
    int status;    /* what the receiver answered */
    int accepted;  /* first 2xx for this key */
    int duplicate; /* 2xx for a key already accepted */
} rx_request;

typedef struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    rx_request req[RX_MAX];
    int n;
    int script[16]; /* statuses for the first requests, then 200 */
    int nscript;
    int hold_first_ms;
} receiver;

typedef struct rx_conn {
    char *buf;
    size_t len;
} rx_conn;

static inline enum MHD_Result rx_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    receiver *rx = cls;
    rx_conn *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        st->buf = realloc(st->buf, st->len + *upload_size + 1);
        memcpy(st->buf + st->len, upload, *upload_size);
        st->len += *upload_size;
        st->buf[st->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    int hold = 0, status = 200;
    pthread_mutex_lock(&rx->mu);
    int i = rx->n;
    if (i < RX_MAX && strcmp(method, "POST") == 0) {
        rx_request *r = &rx->req[rx->n++];
        snprintf(r->path, sizeof r->path, "%s", url);
        snprintf(r->key, sizeof r->key, "%s", key ? key : "");
        snprintf(r->ts, sizeof r->ts, "%s", ts ? ts : "");
        snprintf(r->sig, sizeof r->sig, "%s", sig ? sig : "");
        snprintf(r->ctype, sizeof r->ctype, "%s", ct ? ct : "");
        r->body = st->buf ? strdup(st->buf) : strdup("");
        status = i < rx->nscript ? rx->script[i] : 200;
        if (status >= 200 && status < 300) {
            int seen = 0;
            for (int k = 0; k < i; k++)
                if (rx->req[k].accepted && strcmp(rx->req[k].key, r->key) == 0)
                    seen = 1;
            r->accepted = !seen;
            r->duplicate = seen;
        }
        r->status = status;
        if (i == 0)
            hold = rx->hold_first_ms;
    } else {
        status = 405;
    }
    pthread_mutex_unlock(&rx->mu);
    if (hold)
        usleep((useconds_t)hold * 1000);
    struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static inline void rx_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    rx_conn *st = *con_cls;
    if (st) {
        free(st->buf);
        free(st);
    }
    *con_cls = NULL;
}

static receiver *rx_start(const int *script, int nscript, int hold_first_ms)
{
    receiver *rx = calloc(1, sizeof *rx);
    pthread_mutex_init(&rx->mu, NULL);
    for (int i = 0; i < nscript && i < 16; i++)
        rx->script[i] = script[i];
    rx->nscript = nscript;
    rx->hold_first_ms = hold_first_ms;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                             rx_handler, rx, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, rx_completed,
                             NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    cr_assert_not_null(rx->d, "receiver did not start");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(rx->d, MHD_DAEMON_INFO_BIND_PORT);
    rx->port = info->port;
    cr_assert_gt(rx->port, 0);
    return rx;
}

static inline void rx_stop(receiver *rx)
{
    MHD_stop_daemon(rx->d);
    for (int i = 0; i < rx->n; i++)
        free(rx->req[i].body);
    pthread_mutex_destroy(&rx->mu);
    free(rx);
}

static inline int rx_count(receiver *rx, const char *path)
{
    pthread_mutex_lock(&rx->mu);
    int n = 0;
    for (int i = 0; i < rx->n; i++)
        if (!path || strcmp(rx->req[i].path, path) == 0)
            n++;
    pthread_mutex_unlock(&rx->mu);
    return n;
}

/* Waits up to timeout_ms until at least n requests (to path, or any when NULL) arrived. */
static inline int rx_wait(receiver *rx, const char *path, int n, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (rx_count(rx, path) >= n)
            return 1;
        usleep(50000);
    }
    return rx_count(rx, path) >= n;
}

/* "v1," + base64 HMAC-SHA256(secret, id "." timestamp "." body) (Standard Webhooks), computed
 * independently of jtm-alert. */
static inline void rx_expected_signature(const char *secret, const char *id, const char *ts, const char *body,
                                         char out[64])
{
    unsigned char md[32];
    unsigned int len = 0;
    char *msg = NULL;
    cr_assert(asprintf(&msg, "%s.%s.%s", id, ts, body) > 0);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), md, &len);
    free(msg);
    strcpy(out, "v1,");
    EVP_EncodeBlock((unsigned char *)out + 3, md, (int)len);
}

/* ---- database ---- */

static PGconn *it_connect(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    return c;
}

static inline void it_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(c));
    PQclear(r);
}

/* The first column of the first row as a malloc'd string ("" for NULL or no row). */
static char *it_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    char *v = strdup(PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

static inline long it_long(PGconn *c, const char *sql)
{
    char *v = it_value(c, sql);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

/* Waits until sql returns want (as text), up to timeout_ms. */
static inline int it_wait_value(PGconn *c, const char *sql, const char *want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        char *v = it_value(c, sql);
        int ok = strcmp(v, want) == 0;
        free(v);
        if (ok)
            return 1;
        usleep(100000);
    }
    return 0;
}

/* A migrated database where monitor.waiting_list_weekly is a plain table the test fills (the
 * linker's view, when its migration is there, is replaced: these tests are about jtm-alert). */
static char *it_alert_db(PGconn **conn)
{
    char *conninfo = jtm_test_create_db("alert", 1);
    *conn = it_connect(conninfo);
    it_exec(*conn, "DO $$ DECLARE k char; BEGIN"
                   " SELECT c.relkind INTO k FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                   "  WHERE n.nspname = 'monitor' AND c.relname = 'waiting_list_weekly';"
                   " IF k = 'v' THEN DROP VIEW monitor.waiting_list_weekly CASCADE;"
                   " ELSIF k = 'm' THEN DROP MATERIALIZED VIEW monitor.waiting_list_weekly CASCADE;"
                   " ELSIF k IS NOT NULL THEN DROP TABLE monitor.waiting_list_weekly CASCADE; END IF; END $$");
    it_exec(*conn, "CREATE TABLE monitor.waiting_list_weekly (week_start date, gemeente text, category text,"
                   " waiting integer)");
    return conninfo;
}

/* Adds weeks first_week .. first_week + n - 1 (0 = Monday 2026-01-05) of a series. */
static inline void it_weeks(PGconn *c, const char *gemeente, const char *category, int first_week, const int *values, int n)
{
    for (int i = 0; i < n; i++) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "INSERT INTO monitor.waiting_list_weekly VALUES (date '2026-01-05' + %d * 7, '%s', '%s', %d)",
                 first_week + i, gemeente, category, values[i]);
        it_exec(c, sql);
    }
}

/* ---- jtm-alert ---- */

/* Writes a secret file (mode 600) in dir; returns its path (caller frees). */
static char *it_secret(const char *dir, const char *name, const char *secret)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s.secret", dir, name) > 0);
    char *content = NULL;
    cr_assert(asprintf(&content, "%s\n", secret) > 0);
    jtm_test_write_file(path, content, 0600);
    free(content);
    return path;
}

/* Starts jtm-alert with config file cfg and the database; log to dir/<log>. */
static inline pid_t it_start_alert(const char *cfg, const char *conninfo, const char *dir, const char *log)
{
    char *bin = jtm_test_bin("jtm-alert"), *pg = NULL, *logpath = NULL;
    cr_assert(asprintf(&pg, "pg.conninfo=%s", conninfo) > 0);
    cr_assert(asprintf(&logpath, "%s/%s", dir, log) > 0);
    /* Like jtm_test_spawn, but the child dies with the test process, so a failed assertion does not
     * leave a jtm-alert running against the shared PostgreSQL. */
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char *argv[] = {bin, "-c", (char *)cfg, "-X", pg, NULL};
        execv(bin, argv);
        _exit(127);
    }
    free(bin);
    free(pg);
    free(logpath);
    return pid;
}

static inline void it_print_log(const char *dir, const char *log)
{
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "cat '%s/%s'", dir, log) > 0);
    jtm_test_sh(cmd, &out);
    fprintf(stderr, "---- %s ----\n%s\n", log, out);
    free(out);
    free(cmd);
}

#endif
