"""The C-speed floor of a build: OpenSSL's SHA-256, in C loops, over exactly the preimages
the build hashes, on one core and on two; later build figures are given as a ratio to it.

For U users, k assets and N leaves (U padded to a power of two, spec §5), the build hashes:

- per user, the salt HMAC-SHA256(secret, SALT tag ‖ round ‖ id) and the commitment
  SHA-256(USER tag ‖ round ‖ id ‖ salt) (spec §4): the snapshot's real ids, so the exact
  lengths;
- per padding leaf (N - U), HMAC-SHA256(secret, PAD tag ‖ round ‖ u64 index) (spec §5);
- per leaf (N), SHA-256(LEAF tag ‖ commitment ‖ k amounts) (spec §6), 16 + 32 + 16k bytes;
- per inner node (N - 1), SHA-256(NODE tag ‖ 2 x (hash ‖ k sums)), 16 + 2(32 + 16k) bytes.

The floor is "OpenSSL SHA-256 over the build's exact preimages, standard API, on 2 cores":
its loops are ``por._fasthash``'s ``floor_*`` functions (``floor_commitments``,
``floor_pad_commitments``, ``floor_hash_records``), which keep the builder's loops as they
were before issue 16's per-call work (SHA256_Init/Update/Final per message, the HMAC key
schedule done once per call, hmac_sha256.h; the GIL released), so that floor figures from
before and after that work stay comparable; the builder's own loops (sha256_blocks.h:
whole blocks, padding and midstates set up once per call) are faster than this floor.
The loops run over synthetic buffers of the same sizes, with nothing else (no reading,
parsing, grouping, sorting, spilling or writing). Two cores: two threads, each half of
every call.

A second, stricter yardstick row: the build's total count of 64-byte SHA-256
compressions (each message's blocks with its padding; an HMAC's key blocks once per
call) times OpenSSL's bulk time per block (hashlib over 64 MiB in each of two threads at
once, in the same run): what the SHA-256 work would cost with no per-message overhead at
all.

Run: .venv/bin/python bench/bench_floor.py [--users 1000000] [--assets 4]
     .venv/bin/python bench/bench_floor.py --per-call   (each loop's ns per block, 1 core)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from snapshot_gen import snapshot_path

README = Path(__file__).parent / "README.md"
START = "<!-- bench_floor:start -->"
END = "<!-- bench_floor:end -->"
ROUND = "bench-round"  # bench_build.py's round id: the same preimage lengths
SECRET = bytes(range(32))


@dataclass(frozen=True)
class Floor:
    """The floor of one build shape, in seconds."""

    users: int
    leaves: int
    assets: int
    preimages: int
    bytes_hashed: int
    one_core: float
    two_cores: float
    stages: dict[str, float]  # two cores, per kind of preimage
    compressions: int = 0  # 64-byte SHA-256 compressions of the build
    bulk_ns_per_block: float = 0.0  # OpenSSL's bulk rate, two threads at once
    blocks_two_cores: float = 0.0  # compressions x bulk rate / 2: the stricter row


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    step = -(-n // parts)
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def c_floor(ids_offsets: np.ndarray, ids_data: bytes, leaves: int, assets: int,
            threads: int, round_id: str = ROUND) -> dict[str, float]:
    """Seconds per kind of preimage with ``threads`` threads (each takes a share), on the
    standard-API loops (``floor_*``: see the module's docstring)."""
    from por.liabilities import buckets
    from verifier.liabilities.mst import TAG_LEAF, TAG_NODE, TAG_PAD, TAG_SALT, TAG_USER, encode_str

    native = buckets.native
    if native is None:
        raise SystemExit("por._fasthash is not built: `make setup` builds it")
    # A build from before the floor_* loops: its own loops are the standard-API ones.
    floor_hash = getattr(native, "floor_hash_records", native.hash_records)
    rid = encode_str(round_id.encode())
    users = len(ids_offsets) - 1
    width = 32 + 16 * assets
    rng = np.random.default_rng(1)
    leaf_data = rng.integers(0, 256, leaves * width, np.uint8).tobytes()
    node_data = rng.integers(0, 256, (leaves - 1) * 2 * width, np.uint8).tobytes()
    user_parts = []
    for a, b in _split(users, threads):
        off = ids_offsets[a:b + 1]
        user_parts.append(((off - off[0]).tobytes(), ids_data[int(off[0]):int(off[-1])]))
    timings: dict[str, float] = {}
    with ThreadPoolExecutor(threads) as pool:

        def run(name: str, calls: list[tuple[object, ...]], fn: object) -> None:
            t0 = time.perf_counter()
            list(pool.map(lambda args: fn(*args), calls))  # type: ignore[operator]
            timings[name] = time.perf_counter() - t0

        run("user salts and commitments", [
            (SECRET, TAG_SALT + rid, TAG_USER + rid, data, off) for off, data in user_parts],
            getattr(native, "floor_commitments", native.commitments))
        run("padding commitments", [
            (SECRET, TAG_PAD + rid, a, b) for a, b in _split(leaves - users, threads)],
            getattr(native, "floor_pad_commitments", native.pad_commitments))
        run("leaf hashes", [
            (TAG_LEAF, leaf_data[a * width:b * width], width)
            for a, b in _split(leaves, threads)], floor_hash)
        run("node hashes", [
            (TAG_NODE, node_data[a * 2 * width:b * 2 * width], 2 * width)
            for a, b in _split(leaves - 1, threads)], floor_hash)
    return timings


def bulk_ns_per_block(threads: int = 2, mib: int = 64, repeat: int = 3) -> float:
    """OpenSSL's bulk SHA-256 (hashlib, the GIL released): ns per 64-byte block on each
    core while ``threads`` threads each hash ``mib`` MiB at once (fastest of ``repeat``);
    ``threads`` cores do ``threads`` blocks in that time."""
    import hashlib

    data = np.random.default_rng(3).integers(0, 256, mib << 20, np.uint8).tobytes()
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            list(pool.map(lambda _: hashlib.sha256(data).digest(), range(threads)))
            best = min(best, time.perf_counter_ns() - t0)
    return best / (len(data) // 64)


def compressions(id_lengths: np.ndarray, leaves: int, assets: int,
                 round_id: str = ROUND) -> int:
    """The 64-byte compressions of a build: per user the salt HMAC's inner blocks after
    the key block and its one outer block, and the commitment's blocks; per padding leaf
    the same for its HMAC; per leaf and per node their blocks (each message with its
    padding: ``(length + 9)`` bytes rounded up to 64). The HMAC key blocks (two per call)
    are left out."""
    rid = 2 + len(round_id.encode())
    lens = id_lengths.astype(np.int64)
    salt_inner = (64 + 16 + rid + 2 + lens + 8) // 64 + 1 - 1  # after the key block
    commitment = (16 + rid + 2 + lens + 32 + 8) // 64 + 1
    per_user = salt_inner + 1 + commitment  # the outer HMAC message: one block
    width = 32 + 16 * assets
    pad = _blocks(64 + 16 + rid + 8) - 1 + 1
    return (int(per_user.sum()) + (leaves - len(lens)) * pad + leaves * _blocks(16 + width)
            + (leaves - 1) * _blocks(16 + 2 * width))


def measure(users: int, assets: int) -> Floor:
    """The floor of ``users`` x ``assets`` from the benchmark snapshot's real ids."""
    table = pq.read_table(snapshot_path(users, assets), columns=["user_id"])
    ids = pc.unique(table.column(0))
    offsets = np.frombuffer(ids.buffers()[1], np.int32)[ids.offset:ids.offset + len(ids) + 1]
    offsets = offsets.astype(np.int64)
    data = ids.buffers()[2].to_pybytes()
    leaves = 1 << max(0, (len(ids) - 1).bit_length())
    width = 32 + 16 * assets
    one = c_floor(offsets, data, leaves, assets, 1)
    two = c_floor(offsets, data, leaves, assets, 2)
    id_bytes = int(offsets[-1] - offsets[0])
    rid = 2 + len(ROUND)
    hashed = (
        len(ids) * (64 + 16 + rid + 2 + 64 + 32) + id_bytes  # salt HMAC (inner and outer)
        + len(ids) * (16 + rid + 2 + 32) + id_bytes  # commitment
        + (leaves - len(ids)) * (64 + 16 + rid + 8 + 64 + 32)  # padding HMAC
        + leaves * (16 + width) + (leaves - 1) * (16 + 2 * width))
    blocks = compressions(np.diff(offsets), leaves, assets)
    bulk = bulk_ns_per_block(2)
    return Floor(len(ids), leaves, assets, 3 * len(ids) + 2 * (leaves - len(ids)) + 2 * leaves - 1,
                 hashed, sum(one.values()), sum(two.values()), two, blocks, bulk,
                 blocks * bulk / 2 / 1e9)


def _blocks(length: int) -> int:
    """64-byte compressions of a message of ``length`` bytes (with SHA-256's padding)."""
    return (length + 9 + 63) // 64


def _best_ns(fn: object, args: tuple[object, ...], count: int, repeat: int) -> float:
    """Fastest of ``repeat`` calls, in CPU ns of this thread per record (``count`` records
    per call): the thread's CPU time leaves out the time other processes had the core."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time_ns()
        fn(*args)  # type: ignore[operator]
        best = min(best, time.thread_time_ns() - t0)
    return best / count


def load_build(path: str) -> Any:
    """Another build of ``por._fasthash`` (a .so file, e.g. one built from an older commit),
    loaded beside this one under its own name, to time both in one run."""
    import importlib.util

    from por.liabilities import buckets  # this build first: loading another replaces it

    spec = importlib.util.spec_from_file_location("por._fasthash", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"not an extension module: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if buckets.native is not None:
        sys.modules["por._fasthash"] = buckets.native  # Python filed the other one there
    if module is buckets.native:
        raise SystemExit(f"{path} is this build")
    return module


def per_call(count: int = 1 << 15, repeat: int = 15,
             native: Any = None) -> list[tuple[str, float, float]]:
    """Each bulk hashing function of ``por._fasthash`` on one core: (name, ns per record,
    ns per 64-byte compression done per record), fastest of ``repeat`` calls of ``count``
    records, beside hashlib's bulk SHA-256 (64 MiB, one call) in the same run. The
    compressions counted are those done per record: an HMAC's key blocks (ipad, opad) are
    done once per call."""
    import hashlib

    from por.liabilities import buckets
    from verifier.liabilities.mst import (
        TAG_LEAF,
        TAG_MARGIN_LEAF,
        TAG_MARGIN_NODE,
        TAG_NODE,
        TAG_PAD,
        TAG_SALT,
        TAG_USER,
        encode_str,
    )

    native = native or buckets.native
    if native is None:
        raise SystemExit("por._fasthash is not built: `make setup` builds it")
    rng = np.random.default_rng(2)
    rows: list[tuple[str, float, float]] = []
    bulk = rng.integers(0, 256, 64 << 20, np.uint8).tobytes()
    best = float("inf")
    for _ in range(5):
        t0 = time.thread_time_ns()
        hashlib.sha256(bulk).digest()
        best = min(best, time.thread_time_ns() - t0)
    rows.append(("hashlib bulk, 64 MiB", float("nan"), best / (len(bulk) // 64)))
    shapes = [(f"k={k}", k, TAG_LEAF, TAG_NODE) for k in (4, 8)]
    shapes += [(f"margin {a} assets", 3 * a, TAG_MARGIN_LEAF, TAG_MARGIN_NODE) for a in (1, 4)]
    for name, slots, leaf_tag, node_tag in shapes:
        width = 32 + 16 * slots
        comm = rng.integers(0, 256, count * 32, np.uint8).tobytes()
        sums = np.zeros((count, 16 * slots), np.uint8)  # sums stay far below overflow
        sums[:, 8:16] = rng.integers(0, 256, (count, 8), np.uint8)
        recs = np.concatenate((np.frombuffer(comm, np.uint8).reshape(count, 32), sums), 1)
        leaf_data = recs.tobytes()
        sums_data = sums.tobytes()
        fns: list[tuple[str, object, tuple[object, ...], int, int]] = [
            ("hash_records (leaf)", native.hash_records, (leaf_tag, leaf_data, width),
             count, 16 + width),
            ("hash_records (node)", native.hash_records, (node_tag, leaf_data, 2 * width),
             count // 2, 16 + 2 * width),
            ("leaf_records", native.leaf_records, (leaf_tag, comm, sums_data, 16 * slots),
             count, 16 + width),
            ("parent_records", native.parent_records, (node_tag, leaf_data, width),
             count // 2, 16 + 2 * width),
        ]
        if hasattr(native, "floor_hash_records"):
            fns += [("floor_hash_records (leaf)", native.floor_hash_records,
                     (leaf_tag, leaf_data, width), count, 16 + width),
                    ("floor_hash_records (node)", native.floor_hash_records,
                     (node_tag, leaf_data, 2 * width), count // 2, 16 + 2 * width)]
        for fname, fn, args, n, length in fns:
            ns = _best_ns(fn, args, n, repeat)
            rows.append((f"{fname}, {name} ({length} B)", ns, ns / _blocks(length)))
    rid = encode_str(ROUND.encode())
    for id_len in (12, 40, 128):
        ids = b"u" * (id_len * count)
        offsets = np.arange(0, id_len * (count + 1), id_len, dtype=np.int64).tobytes()
        # salt: inner after ipad, outer one block; commitment: one message
        blocks = (_blocks(64 + 16 + len(rid) + 2 + id_len) - 1 + 1
                  + _blocks(16 + len(rid) + 2 + id_len + 32))
        args = (SECRET, TAG_SALT + rid, TAG_USER + rid, ids, offsets)
        for fname in ("commitments", "floor_commitments"):
            if hasattr(native, fname):
                ns = _best_ns(getattr(native, fname), args, count, repeat)
                rows.append((f"{fname}, {id_len}-byte ids ({blocks} blocks)", ns, ns / blocks))
    blocks = _blocks(64 + 16 + len(rid) + 8) - 1 + 1
    for fname in ("pad_commitments", "floor_pad_commitments"):
        if hasattr(native, fname):
            ns = _best_ns(getattr(native, fname), (SECRET, TAG_PAD + rid, 0, count), count,
                          repeat)
            rows.append((f"{fname} ({blocks} blocks)", ns, ns / blocks))
    return rows


def render(floor: Floor, load: tuple[float, ...], load_end: tuple[float, ...]) -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    stages = "\n".join(f"| {name} | {sec:.3f} |" for name, sec in floor.stages.items())
    return f"""{START}
## C-speed floor of a build (bench/bench_floor.py)

OpenSSL's SHA-256 in C loops on its standard API (`por._fasthash.floor_*`, GIL released:
the builder's loops before issue 16's per-call work) over exactly the preimages a
build of {floor.users:,} users x {floor.assets} assets hashes ({floor.leaves:,} leaves): two
HMAC/SHA-256 per user (salt, commitment), one HMAC per padding leaf, one hash per leaf and
per inner node; {floor.preimages:,} SHA-256 messages, {floor.bytes_hashed / 2**20:,.0f} MiB
through the compression function. Nothing else of a build (no reading, parsing, grouping,
sorting, spilling, writing). Machine: {platform.machine()}, {os.cpu_count()} cores,
Python {platform.python_version()}, {stamp}; load average {load[0]:.2f} {load[1]:.2f}
{load[2]:.2f} at start, {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f} at end.

| users x assets | floor, 1 core s | floor, 2 cores s | 2-core speed-up |
|---|---|---|---|
| {floor.users:,} x {floor.assets} | {floor.one_core:.3f} | **{floor.two_cores:.3f}** | \
{floor.one_core / floor.two_cores:.2f}x |

Stricter yardstick, same run: the build's {floor.compressions:,} 64-byte compressions x
OpenSSL's bulk SHA-256 time per block on 2 cores ({floor.bulk_ns_per_block:.1f} ns: hashlib
over 64 MiB in each of two threads at once) = **{floor.blocks_two_cores:.3f} s** (the SHA-256
work with no per-message overhead at all).

