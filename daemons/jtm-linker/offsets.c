/* Kafka positions live in PostgreSQL (ops.kafka_offset), written by staging.apply_batch in the batch
 * transaction. Here: reading them, and pointing the consumer at them on assignment and after a
 * PostgreSQL failure. Even a wrong position cannot cause a double apply (apply_batch skips offsets
 * below the stored one); seeking is what prevents gaps after a batch was lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linker.h"
#include "log.h"
#include "pg.h"

int lk_offsets_fetch(PGconn *conn, const char *group, rd_kafka_topic_partition_list_t *parts, char *errstr,
                     size_t errlen)
{
    const char *params[1] = {group};
    PGresult *r = PQexecParams(conn,
                               "SELECT topic, partition, next_offset FROM ops.kafka_offset WHERE consumer_group = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, r, errstr, errlen);
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *topic = PQgetvalue(r, row, 0);
        int32_t partition = (int32_t)atol(PQgetvalue(r, row, 1));
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, topic, partition);
        if (p)
            p->offset = strtoll(PQgetvalue(r, row, 2), NULL, 10);
    }
    PQclear(r);
    return 0;
}

void lk_assignment_pause(rd_kafka_t *rk, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (parts->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(rk, parts);
        else
            rd_kafka_resume_partitions(rk, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

int lk_offsets_resync(rd_kafka_t *rk, PGconn *conn, const char *group, char *errstr, size_t errlen)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(rk, &parts);
    if (err) {
        snprintf(errstr, errlen, "assignment: %s", rd_kafka_err2str(err));
        return -1;
    }
    int rc = 0;
    if (parts->cnt > 0) {
        rc = lk_offsets_fetch(conn, group, parts, errstr, errlen);
        if (rc == 0) {
            rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, parts, 10000);
            if (e) {
                snprintf(errstr, errlen, "seek: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
                rc = -1;
            }
            for (int i = 0; rc == 0 && i < parts->cnt; i++)
                if (parts->elems[i].err) {
                    snprintf(errstr, errlen, "seek %s [%d]: %s", parts->elems[i].topic,
                             (int)parts->elems[i].partition, rd_kafka_err2str(parts->elems[i].err));
                    rc = -1;
                }
            rd_kafka_resume_partitions(rk, parts);
        }
    }
    if (rc == 0)
        log_info("offsets_resync", "partitions=%d", parts->cnt);
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}
