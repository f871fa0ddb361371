/* Clean shutdown: SIGTERM and SIGINT clear jtm_run; loops check it between batches, finish the
 * batch, commit and exit 0. A second signal while shutting down is ignored (operators use SIGKILL
 * when they really mean it). The shutdown is bounded: when it has not ended 60 seconds (or the
 * deadline set below) after the signal, SIGALRM ends the process with exit 1 and a log line, since
 * a broker or database that never answers must not keep a daemon from stopping. SIGHUP sets jtm_reopen for daemons that reload; SIGPIPE is ignored. */
#ifndef JTM_SIGNALS_H
#define JTM_SIGNALS_H

#include <signal.h>

extern volatile sig_atomic_t jtm_run;
extern volatile sig_atomic_t jtm_reopen;
/* The signal that stopped the run, 0 while running. */
extern volatile sig_atomic_t jtm_stop_signal;

/* Returns 0, or -1 with errno set when sigaction fails. */
int jtm_signals_install(void);
/* Seconds a clean shutdown may take (0: unbounded). Call after jtm_signals_install. */
void jtm_signals_set_shutdown_deadline(int seconds);

#endif
