"""Build a round's Merkle-sum tree from a snapshot and write it to the tree file (spec §5-8).

The pipeline: ingest (columnar, exact), commitments per user and per padding leaf (both
cores), order leaves by commitment (the keyed permutation of spec §5), sums of every level
(vectorised u128 as two uint64 limbs, overflow is an error), then the hashes of aligned
subtrees in worker processes writing straight into the memory-mapped tree file, and the
top levels and the root in this process. Every byte hashed comes from :mod:`verifier.mst`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import mmap
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from por.errors import InputError, VerificationError
from por.snapshot import Snapshot, read_snapshot
from verifier.artifacts import RootSummary
from verifier.mst import (
    HASH_SIZE,
    TAG_LEAF,
    TAG_NODE,
    TAG_PAD,
    TAG_SALT,
    TAG_USER,
    Asset,
    check_round_id,
    encode_str,
    levels_for,
    root_hash,
)
from verifier.treefile import Layout

TREE_FILE = "tree.bin"
ROOT_FILE = "root.json"
INFO_FILE = "build-info.json"
SECRET_FILE = "round-secret.key"  # noqa: S105 - a file name, not a secret
PARALLEL_MIN_LEAVES = 1 << 14
CHUNK = 1 << 15


class Progress(Protocol):
    """Where a long step reports how far it got (the CLI draws it with rich)."""

    def start(self, stage: str, total: int) -> None:
        """A new stage of ``total`` units begins."""

    def advance(self, done: int) -> None:
        """``done`` more units of the current stage are finished."""


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote and measured."""

    out_dir: Path
    summary: RootSummary
    user_count: int
    rows: int
    seconds: dict[str, float]

    @property
    def tree_path(self) -> Path:
        """The tree file (private: every balance, for auditors only)."""
        return self.out_dir / TREE_FILE

    @property
    def root_path(self) -> Path:
        """The root summary (public)."""
        return self.out_dir / ROOT_FILE


def padded_size(user_count: int, pad_to: int | None) -> int:
    """Leaf count: the next power of two at or above the user count and ``pad_to``.

    Raises:
        InputError: ``pad_to`` is not a power of two.
    """
    if pad_to is not None:
        try:
            levels_for(pad_to)
        except Exception as e:
            raise InputError(f"--pad-to {pad_to}: expected a power of two") from e
    size = 1
    while size < max(user_count, pad_to or 1):
        size <<= 1
    return size


# Worker state, inherited through fork: large arrays are never pickled to the workers.
_SHARED: dict[str, Any] = {}

_SHA256_BLOCK = 64


