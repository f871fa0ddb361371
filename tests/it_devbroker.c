/* Integration tests of jtm-devbroker: kcat sees the topics and passes 1000 messages through a
 * consumer group on the broker ops/test.sh started; a private devbroker takes its brokers down
 * and up through the control socket and signals while an idempotent producer rides it out. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

static char err[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* A private devbroker (so its faults hit nobody else). */
typedef struct devbroker {
    char *dir, *bootfile, *sock, *log;
    char *bootstrap;
    pid_t pid;
} devbroker;

static void devbroker_start(devbroker *d, const char *brokers, const char *topics)
{
    memset(d, 0, sizeof *d);
    d->dir = jtm_test_tmpdir();
    cr_assert(asprintf(&d->bootfile, "%s/bootstrap", d->dir) > 0);
    cr_assert(asprintf(&d->sock, "%s/ctl", d->dir) > 0);
    cr_assert(asprintf(&d->log, "%s/devbroker.log", d->dir) > 0);
    char *bin = jtm_test_bin("jtm-devbroker");
    char *argv[] = {bin, "--brokers", (char *)brokers, "--topics", (char *)topics, "--bootstrap-file", d->bootfile,
                    "--control-socket", d->sock, NULL};
    d->pid = jtm_test_spawn(argv, d->log);
    free(bin);
    for (double until = now_s() + 30; !d->bootstrap && now_s() < until; sleep_ms(50))
        d->bootstrap = read_file(d->bootfile);
    cr_assert_not_null(d->bootstrap, "devbroker did not write %s (log %s)", d->bootfile, d->log);
}

static void devbroker_stop(devbroker *d)
{
    cr_assert_eq(jtm_test_stop(d->pid, SIGTERM, 20000), 0, "devbroker exit status (log %s)", d->log);
    struct stat st;
    cr_assert_neq(stat(d->bootfile, &st), 0, "bootstrap file removed on exit");
    cr_assert_neq(stat(d->sock, &st), 0, "control socket removed on exit");
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm -rf '%s'", d->dir) > 0);
    jtm_test_sh(cmd, NULL);
    free(cmd);
    free(d->dir);
    free(d->bootfile);
    free(d->sock);
    free(d->log);
    free(d->bootstrap);
}

/* Sends one command line to the control socket, returns the answer line (malloc'd). */
static char *control(const devbroker *d, const char *cmd)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(s, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d->sock);
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof sa), 0, "connect %s: %s", d->sock, strerror(errno));
    char line[1100];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    cr_assert_eq(write(s, line, (size_t)n), n);
    size_t len = 0;
    char buf[4096];
    while (len < sizeof buf - 1) {
        ssize_t r = read(s, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (memchr(buf, '\n', len))
            break;
    }
    close(s);
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return strdup(buf);
}

static void control_ok(const devbroker *d, const char *cmd)
{
    char *a = control(d, cmd);
    cr_assert(strncmp(a, "ok", 2) == 0, "%s -> %s", cmd, a);
    free(a);
}

Test(it_devbroker, kcat_lists_the_topics)
{
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "kcat -L -b '%s' 2>&1", jtm_test_bootstrap()) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    const char *topics[] = {"raw.jgz", "raw.verzuim", "raw.soj", "pseudo.jgz", "pseudo.verzuim",
                            "pseudo.soj", "dlq.jgz", "dlq.verzuim", "dlq.soj"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "topic \"%s\" with 4 partitions", topics[i]);
        cr_assert(strstr(out, want), "missing %s in:\n%s", want, out);
    }
    free(cmd);
    free(out);
}

Test(it_devbroker, kcat_1000_messages_through_a_consumer_group, .timeout = 180)
{
    char *topic = jtm_test_unique("itd-kcat"), *group = jtm_test_unique("itd-kcat-g");
    const char *b = jtm_test_bootstrap();
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "seq 1 1000 | kcat -P -b '%s' -t '%s' 2>&1", b, topic) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    free(cmd);
    free(out);
    cr_assert(asprintf(&cmd,
                       "timeout 90 kcat -q -b '%s' -G '%s' -X auto.offset.reset=earliest -c 1000 -f '%%s\\n' '%s' "
                       "2>/dev/null | sort -n | uniq | wc -l",
                       b, group, topic) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    cr_assert_eq(atoi(out), 1000, "group consumer got %s distinct messages", out);
    free(cmd);
    free(out);
    free(topic);
    free(group);
}

