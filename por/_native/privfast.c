/* por._privfast: a private round's subtree (spec §16.3-§16.4, §16.10), outside the interpreter.
 *
 * Optional accelerator of por/liabilities/private.py: build_subtree() makes exactly the
 * records of the pure-Python subtree builder there (_subtree_records), and
 * tests/private/test_private_builder.py checks the two byte for byte on random inputs. The
 * verifier never uses it, and nothing here is a specification: every tag and prefix comes
 * from the caller (verifier/private/scheme.py owns them).
 *
 * Per subtree, in one call with the GIL released: the blindings split top-down (HMAC-SHA256
 * with OpenSSL's SHA-256, the key schedule done once per call, as in fasthash.c; the
 * reduction mod n and the right child's n - left are 256-bit integer subtractions), the
 * leaves' committed values (⌈a / 10^e⌉ in 128-bit integers), the leaves' Pedersen
 * commitments, the parents' commitments as point sums, the node hashes and the records.
 *
 * No curve arithmetic is written here. The group operations are libsecp256k1-zkp's, the copy
 * that wallycore's extension module exports, called through function pointers that
 * por/liabilities/private.py takes with ctypes (after checking that every symbol exists)
 * and hands to init() once per process, with wallycore's context:
 *   secp256k1_generator_parse, secp256k1_generator_serialize, secp256k1_pedersen_commit,
 *   secp256k1_pedersen_commitment_serialize, secp256k1_ec_pubkey_parse,
 *   secp256k1_ec_pubkey_combine, secp256k1_ec_pubkey_serialize.
 * A leaf's commitment is secp256k1_pedersen_commit (what wally_asset_value_commitment calls,
 * with the generator parsed once per call instead of once per commitment); its point (x, y)
 * comes from parsing its bytes as a generator (0x08/0x09 + 2), and a sum's 0x08/0x09 from
 * serializing x || y as a generator: the reading of secp256k1_generator as x || y that
 * verifier/private/_secp256k1_zkp.py checks when the library loads. Points are added with
 * secp256k1_ec_pubkey_combine, as the Python builder does.
 *
 * Any case the Python builder turns into an error (a value above 2^64 - 1, the point at
 * infinity, a blinding sum that does not add up) makes build_subtree() return None: the
 * caller then runs the Python builder on the same subtree, which raises its own error.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_API_COMPAT 0x10101000L
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmac_sha256.h"

#define COMMIT 33
#define SCALAR 32
#define AMOUNT 16
#define OPENING (COMMIT + 8 + SCALAR)
#define MAX_ASSETS 64
#define MAX_HEIGHT 24

typedef struct { unsigned char data[64]; } opaque64;
typedef int (*gen_parse_fn)(const void *, opaque64 *, const unsigned char *);
typedef int (*gen_serialize_fn)(const void *, unsigned char *, const opaque64 *);
typedef int (*commit_fn)(const void *, opaque64 *, const unsigned char *, uint64_t,
                         const opaque64 *);
typedef int (*commit_serialize_fn)(const void *, unsigned char *, const opaque64 *);
typedef int (*pubkey_parse_fn)(const void *, opaque64 *, const unsigned char *, size_t);
typedef int (*pubkey_combine_fn)(const void *, opaque64 *, const opaque64 *const *, size_t);
typedef int (*pubkey_serialize_fn)(const void *, unsigned char *, size_t *, const opaque64 *,
                                   unsigned int);

#define EC_UNCOMPRESSED 2 /* SECP256K1_EC_UNCOMPRESSED */

static struct {
    const void *ctx;
    gen_parse_fn gen_parse;
    gen_serialize_fn gen_serialize;
    commit_fn commit;
    commit_serialize_fn commit_serialize;
    pubkey_parse_fn pubkey_parse;
    pubkey_combine_fn pubkey_combine;
    pubkey_serialize_fn pubkey_serialize;
} lib;

/* --- 256-bit integers mod n (secp256k1's group order), four 64-bit limbs, least first --- */

typedef struct { uint64_t w[4]; } u256;

static const u256 ORDER = {{0xBFD25E8CD0364141ULL, 0xBAAEDCE6AF48A03BULL,
                            0xFFFFFFFFFFFFFFFEULL, 0xFFFFFFFFFFFFFFFFULL}};