def hmac_sha256_keyed(key: bytes, prefix: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) with the key schedule done once: (inner, outer) hash states.

    ``inner`` has absorbed ``key ^ ipad`` and ``prefix``; ``outer`` has absorbed
    ``key ^ opad``. For a message ``m``: ``HMAC(key, prefix + m)`` is
    ``outer.copy()`` updated with ``inner.copy()`` updated with ``m``, digested.
    Why: ``hmac.digest`` sets up the key (two compressions and an OpenSSL context) on
    every call, which was most of the cost of a commitment; copying a hash state is cheap.
    The result is checked against ``hmac.digest`` before use (:func:`_check_hmac`).
    """
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(prefix)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def _check_hmac(key: bytes, prefix: bytes, message: bytes) -> None:
    """Refuse to build if the precomputed HMAC ever disagrees with the standard library."""
    inner, outer = hmac_sha256_keyed(key, prefix)
    inner.update(message)
    outer.update(inner.digest())
    if outer.digest() != hmac.digest(key, prefix + message, "sha256"):
        raise VerificationError("precomputed HMAC-SHA256 differs from hmac.digest")


def _commit_users(start: int, stop: int) -> bytes:
    """Commitments of users [start, stop): salt = HMAC(secret, SALT ‖ round ‖ id), then
    H(USER ‖ round ‖ id ‖ salt), exactly :func:`verifier.mst.derive_salt` and
    :func:`verifier.mst.user_commitment` (spec §4), with the per-call overhead taken out.
    """
    # Only this job's ids become Python objects: the shared offsets stay a numpy array and
    # the id bytes an Arrow buffer, so neither the parent nor the forked workers hold (and
    # copy-on-write, through refcounts) a million Python ints.
    offsets = _SHARED["offsets"][start : stop + 1]
    base = int(offsets[0])
    data = memoryview(_SHARED["data"])[base : int(offsets[-1])].tobytes()
    bounds = (offsets - base).tolist()
    user_prefix: bytes = _SHARED["user_prefix"]
    inner, outer = hmac_sha256_keyed(_SHARED["secret"], _SHARED["salt_prefix"])
    inner_copy, outer_copy, sha = inner.copy, outer.copy, hashlib.sha256
    out: list[bytes] = []
    append = out.append
    # One loop, bound methods in locals: each user costs a handful of C calls.
    for a, b in itertools.pairwise(bounds):
        raw = data[a:b]
        enc = len(raw).to_bytes(2, "big") + raw  # encode_str (spec §2)
        salt_state = inner_copy()
        salt_state.update(enc)
        mac = outer_copy()
        mac.update(salt_state.digest())
        append(sha(user_prefix + enc + mac.digest()).digest())
    return b"".join(out)


def _commit_padding(start: int, stop: int) -> bytes:
    """Commitments of padding leaves [start, stop): HMAC(secret, PAD ‖ round ‖ u64) (§5)."""
    inner, outer = hmac_sha256_keyed(_SHARED["secret"], _SHARED["pad_prefix"])
    out: list[bytes] = []
    for i in range(start, stop):
        state = inner.copy()
        state.update(i.to_bytes(8, "big"))
        mac = outer.copy()
        mac.update(state.digest())
        out.append(mac.digest())
    return b"".join(out)


def _views(mm: Any, layout: Layout) -> tuple[np.ndarray, list[np.ndarray]]:
    commitments = np.ndarray((layout.leaf_count, HASH_SIZE), np.uint8, mm,
                             layout.commitments_offset)
    levels = [
        np.ndarray((layout.leaf_count >> lvl, layout.record_size), np.uint8, mm,
                   layout.level_offset(lvl))
        for lvl in range(layout.levels + 1)
    ]
    return commitments, levels


def _hash_range(commitments: np.ndarray, levels: list[np.ndarray], level: int,
                start: int, stop: int) -> None:
    """Hash nodes [start, stop) of ``level`` whose children (and sums) are already written."""
    for lo in range(start, stop, CHUNK):
        hi = min(lo + CHUNK, stop)
        m = hi - lo
        if level == 0:
            rec = levels[0]
            pre = np.empty((m, len(TAG_LEAF) + HASH_SIZE + rec.shape[1] - HASH_SIZE), np.uint8)
            pre[:, : len(TAG_LEAF)] = np.frombuffer(TAG_LEAF, np.uint8)
            pre[:, len(TAG_LEAF) : len(TAG_LEAF) + HASH_SIZE] = commitments[lo:hi]
            pre[:, len(TAG_LEAF) + HASH_SIZE :] = rec[lo:hi, HASH_SIZE:]
        else:
            child = levels[level - 1]
            pre = np.empty((m, len(TAG_NODE) + 2 * child.shape[1]), np.uint8)
            pre[:, : len(TAG_NODE)] = np.frombuffer(TAG_NODE, np.uint8)
            pre[:, len(TAG_NODE) :] = child[2 * lo : 2 * hi].reshape(m, 2 * child.shape[1])
        buf = pre.tobytes()
        width = pre.shape[1]
        sha = hashlib.sha256
        digests = b"".join([sha(buf[i : i + width]).digest()
                            for i in range(0, m * width, width)])
        levels[level][lo:hi, :HASH_SIZE] = np.frombuffer(digests, np.uint8).reshape(m, HASH_SIZE)


def _hash_subtree(path: str, layout: Layout, index: int, height: int) -> int:
    """Hash the aligned subtree ``index`` of 2**height leaves, leaves to its own root."""
    with open(path, "r+b") as fh, mmap.mmap(fh.fileno(), 0) as mm:
        commitments, levels = _views(mm, layout)
        try:
            for level in range(height + 1):
                width = 1 << (height - level)
                _hash_range(commitments, levels, level, index * width, (index + 1) * width)
        finally:
            del commitments, levels
    return 1 << height


def _add_levels(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise u128 sums of consecutive rows; overflow raises (spec §6)."""
    a_lo, b_lo, a_hi, b_hi = lo[0::2], lo[1::2], hi[0::2], hi[1::2]
    s_lo = a_lo + b_lo
    carry = (s_lo < a_lo).astype(np.uint64)
    t = a_hi + b_hi
    s_hi = t + carry
    if ((t < a_hi) | (s_hi < t)).any():
        raise InputError("the per-asset total overflows 2^128-1 base units")
    return s_lo, s_hi


