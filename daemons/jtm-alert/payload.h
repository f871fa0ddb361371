/* What a webhook carries: the JSON notice, its idempotency key (the webhook-id) and its signature. */
#ifndef JTM_ALERT_PAYLOAD_H
#define JTM_ALERT_PAYLOAD_H

#include <stddef.h>

#include "detail.h"

typedef struct alert_notice {
    const char *gemeente;
    const char *category;
    const char *method;   /* "C1" */
    const char *week;     /* week_start of the week that fired (firing) or fell back (resolved) */
    const char *status;   /* "firing" or "resolved" */
    double observed;
    double upper_bound;
    const char *idempotency_key;
    size_t n;             /* series points below, oldest first */
    char (*weeks)[11];
    const double *waiting;
    const double *upper;  /* NaN: no bound for that week (before the baseline, or undefined) */
    const char *gemeente_name;        /* NULL: unknown, the code is shown */
    const char *category_label;       /* "45 ambulant" */
    const alert_wait_detail *detail;  /* who waits in the week judged; NULL: not known */
    const char *report_url;           /* link to the municipality's report section; NULL: none */
} alert_notice;

/* The idempotency key of a notice: 32 lowercase hex characters, the first 16 bytes of SHA-256 of
 * gemeente, category, method, the episode's week and kind. The same episode and kind always give
 * the same key, across restarts and re-evaluations. */
void alert_idempotency_key(const char *gemeente, const char *category, const char *method, const char *week,
                           const char *kind, char out[33]);
/* The JSON body (compact, fields in a fixed order) with a Dutch summary a municipality can act on;
 * caller frees. NULL on allocation failure. */
char *alert_notice_json(const alert_notice *n);
/* The webhook-signature header value of the Standard Webhooks specification: "v1," + base64 of
 * HMAC-SHA256(secret, msg_id "." timestamp "." body). Binding the id and the time into the
 * signature is what lets a receiver refuse a replayed notice (a known id, or a stale timestamp).
 * out holds 3 + 44 characters + NUL. Returns 0 or -1. */
#define ALERT_SIGNATURE_LEN 48
int alert_webhook_signature(const unsigned char *secret, size_t secret_len, const char *msg_id, long long timestamp,
                            const char *body, size_t body_len, char out[ALERT_SIGNATURE_LEN]);

#endif
