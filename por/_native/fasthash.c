/* por._fasthash: the builder's bulk SHA-256 loops, outside the interpreter.
 *
 * Optional accelerator of por/buckets.py: every function here computes exactly the bytes
 * of its pure-Python twin there (spec §4-6), and tests/scale/test_native.py checks both on
 * random inputs and on the committed vectors. The verifier never uses it.
 *
 * The SHA-256 compression function is OpenSSL's (libcrypto, SHA-NI where the CPU has it);
 * nothing here implements SHA-256. The loops drive it through sha256_blocks.h: each
 * loop's shared prefix compressed once, its padding written once where the length is
 * fixed, each message one call over its whole blocks (issue 16; `bench/bench_floor.py
 * --per-call` times both kinds of loop side by side). HMAC-SHA256 (RFC 2104) is built the
 * same way with the key schedule done once per call: the states after key^ipad (and the
 * message prefix) and after key^opad, and the outer message (the inner digest) always one
 * fixed block, which is what makes a keyed commitment cost three compressions and no
 * allocation per message. The previous loops, on the standard API (hmac_sha256.h), are kept as the
 * floor_* functions: bench/bench_floor.py's yardstick, and the reference every fast loop
 * is checked against when the module is imported (an ImportError if one differs: the
 * builder then takes its pure-Python path). The low-level SHA256_* API is
 * used rather than EVP because EVP costs about 50 ns more per message (measured: 71 vs
 * 119 ns for a 112-byte message), which is most of a leaf's budget; it is deprecated in
 * OpenSSL 3.0 but present, hence OPENSSL_API_COMPAT.
 *
 * margin_rule() is not hashing: it is the per-user margin rule (spec §15.6) in 128-bit
 * integers, a first pass that only ever clears a user when the exact arithmetic fits;
 * every other user goes to the verifier's own rule in Python (verifier/risk.py).
 *
 * Every loop runs with the GIL released, so threads can use several cores.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10101000L
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#include "hmac_sha256.h"
#include "sha256_blocks.h"

static PyObject *new_output(Py_ssize_t count, unsigned char **out) {
    if (count > PY_SSIZE_T_MAX / HASH) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * HASH);
    if (result) *out = (unsigned char *)PyBytes_AS_STRING(result);
    return result;
}

/* ------------------------------------------------------------------- the hashing loops
 *
 * Each loop comes twice: fast_* on sha256_blocks.h (the midstate, padding and buffers set
 * up once per call, each message one SHA256_Update over its whole blocks) and std_* on the
 * standard SHA256_Init/Update/Final API and hmac_sha256.h (the code before issue 16's
 * per-call work). The fast ones serve the builder; the standard ones are the yardstick of
 * bench/bench_floor.py (floor_*, so that its figures stay comparable across versions) and
 * the reference the module checks the fast ones against when it is imported
 * (self_test below). The fast loops return -1 when out of memory (nothing written then
 * that matters), 0 otherwise; they run without the GIL. */

typedef unsigned char uc;

static int fast_hash_records(const uc *prefix, size_t prefix_len, const uc *src,
                             size_t width, Py_ssize_t count, uc *out) {
    sb_loop L;
    SHA256_CTX start;
    sb_start(&start);
    if (sb_loop_init(&L, &start, 0, prefix, prefix_len, width, 1)) return -1;
    uc *slot = sb_slot(&L);
    for (Py_ssize_t i = 0; i < count; i++) {
        memcpy(slot, src + i * width, width);
        sb_fixed(&L, out + i * HASH);
    }
    sb_wipe(&L);
    return 0;
}

static int std_hash_records(const uc *prefix, size_t prefix_len, const uc *src,
                            size_t width, Py_ssize_t count, uc *out) {
    SHA256_CTX base, c;
    SHA256_Init(&base);
    SHA256_Update(&base, prefix, prefix_len);
    for (Py_ssize_t i = 0; i < count; i++) {
        c = base;
        SHA256_Update(&c, src + i * width, width);
        SHA256_Final(out + i * HASH, &c);
    }
    return 0;
}

/* Salts and commitments of count ids (ids + off[i] .. off[i + 1], checked, each at most
 * max_len bytes): spec §4. */
static int fast_commitments(const uc *secret, size_t secret_len, const uc *salt_prefix,
                            size_t salt_prefix_len, const uc *user_prefix,
                            size_t user_prefix_len, const uc *ids, const int64_t *off,
                            Py_ssize_t count, size_t max_len, uc *out) {
    sb_hmac salt;
    sb_loop user;
    SHA256_CTX start;
    if (sb_hmac_init(&salt, secret, secret_len, salt_prefix, salt_prefix_len, 2 + max_len, 0))
        return -1;
    sb_start(&start);
    /* user_prefix ‖ u16(len) ‖ id ‖ salt: the salt lands right after the id */
    if (sb_loop_init(&user, &start, 0, user_prefix, user_prefix_len, 2 + max_len + HASH, 0)) {
        sb_hmac_wipe(&salt);
        return -1;
    }
    uc *s_slot = sb_slot(&salt.inner), *u_slot = sb_slot(&user);
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t len = (size_t)(off[i + 1] - off[i]);
        const uc *id = ids + off[i];
        s_slot[0] = u_slot[0] = (uc)(len >> 8);
        s_slot[1] = u_slot[1] = (uc)len;
        if (len) {
            memcpy(s_slot + 2, id, len);
            memcpy(u_slot + 2, id, len);
        }
        sb_hmac_digest(&salt, 2 + len, u_slot + 2 + len);
        sb_var(&user, 2 + len + HASH, out + i * HASH);
    }
    sb_hmac_wipe(&salt);
    sb_wipe(&user); /* it held the salts */
    return 0;
}

static int std_commitments(const uc *secret, size_t secret_len, const uc *salt_prefix,
                           size_t salt_prefix_len, const uc *user_prefix,
                           size_t user_prefix_len, const uc *ids, const int64_t *off,
                           Py_ssize_t count, size_t max_len, uc *out) {
    (void)max_len;
    hmac_keyed salt_key;
    SHA256_CTX user_base, c;
    hmac_setup(&salt_key, secret, (Py_ssize_t)secret_len, salt_prefix,
               (Py_ssize_t)salt_prefix_len);
    SHA256_Init(&user_base);
    SHA256_Update(&user_base, user_prefix, user_prefix_len);
    uc salt[HASH];
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t len = (size_t)(off[i + 1] - off[i]);
        const uc *id = ids + off[i];
        uc enc_len[2] = {(uc)(len >> 8), (uc)len};
        hmac_finish(&salt_key, enc_len, 2, id, len, salt);
        c = user_base;
        SHA256_Update(&c, enc_len, 2);
        if (len) SHA256_Update(&c, id, len);
        SHA256_Update(&c, salt, HASH);
        SHA256_Final(out + i * HASH, &c);
    }
    OPENSSL_cleanse(&salt_key, sizeof salt_key);
    OPENSSL_cleanse(salt, HASH);
    OPENSSL_cleanse(&c, sizeof c);
    return 0;
}

/* HMAC(secret, prefix ‖ u64(i)) for i in start..stop: spec §5. */
static int fast_pad_commitments(const uc *secret, size_t secret_len, const uc *prefix,
                                size_t prefix_len, unsigned long long start,
                                unsigned long long stop, uc *out) {
    sb_hmac key;
    if (sb_hmac_init(&key, secret, secret_len, prefix, prefix_len, 8, 1)) return -1;
    uc *slot = sb_slot(&key.inner);
    for (unsigned long long i = start; i < stop; i++) {
        for (int j = 0; j < 8; j++) slot[j] = (uc)(i >> (56 - 8 * j));
        sb_hmac_digest(&key, 8, out + (i - start) * HASH);
    }
    sb_hmac_wipe(&key);
    return 0;
}

static int std_pad_commitments(const uc *secret, size_t secret_len, const uc *prefix,
                               size_t prefix_len, unsigned long long start,
                               unsigned long long stop, uc *out) {
    hmac_keyed key;
    hmac_setup(&key, secret, (Py_ssize_t)secret_len, prefix, (Py_ssize_t)prefix_len);
    uc index[8];
    for (unsigned long long i = start; i < stop; i++) {
        for (int j = 0; j < 8; j++) index[j] = (uc)(i >> (56 - 8 * j));
        hmac_finish(&key, index, 8, NULL, 0, out + (i - start) * HASH);
    }
    OPENSSL_cleanse(&key, sizeof key);
    return 0;
}

/* ------------------------------------------------------------ the functions of Python */

typedef int (*records_loop)(const uc *, size_t, const uc *, size_t, Py_ssize_t, uc *);

static PyObject *run_hash_records(PyObject *args, const char *format, const char *name,
                                  records_loop loop) {
    Py_buffer prefix, data;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, format, &prefix, &data, &width)) return NULL;
    PyObject *result = NULL;
    if (width <= 0 || data.len % width != 0) {
        PyErr_Format(PyExc_ValueError,
                     "%s: data of %zd bytes is not a whole number of %zd-byte records",
                     name, data.len, width);
        goto done;
    }
    Py_ssize_t count = data.len / width;
    unsigned char *out;
    result = new_output(count, &out);
    if (!result) goto done;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = loop(prefix.buf, (size_t)prefix.len, data.buf, (size_t)width, count, out);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(hash_records_doc,
"hash_records(prefix, data, width) -> bytes\n\n"
"SHA-256 of prefix ‖ record for each consecutive record of ``width`` bytes in ``data``\n"
"(any contiguous buffer whose length is a multiple of ``width``): 32 bytes each, in order.\n"
"A leaf is TAG_LEAF ‖ commitment ‖ amounts; a node is TAG_NODE ‖ its two children's\n"
"consecutive records (spec §6).");

static PyObject *hash_records(PyObject *self, PyObject *args) {
    return run_hash_records(args, "y*y*n:hash_records", "hash_records", fast_hash_records);
}

PyDoc_STRVAR(floor_hash_records_doc,
"floor_hash_records(prefix, data, width) -> bytes\n\n"
"hash_records on OpenSSL's standard SHA256_Init/Update/Final, one message at a time: the\n"
"same bytes, the yardstick of bench/bench_floor.py (not used by the builder).");

static PyObject *floor_hash_records(PyObject *self, PyObject *args) {
    return run_hash_records(args, "y*y*n:floor_hash_records", "floor_hash_records",
                            std_hash_records);
}

typedef int (*commitments_loop)(const uc *, size_t, const uc *, size_t, const uc *, size_t,
                                const uc *, const int64_t *, Py_ssize_t, size_t, uc *);

