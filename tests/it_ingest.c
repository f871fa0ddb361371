/* jtm-ingest against a real broker: the hostile corpus mixed with valid events (DLQ reasons,
 * exact pseudo bytes, the daemon keeps running), a synthetic region scanned for leaked
 * identifiers, SIGKILL in the middle of a 200k-event stream (nothing missing after a restart), a
 * broker outage ridden out, and SIGTERM (exit 0, offsets committed up to the end). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bsn.h"
#include "config.h"
#include "date.h"
#include "kafka.h"
#include "pseudonym.h"
#include "testenv.h"

static char err[512];

static char *slurp_path(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static char *slurp(const char *rel, size_t *len)
{
    char *path = jtm_test_fixture(rel);
    char *s = slurp_path(path, len);
    free(path);
    return s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Kafka helpers ---- */

static rd_kafka_t *producer(const char *bootstrap)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", bootstrap);
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, NULL, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    jtm_kvlist_free(&kv);
    return p;
}

static void produce(rd_kafka_t *p, const char *topic, const char *key, const void *val, size_t len)
{
    cr_assert_eq(jtm_kafka_produce(p, topic, key, key ? strlen(key) : 0, val, len, NULL, NULL, 60000, err, sizeof err),
                 0, "%s", err);
    rd_kafka_poll(p, 0);
}

static void flush(rd_kafka_t *p)
{
    cr_assert_eq(jtm_kafka_flush(p, 60000, NULL, err, sizeof err), 0, "%s", err);
}

