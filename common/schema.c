/* JSON Schema (draft 7 subset) compiled to a node tree; see schema.h for what is supported and
 * the order in which errors are reported. Layout of this file: a small regular-expression engine
 * (parser -> AST -> Thompson NFA program, run without allocation), then schema compilation, then
 * validation. */
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

/* ---------------------------------------------------------------------------------------------
 * Regular expressions
 * ------------------------------------------------------------------------------------------- */

/* Longer programs are refused at compile time; the NFA keeps three arrays of this size on the
 * stack while matching. */
#define RX_MAX_INST 1024
#define RX_MAX_NODES 4096
#define RX_INF (-1)

enum { RN_EMPTY, RN_CHAR, RN_ANY, RN_CLASS, RN_BOL, RN_EOL, RN_CAT, RN_ALT, RN_REPEAT };
enum { I_CHAR, I_ANY, I_CLASS, I_SPLIT, I_JMP, I_BOL, I_EOL, I_MATCH };

typedef struct { uint32_t lo, hi; } rx_range;

typedef struct {
    uint64_t ascii[2]; /* membership of code points 0-127, negation already applied */
    size_t off, n;     /* ranges[off .. off+n) for code points >= 128 */
    bool neg;
} rx_class;

typedef struct {
    int kind;
    uint32_t cp;  /* RN_CHAR; class index for RN_CLASS */
    int a, b;     /* children */
    int min, max; /* RN_REPEAT */
} rx_node;

typedef struct {
    uint8_t op;
    uint32_t arg; /* code point or class index */
    int x, y;     /* jump targets */
} rx_inst;

typedef struct rx {
    rx_inst *prog;
    size_t ninst;
    rx_class *classes;
    size_t nclasses;
    rx_range *ranges;
    size_t nranges;
    bool anchored; /* the program starts with ^: only try position 0 */
    bool posix;
    uint16_t *dfa;      /* dfa_states x DFA_SYMS transitions, or NULL: run the NFA */
    uint8_t *dfa_flags; /* DFA_ACCEPT_NOW | DFA_ACCEPT_END | DFA_DEAD per state */
    size_t dfa_states;
    regex_t rx;
} rx;

typedef struct {
    const char *p, *end;
    rx_node *nodes;
    size_t nnodes, capnodes;
    rx *r;
    size_t capclasses, capranges;
    bool fail;        /* out of memory or too large */
    bool unsupported; /* valid ECMA 262 we do not implement: try POSIX */
} rx_parser;

static uint32_t utf8_next(const char **ps, const char *end)
{
    const unsigned char *s = (const unsigned char *)*ps;
    uint32_t c = s[0];
    int n = 0;
    if (c < 0x80)
        n = 0;
    else if ((c & 0xE0) == 0xC0)
        c &= 0x1F, n = 1;
    else if ((c & 0xF0) == 0xE0)
        c &= 0x0F, n = 2;
    else
        c &= 0x07, n = 3;
    s++;
    for (int i = 0; i < n && (const char *)s < end; i++, s++)
        c = (c << 6) | (*s & 0x3F);
    *ps = (const char *)s;
    return c;
}

