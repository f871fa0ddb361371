#include "mail.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"
#include "log.h"
#include "pg.h"
#include "sbuf.h"
#include "service.h"
#include "signals.h"

#define MAX_GROUP 20

struct alert_mailer {
    const alert_config *cfg;
    const alert_routes *routes;
    CURL *curl;
    char *password; /* NULL: no login; never logged */
    size_t password_len;
    unsigned long long rnd;
    alert_deliver_metrics m;
};

alert_mailer *alert_mailer_new(const alert_config *cfg, const alert_routes *routes, char *errstr, size_t errlen)
{
    *errstr = '\0';
    int wanted = 0;
    for (size_t i = 0; i < routes->count; i++)
        wanted |= routes->items[i].email && *routes->items[i].email;
    if (!wanted)
        return NULL;
    const char *url = cfg->smtp_url ? cfg->smtp_url : "";
    if (strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        snprintf(errstr, errlen, "a route has route.*.email: set smtp.url to smtp://host:587 or smtps://host:465");
        return NULL;
    }
    if (!cfg->smtp_from || !strchr(cfg->smtp_from, '@') || strpbrk(cfg->smtp_from, "\r\n<>\"")) {
        snprintf(errstr, errlen, "smtp.from must be an address such as jeugdmonitor@regio.example");
        return NULL;
    }
    int tls = strcmp(cfg->smtp_tls, "required") == 0;
    if (!tls && strcmp(cfg->smtp_tls, "none") != 0) {
        snprintf(errstr, errlen, "smtp.tls must be required or none");
        return NULL;
    }
    if (!tls && !alert_url_is_loopback(url)) {
        snprintf(errstr, errlen, "smtp.tls = none is allowed only to a loopback mail server: alert mails name a "
                                 "municipality's waiting list and must not cross a network in clear");
        return NULL;
    }
    alert_mailer *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->routes = routes;
    m->rnd = 0x9e3779b97f4a7c15ULL ^ (unsigned long long)getpid();
    if (cfg->smtp_password_file && *cfg->smtp_password_file) {
        m->password = (char *)alert_read_secret_file("smtp.password_file", cfg->smtp_password_file,
                                                     &m->password_len, errstr, errlen);
        if (!m->password) {
            free(m);
            return NULL;
        }
    }
    m->curl = curl_easy_init();
    if (!m->curl) {
        alert_mailer_free(m);
        snprintf(errstr, errlen, "curl_easy_init failed");
        return NULL;
    }
    return m;
}

void alert_mailer_free(alert_mailer *m)
{
    if (!m)
        return;
    if (m->curl)
        curl_easy_cleanup(m->curl);
    if (m->password) {
        explicit_bzero(m->password, m->password_len);
        free(m->password);
    }
    free(m);
}

void alert_mailer_set_metrics(alert_mailer *m, const alert_deliver_metrics *metrics)
{
    if (m && metrics)
        m->m = *metrics;
}

/* ---- composing ---- */

static void put_base64(sbuf *b, const char *text)
{
    size_t n = strlen(text);
    unsigned char out[80];
    for (size_t off = 0; off < n; off += 57) { /* 57 bytes -> 76 characters a line */
        size_t k = n - off < 57 ? n - off : 57;
        EVP_EncodeBlock(out, (const unsigned char *)text + off, (int)k);
        sb_puts(b, (const char *)out);
        sb_puts(b, "\r\n");
    }
}

static void put_html_escaped(sbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_putc(b, *s);
        }
    }
}

static int is_link(const char *url)
{
    return url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) && !strpbrk(url, " \r\n\"<>");
}

/* "Wachtlijstsignaal Dordrecht: 45 ambulant", "Opgeheven: ...", or "Wachtlijstsignalen Dordrecht:
 * 3 meldingen" for a group. */
static void subject_text(sbuf *b, json_t *const *notices, size_t n)
{
    json_t *first = notices[0];
    const char *name = json_string_value(json_object_get(first, "municipality_name"));
    if (!name)
        name = json_string_value(json_object_get(first, "municipality"));
    if (n > 1) {
        sb_printf(b, "Wachtlijstsignalen %s: %zu meldingen", name, n);
        return;
    }
    const char *label = json_string_value(json_object_get(first, "category_label"));
    if (!label)
        label = json_string_value(json_object_get(first, "category"));
    int resolved = strcmp(json_string_value(json_object_get(first, "status")), "resolved") == 0;
    sb_printf(b, "%sWachtlijstsignaal %s: %s", resolved ? "Opgeheven: " : "", name, label ? label : "");
}

