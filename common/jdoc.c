/* The flat JSON document of jdoc.h: a strict recursive-descent parser into a reused node array,
 * lookups by key, and conversions from and to jansson values. */
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"

void jtm_jdoc_init(jtm_jdoc *d) { memset(d, 0, sizeof *d); }

void jtm_jdoc_free(jtm_jdoc *d)
{
    free(d->nodes);
    free(d->sbuf);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

static void reset(jtm_jdoc *d)
{
    d->n = 0;
    d->sused = 0;
    d->nslots = 0;
}

/* A new node at the end; its index, or 0 when out of memory (index 0 is only ever the root, taken
 * first, when the array has room: see the callers). */
static int add_node(jtm_jdoc *d, jtm_jtype type, uint32_t *idx)
{
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        if (cap <= d->cap)
            return -1;
        jtm_jnode *v = realloc(d->nodes, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        d->nodes = v;
        d->cap = cap;
    }
    jtm_jnode *nd = &d->nodes[d->n];
    memset(nd, 0, sizeof *nd);
    nd->type = (uint8_t)type;
    *idx = d->n++;
    nd->end = d->n;
    return 0;
}

/* ---- keys: equality, hash tables per object ---- */

/* Every byte of the key counts (a hostile event cannot pile its keys into one slot by varying
 * bytes the hash skips), at a cost that does not grow with the length of the short keys events
 * have: up to 16 bytes are two 8-byte words, longer keys are folded 8 bytes at a time. The hash is
 * seeded once per process from getrandom(): without a seed, 4,400 keys that collide could be
 * computed in advance and cost a 57 KB event 30 times the parse time of random keys (issue 16).
 * The seed is the one process-wide value of this module; it never changes after it is drawn. */
static inline uint64_t word_at(const char *s) /* 8 bytes, any alignment */
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static uint64_t hash_seed[2];
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static void draw_seed(void)
{
    uint64_t s[2];
    if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) { /* before the entropy pool is ready: still vary */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec;
        s[1] = (uint64_t)getpid() * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)(uintptr_t)&ts;
    }
    hash_seed[0] = s[0];
    hash_seed[1] = s[1];
}

void jtm_jdoc_hash_seed(uint64_t out[2])
{
    pthread_once(&hash_seed_once, draw_seed);
    out[0] = hash_seed[0];
    out[1] = hash_seed[1];
}

uint32_t jtm_jdoc_key_hash_seeded(const uint64_t seed[2], const char *s, size_t n)
{
    const uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
    uint64_t a = seed[0], b = seed[1];
    if (n <= 8) {
        uint64_t w = 0;
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)(unsigned char)s[i] << (8 * i);
        a ^= w;
    } else if (n <= 16) {
        a ^= word_at(s);
        b ^= word_at(s + n - 8);
    } else {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            a = (a ^ word_at(s + i)) * k1;
        b ^= word_at(s + n - 8);
    }
    uint64_t h = (a * k1) ^ (b * k2) ^ (uint64_t)n;
    h ^= h >> 31;
    h *= k2;
    h ^= h >> 29;
    h *= k1;
    return (uint32_t)(h >> 32);
}

static inline uint32_t key_hash(const char *s, size_t n) { return jtm_jdoc_key_hash_seeded(hash_seed, s, n); }

/* Keys are short (feed field names): compared inline, without a call into libc per candidate. */
static inline bool key_eq(const jtm_jnode *m, const char *key, size_t klen)
{
    if (m->klen != klen)
        return false;
    if (klen > 24)
        return memcmp(m->key, key, klen) == 0;
    for (size_t i = 0; i < klen; i++)
        if (m->key[i] != key[i])
            return false;
    return true;
}

/* Indexes the members of object node obj: a hash table when it has more than JTM_JDOC_LINEAR,
 * else a pairwise check. -1 on a duplicate key or out of memory. */
static int index_object(jtm_jdoc *d, uint32_t obj)
{
    jtm_jnode *o = &d->nodes[obj];
    if (o->count <= JTM_JDOC_LINEAR) {
        for (uint32_t a = obj + 1; a < o->end; a = d->nodes[a].end)
            for (uint32_t b = d->nodes[a].end; b < o->end; b = d->nodes[b].end)
                if (key_eq(&d->nodes[b], d->nodes[a].key, d->nodes[a].klen))
                    return -1;
        return 0;
    }
    pthread_once(&hash_seed_once, draw_seed); /* the first table of the process draws the seed */
    size_t size = 32;
    while (size < (size_t)o->count * 2)
        size *= 2;
    if (d->nslots + size > d->slotcap) {
        size_t cap = d->slotcap ? d->slotcap : 256;
        while (cap < d->nslots + size)
            cap *= 2;
        uint32_t *s = realloc(d->slots, cap * sizeof *s);
        if (!s)
            return -1;
        d->slots = s;
        d->slotcap = cap;
    }
    uint32_t *tab = d->slots + d->nslots;
    memset(tab, 0, size * sizeof *tab);
    o->htab = (uint32_t)d->nslots;
    o->hmask = (uint32_t)(size - 1);
    d->nslots += size;
    for (uint32_t c = obj + 1; c < o->end; c = d->nodes[c].end) {
        const jtm_jnode *m = &d->nodes[c];
        uint32_t h = key_hash(m->key, m->klen) & o->hmask;
        while (tab[h]) {
            if (key_eq(&d->nodes[tab[h]], m->key, m->klen))
                return -1;
            h = (h + 1) & o->hmask;
        }
        tab[h] = c;
    }
    return 0;
}

