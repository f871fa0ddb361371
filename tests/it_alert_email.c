/* The e-mail channel of jtm-alert against a real SMTP server (Debian's python3-aiosmtpd on loopback,
 * writing a maildir): one municipality's simultaneous alerts arrive as one message, in Dutch plain
 * text and HTML, exactly once across a jtm-alert restart; its webhook deliveries are not made when
 * its route is e-mail only; other municipalities still get their webhooks; and the SMTP settings
 * are refused where they would send in clear over a network. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert_receiver/receiver.h"
#include "testenv.h"

static const int BASE[20] = {10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10, 12, 9, 11, 10, 10, 11, 9, 10, 11};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* Messages in maildir/new; the text of the first in *first (caller frees). */
static int maildir_count(const char *maildir, char **first)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/new", maildir) > 0);
    DIR *d = opendir(path);
    int n = 0;
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            if (n++ == 0 && first) {
                char *f = NULL;
                cr_assert(asprintf(&f, "%s/%s", path, e->d_name) > 0);
                FILE *fp = fopen(f, "r");
                fseek(fp, 0, SEEK_END);
                long len = ftell(fp);
                fseek(fp, 0, SEEK_SET);
                *first = calloc(1, (size_t)len + 1);
                cr_assert_eq(fread(*first, 1, (size_t)len, fp), (size_t)len);
                fclose(fp);
                free(f);
            }
        }
        closedir(d);
    }
    free(path);
    return n;
}

/* Decodes the base64 part that follows the header line `ctype` in a message. */
static char *decode_part(const char *msg, const char *ctype)
{
    const char *p = strstr(msg, ctype);
    cr_assert_not_null(p, "no %s part", ctype);
    p = strstr(p, "\n\n");
    cr_assert_not_null(p);
    p += 2;
    const char *end = strstr(p, "--jtm-");
    char *b64 = calloc(1, (size_t)(end - p) + 1), *o = b64;
    for (const char *q = p; q < end; q++)
        if (*q != '\r' && *q != '\n')
            *o++ = *q;
    char *out = calloc(1, strlen(b64) + 1);
    int n = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)b64, (int)strlen(b64));
    cr_assert_geq(n, 0);
    free(b64);
    return out;
}

