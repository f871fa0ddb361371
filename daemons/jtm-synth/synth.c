/* The run: build the region, simulate every child into the time-bucket spool, then drain the spool
 * in send order through emit.c into the writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "spool.h"
#include "synth.h"
#include "world.h"

typedef struct add_ctx {
    synth_spool *spool;
    char *errstr;
    size_t errlen;
} add_ctx;

static int spool_add(void *ctx, const synth_event *ev)
{
    add_ctx *a = ctx;
    return synth_spool_add(a->spool, ev, a->errstr, a->errlen);
}

typedef struct emit_ctx {
    const synth_world *w;
    const synth_writer *out;
    synth_stats *st;
    char *errstr;
    size_t errlen;
    char buf[SYNTH_EMIT_MAX];
} emit_ctx;

static int emit_one(void *ctx, const synth_event *ev)
{
    emit_ctx *e = ctx;
    char key[96];
    size_t keylen;
    size_t len = synth_emit(e->w, ev, e->buf, key, &keylen);
    synth_stats *st = e->st;
    st->events++;
    st->bytes += len + 1;
    st->by_feed[ev->feed]++;
    if (ev->dirty)
        st->dirty++;
    else {
        st->by_type[ev->type]++;
        st->changed += ev->status == 2;
        st->withdrawn += ev->status == 3;
        st->duplicates += !!(ev->noise & SYNTH_NOISE_DUP);
        st->late += !!(ev->noise & SYNTH_NOISE_LATE);
        st->placeholders += !!(ev->noise & SYNTH_NOISE_PLACEHOLDER);
    }
    return e->out->write(e->out->ctx, ev->feed, key, keylen, e->buf, len, e->errstr, e->errlen);
}

int synth_run(const synth_params *p, const synth_writer *out, synth_stats *stats, char *errstr, size_t errlen)
{
    synth_world w;
    synth_stats local;
    synth_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    if (p->n_munis < 1 || p->children < 1 || p->children > 16000000 || p->years < 1) {
        snprintf(errstr, errlen, "need at least one municipality, 1-16000000 children and one year");
        return -1;
    }
    if (synth_world_init(&w, p, errstr, errlen) != 0)
        return -1;
    int rc = -1;
    emit_ctx *e = NULL;
    /* Late events, corrections and invoices arrive up to about a year after the window. */
    synth_spool *spool = synth_spool_new(p->tmpdir, (int64_t)w.start_day * 86400,
                                         (int64_t)(w.end_day + 400) * 86400, errstr, errlen);
    if (!spool)
        goto out;
    add_ctx a = {spool, errstr, errlen};
    synth_sink sink = {spool_add, &a};
    for (long i = 0; i < p->children; i++)
        if (synth_life_child(&w, (uint32_t)i, &sink) != 0)
            goto out;
    e = malloc(sizeof *e);
    if (!e) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    e->w = &w;
    e->out = out;
    e->st = st;
    e->errstr = errstr;
    e->errlen = errlen;
    if (synth_spool_drain(spool, emit_one, e, errstr, errlen) != 0)
        goto out;
    rc = 0;
out:
    free(e);
    synth_spool_free(spool);
    synth_world_free(&w);
    return rc;
}

void synth_stats_print(const synth_stats *s, FILE *f)
{
    char line[4096];
    int n = snprintf(line, sizeof line, "events=%llu bytes=%llu", s->events, s->bytes);
    for (int feed = 0; feed < SYNTH_FEEDS; feed++) {
        n += snprintf(line + n, sizeof line - (size_t)n, "\n  %s=%llu:", synth_feed_names[feed], s->by_feed[feed]);
        for (int t = 0; t < SYNTH_TYPES; t++)
            if (synth_type_feed[t] == feed)
                n += snprintf(line + n, sizeof line - (size_t)n, " %s=%llu", synth_type_names[t], s->by_type[t]);
    }
    snprintf(line + n, sizeof line - (size_t)n,
             "\n  noise: changed=%llu withdrawn=%llu duplicates=%llu late=%llu dirty=%llu placeholders=%llu\n",
             s->changed, s->withdrawn, s->duplicates, s->late, s->dirty, s->placeholders);
    fputs(line, f);
}
