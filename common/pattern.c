/* ECMA 262 regular expressions as JSON Schema "pattern" uses them; see pattern.h. Layout: parser
 * (pattern -> AST), emitter (AST -> Thompson NFA program), an optional DFA built from the program
 * at compile time, and the two matchers. */
#include "pattern.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

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

struct jtm_pattern {
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
};

typedef struct jtm_pattern rx;

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

static int rx_hex(rx_parser *ps, int digits, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->end - ps->p < digits)
        return -1;
    for (int i = 0; i < digits; i++) {
        int h = jtm_hexval(ps->p[i]);
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

/* {n}, {n,}, {n,m} at ps->p (after '{'); returns 0 and moves on, -1 (not a count: the '{' is a
 * literal) or -2 ({m,n} with n < m) leaving ps->p untouched. */
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
        return -2; /* a count, but out of order: a syntax error, not a literal */
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
        if (rx_parse_count(ps, &a, &b) != -1)
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
            int rc = rx_parse_count(ps, &min, &max);
            if (rc == -2)
                return -1;
            if (rc == -1) {
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

void jtm_pattern_free(jtm_pattern *r)
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
jtm_pattern *jtm_pattern_compile(const char *pattern, size_t len, char *errstr, size_t errlen)
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
            jtm_pattern_free(r);
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

/* The NFA (or POSIX) path: linear in len * program size; no allocation outside regexec. */
static bool rx_nfa_search(const rx *r, const char *s, size_t len)
{
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

bool jtm_pattern_search(const jtm_pattern *r, const char *s, size_t len)
{
    return r->dfa ? rx_dfa_search(r, s, len) : rx_nfa_search(r, s, len);
}

bool jtm_pattern_search_nfa(const jtm_pattern *r, const char *s, size_t len)
{
    return rx_nfa_search(r, s, len);
}

bool jtm_pattern_has_dfa(const jtm_pattern *r)
{
    return r->dfa != NULL;
}