def _write_sums(records: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Write u128 sums big-endian (spec §2) into the sums part of each record, in place.

    The record rows are viewed as big-endian uint64 pairs, so numpy byte-swaps while it
    stores, with no temporary copy of the level.
    """
    sums = records[:, HASH_SIZE:].view(">u8").reshape(lo.shape[0], lo.shape[1], 2)
    sums[..., 0] = hi
    sums[..., 1] = lo


def commitment_order(commitments: np.ndarray) -> np.ndarray:
    """Indexes that sort the rows of ``commitments`` (n x 32 bytes) bytewise (spec §5).

    Why not ``np.lexsort`` over four uint64 columns: it took over a second for a million
    leaves. The first 8 bytes, read big-endian, order all rows but those sharing that
    prefix (about n^2 / 2^65 pairs: almost never); those runs are then sorted by their full
    32 bytes. Equal commitments raise, as two leaves may never share one.

    Raises:
        VerificationError: two rows are equal.
    """
    n = commitments.shape[0]
    prefix = commitments[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    order = np.argsort(prefix, kind="stable")
    sorted_prefix = prefix[order]
    tied = np.flatnonzero(sorted_prefix[1:] == sorted_prefix[:-1])
    run_start = 0
    for i in tied.tolist():
        # Positions i and i+1 share a prefix; sort each maximal run once, at its end.
        if i + 1 < run_start:
            continue
        start = i
        stop = i + 2
        while stop < n and sorted_prefix[stop] == sorted_prefix[start]:
            stop += 1
        run = order[start:stop].tolist()
        run.sort(key=lambda j: commitments[j].tobytes())
        for a, b in itertools.pairwise(run):
            if commitments[a].tobytes() == commitments[b].tobytes():
                raise VerificationError("two leaves share a commitment; refusing to build")
        order[start:stop] = run
        run_start = stop
    return order


def _take_rows(matrix: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``matrix[order]`` for a C-contiguous 2-D array, gathering whole rows as single items.

    Why: fancy indexing a (n, 32) uint8 array copies 32 one-byte elements per row;
    viewing each row as one opaque item makes the gather one memcpy per row.
    """
    rows = np.ascontiguousarray(matrix)
    item = rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).ravel()
    return np.take(item, order).view(rows.dtype).reshape(len(order), rows.shape[1])


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-total // parts))
    return [(s, min(s + step, total)) for s in range(0, total, step)]