Two cores, by kind of preimage:

| preimages | s |
|---|---|
{stages}

A build's figure divided by the 2-core floor of the same shape is its ratio to the
hardware (issue 16's target: at most 2.5); `bench_build.py` can import `measure()` to
print it beside each build in the same run.
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--per-call", action="store_true",
                        help="print each hashing function's ns per record and per block on"
                             " one core, beside hashlib's bulk rate (writes nothing)")
    parser.add_argument("--against", metavar="SO",
                        help="with --per-call: also time another build of por._fasthash (a"
                             " .so file), alternating with this one, in the same run")
    opts = parser.parse_args()
    if opts.per_call:
        load = os.getloadavg()
        other = load_build(opts.against) if opts.against else None
        rounds = 3 if other else 1
        mine: list[list[tuple[str, float, float]]] = []
        theirs: list[list[tuple[str, float, float]]] = []
        for _ in range(rounds):  # alternated, the fastest of each kept: the load moves
            mine.append(per_call())
            if other:
                theirs.append(per_call(native=other))
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start,"
              f" {' '.join(f'{x:.2f}' for x in os.getloadavg())} at end; CPU ns of one"
              " thread, fastest of 15 calls of 32768 records" + (
                  f", of {rounds} alternating rounds; 'against': {opts.against}" if other
                  else ""))
        best = {name: (min(r[i][1] for r in mine), min(r[i][2] for r in mine))
                for i, (name, _, _) in enumerate(mine[0])}
        if not other:
            print("| function, shape | ns/record | ns/block |\n|---|---|---|")
            for name, (ns, per_block) in best.items():
                print(f"| {name} | {'' if ns != ns else f'{ns:.0f}'} | {per_block:.1f} |")
            return
        base = {name: (min(r[i][1] for r in theirs), min(r[i][2] for r in theirs))
                for i, (name, _, _) in enumerate(theirs[0])}
        print("| function, shape | against ns/record | ns/record | against ns/block | ns/block"
              " | ratio |\n|---|---|---|---|---|---|")
        for name, (ns, per_block) in best.items():
            if name not in base:
                continue
            ons, oblock = base[name]
            text = "" if ns != ns else f"{ons:.0f} | {ns:.0f}"
            print(f"| {name} | {text or ' | '} | {oblock:.1f} | {per_block:.1f} |"
                  f" {per_block / oblock:.2f} |")
        return
    load = os.getloadavg()
    floor = measure(opts.users, opts.assets)
    section = render(floor, load, os.getloadavg())
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
