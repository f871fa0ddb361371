#include "transform.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsn.h"
#include "jdoc.h"

/* How a type-specific field is checked and written. */
typedef enum {
    F_STR,     /* string, copied */
    F_DATE,    /* YYYY-MM-DD calendar date, copied */
    F_UINT,    /* non-negative integer, copied */
    F_HASH,    /* string, replaced by its keyed hash with prefix */
    F_PRODUCT, /* {"category": string, "code": string}, copied in that order */
} fkind;

typedef struct fspec {
    const char *name;
    fkind kind;
    bool required;
    const char *prefix; /* F_HASH */
} fspec;

#define MAX_FIELDS 12

typedef struct tspec {
    const char *type;
    fspec fields[MAX_FIELDS]; /* in output order (contracts.md); ends at name NULL */
    const char *from, *to;    /* date pair that must not run backwards; NULL: none */
} tspec;

#define REQ true
#define OPT false

static const tspec jgz_types[] = {
    {"contact", {{"moment", F_STR, REQ, NULL}, {"outcome", F_STR, REQ, NULL}, {"school_brin", F_STR, OPT, NULL}}, NULL, NULL},
    {"signal", {{"domain", F_STR, REQ, NULL}}, NULL, NULL},
    {"referral", {{"to", F_STR, REQ, NULL}}, NULL, NULL},
    {"mazl", {{"trigger", F_STR, REQ, NULL}, {"advice", F_STR, REQ, NULL}}, NULL, NULL},
    {NULL, {{NULL, 0, 0, NULL}}, NULL, NULL},
};

static const tspec verzuim_types[] = {
    {"melding",
     {{"kind", F_STR, REQ, NULL},
      {"start_date", F_DATE, REQ, NULL},
      {"end_date", F_DATE, OPT, NULL},
      {"hours", F_UINT, OPT, NULL},
      {"school_brin", F_STR, REQ, NULL},
      {"school_type", F_STR, REQ, NULL}},
     "start_date", "end_date"},
    {"vrijstelling",
     {{"article", F_STR, REQ, NULL}, {"valid_from", F_DATE, REQ, NULL}, {"valid_to", F_DATE, OPT, NULL}},
     "valid_from", "valid_to"},
    {"resolved", {{"melding_ref", F_HASH, REQ, "event:verzuim:"}, {"outcome", F_STR, REQ, NULL}}, NULL, NULL},
    {NULL, {{NULL, 0, 0, NULL}}, NULL, NULL},
};

static const tspec soj_types[] = {
    {"request",
     {{"reference", F_HASH, REQ, "ref:"},
      {"provider_agb", F_STR, REQ, NULL},
      {"product", F_PRODUCT, REQ, NULL},
      {"requested_start", F_DATE, REQ, NULL},
      {"referrer", F_STR, REQ, NULL}},
     NULL, NULL},
    {"answer",
     {{"reference", F_HASH, REQ, "ref:"}, {"answer", F_STR, REQ, NULL}, {"reject_reason", F_STR, OPT, NULL}},
     NULL, NULL},
    {"allocation",
     {{"allocation_no", F_HASH, REQ, "alloc:"},
      {"reference", F_HASH, OPT, "ref:"},
      {"provider_agb", F_STR, REQ, NULL},
      {"product", F_PRODUCT, REQ, NULL},
      {"allocated_on", F_DATE, REQ, NULL},
      {"valid_from", F_DATE, REQ, NULL},
      {"valid_to", F_DATE, OPT, NULL},
      {"volume", F_UINT, REQ, NULL},
      {"unit", F_STR, REQ, NULL},
      {"frequency", F_STR, REQ, NULL},
      {"change_reason", F_STR, OPT, NULL}},
     "valid_from", "valid_to"},
    {"start",
     {{"allocation_no", F_HASH, REQ, "alloc:"}, {"product", F_PRODUCT, REQ, NULL}, {"start_date", F_DATE, REQ, NULL}},
     NULL, NULL},
    {"stop",
     {{"allocation_no", F_HASH, REQ, "alloc:"},
      {"product", F_PRODUCT, REQ, NULL},
      {"start_date", F_DATE, REQ, NULL},
      {"end_date", F_DATE, REQ, NULL},
      {"end_reason", F_STR, REQ, NULL}},
     "start_date", "end_date"},
    {"invoice",
     {{"invoice_no", F_HASH, REQ, "inv:"},
      {"allocation_no", F_HASH, REQ, "alloc:"},
      {"product", F_PRODUCT, REQ, NULL},
      {"period_start", F_DATE, REQ, NULL},
      {"period_end", F_DATE, REQ, NULL},
      {"volume", F_UINT, REQ, NULL},
      {"unit", F_STR, REQ, NULL},
      {"amount_cents", F_UINT, REQ, NULL},
      {"debit_credit", F_STR, REQ, NULL}},
     "period_start", "period_end"},
    {NULL, {{NULL, 0, 0, NULL}}, NULL, NULL},
};