/* A group-less consumer for watermarks and reading whole topics. */
static rd_kafka_t *reader(const char *bootstrap)
{
    rd_kafka_conf_t *conf = jtm_kafka_conf_new(NULL, err, sizeof err);
    cr_assert_not_null(conf);
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "it-ingest-reader", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

static int partitions_of(rd_kafka_t *rk, const char *topic)
{
    for (int tries = 0; tries < 100; tries++) {
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int n = 0;
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(t);
        if (n > 0)
            return n;
        usleep(100000);
    }
    return 0;
}

/* Messages ever appended to topic: the sum of the high watermarks (0 when it does not exist yet). */
static int64_t topic_count(rd_kafka_t *rk, const char *topic, int parts)
{
    int64_t sum = 0;
    for (int p = 0; p < parts; p++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            sum += hi;
    }
    return sum;
}

typedef void (*msg_fn)(const rd_kafka_message_t *m, void *arg);

/* Reads every partition of topic from the start to its high watermark. Returns messages read. */
static int64_t read_all(rd_kafka_t *rk, const char *topic, msg_fn fn, void *arg)
{
    int parts = partitions_of(rk, topic);
    cr_assert_gt(parts, 0, "topic %s", topic);
    int64_t *hi = calloc((size_t)parts, sizeof *hi), want = 0, got = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t lo;
        cr_assert_eq(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
        cr_assert_eq(lo, 0, "%s [%d] was pruned (low watermark %" PRId64 "): the mock's retention", topic, p, lo);
        want += hi[p];
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    cr_assert_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    double deadline = now_s() + 120;
    while (got < want && now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err && m->offset < hi[m->partition]) {
            fn(m, arg);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    free(hi);
    cr_assert_eq(got, want, "read %" PRId64 " of %" PRId64 " from %s", got, want, topic);
    return got;
}

/* Waits up to timeout_s until the committed offsets of group on topic equal the end of every
 * partition; expects that they do. */
static void expect_committed_to_end_within(const char *bootstrap, const char *group, const char *topic, double timeout_s)
{
    rd_kafka_t *rk = reader(bootstrap);
    int parts = partitions_of(rk, topic);
    rd_kafka_destroy(rk);
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", bootstrap);
    rd_kafka_t *c = jtm_kafka_consumer_new(&kv, group, NULL, NULL, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    jtm_kvlist_free(&kv);
    double deadline = now_s() + timeout_s;
    int behind;
    char first[256] = "";
    do {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
            rd_kafka_topic_partition_list_add(l, topic, p);
        cr_assert_eq(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        behind = 0;
        for (int p = 0; p < parts; p++) {
            int64_t lo, hi;
            cr_assert_eq(rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
            bool done = l->elems[p].offset == hi || (hi == 0 && l->elems[p].offset < 0); /* empty partition */
            if (!done && behind++ == 0)
                snprintf(first, sizeof first, "%s [%d]: committed %" PRId64 ", end %" PRId64, topic, p,
                         l->elems[p].offset, hi);
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (behind && now_s() < deadline)
            usleep(500000);
    } while (behind && now_s() < deadline);
    cr_expect_eq(behind, 0, "%d partitions not committed to the end, e.g. %s", behind, first);
    rd_kafka_destroy(c);
}

static void expect_committed_to_end(const char *bootstrap, const char *group, const char *topic)
{
    expect_committed_to_end_within(bootstrap, group, topic, 0);
}

/* ---- the daemon ---- */

typedef struct daemon_env {
    char *dir, *conf, *log, *raw, *pseudo, *dlq, *group;
    const char *bootstrap;
    const char *feed;
} daemon_env;

static daemon_env env_new(const char *bootstrap, const char *feed)
{
    daemon_env e = {0};
    e.bootstrap = bootstrap;
    e.feed = feed;
    e.dir = jtm_test_tmpdir();
    char *u = jtm_test_unique("ingest");
    cr_assert(asprintf(&e.raw, "raw.%s.%s", feed, u) > 0);
    cr_assert(asprintf(&e.pseudo, "pseudo.%s.%s", feed, u) > 0);
    cr_assert(asprintf(&e.dlq, "dlq.%s.%s", feed, u) > 0);
    cr_assert(asprintf(&e.group, "g.%s.%s", feed, u) > 0);
    free(u);
    char *keypath = NULL, *keyrel = NULL;
    size_t keylen;
    char *keydata = slurp("ingest/key.txt", &keylen);
    cr_assert(asprintf(&keypath, "%s/region.key", e.dir) > 0);
    jtm_test_write_file(keypath, keydata, 0600);
    free(keydata);
    free(keyrel);
    cr_assert(asprintf(&e.conf, "%s/ingest.conf", e.dir) > 0);
    cr_assert(asprintf(&e.log, "%s/ingest.log", e.dir) > 0);
    char *conf = NULL;
    cr_assert(asprintf(&conf,
                       "feed = %s\nkey.file = %s\nkey.id = k2026\nschema.dir = %s/schemas\n"
                       "topic.raw = %s\ntopic.pseudo = %s\ntopic.dlq = %s\ngroup.id = %s\n"
                       "stats.interval.ms = 1000\nmetrics.listen = 127.0.0.1:0\n"
                       "kafka.bootstrap.servers = %s\nkafka.auto.commit.interval.ms = 1000\n",
                       feed, keypath, JTM_SOURCE_DIR, e.raw, e.pseudo, e.dlq, e.group, bootstrap) > 0);
    jtm_test_write_file(e.conf, conf, 0644);
    free(conf);
    free(keypath);
    return e;
}

static void env_free(daemon_env *e)
{
    free(e->dir);
    free(e->conf);
    free(e->log);
    free(e->raw);
    free(e->pseudo);
    free(e->dlq);
    free(e->group);
}

static pid_t start_ingest(daemon_env *e)
{
    char *bin = jtm_test_bin("jtm-ingest");
    char *argv[] = {bin, (char *)"-c", e->conf, NULL};
    pid_t pid = jtm_test_spawn(argv, e->log);
    free(bin);
    return pid;
}

static void dump_log(const daemon_env *e)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "tail -n 30 %s >&2", e->log) > 0)
        jtm_test_sh(cmd, NULL);
    free(cmd);
}

/* Waits until pseudo + dlq hold at least n messages. */
static void wait_count(rd_kafka_t *rk, const daemon_env *e, int parts, int64_t n, pid_t pid, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    int64_t have = 0;
    while (now_s() < deadline) {
        have = topic_count(rk, e->pseudo, parts) + topic_count(rk, e->dlq, parts);
        if (have >= n)
            return;
        int st;
        if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
            dump_log(e);
            cr_assert_fail("jtm-ingest exited (status %d) with %" PRId64 " of %" PRId64 " written", st, have, n);
        }
        usleep(100000);
    }
    dump_log(e);
    cr_assert_fail("only %" PRId64 " of %" PRId64 " messages on pseudo+dlq after %.0f s", have, n, timeout_s);
}

/* ---- corpus ---- */

#define MAXCASES 256

typedef struct corpus {
    int n;
    char *name[MAXCASES];   /* also the Kafka key */
    char *raw[MAXCASES];
    size_t rawlen[MAXCASES];
    char *expect[MAXCASES]; /* reject reason, or NULL for a valid event */
    char *out[MAXCASES];    /* expected pseudo bytes for a valid event */
    int seen[MAXCASES];
    int partition_ok, offset_ok;
} corpus;

static int corpus_find(corpus *c, const void *key, size_t len)
{
    for (int i = 0; i < c->n; i++)
        if (strlen(c->name[i]) == len && memcmp(c->name[i], key, len) == 0)
            return i;
    return -1;
}

static void on_dlq(const rd_kafka_message_t *m, void *arg)
{
    corpus *c = arg;
    int i = corpus_find(c, m->key, m->key_len);
    cr_assert_geq(i, 0, "unknown key on the DLQ");
    const char *v;
    size_t len;
    cr_assert_eq(jtm_kafka_header_get(m, "jtm.reject.reason", &v, &len), 0, "%s: no reason header", c->name[i]);
    cr_expect(c->expect[i] && strlen(c->expect[i]) == len && memcmp(v, c->expect[i], len) == 0,
              "%s: DLQ reason %.*s, expected %s", c->name[i], (int)len, v, c->expect[i] ? c->expect[i] : "(valid)");
    cr_expect(m->len == c->rawlen[i] && (m->len == 0 || memcmp(m->payload, c->raw[i], m->len) == 0),
              "%s: DLQ holds the original bytes", c->name[i]);
    cr_assert_eq(jtm_kafka_header_get(m, "jtm.source.topic", &v, &len), 0);
    cr_assert_eq(jtm_kafka_header_get(m, "jtm.source.partition", &v, &len), 0);
    cr_assert_eq(jtm_kafka_header_get(m, "jtm.source.offset", &v, &len), 0);
    c->seen[i]++;
}

static void on_pseudo(const rd_kafka_message_t *m, void *arg)
{
    corpus *c = arg;
    for (int i = 0; i < c->n; i++) {
        if (!c->out[i] || strlen(c->out[i]) != m->len || memcmp(c->out[i], m->payload, m->len) != 0)
            continue;
        const char *pid = strstr(c->out[i], "\"pid\":\"") + 7;
        cr_expect(m->key_len == 32 && memcmp(m->key, pid, 32) == 0, "%s: key is the pid", c->name[i]);
        c->seen[i]++;
        return;
    }
    cr_assert_fail("unexpected pseudo message %.*s", (int)m->len, (const char *)m->payload);
}

Test(it_ingest, corpus_mixed_with_valid_events, .timeout = 300)
{
    const char *bootstrap = jtm_test_bootstrap();
    daemon_env e = env_new(bootstrap, "soj");
    static corpus c;
    memset(&c, 0, sizeof c);
    /* Valid SOJ fixtures and the whole hostile corpus, interleaved. */
    static const char *const valid[] = {"soj_allocation.json", "soj_invoice_placeholder.json", "soj_request.json",
                                        "soj_start_hostile.json"};
    char *tsv = slurp("ingest/bad/reasons.tsv", NULL);
    char *save = NULL;
    int nv = 0;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[256], feed[16], reason[128], rel[300];
        cr_assert_eq(sscanf(line, "%255[^\t]\t%15[^\t]\t%127s", file, feed, reason), 3);
        cr_assert_str_eq(feed, "soj");
        snprintf(rel, sizeof rel, "ingest/bad/%s", file);
        c.name[c.n] = strdup(file);
        c.raw[c.n] = slurp(rel, &c.rawlen[c.n]);
        c.expect[c.n] = strdup(reason);
        c.n++;
        if (c.n % 12 == 0 && nv < 4) {
            snprintf(rel, sizeof rel, "ingest/valid/%s", valid[nv]);
            c.name[c.n] = strdup(valid[nv]);
            c.raw[c.n] = slurp(rel, &c.rawlen[c.n]);
            while (c.rawlen[c.n] && c.raw[c.n][c.rawlen[c.n] - 1] == '\n')
                c.rawlen[c.n]--;
            snprintf(rel, sizeof rel, "ingest/expected/%s", valid[nv]);
            c.out[c.n] = slurp(rel, NULL);
            c.n++;
            nv++;
        }
    }
    free(tsv);
    cr_assert_eq(nv, 4);
    cr_assert_geq(c.n, 44);

    rd_kafka_t *p = producer(bootstrap);
    for (int i = 0; i < c.n; i++)
        produce(p, e.raw, c.name[i], c.raw[i], c.rawlen[i]);
    flush(p);
    rd_kafka_destroy(p);

    pid_t pid = start_ingest(&e);
    rd_kafka_t *rk = reader(bootstrap);
    int parts = partitions_of(rk, e.raw);
    wait_count(rk, &e, parts, c.n, pid, 120);
    sleep(1); /* nothing more may arrive */
    cr_expect_eq(topic_count(rk, e.pseudo, parts) + topic_count(rk, e.dlq, parts), c.n);
    int st;
    cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "jtm-ingest is still running after the corpus");

    read_all(rk, e.dlq, on_dlq, &c);
    read_all(rk, e.pseudo, on_pseudo, &c);
    for (int i = 0; i < c.n; i++)
        cr_expect_eq(c.seen[i], 1, "%s (%s) seen %d times", c.name[i], c.expect[i] ? c.expect[i] : "valid", c.seen[i]);
    rd_kafka_destroy(rk);

    int rc = jtm_test_stop(pid, SIGTERM, 60000);
    if (rc != 0)
        dump_log(&e);
    cr_expect_eq(rc, 0, "SIGTERM: exit %d", rc);
    expect_committed_to_end(bootstrap, e.group, e.raw);
    for (int i = 0; i < c.n; i++) {
        free(c.name[i]);
        free(c.raw[i]);
        free(c.expect[i]);
        free(c.out[i]);
    }
    env_free(&e);
}

/* ---- synthetic region: nothing identifying leaves ---- */

typedef struct raw_event {
    char hash[33];
    json_t *doc;
} raw_event;

/* What an attacker holding only the pseudo topics sees of one event, with the truth beside it. */
typedef struct age_obs {
    char pid[33];
    jtm_date occurred, birth; /* birth: the raw birth date (the truth the attack must not find) */
    long long age;            /* client.age_months as published */
} age_obs;

typedef struct scan {
    raw_event *ev;
    size_t n, cap;
    jtm_key *key;
    const char *feed;
    int64_t checked, leaks;
    age_obs *obs;
    size_t nobs, capobs;
} scan;

static int cmp_hash(const void *a, const void *b) { return strcmp(((const raw_event *)a)->hash, ((const raw_event *)b)->hash); }

static void load_raw(scan *s, const char *path, rd_kafka_t *p, const char *topic)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "event:%s:", s->feed);
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len && line[len - 1] == '\n')
            len--;
        produce(p, topic, NULL, line, (size_t)len);
        json_t *doc = json_loadb(line, (size_t)len, 0, NULL);
        json_t *id = doc ? json_object_get(doc, "event_id") : NULL;
        if (!json_is_object(json_object_get(doc, "client")) || !json_is_string(id)) {
            json_decref(doc); /* a dirty copy: it can only go to the DLQ */
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        }
        jtm_pseudonym_hex(s->key, prefix, json_string_value(id), json_string_length(id), s->ev[s->n].hash);
        s->ev[s->n++].doc = doc;
    }
    free(line);
    fclose(f);
}

