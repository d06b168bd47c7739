"""Build a round's Merkle-sum tree from a snapshot and write it to the tree file (spec §5-8).

One pipeline, in memory bounded by a setting whatever the number of users:

1. ingest: the snapshot is read in batches (columnar, exact); each batch's rows are grouped
   per user, the users' commitments are derived in worker processes (spec §4), and each
   user's record is spilled to the bucket named by its commitment's leading bits;
2. merge: each bucket is sorted by commitment and a user whose rows were spread over
   batches becomes one leaf; a (user, asset) given twice is named by file and line;
3. padding: the padding commitments (spec §5) go to the same buckets;
4. hashing: the leaf positions are split into power-of-two aligned subtrees; each is built
   from the buckets that cover it, leaves to its own root, straight into the tree file;
   the levels above them and the root are built here.

The buckets concatenated are the keyed leaf order, so a small snapshot is simply the
one-bucket case. The same stages run on a dask.distributed cluster
(:mod:`por.liabilities.distributed`), with subtrees written as shards to shared storage
and assembled here. Every byte hashed comes from :mod:`verifier.liabilities.mst` (through
:mod:`por.liabilities.buckets`).

Given risk parameters, the same pipeline builds a margin round (scheme ``por-mst-margin``,
spec §15): rows become (equity, debt, collateral) triples, every user's rule (§15.6) is
checked in stage 2 before anything is hashed, and an account under water is refused by
user id, line and both sides of the inequality, with nothing written. The bytes are those
of the in-memory builder :mod:`por.liabilities.margin` (the tests compare them).
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from por.errors import InputError, PorError, VerificationError
from por.liabilities import buckets
from por.liabilities import snapshot as snapshot_module
from por.liabilities.buckets import Work, hmac_sha256_keyed, spill_dtype
from por.liabilities.snapshot import (
    POSITION_PARTS,
    ChunkRefused,
    check_snapshot_file,
    describe_duplicate,
    estimate_rows,
    iter_batches,
    open_snapshot,
    string_buffers,
    user_at_row,
)
from por.liabilities.stages import (
    Plan,
    Progress,
    Stages,
    largest_first,
    level_offsets,
    new_tree_file,
    results_in_order,
)
from verifier.files import fsync_dir
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import (
    HASH_SIZE,
    TAG_SALT,
    Asset,
    check_round_id,
    decode_positions,
    encode_str,
    levels_for,
    margin_root_hash,
    root_hash,
)
from verifier.liabilities.risk import RiskParams, check_rule
from verifier.liabilities.rounddir import (
    INFO_FILE,
    LEGACY_SECRET_FILE,
    RISK_FILE,
    ROOT_FILE,
    TREE_FILE,
)
from verifier.liabilities.summary import RootSummary
from verifier.liabilities.treefile import Layout

__all__ = ["BuildResult", "Interrupted", "MarginBuildResult", "Progress", "build_margin",
           "build_tree", "hmac_sha256_keyed",
           "padded_size", "parse_memory", "stop_on_signals", "stop_workers"]

SECRET_FILE = LEGACY_SECRET_FILE  # the legacy place of a round's secret
PARALLEL_MIN_ROWS = 1 << 14  # below this, worker processes cost more than they save
CHUNK_BYTES = 64 << 20  # the most CSV bytes one ingest task reads
CHUNK_SHIFT = 40  # a spilled row from a worker's part: part << 40 | row in the part
FAST_INGEST = True  # False: the serial ingest only (the reference path, for the tests)
DEFAULT_MEMORY = 3 << 30  # --memory default: bytes the whole build may hold
MAIN_RESERVE = 384 << 20  # this process while ingesting: batches in flight, Arrow, numpy


class _Silent:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


@dataclass(frozen=True)
class MarginBuildResult:
    """What a margin build (spec §15) wrote and measured."""

    out_dir: Path
    summary: MarginRootSummary
    user_count: int
    rows: int
    seconds: dict[str, float]


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



def parse_memory(text: str) -> int:
    """Bytes from a size such as ``3GB``, ``512MiB`` or ``2000000000``.

    Raises:
        InputError: not a positive size.
    """
    units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20,
             "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
             "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40}
    raw = text.strip().lower()
    number = raw.rstrip("abgikmt")
    unit = raw[len(number):].strip()
    if not number.isdigit() or unit not in units or int(number) == 0:
        raise InputError(f"--memory {text!r}: expected a size such as 3GB, 512MB or 2000000000")
    return int(number) * units[unit]


class InlineExecutor(Executor):
    """Runs each task at once in this process: the one-worker case, with no second path."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn`` now; its result or exception is in the returned future."""
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller, as a pool does
            fut.set_exception(e)
        return fut


def _noop() -> None:
    return None


def local_executor(workers: int, rows: int) -> Executor:
    """A process pool of ``workers`` (forked now, while this process is small and has no
    threads), or the inline executor for one worker or a small snapshot."""
    if workers <= 1 or rows < PARALLEL_MIN_ROWS:
        return InlineExecutor()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_init, initargs=(os.getpid(),))
    try:
        for fut in [pool.submit(_noop) for _ in range(workers)]:
            fut.result()
    except BaseException:  # a signal while the workers start: none must be left
        stop_workers(pool)
        raise
    return pool


