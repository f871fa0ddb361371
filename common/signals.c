#include "signals.h"

#include <string.h>

volatile sig_atomic_t jtm_run = 1;
volatile sig_atomic_t jtm_reopen = 0;
volatile sig_atomic_t jtm_stop_signal = 0;

static void on_stop(int sig)
{
    jtm_run = 0;
    if (!jtm_stop_signal)
        jtm_stop_signal = sig;
}

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
    sa.sa_handler = on_hup;
    if (sigaction(SIGHUP, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    return 0;
}
