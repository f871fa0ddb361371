/* jtm-synth as a library: a synthetic region of raw supplier events (see ../../../shared/contracts.md,
 * RAW format before pseudonymisation), deterministic from a seed.
 *
 * How it runs (memory stays bounded whatever the number of children):
 *  1. Each child is simulated on its own (life.c) from two private random streams derived from
 *     (seed, child number): one for its life (JGZ moments, absence, care episodes), one for the
 *     supplier noise (late, duplicate, corrected, withdrawn, malformed events), so changing a noise
 *     rate never changes the underlying region.
 *  2. Every event becomes a fixed-size binary record appended to a time bucket (spool.c): buckets
 *     span a fixed number of days of send time, kept in unlinked temporary files.
 *  3. Buckets are read back one at a time, sorted by (send time, child, sequence) and written as
 *     JSON (emit.c). Memory is one bucket of records plus small per-bucket write buffers.
 * The stream is ordered by send time, which equals recorded_at except for duplicates (resent later
 * with their original recorded_at). Same seed and parameters give the same bytes. */
#ifndef JTM_SYNTH_H
#define JTM_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "date.h"

enum { SYNTH_FEED_JGZ = 0, SYNTH_FEED_VERZUIM, SYNTH_FEED_SOJ, SYNTH_FEEDS };
enum {
    SYNTH_T_CONTACT = 0, SYNTH_T_SIGNAL, SYNTH_T_REFERRAL, SYNTH_T_MAZL, /* jgz */
    SYNTH_T_MELDING, SYNTH_T_VRIJSTELLING, SYNTH_T_RESOLVED,            /* verzuim */
    SYNTH_T_REQUEST, SYNTH_T_ANSWER, SYNTH_T_ALLOCATION, SYNTH_T_START, SYNTH_T_STOP,
    SYNTH_T_INVOICE, /* soj */
    SYNTH_TYPES
};

#define SYNTH_MAX_SPIKES 8
#define SYNTH_MAX_MUNIS 64

typedef struct synth_spike {
    int muni;          /* index into the region's municipalities */
    int category;      /* iJw category number, e.g. 45 */
    long first_day;    /* Monday of the ISO week, days since 1970-01-01 */
    int weeks;         /* how long the extra requests come in */
    double factor;     /* request rate multiplier in those weeks (waits grow with it too) */
} synth_spike;

typedef struct synth_muni {
    char code[7];      /* GM0505 */
    char name[40];
    double weight;     /* population share, relative */
    int pc4_lo[3], pc4_hi[3], n_ranges;
} synth_muni;

typedef struct synth_params {
    uint64_t seed;
    long children;
    synth_muni munis[SYNTH_MAX_MUNIS];
    int n_munis;
    jtm_date start;
    int years;
    synth_spike spikes[SYNTH_MAX_SPIKES];
    int n_spikes;
    double dirty, corrections, duplicates, late;
    double placeholders; /* share of baby events (under 3 months) with a placeholder BSN */
    const char *tmpdir;  /* NULL: $TMPDIR or /tmp */
} synth_params;

typedef struct synth_stats {
    unsigned long long by_type[SYNTH_TYPES];
    unsigned long long by_feed[SYNTH_FEEDS];
    unsigned long long bytes;
    unsigned long long events;
    unsigned long long changed, withdrawn, duplicates, late, dirty, placeholders;
} synth_stats;

/* Where finished JSON lines go, in stream order. json has no trailing newline; key is the Kafka key
 * (event_id). Returns 0, or -1 with errstr (the run stops). */
typedef struct synth_writer {
    int (*write)(void *ctx, int feed, const char *key, size_t keylen, const char *json, size_t len,
                 char *errstr, size_t errlen);
    void *ctx;
} synth_writer;

extern const char *const synth_feed_names[SYNTH_FEEDS];
extern const char *const synth_type_names[SYNTH_TYPES];
extern const int synth_type_feed[SYNTH_TYPES];

/* Defaults: seed 1, 20000 children, the ten municipalities of Zuid-Holland Zuid, 2021-01-01 for 3
 * years, clean output (dirty 0), corrections 1%, duplicates 0.5%, late 1%. */
void synth_params_default(synth_params *p);
/* "GM0505,GM0642" (codes of the built-in table) or custom entries "GM9999:1234-1239[:weight]".
 * Returns 0, or -1 with errstr. */
int synth_parse_municipalities(synth_params *p, const char *list, char *errstr, size_t errlen);
/* "GM0505:45:2023-W10[:factor]"; municipalities must be set first. Appends to p->spikes. */
int synth_parse_spike(synth_params *p, const char *spec, char *errstr, size_t errlen);

/* Generates the whole region into w. stats may be NULL. Returns 0, or -1 with errstr. */
int synth_run(const synth_params *p, const synth_writer *w, synth_stats *stats, char *errstr, size_t errlen);

/* Prints the counts per feed and type (and the noise counts) as one block to f. */
#include <stdio.h>
void synth_stats_print(const synth_stats *s, FILE *f);

#endif