static const char *cstr(json_t *client, const char *k)
{
    json_t *v = json_object_get(client, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Every string value v equal to the raw birth date must be the copy of a raw field of the same
 * name (an event date that happens to fall on the birthday), never a new place for it. */
static int birth_date_leaks(json_t *pseudo_obj, json_t *raw_obj, const char *birth)
{
    const char *k;
    json_t *v;
    int leaks = 0;
    json_object_foreach(pseudo_obj, k, v)
    {
        if (json_is_object(v))
            leaks += birth_date_leaks(v, json_object_get(raw_obj, k), birth);
        else if (json_is_string(v) && strcmp(json_string_value(v), birth) == 0) {
            json_t *r = json_object_get(raw_obj, k);
            if (!json_is_string(r) || strcmp(json_string_value(r), birth) != 0 || strcmp(k, "birth_date") == 0)
                leaks++;
        }
    }
    return leaks;
}

static void on_scan(const rd_kafka_message_t *m, void *arg)
{
    scan *s = arg;
    const char *text = m->payload;
    char *copy = strndup(text, m->len);
    json_t *doc = json_loadb(text, m->len, 0, NULL);
    cr_assert_not_null(doc, "pseudo message is JSON");
    raw_event key;
    snprintf(key.hash, sizeof key.hash, "%s", json_string_value(json_object_get(doc, "event_id")));
    raw_event *r = bsearch(&key, s->ev, s->n, sizeof *s->ev, cmp_hash);
    cr_assert_not_null(r, "pseudo event without a raw event");
    json_t *client = json_object_get(r->doc, "client");
    const char *bsn = cstr(client, "bsn"), *name = cstr(client, "name"), *pc = cstr(client, "postcode"),
               *birth = cstr(client, "birth_date");
    char pcn[16] = "";
    if (pc) {
        size_t o = 0;
        for (const char *q = pc; *q && o < sizeof pcn - 1; q++)
            if (*q != ' ')
                pcn[o++] = *q;
        pcn[o] = '\0';
    }
    int leak = 0;
    if (bsn && strlen(bsn) >= 8 && strstr(copy, bsn))
        leak++, cr_log_error("BSN leaked: %s", copy);
    if (name && *name && strstr(copy, name))
        leak++, cr_log_error("name leaked: %s", copy);
    if (pc && strlen(pc) >= 6 && (strstr(copy, pc) || strstr(copy, pcn)))
        leak++, cr_log_error("postcode leaked: %s", copy);
    if (birth && birth_date_leaks(doc, r->doc, birth))
        leak++, cr_log_error("birth date leaked: %s", copy);
    json_t *pc_obj = json_object_get(doc, "client");
    cr_expect_eq(json_object_size(pc_obj), 5, "client holds exactly birth_ym, age_months, sex, pc4, gemeente");
    if (s->nobs == s->capobs) {
        s->capobs = s->capobs ? s->capobs * 2 : 4096;
        s->obs = realloc(s->obs, s->capobs * sizeof *s->obs);
        cr_assert_not_null(s->obs);
    }
    age_obs *o = &s->obs[s->nobs++];
    const char *occ = json_string_value(json_object_get(doc, "occurred_on"));
    cr_assert(occ && jtm_date_parse(occ, strlen(occ), &o->occurred) == 0 && birth &&
              jtm_date_parse(birth, strlen(birth), &o->birth) == 0);
    snprintf(o->pid, sizeof o->pid, "%s", json_string_value(json_object_get(doc, "pid")));
    o->age = json_integer_value(json_object_get(pc_obj, "age_months"));
    s->leaks += leak;
    s->checked++;
    json_decref(doc);
    free(copy);
}

/* ---- the birth-day reconstruction (issue 16) ----
 * The attack of the issue: across a child's events, the day of the month on which age_months steps
 * up gives the birth day away. With m the calendar months from birth_ym to occurred_on, an event
 * whose age is m - 1 says "the birthday of the month is after this day", and, once the region's data
 * show that ages step inside months at all, an age of m says "on or before this day". The attacker
 * intersects those bounds per pid. */

typedef struct attack_result {
    long children, narrowed, exact, within3, wrong, stepping_events;
} attack_result;

static int cmp_obs(const void *a, const void *b) { return strcmp(((const age_obs *)a)->pid, ((const age_obs *)b)->pid); }

static long calendar_months(jtm_date birth, jtm_date at) { return (at.year - birth.year) * 12L + (at.month - birth.month); }

/* The exact age in whole months (what jtm-ingest published before issue 16). */
static long long exact_age(jtm_date birth, jtm_date at)
{
    long m = calendar_months(birth, at);
    int bday = birth.day, last = jtm_date_days_in_month(at.year, at.month);
    if (bday > last)
        bday = last;
    return m > 0 && at.day < bday ? m - 1 : m;
}

/* obs sorted by pid. ages[i] is the age the attacker sees for obs[i]. */
static attack_result birth_day_attack(const age_obs *obs, const long long *ages, size_t n)
{
    attack_result r = {0};
    bool steps = false; /* does any age in the region differ from the calendar age? */
    for (size_t i = 0; i < n; i++)
        if (ages[i] != calendar_months(obs[i].birth, obs[i].occurred)) {
            steps = true;
            r.stepping_events++;
        }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        const jtm_date b = obs[i].birth;
        int lo = 1, hi = jtm_date_days_in_month(b.year, b.month);
        const int dim = hi;
        for (; j < n && strcmp(obs[j].pid, obs[i].pid) == 0; j++) {
            long m = calendar_months(b, obs[j].occurred);
            if (m <= 0 || !steps)
                continue;
            int day = obs[j].occurred.day, last = jtm_date_days_in_month(obs[j].occurred.year, obs[j].occurred.month);
            if (ages[j] == m - 1 && day + 1 > lo)
                lo = day + 1;                      /* not stepped yet this month */
            else if (ages[j] == m && day < last && day < hi)
                hi = day;                          /* stepped already (a day at the month's end says nothing) */
        }
        r.children++;
        if (hi - lo + 1 < dim) {
            if (b.day < lo || b.day > hi)
                r.wrong++;
            else {
                r.narrowed++;
                r.exact += lo == hi;
                r.within3 += hi - lo + 1 <= 3;
            }
        }
        i = j;
    }
    return r;
}

static void expect_birth_days_kept(scan *s, int nfeeds)
{
    size_t n = 0;
    for (int f = 0; f < nfeeds; f++)
        n += s[f].nobs;
    age_obs *all = malloc(n * sizeof *all);
    long long *published = malloc(n * sizeof *published), *old = malloc(n * sizeof *old);
    cr_assert(all && published && old);
    size_t k = 0;
    for (int f = 0; f < nfeeds; f++) {
        memcpy(all + k, s[f].obs, s[f].nobs * sizeof *all);
        k += s[f].nobs;
    }
    qsort(all, n, sizeof *all, cmp_obs);
    long in_birth_month = 0;
    for (size_t i = 0; i < n; i++) {
        published[i] = all[i].age;
        old[i] = exact_age(all[i].birth, all[i].occurred);
        in_birth_month += calendar_months(all[i].birth, all[i].occurred) == 0;
    }
    attack_result now = birth_day_attack(all, published, n), before = birth_day_attack(all, old, n);
    cr_log_info("birth-day attack on %ld children (%zu events): published ages narrow %ld (exact %ld); the exact "
                "ages of before issue 16 would narrow %ld (exact %ld, within 3 days %ld); events dated in the "
                "child's birth month: %ld",
                now.children, n, now.narrowed, now.exact, before.narrowed, before.exact, before.within3, in_birth_month);
    cr_expect_eq(now.stepping_events, 0, "%ld events carry an age other than the calendar months", now.stepping_events);
    cr_expect_eq(now.narrowed + now.wrong, 0, "the published ages narrow %ld children's birth dates below the month",
                 now.narrowed);
    /* The attack is real: on the same events the old ages give birth days away. */
    cr_expect_gt(before.narrowed, now.children / 10, "the attack narrowed only %ld of %ld children on the old ages",
                 before.narrowed, now.children);
    cr_expect_eq(before.wrong, 0);
    free(all);
    free(published);
    free(old);
}

Test(it_ingest, synthetic_region_leaks_nothing, .timeout = 600)
{
    const char *bootstrap = jtm_test_bootstrap();
    char *dir = jtm_test_tmpdir(), *cmd = NULL, *synth = jtm_test_bin("jtm-synth");
    cr_assert(asprintf(&cmd, "%s --seed 7 --children 1500 --years 1 --dirty 0.01 --out %s 2>&1", synth, dir) > 0);
    char *out = NULL;
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "jtm-synth: %s", out);
    free(out);
    free(cmd);
    free(synth);
    size_t keylen;
    char *keydata = slurp("ingest/key.txt", &keylen);
    static const char *const feeds[] = {"jgz", "verzuim", "soj"};
    daemon_env e[3];
    pid_t pid[3];
    scan s[3];
    int64_t total[3];
    rd_kafka_t *p = producer(bootstrap);
    for (int f = 0; f < 3; f++) {
        memset(&s[f], 0, sizeof s[f]);
        s[f].feed = feeds[f];
        cr_assert_eq(jtm_key_from_bytes(keydata, keylen, "k2026", &s[f].key, err, sizeof err), 0);
        e[f] = env_new(bootstrap, feeds[f]);
        char path[512];
        snprintf(path, sizeof path, "%s/raw.%s.ndjson", dir, feeds[f]);
        char *nl = NULL;
        cr_assert(asprintf(&nl, "wc -l < %s", path) > 0);
        char *wc = NULL;
        jtm_test_sh(nl, &wc);
        total[f] = atoll(wc);
        free(wc);
        free(nl);
        load_raw(&s[f], path, p, e[f].raw);
        qsort(s[f].ev, s[f].n, sizeof *s[f].ev, cmp_hash);
    }
    flush(p);
    rd_kafka_destroy(p);
    free(keydata);
    for (int f = 0; f < 3; f++)
        pid[f] = start_ingest(&e[f]);
    rd_kafka_t *rk = reader(bootstrap);
    for (int f = 0; f < 3; f++) {
        int parts = partitions_of(rk, e[f].raw);
        wait_count(rk, &e[f], parts, total[f], pid[f], 300);
    }
    int64_t scanned = 0;
    for (int f = 0; f < 3; f++) {
        cr_expect_eq(jtm_test_stop(pid[f], SIGTERM, 60000), 0, "%s: SIGTERM exit", feeds[f]);
        read_all(rk, e[f].pseudo, on_scan, &s[f]);
    }
    expect_birth_days_kept(s, 3);
    for (int f = 0; f < 3; f++) {
        cr_expect_eq(s[f].leaks, 0, "%s: %" PRId64 " pseudo events leak an identifier", feeds[f], s[f].leaks);
        cr_expect_gt(s[f].checked, 0);
        scanned += s[f].checked;
        for (size_t i = 0; i < s[f].n; i++)
            json_decref(s[f].ev[i].doc);
        free(s[f].ev);
        free(s[f].obs);
        jtm_key_free(s[f].key);
        expect_committed_to_end(bootstrap, e[f].group, e[f].raw);
        env_free(&e[f]);
    }
    cr_log_info("scanned %" PRId64 " pseudo events", scanned);
    rd_kafka_destroy(rk);
    char *rm = NULL;
    if (asprintf(&rm, "rm -rf %s", dir) > 0)
        jtm_test_sh(rm, NULL);
    free(rm);
    free(dir);
}

