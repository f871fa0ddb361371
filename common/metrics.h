/* Process metrics: counters, gauges and fixed-bucket histograms, updated lock-free with C11 atomics
 * (the hot path never takes a lock), rendered as Prometheus text, served over HTTP, and summarised
 * in a periodic stats log line.
 *
 *   jtm_metrics *m = jtm_metrics_new();
 *   jtm_counter *c = jtm_metrics_counter(m, "jtm_ingest_consumed_total", "raw messages read", NULL);
 *   jtm_counter *r = jtm_metrics_counter(m, "jtm_ingest_rejected_total", "rejected raw messages",
 *                                        "reason=\"bsn_invalid\"");
 *   jtm_counter_add(c, 1);                       // any thread, no lock
 *   jtm_metrics_http *h = jtm_metrics_serve(m, "127.0.0.1:9464", health_fn, daemon, err, sizeof err);
 *
 * A series is (name, labels). Registering the same series twice returns the same object, so a
 * caller may look up a series for a label value met at run time (that lookup takes the registry's
 * mutex: keep the result, do not look it up per message). Labels are written in Prometheus syntax
 * without the braces (`reason="x",feed="jgz"`; build values with jtm_metrics_label_escape). A
 * family holds at most JTM_METRICS_MAX_SERIES series; past that, registration returns the family's
 * overflow series (labels `overflow="true"`), so an unexpected label value cannot grow memory
 * without bound. Objects live until jtm_metrics_free. */
#ifndef JTM_METRICS_H
#define JTM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define JTM_METRICS_MAX_SERIES 256

typedef struct jtm_metrics jtm_metrics;
typedef struct jtm_metric jtm_counter;
typedef struct jtm_metric jtm_gauge;
typedef struct jtm_metric jtm_histogram;
typedef struct jtm_metrics_http jtm_metrics_http;

jtm_metrics *jtm_metrics_new(void);
void jtm_metrics_free(jtm_metrics *m); /* stop the HTTP server first */

/* Registration (takes a mutex; returns NULL only when out of memory or when name is reused for a
 * different metric type). name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line; labels: may be NULL. */
jtm_counter *jtm_metrics_counter(jtm_metrics *m, const char *name, const char *help, const char *labels);
jtm_gauge *jtm_metrics_gauge(jtm_metrics *m, const char *name, const char *help, const char *labels);
/* bounds: n strictly increasing upper bounds (the +Inf bucket is implicit); copied. */
jtm_histogram *jtm_metrics_histogram(jtm_metrics *m, const char *name, const char *help, const char *labels,
                                     const double *bounds, size_t n);

/* Updates: lock-free, safe from any thread, NULL metric is a no-op. */
void jtm_counter_add(jtm_counter *c, uint64_t n);
uint64_t jtm_counter_get(const jtm_counter *c);
void jtm_gauge_set(jtm_gauge *g, double v);
void jtm_gauge_add(jtm_gauge *g, double d);
double jtm_gauge_get(const jtm_gauge *g);
void jtm_histogram_observe(jtm_histogram *h, double v);
uint64_t jtm_histogram_count(const jtm_histogram *h);

/* Writes a label value escaped for Prometheus (\\, \", \n) into buf (truncated to fit). Returns buf. */
const char *jtm_metrics_label_escape(char *buf, size_t len, const char *value);

/* The Prometheus text exposition (format 0.0.4) of every series, families in registration order.
 * Returns a malloc'd string (caller frees) and its length in *len (may be NULL); NULL when out of
 * memory. */
char *jtm_metrics_render(jtm_metrics *m, size_t *len);

/* The key=value fields of a stats log line: every counter and gauge whose name starts with prefix
 * (NULL: all), the prefix stripped and a trailing "_total" dropped, labelled series written as
 * name{labels} folded to name.value (rejected.bsn_invalid=3): "consumed=10 published=9
 * rejected.bsn_invalid=1". A gauge with more than 8 labelled series (lag per partition) gives
 * name.sum and name.max instead. Histograms give name.count and name.p50 / name.p99 (bucket upper
 * bounds). Writes at most len bytes with NUL; returns buf. */
char *jtm_metrics_log_line(jtm_metrics *m, const char *prefix, char *buf, size_t len);

/* Health for /healthz: return 0 when healthy, else non-zero with a short reason in reason. Called
 * on the HTTP thread: it must only read atomics or other thread-safe state. */
typedef int (*jtm_metrics_health_fn)(void *opaque, char *reason, size_t len);

/* Serves GET /metrics (text/plain; version=0.0.4) and GET /healthz ("ok" 200, or the reason with
 * 503; 200 "ok" when health is NULL) on listen, "host:port" or "[v6]:port" (port 0: any free port;
 * see jtm_metrics_http_port). One internal thread, plain HTTP: bind to loopback or an internal
 * network. Returns NULL with errstr. */
jtm_metrics_http *jtm_metrics_serve(jtm_metrics *m, const char *listen, jtm_metrics_health_fn health,
                                    void *opaque, char *errstr, size_t errlen);
int jtm_metrics_http_port(const jtm_metrics_http *h);
void jtm_metrics_http_stop(jtm_metrics_http *h); /* NULL is fine */

#endif