char *alert_mail_compose(const char *from, const char *to, const char *const *bodies, size_t n,
                         const char *message_id, time_t now)
{
    json_t *notices[MAX_GROUP];
    if (n == 0 || n > MAX_GROUP)
        return NULL;
    size_t parsed = 0;
    for (; parsed < n; parsed++) {
        notices[parsed] = json_loads(bodies[parsed], 0, NULL);
        json_t *j = notices[parsed];
        if (!j || !json_string_value(json_object_get(j, "summary")) ||
            !json_string_value(json_object_get(j, "status")) || !json_string_value(json_object_get(j, "municipality"))) {
            json_decref(j);
            for (size_t i = 0; i < parsed; i++)
                json_decref(notices[i]);
            return NULL;
        }
    }
    sbuf subj = {0}, text = {0}, html = {0}, msg = {0};
    subject_text(&subj, notices, n);
    const char *code = json_string_value(json_object_get(notices[0], "municipality"));
    const char *name = json_string_value(json_object_get(notices[0], "municipality_name"));

    sb_printf(&text, "Wachtlijstsignalen van de jeugdmonitor voor %s%s%s%s\n\n", name ? name : code, name ? " (" : "",
              name ? code : "", name ? ")" : "");
    sb_puts(&html, "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\"></head><body>\n<p>"
                   "Wachtlijstsignalen van de jeugdmonitor voor ");
    put_html_escaped(&html, name ? name : code);
    if (name) {
        sb_puts(&html, " (");
        put_html_escaped(&html, code);
        sb_puts(&html, ")");
    }
    sb_puts(&html, "</p>\n<ul>\n");
    for (size_t i = 0; i < n; i++) {
        const char *summary = json_string_value(json_object_get(notices[i], "summary"));
        const char *url = json_string_value(json_object_get(notices[i], "report_url"));
        sb_printf(&text, "- %s\n", summary);
        sb_puts(&html, "<li>");
        put_html_escaped(&html, summary);
        if (is_link(url)) {
            sb_printf(&text, "  Rapport: %s\n", url);
            sb_puts(&html, " <a href=\"");
            put_html_escaped(&html, url);
            sb_puts(&html, "\">Rapport</a>");
        }
        sb_puts(&text, "\n");
        sb_puts(&html, "</li>\n");
    }
    static const char footer[] = "Dit bericht is automatisch verstuurd door jtm-alert, de signalering van de "
                                 "regionale jeugdmonitor. De regio kan een signaal tijdelijk stilzetten.";
    sb_printf(&text, "%s\n", footer);
    sb_printf(&html, "</ul>\n<p><small>%s</small></p>\n</body></html>\n", footer);

    char date[64];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char subj64[1024];
    const char *s = sb_str(&subj);
    size_t slen = strlen(s) < 700 ? strlen(s) : 700;
    EVP_EncodeBlock((unsigned char *)subj64, (const unsigned char *)s, (int)slen);
    sb_printf(&msg,
              "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: =?UTF-8?B?%s?=\r\nMessage-ID: <%s>\r\n"
              "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
              "Content-Type: multipart/alternative; boundary=\"jtm-%s\"\r\n\r\n",
              date, from, to, subj64, message_id, message_id);
    sb_printf(&msg, "--jtm-%s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
              message_id);
    put_base64(&msg, sb_str(&text));
    sb_printf(&msg, "--jtm-%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
              message_id);
    put_base64(&msg, sb_str(&html));
    sb_printf(&msg, "--jtm-%s--\r\n", message_id);
    for (size_t i = 0; i < n; i++)
        json_decref(notices[i]);
    sb_free(&subj);
    sb_free(&text);
    sb_free(&html);
    char *out = strdup(sb_str(&msg));
    sb_free(&msg);
    return out;
}

/* ---- sending ---- */

typedef struct upload {
    const char *data;
    size_t len, off;
} upload;

static size_t read_upload(char *buf, size_t size, size_t nmemb, void *userdata)
{
    upload *u = userdata;
    size_t room = size * nmemb, k = u->len - u->off < room ? u->len - u->off : room;
    memcpy(buf, u->data + u->off, k);
    u->off += k;
    return k;
}

/* One SMTP session for one message. Returns 0 when the server accepted it; otherwise fills errbuf
 * and sets *permanent when the server refused it for good (a 5xx reply). */
static int smtp_send(alert_mailer *m, const char *to, const char *message, int *permanent, char *errbuf,
                     size_t errlen)
{
    *permanent = 0;
    struct curl_slist *rcpt = NULL;
    char *list = strdup(to), *save = NULL;
    if (!list) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save))
        rcpt = curl_slist_append(rcpt, a);
    free(list);
    char from[300];
    snprintf(from, sizeof from, "<%s>", m->cfg->smtp_from);
    upload u = {message, strlen(message), 0};
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *c = m->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, m->cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_USE_SSL, strcmp(m->cfg->smtp_tls, "required") == 0 ? (long)CURLUSESSL_ALL
                                                                                    : (long)CURLUSESSL_NONE);
    if (m->cfg->smtp_username && *m->cfg->smtp_username)
        curl_easy_setopt(c, CURLOPT_USERNAME, m->cfg->smtp_username);
    if (m->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->password);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)m->cfg->smtp_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        *permanent = code >= 500 && code < 600;
        /* curl's message names the server at most; never the password or the recipients. */
        snprintf(errbuf, errlen, "%s (SMTP %ld): %s", curl_easy_strerror(rc), code, cerr);
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(rcpt);
    return rc == CURLE_OK ? 0 : -1;
}

