#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signals.h"

Test(signals, term_clears_run_flag)
{
    cr_assert_eq(jtm_signals_install(), 0);
    jtm_signals_set_shutdown_deadline(0);
    cr_assert(jtm_run);
    raise(SIGTERM);
    cr_assert_not(jtm_run);
    cr_assert_eq(jtm_stop_signal, SIGTERM);
}

Test(signals, stuck_shutdown_ends_at_the_deadline)
{
    pid_t pid = fork();
    if (pid == 0) {
        jtm_signals_install();
        jtm_signals_set_shutdown_deadline(1);
        raise(SIGTERM);
        for (;;)
            pause(); /* a shutdown that never finishes */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
}
