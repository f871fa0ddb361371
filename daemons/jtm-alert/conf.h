/* jtm-alert's configuration: the option table, plus the per-municipality webhook routes
 * (route.<name>.url, route.<name>.secret_file; <name> is a CBS code such as GM0505, or "default"),
 * which common/config's fixed-name tables cannot hold, so this module reads the file itself and
 * hands every other key to jtm_config_set. */
#ifndef JTM_ALERT_CONF_H
#define JTM_ALERT_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct alert_config {
    char *log_level;
    long long connect_wait_ms;
    long long schedule_seconds;
    char *listen_channel;
    long long debounce_ms;
    char *method;
    char *farrington;
    double alpha;
    long long baseline;
    double min_sigma;
    long long min_count;
    long long history_weeks;
    long long series_weeks;
    char *report_url;
    long long timeout_ms;
    long long connect_timeout_ms;
    long long backoff_initial_ms;
    long long backoff_max_ms;
    long long max_attempts;
    bool allow_http;
    char *smtp_url;           /* smtp://host:587 (STARTTLS) or smtps://host:465; empty: no e-mail */
    char *smtp_from;          /* From: address */
    char *smtp_username;
    char *smtp_password_file; /* mode 600, like the webhook secrets */
    char *smtp_tls;           /* "required" (default) or "none" (loopback only) */
    long long smtp_timeout_ms;
    char *metrics_listen;
} alert_config;

extern const jtm_option alert_options[];

typedef struct alert_route {
    char *name;        /* "GM0505" or "default" */
    char *url;
    char *secret_file;
    unsigned char *secret; /* loaded by alert_routes_load_secrets; never logged */
    size_t secret_len;
    char *email;           /* comma-separated addresses for the e-mail channel; NULL: none */
} alert_route;

typedef struct alert_routes {
    alert_route *items;
    size_t count;
} alert_routes;

/* Sets route.<name>.url, route.<name>.secret_file or route.<name>.email. Returns 1 when key is a
 * route key and was stored, 0 when key is not a route key, -1 with errstr when it is a malformed
 * route key or e-mail list. */
int alert_routes_set(alert_routes *r, const char *key, const char *value, char *errstr, size_t errlen);
/* Checks every route has a url and a secret_file, and reads the secrets. A secret file readable or
 * writable by group or others is refused, and so is a secret of fewer than ALERT_SECRET_MIN bytes
 * (a file holding "whsec_<base64>", the Standard Webhooks form, counts its decoded bytes). An
 * http:// url is refused unless its host is loopback or allow_http is set: a notice names a
 * municipality's waiting list and must not cross a network in clear. Returns 0 or -1 with errstr
 * (which names the route and file, never the secret). */
#define ALERT_SECRET_MIN 32
int alert_routes_load_secrets(alert_routes *r, bool allow_http, char *errstr, size_t errlen);
/* 1 when url's host is loopback (localhost, 127.0.0.0/8, ::1), 0 otherwise or when unparsable. */
int alert_url_is_loopback(const char *url);
/* The route for gemeente, else "default", else NULL. */
const alert_route *alert_routes_find(const alert_routes *r, const char *gemeente);
/* The route that takes gemeente's webhooks, and the one that takes its e-mail: its own route
 * when it has one (else default), if that route has the channel; NULL when not. */
const alert_route *alert_routes_find_webhook(const alert_routes *r, const char *gemeente);
const alert_route *alert_routes_find_email(const alert_routes *r, const char *gemeente);
/* Reads a secret file: a regular file of mode 600 or 400 (not group/others), at most 4096 bytes,
 * trailing newlines removed. Returns a malloc'd buffer (*len bytes, NUL-terminated) or NULL with
 * errstr naming what, never the content. */
unsigned char *alert_read_secret_file(const char *what, const char *path, size_t *len, char *errstr, size_t errlen);
void alert_routes_free(alert_routes *r);

/* Defaults, the config file (may be NULL), JTM_* environment, then -X overrides ("key=value"),
 * each of which may be an option, a pg./kafka. key or a route key. Returns 0, or -1 with errstr. */
int alert_config_load(alert_config *cfg, jtm_passthrough *pt, alert_routes *routes, const char *path,
                      const jtm_kvlist *cli, char *errstr, size_t errlen);
void alert_config_free(alert_config *cfg, jtm_passthrough *pt, alert_routes *routes);

#endif
