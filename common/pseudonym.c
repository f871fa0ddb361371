/* The low-level SHA256_CTX interface is deprecated in OpenSSL 3 but still built (Debian 12 ships it) and
 * runs the same SHA-NI/AVX code as EVP: it is used here because a SHA256_CTX is a plain struct. HMAC
 * with precomputed pad states then costs a struct copy per hash, where EVP_MD_CTX_copy_ex frees and
 * allocates the provider's context on every copy (measured: 257 ns -> see jtm_pseudonym_hex). */
#define OPENSSL_API_COMPAT 10101
#include "pseudonym.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA256_BLOCK 64
#define SHA256_LEN 32

/* The secret part of a key: the bytes and the HMAC states derived from them (as good as the key
 * for forging hashes), together in one locked, non-dumpable mapping. */
typedef struct key_secret {
    SHA256_CTX inner, outer; /* SHA-256 after absorbing key^ipad and key^opad */
    unsigned char bytes[JTM_KEY_MAX_BYTES];
} key_secret;

struct jtm_key {
    key_secret *sec; /* in its own mmap'd pages: locked, excluded from core dumps */
    size_t len, map_len;
    bool locked;
    char id[33];
};

static int valid_key_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void jtm_key_free(jtm_key *key)
{
    if (!key)
        return;
    if (key->sec) {
        OPENSSL_cleanse(key->sec, key->map_len);
        if (key->locked)
            munlock(key->sec, key->map_len);
        munmap(key->sec, key->map_len);
    }
    OPENSSL_cleanse(key, sizeof *key);
    free(key);
}

/* Precomputes the HMAC states (RFC 2104) so a hash costs two SHA-256 finalisations and no key
 * schedule. Keys longer than the block are hashed first, as HMAC requires. */
static int precompute(jtm_key *k, char *errstr, size_t errlen)
{
    unsigned char block[SHA256_BLOCK], pad[SHA256_BLOCK];
    unsigned int n = 0;
    int rc = -1;
    memset(block, 0, sizeof block);
    if (k->len > SHA256_BLOCK) {
        if (EVP_Digest(k->sec->bytes, k->len, block, &n, EVP_sha256(), NULL) != 1)
            goto out;
    } else {
        memcpy(block, k->sec->bytes, k->len);
    }
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x36;
    if (SHA256_Init(&k->sec->inner) != 1 || SHA256_Update(&k->sec->inner, pad, sizeof pad) != 1)
        goto out;
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x5c;
    if (SHA256_Init(&k->sec->outer) != 1 || SHA256_Update(&k->sec->outer, pad, sizeof pad) != 1)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (rc != 0)
        snprintf(errstr, errlen, "OpenSSL could not set up HMAC-SHA256");
    return rc;
}

double jtm_key_entropy_bits(const void *bytes, size_t len, int *distinct)
{
    size_t count[256] = {0};
    const unsigned char *b = bytes;
    for (size_t i = 0; i < len; i++)
        count[b[i]]++;
    double h = 0;
    int d = 0;
    for (int v = 0; v < 256; v++) {
        if (!count[v])
            continue;
        double p = (double)count[v] / (double)len;
        h -= p * log2(p);
        d++;
    }
    if (distinct)
        *distinct = d;
    OPENSSL_cleanse(count, sizeof count);
    return h * (double)len;
}