static void u256_load(u256 *r, const unsigned char *b) {
    for (int i = 0; i < 4; i++) {
        uint64_t x = 0;
        for (int j = 0; j < 8; j++) x = (x << 8) | b[(3 - i) * 8 + j];
        r->w[i] = x;
    }
}

static void u256_store(unsigned char *b, const u256 *a) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) b[(3 - i) * 8 + j] = (unsigned char)(a->w[i] >> (56 - 8 * j));
}

static int u256_geq(const u256 *a, const u256 *b) {
    for (int i = 3; i >= 0; i--) {
        if (a->w[i] != b->w[i]) return a->w[i] > b->w[i];
    }
    return 1;
}

/* r = a - b, returning the borrow. */
static uint64_t u256_sub(u256 *r, const u256 *a, const u256 *b) {
    unsigned __int128 borrow = 0;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 d = (unsigned __int128)a->w[i] - b->w[i] - borrow;
        r->w[i] = (uint64_t)d;
        borrow = (d >> 64) & 1;
    }
    return (uint64_t)borrow;
}

/* r = a + b, returning the carry. */
static uint64_t u256_add(u256 *r, const u256 *a, const u256 *b) {
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 s = (unsigned __int128)a->w[i] + b->w[i] + carry;
        r->w[i] = (uint64_t)s;
        carry = s >> 64;
    }
    return (uint64_t)carry;
}

/* A 256-bit digest mod n: below 2^256 < 2n, so at most one subtraction. */
static void reduce(u256 *a) {
    if (u256_geq(a, &ORDER)) u256_sub(a, a, &ORDER);
}

/* (a - b) mod n for a, b < n. */
static void sub_mod(u256 *r, const u256 *a, const u256 *b) {
    if (u256_sub(r, a, b)) u256_add(r, r, &ORDER);
}

/* (a + b) mod n for a, b < n. */
static void add_mod(u256 *r, const u256 *a, const u256 *b) {
    if (u256_add(r, a, b) || u256_geq(r, &ORDER)) u256_sub(r, r, &ORDER);
}

/* --- One subtree --- */

typedef struct {
    /* inputs */
    const unsigned char *leaves; /* 2^height records: user commitment ‖ k × u128 */
    const unsigned char *leaf_tag, *node_tag;
    Py_ssize_t tag_len;
    int k, height;
    uint64_t index;
    const unsigned char *exponents;
    const hmac_keyed *split; /* keyed with K, prefix TAG_SPLIT ‖ str(round) */
    /* work */
    opaque64 gens[MAX_ASSETS];
    u256 *blind[MAX_HEIGHT + 1]; /* per level, (nodes × k) */
    uint64_t *values;            /* one level's, nodes × k (rewritten in place upward) */
    opaque64 *points;            /* one level's, nodes × k */
    unsigned char *out;          /* every level's records, level 0 first */
} subtree;

static const unsigned __int128 *pow10_table(void) {
    static unsigned __int128 p[39];
    static int ready = 0;
    if (!ready) {
        p[0] = 1;
        for (int i = 1; i < 39; i++) p[i] = p[i - 1] * 10;
        ready = 1;
    }
    return p;
}

static void put_u64(unsigned char *b, uint64_t v) {
    for (int j = 0; j < 8; j++) b[j] = (unsigned char)(v >> (56 - 8 * j));
}

