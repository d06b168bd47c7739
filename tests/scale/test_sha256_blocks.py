"""The whole-block SHA-256 loops of por._fasthash (por/_native/sha256_blocks.h, issue 16)
against hashlib and hmac, and the import check that refuses a module whose loops differ.

The fast loops build each message's padding themselves, so the lengths that matter are
those around SHA-256's padding boundaries: a message of 55 bytes pads into one block, 56
into two; 119 and 120 likewise into two and three. Every function here is compared with
hashlib over lengths on both sides of them, every asset count from 1 to 16 (spot and
margin records), ids of 0..400 bytes (an id makes the salt's preimage any length), keys
shorter and longer than a block, and prefixes that fill one. The standard-API loops kept
for bench/bench_floor.py (floor_*) are compared too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from por.liabilities import buckets
from verifier.liabilities import mst

native = buckets.native
pytestmark = pytest.mark.skipif(native is None, reason="por._fasthash not built")

BOUNDARIES = (0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 183, 184)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def offsets(ids: list[bytes]) -> bytes:
    return np.concatenate(([0], np.cumsum([len(i) for i in ids]))).astype(np.int64).tobytes()


# ------------------------------------------------------------------- the import check

PAT = bytes((167 * i + 13) & 0xFF for i in range(65536))
SW_PREFIX = (0, 16, 55, 56, 63, 64, 65, 119, 120, 128)
SW_TAG = (0, 16, 70)
SW_KEY = (0, 64, 65, 130)
SW_PAIRS = ((0, 0), (63, 64), (82, 30), (64, 63))
SW_ID = (0, 1, 20, 45, 46, 55, 56, 63, 64, 110, 128)
SW_PAD_KEY = (0, 32, 64, 65, 130)
SW_PAD_PREFIX = (0, 16, 29, 47, 48, 55, 56, 63, 64, 82, 120)
LOOPS = ("hash_records", "leaf_records", "parent_records", "commitments", "pad_commitments")


def sweep_answers() -> dict[str, bytes]:
    """The import check's sweeps (fasthash.c, self_test) computed with hashlib and hmac:
    the SHA-256 of each sweep's outputs, which the C code holds as fixed answers."""
    acc = {name: hashlib.sha256() for name in LOOPS}
    for p in SW_PREFIX:
        for w in range(1, 151):
            src = PAT[1000 + w:1000 + 3 * w]
            acc["hash_records"].update(sha(PAT[:p] + src[:w]) + sha(PAT[:p] + src[w:]))
    for t in SW_TAG:
        tag = PAT[:t]
        for w in range(131):
            cs, ss = PAT[2000:2064], PAT[3000 + w:3000 + 3 * w]
            for i in range(2):
                sums = ss[w * i:w * i + w]
                acc["leaf_records"].update(sha(tag + cs[32 * i:32 * i + 32] + sums) + sums)
        for j in range(25):
            w = 32 + 16 * j
            kids = bytearray(PAT[4000:4000 + 4 * w])
            for r in range(4):
                for s in range(j):
                    kids[r * w + 32 + 16 * s] = 0  # no sum overflows
            for i in range(2):
                left, right = bytes(kids[2 * i * w:(2 * i + 1) * w]), bytes(
                    kids[(2 * i + 1) * w:(2 * i + 2) * w])
                sums = b"".join(
                    (int.from_bytes(left[32 + 16 * s:48 + 16 * s], "big")
                     + int.from_bytes(right[32 + 16 * s:48 + 16 * s], "big")).to_bytes(16, "big")
                    for s in range(j))
                acc["parent_records"].update(sha(tag + left + right) + sums)
    configs = [(32, 29, 29, list(range(301)))]
    configs += [(key, sp, up, list(SW_ID)) for key in SW_KEY for sp, up in SW_PAIRS]
    for key, sp, up, lengths in configs:
        secret, salt_prefix = PAT[5000:5000 + key], PAT[100:100 + sp]
        user_prefix = PAT[200:200 + up]
        at = 20000
        for n in lengths:
            enc = n.to_bytes(2, "big") + PAT[at:at + n]
            at += n
            salt = hmac.digest(secret, salt_prefix + enc, "sha256")
            acc["commitments"].update(sha(user_prefix + enc + salt))
    for key in SW_PAD_KEY:
        for b, p in enumerate(SW_PAD_PREFIX):
            start = 2**64 - 3 if b == len(SW_PAD_PREFIX) - 1 else 1000 * p + key
            for i in (start, start + 1):
                acc["pad_commitments"].update(hmac.digest(
                    PAT[5000:5000 + key], PAT[300:300 + p] + i.to_bytes(8, "big"), "sha256"))
    return {name: h.digest() for name, h in acc.items()}