static const char *const feed_names[] = {"jgz", "verzuim", "soj"};
static const tspec *const feed_types[] = {jgz_types, verzuim_types, soj_types};

int jtm_feed_parse(const char *name, jtm_feed *out)
{
    for (int i = 0; i < 3; i++)
        if (name && strcmp(name, feed_names[i]) == 0) {
            *out = (jtm_feed)i;
            return 0;
        }
    return -1;
}

const char *jtm_feed_name(jtm_feed feed) { return (unsigned)feed < 3 ? feed_names[feed] : "?"; }

struct jtm_transform {
    jtm_feed feed;
    jtm_key *key;
    const jtm_schema *schema;
    long today;             /* days since 1970 */
    char event_prefix[24];  /* "event:<feed>:" */
    jtm_jdoc doc;           /* the parsed raw event, reused */
    char *buf;              /* output, reused */
    size_t len, cap;
    bool oom;
};

jtm_transform *jtm_transform_new(jtm_feed feed, jtm_key *key, const jtm_schema *schema)
{
    jtm_transform *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->feed = feed;
    t->key = key;
    t->schema = schema;
    t->today = jtm_date_to_days(jtm_date_today());
    snprintf(t->event_prefix, sizeof t->event_prefix, "event:%s:", jtm_feed_name(feed));
    jtm_jdoc_init(&t->doc);
    t->cap = 2048;
    t->buf = malloc(t->cap);
    if (!t->buf) {
        free(t);
        return NULL;
    }
    return t;
}

void jtm_transform_free(jtm_transform *t)
{
    if (!t)
        return;
    jtm_jdoc_free(&t->doc);
    free(t->buf);
    free(t);
}

void jtm_transform_set_today(jtm_transform *t, jtm_date today) { t->today = jtm_date_to_days(today); }

/* ---- output buffer ---- */

static bool reserve(jtm_transform *t, size_t n)
{
    if (t->len + n <= t->cap)
        return true;
    size_t cap = t->cap;
    while (cap < t->len + n)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) {
        t->oom = true;
        return false;
    }
    t->buf = b;
    t->cap = cap;
    return true;
}

static void put(jtm_transform *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

#define PUTLIT(t, lit) put((t), (lit), sizeof(lit) - 1)

static void put_uint(jtm_transform *t, unsigned long long v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(t, tmp + i, sizeof tmp - (size_t)i);
}

/* A JSON string: the value is valid UTF-8 without NUL (the parser checked), so only '"', '\\' and
 * control characters need escaping. */
static void put_string(jtm_transform *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!reserve(t, n * 6 + 2))
        return;
    char *o = t->buf + t->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    t->len = (size_t)(o - t->buf);
}

