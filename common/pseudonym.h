/* The region key and the keyed hashes made with it (../shared/contracts.md, docs/conventions.md).
 *
 * A keyed hash is the first 16 bytes of HMAC-SHA256(region key, prefix + value) as 32 lowercase hex
 * characters. Prefixes are fixed per field ("bsn:", "fb:", "event:<feed>:", "ref:", "alloc:",
 * "inv:"), so equal numbers in different fields never give the same hash.
 *
 * The key is the exact bytes of a key file (no trimming: create it with
 * `head -c 32 /dev/urandom > key && chmod 600 key`). The bytes live in a locked, non-dumpable page
 * that is wiped on free; the HMAC inner and outer states are computed once at load (and kept in that
 * page too) and copied per hash as plain SHA256_CTX structs. Hashing only reads the key, so one
 * jtm_key may be used by several threads at once; load and free it while no thread hashes. */
#ifndef JTM_PSEUDONYM_H
#define JTM_PSEUDONYM_H

#include <stdbool.h>
#include <stddef.h>

#define JTM_KEY_MIN_BYTES 32
#define JTM_KEY_MAX_BYTES 1024
#define JTM_KEY_MIN_BITS 128 /* estimated entropy a key needs (jtm_key_entropy_bits) */
#define JTM_PSEUDONYM_HEX 32 /* characters; buffers need 33 with the NUL */

typedef struct jtm_key jtm_key;

/* Loads the key file at path and tags it with key_id (1-32 of [A-Za-z0-9._-]). Refuses a file that
 * is missing, not a regular file, readable or writable by group or others (mode & 077), shorter
 * than JTM_KEY_MIN_BYTES or longer than JTM_KEY_MAX_BYTES, or with obviously low entropy (below
 * JTM_KEY_MIN_BITS by jtm_key_entropy_bits: 32 bytes need 16 or more distinct byte values; forty
 * "a" bytes have none). errstr names the path and the problem, never the content. Returns 0 and
 * *out, or -1. */
int jtm_key_load(const char *path, const char *key_id, jtm_key **out, char *errstr, size_t errlen);
/* The same from bytes in memory (tests, fuzzing). */
int jtm_key_from_bytes(const void *bytes, size_t len, const char *key_id, jtm_key **out, char *errstr,
                       size_t errlen);
/* An estimate of a key's entropy: its length times the Shannon entropy of its byte histogram
 * (32 random bytes: 141 bits or more; 64 random hex digits: about 250; 32 bytes of 16 values in
 * equal numbers: 128). distinct (may be NULL) gets the number of distinct byte values. */
double jtm_key_entropy_bits(const void *bytes, size_t len, int *distinct);
/* Wipes and frees. NULL is fine. */
void jtm_key_free(jtm_key *key);
const char *jtm_key_id(const jtm_key *key);
/* True when the key bytes could be locked in memory (mlock); false under a tight RLIMIT_MEMLOCK. */
bool jtm_key_is_locked(const jtm_key *key);

/* Writes the keyed hash of prefix + value[0..len) to out (32 hex + NUL). Returns 0, or -1 only when
 * OpenSSL fails (then out is ""). */
int jtm_pseudonym_hex(const jtm_key *key, const char *prefix, const char *value, size_t len, char out[33]);
#endif