/* 0 on success, 1 where the Python builder raises (the caller falls back to it). */
static int run(subtree *s) {
    const int k = s->k, h = s->height;
    const size_t rec = HASH + (size_t)OPENING * k, width = HASH + (size_t)AMOUNT * k;
    const unsigned __int128 *pow10 = pow10_table();
    unsigned char msg[2 + 8], digest[HASH];

    /* Blindings top-down (§16.3): the left child's from the HMAC, the right one the rest. */
    for (int level = h - 1; level >= 0; level--) {
        uint64_t base = s->index << (h - level - 1), parents = (uint64_t)1 << (h - level - 1);
        for (uint64_t i = 0; i < parents; i++) {
            for (int j = 0; j < k; j++) {
                u256 left;
                msg[0] = (unsigned char)j;
                msg[1] = (unsigned char)level;
                put_u64(msg + 2, 2 * (base + i));
                hmac_finish(s->split, msg, sizeof msg, NULL, 0, digest);
                u256_load(&left, digest);
                reduce(&left);
                s->blind[level][(2 * i) * k + j] = left;
                sub_mod(&s->blind[level][(2 * i + 1) * k + j], &s->blind[level + 1][i * k + j],
                        &left);
            }
        }
    }
    OPENSSL_cleanse(digest, sizeof digest);

    /* Leaves (§16.3, §16.4). */
    uint64_t count = (uint64_t)1 << h;
    unsigned char *out = s->out;
    unsigned char ser[65], commits[MAX_ASSETS * COMMIT];
    for (uint64_t i = 0; i < count; i++, out += rec) {
        const unsigned char *leaf = s->leaves + i * width;
        for (int j = 0; j < k; j++) {
            unsigned __int128 a = 0, p = pow10[s->exponents[j]], q;
            for (int b = 0; b < AMOUNT; b++) a = (a << 8) | leaf[HASH + AMOUNT * j + b];
            q = a / p;
            if (q * p != a) q++;
            if (q > UINT64_MAX) return 1;
            uint64_t v = (uint64_t)q;
            unsigned char blind[SCALAR];
            opaque64 c;
            u256_store(blind, &s->blind[0][i * k + j]);
            int ok = lib.commit(lib.ctx, &c, blind, v, &s->gens[j]);
            OPENSSL_cleanse(blind, sizeof blind);
            if (!ok || !lib.commit_serialize(lib.ctx, commits + COMMIT * j, &c)) return 1;
            /* The point: the commitment's bytes read as a generator's (0x0a/0x0b ‖ x). */
            ser[0] = (unsigned char)(commits[COMMIT * j] + 2);
            memcpy(ser + 1, commits + COMMIT * j + 1, 32);
            opaque64 g;
            if (!lib.gen_parse(lib.ctx, &g, ser)) return 1;
            ser[0] = 4;
            memcpy(ser + 1, g.data, 64);
            if (!lib.pubkey_parse(lib.ctx, &s->points[i * k + j], ser, 65)) return 1;
            s->values[i * k + j] = v;
        }
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, s->leaf_tag, (size_t)s->tag_len);
        SHA256_Update(&c, leaf, width);
        SHA256_Update(&c, commits, (size_t)COMMIT * k);
        SHA256_Final(out, &c);
        for (int j = 0; j < k; j++) {
            unsigned char *o = out + HASH + (size_t)OPENING * j;
            memcpy(o, commits + COMMIT * j, COMMIT);
            put_u64(o + COMMIT, s->values[i * k + j]);
            u256_store(o + COMMIT + 8, &s->blind[0][i * k + j]);
        }
    }

    /* Parents: sums of values and blindings, commitments as point sums, hashes (§16.4). */
    const unsigned char *below = s->out;
    for (int level = 1; level <= h; level++) {
        uint64_t nodes = count >> level;
        for (uint64_t i = 0; i < nodes; i++, out += rec) {
            const unsigned char *l = below + (2 * i) * rec, *r = below + (2 * i + 1) * rec;
            SHA256_CTX c;
            SHA256_Init(&c);
            SHA256_Update(&c, s->node_tag, (size_t)s->tag_len);
            SHA256_Update(&c, l, HASH);
            for (int j = 0; j < k; j++) SHA256_Update(&c, l + HASH + (size_t)OPENING * j, COMMIT);
            SHA256_Update(&c, r, HASH);
            for (int j = 0; j < k; j++) SHA256_Update(&c, r + HASH + (size_t)OPENING * j, COMMIT);
            SHA256_Final(out, &c);
            for (int j = 0; j < k; j++) {
                const opaque64 *pair[2] = {&s->points[(2 * i) * k + j],
                                           &s->points[(2 * i + 1) * k + j]};
                opaque64 sum;
                size_t len = 65;
                if (!lib.pubkey_combine(lib.ctx, &sum, pair, 2)
                        || !lib.pubkey_serialize(lib.ctx, ser, &len, &sum, EC_UNCOMPRESSED)
                        || len != 65)
                    return 1;
                opaque64 g;
                unsigned char gser[COMMIT];
                memcpy(g.data, ser + 1, 64);
                if (!lib.gen_serialize(lib.ctx, gser, &g)) return 1;
                uint64_t lv = s->values[(2 * i) * k + j], rv = s->values[(2 * i + 1) * k + j];
                if (lv > UINT64_MAX - rv) return 1;
                u256 sum_blind;
                add_mod(&sum_blind, &s->blind[level - 1][(2 * i) * k + j],
                        &s->blind[level - 1][(2 * i + 1) * k + j]);
                const u256 *want = &s->blind[level][i * k + j];
                if (memcmp(sum_blind.w, want->w, sizeof sum_blind.w) != 0) return 1;
                unsigned char *o = out + HASH + (size_t)OPENING * j;
                o[0] = (unsigned char)(gser[0] - 2);
                memcpy(o + 1, gser + 1, 32);
                put_u64(o + COMMIT, lv + rv);
                u256_store(o + COMMIT + 8, want);
                /* In place: node i of this level overwrites entry i, already consumed. */
                s->values[i * k + j] = lv + rv;
                s->points[i * k + j] = sum;
            }
        }
        below += (count >> (level - 1)) * rec;
    }
    return 0;
}

