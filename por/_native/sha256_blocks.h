/* Whole-block SHA-256 and HMAC-SHA256 for the builder's bulk loops (fasthash.c).
 *
 * What it does: the bookkeeping around OpenSSL's SHA-256 compression function, done once
 * per loop instead of once per message. A loop hashes many messages that share a prefix
 * (a tag, a round id, an HMAC key block) and often a length. The prefix's whole 64-byte
 * blocks are compressed once (the "midstate"); its remaining bytes are written once at the
 * start of a scratch buffer, each message's own bytes after them, then SHA-256's padding
 * (FIPS 180-4 §5.1.1: 0x80, zeros, the message's length in bits as a big-endian u64).
 * Where the length is fixed, the padding is written once per loop too. Each message is
 * then one SHA256_Update call over all of its remaining blocks (SHA256_Transform when
 * there is one) from a copy of the midstate's eight state words (OpenSSL's block
 * function, SHA-NI where the CPU has it, called once for all of them, reading the scratch
 * buffer in place: SHA256_Update copies nothing when no bytes are buffered and it is given
 * whole blocks), and the digest is the eight state words written big-endian (FIPS 180-4
 * §6.2.2, step 4). What that saves per
 * message against SHA256_Update/SHA256_Final: the copies of a partial block into the
 * context's buffer, Final's padding and cleanse, and the copy of a whole context.
 *
 * What it does not do: it implements no part of SHA-256's compression (no rounds, no
 * message schedule, no constants; the initial state is SHA256_Init's). It relies on the
 * SHA256_CTX layout of <openssl/sha.h> (h[8] the state words, num the bytes buffered,
 * Nl/Nh a length counter it ignores) and on SHA256_Update compressing whole blocks in
 * place when num is 0. Nothing here checks its own results: fasthash.c checks every loop
 * built on it against OpenSSL's standard API and fixed answers when it is imported, and
 * refuses to load if one differs.
 *
 * Secret hygiene (as hmac_sha256.h): a state or buffer that saw a key, or holds a
 * secret-derived value (an HMAC's inner digest, a salt), is wiped with OPENSSL_cleanse by
 * sb_wipe before the loop returns; within a loop the scratch buffers are overwritten
 * message after message, and the last message's bytes are what sb_wipe clears. The working
 * state lives in the loop, not in stack copies, so that sb_wipe reaches it; hmac_sha256.h
 * (the standard-API HMAC, kept for privfast.c and the floor loops) is unchanged.
 *
 * Include after <Python.h> (PyMem_RawMalloc), <openssl/sha.h>, <openssl/crypto.h>,
 * <stdint.h> and <string.h>. */
#ifndef POR_SHA256_BLOCKS_H
#define POR_SHA256_BLOCKS_H

#define SB_HASH 32
#define SB_BLOCK 64

/* Blocks of a message tail of n bytes with its padding: n + 9 bytes rounded up. */
static inline size_t sb_blocks_for(size_t n) { return (n + 8) / SB_BLOCK + 1; }

/* The 64-byte-block digest of a state: its eight words, big-endian. */
static inline void sb_digest(const SHA256_CTX *c, unsigned char *out) {
    for (int i = 0; i < 8; i++) {
        uint32_t w = (uint32_t)c->h[i];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap32(w);
#endif
        memcpy(out + 4 * i, &w, 4);
    }
}

/* Write the padding of a message of total bytes whose tail (the bytes after the
 * midstate) ends at buf + end; returns the blocks of buf to compress. */
static inline size_t sb_pad(unsigned char *buf, size_t end, uint64_t total) {
    size_t n = sb_blocks_for(end), last = n * SB_BLOCK - 8;
    buf[end] = 0x80;
    memset(buf + end + 1, 0, last - end - 1);
    uint64_t bits = total * 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    memcpy(buf + last, &bits, 8);
    return n;
}

/* A loop's messages: start ‖ prefix ‖ (each message's own bytes), where start is whatever
 * the initial state already absorbed (whole blocks: nothing, or an HMAC key block). */
typedef struct {
    SHA256_CTX mid;     /* the initial state, then the prefix's whole blocks */
    SHA256_CTX work;    /* a copy of mid's words, then one message's blocks */
    uint64_t done;      /* bytes absorbed into mid */
    unsigned char *buf; /* the prefix's last bytes, then each message's, then padding */
    size_t at;          /* where each message's own bytes go in buf */
    size_t cap;         /* bytes of buf */
    size_t blocks;      /* fixed-length loops: the blocks of buf per message */
    size_t fixed;       /* fixed-length loops: each message's own length */
} sb_loop;

/* Compress n whole blocks of the loop's buffer into a copy of its midstate; the digest
 * into out. The working state is the loop's own (wiped by sb_wipe), not a stack copy. */
static inline void sb_run(sb_loop *L, size_t n, unsigned char *out) {
    memcpy(L->work.h, L->mid.h, sizeof L->work.h);
    L->work.num = 0;
    if (n == 1)
        SHA256_Transform(&L->work, L->buf); /* the block function, no length bookkeeping */
    else
        SHA256_Update(&L->work, L->buf, n * SB_BLOCK);
    sb_digest(&L->work, out);
}

