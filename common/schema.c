/* JSON Schema (draft 7 subset) compiled to a node tree; see schema.h for what is supported and
 * the order in which errors are reported. Layout: compilation, then validation. Patterns are
 * common/pattern.c. */
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "hex.h"
#include "pattern.h"

/* ---------------------------------------------------------------------------------------------
 * Compiled schema
 * ------------------------------------------------------------------------------------------- */

enum {
    T_NULL = 1 << 0,
    T_BOOL = 1 << 1,
    T_OBJECT = 1 << 2,
    T_ARRAY = 1 << 3,
    T_NUMBER = 1 << 4,
    T_STRING = 1 << 5,
    T_INTEGER = 1 << 6,
};

enum { FMT_NONE, FMT_DATE, FMT_DATETIME };
enum { ADDL_ANY, ADDL_FALSE, ADDL_SCHEMA };

/* Objects with at most this many named properties look their properties up in one pass over the
 * instance (a stack array of values); larger ones use json_object_getn per property. */
#define FAST_PROPS 64

typedef struct node node;

typedef struct {
    char *name;
    size_t len;
    node *schema; /* NULL: named only in "required" (does not count for additionalProperties) */
    bool required;
} prop;

typedef struct {
    jtm_pattern *rx;
    node *schema;
} patprop;

typedef struct {
    node **v;
    size_t n;
} node_list;

struct node {
    int boolean; /* -1: an object schema, 0: false, 1: true */
    node *ref;
    unsigned types;
    json_t *konst;
    json_t **enums;
    size_t nenums;
    bool enum_strings; /* every enum value is a string */
    long minlen, maxlen; /* -1: absent */
    jtm_pattern *pattern;
    int format;
    bool has_min, has_max, has_xmin, has_xmax, has_mult;
    double min, max, xmin, xmax, mult;
    prop *props;
    size_t nprops;
    uint16_t *htab; /* open addressing over props by name, index + 1, size hmask + 1 */
    size_t hmask;
    bool any_required;
    patprop *pprops;
    size_t npprops;
    int addl_kind;
    node *addl;
    long minitems, maxitems;
    node *items;      /* schema form */
    node_list tuple;  /* array form */
    bool items_array;
    int addl_items_kind;
    node *addl_items;
    node_list all_of, any_of, one_of;
    node *not_, *if_, *then_, *else_;
    /* The schema is exactly {"properties": {P: {"const": C}}, "required": [P]}, the usual test of
     * an if/then per event type: validated as "an object's P equals C" without the general walk
     * (same result and reasons). test_prop is P (points into props), test_const is C. */
    const prop *test_prop;
    json_t *test_const;
    bool is_object_node; /* has any object keyword */
    bool is_array_node;
};

typedef struct {
    json_t *key;
    node *n;
} memo;

struct jtm_schema {
    node **nodes; /* every node, for jtm_schema_free */
    size_t nnodes, capnodes;
    node *root;
};

typedef struct {
    jtm_schema *s;
    json_t *doc;
    memo *memo;
    size_t nmemo, capmemo;
    char *errstr;
    size_t errlen;
} compiler;

static node *compile_node(compiler *c, json_t *j);

static int cerr(compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cerr(compiler *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->errstr && c->errlen)
        vsnprintf(c->errstr, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Cheap on purpose: the length and three characters pick the slot; the table is at least twice
 * the number of names, and a full compare confirms. */
static inline uint32_t name_hash(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    uint32_t h = (uint32_t)len * 0x9E3779B1u;
    h ^= (unsigned char)s[0] * 0x85EBCA77u;
    h ^= (unsigned char)s[len / 2] * 0xC2B2AE3Du;
    h ^= (unsigned char)s[len - 1] * 0x27D4EB2Fu;
    return h ^ (h >> 15);
}

/* Index of the property called key, or -1. */
static int prop_find(const node *n, const char *key, size_t len)
{
    if (!n->htab)
        return -1;
    size_t i = name_hash(key, len) & n->hmask;
    for (;;) {
        uint16_t e = n->htab[i];
        if (e == 0)
            return -1;
        const prop *p = &n->props[e - 1];
        if (p->len == len && memcmp(p->name, key, len) == 0)
            return e - 1;
        i = (i + 1) & n->hmask;
    }
}

static int build_htab(compiler *c, node *n)
{
    size_t size = 8;
    while (size < n->nprops * 2)
        size *= 2;
    if (n->nprops > 30000)
        return cerr(c, "too many properties");
    n->htab = calloc(size, sizeof *n->htab);
    if (!n->htab)
        return cerr(c, "out of memory");
    n->hmask = size - 1;
    for (size_t k = 0; k < n->nprops; k++) {
        size_t i = name_hash(n->props[k].name, n->props[k].len) & n->hmask;
        while (n->htab[i])
            i = (i + 1) & n->hmask;
        n->htab[i] = (uint16_t)(k + 1);
    }
    return 0;
}

static int type_bit(const char *t)
{
    static const struct {
        const char *name;
        int bit;
    } names[] = {{"null", T_NULL},     {"boolean", T_BOOL},  {"object", T_OBJECT}, {"array", T_ARRAY},
                 {"number", T_NUMBER}, {"string", T_STRING}, {"integer", T_INTEGER}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i].name) == 0)
            return names[i].bit;
    return 0;
}

