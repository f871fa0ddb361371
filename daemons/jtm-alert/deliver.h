/* Webhook delivery with libcurl from the ops.alert_delivery outbox. Each attempt is recorded
 * before the request (ops.alert_attempt, outcome NULL) and completed after it, with the delivery's
 * new status: delivered on 2xx; failed on other 4xx (except 408 and 429), 1xx/3xx, no route, or
 * after max_attempts; otherwise pending again with exponential backoff and jitter (connection
 * errors, timeouts, 5xx, 408, 429). A resolved notice waits while its firing notice is pending. */
#ifndef JTM_ALERT_DELIVER_H
#define JTM_ALERT_DELIVER_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"
#include "metrics.h"

/* A pending delivery (alias d) that may go out when due: a resolved notice waits while the firing
 * notice of its episode is pending on the same channel. The next-due time uses the same condition,
 * or a waiting resolved notice would make the loop spin. */
#define ALERT_SENDABLE(d)                                                                                \
    d ".status = 'pending' AND NOT (" d ".kind = 'resolved' AND EXISTS (SELECT 1 FROM ops.alert_delivery f" \
    " WHERE f.alert_id = " d ".alert_id AND f.channel = " d ".channel AND f.kind = 'firing'"               \
    " AND f.status = 'pending'))"

typedef struct alert_sender alert_sender;

/* What the sender counts (any member may be NULL): attempts by outcome and their duration. */
typedef struct alert_deliver_metrics {
    jtm_counter *delivered, *retried, *failed;
    jtm_histogram *attempt_ms;
} alert_deliver_metrics;

alert_sender *alert_sender_new(const alert_config *cfg, const alert_routes *routes, char *errstr, size_t errlen);
void alert_sender_free(alert_sender *s);
/* Counts every attempt from now on in m (copied; the metrics must outlive the sender). */
void alert_sender_set_metrics(alert_sender *s, const alert_deliver_metrics *m);

/* Marks attempts left in flight by a previous run (killed between send and record) as
 * interrupted; their deliveries are still pending and go out again with the same key and body.
 * Returns the number marked, or -1 with errstr. */
long alert_deliver_recover(PGconn *conn, char *errstr, size_t errlen);

/* Sends every due pending notice (stops early when jtm_run is cleared). sent gets the number of
 * attempts made. Returns 0, or -1 with errstr on a PostgreSQL error. */
int alert_deliver_due(PGconn *conn, alert_sender *s, long *sent, char *errstr, size_t errlen);

/* Milliseconds until the next pending notice is due (0 when one is due now), -1 when none. */
long alert_deliver_next_due_ms(PGconn *conn, char *errstr, size_t errlen);

/* The attempt record every channel keeps (ops.alert_attempt): begin counts attempt n of the
 * delivery and records it as in flight before anything is sent, returning the attempt row id
 * (malloc'd text) or NULL with errstr; finish completes it and moves the delivery on (status,
 * next attempt time, last error) in one statement. */
char *alert_attempt_begin(PGconn *conn, const char *delivery_id, char *errstr, size_t errlen);
int alert_attempt_finish(PGconn *conn, const char *attempt_id, const char *delivery_id, long http_status,
                         const char *error, const char *outcome, const char *delivery_status, long delay_ms,
                         char *errstr, size_t errlen);
/* The retry policy of every channel: ok -> delivered; a retryable failure before max_attempts ->
 * retry (pending, after a backoff); else failed. */
void alert_attempt_outcome(const alert_config *cfg, int ok, int retryable, long attempt, unsigned long long *rnd,
                           const char **outcome, const char **delivery_status, long *delay_ms);

/* The retry delay after attempt number attempt (1-based): initial * 2^(attempt-1), capped at max,
 * then a uniform draw from [d/2, d] (jitter). rnd is the caller's random state. */
long alert_backoff_ms(long initial_ms, long max_ms, long attempt, unsigned long long *rnd);

#endif
