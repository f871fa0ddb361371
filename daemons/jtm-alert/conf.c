#include "conf.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

const jtm_option alert_options[] = {
    JTM_OPT_STR("log.level", "info", log_level, alert_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "30000", 0, 3600000, connect_wait_ms, alert_config,
                "how long to retry connecting at start (0: forever)"),
    JTM_OPT_INT("schedule.seconds", "3600", 1, 604800, schedule_seconds, alert_config,
                "evaluate the waiting list at least this often"),
    JTM_OPT_STR("listen.channel", "jtm_waiting_list", listen_channel, alert_config,
                "PostgreSQL NOTIFY channel the linker signals after changing waiting lists"),
    JTM_OPT_INT("listen.debounce_ms", "2000", 0, 3600000, debounce_ms, alert_config,
                "at most one NOTIFY-triggered evaluation per this interval (a busy linker notifies often)"),
    JTM_OPT_STR("alert.method", "C1", method, alert_config, "EARS detector: C1, C2 or C3"),
    JTM_OPT_DBL("alert.alpha", "0", 0, 0.5, alpha, alert_config,
                "1 - alpha normal quantile; 0: earsC default (0.001 C1/C2, 0.025 C3)"),
    JTM_OPT_INT("alert.baseline", "13", 3, 520, baseline, alert_config,
                "reference weeks (13: chosen by jtm-alert backtest, docs/alerts.md)"),
    JTM_OPT_DBL("alert.min_sigma", "2", 0, 1e9, min_sigma, alert_config,
                "floor of the standard deviation (2: small series alarm on noise without it)"),
    JTM_OPT_INT("alert.min_count", "5", 0, 1000000000, min_count, alert_config,
                "no alert fires when the observed count is below this"),
    JTM_OPT_INT("alert.history_weeks", "52", 8, 5200, history_weeks, alert_config,
                "weeks of each series read (at least baseline + 5 are used)"),
    JTM_OPT_INT("alert.series_weeks", "12", 1, 520, series_weeks, alert_config, "weeks of the series in a notice"),
    JTM_OPT_STR("alert.report_url", "", report_url, alert_config,
                "link to a municipality's report section in each notice; {gemeente} is replaced by its code "
                "(e.g. https://monitor.example/rapport/{gemeente}.html#waiting; empty: no link)"),
    JTM_OPT_INT("deliver.timeout_ms", "10000", 100, 600000, timeout_ms, alert_config, "whole HTTP request timeout"),
    JTM_OPT_INT("deliver.connect_timeout_ms", "5000", 100, 600000, connect_timeout_ms, alert_config,
                "TCP/TLS connect timeout"),
    JTM_OPT_INT("deliver.backoff_initial_ms", "5000", 10, 86400000, backoff_initial_ms, alert_config,
                "first retry delay (doubles, with jitter)"),
    JTM_OPT_INT("deliver.backoff_max_ms", "900000", 10, 86400000, backoff_max_ms, alert_config, "retry delay cap"),
    JTM_OPT_INT("deliver.max_attempts", "20", 1, 1000, max_attempts, alert_config,
                "attempts before a notice is recorded as failed"),
    JTM_OPT_BOOL("deliver.allow_http", "false", allow_http, alert_config,
                 "allow http:// webhook urls to hosts other than loopback (default: https only)"),
    JTM_OPT_STR("metrics.listen", NULL, metrics_listen, alert_config,
                "host:port for /metrics and /healthz (loopback, e.g. 127.0.0.1:9468; empty: off)"),
    JTM_OPT_END,
};

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fputs("jtm-alert: out of memory\n", stderr);
        abort();
    }
    return d;
}

