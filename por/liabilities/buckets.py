"""The bounded-memory stages of a build: commitment buckets, merged users, padding, subtrees.

Leaves are ordered by commitment (spec §5). A commitment's leading ``bits`` bits name its
bucket, so the buckets, each sorted within, concatenate into the global leaf order: no
stage ever holds more than one bucket (or one chunk of a subtree) in memory, whatever the
number of users. Every function here that runs as a task takes and returns only bytes,
ints and strings, and reads and writes the work directory through fsspec, so the same task
runs in a local process pool or on a dask.distributed worker against shared storage.

The stages, in order:

1. :func:`commit_users`: the commitments of a batch of user ids (spec §4).
2. :func:`merge_bucket`: one bucket's spilled records sorted by commitment; a user whose
   rows were spread over batches is merged into one leaf, and a (user, asset) seen twice
   is reported (by the rows that hold it, so the caller can name file and line).
3. :func:`pad_range`: padding commitments (spec §5), scattered into the same buckets.
4. :func:`hash_bucket`: one bucket's leaves (users and padding merged) at their positions,
   and every node whose span lies inside those positions, written section by section
   (commitments, level 0, level 1, ...) in increasing position order, into the tree file
   or, on a cluster, as objects on shared storage; no level is read back and no task waits
   for another. Then :func:`fix_up` builds the few nodes that straddle buckets, and the
   levels above, from the records each bucket returned.

Every byte hashed follows :mod:`verifier.liabilities.mst`; the tests compare the result
with the slow reference and with the committed vectors.

A margin round (spec §15) runs the same stages with three amounts per asset (equity, debt,
collateral: ``k`` below counts amount slots, ``3 x assets``, while a record's asset mask
keeps one bit per asset), the margin tags, and in stage 2 the per-user rule (§15.6), checked
where each user's positions first come together: :func:`merge_bucket` reports the
earliest user under water, and the builder names them.

The bulk hashing (commitments, padding, leaves, nodes) goes through one function per kind
(:func:`user_commitments`, :func:`pad_commitments`, :func:`hash_records`): each runs the C
accelerator ``por._fasthash`` (``por/_native/fasthash.c``, OpenSSL's SHA-256 in loops
outside the interpreter) when it was built, and its pure-Python twin here otherwise. The
twins are kept, and tests/scale/test_native.py checks both give the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np

from por.errors import InputError, VerificationError
from verifier.liabilities import mst
from verifier.liabilities.mst import (
    HASH_SIZE,
    MAX_AMOUNT,
    TAG_LEAF,
    TAG_MARGIN_LEAF,
    TAG_MARGIN_NODE,
    TAG_NODE,
    TAG_PAD,
    TAG_SALT,
    TAG_USER,
    decode_positions,
    encode_str,
)
from verifier.liabilities.risk import RiskParams, check_rule

try:
    from por import _fasthash as native
except ImportError:  # installed without a compiler or OpenSSL headers: hashlib below
    native = None  # type: ignore[assignment]

MAX_BUCKET_BITS = 16
CHUNK_LEAVES = 1 << 15  # leaves hashed per step of a bucket
LEVEL_FLUSH = 1 << 12  # records a level above the leaves gathers before it is hashed

_SHA256_BLOCK = 64


def hmac_sha256_keyed(key: bytes, prefix: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) with the key schedule done once: (inner, outer) hash states.

    ``inner`` has absorbed ``key ^ ipad`` and ``prefix``; ``outer`` has absorbed
    ``key ^ opad``. For a message ``m``: ``HMAC(key, prefix + m)`` is
    ``outer.copy()`` updated with ``inner.copy()`` updated with ``m``, digested.
    Why: ``hmac.digest`` sets up the key (two compressions and an OpenSSL context) on
    every call, which was most of the cost of a commitment; copying a hash state is cheap.
    The builder checks the result against ``hmac.digest`` before use.
    """
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def check_native() -> None:
    """Refuse to build if the C accelerator disagrees with :mod:`verifier.liabilities.mst`.

    A known-answer check at the start of every build (microseconds): a miscompiled or
    mislinked extension stops the build instead of writing a wrong tree. It uses the tags
    of :mod:`verifier.liabilities.mst` itself, not this module's names (a test patches those).

    Raises:
        VerificationError: a native result differs from the verifier's hashing.
    """
    if native is None:
        return
    secret, round_id, user = bytes(range(32)), "check", "user-é"
    rid = encode_str(round_id.encode())
    raw = user.encode()
    salt = mst.derive_salt(secret, round_id, user)
    sums = bytes(range(48))
    record = mst.leaf_hash(b"\x01" * HASH_SIZE, sums) + sums
    checks: list[tuple[object, object]] = [
        (native.commitments(secret, mst.TAG_SALT + rid, mst.TAG_USER + rid, raw,
                            np.array([0, len(raw)], np.int64).tobytes()),
         mst.user_commitment(round_id, user, salt)),
        (native.pad_commitments(secret, mst.TAG_PAD + rid, 7, 8),
         mst.padding_commitment(secret, round_id, 7)),
        (native.hash_records(mst.TAG_LEAF, b"\x01" * HASH_SIZE + sums, HASH_SIZE + len(sums)),
         record[:HASH_SIZE]),
        (native.hash_records(mst.TAG_NODE, record + record[::-1], 2 * len(record)),
         mst.node_hash(record[:HASH_SIZE], record[HASH_SIZE:], record[::-1][:HASH_SIZE],
                       record[::-1][HASH_SIZE:])),
    ]
    margin_sums = bytes(range(96))
    margin_record = mst.margin_leaf_hash(b"\x02" * HASH_SIZE, margin_sums) + margin_sums
    checks += [
        (native.hash_records(mst.TAG_MARGIN_LEAF, b"\x02" * HASH_SIZE + margin_sums,
                             HASH_SIZE + len(margin_sums)), margin_record[:HASH_SIZE]),
        (native.hash_records(mst.TAG_MARGIN_NODE, margin_record * 2, 2 * len(margin_record)),
         mst.margin_node_hash(margin_record[:HASH_SIZE], margin_sums, margin_record[:HASH_SIZE],
                              margin_sums)),
    ]
    if hasattr(native, "leaf_records"):  # a leaf's hash and record in one pass
        checks.append((native.leaf_records(mst.TAG_LEAF, b"\x01" * HASH_SIZE, sums, len(sums)),
                       record))
        checks.append((native.leaf_records(mst.TAG_MARGIN_LEAF, b"\x02" * HASH_SIZE,
                                           margin_sums, len(margin_sums)), margin_record))
    if hasattr(native, "parent_records"):  # sums and hash of a node in one pass
        left, right = sums, sums[::-1]
        node_sums = mst.encode_amounts(mst.add_sums(mst.decode_amounts(left),
                                                    mst.decode_amounts(right), "check"))
        checks.append((native.parent_records(mst.TAG_NODE, record + record[:HASH_SIZE] + right,
                                             len(record)),
                       mst.node_hash(record[:HASH_SIZE], left, record[:HASH_SIZE], right)
                       + node_sums))
        m_left = mst.decode_positions(margin_sums)
        checks.append((native.parent_records(mst.TAG_MARGIN_NODE, margin_record * 2,
                                             len(margin_record)),
                       mst.margin_node_hash(margin_record[:HASH_SIZE], margin_sums,
                                            margin_record[:HASH_SIZE], margin_sums)
                       + mst.encode_positions(mst.add_positions(m_left, m_left, "check"))))
    if hasattr(native, "parse_decimals"):  # the snapshot's decimal parser (issue 16)
        text = b"12.5-0.000000001"  # "12.5" and the signed "-0.000000001", 9 decimals each
        parsed = native.parse_decimals(np.array([0, 4, 16], np.int32).data, False, text,
                                       np.zeros(2, np.int16).data,
                                       np.array([9], np.int64).data, True)
        checks.append((parsed, ((12500000000).to_bytes(16, "little")
                                + (1).to_bytes(16, "little"), b"\x00\x01")))
    if hasattr(native, "check_user_ids") and hasattr(native, "user_runs"):  # ids (issue 16)
        bounds = np.array([0, 1, 2, 5, 8, 10, 12], np.int32).data
        checks.append((native.user_runs(bounds, False, b"aab~cb~c d d"),
                       (np.array([0, 2, 4], np.int64).tobytes(),
                        np.array([0, 1, 4, 6], np.int64).tobytes(), b"ab~c d")))
        checks.append(([native.check_user_ids(bounds, False, text, 128)
                        for text in (b"aab~cb~cdddd", b"aab~cb~c\x7fddd", b"aab~cb~c d d")],
                       [True, False, False]))
    if hasattr(native, "merge_leaves"):  # a bucket's runs summed into leaves (issue 16)
        recs = np.zeros(3, spill_dtype(2))
        recs["c"][:, 0] = (7, 7, 9)
        recs["lo"] = ((1, 2**64 - 1), (2, 1), (5, 6))
        recs["hi"] = ((0, 3), (4, 0), (0, 1))
        leaves = np.zeros(2, leaf_dtype(3))
        leaves["c"][:, 0] = (7, 9)
        leaves["s"] = np.frombuffer(b"".join(
            v.to_bytes(16, "big") for v in (4 << 64 | 3, 3 << 64, 4 << 64 | 3,
                                              5, 1 << 64 | 6, 5)), np.uint8).reshape(2, 48)
        checks.append((native.merge_leaves(recs.tobytes(), np.array([0, 2], np.int64).data,
                                           3, 2), leaves.tobytes()))
        if hasattr(native, "merge_runs"):  # the same, read through the sort's order
            checks.append((native.merge_runs(recs[::-1].tobytes(),
                                             np.array([2, 1, 0], np.int64).data,
                                             np.array([0, 2], np.int64).data, 3, 2),
                           leaves.tobytes()))
    if hasattr(native, "ingest_runs"):  # a batch checked, converted, grouped (issue 16)
        # Signed amounts of users u1 and v: (equity, debt) of assets 0 (2 decimals), 1 (1).
        ids = np.array([0, 2, 4, 5, 6], np.int32).data
        values = (np.array([0, 4, 8, 11, 12], np.int32).data, False, b"12.5-0.11.03")
        checks.append((native.ingest_runs(ids, False, b"u1u1vv", 128, np.array(
            [1, 0, 1, 0], np.int16).data, np.array([2, 1], np.int64).data, (values,), True, 5),
            (np.array([0, 2, 3], np.int64).tobytes(), b"u1v", np.array(
                [0, 10, 125, 0, 300, 0, 10, 0], np.uint64).tobytes(), bytes(64),
             np.array([3, 3], np.uint64).tobytes(), np.array([5, 7], np.int64).tobytes(), -1)))
    for got, want in checks:
        if got != want:
            raise VerificationError("the C accelerator por._fasthash disagrees with"
                                    " verifier.liabilities.mst; refusing to build (reinstall,"
                                    " or remove the extension to use the pure-Python path)")


