/* A child's events in the compact form the linker keeps in ops.linker_child.events, so that a
 * child whose batch only added new events is derived from that row and the new events, without
 * reading its stored events back (recompute.c).
 *
 * Format (version 1): a version byte, then one entry per event: feed, type, a presence mask,
 * occurred_on (int32 days since 1970-01-01), recorded_at (int64, microseconds since 2000-01-01 as
 * PostgreSQL stores timestamptz), the three dates (int32, LK_NO_DATE for none), the amount when
 * present (int64), then the present strings in field order, each a varint length, its bytes and
 * a NUL (a string of 32 lowercase hex digits is stored as its 16 bytes). All little-endian. A decoded
 * event's strings point into the encoded bytes, or into the decoder's scratch for packed hex. */
#ifndef JTM_LINKER_EVENTLOG_H
#define JTM_LINKER_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derive.h"
#include "jdoc.h"
#include "sbuf.h"

#define LK_EVENTLOG_VERSION 1

/* Starts a log in b (the version byte). */
void lk_eventlog_begin(sbuf *b);
/* Appends one entry for e (to a log, or to a list of entries without the version byte). */
void lk_eventlog_append(sbuf *b, const lk_event *e);

/* Decodes the log p[0..len) into ev, appending (grown as needed; *n events). Packed hex strings are
 * unpacked into hex, for which the caller first reserved lk_eventlog_hex_room(len) more bytes
 * (sb_reserve): ev points into it, so it must not move or change while ev is read. Returns 0, or
 * -1 when the bytes are not a version-1 log (the caller rebuilds the child from staging.event) or
 * memory ran out. */
int lk_eventlog_decode(const unsigned char *p, size_t len, lk_event **ev, size_t *n, size_t *cap, sbuf *hex);
/* The same for entries without the version byte. */
int lk_eventlog_decode_entries(const unsigned char *p, size_t len, lk_event **ev, size_t *n, size_t *cap, sbuf *hex);
size_t lk_eventlog_hex_room(size_t len);

/* The event a validated message will be stored as: the fields staging.event's typed columns take
 * from it (payload->>'reference' and so on). Returns false when a field is not of a form whose
 * column value is its plain string (a number or object where a code belongs, a timestamp with a
 * leap second or more than six fractional digits): such a message is loaded through the upsert
 * and its child rebuilt from what PostgreSQL stored. The strings are copied into scratch (cleared
 * first), which must stay unchanged while e is read. */
bool lk_event_from_doc(const jtm_jdoc *d, lk_event *e, sbuf *scratch);

#endif
