/* Cheap checks before a message goes to PostgreSQL: whatever fails here is dead-lettered with a
 * stable reason code without costing a failed transaction. PostgreSQL stays the final judge (load.c
 * isolates anything it still refuses). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "linker.h"

static int fail(char *reason, size_t rlen, const char *kind, const char *field)
{
    snprintf(reason, rlen, "%s%s%s", kind, field ? ":" : "", field ? field : "");
    return -1;
}

static int is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* A required string field: 0 with *out, else -1 with the reason. */
static int req_str(json_t *obj, const char *field, const char **out, char *reason, size_t rlen)
{
    json_t *v = json_object_get(obj, field);
    if (!v)
        return fail(reason, rlen, "schema:missing", field);
    if (!json_is_string(v))
        return fail(reason, rlen, "schema:invalid", field);
    *out = json_string_value(v);
    return 0;
}

/* An optional date field must be a real calendar date when present. */
static int opt_date(json_t *obj, const char *field, char *reason, size_t rlen)
{
    json_t *v = json_object_get(obj, field);
    jtm_date d;
    if (!v)
        return 0;
    if (!json_is_string(v) || jtm_date_parse(json_string_value(v), json_string_length(v), &d) != 0)
        return fail(reason, rlen, "schema:invalid", field);
    return 0;
}

static int opt_count(json_t *obj, const char *field, char *reason, size_t rlen)
{
    json_t *v = json_object_get(obj, field);
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
        return fail(reason, rlen, "schema:invalid", field);
    return 0;
}

int lk_validate(const char *data, size_t len, const char *expected_feed, char *reason, size_t rlen)
{
    static const char *const date_fields[] = {"allocated_on", "start_date", "end_date", "valid_from",
                                              "valid_to", "requested_start", NULL};
    json_error_t jerr;
    int rc = -1;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        fail(reason, rlen, "json_parse", NULL);
        goto out;
    }
    const char *s;
    jtm_date d;
    if (req_str(root, "event_id", &s, reason, rlen) != 0)
        goto out;
    if (!is_hex32(s)) {
        fail(reason, rlen, "schema:invalid", "event_id");
        goto out;
    }
    if (req_str(root, "feed", &s, reason, rlen) != 0)
        goto out;
    if (strcmp(s, "jgz") != 0 && strcmp(s, "verzuim") != 0 && strcmp(s, "soj") != 0) {
        fail(reason, rlen, "schema:invalid", "feed");
        goto out;
    }
    if (expected_feed && strcmp(s, expected_feed) != 0) {
        fail(reason, rlen, "feed_mismatch", NULL);
        goto out;
    }
    if (req_str(root, "type", &s, reason, rlen) != 0)
        goto out;
    if (!*s) {
        fail(reason, rlen, "schema:invalid", "type");
        goto out;
    }
    if (req_str(root, "occurred_on", &s, reason, rlen) != 0)
        goto out;
    if (jtm_date_parse(s, strlen(s), &d) != 0) {
        fail(reason, rlen, "schema:invalid", "occurred_on");
        goto out;
    }
    if (req_str(root, "recorded_at", &s, reason, rlen) != 0)
        goto out;
    if (jtm_datetime_check(s, strlen(s)) != 0) {
        fail(reason, rlen, "schema:invalid", "recorded_at");
        goto out;
    }
    json_t *st = json_object_get(root, "status");
    if (st && (!json_is_integer(st) || json_integer_value(st) < 1 || json_integer_value(st) > 3)) {
        fail(reason, rlen, "schema:invalid", "status");
        goto out;
    }
    if (req_str(root, "pid", &s, reason, rlen) != 0)
        goto out;
    if (!is_hex32(s)) {
        fail(reason, rlen, "schema:invalid", "pid");
        goto out;
    }
    json_t *client = json_object_get(root, "client");
    if (!client) {
        fail(reason, rlen, "schema:missing", "client");
        goto out;
    }
    if (!json_is_object(client)) {
        fail(reason, rlen, "schema:invalid", "client");
        goto out;
    }
    if (req_str(client, "gemeente", &s, reason, rlen) != 0) {
        snprintf(reason, rlen, "schema:%s:client.gemeente",
                 json_object_get(client, "gemeente") ? "invalid" : "missing");
        goto out;
    }
    json_t *bym = json_object_get(client, "birth_ym");
    if (bym) {
        char buf[11];
        if (!json_is_string(bym) || json_string_length(bym) != 7 ||
            (snprintf(buf, sizeof buf, "%s-01", json_string_value(bym)), jtm_date_parse(buf, 10, &d) != 0)) {
            fail(reason, rlen, "schema:invalid", "client.birth_ym");
            goto out;
        }
    }
    for (int i = 0; date_fields[i]; i++)
        if (opt_date(root, date_fields[i], reason, rlen) != 0)
            goto out;
    if (opt_count(root, "amount_cents", reason, rlen) != 0 || opt_count(root, "volume", reason, rlen) != 0)
        goto out;
    rc = 0;
out:
    json_decref(root);
    return rc;
}
