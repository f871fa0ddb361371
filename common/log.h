/* Structured logging: one line per event, key=value fields, to stderr.
 *
 *   ts=2026-11-25T18:00:00.123Z level=info prog=jtm-ingest event=started feed=jgz
 *
 * The event name is a stable token operators grep for; the free fields follow it. Values that may
 * hold spaces or quotes go through jtm_log_quote(). Never pass key material, raw identifiers (BSN,
 * name, postcode, birth date) or whole raw messages to a log call: log offsets and reasons instead. */
#ifndef JTM_LOG_H
#define JTM_LOG_H

#include <stddef.h>

typedef enum { JTM_LOG_DEBUG = 0, JTM_LOG_INFO, JTM_LOG_WARN, JTM_LOG_ERROR } jtm_log_level;

/* Set once at start-up, before any thread starts. */
void jtm_log_init(const char *program_name, jtm_log_level min_level);
void jtm_log_set_level(jtm_log_level min_level);
/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int jtm_log_level_parse(const char *name, jtm_log_level *out);

/* fields is a printf format for the key=value part; may be NULL. Thread-safe: the line is written
 * with one write(2). */
void jtm_log(jtm_log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) jtm_log(JTM_LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) jtm_log(JTM_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) jtm_log(JTM_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) jtm_log(JTM_LOG_ERROR, ev, __VA_ARGS__)

/* Writes s as a log value into buf: unchanged when it is a plain token, else in double quotes with
 * \" \\ and control characters escaped; truncated to fit. Returns buf. */
const char *jtm_log_quote(char *buf, size_t buflen, const char *s);

#endif