/* ---- SIGKILL mid-stream ---- */

#define KILL_PARTS 64

typedef struct marks {
    uint8_t *seen;     /* per event number */
    int n;
    char (*hash)[33];  /* event_id hash per event number, sorted index below */
    int *order;
    int64_t pseudo, dlq, dups;
} marks;

static marks *g_marks;
static int cmp_order(const void *a, const void *b)
{
    return strcmp(g_marks->hash[*(const int *)a], g_marks->hash[*(const int *)b]);
}

static void mark(marks *mk, int i)
{
    cr_assert(i >= 0 && i < mk->n);
    if (mk->seen[i])
        mk->dups++;
    mk->seen[i] = 1;
}

static void on_kill_pseudo(const rd_kafka_message_t *m, void *arg)
{
    marks *mk = arg;
    const char *p = memmem(m->payload, m->len, "\"event_id\":\"", 12);
    cr_assert_not_null(p);
    char h[33];
    memcpy(h, p + 12, 32);
    h[32] = '\0';
    int lo = 0, hi = mk->n - 1, found = -1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(mk->hash[mk->order[mid]], h);
        if (c == 0) {
            found = mk->order[mid];
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    cr_assert_geq(found, 0, "pseudo event of no raw event");
    mark(mk, found);
    mk->pseudo++;
}

static void on_kill_dlq(const rd_kafka_message_t *m, void *arg)
{
    marks *mk = arg;
    cr_assert(m->key_len > 0 && m->key_len < 16);
    char k[16];
    memcpy(k, m->key, m->key_len);
    k[m->key_len] = '\0';
    mark(mk, atoi(k));
    mk->dlq++;
}

/* A raw stream on an own devbroker (its own partitions, optionally a control socket for faults):
 * n events, valid allocations with event_id K-<i> and each its own child, every 97th truncated;
 * Kafka key = i. */
typedef struct stream {
    int n, parts;
    char *dir, *bootfile, *brokerlog, *topics, *u, *bootstrap, *ctl;
    pid_t broker;
    daemon_env e;
    marks mk;
} stream;

static void stream_setup(stream *sm, const char *prefix, int n, int parts, bool control)
{
    memset(sm, 0, sizeof *sm);
    sm->n = n;
    sm->parts = parts;
    sm->dir = jtm_test_tmpdir();
    sm->u = jtm_test_unique(prefix);
    cr_assert(asprintf(&sm->bootfile, "%s/bootstrap", sm->dir) > 0);
    cr_assert(asprintf(&sm->brokerlog, "%s/devbroker.log", sm->dir) > 0);
    cr_assert(asprintf(&sm->ctl, "%s/ctl", sm->dir) > 0);
    cr_assert(asprintf(&sm->topics, "raw.soj.%s:%d,pseudo.soj.%s:%d,dlq.soj.%s:%d", sm->u, parts, sm->u, parts, sm->u,
                       parts) > 0);
    char *bin = jtm_test_bin("jtm-devbroker");
    char *bargv[] = {bin, (char *)"--topics", sm->topics, (char *)"--bootstrap-file", sm->bootfile,
                     control ? (char *)"--control-socket" : NULL, sm->ctl, NULL};
    sm->broker = jtm_test_spawn(bargv, sm->brokerlog);
    free(bin);
    for (int i = 0; i < 200 && access(sm->bootfile, R_OK) != 0; i++)
        usleep(100000);
    size_t blen;
    sm->bootstrap = slurp_path(sm->bootfile, &blen);
    while (blen && (sm->bootstrap[blen - 1] == '\n' || sm->bootstrap[blen - 1] == ' '))
        sm->bootstrap[--blen] = '\0';
    daemon_env *e = &sm->e;
    *e = env_new(sm->bootstrap, "soj");
    free(e->raw);
    free(e->pseudo);
    free(e->dlq);
    cr_assert(asprintf(&e->raw, "raw.soj.%s", sm->u) > 0);
    cr_assert(asprintf(&e->pseudo, "pseudo.soj.%s", sm->u) > 0);
    cr_assert(asprintf(&e->dlq, "dlq.soj.%s", sm->u) > 0);
    char *conf = NULL;
    cr_assert(asprintf(&conf,
                       "feed = soj\nkey.file = %s/region.key\nkey.id = k2026\nschema.dir = %s/schemas\n"
                       "topic.raw = %s\ntopic.pseudo = %s\ntopic.dlq = %s\ngroup.id = %s\n"
                       "stats.interval.ms = 2000\nkafka.bootstrap.servers = %s\nkafka.auto.commit.interval.ms = 500\n"
                       "kafka.session.timeout.ms = 6000\n",
                       e->dir, JTM_SOURCE_DIR, e->raw, e->pseudo, e->dlq, e->group, sm->bootstrap) > 0);
    jtm_test_write_file(e->conf, conf, 0644);
    free(conf);

    marks *mk = &sm->mk;
    *mk = (marks){calloc((size_t)n, 1), n, calloc((size_t)n, 33), calloc((size_t)n, sizeof(int)), 0, 0, 0};
    size_t keylen, tlen;
    char *keydata = slurp("ingest/key.txt", &keylen);
    jtm_key *key;
    cr_assert_eq(jtm_key_from_bytes(keydata, keylen, "k2026", &key, err, sizeof err), 0);
    free(keydata);
    char *tmpl = slurp("ingest/valid/soj_allocation.json", &tlen);
    /* Pieces around the event id and the BSN; each event gets its own child (pid), so the
     * pseudo events spread over the partitions like real ones. */
    char *at = strstr(tmpl, "SOJ-2024-000017"), *bt = strstr(tmpl, "123456782");
    cr_assert(at && bt && at < bt);
    while (tlen && tmpl[tlen - 1] == '\n')
        tlen--;
    int l1 = (int)(at - tmpl), l2 = (int)(bt - at - 15), l3 = (int)(tlen - (size_t)(bt - tmpl) - 9);
    const char *p2 = at + 15, *p3 = bt + 9;
    rd_kafka_t *p = producer(sm->bootstrap);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        char buf[2048], id[16], k[16], first8[16], bsn[10];
        snprintf(id, sizeof id, "K-%d", i);
        snprintf(k, sizeof k, "%d", i);
        for (int j = 0;; j++) {
            snprintf(first8, sizeof first8, "%08d", (10000000 + i * 10 + j) % 100000000);
            if (jtm_bsn_complete(first8, bsn) == 0)
                break;
        }
        int len = snprintf(buf, sizeof buf, "%.*s%s%.*s%s%.*s", l1, tmpl, id, l2, p2, bsn, l3, p3);
        if (i % 97 == 0)
            len = l1 + 10; /* truncated: json_parse */
        produce(p, e->raw, k, buf, (size_t)len);
        jtm_pseudonym_hex(key, "event:soj:", id, strlen(id), mk->hash[i]);
        mk->order[i] = i;
    }
    flush(p);
    rd_kafka_destroy(p);
    cr_log_info("produced %d raw events in %.1f s", n, now_s() - t0);
    g_marks = mk;
    qsort(mk->order, (size_t)n, sizeof(int), cmp_order);
    free(tmpl);
    jtm_key_free(key);
}

