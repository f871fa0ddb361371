/* The e-mail channel of jtm-alert: the 'email' deliveries of the ops.alert_delivery outbox, sent
 * through SMTP with libcurl (STARTTLS or smtps required, except to a loopback server). The due
 * notices of one municipality go out as one message (plain text and HTML, Dutch), each delivery
 * attempted and recorded as a webhook is (deliver.h), so the once-per-alert guarantee is the same:
 * a message is resent only when jtm-alert died between the server's answer and the record. */
#ifndef JTM_ALERT_MAIL_H
#define JTM_ALERT_MAIL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "deliver.h"

typedef struct alert_mailer alert_mailer;

/* NULL without error (errstr empty) when no route has an e-mail address: the channel is off.
 * NULL with errstr when a route has one but the smtp.* settings are missing or refused (no url, no
 * from, tls none to a non-loopback server, a password file that others can read). */
alert_mailer *alert_mailer_new(const alert_config *cfg, const alert_routes *routes, char *errstr, size_t errlen);
void alert_mailer_free(alert_mailer *m);
void alert_mailer_set_metrics(alert_mailer *m, const alert_deliver_metrics *metrics);

/* Sends the due e-mail deliveries, grouped per municipality; sent gets the messages sent. Returns
 * 0, or -1 with errstr on a PostgreSQL error. */
int alert_mail_due(PGconn *conn, alert_mailer *m, long *sent, char *errstr, size_t errlen);

/* The message (RFC 5322, CRLF lines, multipart/alternative of text/plain and text/html, UTF-8,
 * base64 bodies) for n notice bodies (the JSON stored in ops.alert_delivery) of one municipality.
 * message_id without brackets. Returns a malloc'd string, NULL when a body is not a notice. */
char *alert_mail_compose(const char *from, const char *to, const char *const *bodies, size_t n,
                         const char *message_id, time_t now);

#endif
