"""Benchmark of the liabilities tree: build throughput, build memory, proof reads, verification.

Run by ``make bench``: each run's figures go to ``bench/results/runs/DATE/`` (ignored by
git) and are printed; no tracked file changes. ``make bench-update`` (``--update``) also
stores them as the reference results in ``bench/results/*.json`` and re-renders
``bench/README.md``, where every figure stands beside a yardstick measured in the same run
on the same machine, because the machine is shared and absolute timings drift from run to
run; the ratio to the yardstick is what carries over.

The build runs in a child process so that its memory can be sampled from outside (PSS of
the child and its worker processes, read from ``/proc/<pid>/smaps_rollup``) and its
``ru_maxrss`` is its own. Speed is measured here only, never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import mmap
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot_gen import (
    DATA_DIR,
    assets_for,
    csv_snapshot_path,
    margin_risk,
    margin_snapshot_path,
    snapshot_path,
)

from verifier.liabilities.mst import AMOUNT_SIZE, HASH_SIZE

README = Path(__file__).resolve().parent / "README.md"
ROUND = "bench-round"
SECRET = bytes(range(32))  # fixed, so that two runs build byte-identical trees
TAG_SIZE = 16
SAMPLE_EVERY = 0.02  # seconds between memory samples


# ---------------------------------------------------------------------------- the build


def _child_build(snapshot: str, asset_count: int, out: str, cluster: bool = False,
                 margin: bool = False, serial: bool = False) -> None:
    """Child mode: build one tree and print what it measured as JSON on stdout.

    With ``cluster``, the build runs on a dask.distributed LocalCluster of 2 single-threaded
    worker processes started here (so their memory is sampled with the build's). With
    ``margin``, a margin round (spec §15) of the margin snapshot, priced by the benchmark's
    risk file.
    """
    from por.liabilities import build as build_module
    from por.liabilities.buckets import native
    from por.liabilities.build import build_margin, build_tree
    from verifier.liabilities.risk import RiskParams

    if serial:  # the serial ingest (the reference path) instead of the workers' parts
        build_module.FAST_INGEST = False

    result: Any
    if margin:
        risk = RiskParams.from_json(margin_risk(asset_count))
        result = build_margin(snapshot, assets_for(asset_count), risk, ROUND, SECRET, out)
    elif cluster:
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as lc:
            result = build_tree(snapshot, assets_for(asset_count), ROUND, SECRET, out,
                                cluster=lc.scheduler_address)
    else:
        result = build_tree(snapshot, assets_for(asset_count), ROUND, SECRET, out)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "seconds": result.seconds, "users": result.user_count, "rows": result.rows,
        "leaf_count": result.summary.leaf_count, "root": result.summary.root_hash.hex(),
        "maxrss_kib": own.ru_maxrss, "maxrss_workers_kib": kids.ru_maxrss,
        # CPU seconds of this process and its workers: steadier than wall time when other
        # jobs share the cores (it includes interpreter start-up and imports).
        "cpu_seconds": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "native": native is not None,
    }))


def _process_tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    todo.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return pids


def _memory_of(root: int) -> dict[str, int]:
    """Summed smaps_rollup fields (KiB) over ``root`` and its descendants."""
    total = {"Pss": 0, "Pss_Anon": 0, "Pss_File": 0, "Rss": 0}
    for pid in _process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    name, _, rest = line.partition(":")
                    if name in total:
                        total[name] += int(rest.split()[0])
        except OSError:
            continue
    return total


@dataclass
class BuildRun:
    """One build measured from outside."""

    asset_count: int
    child: dict[str, Any]
    tree_bytes: int
    tree_sha256: str
    peak: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0


def run_build(snapshot: Path, asset_count: int, out: Path, cluster: bool = False,
              margin: bool = False, serial: bool = False, sample: bool = True) -> BuildRun:
    """Build in a child process, sampling the memory of its process tree meanwhile
    (``sample``; without it the peak is left empty, and the build shares the cores with
    nothing of the benchmark's: the sampler's reads of ``/proc`` every 20 ms cost CPU)."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    mode = ("--margin-child" if margin else "--cluster-child" if cluster
            else "--serial-child" if serial else "--child")
    proc = subprocess.Popen(
        [sys.executable, __file__, mode, str(snapshot), str(asset_count), str(out)],
        stdout=subprocess.PIPE, text=True,
    )
    peak: dict[str, int] = {}
    done = threading.Event()

    def sample_memory() -> None:
        while not done.is_set():
            for key, value in _memory_of(proc.pid).items():
                peak[key] = max(peak.get(key, 0), value)
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    if sample:
        sampler.start()
    stdout, _ = proc.communicate()
    done.set()
    if sample:
        sampler.join()
    if proc.returncode:
        raise SystemExit(f"build of {snapshot} failed with exit code {proc.returncode}")
    wall = time.perf_counter() - start
    tree = out / "tree.bin"
    digest = hashlib.sha256()
    with open(tree, "rb") as fh:
        while chunk := fh.read(1 << 24):
            digest.update(chunk)
    return BuildRun(asset_count, json.loads(stdout), tree.stat().st_size, digest.hexdigest(),
                    peak, wall)


# ---------------------------------------------------------------------------- yardsticks


def hashlib_floor(leaf_count: int, asset_count: int) -> float:
    """Seconds for a bare hashlib loop over the tree's preimages, on one core.

    ``leaf_count`` leaf preimages of tag + commitment + sums and ``leaf_count - 1`` node
    preimages of tag + two records: the least work any CPython builder of this tree does.
    """
    sums = AMOUNT_SIZE * asset_count
    widths = ((TAG_SIZE + HASH_SIZE + sums, leaf_count),
              (TAG_SIZE + 2 * (HASH_SIZE + sums), leaf_count - 1))
    chunk = 1 << 15
    sha = hashlib.sha256
    elapsed = 0.0
    for width, count in widths:
        buf = random.Random(width).randbytes(width * chunk)
        for first in range(0, count, chunk):
            m = min(chunk, count - first)
            t = time.perf_counter()
            b"".join([sha(buf[o : o + width]).digest() for o in range(0, m * width, width)])
            elapsed += time.perf_counter() - t
    return elapsed