static PyObject *run_commitments(PyObject *args, const char *format, commitments_loop loop) {
    Py_buffer secret, salt_prefix, user_prefix, data, offsets;
    if (!PyArg_ParseTuple(args, format, &secret, &salt_prefix, &user_prefix, &data, &offsets))
        return NULL;
    PyObject *result = NULL;
    int64_t *off = NULL;
    if (offsets.len % (Py_ssize_t)sizeof(int64_t) != 0 || offsets.len == 0) {
        PyErr_SetString(PyExc_ValueError, "commitments: offsets must be int64, at least one");
        goto done;
    }
    Py_ssize_t count = offsets.len / (Py_ssize_t)sizeof(int64_t) - 1;
    /* A private copy of the offsets, checked here and read by the loop below: the caller's
     * buffer may change once the GIL is released (another thread writing a bytearray or a
     * numpy array), so what the loop reads must be what was checked. memcpy also makes the
     * read well defined when the buffer is not 8-byte aligned (a bytes slice need not be). */
    off = PyMem_Malloc((size_t)offsets.len);
    if (!off) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(off, offsets.buf, (size_t)offsets.len);
    /* Check every bound first, with the GIL, so the loop below cannot fail. */
    size_t max_len = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t a = off[i], b = off[i + 1];
        if (a < 0 || b < a || b > data.len || b - a > 0xFFFF) {
            PyErr_Format(PyExc_ValueError,
                         "commitments: id %zd spans bytes %lld..%lld of %zd (at most 65535)",
                         i, (long long)a, (long long)b, data.len);
            goto done;
        }
        if ((size_t)(b - a) > max_len) max_len = (size_t)(b - a);
    }
    unsigned char *out;
    result = new_output(count, &out);
    if (!result) goto done;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = loop(secret.buf, (size_t)secret.len, salt_prefix.buf, (size_t)salt_prefix.len,
               user_prefix.buf, (size_t)user_prefix.len, data.buf, off, count, max_len, out);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    PyMem_Free(off);
    PyBuffer_Release(&secret);
    PyBuffer_Release(&salt_prefix);
    PyBuffer_Release(&user_prefix);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return result;
}

PyDoc_STRVAR(commitments_doc,
"commitments(secret, salt_prefix, user_prefix, data, offsets) -> bytes\n\n"
"For each user id ``data[offsets[i]:offsets[i+1]]`` (``offsets``: native int64, one more\n"
"than there are ids), with enc = u16(len) ‖ id: salt = HMAC-SHA256(secret, salt_prefix ‖\n"
"enc) and commitment = SHA-256(user_prefix ‖ enc ‖ salt) (spec §4); the commitments, 32\n"
"bytes each, in order. salt_prefix is TAG_SALT ‖ str(round), user_prefix TAG_USER ‖\n"
"str(round).");

static PyObject *commitments(PyObject *self, PyObject *args) {
    return run_commitments(args, "y*y*y*y*y*:commitments", fast_commitments);
}

PyDoc_STRVAR(floor_commitments_doc,
"floor_commitments(secret, salt_prefix, user_prefix, data, offsets) -> bytes\n\n"
"commitments on OpenSSL's standard SHA256_Init/Update/Final (hmac_sha256.h), one message\n"
"at a time: the same bytes, the yardstick of bench/bench_floor.py (not used by the\n"
"builder).");

static PyObject *floor_commitments(PyObject *self, PyObject *args) {
    return run_commitments(args, "y*y*y*y*y*:floor_commitments", std_commitments);
}

typedef int (*pad_loop)(const uc *, size_t, const uc *, size_t, unsigned long long,
                        unsigned long long, uc *);

static PyObject *run_pad_commitments(PyObject *args, const char *format, pad_loop loop) {
    Py_buffer secret, prefix;
    unsigned long long start, stop;
    if (!PyArg_ParseTuple(args, format, &secret, &prefix, &start, &stop)) return NULL;
    PyObject *result = NULL;
    if (stop < start || stop - start > (unsigned long long)(PY_SSIZE_T_MAX / HASH)) {
        PyErr_Format(PyExc_ValueError, "pad_commitments: bad range %llu..%llu", start, stop);
        goto done;
    }
    unsigned char *out;
    result = new_output((Py_ssize_t)(stop - start), &out);
    if (!result) goto done;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = loop(secret.buf, (size_t)secret.len, prefix.buf, (size_t)prefix.len, start, stop,
               out);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    PyBuffer_Release(&secret);
    PyBuffer_Release(&prefix);
    return result;
}

PyDoc_STRVAR(pad_commitments_doc,
"pad_commitments(secret, prefix, start, stop) -> bytes\n\n"
"HMAC-SHA256(secret, prefix ‖ u64(i)) for i in start..stop (spec §5, prefix TAG_PAD ‖\n"
"str(round)): 32 bytes each, in order.");

static PyObject *pad_commitments(PyObject *self, PyObject *args) {
    return run_pad_commitments(args, "y*y*KK:pad_commitments", fast_pad_commitments);
}

PyDoc_STRVAR(floor_pad_commitments_doc,
"floor_pad_commitments(secret, prefix, start, stop) -> bytes\n\n"
"pad_commitments on OpenSSL's standard SHA256_Init/Update/Final (hmac_sha256.h), one\n"
"message at a time: the same bytes, the yardstick of bench/bench_floor.py (not used by\n"
"the builder).");

static PyObject *floor_pad_commitments(PyObject *self, PyObject *args) {
    return run_pad_commitments(args, "y*y*KK:floor_pad_commitments", std_pad_commitments);
}

PyDoc_STRVAR(margin_rule_doc,
"margin_rule(records, stride, offset, k, prices, tier_offsets, bounds, accumulated,\n"
"            ratios) -> bytes\n\n"
"A first pass of the margin rule (spec §15.6) over n users: ``records`` holds n records of\n"
"``stride`` bytes, each with positions(...) at ``offset`` (48k bytes: big-endian u128\n"
"equity, debt, collateral per asset), e.g. a merged leaf (commitment, then positions).\n"
"``prices``: k big-endian u128 price units; asset j's tiers are entries\n"
"tier_offsets[j]..tier_offsets[j+1] (native int64, k+1 of them) of ``bounds`` (big-endian\n"
"u128 up_to) and ``ratios`` (one byte, percent), and ``accumulated`` holds, per asset,\n"
"its tiers' precomputed values before each tier and after the last (big-endian u128,\n"
"tier_offsets[j] + j .. tier_offsets[j+1] + j). One byte per user: 0 when collateral <=\n"
"equity in every asset and the haircut collateral value covers the debt value, computed\n"
"exactly in 128 bits (the haircuts summed asset by asset only until they cover the debt:\n"
"none is negative); 1 otherwise, or when a value would not fit in 128 bits (the caller\n"
"then decides that user with the verifier's exact rule, which also words the refusal).");

typedef unsigned __int128 u128;

static inline uint64_t read_be64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline u128 read_u128(const unsigned char *p) {
    return ((u128)read_be64(p) << 64) | read_be64(p + 8);
}

/* a x b with an overflow check (1 when above 2^128 - 1). Two 64-bit operands need one
 * multiply; a 64-bit b (a price, a ratio) two: a x b = (a_hi x b) 2^64 + a_lo x b. */
static inline int mul128(u128 a, u128 b, u128 *out) {
    if (!((a | b) >> 64)) {
        *out = a * b;
        return 0;
    }
    if (!(b >> 64)) {
        u128 high = (u128)(uint64_t)(a >> 64) * (uint64_t)b;
        if (high >> 64) return 1;
        return __builtin_add_overflow((u128)(uint64_t)a * (uint64_t)b, high << 64, out);
    }
    return __builtin_mul_overflow(a, b, out);
}

/* x / 100, rounded down, with 64-bit divisions by the constant only (multiplies; no call
 * to the 128-bit division): long division of x's high limb, then of the remainder with
 * the low limb's two 32-bit halves (each partial dividend is below 100 x 2^32). */
static inline u128 div100(u128 x) {
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    if (!hi) return lo / 100;
    uint64_t q_hi = hi / 100, mid = ((hi % 100) << 32) | (lo >> 32);
    uint64_t q_mid = mid / 100, low = ((mid % 100) << 32) | (lo & 0xFFFFFFFFu);
    return ((u128)q_hi << 64) + ((u128)q_mid << 32) + low / 100;
}

/* Binance's tiered haircut (spec §15.6) of cv for one asset; 0 on success, 1 on overflow. */
static inline int haircut128(u128 cv, const u128 *bounds, const unsigned char *ratios,
                             const u128 *acc, int64_t m, u128 *out) {
    u128 previous = 0;
    for (int64_t i = 0; i < m; i++) {
        if (cv <= bounds[i]) {
            u128 part;
            if (mul128(cv - previous, (u128)ratios[i], &part)) return 1;
            return __builtin_add_overflow(acc[i], div100(part), out);
        }
        previous = bounds[i];
    }
    *out = acc[m];
    return 0;
}

