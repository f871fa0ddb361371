/* `jtm-alert detect`: the detector on a CSV series, for analysts backtesting thresholds. */
#ifndef JTM_ALERT_DETECT_H
#define JTM_ALERT_DETECT_H

#include <stdio.h>

/* Runs the sub-command: argv[0] is "detect". Reads "t,count" lines from in (an optional header
 * line whose count is not a number; blank lines and '#' comments skipped) and writes
 * "t,count,upperbound,alarm" for every monitored point to out, after a header line. upperbound is
 * printed with 17 significant digits ("NaN" when earsC gives NaN), alarm is 1, 0 or NA.
 * Returns an exit code: 0, 2 (usage), 65 (unusable input). */
int jtm_alert_detect_main(int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
