/* A batch's messages go to PostgreSQL in chunks, and most of them straight into staging.event.
 *
 * Through staging.apply_batch a message costs a row in the session table linker_in, a read back,
 * a sort and a speculative insert with its RETURNING: measured on a 1M-event warehouse, 3.5-4 s for
 * 78,000 new events, against 2.0-2.4 s for a COPY of the same rows into staging.event. Most
 * messages are brand-new events, for which the upsert's version rules have nothing to decide. So
 * at each chunk (up to LK_CHUNK_MESSAGES messages or LK_CHUNK_BYTES, held in one arena):
 *   1. the positions of the chunk's partitions are locked and read (ops.kafka_offset FOR UPDATE,
 *      as apply_batch would); a message below its partition's stored position was applied
 *      before and is skipped;
 *   2. a validated message whose (feed, event_id) is the first of the batch and not yet stored
 *      (one index probe per message, the probe the upsert would make) is COPYed into
 *      staging.event, under a savepoint;
 *   3. everything else (rejects, repeated or stored event ids, unvalidated items, and any direct
 *      row PostgreSQL refused or another transaction also inserted) goes into linker_in, for
 *      staging.apply_batch: version rules, dead letters and bisection stay in SQL.
 * At the end of the batch (load.c): the positions the direct rows reached, the NOTIFY for direct
 * SOJ rows, and the direct rows' children join the derivation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "eventlog.h"
#include "grow.h"
#include "linker.h"
#include "log.h"
#include "pg.h"

#define LK_CHUNK_MESSAGES 2048
#define LK_CHUNK_BYTES (2u << 20)
#define LK_NOTIFY_MAX 7900 /* the payload apply_batch sends is cut there too */

enum { HELD_SLOW, HELD_CANDIDATE, HELD_DIRECT, HELD_SKIPPED };

/* A message held until its chunk is flushed; strings are NUL-terminated copies in the arena. */
struct lk_held {
    int topic; /* index into lk_direct.topics */
    int32_t partition;
    int64_t offset;
    size_t data, len, reject; /* arena offsets; reject 0: none (the arena starts with a NUL) */
    bool env;
    size_t feed, event_id, pid, type, occurred_on, recorded_at, gemeente;
    size_t entry, entry_len; /* the event it is stored as (an eventlog entry) */
    int status;
    int route;
};

struct lk_pos {
    int topic;
    int32_t partition;
    bool locked;
    int64_t stored; /* next_offset stored in PostgreSQL, -1: none */
    int64_t next;   /* last offset of the batch + 1 */
};

static const char SQL_POSITIONS[] =
    "SELECT topic, partition, next_offset FROM ops.kafka_offset WHERE consumer_group = $1 "
    "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) "
    "ORDER BY topic, partition FOR UPDATE";
static const char SQL_EXISTS[] =
    "SELECT k.f, k.e FROM unnest($1::text[], $2::text[]) AS k(f, e) "
    "WHERE EXISTS (SELECT 1 FROM staging.event s WHERE s.feed = k.f AND s.event_id = k.e)";
static const char SQL_ADVANCE[] =
    "INSERT INTO ops.kafka_offset AS k (consumer_group, topic, partition, next_offset) "
    "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) "
    "ON CONFLICT (consumer_group, topic, partition) DO UPDATE "
    "SET next_offset = greatest(k.next_offset, EXCLUDED.next_offset), updated_at = now()";
static const char COPY_EVENTS[] =
    "COPY staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn, gemeente, "
    "payload, src_topic, src_partition, src_offset) FROM STDIN";
static const char COPY_LINKER_IN[] =
    "COPY linker_in (src_topic, src_partition, src_offset, payload, reject, raw) FROM STDIN";