def make_plan(work_url: str, est_rows: int, k: int, pad_to: int | None, workers: int,
              memory: int, min_buckets: int = 1) -> Plan:
    """Choose the bucket count so that one bucket's work fits a worker's share of memory
    (and at least ``min_buckets``: so that the merge keeps every worker busy).

    A bucket is worked on by one task at a time: its spilled records, their sorted copy,
    the merged leaves and its padding, about four times its records. ``est_rows`` bounds
    the users from above (a user has at least one row), so buckets err on the small side.
    """
    per_task = max(256 << 10, (memory - MAIN_RESERVE - memory // 8) // max(1, workers))
    est_leaves = max(2 * est_rows, pad_to or 1)
    need = 4 * max(est_rows * spill_dtype(k).itemsize,
                   est_leaves * buckets.leaf_dtype(k).itemsize)
    bits = 0
    while bits < buckets.MAX_BUCKET_BITS and ((need >> bits) > per_task
                                              or (1 << bits) < min_buckets):
        bits += 1
    flush = max(64 << 10, (memory // 8) >> bits)
    return Plan(work_url, bits, flush, workers, memory)


@dataclass
class _Spill:
    """Per-bucket buffers of spilled records, written out as objects when full."""

    work: Work
    bits: int
    flush_bytes: int
    buffers: dict[int, list[np.ndarray]] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    seq: int = 0
    prefix: str = ""  # a worker's part of the snapshot: its files' names never clash

    def add(self, records: np.ndarray, commitments: np.ndarray) -> None:
        b = buckets.bucket_of(commitments, self.bits)
        if self.bits:
            # Bucket numbers fit 16 bits (MAX_BUCKET_BITS): numpy radix-sorts those.
            order = np.argsort(b.astype(np.uint16), kind="stable")
            records = buckets.take_rows(records, order)  # rows of bytes, not field by field
            counts = np.bincount(b, minlength=1 << self.bits)
        else:
            counts = np.array([len(records)])
        self._buffer(records, counts)

    def _buffer(self, records: np.ndarray, counts: np.ndarray) -> None:
        """Buffer records ordered by bucket (``counts`` of each), flushing full buckets."""
        edges = np.concatenate(([0], np.cumsum(counts)))
        for bucket in np.flatnonzero(counts).tolist():
            # A view: the slices of ``records`` partition it, so what is buffered is what
            # is held, and each byte is copied once, into the file.
            part = records[edges[bucket] : edges[bucket + 1]]
            self.buffers.setdefault(bucket, []).append(part)
            self.sizes[bucket] = self.sizes.get(bucket, 0) + part.nbytes
            if self.sizes[bucket] >= self.flush_bytes:
                self._flush(bucket)

    def add_grouped(self, g: _Grouped, commitments: bytes, dtype: np.dtype) -> None:
        """Spill one grouped batch's records (with their ``commitments``, in order)."""
        native = buckets.native
        if native is None or not hasattr(native, "spill_records"):
            self.add(*_records(g, commitments, dtype))
            return
        # One C pass: the records laid out and ordered by bucket (what _records, then add's
        # sort and gather do in numpy).
        raw, counts = native.spill_records(
            commitments, np.ascontiguousarray(g.lo, np.uint64).data,
            np.ascontiguousarray(g.hi, np.uint64).data,
            np.ascontiguousarray(g.mask, np.uint64).data,
            np.ascontiguousarray(g.first_row, np.int64).data, g.lo.shape[1], self.bits)
        self._buffer(np.frombuffer(raw, dtype), np.frombuffer(counts, np.int64))

    def _flush(self, bucket: int) -> None:
        self.seq += 1
        self.work.write(f"rows/{bucket:05d}/{self.prefix}{self.seq:08d}",
                        *(part.view(np.uint8).data for part in self.buffers.pop(bucket)))
        self.sizes[bucket] = 0

    def close(self) -> None:
        for bucket in list(self.buffers):
            self._flush(bucket)


@dataclass
class _Grouped:
    """One batch's rows grouped per user (or per run of a user's rows)."""

    ids: tuple[bytes, bytes]  # int64 offsets from 0, UTF-8 bytes
    lo: np.ndarray
    hi: np.ndarray
    mask: np.ndarray
    first_row: np.ndarray
    duplicate: tuple[int, int] | None


def _user_runs(users: pa.Array) -> tuple[tuple[bytes, bytes], np.ndarray, np.ndarray] | None:
    """Runs of adjacent rows of one user: their ids (as :func:`_id_buffers`), each row's
    run, each run's first row; None when runs are mostly one row long (rows not grouped by
    user in the file).

    A user whose rows form two runs of one batch gets two records, merged in stage 2 like
    a user spread over batches; the hashing that numbering users would take is saved.
    """
    n = len(users)
    if n < 2:
        return None
    native = snapshot_module.extension()  # the ingest's extension (tests run without it)
    buffers = string_buffers(users) if hasattr(native, "user_runs") else None
    if buffers is not None:  # one C pass: no comparison array, no take
        found = native.user_runs(*buffers)
        if found is None:
            return None
        starts = np.frombuffer(found[0], np.int64)
        idx = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(starts, append=n))
        return (found[1], found[2]), idx, starts
    new = np.empty(n, np.bool_)
    new[0] = True
    new[1:] = pc.not_equal(users[1:], users[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(new)
    if len(starts) > n // 2:
        return None
    idx = np.cumsum(new, dtype=np.int64)
    idx -= 1
    return _id_buffers(users.take(pa.array(starts))), idx, starts


def _group(batch: Any, first_row: int, k: int, runs: bool = False) -> _Grouped:
    """Group a converted batch per user: amounts, assets present, the user's first row.

    A margin batch's rows hold three amounts each (equity, debt, collateral): the user's
    record then has them per asset, in that order (3k slots, spec §15.2). ``runs``: a
    record per run of a user's adjacent rows (:func:`_user_runs`) where the batch has
    such runs, else per user.
    """
    found = _user_runs(batch.users) if runs else None
    if found is not None:
        ids, idx, starts = found
    else:
        encoded = batch.users.dictionary_encode()
        idx = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        ids = _id_buffers(encoded.dictionary)
        starts = None
    u = len(ids[0]) // 8 - 1
    key = idx * k + batch.asset_idx
    dup = None
    mask = None
    if starts is not None:
        # Assets present per run: one OR per run; an asset twice in a run shows as fewer
        # bits than rows (which one is named by the serial ingest, not here).
        bit = np.left_shift(np.uint64(1), batch.asset_idx.astype(np.uint64))
        mask = np.bitwise_or.reduceat(bit, starts)
        lengths = np.diff(starts, append=len(idx))
        clash = np.flatnonzero(np.bitwise_count(mask).astype(np.int64) != lengths)
        if len(clash):
            dup = (first_row + int(starts[clash[0]]), 0)
    else:
        counts = np.bincount(key, minlength=u * k)
        if (counts > 1).any():
            dup_key = int(np.flatnonzero(counts > 1)[0])
            dup = (first_row + int(np.flatnonzero(key == dup_key)[0]), dup_key % k)
    parts = 1 if batch.lo.ndim == 1 else batch.lo.shape[1]
    lo = np.zeros((u, k * parts), np.uint64)
    hi = np.zeros((u, k * parts), np.uint64)
    if parts == 1:
        lo.reshape(-1)[key] = batch.lo
        hi.reshape(-1)[key] = batch.hi
    else:
        # A margin row's three amounts move as one 24-byte item: numpy scatters rows of a
        # 2-D array element by element, several times slower.
        item = np.dtype((np.void, 8 * parts))
        for dest, src in ((lo, batch.lo), (hi, batch.hi)):
            dest.reshape(u * k, parts).view(item).reshape(-1)[key] = (
                np.ascontiguousarray(src).view(item).reshape(-1))
    if starts is not None and mask is not None:
        return _Grouped(ids, lo, hi, mask, first_row + starts, dup)
    present = np.zeros(u * k, np.uint64)
    present[key] = 1
    mask = (present.reshape(u, k) << np.arange(k, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)
    # dictionary_encode numbers users in order of first appearance, so user j's first row
    # is where the running maximum of the indices first reaches j.
    running = np.maximum.accumulate(idx)
    new = np.concatenate(([True], running[1:] > running[:-1]))
    return _Grouped(ids, lo, hi, mask, first_row + np.flatnonzero(new), dup)


def _fused_runs(reader: Any, raw: pa.RecordBatch, first_row: int, k: int
                ) -> _Grouped | bool | None:
    """:func:`_group` with runs of a raw batch, converted and grouped in one C pass
    (:meth:`snapshot._Reader.runs`); None or False (rows not grouped by user) when the
    reference path (``convert``, then :func:`_group`) must take the batch."""
    found = reader.runs(raw, first_row)
    if found is None or found is False:
        return found
    run_offsets, run_data, lo, hi, mask, rows, duplicate = found
    slots = k * reader.parts
    return _Grouped((run_offsets, run_data), np.frombuffer(lo, np.uint64).reshape(-1, slots),
                    np.frombuffer(hi, np.uint64).reshape(-1, slots),
                    np.frombuffer(mask, np.uint64), np.frombuffer(rows, np.int64),
                    (duplicate, 0) if duplicate >= 0 else None)


def _id_buffers(ids: pa.Array) -> tuple[bytes, bytes]:
    """int64 offsets and UTF-8 bytes of a string array, rebased to start at zero."""
    wide = pa.types.is_large_string(ids.type)
    offsets = np.frombuffer(ids.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[ids.offset : ids.offset + len(ids) + 1].astype(np.int64)
    base = int(offsets[0])
    data = memoryview(ids.buffers()[2])[base : int(offsets[-1])].tobytes() if len(ids) else b""
    return (offsets - base).tobytes(), data


@dataclass
class _Ingest:
    rows: int = 0
    duplicate: tuple[int, int] | None = None
    parts: int = 1  # amounts per (user, asset) in the spilled records
    row_starts: np.ndarray | None = None  # parts read by workers: each one's first file row

    def file_row(self, row: int) -> int:
        """The file row (0-based) of a spilled record's ``row``."""
        if self.row_starts is None:
            return row
        return int(self.row_starts[row >> CHUNK_SHIFT]) + (row & ((1 << CHUNK_SHIFT) - 1))


def _ingest(snapshot: Path, assets: tuple[Asset, ...], round_id: str, secret: bytes,
            plan: Plan, executor: Executor, progress: Progress, margin: bool) -> _Ingest:
    """Stage 1: read, validate, commit and spill every user record into its bucket."""
    k = len(assets)
    reader = open_snapshot(snapshot, assets, margin)
    reader.check_header()  # the columns say how many amounts a row holds
    spill = _Spill(Work(plan.work_url), plan.bits, plan.flush_bytes)
    dtype = spill_dtype(k * reader.parts)
    state = _Ingest(parts=reader.parts)
    in_flight: deque[tuple[Future[bytes], _Grouped]] = deque()

    def settle(fut: Future[bytes], g: _Grouped) -> None:
        spill.add_grouped(g, fut.result(), dtype)

    for batch, first in iter_batches(reader, progress.advance):
        state.rows += len(batch.lo)
        g = _group(batch, first, k)
        if g.duplicate and (state.duplicate is None or g.duplicate < state.duplicate):
            state.duplicate = g.duplicate
        offsets, data = g.ids
        g.ids = (b"", b"")
        in_flight.append((executor.submit(buckets.commit_users, offsets, data, secret,
                                          round_id), g))
        while len(in_flight) > 2 * plan.workers or (in_flight and in_flight[0][0].done()):
            settle(*in_flight.popleft())
    while in_flight:
        settle(*in_flight.popleft())
    spill.close()
    if state.rows == 0:
        raise InputError(f"{snapshot}: the snapshot has no rows")
    return state


def _records(g: _Grouped, commitments: bytes, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    c = np.frombuffer(commitments, np.uint8).reshape(-1, HASH_SIZE)
    rec = np.empty(len(c), dtype)
    rec["c"], rec["lo"], rec["hi"] = c, g.lo, g.hi
    rec["mask"], rec["row"] = g.mask, g.first_row
    return rec, c


def ingest_chunk(path: str, assets: tuple[Asset, ...], margin: bool, names: list[str],
                 chunk: int, start: int, stop: int, secret: bytes, round_id: str,
                 work_url: str, bits: int, flush_bytes: int) -> int | None:
    """Stage 1 for one part of the snapshot, all in this worker: read (one thread),
    validate, group per user, commit (spec §4) and spill into the buckets.

    A record's ``row`` is ``chunk << CHUNK_SHIFT`` plus the row within the part: in file
    order, like the file row, and made one once every part's row count is known.

    Returns:
        The part's rows; None when the part holds anything the serial ingest must name
        (a bad value, a duplicate (user, asset), a read error): nothing of it is kept.
    """
    reader = open_snapshot(path, assets, margin)
    reader.check_header()
    k = len(assets)
    dtype = spill_dtype(k * reader.parts)
    spill = _Spill(Work(work_url), bits, flush_bytes, prefix=f"c{chunk:07d}-")
    rows = 0
    grouped = True  # rows grouped by user so far: runs found in one C pass
    try:
        for raw in reader.chunk_batches(names, start, stop):
            first = (chunk << CHUNK_SHIFT) + rows
            g = _fused_runs(reader, raw, first, k) if grouped else None
            if g is False:
                grouped = False
            if not isinstance(g, _Grouped):  # the reference path decides this batch
                g = _group(reader.convert(raw, 0), first, k, runs=True)
            if g.duplicate:
                return None
            rows += raw.num_rows
            if rows >= 1 << CHUNK_SHIFT:
                return None
            offsets, data = g.ids
            spill.add_grouped(g, buckets.commit_users(offsets, data, secret, round_id), dtype)
    except (InputError, ChunkRefused):
        return None
    spill.close()
    return rows


def _ingest_chunked(snapshot: Path, assets: tuple[Asset, ...], round_id: str, secret: bytes,
                    plan: Plan, executor: Executor, progress: Progress,
                    margin: bool) -> _Ingest | None:
    """Stage 1 with every worker reading its own parts of the snapshot from the first byte.

    None when the file cannot be cut into parts, or some part holds something to report
    (then nothing of this pass is kept, and :func:`_ingest` reads the file and names it).
    """
    reader = open_snapshot(snapshot, assets, margin)
    cut = reader.chunks(plan.workers, CHUNK_BYTES) if FAST_INGEST else None
    if cut is None or len(cut[1]) >= 1 << (63 - CHUNK_SHIFT):
        return None
    names, parts = cut
    flush = max(64 << 10, plan.flush_bytes // max(1, plan.workers))
    futures = [executor.submit(ingest_chunk, str(snapshot), assets, margin, names, i, a, b,
                               secret, round_id, plan.work_url, plan.bits, flush)
               for i, (a, b) in enumerate(parts)]
    counts: list[int] = []
    for rows in results_in_order(futures):
        if rows is None:
            for other in futures:
                other.cancel()
            for other in futures:  # those already running write spills: wait, then drop
                with contextlib.suppress(Exception):
                    other.result()
            Work(plan.work_url).remove("rows")
            return None
        counts.append(rows)
        progress.advance(rows)
    if sum(counts) == 0:
        Work(plan.work_url).remove("rows")
        return None
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return _Ingest(rows=sum(counts), parts=reader.parts, row_starts=starts)


def _check_hmac(key: bytes, prefix: bytes, message: bytes) -> None:
    """Refuse to build if the precomputed HMAC ever disagrees with the standard library."""
    inner, outer = hmac_sha256_keyed(key, prefix)
    inner.update(message)
    outer.update(inner.digest())
    if outer.digest() != hmac.digest(key, prefix + message, "sha256"):
        raise VerificationError("precomputed HMAC-SHA256 differs from hmac.digest")


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, -(-total // parts))
    return [(s, min(s + step, total)) for s in range(0, total, step)]


def prepare(snapshot: Path, assets: tuple[Asset, ...], round_id: str, secret: bytes,
            plan: Plan, executor: Executor, pad_to: int | None, progress: Progress,
            timings: dict[str, float], risk: RiskParams | None = None,
            chunked: bool = False) -> Stages:
    """Stages 1-3: ingest and spill, merge each bucket (checking each user's margin rule
    when ``risk`` is given), add the padding.

    ``chunked`` (the snapshot is readable where the executor's workers run): each worker
    reads parts of the snapshot itself (:func:`ingest_chunk`); a part with anything to
    report sends the build back to the serial ingest, which words every message.

    Raises:
        InputError: a bad value (by file, line and column), a duplicate (user, asset), an
            empty snapshot, collateral above equity (margin).
        VerificationError: a margin account under water (user, line, both sides).
    """
    margin = risk is not None
    k = len(assets) * (POSITION_PARTS if margin else 1)
    rid = encode_str(round_id.encode())
    _check_hmac(secret, TAG_SALT + rid, encode_str(b"user"))
    buckets.check_native()
    t = time.perf_counter()
    size = os.path.getsize(snapshot) if os.path.exists(snapshot) else 0
    progress.start("reading snapshot", max(estimate_rows(snapshot), 1) if size else 1)
    ingest = None
    if chunked:
        ingest = _ingest_chunked(snapshot, assets, round_id, secret, plan, executor, progress,
                                 margin)
    timings["ingest"] = time.perf_counter() - t
    merged = None
    if ingest is not None:
        t = time.perf_counter()
        merged = _merge(plan, executor, progress, k, risk, len(assets) * ingest.parts)
        timings["merge"] = time.perf_counter() - t
        if merged[1]:
            # A duplicate (user, asset): which one the serial ingest names first depends
            # on its batches, so it reads the file and names it, as it always has.
            Work(plan.work_url).remove("users")
            ingest = merged = None
    if ingest is None:
        t = time.perf_counter()
        progress.start("reading snapshot", max(estimate_rows(snapshot), 1) if size else 1)
        ingest = _ingest(snapshot, assets, round_id, secret, plan, executor, progress, margin)
        if ingest.duplicate:
            row, asset = ingest.duplicate
            raise describe_duplicate(snapshot, assets, row, asset, margin)
        timings["ingest"] = time.perf_counter() - t
        t = time.perf_counter()
        merged = _merge(plan, executor, progress, k, risk, len(assets) * ingest.parts)
        timings["merge"] = time.perf_counter() - t
    users, dups, unders = merged if merged is not None else (None, [], [])
    if dups:
        row, asset = min(dups)
        raise describe_duplicate(snapshot, assets, ingest.file_row(row), asset, margin)
    if unders and risk is not None:
        row, positions = min(unders)
        raise _under_water(snapshot, assets, risk, ingest.file_row(row), positions)
    assert users is not None

    t = time.perf_counter()
    n_users = int(users.sum())
    layout = Layout.for_tree(round_id, assets, padded_size(n_users, pad_to),
                             risk.hash if risk is not None else None)
    n_pad = layout.leaf_count - n_users
    parts = _split(n_pad, 4 * plan.workers) if n_pad else []
    progress.start("padding", max(n_pad, 1))
    pad_futures = [executor.submit(buckets.pad_range, plan.work_url, secret, round_id, s, e,
                               plan.bits, part) for part, (s, e) in enumerate(parts)]
    pads = np.zeros(plan.bucket_count, np.int64)
    for (s, e), counts in zip(parts, results_in_order(pad_futures), strict=True):
        pads += np.array(counts, np.int64)
        progress.advance(e - s)
    sizes = users + pads
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    table = [(b, int(starts[b]), int(sizes[b])) for b in range(plan.bucket_count)]
    timings["padding"] = time.perf_counter() - t
    return Stages(n_users, ingest.rows, layout, table)


def _merge(plan: Plan, executor: Executor, progress: Progress, k: int,
           risk: RiskParams | None, spilled: int
           ) -> tuple[np.ndarray, list[tuple[int, int]], list[tuple[int, bytes]]]:
    """Stage 2: every bucket merged; users per bucket, the duplicates and the accounts
    under water found (by spilled row)."""
    progress.start("merging buckets", plan.bucket_count)
    futures = [executor.submit(buckets.merge_bucket, plan.work_url, b, k,
                               risk.canonical if risk is not None else None, spilled)
               for b in range(plan.bucket_count)]
    users = np.zeros(plan.bucket_count, np.int64)
    dups = []
    unders = []
    for b, (count, dup, under) in enumerate(results_in_order(futures)):
        users[b] = count
        if dup:
            dups.append(dup)
        if under:
            unders.append(under)
        progress.advance(1)
    return users, dups, unders


def _under_water(snapshot: Path, assets: tuple[Asset, ...], risk: RiskParams, row: int,
                 positions: bytes) -> PorError:
    """The refusal of the earliest account under water, worded as
    :mod:`por.liabilities.margin` words it: file and line, the user id, and both sides of
    the inequality (spec §15.6).

    A stage-2 worker found it by commitment and first row; the user id is read back from
    the file, and the verdict and its wording come from the verifier's own rule.
    """
    user, where = user_at_row(snapshot, assets, row, margin=True)
    try:
        check_rule(risk, decode_positions(positions), f"user {user!r}")
    except VerificationError as e:
        if "under water" in str(e):  # well-formed input, but the rule fails: exit 1
            return VerificationError(
                f"{snapshot}, {where}: {e}; liquidate the account or cover it from an"
                " insurance-fund account listed as a user (spec §15.6); nothing was written")
        return InputError(f"{snapshot}, {where}: {e}")
    return VerificationError(f"{snapshot}, {where}: a worker found user {user!r} under water"
                             " but the rule holds here; refusing to build")


def summary_of(layout: Layout, top: bytes) -> RootSummary | MarginRootSummary:
    """The root summary of a tree whose top record is ``top`` (spec §7, or §15.10)."""
    top_hash, top_sums_be = top[:HASH_SIZE], top[HASH_SIZE:]
    if layout.risk_hash is not None:
        return MarginRootSummary(
            layout.round_id, layout.assets, layout.leaf_count, layout.risk_hash,
            margin_root_hash(layout.round_id, layout.assets, layout.leaf_count,
                             layout.risk_hash, top_hash, top_sums_be),
            tuple(decode_positions(top_sums_be)))
    return RootSummary(
        round_id=layout.round_id,
        assets=layout.assets,
        leaf_count=layout.leaf_count,
        root_hash=root_hash(layout.round_id, layout.assets, layout.leaf_count, top_hash,
                            top_sums_be),
        totals=tuple(int.from_bytes(top_sums_be[i : i + 16], "big")
                     for i in range(0, len(top_sums_be), 16)),
    )


def _hash_local(stages: Stages, plan: Plan, executor: Executor, tmp: Path,
                progress: Progress) -> bytes:
    """Stage 4 on this machine, straight into the file: each bucket's leaves and every node
    above them that lies inside the bucket, hashed in one task and never read back; then
    the few nodes that straddle buckets, and the levels above, from the tasks' edges."""
    layout = stages.layout
    new_tree_file(tmp, layout)
    offsets = level_offsets(layout)
    k = (layout.record_size - HASH_SIZE) // 16
    progress.start("hashing", layout.leaf_count)
    work = largest_first(stages.table)
    futures = [
        executor.submit(buckets.hash_bucket_local, plan.work_url, k, bucket, start, size,
                        str(tmp), layout.commitments_offset, offsets, layout.record_size,
                        layout.is_margin)
        for bucket, start, size in work
    ]
    edges: list[tuple[int, int, bytes]] = []
    for (_, _, size), found in zip(work, results_in_order(futures), strict=True):
        edges.extend(found)
        progress.advance(size)
    return buckets.fix_up(str(tmp), offsets, layout.record_size, edges, layout.is_margin)


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
    memory: int = DEFAULT_MEMORY,
    work_dir: str | None = None,
    cluster: str | None = None,
    secret_out: Path | None = None,
) -> BuildResult:
    """Build the tree of a round and write ``tree.bin``, ``root.json`` and ``build-info.json``.

    Nothing is created until the cheap checks pass (the snapshot's file, header and
    columns; the output directory); then everything is made in a private staging directory
    beside ``out_dir`` (mode 0700, with the spilled buckets) and moved into ``out_dir`` only
    once the whole snapshot is valid and the tree is built. A failure, SIGINT or SIGTERM
    removes the staging directory, the spills and any directory the build created, and
    stops the worker processes: a failed build leaves nothing behind.

    Args:
        snapshot_path: CSV or Parquet, long format (``user_id, asset, amount``), in any
            row order.
        assets: the round's asset list.
        round_id: the round id.
        secret: the round secret.
        out_dir: where the round's files go.
        pad_to: pad to at least this many leaves (a power of two).
        workers: processes on this machine (default: every core).
        progress: where stages report progress.
        memory: bytes the build may hold; buckets are sized so that it never needs more.
        work_dir: where spilled buckets go (a path or an fsspec URL; default: the private
            staging directory). With ``cluster`` it must be storage every worker reaches.
        cluster: a dask.distributed scheduler address (``tcp://host:8786``), or
            ``"config"`` to use the scheduler named in the Dask configuration.
        secret_out: a new file to write ``secret`` to (0600, in a 0700 directory) once the
            tree is built, before it is moved into place (nothing is written on failure).

    Raises:
        InputError: bad snapshot, sums that overflow, or an output directory already built.
        PorError: the disk is full or a file cannot be written (nothing is left behind).
        KeyboardInterrupt: SIGINT, or :class:`Interrupted` for SIGTERM (cleaned up).
    """
    summary, users, rows, timings = _build(
        snapshot_path, assets, round_id, secret, out_dir, None, pad_to=pad_to,
        workers=workers, progress=progress, memory=memory, work_dir=work_dir,
        cluster=cluster, secret_out=secret_out)
    if not isinstance(summary, RootSummary):  # pragma: no cover - _build's contract
        raise VerificationError("a spot build made another scheme's round")
    return BuildResult(Path(out_dir), summary, users, rows, timings)


def build_margin(
    snapshot_path: str | Path,
    assets: tuple[Asset, ...],
    risk: RiskParams,
    round_id: str,
    secret: bytes,
    out_dir: str | Path,
    **options: Any,
) -> MarginBuildResult:
    """Build a margin round (spec §15) and write ``tree.bin``, ``root.json``, ``risk.json``
    and ``build-info.json``: :func:`build_tree`'s pipeline, with the same ``options``.

    The snapshot is a margin snapshot (spec §15.11: ``user_id, asset, equity, debt[,
    collateral]`` or a signed ``amount``), CSV or Parquet, rows in any order. Every user's
    rule (§15.6) is checked in stage 2, before anything is hashed.

    Raises:
        InputError: bad snapshot (file, line, column), collateral above equity (user and
            line), an asset list the risk file does not price, an output directory
            already built.
        VerificationError: an account under water: its user id, line and both sides of
            the inequality; nothing is written.
        PorError: the disk is full or a file cannot be written (nothing is left behind).
    """
    summary, users, rows, timings = _build(snapshot_path, assets, round_id, secret, out_dir,
                                           risk, **options)
    if not isinstance(summary, MarginRootSummary):  # pragma: no cover - _build's contract
        raise VerificationError("a margin build made another scheme's round")
    return MarginBuildResult(Path(out_dir), summary, users, rows, timings)


def _build(
    snapshot_path: str | Path,
    assets: tuple[Asset, ...],
    round_id: str,
    secret: bytes,
    out_dir: str | Path,
    risk: RiskParams | None,
    *,
    pad_to: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    memory: int = DEFAULT_MEMORY,
    work_dir: str | None = None,
    cluster: str | None = None,
    secret_out: Path | None = None,
) -> tuple[RootSummary | MarginRootSummary, int, int, dict[str, float]]:
    """:func:`build_tree` (``risk`` None) or :func:`build_margin`: the summary, the user
    and row counts, and the seconds of each stage."""
    check_round_id(round_id)
    progress = progress or _Silent()
    out = Path(out_dir)
    if (out / ROOT_FILE).exists() or (out / TREE_FILE).exists():
        raise InputError(f"{out}: a tree was already built there; choose another --out")
    if risk is not None and (out / RISK_FILE).exists():
        raise InputError(f"{out / RISK_FILE}: refusing to overwrite; choose another --out")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if risk is not None:
        risk.check_round_assets(assets, "risk parameters")
    snapshot = Path(snapshot_path)
    check_snapshot_file(snapshot, margin=risk is not None)
    slots = len(assets) * (POSITION_PARTS if risk is not None else 1)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with stop_on_signals(), contextlib.ExitStack() as stack:
        try:
            created = make_parents(out.parent)
            stack.callback(remove_empty_dirs, created)
            remove_stale(out.parent, f".{out.name}.building-")
            staging = out.parent / f".{out.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            staging.mkdir(mode=0o700)
            stack.callback(shutil.rmtree, staging, True)
            if work_dir is None:
                work_url = str(staging / "work")
            else:
                work_url = f"{work_dir.rstrip('/')}/build-{uuid.uuid4().hex}"
            work = Work(work_url)
            made_work_dir = (work_dir is not None and "://" not in work_dir
                             and not Path(work_dir).exists())
            stack.callback(_remove_work, work, work_dir if made_work_dir else None)
            _private_local_dir(work_url)
            tmp = staging / TREE_FILE
            if cluster:
                from por.liabilities.distributed import connect, hash_on_cluster

                executor, n_workers = connect(cluster, stack)
                plan = make_plan(work_url, estimate_rows(snapshot), slots, pad_to,
                                 n_workers, memory)
                stages = prepare(snapshot, assets, round_id, secret, plan, executor, pad_to,
                                 progress, timings, risk)
                t = time.perf_counter()
                top = hash_on_cluster(stages, plan, executor, tmp, progress)
            else:
                n_workers = max(1, workers or os.cpu_count() or 1)
                rows = estimate_rows(snapshot)
                pool = stack.enter_context(stopping(local_executor(n_workers, rows)))
                parallel = not isinstance(pool, InlineExecutor)
                plan = make_plan(work_url, rows, slots, pad_to, n_workers, memory,
                                 2 * n_workers if parallel else 1)
                stages = prepare(snapshot, assets, round_id, secret, plan, pool, pad_to,
                                 progress, timings, risk, chunked=True)
                t = time.perf_counter()
                top = _hash_local(stages, plan, pool, tmp, progress)
            timings["hashing"] = time.perf_counter() - t
            summary = summary_of(stages.layout, top)
            if risk is not None:
                (staging / RISK_FILE).write_bytes(risk.canonical)
            # Plain writes: the private staging directory is what makes the round appear
            # whole (_publish); these files are public, with the umask's mode.
            (staging / ROOT_FILE).write_text(summary.to_json())
            timings["total"] = time.perf_counter() - t0
            info = {"round": round_id, "users": stages.users, "rows": stages.rows,
                    "leaf_count": stages.layout.leaf_count, "seconds": timings,
                    "workers": plan.workers, "buckets": plan.bucket_count,
                    "memory": plan.memory, "cluster": bool(cluster),
                    "scheme": "por-mst-margin" if risk is not None else "por-mst"}
            (staging / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
            work.remove("")
            if secret_out is not None:
                write_secret(secret_out, secret)
                stack.callback(_unlink_unless, secret_out, (out / ROOT_FILE).exists)
            _publish(staging, out)
            created.clear()  # out's parents now hold the round: keep them
        except OSError as e:
            raise write_error(e, out) from e
    return summary, stages.users, stages.rows, timings


# ------------------------------------------------------------- leaving nothing behind


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) received: raised like Ctrl-C so that every cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Interrupted` (SIGINT already
    raises KeyboardInterrupt), so ``finally`` blocks remove partial output and stop the
    workers; a second signal during that cleanup is ignored. Only in the main thread (the
    only one Python delivers signals to); elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = False

    def handler(signum: int, _frame: Any) -> None:
        nonlocal caught
        if caught:
            return
        caught = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(signum)

    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _worker_init(parent: int) -> None:
    """In each worker: die with the parent, and leave SIGINT, SIGTERM and SIGHUP to it (a
    signal to the whole process group, as Ctrl-C or a service manager sends, must not kill
    workers under the pool's feet: the parent stops them, in order, in stop_workers)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        # PR_SET_PDEATHSIG (Linux): if the parent is killed outright (SIGKILL, OOM), the
        # kernel kills this worker too instead of leaving it blocked on the result pipe.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def stopping(executor: Executor) -> Iterator[Executor]:
    """Shut ``executor`` down on leaving; on an error or a signal, terminate its worker
    processes first (waiting for a pool's pending tasks could take minutes)."""
    try:
        yield executor
    except BaseException:
        stop_workers(executor)
        raise
    try:
        executor.shutdown()
    except BaseException:  # a signal while waiting for the workers to exit
        stop_workers(executor)
        raise


def stop_workers(executor: Executor) -> None:
    """Terminate a process pool's workers, wait for them and for its manager thread, and
    shut the pool down: no process, thread or traceback is left, whatever state it was in.

    Only the pool's manager thread may touch its table of pending work and its queue of
    work ids (removing an entry from here raced with it: ``KeyError`` in that thread).
    So the pool is first told to shut down and cancel what has not started, and the
    manager does it; only then are the workers killed, so that the manager, finding them
    dead, fails only tasks that were running (Python 3.11's ``terminate_broken`` raises
    ``InvalidStateError`` on a future the caller had already cancelled).
    """
    if not isinstance(executor, ProcessPoolExecutor):
        executor.shutdown(wait=True, cancel_futures=True)
        return
    manager = getattr(executor, "_executor_manager_thread", None)
    call_queue = getattr(executor, "_call_queue", None)
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    # The call queue's feeder thread may be blocked writing a task into a full pipe that
    # no worker will read any more; joining it at shutdown would then hang for ever
    # (seen as a prove-all that never exits after SIGINT). The tasks are abandoned.
    if call_queue is not None:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            call_queue.cancel_join_thread()
    # The manager clears the flag once it has dropped the cancelled and unstarted work
    # (it is woken by shutdown, at once: it never blocks elsewhere for long).
    deadline = time.monotonic() + 10
    while (manager is not None and manager.is_alive()
           and getattr(executor, "_cancel_pending_futures", False)
           and time.monotonic() < deadline):
        time.sleep(0.002)
    for proc in processes:
        with contextlib.suppress(OSError, ValueError):
            proc.kill()  # workers ignore SIGINT, SIGTERM and SIGHUP (_worker_init)
    for proc in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            proc.join(10)
    if manager is not None:
        manager.join()


def make_parents(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; the ones created, deepest first."""
    missing = []
    p = path.absolute()
    while not p.exists():
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    return missing


def remove_stale(folder: Path, prefix: str) -> None:
    """Remove staging directories ``PREFIX<pid>-<hex>`` in ``folder`` whose process is gone
    (a build or prove-all killed outright, SIGKILL or a power cut, could not clean up)."""
    for entry in folder.glob(f"{prefix}*"):
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass  # alive (another user's, or no permission to ask): leave it


def remove_empty_dirs(dirs: list[Path]) -> None:
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


def _remove_work(work: Work, created_dir: str | None) -> None:
    """Remove this build's folder of spills, and the --work-dir if this build created it."""
    with contextlib.suppress(OSError):
        work.remove("")
    if created_dir is not None:
        with contextlib.suppress(OSError):
            Path(created_dir).rmdir()  # only if empty: never another build's spills


def _private_local_dir(url: str) -> None:
    """Create a local work folder with mode 0700 (spills hold every balance)."""
    if "://" in url and not url.startswith("file://"):
        return
    path = Path(url.removeprefix("file://"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def _unlink_unless(path: Path, kept: Callable[[], bool]) -> None:
    if not kept():
        path.unlink(missing_ok=True)


def _publish(staging: Path, out: Path) -> None:
    """Move the built files into ``out``: the whole staging directory when ``out`` does not
    exist, else file by file, root.json last (its presence marks a finished build)."""
    shutil.rmtree(staging / "work", ignore_errors=True)
    if not out.exists():
        staging.chmod(0o777 & ~_umask())  # as mkdir would have made it
        os.rename(staging, out)
        fsync_dir(out.parent)
        return
    moved = []
    try:
        for name in (TREE_FILE, INFO_FILE, RISK_FILE, ROOT_FILE):
            if name == RISK_FILE and not (staging / name).exists():
                continue
            os.replace(staging / name, out / name)
            moved.append(out / name)
        fsync_dir(out)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_error(e: OSError, out: Path) -> PorError:
    """A clear message for a write that failed (full disk, quota, file size limit)."""
    full = e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    what = "the disk is full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror
    where = f" ({e.filename})" if e.filename else ""
    hint = ("; free space or set --work-dir elsewhere" if full else "")
    return PorError(f"{out}: cannot write the build's files: {what}{where}{hint}; the"
                    " partial output was removed")


def write_secret(path: Path, secret: bytes) -> None:
    """Write a new round secret file (0600) in a private directory (0700 if created).

    Raises:
        InputError: the file exists already or cannot be written.
    """
    from por.liabilities.secret import create_secret

    create_secret(path, secret)