static PyObject *margin_rule(PyObject *self, PyObject *args) {
    Py_buffer sums, prices, offsets, bounds, accumulated, ratios;
    Py_ssize_t stride, start, k;
    if (!PyArg_ParseTuple(args, "y*nnny*y*y*y*y*:margin_rule", &sums, &stride, &start, &k,
                          &prices, &offsets, &bounds, &accumulated, &ratios))
        return NULL;
    PyObject *result = NULL;
    int64_t *off = NULL;
    u128 *price = NULL, *bound = NULL, *acc = NULL;
    unsigned char *ratio = NULL;
    Py_ssize_t width = 48 * k, tiers = bounds.len / 16;
    if (k <= 0 || k > 64 || start < 0 || stride < start + width || sums.len % stride != 0
        || prices.len != 16 * k
        || offsets.len != (Py_ssize_t)sizeof(int64_t) * (k + 1) || bounds.len % 16 != 0
        || ratios.len != tiers || accumulated.len != 16 * (tiers + k)) {
        PyErr_SetString(PyExc_ValueError, "margin_rule: buffers of inconsistent sizes");
        goto done;
    }
    /* Private copies, checked with the GIL held (as in commitments()). */
    off = PyMem_Malloc((size_t)offsets.len);
    price = PyMem_Malloc(sizeof(u128) * (size_t)k);
    bound = PyMem_Malloc(sizeof(u128) * (size_t)(tiers + 1));
    acc = PyMem_Malloc(sizeof(u128) * (size_t)(tiers + k));
    ratio = PyMem_Malloc((size_t)tiers + 1);
    if (!off || !price || !bound || !acc || !ratio) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(off, offsets.buf, (size_t)offsets.len);
    if (tiers) memcpy(ratio, ratios.buf, (size_t)tiers);
    for (Py_ssize_t j = 0; j < k; j++) price[j] = read_u128((unsigned char *)prices.buf + 16 * j);
    for (Py_ssize_t t = 0; t < tiers; t++) {
        bound[t] = read_u128((unsigned char *)bounds.buf + 16 * t);
        if (ratio[t] > 100) {
            PyErr_SetString(PyExc_ValueError, "margin_rule: a ratio above 100");
            goto done;
        }
    }
    for (Py_ssize_t t = 0; t < tiers + k; t++)
        acc[t] = read_u128((unsigned char *)accumulated.buf + 16 * t);
    if (off[0] != 0 || off[k] != tiers) {
        PyErr_SetString(PyExc_ValueError, "margin_rule: tier offsets do not cover the tiers");
        goto done;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        if (off[j + 1] < off[j]) {
            PyErr_SetString(PyExc_ValueError, "margin_rule: tier offsets decrease");
            goto done;
        }
    }
    Py_ssize_t n = sums.len / stride;
    result = PyBytes_FromStringAndSize(NULL, n);
    if (!result) goto done;
    unsigned char *status = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *src = sums.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t u = 0; u < n; u++) {
        const unsigned char *rec = src + u * stride + start;
        u128 debt_value = 0, collateral_value = 0;
        int undecided = 0;
        /* First every asset's collateral <= equity, and the debt's value. */
        for (Py_ssize_t j = 0; j < k; j++) {
            u128 equity = read_u128(rec + 48 * j), debt = read_u128(rec + 48 * j + 16),
                 collateral = read_u128(rec + 48 * j + 32), v;
            if (collateral > equity
                || (debt && (mul128(debt, price[j], &v)
                             || __builtin_add_overflow(debt_value, v, &debt_value)))) {
                undecided = 1;
                break;
            }
        }
        /* Then the haircut collateral, only until it covers the debt: what the other
         * assets would add is not negative, so the rule holds whatever they hold. */
        for (Py_ssize_t j = 0; j < k && !undecided && collateral_value < debt_value; j++) {
            u128 collateral = read_u128(rec + 48 * j + 32), v, h;
            if (collateral) {
                const int64_t first = off[j], m = off[j + 1] - off[j];
                if (mul128(collateral, price[j], &v)
                    || haircut128(v, bound + first, ratio + first, acc + first + j, m, &h)
                    || __builtin_add_overflow(collateral_value, h, &collateral_value))
                    undecided = 1;
            }
        }
        status[u] = (unsigned char)(undecided || collateral_value < debt_value);
    }
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(off);
    PyMem_Free(price);
    PyMem_Free(bound);
    PyMem_Free(acc);
    PyMem_Free(ratio);
    PyBuffer_Release(&sums);
    PyBuffer_Release(&prices);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&bounds);
    PyBuffer_Release(&accumulated);
    PyBuffer_Release(&ratios);
    return result;
}

PyDoc_STRVAR(parse_decimals_doc,
"parse_decimals(offsets, wide, data, asset_idx, decimals, signed) -> (bytes, bytes) | None\n\n"
"Decimal strings in asset units to exact u128 base units, with no Python object per value\n"
"(the snapshot's fast path, spec §8 and §15.11). Value i is data[offsets[i]:offsets[i+1]]\n"
"(``offsets``: n + 1 native int32, or int64 when ``wide``: an Arrow string column's);\n"
"``asset_idx`` (native int16, n) names its asset and ``decimals`` (native int64) each\n"
"asset's decimals. A value is accepted exactly when the reference parser accepts it:\n"
"[0-9]+(\\.[0-9]+)?, optionally after one '-' when ``signed``, with at most the asset's\n"
"decimals, and at most 2^128-1 base units. Returns (limbs, negative): limbs holds n pairs\n"
"of native uint64 (low, high), negative one byte per value (1: a leading '-'); or None as\n"
"soon as one value is not accepted (the caller then reads the batch row by row, which\n"
"names the value and says what is wrong with it).");

static u128 pow10_128[39], max_over_pow10[39]; /* 10^e and (2^128 - 1) / 10^e, e = 0..38 */

static void init_pow10(void) {
    u128 p = 1;
    for (int e = 0; e <= 38; e++) {
        pow10_128[e] = p;
        max_over_pow10[e] = ~(u128)0 / p;
        p *= 10;
    }
}

/* SWAR helpers: eight bytes at a time, loaded little-endian (the first byte lowest). */
#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

static inline uint64_t load8(const unsigned char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* True if each of the 8 bytes of x is printable ASCII, 0x20-0x7e: a byte below 0x20 sets
 * its high bit in x - 0x20 (the lowest such byte borrows from none below it), one above
 * 0x7e in x + 1 or (0xff) in x - 0x20. */
static inline int all_printable8(uint64_t x) {
    return (((x - 0x20 * ONES) | (x + 0x01 * ONES)) & HIGH) == 0;
}

/* The value of 8 ASCII digits (the first one most significant). */
static inline uint64_t digits8(uint64_t x) {
    x -= 0x30 * ONES;
    x = x * 10 + (x >> 8);
    x = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)))
         + (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
    return x;
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The first byte at or after p (before end) that is not an ASCII digit, or end. */
ALWAYS_INLINE const unsigned char *skip_digits(const unsigned char *p, const unsigned char *end) {
    for (; end - p >= 8; p += 8) {
        uint64_t x = load8(p);
        uint64_t other = ((x - 0x30 * ONES) | (x + 0x46 * ONES)) & HIGH;
        if (other) return p + (__builtin_ctzll(other) >> 3); /* the lowest one is exact */
    }
    while (p < end && (unsigned)(*p - '0') <= 9) p++;
    return p;
}

/* acc * 10^len + the len ASCII digits at p (already checked), in 64 bits (the caller
 * keeps the total at 19 digits or fewer: 10^19 - 1 < 2^64). */
ALWAYS_INLINE uint64_t digits_u64(const unsigned char *p, Py_ssize_t len, uint64_t v) {
    for (; len >= 8; p += 8, len -= 8) v = v * 100000000ULL + digits8(load8(p));
    for (; len > 0; p++, len--) v = v * 10 + (unsigned)(*p - '0');
    return v;
}

/* The same in 128 bits (38 digits at most overall: 10^38 - 1 < 2^128). */
ALWAYS_INLINE u128 digits_u128(const unsigned char *p, Py_ssize_t len, u128 v) {
    for (; len >= 8; p += 8, len -= 8) v = v * 100000000ULL + digits8(load8(p));
    for (; len > 0; p++, len--) v = v * 10 + (unsigned)(*p - '0');
    return v;
}

/* One decimal string p..end in asset units to exact base units (``places`` decimals):
 * 1 and *value (and *negative: a leading '-', only when ``is_signed``) when the reference
 * parser (snapshot.parse_amount) accepts it, [0-9]+(\.[0-9]+)? with at most ``places``
 * decimals and at most 2^128 - 1 base units; 0 otherwise. */
ALWAYS_INLINE int parse_amount(const unsigned char *p, const unsigned char *end,
                               int64_t places, int is_signed, u128 *value_out,
                               unsigned char *negative) {
    *negative = 0;
    if (is_signed && p < end && *p == '-') {
        *negative = 1;
        p++;
    }
    const unsigned char *dot = skip_digits(p, end), *frac_at = end;
    Py_ssize_t whole = dot - p, frac = 0;
    if (dot != end) { /* then a point and one or more digits, to the end */
        if (*dot != '.') return 0;
        frac_at = dot + 1;
        if (skip_digits(frac_at, end) != end) return 0;
        frac = end - frac_at;
        if (frac == 0) return 0;
    }
    if (whole == 0 || frac > places) return 0;
    u128 value;
    if (whole + frac <= 19) {
        value = digits_u64(frac_at, frac, digits_u64(p, whole, 0));
    } else if (whole + frac <= 38) {
        value = digits_u128(frac_at, frac, digits_u128(p, whole, 0));
    } else {
        /* More than 38 digits (leading zeros, or above 2^128 - 1): one by one, with an
         * overflow check. */
        int overflow = 0;
        value = 0;
        for (const unsigned char *q = p; q < end; q++) {
            if (q == dot) continue;
            if (__builtin_mul_overflow(value, (u128)10, &value)
                || __builtin_add_overflow(value, (u128)(*q - '0'), &value))
                overflow = 1;
        }
        if (overflow) return 0;
    }
    int64_t shift = places - frac; /* 0..38 */
    if (shift) {
        if (value > max_over_pow10[shift]) return 0; /* value x 10^shift > 2^128 - 1 */
        value *= pow10_128[shift];
    }
    *value_out = value;
    return 1;
}

static PyObject *parse_decimals(PyObject *self, PyObject *args) {
    Py_buffer offsets, data, asset_idx, decimals;
    int wide, is_signed;
    if (!PyArg_ParseTuple(args, "y*py*y*y*p:parse_decimals", &offsets, &wide, &data, &asset_idx,
                          &decimals, &is_signed))
        return NULL;
    PyObject *result = NULL, *limbs = NULL, *negative = NULL;
    int64_t *dec = NULL;
    int16_t *idx = NULL;
    Py_ssize_t width = wide ? 8 : 4;
    Py_ssize_t n = asset_idx.len / 2;
    Py_ssize_t k = decimals.len / 8;
    if (asset_idx.len % 2 || decimals.len % 8 || offsets.len != width * (n + 1)) {
        PyErr_SetString(PyExc_ValueError, "parse_decimals: buffers of inconsistent sizes");
        goto done;
    }
    /* Private copies checked with the GIL held (as in commitments()). */
    int64_t *off = PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 1));
    dec = PyMem_Malloc(sizeof(int64_t) * (size_t)(k + 1));
    idx = PyMem_Malloc(sizeof(int16_t) * (size_t)(n + 1));
    if (!off || !dec || !idx) {
        PyMem_Free(off);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (wide) {
            memcpy(&off[i], (char *)offsets.buf + 8 * i, 8);
        } else {
            int32_t o;
            memcpy(&o, (char *)offsets.buf + 4 * i, 4);
            off[i] = o;
        }
    }
    if (k) memcpy(dec, decimals.buf, (size_t)decimals.len);
    if (n) memcpy(idx, asset_idx.buf, (size_t)asset_idx.len);
    int bad = 0;
    for (Py_ssize_t i = 0; i < n && !bad; i++)
        bad = off[i] < 0 || off[i + 1] < off[i] || off[i + 1] > data.len || idx[i] < 0
              || idx[i] >= k;
    for (Py_ssize_t j = 0; j < k && !bad; j++) bad = dec[j] < 0 || dec[j] > 38;
    if (bad) {
        PyMem_Free(off);
        PyErr_SetString(PyExc_ValueError, "parse_decimals: offsets, assets or decimals out of range");
        goto done;
    }
    limbs = PyBytes_FromStringAndSize(NULL, 16 * n);
    negative = PyBytes_FromStringAndSize(NULL, n);
    if (!limbs || !negative) {
        PyMem_Free(off);
        goto done;
    }
    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(limbs);
    unsigned char *neg = (unsigned char *)PyBytes_AS_STRING(negative);
    const unsigned char *text = data.buf;
    int rejected = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        u128 value;
        if (!parse_amount(text + off[i], text + off[i + 1], dec[idx[i]], is_signed, &value,
                          &neg[i])) {
            rejected = 1;
            break;
        }
        out[2 * i] = (uint64_t)value;
        out[2 * i + 1] = (uint64_t)(value >> 64);
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(off);
    if (rejected) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        result = PyTuple_Pack(2, limbs, negative);
    }
