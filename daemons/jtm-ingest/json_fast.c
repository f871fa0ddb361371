#include "json_fast.h"

#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *p, *end;
    int depth;
    char *s; /* decoded string scratch */
    size_t scap;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u4(parser *ps, int32_t *out)
{
    if (ps->end - ps->p < 4)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
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

static bool reserve(parser *ps, size_t need)
{
    if (need <= ps->scap)
        return true;
    size_t cap = ps->scap ? ps->scap : 256;
    while (cap < need)
        cap *= 2;
    char *s = realloc(ps->s, cap);
    if (!s)
        return false;
    ps->s = s;
    ps->scap = cap;
    return true;
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

/* At the opening quote. *str and *len get the decoded string (not NUL-terminated): the source bytes
 * themselves when the string has no escape (most have none: no copy), else ps->s, which the next
 * string with an escape overwrites. */
static int parse_string(parser *ps, const char **str, size_t *len)
{
    const unsigned char *start = ++ps->p;
    for (;;) {
        const unsigned char *q = ps->p;
        while (q < ps->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
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
    /* An escape: decode into the scratch buffer, after the part already checked. A decoded string
     * is never longer than its source. */
    if (!reserve(ps, (size_t)(ps->end - start) + 1))
        return -1;
    char *o = ps->s;
    size_t n = (size_t)(ps->p - start);
    memcpy(o, start, n);
    for (;;) {
        /* Plain run: copy until a quote, a backslash, a control or a non-ASCII byte. */
        const unsigned char *q = ps->p;
        while (q < ps->end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
            q++;
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
        /* backslash */
        ps->p++;
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
                return -1; /* jansson without JSON_ALLOW_NUL */
            }
            put_utf8(o, &n, v); /* \uXXXX is 6 source bytes, at most 4 decoded: fits */
            break;
        }
        default: return -1;
        }
    }
}

static json_t *parse_number(parser *ps)
{
    const unsigned char *start = ps->p, *q = ps->p;
    bool real = false;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end)
        return NULL;
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9')
            return NULL;
    } else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return NULL;
    }
    if (q < ps->end && *q == '.') {
        real = true;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return NULL;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return NULL;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t n = (size_t)(q - start);
    char tmp[64], *buf = tmp;
    if (n >= sizeof tmp && !(buf = malloc(n + 1)))
        return NULL;
    memcpy(buf, start, n);
    buf[n] = '\0';
    json_t *v = NULL;
    errno = 0;
    if (!real) {
        json_int_t i = strtoll(buf, NULL, 10);
        if (errno != ERANGE)
            v = json_integer(i);
    } else {
        double d = strtod(buf, NULL);
        if (!isinf(d))
            v = json_real(d);
    }
    if (buf != tmp)
        free(buf);
    ps->p = q;
    return v;
}

static json_t *parse_value(parser *ps);

static json_t *parse_object(parser *ps)
{
    if (++ps->depth > JSON_PARSER_MAX_DEPTH)
        return NULL;
    ps->p++;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return obj;
    }
    for (;;) {
        const char *k;
        size_t klen;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"' || parse_string(ps, &k, &klen) != 0)
            goto fail;
        /* A key decoded into the scratch buffer must survive the value's strings. */
        char kbuf[128], *key = NULL;
        if (k == ps->s) {
            if (!(key = klen < sizeof kbuf ? kbuf : malloc(klen)))
                goto fail;
            memcpy(key, k, klen);
            k = key;
        }
        skip_ws(ps);
        json_t *v = NULL;
        if (ps->p < ps->end && *ps->p == ':') {
            ps->p++;
            v = parse_value(ps);
        }
        /* A duplicate key replaces the value instead of adding one: the size tells (one hash
         * lookup per key instead of a get before the set). */
        size_t size = json_object_size(obj);
        int rc = v ? json_object_setn_new_nocheck(obj, k, klen, v) : -1;
        if (key && key != kbuf)
            free(key);
        if (rc != 0 || json_object_size(obj) == size)
            goto fail;
        skip_ws(ps);
        if (ps->p >= ps->end)
            goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == '}') {
            ps->p++;
            ps->depth--;
            return obj;
        }
        goto fail;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(parser *ps)
{
    if (++ps->depth > JSON_PARSER_MAX_DEPTH)
        return NULL;
    ps->p++;
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(ps);
        if (!v || json_array_append_new(arr, v) != 0)
            goto fail;
        skip_ws(ps);
        if (ps->p >= ps->end)
            goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == ']') {
            ps->p++;
            ps->depth--;
            return arr;
        }
        goto fail;
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *literal(parser *ps, const char *word, json_t *value)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return NULL;
    ps->p += n;
    return value;
}

static json_t *parse_value(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    switch (*ps->p) {
    case '{': return parse_object(ps);
    case '[': return parse_array(ps);
    case '"': {
        const char *str;
        size_t n;
        if (parse_string(ps, &str, &n) != 0)
            return NULL;
        return json_stringn_nocheck(str, n);
    }
    case 't': return literal(ps, "true", json_true());
    case 'f': return literal(ps, "false", json_false());
    case 'n': return literal(ps, "null", json_null());
    default: return parse_number(ps);
    }
}

/* The tree of one event is built in a per-thread bump arena instead of one malloc per value: the
 * jansson allocation hooks serve from the arena while a parse is running, and free() of an arena
 * pointer is a no-op; anything else (values made outside a parse, an arena that ran out) goes to
 * libc. The arena is rewound at the next parse, so the previous tree must be freed by then, on the
 * same thread (jtm_json_parse's contract). Measured on SOJ events: the tree costs 1.2 us instead of
 * 1.9 us with malloc. */
#define ARENA_BYTES (1u << 20)
static __thread struct {
    char *base;
    size_t used;
    int active;
} arena;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t n)
{
    if (arena.active) {
        size_t need = (n + 15) & ~(size_t)15;
        if (need <= ARENA_BYTES - arena.used) {
            void *p = arena.base + arena.used;
            arena.used += need;
            return p;
        }
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (p && arena.base && (char *)p >= arena.base && (char *)p < arena.base + ARENA_BYTES)
        return;
    free(p);
}

static void install_hooks(void) { json_set_alloc_funcs(arena_malloc, arena_free); }

json_t *jtm_json_parse(const char *buf, size_t len)
{
    pthread_once(&hooks_once, install_hooks);
    if (!arena.base)
        arena.base = malloc(ARENA_BYTES); /* per thread, kept for the thread's life */
    arena.used = 0;
    arena.active = arena.base != NULL;
    parser ps = {(const unsigned char *)(buf ? buf : ""), (const unsigned char *)(buf ? buf : "") + len, 0, NULL, 0};
    json_t *v = parse_value(&ps);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            json_decref(v);
            v = NULL;
        }
    }
    arena.active = 0;
    free(ps.s);
    return v;
}
