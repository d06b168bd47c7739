/* por._fasthash: the builder's bulk SHA-256 loops, outside the interpreter.
 *
 * Optional accelerator of por/buckets.py: every function here computes exactly the bytes
 * of its pure-Python twin there (spec §4-6), and tests/scale/test_native.py checks both on
 * random inputs and on the committed vectors. The verifier never uses it.
 *
 * The SHA-256 compression function is OpenSSL's (libcrypto, SHA-NI where the CPU has it);
 * nothing here implements SHA-256. HMAC-SHA256 (RFC 2104) is built from it with the key
 * schedule done once per call: the states after key^ipad (and the message prefix) and
 * after key^opad are plain structs, copied per message, which is what makes a keyed
 * commitment cost three compressions and no allocation. The low-level SHA256_* API is
 * used rather than EVP because EVP costs about 50 ns more per message (measured: 71 vs
 * 119 ns for a 112-byte message), which is most of a leaf's budget; it is deprecated in
 * OpenSSL 3.0 but present, hence OPENSSL_API_COMPAT.
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

/* HMAC(key, prefix ‖ a ‖ b) into out. */
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
}

static PyObject *new_output(Py_ssize_t count, unsigned char **out) {
    if (count > PY_SSIZE_T_MAX / HASH) {
        PyErr_SetString(PyExc_OverflowError, "too many records");
        return NULL;
    }
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * HASH);
    if (result) *out = (unsigned char *)PyBytes_AS_STRING(result);
    return result;
}

PyDoc_STRVAR(hash_records_doc,
"hash_records(prefix, data, width) -> bytes\n\n"
"SHA-256 of prefix ‖ record for each consecutive record of ``width`` bytes in ``data``\n"
"(any contiguous buffer whose length is a multiple of ``width``): 32 bytes each, in order.\n"
"A leaf is TAG_LEAF ‖ commitment ‖ amounts; a node is TAG_NODE ‖ its two children's\n"
"consecutive records (spec §6).");

static PyObject *hash_records(PyObject *self, PyObject *args) {
    Py_buffer prefix, data;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*y*n:hash_records", &prefix, &data, &width)) return NULL;
    PyObject *result = NULL;
    if (width <= 0 || data.len % width != 0) {
        PyErr_Format(PyExc_ValueError,
                     "hash_records: data of %zd bytes is not a whole number of %zd-byte records",
                     data.len, width);
        goto done;
    }
    Py_ssize_t count = data.len / width;
    unsigned char *out;
    result = new_output(count, &out);
    if (!result) goto done;
    const unsigned char *src = data.buf;
    Py_BEGIN_ALLOW_THREADS
    SHA256_CTX base, c;
    SHA256_Init(&base);
    SHA256_Update(&base, prefix.buf, (size_t)prefix.len);
    for (Py_ssize_t i = 0; i < count; i++) {
        c = base;
        SHA256_Update(&c, src + i * width, (size_t)width);
        SHA256_Final(out + i * HASH, &c);
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&data);
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
    Py_buffer secret, salt_prefix, user_prefix, data, offsets;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*:commitments", &secret, &salt_prefix, &user_prefix,
                          &data, &offsets))
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
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t a = off[i], b = off[i + 1];
        if (a < 0 || b < a || b > data.len || b - a > 0xFFFF) {
            PyErr_Format(PyExc_ValueError,
                         "commitments: id %zd spans bytes %lld..%lld of %zd (at most 65535)",
                         i, (long long)a, (long long)b, data.len);
            goto done;
        }
    }
    unsigned char *out;
    result = new_output(count, &out);
    if (!result) goto done;
    const unsigned char *ids = data.buf;
    Py_BEGIN_ALLOW_THREADS
    hmac_keyed salt_key;
    SHA256_CTX user_base, c;
    hmac_setup(&salt_key, secret.buf, secret.len, salt_prefix.buf, salt_prefix.len);
    SHA256_Init(&user_base);
    SHA256_Update(&user_base, user_prefix.buf, (size_t)user_prefix.len);
    unsigned char salt[HASH];
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t len = (size_t)(off[i + 1] - off[i]);
        const unsigned char *id = ids + off[i];
        unsigned char enc_len[2] = {(unsigned char)(len >> 8), (unsigned char)len};
        hmac_finish(&salt_key, enc_len, 2, id, len, salt);
        c = user_base;
        SHA256_Update(&c, enc_len, 2);
        if (len) SHA256_Update(&c, id, len);
        SHA256_Update(&c, salt, HASH);
        SHA256_Final(out + i * HASH, &c);
    }
    OPENSSL_cleanse(&salt_key, sizeof salt_key);
    OPENSSL_cleanse(salt, HASH);
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(off);
    PyBuffer_Release(&secret);
    PyBuffer_Release(&salt_prefix);
    PyBuffer_Release(&user_prefix);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return result;
}

PyDoc_STRVAR(pad_commitments_doc,
"pad_commitments(secret, prefix, start, stop) -> bytes\n\n"
"HMAC-SHA256(secret, prefix ‖ u64(i)) for i in start..stop (spec §5, prefix TAG_PAD ‖\n"
"str(round)): 32 bytes each, in order.");

static PyObject *pad_commitments(PyObject *self, PyObject *args) {
    Py_buffer secret, prefix;
    unsigned long long start, stop;
    if (!PyArg_ParseTuple(args, "y*y*KK:pad_commitments", &secret, &prefix, &start, &stop))
        return NULL;
    PyObject *result = NULL;
    if (stop < start || stop - start > (unsigned long long)(PY_SSIZE_T_MAX / HASH)) {
        PyErr_Format(PyExc_ValueError, "pad_commitments: bad range %llu..%llu", start, stop);
        goto done;
    }
    unsigned char *out;
    result = new_output((Py_ssize_t)(stop - start), &out);
    if (!result) goto done;
    Py_BEGIN_ALLOW_THREADS
    hmac_keyed key;
    hmac_setup(&key, secret.buf, secret.len, prefix.buf, prefix.len);
    unsigned char index[8];
    for (unsigned long long i = start; i < stop; i++) {
        for (int j = 0; j < 8; j++) index[j] = (unsigned char)(i >> (56 - 8 * j));
        hmac_finish(&key, index, 8, NULL, 0, out + (i - start) * HASH);
    }
    OPENSSL_cleanse(&key, sizeof key);
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&secret);
    PyBuffer_Release(&prefix);
    return result;
}

static PyMethodDef methods[] = {
    {"hash_records", hash_records, METH_VARARGS, hash_records_doc},
    {"commitments", commitments, METH_VARARGS, commitments_doc},
    {"pad_commitments", pad_commitments, METH_VARARGS, pad_commitments_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "por._fasthash",
    "Bulk SHA-256 and HMAC-SHA256 loops of the builder, on OpenSSL's libcrypto.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__fasthash(void) { return PyModule_Create(&module); }
