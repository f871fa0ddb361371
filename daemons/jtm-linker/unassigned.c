#include "unassigned.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "pg.h"

static int code_cmp(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

int lk_unassigned_refresh(lk_unassigned *u, PGconn *conn, long long now_ms, char *errstr, size_t errlen)
{
    if (u->loaded_ms && now_ms - u->loaded_ms < LK_UNASSIGNED_REFRESH_MS)
        return 0;
    /* Inside the batch's transaction: look before reading, a failed statement would abort it. */
    PGresult *r = PQexec(conn, "SELECT to_regclass('ops.municipality') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, r, errstr, errlen);
        PQclear(r);
        return -1;
    }
    bool have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    u->loaded_ms = now_ms;
    u->known = false;
    if (!have) /* a schema from before 0340: nothing to count */
        return 0;
    r = PQexec(conn, "SELECT code FROM ops.municipality");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, r, errstr, errlen);
        PQclear(r);
        return -1;
    }
    size_t n = (size_t)PQntuples(r);
    if (lk_grow((void **)&u->codes, &u->cap, n + 1, sizeof *u->codes) != 0) {
        PQclear(r);
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    u->n = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(u->codes[u->n++], sizeof u->codes[0], "%s", PQgetvalue(r, (int)i, 0));
    PQclear(r);
    qsort(u->codes, u->n, sizeof *u->codes, code_cmp);
    u->known = true;
    return 0;
}

static bool well_formed(const char *c)
{
    if (strlen(c) != 6 || c[0] != 'G' || c[1] != 'M')
        return false;
    for (int i = 2; i < 6; i++)
        if (c[i] < '0' || c[i] > '9')
            return false;
    return true;
}

void lk_unassigned_scan(lk_unassigned *u, const char *copy, size_t len)
{
    if (!u->known)
        return;
    const char *p = copy, *end = copy + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *g = memchr(p, '\t', (size_t)(eol - p));
        if (g) {
            g++;
            const char *ge = memchr(g, '\t', (size_t)(eol - g));
            size_t gl = (size_t)((ge ? ge : eol) - g);
            char code[8] = "";
            bool null = gl == 2 && g[0] == '\\' && g[1] == 'N';
            if (!null && gl < sizeof code)
                memcpy(code, g, gl);
            if (null || gl >= sizeof code || !bsearch(code, u->codes, u->n, sizeof *u->codes, code_cmp)) {
                if (u->rows++ == 0) /* logged: only a well-formed code, as it is */
                    snprintf(u->code, sizeof u->code, "%s", well_formed(code) ? code : "");
            }
        }
        p = eol + 1;
    }
}

long lk_unassigned_take(lk_unassigned *u, char code[8])
{
    long n = u->rows;
    memcpy(code, u->code, sizeof u->code);
    u->rows = 0;
    u->code[0] = '\0';
    return n;
}

void lk_unassigned_free(lk_unassigned *u)
{
    free(u->codes);
    memset(u, 0, sizeof *u);
}
