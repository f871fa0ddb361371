/* What the operations tests (it_health.c, it_fault.c) share: fetching /metrics and /healthz with
 * libcurl, reading one series out of the Prometheus text, finding the port a daemon bound from its
 * `event=metrics_listening ... port=N` log line, a free loopback port for daemons that do not log
 * theirs, stopping and starting the test PostgreSQL (ops/pg.sh with the JTM_PGDATA, JTM_PGPORT and
 * JTM_BUILD that ops/test.sh exports), and spawning a daemon that dies with the test process.
 * Header-only: each it_*.c is its own program. */
#ifndef JTM_TEST_OPSENV_H
#define JTM_TEST_OPSENV_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testenv.h"

static inline long long ops_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct ops_buf {
    char *p;
    size_t n;
} ops_buf;

static size_t ops_curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    ops_buf *b = ud;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, ptr, add);
    b->n += add;
    np[b->n] = '\0';
    b->p = np;
    return add;
}

/* GET http://127.0.0.1:port/path. Returns the HTTP status (0 when nothing answered) and the body in
 * *body (malloc'd, may be NULL). */
static inline long ops_http_get(int port, const char *path, char **body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    ops_buf b = {NULL, 0};
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ops_curl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (body)
        *body = b.p;
    else
        free(b.p);
    return status;
}

/* The value of series (name or name{labels}, exactly as exposed) in Prometheus text; -1 when absent. */
static inline double ops_metric_in(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* Fetches /metrics on port and returns series' value (-1 when absent or nothing answered). */
static inline double ops_metric(int port, const char *series)
{
    char *body = NULL;
    double v = -1;
    if (ops_http_get(port, "/metrics", &body) == 200 && body)
        v = ops_metric_in(body, series);
    free(body);
    return v;
}

/* Waits until /healthz on port answers want (200 or 503); returns 1, or 0 after timeout_ms. */
static inline int ops_wait_health(int port, long want, int timeout_ms)
{
    long long until = ops_now_ms() + timeout_ms;
    do {
        if (ops_http_get(port, "/healthz", NULL) == want)
            return 1;
        usleep(200000);
    } while (ops_now_ms() < until);
    return 0;
}

/* Waits until series on port is at least min; returns the last value seen. */
static inline double ops_wait_metric(int port, const char *series, double min, int timeout_ms)
{
    long long until = ops_now_ms() + timeout_ms;
    double v;
    do {
        v = ops_metric(port, series);
        if (v >= min)
            return v;
        usleep(200000);
    } while (ops_now_ms() < until);
    return v;
}

/* The port of the first `event=metrics_listening ... port=N` line in logfile, waiting up to
 * timeout_ms; 0 when none appeared. */
static inline int ops_log_port(const char *logfile, int timeout_ms)
{
    long long until = ops_now_ms() + timeout_ms;
    do {
        FILE *f = fopen(logfile, "r");
        char line[4096];
        int port = 0;
        while (f && !port && fgets(line, sizeof line, f)) {
            const char *p;
            if (strstr(line, "event=metrics_listening") && (p = strstr(line, " port=")))
                port = atoi(p + 6);
        }
        if (f)
            fclose(f);
        if (port > 0)
            return port;
        usleep(100000);
    } while (ops_now_ms() < until);
    return 0;
}

/* A loopback TCP port nobody listens on right now (for daemons that do not log their port). */
static inline int ops_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ops/pg.sh stop|start on the test server. */
static inline void ops_pg(const char *what)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "cd %s && JTM_PGNOMIGRATE=1 ops/pg.sh %s 2>&1", JTM_SOURCE_DIR, what);
    int rc = jtm_test_sh(cmd, &out);
    cr_assert_eq(rc, 0, "ops/pg.sh %s: %s", what, out ? out : "");
    free(out);
}

/* Like jtm_test_spawn (stdout and stderr appended to logfile), but the child is SIGKILLed when the
 * test process dies, so a failed assertion leaves nothing running against the shared services. */