typedef struct delivery {
    int ok, failed;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    delivery *d = opaque;
    if (m->err)
        d->failed++;
    else
        d->ok++;
}

static void produce_range(rd_kafka_t *p, const char *topic, int from, int to)
{
    for (int i = from; i < to; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        cr_assert_eq(jtm_kafka_produce(p, topic, v, strlen(v), v, strlen(v), NULL, NULL, 5000, err, sizeof err), 0,
                     "%s", err);
        rd_kafka_poll(p, 0);
    }
}

/* Counts distinct and total messages of topic from the beginning, via kcat (no group). */
static void count_topic(const char *bootstrap, const char *topic, int *total, int *distinct)
{
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd,
                       "timeout 60 kcat -q -C -b '%s' -t '%s' -o beginning -e -f '%%s\\n' 2>/dev/null > /dev/shm/itd.$$; "
                       "echo $(wc -l < /dev/shm/itd.$$) $(sort -u /dev/shm/itd.$$ | wc -l); rm -f /dev/shm/itd.$$",
                       bootstrap, topic) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    cr_assert_eq(sscanf(out, "%d %d", total, distinct), 2, "%s", out);
    free(cmd);
    free(out);
}

Test(it_devbroker, producer_rides_out_brokers_down_and_up, .timeout = 300)
{
    devbroker d;
    devbroker_start(&d, "2", "faults:4");
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", d.bootstrap);
    delivery dr = {0};
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, &dr, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(jtm_kafka_wait_ready(p, 10000, err, sizeof err), 0, "%s", err);

    produce_range(p, "faults", 0, 300);
    cr_assert_eq(jtm_kafka_flush(p, 30000, NULL, err, sizeof err), 0, "%s", err);

    control_ok(&d, "down 1"); /* the partitions broker 1 leads stall */
    produce_range(p, "faults", 300, 500);
    rd_kafka_poll(p, 500);
    control_ok(&d, "down all");
    char *a = control(&d, "stats");
    cr_assert(strstr(a, "up=0"), "%s", a);
    free(a);
    produce_range(p, "faults", 500, 800);
    for (int i = 0; i < 20; i++)
        rd_kafka_poll(p, 100); /* two seconds with no broker */
    cr_assert_lt(dr.ok, 800, "nothing can be acknowledged while every broker is down");
    control_ok(&d, "up all");
    produce_range(p, "faults", 800, 1000);
    cr_assert_eq(jtm_kafka_flush(p, 90000, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dr.ok, 1000, "delivered %d (%d failed)", dr.ok, dr.failed);
    cr_assert_eq(dr.failed, 0);

    /* Injected request errors: the producer retries through them. */
    control_ok(&d, "errors Produce NOT_LEADER_FOR_PARTITION 3");
    produce_range(p, "faults", 1000, 1100);
    cr_assert_eq(jtm_kafka_flush(p, 60000, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dr.ok, 1100, "delivered %d (%d failed)", dr.ok, dr.failed);
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);

    int total = 0, distinct = 0;
    count_topic(d.bootstrap, "faults", &total, &distinct);
    /* Nothing lost. A few duplicates are possible and are not asserted away: with every broker
     * gone while requests were in flight, librdkafka may reset the idempotent producer's sequence
     * (epoch bump) and resend batches the mock had already appended but never acknowledged; CI saw
     * 50 on a slow machine. Kafka delivery is at-least-once by design here; exactly-once holds at
     * the warehouse, which deduplicates by event_id (it_fault, it_linker). */
    cr_assert_eq(distinct, 1100, "distinct %d: every acknowledged message is in the log", distinct);
    cr_assert_geq(total, 1100, "total %d", total);
    if (total > distinct) /* not cr_log_warn: this Criterion exits 1 on any warning line */
        fprintf(stderr, "the producer resent %d messages across the outage (epoch bump)\n", total - distinct);
    a = control(&d, "stats faults");
    cr_assert(strncmp(a, "ok topic=faults partitions=4", 28) == 0, "%s", a);
    free(a);
    devbroker_stop(&d);
}

Test(it_devbroker, control_commands_and_signals, .timeout = 120)
{
    devbroker d;
    devbroker_start(&d, "2", "a,b:8");
    char *a = control(&d, "help");
    cr_assert(strstr(a, "down <id|all>"), "%s", a);
    free(a);
    a = control(&d, "stats");
    cr_assert(strstr(a, "ok brokers=2 up=2 topics=2 partitions=12 appended=0"), "%s", a);
    free(a);
    const char *bad[] = {"nonsense", "down 3", "down", "rtt 1 -5", "errors Produce NO_SUCH_ERROR 1",
                         "errors Nope 6 1", "create b 2", "create bad/name 2", "stats missing"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = control(&d, bad[i]);
        cr_assert(strncmp(a, "error: ", 7) == 0, "%s -> %s", bad[i], a);
        free(a);
    }
    control_ok(&d, "rtt all 20");
    control_ok(&d, "rtt 2 0");
    control_ok(&d, "clear Produce");
    control_ok(&d, "create c 8");

    /* Topics: created with their partitions; auto-created ones get the mock's fixed 4. */
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "echo x | kcat -P -b '%s' -t auto1 && kcat -L -b '%s' 2>&1", d.bootstrap, d.bootstrap) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    cr_assert(strstr(out, "topic \"a\" with 4 partitions"), "%s", out);
    cr_assert(strstr(out, "topic \"b\" with 8 partitions"), "%s", out);
    cr_assert(strstr(out, "topic \"c\" with 8 partitions"), "%s", out);
    cr_assert(strstr(out, "topic \"auto1\" with 4 partitions"), "%s", out);
    free(cmd);
    free(out);

    /* Several commands on one connection, one answer each. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d.sock);
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
    const char two[] = "up 1\nbogus\n";
    cr_assert_eq(write(s, two, sizeof two - 1), (ssize_t)(sizeof two - 1));
    char buf[512] = "";
    size_t len = 0;
    for (double until = now_s() + 10; now_s() < until && len < sizeof buf - 1;) {
        ssize_t r = read(s, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "error: unknown"))
            break;
    }
    close(s);
    cr_assert(strncmp(buf, "ok brokers_up=2\nerror: unknown command bogus", 44) == 0, "%s", buf);

    /* SIGUSR1: every broker down; SIGUSR2: back up. */
    kill(d.pid, SIGUSR1);
    char *last = NULL;
    for (double until = now_s() + 10; now_s() < until; sleep_ms(100)) {
        free(last);
        last = control(&d, "stats");
        if (strstr(last, "up=0"))
            break;
    }
    cr_assert(strstr(last, "up=0"), "%s", last);
    kill(d.pid, SIGUSR2);
    for (double until = now_s() + 10; now_s() < until; sleep_ms(100)) {
        free(last);
        last = control(&d, "stats");
        if (strstr(last, "up=2 "))
            break;
    }
    cr_assert(strstr(last, "up=2 "), "%s", last);
    free(last);
    devbroker_stop(&d);
}

