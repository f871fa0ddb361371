#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "out.h"

#define FILE_BUF (1 << 20)

struct synth_out_file {
    int fd[SYNTH_FEEDS];
    char *buf[SYNTH_FEEDS];
    size_t used[SYNTH_FEEDS];
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_feed(synth_out_file *f, int feed, char *errstr, size_t errlen)
{
    if (f->used[feed] && write_all(f->fd[feed], f->buf[feed], f->used[feed]) != 0) {
        snprintf(errstr, errlen, "writing raw.%s.ndjson: %s", synth_feed_names[feed], strerror(errno));
        return -1;
    }
    f->used[feed] = 0;
    return 0;
}

static int file_write(void *ctx, int feed, const char *key, size_t keylen, const char *json, size_t len,
                      char *errstr, size_t errlen)
{
    synth_out_file *f = ctx;
    if (f->used[feed] + len + 1 > FILE_BUF && flush_feed(f, feed, errstr, errlen) != 0)
        return -1;
    memcpy(f->buf[feed] + f->used[feed], json, len);
    f->used[feed] += len;
    f->buf[feed][f->used[feed]++] = '\n';
    return 0;
}

synth_out_file *synth_out_file_new(const char *dir, char *errstr, size_t errlen)
{
    synth_out_file *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < SYNTH_FEEDS; i++)
        f->fd[i] = -1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errstr, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    for (int i = 0; i < SYNTH_FEEDS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/raw.%s.ndjson", dir, synth_feed_names[i]);
        f->fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f->fd[i] < 0) {
            snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
            goto fail;
        }
        if (!(f->buf[i] = malloc(FILE_BUF))) {
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
    }
    return f;
fail:
    synth_out_file_close(f, NULL, 0);
    return NULL;
}

synth_writer synth_out_file_writer(synth_out_file *f)
{
    synth_writer w = {file_write, f};
    return w;
}

int synth_out_file_close(synth_out_file *f, char *errstr, size_t errlen)
{
    int rc = 0;
    char dummy[8];
    if (!errstr) {
        errstr = dummy;
        errlen = sizeof dummy;
    }
    for (int i = 0; i < SYNTH_FEEDS; i++) {
        if (f->fd[i] >= 0) {
            if (rc == 0 && flush_feed(f, i, errstr, errlen) != 0)
                rc = -1;
            if (close(f->fd[i]) != 0 && rc == 0) {
                snprintf(errstr, errlen, "closing raw.%s.ndjson: %s", synth_feed_names[i], strerror(errno));
                rc = -1;
            }
        }
        free(f->buf[i]);
    }
    free(f);
    return rc;
}