static int rx_new_node(rx_parser *ps, int kind)
{
    if (ps->nnodes == ps->capnodes) {
        if (ps->capnodes >= RX_MAX_NODES) {
            ps->fail = true;
            return -1;
        }
        size_t cap = ps->capnodes ? ps->capnodes * 2 : 32;
        rx_node *nn = realloc(ps->nodes, cap * sizeof *nn);
        if (!nn) {
            ps->fail = true;
            return -1;
        }
        ps->nodes = nn;
        ps->capnodes = cap;
    }
    rx_node *n = &ps->nodes[ps->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->a = n->b = -1;
    return (int)ps->nnodes++;
}

static int rx_add_range(rx_parser *ps, uint32_t lo, uint32_t hi)
{
    rx *r = ps->r;
    if (r->nranges == ps->capranges) {
        size_t cap = ps->capranges ? ps->capranges * 2 : 16;
        rx_range *nr = realloc(r->ranges, cap * sizeof *nr);
        if (!nr)
            return -1;
        r->ranges = nr;
        ps->capranges = cap;
    }
    r->ranges[r->nranges].lo = lo;
    r->ranges[r->nranges].hi = hi;
    r->nranges++;
    return 0;
}

/* The code point sets of \d, \w and \s. */
static const rx_range RX_DIGIT[] = {{'0', '9'}};
static const rx_range RX_WORD[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const rx_range RX_SPACE[] = {{0x09, 0x0D}, {0x20, 0x20},     {0xA0, 0xA0},    {0x1680, 0x1680},
                                    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                    {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

/* Adds a sorted set of ranges, or its complement over all code points. */
static int rx_add_set(rx_parser *ps, const rx_range *set, size_t n, bool complement)
{
    if (!complement) {
        for (size_t i = 0; i < n; i++)
            if (rx_add_range(ps, set[i].lo, set[i].hi))
                return -1;
        return 0;
    }
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (set[i].lo > next && rx_add_range(ps, next, set[i].lo - 1))
            return -1;
        next = set[i].hi + 1;
    }
    return next <= 0x10FFFF ? rx_add_range(ps, next, 0x10FFFF) : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int rx_hex(rx_parser *ps, int digits, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->end - ps->p < digits)
        return -1;
    for (int i = 0; i < digits; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (uint32_t)h;
    }
    ps->p += digits;
    *out = v;
    return 0;
}

/* After a backslash: a single character escape. Returns 0 with *cp, 1 when it is a class escape
 * (*set, *n, *neg filled), -1 when unsupported. in_class: \b is backspace there. */
static int rx_escape(rx_parser *ps, bool in_class, uint32_t *cp, const rx_range **set, size_t *n, bool *neg)
{
    if (ps->p >= ps->end)
        return -1;
    char c = *ps->p++;
    switch (c) {
    case 'd': case 'D': *set = RX_DIGIT; *n = 1; *neg = c == 'D'; return 1;
    case 'w': case 'W': *set = RX_WORD; *n = 4; *neg = c == 'W'; return 1;
    case 's': case 'S': *set = RX_SPACE; *n = sizeof RX_SPACE / sizeof RX_SPACE[0]; *neg = c == 'S'; return 1;
    case 't': *cp = '\t'; return 0;
    case 'n': *cp = '\n'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 'b':
        if (!in_class) {
            ps->unsupported = true; /* word boundary */
            return -1;
        }
        *cp = '\b';
        return 0;
    case '0':
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            ps->unsupported = true; /* octal (Annex B) */
            return -1;
        }
        *cp = 0;
        return 0;
    case 'x':
        if (rx_hex(ps, 2, cp) == 0)
            return 0;
        ps->unsupported = true; /* Annex B: a lone \x is 'x' */
        return -1;
    case 'u':
        if (rx_hex(ps, 4, cp)) {
            ps->unsupported = true; /* \u{...} (unicode mode) or Annex B 'u' */
            return -1;
        }
        if (*cp >= 0xD800 && *cp <= 0xDBFF && ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
            const char *save = ps->p;
            uint32_t lo;
            ps->p += 2;
            if (rx_hex(ps, 4, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF)
                *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            else
                ps->p = save;
        }
        return 0;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c & 0x80)) {
            ps->unsupported = true; /* back references, \B \c \k \p ... */
            return -1;
        }
        *cp = (uint32_t)(unsigned char)c;
        return 0;
    }
}

static int rx_class_node(rx_parser *ps)
{
    rx *r = ps->r;
    if (r->nclasses == ps->capclasses) {
        size_t cap = ps->capclasses ? ps->capclasses * 2 : 8;
        rx_class *nc = realloc(r->classes, cap * sizeof *nc);
        if (!nc)
            return -1;
        r->classes = nc;
        ps->capclasses = cap;
    }
    size_t ci = r->nclasses++;
    rx_class *cl = &r->classes[ci];
    memset(cl, 0, sizeof *cl);
    cl->off = r->nranges;
    int id = rx_new_node(ps, RN_CLASS);
    if (id < 0)
        return -1;
    ps->nodes[id].cp = (uint32_t)ci;
    return id;
}

/* Ranges collected for class ci are turned into the ASCII bitmap plus the non-ASCII tail. */
static void rx_class_finish(rx_parser *ps, size_t ci, bool neg)
{
    rx *r = ps->r;
    rx_class *cl = &r->classes[ci];
    cl->n = r->nranges - cl->off;
    cl->neg = neg;
    for (uint32_t c = 0; c < 128; c++) {
        bool in = false;
        for (size_t i = 0; i < cl->n && !in; i++)
            in = c >= r->ranges[cl->off + i].lo && c <= r->ranges[cl->off + i].hi;
        if (in != neg)
            cl->ascii[c >> 6] |= (uint64_t)1 << (c & 63);
    }
}

static int rx_parse_bracket(rx_parser *ps)
{
    /* '[' consumed */
    bool neg = false;
    if (ps->p < ps->end && *ps->p == '^')
        neg = true, ps->p++;
    int id = rx_class_node(ps);
    if (id < 0)
        return -1;
    size_t ci = ps->nodes[id].cp;
    for (;;) {
        if (ps->p >= ps->end)
            return -1;
        if (*ps->p == ']') {
            ps->p++;
            break;
        }
        uint32_t lo, hi;
        const rx_range *set;
        size_t n;
        bool sneg;
        if (*ps->p == '\\') {
            ps->p++;
            int e = rx_escape(ps, true, &lo, &set, &n, &sneg);
            if (e < 0)
                return -1;
            if (e == 1) {
                if (rx_add_set(ps, set, n, sneg))
                    return -1;
                continue;
            }
        } else {
            lo = utf8_next(&ps->p, ps->end);
        }
        hi = lo;
        if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
            ps->p++;
            if (*ps->p == '\\') {
                ps->p++;
                if (rx_escape(ps, true, &hi, &set, &n, &sneg) != 0)
                    return -1;
            } else {
                hi = utf8_next(&ps->p, ps->end);
            }
            if (hi < lo)
                return -1;
        }
        if (rx_add_range(ps, lo, hi))
            return -1;
    }
    rx_class_finish(ps, ci, neg);
    return id;
}

static int rx_parse_alt(rx_parser *ps);

