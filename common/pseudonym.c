#include "pseudonym.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA256_BLOCK 64
#define SHA256_LEN 32

struct jtm_key {
    unsigned char *bytes; /* in its own mmap'd page: locked, excluded from core dumps */
    size_t len, map_len;
    bool locked;
    char id[33];
    EVP_MD_CTX *inner, *outer; /* SHA-256 after absorbing key^ipad and key^opad */
    EVP_MD_CTX *work;          /* scratch, reused per hash */
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
    if (key->bytes) {
        OPENSSL_cleanse(key->bytes, key->map_len);
        if (key->locked)
            munlock(key->bytes, key->map_len);
        munmap(key->bytes, key->map_len);
    }
    /* EVP_MD_CTX_free cleanses the digest state (derived from the key) before freeing it. */
    EVP_MD_CTX_free(key->inner);
    EVP_MD_CTX_free(key->outer);
    EVP_MD_CTX_free(key->work);
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
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    k->work = EVP_MD_CTX_new();
    if (!k->inner || !k->outer || !k->work)
        goto out;
    if (k->len > SHA256_BLOCK) {
        if (EVP_Digest(k->bytes, k->len, block, &n, EVP_sha256(), NULL) != 1)
            goto out;
    } else {
        memcpy(block, k->bytes, k->len);
    }
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x36;
    if (EVP_DigestInit_ex(k->inner, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(k->inner, pad, sizeof pad) != 1)
        goto out;
    for (int i = 0; i < SHA256_BLOCK; i++)
        pad[i] = block[i] ^ 0x5c;
    if (EVP_DigestInit_ex(k->outer, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(k->outer, pad, sizeof pad) != 1)
        goto out;
    if (EVP_DigestInit_ex(k->work, EVP_sha256(), NULL) != 1)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (rc != 0)
        snprintf(errstr, errlen, "OpenSSL could not set up HMAC-SHA256");
    return rc;
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
    jtm_key *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    long page = sysconf(_SC_PAGESIZE);
    k->map_len = ((len + (size_t)page - 1) / (size_t)page) * (size_t)page;
    void *m = mmap(NULL, k->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        snprintf(errstr, errlen, "cannot map key memory: %s", strerror(errno));
        free(k);
        return -1;
    }
    k->bytes = m;
    k->locked = mlock(m, k->map_len) == 0;
#ifdef MADV_DONTDUMP
    madvise(m, k->map_len, MADV_DONTDUMP);
#endif
    memcpy(k->bytes, bytes, len);
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

int jtm_pseudonym_hex(jtm_key *k, const char *prefix, const char *value, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char ih[SHA256_LEN], oh[SHA256_LEN];
    unsigned int n;
    out[0] = '\0';
    if (EVP_MD_CTX_copy_ex(k->work, k->inner) != 1 || EVP_DigestUpdate(k->work, prefix, strlen(prefix)) != 1 ||
        (len && EVP_DigestUpdate(k->work, value, len) != 1) || EVP_DigestFinal_ex(k->work, ih, &n) != 1 ||
        EVP_MD_CTX_copy_ex(k->work, k->outer) != 1 || EVP_DigestUpdate(k->work, ih, sizeof ih) != 1 ||
        EVP_DigestFinal_ex(k->work, oh, &n) != 1)
        return -1;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[oh[i] >> 4];
        out[2 * i + 1] = hex[oh[i] & 15];
    }
    out[32] = '\0';
    return 0;
}
