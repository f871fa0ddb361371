#include "signals.h"

#include <string.h>
#include <unistd.h>

volatile sig_atomic_t jtm_run = 1;
volatile sig_atomic_t jtm_reopen = 0;
volatile sig_atomic_t jtm_stop_signal = 0;

static volatile sig_atomic_t shutdown_deadline_s = 60;

static void on_stop(int sig)
{
    jtm_run = 0;
    if (!jtm_stop_signal) {
        jtm_stop_signal = sig;
        if (shutdown_deadline_s > 0)
            alarm((unsigned)shutdown_deadline_s);
    }
}

/* The clean shutdown took too long (a broker or database that never answers): leave without
 * committing. Nothing is lost: uncommitted offsets are read again by the next run. */
static void on_deadline(int sig)
{
    (void)sig;
    static const char msg[] = "level=error event=shutdown_deadline_exceeded note=exiting_without_commit\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(1);
}

void jtm_signals_set_shutdown_deadline(int seconds) { shutdown_deadline_s = seconds; }

static void on_hup(int sig)
{
    (void)sig;
    jtm_reopen = 1;
}

int jtm_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = on_deadline;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = on_hup;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    return 0;
}
