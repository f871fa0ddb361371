#include "service.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int jtm_service_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
        return -1;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    close(fd);
    return n == (ssize_t)strlen(state) ? 0 : -1;
}

int jtm_service_ready(const char *status)
{
    char msg[256];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=%s\nMAINPID=%ld", status ? status : "running", (long)getpid());
    return jtm_service_notify(msg);
}

int jtm_service_stopping(void) { return jtm_service_notify("STOPPING=1"); }

static long long watchdog_usec(void)
{
    const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
    if (!u || !*u)
        return 0;
    if (p && *p && atol(p) != (long)getpid())
        return 0;
    return atoll(u);
}

bool jtm_service_watchdog_enabled(void) { return watchdog_usec() > 0; }

void jtm_service_watchdog(void)
{
    static long long last_us;
    long long period = watchdog_usec();
    if (period <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
    if (last_us && now - last_us < period / 2)
        return;
    last_us = now;
    jtm_service_notify("WATCHDOG=1");
}
