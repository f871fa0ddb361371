#include "payload.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

void alert_idempotency_key(const char *gemeente, const char *category, const char *method, const char *week,
                           const char *kind, char out[33])
{
    const char *parts[] = {"jtm-alert", gemeente, category, method, week, kind};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1); /* with the NUL: unambiguous joins */
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    jtm_hex_encode(md, 16, out);
}

int alert_webhook_signature(const unsigned char *secret, size_t secret_len, const char *msg_id, long long timestamp,
                            const char *body, size_t body_len, char out[ALERT_SIGNATURE_LEN])
{
    /* Standard Webhooks: HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>", base64. */
    char ts[24];
    int tslen = snprintf(ts, sizeof ts, "%lld", timestamp);
    size_t idlen = strlen(msg_id), n = idlen + 1 + (size_t)tslen + 1 + body_len;
    unsigned char *msg = malloc(n), md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!msg)
        return -1;
    memcpy(msg, msg_id, idlen);
    msg[idlen] = '.';
    memcpy(msg + idlen + 1, ts, (size_t)tslen);
    msg[idlen + 1 + (size_t)tslen] = '.';
    memcpy(msg + idlen + 2 + (size_t)tslen, body, body_len);
    int ok = HMAC(EVP_sha256(), secret, (int)secret_len, msg, n, md, &mdlen) != NULL;
    free(msg);
    if (!ok || mdlen != 32)
        return -1;
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, md, 32); /* 44 characters and a NUL */
    return 0;
}

/* Numbers in the notice: counts are integers; bounds rounded to 2 decimals for people to read. */
static json_t *number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 1e15)
        return json_integer((json_int_t)v);
    return json_real(round(v * 100) / 100);
}

/* A number as Dutch text: whole numbers without decimals, others with one decimal and a comma. */
static void fmt_num(char *buf, size_t len, double v)
{
    if (isfinite(v) && v == floor(v))
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.1f", v);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = ',';
}

/* "30 november 2026" for 2026-11-30; the ISO text itself when it is not a date. */
static void fmt_date_nl(char *buf, size_t len, const char *iso)
{
    static const char *const months[] = {"januari", "februari", "maart", "april", "mei", "juni", "juli",
                                         "augustus", "september", "oktober", "november", "december"};
    int y, m, d;
    if (sscanf(iso, "%4d-%2d-%2d", &y, &m, &d) == 3 && m >= 1 && m <= 12)
        snprintf(buf, len, "%d %s %d", d, months[m - 1], y);
    else
        snprintf(buf, len, "%s", iso);
}

/* How the summary names the method: "EARS C1", or the quasi-Poisson method by its authors. */
static void method_text(const char *method, char *buf, size_t len)
{
    if (strcmp(method, "farrington") == 0)
        snprintf(buf, len, "Farrington/Noufaily");
    else
        snprintf(buf, len, "EARS %s", method);
}

/* The plain-Dutch summary: which list, how many children, where they wait, against what bound.
 * Link-free: municipalities read it in chat and mail clients (the link is a field of its own). */
static void summary_text(const alert_notice *n, char *out, size_t len)
{
    char obs[32], ub[32], week[40], who[96], method[40];
    fmt_num(obs, sizeof obs, n->observed);
    fmt_num(ub, sizeof ub, n->upper_bound);
    fmt_date_nl(week, sizeof week, n->week);
    method_text(n->method, method, sizeof method);
    const alert_wait_detail *d = n->detail;
    if (d)
        snprintf(who, sizeof who, "%ld %s (%ld %s)", d->children, d->children == 1 ? "kind" : "kinderen",
                 d->episodes, d->episodes == 1 ? "traject" : "trajecten");
    else
        snprintf(who, sizeof who, "%s trajecten", obs);
    const char *label = n->category_label ? n->category_label : n->category;
    size_t o;
    if (n->gemeente_name)
        o = (size_t)snprintf(out, len, "Wachtlijst %s (%s), categorie %s: in de week van %s wachtten %s, ",
                             n->gemeente_name, n->gemeente, label, week, who);
    else
        o = (size_t)snprintf(out, len, "Wachtlijst %s, categorie %s: in de week van %s wachtten %s, ", n->gemeente,
                             label, week, who);
    if (o >= len)
        return;
    if (strcmp(n->status, "firing") == 0) {
        o += (size_t)snprintf(out + o, len - o, "boven de verwachte bovengrens van %s (%s).", ub, method);
        if (d && o < len)
            o += (size_t)snprintf(out + o, len - o, " %ld %s op een besluit van de gemeente, %ld op de start van zorg",
                                  d->for_decision, d->for_decision == 1 ? "wacht" : "wachten", d->for_start);
        for (size_t i = 0; d && i < d->nproviders && o < len; i++)
            o += (size_t)snprintf(out + o, len - o, "%s%s (%ld)",
                                  i == 0 ? (d->nproviders == 1 ? ", vooral bij aanbieder " : ", vooral bij aanbieders ")
                                         : ", ",
                                  d->providers[i].agb, d->providers[i].episodes);
        if (d && o < len)
            snprintf(out + o, len - o, ".");
    } else {
        snprintf(out + o, len - o, "weer onder de bovengrens van %s (%s). Het signaal is opgeheven.", ub,
                 method);
    }
}

char *alert_notice_json(const alert_notice *n)
{
    char summary[1024];
    summary_text(n, summary, sizeof summary);
    json_t *series = json_array();
    for (size_t i = 0; i < n->n; i++)
        json_array_append_new(series, json_pack("{s:s, s:o, s:o}", "week", n->weeks[i], "waiting",
                                                number(n->waiting[i]), "upper_bound", number(n->upper[i])));
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:s}", "municipality", n->gemeente,
                             "category", n->category, "status", n->status, "week", n->week, "observed",
                             number(n->observed), "upper_bound", number(n->upper_bound), "method", n->method,
                             "series", series, "idempotency_key", n->idempotency_key, "summary", summary);
    if (!root)
        return NULL;
    json_object_set_new(root, "municipality_name", n->gemeente_name ? json_string(n->gemeente_name) : json_null());
    json_object_set_new(root, "category_label", json_string(n->category_label ? n->category_label : n->category));
    if (n->detail) {
        const alert_wait_detail *d = n->detail;
        json_t *prov = json_array();
        for (size_t i = 0; i < d->nproviders; i++)
            json_array_append_new(prov, json_pack("{s:s, s:I}", "provider_agb", d->providers[i].agb,
                                                  "waiting_for_start", (json_int_t)d->providers[i].episodes));
        json_object_set_new(root, "waiting",
                            json_pack("{s:I, s:I, s:I, s:I, s:o}", "children", (json_int_t)d->children, "episodes",
                                      (json_int_t)d->episodes, "for_decision", (json_int_t)d->for_decision,
                                      "for_start", (json_int_t)d->for_start, "start_wait_by_provider", prov));
    }
    if (n->report_url)
        json_object_set_new(root, "report_url", json_string(n->report_url));
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(root);
    return s;
}