/* {n}, {n,}, {n,m} at ps->p (after '{'); returns 0 and moves on, or -1 leaving ps->p untouched. */
static int rx_parse_count(rx_parser *ps, int *min, int *max)
{
    const char *s = ps->p;
    long a = 0, b;
    if (s >= ps->end || *s < '0' || *s > '9')
        return -1;
    while (s < ps->end && *s >= '0' && *s <= '9' && a < 100000)
        a = a * 10 + (*s++ - '0');
    b = a;
    if (s < ps->end && *s == ',') {
        s++;
        if (s < ps->end && *s == '}')
            b = RX_INF;
        else {
            if (s >= ps->end || *s < '0' || *s > '9')
                return -1;
            b = 0;
            while (s < ps->end && *s >= '0' && *s <= '9' && b < 100000)
                b = b * 10 + (*s++ - '0');
        }
    }
    if (s >= ps->end || *s != '}')
        return -1;
    if (b != RX_INF && b < a)
        return -1;
    ps->p = s + 1;
    *min = (int)a;
    *max = (int)b;
    return 0;
}

static int rx_parse_atom(rx_parser *ps)
{
    char c = *ps->p;
    int id;
    switch (c) {
    case '(':
        ps->p++;
        if (ps->p < ps->end && *ps->p == '?') {
            if (ps->end - ps->p < 2 || ps->p[1] != ':') {
                ps->unsupported = true; /* look-around, named groups */
                return -1;
            }
            ps->p += 2;
        }
        id = rx_parse_alt(ps);
        if (id < 0 || ps->p >= ps->end || *ps->p != ')')
            return -1;
        ps->p++;
        return id;
    case '[':
        ps->p++;
        return rx_parse_bracket(ps);
    case '.':
        ps->p++;
        return rx_new_node(ps, RN_ANY);
    case '^':
        ps->p++;
        return rx_new_node(ps, RN_BOL);
    case '$':
        ps->p++;
        return rx_new_node(ps, RN_EOL);
    case '*': case '+': case '?': case ')':
        return -1;
    case '{': {
        int a, b;
        const char *save = ++ps->p;
        if (rx_parse_count(ps, &a, &b) == 0)
            return -1; /* a quantifier with nothing to repeat */
        ps->p = save;
        id = rx_new_node(ps, RN_CHAR);
        if (id >= 0)
            ps->nodes[id].cp = '{';
        return id;
    }
    case '\\': {
        uint32_t cp;
        const rx_range *set;
        size_t n;
        bool neg;
        ps->p++;
        int e = rx_escape(ps, false, &cp, &set, &n, &neg);
        if (e < 0)
            return -1;
        if (e == 1) {
            id = rx_class_node(ps);
            if (id < 0 || rx_add_set(ps, set, n, false))
                return -1;
            rx_class_finish(ps, ps->nodes[id].cp, neg);
            return id;
        }
        id = rx_new_node(ps, RN_CHAR);
        if (id >= 0)
            ps->nodes[id].cp = cp;
        return id;
    }
    default: {
        uint32_t cp = utf8_next(&ps->p, ps->end);
        id = rx_new_node(ps, RN_CHAR);
        if (id >= 0)
            ps->nodes[id].cp = cp;
        return id;
    }
    }
}

static int rx_parse_seq(rx_parser *ps)
{
    int seq = rx_new_node(ps, RN_EMPTY);
    while (seq >= 0 && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
        int atom = rx_parse_atom(ps);
        if (atom < 0)
            return -1;
        int min = 1, max = 1;
        bool quant = true;
        if (ps->p < ps->end && *ps->p == '*')
            min = 0, max = RX_INF, ps->p++;
        else if (ps->p < ps->end && *ps->p == '+')
            min = 1, max = RX_INF, ps->p++;
        else if (ps->p < ps->end && *ps->p == '?')
            min = 0, max = 1, ps->p++;
        else if (ps->p < ps->end && *ps->p == '{') {
            ps->p++;
            if (rx_parse_count(ps, &min, &max)) {
                ps->p--;
                quant = false;
            }
        } else
            quant = false;
        if (quant) {
            if (ps->p < ps->end && *ps->p == '?')
                ps->p++; /* lazy: same yes/no answer */
            int rep = rx_new_node(ps, RN_REPEAT);
            if (rep < 0)
                return -1;
            ps->nodes[rep].a = atom;
            ps->nodes[rep].min = min;
            ps->nodes[rep].max = max;
            atom = rep;
        }
        int cat = rx_new_node(ps, RN_CAT);
        if (cat < 0)
            return -1;
        ps->nodes[cat].a = seq;
        ps->nodes[cat].b = atom;
        seq = cat;
    }
    return seq;
}

static int rx_parse_alt(rx_parser *ps)
{
    int left = rx_parse_seq(ps);
    while (left >= 0 && ps->p < ps->end && *ps->p == '|') {
        ps->p++;
        int right = rx_parse_seq(ps);
        if (right < 0)
            return -1;
        int alt = rx_new_node(ps, RN_ALT);
        if (alt < 0)
            return -1;
        ps->nodes[alt].a = left;
        ps->nodes[alt].b = right;
        left = alt;
    }
    return left;
}

typedef struct {
    rx_inst *prog;
    size_t n, cap;
} rx_emitter;

