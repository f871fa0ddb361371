/* Unit tests of jtm_devbroker_lib: topic lists, the control command language against an
 * in-process mock cluster, the atomic bootstrap file. No external services. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devbroker.h"
#include "testenv.h"

static char err[512], reply[2048];

Test(devbroker, topic_lists)
{
    cr_assert_eq(jtm_devbroker_topics_check("a, b:8 ,c.d_e-f", 4, err, sizeof err), 0, "%s", err);
    cr_assert_eq(jtm_devbroker_topics_check("", 4, err, sizeof err), 0, "an empty list creates nothing");
    cr_assert_eq(jtm_devbroker_topics_check("a,a", 4, err, sizeof err), -1);
    cr_assert(strstr(err, "twice"), "%s", err);
    cr_assert_eq(jtm_devbroker_topics_check("a:0", 4, err, sizeof err), -1);
    cr_assert_eq(jtm_devbroker_topics_check("a:x", 4, err, sizeof err), -1);
    cr_assert_eq(jtm_devbroker_topics_check("sp ace", 4, err, sizeof err), -1);
    cr_assert_eq(jtm_devbroker_topics_check("sl/ash", 4, err, sizeof err), -1);
    cr_assert(strstr(err, "legal topic name"), "%s", err);
    cr_assert_null(jtm_devbroker_new(0, 4, "a", NULL, err, sizeof err));
    cr_assert_null(jtm_devbroker_new(1, 0, "a", NULL, err, sizeof err));
}

static void expect(jtm_devbroker *d, const char *cmd, int rc, const char *prefix)
{
    int got = jtm_devbroker_command(d, cmd, reply, sizeof reply);
    cr_assert_eq(got, rc, "%s -> %s", cmd, reply);
    cr_assert(strncmp(reply, prefix, strlen(prefix)) == 0, "%s -> %s (want %s...)", cmd, reply, prefix);
}

Test(devbroker, commands, .timeout = 60)
{
    jtm_devbroker *d = jtm_devbroker_new(2, 4, "x,y:3", NULL, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    cr_assert_eq(jtm_devbroker_check(d, 10000, err, sizeof err), 0, "%s", err);
    cr_assert_eq(jtm_devbroker_topic_count(d), 2);
    const char *b = jtm_devbroker_bootstrap(d);
    cr_assert(strncmp(b, "127.0.0.1:", 10) == 0 && strchr(b, ','), "two loopback brokers: %s", b);

    expect(d, "stats", 0, "ok brokers=2 up=2 topics=2 partitions=7 appended=0 retained=0 pruned=0");
    expect(d, "stats y", 0, "ok topic=y partitions=3 p0=0..0 p1=0..0 p2=0..0");
    expect(d, "down 1", 0, "ok brokers_up=1");
    expect(d, "stats", 0, "ok brokers=2 up=1");
    expect(d, "down all", 0, "ok brokers_up=0");
    expect(d, "up 2", 0, "ok brokers_up=1");
    expect(d, "up all", 0, "ok brokers_up=2");
    expect(d, "rtt all 0", 0, "ok rtt_ms=0");
    expect(d, "errors 0 6 2", 0, "ok api=0 error=NOT_LEADER_FOR_PARTITION count=2");
    expect(d, "errors produce RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION 1", 0, "ok api=0");
    expect(d, "errors Fetch _TRANSPORT 1", 0, "ok api=1 error=_TRANSPORT");
    expect(d, "clear 0", 0, "ok api=0");
    expect(d, "clear Fetch", 0, "ok api=1");
    expect(d, "create z 5", 0, "ok topic=z partitions=5");
    expect(d, "stats", 0, "ok brokers=2 up=2 topics=3 partitions=12");
    expect(d, "leader y 1 2", 0, "ok topic=y partitions=1 leader=2");
    expect(d, "leader z all 1", 0, "ok topic=z partitions=5 leader=1");
    expect(d, "leader y 1 3", -1, "error: usage");
    expect(d, "leader y x 1", -1, "error: usage");
    expect(d, "leader nothere all 1", -1, "error: no topic nothere");
    expect(d, "help", 0, "ok commands:");

    expect(d, "", -1, "error: empty");
    expect(d, "   \t ", -1, "error: empty");
    expect(d, "frobnicate", -1, "error: unknown command frobnicate");
    expect(d, "down", -1, "error: usage");
    expect(d, "down 0", -1, "error: usage");
    expect(d, "down 3", -1, "error: usage");
    expect(d, "up 1 2", -1, "error: usage");
    expect(d, "rtt 1", -1, "error: usage");
    expect(d, "rtt 1 fast", -1, "error: usage");
    expect(d, "errors Produce 0 1", -1, "error: usage");
    expect(d, "errors Produce 6 0", -1, "error: usage");
    expect(d, "errors Nope 6 1", -1, "error: usage");
    expect(d, "create x 4", -1, "error: topic x exists");
    expect(d, "create q 0", -1, "error: create");
    expect(d, "stats nothere", -1, "error: no topic nothere");
    expect(d, "a b c d e f g", -1, "error: too many arguments");
    jtm_devbroker_free(d);
}

Test(devbroker, bootstrap_file_is_written_atomically)
{
    char *dir = jtm_test_tmpdir(), *path = NULL, *bad = NULL;
    cr_assert(asprintf(&path, "%s/bootstrap", dir) > 0);
    cr_assert_eq(jtm_devbroker_write_file(path, "127.0.0.1:1,127.0.0.1:2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(jtm_devbroker_write_file(path, "127.0.0.1:3", err, sizeof err), 0, "%s", err);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_assert_str_eq(buf, "127.0.0.1:3\n");
    DIR *dh = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(dh));)
        if (e->d_name[0] != '.')
            entries++;
    closedir(dh);
    cr_assert_eq(entries, 1, "no temporary file left behind");
    cr_assert(asprintf(&bad, "%s/missing/bootstrap", dir) > 0);
    cr_assert_eq(jtm_devbroker_write_file(bad, "x", err, sizeof err), -1);
    cr_assert(strstr(err, "missing"), "%s", err);
    remove(path);
    remove(dir);
    free(bad);
    free(path);
    free(dir);
}
