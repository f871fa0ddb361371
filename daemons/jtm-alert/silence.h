/* jtm-alert silence: mute a municipality's series until a date, list silences, lift one early.
 * Silences live in ops.alert_silence (migration 0210); the daemon records an alarm of a silenced
 * series as 'silenced' and sends nothing (state.c). */
#ifndef JTM_ALERT_SILENCE_H
#define JTM_ALERT_SILENCE_H

#include <stdio.h>

/* jtm-alert silence [-c FILE] [-X k=v] GMxxxx CATEGORY|all --until YYYY-MM-DD --reason TEXT
 * jtm-alert silence [-c FILE] [-X k=v] --list
 * jtm-alert silence [-c FILE] [-X k=v] --lift ID
 * argv[0] is "silence". Returns an exit code. */
int jtm_alert_silence_main(int argc, char **argv, FILE *out, FILE *err);

#endif
