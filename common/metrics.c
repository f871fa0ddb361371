#include "metrics.h"

#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } metric_type;

struct jtm_metric {
    struct jtm_metric *next; /* next series of the family */
    metric_type type;
    char *labels;             /* "" when none */
    _Atomic uint64_t value;   /* counter value, or gauge double bits */
    size_t nbounds;           /* histogram */
    double *bounds;
    _Atomic uint64_t *buckets; /* nbounds + 1, not cumulative */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_bits; /* double */
};

typedef struct family {
    struct family *next;
    char *name, *help;
    metric_type type;
    size_t nseries;
    struct jtm_metric *series, *last, *overflow;
} family;

struct jtm_metrics {
    pthread_mutex_t lock; /* registration and rendering; never taken by updates */
    family *families, *last;
};

struct jtm_metrics_http {
    struct MHD_Daemon *daemon;
    jtm_metrics *m;
    jtm_metrics_health_fn health;
    void *opaque;
    int port;
};

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

jtm_metrics *jtm_metrics_new(void)
{
    jtm_metrics *m = calloc(1, sizeof *m);
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void metric_free(struct jtm_metric *s)
{
    free(s->labels);
    free(s->bounds);
    free((void *)s->buckets);
    free(s);
}

void jtm_metrics_free(jtm_metrics *m)
{
    if (!m)
        return;
    for (family *f = m->families, *fn; f; f = fn) {
        fn = f->next;
        for (struct jtm_metric *s = f->series, *sn; s; s = sn) {
            sn = s->next;
            metric_free(s);
        }
        if (f->overflow)
            metric_free(f->overflow);
        free(f->name);
        free(f->help);
        free(f);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool valid_name(const char *n)
{
    if (!n || !*n)
        return false;
    for (const char *p = n; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > n && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static struct jtm_metric *series_new(metric_type type, const char *labels, const double *bounds, size_t n)
{
    struct jtm_metric *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->type = type;
    s->labels = strdup(labels ? labels : "");
    if (!s->labels)
        goto fail;
    if (type == M_HISTOGRAM) {
        s->nbounds = n;
        s->bounds = malloc((n ? n : 1) * sizeof *s->bounds);
        s->buckets = calloc(n + 1, sizeof *s->buckets);
        if (!s->bounds || !s->buckets)
            goto fail;
        if (n)
            memcpy(s->bounds, bounds, n * sizeof *bounds);
    }
    return s;
fail:
    metric_free(s);
    return NULL;
}

static struct jtm_metric *get_series(jtm_metrics *m, metric_type type, const char *name, const char *help,
                                     const char *labels, const double *bounds, size_t n)
{
    if (!m || !valid_name(name))
        return NULL;
    if (type == M_HISTOGRAM)
        for (size_t i = 1; i < n; i++)
            if (!(bounds[i] > bounds[i - 1]))
                return NULL;
    if (!labels)
        labels = "";
    struct jtm_metric *s = NULL;
    pthread_mutex_lock(&m->lock);
    family *f = m->families;
    while (f && strcmp(f->name, name) != 0)
        f = f->next;
    if (!f) {
        f = calloc(1, sizeof *f);
        if (!f)
            goto out;
        f->name = strdup(name);
        f->help = strdup(help ? help : "");
        f->type = type;
        if (!f->name || !f->help) {
            free(f->name);
            free(f->help);
            free(f);
            goto out;
        }
        if (m->last)
            m->last->next = f;
        else
            m->families = f;
        m->last = f;
    }
    if (f->type != type)
        goto out;
    for (s = f->series; s; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            goto out;
    if (f->nseries >= JTM_METRICS_MAX_SERIES) {
        if (!f->overflow)
            f->overflow = series_new(type, "overflow=\"true\"", bounds, n);
        s = f->overflow;
        goto out;
    }
    s = series_new(type, labels, bounds, n);
    if (!s)
        goto out;
    if (f->last)
        f->last->next = s;
    else
        f->series = s;
    f->last = s;
    f->nseries++;
out:
    pthread_mutex_unlock(&m->lock);
    return s;
}

jtm_counter *jtm_metrics_counter(jtm_metrics *m, const char *name, const char *help, const char *labels)
{
    return get_series(m, M_COUNTER, name, help, labels, NULL, 0);
}

jtm_gauge *jtm_metrics_gauge(jtm_metrics *m, const char *name, const char *help, const char *labels)
{
    jtm_gauge *g = get_series(m, M_GAUGE, name, help, labels, NULL, 0);
    return g;
}

jtm_histogram *jtm_metrics_histogram(jtm_metrics *m, const char *name, const char *help, const char *labels,
                                     const double *bounds, size_t n)
{
    return get_series(m, M_HISTOGRAM, name, help, labels, bounds, n);
}

void jtm_counter_add(jtm_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t jtm_counter_get(const jtm_counter *c)
{
    return c ? atomic_load_explicit(&((jtm_counter *)c)->value, memory_order_relaxed) : 0;
}

void jtm_gauge_set(jtm_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->value, dbits(v), memory_order_relaxed);
}

static void add_double(_Atomic uint64_t *bits, double d)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbits(bitsd(old) + d), memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void jtm_gauge_add(jtm_gauge *g, double d)
{
    if (g)
        add_double(&g->value, d);
}

double jtm_gauge_get(const jtm_gauge *g)
{
    return g ? bitsd(atomic_load_explicit(&((jtm_gauge *)g)->value, memory_order_relaxed)) : 0;
}

void jtm_histogram_observe(jtm_histogram *h, double v)
{
    if (!h)
        return;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

uint64_t jtm_histogram_count(const jtm_histogram *h)
{
    return h ? atomic_load_explicit(&((jtm_histogram *)h)->count, memory_order_relaxed) : 0;
}

const char *jtm_metrics_label_escape(char *buf, size_t len, const char *value)
{
    size_t o = 0;
    if (!len)
        return buf;
    for (const char *p = value ? value : ""; *p && o + 3 < len; p++) {
        if (*p == '\\' || *p == '"') {
            buf[o++] = '\\';
            buf[o++] = *p;
        } else if (*p == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* A growable string for rendering. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *q = realloc(b->p, ncap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = ncap;
    }
}

static const char *fmt_double(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "NaN");
    else if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else {
        snprintf(buf, len, "%.15g", v); /* the shortest form that reads back the same */
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
    }
    return buf;
}

static void render_series(sbuf *b, const family *f, struct jtm_metric *s)
{
    char v[64];
    const char *lb = *s->labels ? "{" : "", *le = *s->labels ? "}" : "";
    switch (f->type) {
    case M_COUNTER:
        sb_printf(b, "%s%s%s%s %llu\n", f->name, lb, s->labels, le,
                  (unsigned long long)atomic_load_explicit(&s->value, memory_order_relaxed));
        break;
    case M_GAUGE:
        sb_printf(b, "%s%s%s%s %s\n", f->name, lb, s->labels, le,
                  fmt_double(v, sizeof v, bitsd(atomic_load_explicit(&s->value, memory_order_relaxed))));
        break;
    case M_HISTOGRAM: {
        /* Buckets read one by one while writers go on: the cumulative counts stay monotonic, and
         * _count is taken as the final cumulative value so the +Inf bucket equals it. */
        uint64_t cum = 0;
        const char *sep = *s->labels ? "," : "";
        for (size_t i = 0; i <= s->nbounds; i++) {
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            if (i < s->nbounds)
                fmt_double(v, sizeof v, s->bounds[i]);
            else
                snprintf(v, sizeof v, "+Inf");
            sb_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, v, (unsigned long long)cum);
        }
        sb_printf(b, "%s_sum%s%s%s %s\n", f->name, lb, s->labels, le,
                  fmt_double(v, sizeof v, bitsd(atomic_load_explicit(&s->sum_bits, memory_order_relaxed))));
        sb_printf(b, "%s_count%s%s%s %llu\n", f->name, lb, s->labels, le, (unsigned long long)cum);
        break;
    }
    }
}

char *jtm_metrics_render(jtm_metrics *m, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    sbuf b = {malloc(4096), 0, 4096, false};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (family *f = m->families; f; f = f->next) {
        if (*f->help) {
            sb_printf(&b, "# HELP %s ", f->name);
            for (const char *p = f->help; *p; p++) /* help escapes only \ and newline */
                sb_printf(&b, "%s", *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : (char[]){*p, 0});
            sb_printf(&b, "\n");
        }
        sb_printf(&b, "# TYPE %s %s\n", f->name, types[f->type]);
        for (struct jtm_metric *s = f->series; s; s = s->next)
            render_series(&b, f, s);
        if (f->overflow)
            render_series(&b, f, f->overflow);
    }
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

/* name{reason="x",feed="y"} -> name.x.y for the log line. */
static void fold_labels(sbuf *b, const char *labels)
{
    const char *p = labels;
    while ((p = strchr(p, '"')) != NULL) {
        p++;
        sb_printf(b, ".");
        while (*p && *p != '"') {
            if (*p == '\\' && p[1])
                p++;
            char c = *p++;
            sb_printf(b, "%c", (c == ' ' || c == '=' || (unsigned char)c < 0x21) ? '_' : c);
        }
        if (*p == '"')
            p++;
    }
}

static const char *bucket_quantile(const struct jtm_metric *s, uint64_t total, double q, char *buf, size_t len)
{
    uint64_t cum = 0, want = (uint64_t)ceil(q * (double)total);
    if (want == 0)
        want = 1;
    for (size_t i = 0; i <= s->nbounds; i++) {
        cum += atomic_load_explicit(&((struct jtm_metric *)s)->buckets[i], memory_order_relaxed);
        if (cum >= want)
            return i < s->nbounds ? fmt_double(buf, len, s->bounds[i]) : "+Inf";
    }
    return "+Inf";
}

/* The series of a family in order, the overflow series last. */
static struct jtm_metric *series_next(const family *f, const struct jtm_metric *s)
{
    return s->next ? s->next : (s == f->overflow ? NULL : f->overflow);
}

/* A labelled gauge family with more series than a log line can show one by one. */
#define LOG_LINE_MAX_SERIES 8
static bool log_line_folds(const family *f)
{
    int n = 0;
    for (const struct jtm_metric *s = f->series; s; s = series_next(f, s))
        if (++n > LOG_LINE_MAX_SERIES)
            return true;
    return false;
}

char *jtm_metrics_log_line(jtm_metrics *m, const char *prefix, char *buf, size_t len)
{
    sbuf b = {malloc(1024), 0, 1024, false};
    if (len)
        buf[0] = '\0';
    if (!b.p)
        return buf;
    b.p[0] = '\0';
    size_t plen = prefix ? strlen(prefix) : 0;
    pthread_mutex_lock(&m->lock);
    for (family *f = m->families; f; f = f->next) {
        if (plen && strncmp(f->name, prefix, plen) != 0)
            continue;
        const char *short_name = f->name + plen;
        size_t nlen = strlen(short_name);
        if (nlen > 6 && strcmp(short_name + nlen - 6, "_total") == 0)
            nlen -= 6;
        if (f->type == M_GAUGE && log_line_folds(f)) {
            /* one gauge per partition (consumer lag): its sum and max, not 192 fields */
            double sum = 0, max = 0;
            for (struct jtm_metric *s = f->series; s; s = series_next(f, s)) {
                double d = bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
                sum += d;
                max = d > max ? d : max;
            }
            char v1[64], v2[64];
            sb_printf(&b, "%s%.*s.sum=%s %.*s.max=%s", b.len ? " " : "", (int)nlen, short_name,
                      fmt_double(v1, sizeof v1, sum), (int)nlen, short_name, fmt_double(v2, sizeof v2, max));
            continue;
        }
        for (struct jtm_metric *s = f->series; s; s = series_next(f, s)) {
            char v[64], q[32];
            sb_printf(&b, "%s%.*s", b.len ? " " : "", (int)nlen, short_name);
            fold_labels(&b, s->labels);
            if (f->type == M_COUNTER) {
                sb_printf(&b, "=%llu", (unsigned long long)atomic_load_explicit(&s->value, memory_order_relaxed));
            } else if (f->type == M_GAUGE) {
                sb_printf(&b, "=%s",
                          fmt_double(v, sizeof v, bitsd(atomic_load_explicit(&s->value, memory_order_relaxed))));
            } else {
                uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed);
                sb_printf(&b, ".count=%llu", (unsigned long long)n);
                static const double qs[] = {0.5, 0.99};
                static const char *const qn[] = {"p50", "p99"};
                for (int i = 0; n && i < 2; i++) {
                    sb_printf(&b, " %.*s", (int)nlen, short_name);
                    fold_labels(&b, s->labels);
                    sb_printf(&b, ".%s=%s", qn[i], bucket_quantile(s, n, qs[i], q, sizeof q));
                }
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (!b.oom && len)
        snprintf(buf, len, "%s", b.p);
    free(b.p);
    return buf;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **req_cls)
{
    jtm_metrics_http *h = cls;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) { /* first call for this request: headers only */
        *req_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup("method not allowed\n"), 19);
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = jtm_metrics_render(h->m, &len);
        if (!body)
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", strdup("out of memory\n"), 14);
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
    }
    if (strcmp(url, "/healthz") == 0) {
        char reason[256] = "";
        int bad = h->health ? h->health(h->opaque, reason, sizeof reason) : 0;
        char *body = NULL;
        int n = bad ? asprintf(&body, "%s\n", *reason ? reason : "unhealthy") : asprintf(&body, "ok\n");
        if (n < 0)
            return MHD_NO;
        return reply(c, bad ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, "text/plain", body, (size_t)n);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", strdup("not found\n"), 10);
}

static int parse_listen(const char *listen, char *host, size_t hlen, char *port, size_t plen)
{
    const char *colon;
    if (!listen || !*listen)
        return -1;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':')
            return -1;
        snprintf(host, hlen, "%.*s", (int)(end - listen - 1), listen + 1);
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon)
            return -1;
        snprintf(host, hlen, "%.*s", (int)(colon - listen), listen);
    }
    snprintf(port, plen, "%s", colon + 1);
    if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
        return -1;
    return 0;
}

jtm_metrics_http *jtm_metrics_serve(jtm_metrics *m, const char *listen, jtm_metrics_health_fn health,
                                    void *opaque, char *errstr, size_t errlen)
{
    char host[256], port[16];
    if (parse_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(errstr, errlen, "metrics listen address '%s': expected host:port or [v6]:port", listen ? listen : "");
        return NULL;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        snprintf(errstr, errlen, "metrics listen address %s: %s", listen, gai_strerror(gai));
        return NULL;
    }
    jtm_metrics_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    h->m = m;
    h->health = health;
    h->opaque = opaque;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        snprintf(errstr, errlen, "metrics listen address %s: cannot listen (in use or not a local address)", listen);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : atoi(port);
    return h;
}

int jtm_metrics_http_port(const jtm_metrics_http *h) { return h ? h->port : 0; }

void jtm_metrics_http_stop(jtm_metrics_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
