/* A stored event as the linking rules read it, and a child's events in compact form.
 *
 * jtm_event holds the fields of staging.event that the rules of the linked facts read (design.md,
 * Warehouse; the typed f_* columns). jtm-linker derives children from such events
 * (daemons/jtm-linker/derive.c) and keeps each child's events in ops.linker_child.events in the
 * encoding below; jtm-privacy-scan decodes that column to scan what it holds.
 *
 * Encoding (version 1): a version byte, then one entry per event: feed, type, a presence mask,
 * occurred_on (int32 days since 1970-01-01), recorded_at (int64, microseconds since 2000-01-01 as
 * PostgreSQL stores timestamptz), the three dates (int32, JTM_NO_DATE for none), the amount when
 * present (int64), then the present strings in field order, each a varint length, its bytes and
 * a NUL (a string of 32 lowercase hex digits is stored as its 16 bytes). All little-endian. A decoded
 * event's strings point into the encoded bytes, or into the decoder's scratch for packed hex. */
#ifndef JTM_EVENTLOG_H
#define JTM_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jdoc.h"
#include "sbuf.h"

#define JTM_NO_DATE INT32_MIN /* SQL NULL */

enum jtm_ev_feed { JTM_EV_FEED_OTHER, JTM_EV_FEED_JGZ, JTM_EV_FEED_VERZUIM, JTM_EV_FEED_SOJ };
enum jtm_ev_type {
    JTM_EV_T_OTHER,
    JTM_EV_T_CONTACT,
    JTM_EV_T_SIGNAL,
    JTM_EV_T_REFERRAL,
    JTM_EV_T_MAZL,
    JTM_EV_T_MELDING,
    JTM_EV_T_REQUEST,
    JTM_EV_T_ANSWER,
    JTM_EV_T_ALLOCATION,
    JTM_EV_T_START,
    JTM_EV_T_STOP,
    JTM_EV_T_INVOICE,
};

/* One stored event version, with the fields the rules read (staging.event's typed columns). */
typedef struct jtm_event {
    int feed;            /* enum jtm_ev_feed */
    int type;            /* enum jtm_ev_type (the type within its feed; the rules check both) */
    int32_t occurred_on; /* never JTM_NO_DATE */
    int64_t recorded_at; /* any monotonic encoding of the instant (microseconds) */
    const char *event_id;
    const char *gemeente, *reference, *allocation_no, *provider_agb, *category, *referrer, *answer, *outcome,
        *end_reason, *debit_credit, *birth_ym; /* NULL: absent */
    int32_t allocated_on, start_date, end_date;
    bool has_amount;
    int64_t amount_cents;
} jtm_event;

/* Feed and type codes from their names ("soj", "invoice"); JTM_EV_*_OTHER for anything else. */
int jtm_event_feed_code(const char *name);
int jtm_event_type_code(const char *name);

#define JTM_EVENTLOG_VERSION 1

/* Starts a log in b (the version byte). */
void jtm_eventlog_begin(sbuf *b);
/* Appends one entry for e (to a log, or to a list of entries without the version byte). */
void jtm_eventlog_append(sbuf *b, const jtm_event *e);

/* Decodes the log p[0..len) into ev, appending (grown as needed; *n events). Packed hex strings are
 * unpacked into hex, for which the caller first reserved jtm_eventlog_hex_room(len) more bytes
 * (sb_reserve): ev points into it, so it must not move or change while ev is read. Returns 0, or
 * -1 when the bytes are not a version-1 log (the caller rebuilds the child from staging.event) or
 * memory ran out. */
int jtm_eventlog_decode(const unsigned char *p, size_t len, jtm_event **ev, size_t *n, size_t *cap, sbuf *hex);
/* The same for entries without the version byte. */
int jtm_eventlog_decode_entries(const unsigned char *p, size_t len, jtm_event **ev, size_t *n, size_t *cap, sbuf *hex);
size_t jtm_eventlog_hex_room(size_t len);

/* The event a validated message will be stored as: the fields staging.event's typed columns take
 * from it (payload->>'reference' and so on). Returns false when a field is not of a form whose
 * column value is its plain string (a number or object where a code belongs, a timestamp with a
 * leap second or more than six fractional digits): such a message is loaded through the upsert
 * and its child rebuilt from what PostgreSQL stored. The strings are copied into scratch (cleared
 * first), which must stay unchanged while e is read. */
bool jtm_event_from_doc(const jtm_jdoc *d, jtm_event *e, sbuf *scratch);

#endif