static int rx_emit1(rx_emitter *em, uint8_t op, uint32_t arg)
{
    if (em->n >= RX_MAX_INST)
        return -1;
    if (em->n == em->cap) {
        size_t cap = em->cap ? em->cap * 2 : 32;
        rx_inst *np = realloc(em->prog, cap * sizeof *np);
        if (!np)
            return -1;
        em->prog = np;
        em->cap = cap;
    }
    em->prog[em->n].op = op;
    em->prog[em->n].arg = arg;
    em->prog[em->n].x = em->prog[em->n].y = 0;
    return (int)em->n++;
}

static int rx_emit(rx_emitter *em, const rx_node *nodes, int id)
{
    const rx_node *n = &nodes[id];
    int pc, l;
    switch (n->kind) {
    case RN_EMPTY: return 0;
    case RN_CHAR: return rx_emit1(em, I_CHAR, n->cp) < 0 ? -1 : 0;
    case RN_ANY: return rx_emit1(em, I_ANY, 0) < 0 ? -1 : 0;
    case RN_CLASS: return rx_emit1(em, I_CLASS, n->cp) < 0 ? -1 : 0;
    case RN_BOL: return rx_emit1(em, I_BOL, 0) < 0 ? -1 : 0;
    case RN_EOL: return rx_emit1(em, I_EOL, 0) < 0 ? -1 : 0;
    case RN_CAT: return rx_emit(em, nodes, n->a) || rx_emit(em, nodes, n->b) ? -1 : 0;
    case RN_ALT:
        if ((pc = rx_emit1(em, I_SPLIT, 0)) < 0)
            return -1;
        em->prog[pc].x = pc + 1;
        if (rx_emit(em, nodes, n->a) || (l = rx_emit1(em, I_JMP, 0)) < 0)
            return -1;
        em->prog[pc].y = (int)em->n;
        if (rx_emit(em, nodes, n->b))
            return -1;
        em->prog[l].x = (int)em->n;
        return 0;
    case RN_REPEAT:
        for (int i = 0; i < n->min; i++)
            if (rx_emit(em, nodes, n->a))
                return -1;
        if (n->max == RX_INF) {
            if ((pc = rx_emit1(em, I_SPLIT, 0)) < 0)
                return -1;
            em->prog[pc].x = pc + 1;
            if (rx_emit(em, nodes, n->a) || (l = rx_emit1(em, I_JMP, 0)) < 0)
                return -1;
            em->prog[l].x = pc;
            em->prog[pc].y = (int)em->n;
            return 0;
        }
        /* e{0,k} as (e(e(e)?)?)?: a skipped copy skips all later ones, so only one thread per
         * copy is alive instead of all of them. */
        l = (int)em->n;
        for (int i = n->min; i < n->max; i++) {
            if ((pc = rx_emit1(em, I_SPLIT, 0)) < 0)
                return -1;
            em->prog[pc].x = pc + 1;
            if (rx_emit(em, nodes, n->a))
                return -1;
        }
        for (size_t k = (size_t)l; k < em->n; k++)
            if (em->prog[k].op == I_SPLIT && em->prog[k].y == 0 && em->prog[k].x == (int)k + 1)
                em->prog[k].y = (int)em->n;
        return 0;
    }
    return -1;
}

static void rx_free(rx *r)
{
    if (!r)
        return;
    if (r->posix)
        regfree(&r->rx);
    free(r->prog);
    free(r->classes);
    free(r->ranges);
    free(r->dfa);
    free(r->dfa_flags);
    free(r);
}

/* A DFA over the alphabet "each ASCII byte" + "any non-ASCII code point" (DFA_SYMS symbols), built
 * at compile time by subset construction when the program treats every non-ASCII code point alike
 * (no '.', no non-ASCII literal, classes either contain all of them or none) and has at most
 * DFA_MAX_STATES states. Matching is then one table step per code point. A state is a set of
 * program counters: consuming instructions, pending '$' and MATCH. State 0 is the start (position
 * 0, where '^' holds) and is never shared, so its end-of-input answer may assume an empty input. */
#define DFA_SYMS 129
#define DFA_MAX_STATES 256
enum { DFA_ACCEPT_NOW = 1, DFA_ACCEPT_END = 2, DFA_DEAD = 4 };

typedef struct {
    const rx *r;
    uint8_t *seen; /* per pc, for one closure */
    uint16_t *buf; /* the set being built */
    size_t n;
    bool match;
} dfa_closure;