static inline pid_t ops_spawn(char *const argv[], const char *logfile)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(logfile ? logfile : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* True while pid runs (not exited, not reaped). */
static inline int ops_alive(pid_t pid) { return waitpid(pid, NULL, WNOHANG) == 0; }

/* One value of a one-row query on conninfo (malloc'd; NULL when the query failed). */
static inline char *ops_query(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    char *v = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            v = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static inline long ops_query_long(const char *conninfo, const char *sql)
{
    char *v = ops_query(conninfo, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

/* Prints the tail of a log file to stderr (for a failing assertion's context). */
static inline void ops_tail(const char *logfile, int lines)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "echo '--- %s' >&2; tail -n %d '%s' >&2", logfile, lines, logfile);
    jtm_test_sh(cmd, NULL);
}

/* ---- the pipeline: jtm-synth -> raw topics -> jtm-ingest x3 -> pseudo topics -> jtm-linker ---- */

static const char *const OPS_FEEDS[3] = {"jgz", "verzuim", "soj"};

/* Consumers in tests: a SIGKILLed member leaves the group when its session expires, and the mock
 * broker completes a rebalance after the last member left only session.timeout.ms - 1 s later. */
#define OPS_KAFKA_TIMEOUTS "kafka.session.timeout.ms = 6000\nkafka.heartbeat.interval.ms = 1000\n"

typedef struct ops_pipe {
    char dir[1024];      /* configs, logs, key */
    char boot[512];      /* broker */
    char prefix[256];    /* raw topics: <prefix>raw.<feed> (jtm-synth's topic.prefix) */
    char out[256];       /* pseudo and dlq topics: <out>pseudo.<feed>, <out>dlq.<feed> */
    char raw[3][512], pseudo[3][512];
} ops_pipe;

static inline void ops_pipe_init(ops_pipe *p, const char *dir, const char *boot, const char *prefix, const char *out)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%.*s", (int)sizeof p->dir - 1, dir);
    snprintf(p->boot, sizeof p->boot, "%.*s", (int)sizeof p->boot - 1, boot);
    snprintf(p->prefix, sizeof p->prefix, "%.*s", (int)sizeof p->prefix - 1, prefix);
    snprintf(p->out, sizeof p->out, "%.*s", (int)sizeof p->out - 1, out);
    for (int f = 0; f < 3; f++) {
        snprintf(p->raw[f], sizeof p->raw[f], "%sraw.%s", p->prefix, OPS_FEEDS[f]);
        snprintf(p->pseudo[f], sizeof p->pseudo[f], "%spseudo.%s", p->out, OPS_FEEDS[f]);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/region.key", dir);
    jtm_test_write_file(path, "ops-test-region-key-0123456789abcdef-0123456789", 0600);
}

/* jtm-synth --kafka into the raw topics; returns the events it reports. */
static inline long ops_synth(const ops_pipe *p, long seed, int children, int years, const char *extra)
{
    char *bin = jtm_test_bin("jtm-synth"), cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "%s --seed %ld --children %d --years %d --kafka %s -X topic.prefix=%s -X kafka.compression.type=lz4 %s 2>&1",
             bin, seed, children, years, p->boot, p->prefix, extra ? extra : "");
    int rc = jtm_test_sh(cmd, &out);
    cr_assert_eq(rc, 0, "jtm-synth exit %d: %s", rc, out);
    const char *d = strstr(out, "event=done events=");
    cr_assert_not_null(d, "%s", out);
    long n = atol(d + strlen("event=done events="));
    free(out);
    free(bin);
    return n;
}

/* Starts jtm-ingest for feed f (group <out>ing-<feed>), log <dir>/<log>. metrics: NULL for none.
 * kafka_timeouts: config lines for the group's timeouts (OPS_KAFKA_TIMEOUTS; "" for the daemon's
 * own defaults). */
static inline pid_t ops_start_ingest_with(const ops_pipe *p, int f, const char *metrics, const char *kafka_timeouts,
                                          const char *log)
{
    char conf[8192], path[1600], logpath[1600];
    snprintf(conf, sizeof conf,
             "feed = %s\nkey.file = %s/region.key\nkey.id = kops\nkafka.bootstrap.servers = %s\n"
             "topic.raw = %s\ntopic.pseudo = %s\ntopic.dlq = %sdlq.%s\ngroup.id = %sing-%s\n"
             "stats.interval.ms = 2000\nmetrics.listen = %s\n"
             /* the mock broker keeps 5 MiB per partition and stores compressed batches */
             "kafka.compression.type = lz4\n%s",
             OPS_FEEDS[f], p->dir, p->boot, p->raw[f], p->pseudo[f], p->out, OPS_FEEDS[f], p->out, OPS_FEEDS[f],
             metrics ? metrics : "", kafka_timeouts);
    snprintf(path, sizeof path, "%s/%singest-%s.conf", p->dir, p->out, OPS_FEEDS[f]);
    jtm_test_write_file(path, conf, 0600);
    snprintf(logpath, sizeof logpath, "%s/%s", p->dir, log);
    char *bin = jtm_test_bin("jtm-ingest");
    char *argv[] = {bin, "-c", path, NULL};
    pid_t pid = ops_spawn(argv, logpath);
    free(bin);
    return pid;
}

static inline pid_t ops_start_ingest(const ops_pipe *p, int f, const char *metrics, const char *log)
{
    return ops_start_ingest_with(p, f, metrics, OPS_KAFKA_TIMEOUTS, log);
}

/* Starts jtm-linker on the pseudo topics into conninfo; extra: more config lines. */
static inline pid_t ops_start_linker(const ops_pipe *p, const char *conninfo, const char *group, const char *metrics,
                                     const char *extra, const char *log)
{
    char conf[8192], path[1600], logpath[1600];
    snprintf(conf, sizeof conf,
             "kafka.bootstrap.servers = %s\npg.conninfo = %s\ntopics.jgz = %s\ntopics.verzuim = %s\n"
             "topics.soj = %s\ngroup = %s\nstats.interval_ms = 2000\nmetrics.listen = %s\n"
             /* the database is migrated when created; a migration being edited in the tree meanwhile
              * must not stop the linker */
             "migrate.on_start = false\n" OPS_KAFKA_TIMEOUTS "%s",
             p->boot, conninfo, p->pseudo[0], p->pseudo[1], p->pseudo[2], group, metrics ? metrics : "",
             extra ? extra : "");
    snprintf(path, sizeof path, "%s/%s.conf", p->dir, group);
    jtm_test_write_file(path, conf, 0600);
    snprintf(logpath, sizeof logpath, "%s/%s", p->dir, log);
    char *bin = jtm_test_bin("jtm-linker");
    char *argv[] = {bin, "-c", path, NULL};
    pid_t pid = ops_spawn(argv, logpath);
    free(bin);
    return pid;
}

/* Starts jtm-alert on conninfo, every municipality routed to http://127.0.0.1:rx_port/hook. */
static inline pid_t ops_start_alert(const char *dir, const char *conninfo, int rx_port, const char *metrics,
                                    const char *extra, const char *log)
{
    char conf[8192], path[1600], secret[1600], logpath[1600];
    snprintf(secret, sizeof secret, "%s/webhook.secret", dir);
    jtm_test_write_file(secret, "ops-test-webhook-secret-of-32-bytes-at-least\n", 0600);
    snprintf(conf, sizeof conf,
             "pg.conninfo = %s\npg.connect_wait_ms = 30000\nlisten.debounce_ms = 300\n"
             "deliver.backoff_initial_ms = 200\ndeliver.backoff_max_ms = 2000\n"
             "route.default.url = http://127.0.0.1:%d/hook\nroute.default.secret_file = %s\nmetrics.listen = %s\n%s",
             conninfo, rx_port, secret, metrics ? metrics : "", extra ? extra : "");
    snprintf(path, sizeof path, "%s/alert.conf", dir);
    jtm_test_write_file(path, conf, 0600);
    snprintf(logpath, sizeof logpath, "%s/%s", dir, log);
    char *bin = jtm_test_bin("jtm-alert");
    char *argv[] = {bin, "-c", path, NULL};
    pid_t pid = ops_spawn(argv, logpath);
    free(bin);
    return pid;
}

#endif