PyDoc_STRVAR(build_subtree_doc,
"build_subtree(secret, split_prefix, leaf_tag, node_tag, generators, exponents, index, height,\n"
"              leaves, root_blindings, /) -> tuple[bytes, bytes] | None\n\n"
"The records of the subtree of 2^height leaves whose root is node (height, index), every\n"
"level's, level 0 first, and its root's points (k x 64 bytes, the secp256k1_pubkey\n"
"structures after the sums, for the levels above). None where the Python builder raises.");

static PyObject *build_subtree(PyObject *self, PyObject *args) {
    Py_buffer secret, prefix, leaf_tag, node_tag, gens, exps, leaves, roots;
    unsigned long long index;
    int height;
    (void)self;
    if (!lib.ctx) {
        PyErr_SetString(PyExc_RuntimeError, "por._privfast: init() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*Kiy*y*", &secret, &prefix, &leaf_tag, &node_tag,
                          &gens, &exps, &index, &height, &leaves, &roots))
        return NULL;
    PyObject *result = NULL;
    subtree s;
    memset(&s, 0, sizeof s);
    int k = (int)exps.len;
    if (k < 1 || k > MAX_ASSETS || gens.len != (Py_ssize_t)COMMIT * k
            || roots.len != (Py_ssize_t)SCALAR * k || height < 0 || height > MAX_HEIGHT
            || leaf_tag.len != node_tag.len || index >= ((uint64_t)1 << (63 - height))
            || leaves.len != ((Py_ssize_t)1 << height) * (HASH + (Py_ssize_t)AMOUNT * k)) {
        PyErr_SetString(PyExc_ValueError, "build_subtree: inconsistent arguments");
        goto done;
    }
    for (int j = 0; j < k; j++) {
        if (((const unsigned char *)exps.buf)[j] > 38) {
            PyErr_SetString(PyExc_ValueError, "build_subtree: a unit exponent above 38");
            goto done;
        }
    }
    for (int j = 0; j < k; j++) {
        if (!lib.gen_parse(lib.ctx, &s.gens[j], (const unsigned char *)gens.buf + COMMIT * j)) {
            PyErr_SetString(PyExc_ValueError, "build_subtree: a generator does not parse");
            goto done;
        }
    }
    size_t count = (size_t)1 << height, rec = HASH + (size_t)OPENING * k;
    PyObject *records = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((2 * count - 1) * rec));
    PyObject *points = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)64 * k);
    int failed = records == NULL || points == NULL;
    hmac_keyed split;
    for (int level = 0; level <= height && !failed; level++) {
        s.blind[level] = malloc(sizeof(u256) * (count >> level) * (size_t)k);
        failed = s.blind[level] == NULL;
    }
    s.values = failed ? NULL : malloc(sizeof(uint64_t) * count * (size_t)k);
    s.points = failed ? NULL : malloc(sizeof(opaque64) * count * (size_t)k);
    if (failed || !s.values || !s.points) {
        Py_XDECREF(records);
        Py_XDECREF(points);
        PyErr_NoMemory();
        goto freeing;
    }
    for (int j = 0; j < k; j++) {
        u256_load(&s.blind[height][j], (const unsigned char *)roots.buf + SCALAR * j);
        if (u256_geq(&s.blind[height][j], &ORDER)) {
            Py_DECREF(records);
            Py_DECREF(points);
            PyErr_SetString(PyExc_ValueError, "build_subtree: a blinding not below n");
            goto freeing;
        }
    }
    hmac_setup(&split, secret.buf, secret.len, prefix.buf, prefix.len);
    s.leaves = leaves.buf;
    s.leaf_tag = leaf_tag.buf;
    s.node_tag = node_tag.buf;
    s.tag_len = leaf_tag.len;
    s.k = k;
    s.height = height;
    s.index = index;
    s.exponents = exps.buf;
    s.split = &split;
    s.out = (unsigned char *)PyBytes_AS_STRING(records);
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = run(&s);
    Py_END_ALLOW_THREADS
    OPENSSL_cleanse(&split, sizeof split);
    if (status) {
        Py_DECREF(records);
        Py_DECREF(points);
        result = Py_NewRef(Py_None);
    } else {
        for (int j = 0; j < k; j++) {
            unsigned char ser[65];
            size_t len = 65;
            lib.pubkey_serialize(lib.ctx, ser, &len, &s.points[j], EC_UNCOMPRESSED);
            memcpy(PyBytes_AS_STRING(points) + 64 * j, ser + 1, 64);
        }
        result = Py_BuildValue("(NN)", records, points);
    }