Test(alert_email, grouped_once_across_a_restart, .timeout = 180)
{
    PGconn *db;
    char *conninfo = it_alert_db(&db);
    char *dir = jtm_test_tmpdir(), *maildir = NULL;
    cr_assert(asprintf(&maildir, "%s/maildir", dir) > 0);
    int port = free_port();
    char portarg[32], *smtplog = NULL;
    snprintf(portarg, sizeof portarg, "127.0.0.1:%d", port);
    cr_assert(asprintf(&smtplog, "%s/smtpd.log", dir) > 0);
    char *const smtpd[] = {"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", portarg, "-c",
                           "aiosmtpd.handlers.Mailbox", maildir, NULL};
    pid_t smtp = jtm_test_spawn(smtpd, smtplog);
    for (int i = 0; i < 200 && !can_connect(port); i++)
        usleep(50000);
    cr_assert(can_connect(port), "aiosmtpd did not start (python3-aiosmtpd installed?)");

    receiver *rx = rx_start(NULL, 0, 0);
    char *sdef = it_secret(dir, "default", "default-secret-of-the-region-32-bytes"), *cfg = NULL, *cfgpath = NULL;
    cr_assert(asprintf(&cfg,
                       "alert.method = C1\nalert.baseline = 7\nalert.min_sigma = 0\nalert.min_count = 5\n"
                       "schedule.seconds = 3600\ndeliver.backoff_initial_ms = 200\ndeliver.backoff_max_ms = 1000\n"
                       "alert.report_url = https://monitor.example/rapport/{gemeente}.html#waiting\n"
                       "smtp.url = smtp://127.0.0.1:%d\nsmtp.from = jeugdmonitor@regio.example\nsmtp.tls = none\n"
                       "route.GM0505.email = jeugd@dordrecht.example, wachtlijst@dordrecht.example\n"
                       "route.default.url = http://127.0.0.1:%d/default\nroute.default.secret_file = %s\n",
                       port, rx->port, sdef) > 0);
    cr_assert(asprintf(&cfgpath, "%s/alert.conf", dir) > 0);
    jtm_test_write_file(cfgpath, cfg, 0644);

    int spike[21];
    memcpy(spike, BASE, sizeof BASE);
    spike[20] = 40;
    it_weeks(db, "GM0505", "45", 0, spike, 21); /* two alerts of one municipality at once: one mail */
    it_weeks(db, "GM0505", "54", 0, spike, 21);
    it_weeks(db, "GM0599", "45", 0, spike, 21); /* default route: webhook */

    pid_t pid = it_start_alert(cfgpath, conninfo, dir, "mail1.log");
    int ok = it_wait_value(db, "SELECT count(*) FROM ops.alert_delivery WHERE channel = 'email' AND status = 'delivered'",
                           "2", 30000);
    if (!ok)
        it_print_log(dir, "mail1.log");
    cr_assert(ok, "the two e-mail notices were not delivered");
    cr_assert(rx_wait(rx, "/default", 1, 10000), "GM0599's webhook did not arrive");
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_delivery WHERE gemeente = 'GM0505' AND channel = 'webhook'"),
                 0, "an e-mail-only municipality got webhook deliveries");

    /* A restart (evaluation on start and on NOTIFY) sends nothing again. */
    pid = it_start_alert(cfgpath, conninfo, dir, "mail2.log");
    cr_assert(it_wait_value(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jtm-alert'", "1", 10000));
    it_exec(db, "NOTIFY jtm_waiting_list");
    usleep(2500000);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);

    char *msg = NULL;
    cr_assert_eq(maildir_count(maildir, &msg), 1, "expected exactly one message for GM0505's two alerts");
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_attempt a JOIN ops.alert_delivery d ON d.id = a.delivery_id"
                             " WHERE d.channel = 'email'"), 2, "one attempt per notice");
    cr_assert_not_null(strstr(msg, "To: jeugd@dordrecht.example, wachtlijst@dordrecht.example"), "%s", msg);
    cr_assert_not_null(strstr(msg, "From: jeugdmonitor@regio.example"));
    cr_assert_not_null(strstr(msg, "Message-ID: <"));
    cr_assert_not_null(strstr(msg, "Auto-Submitted: auto-generated"));
    /* Subject: "Wachtlijstsignalen Dordrecht: 2 meldingen", RFC 2047 base64. */
    cr_assert_not_null(strstr(msg, "Subject: =?UTF-8?B?V2FjaHRsaWpzdHNpZ25hbGVuIERvcmRyZWNodDogMiBtZWxkaW5nZW4=?="), "%s",
                       msg);
    char *text = decode_part(msg, "Content-Type: text/plain"), *html = decode_part(msg, "Content-Type: text/html");
    cr_assert_not_null(strstr(text, "Wachtlijst Dordrecht (GM0505), categorie 45 ambulant"), "%s", text);
    cr_assert_not_null(strstr(text, "Wachtlijst Dordrecht (GM0505), categorie 54 jeugd-GGZ"), "%s", text);
    cr_assert_not_null(strstr(text, "Rapport: https://monitor.example/rapport/GM0505.html#waiting"), "%s", text);
    cr_assert_not_null(strstr(html, "<a href=\"https://monitor.example/rapport/GM0505.html#waiting\">"), "%s", html);
    cr_assert_not_null(strstr(html, "categorie 54 jeugd-GGZ"), "%s", html);
    free(text), free(html), free(msg);

    kill(smtp, SIGTERM);
    jtm_test_stop(smtp, SIGKILL, 5000);
    rx_stop(rx);
    PQfinish(db);
    free(smtplog), free(cfg), free(cfgpath), free(sdef), free(maildir), free(dir), free(conninfo);
}

Test(alert_email, smtp_settings_refused_where_they_would_leak, .timeout = 60)
{
    char *bin = jtm_test_bin("jtm-alert"), *cmd = NULL;
    const char *cases[] = {
        "-X route.GM0505.email=jeugd@dordrecht.example",                                   /* no smtp.url */
        "-X route.GM0505.email=jeugd@dordrecht.example -X smtp.url=smtp://mail.example:25" /* no from */,
        "-X route.GM0505.email=jeugd@dordrecht.example -X smtp.url=smtp://mail.example:25"
        " -X smtp.from=a@regio.example -X smtp.tls=none",                                   /* clear text off-host */
        "-X 'route.GM0505.email=jeugd@dordrecht.example\nBcc: x@evil.example'",            /* header smuggling */
        "-X route.GM0505.email=not-an-address",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert(asprintf(&cmd, "'%s' %s -X 'pg.conninfo=host=127.0.0.1 port=1' -X pg.connect_wait_ms=100 2>/dev/null",
                           bin, cases[i]) > 0);
        cr_assert_eq(jtm_test_sh(cmd, NULL), 78, "accepted: %s", cases[i]);
        free(cmd);
    }
    free(bin);
}
