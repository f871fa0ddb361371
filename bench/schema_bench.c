/* Parse and validation speed of the feed schemas on fixture events (release build, one core): ns
 * per jtm_jdoc_parse (the flat document jtm-ingest parses into) and per jtm_schema_validate_doc.
 * Build and run from the repository root:
 *   cc -O2 -D_GNU_SOURCE -Icommon bench/schema_bench.c common/schema.c common/jdoc.c common/pattern.c \
 *      common/date.c -ljansson -lm -o /tmp/schema_bench && /tmp/schema_bench [iterations]
 * It reads schemas/<name>.schema.json and the first valid line of each event type in
 * tests/fixtures/schema/<name>.ndjson, and also times jansson's json_loads of the same event for
 * scale. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the box is shared */
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void bench(const char *name, long iters)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "schemas/%s.schema.json", name);
    jtm_schema *s = jtm_schema_load(path, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    snprintf(path, sizeof path, "tests/fixtures/schema/%s.ndjson", name);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    char *line = NULL, seen[1024] = "";
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *c = json_loads(line, 0, NULL);
        json_t *ev = json_object_get(c, "event");
        const char *type = json_string_value(json_object_get(ev, "type"));
        char key[80];
        snprintf(key, sizeof key, "|%s|", type ? type : "");
        if (!c || strcmp(json_string_value(json_object_get(c, "expect")), "valid") || strstr(seen, key)) {
            json_decref(c);
            continue;
        }
        strncat(seen, key, sizeof seen - strlen(seen) - 1);
        char *text = json_dumps(ev, JSON_COMPACT);
        size_t len = strlen(text);
        jtm_jdoc d;
        jtm_jdoc_init(&d);
        double t0 = now_ns();
        for (long i = 0; i < iters; i++)
            if (jtm_jdoc_parse(&d, text, len) != 0)
                abort();
        double t1 = now_ns();
        for (long i = 0; i < iters; i++)
            if (jtm_schema_validate_doc(s, &d, 0, NULL, 0) != 0)
                abort();
        double t2 = now_ns();
        for (long i = 0; i < iters / 4; i++)
            json_decref(json_loads(text, 0, NULL));
        double t3 = now_ns();
        printf("%-15s %-13s parse %5.0f ns  validate %5.0f ns   (json_loads of the same %zu bytes: %6.0f ns)\n",
               name, type, (t1 - t0) / (double)iters, (t2 - t1) / (double)iters, len,
               (t3 - t2) / (double)(iters / 4));
        jtm_jdoc_free(&d);
        free(text);
        json_decref(c);
    }
    free(line);
    fclose(f);
    jtm_schema_free(s);
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    const char *names[] = {"raw.jgz", "raw.verzuim", "raw.soj", "pseudo.jgz", "pseudo.verzuim", "pseudo.soj"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        bench(names[i], iters);
    return 0;
}