/* Set up a loop from an initial state that absorbed start_len bytes (a multiple of 64):
 * max_len is the longest message's own length. If fixed is non-zero every message has
 * exactly max_len bytes, and the padding is written here, once. 0, or -1 when out of
 * memory (nothing to free or wipe then). */
static int sb_loop_init(sb_loop *L, const SHA256_CTX *start, uint64_t start_len,
                        const unsigned char *prefix, size_t prefix_len, size_t max_len,
                        int fixed) {
    size_t whole = prefix_len / SB_BLOCK * SB_BLOCK;
    L->mid = *start;
    L->work = *start;
    if (whole) SHA256_Update(&L->mid, prefix, whole);
    L->done = start_len + whole;
    L->at = prefix_len - whole;
    L->cap = sb_blocks_for(L->at + max_len) * SB_BLOCK;
    L->buf = PyMem_RawMalloc(L->cap);
    if (!L->buf) { /* the states may have seen a key */
        OPENSSL_cleanse(&L->mid, sizeof L->mid);
        OPENSSL_cleanse(&L->work, sizeof L->work);
        return -1;
    }
    if (L->at) memcpy(L->buf, prefix + whole, L->at);
    L->fixed = fixed ? max_len : 0;
    L->blocks = fixed ? sb_pad(L->buf, L->at + max_len, L->done + L->at + max_len) : 0;
    return 0;
}

/* Where a message's own bytes go (write them, then call sb_fixed or sb_var). */
static inline unsigned char *sb_slot(const sb_loop *L) { return L->buf + L->at; }

/* The digest of the fixed-length message whose bytes are in the slot. */
static inline void sb_fixed(sb_loop *L, unsigned char *out) {
    sb_run(L, L->blocks, out);
}

/* The digest of the message of len bytes in the slot (len at most the loop's max_len). */
static inline void sb_var(sb_loop *L, size_t len, unsigned char *out) {
    size_t n = sb_pad(L->buf, L->at + len, L->done + L->at + len);
    sb_run(L, n, out);
}

/* Wipe a loop's state and buffer, and free the buffer. */
static void sb_wipe(sb_loop *L) {
    if (L->buf) {
        OPENSSL_cleanse(L->buf, L->cap);
        PyMem_RawFree(L->buf);
        L->buf = NULL;
    }
    OPENSSL_cleanse(&L->mid, sizeof L->mid);
    OPENSSL_cleanse(&L->work, sizeof L->work);
}

/* The plain SHA-256 initial state, as a loop's start (nothing absorbed). */
static inline void sb_start(SHA256_CTX *c) { SHA256_Init(c); }

/* HMAC-SHA256 (RFC 2104): the states after key ^ ipad and key ^ opad (a key longer than
 * a block hashed first), each one block absorbed: the starts of an HMAC's inner loop
 * (start_len 64) and of its outer loop (64, then the inner digest: one fixed block). */
static void sb_hmac_starts(const unsigned char *key, size_t key_len, SHA256_CTX *inner,
                           SHA256_CTX *outer) {
    unsigned char k[SB_BLOCK], pad[SB_BLOCK];
    memset(k, 0, SB_BLOCK);
    if (key_len > SB_BLOCK) {
        SHA256(key, key_len, k);
    } else if (key_len > 0) {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < SB_BLOCK; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(inner);
    SHA256_Update(inner, pad, SB_BLOCK);
    for (int i = 0; i < SB_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(outer);
    SHA256_Update(outer, pad, SB_BLOCK);
    OPENSSL_cleanse(k, SB_BLOCK);
    OPENSSL_cleanse(pad, SB_BLOCK);
}

/* An HMAC's two loops: inner over key ^ ipad ‖ prefix ‖ message, outer over
 * key ^ opad ‖ inner digest (32 bytes, one fixed block). */
typedef struct {
    sb_loop inner, outer;
} sb_hmac;

/* 0, or -1 when out of memory (nothing to free then). */
static int sb_hmac_init(sb_hmac *h, const unsigned char *key, size_t key_len,
                        const unsigned char *prefix, size_t prefix_len, size_t max_len,
                        int fixed) {
    SHA256_CTX in, out;
    int err;
    sb_hmac_starts(key, key_len, &in, &out);
    h->outer.buf = NULL;
    err = sb_loop_init(&h->inner, &in, SB_BLOCK, prefix, prefix_len, max_len, fixed);
    if (!err) {
        err = sb_loop_init(&h->outer, &out, SB_BLOCK, NULL, 0, SB_HASH, 1);
        if (err) sb_wipe(&h->inner);
    }
    OPENSSL_cleanse(&in, sizeof in);
    OPENSSL_cleanse(&out, sizeof out);
    return err;
}

/* The HMAC of the message in the inner loop's slot (len bytes; ignored if fixed). */
static inline void sb_hmac_digest(sb_hmac *h, size_t len, unsigned char *out) {
    if (h->inner.fixed)
        sb_fixed(&h->inner, sb_slot(&h->outer));
    else
        sb_var(&h->inner, len, sb_slot(&h->outer));
    sb_fixed(&h->outer, out);
}

static void sb_hmac_wipe(sb_hmac *h) {
    sb_wipe(&h->inner);
    sb_wipe(&h->outer);
}

#endif