/* The Message-ID of a group: the first 16 bytes of SHA-256 over its idempotency keys, so a resend
 * of the same group carries the same id (mail clients drop a repeated Message-ID). */
static void group_message_id(PGresult *res, int first, int n, char out[64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (int i = first; i < first + n; i++)
        EVP_DigestUpdate(ctx, PQgetvalue(res, i, 3), strlen(PQgetvalue(res, i, 3)) + 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    char hex[33];
    jtm_hex_encode(md, 16, hex);
    snprintf(out, 64, "%s.alert@jtm", hex);
}

/* Sends rows [first, first + n) of res (one municipality's due e-mail notices) as one message and
 * records an attempt for each. Returns 0, or -1 on a PostgreSQL error. */
static int send_group(PGconn *conn, alert_mailer *m, PGresult *res, int first, int n, char *errstr, size_t errlen)
{
    const char *gemeente = PQgetvalue(res, first, 1);
    const alert_route *rt = alert_routes_find_email(m->routes, gemeente);
    char *attempt_ids[MAX_GROUP] = {0};
    const char *bodies[MAX_GROUP];
    int rc = -1, began = 0;
    for (; began < n; began++) {
        attempt_ids[began] = alert_attempt_begin(conn, PQgetvalue(res, first + began, 0), errstr, errlen);
        if (!attempt_ids[began])
            goto out;
        bodies[began] = PQgetvalue(res, first + began, 4);
    }
    char err[CURL_ERROR_SIZE + 160] = "", msgid[64];
    int ok = 0, permanent = 1;
    char *message = NULL;
    if (!rt) {
        snprintf(err, sizeof err, "no route with an e-mail address for this municipality");
    } else {
        group_message_id(res, first, n, msgid);
        message = alert_mail_compose(m->cfg->smtp_from, rt->email, bodies, (size_t)n, msgid, time(NULL));
        if (!message)
            snprintf(err, sizeof err, "a stored notice is not valid JSON");
        else
            ok = smtp_send(m, rt->email, message, &permanent, err, sizeof err) == 0;
        free(message);
    }
    char q[400] = "";
    if (*err) {
        memcpy(q, " error=", 8);
        jtm_log_quote(q + 7, sizeof q - 7, err);
    }
    for (int i = 0; i < n; i++) {
        long attempt = strtol(PQgetvalue(res, first + i, 5), NULL, 10) + 1;
        const char *outcome, *dstatus;
        long delay;
        alert_attempt_outcome(m->cfg, ok, !permanent, attempt, &m->rnd, &outcome, &dstatus, &delay);
        jtm_counter_add(strcmp(outcome, "delivered") == 0 ? m->m.delivered
                        : strcmp(outcome, "retry") == 0     ? m->m.retried
                                                            : m->m.failed,
                        1);
        jtm_log(ok ? JTM_LOG_INFO : strcmp(outcome, "retry") == 0 ? JTM_LOG_WARN : JTM_LOG_ERROR, "delivery_attempt",
                "delivery_id=%s gemeente=%s kind=%s channel=email group=%d attempt=%ld outcome=%s retry_in_ms=%ld%s",
                PQgetvalue(res, first + i, 0), gemeente, PQgetvalue(res, first + i, 2), n, attempt, outcome, delay,
                q);
        if (alert_attempt_finish(conn, attempt_ids[i], PQgetvalue(res, first + i, 0), 0, err, outcome, dstatus, delay,
                                 errstr, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < began; i++)
        free(attempt_ids[i]);
    return rc;
}

int alert_mail_due(PGconn *conn, alert_mailer *m, long *sent, char *errstr, size_t errlen)
{
    *sent = 0;
    PGresult *res = PQexec(conn, "SELECT d.id::text, d.gemeente, d.kind, d.idempotency_key, d.body, d.attempts"
                                 " FROM ops.alert_delivery d"
                                 " WHERE " ALERT_SENDABLE("d") " AND d.channel = 'email'"
                                 " AND d.next_attempt_at <= clock_timestamp()"
                                 " ORDER BY d.gemeente, d.id LIMIT 200");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    int rows = PQntuples(res), rc = 0;
    for (int i = 0; i < rows && jtm_run;) {
        int n = 1;
        while (i + n < rows && n < MAX_GROUP && strcmp(PQgetvalue(res, i + n, 1), PQgetvalue(res, i, 1)) == 0)
            n++;
        jtm_service_watchdog();
        if (send_group(conn, m, res, i, n, errstr, errlen) != 0) {
            rc = -1;
            break;
        }
        (*sent)++;
        i += n;
    }
    PQclear(res);
    return rc;
}