static void dfa_close(dfa_closure *c, int pc, bool at_start, bool at_end)
{
    for (;;) {
        if (c->seen[pc])
            return;
        c->seen[pc] = 1;
        const rx_inst *in = &c->r->prog[pc];
        switch (in->op) {
        case I_JMP: pc = in->x; continue;
        case I_SPLIT:
            dfa_close(c, in->x, at_start, at_end);
            pc = in->y;
            continue;
        case I_BOL:
            if (!at_start)
                return;
            pc++;
            continue;
        case I_EOL:
            if (at_end) {
                pc++;
                continue;
            }
            c->buf[c->n++] = (uint16_t)pc;
            return;
        case I_MATCH:
            c->match = true;
            c->buf[c->n++] = (uint16_t)pc;
            return;
        default: c->buf[c->n++] = (uint16_t)pc; return;
        }
    }
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static bool rx_dfa_eligible(const rx *r)
{
    for (size_t i = 0; i < r->ninst; i++) {
        const rx_inst *in = &r->prog[i];
        if (in->op == I_ANY || (in->op == I_CHAR && in->arg >= 128))
            return false;
        if (in->op == I_CLASS) {
            const rx_class *cl = &r->classes[in->arg];
            bool all = false;
            for (size_t k = 0; k < cl->n; k++)
                all |= r->ranges[cl->off + k].lo <= 128 && r->ranges[cl->off + k].hi >= 0x10FFFF;
            bool none = true;
            for (size_t k = 0; k < cl->n; k++)
                none &= r->ranges[cl->off + k].hi < 128;
            if (!all && !none)
                return false;
        }
    }
    return true;
}

static bool rx_inst_accepts(const rx *r, const rx_inst *in, unsigned sym)
{
    if (in->op == I_CHAR)
        return sym == in->arg;
    if (in->op != I_CLASS)
        return false;
    const rx_class *cl = &r->classes[in->arg];
    if (sym < 128)
        return (cl->ascii[sym >> 6] >> (sym & 63)) & 1;
    bool member = false; /* uniform over non-ASCII (rx_dfa_eligible): a range reaching there covers all */
    for (size_t k = 0; k < cl->n; k++)
        member |= r->ranges[cl->off + k].hi >= 128;
    return member != cl->neg;
}

/* Returns 0 (with or without a DFA: too large or not eligible just means the NFA runs), -1 when
 * out of memory. */
static int rx_build_dfa(rx *r)
{
    if (!rx_dfa_eligible(r))
        return 0;
    int rc = -1;
    size_t n = r->ninst, nstates = 0;
    uint16_t **sets = calloc(DFA_MAX_STATES, sizeof *sets);
    size_t *sizes = calloc(DFA_MAX_STATES, sizeof *sizes);
    uint16_t *table = malloc((size_t)DFA_MAX_STATES * DFA_SYMS * sizeof *table);
    uint8_t *flags = calloc(DFA_MAX_STATES, 1);
    uint8_t *seen = malloc(n);
    uint16_t *buf = malloc(n * sizeof *buf);
    if (!sets || !sizes || !table || !flags || !seen || !buf)
        goto out;
    dfa_closure c = {.r = r, .seen = seen, .buf = buf};

    memset(seen, 0, n);
    c.n = 0;
    c.match = false;
    dfa_close(&c, 0, true, false);
    if (!(sets[0] = malloc((c.n + 1) * sizeof **sets)))
        goto out;
    qsort(buf, c.n, sizeof *buf, cmp_u16);
    memcpy(sets[0], buf, c.n * sizeof *buf);
    sizes[0] = c.n;
    nstates = 1;

    for (size_t st = 0; st < nstates; st++) {
        /* flags */
        bool now = false;
        for (size_t k = 0; k < sizes[st]; k++)
            now |= r->prog[sets[st][k]].op == I_MATCH;
        memset(seen, 0, n);
        c.n = 0;
        c.match = false;
        for (size_t k = 0; k < sizes[st]; k++)
            if (r->prog[sets[st][k]].op == I_EOL)
                dfa_close(&c, sets[st][k] + 1, st == 0, true);
        flags[st] = (uint8_t)((now ? DFA_ACCEPT_NOW : 0) | (now || c.match ? DFA_ACCEPT_END : 0) |
                              (sizes[st] == 0 ? DFA_DEAD : 0));
        /* transitions */
        for (unsigned sym = 0; sym < DFA_SYMS; sym++) {
            memset(seen, 0, n);
            c.n = 0;
            c.match = false;
            for (size_t k = 0; k < sizes[st]; k++)
                if (rx_inst_accepts(r, &r->prog[sets[st][k]], sym))
                    dfa_close(&c, sets[st][k] + 1, false, false);
            if (!r->anchored)
                dfa_close(&c, 0, false, false);
            qsort(buf, c.n, sizeof *buf, cmp_u16);
            size_t to;
            for (to = 1; to < nstates; to++)
                if (sizes[to] == c.n && memcmp(sets[to], buf, c.n * sizeof *buf) == 0)
                    break;
            if (to == nstates) {
                if (nstates == DFA_MAX_STATES) {
                    rc = 0; /* too large: keep the NFA */
                    goto out;
                }
                if (!(sets[to] = malloc((c.n + 1) * sizeof **sets)))
                    goto out;
                memcpy(sets[to], buf, c.n * sizeof *buf);
                sizes[to] = c.n;
                nstates++;
            }
            table[st * DFA_SYMS + sym] = (uint16_t)to;
        }
    }
    if (!(r->dfa = malloc(nstates * DFA_SYMS * sizeof *table)))
        goto out;
    memcpy(r->dfa, table, nstates * DFA_SYMS * sizeof *table);
    r->dfa_flags = flags;
    flags = NULL;
    r->dfa_states = nstates;
    rc = 0;
out:
    if (sets)
        for (size_t i = 0; i < nstates; i++)
            free(sets[i]);
    free(sets);
    free(sizes);
    free(table);
    free(flags);
    free(seen);
    free(buf);
    return rc;
}

static bool rx_dfa_search(const rx *r, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    unsigned st = 0;
    uint8_t f = r->dfa_flags[0];
    if (f & DFA_ACCEPT_NOW)
        return true;
    for (; p < end; p++) {
        unsigned b = *p;
        if (b >= 0x80) {
            if ((b & 0xC0) == 0x80)
                continue; /* continuation byte: the code point was counted at its lead byte */
            b = 128;
        }
        st = r->dfa[st * DFA_SYMS + b];
        f = r->dfa_flags[st];
        if (f & (DFA_ACCEPT_NOW | DFA_DEAD))
            return f & DFA_ACCEPT_NOW;
    }
    return f & DFA_ACCEPT_END;
}

/* Compiles pattern (len bytes, UTF-8) with the built-in engine, else with regcomp. */
static rx *rx_compile(const char *pattern, size_t len, char *errstr, size_t errlen)
{
    rx *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    rx_parser ps = {.p = pattern, .end = pattern + len, .r = r};
    rx_emitter em = {0};
    int root = rx_parse_alt(&ps);
    bool parsed = root >= 0 && !ps.fail && ps.p == ps.end;
    bool emitted = parsed && rx_emit(&em, ps.nodes, root) == 0 && rx_emit1(&em, I_MATCH, 0) >= 0;
    if (!emitted && !ps.unsupported) {
        /* A syntax error in ECMA 262 terms (also "a++", which glibc would accept and expand), or a
         * pattern over RX_MAX_INST steps: an error, not a POSIX fallback that may explode. */
        if (parsed || ps.fail)
            snprintf(errstr, errlen, "pattern too large (over %d matcher steps)", RX_MAX_INST);
        else
            snprintf(errstr, errlen, "invalid regular expression near offset %zu", (size_t)(ps.p - pattern));
        free(ps.nodes);
        free(em.prog);
        free(r->classes);
        free(r->ranges);
        free(r);
        return NULL;
    }
    if (emitted) {
        r->prog = em.prog;
        r->ninst = em.n;
        r->anchored = em.prog[0].op == I_BOL;
        free(ps.nodes);
        if (rx_build_dfa(r) != 0) {
            snprintf(errstr, errlen, "out of memory");
            rx_free(r);
            return NULL;
        }
        return r;
    }
    free(ps.nodes);
    free(em.prog);
    free(r->classes);
    free(r->ranges);
    memset(r, 0, sizeof *r);
    char *z = strndup(pattern, len);
    if (!z || strlen(z) != len) {
        snprintf(errstr, errlen, "pattern cannot be compiled");
        free(z);
        free(r);
        return NULL;
    }
    int rc = regcomp(&r->rx, z, REG_EXTENDED | REG_NOSUB);
    free(z);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->rx, msg, sizeof msg);
        snprintf(errstr, errlen, "pattern cannot be compiled: %s", msg);
        free(r);
        return NULL;
    }
    r->posix = true;
    return r;
}