uint32_t jtm_jdoc_get(const jtm_jdoc *d, uint32_t obj, const char *key, size_t klen)
{
    const jtm_jnode *o = &d->nodes[obj];
    if (o->type != JTM_J_OBJECT)
        return 0;
    if (o->hmask) {
        const uint32_t *tab = d->slots + o->htab;
        for (uint32_t h = key_hash(key, klen) & o->hmask; tab[h]; h = (h + 1) & o->hmask)
            if (key_eq(&d->nodes[tab[h]], key, klen))
                return tab[h];
        return 0;
    }
    for (uint32_t c = obj + 1; c < o->end; c = d->nodes[c].end)
        if (key_eq(&d->nodes[c], key, klen))
            return c;
    return 0;
}

/* ---- parser ---- */

typedef struct parser {
    jtm_jdoc *d;
    const unsigned char *p, *end;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int read_u4(parser *ps, int32_t *out)
{
    if (ps->end - ps->p < 4)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = jtm_hexval(ps->p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    int32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

static void put_utf8(char *o, size_t *n, int32_t v)
{
    if (v < 0x80) {
        o[(*n)++] = (char)v;
    } else if (v < 0x800) {
        o[(*n)++] = (char)(0xC0 | (v >> 6));
        o[(*n)++] = (char)(0x80 | (v & 0x3F));
    } else if (v < 0x10000) {
        o[(*n)++] = (char)(0xE0 | (v >> 12));
        o[(*n)++] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (v & 0x3F));
    } else {
        o[(*n)++] = (char)(0xF0 | (v >> 18));
        o[(*n)++] = (char)(0x80 | ((v >> 12) & 0x3F));
        o[(*n)++] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[(*n)++] = (char)(0x80 | (v & 0x3F));
    }
}

static inline const unsigned char *plain_run(const unsigned char *q, const unsigned char *end)
{
    while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
        q++;
    return q;
}

/* At the opening quote. *str, *len: the source bytes when the string has no escape (no copy),
 * else its decoded form in d->sbuf, which was sized for the whole input at the start of the parse
 * and so never moves (a decoded string is never longer than its source). */
static int parse_string(parser *ps, const char **str, size_t *len)
{
    const unsigned char *start = ++ps->p;
    for (;;) {
        const unsigned char *q = plain_run(ps->p, ps->end);
        ps->p = q;
        if (q >= ps->end)
            return -1;
        unsigned char c = *q;
        if (c == '"') {
            ps->p++;
            *str = (const char *)start;
            *len = (size_t)(q - start);
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\')
            break;
        size_t k = utf8_seq(q, ps->end);
        if (!k)
            return -1;
        ps->p += k;
    }
    jtm_jdoc *d = ps->d;
    char *o = d->sbuf + d->sused;
    size_t n = (size_t)(ps->p - start);
    memcpy(o, start, n);
    for (;;) {
        const unsigned char *q = plain_run(ps->p, ps->end);
        memcpy(o + n, ps->p, (size_t)(q - ps->p));
        n += (size_t)(q - ps->p);
        ps->p = q;
        if (ps->p >= ps->end)
            return -1;
        unsigned char c = *ps->p;
        if (c == '"') {
            ps->p++;
            *str = o;
            *len = n;
            d->sused += n;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c >= 0x80) {
            size_t k = utf8_seq(ps->p, ps->end);
            if (!k)
                return -1;
            memcpy(o + n, ps->p, k);
            n += k;
            ps->p += k;
            continue;
        }
        ps->p++; /* backslash */
        if (ps->p >= ps->end)
            return -1;
        c = *ps->p++;
        switch (c) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            int32_t v;
            if (read_u4(ps, &v) != 0)
                return -1;
            if (v >= 0xD800 && v <= 0xDBFF) {
                int32_t lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return -1;
                ps->p += 2;
                if (read_u4(ps, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            } else if (v >= 0xDC00 && v <= 0xDFFF) {
                return -1;
            } else if (v == 0) {
                return -1; /* as jansson without JSON_ALLOW_NUL */
            }
            put_utf8(o, &n, v); /* 6 source bytes, at most 4 decoded */
            break;
        }
        default: return -1;
        }
    }
}

static int parse_number(parser *ps, uint32_t *idx)
{
    const unsigned char *start = ps->p, *q = ps->p;
    bool real = false;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end)
        return -1;
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9')
            return -1;
    } else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return -1;
    }
    if (q < ps->end && *q == '.') {
        real = true;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return -1;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return -1;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t n = (size_t)(q - start);
    if (!real && n <= 18 - (*start == '-' ? 0 : 1)) { /* at most 17 digits: no overflow */
        long long v = 0;
        for (const unsigned char *c = start + (*start == '-'); c < q; c++)
            v = v * 10 + (*c - '0');
        if (add_node(ps->d, JTM_J_INT, idx) != 0)
            return -1;
        ps->d->nodes[*idx].v.i = *start == '-' ? -v : v;
        ps->p = q;
        return 0;
    }
    char tmp[64], *buf = tmp;
    if (n >= sizeof tmp && !(buf = malloc(n + 1)))
        return -1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    int rc = -1;
    errno = 0;
    if (!real) {
        long long v = strtoll(buf, NULL, 10);
        if (errno != ERANGE && add_node(ps->d, JTM_J_INT, idx) == 0) {
            ps->d->nodes[*idx].v.i = v;
            rc = 0;
        }
    } else {
        double v = strtod(buf, NULL);
        if (!isinf(v) && add_node(ps->d, JTM_J_REAL, idx) == 0) {
            ps->d->nodes[*idx].v.d = v;
            rc = 0;
        }
    }
    if (buf != tmp)
        free(buf);
    ps->p = q;
    return rc;
}

static int parse_value(parser *ps, uint32_t *idx);

/* After a member or element: 1 at a ',' (another follows), 0 at the closing byte, -1 else. */
static int after_item(parser *ps, unsigned char close)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return -1;
    unsigned char c = *ps->p++;
    return c == ',' ? 1 : c == close ? 0 : -1;
}

