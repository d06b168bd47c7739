/* HMAC-SHA256 (RFC 2104) for the two accelerators (fasthash.c, privfast.c), built on
 * OpenSSL's SHA-256 with the key schedule done once per call: the states after
 * key ^ ipad (and a message prefix) and after key ^ opad are plain structs, copied per
 * message, so a keyed message costs its compressions and no allocation. Include after
 * <openssl/sha.h> and <openssl/crypto.h>; HASH and BLOCK are SHA-256's sizes. */
#ifndef POR_HMAC_SHA256_H
#define POR_HMAC_SHA256_H

#define HASH 32
#define BLOCK 64

typedef struct {
    SHA256_CTX inner; /* has absorbed key ^ ipad, then the message prefix */
    SHA256_CTX outer; /* has absorbed key ^ opad */
} hmac_keyed;

static void hmac_setup(hmac_keyed *h, const unsigned char *key, Py_ssize_t key_len,
                       const unsigned char *prefix, Py_ssize_t prefix_len) {
    unsigned char k[BLOCK], pad[BLOCK];
    memset(k, 0, BLOCK);
    if (key_len > BLOCK) {
        SHA256(key, (size_t)key_len, k);
    } else if (key_len > 0) {
        memcpy(k, key, (size_t)key_len);
    }
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, BLOCK);
    SHA256_Update(&h->inner, prefix, (size_t)prefix_len);
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, BLOCK);
    OPENSSL_cleanse(k, BLOCK);
    OPENSSL_cleanse(pad, BLOCK);
}

/* HMAC(key, prefix ‖ a ‖ b) into out (b may be empty). Its outputs are secret-derived
 * (salts, blindings), so the working state is wiped before returning. */
static void hmac_finish(const hmac_keyed *h, const unsigned char *a, size_t a_len,
                        const unsigned char *b, size_t b_len, unsigned char *out) {
    SHA256_CTX c = h->inner;
    unsigned char inner_digest[HASH];
    SHA256_Update(&c, a, a_len);
    if (b_len) SHA256_Update(&c, b, b_len);
    SHA256_Final(inner_digest, &c);
    c = h->outer;
    SHA256_Update(&c, inner_digest, HASH);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
    OPENSSL_cleanse(inner_digest, HASH);
}

#endif