/* After the daemon committed the end of the raw topic: every raw event is on pseudo or the DLQ. */
static void stream_verify(stream *sm)
{
    rd_kafka_t *rk = reader(sm->bootstrap);
    read_all(rk, sm->e.pseudo, on_kill_pseudo, &sm->mk);
    read_all(rk, sm->e.dlq, on_kill_dlq, &sm->mk);
    rd_kafka_destroy(rk);
    int missing = 0;
    for (int i = 0; i < sm->n; i++)
        if (!sm->mk.seen[i] && missing++ < 5)
            cr_log_error("raw event %d is in neither pseudo nor DLQ", i);
    cr_expect_eq(missing, 0, "%d of %d raw events missing", missing, sm->n);
    cr_expect_geq(sm->mk.dlq, (sm->n + 96) / 97, "every broken event reached the DLQ");
    cr_log_info("pseudo=%" PRId64 " dlq=%" PRId64 " duplicates=%" PRId64, sm->mk.pseudo, sm->mk.dlq, sm->mk.dups);
}

static void stream_free(stream *sm)
{
    jtm_test_stop(sm->broker, SIGTERM, 10000);
    free(sm->mk.seen);
    free(sm->mk.hash);
    free(sm->mk.order);
    free(sm->bootstrap);
    free(sm->bootfile);
    free(sm->brokerlog);
    free(sm->topics);
    free(sm->ctl);
    free(sm->u);
    env_free(&sm->e);
    free(sm->dir);
}