freeing:
    for (int level = 0; level <= height && level <= MAX_HEIGHT; level++) {
        if (s.blind[level]) {
            OPENSSL_cleanse(s.blind[level], sizeof(u256) * (count >> level) * (size_t)k);
            free(s.blind[level]);
        }
    }
    free(s.values);
    free(s.points);
done:
    PyBuffer_Release(&secret);
    PyBuffer_Release(&prefix);
    PyBuffer_Release(&leaf_tag);
    PyBuffer_Release(&node_tag);
    PyBuffer_Release(&gens);
    PyBuffer_Release(&exps);
    PyBuffer_Release(&leaves);
    PyBuffer_Release(&roots);
    return result;
}

PyDoc_STRVAR(init_doc,
"init(context, generator_parse, generator_serialize, pedersen_commit,\n"
"     pedersen_commitment_serialize, ec_pubkey_parse, ec_pubkey_combine, ec_pubkey_serialize,\n"
"     /) -> None\n\n"
"The library's secp256k1 context and the addresses of its functions (wallycore's loaded\n"
"extension; the caller checked that each symbol exists). Once per process.");

static PyObject *init(PyObject *self, PyObject *args) {
    unsigned long long a[8];
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKKKKKK", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &a[6],
                          &a[7]))
        return NULL;
    for (int i = 0; i < 8; i++) {
        if (!a[i]) {
            PyErr_SetString(PyExc_ValueError, "init: a NULL address");
            return NULL;
        }
    }
    lib.ctx = (const void *)(uintptr_t)a[0];
    lib.gen_parse = (gen_parse_fn)(uintptr_t)a[1];
    lib.gen_serialize = (gen_serialize_fn)(uintptr_t)a[2];
    lib.commit = (commit_fn)(uintptr_t)a[3];
    lib.commit_serialize = (commit_serialize_fn)(uintptr_t)a[4];
    lib.pubkey_parse = (pubkey_parse_fn)(uintptr_t)a[5];
    lib.pubkey_combine = (pubkey_combine_fn)(uintptr_t)a[6];
    lib.pubkey_serialize = (pubkey_serialize_fn)(uintptr_t)a[7];
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"init", init, METH_VARARGS, init_doc},
    {"build_subtree", build_subtree, METH_VARARGS, build_subtree_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "por._privfast",
    "A private round's subtree in one call: blindings, commitments, point sums, hashes.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__privfast(void) {
    pow10_table();
    return PyModule_Create(&module);
}
