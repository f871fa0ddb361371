/* The development broker: librdkafka's mock cluster (rdkafka_mock.h) with jtm's topics, plus the
 * fault-injection commands the control socket and the signals drive.
 *
 * What the mock of librdkafka 2.0.2 can and cannot do (checked against its source and by
 * tests/it_devbroker.c):
 * - Listens on 127.0.0.1 only, on ports the kernel picks: the mock has no way to choose a port.
 * - Keeps data in memory; each partition keeps only its last 5 MiB or 100,000 message sets
 *   (JTM_DEVBROKER_RETAIN_*), older ones are pruned silently. Not configurable.
 * - Auto-creates a topic that a producer names (clients with allow.auto.create.topics=true, the
 *   producer default), always with 4 partitions: the mock's default is fixed and not reachable
 *   through its API, so --partitions applies only to the topics created at start-up and by the
 *   "create" command. Consumers (allow.auto.create.topics=false) do not create topics.
 * - Brokers can be taken down (connections closed, new ones refused) and up again on the same
 *   port; request errors can be queued per API; a round-trip time can be added per broker. It never
 *   moves a partition's leadership by itself (a down leader's partitions stall until it is up or
 *   the "leader" command moves them).
 * - Consumer groups with eager and cooperative (cooperative-sticky) assignment, offset commits,
 *   idempotent producers (duplicates of a retried batch are acknowledged, not written).
 * - Group quirks: the first join waits 3 s; a group whose last member left stays "joining" for
 *   session.timeout.ms - 1 s (44 s with librdkafka's default) before a new member gets partitions,
 *   so tests that restart a consumer set kafka.session.timeout.ms=6000; offset commits during a
 *   rebalance are refused (REBALANCE_IN_PROGRESS), so a partition that moves between live members
 *   is re-read from its last commit: count distinct events, not messages. */
#ifndef JTM_DEVBROKER_H
#define JTM_DEVBROKER_H

#include <stddef.h>

#include "config.h"

#define JTM_DEVBROKER_RETAIN_BYTES (5 * 1024 * 1024) /* per partition, in the mock's source */
#define JTM_DEVBROKER_RETAIN_SETS 100000             /* message sets (batches) per partition */
#define JTM_DEVBROKER_AUTO_PARTITIONS 4              /* partitions of an auto-created topic */
#define JTM_DEVBROKER_MAX_BROKERS 64

typedef struct jtm_devbroker jtm_devbroker;

/* Starts a mock cluster of `brokers` brokers on loopback and creates each topic of the
 * comma-separated list `topics` (an entry "name:P" overrides `partitions` for that topic).
 * kafka: pass-through keys for the handle that owns the cluster (kafka.debug=mock, ...; may be
 * NULL). Returns NULL with errstr when the list is bad or the cluster cannot start. */
jtm_devbroker *jtm_devbroker_new(int brokers, int partitions, const char *topics, const jtm_kvlist *kafka,
                                 char *errstr, size_t errlen);
/* Checks a topic list as jtm_devbroker_new would, without starting anything: lets the caller tell
 * a configuration error from a start-up failure. Returns 0, or -1 with errstr. */
int jtm_devbroker_topics_check(const char *topics, int partitions, char *errstr, size_t errlen);
/* "127.0.0.1:port,..." (owned by d). */
const char *jtm_devbroker_bootstrap(const jtm_devbroker *d);
int jtm_devbroker_topic_count(const jtm_devbroker *d);
/* A metadata round trip through the brokers' listeners that finds every start-up topic with its
 * partitions: the cluster serves. Returns 0, or -1 with errstr. */
int jtm_devbroker_check(jtm_devbroker *d, int timeout_ms, char *errstr, size_t errlen);
/* Takes broker_id (1..brokers, or -1 for all) down (up = 0) or up. Returns 0, or -1 with errstr. */
int jtm_devbroker_set_up(jtm_devbroker *d, int broker_id, int up, char *errstr, size_t errlen);
/* Runs one control command line (see jtm_devbroker_help) and writes a one-line answer to reply:
 * "ok[ details]" or "error: reason". Returns 0 when the answer is ok, -1 otherwise. */
int jtm_devbroker_command(jtm_devbroker *d, const char *line, char *reply, size_t replylen);
/* One line listing the commands. */
const char *jtm_devbroker_help(void);
/* Stops the cluster (all data is gone) and frees d. NULL is fine. */
void jtm_devbroker_free(jtm_devbroker *d);

/* Writes s plus a newline to path atomically (temporary file in the same folder, fsync, rename):
 * a reader sees no file or the whole line. Returns 0, or -1 with errstr. */
int jtm_devbroker_write_file(const char *path, const char *s, char *errstr, size_t errlen);

#endif