int lk_direct_prepare(PGconn *conn, char *errstr, size_t errlen)
{
    const char *const names[] = {"lk_positions", "lk_exists", "lk_advance"};
    const char *const sqls[] = {SQL_POSITIONS, SQL_EXISTS, SQL_ADVANCE};
    for (int i = 0; i < 3; i++) {
        PGresult *r = PQprepare(conn, names[i], sqls[i], 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            jtm_pg_result_error(conn, r, errstr, errlen);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

void lk_direct_init(lk_direct *d) { memset(d, 0, sizeof *d); }

void lk_direct_free(lk_direct *d)
{
    free(d->held);
    free(d->pos);
    free(d->keys);
    free(d->news);
    sb_free(&d->entries);
    free(d->order);
    for (int i = 0; i < d->ntopics; i++)
        free(d->topics[i]);
    sb_free(&d->arena);
    sb_free(&d->a1);
    sb_free(&d->a2);
    sb_free(&d->a3);
    sb_free(&d->copy);
    sb_free(&d->notify);
    memset(d, 0, sizeof *d);
}

void lk_direct_reset(lk_direct *d)
{
    d->n_held = 0;
    d->n_pos = 0;
    d->n_keys = 0;
    if (d->keys)
        memset(d->keys, 0, d->cap_keys * sizeof *d->keys);
    d->n_news = 0;
    sb_clear(&d->entries);
    sb_clear(&d->arena);
    sb_clear(&d->notify);
    d->loaded = d->skipped = d->fallbacks = 0;
    d->soj = false;
}

/* --- a set of 16-byte keys (hashes of 32 hex digits) with open addressing --------------------- */

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/* 32 lowercase hex digits as two words, plus a tag (the feed); false when it is not hex32. */
static bool key_of(const char *hex, size_t n, uint8_t tag, lk_key *k)
{
    if (n != 32)
        return false;
    uint64_t w[2] = {0, 0};
    for (int i = 0; i < 32; i++) {
        int v = hexval(hex[i]);
        if (v < 0)
            return false;
        w[i / 16] = w[i / 16] << 4 | (uint64_t)v;
    }
    *k = (lk_key){w[0], w[1], tag, 1};
    return true;
}

/* The keys are keyed hashes already: their bits are as good as a hash's. */
static size_t slot_of(const lk_key *k, size_t cap) { return (size_t)(k->a ^ k->b ^ k->tag) & (cap - 1); }

/* Adds k; returns 1 when it was new, 0 when present, -1 when memory ran out. */
static int set_add(lk_key **slots, size_t *cap, size_t *n, const lk_key *k)
{
    if ((*n + 1) * 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        lk_key *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < *cap; i++) {
            if (!(*slots)[i].used)
                continue;
            size_t j = slot_of(&(*slots)[i], nc);
            while (ns[j].used)
                j = (j + 1) & (nc - 1);
            ns[j] = (*slots)[i];
        }
        free(*slots);
        *slots = ns;
        *cap = nc;
    }
    size_t j = slot_of(k, *cap);
    for (; (*slots)[j].used; j = (j + 1) & (*cap - 1))
        if ((*slots)[j].a == k->a && (*slots)[j].b == k->b && (*slots)[j].tag == k->tag)
            return 0;
    (*slots)[j] = *k;
    (*n)++;
    return 1;
}

/* --- holding messages ---------------------------------------------------------------------------- */

static size_t arena_put(lk_direct *d, const char *s, size_t n)
{
    if (d->arena.len == 0)
        sb_putc(&d->arena, '\0'); /* offset 0 means "none" */
    size_t at = d->arena.len;
    sb_putn(&d->arena, s ? s : "", s ? n : 0);
    sb_putc(&d->arena, '\0');
    return at;
}

static int topic_index(lk_direct *d, const char *topic)
{
    for (int i = 0; i < d->ntopics; i++)
        if (strcmp(d->topics[i], topic) == 0)
            return i;
    if (d->ntopics == (int)(sizeof d->topics / sizeof d->topics[0]))
        return -1;
    d->topics[d->ntopics] = strdup(topic);
    return d->topics[d->ntopics] ? d->ntopics++ : -1;
}

bool lk_direct_full(const lk_direct *d) { return d->n_held >= LK_CHUNK_MESSAGES || d->arena.len >= LK_CHUNK_BYTES; }

int lk_direct_hold(lk_direct *d, const lk_item *it)
{
    if (lk_grow((void **)&d->held, &d->cap_held, d->n_held + 1, sizeof *d->held) != 0)
        return -1;
    struct lk_held *h = &d->held[d->n_held];
    memset(h, 0, sizeof *h);
    h->topic = topic_index(d, it->topic ? it->topic : "");
    if (h->topic < 0)
        return -1;
    h->partition = it->partition;
    h->offset = it->offset;
    h->data = arena_put(d, it->data, it->len);
    h->len = it->len;
    h->reject = it->reject ? arena_put(d, it->reject, strlen(it->reject)) : 0;
    h->env = it->env != NULL && it->event != NULL && it->topic != NULL && !it->reject;
    if (h->env) {
        const lk_envelope *e = it->env;
        h->feed = arena_put(d, e->feed.s, e->feed.n);
        h->event_id = arena_put(d, e->event_id.s, e->event_id.n);
        h->pid = arena_put(d, e->pid.s, e->pid.n);
        h->type = arena_put(d, e->type.s, e->type.n);
        h->occurred_on = arena_put(d, e->occurred_on.s, e->occurred_on.n);
        h->recorded_at = arena_put(d, e->recorded_at.s, e->recorded_at.n);
        h->gemeente = e->gemeente.s ? arena_put(d, e->gemeente.s, e->gemeente.n) : 0;
        h->status = e->status;
        h->entry = d->arena.len;
        jtm_eventlog_append(&d->arena, it->event);
        h->entry_len = d->arena.len - h->entry;
    }
    h->route = HELD_SLOW;
    d->n_held++;
    return 0;
}

static const char *at(const lk_direct *d, size_t off) { return off ? d->arena.s + off : NULL; }

static struct lk_pos *position(lk_direct *d, int topic, int32_t partition)
{
    if (d->last_pos < d->n_pos && d->pos[d->last_pos].topic == topic && d->pos[d->last_pos].partition == partition)
        return &d->pos[d->last_pos];
    for (size_t i = 0; i < d->n_pos; i++)
        if (d->pos[i].topic == topic && d->pos[i].partition == partition) {
            d->last_pos = i;
            return &d->pos[i];
        }
    if (lk_grow((void **)&d->pos, &d->cap_pos, d->n_pos + 1, sizeof *d->pos) != 0)
        return NULL;
    d->pos[d->n_pos] = (struct lk_pos){topic, partition, false, -1, -1};
    d->last_pos = d->n_pos;
    return &d->pos[d->n_pos++];
}

/* --- the flush -------------------------------------------------------------------------------------- */

static int fail(lk_direct *d, PGconn *conn, PGresult *r)
{
    d->transient = lk_pg_transient(conn, r);
    jtm_pg_result_error(conn, r, d->error, sizeof d->error);
    PQclear(r);
    return -1;
}

static void list_add(sbuf *b, const char *item)
{
    sb_putc(b, b->len == 0 ? '{' : ',');
    sb_putc(b, '"');
    for (const char *p = item; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_putc(b, '\\');
        sb_putc(b, *p);
    }
    sb_putc(b, '"');
}

static const char *list_end(sbuf *b)
{
    if (b->len == 0)
        sb_putc(b, '{');
    sb_putc(b, '}');
    return b->s;
}

static void lists_clear(lk_direct *d)
{
    sb_clear(&d->a1);
    sb_clear(&d->a2);
    sb_clear(&d->a3);
}

/* Locks and reads the stored positions of the chunk's partitions the batch has not locked yet. */
static int lock_positions(lk_direct *d, PGconn *conn, const char *group)
{
    lists_clear(d);
    size_t asked = 0;
    for (size_t i = 0; i < d->n_held; i++) {
        struct lk_pos *p = position(d, d->held[i].topic, d->held[i].partition);
        if (!p)
            return -1;
        if (p->locked)
            continue;
        p->locked = true;
        char num[16];
        snprintf(num, sizeof num, "%d", (int)p->partition);
        list_add(&d->a1, d->topics[p->topic]);
        list_add(&d->a2, num);
        asked++;
    }
    if (asked == 0)
        return 0;
    const char *v[3] = {group, list_end(&d->a1), list_end(&d->a2)};
    PGresult *r = PQexecPrepared(conn, "lk_positions", 3, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(d, conn, r);
    for (int row = 0; row < PQntuples(r); row++) {
        int t = topic_index(d, PQgetvalue(r, row, 0));
        struct lk_pos *p = t < 0 ? NULL : position(d, t, (int32_t)atol(PQgetvalue(r, row, 1)));
        if (p)
            p->stored = strtoll(PQgetvalue(r, row, 2), NULL, 10);
    }
    PQclear(r);
    return 0;
}

static int order_by_event(const void *a, const void *b, void *arg)
{
    const lk_direct *d = arg;
    return strcmp(at(d, d->held[*(const size_t *)a].event_id), at(d, d->held[*(const size_t *)b].event_id));
}

/* Candidates whose event id is already stored go through the upsert instead. */
static int probe(lk_direct *d, PGconn *conn, size_t ncand)
{
    lists_clear(d);
    if (lk_grow((void **)&d->order, &d->cap_order, ncand, sizeof *d->order) != 0)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < d->n_held; i++)
        if (d->held[i].route == HELD_CANDIDATE) {
            d->order[m++] = i;
            list_add(&d->a1, at(d, d->held[i].feed));
            list_add(&d->a2, at(d, d->held[i].event_id));
        }
    const char *v[2] = {list_end(&d->a1), list_end(&d->a2)};
    PGresult *r = PQexecPrepared(conn, "lk_exists", 2, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail(d, conn, r);
    if (PQntuples(r) > 0)
        qsort_r(d->order, m, sizeof *d->order, order_by_event, d);
    for (int row = 0; row < PQntuples(r); row++) {
        const char *feed = PQgetvalue(r, row, 0), *eid = PQgetvalue(r, row, 1);
        size_t lo = 0, hi = m;
        while (lo < hi) { /* first candidate with this event id */
            size_t mid = (lo + hi) / 2;
            if (strcmp(at(d, d->held[d->order[mid]].event_id), eid) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < m && strcmp(at(d, d->held[d->order[lo]].event_id), eid) == 0; lo++)
            if (strcmp(at(d, d->held[d->order[lo]].feed), feed) == 0)
                d->held[d->order[lo]].route = HELD_SLOW;
    }
    PQclear(r);
    return 0;
}

/* Ends a COPY begun with sql whose rows are in d->copy; 0, or -1 with d->error. */
static int copy_rows(lk_direct *d, PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return fail(d, conn, r);
    PQclear(r);
    for (size_t off = 0; off < d->copy.len;) {
        size_t n = d->copy.len - off < (1u << 20) ? d->copy.len - off : (1u << 20);
        if (PQputCopyData(conn, d->copy.s + off, (int)n) != 1)
            return fail(d, conn, NULL);
        off += n;
    }
    if (PQputCopyEnd(conn, NULL) != 1)
        return fail(d, conn, NULL);
    r = PQgetResult(conn);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fail(d, conn, r);
    else
        PQclear(r);
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return ok ? 0 : -1;
}

static int exec(lk_direct *d, PGconn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return fail(d, conn, r);
    PQclear(r);
    return 0;
}

static void tab(sbuf *b) { sb_putc(b, '\t'); }

static void event_row(lk_direct *d, const struct lk_held *h)
{
    sbuf *b = &d->copy;
    lk_copy_str(b, at(d, h->feed)), tab(b);
    lk_copy_str(b, at(d, h->event_id)), tab(b);
    lk_copy_str(b, at(d, h->pid)), tab(b);
    lk_copy_str(b, at(d, h->type)), tab(b);
    lk_copy_str(b, at(d, h->occurred_on)), tab(b);
    lk_copy_str(b, at(d, h->recorded_at)), tab(b);
    lk_copy_int(b, h->status), tab(b);
    lk_copy_bool(b, h->status == 3), tab(b);
    lk_copy_str(b, at(d, h->gemeente)), tab(b);
    lk_copy_text(b, at(d, h->data), h->len), tab(b);
    lk_copy_str(b, d->topics[h->topic]), tab(b);
    lk_copy_int(b, h->partition), tab(b);
    lk_copy_int(b, h->offset);
    sb_putc(b, '\n');
}

static void lk_copy_linker_in_row(sbuf *b, const char *topic, int32_t partition, int64_t offset, const char *data,
                           size_t len, const char *reject)
{
    if (topic) {
        lk_copy_str(b, topic), tab(b);
        lk_copy_int(b, partition), tab(b);
        lk_copy_int(b, offset), tab(b);
    } else {
        sb_puts(b, "\\N\t\\N\t\\N\t");
    }
    if (reject) {
        sb_puts(b, "\\N\t");
        lk_copy_str(b, reject), tab(b);
        lk_copy_bytea(b, data, len);
    } else {
        lk_copy_text(b, data, len);
        sb_puts(b, "\t\\N\t\\N");
    }
    sb_putc(b, '\n');
}

/* What a direct chunk adds to the batch: its children and their events (a withdrawal stored as the
 * event's first version is no event of the child), and the gemeenten of its SOJ events. */
static int note_direct(lk_direct *d, const struct lk_held *h)
{
    if (lk_grow((void **)&d->news, &d->cap_news, d->n_news + 1, sizeof *d->news) != 0)
        return -1;
    lk_new *nw = &d->news[d->n_news++];
    snprintf(nw->pid, sizeof nw->pid, "%s", at(d, h->pid));
    nw->off = (uint32_t)d->entries.len;
    nw->len = h->status == 3 ? 0 : (uint32_t)h->entry_len;
    sb_putn(&d->entries, d->arena.s + h->entry, nw->len);
    d->loaded++;
    if (strcmp(at(d, h->feed), "soj") != 0)
        return 0;
    d->soj = true;
    const char *gm = at(d, h->gemeente);
    if (!gm || d->notify.len + strlen(gm) + 1 > LK_NOTIFY_MAX)
        return 0;
    for (const char *p = d->notify.s; p && *p;) { /* a handful of gemeenten: a linear look */
        size_t n = strcspn(p, ",");
        if (n == strlen(gm) && strncmp(p, gm, n) == 0)
            return 0;
        p += n + (p[n] == ',');
    }
    if (d->notify.len > 0)
        sb_putc(&d->notify, ',');
    sb_puts(&d->notify, gm);
    return 0;
}

int lk_direct_flush(lk_direct *d, PGconn *conn, const char *group)
{
    d->error[0] = '\0';
    d->transient = false;
    if (d->n_held == 0)
        return 0;
    if (group && lock_positions(d, conn, group) != 0)
        goto fail;
    size_t ncand = 0;
    for (size_t i = 0; i < d->n_held; i++) {
        struct lk_held *h = &d->held[i];
        struct lk_pos *p = position(d, h->topic, h->partition);
        if (!p)
            goto oom;
        if (group && h->offset < p->stored) {
            h->route = HELD_SKIPPED; /* applied by an earlier batch */
            d->skipped++;
            continue;
        }
        if (h->offset + 1 > p->next)
            p->next = h->offset + 1;
        lk_key k;
        if (!h->env || !key_of(at(d, h->event_id), strlen(at(d, h->event_id)), (uint8_t)at(d, h->feed)[0], &k))
            continue;
        int added = set_add(&d->keys, &d->cap_keys, &d->n_keys, &k);
        if (added < 0)
            goto oom;
        if (added) {
            h->route = HELD_CANDIDATE;
            ncand++;
        }
    }
    if (ncand > 0 && probe(d, conn, ncand) != 0)
        goto fail;
    sb_clear(&d->copy);
    size_t ndirect = 0;
    for (size_t i = 0; i < d->n_held; i++)
        if (d->held[i].route == HELD_CANDIDATE) {
            event_row(d, &d->held[i]);
            ndirect++;
        }
    if (ndirect > 0) {
        if (exec(d, conn, "SAVEPOINT lk_direct") != 0)
            goto fail;
        if (copy_rows(d, conn, COPY_EVENTS) == 0) {
            if (exec(d, conn, "RELEASE SAVEPOINT lk_direct") != 0)
                goto fail;
            for (size_t i = 0; i < d->n_held; i++)
                if (d->held[i].route == HELD_CANDIDATE) {
                    d->held[i].route = HELD_DIRECT;
                    if (note_direct(d, &d->held[i]) != 0)
                        goto oom;
                }
        } else {
            if (d->transient)
                goto fail;
            /* refused, or inserted meanwhile by another transaction: the upsert decides */
            char q[600];
            log_warn("direct_refused", "messages=%zu error=%s note=\"the chunk takes the upsert\"", ndirect,
                     jtm_log_quote(q, sizeof q, d->error));
            if (exec(d, conn, "ROLLBACK TO SAVEPOINT lk_direct") != 0)
                goto fail;
            d->fallbacks++;
            for (size_t i = 0; i < d->n_held; i++)
                if (d->held[i].route == HELD_CANDIDATE)
                    d->held[i].route = HELD_SLOW;
        }
    }
    sb_clear(&d->copy);
    size_t nslow = 0;
    for (size_t i = 0; i < d->n_held; i++) {
        const struct lk_held *h = &d->held[i];
        if (h->route != HELD_SLOW)
            continue;
        lk_copy_linker_in_row(&d->copy, d->topics[h->topic][0] ? d->topics[h->topic] : NULL, h->partition, h->offset,
                              at(d, h->data), h->len, at(d, h->reject));
        nslow++;
    }
    if (nslow > 0 && copy_rows(d, conn, COPY_LINKER_IN) != 0)
        goto fail;
    d->n_held = 0;
    sb_clear(&d->arena);
    return 0;
oom:
    snprintf(d->error, sizeof d->error, "out of memory");
fail:
    return -1;
}

int lk_direct_finish(lk_direct *d, PGconn *conn, const char *group)
{
    d->error[0] = '\0';
    d->transient = false;
    if (group && d->n_pos > 0) {
        lists_clear(d);
        for (size_t i = 0; i < d->n_pos; i++) {
            const struct lk_pos *p = &d->pos[i];
            if (p->next < 0 || p->next <= p->stored)
                continue;
            char num[32];
            list_add(&d->a1, d->topics[p->topic]);
            snprintf(num, sizeof num, "%d", (int)p->partition);
            list_add(&d->a2, num);
            snprintf(num, sizeof num, "%lld", (long long)p->next);
            list_add(&d->a3, num);
        }
        if (d->a1.len > 0) {
            const char *v[4] = {group, list_end(&d->a1), list_end(&d->a2), list_end(&d->a3)};
            PGresult *r = PQexecPrepared(conn, "lk_advance", 4, v, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                return fail(d, conn, r);
            PQclear(r);
        }
    }
    if (d->soj) { /* delivered at COMMIT, as apply_batch's */
        const char *v[1] = {d->notify.len ? d->notify.s : ""};
        PGresult *r = PQexecParams(conn, "SELECT pg_notify('jtm_waiting_list', $1)", 1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return fail(d, conn, r);
        PQclear(r);
    }
    return 0;
}

static int news_order(const void *a, const void *b)
{
    return strcmp(((const lk_new *)a)->pid, ((const lk_new *)b)->pid);
}

void lk_direct_sort_news(lk_direct *d)
{
    if (d->n_news > 1)
        qsort(d->news, d->n_news, sizeof *d->news, news_order);
}