static int valid_route_name(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

int alert_routes_set(alert_routes *r, const char *key, const char *value, char *errstr, size_t errlen)
{
    if (strncmp(key, "route.", 6) != 0)
        return 0;
    const char *name = key + 6, *dot = strrchr(name, '.');
    if (!dot || !valid_route_name(name, (size_t)(dot - name)) ||
        (strcmp(dot + 1, "url") != 0 && strcmp(dot + 1, "secret_file") != 0)) {
        snprintf(errstr, errlen, "unknown option %s (routes are route.<GMxxxx|default>.url / .secret_file)", key);
        return -1;
    }
    size_t nlen = (size_t)(dot - name);
    alert_route *rt = NULL;
    for (size_t i = 0; i < r->count; i++)
        if (strlen(r->items[i].name) == nlen && strncmp(r->items[i].name, name, nlen) == 0)
            rt = &r->items[i];
    if (!rt) {
        alert_route *items = realloc(r->items, (r->count + 1) * sizeof *items);
        if (!items) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        r->items = items;
        rt = &r->items[r->count++];
        memset(rt, 0, sizeof *rt);
        rt->name = strndup(name, nlen);
        if (!rt->name)
            abort();
    }
    char **field = strcmp(dot + 1, "url") == 0 ? &rt->url : &rt->secret_file;
    free(*field);
    *field = xstrdup(value);
    return 1;
}

int alert_url_is_loopback(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    int loop = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        struct in_addr a4;
        if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
            loop = 1;
        else if (inet_pton(AF_INET, host, &a4) == 1)
            loop = (ntohl(a4.s_addr) >> 24) == 127;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return loop;
}

/* The HMAC key of a secret file's content: "whsec_<base64>" decodes (as Standard Webhooks
 * libraries do, so one secret serves both ends); anything else is used as it is. Returns the key
 * length, or -1 when a whsec_ value is not valid base64. Decodes in place. */
static ssize_t secret_key(unsigned char *buf, size_t n)
{
    if (n < 6 || memcmp(buf, "whsec_", 6) != 0)
        return (ssize_t)n;
    size_t b64 = n - 6;
    if (b64 == 0 || b64 % 4 != 0)
        return -1;
    unsigned char out[4096];
    int len = EVP_DecodeBlock(out, buf + 6, (int)b64);
    if (len < 0)
        return -1;
    for (size_t i = n; i > 6 && buf[i - 1] == '='; i--)
        len--; /* EVP_DecodeBlock counts padding as zero bytes */
    memcpy(buf, out, (size_t)len);
    explicit_bzero(out, sizeof out);
    return len;
}

int alert_routes_load_secrets(alert_routes *r, bool allow_http, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < r->count; i++) {
        alert_route *rt = &r->items[i];
        if (!rt->url || !*rt->url || !rt->secret_file || !*rt->secret_file) {
            snprintf(errstr, errlen, "route %s needs route.%s.url and route.%s.secret_file", rt->name, rt->name,
                     rt->name);
            return -1;
        }
        if (strncmp(rt->url, "http://", 7) != 0 && strncmp(rt->url, "https://", 8) != 0) {
            snprintf(errstr, errlen, "route %s: url must start with http:// or https://", rt->name);
            return -1;
        }
        if (strncmp(rt->url, "http://", 7) == 0 && !allow_http && !alert_url_is_loopback(rt->url)) {
            snprintf(errstr, errlen,
                     "route %s: http:// is allowed only to loopback; use https:// (or deliver.allow_http = true "
                     "behind a TLS-terminating proxy on the same host)",
                     rt->name);
            return -1;
        }
        int fd = open(rt->secret_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(errstr, errlen, "route %s: cannot open secret file %s: %s", rt->name, rt->secret_file,
                     strerror(errno));
            return -1;
        }
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_size > 4096) {
            close(fd);
            snprintf(errstr, errlen,
                     "route %s: secret file %s refused: must be a regular file of at most 4096 bytes, "
                     "not accessible by group or others (chmod 600)",
                     rt->name, rt->secret_file);
            return -1;
        }
        unsigned char buf[4097];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0) {
            snprintf(errstr, errlen, "route %s: cannot read secret file %s", rt->name, rt->secret_file);
            return -1;
        }
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        ssize_t klen = secret_key(buf, (size_t)n);
        if (klen < ALERT_SECRET_MIN) {
            explicit_bzero(buf, sizeof buf);
            snprintf(errstr, errlen,
                     klen < 0 ? "route %s: secret file %s holds whsec_ with invalid base64"
                              : "route %s: secret file %s is too short: a webhook secret needs at least %d random "
                                "bytes (e.g. head -c 32 /dev/urandom | base64 | sed 's/^/whsec_/')",
                     rt->name, rt->secret_file, ALERT_SECRET_MIN);
            return -1;
        }
        n = klen;
        free(rt->secret);
        rt->secret = malloc((size_t)n);
        if (!rt->secret)
            abort();
        memcpy(rt->secret, buf, (size_t)n);
        rt->secret_len = (size_t)n;
        explicit_bzero(buf, sizeof buf);
    }
    return 0;
}

const alert_route *alert_routes_find(const alert_routes *r, const char *gemeente)
{
    const alert_route *def = NULL;
    for (size_t i = 0; i < r->count; i++) {
        if (strcmp(r->items[i].name, gemeente) == 0)
            return &r->items[i];
        if (strcmp(r->items[i].name, "default") == 0)
            def = &r->items[i];
    }
    return def;
}

void alert_routes_free(alert_routes *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free(r->items[i].name);
        free(r->items[i].url);
        free(r->items[i].secret_file);
        if (r->items[i].secret) {
            explicit_bzero(r->items[i].secret, r->items[i].secret_len);
            free(r->items[i].secret);
        }
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* Table options, kafka.* / pg.*, and route.* collected by common/config (own_prefix), then
 * checked and stored here, in the order given. */
int alert_config_load(alert_config *cfg, jtm_passthrough *pt, alert_routes *routes, const char *path,
                      const jtm_kvlist *cli, char *errstr, size_t errlen)
{
    pt->own_prefix = "route.";
    if (jtm_config_startup(alert_options, cfg, pt, path, cli, errstr, errlen) != 0)
        return -1;
    for (size_t i = 0; i < pt->own.count; i++) {
        const jtm_kv *kv = &pt->own.items[i];
        int r = alert_routes_set(routes, kv->key, kv->value, errstr, errlen);
        if (r < 0)
            return -1;
        if (r == 0) {
            snprintf(errstr, errlen, "unknown option %s", kv->key);
            return -1;
        }
    }
    return 0;
}

void alert_config_free(alert_config *cfg, jtm_passthrough *pt, alert_routes *routes)
{
    jtm_config_free(alert_options, cfg, pt);
    alert_routes_free(routes);
}