# ------------------------------------------------------------------------ record formats


def spill_dtype(k: int) -> np.dtype:
    """One user's rows of one batch: commitment, u128 amounts as limbs, assets present, row.

    ``mask`` has bit ``j`` set when the batch held a row for asset ``j`` (at most 64 assets,
    spec §3); ``row`` is the user's first row in the file (0-based), to name it in errors.
    """
    return np.dtype([("c", np.uint8, HASH_SIZE), ("lo", np.uint64, k), ("hi", np.uint64, k),
                     ("mask", np.uint64), ("row", np.int64)])


def leaf_dtype(k: int) -> np.dtype:
    """One merged user: commitment and big-endian u128 amounts, the bytes of spec §8.3."""
    return np.dtype([("c", np.uint8, HASH_SIZE), ("s", np.uint8, 16 * k)])


def bucket_of(commitments: np.ndarray, bits: int) -> np.ndarray:
    """The bucket of each commitment (rows of 32 bytes): its leading ``bits`` bits."""
    top = (commitments[:, 0].astype(np.uint32) << 8) | commitments[:, 1]
    return (top >> (16 - bits)).astype(np.int64) if bits else np.zeros(len(top), np.int64)


@dataclass(frozen=True)
class Work:
    """The work directory of one build: a local path or an fsspec URL (shared storage)."""

    url: str

    def fs(self) -> tuple[Any, str]:
        """The filesystem and the root path inside it."""
        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, root.rstrip("/")

    def write(self, name: str, *data: bytes | memoryview) -> None:
        """Write one object from its pieces, in order (files are never appended: object
        stores cannot)."""
        fs, root = self.fs()
        path = f"{root}/{name}"
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "wb") as fh:
            for piece in data:
                fh.write(piece)

    def list(self, folder: str) -> list[str]:
        """Names under ``folder`` (relative to the root), sorted; empty if none."""
        fs, root = self.fs()
        try:
            found = fs.ls(f"{root}/{folder}", detail=False)
        except FileNotFoundError:
            return []
        return sorted(f"{folder}/{p.rstrip('/').rsplit('/', 1)[-1]}" for p in found)

    def read(self, name: str) -> bytes:
        """The bytes of one object."""
        fs, root = self.fs()
        data: bytes = fs.cat_file(f"{root}/{name}")
        return data

    def remove(self, folder: str) -> None:
        """Remove ``folder`` and everything under it, if it exists."""
        fs, root = self.fs()
        if fs.exists(f"{root}/{folder}"):
            fs.rm(f"{root}/{folder}", recursive=True)


