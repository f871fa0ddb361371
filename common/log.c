#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "jtm";
static jtm_log_level log_min_level = JTM_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void jtm_log_init(const char *program_name, jtm_log_level min_level)
{
    log_program = program_name;
    log_min_level = min_level;
}

void jtm_log_set_level(jtm_log_level min_level) { log_min_level = min_level; }

int jtm_log_level_parse(const char *name, jtm_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (jtm_log_level)i;
            return 0;
        }
    if (strcmp(name, "warning") == 0) {
        *out = JTM_LOG_WARN;
        return 0;
    }
    return -1;
}

void jtm_log(jtm_log_level level, const char *event, const char *fields, ...)
{
    if (level < log_min_level)
        return;
    char line[4096];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s event=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, level_names[level], log_program, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line - 2 && fields && *fields) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fields, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    /* A field value must never break the one-line-per-event rule. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    ssize_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, line + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += w;
    }
}

const char *jtm_log_quote(char *buf, size_t buflen, const char *s)
{
    if (buflen == 0)
        return buf;
    if (!s)
        s = "";
    int plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p >= 0x7f)
            plain = 0;
    size_t o = 0;
    if (plain) {
        snprintf(buf, buflen, "%s", s);
        return buf;
    }
    if (buflen < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = s; *p && o + 5 < buflen; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
