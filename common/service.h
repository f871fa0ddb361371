/* The systemd service manager protocol (sd_notify): READY=1 once a daemon serves, STOPPING=1 when
 * it begins a clean shutdown, WATCHDOG=1 from the main loop while it makes progress. Without
 * $NOTIFY_SOCKET (not started by systemd) every call is a no-op. Implemented on a datagram socket
 * rather than linking libsystemd: the protocol is a few stable lines, and the daemons then run on
 * machines without systemd (containers, the test suite) with nothing to load. */
#ifndef JTM_SERVICE_H
#define JTM_SERVICE_H

#include <stdbool.h>

/* Sends one notification line (e.g. "READY=1\nSTATUS=consuming"). Returns 0 when sent or when there
 * is no service manager, -1 when sending failed. */
int jtm_service_notify(const char *state);
int jtm_service_ready(const char *status);
int jtm_service_stopping(void);
/* Pets the watchdog when WATCHDOG_USEC is set, at most once per half period; cheap to call often. */
void jtm_service_watchdog(void);
/* True when systemd asked for watchdog pings. */
bool jtm_service_watchdog_enabled(void);

#endif
