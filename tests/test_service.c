#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service.h"
#include "testenv.h"

Test(service, no_socket_is_a_noop)
{
    unsetenv("NOTIFY_SOCKET");
    cr_assert_eq(jtm_service_ready("x"), 0);
    cr_assert_eq(jtm_service_stopping(), 0);
}

Test(service, sends_ready_and_watchdog)
{
    char *dir = jtm_test_tmpdir(), path[100];
    snprintf(path, sizeof path, "%s/notify.sock", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    cr_assert_eq(jtm_service_ready("consuming"), 0);
    char buf[256] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0);
    cr_assert(strncmp(buf, "READY=1\nSTATUS=consuming\n", 25) == 0, "%s", buf);
    setenv("WATCHDOG_USEC", "2000000", 1);
    cr_assert(jtm_service_watchdog_enabled());
    jtm_service_watchdog();
    memset(buf, 0, sizeof buf);
    n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_str_eq(buf, "WATCHDOG=1");
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    close(fd);
    unlink(path);
    rmdir(dir);
    free(dir);
}