done:
    Py_XDECREF(limbs);
    Py_XDECREF(negative);
    PyMem_Free(dec);
    PyMem_Free(idx);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&asset_idx);
    PyBuffer_Release(&decimals);
    return result;
}

/* Level-0 records: SHA-256(tag ‖ commitment ‖ sums) ‖ sums, n of them (spec §6, §15.3). */
static int fast_leaf_records(const uc *tag, size_t tag_len, const uc *cs, const uc *ss,
                             size_t width, Py_ssize_t n, uc *out) {
    sb_loop L;
    SHA256_CTX start;
    sb_start(&start);
    if (sb_loop_init(&L, &start, 0, tag, tag_len, HASH + width, 1)) return -1;
    uc *slot = sb_slot(&L);
    for (Py_ssize_t i = 0; i < n; i++) {
        uc *rec = out + i * (HASH + width);
        const uc *sums = ss + i * width;
        memcpy(slot, cs + i * HASH, HASH);
        memcpy(slot + HASH, sums, width);
        memcpy(rec + HASH, sums, width);
        sb_fixed(&L, rec);
    }
    sb_wipe(&L);
    return 0;
}

/* Parents of m consecutive pairs of width-byte records: slot-wise sums, then
 * SHA-256(tag ‖ left ‖ right) (spec §6, §15.3). *overflow set (and the loop stopped) if a
 * sum exceeds 2^128 - 1. */
static inline int add_slots(const uc *left, const uc *right, uc *rec, Py_ssize_t slots) {
    for (Py_ssize_t j = 0; j < slots; j++) {
        Py_ssize_t at = HASH + 16 * j;
        u128 sum;
        if (__builtin_add_overflow(read_u128(left + at), read_u128(right + at), &sum)) return 1;
        uint64_t hi = (uint64_t)(sum >> 64), lo = (uint64_t)sum;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        hi = __builtin_bswap64(hi);
        lo = __builtin_bswap64(lo);
#endif
        memcpy(rec + at, &hi, 8);
        memcpy(rec + at + 8, &lo, 8);
    }
    return 0;
}

static int fast_parent_records(const uc *tag, size_t tag_len, const uc *src, size_t width,
                               Py_ssize_t m, uc *out, int *overflow) {
    sb_loop L;
    SHA256_CTX start;
    Py_ssize_t slots = (Py_ssize_t)(width - HASH) / 16;
    sb_start(&start);
    if (sb_loop_init(&L, &start, 0, tag, tag_len, 2 * width, 1)) return -1;
    uc *slot = sb_slot(&L);
    for (Py_ssize_t i = 0; i < m; i++) {
        const uc *left = src + 2 * i * width, *right = left + width;
        uc *rec = out + i * width;
        if (add_slots(left, right, rec, slots)) {
            *overflow = 1;
            break;
        }
        memcpy(slot, left, 2 * width);
        sb_fixed(&L, rec);
    }
    sb_wipe(&L);
    return 0;
}

/* The standard-API twin of fast_leaf_records, for the import check only. */
static int std_leaf_records(const uc *tag, size_t tag_len, const uc *cs, const uc *ss,
                            size_t width, Py_ssize_t n, uc *out) {
    SHA256_CTX base, c;
    SHA256_Init(&base);
    SHA256_Update(&base, tag, tag_len);
    for (Py_ssize_t i = 0; i < n; i++) {
        uc *rec = out + i * (HASH + width);
        c = base;
        SHA256_Update(&c, cs + i * HASH, HASH);
        SHA256_Update(&c, ss + i * width, width);
        memcpy(rec + HASH, ss + i * width, width);
        SHA256_Final(rec, &c);
    }
    return 0;
}

PyDoc_STRVAR(parent_records_doc,
"parent_records(tag, children, width) -> bytes | None\n\n"
"The parents of consecutive pairs of ``width``-byte records (hash (32) then big-endian u128\n"
"sums): per parent, the slot-wise sums of its two children and SHA-256(tag ‖ left ‖ right)\n"
"(spec §6; with the margin tag, §15.3, whose slots are equity, debt and collateral per\n"
"asset). Records of ``width`` bytes, hash first. None if a sum exceeds 2^128 - 1 (the\n"
"caller's Python twin then words the error).");

static PyObject *parent_records(PyObject *self, PyObject *args) {
    Py_buffer tag, children;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*n:parent_records", &tag, &children, &width)) return NULL;
    PyObject *result = NULL;
    if (width < HASH || (width - HASH) % 16 || children.len % (2 * width)) {
        PyErr_SetString(PyExc_ValueError, "parent_records: not whole pairs of records");
        goto done;
    }
    Py_ssize_t m = children.len / (2 * width);
    if (m > PY_SSIZE_T_MAX / width) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, m * width);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *src = children.buf;
    int overflow = 0, err;
    Py_BEGIN_ALLOW_THREADS
    err = fast_parent_records(tag.buf, (size_t)tag.len, src, (size_t)width, m, out, &overflow);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
        goto done;
    }
    if (overflow) {
        Py_DECREF(result);
        result = Py_None;
        Py_INCREF(result);
    }
done:
    PyBuffer_Release(&tag);
    PyBuffer_Release(&children);
    return result;
}

PyDoc_STRVAR(leaf_records_doc,
"leaf_records(tag, commitments, sums, width) -> bytes\n\n"
"Level-0 records: for each commitment (32 bytes) and its ``width`` bytes of sums,\n"
"SHA-256(tag ‖ commitment ‖ sums) ‖ sums (spec §6; margin tag and positions, §15.3).");

static PyObject *leaf_records(PyObject *self, PyObject *args) {
    Py_buffer tag, commitments, sums;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*y*n:leaf_records", &tag, &commitments, &sums, &width))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = commitments.len / HASH;
    if (width < 0 || commitments.len % HASH || sums.len != n * width
        || n > PY_SSIZE_T_MAX / (HASH + (width ? width : 1))) {
        PyErr_SetString(PyExc_ValueError, "leaf_records: commitments and sums do not match");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, n * (HASH + width));
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *cs = commitments.buf, *ss = sums.buf;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = fast_leaf_records(tag.buf, (size_t)tag.len, cs, ss, (size_t)width, n, out);
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    PyBuffer_Release(&tag);
    PyBuffer_Release(&commitments);
    PyBuffer_Release(&sums);
    return result;
}

/* ---------------------------------------------------------------- proof text (issue 16) */

static const char HEXDIGITS[] = "0123456789abcdef";

/* Decimal digits of x (no sign, no leading zeros; "0" for zero) at out; returns the length
 * (at most 39). */
static Py_ssize_t u128_decimal(u128 x, char *out) {
    char tmp[40];
    Py_ssize_t n = 0;
    uint64_t lo;
    while (x >> 64) { /* 19 digits at a time while past 64 bits */
        const uint64_t e19 = 10000000000000000000ULL;
        lo = (uint64_t)(x % e19);
        x /= e19;
        for (int d = 0; d < 19; d++) {
            tmp[n++] = (char)('0' + lo % 10);
            lo /= 10;
        }
    }
    lo = (uint64_t)x;
    do {
        tmp[n++] = (char)('0' + lo % 10);
        lo /= 10;
    } while (lo);
    for (Py_ssize_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

PyDoc_STRVAR(format_records_doc,
"format_records(records, width, hexed, first, pieces) -> list[bytes]\n\n"
"One text per ``width``-byte record (hash (32) then m = (width - 32) / 16 big-endian u128\n"
"values, spec §8.3; §15.10 for margin): pieces[(first + i) & 1], then with ``hexed`` the\n"
"hash in lower-case hex, then for each value j pieces[2 + j] and its decimal digits, then\n"
"pieces[2 + m]. ``pieces`` is a tuple of m + 3 bytes. The exact bytes of\n"
"por.liabilities.prove's pure-Python twin (tests/scale/test_proof_text_native.py).");

static PyObject *format_records(PyObject *self, PyObject *args) {
    Py_buffer records;
    Py_ssize_t width, first;
    int hexed;
    PyObject *pieces;
    if (!PyArg_ParseTuple(args, "y*npnO!:format_records", &records, &width, &hexed, &first,
                          &PyTuple_Type, &pieces))
        return NULL;
    PyObject *result = NULL;
    char *buf = NULL;
    if (width < HASH || (width - HASH) % 16 || records.len % width) {
        PyErr_SetString(PyExc_ValueError, "format_records: not whole records");
        goto done;
    }
    Py_ssize_t m = (width - HASH) / 16, n = records.len / width;
    if (PyTuple_GET_SIZE(pieces) != m + 3) {
        PyErr_SetString(PyExc_ValueError, "format_records: pieces must be m + 3 bytes");
        goto done;
    }
    Py_ssize_t fixed = 0, prefix = 0;
    for (Py_ssize_t j = 0; j < m + 3; j++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, j);
        if (!PyBytes_Check(piece)) {
            PyErr_SetString(PyExc_TypeError, "format_records: pieces must be bytes");
            goto done;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(piece);
        if (j < 2) {
            if (len > prefix) prefix = len;
        } else {
            fixed += len;
        }
    }
    buf = PyMem_Malloc((size_t)(prefix + fixed + 2 * HASH + 39 * m + 1));
    result = PyList_New(n);
    if (!buf || !result) {
        Py_CLEAR(result);
        if (!buf) PyErr_NoMemory();
        goto done;
    }
    const unsigned char *src = records.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *rec = src + i * width;
        PyObject *p = PyTuple_GET_ITEM(pieces, (first + i) & 1);
        char *at = buf;
        memcpy(at, PyBytes_AS_STRING(p), (size_t)PyBytes_GET_SIZE(p));
        at += PyBytes_GET_SIZE(p);
        if (hexed) {
            for (int b = 0; b < HASH; b++) {
                *at++ = HEXDIGITS[rec[b] >> 4];
                *at++ = HEXDIGITS[rec[b] & 15];
            }
        }
        for (Py_ssize_t j = 0; j < m; j++) {
            p = PyTuple_GET_ITEM(pieces, 2 + j);
            memcpy(at, PyBytes_AS_STRING(p), (size_t)PyBytes_GET_SIZE(p));
            at += PyBytes_GET_SIZE(p);
            at += u128_decimal(read_u128(rec + HASH + 16 * j), at);
        }
        p = PyTuple_GET_ITEM(pieces, 2 + m);
        memcpy(at, PyBytes_AS_STRING(p), (size_t)PyBytes_GET_SIZE(p));
        at += PyBytes_GET_SIZE(p);
        PyObject *text = PyBytes_FromStringAndSize(buf, at - buf);
        if (!text) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, text);
    }
done:
    PyMem_Free(buf);
    PyBuffer_Release(&records);
    return result;
}