/* Opens a container at its first byte: a node of type, 0; -1 past the depth limit. */
static int open_container(parser *ps, jtm_jtype type, uint32_t *idx)
{
    if (++ps->depth > JTM_JDOC_MAX_DEPTH)
        return -1;
    ps->p++;
    return add_node(ps->d, type, idx);
}

static void close_container(parser *ps, uint32_t idx, uint32_t count)
{
    ps->d->nodes[idx].count = count;
    ps->d->nodes[idx].end = ps->d->n;
    ps->depth--;
}

static int parse_object(parser *ps, uint32_t *idx)
{
    uint32_t obj, count = 0;
    if (open_container(ps, JTM_J_OBJECT, &obj) != 0)
        return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
    } else {
        int more;
        do {
            const char *k;
            size_t klen;
            uint32_t v;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"' || parse_string(ps, &k, &klen) != 0 || klen > UINT32_MAX)
                return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return -1;
            ps->p++;
            if (parse_value(ps, &v) != 0)
                return -1;
            ps->d->nodes[v].key = k;
            ps->d->nodes[v].klen = (uint32_t)klen;
            count++;
        } while ((more = after_item(ps, '}')) == 1);
        if (more < 0)
            return -1;
    }
    close_container(ps, obj, count);
    *idx = obj;
    return index_object(ps->d, obj);
}

static int parse_array(parser *ps, uint32_t *idx)
{
    uint32_t arr, count = 0;
    if (open_container(ps, JTM_J_ARRAY, &arr) != 0)
        return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
    } else {
        int more;
        do {
            uint32_t v;
            if (parse_value(ps, &v) != 0)
                return -1;
            count++;
        } while ((more = after_item(ps, ']')) == 1);
        if (more < 0)
            return -1;
    }
    close_container(ps, arr, count);
    *idx = arr;
    return 0;
}

static int literal(parser *ps, const char *word, size_t n, jtm_jtype type, uint32_t *idx)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return -1;
    ps->p += n;
    return add_node(ps->d, type, idx);
}

static int parse_value(parser *ps, uint32_t *idx)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return -1;
    switch (*ps->p) {
    case '{': return parse_object(ps, idx);
    case '[': return parse_array(ps, idx);
    case '"': {
        const char *s;
        size_t n;
        if (parse_string(ps, &s, &n) != 0 || add_node(ps->d, JTM_J_STRING, idx) != 0)
            return -1;
        ps->d->nodes[*idx].v.str.s = s;
        ps->d->nodes[*idx].v.str.n = n;
        return 0;
    }
    case 't': return literal(ps, "true", 4, JTM_J_TRUE, idx);
    case 'f': return literal(ps, "false", 5, JTM_J_FALSE, idx);
    case 'n': return literal(ps, "null", 4, JTM_J_NULL, idx);
    default: return parse_number(ps, idx);
    }
}

