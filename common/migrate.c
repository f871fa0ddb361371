#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"

#define MIGRATE_LOCK_KEY "7365201"

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_migration_name(const char *n)
{
    size_t len = strlen(n);
    return len > 8 && n[0] >= '0' && n[0] <= '9' && strcmp(n + len - 4, ".sql") == 0;
}

static char *read_file(const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        snprintf(errstr, errlen, "cannot read %s", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void sha256_hex(const char *data, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, strlen(data), md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* Returns 1 when recorded with the same checksum, 0 when not recorded, -1 on error or mismatch. */
static int recorded(PGconn *conn, const char *name, const char *sum, char *errstr, size_t errlen)
{
    const char *params[1] = {name};
    PGresult *r = PQexecParams(conn, "SELECT checksum FROM ops.schema_migrations WHERE name = $1", 1, NULL,
                               params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, r, errstr, errlen);
        PQclear(r);
        return -1;
    }
    int rc = 0;
    if (PQntuples(r) == 1) {
        rc = 1;
        if (strcmp(PQgetvalue(r, 0, 0), sum) != 0) {
            snprintf(errstr, errlen, "migration %s was changed after it was applied (checksum differs)", name);
            rc = -1;
        }
    }
    PQclear(r);
    return rc;
}

int jtm_migrate(PGconn *conn, const char *dir, int *applied, char *errstr, size_t errlen)
{
    int count = 0, rc = -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errstr, errlen, "cannot open migrations folder %s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_migration_name(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            names = realloc(names, cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);

    if (jtm_pg_exec(conn, "SET client_min_messages = warning", errstr, errlen) != 0 ||
        jtm_pg_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", errstr, errlen) != 0)
        goto out;
    if (jtm_pg_exec(conn,
                    "CREATE SCHEMA IF NOT EXISTS ops;"
                    "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                    " name text PRIMARY KEY, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    errstr, errlen) != 0)
        goto unlock;
    for (size_t i = 0; i < n; i++) {
        char path[4096], sum[65], inner[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *sql = read_file(path, errstr, errlen);
        if (!sql)
            goto unlock;
        sha256_hex(sql, sum);
        int have = recorded(conn, names[i], sum, errstr, errlen);
        if (have != 0) {
            free(sql);
            if (have < 0)
                goto unlock;
            continue;
        }
        /* One transaction per file: a failed migration leaves nothing half-applied. */
        if (jtm_pg_exec(conn, "BEGIN", errstr, errlen) != 0) {
            free(sql);
            goto unlock;
        }
        const char *params[2] = {names[i], sum};
        PGresult *r = PQexec(conn, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            jtm_pg_result_error(conn, r, inner, sizeof inner);
            snprintf(errstr, errlen, "migration %s failed: %s", names[i], inner);
            PQclear(r);
            jtm_pg_exec(conn, "ROLLBACK", inner, sizeof inner);
            goto unlock;
        }
        PQclear(r);
        r = PQexecParams(conn, "INSERT INTO ops.schema_migrations(name, checksum) VALUES ($1, $2)", 2, NULL,
                         params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            jtm_pg_result_error(conn, r, errstr, errlen);
            PQclear(r);
            jtm_pg_exec(conn, "ROLLBACK", inner, sizeof inner);
            goto unlock;
        }
        PQclear(r);
        if (jtm_pg_exec(conn, "COMMIT", errstr, errlen) != 0)
            goto unlock;
        log_info("migration_applied", "name=%s", names[i]);
        count++;
    }
    rc = count;
unlock:
    {
        char ignore[256];
        jtm_pg_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", ignore, sizeof ignore);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (applied)
        *applied = rc < 0 ? 0 : count;
    return rc;
}