static int get_count(compiler *c, json_t *j, const char *kw, long *out)
{
    json_t *v = json_object_get(j, kw);
    *out = -1;
    if (!v)
        return 0;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d) || d > 1e15)
        return cerr(c, "%s must be a non-negative integer", kw);
    *out = (long)d;
    return 0;
}

static int get_number(compiler *c, json_t *j, const char *kw, bool *has, double *out)
{
    json_t *v = json_object_get(j, kw);
    *has = v != NULL;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return cerr(c, "%s must be a number", kw);
    *out = json_number_value(v);
    return 0;
}

static int compile_list(compiler *c, json_t *j, const char *kw, node_list *out)
{
    json_t *v = json_object_get(j, kw);
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cerr(c, "%s must be a non-empty array", kw);
    out->v = calloc(json_array_size(v), sizeof *out->v);
    if (!out->v)
        return cerr(c, "out of memory");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!(out->v[i] = compile_node(c, e)))
            return -1;
        out->n = i + 1;
    }
    return 0;
}

static int compile_sub(compiler *c, json_t *j, const char *kw, node **out)
{
    json_t *v = json_object_get(j, kw);
    if (!v)
        return 0;
    return (*out = compile_node(c, v)) ? 0 : -1;
}

/* Resolves "#<json pointer>" (URI-escaped) in the document being compiled. */
static json_t *resolve_ref(compiler *c, const char *ref)
{
    if (ref[0] != '#') {
        cerr(c, "$ref \"%s\": only references inside the document (#...) are supported", ref);
        return NULL;
    }
    json_t *cur = c->doc;
    const char *p = ref + 1;
    if (*p == '\0')
        return cur;
    if (*p != '/') {
        cerr(c, "$ref \"%s\": not a JSON pointer", ref);
        return NULL;
    }
    char tok[256];
    while (*p == '/') {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '%' && jtm_hexval(p[0]) >= 0 && jtm_hexval(p[1]) >= 0) {
                ch = (char)(jtm_hexval(p[0]) * 16 + jtm_hexval(p[1]));
                p += 2;
            }
            if (ch == '~' && (*p == '0' || *p == '1'))
                ch = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof tok) {
                cerr(c, "$ref \"%s\": segment too long", ref);
                return NULL;
            }
            tok[n++] = ch;
        }
        tok[n] = '\0';
        if (json_is_object(cur))
            cur = json_object_getn(cur, tok, n);
        else if (json_is_array(cur)) {
            char *e;
            errno = 0;
            unsigned long idx = strtoul(tok, &e, 10);
            cur = n && !*e && !errno ? json_array_get(cur, idx) : NULL;
        } else
            cur = NULL;
        if (!cur) {
            cerr(c, "$ref \"%s\" does not resolve", ref);
            return NULL;
        }
    }
    return cur;
}

static node *new_node(compiler *c, json_t *key)
{
    jtm_schema *s = c->s;
    if (s->nnodes == s->capnodes) {
        size_t cap = s->capnodes ? s->capnodes * 2 : 32;
        node **nn = realloc(s->nodes, cap * sizeof *nn);
        if (!nn)
            return NULL;
        s->nodes = nn;
        s->capnodes = cap;
    }
    if (c->nmemo == c->capmemo) {
        size_t cap = c->capmemo ? c->capmemo * 2 : 32;
        memo *nm = realloc(c->memo, cap * sizeof *nm);
        if (!nm)
            return NULL;
        c->memo = nm;
        c->capmemo = cap;
    }
    node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->boolean = -1;
    n->minlen = n->maxlen = n->minitems = n->maxitems = -1;
    s->nodes[s->nnodes++] = n;
    c->memo[c->nmemo].key = key;
    c->memo[c->nmemo].n = n;
    c->nmemo++;
    return n;
}