Test(it_ingest, sigkill_mid_stream_loses_nothing, .timeout = 900)
{
    const int n = getenv("JTM_IT_INGEST_EVENTS") ? atoi(getenv("JTM_IT_INGEST_EVENTS")) : 200000;
    /* An own broker with 64 partitions: the shared one's 4 would prune a stream this long. */
    stream sm;
    stream_setup(&sm, "kill", n, KILL_PARTS, false);
    daemon_env *e = &sm.e;
    rd_kafka_t *rk = reader(sm.bootstrap);
    pid_t pid = start_ingest(e);
    double t0 = now_s();
    wait_count(rk, e, KILL_PARTS, n / 3, pid, 600);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int64_t at_kill = topic_count(rk, e->pseudo, KILL_PARTS) + topic_count(rk, e->dlq, KILL_PARTS);
    cr_log_info("SIGKILL after %.1f s with %" PRId64 " written", now_s() - t0, at_kill);
    pid = start_ingest(e);
    /* Done when the group committed the end of every raw partition (auto commit every 500 ms). */
    expect_committed_to_end_within(sm.bootstrap, e->group, e->raw, 600);
    int64_t cur = topic_count(rk, e->pseudo, KILL_PARTS) + topic_count(rk, e->dlq, KILL_PARTS);
    cr_log_info("done after %.1f s, %" PRId64 " written for %d raw", now_s() - t0, cur, n);
    rd_kafka_destroy(rk);
    int rc = jtm_test_stop(pid, SIGTERM, 60000);
    if (rc != 0)
        dump_log(e);
    cr_expect_eq(rc, 0, "SIGTERM after the restart: exit %d", rc);
    expect_committed_to_end(sm.bootstrap, e->group, e->raw);
    stream_verify(&sm);
    stream_free(&sm);
}

