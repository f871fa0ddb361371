/* A parsed JSON document as one flat array of nodes: the hot-path representation of an event.
 *
 * jtm-ingest parses every raw event once into a jtm_jdoc, validates it (common/schema.h) and reads
 * its fields from it. Unlike a jansson tree, a document allocates nothing per value: the node
 * array and the buffer for strings with escapes are kept and reused from one parse to the next,
 * strings without escapes (almost all) point into the source bytes, and only objects with more
 * than JTM_JDOC_LINEAR members get a small hash table (for the duplicate-key check and lookups).
 * Measured on SOJ events (bench/schema_bench.c): about 0.5 us to parse, against 1.5 us for the
 * jansson tree it replaced; jtm-ingest's whole transform went from 3.4 to 2.2 us per event.
 *
 * Grammar: exactly what json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts: RFC 8259,
 * strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), no \u0000, no lone
 * surrogate escapes, no duplicate keys, nesting at most JTM_JDOC_MAX_DEPTH, integers that fit a
 * long long (else an error), reals that do not overflow. One deliberate difference: jansson 2.14
 * skips a NUL byte that follows a number ("[1\0]" parses); here a NUL byte is always an error. The
 * fuzz target (tests/fuzz) checks the two against each other.
 *
 * Layout: node 0 is the root; a container's children follow it, each child's subtree contiguous;
 * node[i].end is one past the last node of i's subtree, so the next sibling of child c is
 * node[c].end. Members of an object carry their key. Index 0 is never a child, so functions that
 * find a node return 0 for "none".
 *
 * A document's strings and keys point into the source buffer or the document's own storage: keep
 * both alive (and unchanged) while reading, and reparse before reuse. One document per thread. */
#ifndef JTM_JDOC_H
#define JTM_JDOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JTM_JDOC_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
#define JTM_JDOC_LINEAR 8       /* objects with more members get a hash table */

typedef enum {
    JTM_J_NULL,
    JTM_J_FALSE,
    JTM_J_TRUE,
    JTM_J_INT,
    JTM_J_REAL,
    JTM_J_STRING,
    JTM_J_ARRAY,
    JTM_J_OBJECT,
} jtm_jtype;

typedef struct jtm_jnode {
    uint8_t type;     /* jtm_jtype */
    uint32_t end;     /* one past the last node of this subtree */
    uint32_t count;   /* array, object: number of children */
    uint32_t htab;    /* object with > JTM_JDOC_LINEAR members: its table in slots (size = mask + 1) */
    uint32_t hmask;
    uint32_t klen;    /* member of an object: key length */
    const char *key;  /* member of an object: key bytes (not NUL-terminated); else NULL */
    union {
        struct {
            const char *s; /* not NUL-terminated; may hold no NUL */
            size_t n;
        } str;
        long long i;
        double d;
    } v;
} jtm_jnode;

typedef struct jtm_jdoc {
    jtm_jnode *nodes;
    uint32_t n, cap;
    char *sbuf;        /* decoded strings with escapes; never moves during one parse */
    size_t sused, scap;
    uint32_t *slots;   /* object hash tables: node index, 0 empty */
    size_t nslots, slotcap;
} jtm_jdoc;

void jtm_jdoc_init(jtm_jdoc *d);
void jtm_jdoc_free(jtm_jdoc *d);

/* Parses buf[0..len) as one JSON value. 0 on success, -1 when it is not (or out of memory). */
int jtm_jdoc_parse(jtm_jdoc *d, const char *buf, size_t len);

/* Builds the document of a jansson value (tests, and callers that hold jansson values). Strings
 * point into j, which must outlive the reads. 0 or -1 (out of memory, NUL in a key or string). */
int jtm_jdoc_from_json(jtm_jdoc *d, json_t *j);

/* The member of object node obj named key, or 0. */
uint32_t jtm_jdoc_get(const jtm_jdoc *d, uint32_t obj, const char *key, size_t klen);


/* The per-process seed of the key hash (drawn from getrandom() by the first jtm_jdoc_init), and the
 * hash itself with a given seed: for tests, which check that keys chosen to collide without the
 * seed do not collide with it. */
void jtm_jdoc_hash_seed(uint64_t out[2]);
uint32_t jtm_jdoc_key_hash_seeded(const uint64_t seed[2], const char *s, size_t n);

/* A jansson copy of node i (tests and the fuzz target compare trees); NULL on allocation failure. */
json_t *jtm_jdoc_to_json(const jtm_jdoc *d, uint32_t i);

static inline const jtm_jnode *jtm_jdoc_node(const jtm_jdoc *d, uint32_t i) { return &d->nodes[i]; }

/* jtm_jdoc_get with a NUL-terminated name (inline: the length of a literal is folded). */
static inline uint32_t jtm_jdoc_getz(const jtm_jdoc *d, uint32_t obj, const char *key)
{
    return jtm_jdoc_get(d, obj, key, strlen(key));
}

#endif
