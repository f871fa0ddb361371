#include "report.h"

#include <stdlib.h>
#include <string.h>

void jtm_report_free(jtm_report *r)
{
    if (!r)
        return;
    free(r->gemeente);
    for (size_t i = 0; i < r->n_routes; i++)
        free(r->routes[i].path);
    free(r->routes);
    for (size_t i = 0; i < r->n_waiting; i++)
        free(r->waiting[i].weeks);
    free(r->waiting);
    free(r->decision);
    free(r->start);
    free(r->indicators);
    free(r->population);
    memset(r, 0, sizeof *r);
}