/* Exit codes when it cannot start, each with a message that says why. */
Test(it_devbroker, refuses_bad_settings_with_clear_errors)
{
    char *bin = jtm_test_bin("jtm-devbroker"), *dir = jtm_test_tmpdir();
    struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"--bogus", 2, "try --help"},
        {"--brokers 0", 78, "brokers"},
        {"--partitions x", 78, "partitions"},
        {"--topics 'good,bad name'", 78, "not a legal topic name"},
        {"--topics a,a", 78, "listed twice"},
        {"-X pg.host=x", 78, "pg."},
        {"-X kafka.no.such.key=1", 78, "kafka.no.such.key"},
        {"--control-socket DIR/plainfile", 69, "not a socket"},
        {"--bootstrap-file DIR/missing/dir/bootstrap", 74, "cannot"},
    };
    char *plain = NULL;
    cr_assert(asprintf(&plain, "%s/plainfile", dir) > 0);
    jtm_test_write_file(plain, "x", 0644);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512], *cmd = NULL, *out = NULL;
        const char *p = cases[i].args, *hit;
        size_t o = 0;
        while ((hit = strstr(p, "DIR")) != NULL) {
            o += (size_t)snprintf(args + o, sizeof args - o, "%.*s%s", (int)(hit - p), p, dir);
            p = hit + 3;
        }
        snprintf(args + o, sizeof args - o, "%s", p);
        cr_assert(asprintf(&cmd, "timeout 30 '%s' %s 2>&1", bin, args) > 0);
        int st = jtm_test_sh(cmd, &out);
        cr_assert_eq(st, cases[i].status, "%s: exit %d, want %d:\n%s", args, st, cases[i].status, out);
        cr_assert(strstr(out, cases[i].says), "%s: output lacks \"%s\":\n%s", args, cases[i].says, out);
        free(cmd);
        free(out);
    }
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "'%s' --help", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(strstr(out, "--control-socket"), "%s", out);
    free(cmd);
    free(out);
    cr_assert(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
    jtm_test_sh(cmd, NULL);
    free(cmd);
    free(plain);
    free(dir);
    free(bin);
}

