#include "scan.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bsn.h"

/* A set of strings: open addressing, FNV-1a, grows at half full. */
typedef struct strset {
    char **slot;
    size_t cap, n;
} strset;

static uint64_t fnv(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static bool set_has(const strset *st, const char *s, size_t len)
{
    if (!st->cap)
        return false;
    for (size_t i = fnv(s, len) & (st->cap - 1);; i = (i + 1) & (st->cap - 1)) {
        if (!st->slot[i])
            return false;
        if (strlen(st->slot[i]) == len && memcmp(st->slot[i], s, len) == 0)
            return true;
    }
}

static void set_add(strset *st, const char *s, size_t len)
{
    if (set_has(st, s, len))
        return;
    if (2 * (st->n + 1) > st->cap) {
        size_t ncap = st->cap ? 2 * st->cap : 256;
        char **ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return;
        for (size_t i = 0; i < st->cap; i++) {
            if (!st->slot[i])
                continue;
            size_t j = fnv(st->slot[i], strlen(st->slot[i])) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = st->slot[i];
        }
        free(st->slot);
        st->slot = ns;
        st->cap = ncap;
    }
    size_t j = fnv(s, len) & (st->cap - 1);
    while (st->slot[j])
        j = (j + 1) & (st->cap - 1);
    st->slot[j] = strndup(s, len);
    if (st->slot[j])
        st->n++;
}

static void set_free(strset *st)
{
    for (size_t i = 0; i < st->cap; i++)
        free(st->slot[i]);
    free(st->slot);
    memset(st, 0, sizeof *st);
}

struct jtm_scan {
    FILE *report;
    long max_reported, reported;
    long found[JTM_FIND_KINDS];
    long long bytes;
    strset names;      /* name words and full names */
    strset birthdates; /* YYYY-MM-DD */
    strset eventdates; /* dates the raw input uses otherwise */
    long ambiguous;    /* birth dates that are also event dates (not searched) */
    bool finalised;
};

static const char *const kind_names[JTM_FIND_KINDS] = {"bsn", "postcode", "birthdate", "name"};
const char *jtm_find_kind_name(jtm_find_kind k) { return k < JTM_FIND_KINDS ? kind_names[k] : "?"; }

jtm_scan *jtm_scan_new(FILE *report, long max_reported)
{
    jtm_scan *s = calloc(1, sizeof *s);
    if (s) {
        s->report = report;
        s->max_reported = max_reported;
    }
    return s;
}

void jtm_scan_free(jtm_scan *s)
{
    if (!s)
        return;
    set_free(&s->names);
    set_free(&s->birthdates);
    set_free(&s->eventdates);
    free(s);
}

static bool is_date(const char *v, size_t len)
{
    if (len != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
            return false;
    return true;
}

/* Every string value that starts with a date, anywhere in the event, except client.birth_date. */
static void collect_event_dates(jtm_scan *s, json_t *v, bool is_birth)
{
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        if (!is_birth && strlen(t) >= 10 && is_date(t, 10))
            set_add(&s->eventdates, t, 10);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) collect_event_dates(s, x, strcmp(k, "birth_date") == 0);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect_event_dates(s, x, false);
    }
}

/* A word byte: ASCII letter, apostrophe inside names ('t), or any byte of a UTF-8 sequence. */
static bool word_byte(unsigned char c) { return isalpha(c) || c >= 0x80; }