int jtm_key_from_bytes(const void *bytes, size_t len, const char *key_id, jtm_key **out, char *errstr,
                       size_t errlen)
{
    *out = NULL;
    if (!valid_key_id(key_id)) {
        snprintf(errstr, errlen, "key id must be 1-32 characters of [A-Za-z0-9._-]");
        return -1;
    }
    if (len < JTM_KEY_MIN_BYTES || len > JTM_KEY_MAX_BYTES) {
        snprintf(errstr, errlen, "key is %zu bytes, need %d to %d", len, JTM_KEY_MIN_BYTES, JTM_KEY_MAX_BYTES);
        return -1;
    }
    int distinct;
    double bits = jtm_key_entropy_bits(bytes, len, &distinct);
    if (bits < JTM_KEY_MIN_BITS - 1e-9) {
        snprintf(errstr, errlen,
                 "key has too little entropy (%d distinct byte values in %zu bytes, about %.0f bits, need %d): "
                 "make it with head -c 32 /dev/urandom",
                 distinct, len, bits, JTM_KEY_MIN_BITS);
        return -1;
    }
    jtm_key *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    k->map_len = ((sizeof(key_secret) + (size_t)page - 1) / (size_t)page) * (size_t)page;
    void *m = mmap(NULL, k->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        snprintf(errstr, errlen, "cannot map key memory: %s", strerror(errno));
        free(k);
        return -1;
    }
    k->sec = m;
    k->locked = mlock(m, k->map_len) == 0;
#ifdef MADV_DONTDUMP
    madvise(m, k->map_len, MADV_DONTDUMP);
#endif
    memcpy(k->sec->bytes, bytes, len);
    k->len = len;
    snprintf(k->id, sizeof k->id, "%s", key_id);
    if (precompute(k, errstr, errlen) != 0) {
        jtm_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

int jtm_key_load(const char *path, const char *key_id, jtm_key **out, char *errstr, size_t errlen)
{
    unsigned char buf[JTM_KEY_MAX_BYTES + 1];
    size_t len = 0;
    int rc = -1;
    *out = NULL;
    if (!path || !*path) {
        snprintf(errstr, errlen, "no key file configured");
        return -1;
    }
    /* Check the opened file, not the name: no window between the check and the read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(errstr, errlen, "key file %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(errstr, errlen, "key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errstr, errlen, "key file %s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        snprintf(errstr, errlen, "key file %s: mode %04o lets group or others access it (chmod 600)", path,
                 (unsigned)(st.st_mode & 07777));
        goto out;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errlen, "key file %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len < JTM_KEY_MIN_BYTES) {
        snprintf(errstr, errlen, "key file %s: too short (%zu bytes, need at least %d)", path, len,
                 JTM_KEY_MIN_BYTES);
        goto out;
    }
    if (len > JTM_KEY_MAX_BYTES) {
        snprintf(errstr, errlen, "key file %s: too long (more than %d bytes)", path, JTM_KEY_MAX_BYTES);
        goto out;
    }
    char inner[256];
    if (jtm_key_from_bytes(buf, len, key_id, out, inner, sizeof inner) != 0) {
        snprintf(errstr, errlen, "key file %s: %s", path, inner);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return rc;
}

const char *jtm_key_id(const jtm_key *key) { return key->id; }
bool jtm_key_is_locked(const jtm_key *key) { return key->locked; }

/* The working state lives on the stack (the pad states are only read), so any number of threads
 * may hash with one key; it is wiped before returning because it holds key-derived state. */
int jtm_pseudonym_hex(const jtm_key *k, const char *prefix, const char *value, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char ih[SHA256_LEN], oh[SHA256_LEN];
    SHA256_CTX w;
    int ok;
    out[0] = '\0';
    w = k->sec->inner;
    ok = SHA256_Update(&w, prefix, strlen(prefix)) == 1 && (!len || SHA256_Update(&w, value, len) == 1) &&
         SHA256_Final(ih, &w) == 1;
    if (ok) {
        w = k->sec->outer;
        ok = SHA256_Update(&w, ih, sizeof ih) == 1 && SHA256_Final(oh, &w) == 1;
    }
    OPENSSL_cleanse(&w, sizeof w);
    OPENSSL_cleanse(ih, sizeof ih);
    if (!ok)
        return -1;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[oh[i] >> 4];
        out[2 * i + 1] = hex[oh[i] & 15];
    }
    out[32] = '\0';
    return 0;
}