/* One command to the devbroker's control socket; returns its answer line. */
static void control(const char *path, const char *cmd)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect %s", path);
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    cr_assert_eq(write(fd, line, (size_t)n), n);
    ssize_t r = read(fd, line, sizeof line - 1);
    cr_assert_gt(r, 0);
    line[r] = '\0';
    cr_assert(strncmp(line, "ok", 2) == 0, "devbroker '%s': %s", cmd, line);
    close(fd);
}

Test(it_ingest, broker_outage_ridden_out, .timeout = 600)
{
    const int n = 30000;
    stream sm;
    stream_setup(&sm, "outage", n, 8, true);
    daemon_env *e = &sm.e;
    rd_kafka_t *rk = reader(sm.bootstrap);
    pid_t pid = start_ingest(e);
    wait_count(rk, e, 8, n / 4, pid, 300);
    rd_kafka_destroy(rk);
    control(sm.ctl, "down all");
    sleep(8);
    int st;
    cr_expect_eq(waitpid(pid, &st, WNOHANG), 0, "jtm-ingest still runs during the outage");
    control(sm.ctl, "up all");
    expect_committed_to_end_within(sm.bootstrap, e->group, e->raw, 300);
    int rc = jtm_test_stop(pid, SIGTERM, 60000);
    if (rc != 0)
        dump_log(e);
    cr_expect_eq(rc, 0, "SIGTERM after the outage: exit %d", rc);
    stream_verify(&sm);
    stream_free(&sm);
}

/* ---- identifiers injected into every string field (issue 16) ----
 * Generated from schemas/raw.<feed>.schema.json: every property whose schema is a string (at the
 * top and in client and product) gets, one at a time, a BSN that passes the 11-test, a six-character
 * postcode, a full birth date (another child's: no date of this child's events can precede its own
 * birth) and a name, in a valid event of each feed. Each event must be refused at the edge with a
 * reason on the DLQ, or its pseudonymised form must hold none of the four. */

static const char *const INJECT[] = {"876543219", "2511CV", "2009-11-23", "Johanna Bakker"};
#define NINJECT 4

typedef struct inj_case {
    char key[32];        /* Kafka key of the raw message */
    char hash[33];       /* the keyed hash of its event_id: how its pseudo event is found */
    char path[64];
    int value, seen;
    bool refused;
} inj_case;

typedef struct inj_run {
    inj_case *c;
    int n;
    int leaks;
} inj_run;

/* The schema a property points to, through one "$ref": "#/definitions/x". */
static json_t *resolve(json_t *schema, json_t *prop)
{
    const char *ref = json_string_value(json_object_get(prop, "$ref"));
    if (ref && strncmp(ref, "#/definitions/", 14) == 0)
        return json_object_get(json_object_get(schema, "definitions"), ref + 14);
    return prop;
}

/* The dotted paths of every string property: top level, and one level into objects. */
static int string_paths(json_t *schema, char paths[][64], int max)
{
    int n = 0;
    const char *k, *k2;
    json_t *v, *v2;
    json_object_foreach(json_object_get(schema, "properties"), k, v)
    {
        json_t *p = resolve(schema, v);
        const char *type = json_string_value(json_object_get(p, "type"));
        if (type && strcmp(type, "string") == 0 && n < max)
            snprintf(paths[n++], 64, "%s", k);
        else if (type && strcmp(type, "object") == 0)
            json_object_foreach(json_object_get(p, "properties"), k2, v2)
            {
                const char *t2 = json_string_value(json_object_get(resolve(schema, v2), "type"));
                if (t2 && strcmp(t2, "string") == 0 && n < max)
                    snprintf(paths[n++], 64, "%s.%s", k, k2);
            }
    }
    return n;
}

static bool has_path(json_t *ev, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_object_get(ev, path) != NULL;
    char parent[64];
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
    return json_object_get(json_object_get(ev, parent), dot + 1) != NULL;
}

static void set_path(json_t *ev, const char *path, const char *value)
{
    const char *dot = strchr(path, '.');
    if (!dot) {
        json_object_set_new(ev, path, json_string(value));
        return;
    }
    char parent[64];
    snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
    json_t *obj = json_object_get(ev, parent);
    if (!json_is_object(obj)) {
        obj = json_object();
        json_object_set_new(ev, parent, obj);
    }
    json_object_set_new(obj, dot + 1, json_string(value));
}

/* The valid events of tests/fixtures/schema/raw.<feed>.ndjson, one per type, with a client of
 * their own (the fixtures' BSN is the 111222333). */
static int base_events(const char *feed, json_t **out, int max)
{
    char rel[64];
    snprintf(rel, sizeof rel, "schema/raw.%s.ndjson", feed);
    char *text = slurp(rel, NULL), *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        json_t *c = json_loads(line, 0, NULL);
        cr_assert_not_null(c, "%s", rel);
        json_t *ev = json_object_get(c, "event");
        bool dup = false;
        for (int i = 0; i < n; i++)
            dup |= json_equal(json_object_get(out[i], "type"), json_object_get(ev, "type"));
        if (strcmp(json_string_value(json_object_get(c, "expect")), "valid") == 0 && !dup) {
            out[n] = json_deep_copy(ev);
            json_object_set_new(out[n], "client",
                                json_pack("{s:s,s:s,s:i,s:s,s:s,s:s}", "bsn", "123456782", "birth_date", "2012-05-17",
                                          "sex", 2, "postcode", "3311AB", "gemeente", "GM0505", "name", "Test Kind"));
            n++;
        }
        json_decref(c);
    }
    free(text);
    return n;
}

