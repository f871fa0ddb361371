#include "reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct jtm_reaper {
    rd_kafka_message_t **ring;
    size_t cap;
    _Atomic size_t head; /* next to destroy (reaper thread) */
    _Atomic size_t tail; /* next free slot (putting thread) */
    atomic_bool stop;
    pthread_t thread;
};

static void pause_briefly(void)
{
    struct timespec ts = {0, 1000 * 1000}; /* 1 ms: at 200,000 events/s about 200 messages */
    nanosleep(&ts, NULL);
}

static void *reaper_main(void *arg)
{
    jtm_reaper *r = arg;
    for (;;) {
        size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
        size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == tail) {
            if (atomic_load(&r->stop))
                return NULL;
            pause_briefly();
            continue;
        }
        for (; head != tail; head++)
            rd_kafka_message_destroy(r->ring[head % r->cap]);
        atomic_store_explicit(&r->head, head, memory_order_release);
    }
}

jtm_reaper *jtm_reaper_new(size_t cap)
{
    jtm_reaper *r = calloc(1, sizeof *r);
    if (!r || cap == 0 || !(r->ring = calloc(cap, sizeof *r->ring))) {
        free(r);
        return NULL;
    }
    r->cap = cap;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->stop, false);
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        free(r->ring);
        free(r);
        return NULL;
    }
    return r;
}

void jtm_reaper_put(jtm_reaper *r, rd_kafka_message_t *m)
{
    if (!r) {
        rd_kafka_message_destroy(m);
        return;
    }
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail - atomic_load_explicit(&r->head, memory_order_acquire) >= r->cap) {
        rd_kafka_message_destroy(m); /* full: the reaper is behind, do it here */
        return;
    }
    r->ring[tail % r->cap] = m;
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

void jtm_reaper_drain(jtm_reaper *r)
{
    if (!r)
        return;
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    while (atomic_load_explicit(&r->head, memory_order_acquire) != tail)
        pause_briefly();
}

void jtm_reaper_free(jtm_reaper *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    free(r->ring);
    free(r);
}