static int compile_object_keywords(compiler *c, json_t *j, node *n)
{
    json_t *props = json_object_get(j, "properties"), *req = json_object_get(j, "required");
    if (props && !json_is_object(props))
        return cerr(c, "properties must be an object");
    if (req && !json_is_array(req))
        return cerr(c, "required must be an array");
    size_t cap = (props ? json_object_size(props) : 0) + (req ? json_array_size(req) : 0);
    if (cap) {
        n->props = calloc(cap, sizeof *n->props);
        if (!n->props)
            return cerr(c, "out of memory");
    }
    if (props) {
        void *it;
        for (it = json_object_iter(props); it; it = json_object_iter_next(props, it)) {
            prop *p = &n->props[n->nprops];
            p->len = json_object_iter_key_len(it);
            p->name = malloc(p->len + 1);
            if (!p->name)
                return cerr(c, "out of memory");
            memcpy(p->name, json_object_iter_key(it), p->len + 1);
            n->nprops++;
            if (!(p->schema = compile_node(c, json_object_iter_value(it))))
                return -1;
        }
    }
    if (req) {
        size_t i;
        json_t *e;
        json_array_foreach(req, i, e)
        {
            if (!json_is_string(e))
                return cerr(c, "required must hold strings");
            const char *name = json_string_value(e);
            size_t len = json_string_length(e), k;
            for (k = 0; k < n->nprops; k++)
                if (n->props[k].len == len && memcmp(n->props[k].name, name, len) == 0)
                    break;
            if (k == n->nprops) {
                prop *p = &n->props[n->nprops++];
                p->len = len;
                p->name = malloc(len + 1);
                if (!p->name)
                    return cerr(c, "out of memory");
                memcpy(p->name, name, len + 1);
            }
            n->props[k].required = true;
            n->any_required = true;
        }
    }
    if (n->nprops && build_htab(c, n))
        return -1;

    json_t *pp = json_object_get(j, "patternProperties");
    if (pp) {
        if (!json_is_object(pp))
            return cerr(c, "patternProperties must be an object");
        n->pprops = calloc(json_object_size(pp) + 1, sizeof *n->pprops);
        if (!n->pprops)
            return cerr(c, "out of memory");
        void *it;
        for (it = json_object_iter(pp); it; it = json_object_iter_next(pp, it)) {
            patprop *p = &n->pprops[n->npprops];
            char err[160];
            p->rx = jtm_pattern_compile(json_object_iter_key(it), json_object_iter_key_len(it), err, sizeof err);
            if (!p->rx)
                return cerr(c, "patternProperties \"%s\": %s", json_object_iter_key(it), err);
            n->npprops++;
            if (!(p->schema = compile_node(c, json_object_iter_value(it))))
                return -1;
        }
    }
    json_t *ap = json_object_get(j, "additionalProperties");
    if (ap) {
        if (json_is_false(ap))
            n->addl_kind = ADDL_FALSE;
        else if (!json_is_true(ap)) {
            n->addl_kind = ADDL_SCHEMA;
            if (!(n->addl = compile_node(c, ap)))
                return -1;
        }
    }
    n->is_object_node = n->nprops || n->npprops || n->addl_kind != ADDL_ANY;
    return 0;
}

static int compile_array_keywords(compiler *c, json_t *j, node *n)
{
    if (get_count(c, j, "minItems", &n->minitems) || get_count(c, j, "maxItems", &n->maxitems))
        return -1;
    json_t *items = json_object_get(j, "items");
    if (items && json_is_array(items)) {
        n->items_array = true;
        if (json_array_size(items)) {
            n->tuple.v = calloc(json_array_size(items), sizeof *n->tuple.v);
            if (!n->tuple.v)
                return cerr(c, "out of memory");
        }
        size_t i;
        json_t *e;
        json_array_foreach(items, i, e)
        {
            if (!(n->tuple.v[i] = compile_node(c, e)))
                return -1;
            n->tuple.n = i + 1;
        }
        json_t *ai = json_object_get(j, "additionalItems");
        if (ai && json_is_false(ai))
            n->addl_items_kind = ADDL_FALSE;
        else if (ai && !json_is_true(ai)) {
            n->addl_items_kind = ADDL_SCHEMA;
            if (!(n->addl_items = compile_node(c, ai)))
                return -1;
        }
    } else if (items && compile_sub(c, j, "items", &n->items)) {
        return -1;
    }
    n->is_array_node = n->minitems >= 0 || n->maxitems >= 0 || items;
    return 0;
}

