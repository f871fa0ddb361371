/* jtm-linker: pseudo.* topics -> staging.event -> linked facts in PostgreSQL, exactly once.
 *
 * Exactly once: every batch is one PostgreSQL transaction that COPYs the messages into the
 * session table linker_in and calls staging.apply_batch(group), which skips messages below the
 * stored position, upserts the events, recomputes the touched children, advances ops.kafka_offset
 * and NOTIFYs jtm_waiting_list. On assignment (and after any PostgreSQL failure) the consumer seeks
 * to the positions stored in PostgreSQL; Kafka commits are informational only.
 *
 * Modules: validate.c (the pseudo.<feed> schema and cheap checks before PostgreSQL), load.c (the batch transaction: streamed
 * COPY, apply, dead-letter isolation), recompute.c (deriving the touched children and writing what
 * changed), derive.c (the rules for one child), rows.c and copytext.c (COPY text of rows),
 * offsets.c (stored positions, seeking), batch.c (size/time bounded collection), linker.c (the run
 * loop, reconnects, stats). */
#ifndef JTM_LINKER_H
#define JTM_LINKER_H

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "derive.h"
#include "jdoc.h"
#include "pgarray.h"
#include "rows.h"
#include "sbuf.h"
#include "schema.h"
#include "unassigned.h"

typedef struct linker_config {
    char *topic_jgz, *topic_verzuim, *topic_soj;
    char *group;
    long long batch_max;
    long long batch_ms;
    long long batch_bytes;
    long long stats_interval_ms;
    bool migrate_on_start;
    char *migrations_dir;
    char *schema_dir;
    char *log_level;
    long long pg_connect_wait_ms;
    long long kafka_ready_ms;
    char *metrics_listen;
    long long workers;
    char *instance;
} linker_config;

extern const jtm_option linker_options[];

typedef struct lk_span {
    const char *s; /* not NUL-terminated; NULL when absent */
    size_t n;
} lk_span;

/* What a validated message's envelope says (strings unescaped, borrowed from the message or the
 * validator's document): the staging.event columns the batch's direct path writes. */
typedef struct lk_envelope {
    lk_span feed, event_id, pid, type, occurred_on, recorded_at, gemeente;
    int status; /* 1 when absent */
} lk_envelope;

/* One message of a batch. data points into the Kafka message (or the caller's buffer in tests). */
typedef struct lk_item {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *data;
    size_t len;
    char *reject;            /* reason when the message is dead-lettered, else NULL (the caller owns it) */
    const lk_envelope *env;  /* validated: may be loaded directly (direct.c); NULL: through the upsert */
    const jtm_event *event;   /* with env: the event it is stored as (eventlog.h's jtm_event_from_doc) */
} lk_item;

/* What one batch's derivation did (recompute.c). */
typedef struct lk_recompute_stats {
    long children;           /* children derived */
    long children_rewritten; /* of those, children with at least one table's rows replaced */
    long rows_written;       /* derived rows written */
    long children_rebuilt;   /* of those, children rebuilt from staging.event (not from their log) */
    long events_read;        /* stored events read to rebuild them */
    long events_logged;      /* events of the others, from their logs and the batch */
    long read_ms, write_ms;  /* waiting for PostgreSQL: locking and reading, writing */
    long rows_unassigned;    /* of rows_written, rows of a municipality that is not set up (unassigned.h) */
    char unassigned_code[8]; /* the first of their codes ("" without one) */
} lk_recompute_stats;

/* What one applied batch did (staging.apply_batch's answer, and the derivation's). */
typedef struct lk_apply_stats {
    long received, loaded, duplicates, skipped, dead_lettered, children;
    bool notified;
    bool derived_in_sql; /* the linker's derivation failed and the SQL rules applied the batch */
    lk_recompute_stats derive;
    long apply_ms, derive_ms; /* staging.apply_batch, and the derivation after it */
    long direct;              /* of loaded: COPYed straight into staging.event */
    long direct_fallbacks;    /* chunks whose direct rows PostgreSQL refused (they took the upsert) */
} lk_apply_stats;

/* validate.c: checks a pseudonymised event against schemas/pseudo.<feed>.schema.json with the
 * validator jtm-ingest uses (common/schema.h), plus what a schema cannot say (integers, the calendar
 * age). expected_feed (may be NULL) is the feed of the topic it came from. Returns 0, or -1 with a
 * stable reason code in reason (json_parse, feed_mismatch, schema:<kind>:<path> as common/schema.h
 * gives it, age_not_calendar). */
#define LK_NFEEDS 3
typedef struct lk_schemas {
    jtm_schema *feed[LK_NFEEDS]; /* jgz, verzuim, soj */
} lk_schemas;
/* Loads dir/pseudo.<feed>.schema.json for the three feeds. Returns 0, or -1 with errstr. */
int lk_schemas_load(lk_schemas *s, const char *dir, char *errstr, size_t errlen);
void lk_schemas_free(lk_schemas *s);
int lk_validate(const lk_schemas *s, const char *data, size_t len, const char *expected_feed, char *reason,
                size_t rlen);