/* A private, checked int64 copy of Arrow string offsets (int32, or int64 when ``wide``):
 * n + 1 of them, non-decreasing, within data_len. NULL with an exception set otherwise. */
static int64_t *checked_offsets(const Py_buffer *offsets, int wide, Py_ssize_t data_len,
                                Py_ssize_t *n_out, const char *name) {
    Py_ssize_t width = wide ? 8 : 4;
    if (offsets->len % width || offsets->len < width) {
        PyErr_Format(PyExc_ValueError, "%s: offsets of %zd bytes", name, offsets->len);
        return NULL;
    }
    Py_ssize_t n = offsets->len / width - 1;
    int64_t *off = PyMem_Malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!off) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (wide) {
            memcpy(&off[i], (char *)offsets->buf + 8 * i, 8);
        } else {
            int32_t o;
            memcpy(&o, (char *)offsets->buf + 4 * i, 4);
            off[i] = o;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (off[i] < 0 || off[i + 1] < off[i] || off[i + 1] > data_len) {
            PyMem_Free(off);
            PyErr_Format(PyExc_ValueError, "%s: offsets out of range", name);
            return NULL;
        }
    }
    if (n == 0 && (off[0] < 0 || off[0] > data_len)) {
        PyMem_Free(off);
        PyErr_Format(PyExc_ValueError, "%s: offsets out of range", name);
        return NULL;
    }
    *n_out = n;
    return off;
}

PyDoc_STRVAR(check_user_ids_doc,
"check_user_ids(offsets, wide, data, max_len) -> bool\n\n"
"True if every id ``data[offsets[i]:offsets[i+1]]`` (Arrow string offsets: int32, or int64\n"
"when ``wide``) is 1 to ``max_len`` bytes of printable ASCII (0x20-0x7e) and neither starts\n"
"nor ends with a space: the builder's fast rule for user ids (spec §4; printable ASCII is\n"
"NFC and its only whitespace is the space). False sends the batch to the row-by-row check,\n"
"which names the id and the rule it breaks.");

static PyObject *check_user_ids(PyObject *self, PyObject *args) {
    Py_buffer offsets, data;
    int wide;
    Py_ssize_t max_len;
    if (!PyArg_ParseTuple(args, "y*py*n:check_user_ids", &offsets, &wide, &data, &max_len))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n;
    int64_t *off = checked_offsets(&offsets, wide, data.len, &n, "check_user_ids");
    if (off) {
        const unsigned char *text = data.buf;
        int ok = 1;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < n && ok; i++) {
            int64_t a = off[i], b = off[i + 1];
            if (b - a < 1 || b - a > max_len || text[a] == ' ' || text[b - 1] == ' ') {
                ok = 0;
                break;
            }
        }
        if (ok && n) {
            /* Every byte of the ids, in one pass over their span. */
            for (int64_t j = off[0]; j < off[n]; j++) {
                if (text[j] < 0x20 || text[j] > 0x7e) {
                    ok = 0;
                    break;
                }
            }
        }
        Py_END_ALLOW_THREADS
        result = PyBool_FromLong(ok);
        PyMem_Free(off);
    }
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(user_runs_doc,
"user_runs(offsets, wide, data) -> tuple[bytes, bytes, bytes] | None\n\n"
"Runs of adjacent equal ids ``data[offsets[i]:offsets[i+1]]`` (Arrow string offsets: int32,\n"
"or int64 when ``wide``): (starts, run_offsets, run_data), the first row of each run as\n"
"int64, and each run's id packed as int64 offsets (one more than runs, from 0) into\n"
"run_data. None when there are more than n // 2 runs (rows not grouped by user).");

static PyObject *user_runs(PyObject *self, PyObject *args) {
    Py_buffer offsets, data;
    int wide;
    if (!PyArg_ParseTuple(args, "y*py*:user_runs", &offsets, &wide, &data)) return NULL;
    PyObject *result = NULL, *starts = NULL, *run_off = NULL, *run_data = NULL;
    Py_ssize_t n;
    int64_t *off = checked_offsets(&offsets, wide, data.len, &n, "user_runs");
    if (!off) goto done;
    const unsigned char *text = data.buf;
    Py_ssize_t runs = 0, bytes = 0, limit = n / 2;
    int grouped = 1;
    /* First pass: count the runs and their bytes (stop past n // 2 runs). */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t len = off[i + 1] - off[i];
        if (i == 0 || len != off[i] - off[i - 1]
            || memcmp(text + off[i], text + off[i - 1], (size_t)len) != 0) {
            if (++runs > limit) {
                grouped = 0;
                break;
            }
            bytes += len;
        }
    }
    Py_END_ALLOW_THREADS
    if (!grouped) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    starts = PyBytes_FromStringAndSize(NULL, 8 * runs);
    run_off = PyBytes_FromStringAndSize(NULL, 8 * (runs + 1));
    run_data = PyBytes_FromStringAndSize(NULL, bytes);
    if (!starts || !run_off || !run_data) goto done;
    int64_t *st = (int64_t *)PyBytes_AS_STRING(starts);
    int64_t *ro = (int64_t *)PyBytes_AS_STRING(run_off);
    unsigned char *rd = (unsigned char *)PyBytes_AS_STRING(run_data);
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t r = 0;
    int64_t pos = 0;
    ro[0] = 0;
    for (Py_ssize_t i = 0; i < n && r < runs; i++) {
        int64_t len = off[i + 1] - off[i];
        if (i == 0 || len != off[i] - off[i - 1]
            || memcmp(text + off[i], text + off[i - 1], (size_t)len) != 0) {
            st[r] = i;
            memcpy(rd + pos, text + off[i], (size_t)len);
            pos += len;
            ro[++r] = pos;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyTuple_Pack(3, starts, run_off, run_data);
done:
    Py_XDECREF(starts);
    Py_XDECREF(run_off);
    Py_XDECREF(run_data);
    PyMem_Free(off);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(spill_records_doc,
"spill_records(commitments, lo, hi, mask, rows, slots, bits) -> tuple[bytes, bytes]\n\n"
"The spill records of n users (numpy's packed spill_dtype(slots): commitment (32 bytes),\n"
"``slots`` low limbs, ``slots`` high limbs, asset mask, first row; native uint64/int64),\n"
"from n commitments, n x slots limbs each of lo and hi, n masks and n rows; ordered by\n"
"bucket (the commitment's leading ``bits`` bits, 0..16), in input order within a bucket.\n"
"Returns (records, counts): counts holds the records of each of the 2^bits buckets as\n"
"int64. One pass where numpy took a field-by-field fill, a sort and a gather.");

static PyObject *spill_records(PyObject *self, PyObject *args) {
    Py_buffer c, lo, hi, mask, rows;
    Py_ssize_t slots;
    int bits;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*ni:spill_records", &c, &lo, &hi, &mask, &rows,
                          &slots, &bits))
        return NULL;
    PyObject *result = NULL, *out = NULL, *counts = NULL;
    Py_ssize_t *next = NULL;
    Py_ssize_t n = c.len / HASH;
    if (c.len % HASH || slots < 1 || slots > 1024 || bits < 0 || bits > 16
        || lo.len != n * slots * 8 || hi.len != n * slots * 8 || mask.len != n * 8
        || rows.len != n * 8) {
        PyErr_SetString(PyExc_ValueError, "spill_records: buffers of inconsistent sizes");
        goto done;
    }
    Py_ssize_t width = HASH + 16 * slots + 16, buckets = (Py_ssize_t)1 << bits;
    if (n > PY_SSIZE_T_MAX / width) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n * width);
    counts = PyBytes_FromStringAndSize(NULL, 8 * buckets);
    next = PyMem_Calloc((size_t)buckets, sizeof(Py_ssize_t));
    if (!out || !counts || !next) {
        if (!next) PyErr_NoMemory();
        goto done;
    }
    int64_t *count = (int64_t *)PyBytes_AS_STRING(counts);
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *cm = c.buf, *l = lo.buf, *h = hi.buf, *m = mask.buf, *r = rows.buf;
    Py_BEGIN_ALLOW_THREADS
    memset(count, 0, 8 * (size_t)buckets);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned top = ((unsigned)cm[i * HASH] << 8) | cm[i * HASH + 1];
        count[bits ? top >> (16 - bits) : 0]++;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t b = 0; b < buckets; b++) {
        next[b] = at;
        at += (Py_ssize_t)count[b];
    }
    size_t limbs = 8 * (size_t)slots;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned top = ((unsigned)cm[i * HASH] << 8) | cm[i * HASH + 1];
        unsigned char *rec = dst + width * next[bits ? top >> (16 - bits) : 0]++;
        memcpy(rec, cm + i * HASH, HASH);
        memcpy(rec + HASH, l + limbs * i, limbs);
        memcpy(rec + HASH + limbs, h + limbs * i, limbs);
        memcpy(rec + HASH + 2 * limbs, m + 8 * i, 8);
        memcpy(rec + HASH + 2 * limbs + 8, r + 8 * i, 8);
    }
    Py_END_ALLOW_THREADS
    result = PyTuple_Pack(2, out, counts);
