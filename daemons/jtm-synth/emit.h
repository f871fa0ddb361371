/* Hand-written JSON for one event record (RAW format of contracts.md): field order envelope
 * (event_id, feed, type, occurred_on, recorded_at, status), client, then the type's fields in the
 * order of contracts.md; absent optional fields are omitted. No allocation, no escaping needed:
 * every string comes from the tables in world.c. */
#ifndef JTM_SYNTH_EMIT_H
#define JTM_SYNTH_EMIT_H

#include <stddef.h>

#include "world.h"

#define SYNTH_EMIT_MAX 2048 /* a buffer this large always holds one event */

/* Writes the event's JSON (no newline) to buf and returns its length; the Kafka key (event_id) goes
 * to key (at least 80 bytes), its length to *keylen. Malformed records (ev->dirty) come out broken
 * on purpose, each in its own way. */
size_t synth_emit(const synth_world *w, const synth_event *ev, char *buf, char *key, size_t *keylen);

#endif