/* The limit the devbroker states at start-up: a partition keeps its last 5 MiB; what came before
 * is gone without an error to anyone. 7 MiB of incompressible data into one partition. */
Test(it_devbroker, retention_prunes_old_batches_silently, .timeout = 120)
{
    devbroker d;
    devbroker_start(&d, "1", "one:1");
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", d.bootstrap);
    jtm_kvlist_set(&kv, "compression.type", "none");
    delivery dr = {0};
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, &dr, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    const int n = 7 * 1024, size = 1024;
    char *buf = malloc((size_t)size);
    unsigned seed = 42;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < size; k++)
            buf[k] = (char)(rand_r(&seed) & 0xff);
        cr_assert_eq(jtm_kafka_produce(p, "one", NULL, 0, buf, (size_t)size, NULL, NULL, 10000, err, sizeof err), 0,
                     "%s", err);
        rd_kafka_poll(p, 0);
    }
    free(buf);
    cr_assert_eq(jtm_kafka_flush(p, 60000, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dr.ok, n, "every message was acknowledged (%d failed)", dr.failed);
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);

    char *a = control(&d, "stats");
    long long appended = -1, retained = -1, pruned = -1;
    const char *s = strstr(a, "appended=");
    cr_assert_not_null(s, "%s", a);
    cr_assert_eq(sscanf(s, "appended=%lld retained=%lld pruned=%lld", &appended, &retained, &pruned), 3, "%s", a);
    cr_assert_eq(appended, n, "%s", a);
    cr_assert_gt(pruned, 0, "acknowledged and then pruned: %s", a);
    cr_assert_leq(retained * size, 5 * 1024 * 1024 + 1024 * 1024, "about 5 MiB kept: %s", a);
    cr_log_info("retention: %s", a);
    free(a);
    devbroker_stop(&d);
}

/* The mock never fails over by itself; "leader" does, and a producer follows the new leader while
 * the old one stays down. */
Test(it_devbroker, leader_command_fails_over_while_a_broker_is_down, .timeout = 120)
{
    devbroker d;
    devbroker_start(&d, "2", "fo:4");
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", d.bootstrap);
    delivery dr = {0};
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, &dr, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    control_ok(&d, "leader fo all 1");
    produce_range(p, "fo", 0, 100);
    cr_assert_eq(jtm_kafka_flush(p, 30000, NULL, err, sizeof err), 0, "%s", err);
    control_ok(&d, "down 1");
    control_ok(&d, "leader fo all 2");
    produce_range(p, "fo", 100, 300);
    double t0 = now_s();
    cr_assert_eq(jtm_kafka_flush(p, 30000, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(dr.ok, 300, "delivered %d (%d failed)", dr.ok, dr.failed);
    cr_log_info("fail-over: delivered within %.2f s with broker 1 down", now_s() - t0);
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);
    int total = 0, distinct = 0;
    count_topic(d.bootstrap, "fo", &total, &distinct);
    cr_assert_eq(total, 300, "total %d", total);
    cr_assert_eq(distinct, 300, "distinct %d", distinct);
    devbroker_stop(&d);
}
