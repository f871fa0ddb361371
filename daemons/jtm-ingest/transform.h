/* The heart of jtm-ingest: one raw event in, either the pseudonymised event (docs/conventions.md,
 * byte for byte) and its pid, or a stable reject reason. A pure function of (feed, key, schema,
 * today, bytes): no Kafka, no I/O, no logging; the loop and the fuzzer call it alike.
 *
 * Checks, in this order; the first failure is the reason:
 *   too_large          more than JTM_INGEST_MAX_BYTES bytes (before parsing)
 *   json_parse         not JSON: syntax, invalid UTF-8, a NUL byte, duplicate keys, nesting over 2048
 *   not_object         JSON, but not an object
 *   feed_mismatch      "feed" is a string other than the feed of this process
 *   schema:<kind>:<path>  the feed's JSON Schema (common/schema.h) refused it
 *   schema:...         the same checks repeated here for every field that is copied or derived
 *                      (defence in depth: a lax schema cannot make the output malformed)
 *   bsn_invalid        client.bsn fails the 11-test (placeholders 999999999/000000000 do not)
 *   birth_date_future  client.birth_date after occurred_on, after another date of the event
 *                      (start_date, valid_from, ...: no fact of a child precedes its birth) or after today
 *   date_order         an end date before its start date (melding start/end, vrijstelling and
 *                      allocation valid_from/valid_to, stop start/end, invoice period)
 */
#ifndef JTM_INGEST_TRANSFORM_H
#define JTM_INGEST_TRANSFORM_H

#include <stddef.h>

#include "date.h"
#include "pseudonym.h"
#include "schema.h"

#define JTM_INGEST_MAX_BYTES 65536
#define JTM_INGEST_REASON_LEN 128

typedef enum { JTM_FEED_JGZ = 0, JTM_FEED_VERZUIM = 1, JTM_FEED_SOJ = 2 } jtm_feed;

/* "jgz", "verzuim", "soj" -> feed; -1 when unknown. */
int jtm_feed_parse(const char *name, jtm_feed *out);
const char *jtm_feed_name(jtm_feed feed);

typedef struct jtm_transform jtm_transform;

/* key and schema are borrowed (must outlive the transform); schema may be NULL (then only the
 * built-in checks run: tests, fuzzing). today starts as jtm_date_today(). */
jtm_transform *jtm_transform_new(jtm_feed feed, jtm_key *key, const jtm_schema *schema);
void jtm_transform_free(jtm_transform *t);
/* The date birth dates are compared with; the loop refreshes it once per batch. */
void jtm_transform_set_today(jtm_transform *t, jtm_date today);

typedef enum { JTM_TRANSFORM_OK = 0, JTM_TRANSFORM_REJECT = 1, JTM_TRANSFORM_ERROR = -1 } jtm_transform_rc;

typedef struct jtm_transform_out {
    const char *json; /* OK: the pseudonymised event, not NUL-terminated; valid until the next run */
    size_t len;
    char pid[33];     /* OK: the Kafka key */
    char reason[JTM_INGEST_REASON_LEN]; /* REJECT: the stable reason; ERROR: what failed */
} jtm_transform_out;

/* OK, REJECT (reason set), or ERROR (OpenSSL or memory failed: not the event's fault; retry or
 * stop, do not dead-letter). */
jtm_transform_rc jtm_transform_run(jtm_transform *t, const void *raw, size_t len, jtm_transform_out *out);

#endif