def pymerkle_tree(leaf_count: int, asset_count: int) -> float:
    """Seconds for pymerkle's InmemoryTree to append ``leaf_count`` entries and give a root."""
    from pymerkle import InmemoryTree

    width = HASH_SIZE + AMOUNT_SIZE * asset_count
    entries = [i.to_bytes(8, "big") * (width // 8) for i in range(leaf_count)]
    tree = InmemoryTree(algorithm="sha256")
    t = time.perf_counter()
    for entry in entries:
        tree.append_entry(entry)
    tree.get_root()
    return time.perf_counter() - t


# ---------------------------------------------------------------------------- proofs


def _quantiles(samples_ns: list[int]) -> tuple[float, float]:
    """Median and p99 in microseconds."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) / 1000, p99 / 1000


def time_proofs(out: Path, users: int, count: int) -> dict[str, tuple[float, float]]:
    """Median and p99 (µs) of proof reads, verifications and their yardsticks."""
    from por.liabilities.prove import Prover
    from verifier.liabilities.proof import verify_proof

    prover = Prover(out, SECRET)
    rng = random.Random(7)
    ids = [f"user-{rng.randrange(users):09d}" for _ in range(count)]
    tree = prover.tree
    indexes = [rng.randrange(tree.layout.leaf_count) for _ in range(count)]
    clock = time.perf_counter_ns
    res: dict[str, list[int]] = {k: [] for k in ("prove", "path", "verify", "sha", "mmap")}
    with open(prover.tree.file_path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        record = tree.layout.record_size
        payload = os.urandom(100)
        for user_id, index in zip(ids, indexes, strict=True):
            t = clock()
            proof = prover.prove(user_id, self_check=False)
            res["prove"].append(clock() - t)
            t = clock()
            tree.path(index)
            res["path"].append(clock() - t)
            t = clock()
            verify_proof(proof, summary=prover.summary)
            res["verify"].append(clock() - t)
            t = clock()
            hashlib.sha256(payload).digest()
            res["sha"].append(clock() - t)
            off = tree.layout.level_offset(0) + record * index
            t = clock()
            mm[off : off + record]
            res["mmap"].append(clock() - t)
        mm.close()
    prover.close()
    return {k: _quantiles(v) for k, v in res.items()}


# ---------------------------------------------------------------------------- report

RESULTS = Path(__file__).resolve().parent / "results"  # reference results (tracked)
RUN_DIR = RESULTS / "runs" / datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
UPDATE = False  # --update: store into RESULTS and rewrite README.md
MY_SECTIONS = ("# Benchmarks", "## Build", "## Past one machine", "## Margin rounds",
               "## Targets", "## One proof", "## The workers' parts")

# Measured by this script on the same machine before the build was optimised (commit
# c954572) and before it was bounded in memory (commit 43a2d5f), kept so the tables can be
# read against where they started.
HISTORY = """\
Earlier, same machine, same script. Before optimisation (commit c954572): 1M x 4 built in
9.25 s (108,099 users/s) with a hashlib floor of 1.04 s in that run, peak PSS 925 MiB. The
whole-snapshot-in-memory builder (commit 43a2d5f): 1M x 4 in 3.94 s (254,028 users/s;
floor 1.10 s), peak PSS 639 MiB, 2.85x the tree file; it could not have built 100M users
in 24 GB (per-user arrays of about 110 bytes, plus the whole tree's sums in memory)."""


def machine() -> dict[str, str]:
    """CPU model, cores, Python and date of this run."""
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "memory": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
    }


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def _store(name: str, text: str) -> None:
    """Store one result of this run (and, with --update, as the reference result)."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / name).write_text(text)
    if UPDATE:
        (RESULTS / name).write_text(text)


def _load_results(folder: Path = RESULTS) -> list[dict[str, Any]]:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("build-*.json"))
            if not p.name.endswith("-ab.json")]
    return sorted(runs, key=lambda r: (r.get("cluster", False), r.get("margin", False),
                                       r["users"], r["asset_count"],
                                       r.get("format", "parquet")))


def _shape(r: dict[str, Any]) -> str:
    """``1,000,000 x 4``, and ``(CSV)`` for a build from the CSV snapshot."""
    fmt = " (CSV)" if r.get("format") == "csv" else ""
    return f"{r['users']:,} x {r['asset_count']}{fmt}"


def _build_row(r: dict[str, Any]) -> str:
    total = r["child"]["seconds"]["total"]
    leaves = r["child"]["leaf_count"]
    users = r["users"]
    merkle = (f"{r['pymerkle']:.2f} s ({leaves / r['pymerkle']:,.0f} leaves/s)"
              if r.get("pymerkle") == r.get("pymerkle") and r.get("pymerkle") else "not run")
    return (
        f"| {_shape(r)} | {r['child']['rows']:,}"
        f" | {leaves:,} | {total:.2f} | **{users / total:,.0f}** | {leaves / total:,.0f}"
        f" | {_hashlib_floor(r, leaves)}"
        f" | {_c_floor(r, total)}"
        f" | {merkle}"
        f" | {_mib(r['peak']['Pss'])} ({_mib(r['peak']['Pss_Anon'])})"
        f" | {_mib(r['child']['maxrss_kib'])} / {_mib(r['child']['maxrss_workers_kib'])}"
        f" | {r['tree_bytes'] / 2**20:,.0f} MiB | {_hashing(r)} | {r['machine']['load']} |"
    )


def _hashlib_floor(r: dict[str, Any], leaves: int) -> str:
    """The bare hashlib floor of the run, or "not run" (``--no-hashlib-floor``)."""
    floor = r.get("floor")
    return f"{floor:.2f} s ({leaves / floor:,.0f} leaves/s)" if floor else "not run"


def _c_floor(r: dict[str, Any], total: float) -> str:
    """The C-speed floor of the same shape measured in the same run (bench_floor.py: OpenSSL
    SHA-256 over the build's exact preimages, 2 cores) and the build's ratio to it (issue
    16's target: at most 2.5); runs before it was measured: not measured."""
    floor = r.get("c_floor_2")
    if not floor:
        return "not measured"
    return f"{floor:.2f} s, build **{total / floor:.2f}x**"


def _hashing(r: dict[str, Any]) -> str:
    """Which path hashed: the C accelerator or hashlib (runs before it existed: hashlib)."""
    return "C (OpenSSL)" if r["child"].get("native") else "hashlib"


def render(proofs: dict[str, Any] | None, folder: Path = RESULTS) -> str:
    """The results sections of bench/README.md, from every result stored in ``folder``."""
    runs = _load_results(folder)
    local = [r for r in runs if not r.get("cluster") and not r.get("margin")]
    parquet = [r for r in local if r.get("format", "parquet") == "parquet"]
    remote = [r for r in runs if r.get("cluster")]
    margin = [r for r in runs if r.get("margin") and "spot" in r]
    info = runs[-1]["machine"] if runs else machine()
    lines = [
        "# Benchmarks",
        "",
        "`make bench` runs `bench/bench_build.py` (1M and 10M users x 4 assets, 1M x 8, the",
        "LocalCluster build of 1M, the margin round of 1M x 4 beside its spot build, proof",
        "reads; `--margin-only` runs the margin row alone); `python bench/bench_build.py",
        "--users 100000000 --no-cluster` adds the 100M row (about half an hour with its",
        "floor, ~35 GB of disk under `.bench-data/`, removed at the end). `make bench` prints",
        "a run's figures and keeps them in `bench/results/runs/` (ignored by git);",
        "`make bench-update` stores them in",
        "`bench/results/` and renders this file from all of them. Each figure stands beside a",
        "yardstick measured in the same run: the machine is shared (the load average at the",
        "start of each run is in its row), so absolute timings drift, and the ratio is what",
        "carries over.",
        "",
        "The snapshot is synthetic (`bench/snapshot_gen.py`): long-format Parquet where every",
        "user holds every asset (the densest case), amounts are exact decimal strings with each",
        "asset's real decimals (ETH has 18, so sums exceed 64 bits); the `(CSV)` row reads the",
        "same rows as CSV (quotes only where needed, 155 MiB at 1M x 4). The build uses a fixed",
        "secret, so a run also checks that the tree bytes match the previous run and the",
        "cluster build (the `tree.bin sha256` list). Rows up to 1M users are the fastest of",
        "`--repeat` builds (5 by default) in the run. Memory is sampled (every 20 ms, from",
        "`/proc`) during the first of them only: the sampler's reads take CPU from a build",
        "that keeps both cores busy, so the others are timed without it (peak memory is of",
        "the same build, the same bytes).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info.get('memory', '?')} RAM,"
        f" Python {info['python']}; last run {info['date']}.",
        "",
        "## Build (ingest + merge + padding + hashing, end to end, default `--memory 3GB`)",
        "",
        "| users x assets | rows | leaves N (padded) | build s | users/s | leaves/s"
        " | hashlib floor, 1 core | C floor, 2 cores (same run) and build's ratio"
        " | pymerkle InmemoryTree | peak PSS (anon)"
        " | ru_maxrss main / workers | tree file | bulk hashing | load at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[_build_row(r) for r in local],
        "",
        "Stage seconds (from `build-info.json`):",
        "",
        "| users x assets | ingest (read, commit, spill) | merge | padding | hashing | total"
        " | CPU s, all processes | buckets | bulk hashing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        sec = r["child"]["seconds"]
        stages = " | ".join(f"{sec.get(s, 0.0):.2f}"
                            for s in ("ingest", "merge", "padding", "hashing", "total"))
        where = (" (LocalCluster)" if r.get("cluster")
                 else " (margin)" if r.get("margin") else "")
        lines.append(f"| {_shape(r)}{where} | {stages}"
                     f" | {r['child'].get('cpu_seconds', 0.0):.2f}"
                     f" | {r['child'].get('buckets', '?')} | {_hashing(r)} |")
    lines += [
        "",
        "Hashlib floor: a bare `hashlib.sha256` loop, on one core, over as many preimages of",
        "the same sizes as the tree hashes (N leaf preimages of 16+32+16k bytes, N-1 node",
        "preimages of 16+2(32+16k) bytes); the build itself also derives two HMAC/SHA-256",
        "commitments per user and one per padding leaf, reads and checks the snapshot, spills",
        "and sorts the buckets, sums, and uses both cores. Bulk hashing: `C (OpenSSL)` when",
        "the optional extension `por._fasthash` (por/_native/fasthash.c: OpenSSL's SHA-256",
        "in loops over whole levels, outside the interpreter) was built, as `make setup` does;",
        "`hashlib` for runs made before it existed. pymerkle: 7.0.0's `InmemoryTree`",
        "appending the same number of leaves (no sums, no commitments), run up to 2^21 leaves.",
        "Peak PSS is sampled every 20 ms over the build process and its workers (the tree",
        "file is written with pwrite, not mapped, so the page cache is not counted: it is the",
        "kernel's, and it is given back under pressure). `tree.bin sha256`: "
        + ", ".join(f"{r['users']:,} x {r['asset_count']}"
                    f"{' cluster' if r.get('cluster') else ''}"
                    f"{' margin' if r.get('margin') else ''} `{r['tree_sha256'][:16]}`"
                    for r in runs) + ".",
        "",
        HISTORY,
        "",
        "## Past one machine: the same build on a Dask LocalCluster",
        "",
        "| users x assets | local build s | LocalCluster (2 workers x 1 thread) build s"
        " | overhead | peak PSS local / cluster | tree bytes identical |",
        "|---|---|---|---|---|---|",
    ]
    for r in remote:
        twin = next((x for x in parquet if x["users"] == r["users"]
                     and x["asset_count"] == r["asset_count"]), None)
        if twin is None:
            continue
        a, b = twin["child"]["seconds"]["total"], r["child"]["seconds"]["total"]
        lines.append(
            f"| {r['users']:,} x {r['asset_count']} | {a:.2f} | {b:.2f} | {b / a:.2f}x"
            f" | {_mib(twin['peak']['Pss'])} / {_mib(r['peak']['Pss'])}"
            f" | {'yes' if twin['tree_sha256'] == r['tree_sha256'] else '**NO**'} |")
    lines += [
        "",
        "The cluster build runs stages 1-3 as Dask tasks, writes each shard (commitments and",
        "levels of an aligned subtree) to the work directory, and the client copies the",
        "shards into the tree file: the overhead is Dask's task traffic, the scheduler and",
        "worker processes, and that copy. On one machine it can only be slower; it is there",
        "to go past one machine (docs/scale.md).",
        "",
    ]
    lines += _render_margin(margin, local)
    lines += _render_targets(local)
    lines += _render_issue16(local)
    lines += _render_serial_ab(_load_ab(folder))
    if proofs:
        lines += _render_proofs(proofs)
    return "\n".join(lines)


def _render_margin(margin: list[dict[str, Any]], local: list[dict[str, Any]]) -> list[str]:
    """Margin builds (issue 11) beside the spot build of the same users in the same run."""
    lines = [
        "## Margin rounds (issue 11): the same users, with equity and debt",
        "",
        "| users x assets | spot build s | margin build s | margin / spot, fastest of each"
        " | each pair's ratio: median (target <= 1.5), all"
        " | CPU s, all processes, spot / margin (ratio)"
        " | stages, margin: ingest / merge + rule / padding / hashing | spot: same"
        " | peak PSS spot / margin | tree file spot / margin | load at start |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in margin:
        twin = r.get("spot")  # the spot build of the same users, measured in the same run
        if twin is None:
            continue
        a, b = twin["child"]["seconds"]["total"], r["child"]["seconds"]["total"]
        cpu_a, cpu_b = twin["child"]["cpu_seconds"], r["child"]["cpu_seconds"]
        ratios = [m / s for s, m in r.get("pairs", [[a, b]])]
        median = statistics.median(ratios)

        def stages(x: dict[str, Any]) -> str:
            sec = x["child"]["seconds"]
            return " / ".join(f"{sec.get(s, 0.0):.2f}"
                              for s in ("ingest", "merge", "padding", "hashing"))

        lines.append(
            f"| {r['users']:,} x {r['asset_count']} | {a:.2f} | {b:.2f}"
            f" | {b / a:.2f}x"
            f" | **{median:.2f}x** ({'met' if median <= 1.5 else 'not met'}):"
            f" {', '.join(f'{x:.2f}x' for x in ratios)}"
            f" | {cpu_a:.2f} / {cpu_b:.2f} ({cpu_b / cpu_a:.2f}x)"
            f" | {stages(r)} | {stages(twin)}"
            f" | {_mib(twin['peak']['Pss'])} / {_mib(r['peak']['Pss'])}"
            f" | {twin['tree_bytes'] / 2**20:,.0f} / {r['tree_bytes'] / 2**20:,.0f} MiB"
            f" | {r['machine']['load']} |")
    lines += [
        "",
        "Both builds run in the same run, alternately (`--margin-repeat` times each, 5 by",
        "default): the machine is shared, and the load moves from one build to the next, so",
        "the target is judged on the median of the ratios of adjacent pairs (spot, then",
        "margin); the stage seconds are each one's fastest run. CPU seconds (of",
        "the build and its workers, from `getrusage`) drift less with the load than wall",
        "time, hence the second ratio.",
        "",
        "The margin snapshot (`bench/snapshot_gen.py`, `make_margin_snapshot`) holds the spot",
        "snapshot's users, each with the spot amount as `equity` and a `debt` of up to half of",
        "it in every asset (collateral absent: all equity counts), priced by a risk file with",
        "three haircut tiers per asset, so every user's rule is computed. A margin leaf holds",
        "three u128 per asset instead of one: its records are 32 + 48k bytes against 32 + 16k,",
        "so the tree's SHA-256 work is about twice the spot tree's (4 compressions a leaf and",
        "8 a node at k = 4, against 2 and 4), the tree file is 2.3x larger, and the snapshot",
        "has two decimal columns to read and convert instead of one.",
        "",
        "What costs more than in the spot build, stage by stage: the hashing is about 2x",
        "by the format (the SHA-256 blocks of §15.3's preimages); the ingest reads and",
        "converts twice the decimal strings and spills records 2.1x larger (32 + 2 x 16 x 3k",
        "bytes, plus mask and row); the merge sorts those records and checks every user's",
        "rule (the C first pass: about 0.1 s per million users here). The shared stages",
        "(commitments, grouping, padding) cost the same. On a machine this loaded the ratio",
        "moves from run to run: the first run of this row, before a node's sums and hash",
        "moved into one C pass and the rule's first pass and the grouping were sped up,",
        "measured 1.86x at load 6.7.",
        "",
    ]
    return lines


def _stages(r: dict[str, Any]) -> str:
    sec = r["child"]["seconds"]
    return ", ".join(f"{s} {sec.get(s, 0.0):.1f} s"
                     for s in ("ingest", "merge", "padding", "hashing"))


def _render_targets(local: list[dict[str, Any]]) -> list[str]:
    """Issue 2's and issue 6's targets against the stored runs: met or not, and why."""
    by_size = {(r["users"], r["asset_count"]): r for r in local
               if r.get("format", "parquet") == "parquet"}
    lines = ["## Targets (issues 2 and 6)", ""]
    for k in (4, 8):
        one = by_size.get((1_000_000, k))
        if one:
            t = one["child"]["seconds"]["total"]
            rate = one["child"]["leaf_count"] / t
            lines.append(
                f"- 1M users x {k}: >= 1M leaves/s end to end (issue 2):"
                f" **{'met' if rate >= 1e6 else 'not met'}** ({rate:,.0f} leaves/s, {t:.2f} s:"
                f" {_stages(one)}; bulk hashing {_hashing(one)})."
                + (" The hashing itself is no longer what limits it: reading and converting"
                   f" the snapshot's {one['child']['rows']:,} decimal strings, grouping rows"
                   " per user and spilling them (the ingest, in every worker) is."
                   if one["child"].get("native") else ""))
    ten, hundred = by_size.get((10_000_000, 4)), by_size.get((100_000_000, 4))
    if ten:
        t = ten["child"]["seconds"]["total"]
        lines.append(
            f"- 10M users x 4 end to end within 30 s (issue 6):"
            f" **{'met' if t <= 30 else 'not met'}** ({t:.1f} s: {_stages(ten)}; bulk hashing"
            f" {_hashing(ten)}"
            + (f"; the bare hashlib floor alone, on one core, was {ten['floor']:.1f} s in"
               " that run)." if ten.get("floor") else ")."))
    if hundred:
        t = hundred["child"]["seconds"]["total"]
        pss = hundred["peak"]["Pss"] / 2**20
        lines.append(
            f"- 100M users x 4 within 10 minutes: **{'met' if t <= 600 else 'not met'}**"
            f" ({t:.0f} s, bulk hashing {_hashing(hundred)}); peak memory under 4 GB:"
            f" **{'met' if pss < 4 else 'not met'}** ({pss:.2f} GiB PSS over the build and its"
            " workers, `--memory 3GB`).")
    lines += [
        "- Proof reads under 1 ms at 100M, warm: see the table below. The median is; the p99",
        "  of the full proof is not when the run was measured: the 28 GiB tree file does not",
        "  fit in this machine's free page cache, so the warm pass cannot keep every page it",
        "  touched, and a miss costs a disk read (the raw path read, fewer pages, stays",
        "  under).",
        "",
    ]
    return lines


ISSUE16 = (  # (users, assets, format, seconds at most), issue 16 item 4
    (1_000_000, 4, "parquet", 1.2), (1_000_000, 4, "csv", 1.6), (1_000_000, 8, "parquet", 1.8),
    (10_000_000, 4, "parquet", 12.0), (100_000_000, 4, "parquet", 150.0))


def _render_issue16(local: list[dict[str, Any]]) -> list[str]:
    """Issue 16's build targets against the stored runs, each beside the C floor of the same
    run, the load, and the stage that dominates when a target is missed."""
    lines = [
        "## Targets (issue 16): the build near the hardware's limit",
        "",
        "| build | target s | measured s (fastest of the run's builds) | met? | C floor, 2 cores"
        " (same run) | ratio (target <= 2.5) | peak PSS / tree file (target at 1M <= 2x)"
        " | stages: ingest / merge / padding / hashing | dominates | load start / end |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for users, k, fmt, target in ISSUE16:
        r = next((x for x in local if x["users"] == users and x["asset_count"] == k
                  and x.get("format", "parquet") == fmt), None)
        if r is None:
            lines.append(f"| {users:,} x {k} ({fmt}) | {target:g} | not run | | | | | | | |")
            continue
        sec = r["child"]["seconds"]
        total = sec["total"]
        floor = r.get("c_floor_2")
        ratio = total / floor if floor else None
        mem = r["peak"]["Pss"] * 1024 / r["tree_bytes"]
        stages = {s: sec.get(s, 0.0) for s in ("ingest", "merge", "padding", "hashing")}
        met = total <= target
        if users >= 100_000_000:
            gib = r["peak"]["Pss"] / 2**20
            mem_text = f"{gib:.2f} GiB ({'met' if gib <= 2 else 'not met'}: <= 2 GiB)"
        else:
            mem_text = f"{mem:.2f}x" + ((" (met)" if mem <= 2 else " (not met)")
                                        if users == 1_000_000 else "")
        runs = r.get("runs") or [total]
        # Runs stored before the chunked ingest have no format: say so, and when.
        old = "" if "format" in r else f", before the chunked ingest, {r['machine']['date']}"
        lines.append(
            f"| {users:,} x {k} ({fmt.upper() if fmt == 'csv' else 'Parquet'}{old})"
            f" | {target:g}"
            f" | **{total:.2f}** ({', '.join(f'{x:.2f}' for x in runs)})"
            f" | {'met' if met else f'not met, +{total - target:.2f} s ({total / target:.2f}x)'}"
            f" | {f'{floor:.2f} s' if floor else 'not measured'}"
            f" | {f'{ratio:.2f}x' if ratio else '-'}"
            f"{'' if ratio is None else (' (met)' if ratio <= 2.5 else ' (not met)')}"
            f" | {mem_text}"
            f" | {' / '.join(f'{v:.2f}' for v in stages.values())}"
            f" | {max(stages, key=lambda s: stages[s])}"
            f" | {r['machine']['load']} / {r.get('load_end', '?')} |")
    lines += [
        "",
        "Each build runs in a fresh process (its figures from `build-info.json`); the C floor",
        "is `bench_floor.measure()` of the same shape right after it, in the same run. On a",
        "machine this loaded both move with the load (the floor measured 0.43 s at 1M x 4 on",
        "an idle machine, 2.1 s at load 10), so the ratio, not the seconds, is what carries;",
        "even the ratio is worse under load, where a build's two worker processes rarely get",
        "both cores at once. Reproduce on an idle machine: `python bench/bench_build.py",
        "--users 1000000 10000000 --no-pymerkle --no-cluster --update` (1M x 4 from Parquet",
        "and CSV, 1M x 8, the margin pair, 10M x 4), and `python bench/bench_build.py",
        "--users 100000000 --no-csv --no-pymerkle --no-hashlib-floor --no-c-floor --no-cluster",
        "--wide-assets 0 --no-margin --delete-data --update` (100M x 4: about 7 GB of",
        "snapshot, 28 GiB of tree, generated first; removed at the end).",
        "",
        "Where the time goes (issue 16, step 1), 1M x 4 from Parquet. Before the chunked",
        "ingest (cProfile of the main process, load about 2): reading Parquet 0.93 s on the",
        "main thread, grouping rows per user 0.60 s, building and spilling records 0.45 s.",
        "With it (2026-11-28, cProfile of the whole build in one process, `workers=1`, so",
        "every stage's CPU is in one profile; load about 2 at 18:20 UTC): 3.64 s, of which",
        "SHA-256 work 0.91 s (commitments 0.41, node records 0.31, leaf records 0.18: the",
        "floor), Parquet decoding 0.80 s, decimal conversion 0.23 s, Arrow kernels for the",
        "user ids and their runs 0.21 s, per-batch numpy grouping and records 0.17 s, the",
        "spill's sort by bucket and gather 0.15 s, joining and copying spill parts 0.19 s,",
        "the merge 0.49 s, and in the hashing stage each bucket loaded and sorted again by",
        "every subtree it overlapped (4 buckets, 8 subtrees: about 3 loads each in the",
        "two-worker build). After this session's changes (same method, 18:41 UTC, load",
        "about 6, so every figure is inflated alike): 3.07 s, of which SHA-256 work 0.98 s",
        "(32 %), Parquet decoding 0.63 s (21 %; the asset column now read as a",
        "dictionary), decimal conversion 0.24 s (8 %), the user-id check and runs in C",
        "0.13 s, grouping 0.11 s and the records 0.09 s (now one C pass, `spill_records`),",
        "the merge 0.35 s (sort on 8-byte prefixes, gather of 112-byte records, sums), the",
        "padding slotted into each sorted bucket 0.12 s, and file I/O through the page cache",
        "about 0.3 s (spills, merged users, the tree's level 0 written and read back).",
        "",
        "Later that evening (23:00 UTC, idle, the same method: 2.79 s in one process), after",
        "three changes: each bucket's task now hashes its leaves and every node wholly inside",
        "its positions in memory, with the few nodes straddling two buckets built last",
        "(no level read back from the file, no barrier inside the stage); the SHA-256 loops",
        "feed OpenSSL whole blocks with the padding and the tag's midstate made once per call",
        "(`por/_native/sha256_blocks.h`: leaf and node hashes now at OpenSSL's bulk rate per",
        "block, 59 ns here, from 78-95 ns); and one C pass per batch from the Arrow buffers",
        "(`ingest_runs`: ids, assets, decimals, runs, masks) and a merge that reads each run",
        "where it lies (`merge_runs`). Of the 2.79 s: Parquet decoding 0.72 s (26 %: Arrow's,",
        "of which snappy about half), SHA-256 0.86 s (31 %: commitments 0.34, nodes 0.33,",
        "leaves 0.17, padding 0.01), the ingest pass 0.37 s (13 %), file I/O through the",
        "page cache 0.29 s (10 %: spills written and read, the tree written), the merge",
        "0.12 s, the padding slotted in 0.09 s, spill layout 0.07 s. With two workers the",
        "stages keep both cores 0.9-0.99 busy, so the wall time is about half the CPU time.",
        "What stands between the build and the floor is now Arrow's Parquet decoding (as",
        "much CPU as all of the tree's hashing) and the spills' round trip through files.",
        "",
    ]
    return lines


def _render_proofs(proofs: dict[str, Any]) -> list[str]:
    lines = [
        f"## One proof ({proofs['tree']}, {proofs['count']} random users, warm)",
        "",
        "| operation | median µs | p99 µs | target | yardstick (median / p99 µs) |",
        "|---|---|---|---|---|",
    ]
    q = proofs["q"]

    def row(name: str, key: str, target: str, yard: str, yard_key: str) -> str:
        return (f"| {name} | {q[key][0]:.1f} | {q[key][1]:.1f} | {target} | {yard}:"
                f" {q[yard_key][0]:.2f} / {q[yard_key][1]:.2f} |")

    lines += [
        row("`Prover.prove(self_check=False)` (salt, binary search, path)", "prove",
            "< 1000", "one `sha256` of 100 bytes", "sha"),
        row("`TreeFile.path(index)` (raw path read)", "path", "< 1000",
            "one mmap read of a record", "mmap"),
        row("`verify_proof(proof, summary=...)`", "verify", "< 5000",
            "one `sha256` of 100 bytes", "sha"),
        "",
        "Warm: the tree file's pages touched by the searches are in the page cache (each",
        "operation is timed after the first pass over the same users). The binary search",
        "reads about log2(N) commitments and the path one record per level: O(log N) reads,",
        "no index in memory.",
        "",
    ]
    return lines


def _others_sections(text: str) -> str:
    """Sections of README.md that this script does not write (kept as they are)."""
    out: list[str] = []
    keep = False
    for line in text.splitlines():
        if line.startswith("<!--") and line.rstrip().endswith(":start -->"):
            keep = True  # another script's marked section begins (its heading follows)
        elif line.startswith("#") and line.split(" ", 1)[0] in ("#", "##") and not (
            out and out[-1].startswith("<!--") and keep
        ):
            keep = not any(line.startswith(h) for h in MY_SECTIONS)
        if keep:
            out.append(line)
    return "\n".join(out)


def write_readme(proofs: dict[str, Any] | None) -> str:
    """Render the results into README.md, keeping other engineers' sections.

    The proof table is the one measured on the largest tree of any stored run.
    """
    old = README.read_text() if README.exists() else ""
    stored = [json.loads(p.read_text()) for p in RESULTS.glob("proofs-*.json")]
    if stored:
        proofs = max(stored, key=lambda p: p["users"])
    text = render(proofs)
    others = _others_sections(old)
    if others:
        text = text.rstrip() + "\n\n" + others.rstrip() + "\n"
    README.write_text(text)
    return text


def measure_serial_ab(users: int, k: int, pairs: int) -> None:
    """The serial ingest (before issue 16's parts) and the workers' parts, alternately on
    the same snapshot, ``pairs`` times each, from Parquet and from CSV: on a shared machine
    the ratio of adjacent builds is what carries."""
    for fmt in ("parquet", "csv"):
        snap = csv_snapshot_path(users, k) if fmt == "csv" else snapshot_path(users, k)
        out = DATA_DIR / f"build-{users}u-{k}a-ab"
        record: dict[str, Any] = {"users": users, "asset_count": k, "format": fmt,
                                  "machine": machine(), "pairs": []}
        for _ in range(pairs):
            pair = []
            for serial in (True, False):
                run = run_build(snap, k, out, serial=serial)
                pair.append({"seconds": run.child["seconds"],
                             "cpu_seconds": run.child["cpu_seconds"],
                             "pss_kib": run.peak["Pss"], "tree_sha256": run.tree_sha256})
                print(f"{fmt} {'serial' if serial else 'parts '}: {run.child['seconds']}",
                      flush=True)
            record["pairs"].append(pair)
        shutil.rmtree(out, ignore_errors=True)
        record["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        _store(f"build-{users:09d}u-{k}a-{fmt}-ab.json", json.dumps(record, indent=2) + "\n")


def _load_ab(folder: Path = RESULTS) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("build-*-ab.json"))]


def _render_serial_ab(records: list[dict[str, Any]]) -> list[str]:
    """The serial ingest beside the workers' parts, pair by pair."""
    lines = [
        "## The workers' parts against the serial ingest, same run (issue 16)",
        "",
        "| users x assets | serial ingest s, median (all) | workers' parts s, median (all)"
        " | parts / serial, median of pairs | CPU s, all processes, serial / parts"
        " | ingest s, serial / parts | tree bytes identical | load start / end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        pairs = r["pairs"]
        ser = [p[0]["seconds"]["total"] for p in pairs]
        par = [p[1]["seconds"]["total"] for p in pairs]
        ratio = statistics.median(b / a for a, b in zip(ser, par, strict=True))
        cpu = (statistics.median(p[0]["cpu_seconds"] for p in pairs),
               statistics.median(p[1]["cpu_seconds"] for p in pairs))
        ing = (statistics.median(p[0]["seconds"]["ingest"] for p in pairs),
               statistics.median(p[1]["seconds"]["ingest"] for p in pairs))
        same = all(p[0]["tree_sha256"] == p[1]["tree_sha256"] for p in pairs)
        fmt = "CSV" if r["format"] == "csv" else "Parquet"
        lines.append(
            f"| {r['users']:,} x {r['asset_count']} ({fmt})"
            f" | {statistics.median(ser):.2f} ({', '.join(f'{x:.2f}' for x in ser)})"
            f" | {statistics.median(par):.2f} ({', '.join(f'{x:.2f}' for x in par)})"
            f" | **{ratio:.2f}x** | {cpu[0]:.2f} / {cpu[1]:.2f} | {ing[0]:.2f} / {ing[1]:.2f}"
            f" | {'yes' if same else '**NO**'} | {r['machine']['load']} / {r['load_end']} |")
    lines += [
        "",
        "`python bench/bench_build.py --users 1000000 --serial-ab 5`: each pair is the serial",
        "ingest (`FAST_INGEST = False`: the main process reads the file, workers commit; the",
        "path every message comes from) and then the chunked one, on the same snapshot, in",
        "fresh processes; everything after the ingest is the same code.",
        "",
    ]
    return lines


def measure_margin(users: int, k: int, repeat: int) -> None:
    """The margin build of ``users`` x ``k`` beside the spot build of the same users
    (issue 11), alternately ``repeat`` times each; the fastest of each is stored."""
    info = machine()
    spot_snap, margin_snap = snapshot_path(users, k), margin_snapshot_path(users, k)
    best: dict[bool, BuildRun] = {}
    pairs = []
    for _ in range(repeat):
        pair = []
        for margin in (False, True):
            out = DATA_DIR / f"build-{users}u-{k}a-margin-twin{'-m' if margin else ''}"
            run = run_build(margin_snap if margin else spot_snap, k, out, margin=margin)
            run.child["buckets"] = json.loads((out / "build-info.json").read_text())["buckets"]
            shutil.rmtree(out, ignore_errors=True)
            total = run.child["seconds"]["total"]
            pair.append(total)
            print(f"{users:,} x {k} {'margin' if margin else 'spot'}: {run.child['seconds']}",
                  flush=True)
            if margin not in best or total < best[margin].child["seconds"]["total"]:
                best[margin] = run
        pairs.append(pair)
    spot = {**best[False].__dict__, "users": users}
    record = {**best[True].__dict__, "users": users, "machine": info, "cluster": False,
              "margin": True, "spot": spot, "pairs": pairs,
              "floor": hashlib_floor(best[True].child["leaf_count"], 3 * k), "pymerkle": None}
    _store(f"build-{users:09d}u-{k}a-margin.json", json.dumps(record, indent=2) + "\n")


def measure(users: int, k: int, cluster: bool, pymerkle: bool, keep: bool,
            fmt: str = "parquet", repeat: int = 1, hashlib_yardstick: bool = True,
            c_yardstick: bool = True) -> Path:
    """Build one snapshot (locally or on a LocalCluster; from Parquet or the same rows as
    CSV), ``repeat`` times, and store the fastest run's figures; the out dir."""
    info = machine()
    t = time.perf_counter()
    snap = csv_snapshot_path(users, k) if fmt == "csv" else snapshot_path(users, k)
    print(f"snapshot {snap.name}: {time.perf_counter() - t:.1f} s", flush=True)
    suffix = ("-cluster" if cluster else "") + ("-csv" if fmt == "csv" else "")
    out = DATA_DIR / f"build-{users}u-{k}a{suffix}"
    build = None
    walls = []
    sampled = None
    for i in range(max(1, repeat)):
        # Memory is sampled in the first build only; the others are timed undisturbed.
        run = run_build(snap, k, out, cluster, sample=i == 0)
        sampled = sampled or run
        walls.append(run.child["seconds"]["total"])
        print(f"{users:,} x {k}{suffix}: {run.child['seconds']}", flush=True)
        if build is None or walls[-1] < build.child["seconds"]["total"]:
            build = run
    assert build is not None and sampled is not None
    build.peak = sampled.peak
    leaves = build.child["leaf_count"]
    floor = hashlib_floor(leaves, k) if hashlib_yardstick else None
    c_floor_2 = None
    if not cluster and c_yardstick:
        import bench_floor  # the C-speed floor of the same shape, in the same run

        c_floor_2 = bench_floor.measure(users, k).two_cores
    merkle = pymerkle_tree(leaves, k) if pymerkle and leaves <= 1 << 21 else None
    print(f"floor {floor} s, C floor (2 cores) {c_floor_2}, pymerkle {merkle}", flush=True)
    info_file = json.loads((out / "build-info.json").read_text())
    build.child["buckets"] = info_file.get("buckets")
    record = {**build.__dict__, "users": users, "floor": floor, "c_floor_2": c_floor_2,
              "pymerkle": merkle, "format": fmt, "runs": walls,
              "load_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
              "machine": info, "cluster": cluster}
    name = f"build-{users:09d}u-{k}a{suffix}.json"
    _store(name, json.dumps(record, indent=2) + "\n")
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return out


def main() -> None:
    """Entry point of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--wide-assets", type=int, default=8,
                        help="also build the smallest size with this many assets (0: skip)")
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5,
                        help="builds of each size up to 1M users; the fastest is kept")
    parser.add_argument("--no-csv", action="store_true",
                        help="skip the build of the smallest size from CSV")
    parser.add_argument("--no-pymerkle", action="store_true", help="skip the slow yardstick")
    parser.add_argument("--no-c-floor", action="store_true",
                        help="skip the C floor (at 100M under load it takes longer than the"
                        " build; the row then says 'not measured')")
    parser.add_argument("--no-hashlib-floor", action="store_true",
                        help="skip the one-core hashlib floor (minutes at 100M; the C floor"
                        " of the same run stays)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster run")
    parser.add_argument("--no-margin", action="store_true",
                        help="skip the margin round (issue 11) of the smallest size")
    parser.add_argument("--margin-repeat", type=int, default=5,
                        help="spot and margin builds of the margin row, alternately, each")
    parser.add_argument("--margin-only", action="store_true",
                        help="measure only the margin row (and its spot twin) of --users")
    parser.add_argument("--delete-data", action="store_true",
                        help="delete snapshots and trees of more than 1M users afterwards")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite README.md from bench/results without measuring")
    parser.add_argument("--update", action="store_true",
                        help="store the figures as bench/results/*.json and rewrite README.md"
                        " (make bench-update); without it only bench/results/runs/ is written")
    parser.add_argument("--child", nargs=3, metavar=("SNAPSHOT", "ASSETS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--cluster-child", nargs=3, metavar=("SNAPSHOT", "ASSETS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--margin-child", nargs=3, metavar=("SNAPSHOT", "ASSETS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--serial-child", nargs=3, metavar=("SNAPSHOT", "ASSETS", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--serial-ab", type=int, default=0, metavar="N",
                        help="only: N pairs of builds of the smallest size (Parquet and CSV),"
                        " the serial ingest then the workers' parts, alternately")
    args = parser.parse_args()
    if args.child or args.cluster_child or args.margin_child or args.serial_child:
        a = args.child or args.cluster_child or args.margin_child or args.serial_child
        _child_build(a[0], int(a[1]), a[2], cluster=bool(args.cluster_child),
                     margin=bool(args.margin_child), serial=bool(args.serial_child))
        return
    if args.render_only:
        write_readme(None)
        return
    global UPDATE
    UPDATE = args.update
    if args.serial_ab:
        measure_serial_ab(min(args.users), args.assets, args.serial_ab)
        if UPDATE:
            write_readme(None)
        print("\n".join(_render_serial_ab(_load_ab(RUN_DIR))))
        return
    if args.margin_only:
        measure_margin(min(args.users), args.assets, args.margin_repeat)
        if UPDATE:
            print(write_readme(None))
        else:
            print("\n".join(_render_margin(_load_results(RUN_DIR), [])))
        return
    k = args.assets
    proofs = None
    largest = max(args.users)
    for users in sorted(args.users):
        out = measure(users, k, False, not args.no_pymerkle, keep=users == largest,
                      repeat=args.repeat if users <= 1_000_000 else 1,
                      hashlib_yardstick=not args.no_hashlib_floor,
                      c_yardstick=not args.no_c_floor)
        if users == min(args.users) and not args.no_csv:
            measure(users, k, False, False, keep=False, fmt="csv",
                    repeat=args.repeat if users <= 1_000_000 else 1)
        if users == largest:
            time_proofs(out, users, args.proofs)  # first pass: warms the pages it touches
            q = time_proofs(out, users, args.proofs)
            proofs = {"tree": f"{users:,} users x {k} assets", "count": args.proofs, "q": q,
                      "users": users}
            _store(f"proofs-{users:09d}u-{k}a.json", json.dumps(proofs) + "\n")
            shutil.rmtree(out, ignore_errors=True)
        if args.delete_data and users > 1_000_000:
            snapshot_path(users, k).unlink(missing_ok=True)
    if args.wide_assets and args.wide_assets != k:
        measure(min(args.users), args.wide_assets, False, False, keep=False,
                repeat=args.repeat if min(args.users) <= 1_000_000 else 1)
    if not args.no_margin and min(args.users) <= 1_000_000:
        # Beside the spot build of the same users in this run (issue 11: within 1.5x).
        measure_margin(min(args.users), k, args.margin_repeat)
    if not args.no_cluster:
        users = min(args.users)
        if not (RUN_DIR / f"build-{users:09d}u-{k}a.json").exists():
            measure(users, k, False, False, keep=False)
        measure(users, k, True, False, keep=False)
    if UPDATE:
        print(write_readme(proofs))
    else:
        print(render(proofs, RUN_DIR))
        print(f"\nthis run's figures: {RUN_DIR} (make bench-update stores them and rewrites"
              " bench/README.md)")


if __name__ == "__main__":
    main()