int jtm_jdoc_parse(jtm_jdoc *d, const char *buf, size_t len)
{
    reset(d);
    if (len + 1 > d->scap) {
        size_t cap = d->scap ? d->scap : 1024;
        while (cap < len + 1)
            cap *= 2;
        char *s = realloc(d->sbuf, cap);
        if (!s)
            return -1;
        d->sbuf = s;
        d->scap = cap;
    }
    parser ps = {d, (const unsigned char *)(buf ? buf : ""), (const unsigned char *)(buf ? buf : "") + len, 0};
    uint32_t root;
    if (parse_value(&ps, &root) != 0)
        return -1;
    skip_ws(&ps);
    return ps.p == ps.end ? 0 : -1;
}

/* ---- jansson conversions ---- */

static int from_json(jtm_jdoc *d, json_t *j, int depth, uint32_t *idx)
{
    if (depth > JTM_JDOC_MAX_DEPTH)
        return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        uint32_t obj, count = 0;
        if (add_node(d, JTM_J_OBJECT, &obj) != 0)
            return -1;
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            uint32_t v;
            size_t klen = json_object_iter_key_len(it);
            if (klen > UINT32_MAX || from_json(d, json_object_iter_value(it), depth + 1, &v) != 0)
                return -1;
            d->nodes[v].key = json_object_iter_key(it);
            d->nodes[v].klen = (uint32_t)klen;
            count++;
        }
        d->nodes[obj].count = count;
        d->nodes[obj].end = d->n;
        *idx = obj;
        return index_object(d, obj);
    }
    case JSON_ARRAY: {
        uint32_t arr;
        if (add_node(d, JTM_J_ARRAY, &arr) != 0)
            return -1;
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            if (from_json(d, json_array_get(j, i), depth + 1, &v) != 0)
                return -1;
        }
        d->nodes[arr].count = (uint32_t)n;
        d->nodes[arr].end = d->n;
        *idx = arr;
        return 0;
    }
    case JSON_STRING:
        if (add_node(d, JTM_J_STRING, idx) != 0)
            return -1;
        d->nodes[*idx].v.str.s = json_string_value(j);
        d->nodes[*idx].v.str.n = json_string_length(j);
        return 0;
    case JSON_INTEGER:
        if (add_node(d, JTM_J_INT, idx) != 0)
            return -1;
        d->nodes[*idx].v.i = json_integer_value(j);
        return 0;
    case JSON_REAL:
        if (add_node(d, JTM_J_REAL, idx) != 0)
            return -1;
        d->nodes[*idx].v.d = json_real_value(j);
        return 0;
    case JSON_TRUE: return add_node(d, JTM_J_TRUE, idx);
    case JSON_FALSE: return add_node(d, JTM_J_FALSE, idx);
    default: return add_node(d, JTM_J_NULL, idx);
    }
}

int jtm_jdoc_from_json(jtm_jdoc *d, json_t *j)
{
    reset(d);
    uint32_t root;
    return j ? from_json(d, j, 0, &root) : -1;
}

json_t *jtm_jdoc_to_json(const jtm_jdoc *d, uint32_t i)
{
    const jtm_jnode *nd = &d->nodes[i];
    switch ((jtm_jtype)nd->type) {
    case JTM_J_NULL: return json_null();
    case JTM_J_FALSE: return json_false();
    case JTM_J_TRUE: return json_true();
    case JTM_J_INT: return json_integer(nd->v.i);
    case JTM_J_REAL: return json_real(nd->v.d);
    case JTM_J_STRING: return json_stringn_nocheck(nd->v.str.s, nd->v.str.n);
    case JTM_J_ARRAY: {
        json_t *a = json_array();
        for (uint32_t c = i + 1; a && c < nd->end; c = d->nodes[c].end)
            if (json_array_append_new(a, jtm_jdoc_to_json(d, c)) != 0) {
                json_decref(a);
                return NULL;
            }
        return a;
    }
    case JTM_J_OBJECT: {
        json_t *o = json_object();
        for (uint32_t c = i + 1; o && c < nd->end; c = d->nodes[c].end)
            if (json_object_setn_new_nocheck(o, d->nodes[c].key, d->nodes[c].klen, jtm_jdoc_to_json(d, c)) != 0) {
                json_decref(o);
                return NULL;
            }
        return o;
    }
    }
    return NULL;
}