/* The same with a caller's document, reused from one message to the next (no allocation per call). */
int lk_validate_doc(const lk_schemas *s, jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed,
                    char *reason, size_t rlen);
/* lk_validate_doc that also fills env (may be NULL) when the message is valid; env borrows from data
 * and doc until the next parse. */
int lk_validate_envelope(const lk_schemas *s, jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed,
                         lk_envelope *env, char *reason, size_t rlen);

/* load.c: prepares a fresh connection (session table, prepared statements, jtm.derive_in_linker).
 * Returns 0, or -1 with errstr. */
int lk_session_init(PGconn *conn, char *errstr, size_t errlen);
/* True when a failure (r may be NULL) means the server or the connection went away (reconnect and
 * redo), not that the statement's data was refused. */
bool lk_pg_transient(PGconn *conn, const PGresult *r);

/* recompute.c: derives the children that staging.apply_batch listed in linker_touched (the
 * session runs with jtm.derive_in_linker on) and writes the rows that changed, in the caller's
 * transaction. State is reused from batch to batch. */
struct lk_row_ref;
struct lk_stored;
struct lk_child;
typedef struct lk_recompute {
    lk_derived dv;
    jtm_event *ev; /* one child's events */
    size_t cap_ev;
    struct lk_row_ref *refs;
    size_t cap_refs;
    struct lk_stored *stored; /* per chunk child: its ops.linker_child row */
    size_t cap_stored;
    struct lk_child *children; /* the batch's children */
    size_t cap_children;
    sbuf line, log, hex;
    lk_pgarray pids, rebuild, save_pids, save_logs;
    sbuf copy[LK_TABLES];
    lk_pgarray del[LK_TABLES], save_digests[LK_TABLES];
    lk_unassigned unassigned;       /* which rows land in the default partitions */
    unsigned char empty_digest[32]; /* of no rows */
    bool transient;                 /* the last failure was the server's or the connection's */
    char error[512];
} lk_recompute;

/* Prepares the statements on a fresh connection and turns jtm.derive_in_linker on. */
int lk_recompute_prepare(PGconn *conn, char *errstr, size_t errlen);
void lk_recompute_init(lk_recompute *rc);
void lk_recompute_free(lk_recompute *rc);
/* Derives the children in linker_touched (rebuilt from staging.event) and those of the batch's
 * direct rows news[0..n_news) (sorted by pid; their events in entries). Returns 0 with st, or -1
 * with rc->error and rc->transient. */
struct lk_new;
int lk_recompute_run(lk_recompute *rc, PGconn *conn, const struct lk_new *news, size_t n_news, const char *entries,
                     lk_recompute_stats *st);

#define LK_LOAD_OK 0
#define LK_LOAD_TRANSIENT (-1) /* connection or server failure: reconnect, re-seek, redo */
#define LK_LOAD_FATAL (-2)     /* refused, but no single message to blame: a bug or a schema problem */

/* A row the batch COPYed straight into staging.event: its child, and where in lk_direct.entries the
 * event it was stored as is (one eventlog entry). */
typedef struct lk_new {
    char pid[33];
    uint32_t off, len;
} lk_new;

/* direct.c: a batch's messages in chunks, most of them COPYed straight into staging.event (see
 * there). One per lk_load, reused from batch to batch. */
typedef struct lk_key {
    uint64_t a, b;
    uint8_t tag, used;
} lk_key;
struct lk_held;
struct lk_pos;
typedef struct lk_direct {
    struct lk_held *held; /* the chunk */
    size_t n_held, cap_held;
    sbuf arena; /* the chunk's bytes */
    char *topics[8];
    int ntopics;
    struct lk_pos *pos; /* per partition of the batch: stored and reached positions */
    size_t n_pos, cap_pos, last_pos;
    lk_key *keys; /* (feed, event_id) of the batch */
    size_t n_keys, cap_keys;
    struct lk_new *news; /* the batch's direct rows: child and event */
    size_t n_news, cap_news;
    sbuf entries;        /* their events (eventlog entries) */
    size_t *order;
    size_t cap_order;
    sbuf a1, a2, a3, copy, notify;
    long loaded, skipped, fallbacks; /* direct rows; skipped below the stored position; chunks refused */
    bool soj;
    bool transient;
    char error[512];
} lk_direct;

int lk_direct_prepare(PGconn *conn, char *errstr, size_t errlen);
void lk_direct_init(lk_direct *d);
void lk_direct_free(lk_direct *d);
/* Forgets the last batch (its chunk, positions, keys, children). */
void lk_direct_reset(lk_direct *d);
/* Holds a copy of it in the chunk; -1 when memory ran out. */
int lk_direct_hold(lk_direct *d, const lk_item *it);
/* True when the chunk should be flushed. */
bool lk_direct_full(const lk_direct *d);
/* Sends the chunk (group NULL: no Kafka positions). 0, or -1 with d->error and d->transient. */
int lk_direct_flush(lk_direct *d, PGconn *conn, const char *group);
/* After staging.apply_batch: stores the positions the batch reached and NOTIFYs for direct SOJ
 * rows. 0, or -1 with d->error and d->transient. */