def test_import_check_passes_and_its_fixed_answers_are_hashlibs() -> None:
    failed, answers = native._self_test()
    assert failed is None
    assert answers == sweep_answers()


@pytest.mark.parametrize("fault", range(len(LOOPS)))
def test_import_check_catches_a_wrong_byte_in_each_loop(fault: int) -> None:
    # One flipped bit in the first output of one loop's sweep: the check names that loop.
    failed, answers = native._self_test(fault)
    assert failed == LOOPS[fault]
    assert answers[LOOPS[fault]] != sweep_answers()[LOOPS[fault]]


_SHIM = r"""
#define OPENSSL_API_COMPAT 0x10101000L
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/sha.h>
/* A miscompiled or mislinked libcrypto, as the extension sees it: SHA256_Update gives a
 * wrong state after a call over two or more whole blocks. */
int SHA256_Update(SHA256_CTX *c, const void *data, size_t len) {
    typedef int (*update_fn)(SHA256_CTX *, const void *, size_t);
    static update_fn real;
    if (!real) real = (update_fn)dlsym(RTLD_NEXT, "SHA256_Update");
    if (!real) real = (update_fn)dlsym(dlopen("libcrypto.so.3", RTLD_NOW), "SHA256_Update");
    int ok = real(c, data, len);
    if (len >= 128 && len % 64 == 0) c->h[0] ^= 1;
    return ok;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler")
def test_a_wrong_compression_refuses_the_import_and_the_build_takes_python(
        tmp_path: Path) -> None:
    # A real libcrypto with one function interposed (LD_PRELOAD), in a fresh interpreter:
    # the import check fails, por._fasthash is not loaded, and the builder's hashing is
    # its pure-Python twin (the verifier's bytes).
    shim = tmp_path / "shim.so"
    (tmp_path / "shim.c").write_text(_SHIM)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", str(tmp_path / "shim.c"), "-o", str(shim),
                    "-ldl", "-lcrypto"], check=True, capture_output=True)
    probe = textwrap.dedent("""
        import importlib
        try:
            importlib.import_module("por._fasthash")
        except ImportError as e:
            print("refused:", e)
        from por.liabilities import buckets
        from verifier.liabilities import mst
        print("native:", buckets.native)
        sums = bytes(range(64))
        print("leaf ok:", buckets.hash_records(mst.TAG_LEAF, bytes(32) + sums, 96)
              == mst.leaf_hash(bytes(32), sums))
    """)
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "refused: por._fasthash: hash_records gives other bytes" in res.stdout
    assert "native: None" in res.stdout
    assert "leaf ok: True" in res.stdout
    clean = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=120, check=True)
    assert "refused" not in clean.stdout and "native: None" not in clean.stdout


# ------------------------------------------------------------ every loop against hashlib


@settings(max_examples=300, deadline=None)
@given(prefix=st.binary(max_size=300), width=st.integers(1, 300), count=st.integers(0, 4),
       seed=st.integers(0, 255))
@example(prefix=b"p" * 16, width=39, count=3, seed=1)  # 55: one block
@example(prefix=b"p" * 16, width=40, count=3, seed=1)  # 56: two blocks
@example(prefix=b"p" * 64, width=55, count=2, seed=2)  # a prefix of one whole block
@example(prefix=b"p" * 100, width=20, count=2, seed=3)  # 120: three blocks
@example(prefix=b"", width=64, count=2, seed=4)
def test_hash_records_are_hashlibs(prefix: bytes, width: int, count: int, seed: int) -> None:
    data = bytes((seed + 7 * i) & 0xFF for i in range(width * count))
    want = b"".join(sha(prefix + data[i * width:(i + 1) * width]) for i in range(count))
    assert native.hash_records(prefix, data, width) == want
    assert native.floor_hash_records(prefix, data, width) == want


def test_hash_records_at_every_message_length_up_to_300() -> None:
    for prefix in (b"", mst.TAG_LEAF, b"t" * 64, b"t" * 70):
        for length in range(len(prefix) + 1, 301):
            width = length - len(prefix)
            data = bytes((length + i) & 0xFF for i in range(2 * width))
            want = sha(prefix + data[:width]) + sha(prefix + data[width:])
            assert native.hash_records(prefix, data, width) == want, (len(prefix), width)


@settings(max_examples=150, deadline=None)
@given(k=st.integers(1, 16), margin=st.booleans(), count=st.integers(0, 5),
       tag=st.sampled_from([mst.TAG_LEAF, mst.TAG_MARGIN_LEAF, b"", b"x" * 64, b"y" * 57]),
       seed=st.integers(0, 2**32))
def test_leaf_records_are_hashlibs(k: int, margin: bool, count: int, tag: bytes,
                                   seed: int) -> None:
    width = (48 if margin else 16) * k
    rng = np.random.default_rng(seed)
    comm = rng.integers(0, 256, 32 * count, np.uint8).tobytes()
    sums = rng.integers(0, 256, width * count, np.uint8).tobytes()
    want = b"".join(sha(tag + comm[32 * i:32 * i + 32] + sums[width * i:width * (i + 1)])
                    + sums[width * i:width * (i + 1)] for i in range(count))
    assert native.leaf_records(tag, comm, sums, width) == want


@settings(max_examples=150, deadline=None)
@given(k=st.integers(1, 16), margin=st.booleans(), pairs=st.integers(0, 4),
       seed=st.integers(0, 2**32))
def test_parent_records_are_hashlibs_and_the_verifiers(k: int, margin: bool, pairs: int,
                                                       seed: int) -> None:
    slots = (3 if margin else 1) * k
    width = 32 + 16 * slots
    rng = np.random.default_rng(seed)
    kids = rng.integers(0, 256, (2 * pairs, width), np.uint8)
    kids[:, 32::16] &= 0x7F  # the top bit of every u128 clear: no sum overflows
    tag = mst.TAG_MARGIN_NODE if margin else mst.TAG_NODE
    want = b""
    for i in range(pairs):
        left, right = kids[2 * i].tobytes(), kids[2 * i + 1].tobytes()
        sums = b"".join((int.from_bytes(left[a:a + 16], "big")
                         + int.from_bytes(right[a:a + 16], "big")).to_bytes(16, "big")
                        for a in range(32, width, 16))
        node = (mst.margin_node_hash if margin else mst.node_hash)(
            left[:32], left[32:], right[:32], right[32:])
        assert node == sha(tag + left + right)
        want += node + sums
    assert native.parent_records(tag, kids.tobytes(), width) == want


def test_parent_records_still_refuse_an_overflowing_sum() -> None:
    kids = bytearray(2 * 48)
    kids[32:48] = b"\xff" * 16
    kids[48 + 47] = 1
    assert native.parent_records(mst.TAG_NODE, bytes(kids), 48) is None


def _commitments_want(secret: bytes, salt_prefix: bytes, user_prefix: bytes,
                      ids: list[bytes]) -> bytes:
    out = b""
    for raw in ids:
        enc = len(raw).to_bytes(2, "big") + raw
        out += sha(user_prefix + enc + hmac.digest(secret, salt_prefix + enc, "sha256"))
    return out


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(max_size=130), salt_prefix=st.binary(max_size=150),
       user_prefix=st.binary(max_size=150),
       ids=st.lists(st.binary(max_size=400), max_size=12))
@example(secret=bytes(32), salt_prefix=mst.TAG_SALT + b"\x00\x05round",
         user_prefix=mst.TAG_USER + b"\x00\x05round",
         ids=[bytes(n) for n in (0, 30, 31, 32, 33, 94, 95, 96, 97, 400)])
def test_commitments_are_hashlibs(secret: bytes, salt_prefix: bytes, user_prefix: bytes,
                                  ids: list[bytes]) -> None:
    args = (secret, salt_prefix, user_prefix, b"".join(ids), offsets(ids))
    want = _commitments_want(secret, salt_prefix, user_prefix, ids)
    assert native.commitments(*args) == want
    assert native.floor_commitments(*args) == want


def test_commitments_for_ids_of_every_length_up_to_400() -> None:
    # With the bench's round id the salt's inner preimage is 64 + 29 + 2 + len bytes and the
    # commitment's 29 + 2 + len + 32: every padding boundary of both is crossed.
    rid = mst.encode_str(b"bench-round")
    ids = [bytes((n + i) & 0xFF for i in range(n)) for n in range(401)]
    for secret in (bytes(range(32)), b"", bytes(65)):
        args = (secret, mst.TAG_SALT + rid, mst.TAG_USER + rid, b"".join(ids), offsets(ids))
        assert native.commitments(*args) == _commitments_want(
            secret, mst.TAG_SALT + rid, mst.TAG_USER + rid, ids)


@settings(max_examples=150, deadline=None)
@given(secret=st.binary(max_size=130), prefix=st.binary(max_size=150),
       start=st.one_of(st.integers(0, 2**64 - 1), st.integers(2**64 - 40, 2**64 - 1)),
       count=st.integers(0, 40))
def test_padding_commitments_are_hmacs(secret: bytes, prefix: bytes, start: int,
                                       count: int) -> None:
    stop = min(start + count, 2**64 - 1)
    want = b"".join(hmac.digest(secret, prefix + i.to_bytes(8, "big"), "sha256")
                    for i in range(start, stop))
    assert native.pad_commitments(secret, prefix, start, stop) == want
    assert native.floor_pad_commitments(secret, prefix, start, stop) == want


def test_padding_prefixes_of_every_length_up_to_130() -> None:
    for length in range(131):
        prefix = bytes((3 * i + length) & 0xFF for i in range(length))
        want = b"".join(hmac.digest(b"k" * 32, prefix + i.to_bytes(8, "big"), "sha256")
                        for i in range(5, 8))
        assert native.pad_commitments(b"k" * 32, prefix, 5, 8) == want, length


def test_floor_loops_refuse_what_the_fast_ones_refuse() -> None:
    with pytest.raises(ValueError, match="floor_hash_records: data of 15 bytes"):
        native.floor_hash_records(b"", b"x" * 15, 10)
    with pytest.raises(ValueError, match="id 0 spans"):
        native.floor_commitments(b"", b"", b"", b"abc", np.array([0, 4], np.int64).tobytes())
    with pytest.raises(ValueError, match="bad range"):
        native.floor_pad_commitments(b"", b"", 5, 4)


def test_the_floors_compression_count_is_the_builds_messages_block_by_block(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # bench_floor.py's stricter yardstick counts the build's 64-byte compressions; here
    # every message of a small build is laid out and its padded length counted instead.
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "bench"))
    import bench_floor

    ids = [b"", b"a" * 7, b"b" * 30, b"c" * 31, b"d" * 128, b"e" * 300]
    leaves, assets, round_id = 8, 3, "bench-round"
    rid = mst.encode_str(round_id.encode())

    def blocks(message: bytes) -> int:
        return -(-(len(message) + 9) // 64)

    key = b"k" * 64  # the HMAC key block, absorbed once per call: not counted
    want = 0
    for raw in ids:
        enc = len(raw).to_bytes(2, "big") + raw
        want += blocks(key + mst.TAG_SALT + rid + enc) - 1 + blocks(key + bytes(32)) - 1
        want += blocks(mst.TAG_USER + rid + enc + bytes(32))
    for i in range(leaves - len(ids)):
        want += blocks(key + mst.TAG_PAD + rid + i.to_bytes(8, "big")) - 1 + 1
    record = bytes(32 + 16 * assets)
    want += leaves * blocks(mst.TAG_LEAF + record)
    want += (leaves - 1) * blocks(mst.TAG_NODE + record + record)
    lengths = np.array([len(i) for i in ids], np.int64)
    assert bench_floor.compressions(lengths, leaves, assets, round_id) == want