static inline bool rx_class_has(const rx *r, const rx_class *cl, uint32_t c)
{
    if (c < 128)
        return (cl->ascii[c >> 6] >> (c & 63)) & 1;
    bool in = false;
    for (size_t i = 0; i < cl->n && !in; i++)
        in = c >= r->ranges[cl->off + i].lo && c <= r->ranges[cl->off + i].hi;
    return in != cl->neg;
}

typedef struct {
    uint16_t *list;
    size_t n;
} rx_list;

/* Follows jumps, splits and assertions from pc at position pos; returns true when MATCH is met. */
static bool rx_add(const rx *r, rx_list *l, uint32_t *mark, uint32_t gen, int pc, size_t pos, size_t len)
{
    for (;;) {
        if (mark[pc] == gen)
            return false;
        mark[pc] = gen;
        const rx_inst *in = &r->prog[pc];
        switch (in->op) {
        case I_JMP: pc = in->x; continue;
        case I_SPLIT:
            if (rx_add(r, l, mark, gen, in->x, pos, len))
                return true;
            pc = in->y;
            continue;
        case I_BOL:
            if (pos != 0)
                return false;
            pc++;
            continue;
        case I_EOL:
            if (pos != len)
                return false;
            pc++;
            continue;
        case I_MATCH: return true;
        default: l->list[l->n++] = (uint16_t)pc; return false;
        }
    }
}

