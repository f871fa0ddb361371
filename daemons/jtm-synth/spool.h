/* Bounded-memory time sort: event records go into buckets by send time (a fixed number of days
 * each), spilled in chunks to one unlinked temporary file; draining reads one bucket at a time,
 * sorts it by (send_at, seq) and hands the records over in order. Memory: one chunk buffer per
 * bucket (at most 256 buckets of 16 KiB) plus the largest bucket while it is drained. Records before
 * the first or after the last bucket go into that bucket, which keeps the order exact. */
#ifndef JTM_SYNTH_SPOOL_H
#define JTM_SYNTH_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "world.h"

typedef struct synth_spool synth_spool;

/* Buckets cover send times [t0, t1). tmpdir NULL: $TMPDIR or /tmp. */
synth_spool *synth_spool_new(const char *tmpdir, int64_t t0, int64_t t1, char *errstr, size_t errlen);
int synth_spool_add(synth_spool *s, const synth_event *ev, char *errstr, size_t errlen);
/* Calls fn for every record in send order; stops at the first non-zero return (returned). */
int synth_spool_drain(synth_spool *s, int (*fn)(void *ctx, const synth_event *ev), void *ctx, char *errstr,
                      size_t errlen);
void synth_spool_free(synth_spool *s);

#endif
