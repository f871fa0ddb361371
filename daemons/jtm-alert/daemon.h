/* The jtm-alert service loop: evaluate on start, on every NOTIFY on listen.channel and every
 * schedule.seconds; send due notices between evaluations; reconnect when PostgreSQL goes away. */
#ifndef JTM_ALERT_DAEMON_H
#define JTM_ALERT_DAEMON_H

#include "conf.h"

/* Runs until jtm_run is cleared. Returns an exit code: 0 after a clean stop, 69 when PostgreSQL is
 * unreachable (or not migrated) at start, 78 on a bad detector setting, 1 on a runtime failure. */
int alert_daemon_run(const alert_config *cfg, const alert_routes *routes, const char *conninfo);

#endif