def _read_records(work: Work, folder: str, dtype: np.dtype) -> np.ndarray:
    """Every object under ``folder`` (in name order) as one array of ``dtype`` records, read
    straight into it (no joined copy of the parts)."""
    fs, root = work.fs()
    try:
        found = fs.ls(f"{root}/{folder}", detail=True)
    except FileNotFoundError:
        found = []
    found = sorted(found, key=lambda f: str(f["name"]))
    total = sum(int(f["size"]) for f in found)
    if total % dtype.itemsize:
        raise VerificationError(f"{work.url}/{folder}: truncated spill file")
    out = np.empty(total // dtype.itemsize, dtype)
    view = out.view(np.uint8).reshape(-1).data
    pos = 0
    for f in found:
        end = pos + int(f["size"])
        with fs.open(f["name"], "rb") as fh:
            while pos < end:
                got = fh.readinto(view[pos:end])
                if not got:
                    raise VerificationError(f"{work.url}/{folder}: truncated spill file")
                pos += got
    return out


# ------------------------------------------------------------------------ stage 1


def commit_users(offsets: bytes, data: bytes, secret: bytes, round_id: str) -> bytes:
    """Commitments of a batch of user ids (spec §4), 32 bytes each, in the batch's order.

    Args:
        offsets: int64 offsets of each id in ``data`` (one more than there are ids).
        data: the ids' UTF-8 bytes, concatenated (already checked by the ingest).
        secret: the round secret.
        round_id: the round id.

    salt = HMAC(secret, SALT ‖ round ‖ id) and H(USER ‖ round ‖ id ‖ salt): exactly
    :func:`verifier.liabilities.mst.derive_salt` and
    :func:`verifier.liabilities.mst.user_commitment`.
    """
    rid = encode_str(round_id.encode())
    return user_commitments(secret, TAG_SALT + rid, TAG_USER + rid, data, offsets)


def user_commitments(secret: bytes, salt_prefix: bytes, user_prefix: bytes, data: bytes,
                     offsets: bytes) -> bytes:
    """Commitments of the ids ``data[offsets[i]:offsets[i+1]]`` (spec §4), natively if built."""
    if native is not None:
        return native.commitments(secret, salt_prefix, user_prefix, data, offsets)
    return user_commitments_python(secret, salt_prefix, user_prefix, data, offsets)


def user_commitments_python(secret: bytes, salt_prefix: bytes, user_prefix: bytes, data: bytes,
                            offsets: bytes) -> bytes:
    """:func:`user_commitments` with hashlib: the per-call overhead taken out (one loop,
    bound methods in locals, the HMAC key schedule done once)."""
    bounds = np.frombuffer(offsets, np.int64).tolist()
    inner, outer = hmac_sha256_keyed(secret, salt_prefix)
    inner_copy, outer_copy, sha = inner.copy, outer.copy, hashlib.sha256
    out: list[bytes] = []
    append = out.append
    for a, b in itertools.pairwise(bounds):
        raw = data[a:b]
        enc = len(raw).to_bytes(2, "big") + raw  # encode_str (spec §2)
        salt_state = inner_copy()
        salt_state.update(enc)
        mac = outer_copy()
        mac.update(salt_state.digest())
        append(sha(user_prefix + enc + mac.digest()).digest())
    return b"".join(out)


# ------------------------------------------------------------------------ sorting


def sort_commitments(c: np.ndarray) -> np.ndarray:
    """Indexes that sort rows of 32 bytes bytewise (spec §5); equal rows stay adjacent."""
    return sort_commitments_runs(c)[0]


def _prefixes(c: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each row of 32, read big-endian: they order the rows bytewise
    but for rows that share them."""
    return np.ascontiguousarray(c[:, :8]).view(">u8").ravel().astype(np.uint64)


def sort_commitments_runs(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sort_commitments`, and which sorted rows equal the next one (n - 1 flags).

    The first 8 bytes, read big-endian, order all rows but those sharing them; a run that
    shares them but is not all one commitment (about n^2 / 2^65 pairs: almost never) is
    sorted by its full 32 bytes. Runs of one repeated commitment (one user's rows spread
    over batches) need no work: their order does not matter. Only rows sharing a prefix
    with the next are compared in full.
    """
    n = c.shape[0]
    prefix = _prefixes(c)
    # Not stable: equal commitments are one user's records (merged whatever their order)
    # or refused; numpy's quicksort of uint64 (SIMD) is about 4x its stable sort here.
    order = np.argsort(prefix, kind="quicksort")
    equal_next = np.zeros(max(0, n - 1), np.bool_)
    if n < 2:
        return order, equal_next
    sp = prefix[order]
    same = np.flatnonzero(sp[1:] == sp[:-1])
    if not len(same):
        return order, equal_next
    full = (c[order[same]] == c[order[same + 1]]).all(axis=1)
    odd = same[~full]
    done_to = 0
    for i in odd.tolist():
        if i < done_to:
            continue
        start = i
        while start > 0 and sp[start - 1] == sp[i]:
            start -= 1
        stop = i + 2
        while stop < n and sp[stop] == sp[i]:
            stop += 1
        run = order[start:stop].tolist()
        run.sort(key=lambda j: c[j].tobytes())
        order[start:stop] = run
        done_to = stop
    if len(odd):
        full = (c[order[same]] == c[order[same + 1]]).all(axis=1)
    equal_next[same] = full
    return order, equal_next


def _equal_to_next(sorted_c: np.ndarray) -> np.ndarray:
    return (sorted_c[1:] == sorted_c[:-1]).all(axis=1)


def take_rows(recs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``recs[order]`` for a contiguous structured array, moved as rows of bytes.

    Why: numpy gathers a structured array field by field, element by element (0.5 s for
    500,000 spill records here); as opaque items it is one copy per row.
    """
    # As opaque items of itemsize bytes: a copy per row, and a quarter faster than the rows
    # of a (n, itemsize) byte matrix.
    items = recs.view(np.dtype((np.void, recs.dtype.itemsize))).reshape(-1)
    return items[order].view(recs.dtype).reshape(-1)


# ------------------------------------------------------------------------ stage 2


def merge_bucket(work_url: str, bucket: int, k: int, risk: bytes | None = None,
                 spilled: int | None = None
                 ) -> tuple[int, tuple[int, int] | None, tuple[int, bytes] | None]:
    """Merge one bucket's spilled records into one sorted leaf per user.

    Reads ``rows/BUCKET/*``, writes ``users/BUCKET`` (leaf records sorted by commitment)
    and removes the spilled records. ``k`` counts amount slots (assets, or 3 x assets in a
    margin round); ``risk``, a margin round's risk file (canonical bytes): every merged
    user's rule is checked (spec §15.6). ``spilled``: amount slots of the spilled records
    when fewer than ``k`` (a margin snapshot without a collateral column spills equity
    and debt only; collateral = equity is restored here, spec §15.11).

    Returns:
        The number of users in the bucket; ``(row, asset)`` of a duplicate (user, asset)
        if there is one (the user's earliest row in the file), else None; and in a margin
        round ``(row, positions)`` of the user under water whose first row is earliest
        (their encoded positions, to word the refusal), else None.
    """
    work = Work(work_url)
    recs = _read_records(work, f"rows/{bucket:05d}", spill_dtype(spilled or k))
    order, equal_next = sort_commitments_runs(recs["c"])
    n = len(recs)
    dup: tuple[int, int] | None = None
    starts = np.flatnonzero(np.concatenate(([True], ~equal_next))) if n else np.zeros(0, np.int64)
    gathered = native is not None and hasattr(native, "merge_runs")
    if not gathered:
        recs = take_rows(recs, order)  # the reference: the records moved into sorted order
        order = np.arange(n, dtype=np.int64)
    if len(starts) != n:
        # One user's rows came in several batches: at most one record may hold each asset.
        mask = recs["mask"][order]
        row = recs["row"][order]
        merged_mask = np.bitwise_or.reduceat(mask, starts)
        bits = np.add.reduceat(np.bitwise_count(mask).astype(np.int64), starts)
        clash = np.flatnonzero(np.bitwise_count(merged_mask).astype(np.int64) != bits)
        if len(clash):
            rows = np.minimum.reduceat(row, starts)[clash]
            g = int(clash[int(np.argmin(rows))])
            # The asset: the lowest bit held by two records of this user.
            stop = int(starts[g + 1]) if g + 1 < len(starts) else n
            seen = 0
            asset = 0
            for m in mask[int(starts[g]) : stop].tolist():
                if seen & m:
                    asset = ((seen & m) & -(seen & m)).bit_length() - 1
                    break
                seen |= m
            dup = (int(rows.min()), asset)
        first_rows = np.minimum.reduceat(row, starts) if risk is not None else None
    else:
        first_rows = recs["row"][order] if risk is not None else None
    raw = np.ascontiguousarray(recs).view(np.uint8).reshape(-1).data
    if gathered:
        # One C pass: each run's records read where they lie (no sorted copy of the
        # bucket), summed and written as the leaf's big-endian u128s.
        out = np.frombuffer(native.merge_runs(raw, np.ascontiguousarray(order, np.int64).data,
                                              np.ascontiguousarray(starts, np.int64).data, k,
                                              spilled or k), leaf_dtype(k))
    elif native is not None and hasattr(native, "merge_leaves"):
        # One C pass: each run's limbs summed and written as the leaf's big-endian u128s
        # (what _merged_leaves does in numpy, field by field).
        out = np.frombuffer(native.merge_leaves(raw, np.ascontiguousarray(starts, np.int64).data,
                                                k, spilled or k), leaf_dtype(k))
    else:
        out = _merged_leaves(recs, starts, k, spilled)
    del raw
    del recs
    under = None
    if risk is not None and first_rows is not None:
        under = first_under_water(risk, out["s"], first_rows)
    work.write(f"users/{bucket:05d}/merged", out.view(np.uint8).reshape(-1).data)  # no copy
    work.remove(f"rows/{bucket:05d}")
    return len(out), dup, under


def _merged_leaves(recs: np.ndarray, starts: np.ndarray, k: int,
                   spilled: int | None) -> np.ndarray:
    """:func:`merge_bucket`'s leaves in numpy: one per run of sorted records from ``starts``."""
    if len(starts) != len(recs):
        # Masks are disjoint, so each asset's value comes from one record: summing the
        # limbs separately is exact.
        lo = np.add.reduceat(recs["lo"], starts, axis=0)
        hi = np.add.reduceat(recs["hi"], starts, axis=0)
        c = recs["c"][starts]
    else:
        lo, hi, c = recs["lo"], recs["hi"], recs["c"]
    out = np.empty(len(starts), leaf_dtype(k))
    out["c"] = c
    sums = out["s"].view(">u8").reshape(len(starts), k, 2)
    if spilled and spilled != k:
        # (equity, debt) per asset spilled: written as (equity, debt, collateral = equity).
        triples = sums.reshape(len(starts), k // 3, 3, 2)
        for limb, values in ((0, hi), (1, lo)):
            pairs = values.reshape(len(starts), k // 3, 2)
            triples[:, :, :2, limb] = pairs
            triples[:, :, 2, limb] = pairs[:, :, 0]
    else:
        sums[..., 0] = hi
        sums[..., 1] = lo
    return out


# ------------------------------------------------------------------------ the margin rule


_RULE_TABLES: dict[bytes, tuple[RiskParams, tuple[bytes, bytes, bytes, bytes, bytes] | None]] = {}


def rule_tables(risk: bytes) -> tuple[RiskParams, tuple[bytes, bytes, bytes, bytes, bytes] | None]:
    """The parsed risk file, and its prices and tiers packed for ``native.margin_rule``
    (None when one of them does not fit in 128 bits: every user is then decided in Python).

    Raises:
        FormatError: the risk file is not canonical (the builder parsed it already).
    """
    cached = _RULE_TABLES.get(risk)
    if cached is not None:
        return cached
    params = RiskParams.from_json(risk, "risk parameters")
    offsets, bounds, accumulated, ratios = [0], [], [], []
    for ar in params.assets:
        previous = total = 0
        for tier in ar.tiers:
            bounds.append(tier.up_to)
            ratios.append(tier.ratio)
            accumulated.append(total)
            total += (tier.up_to - previous) * tier.ratio // 100
            previous = tier.up_to
        accumulated.append(total)
        offsets.append(len(bounds))
    prices = [ar.price_units for ar in params.assets]
    packed = None
    if max(prices + bounds + accumulated) <= MAX_AMOUNT:
        packed = (b"".join(p.to_bytes(16, "big") for p in prices),
                  np.array(offsets, np.int64).tobytes(),
                  b"".join(b.to_bytes(16, "big") for b in bounds),
                  b"".join(a.to_bytes(16, "big") for a in accumulated),
                  bytes(ratios))
    _RULE_TABLES[risk] = (params, packed)
    return params, packed


def rule_candidates(risk: bytes, sums: np.ndarray) -> np.ndarray:
    """Indexes of the users whose rule needs the exact check: ``sums`` holds a user's
    encoded positions per row (a uint8 matrix, or the ``s`` field of merged leaves).

    Natively: every user the 128-bit pass could not clear (spec §15.6 computed exactly in
    128 bits, where it fits). Without the extension: every user with a debt or with
    collateral above equity (a user without debt and with collateral <= equity passes).
    """
    params, packed = rule_tables(risk)
    k = len(params.assets)
    if len(sums) == 0:
        return np.zeros(0, np.int64)
    if native is not None and packed is not None:
        # The rows in place (no copy): a field of merged leaves is a strided view of them.
        stride = sums.strides[0]
        base = sums if sums.base is None else sums.base
        if (sums.ndim == 2 and sums.strides[1] == 1 and isinstance(base, np.ndarray)
                and base.flags.c_contiguous and base.itemsize * base.size == len(sums) * stride
                and sums.shape[1] == 48 * k):
            start = sums.__array_interface__["data"][0] - base.__array_interface__["data"][0]
            status = native.margin_rule(base.view(np.uint8).reshape(-1).data, stride, start, k,
                                        *packed)
        else:
            rows = np.ascontiguousarray(sums)
            status = native.margin_rule(rows.data, rows.shape[1], 0, k, *packed)
        return np.flatnonzero(np.frombuffer(status, np.uint8))
    return rule_candidates_python(sums, k)


def rule_candidates_python(sums: np.ndarray, k: int) -> np.ndarray:
    """:func:`rule_candidates` without the extension (exact, and coarser)."""
    limbs = np.ascontiguousarray(sums).view(">u8").reshape(len(sums), k, 3, 2)
    hi, lo = limbs[..., 0].astype(np.uint64), limbs[..., 1].astype(np.uint64)
    debt = (hi[:, :, 1] | lo[:, :, 1]) != 0
    e_hi, e_lo, c_hi, c_lo = hi[:, :, 0], lo[:, :, 0], hi[:, :, 2], lo[:, :, 2]
    above = (c_hi > e_hi) | ((c_hi == e_hi) & (c_lo > e_lo))
    return np.flatnonzero((debt | above).any(axis=1))


def first_under_water(risk: bytes, sums: np.ndarray, rows: np.ndarray
                      ) -> tuple[int, bytes] | None:
    """The earliest (by first row) user under water: ``(row, encoded positions)``, or None.

    Every candidate of :func:`rule_candidates` is decided by the verifier's own rule
    (:func:`verifier.liabilities.risk.check_rule`, exact integers), never by the first pass alone.
    """
    params, _ = rule_tables(risk)
    found: tuple[int, bytes] | None = None
    for i in rule_candidates(risk, sums).tolist():
        raw = bytes(sums[i])
        try:
            check_rule(params, decode_positions(raw), "user")
        except VerificationError:
            row = int(rows[i])
            if found is None or row < found[0]:
                found = (row, raw)
    return found



# ------------------------------------------------------------------------ stage 3


def pad_range(work_url: str, secret: bytes, round_id: str, start: int, stop: int, bits: int,
              part: int) -> list[int]:
    """Padding commitments ``start..stop`` (spec §5), written to ``pad/BUCKET/PART``.

    Returns:
        How many of them fell in each bucket.
    """
    rid = encode_str(round_id.encode())
    c = np.frombuffer(pad_commitments(secret, TAG_PAD + rid, start, stop),
                      np.uint8).reshape(-1, HASH_SIZE)
    # Grouped by bucket: a radix sort of 16-bit bucket numbers, and whole commitments moved
    # as four machine words (numpy's row-by-row take of a byte matrix cost as much as the
    # HMACs).
    buckets = bucket_of(c, bits).astype(np.uint16)
    order = np.argsort(buckets, kind="stable")
    c = np.take(c.view(np.uint64), order, axis=0).view(np.uint8)
    counts = np.bincount(buckets, minlength=1 << bits)
    work = Work(work_url)
    edges = np.concatenate(([0], np.cumsum(counts)))
    for b in np.flatnonzero(counts).tolist():
        work.write(f"pad/{b:05d}/{part:05d}", c[edges[b] : edges[b + 1]].tobytes())
    return [int(x) for x in counts]


def pad_commitments(secret: bytes, prefix: bytes, start: int, stop: int) -> bytes:
    """``HMAC(secret, prefix ‖ u64(i))`` for ``i`` in ``start..stop`` (spec §5), natively
    if built."""
    if native is not None:
        return native.pad_commitments(secret, prefix, start, stop)
    return pad_commitments_python(secret, prefix, start, stop)


def pad_commitments_python(secret: bytes, prefix: bytes, start: int, stop: int) -> bytes:
    """:func:`pad_commitments` with hashlib."""
    inner, outer = hmac_sha256_keyed(secret, prefix)
    inner_copy, outer_copy = inner.copy, outer.copy
    out: list[bytes] = []
    for i in range(start, stop):
        state = inner_copy()
        state.update(i.to_bytes(8, "big"))
        mac = outer_copy()
        mac.update(state.digest())
        out.append(mac.digest())
    return b"".join(out)


# ------------------------------------------------------------------------ stage 4


def _bucket_leaves(work: Work, bucket: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A bucket's leaves in order: commitments (n x 32) and big-endian sums (n x 16k)."""
    users = _read_records(work, f"users/{bucket:05d}", leaf_dtype(k))
    pads = _read_records(work, f"pad/{bucket:05d}", np.dtype((np.uint8, HASH_SIZE)))
    # The users come sorted and merged (merge_bucket): the padding is sorted alone and
    # slotted in. When the prefixes of the result strictly increase, that is the bytewise
    # order and no two leaves share a commitment; otherwise (almost never) all are sorted
    # and compared in full, below.
    user_prefix = _prefixes(users["c"])
    if not len(pads):
        if not (user_prefix[1:] <= user_prefix[:-1]).any():
            return np.ascontiguousarray(users["c"]), np.ascontiguousarray(users["s"])
    else:
        pad_prefix = _prefixes(pads)
        pad_order = np.argsort(pad_prefix, kind="quicksort")
        pad_prefix = pad_prefix[pad_order]
        # Each padding leaf goes before the first user whose prefix is not below its own;
        # the users fill the other positions. Rows are moved as single void items (one
        # copy each; numpy's insert of byte rows cost as much as a third of the hashing).
        n = len(users) + len(pads)
        pad_at = np.searchsorted(user_prefix, pad_prefix) + np.arange(len(pads))
        is_user = np.ones(n, bool)
        is_user[pad_at] = False
        merged = np.empty(n, np.uint64)
        merged[pad_at] = pad_prefix
        merged[is_user] = user_prefix
        if not (merged[1:] <= merged[:-1]).any():
            fields = users.view(np.dtype([("c", f"V{HASH_SIZE}"), ("s", f"V{16 * k}")]))
            c = np.empty(n, f"V{HASH_SIZE}")
            c[pad_at] = pads.view(f"V{HASH_SIZE}").ravel()[pad_order]
            c[is_user] = fields["c"]
            sums = np.zeros(n, f"V{16 * k}")
            sums[is_user] = fields["s"]
            return (c.view(np.uint8).reshape(n, HASH_SIZE),
                    sums.view(np.uint8).reshape(n, 16 * k))
    c = np.concatenate((users["c"], pads)) if len(pads) else users["c"]
    sums = np.zeros((len(c), 16 * k), np.uint8)
    sums[: len(users)] = users["s"]
    del users, pads
    order = sort_commitments(c)
    c = c[order]
    if len(c) > 1 and _equal_to_next(c).any():
        raise VerificationError("two leaves share a commitment; refusing to build")
    return c, sums[order]


def _hash_rows(tag: bytes, rows: np.ndarray) -> np.ndarray:
    """SHA-256 of ``tag ‖ row`` for every row of a uint8 matrix: an (m, 32) matrix."""
    m, width = rows.shape
    digests = hash_records(tag, np.ascontiguousarray(rows).data, width)
    return np.frombuffer(digests, np.uint8).reshape(m, HASH_SIZE)


def hash_records(prefix: bytes, data: bytes | memoryview, width: int) -> bytes:
    """SHA-256 of ``prefix ‖ record`` for each ``width``-byte record of ``data`` (contiguous),
    natively if built."""
    if native is not None:
        return native.hash_records(prefix, data, width)
    return hash_records_python(prefix, data, width)


def hash_records_python(prefix: bytes, data: bytes | memoryview, width: int) -> bytes:
    """:func:`hash_records` with hashlib: the preimages laid out once, one call per record."""
    rows = np.frombuffer(data, np.uint8).reshape(-1, width)
    m = rows.shape[0]
    w = len(prefix) + width
    pre = np.empty((m, w), np.uint8)
    pre[:, : len(prefix)] = np.frombuffer(prefix, np.uint8)
    pre[:, len(prefix) :] = rows
    buf = pre.tobytes()
    del pre
    sha = hashlib.sha256
    return b"".join([sha(buf[i : i + w]).digest() for i in range(0, m * w, w)])


def tags(margin: bool) -> tuple[bytes, bytes]:
    """The leaf and node tags of the scheme: spot (spec §6) or margin (spec §15.3)."""
    return (TAG_MARGIN_LEAF, TAG_MARGIN_NODE) if margin else (TAG_LEAF, TAG_NODE)


def leaf_records(c: np.ndarray, sums: np.ndarray, margin: bool = False) -> np.ndarray:
    """Level-0 records ``H(LEAF ‖ c ‖ amounts) ‖ amounts`` (spec §6; margin: §15.3, where
    the amounts are the positions, 48 bytes per asset)."""
    if native is not None and hasattr(native, "leaf_records"):
        width = sums.shape[1]
        records = native.leaf_records(tags(margin)[0], np.ascontiguousarray(c).data,
                                      np.ascontiguousarray(sums).data, width)
        return np.frombuffer(records, np.uint8).reshape(len(c), HASH_SIZE + width)
    return leaf_records_python(c, sums, margin)


def leaf_records_python(c: np.ndarray, sums: np.ndarray, margin: bool = False) -> np.ndarray:
    """:func:`leaf_records` in numpy and :func:`hash_records`."""
    rec = np.empty((len(c), HASH_SIZE + sums.shape[1]), np.uint8)
    rec[:, HASH_SIZE:] = sums
    rec[:, :HASH_SIZE] = _hash_rows(tags(margin)[0], np.concatenate((c, sums), axis=1))
    return rec


def parent_records(children: np.ndarray, margin: bool = False) -> np.ndarray:
    """The parents of consecutive pairs of records: hash and exact u128 sums (spec §6).

    A margin record's sums are equity, debt and collateral per asset, each summed
    separately (spec §15.3): the same slot-wise u128 addition, with the margin node tag.

    Raises:
        InputError: a sum exceeds 2^128-1.
    """
    m = children.shape[0] // 2
    width = children.shape[1]
    if native is not None and hasattr(native, "parent_records"):
        # Sums and hash in one pass over each pair (no 128-bit limb arrays in numpy);
        # None means a sum overflowed: the numpy twin below says so.
        records = native.parent_records(tags(margin)[1], np.ascontiguousarray(children).data,
                                        width)
        if records is not None:
            return np.frombuffer(records, np.uint8).reshape(m, width)
    return parent_records_python(children, margin)


def parent_records_python(children: np.ndarray, margin: bool = False) -> np.ndarray:
    """:func:`parent_records` in numpy and :func:`hash_records`.

    Raises:
        InputError: a sum exceeds 2^128-1.
    """
    m = children.shape[0] // 2
    width = children.shape[1]
    k = (width - HASH_SIZE) // 16
    limbs = np.ascontiguousarray(children[:, HASH_SIZE:]).view(">u8").reshape(2 * m, k, 2)
    hi = limbs[..., 0].astype(np.uint64)
    lo = limbs[..., 1].astype(np.uint64)
    a_lo, b_lo, a_hi, b_hi = lo[0::2], lo[1::2], hi[0::2], hi[1::2]
    s_lo = a_lo + b_lo
    carry = (s_lo < a_lo).astype(np.uint64)
    t = a_hi + b_hi
    s_hi = t + carry
    if ((t < a_hi) | (s_hi < t)).any():
        raise InputError("the per-asset total overflows 2^128-1 base units")
    rec = np.empty((m, width), np.uint8)
    out = rec[:, HASH_SIZE:].view(">u8").reshape(m, k, 2)
    out[..., 0] = s_hi
    out[..., 1] = s_lo
    rec[:, :HASH_SIZE] = _hash_rows(tags(margin)[1], children.reshape(m, 2 * width))
    return rec


class Sink:
    """Where a bucket's sections go: one append-only stream per section, in position order.

    Section ``-1`` is the commitments, section ``l`` the records of level ``l``; a stream
    starts at the first position of its level that lies inside the bucket
    (:func:`level_span`).
    """

    def append(self, section: int, data: np.ndarray | memoryview) -> None:
        """Append rows to ``section``."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and release."""


def level_span(start: int, size: int, level: int) -> tuple[int, int]:
    """The records of ``level`` whose whole span of leaves lies inside the positions
    ``start .. start+size``: ``ceil(start / 2^level) .. floor((start+size) / 2^level)``
    (empty when the second is not above the first)."""
    first = -(-start >> level)
    return first, max(first, (start + size) >> level)


class TreeFileSink(Sink):
    """Writes a bucket's sections straight into the tree file at their offsets (one
    machine)."""

    def __init__(self, path: str, commitments_offset: int, level_offsets: list[int],
                 record_size: int, first_leaf: int) -> None:
        """Open ``path`` for writing the sections of the leaves from ``first_leaf`` on."""
        self._fd = os.open(path, os.O_WRONLY)
        self._next = {-1: commitments_offset + HASH_SIZE * first_leaf}
        for level, off in enumerate(level_offsets):
            self._next[level] = off + record_size * level_span(first_leaf, 0, level)[0]

    def append(self, section: int, data: np.ndarray | memoryview) -> None:
        """Write rows at the section's next offset (pwrite: no mapping, no page kept)."""
        pwrite_all(self._fd, data, self._next[section])
        self._next[section] += data.nbytes

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


class ShardSink(Sink):
    """Writes a bucket's sections as one object each under ``shards/BUCKET/`` (shared
    storage); the client copies them into the tree file."""

    def __init__(self, work_url: str, shard: int) -> None:
        """Open nothing yet: a section's object is created by its first append."""
        self._work = Work(work_url)
        self._fs, self._root = self._work.fs()
        self._shard = shard
        self._files: dict[int, Any] = {}

    def append(self, section: int, data: np.ndarray | memoryview) -> None:
        """Append rows to the section's object."""
        fh = self._files.get(section)
        if fh is None:
            folder = f"{self._root}/shards/{self._shard:05d}"
            self._fs.makedirs(folder, exist_ok=True)
            fh = self._fs.open(f"{folder}/{section_name(section)}", "wb")
            self._files[section] = fh
        fh.write(np.ascontiguousarray(data).tobytes())

    def close(self) -> None:
        """Close every section's object."""
        for fh in self._files.values():
            fh.close()


def section_name(section: int) -> str:
    """The object name of a section of a shard."""
    return "commitments" if section < 0 else f"level-{section:02d}"


class _Ragged:
    """The levels above one bucket's leaves, built as the leaves stream in (spec §6).

    A bucket holds the leaf positions ``s .. s+n``, in general not aligned to any power of
    two. At each level it can build exactly the nodes whose whole span lies inside that
    range (:func:`level_span`). Every record built goes to the sink at once; the records
    whose sibling lies outside the range (at most one at each end of each level) are the
    *edges*, returned to the caller, which builds the few nodes straddling two buckets from
    them (:func:`fix_up`). Small levels are held back until :data:`LEVEL_FLUSH` records (or
    the end), so that a big bucket does not cost one tiny hash call and one tiny write per
    chunk per level.
    """

    def __init__(self, sink: Sink, levels: int, margin: bool) -> None:
        self._sink = sink
        self._margin = margin
        top = levels + 1
        self._first = [0] * top  # index of the first pending record of each level
        self._pending: list[list[np.ndarray]] = [[] for _ in range(top)]
        self._count = [0] * top
        # A record at an even index awaiting its right sibling, and that index.
        self._carry: list[tuple[int, np.ndarray] | None] = [None] * top
        self.edges: list[tuple[int, int, bytes]] = []  # (level, index, record)

    def add(self, level: int, index: int, records: np.ndarray) -> None:
        """Records of ``level`` from position ``index`` on (in order, without gaps)."""
        if not self._count[level]:
            self._first[level] = index
        elif index != self._first[level] + self._count[level]:
            raise VerificationError(f"level {level}: records at {index}, expected"
                                    f" {self._first[level] + self._count[level]}")
        self._pending[level].append(records)
        self._count[level] += len(records)
        if level == 0 or self._count[level] >= LEVEL_FLUSH:
            self._flush(level)

    def _flush(self, level: int) -> None:
        if not self._count[level]:
            return
        pend = self._pending[level]
        block = pend[0] if len(pend) == 1 else np.concatenate(pend)
        start = self._first[level]
        self._pending[level], self._count[level] = [], 0
        if level:  # level 0 is written by the caller, beside the commitments
            self._sink.append(level, block)
        carry = self._carry[level]
        if carry is not None:  # pair it alone: no copy of the whole block
            self.add(level + 1, carry[0] // 2,
                     parent_records(np.concatenate((carry[1], block[:1])), self._margin))
            block, start = block[1:], start + 1
            self._carry[level] = None
        elif start % 2:  # its left sibling is in the bucket before
            self.edges.append((level, start, block[0].tobytes()))
            block, start = block[1:], start + 1
        pairs = len(block) // 2
        if len(block) % 2:
            self._carry[level] = (start + len(block) - 1, block[-1:].copy())
        if pairs:
            self.add(level + 1, start // 2, parent_records(block[: 2 * pairs], self._margin))

    def finish(self) -> list[tuple[int, int, bytes]]:
        """Flush every level; the edges."""
        for level in range(len(self._count)):
            self._flush(level)
            carry = self._carry[level]
            if carry is not None:  # its right sibling is in the bucket after (or none: top)
                self.edges.append((level, carry[0], carry[1].tobytes()))
                self._carry[level] = None
        return self.edges


def pwrite_all(fd: int, data: np.ndarray | memoryview, offset: int) -> None:
    """Write all of ``data`` (rows, contiguous or not) at ``offset`` of an open file."""
    raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8).data
    done = 0
    while done < len(raw):
        done += os.pwrite(fd, raw[done:], offset + done)


def hash_bucket(work_url: str, k: int, bucket: int, start: int, size: int, levels: int,
                sink: Sink, margin: bool = False) -> list[tuple[int, int, bytes]]:
    """Stage 4: one bucket's leaves (users and padding merged in commitment order) at their
    positions ``start .. start+size``, and every node whose whole span lies among them,
    hashed in memory and written to ``sink`` (spec §6, §8.3); ``levels``: the tree's top
    level.

    No level is read back and no task waits for another: the nodes that straddle two
    buckets are built afterwards from the edges returned (:func:`fix_up`). The bucket is
    hashed :data:`CHUNK_LEAVES` leaves at a time.

    Returns:
        The edges: ``(level, index, record)`` of every record built here whose sibling lies
        outside this bucket's positions.

    Raises:
        InputError: a sum overflows 2^128-1.
        VerificationError: the bucket does not hold ``size`` leaves, or two leaves share a
            commitment.
    """
    try:
        c, sums = _bucket_leaves(Work(work_url), bucket, k)
        if len(c) != size:
            raise VerificationError(f"bucket {bucket}: {len(c)} leaves, expected {size}")
        built = _Ragged(sink, levels, margin)
        for a in range(0, size, CHUNK_LEAVES):
            b = min(size, a + CHUNK_LEAVES)
            sink.append(-1, c[a:b])
            records = leaf_records(c[a:b], sums[a:b], margin)
            sink.append(0, records)
            built.add(0, start + a, records)
        return built.finish()
    finally:
        sink.close()


def hash_bucket_local(work_url: str, k: int, bucket: int, start: int, size: int,
                      tree_path: str, commitments_offset: int, level_offsets: list[int],
                      record_size: int, margin: bool = False) -> list[tuple[int, int, bytes]]:
    """:func:`hash_bucket` writing straight into the tree file (a task of the local pool)."""
    sink = TreeFileSink(tree_path, commitments_offset, level_offsets, record_size, start)
    return hash_bucket(work_url, k, bucket, start, size, len(level_offsets) - 1, sink, margin)


def hash_bucket_shard(work_url: str, k: int, bucket: int, start: int, size: int, levels: int,
                      margin: bool = False) -> list[tuple[int, int, bytes]]:
    """:func:`hash_bucket` writing the bucket's sections to shared storage (a Dask task)."""
    return hash_bucket(work_url, k, bucket, start, size, levels, ShardSink(work_url, bucket),
                       margin)


def fix_up(tree_path: str, level_offsets: list[int], record_size: int,
           edges: list[tuple[int, int, bytes]], margin: bool = False) -> bytes:
    """The nodes no bucket could build (their span straddles two buckets), from the edges
    of every bucket (:func:`hash_bucket`), level by level up to the top, written into the
    tree file.

    At each level the edges and the nodes built here pair up exactly: a record's sibling is
    either another bucket's edge or a straddling node; anything else means the buckets do
    not tile the leaves.

    Returns:
        The top record (hash ‖ sums).

    Raises:
        InputError: a sum overflows 2^128-1.
        VerificationError: the edges do not pair up (the buckets do not tile the leaves).
    """
    top = len(level_offsets) - 1
    known: list[dict[int, bytes]] = [{} for _ in range(top + 1)]
    for level, index, record in edges:
        if index in known[level]:
            raise VerificationError(f"level {level}: record {index} built twice")
        known[level][index] = record
    fd = os.open(tree_path, os.O_WRONLY)
    try:
        for level in range(top):
            indexes = sorted(known[level])
            if len(indexes) % 2 or any(indexes[i] % 2 or indexes[i + 1] != indexes[i] + 1
                                       for i in range(0, len(indexes), 2)):
                raise VerificationError(f"level {level}: the buckets leave records {indexes}"
                                        " unpaired")
            if not indexes:
                continue
            children = np.frombuffer(b"".join(known[level][i] for i in indexes),
                                     np.uint8).reshape(len(indexes), record_size)
            parents = parent_records(children, margin)
            for j, index in enumerate(indexes[::2]):
                parent = index // 2
                if parent in known[level + 1]:
                    raise VerificationError(f"level {level + 1}: record {parent} built twice")
                known[level + 1][parent] = parents[j].tobytes()
                pwrite_all(fd, parents[j : j + 1],
                           level_offsets[level + 1] + record_size * parent)
    finally:
        os.close(fd)
    if list(known[top]) != [0]:
        raise VerificationError(f"level {top}: the buckets built records {sorted(known[top])},"
                                " expected the top alone")
    return known[top][0]
