/* What every test may use: the services ops/test.sh started, built programs, fresh databases and
 * unique names so tests never step on each other. Integration tests fail (not skip) when the
 * environment is missing: run them through ops/test.sh. */
#ifndef JTM_TESTENV_H
#define JTM_TESTENV_H

#include <stddef.h>
#include <sys/types.h>

/* Bootstrap address of the jtm-devbroker that ops/test.sh started (JTM_TEST_BOOTSTRAP). */
const char *jtm_test_bootstrap(void);
/* Superuser conninfo of the test PostgreSQL (JTM_TEST_PG), database "postgres". */
const char *jtm_test_pg_admin(void);
/* Creates a new empty database named <prefix>_<pid>_<n>, applies schemas/sql migrations when
 * migrate is non-zero, and returns a malloc'd conninfo for it (caller frees). Aborts the test on error. */
char *jtm_test_create_db(const char *prefix, int migrate);
/* A unique name for topics, groups and files: <prefix>-<pid>-<n>. Caller frees. */
char *jtm_test_unique(const char *prefix);
/* Path of a built program (build/bin/<name>). Static buffer per call site is not needed: caller frees. */
char *jtm_test_bin(const char *program);
/* Path of a fixture file under tests/fixtures. Caller frees. */
char *jtm_test_fixture(const char *relpath);
/* Runs a shell command; stdout (and stderr when merge) into a malloc'd string *out (may be NULL).
 * Returns the exit status (0-255), or -1 when it did not exit normally. */
int jtm_test_sh(const char *cmd, char **out);
/* Starts argv[0] in the background with stdout/stderr to logfile (NULL: /dev/null). Returns pid. */
pid_t jtm_test_spawn(char *const argv[], const char *logfile);
/* Sends sig and waits up to timeout_ms; returns the exit status, 128+signal, or -1 on timeout
 * (then the child is SIGKILLed). */
int jtm_test_stop(pid_t pid, int sig, int timeout_ms);
/* Writes a file (mode given), for configs and keys in a test's temporary directory. */
void jtm_test_write_file(const char *path, const char *content, int mode);
/* A fresh temporary directory (mkdtemp under TMPDIR). Caller frees. */
char *jtm_test_tmpdir(void);

#endif
