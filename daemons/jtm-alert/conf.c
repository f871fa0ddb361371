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
    JTM_OPT_STR("alert.method", "C1", method, alert_config,
                "detector: C1, C2 or C3 (EARS), or farrington (quasi-Poisson, needs 52 b + w + 1 weeks)"),
    JTM_OPT_STR("alert.farrington", "noufaily", farrington, alert_config,
                "with alert.method = farrington: preset (noufaily or farrington) and name=value overrides, "
                "e.g. noufaily,b=2"),
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
    JTM_OPT_STR("smtp.url", "", smtp_url, alert_config,
                "mail server for the e-mail channel: smtp://host:587 (STARTTLS) or smtps://host:465; empty: off"),
    JTM_OPT_STR("smtp.from", "", smtp_from, alert_config, "From: address of alert mails"),
    JTM_OPT_STR("smtp.username", "", smtp_username, alert_config, "SMTP login (empty: none)"),
    JTM_OPT_STR("smtp.password_file", "", smtp_password_file, alert_config, "file with the SMTP password (mode 600)"),
    JTM_OPT_STR("smtp.tls", "required", smtp_tls, alert_config,
                "required (STARTTLS or smtps) or none (allowed only to a loopback mail server)"),
    JTM_OPT_INT("smtp.timeout_ms", "30000", 1000, 600000, smtp_timeout_ms, alert_config, "whole SMTP session timeout"),
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

/* name@domain, comma-separated (spaces allowed around commas); no quotes, brackets or line breaks,
 * so a list can never smuggle a header or a second SMTP command. */
static int valid_email_list(const char *v)
{
    int addresses = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *start = p;
        int at = 0, dot_after_at = 0;
        while (*p && *p != ',' && *p != ' ') {
            unsigned char ch = (unsigned char)*p;
            if (ch == '@')
                at++;
            else if (ch == '.' && at)
                dot_after_at = 1;
            else if (!isalnum(ch) && !strchr("._%+-", ch))
                return 0;
            p++;
        }
        if (p == start || at != 1 || !dot_after_at || start[0] == '@' || p[-1] == '@' || p - start > 254)
            return 0;
        addresses++;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return 0;
    }
    return addresses > 0 && addresses <= 20;
}

int alert_routes_set(alert_routes *r, const char *key, const char *value, char *errstr, size_t errlen)
{
    if (strncmp(key, "route.", 6) != 0)
        return 0;
    const char *name = key + 6, *dot = strrchr(name, '.');
    if (!dot || !valid_route_name(name, (size_t)(dot - name)) ||
        (strcmp(dot + 1, "url") != 0 && strcmp(dot + 1, "secret_file") != 0 && strcmp(dot + 1, "email") != 0)) {
        snprintf(errstr, errlen,
                 "unknown option %s (routes are route.<GMxxxx|default>.url / .secret_file / .email)", key);
        return -1;
    }
    if (strcmp(dot + 1, "email") == 0 && !valid_email_list(value)) {
        snprintf(errstr, errlen, "%s: expected comma-separated addresses such as jeugd@gemeente.example", key);
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
    char **field = strcmp(dot + 1, "url") == 0 ? &rt->url : strcmp(dot + 1, "email") == 0 ? &rt->email : &rt->secret_file;
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

unsigned char *alert_read_secret_file(const char *what, const char *path, size_t *len, char *errstr, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errstr, errlen, "%s: cannot open secret file %s: %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 || st.st_size > 4096) {
        close(fd);
        snprintf(errstr, errlen,
                 "%s: secret file %s refused: must be a regular file of at most 4096 bytes, "
                 "not accessible by group or others (chmod 600)",
                 what, path);
        return NULL;
    }
    unsigned char *buf = malloc(4097);
    if (!buf) {
        close(fd);
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    ssize_t n = read(fd, buf, 4096);
    close(fd);
    if (n < 0) {
        free(buf);
        snprintf(errstr, errlen, "%s: cannot read secret file %s", what, path);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void free_secret(unsigned char *buf, size_t len)
{
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
}

int alert_routes_load_secrets(alert_routes *r, bool allow_http, char *errstr, size_t errlen)
{
    for (size_t i = 0; i < r->count; i++) {
        alert_route *rt = &r->items[i];
        int has_url = rt->url && *rt->url, has_secret = rt->secret_file && *rt->secret_file;
        if (has_url != has_secret || (!has_url && !(rt->email && *rt->email))) {
            snprintf(errstr, errlen, "route %s needs route.%s.url and route.%s.secret_file, or route.%s.email",
                     rt->name, rt->name, rt->name, rt->name);
            return -1;
        }
        if (!has_url)
            continue; /* e-mail only */
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
        char what[64];
        snprintf(what, sizeof what, "route %s", rt->name);
        size_t n = 0;
        unsigned char *buf = alert_read_secret_file(what, rt->secret_file, &n, errstr, errlen);
        if (!buf)
            return -1;
        ssize_t klen = secret_key(buf, n);
        if (klen < ALERT_SECRET_MIN) {
            free_secret(buf, n);
            snprintf(errstr, errlen,
                     klen < 0 ? "route %s: secret file %s holds whsec_ with invalid base64"
                              : "route %s: secret file %s is too short: a webhook secret needs at least %d random "
                                "bytes (e.g. head -c 32 /dev/urandom | base64 | sed 's/^/whsec_/')",
                     rt->name, rt->secret_file, ALERT_SECRET_MIN);
            return -1;
        }
        free_secret(rt->secret, rt->secret_len);
        rt->secret = malloc((size_t)klen ? (size_t)klen : 1);
        if (!rt->secret)
            abort();
        memcpy(rt->secret, buf, (size_t)klen);
        rt->secret_len = (size_t)klen;
        free_secret(buf, n);
    }
    return 0;
}

/* A municipality with its own route gets exactly that route's channels; one without gets the
 * default route's. */
static const alert_route *find_with(const alert_routes *r, const char *gemeente, int email)
{
    const alert_route *rt = alert_routes_find(r, gemeente);
    if (!rt)
        return NULL;
    int has = email ? rt->email && *rt->email : rt->url && *rt->url;
    return has ? rt : NULL;
}

const alert_route *alert_routes_find_webhook(const alert_routes *r, const char *gemeente)
{
    return find_with(r, gemeente, 0);
}

const alert_route *alert_routes_find_email(const alert_routes *r, const char *gemeente)
{
    return find_with(r, gemeente, 1);
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
        free(r->items[i].email);
        free_secret(r->items[i].secret, r->items[i].secret_len);
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