/* Keys of an object other than "$comment", at most max of them into names; -1 when more. */
static int schema_keys(json_t *j, const char **names, int max)
{
    int n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "$comment") == 0)
            continue;
        if (n == max)
            return -1;
        names[n++] = k;
    }
    return n;
}

/* Sets n->test_prop / test_const when j is {"properties": {P: {"const": C}}, "required": [P]}. */
static void detect_const_test(json_t *j, node *n)
{
    const char *keys[2];
    if (schema_keys(j, keys, 2) != 2 || n->nprops != 1 || !n->props[0].required || !n->props[0].schema)
        return;
    json_t *props = json_object_get(j, "properties"), *req = json_object_get(j, "required");
    if (!json_is_object(props) || !json_is_array(req) || json_array_size(req) != 1)
        return;
    const char *pk[1];
    json_t *sub = json_object_getn(props, n->props[0].name, n->props[0].len);
    if (!json_is_object(sub) || schema_keys(sub, pk, 1) != 1 || strcmp(pk[0], "const") != 0)
        return;
    const node *ps = n->props[0].schema;
    if (ps->ref || ps->boolean >= 0 || !ps->konst)
        return;
    n->test_prop = &n->props[0];
    n->test_const = ps->konst;
}

static node *compile_node(compiler *c, json_t *j)
{
    for (size_t i = 0; i < c->nmemo; i++)
        if (c->memo[i].key == j)
            return c->memo[i].n;
    node *n = new_node(c, j);
    if (!n) {
        cerr(c, "out of memory");
        return NULL;
    }
    if (json_is_boolean(j)) {
        n->boolean = json_is_true(j);
        return n;
    }
    if (!json_is_object(j)) {
        cerr(c, "a schema must be an object or a boolean");
        return NULL;
    }

    json_t *v = json_object_get(j, "$ref");
    if (v && json_is_string(v)) {
        json_t *target = resolve_ref(c, json_string_value(v));
        if (!target || !(n->ref = compile_node(c, target)))
            return NULL;
        return n; /* draft 7: $ref replaces its siblings */
    }

    if ((v = json_object_get(j, "type"))) {
        if (json_is_string(v)) {
            n->types = (unsigned)type_bit(json_string_value(v));
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                int bit = json_is_string(e) ? type_bit(json_string_value(e)) : 0;
                if (!bit) {
                    cerr(c, "type: unknown type name");
                    return NULL;
                }
                n->types |= (unsigned)bit;
            }
        }
        if (!n->types) {
            cerr(c, "type: must be a type name or an array of them");
            return NULL;
        }
        if (n->types & T_NUMBER)
            n->types |= T_INTEGER;
    }
    if ((v = json_object_get(j, "const")) && !(n->konst = json_deep_copy(v))) {
        cerr(c, "out of memory");
        return NULL;
    }
    if ((v = json_object_get(j, "enum"))) {
        if (!json_is_array(v)) {
            cerr(c, "enum must be an array");
            return NULL;
        }
        n->enums = calloc(json_array_size(v) + 1, sizeof *n->enums);
        if (!n->enums) {
            cerr(c, "out of memory");
            return NULL;
        }
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!(n->enums[i] = json_deep_copy(e))) {
                cerr(c, "out of memory");
                return NULL;
            }
            n->nenums = i + 1;
        }
        if (n->nenums == 0)
            n->enums[0] = NULL; /* an empty enum accepts nothing */
        n->enum_strings = true;
        for (size_t k = 0; k < n->nenums; k++)
            n->enum_strings = n->enum_strings && json_is_string(n->enums[k]);
    }
    if (get_count(c, j, "minLength", &n->minlen) || get_count(c, j, "maxLength", &n->maxlen))
        return NULL;
    if ((v = json_object_get(j, "pattern"))) {
        char err[160];
        if (!json_is_string(v)) {
            cerr(c, "pattern must be a string");
            return NULL;
        }
        if (!(n->pattern = jtm_pattern_compile(json_string_value(v), json_string_length(v), err, sizeof err))) {
            cerr(c, "pattern \"%s\": %s", json_string_value(v), err);
            return NULL;
        }
    }
    if ((v = json_object_get(j, "format")) && json_is_string(v)) {
        if (strcmp(json_string_value(v), "date") == 0)
            n->format = FMT_DATE;
        else if (strcmp(json_string_value(v), "date-time") == 0)
            n->format = FMT_DATETIME;
    }
    if (get_number(c, j, "minimum", &n->has_min, &n->min) || get_number(c, j, "maximum", &n->has_max, &n->max) ||
        get_number(c, j, "exclusiveMinimum", &n->has_xmin, &n->xmin) ||
        get_number(c, j, "exclusiveMaximum", &n->has_xmax, &n->xmax) ||
        get_number(c, j, "multipleOf", &n->has_mult, &n->mult))
        return NULL;
    if (n->has_mult && !(n->mult > 0)) {
        cerr(c, "multipleOf must be greater than 0");
        return NULL;
    }
    if (compile_object_keywords(c, j, n) || compile_array_keywords(c, j, n))
        return NULL;
    if (compile_list(c, j, "allOf", &n->all_of) || compile_list(c, j, "anyOf", &n->any_of) ||
        compile_list(c, j, "oneOf", &n->one_of) || compile_sub(c, j, "not", &n->not_) ||
        compile_sub(c, j, "if", &n->if_))
        return NULL;
    if (n->if_ && (compile_sub(c, j, "then", &n->then_) || compile_sub(c, j, "else", &n->else_)))
        return NULL;
    detect_const_test(j, n);
    return n;
}

