#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "suppress.h"

typedef struct pnode {
    char stage[16];
    int depth; /* 0: root, 1: first stage */
    int parent;
    long count;
    bool hidden;
    int graph_node; /* index into the flow's nodes when shown */
    int first_child, next_sibling; /* -1: none */
} pnode;

typedef struct ptree {
    pnode *v;
    size_t n, cap;
} ptree;

/* The child of parent (-1: the root itself) for stage, added when missing. Children are found
 * through the parent's list, so building is linear in the number of path stages. */
static int ptree_add(ptree *t, int parent, const char *stage, size_t len)
{
    if (parent >= 0)
        for (int i = t->v[parent].first_child; i >= 0; i = t->v[i].next_sibling)
            if (strlen(t->v[i].stage) == len && memcmp(t->v[i].stage, stage, len) == 0)
                return i;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = realloc(t->v, t->cap * sizeof *t->v);
        if (!t->v)
            abort();
    }
    pnode *p = &t->v[t->n];
    memset(p, 0, sizeof *p);
    memcpy(p->stage, stage, len);
    p->parent = parent;
    p->depth = parent < 0 ? 0 : t->v[parent].depth + 1;
    p->graph_node = -1;
    p->first_child = -1;
    p->next_sibling = -1;
    if (parent >= 0) { /* append, so children keep the order they were first seen in */
        int *link = &t->v[parent].first_child;
        while (*link >= 0)
            link = &t->v[*link].next_sibling;
        *link = (int)t->n;
    }
    return (int)t->n++;
}

static const char *const stage_order[] = {"JGZ", "VERZUIM", "AMB", "GGZ", "VERBLIJF", "CRISIS", "JB", "JR", "OVERIG"};

static int stage_rank(const char *s)
{
    for (size_t i = 0; i < sizeof stage_order / sizeof stage_order[0]; i++)
        if (strcmp(stage_order[i], s) == 0)
            return (int)i;
    return 100;
}

typedef struct gkey {
    int column;
    const char *stage;
    size_t tree_index; /* first prefix giving this node, for a stable order */
} gkey;

static int cmp_gkey(const void *a, const void *b)
{
    const gkey *x = a, *y = b;
    if (x->column != y->column)
        return x->column - y->column;
    int rx = stage_rank(x->stage), ry = stage_rank(y->stage);
    if (rx != ry)
        return rx - ry;
    return strcmp(x->stage, y->stage);
}

int jtm_flow_build(const rpt_route *routes, size_t n, int threshold, jtm_flow *out)
{
    memset(out, 0, sizeof *out);
    ptree t = {0};
    int rc = -1;
    gkey *keys = NULL;
    ptree_add(&t, -1, "", 0);
    for (size_t r = 0; r < n; r++) {
        const char *p = routes[r].path;
        if (!p || !*p || routes[r].children <= 0)
            continue;
        int at = 0;
        t.v[0].count += routes[r].children;
        for (int depth = 1; *p && depth <= JTM_FLOW_MAX_COLUMNS; depth++) {
            const char *e = strchr(p, '>');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len == 0 || len > 15)
                goto out;
            at = ptree_add(&t, at, p, len);
            t.v[at].count += routes[r].children;
            p = e ? e + 1 : p + len;
        }
    }
    out->total = t.v[0].count;

    /* Suppression top-down: parents come before their children in t.v. */
    long *parts = malloc((t.n ? t.n : 1) * sizeof *parts);
    int *idx = malloc((t.n ? t.n : 1) * sizeof *idx);
    jtm_supp *marks = malloc((t.n ? t.n : 1) * sizeof *marks);
    if (!parts || !idx || !marks)
        abort();
    for (size_t i = 0; i < t.n; i++) {
        if (t.v[i].hidden) {
            for (int j = t.v[i].first_child; j >= 0; j = t.v[j].next_sibling)
                t.v[j].hidden = true;
            continue;
        }
        size_t k = 0;
        for (int j = t.v[i].first_child; j >= 0; j = t.v[j].next_sibling) {
            parts[k] = t.v[j].count;
            idx[k++] = j;
        }
        jtm_supp_line(t.v[i].count, parts, k, threshold, marks);
        for (size_t j = 0; j < k; j++)
            if (marks[j] != JTM_SUPP_SHOWN)
                t.v[idx[j]].hidden = true;
    }
    free(parts);
    free(idx);
    free(marks);

    /* Graph nodes: distinct (column, stage) of shown prefixes. */
    keys = malloc((t.n ? t.n : 1) * sizeof *keys);
    if (!keys)
        abort();
    size_t nk = 0;
    for (size_t i = 1; i < t.n; i++) {
        if (t.v[i].hidden)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nk && !seen; k++)
            seen = keys[k].column == t.v[i].depth - 1 && strcmp(keys[k].stage, t.v[i].stage) == 0;
        if (!seen)
            keys[nk++] = (gkey){t.v[i].depth - 1, t.v[i].stage, i};
    }
    qsort(keys, nk, sizeof *keys, cmp_gkey);
    out->n_nodes = nk;
    out->nodes = calloc(nk ? nk : 1, sizeof *out->nodes);
    out->stages = calloc(nk ? nk : 1, sizeof *out->stages);
    out->node_children = calloc(nk ? nk : 1, sizeof *out->node_children);
    out->links = calloc(t.n ? t.n : 1, sizeof *out->links);
    out->link_children = calloc(t.n ? t.n : 1, sizeof *out->link_children);
    if (!out->nodes || !out->stages || !out->node_children || !out->links || !out->link_children)
        abort();
    for (size_t k = 0; k < nk; k++) {
        out->nodes[k].column = keys[k].column;
        strcpy(out->stages[k], keys[k].stage);
    }
    for (size_t i = 1; i < t.n; i++) {
        if (t.v[i].hidden)
            continue;
        for (size_t k = 0; k < nk; k++)
            if (out->nodes[k].column == t.v[i].depth - 1 && strcmp(out->stages[k], t.v[i].stage) == 0) {
                t.v[i].graph_node = (int)k;
                break;
            }
        int g = t.v[i].graph_node;
        out->node_children[g] += t.v[i].count;
        out->nodes[g].value += (double)t.v[i].count;
        if (t.v[i].depth == 1) {
            out->shown += t.v[i].count;
            continue;
        }
        int src = t.v[t.v[i].parent].graph_node;
        size_t l = 0;
        while (l < out->n_links && !(out->links[l].src == src && out->links[l].dst == g))
            l++;
        if (l == out->n_links) {
            out->links[l].src = src;
            out->links[l].dst = g;
            out->n_links++;
        }
        out->links[l].value += (double)t.v[i].count;
        out->link_children[l] += t.v[i].count;
    }
    rc = 0;
out:
    free(keys);
    free(t.v);
    if (rc != 0)
        jtm_flow_free(out);
    return rc;
}

void jtm_flow_free(jtm_flow *f)
{
    free(f->nodes);
    free(f->links);
    free(f->stages);
    free(f->node_children);
    free(f->link_children);
    memset(f, 0, sizeof *f);
}
