"""Benchmark of the liabilities tree: build throughput, build memory, proof reads, verification.

Run by ``make bench``. Every figure is written into ``bench/README.md`` beside a yardstick
measured in the same run on the same machine, because the machine is shared and absolute
timings drift from run to run; the ratio to the yardstick is what carries over.

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

from snapshot_gen import DATA_DIR, assets_for, snapshot_path

from verifier.mst import AMOUNT_SIZE, HASH_SIZE

README = Path(__file__).resolve().parent / "README.md"
ROUND = "bench-round"
SECRET = bytes(range(32))  # fixed, so that two runs build byte-identical trees
TAG_SIZE = 16
SAMPLE_EVERY = 0.02  # seconds between memory samples


# ---------------------------------------------------------------------------- the build


def _child_build(snapshot: str, asset_count: int, out: str) -> None:
    """Child mode: build one tree and print what it measured as JSON on stdout."""
    from por.build import build_tree

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


def run_build(snapshot: Path, asset_count: int, out: Path) -> BuildRun:
    """Build in a child process, sampling the memory of its process tree meanwhile."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(snapshot), str(asset_count), str(out)],
        stdout=subprocess.PIPE, text=True,
    )
    peak: dict[str, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for key, value in _memory_of(proc.pid).items():
                peak[key] = max(peak.get(key, 0), value)
            done.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    done.set()
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
    from por.prove import Prover
    from verifier.proof import verify_proof

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

# Measured by this script on the same machine before the build was optimised (commit
# c954572), kept so the table above can be read against where it started.
HISTORY = """\
Before optimisation (commit c954572, same machine, same script): 1M x 4 built in 9.25 s
(108,099 users/s; ingest 3.09, commitments 2.17, order 1.80, sums 0.39, hashing 1.74) with a
hashlib floor of 1.04 s in that run, and a peak PSS of 925 MiB (723 MiB anonymous), 4.13x
the tree file; 1M x 8 in 13.92 s (71,851 users/s), peak PSS 1,174 MiB."""


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
    }


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def render(info: dict[str, str], runs: list[dict[str, Any]], proofs: dict[str, Any],
           users: int) -> str:
    """The results section of bench/README.md."""
    lines = [
        "# Benchmarks",
        "",
        "`make bench` runs `bench/bench_build.py`, which regenerates this file. Each figure",
        "stands beside a yardstick measured in the same run: the machine is shared, so",
        "absolute timings drift, and the ratio is what carries over.",
        "",
        "The snapshot is synthetic (`bench/snapshot_gen.py`): long-format Parquet where every",
        "user holds every asset (the densest case), amounts are exact decimal strings with each",
        "asset's real decimals (ETH has 18, so sums exceed 64 bits). It is cached in",
        "`bench/data/`. The build uses a fixed secret, so a run also checks that the tree",
        "bytes match the previous run (the `tree.bin sha256` column).",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']},"
        f" {info['date']}, load average at start {info['load']}.",
        "",
        "## Build (ingest + commitments + order + sums + hashing, end to end)",
        "",
        "| users x assets | rows | leaves N (padded) | build s | users/s | leaves/s"
        " | hashlib floor, 1 core | pymerkle InmemoryTree | peak PSS (anon)"
        " | ru_maxrss main / workers | tree file | PSS / tree file |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        total = r["child"]["seconds"]["total"]
        leaves = r["child"]["leaf_count"]
        lines.append(
            f"| {users:,} x {r['asset_count']} | {r['child']['rows']:,}"
            f" | {leaves:,} | {total:.2f} | **{users / total:,.0f}** | {leaves / total:,.0f}"
            f" | {r['floor']:.2f} s ({leaves / r['floor']:,.0f} leaves/s)"
            f" | {r['pymerkle']:.2f} s ({leaves / r['pymerkle']:,.0f} leaves/s)"
            f" | {_mib(r['peak']['Pss'])} ({_mib(r['peak']['Pss_Anon'])})"
            f" | {_mib(r['child']['maxrss_kib'])} / {_mib(r['child']['maxrss_workers_kib'])}"
            f" | {r['tree_bytes'] / 2**20:,.0f} MiB"
            f" | {r['peak']['Pss'] * 1024 / r['tree_bytes']:.2f} |"
        )
    lines += [
        "",
        "Stage seconds (from `build-info.json`):",
        "",
        "| users x assets | ingest | commitments | order | sums | hashing | total"
        " | CPU s, all processes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        sec = r["child"]["seconds"]
        stages = " | ".join(f"{sec.get(s, 0.0):.2f}"
                            for s in ("ingest", "commitments", "order", "sums", "hashing",
                                      "total"))
        lines.append(f"| {users:,} x {r['asset_count']} | {stages}"
                     f" | {r['child'].get('cpu_seconds', 0.0):.2f} |")
    lines += [
        "",
        "Hashlib floor: a bare `hashlib.sha256` loop, on one core, over as many preimages of",
        "the same sizes as the tree hashes (N leaf preimages of 16+32+16k bytes, N-1 node",
        "preimages of 16+2(32+16k) bytes); the build itself also derives two HMAC/SHA-256",
        "commitments per user, sorts, sums, and uses both cores. pymerkle: 7.0.0's",
        "`InmemoryTree`, appending the same number of leaves (no sums, no commitments) and",
        "asking for the root. Peak PSS is sampled every 20 ms over the build process and its",
        "workers; it includes the dirty pages of the memory-mapped tree file being written",
        "(the anonymous part is in brackets). `tree.bin sha256`: "
        + ", ".join(f"{r['asset_count']} assets `{r['tree_sha256'][:16]}`" for r in runs)
        + ".",
        "",
        HISTORY,
        "",
        f"## One proof ({proofs['tree']}, {proofs['count']} random users)",
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
    ]
    return "\n".join(lines)


def main() -> None:
    """Entry point of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--no-pymerkle", action="store_true", help="skip the slow yardstick")
    parser.add_argument("--no-readme", action="store_true", help="print, do not write README")
    parser.add_argument("--child", nargs=3, metavar=("SNAPSHOT", "ASSETS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_build(args.child[0], int(args.child[1]), args.child[2])
        return
    info = machine()
    runs: list[dict[str, Any]] = []
    outs: dict[int, Path] = {}
    for k in args.assets:
        t = time.perf_counter()
        snap = snapshot_path(args.users, k)
        print(f"snapshot {snap.name}: {time.perf_counter() - t:.1f} s", flush=True)
        out = DATA_DIR / f"build-{args.users}u-{k}a"
        build = run_build(snap, k, out)
        outs[k] = out
        leaves = build.child["leaf_count"]
        print(f"{k} assets: build {build.child['seconds']}", flush=True)
        floor = hashlib_floor(leaves, k)
        merkle = float("nan") if args.no_pymerkle else pymerkle_tree(leaves, k)
        print(f"{k} assets: floor {floor:.2f} s, pymerkle {merkle:.2f} s", flush=True)
        runs.append({**build.__dict__, "floor": floor, "pymerkle": merkle})
    k = args.assets[0]
    q = time_proofs(outs[k], args.users, args.proofs)
    proofs = {"tree": f"{args.users:,} users x {k} assets", "count": args.proofs, "q": q}
    text = render(info, runs, proofs, args.users)
    (DATA_DIR / "last-results.json").write_text(json.dumps(
        {"machine": info, "runs": runs, "proofs": proofs}, indent=2) + "\n")
    if args.no_readme:
        print(text)
    else:
        README.write_text(text)
        print(text)


if __name__ == "__main__":
    main()