static void node_free(node *n)
{
    for (size_t i = 0; i < n->nprops; i++)
        free(n->props[i].name);
    free(n->props);
    free(n->htab);
    for (size_t i = 0; i < n->npprops; i++)
        jtm_pattern_free(n->pprops[i].rx);
    free(n->pprops);
    jtm_pattern_free(n->pattern);
    json_decref(n->konst);
    for (size_t i = 0; i < n->nenums; i++)
        json_decref(n->enums[i]);
    free(n->enums);
    free(n->tuple.v);
    free(n->all_of.v);
    free(n->any_of.v);
    free(n->one_of.v);
    free(n);
}

void jtm_schema_free(jtm_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        node_free(s->nodes[i]);
    free(s->nodes);
    free(s);
}

jtm_schema *jtm_schema_compile(json_t *doc, char *errstr, size_t errlen)
{
    compiler c = {.doc = doc, .errstr = errstr, .errlen = errlen};
    if (!doc) {
        cerr(&c, "no schema document");
        return NULL;
    }
    c.s = calloc(1, sizeof *c.s);
    if (!c.s) {
        cerr(&c, "out of memory");
        return NULL;
    }
    c.s->root = compile_node(&c, doc);
    free(c.memo);
    if (!c.s->root) {
        jtm_schema_free(c.s);
        return NULL;
    }
    return c.s;
}

