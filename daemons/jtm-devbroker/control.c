#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define MAX_CLIENTS 16
#define LINE_MAX_LEN 1024

typedef struct client {
    int fd;
    size_t len;
    char buf[LINE_MAX_LEN];
} client;

struct jtm_control {
    int fd;
    char *path;
    client clients[MAX_CLIENTS];
};

static int fill_addr(struct sockaddr_un *sa, const char *path, char *errstr, size_t errlen)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path) {
        snprintf(errstr, errlen, "control socket path too long (max %zu): %s", sizeof sa->sun_path - 1, path);
        return -1;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return 0;
}

/* A socket file nobody listens on is left by a devbroker that was killed: safe to replace. */
static int remove_stale(const struct sockaddr_un *sa, const char *path, char *errstr, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : (snprintf(errstr, errlen, "%s: %s", path, strerror(errno)), -1);
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(errstr, errlen, "%s exists and is not a socket", path);
        return -1;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(errstr, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int live = connect(s, (const struct sockaddr *)sa, sizeof *sa) == 0;
    close(s);
    if (live) {
        snprintf(errstr, errlen, "%s: another process listens there", path);
        return -1;
    }
    unlink(path);
    return 0;
}

jtm_control *jtm_control_new(const char *path, char *errstr, size_t errlen)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path, errstr, errlen) != 0 || remove_stale(&sa, path, errstr, errlen) != 0)
        return NULL;
    jtm_control *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        snprintf(errstr, errlen, "socket: %s", strerror(errno));
        goto fail;
    }
    mode_t old = umask(077);
    int rc = bind(c->fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(c->fd, 8) != 0) {
        snprintf(errstr, errlen, "cannot listen on %s: %s", path, strerror(errno));
        goto fail;
    }
    return c;
fail:
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->path);
    free(c);
    return NULL;
}

static void drop(client *cl)
{
    close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

static void answer(client *cl, const char *reply)
{
    char out[LINE_MAX_LEN * 2];
    int n = snprintf(out, sizeof out, "%s\n", reply);
    if (n < 0 || (size_t)n >= sizeof out) {
        n = (int)sizeof out - 1;
        out[n - 1] = '\n';
    }
    /* Answers are short and the client waits for them: a blocking-enough send is fine; a client
     * that does not read loses its connection. */
    if (send(cl->fd, out, (size_t)n, MSG_NOSIGNAL) != n)
        drop(cl);
}

/* Reads what is there and answers every complete line. Returns commands served. */
static int serve_client(client *cl, jtm_devbroker *d)
{
    ssize_t r = recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(cl);
        return 0;
    }
    if (r < 0)
        return 0;
    cl->len += (size_t)r;
    int served = 0;
    char *nl;
    while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
        *nl = '\0';
        char reply[LINE_MAX_LEN * 2 - 2], q[LINE_MAX_LEN + 8], qr[LINE_MAX_LEN + 8];
        int rc = jtm_devbroker_command(d, cl->buf, reply, sizeof reply);
        jtm_log(rc == 0 ? JTM_LOG_INFO : JTM_LOG_WARN, "control_command", "cmd=%s reply=%s",
                jtm_log_quote(q, sizeof q, cl->buf), jtm_log_quote(qr, sizeof qr, reply));
        answer(cl, reply);
        served++;
        if (cl->fd < 0)
            break;
        size_t used = (size_t)(nl - cl->buf) + 1;
        memmove(cl->buf, nl + 1, cl->len - used);
        cl->len -= used;
    }
    if (cl->fd >= 0 && cl->len == sizeof cl->buf) {
        answer(cl, "error: line too long");
        if (cl->fd >= 0)
            drop(cl);
    }
    return served;
}

int jtm_control_serve(jtm_control *c, jtm_devbroker *d, int timeout_ms)
{
    struct pollfd pfd[MAX_CLIENTS + 1];
    int idx[MAX_CLIENTS + 1], n = 0;
    pfd[n].fd = c->fd;
    pfd[n].events = POLLIN;
    idx[n++] = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0) {
            pfd[n].fd = c->clients[i].fd;
            pfd[n].events = POLLIN;
            idx[n++] = i;
        }
    int r = poll(pfd, (nfds_t)n, timeout_ms);
    if (r <= 0)
        return 0;
    int served = 0;
    for (int k = 1; k < n; k++)
        if (pfd[k].revents)
            served += serve_client(&c->clients[idx[k]], d);
    if (pfd[0].revents & POLLIN) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            int slot = -1;
            for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
                if (c->clients[i].fd < 0)
                    slot = i;
            if (slot < 0) {
                const char busy[] = "error: too many control connections\n";
                (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
                close(fd);
            } else {
                c->clients[slot].fd = fd;
                c->clients[slot].len = 0;
            }
        }
    }
    return served;
}

void jtm_control_free(jtm_control *c)
{
    if (!c)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            close(c->clients[i].fd);
    if (c->fd >= 0)
        close(c->fd);
    unlink(c->path);
    free(c->path);
    free(c);
}