done:
    Py_XDECREF(out);
    Py_XDECREF(counts);
    PyMem_Free(next);
    PyBuffer_Release(&c);
    PyBuffer_Release(&lo);
    PyBuffer_Release(&hi);
    PyBuffer_Release(&mask);
    PyBuffer_Release(&rows);
    return result;
}

PyDoc_STRVAR(merge_leaves_doc,
"merge_leaves(records, starts, slots, spilled) -> bytes\n\n"
"One leaf record per run of a bucket's sorted spill records (spill_dtype(spilled), native\n"
"limbs): the run's commitment, then per slot the big-endian u128 whose limbs are the sums\n"
"(mod 2^64, as numpy's add.reduceat) of the run's low and high limbs: the bytes of\n"
"leaf_dtype(slots) (spec §8.3). ``starts``: int64 first record of each run, increasing,\n"
"from 0. When spilled < slots (a margin snapshot without collateral: spilled = 2 x assets,\n"
"slots = 3 x assets) each asset's (equity, debt) becomes (equity, debt, equity).");

static PyObject *merge_leaves(PyObject *self, PyObject *args) {
    Py_buffer recs, starts;
    Py_ssize_t slots, spilled;
    if (!PyArg_ParseTuple(args, "y*y*nn:merge_leaves", &recs, &starts, &slots, &spilled))
        return NULL;
    PyObject *result = NULL;
    int64_t *st = NULL;
    Py_ssize_t in_w = HASH + 16 * spilled + 16, out_w = HASH + 16 * slots;
    Py_ssize_t n = 0, runs = starts.len / 8;
    int expand = spilled != slots;
    if (slots < 1 || slots > 1024 || spilled < 1 || starts.len % 8
        || (expand && (spilled % 2 || spilled / 2 * 3 != slots)) || recs.len % in_w) {
        PyErr_SetString(PyExc_ValueError, "merge_leaves: buffers of inconsistent sizes");
        goto done;
    }
    n = recs.len / in_w;
    st = PyMem_Malloc(8 * (size_t)(runs + 1));
    if (!st) {
        PyErr_NoMemory();
        goto done;
    }
    if (runs) memcpy(st, starts.buf, (size_t)starts.len);
    st[runs] = n;
    for (Py_ssize_t r = 0; r < runs; r++) {
        if ((r == 0 && st[0] != 0) || st[r + 1] <= st[r]) {
            PyErr_SetString(PyExc_ValueError, "merge_leaves: starts not increasing from 0");
            goto done;
        }
    }
    if (runs == 0 && n) {
        PyErr_SetString(PyExc_ValueError, "merge_leaves: records but no runs");
        goto done;
    }
    if (runs > PY_SSIZE_T_MAX / out_w) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, runs * out_w);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = recs.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < runs; r++) {
        unsigned char *dst = out + r * out_w;
        const unsigned char *first = in + st[r] * in_w;
        memcpy(dst, first, HASH);
        for (Py_ssize_t j = 0; j < spilled; j++) {
            uint64_t lo = 0, hi = 0, v;
            for (int64_t i = st[r]; i < st[r + 1]; i++) {
                const unsigned char *rec = in + i * in_w + HASH;
                memcpy(&v, rec + 8 * j, 8);
                lo += v;
                memcpy(&v, rec + 8 * (spilled + j), 8);
                hi += v;
            }
            Py_ssize_t slot = expand ? j / 2 * 3 + j % 2 : j;
            unsigned char *p = dst + HASH + 16 * slot;
            for (int b = 0; b < 8; b++) {
                p[b] = (unsigned char)(hi >> (56 - 8 * b));
                p[8 + b] = (unsigned char)(lo >> (56 - 8 * b));
            }
            if (expand && j % 2 == 0) memcpy(p + 32, p, 16); /* collateral = equity */
        }
    }
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(st);
    PyBuffer_Release(&recs);
    PyBuffer_Release(&starts);
    return result;
}

/* ------------------------------------------------------- the import check (issue 16)
 *
 * Before the module loads, every fast loop runs over a sweep of inputs that puts message
 * ends on every side of SHA-256's padding boundaries (prefixes of 0..128 bytes, records of
 * 1..150, ids of 0..300, keys shorter and longer than a block, prefixes that fill a block)
 * and must give the bytes of its standard-API twin, message for message; and the SHA-256 of
 * all its outputs must be the fixed answer below, computed by hashlib through the
 * pure-Python twins (tests/scale/test_sha256_blocks.py recomputes it). If one differs,
 * the import fails with ImportError, and the builder takes its pure-Python path. The
 * inputs are a fixed byte pattern: PAT[i] = (167 i + 13) mod 256. */

#define PAT_LEN 65536
static uc PAT[PAT_LEN];

enum { KA_RECORDS, KA_LEAVES, KA_PARENTS, KA_COMMITMENTS, KA_PADDING, KA_COUNT };
static const char *const KA_NAMES[KA_COUNT] = {"hash_records", "leaf_records",
                                               "parent_records", "commitments",
                                               "pad_commitments"};
/* SHA-256 of each sweep's outputs, from hashlib (see above). */
static const char *const KA_ANSWERS[KA_COUNT] = {
    "c31551ae2834506320ecf3178901c309b80fa18401cbb91e1a3b52d8a086e357", /* hash_records */
    "1983b0b1c19e7ba2d29964dac1dc1086a5e71f5d8805a07b3c2cd3d457c2f2da", /* leaf_records */
    "cbb97024af0ddeef50fccc770cfad0294bb64b5fcc00e4051e4302004f838ec2", /* parent_records */
    "068fae66885ee94a3e07fdac4d3d1b564ca2cfdde04185b2d5b870306561154c", /* commitments */
    "6367b6e28f5dd16588acd1cec0a29fca971fda5ebe4c42b4051a5fde899e4194", /* pad_commitments */
};

static const size_t SW_PREFIX[] = {0, 16, 55, 56, 63, 64, 65, 119, 120, 128};
static const size_t SW_TAG[] = {0, 16, 70};
static const size_t SW_KEY[] = {0, 64, 65, 130};
static const size_t SW_PAIRS[][2] = {{0, 0}, {63, 64}, {82, 30}, {64, 63}};
static const size_t SW_ID[] = {0, 1, 20, 45, 46, 55, 56, 63, 64, 110, 128};
static const size_t SW_PAD_KEY[] = {0, 32, 64, 65, 130};
static const size_t SW_PAD_PREFIX[] = {0, 16, 29, 47, 48, 55, 56, 63, 64, 82, 120};
#define NUM(a) (sizeof(a) / sizeof((a)[0]))

/* fault: the index of a sweep whose first fast output is altered (tests of this check),
 * or -1. Returns the name of the first sweep that failed, or NULL; *oom on no memory. */
static const char *self_test(int fault, uc answers[KA_COUNT][HASH], int *oom) {
    uc *fast = PyMem_RawMalloc(2 * 4096), *std = fast ? fast + 4096 : NULL;
    uc *kids = PyMem_RawMalloc(4 * 416);
    int64_t off[302];
    SHA256_CTX acc[KA_COUNT];
    const char *failed = NULL;
    *oom = 0;
    if (!fast || !kids) {
        *oom = 1;
        goto done;
    }
    for (int k = 0; k < KA_COUNT; k++) SHA256_Init(&acc[k]);
#define CHECK(which, call_fast, call_std, len)                                          \
    do {                                                                                \
        if ((call_fast) || (call_std)) {                                                \
            *oom = 1;                                                                   \
            goto done;                                                                  \
        }                                                                               \
        if (fault == (which)) {                                                         \
            fast[0] ^= 1;                                                               \
            fault = -1;                                                                 \
        }                                                                               \
        if (memcmp(fast, std, (len)) && !failed) failed = KA_NAMES[which];              \
        SHA256_Update(&acc[which], fast, (len));                                        \
    } while (0)
    for (size_t a = 0; a < NUM(SW_PREFIX); a++) {
        size_t p = SW_PREFIX[a];
        for (size_t w = 1; w <= 150; w++) {
            const uc *src = PAT + 1000 + w;
            CHECK(KA_RECORDS, fast_hash_records(PAT, p, src, w, 2, fast),
                  std_hash_records(PAT, p, src, w, 2, std), 2 * HASH);
        }
    }
    for (size_t a = 0; a < NUM(SW_TAG); a++) {
        size_t t = SW_TAG[a];
        for (size_t w = 0; w <= 130; w++) {
            const uc *cs = PAT + 2000, *ss = PAT + 3000 + w;
            CHECK(KA_LEAVES, fast_leaf_records(PAT, t, cs, ss, w, 2, fast),
                  std_leaf_records(PAT, t, cs, ss, w, 2, std), 2 * (HASH + w));
        }
        for (size_t j = 0; j <= 24; j++) {
            size_t w = HASH + 16 * j;
            int over_fast = 0, over_std = 0;
            memcpy(kids, PAT + 4000, 4 * w);
            for (size_t r = 0; r < 4; r++) /* no sum overflows: each slot's top byte 0 */
                for (size_t s = 0; s < j; s++) kids[r * w + HASH + 16 * s] = 0;
            /* the reference: the sums from the same add_slots, the hash standard */
            for (size_t i = 0; i < 2; i++) {
                if (add_slots(kids + 2 * i * w, kids + (2 * i + 1) * w, std + i * w, (Py_ssize_t)j))
                    over_std = 1;
            }
            CHECK(KA_PARENTS, fast_parent_records(PAT, t, kids, w, 2, fast, &over_fast),
                  std_hash_records(PAT, t, kids, 2 * w, 1, std)
                      || std_hash_records(PAT, t, kids + 2 * w, 2 * w, 1, std + w),
                  2 * w);
            if ((over_fast || over_std) && !failed) failed = KA_NAMES[KA_PARENTS];
        }
    }
    for (int config = -1; config < (int)(NUM(SW_KEY) * NUM(SW_PAIRS)); config++) {
        size_t key = 32, sp = 29, up = 29, count = 301;
        off[0] = 0;
        if (config < 0) {
            for (size_t i = 0; i < count; i++) off[i + 1] = off[i] + (int64_t)i;
        } else {
            key = SW_KEY[config / NUM(SW_PAIRS)];
            sp = SW_PAIRS[config % NUM(SW_PAIRS)][0];
            up = SW_PAIRS[config % NUM(SW_PAIRS)][1];
            count = NUM(SW_ID);
            for (size_t i = 0; i < count; i++) off[i + 1] = off[i] + (int64_t)SW_ID[i];
        }
        size_t max_len = config < 0 ? 300 : 128;
        const uc *ids = PAT + 20000;
        for (size_t from = 0; from < count; from += 64) { /* 64 ids a call: 2 KiB out */
            size_t n = count - from < 64 ? count - from : 64;
            CHECK(KA_COMMITMENTS,
                  fast_commitments(PAT + 5000, key, PAT + 100, sp, PAT + 200, up, ids,
                                   off + from, (Py_ssize_t)n, max_len, fast),
                  std_commitments(PAT + 5000, key, PAT + 100, sp, PAT + 200, up, ids,
                                  off + from, (Py_ssize_t)n, max_len, std),
                  n * HASH);
        }
    }
    for (size_t a = 0; a < NUM(SW_PAD_KEY); a++) {
        for (size_t b = 0; b < NUM(SW_PAD_PREFIX); b++) {
            size_t key = SW_PAD_KEY[a], p = SW_PAD_PREFIX[b];
            unsigned long long start = 1000ULL * p + key;
            if (b == NUM(SW_PAD_PREFIX) - 1) start = 0xFFFFFFFFFFFFFFFDULL; /* top indices */
            CHECK(KA_PADDING,
                  fast_pad_commitments(PAT + 5000, key, PAT + 300, p, start, start + 2, fast),
                  std_pad_commitments(PAT + 5000, key, PAT + 300, p, start, start + 2, std),
                  2 * HASH);
        }
    }
#undef CHECK
    for (int k = 0; k < KA_COUNT; k++) {
        SHA256_Final(answers[k], &acc[k]);
        uc want[HASH];
        for (int i = 0; i < 2 * HASH; i++) {
            char h = KA_ANSWERS[k][i];
            int v = h >= 'a' ? h - 'a' + 10 : h - '0';
            want[i / 2] = (uc)(i % 2 ? (want[i / 2] << 4) | v : v);
        }
        if (memcmp(answers[k], want, HASH) && !failed) failed = KA_NAMES[k];
    }
done:
    PyMem_RawFree(fast);
    PyMem_RawFree(kids);
    return failed;
}