jtm_schema *jtm_schema_load(const char *path, char *errstr, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(errstr, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return NULL;
    }
    char err[256];
    jtm_schema *s = jtm_schema_compile(doc, err, sizeof err);
    if (!s)
        snprintf(errstr, errlen, "%s: %s", path, err);
    json_decref(doc);
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */

/* The instance path, one frame per level on the C stack. */
typedef struct vpath {
    const struct vpath *up;
    const char *key; /* NULL: an array index */
    size_t len;      /* key length or index */
} vpath;

typedef struct {
    char *reason; /* NULL: quiet (inside anyOf, oneOf, not, if) */
    size_t reasonlen;
} vout;

static int fail(const vout *o, const char *kind, const vpath *p, const char *key, size_t keylen)
{
    if (!o->reason || !o->reasonlen)
        return -1;
    const vpath *seg[JTM_SCHEMA_MAX_DEPTH * 2 + 4];
    size_t n = 0;
    for (const vpath *q = p; q && n < sizeof seg / sizeof seg[0]; q = q->up)
        seg[n++] = q;
    char *out = o->reason;
    size_t cap = o->reasonlen, w = 0;
#define PUT(...)                                                                                    \
    do {                                                                                            \
        int r_ = snprintf(out + w, cap - w, __VA_ARGS__);                                           \
        if (r_ < 0 || (size_t)r_ >= cap - w)                                                        \
            return -1;                                                                              \
        w += (size_t)r_;                                                                            \
    } while (0)
    PUT("schema:%s:", kind);
    size_t start = w;
    while (n--) {
        const vpath *q = seg[n];
        if (q->key)
            PUT("%s%.*s", w == start ? "" : ".", (int)q->len, q->key);
        else
            PUT("[%zu]", q->len);
    }
    if (key)
        PUT("%s%.*s", w == start ? "" : ".", (int)keylen, key);
    if (w == start)
        PUT("$");
#undef PUT
    return -1;
}

/* JSON Schema equality of a schema value (const, enum) and an instance node: numbers by value,
 * objects regardless of key order. */
static bool jequal(json_t *a, const jtm_jdoc *d, uint32_t i)
{
    const jtm_jnode *b = &d->nodes[i];
    if (json_is_number(a) && (b->type == JTM_J_INT || b->type == JTM_J_REAL)) {
        if (json_is_integer(a) && b->type == JTM_J_INT)
            return json_integer_value(a) == b->v.i;
        return json_number_value(a) == (b->type == JTM_J_INT ? (double)b->v.i : b->v.d);
    }
    switch (json_typeof(a)) {
    case JSON_STRING:
        return b->type == JTM_J_STRING && json_string_length(a) == b->v.str.n &&
               memcmp(json_string_value(a), b->v.str.s, b->v.str.n) == 0;
    case JSON_ARRAY: {
        if (b->type != JTM_J_ARRAY || json_array_size(a) != b->count)
            return false;
        size_t k = 0;
        for (uint32_t c = i + 1; c < b->end; c = d->nodes[c].end, k++)
            if (!jequal(json_array_get(a, k), d, c))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (b->type != JTM_J_OBJECT || json_object_size(a) != b->count)
            return false;
        for (uint32_t c = i + 1; c < b->end; c = d->nodes[c].end) {
            json_t *o = json_object_getn(a, d->nodes[c].key, d->nodes[c].klen);
            if (!o || !jequal(o, d, c))
                return false;
        }
        return true;
    }
    case JSON_TRUE: return b->type == JTM_J_TRUE;
    case JSON_FALSE: return b->type == JTM_J_FALSE;
    case JSON_NULL: return b->type == JTM_J_NULL;
    default: return false;
    }
}

static unsigned inst_type(const jtm_jnode *j)
{
    switch ((jtm_jtype)j->type) {
    case JTM_J_OBJECT: return T_OBJECT;
    case JTM_J_ARRAY: return T_ARRAY;
    case JTM_J_STRING: return T_STRING;
    case JTM_J_INT: return T_INTEGER | T_NUMBER;
    case JTM_J_REAL: {
        double d = j->v.d;
        return isfinite(d) && d == floor(d) ? (T_INTEGER | T_NUMBER) : T_NUMBER;
    }
    case JTM_J_TRUE:
    case JTM_J_FALSE: return T_BOOL;
    default: return T_NULL;
    }
}

static inline double num_value(const jtm_jnode *j) { return j->type == JTM_J_INT ? (double)j->v.i : j->v.d; }

static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* The instance being validated. */
typedef const jtm_jdoc doc;

static int v_node(const node *n, doc *d, uint32_t j, const vpath *p, int depth, const vout *o);

static int v_child(const node *n, doc *d, uint32_t j, const vpath *p, const char *key, size_t len, int depth,
                   const vout *o)
{
    vpath q = {p, key, len};
    return v_node(n, d, j, &q, depth + 1, o);
}

static int v_object(const node *n, doc *d, uint32_t j, const vpath *p, int depth, const vout *o)
{
    const jtm_jnode *obj = &d->nodes[j];
    uint32_t vals[FAST_PROPS];
    bool closed = n->npprops || n->addl_kind != ADDL_ANY;
    /* One pass over the instance's keys when that is cheaper than a lookup per named property, or
     * when the keys must be walked anyway for additionalProperties / patternProperties. */
    bool fast = n->nprops <= FAST_PROPS && (closed || n->nprops > obj->count), extra = false;
    if (fast) {
        memset(vals, 0, n->nprops * sizeof vals[0]);
        for (uint32_t c = j + 1; c < obj->end; c = d->nodes[c].end) {
            int k = prop_find(n, d->nodes[c].key, d->nodes[c].klen);
            if (k >= 0)
                vals[k] = c;
            if (k < 0 || !n->props[k].schema)
                extra = true;
        }
    }
    for (size_t k = 0; k < n->nprops; k++) {
        const prop *pr = &n->props[k];
        uint32_t v = fast ? vals[k] : jtm_jdoc_get(d, j, pr->name, pr->len);
        if (!v) {
            if (pr->required)
                return fail(o, "missing", p, pr->name, pr->len);
            continue;
        }
        if (pr->schema && v_child(pr->schema, d, v, p, pr->name, pr->len, depth, o))
            return -1;
    }
    if (!closed)
        return 0;
    if (fast && !extra && !n->npprops)
        return 0;
    for (uint32_t c = j + 1; c < obj->end; c = d->nodes[c].end) {
        const char *key = d->nodes[c].key;
        size_t len = d->nodes[c].klen;
        int k = prop_find(n, key, len);
        bool named = k >= 0 && n->props[k].schema;
        for (size_t i = 0; i < n->npprops; i++) {
            if (jtm_pattern_search(n->pprops[i].rx, key, len)) {
                named = true;
                if (v_child(n->pprops[i].schema, d, c, p, key, len, depth, o))
                    return -1;
            }
        }
        if (named)
            continue;
        if (n->addl_kind == ADDL_FALSE)
            return fail(o, "additional", p, key, len);
        if (n->addl_kind == ADDL_SCHEMA && v_child(n->addl, d, c, p, key, len, depth, o))
            return -1;
    }
    return 0;
}

static int v_array(const node *n, doc *d, uint32_t j, const vpath *p, int depth, const vout *o)
{
    const jtm_jnode *arr = &d->nodes[j];
    size_t size = arr->count;
    if ((n->minitems >= 0 && size < (size_t)n->minitems) || (n->maxitems >= 0 && size > (size_t)n->maxitems))
        return fail(o, "items", p, NULL, 0);
    size_t i = 0;
    for (uint32_t c = j + 1; c < arr->end; c = d->nodes[c].end, i++) {
        const node *sub = n->items;
        if (n->items_array) {
            if (i < n->tuple.n)
                sub = n->tuple.v[i];
            else if (n->addl_items_kind == ADDL_FALSE) {
                vpath q = {p, NULL, i};
                return fail(o, "items", &q, NULL, 0);
            } else
                sub = n->addl_items;
        }
        if (sub && v_child(sub, d, c, p, NULL, i, depth, o))
            return -1;
    }
    return 0;
}

static int v_number(const node *n, const jtm_jnode *j, const vpath *p, const vout *o)
{
    double v = num_value(j);
    if ((n->has_min && v < n->min) || (n->has_max && v > n->max) || (n->has_xmin && v <= n->xmin) ||
        (n->has_xmax && v >= n->xmax))
        return fail(o, "range", p, NULL, 0);
    if (n->has_mult) {
        bool ok;
        if (j->type == JTM_J_INT && n->mult == floor(n->mult) && n->mult < 9e18)
            ok = j->v.i % (long long)n->mult == 0;
        else {
            double q = v / n->mult;
            ok = isfinite(q) && fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
        }
        if (!ok)
            return fail(o, "multipleof", p, NULL, 0);
    }
    return 0;
}

static int v_string(const node *n, const jtm_jnode *j, const vpath *p, const vout *o)
{
    const char *s = j->v.str.s;
    size_t len = j->v.str.n;
    if (n->minlen >= 0 || n->maxlen >= 0) {
        size_t cps = utf8_length(s, len);
        if ((n->minlen >= 0 && cps < (size_t)n->minlen) || (n->maxlen >= 0 && cps > (size_t)n->maxlen))
            return fail(o, "length", p, NULL, 0);
    }
    if (n->pattern && !jtm_pattern_search(n->pattern, s, len))
        return fail(o, "pattern", p, NULL, 0);
    if (n->format == FMT_DATE && jtm_date_parse(s, len, NULL) != 0)
        return fail(o, "format", p, NULL, 0);
    if (n->format == FMT_DATETIME && jtm_datetime_check(s, len) != 0)
        return fail(o, "format", p, NULL, 0);
    return 0;
}

/* enum: string enums (every feed code list) compare bytes without the generic equality. */
static bool in_enum(const node *n, doc *d, uint32_t j)
{
    const jtm_jnode *x = &d->nodes[j];
    if (n->enum_strings) {
        if (x->type != JTM_J_STRING)
            return false;
        for (size_t i = 0; i < n->nenums; i++)
            if (json_string_length(n->enums[i]) == x->v.str.n &&
                memcmp(json_string_value(n->enums[i]), x->v.str.s, x->v.str.n) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < n->nenums; i++)
        if (jequal(n->enums[i], d, j))
            return true;
    return false;
}

static int v_node(const node *n, doc *d, uint32_t j, const vpath *p, int depth, const vout *o)
{
    static const vout quiet = {NULL, 0};
    if (depth > JTM_SCHEMA_MAX_DEPTH)
        return fail(o, "depth", p, NULL, 0);
    if (n->ref)
        return v_node(n->ref, d, j, p, depth + 1, o);
    if (n->boolean >= 0)
        return n->boolean ? 0 : fail(o, "false", p, NULL, 0);
    const jtm_jnode *x = &d->nodes[j];
    if (n->test_prop) {
        if (x->type != JTM_J_OBJECT)
            return 0;
        uint32_t v = jtm_jdoc_get(d, j, n->test_prop->name, n->test_prop->len);
        if (!v)
            return fail(o, "missing", p, n->test_prop->name, n->test_prop->len);
        if (jequal(n->test_const, d, v))
            return 0;
        vpath q = {p, n->test_prop->name, n->test_prop->len};
        return fail(o, "const", &q, NULL, 0);
    }
    unsigned t = inst_type(x);
    if (n->types && !(n->types & t))
        return fail(o, "type", p, NULL, 0);
    if (n->konst && !jequal(n->konst, d, j))
        return fail(o, "const", p, NULL, 0);
    if (n->enums && !in_enum(n, d, j))
        return fail(o, "enum", p, NULL, 0);
    if (t == T_STRING) {
        if (v_string(n, x, p, o))
            return -1;
    } else if (t & T_NUMBER) {
        if (v_number(n, x, p, o))
            return -1;
    } else if (t == T_OBJECT) {
        if (n->is_object_node && v_object(n, d, j, p, depth, o))
            return -1;
    } else if (t == T_ARRAY) {
        if (n->is_array_node && v_array(n, d, j, p, depth, o))
            return -1;
    }
    for (size_t i = 0; i < n->all_of.n; i++)
        if (v_node(n->all_of.v[i], d, j, p, depth + 1, o))
            return -1;
    if (n->any_of.n) {
        size_t i;
        for (i = 0; i < n->any_of.n && v_node(n->any_of.v[i], d, j, p, depth + 1, &quiet); i++)
            ;
        if (i == n->any_of.n)
            return fail(o, "anyof", p, NULL, 0);
    }
    if (n->one_of.n) {
        size_t ok = 0;
        for (size_t i = 0; i < n->one_of.n && ok < 2; i++)
            ok += v_node(n->one_of.v[i], d, j, p, depth + 1, &quiet) == 0;
        if (ok != 1)
            return fail(o, "oneof", p, NULL, 0);
    }
    if (n->not_ && v_node(n->not_, d, j, p, depth + 1, &quiet) == 0)
        return fail(o, "not", p, NULL, 0);
    if (n->if_) {
        if (v_node(n->if_, d, j, p, depth + 1, &quiet) == 0) {
            if (n->then_ && v_node(n->then_, d, j, p, depth + 1, o))
                return -1;
        } else if (n->else_ && v_node(n->else_, d, j, p, depth + 1, o))
            return -1;
    }
    return 0;
}

int jtm_schema_validate_doc(const jtm_schema *s, const jtm_jdoc *d, uint32_t root, char *reason, size_t reasonlen)
{
    vout o = {reason, reasonlen};
    if (reason && reasonlen)
        reason[0] = '\0';
    if (!s || !d || root >= d->n) {
        if (reason && reasonlen)
            snprintf(reason, reasonlen, "schema:type:$");
        return -1;
    }
    return v_node(s->root, d, root, NULL, 0, &o);
}

int jtm_schema_validate(const jtm_schema *s, json_t *instance, char *reason, size_t reasonlen)
{
    jtm_jdoc d;
    jtm_jdoc_init(&d);
    int rc;
    if (instance && jtm_jdoc_from_json(&d, instance) != 0) {
        if (reason && reasonlen)
            snprintf(reason, reasonlen, "schema:memory:$");
        rc = -1;
    } else {
        rc = jtm_schema_validate_doc(s, instance ? &d : NULL, 0, reason, reasonlen);
    }
    jtm_jdoc_free(&d);
    return rc;
}