/* Does pattern r match somewhere in s? Linear in len * program size; no allocation. */
static bool rx_search(const rx *r, const char *s, size_t len)
{
    if (r->dfa)
        return rx_dfa_search(r, s, len);
    if (r->posix) {
        regmatch_t m[1];
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t)len;
        return regexec(&r->rx, s, 1, m, REG_STARTEND) == 0;
    }
    uint16_t a[RX_MAX_INST], b[RX_MAX_INST];
    uint32_t mark[RX_MAX_INST];
    memset(mark, 0, r->ninst * sizeof mark[0]);
    uint32_t gen = 1;
    rx_list cl = {a, 0}, nl = {b, 0};
    if (rx_add(r, &cl, mark, gen, 0, 0, len))
        return true;
    const char *p = s, *end = s + len;
    while (p < end) {
        if (cl.n == 0 && r->anchored)
            return false;
        uint32_t c = utf8_next(&p, end);
        size_t pos = (size_t)(p - s);
        gen++;
        nl.n = 0;
        for (size_t i = 0; i < cl.n; i++) {
            const rx_inst *in = &r->prog[cl.list[i]];
            bool ok;
            switch (in->op) {
            case I_CHAR: ok = c == in->arg; break;
            case I_ANY: ok = c != '\n' && c != '\r' && c != 0x2028 && c != 0x2029; break;
            case I_CLASS: ok = rx_class_has(r, &r->classes[in->arg], c); break;
            default: ok = false; break;
            }
            if (ok && rx_add(r, &nl, mark, gen, cl.list[i] + 1, pos, len))
                return true;
        }
        if (!r->anchored && rx_add(r, &nl, mark, gen, 0, pos, len))
            return true;
        rx_list t = cl;
        cl = nl;
        nl = t;
    }
    return false;
}

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
    rx *rx;
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
    long minlen, maxlen; /* -1: absent */
    rx *pattern;
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
            if (ch == '%' && hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
                ch = (char)(hexval(p[0]) * 16 + hexval(p[1]));
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
            p->rx = rx_compile(json_object_iter_key(it), json_object_iter_key_len(it), err, sizeof err);
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
    }
    if (get_count(c, j, "minLength", &n->minlen) || get_count(c, j, "maxLength", &n->maxlen))
        return NULL;
    if ((v = json_object_get(j, "pattern"))) {
        char err[160];
        if (!json_is_string(v)) {
            cerr(c, "pattern must be a string");
            return NULL;
        }
        if (!(n->pattern = rx_compile(json_string_value(v), json_string_length(v), err, sizeof err))) {
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
    return n;
}

static void node_free(node *n)
{
    for (size_t i = 0; i < n->nprops; i++)
        free(n->props[i].name);
    free(n->props);
    free(n->htab);
    for (size_t i = 0; i < n->npprops; i++)
        rx_free(n->pprops[i].rx);
    free(n->pprops);
    rx_free(n->pattern);
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

static bool num_equal(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

/* JSON Schema equality: numbers by value, objects regardless of key order. */
static bool jequal(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!jequal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it)) {
            json_t *o = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!o || !jequal(json_object_iter_value(it), o))
                return false;
        }
        return true;
    }
    default: return true; /* null, true, false */
    }
}

static unsigned inst_type(json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return T_OBJECT;
    case JSON_ARRAY: return T_ARRAY;
    case JSON_STRING: return T_STRING;
    case JSON_INTEGER: return T_INTEGER | T_NUMBER;
    case JSON_REAL: {
        double d = json_real_value(j);
        return isfinite(d) && d == floor(d) ? (T_INTEGER | T_NUMBER) : T_NUMBER;
    }
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOL;
    default: return T_NULL;
    }
}

static size_t utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int v_node(const node *n, json_t *j, const vpath *p, int depth, const vout *o);

static int v_child(const node *n, json_t *j, const vpath *p, const char *key, size_t len, int depth,
                   const vout *o)
{
    vpath q = {p, key, len};
    return v_node(n, j, &q, depth + 1, o);
}

static int v_object(const node *n, json_t *j, const vpath *p, int depth, const vout *o)
{
    json_t *vals[FAST_PROPS];
    bool closed = n->npprops || n->addl_kind != ADDL_ANY;
    /* One pass over the instance's keys when that is cheaper than a lookup per named property, or
     * when the keys must be walked anyway for additionalProperties / patternProperties. */
    bool fast = n->nprops <= FAST_PROPS && (closed || n->nprops > json_object_size(j)), extra = false;
    if (fast) {
        memset(vals, 0, n->nprops * sizeof vals[0]);
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            int k = prop_find(n, json_object_iter_key(it), json_object_iter_key_len(it));
            if (k >= 0)
                vals[k] = json_object_iter_value(it);
            if (k < 0 || !n->props[k].schema)
                extra = true;
        }
    }
    for (size_t k = 0; k < n->nprops; k++) {
        const prop *pr = &n->props[k];
        json_t *v = fast ? vals[k] : json_object_getn(j, pr->name, pr->len);
        if (!v) {
            if (pr->required)
                return fail(o, "missing", p, pr->name, pr->len);
            continue;
        }
        if (pr->schema && v_child(pr->schema, v, p, pr->name, pr->len, depth, o))
            return -1;
    }
    if (!closed)
        return 0;
    if (fast && !extra && !n->npprops)
        return 0;
    for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
        const char *key = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        json_t *v = json_object_iter_value(it);
        int k = prop_find(n, key, len);
        bool named = k >= 0 && n->props[k].schema;
        for (size_t i = 0; i < n->npprops; i++) {
            if (rx_search(n->pprops[i].rx, key, len)) {
                named = true;
                if (v_child(n->pprops[i].schema, v, p, key, len, depth, o))
                    return -1;
            }
        }
        if (named)
            continue;
        if (n->addl_kind == ADDL_FALSE)
            return fail(o, "additional", p, key, len);
        if (n->addl_kind == ADDL_SCHEMA && v_child(n->addl, v, p, key, len, depth, o))
            return -1;
    }
    return 0;
}