static void learn_name(jtm_scan *s, const char *name)
{
    size_t len = strlen(name);
    if (len >= 3)
        set_add(&s->names, name, len);
    for (size_t i = 0; i < len;) {
        if (!word_byte((unsigned char)name[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && word_byte((unsigned char)name[j]))
            j++;
        /* Capitalised parts of 3+ bytes: particles (de, van, den, der, 't) are lower case. */
        if (j - i >= 3 && !islower((unsigned char)name[i]))
            set_add(&s->names, name + i, j - i);
        i = j;
    }
}

int jtm_scan_learn_raw(jtm_scan *s, const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *ev = json_loadb(line, (size_t)len, 0, NULL);
        if (!ev)
            continue;
        json_t *client = json_object_get(ev, "client");
        const char *name = json_string_value(json_object_get(client, "name"));
        const char *birth = json_string_value(json_object_get(client, "birth_date"));
        if (name)
            learn_name(s, name);
        if (birth && is_date(birth, strlen(birth)))
            set_add(&s->birthdates, birth, 10);
        collect_event_dates(s, ev, false);
        json_decref(ev);
    }
    free(line);
    fclose(f);
    s->finalised = false;
    return 0;
}

/* The warehouse writes a month as its first day (wh.population_fact.birth_month): a birth date on
 * the 1st looks exactly like the coarsened birth month that is allowed to be there. */
static bool first_of_month(const char *d) { return d[8] == '0' && d[9] == '1'; }

/* Birth dates that are also event dates, or fall on the 1st, cannot be searched for without false
 * alarms. */
static void finalise(jtm_scan *s)
{
    if (s->finalised)
        return;
    s->finalised = true;
    s->ambiguous = 0;
    for (size_t i = 0; i < s->birthdates.cap; i++) {
        char *d = s->birthdates.slot[i];
        if (d && (first_of_month(d) || set_has(&s->eventdates, d, strlen(d))))
            s->ambiguous++;
    }
}

/* Redacted hint: the kind, the first character and the length; for dates the year only. */
static void found(jtm_scan *s, jtm_find_kind kind, const char *source, long line, const char *v, size_t len)
{
    s->found[kind]++;
    if (!s->report || s->reported >= s->max_reported)
        return;
    s->reported++;
    char hint[48];
    if (kind == JTM_FIND_BIRTHDATE)
        snprintf(hint, sizeof hint, "%.4s-**-**", v);
    else if (kind == JTM_FIND_BSN)
        snprintf(hint, sizeof hint, "#########");
    else if (kind == JTM_FIND_POSTCODE)
        snprintf(hint, sizeof hint, "####%sAA", len == 7 ? " " : "");
    else
        snprintf(hint, sizeof hint, "%c* (%zu bytes)", isupper((unsigned char)v[0]) ? v[0] : '?', len);
    fprintf(s->report, "finding kind=%s source=%s line=%ld hint=\"%s\"\n", kind_names[kind], source, line, hint);
}

static bool hexdig(unsigned char c) { return isxdigit(c) != 0; }
static bool alnum_or_utf8(unsigned char c) { return isalnum(c) || c >= 0x80; }

static void scan_line(jtm_scan *s, const char *source, long line, const char *t, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)t[i];
        if (isdigit(c)) {
            size_t j = i;
            while (j < n && isdigit((unsigned char)t[j]))
                j++;
            size_t run = j - i;
            bool hex_before = i > 0 && hexdig((unsigned char)t[i - 1]);
            bool hex_after = j < n && hexdig((unsigned char)t[j]);
            if (run == 9 && !hex_before && !hex_after) {
                char norm[10];
                if (jtm_bsn_check(t + i, 9, norm) == JTM_BSN_VALID)
                    found(s, JTM_FIND_BSN, source, line, t + i, 9);
            }
            /* postcode: 4 digits, first not 0, optional space, 2 letters, standalone */
            if (run == 4 && t[i] != '0' && !(i > 0 && alnum_or_utf8((unsigned char)t[i - 1]))) {
                size_t k = j;
                if (k < n && t[k] == ' ')
                    k++;
                if (k + 2 <= n && isupper((unsigned char)t[k]) && isupper((unsigned char)t[k + 1]) &&
                    !(k + 2 < n && alnum_or_utf8((unsigned char)t[k + 2])))
                    found(s, JTM_FIND_POSTCODE, source, line, t + i, k + 2 - i);
            }
            /* a full date */
            if (run == 4 && j + 6 <= n && is_date(t + i, 10) && !(j + 6 < n && isdigit((unsigned char)t[j + 6])) &&
                !first_of_month(t + i) && set_has(&s->birthdates, t + i, 10) &&
                !set_has(&s->eventdates, t + i, 10))
                found(s, JTM_FIND_BIRTHDATE, source, line, t + i, 10);
            i = j;
            continue;
        }
        if (word_byte(c)) {
            size_t j = i;
            while (j < n && word_byte((unsigned char)t[j]))
                j++;
            /* a whole word, not glued to digits (hex strings, codes) */
            bool glued = (i > 0 && isdigit((unsigned char)t[i - 1])) || (j < n && isdigit((unsigned char)t[j]));
            if (!glued && s->names.n && set_has(&s->names, t + i, j - i))
                found(s, JTM_FIND_NAME, source, line, t + i, j - i);
            i = j;
            continue;
        }
        i++;
    }
}

void jtm_scan_text(jtm_scan *s, const char *source, long line, const char *text, size_t len)
{
    finalise(s);
    s->bytes += (long long)len;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            if (i > start)
                scan_line(s, source, line, text + start, i - start);
            line++;
            start = i + 1;
        }
    }
}

int jtm_scan_file(jtm_scan *s, const char *path, char *errstr, size_t errlen)
{
    return jtm_scan_file_each(s, path, NULL, NULL, errstr, errlen);
}

int jtm_scan_file_each(jtm_scan *s, const char *path, jtm_scan_line_fn each, void *arg, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long no = 1;
    for (; (len = getline(&line, &cap, f)) > 0; no++) {
        jtm_scan_text(s, path, no, line, (size_t)len);
        if (each)
            each(arg, path, no, line, (size_t)len);
    }
    int rc = ferror(f) ? -1 : 0;
    if (rc)
        snprintf(errstr, errlen, "read error on %s", path);
    free(line);
    fclose(f);
    return rc;
}

long jtm_scan_findings(const jtm_scan *s)
{
    long n = 0;
    for (int k = 0; k < JTM_FIND_KINDS; k++)
        n += s->found[k];
    return n;
}
long jtm_scan_findings_of(const jtm_scan *s, jtm_find_kind kind) { return kind < JTM_FIND_KINDS ? s->found[kind] : 0; }
long jtm_scan_names(const jtm_scan *s) { return (long)s->names.n; }
long jtm_scan_birthdates(const jtm_scan *s) { return (long)s->birthdates.n; }
long jtm_scan_ambiguous_dates(const jtm_scan *s) { return s->ambiguous; }
long long jtm_scan_bytes(const jtm_scan *s) { return s->bytes; }