/* ,"name": */
static void put_key(jtm_transform *t, const char *name)
{
    size_t n = strlen(name);
    if (!reserve(t, n + 4))
        return;
    char *o = t->buf + t->len;
    *o++ = ',';
    *o++ = '"';
    memcpy(o, name, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    t->len += n + 4;
}

/* ---- field access; each returns 0 found, 1 absent (and optional), -1 rejected (reason set) ---- */

typedef struct sv {
    const char *s;
    size_t n;
} sv;

static int fail(jtm_transform_out *out, const char *kind, const char *parent, const char *name)
{
    snprintf(out->reason, sizeof out->reason, "schema:%s:%s%s%s", kind, parent ? parent : "", parent ? "." : "", name);
    return -1;
}

static int get_str(const jtm_jdoc *doc, uint32_t obj, const char *parent, const char *name, bool required, sv *v,
                   jtm_transform_out *out)
{
    uint32_t i = jtm_jdoc_getz(doc, obj, name);
    if (!i)
        return required ? fail(out, "missing", parent, name) : 1;
    const jtm_jnode *j = jtm_jdoc_node(doc, i);
    if (j->type != JTM_J_STRING)
        return fail(out, "type", parent, name);
    v->s = j->v.str.s;
    v->n = j->v.str.n;
    return 0;
}

static int get_date(const jtm_jdoc *doc, uint32_t obj, const char *parent, const char *name, bool required, sv *v,
                    jtm_date *d, jtm_transform_out *out)
{
    int rc = get_str(doc, obj, parent, name, required, v, out);
    if (rc != 0)
        return rc;
    if (jtm_date_parse(v->s, v->n, d) != 0)
        return fail(out, "format", parent, name);
    return 0;
}

/* An integer (or a real with zero fraction, as the schema's "integer" type allows) in [lo, hi]. */
static int get_int(const jtm_jdoc *doc, uint32_t obj, const char *parent, const char *name, bool required,
                   long long lo, long long hi, long long *v, jtm_transform_out *out)
{
    uint32_t i = jtm_jdoc_getz(doc, obj, name);
    if (!i)
        return required ? fail(out, "missing", parent, name) : 1;
    const jtm_jnode *j = jtm_jdoc_node(doc, i);
    if (j->type == JTM_J_INT) {
        *v = j->v.i;
    } else if (j->type == JTM_J_REAL) {
        double d = j->v.d;
        if (d != floor(d) || !(d >= -9.0e15 && d <= 9.0e15))
            return fail(out, "type", parent, name);
        *v = (long long)d;
    } else {
        return fail(out, "type", parent, name);
    }
    if (*v < lo || *v > hi)
        return fail(out, "range", parent, name);
    return 0;
}

/* One gathered type field, ready to write. */
typedef struct fval {
    const fspec *spec;
    bool present;
    sv s;            /* F_STR, F_DATE, F_HASH */
    jtm_date date;   /* F_DATE */
    long long u;     /* F_UINT */
    sv cat, code;    /* F_PRODUCT */
} fval;

static int gather(const jtm_jdoc *doc, const fspec *f, fval *v, jtm_transform_out *out)
{
    int rc = 0;
    v->spec = f;
    switch (f->kind) {
    case F_STR:
    case F_HASH: rc = get_str(doc, 0, NULL, f->name, f->required, &v->s, out); break;
    case F_DATE: rc = get_date(doc, 0, NULL, f->name, f->required, &v->s, &v->date, out); break;
    case F_UINT: rc = get_int(doc, 0, NULL, f->name, f->required, 0, LLONG_MAX, &v->u, out); break;
    case F_PRODUCT: {
        uint32_t p = jtm_jdoc_getz(doc, 0, f->name);
        if (!p) {
            rc = f->required ? fail(out, "missing", NULL, f->name) : 1;
            break;
        }
        if (jtm_jdoc_node(doc, p)->type != JTM_J_OBJECT) {
            rc = fail(out, "type", NULL, f->name);
            break;
        }
        if ((rc = get_str(doc, p, f->name, "category", true, &v->cat, out)) != 0)
            break;
        rc = get_str(doc, p, f->name, "code", true, &v->code, out);
        break;
    }
    }
    v->present = rc == 0;
    return rc < 0 ? -1 : 0;
}

static bool postcode_ok(sv p)
{
    size_t i = 0;
    for (; i < 4; i++)
        if (i >= p.n || p.s[i] < '0' || p.s[i] > '9')
            return false;
    if (i < p.n && p.s[i] == ' ')
        i++;
    if (p.n != i + 2)
        return false;
    for (; i < p.n; i++) {
        char c = p.s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return false;
    }
    return true;
}

/* The parsed event is t->doc, its root node 0. */
static jtm_transform_rc run(jtm_transform *t, jtm_transform_out *out)
{
    const jtm_jdoc *doc = &t->doc;
    const char *feed_name = jtm_feed_name(t->feed);
    sv event_id, feed, type, occurred, recorded, bsn, birth, postcode, gemeente;
    jtm_date occurred_d, birth_d;
    long long status = 1, sex = 0;
    char bsn9[10];

    if (jtm_jdoc_node(doc, 0)->type != JTM_J_OBJECT) {
        snprintf(out->reason, sizeof out->reason, "not_object");
        return JTM_TRANSFORM_REJECT;
    }
    uint32_t jf = jtm_jdoc_getz(doc, 0, "feed");
    if (jf && jtm_jdoc_node(doc, jf)->type == JTM_J_STRING &&
        (jtm_jdoc_node(doc, jf)->v.str.n != strlen(feed_name) ||
         memcmp(jtm_jdoc_node(doc, jf)->v.str.s, feed_name, strlen(feed_name)) != 0)) {
        snprintf(out->reason, sizeof out->reason, "feed_mismatch");
        return JTM_TRANSFORM_REJECT;
    }
    if (t->schema && jtm_schema_validate_doc(t->schema, doc, 0, out->reason, sizeof out->reason) != 0)
        return JTM_TRANSFORM_REJECT;

    /* The built-in checks: every field copied or derived below. */
    if (get_str(doc, 0, NULL, "event_id", true, &event_id, out) || get_str(doc, 0, NULL, "feed", true, &feed, out) ||
        get_str(doc, 0, NULL, "type", true, &type, out) ||
        get_date(doc, 0, NULL, "occurred_on", true, &occurred, &occurred_d, out) ||
        get_str(doc, 0, NULL, "recorded_at", true, &recorded, out))
        return JTM_TRANSFORM_REJECT;
    if (jtm_datetime_check(recorded.s, recorded.n) != 0)
        return fail(out, "format", NULL, "recorded_at"), JTM_TRANSFORM_REJECT;
    if (get_int(doc, 0, NULL, "status", false, 1, 3, &status, out) < 0)
        return JTM_TRANSFORM_REJECT;
    const tspec *ts = feed_types[t->feed];
    while (ts->type && (strlen(ts->type) != type.n || memcmp(ts->type, type.s, type.n) != 0))
        ts++;
    if (!ts->type)
        return fail(out, "enum", NULL, "type"), JTM_TRANSFORM_REJECT;
    uint32_t client = jtm_jdoc_getz(doc, 0, "client");
    if (!client)
        return fail(out, "missing", NULL, "client"), JTM_TRANSFORM_REJECT;
    if (jtm_jdoc_node(doc, client)->type != JTM_J_OBJECT)
        return fail(out, "type", NULL, "client"), JTM_TRANSFORM_REJECT;
    if (get_str(doc, client, "client", "bsn", true, &bsn, out) ||
        get_date(doc, client, "client", "birth_date", true, &birth, &birth_d, out) ||
        get_int(doc, client, "client", "sex", true, 0, 2, &sex, out) ||
        get_str(doc, client, "client", "postcode", true, &postcode, out) ||
        get_str(doc, client, "client", "gemeente", true, &gemeente, out))
        return JTM_TRANSFORM_REJECT;
    if (!postcode_ok(postcode))
        return fail(out, "pattern", "client", "postcode"), JTM_TRANSFORM_REJECT;

    fval fields[MAX_FIELDS];
    int nf = 0;
    for (const fspec *f = ts->fields; f->name; f++, nf++)
        if (gather(doc, f, &fields[nf], out) != 0)
            return JTM_TRANSFORM_REJECT;

    jtm_bsn_status bs = jtm_bsn_check(bsn.s, bsn.n, bsn9);
    if (bs == JTM_BSN_INVALID) {
        snprintf(out->reason, sizeof out->reason, "bsn_invalid");
        return JTM_TRANSFORM_REJECT;
    }
    long birth_days = jtm_date_to_days(birth_d);
    bool before_birth = birth_days > jtm_date_to_days(occurred_d) || birth_days > t->today;
    for (int i = 0; i < nf; i++) /* no fact of a child's events precedes its birth */
        if (fields[i].present && fields[i].spec->kind == F_DATE && jtm_date_to_days(fields[i].date) < birth_days)
            before_birth = true;
    if (before_birth) {
        snprintf(out->reason, sizeof out->reason, "birth_date_future");
        return JTM_TRANSFORM_REJECT;
    }
    if (ts->from) {
        const fval *from = NULL, *to = NULL;
        for (int i = 0; i < nf; i++) {
            if (strcmp(fields[i].spec->name, ts->from) == 0)
                from = &fields[i];
            if (strcmp(fields[i].spec->name, ts->to) == 0)
                to = &fields[i];
        }
        if (from && to && from->present && to->present &&
            jtm_date_to_days(to->date) < jtm_date_to_days(from->date)) {
            snprintf(out->reason, sizeof out->reason, "date_order");
            return JTM_TRANSFORM_REJECT;
        }
    }

    /* pid */
    char hash[33];
    if (bs == JTM_BSN_VALID) {
        if (jtm_pseudonym_hex(t->key, "bsn:", bsn9, 9, out->pid) != 0)
            goto hash_failed;
    } else {
        char fb[32];
        size_t n = 0;
        fb[n++] = (char)('0' + sex);
        memcpy(fb + n, birth.s, 10);
        n += 10;
        for (size_t i = 0; i < postcode.n; i++) {
            char c = postcode.s[i];
            if (c == ' ')
                continue;
            fb[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        }
        if (jtm_pseudonym_hex(t->key, "fb:", fb, n, out->pid) != 0)
            goto hash_failed;
    }
    if (jtm_pseudonym_hex(t->key, t->event_prefix, event_id.s, event_id.n, hash) != 0)
        goto hash_failed;

    /* Write: envelope, pid, client, type fields (docs/conventions.md). */
    t->len = 0;
    t->oom = false;
    PUTLIT(t, "{\"event_id\":\"");
    put(t, hash, 32);
    PUTLIT(t, "\",\"feed\":");
    put_string(t, feed.s, feed.n);
    put_key(t, "type");
    put_string(t, type.s, type.n);
    put_key(t, "occurred_on");
    put_string(t, occurred.s, occurred.n);
    put_key(t, "recorded_at");
    put_string(t, recorded.s, recorded.n);
    put_key(t, "status");
    put_uint(t, (unsigned long long)status);
    PUTLIT(t, ",\"pid\":\"");
    put(t, out->pid, 32);
    if (bs == JTM_BSN_VALID)
        PUTLIT(t, "\",\"pid_kind\":\"bsn\",\"key_id\":");
    else
        PUTLIT(t, "\",\"pid_kind\":\"fallback\",\"key_id\":");
    const char *kid = jtm_key_id(t->key);
    put_string(t, kid, strlen(kid));
    PUTLIT(t, ",\"client\":{\"birth_ym\":\"");
    put(t, birth.s, 7);
    PUTLIT(t, "\",\"age_months\":");
    put_uint(t, (unsigned long long)jtm_date_age_months(birth_d, occurred_d));
    PUTLIT(t, ",\"sex\":");
    put_uint(t, (unsigned long long)sex);
    PUTLIT(t, ",\"pc4\":\"");
    put(t, postcode.s, 4);
    PUTLIT(t, "\",\"gemeente\":");
    put_string(t, gemeente.s, gemeente.n);
    PUTLIT(t, "}");
    for (int i = 0; i < nf; i++) {
        const fval *v = &fields[i];
        if (!v->present)
            continue;
        put_key(t, v->spec->name);
        switch (v->spec->kind) {
        case F_STR:
        case F_DATE: put_string(t, v->s.s, v->s.n); break;
        case F_UINT: put_uint(t, (unsigned long long)v->u); break;
        case F_HASH:
            if (jtm_pseudonym_hex(t->key, v->spec->prefix, v->s.s, v->s.n, hash) != 0)
                goto hash_failed;
            PUTLIT(t, "\"");
            put(t, hash, 32);
            PUTLIT(t, "\"");
            break;
        case F_PRODUCT:
            PUTLIT(t, "{\"category\":");
            put_string(t, v->cat.s, v->cat.n);
            PUTLIT(t, ",\"code\":");
            put_string(t, v->code.s, v->code.n);
            PUTLIT(t, "}");
            break;
        }
    }
    PUTLIT(t, "}");
    if (t->oom) {
        snprintf(out->reason, sizeof out->reason, "out of memory");
        return JTM_TRANSFORM_ERROR;
    }
    out->json = t->buf;
    out->len = t->len;
    return JTM_TRANSFORM_OK;

hash_failed:
    snprintf(out->reason, sizeof out->reason, "keyed hash failed (OpenSSL)");
    return JTM_TRANSFORM_ERROR;
}

jtm_transform_rc jtm_transform_run(jtm_transform *t, const void *raw, size_t len, jtm_transform_out *out)
{
    out->json = NULL;
    out->len = 0;
    out->pid[0] = '\0';
    out->reason[0] = '\0';
    if (len > JTM_INGEST_MAX_BYTES) {
        snprintf(out->reason, sizeof out->reason, "too_large");
        return JTM_TRANSFORM_REJECT;
    }
    if (jtm_jdoc_parse(&t->doc, raw, len) != 0) {
        snprintf(out->reason, sizeof out->reason, "json_parse");
        return JTM_TRANSFORM_REJECT;
    }
    return run(t, out);
}