int lk_direct_finish(lk_direct *d, PGconn *conn, const char *group);
/* Sorts the batch's direct rows by child (for the derivation). */
void lk_direct_sort_news(lk_direct *d);

/* One batch transaction in progress: BEGIN at lk_load_begin, each message held in a chunk that is
 * sent when full (direct.c; nothing more of the batch is kept), and at lk_load_finish the last
 * chunk, staging.apply_batch, the direct rows' positions, the derivation of the touched children
 * (recompute.c) and COMMIT. A message PostgreSQL refuses is found by staging.isolate_refused and
 * dead-lettered in the same transaction; the rest of the batch goes on. */
typedef struct lk_load {
    PGconn *conn;
    const char *group; /* NULL: no Kafka positions (fixtures, tools) */
    lk_direct direct;
    lk_recompute rc;   /* the derivation's state, reused */
    size_t rows;       /* messages added */
    bool open;         /* transaction open */
    bool transient;    /* the last failure was the server's or the connection's */
    char error[512];   /* the last failure */
} lk_load;

void lk_load_init(lk_load *l);
void lk_load_free(lk_load *l);
/* BEGIN. Returns 0, or -1 with l->error and l->transient. */
int lk_load_begin(lk_load *l, PGconn *conn, const char *group);
/* Adds one message (a rejected item as a dead letter). Returns 0, or -1 with l->error, l->transient. */
int lk_load_add(lk_load *l, const lk_item *it);
/* Sends the rest, applies and commits. Returns LK_LOAD_OK with st filled, or an error above with
 * errstr (the transaction is rolled back). */
int lk_load_finish(lk_load *l, lk_apply_stats *st, char *errstr, size_t errlen);
/* Rolls back whatever is open (no-op when nothing is). */
void lk_load_abort(lk_load *l);
/* After lk_load_begin or lk_load_add failed: LK_LOAD_TRANSIENT or LK_LOAD_FATAL, the failure in errstr. */
int lk_load_failed(const lk_load *l, char *errstr, size_t errlen);

/* The whole of items as one batch through the calls above (tests, tools). */
int lk_load_batch(PGconn *conn, const char *group, lk_item *items, size_t n, lk_apply_stats *st,
                  char *errstr, size_t errlen);

/* offsets.c: sets the offset of every partition in parts to the stored next_offset of group, or
 * RD_KAFKA_OFFSET_BEGINNING when none is stored (a fresh warehouse reads the topics from the
 * start: routes need every event of a child). Returns 0, or -1 with errstr. */
int lk_offsets_fetch(PGconn *conn, const char *group, rd_kafka_topic_partition_list_t *parts, char *errstr,
                     size_t errlen);
/* Seeks every assigned partition to its stored offset and resumes it. Returns 0, or -1 with errstr. */
int lk_offsets_resync(rd_kafka_t *rk, PGconn *conn, const char *group, char *errstr, size_t errlen);
/* Pauses (pause true) or resumes every assigned partition. */
void lk_assignment_pause(rd_kafka_t *rk, bool pause);

/* batch.c: consuming one batch into a lk_load, bounded by count, bytes and time. Messages are
 * validated, sent and destroyed as they arrive; the batch keeps only, per partition, the offset
 * after its last message (for the informational Kafka offset store after COMMIT). */
typedef struct lk_batch {
    size_t n;                                /* messages in the batch */
    size_t bytes;                            /* their payload bytes */
    rd_kafka_topic_partition_list_t *next;   /* per partition: last offset + 1 */
    int last;                                /* index in next of the previous message's partition */
    bool load_failed;                        /* sending failed: see the lk_load's error */
    jtm_jdoc doc;                            /* the validator's document, reused across batches */
    const lk_schemas *schemas;               /* what messages are validated against (borrowed) */
    sbuf scratch;                            /* the strings of the message's event (eventlog.h) */
} lk_batch;

void lk_batch_init(lk_batch *b, const lk_schemas *schemas);
void lk_batch_clear(lk_batch *b);
void lk_batch_free(lk_batch *b);
/* Polls rk for a batch: from the first message (which begins the transaction on conn) until max
 * messages or max_bytes, or max_ms after the first message unless a backlog waits then (at least
 * max / 10 messages behind in the assigned partitions: the batch goes on to max while that lasts,
 * or until nothing comes for 1.2 s), or until jtm_run is cleared. Validates each message
 * (topics[] and feeds[] map a topic to its feed) and counts consumer errors in *consumer_errors.
 * Returns the number of messages in b (0: idle, nothing begun). */
size_t lk_batch_collect(rd_kafka_t *rk, lk_batch *b, lk_load *load, PGconn *conn, const char *group, size_t max,
                        size_t max_bytes, int max_ms, const char *const *topics, const char *const *feeds,
                        int ntopics, unsigned long *consumer_errors);

/* linker.c: runs the daemon until SIGTERM; returns an exit code from config.h. */
int lk_run(const linker_config *cfg, const jtm_passthrough *pt);

#endif