static int v_array(const node *n, json_t *j, const vpath *p, int depth, const vout *o)
{
    size_t size = json_array_size(j);
    if ((n->minitems >= 0 && size < (size_t)n->minitems) || (n->maxitems >= 0 && size > (size_t)n->maxitems))
        return fail(o, "items", p, NULL, 0);
    for (size_t i = 0; i < size; i++) {
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
        if (sub && v_child(sub, json_array_get(j, i), p, NULL, i, depth, o))
            return -1;
    }
    return 0;
}

static int v_number(const node *n, json_t *j, const vpath *p, const vout *o)
{
    double d = json_number_value(j);
    if ((n->has_min && d < n->min) || (n->has_max && d > n->max) || (n->has_xmin && d <= n->xmin) ||
        (n->has_xmax && d >= n->xmax))
        return fail(o, "range", p, NULL, 0);
    if (n->has_mult) {
        bool ok;
        if (json_is_integer(j) && n->mult == floor(n->mult) && n->mult < 9e18)
            ok = json_integer_value(j) % (json_int_t)n->mult == 0;
        else {
            double q = d / n->mult;
            ok = isfinite(q) && fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
        }
        if (!ok)
            return fail(o, "multipleof", p, NULL, 0);
    }
    return 0;
}

static int v_string(const node *n, json_t *j, const vpath *p, const vout *o)
{
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    if (n->minlen >= 0 || n->maxlen >= 0) {
        size_t cps = utf8_length(s, len);
        if ((n->minlen >= 0 && cps < (size_t)n->minlen) || (n->maxlen >= 0 && cps > (size_t)n->maxlen))
            return fail(o, "length", p, NULL, 0);
    }
    if (n->pattern && !rx_search(n->pattern, s, len))
        return fail(o, "pattern", p, NULL, 0);
    if (n->format == FMT_DATE && jtm_date_parse(s, len, NULL) != 0)
        return fail(o, "format", p, NULL, 0);
    if (n->format == FMT_DATETIME && jtm_datetime_check(s, len) != 0)
        return fail(o, "format", p, NULL, 0);
    return 0;
}

static int v_node(const node *n, json_t *j, const vpath *p, int depth, const vout *o)
{
    static const vout quiet = {NULL, 0};
    if (depth > JTM_SCHEMA_MAX_DEPTH)
        return fail(o, "depth", p, NULL, 0);
    if (n->ref)
        return v_node(n->ref, j, p, depth + 1, o);
    if (n->boolean >= 0)
        return n->boolean ? 0 : fail(o, "false", p, NULL, 0);
    unsigned t = inst_type(j);
    if (n->types && !(n->types & t))
        return fail(o, "type", p, NULL, 0);
    if (n->konst && !jequal(n->konst, j))
        return fail(o, "const", p, NULL, 0);
    if (n->enums) {
        size_t i;
        for (i = 0; i < n->nenums && !jequal(n->enums[i], j); i++)
            ;
        if (i == n->nenums)
            return fail(o, "enum", p, NULL, 0);
    }
    if (t == T_STRING) {
        if (v_string(n, j, p, o))
            return -1;
    } else if (t & T_NUMBER) {
        if (v_number(n, j, p, o))
            return -1;
    } else if (t == T_OBJECT) {
        if (n->is_object_node && v_object(n, j, p, depth, o))
            return -1;
    } else if (t == T_ARRAY) {
        if (n->is_array_node && v_array(n, j, p, depth, o))
            return -1;
    }
    for (size_t i = 0; i < n->all_of.n; i++)
        if (v_node(n->all_of.v[i], j, p, depth + 1, o))
            return -1;
    if (n->any_of.n) {
        size_t i;
        for (i = 0; i < n->any_of.n && v_node(n->any_of.v[i], j, p, depth + 1, &quiet); i++)
            ;
        if (i == n->any_of.n)
            return fail(o, "anyof", p, NULL, 0);
    }
    if (n->one_of.n) {
        size_t ok = 0;
        for (size_t i = 0; i < n->one_of.n && ok < 2; i++)
            ok += v_node(n->one_of.v[i], j, p, depth + 1, &quiet) == 0;
        if (ok != 1)
            return fail(o, "oneof", p, NULL, 0);
    }
    if (n->not_ && v_node(n->not_, j, p, depth + 1, &quiet) == 0)
        return fail(o, "not", p, NULL, 0);
    if (n->if_) {
        if (v_node(n->if_, j, p, depth + 1, &quiet) == 0) {
            if (n->then_ && v_node(n->then_, j, p, depth + 1, o))
                return -1;
        } else if (n->else_ && v_node(n->else_, j, p, depth + 1, o))
            return -1;
    }
    return 0;
}

int jtm_schema_validate(const jtm_schema *s, json_t *instance, char *reason, size_t reasonlen)
{
    vout o = {reason, reasonlen};
    if (reason && reasonlen)
        reason[0] = '\0';
    if (!s || !instance) {
        if (reason && reasonlen)
            snprintf(reason, reasonlen, "schema:type:$");
        return -1;
    }
    return v_node(s->root, instance, NULL, 0, &o);
}