def build_tree(
    snapshot_path: str | Path,
    assets: tuple[Asset, ...],
    round_id: str,
    secret: bytes,
    out_dir: str | Path,
    *,
    pad_to: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the tree of a round and write ``tree.bin``, ``root.json`` and ``build-info.json``.

    Nothing is written unless the whole snapshot is valid; the tree file is written under a
    temporary name and renamed into place at the end.

    Raises:
        InputError: bad snapshot, sums that overflow, or an output directory already built.
    """
    check_round_id(round_id)
    progress = progress or _Silent()
    out = Path(out_dir)
    if (out / ROOT_FILE).exists() or (out / TREE_FILE).exists():
        raise InputError(f"{out}: a tree was already built there; choose another --out")
    workers = max(1, workers or os.cpu_count() or 1)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    size = os.path.getsize(snapshot_path) if os.path.exists(snapshot_path) else 0
    progress.start("reading snapshot", max(size, 1))
    snap = read_snapshot(snapshot_path, assets,
                         progress=lambda _rows: None)
    progress.advance(max(size, 1))
    timings["ingest"] = time.perf_counter() - t0

    layout = Layout.for_tree(round_id, assets, padded_size(snap.user_count, pad_to))
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (TREE_FILE + ".partial")
    try:
        summary = _build(snap, layout, secret, tmp, workers, progress, timings)
        os.replace(tmp, out / TREE_FILE)
    finally:
        if tmp.exists():
            tmp.unlink()
    (out / ROOT_FILE).write_text(summary.to_json())
    timings["total"] = time.perf_counter() - t0
    info = {"round": round_id, "users": snap.user_count, "rows": snap.rows,
            "leaf_count": layout.leaf_count, "seconds": timings, "workers": workers}
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return BuildResult(out, summary, snap.user_count, snap.rows, timings)


def _build(snap: Snapshot, layout: Layout, secret: bytes, tmp: Path, workers: int,
           progress: Progress, timings: dict[str, float]) -> RootSummary:
    n_users, n_leaves, k = snap.user_count, layout.leaf_count, len(layout.assets)
    rid = encode_str(layout.round_id.encode())
    ids = snap.user_ids
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset : ids.offset + n_users + 1]
    _SHARED.update(
        offsets=offsets.astype(np.int64), data=ids.buffers()[2], secret=secret,
        salt_prefix=TAG_SALT + rid, user_prefix=TAG_USER + rid, pad_prefix=TAG_PAD + rid,
    )
    _check_hmac(secret, TAG_SALT + rid, encode_str(b"user"))
    parallel = workers > 1 and n_leaves >= PARALLEL_MIN_LEAVES
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=ctx) if parallel else None
    try:
        t = time.perf_counter()
        progress.start("commitments", n_leaves)
        # Each job's digests are copied into place as they come: no list of parts to join.
        commitments = np.empty((n_leaves, HASH_SIZE), np.uint8)
        flat = commitments.reshape(-1)
        first: dict[Callable[[int, int], bytes], int] = {_commit_users: 0,
                                                         _commit_padding: n_users}
        commit_fns: list[Callable[[int, int], bytes]] = [_commit_users, _commit_padding]
        jobs = [(commit_fns[0], s, e) for s, e in _split(n_users, workers * 8)] + [
            (commit_fns[1], s, e) for s, e in _split(n_leaves - n_users, workers * 8)
        ]
        if pool:
            futures = [pool.submit(fn, s, e) for fn, s, e in jobs]
            for fut, (fn, s, e) in zip(futures, jobs, strict=True):
                row = first[fn] + s
                flat[row * HASH_SIZE : (row + e - s) * HASH_SIZE] = np.frombuffer(fut.result(),
                                                                                  np.uint8)
                progress.advance(e - s)
        else:
            for fn, s, e in jobs:
                row = first[fn] + s
                flat[row * HASH_SIZE : (row + e - s) * HASH_SIZE] = np.frombuffer(fn(s, e),
                                                                                  np.uint8)
                progress.advance(e - s)
        del flat
        _SHARED.clear()
        timings["commitments"] = time.perf_counter() - t

        # Spec §5: leaves are ordered by commitment, a permutation keyed by the round secret.
        t = time.perf_counter()
        order = commitment_order(commitments)
        commitments = _take_rows(commitments, order)
        # Padding leaves (index >= n_users) hold zero amounts: gather users, leave zeros.
        lo = np.zeros((n_leaves, k), np.uint64)
        hi = np.zeros((n_leaves, k), np.uint64)
        is_user = order < n_users
        lo[is_user] = _take_rows(snap.lo, order[is_user])
        hi[is_user] = _take_rows(snap.hi, order[is_user])
        del order, is_user
        timings["order"] = time.perf_counter() - t

        t = time.perf_counter()
        with open(tmp, "wb") as new_file:
            new_file.truncate(layout.file_size)
        with open(tmp, "r+b") as fh, mmap.mmap(fh.fileno(), 0) as mm:
            mm[: layout.commitments_offset] = layout.prefix()
            c_view, levels = _views(mm, layout)
            c_view[:] = commitments
            del commitments
            for level in range(layout.levels + 1):
                if level:
                    lo, hi = _add_levels(lo, hi)
                _write_sums(levels[level], lo, hi)
            top_sums = tuple((int(h) << 64) | int(lw) for lw, h in zip(lo[0], hi[0], strict=True))
            del lo, hi
            timings["sums"] = time.perf_counter() - t

            t = time.perf_counter()
            progress.start("hashing", 2 * n_leaves - 1)
            split = 0
            if pool:
                split = min(layout.levels, max(1, (workers * 4 - 1).bit_length()))
            height = layout.levels - split
            if pool:
                mm.flush()
                subtrees = [pool.submit(_hash_subtree, str(tmp), layout, i, height)
                            for i in range(1 << split)]
                for sub in subtrees:
                    progress.advance(2 * sub.result() - 1)
            else:
                for level in range(layout.levels + 1):
                    _hash_range(c_view, levels, level, 0, n_leaves >> level)
                    progress.advance(n_leaves >> level)
            for level in range(height + 1, layout.levels + 1):
                _hash_range(c_view, levels, level, 0, n_leaves >> level)
                progress.advance(n_leaves >> level)
            top = bytes(levels[layout.levels][0])
            del c_view, levels
            mm.flush()
        timings["hashing"] = time.perf_counter() - t
    finally:
        _SHARED.clear()
        if pool:
            pool.shutdown()
    top_hash, top_sums_be = top[:HASH_SIZE], top[HASH_SIZE:]
    return RootSummary(
        round_id=layout.round_id,
        assets=layout.assets,
        leaf_count=n_leaves,
        root_hash=root_hash(layout.round_id, layout.assets, n_leaves, top_hash, top_sums_be),
        totals=top_sums,
    )
