#include "testenv.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "migrate.h"

/* A setup failure ends the test at once. */
#define cr_fatal(...) cr_assert_fail(__VA_ARGS__)

static int unique_counter;

static const char *require_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        cr_fatal("%s is not set: run integration tests through ops/test.sh", name);
    return v;
}

const char *jtm_test_bootstrap(void) { return require_env("JTM_TEST_BOOTSTRAP"); }
const char *jtm_test_pg_admin(void) { return require_env("JTM_TEST_PG"); }

char *jtm_test_unique(const char *prefix)
{
    char *s = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (asprintf(&s, "%s-%d-%d-%ld", prefix, (int)getpid(), ++unique_counter, ts.tv_nsec % 100000) < 0)
        cr_fatal("asprintf");
    return s;
}

char *jtm_test_create_db(const char *prefix, int migrate)
{
    char *name = jtm_test_unique(prefix);
    for (char *p = name; *p; p++)
        if (*p == '-')
            *p = '_';
    PGconn *c = PQconnectdb(jtm_test_pg_admin());
    if (PQstatus(c) != CONNECTION_OK)
        cr_fatal("cannot connect to test PostgreSQL: %s", PQerrorMessage(c));
    char *q = NULL;
    if (asprintf(&q, "CREATE DATABASE %s", name) < 0)
        cr_fatal("asprintf");
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        cr_fatal("CREATE DATABASE %s: %s", name, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    free(q);
    char *conninfo = NULL;
    if (asprintf(&conninfo, "%s dbname=%s", jtm_test_pg_admin(), name) < 0)
        cr_fatal("asprintf");
    free(name);
    if (migrate) {
        char err[1024];
        char *dir = NULL;
        if (asprintf(&dir, "%s/schemas/sql", JTM_SOURCE_DIR) < 0)
            cr_fatal("asprintf");
        PGconn *m = PQconnectdb(conninfo);
        if (PQstatus(m) != CONNECTION_OK)
            cr_fatal("cannot connect to %s: %s", conninfo, PQerrorMessage(m));
        if (jtm_migrate(m, dir, NULL, err, sizeof err) < 0)
            cr_fatal("migrations failed: %s", err);
        PQfinish(m);
        free(dir);
    }
    return conninfo;
}

char *jtm_test_bin(const char *program)
{
    char *s = NULL;
    if (asprintf(&s, "%s/bin/%s", JTM_BUILD_DIR, program) < 0)
        cr_fatal("asprintf");
    return s;
}

char *jtm_test_fixture(const char *relpath)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", JTM_FIXTURES, relpath) < 0)
        cr_fatal("asprintf");
    return s;
}

int jtm_test_sh(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        cr_fatal("popen %s: %s", cmd, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

pid_t jtm_test_spawn(char *const argv[], const char *logfile)
{
    pid_t pid = fork();
    if (pid < 0)
        cr_fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(logfile ? logfile : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int jtm_test_stop(pid_t pid, int sig, int timeout_ms)
{
    if (sig)
        kill(pid, sig);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

void jtm_test_write_file(const char *path, const char *content, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        cr_fatal("open %s: %s", path, strerror(errno));
    size_t len = strlen(content);
    if (write(fd, content, len) != (ssize_t)len)
        cr_fatal("write %s", path);
    fchmod(fd, (mode_t)mode);
    close(fd);
}

char *jtm_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *t = NULL;
    if (asprintf(&t, "%s/jtm-test-XXXXXX", base && *base ? base : "/tmp") < 0)
        cr_fatal("asprintf");
    if (!mkdtemp(t))
        cr_fatal("mkdtemp: %s", strerror(errno));
    return t;
}