static void on_inject_dlq(const rd_kafka_message_t *m, void *arg)
{
    inj_run *r = arg;
    for (int i = 0; i < r->n; i++)
        if (strlen(r->c[i].key) == m->key_len && memcmp(r->c[i].key, m->key, m->key_len) == 0) {
            const char *v;
            size_t len;
            cr_expect(jtm_kafka_header_get(m, "jtm.reject.reason", &v, &len) == 0 && len > 0,
                      "%s (%s): on the DLQ without a reason", r->c[i].path, INJECT[r->c[i].value]);
            r->c[i].seen++;
            r->c[i].refused = true;
            return;
        }
    cr_assert_fail("unknown key on the DLQ");
}

static void on_inject_pseudo(const rd_kafka_message_t *m, void *arg)
{
    inj_run *r = arg;
    const char *text = m->payload;
    const char *id = memmem(text, m->len, "\"event_id\":\"", 12);
    cr_assert_not_null(id);
    id += 12;
    for (int i = 0; i < r->n; i++) {
        if (memcmp(r->c[i].hash, id, 32) != 0)
            continue;
        r->c[i].seen++;
        for (int v = 0; v < NINJECT; v++)
            if (memmem(text, m->len, INJECT[v], strlen(INJECT[v]))) {
                r->leaks++;
                cr_log_error("%s = %s: '%s' crossed the edge: %.*s", r->c[i].path, INJECT[r->c[i].value], INJECT[v],
                             (int)m->len, text);
            }
        return;
    }
    cr_assert_fail("pseudo event of no case: %.*s", (int)m->len, text);
}

Test(it_ingest, identifiers_in_any_string_field_never_cross, .timeout = 300)
{
    static const char *const feeds[] = {"jgz", "verzuim", "soj"};
    const char *bootstrap = jtm_test_bootstrap();
    size_t keylen;
    char *keydata = slurp("ingest/key.txt", &keylen);
    jtm_key *key;
    cr_assert_eq(jtm_key_from_bytes(keydata, keylen, "k2026", &key, err, sizeof err), 0, "%s", err);
    free(keydata);
    int total_paths = 0, total_refused = 0, total_accepted = 0;
    for (int f = 0; f < 3; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/schemas/raw.%s.schema.json", JTM_SOURCE_DIR, feeds[f]);
        json_t *schema = json_load_file(path, 0, NULL);
        cr_assert_not_null(schema, "%s", path);
        static char paths[128][64];
        int np = string_paths(schema, paths, 128);
        cr_assert_geq(np, 10, "%s: %d string fields", feeds[f], np);
        json_t *base[16];
        int nb = base_events(feeds[f], base, 16);
        cr_assert_geq(nb, 3, "%s: %d base events", feeds[f], nb);

        daemon_env e = env_new(bootstrap, feeds[f]);
        inj_run r = {.c = calloc((size_t)np * NINJECT, sizeof(inj_case))};
        rd_kafka_t *p = producer(bootstrap);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "event:%s:", feeds[f]);
        for (int i = 0; i < np; i++) {
            json_t *b = base[0]; /* an event of a type that has the field, else the first (named fields are checked anywhere) */
            for (int j = 0; j < nb; j++)
                if (has_path(base[j], paths[i])) {
                    b = base[j];
                    break;
                }
            for (int v = 0; v < NINJECT; v++) {
                inj_case *c = &r.c[r.n];
                snprintf(c->key, sizeof c->key, "case-%d", r.n);
                snprintf(c->path, sizeof c->path, "%.63s", paths[i]);
                c->value = v;
                json_t *ev = json_deep_copy(b);
                json_object_set_new(ev, "event_id", json_string(c->key));
                set_path(ev, paths[i], INJECT[v]);
                const char *id = json_string_value(json_object_get(ev, "event_id"));
                cr_assert_eq(jtm_pseudonym_hex(key, prefix, id, strlen(id), c->hash), 0);
                char *text = json_dumps(ev, JSON_COMPACT);
                produce(p, e.raw, c->key, text, strlen(text));
                free(text);
                json_decref(ev);
                r.n++;
            }
        }
        flush(p);
        rd_kafka_destroy(p);
        pid_t pid = start_ingest(&e);
        rd_kafka_t *rk = reader(bootstrap);
        wait_count(rk, &e, partitions_of(rk, e.raw), r.n, pid, 120);
        cr_expect_eq(jtm_test_stop(pid, SIGTERM, 60000), 0, "%s: SIGTERM exit", feeds[f]);
        read_all(rk, e.dlq, on_inject_dlq, &r);
        read_all(rk, e.pseudo, on_inject_pseudo, &r);
        rd_kafka_destroy(rk);
        for (int i = 0; i < r.n; i++) {
            cr_expect_eq(r.c[i].seen, 1, "%s %s = %s seen %d times", feeds[f], r.c[i].path, INJECT[r.c[i].value],
                         r.c[i].seen);
            total_refused += r.c[i].refused;
            total_accepted += !r.c[i].refused;
        }
        cr_expect_eq(r.leaks, 0, "%s: %d injected identifiers crossed the edge", feeds[f], r.leaks);
        total_paths += np;
        free(r.c);
        for (int j = 0; j < nb; j++)
            json_decref(base[j]);
        json_decref(schema);
        env_free(&e);
    }
    cr_log_info("%d string fields, %d injections: %d refused at the edge, %d pseudonymised without them",
                total_paths, total_paths * NINJECT, total_refused, total_accepted);
    /* Both ways happen: client.bsn takes the BSN (hashed), client.name the name (dropped). */
    cr_expect_gt(total_accepted, 0);
    cr_expect_gt(total_refused, 0);
    jtm_key_free(key);
}
