/* Recovery after a crash (issue 22): a SIGKILLed jtm-ingest, restarted as systemd would (after
 * RestartSec=2s), consumes its feed again within 15 s, with the daemon's own group timeouts (not
 * the shorter ones the other tests set). Before static membership and the 10 s session timeout,
 * the restarted process sat out the crashed member's 45 s session (plus, on the development broker,
 * a second round when it joined before that member expired): 40-70 s of a stale feed. On the
 * development broker, which ignores group.instance.id, the restart takes about session.timeout.ms
 * - 1 s; on a broker with static membership it takes the old place at once. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opsenv/opsenv.h"
#include "testenv.h"

#define RESTART_SEC 2 /* ops/systemd/jtm-ingest@.service: RestartSec=2s */

static int log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int hit = 0;
    while (f && !hit && fgets(line, sizeof line, f))
        hit = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return hit;
}

Test(recovery, sigkilled_ingest_flows_again_within_15_s, .timeout = 240)
{
    char *dir = jtm_test_tmpdir(), *tag = jtm_test_unique("recovery"), prefix[300], listen[64], log[1200], host[256],
         want[1024];
    snprintf(prefix, sizeof prefix, "%s.", tag);
    ops_pipe p;
    ops_pipe_init(&p, dir, jtm_test_bootstrap(), prefix, prefix);
    const int f = 2; /* soj: the feed that waited longest in the issue */

    int port = ops_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    pid_t ing = ops_start_ingest_with(&p, f, listen, "", "ingest-1.log");
    ops_synth(&p, 1, 200, 1, NULL);
    cr_assert_geq(ops_wait_metric(port, "jtm_ingest_published_total", 1, 90000), 1, "the first ingest never published");

    cr_assert_eq(jtm_test_stop(ing, SIGKILL, 10000), 128 + SIGKILL);
    long long killed = ops_now_ms();
    ops_synth(&p, 2, 200, 1, NULL); /* the feed's events wait for the restart */
    long long wait = killed + RESTART_SEC * 1000 - ops_now_ms();
    if (wait > 0)
        usleep((useconds_t)wait * 1000);

    port = ops_free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    long long t0 = ops_now_ms();
    ing = ops_start_ingest_with(&p, f, listen, "", "ingest-2.log");
    double v = ops_wait_metric(port, "jtm_ingest_published_total", 1, 120000);
    long long took = ops_now_ms() - t0;
    fprintf(stderr, "it_recovery: jtm-ingest %s consumed and published again %.1f s after its restart (%.1f s after "
                    "the SIGKILL)\n", OPS_FEEDS[f], took / 1000.0, (ops_now_ms() - killed) / 1000.0);
    snprintf(log, sizeof log, "%s/ingest-2.log", dir);
    if (v < 1 || took >= 15000)
        ops_tail(log, 30);
    cr_assert_geq(v, 1, "the restarted ingest never published");
    cr_assert_lt(took, 15000, "the restarted ingest needed %.1f s (limit 15 s)", took / 1000.0);

    /* It joined as the static member named after its feed and host. */
    cr_assert_eq(gethostname(host, sizeof host), 0);
    snprintf(want, sizeof want, "event=kafka_member group=%sing-soj instance_id=jtm-ingest-soj.%s static=1", prefix, host);
    cr_assert(log_has(log, want), "no '%s' in %s", want, log);

    cr_assert_eq(jtm_test_stop(ing, SIGTERM, 30000), 0, "the restarted ingest did not stop cleanly");
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(dir);
    free(tag);
}
