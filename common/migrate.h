/* Schema migrations: numbered SQL files in a folder (0001_core.sql, 0002_..., applied in name
 * order), each run once in its own transaction and recorded in ops.schema_migrations with its
 * checksum. Safe to run twice and from several processes at once (an advisory lock serialises
 * them). A recorded file whose content changed is an error: migrations are append-only. */
#ifndef JTM_MIGRATE_H
#define JTM_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* Applies every migration in dir not yet recorded. applied (may be NULL) gets the number newly
 * applied. Returns the number applied, or -1 with errstr naming the file and the server's error. */
int jtm_migrate(PGconn *conn, const char *dir, int *applied, char *errstr, size_t errlen);

#endif