PyDoc_STRVAR(self_test_doc,
"_self_test(fault=-1) -> (str | None, dict[str, bytes])\n\n"
"The import check again: the name of the first fast loop that differs from its\n"
"standard-API twin or from its fixed answer (None if none), and each sweep's SHA-256. With\n"
"``fault`` the index of a sweep (0..4, in the order hash_records, leaf_records,\n"
"parent_records, commitments, pad_commitments), that sweep's first output is altered\n"
"first: how the tests see that the check can fail.");

static PyObject *self_test_py(PyObject *self, PyObject *args) {
    int fault = -1, oom;
    uc answers[KA_COUNT][HASH];
    if (!PyArg_ParseTuple(args, "|i:_self_test", &fault)) return NULL;
    const char *failed = self_test(fault, answers, &oom);
    if (oom) return PyErr_NoMemory();
    PyObject *dict = PyDict_New();
    if (!dict) return NULL;
    for (int k = 0; k < KA_COUNT; k++) {
        PyObject *v = PyBytes_FromStringAndSize((const char *)answers[k], HASH);
        if (!v || PyDict_SetItemString(dict, KA_NAMES[k], v)) {
            Py_XDECREF(v);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(v);
    }
    return Py_BuildValue("(zN)", failed, dict);
}

/* Offset i of an Arrow string array's offsets (int32, or int64 when ``wide``). */
static inline int64_t arrow_offset(const char *buf, int wide, Py_ssize_t i) {
    if (wide) {
        int64_t o;
        memcpy(&o, buf + 8 * i, 8);
        return o;
    }
    int32_t o;
    memcpy(&o, buf + 4 * i, 4);
    return o;
}

#define INGEST_MAX_COLUMNS 3

/* p[0:len] == q[0:len], eight bytes at a time (ids are short: no call to memcmp). */
static inline int same_bytes(const unsigned char *p, const unsigned char *q, int64_t len) {
    int64_t j = 0;
    for (; j + 8 <= len; j += 8)
        if (load8(p + j) != load8(q + j)) return 0;
    for (; j < len; j++)
        if (p[j] != q[j]) return 0;
    return 1;
}

PyDoc_STRVAR(ingest_runs_doc,
"ingest_runs(id_offsets, id_wide, id_data, max_id_len, asset_idx, decimals, values,\n"
"            signed, first_row) -> tuple | None | False\n\n"
"One pass over a converted batch's Arrow buffers that does what check_user_ids,\n"
"parse_decimals, user_runs and the grouping of runs do one after the other (the ingest's\n"
"fast path for a snapshot grouped by user, spec §4, §8 and §15.11). Ids are\n"
"id_data[id_offsets[i]:id_offsets[i+1]] (int32 offsets, int64 when ``id_wide``);\n"
"``asset_idx`` (native int16) names each row's asset, ``decimals`` (native int64) each\n"
"asset's decimals; ``values`` holds one (offsets, wide, data) per amount column: one\n"
"(spot, or a margin snapshot's signed ``amount`` when ``signed``: x >= 0 is (x, 0), x < 0\n"
"is (0, -x)), or equity, debt[, collateral]. Returns (run_offsets, run_data, lo, hi,\n"
"mask, rows, duplicate): per run of adjacent rows of one id, its id (int64 offsets from\n"
"0 into run_data), its amounts (k x parts native uint64 limbs each in lo and hi, asset-\n"
"major), the assets present (a bit each) and first_row plus its first row; duplicate is\n"
"first_row plus the first row of the first run holding an asset twice, else -1.\n"
"None when some id, asset or amount is not accepted by the fast rules (the caller's\n"
"reference path then names it); False when the rows form more than n // 2 runs (not\n"
"grouped by user: the caller groups them by dictionary).");

static PyObject *ingest_runs(PyObject *self, PyObject *args) {
    Py_buffer id_off, id_data, asset_idx, decimals;
    Py_buffer v_off[INGEST_MAX_COLUMNS], v_data[INGEST_MAX_COLUMNS];
    int id_wide, is_signed, v_wide[INGEST_MAX_COLUMNS];
    Py_ssize_t max_len, ncols = 0, got = 0;
    long long first_row;
    PyObject *values;
    if (!PyArg_ParseTuple(args, "y*py*ny*y*O!pL:ingest_runs", &id_off, &id_wide, &id_data,
                          &max_len, &asset_idx, &decimals, &PyTuple_Type, &values, &is_signed,
                          &first_row))
        return NULL;
    PyObject *result = NULL, *run_off = NULL, *run_data = NULL, *lo = NULL, *hi = NULL,
             *mask = NULL, *rows = NULL;
    Py_ssize_t n = asset_idx.len / 2, k = decimals.len / 8;
    ncols = PyTuple_GET_SIZE(values);
    if (ncols < 1 || ncols > INGEST_MAX_COLUMNS || (is_signed && ncols != 1)) {
        PyErr_SetString(PyExc_ValueError, "ingest_runs: 1 to 3 value columns (1 when signed)");
        goto done;
    }
    for (got = 0; got < ncols; got++) {
        PyObject *col = PyTuple_GET_ITEM(values, got);
        if (!PyArg_ParseTuple(col, "y*py*:ingest_runs values", &v_off[got], &v_wide[got],
                              &v_data[got]))
            goto done;
    }
    Py_ssize_t parts = is_signed ? 2 : ncols, slots = k * parts;
    int bad = asset_idx.len % 2 || decimals.len % 8 || k < 1 || k > 64 || max_len < 1
              || id_off.len != (id_wide ? 8 : 4) * (n + 1);
    for (Py_ssize_t c = 0; c < ncols && !bad; c++)
        bad = v_off[c].len != (v_wide[c] ? 8 : 4) * (n + 1);
    const int64_t *dec = decimals.buf;
    for (Py_ssize_t j = 0; j < k && !bad; j++) {
        int64_t d;
        memcpy(&d, (const char *)decimals.buf + 8 * j, 8);
        bad = d < 0 || d > 38;
    }
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "ingest_runs: buffers of inconsistent sizes");
        goto done;
    }
    (void)dec;
    const char *ido = id_off.buf;
    int64_t id_first = arrow_offset(ido, id_wide, 0), id_last = arrow_offset(ido, id_wide, n);
    if (id_first < 0 || id_last < id_first || id_last > id_data.len) {
        PyErr_SetString(PyExc_ValueError, "ingest_runs: offsets out of range");
        goto done;
    }
    Py_ssize_t cap = n / 2; /* more runs than this: not grouped */
    run_off = PyBytes_FromStringAndSize(NULL, 8 * (cap + 1));
    run_data = PyBytes_FromStringAndSize(NULL, id_last - id_first);
    lo = PyBytes_FromStringAndSize(NULL, 8 * cap * slots);
    hi = PyBytes_FromStringAndSize(NULL, 8 * cap * slots);
    mask = PyBytes_FromStringAndSize(NULL, 8 * cap);
    rows = PyBytes_FromStringAndSize(NULL, 8 * cap);
    if (!run_off || !run_data || !lo || !hi || !mask || !rows) goto done;
    int64_t *ro = (int64_t *)PyBytes_AS_STRING(run_off);
    unsigned char *rd = (unsigned char *)PyBytes_AS_STRING(run_data);
    uint64_t *out_lo = (uint64_t *)PyBytes_AS_STRING(lo), *out_hi = (uint64_t *)PyBytes_AS_STRING(hi);
    uint64_t *out_mask = (uint64_t *)PyBytes_AS_STRING(mask);
    int64_t *out_rows = (int64_t *)PyBytes_AS_STRING(rows);
    const unsigned char *text = id_data.buf;
    const int16_t *aidx = asset_idx.buf;
    int64_t places[64];
    memcpy(places, decimals.buf, 8 * (size_t)k);
    Py_ssize_t runs = 0;
    int64_t pos = 0, duplicate = -1;
    int status = 0; /* 0 accepted, 1 refused, 2 not grouped, 3 malformed buffers */
    Py_BEGIN_ALLOW_THREADS
    ro[0] = 0;
    int64_t pa = 0, pb = 0; /* the previous row's id */
    int64_t a = id_first;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t b = arrow_offset(ido, id_wide, i + 1);
        if (b < a || b > id_last) {
            status = 3;
            break;
        }
        int64_t len = b - a;
        if (i == 0 || len != pb - pa || !same_bytes(text + a, text + pa, len)) {
            /* A new run: the id checked once (its repeats are the same bytes). */
            if (len < 1 || len > max_len || text[a] == ' ' || text[b - 1] == ' ') {
                status = 1;
                break;
            }
            int printable = 1;
            int64_t j = a;
            for (; j + 8 <= b; j += 8) printable &= all_printable8(load8(text + j));
            for (; j < b; j++) printable &= text[j] >= 0x20 && text[j] <= 0x7e;
            if (!printable) {
                status = 1;
                break;
            }
            if (runs == cap) {
                status = 2;
                break;
            }
            memcpy(rd + pos, text + a, (size_t)len);
            pos += len;
            ro[runs + 1] = pos;
            memset(out_lo + runs * slots, 0, 8 * (size_t)slots);
            memset(out_hi + runs * slots, 0, 8 * (size_t)slots);
            out_mask[runs] = 0;
            out_rows[runs] = first_row + i;
            runs++;
        }
        pa = a;
        pb = b;
        a = b;
        Py_ssize_t r = runs - 1;
        int asset = aidx[i];
        if (asset < 0 || asset >= k) {
            status = 1;
            break;
        }
        uint64_t bit = (uint64_t)1 << asset;
        if ((out_mask[r] & bit) && duplicate < 0) duplicate = out_rows[r];
        out_mask[r] |= bit;
        Py_ssize_t at = r * slots + asset * parts;
        for (Py_ssize_t c = 0; c < ncols; c++) {
            const char *vo = v_off[c].buf;
            int64_t va = arrow_offset(vo, v_wide[c], i), vb = arrow_offset(vo, v_wide[c], i + 1);
            if (va < 0 || vb < va || vb > v_data[c].len) {
                status = 3;
                break;
            }
            u128 value;
            unsigned char negative;
            const unsigned char *vt = v_data[c].buf;
            if (!parse_amount(vt + va, vt + vb, places[asset], is_signed, &value, &negative)) {
                status = 1;
                break;
            }
            Py_ssize_t slot = at + (is_signed ? negative : c);
            if (is_signed) { /* (x, 0) or (0, -x): both written, as the reference does */
                out_lo[at + !negative] = 0;
                out_hi[at + !negative] = 0;
            }
            out_lo[slot] = (uint64_t)value;
            out_hi[slot] = (uint64_t)(value >> 64);
        }
        if (status) break;
    }
    Py_END_ALLOW_THREADS
    if (status == 3) {
        PyErr_SetString(PyExc_ValueError, "ingest_runs: offsets out of range");
        goto done;
    }
    if (status) {
        result = status == 1 ? Py_None : Py_False;
        Py_INCREF(result);
        goto done;
    }
    if (_PyBytes_Resize(&run_off, 8 * (runs + 1)) || _PyBytes_Resize(&run_data, pos)
        || _PyBytes_Resize(&lo, 8 * runs * slots) || _PyBytes_Resize(&hi, 8 * runs * slots)
        || _PyBytes_Resize(&mask, 8 * runs) || _PyBytes_Resize(&rows, 8 * runs))
        goto done;
    result = Py_BuildValue("(OOOOOOL)", run_off, run_data, lo, hi, mask, rows,
                           (long long)duplicate);
