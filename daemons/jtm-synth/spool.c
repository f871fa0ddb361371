#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_RECORDS 128
#define MAX_BUCKETS 256

typedef struct bucket {
    synth_event *buf; /* CHUNK_RECORDS, allocated on first use */
    size_t used;
    off_t *chunks; /* file offsets of full chunks */
    size_t n_chunks, cap_chunks;
} bucket;

struct synth_spool {
    int fd;
    off_t file_end;
    int64_t t0, width;
    int n;
    bucket b[MAX_BUCKETS];
    synth_event *sortbuf;
    size_t sortcap;
};

synth_spool *synth_spool_new(const char *tmpdir, int64_t t0, int64_t t1, char *errstr, size_t errlen)
{
    synth_spool *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    if (!tmpdir || !*tmpdir)
        tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/jtm-synth-XXXXXX", tmpdir);
    s->fd = mkstemp(path);
    if (s->fd < 0) {
        snprintf(errstr, errlen, "cannot create a temporary file in %s: %s", tmpdir, strerror(errno));
        free(s);
        return NULL;
    }
    unlink(path); /* gone when closed, even after a crash */
    const int64_t day = 86400;
    int64_t days = (t1 - t0 + day - 1) / day;
    if (days < 1)
        days = 1;
    int64_t per = (days + MAX_BUCKETS - 1) / MAX_BUCKETS;
    s->t0 = t0;
    s->width = per * day;
    s->n = (int)((days + per - 1) / per);
    return s;
}

static int write_all(int fd, const void *p, size_t n, off_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n, off_t off)
{
    char *c = p;
    while (n) {
        ssize_t r = pread(fd, c, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int synth_spool_add(synth_spool *s, const synth_event *ev, char *errstr, size_t errlen)
{
    int64_t i = (ev->send_at - s->t0) / s->width;
    if (ev->send_at < s->t0)
        i = 0;
    if (i >= s->n)
        i = s->n - 1;
    bucket *b = &s->b[i];
    if (!b->buf && !(b->buf = malloc(CHUNK_RECORDS * sizeof *b->buf))) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    b->buf[b->used++] = *ev;
    if (b->used < CHUNK_RECORDS)
        return 0;
    if (b->n_chunks == b->cap_chunks) {
        size_t cap = b->cap_chunks ? b->cap_chunks * 2 : 16;
        off_t *c = realloc(b->chunks, cap * sizeof *c);
        if (!c) {
            snprintf(errstr, errlen, "out of memory");
            return -1;
        }
        b->chunks = c;
        b->cap_chunks = cap;
    }
    if (write_all(s->fd, b->buf, CHUNK_RECORDS * sizeof *b->buf, s->file_end) != 0) {
        snprintf(errstr, errlen, "writing the temporary file: %s", strerror(errno));
        return -1;
    }
    b->chunks[b->n_chunks++] = s->file_end;
    s->file_end += (off_t)(CHUNK_RECORDS * sizeof *b->buf);
    b->used = 0;
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    const synth_event *x = a, *y = b;
    if (x->send_at != y->send_at)
        return x->send_at < y->send_at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int synth_spool_drain(synth_spool *s, int (*fn)(void *ctx, const synth_event *ev), void *ctx, char *errstr,
                      size_t errlen)
{
    for (int i = 0; i < s->n; i++) {
        bucket *b = &s->b[i];
        size_t n = b->n_chunks * CHUNK_RECORDS + b->used;
        if (n == 0)
            continue;
        if (n > s->sortcap) {
            synth_event *p = realloc(s->sortbuf, n * sizeof *p);
            if (!p) {
                snprintf(errstr, errlen, "out of memory (bucket of %zu events)", n);
                return -1;
            }
            s->sortbuf = p;
            s->sortcap = n;
        }
        for (size_t c = 0; c < b->n_chunks; c++)
            if (read_all(s->fd, s->sortbuf + c * CHUNK_RECORDS, CHUNK_RECORDS * sizeof *s->sortbuf, b->chunks[c]) != 0) {
                snprintf(errstr, errlen, "reading the temporary file: %s", strerror(errno));
                return -1;
            }
        if (b->used)
            memcpy(s->sortbuf + b->n_chunks * CHUNK_RECORDS, b->buf, b->used * sizeof *b->buf);
        qsort(s->sortbuf, n, sizeof *s->sortbuf, cmp_event);
        for (size_t k = 0; k < n; k++) {
            int rc = fn(ctx, &s->sortbuf[k]);
            if (rc)
                return rc;
        }
        free(b->buf);
        free(b->chunks);
        memset(b, 0, sizeof *b);
    }
    return 0;
}

void synth_spool_free(synth_spool *s)
{
    if (!s)
        return;
    for (int i = 0; i < MAX_BUCKETS; i++) {
        free(s->b[i].buf);
        free(s->b[i].chunks);
    }
    free(s->sortbuf);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}
