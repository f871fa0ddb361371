/* The privacy scan (docs/access.md, Privacy scan): its detectors on fixture files, then a full
 * synthetic run (jtm-synth -> raw topics -> jtm-ingest x3 -> pseudo topics -> jtm-linker ->
 * warehouse) scanned through ops/privacy-scan.sh: the warehouse, the pseudo topics and the daemon
 * logs hold nothing identifying; a BSN planted in a table, in a topic, and a name planted in a log
 * are each caught, and the report never shows the planted value. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventlog.h"
#include "testenv.h"

/* The count of kind=N in the scan_done line. */
static long scan_count(const char *out, const char *kind)
{
    const char *line = strstr(out, "event=scan_done");
    cr_assert(line, "no scan_done line in: %s", out);
    char key[32];
    snprintf(key, sizeof key, " %s=", kind);
    const char *p = strstr(line, key);
    cr_assert(p, "no %s in %s", kind, line);
    return atol(p + strlen(key));
}

static int run(const char *cmd, char **out)
{
    int rc = jtm_test_sh(cmd, out);
    cr_log_info("%s -> %d", cmd, rc);
    return rc;
}

Test(privacy, detectors_find_what_is_planted_and_nothing_else)
{
    char *bin = jtm_test_bin("jtm-privacy-scan"), *raw = jtm_test_fixture("access/privacy_raw.ndjson"),
         *clean = jtm_test_fixture("access/privacy_clean.txt"), *planted = jtm_test_fixture("access/privacy_planted.txt");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --raw %s %s 2>&1", bin, raw, clean);
    cr_assert_eq(run(cmd, &out), 0, "clean file flagged: %s", out);
    cr_assert_eq(scan_count(out, "findings"), 0);
    cr_assert_eq(scan_count(out, "birthdates"), 3);
    cr_assert_eq(scan_count(out, "ambiguous_birthdates"), 2, "2019-11-03 is also an event date, 2020-02-01 a first");
    free(out);

    snprintf(cmd, sizeof cmd, "%s --raw %s %s 2>&1", bin, raw, planted);
    cr_assert_eq(run(cmd, &out), 1, "%s", out);
    cr_assert_eq(scan_count(out, "bsn"), 1, "%s", out);
    cr_assert_eq(scan_count(out, "postcode"), 1, "%s", out);
    cr_assert_eq(scan_count(out, "birthdate"), 1, "%s", out);
    cr_assert_eq(scan_count(out, "name"), 1, "%s", out);
    cr_assert(strstr(out, "finding kind=bsn source=") && strstr(out, "line=1 "), "%s", out);
    /* redacted: the values never appear */
    cr_assert(!strstr(out, "123456782") && !strstr(out, "3311") && !strstr(out, "2017-04-12") && !strstr(out, "Sanne"),
              "a planted value was printed: %s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "%s 2>/dev/null", bin);
    cr_assert_eq(run(cmd, NULL), 2, "nothing to scan");
    snprintf(cmd, sizeof cmd, "%s /nonexistent 2>/dev/null", bin);
    cr_assert_eq(run(cmd, NULL), 74);
    snprintf(cmd, sizeof cmd, "%s --version", bin);
    cr_assert_eq(run(cmd, NULL), 0);
    free(bin);
    free(raw);
    free(clean);
    free(planted);
}

/* Quasi-identifiers (issue 16): pseudonymised events as a topic dump. privacy_pseudo_planted.txt
 * holds two children's events with the exact ages jtm-ingest published before issue 16 (they step
 * on the birth day: born on the 17th and on the 3rd, events on the 10th and 20th of a month and
 * on the 2nd of another) and one product.code with a name in it; privacy_pseudo_clean.txt the same
 * events with calendar ages and codes. */
Test(privacy, quasi_identifiers_in_pseudonymised_events)
{
    char *bin = jtm_test_bin("jtm-privacy-scan"), *clean = jtm_test_fixture("access/privacy_pseudo_clean.txt"),
         *planted = jtm_test_fixture("access/privacy_pseudo_planted.txt");
    char cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, clean);
    cr_assert_eq(run(cmd, &out), 0, "calendar ages and codes flagged: %s", out);
    cr_assert_eq(scan_count(out, "pseudo_events"), 6, "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, planted);
    cr_assert_eq(run(cmd, &out), 1, "%s", out);
    cr_assert_eq(scan_count(out, "age_steps"), 2, "both children's birth dates narrowed: %s", out);
    cr_assert_eq(scan_count(out, "code_field"), 1, "%s", out);
    cr_assert(strstr(out, "finding kind=age_steps source=events line=0 hint=\"pid=a1b2c3d4... birth date narrowed to 10 of 31 days\""),
              "%s", out);
    cr_assert(strstr(out, "finding kind=code_field source=") && strstr(out, "hint=\"field=product.code looks like a name\""),
              "%s", out);
    cr_assert(!strstr(out, "Vries"), "the value was printed: %s", out);
    free(out);
    free(bin);
    free(clean);
    free(planted);
}

static long applied(const char *conninfo, const char *group)
{
    PGconn *c = PQconnectdb(conninfo);
    long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        const char *params[1] = {group};
        PGresult *r = PQexecParams(c, "SELECT coalesce(sum(next_offset), 0) FROM ops.kafka_offset WHERE consumer_group = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            v = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static long lines_of(const char *path)
{
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "wc -l < '%s'", path) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    long n = atol(out);
    free(out);
    free(cmd);
    return n;
}

static void exec_ok(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

Test(privacy, full_synthetic_run_is_clean_and_planted_bsn_is_caught, .timeout = 400)
{
    static const char *feeds[3] = {"jgz", "verzuim", "soj"};
    char *dir = jtm_test_tmpdir(), *ci = jtm_test_create_db("privacy", 1), *tag = jtm_test_unique("priv");
    const char *boot = jtm_test_bootstrap();
    char cmd[16384], path[4096], *out = NULL, raw_topic[3][256], pseudo_topic[3][256];
    long raw_total = 0;

    /* 1. The synthetic region, as files (the scan learns names and birth dates from them). */
    char *synth = jtm_test_bin("jtm-synth");
    snprintf(cmd, sizeof cmd, "%s --seed 11 --children 300 --years 2 --out %s 2>%s/synth.log", synth, dir, dir);
    cr_assert_eq(run(cmd, NULL), 0);
    free(synth);

    /* 2. Raw topics, the edge (three jtm-ingest), the linker. */
    snprintf(path, sizeof path, "%s/region.key", dir);
    jtm_test_write_file(path, "privacy-test-region-key-0123456789abcdef", 0600);
    pid_t pids[4];
    char *ingest = jtm_test_bin("jtm-ingest");
    for (int f = 0; f < 3; f++) {
        snprintf(raw_topic[f], sizeof raw_topic[f], "raw.%s-%s", feeds[f], tag);
        snprintf(pseudo_topic[f], sizeof pseudo_topic[f], "pseudo.%s-%s", feeds[f], tag);
        snprintf(path, sizeof path, "%s/raw.%s.ndjson", dir, feeds[f]);
        raw_total += lines_of(path);
        snprintf(cmd, sizeof cmd, "kcat -P -b %s -t %s -l %s", boot, raw_topic[f], path);
        cr_assert_eq(run(cmd, NULL), 0);
        char conf[4096], conf_path[4096], log[4096];
        snprintf(conf, sizeof conf,
                 "feed = %s\nkey.file = %s/region.key\nkey.id = ptest\nkafka.bootstrap.servers = %s\n"
                 "topic.raw = %s\ntopic.pseudo = %s\ntopic.dlq = dlq.%s-%s\ngroup.id = ing-%s-%s\n",
                 feeds[f], dir, boot, raw_topic[f], pseudo_topic[f], feeds[f], tag, feeds[f], tag);
        snprintf(conf_path, sizeof conf_path, "%s/ingest-%s.conf", dir, feeds[f]);
        jtm_test_write_file(conf_path, conf, 0600);
        snprintf(log, sizeof log, "%s/ingest-%s.log", dir, feeds[f]);
        char *argv[] = {ingest, "-c", conf_path, NULL};
        pids[f] = jtm_test_spawn(argv, log);
    }
    free(ingest);
    {
        char conf[8192], conf_path[4096], log[4096], group[300];
        snprintf(group, sizeof group, "lnk-%s", tag);
        snprintf(conf, sizeof conf,
                 "kafka.bootstrap.servers = %s\npg.conninfo = %s\ntopics.jgz = %s\ntopics.verzuim = %s\n"
                 "topics.soj = %s\ngroup = %s\n",
                 boot, ci, pseudo_topic[0], pseudo_topic[1], pseudo_topic[2], group);
        snprintf(conf_path, sizeof conf_path, "%s/linker.conf", dir);
        jtm_test_write_file(conf_path, conf, 0600);
        snprintf(log, sizeof log, "%s/linker.log", dir);
        char *linker = jtm_test_bin("jtm-linker");
        char *argv[] = {linker, "-c", conf_path, NULL};
        pids[3] = jtm_test_spawn(argv, log);
        free(linker);
        /* Everything valid reaches the warehouse (rejects, if any, stay in dlq at the edge). */
        long got = -1, last = -1;
        for (int waited = 0, still = 0; waited < 240000 && still < 150; waited += 200) {
            usleep(200000);
            got = applied(ci, group);
            still = (got == last && got > 0) ? still + 1 : 0;
            last = got;
            if (got >= raw_total)
                break;
        }
        cr_assert_gt(got, raw_total * 9 / 10, "linker applied %ld of %ld raw events", got, raw_total);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(jtm_test_stop(pids[i], SIGTERM, 30000), 0, "daemon %d did not stop cleanly", i);

    /* 3. The scan: warehouse, the three pseudo topics, all daemon logs. */
    char base[12000];
    snprintf(base, sizeof base,
             "cd %s && JTM_BUILD=%s ops/privacy-scan.sh -d '%s' -b %s -t %s -t %s -t %s"
             " --raw %s/raw.jgz.ndjson --raw %s/raw.verzuim.ndjson --raw %s/raw.soj.ndjson"
             " %s/ingest-jgz.log %s/ingest-verzuim.log %s/ingest-soj.log %s/linker.log",
             JTM_SOURCE_DIR, JTM_BUILD_DIR, ci, boot, pseudo_topic[0], pseudo_topic[1], pseudo_topic[2], dir, dir,
             dir, dir, dir, dir, dir);
    snprintf(cmd, sizeof cmd, "%s 2>&1", base);
    cr_assert_eq(run(cmd, &out), 0, "the synthetic run leaks: %s", out);
    cr_assert_gt(scan_count(out, "names"), 50, "names learned from the raw input");
    cr_assert_geq(scan_count(out, "tables"), 8);
    cr_assert_gt(scan_count(out, "bytes"), 100000);
    free(out);
    /* The raw input itself is what the scan is for: it must light up. */
    snprintf(cmd, sizeof cmd, "%s %s/raw.soj.ndjson 2>&1", base, dir);
    cr_assert_eq(run(cmd, &out), 1);
    cr_assert_gt(scan_count(out, "bsn"), 0);
    cr_assert_gt(scan_count(out, "name"), 0);
    free(out);

    /* 4. Plant a BSN in a warehouse table: caught, source named, value not printed. */
    exec_ok(ci, "UPDATE wh.route SET path = coalesce(path, '') || ' 123456782' WHERE pid = (SELECT min(pid) FROM wh.route)");
    snprintf(cmd, sizeof cmd, "%s 2>&1", base);
    cr_assert_eq(run(cmd, &out), 1, "planted BSN not caught: %s", out);
    cr_assert_eq(scan_count(out, "bsn"), 1, "%s", out);
    cr_assert(strstr(out, "finding kind=bsn source=table:wh.route"), "%s", out);
    cr_assert(!strstr(out, "123456782"), "the planted BSN was printed");
    free(out);
    exec_ok(ci, "UPDATE wh.route SET path = replace(path, ' 123456782', '')");

    /* ...inside a child's event log (ops.linker_child.events, binary): decoded, and caught */
    {
        jtm_event e = {.feed = JTM_EV_FEED_SOJ, .type = JTM_EV_T_REQUEST, .occurred_on = 19000, .recorded_at = 1,
                       .event_id = "0123456789abcdef0123456789abcdef", .gemeente = "GM0505",
                       .referrer = "via 123456782", .allocated_on = JTM_NO_DATE, .start_date = JTM_NO_DATE,
                       .end_date = JTM_NO_DATE};
        sbuf log = {0};
        jtm_eventlog_begin(&log);
        jtm_eventlog_append(&log, &e);
        PGconn *pc = PQconnectdb(ci);
        cr_assert_eq(PQstatus(pc), CONNECTION_OK);
        const char *v[1] = {log.s};
        int len[1] = {(int)log.len}, fmt[1] = {1};
        PGresult *r = PQexecParams(pc, "UPDATE ops.linker_child SET events = $1::bytea"
                                       " WHERE pid = (SELECT min(pid) FROM ops.linker_child)", 1, NULL, v, len, fmt, 0);
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(pc));
        cr_assert_str_eq(PQcmdTuples(r), "1");
        PQclear(r);
        snprintf(cmd, sizeof cmd, "%s 2>&1", base);
        cr_assert_eq(run(cmd, &out), 1, "BSN in an event log not caught: %s", out);
        cr_assert_eq(scan_count(out, "bsn"), 1, "%s", out);
        cr_assert(strstr(out, "finding kind=bsn source=table:ops.linker_child.events"), "%s", out);
        cr_assert(!strstr(out, "123456782"), "the planted BSN was printed");
        free(out);
        /* the log is a cache: unknown (NULL) is always safe */
        r = PQexec(pc, "UPDATE ops.linker_child SET events = NULL WHERE pid = (SELECT min(pid) FROM ops.linker_child)");
        PQclear(r);
        PQfinish(pc);
        sb_free(&log);
    }

    /* ...in a pseudo topic... */
    snprintf(cmd, sizeof cmd, "printf '{\"note\":\"bsn 123456782\"}\\n' | kcat -P -b %s -t %s", boot, pseudo_topic[2]);
    cr_assert_eq(run(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s 2>&1", base);
    cr_assert_eq(run(cmd, &out), 1, "%s", out);
    cr_assert_eq(scan_count(out, "bsn"), 1, "%s", out);
    cr_assert(strstr(out, pseudo_topic[2]), "finding names the topic: %s", out);
    free(out);

    /* ...and a child's name in a log. */
    char log_path[4096], name_line[512] = "";
    snprintf(path, sizeof path, "%s/raw.jgz.ndjson", dir);
    FILE *rf = fopen(path, "r");
    char first[8192];
    cr_assert(rf && fgets(first, sizeof first, rf));
    fclose(rf);
    const char *np = strstr(first, "\"name\":\"");
    cr_assert(np);
    np += 8;
    snprintf(name_line, sizeof name_line, "level=info event=oops who=\"%.*s\"\n", (int)strcspn(np, "\""), np);
    snprintf(log_path, sizeof log_path, "%s/planted.log", dir);
    jtm_test_write_file(log_path, name_line, 0600);
    snprintf(cmd, sizeof cmd, "cd %s && JTM_BUILD=%s ops/privacy-scan.sh -d - --raw %s/raw.jgz.ndjson %s 2>&1",
             JTM_SOURCE_DIR, JTM_BUILD_DIR, dir, log_path);
    cr_assert_eq(run(cmd, &out), 1, "%s", out);
    cr_assert_gt(scan_count(out, "name"), 0, "%s", out);
    free(out);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(dir);
    free(ci);
    free(tag);
}