done:
    Py_XDECREF(run_off);
    Py_XDECREF(run_data);
    Py_XDECREF(lo);
    Py_XDECREF(hi);
    Py_XDECREF(mask);
    Py_XDECREF(rows);
    for (Py_ssize_t c = 0; c < got; c++) {
        PyBuffer_Release(&v_off[c]);
        PyBuffer_Release(&v_data[c]);
    }
    PyBuffer_Release(&id_off);
    PyBuffer_Release(&id_data);
    PyBuffer_Release(&asset_idx);
    PyBuffer_Release(&decimals);
    return result;
}

/* v as 8 big-endian bytes at p. */
static inline void store_be64(unsigned char *p, uint64_t v) {
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

#define PREFETCH_AHEAD 8 /* records: about the memory latency over one record's work */

PyDoc_STRVAR(merge_runs_doc,
"merge_runs(records, order, starts, slots, spilled) -> bytes\n\n"
"merge_leaves of the records taken in ``order`` (int64 indexes of the records, each at\n"
"most once: the sort of the bucket by commitment), without gathering them first: one leaf\n"
"per run order[starts[r]:starts[r+1]], the bytes of leaf_dtype(slots) (spec §8.3).");

static PyObject *merge_runs(PyObject *self, PyObject *args) {
    Py_buffer recs, order, starts;
    Py_ssize_t slots, spilled;
    if (!PyArg_ParseTuple(args, "y*y*y*nn:merge_runs", &recs, &order, &starts, &slots,
                          &spilled))
        return NULL;
    PyObject *result = NULL;
    int64_t *st = NULL;
    Py_ssize_t in_w = HASH + 16 * spilled + 16, out_w = HASH + 16 * slots;
    Py_ssize_t n = 0, runs = starts.len / 8;
    int expand = spilled != slots;
    if (slots < 1 || slots > 1024 || spilled < 1 || starts.len % 8
        || (expand && (spilled % 2 || spilled / 2 * 3 != slots)) || recs.len % in_w
        || order.len != recs.len / in_w * 8) {
        PyErr_SetString(PyExc_ValueError, "merge_runs: buffers of inconsistent sizes");
        goto done;
    }
    n = recs.len / in_w;
    st = PyMem_Malloc(8 * (size_t)(runs + 1) + 8 * (size_t)n);
    if (!st) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *ord = st + runs + 1; /* a private copy, checked: no index read twice unchecked */
    if (runs) memcpy(st, starts.buf, (size_t)starts.len);
    if (n) memcpy(ord, order.buf, (size_t)order.len);
    st[runs] = n;
    for (Py_ssize_t r = 0; r < runs; r++) {
        if ((r == 0 && st[0] != 0) || st[r + 1] <= st[r]) {
            PyErr_SetString(PyExc_ValueError, "merge_runs: starts not increasing from 0");
            goto done;
        }
    }
    if (runs == 0 && n) {
        PyErr_SetString(PyExc_ValueError, "merge_runs: records but no runs");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ord[i] < 0 || ord[i] >= n) {
            PyErr_SetString(PyExc_ValueError, "merge_runs: order out of range");
            goto done;
        }
    }
    if (runs > PY_SSIZE_T_MAX / out_w) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, runs * out_w);
    if (!result) goto done;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    const unsigned char *in = recs.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < runs; r++) {
        unsigned char *dst = out + r * out_w;
        const unsigned char *first = in + ord[st[r]] * in_w;
        if (st[r] + PREFETCH_AHEAD < n) { /* the records are read in random order */
            const unsigned char *later = in + ord[st[r] + PREFETCH_AHEAD] * in_w;
            for (Py_ssize_t b = 0; b < in_w; b += 64) __builtin_prefetch(later + b);
            __builtin_prefetch(later + in_w - 1);
        }
        memcpy(dst, first, HASH);
        int single = st[r + 1] - st[r] == 1;
        for (Py_ssize_t j = 0; j < spilled; j++) {
            uint64_t lo, hi, v;
            memcpy(&lo, first + HASH + 8 * j, 8);
            memcpy(&hi, first + HASH + 8 * (spilled + j), 8);
            if (!single) {
                for (int64_t i = st[r] + 1; i < st[r + 1]; i++) {
                    const unsigned char *rec = in + ord[i] * in_w + HASH;
                    memcpy(&v, rec + 8 * j, 8);
                    lo += v;
                    memcpy(&v, rec + 8 * (spilled + j), 8);
                    hi += v;
                }
            }
            Py_ssize_t slot = expand ? j / 2 * 3 + j % 2 : j;
            unsigned char *p = dst + HASH + 16 * slot;
            store_be64(p, hi);
            store_be64(p + 8, lo);
            if (expand && j % 2 == 0) memcpy(p + 32, p, 16); /* collateral = equity */
        }
    }
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(st);
    PyBuffer_Release(&recs);
    PyBuffer_Release(&order);
    PyBuffer_Release(&starts);
    return result;
}

static PyMethodDef methods[] = {
    {"floor_hash_records", floor_hash_records, METH_VARARGS, floor_hash_records_doc},
    {"floor_commitments", floor_commitments, METH_VARARGS, floor_commitments_doc},
    {"floor_pad_commitments", floor_pad_commitments, METH_VARARGS, floor_pad_commitments_doc},
    {"_self_test", self_test_py, METH_VARARGS, self_test_doc},
    {"format_records", format_records, METH_VARARGS, format_records_doc},
    {"leaf_records", leaf_records, METH_VARARGS, leaf_records_doc},
    {"parent_records", parent_records, METH_VARARGS, parent_records_doc},
    {"parse_decimals", parse_decimals, METH_VARARGS, parse_decimals_doc},
    {"margin_rule", margin_rule, METH_VARARGS, margin_rule_doc},
    {"hash_records", hash_records, METH_VARARGS, hash_records_doc},
    {"commitments", commitments, METH_VARARGS, commitments_doc},
    {"pad_commitments", pad_commitments, METH_VARARGS, pad_commitments_doc},
    {"check_user_ids", check_user_ids, METH_VARARGS, check_user_ids_doc},
    {"user_runs", user_runs, METH_VARARGS, user_runs_doc},
    {"spill_records", spill_records, METH_VARARGS, spill_records_doc},
    {"merge_leaves", merge_leaves, METH_VARARGS, merge_leaves_doc},
    {"ingest_runs", ingest_runs, METH_VARARGS, ingest_runs_doc},
    {"merge_runs", merge_runs, METH_VARARGS, merge_runs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "por._fasthash",
    "Bulk SHA-256 and HMAC-SHA256 loops of the builder, on OpenSSL's libcrypto.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fasthash(void) {
    int oom;
    uc answers[KA_COUNT][HASH];
    for (size_t i = 0; i < PAT_LEN; i++) PAT[i] = (uc)(167 * i + 13);
    const char *failed = self_test(-1, answers, &oom);
    if (oom) return PyErr_NoMemory();
    if (failed) {
        PyErr_Format(PyExc_ImportError,
                     "por._fasthash: %s gives other bytes than OpenSSL's standard SHA-256 API"
                     " or its known answer; refusing to load (the pure-Python path is used)",
                     failed);
        return NULL;
    }
    init_pow10();
    return PyModule_Create(&module);
}
