"""Private scheme (spec §16): build, proof generation, verification and size, each beside
its yardstick measured in the same run, and estimates for 100M users from measured rates.

- Build: the bounded-memory builder (``build_private_round``, the CLI's) with ``--workers``
  processes (each subtree in one call of the C accelerator ``por._privfast``, or in Python
  with ``--no-native``), its peak memory, beside the floor: the cost of the same number of
  library calls (a fresh commitment and its point per leaf and asset, a point addition per
  parent and asset), measured twice in this run: on one core with the other idle (the
  single-core floor, divided by the workers), and in ``--workers`` processes at once, right
  before and after the build (the same-concurrency floor: what the library alone costs when
  every core is busy, as during the build; CPU seconds per call rise when both cores of this
  virtual machine are busy). ``--reference`` also times the in-memory reference builder
  (small sizes only).
- Proofs: full hiding (version 1) and hybrid rounds (version 2, ``--hidden 8 12``) made
  from the same build (a hybrid round differs only in the tree file's header and the
  root). Each beside the spot proof of the same shape (verify) and the raw library cost
  of the same number of range proofs, on one thread and on :data:`THREADS` threads.

The load average is recorded before and after: the machine is shared, so the ratio to the
yardsticks is what carries over. Writes bench/results/private-<users>u-<assets>a-<workers>w.json.
Run: .venv/bin/python bench/bench_private.py [--users 65536] [--assets 4] [--workers 2]
     [--hidden 8 12] [--reference] [--no-native]
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.liabilities.private import (
    ROOT_FILE,
    TREE_FILE,
    build_private_round,
    build_private_tree,
    prove,
)
from verifier.liabilities.mst import Asset
from verifier.private import _secp256k1_zkp as zkp
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, PrivateRoot, verify_private_proof
from verifier.private.scheme import PrivateAsset, generator_seed, range_position, root_hash
from verifier.private.treefile import PrivateTreeFile, header_bytes

RESULTS = Path(__file__).parent / "results"
SECRET = bytes(range(32))  # a fixed, public bench secret: never a real round's
THREADS = pc.THREADS


def best(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def primitives() -> dict[str, float]:
    """Single-core library costs in this run (best of 5)."""
    seed = generator_seed(PrivateAsset("BTC", 8, 0))
    gen = pc.generator(seed)
    c = pc.commit(123456789, 987654321, gen, "b")
    d = pc.commit(5, 77, gen, "b")
    position = range_position("bench", 0, 1, 0)
    proof = pc.prove_range(123456789, 987654321, c, gen, seed, bytes(32), position)
    n = 200
    commit_us = best(lambda: [pc.commit(i, 987654321, gen, "b") for i in range(n)]) / n * 1e6
    point_us = best(lambda: [zkp.commitment_point(c, "b") for _ in range(n)]) / n * 1e6
    pc_, pd = zkp.commitment_point(c, "b"), zkp.commitment_point(d, "b")
    add_us = best(lambda: [zkp.add_points(pc_, pd, "b") for _ in range(n)]) / n * 1e6
    create_ms = best(lambda: pc.prove_range(123456789, 987654321, c, gen, seed, bytes(32),
                                            position), 3) * 1e3
    verify_ms = best(lambda: pc.verify_range(c, proof, gen, position, "b")) * 1e3
    return {"commit_us": commit_us, "commitment_to_point_us": point_us,
            "point_addition_us": add_us, "range_proof_create_ms": create_ms,
            "range_proof_verify_ms": verify_ms, "range_proof_bytes": len(proof)}


FLOOR_CALLS = 2000  # per worker process, per same-concurrency floor measurement


def _floor_work(calls: int) -> tuple[float, float]:
    """In a worker: ``calls`` × (a fresh commitment, its point, a point addition) with
    distinct values and blindings, as the build makes them; (wall, CPU) seconds."""
    seed = generator_seed(PrivateAsset("BTC", 8, 0))
    gen = pc.generator(seed)
    other = zkp.commitment_point(pc.commit(5, 77, gen, "b"), "b")
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(calls):
        point = zkp.commitment_point(pc.commit(1000 + i, 987654321 + 7 * i, gen, "b"), "b")
        zkp.add_points(point, other, "b")
    return time.perf_counter() - wall, time.process_time() - cpu


def concurrent_floor(workers: int, calls: int = FLOOR_CALLS) -> dict[str, float]:
    """The library floor with ``workers`` processes busy at once: wall and CPU seconds per
    (commitment + point + addition), each process making ``calls`` of them."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_floor_work, [10] * workers))  # started and warm
        start = time.perf_counter()
        done = list(pool.map(_floor_work, [calls] * workers))
        wall = time.perf_counter() - start
    return {"workers": workers, "calls_per_worker": calls,
            "wall_us_per_call_per_worker": wall / calls * 1e6,
            "cpu_us_per_call": sum(c for _, c in done) / (calls * workers) * 1e6}


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and its finished workers: less sensitive
    to a shared machine's load than wall time (a process waiting for a core uses none)."""
    me, kids = (resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def range_proof_floor(count: int) -> dict[str, float]:
    """The raw library cost of ``count`` range proofs, made and verified, on one thread and
    on THREADS threads: what a proof of that many hidden siblings cannot go below."""
    seed = generator_seed(PrivateAsset("BTC", 8, 0))
    gen = pc.generator(seed)
    items = [(i + 1, 1000 + i) for i in range(count)]
    commits = [pc.commit(v, r, gen, "b") for v, r in items]
    positions = [range_position("bench", 0, i, 0) for i in range(count)]

    def make(i: int) -> bytes:
        return pc.prove_range(items[i][0], items[i][1], commits[i], gen, seed, bytes(32),
                              positions[i])

    proofs = [make(i) for i in range(count)]

    def check(i: int) -> bool:
        pc.verify_range(commits[i], proofs[i], gen, positions[i], "b")
        return True

    idx = list(range(count))
    return {
        "range_proofs": count,
        "make_s_1_thread": best(lambda: [make(i) for i in idx], 2),
        f"make_s_{THREADS}_threads": best(lambda: pc.parallel_map(make, idx), 2),
        "verify_s_1_thread": best(lambda: [check(i) for i in idx], 2),
        f"verify_s_{THREADS}_threads": best(lambda: pc.parallel_map(check, idx), 2),
    }


def native_available() -> bool:
    """Whether the C accelerator is built (the build falls back to Python without it)."""
    from por.liabilities.private import _native

    return _native() is not None


def hybrid_copy(full: Path, out: Path, hidden: int) -> None:
    """The hybrid round (§16.14) of a full-hiding build: the same records under a version-2
    header and root (L bound in both)."""
    out.mkdir()
    root = PrivateRoot.from_json((full / ROOT_FILE).read_bytes())
    with open(full / TREE_FILE, "rb") as fh:
        data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        tree = PrivateTreeFile(data)
        top = tree.node(tree.levels, 0)
        header = header_bytes(root.round_id, root.assets, root.leaf_count, hidden)
        prefix = bytearray(b"PORPRV\x00\x01" + len(header).to_bytes(4, "big") + header)
        prefix += bytes((64 - len(prefix) % 64) % 64)
        with open(out / TREE_FILE, "wb") as dst:
            dst.write(prefix)
            fh.seek(tree._users)  # the records after the header are the same bytes
            shutil.copyfileobj(fh, dst, 1 << 24)
        data.close()
    os.chmod(out / TREE_FILE, 0o600)
    hybrid = PrivateRoot(root.round_id, root.assets, root.leaf_count, root_hash(
        root.round_id, root.assets, root.leaf_count, top.hash, top.commitments, top.values,
        top.blindings, hidden), root.totals, root.blindings, hidden)
    (out / ROOT_FILE).write_bytes(hybrid.to_bytes())


def measure_proofs(round_dir: Path, user_ids: list[str]) -> dict[str, Any]:
    prove_times, verify_times, sizes, checked = [], [], [], 0
    for user_id in user_ids:
        t0 = time.perf_counter()
        proof = prove(round_dir, SECRET, user_id)
        prove_times.append(time.perf_counter() - t0)
        data = proof.to_bytes()
        sizes.append(len(data))
        t0 = time.perf_counter()
        report = verify_private_proof(PrivateProof.from_json(data),
                                      expected_root=proof.root.root_hash)
        verify_times.append(time.perf_counter() - t0)
        checked = report.range_proofs_checked
    return {"proof_create_s_median": statistics.median(prove_times),
            "proof_verify_s_median": statistics.median(verify_times),
            "proof_bytes_median": statistics.median(sizes), "range_proofs": checked}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=65536)
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 12],
                        help="the L of each hybrid round measured")
    parser.add_argument("--reference", action="store_true",
                        help="also time the in-memory reference builder (small sizes)")
    parser.add_argument("--no-native", action="store_true",
                        help="build in Python (without the C accelerator por._privfast)")
    parser.add_argument("--recompute", type=Path,
                        help="recompute a stored result's estimates from its measured figures")
    args = parser.parse_args()
    if args.recompute:
        stored = json.loads(args.recompute.read_text())
        stored = {key: v for key, v in stored.items() if not key.startswith("estimated")}
        stored.update(estimate(stored))
        args.recompute.write_text(json.dumps(stored, indent=2) + "\n")
        print(json.dumps(stored, indent=2))
        return
    load_before = os.getloadavg()
    k = args.assets
    assets = [Asset(s, 8) for s in ("BTC", "ETH", "USDT", "SOL", "XRP", "ADA")[:k]]

    def users() -> Any:  # a generator: the builder holds one record per user, not these
        return ((f"u{i}", [(i * 7919 + j * 104729) % 10**12 for j in range(k)])
                for i in range(args.users))

    prim = primitives()
    floor_before = concurrent_floor(args.workers)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} cores",
        "load_average_before": list(load_before), "users": args.users, "assets": k,
        "workers": args.workers, "threads": THREADS, "primitives": prim,
        "native": not args.no_native and native_available()}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        full = Path(tmp) / "full"
        cpu_before = cpu_seconds()
        main_before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        root, stats = build_private_round("bench", assets, SECRET, users(), full,
                                          workers=args.workers, accelerate=not args.no_native)
        build_s = time.perf_counter() - start
        build_cpu_s = cpu_seconds() - cpu_before
        main_after = resource.getrusage(resource.RUSAGE_SELF)
        build_main_cpu_s = (main_after.ru_utime + main_after.ru_stime
                            - main_before.ru_utime - main_before.ru_stime)
        load_after_build = list(os.getloadavg())
        floor_after = concurrent_floor(args.workers)
        n, levels = root.leaf_count, root.leaf_count.bit_length() - 1
        floor_s = (n * k * (prim["commit_us"] + prim["commitment_to_point_us"])
                   + (n - 1) * k * prim["point_addition_us"]) / 1e6 / args.workers
        calls = n * k  # one commitment + point per leaf and asset; (n − 1)·k additions ≈ n·k
        per_call_cpu = (floor_before["cpu_us_per_call"] + floor_after["cpu_us_per_call"]) / 2
        per_call_wall = (floor_before["wall_us_per_call_per_worker"]
                         + floor_after["wall_us_per_call_per_worker"]) / 2
        result.update({
            "yardstick_concurrent_floor_before": floor_before,
            "yardstick_concurrent_floor_after": floor_after,
            "yardstick_concurrent_floor_cpu_s": calls * per_call_cpu / 1e6,
            "yardstick_concurrent_floor_s": calls * per_call_wall / 1e6 / args.workers,
            "build_cpu_over_concurrent_floor_cpu": build_cpu_s / (calls * per_call_cpu / 1e6),
            "build_over_concurrent_floor": build_s / (calls * per_call_wall / 1e6
                                                      / args.workers),
            "build_main_process_cpu_s": build_main_cpu_s,
            "build_cores_busy_on_average": build_cpu_s / build_s,
            "leaf_count": n, "levels": levels, "build_s": build_s,
            "build_cpu_s": build_cpu_s, "build_cpu_over_floor_cpu": build_cpu_s / (
                floor_s * args.workers),
            "load_average_after_build": load_after_build,
            "build_peak_rss_mib": stats.peak_rss_mib,
            "build_peak_worker_rss_mib": stats.peak_worker_rss_mib,
            "build_children_peak_rss_mib":
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "build_subtree_tasks": stats.tasks,
            "yardstick_build_floor_s": floor_s,
            "build_over_floor": build_s / floor_s,
            "tree_file_bytes": (full / TREE_FILE).stat().st_size})
        if args.reference:
            start = time.perf_counter()
            build_private_tree("bench", assets, SECRET, list(users()))
            result["reference_in_memory_build_1_process_s"] = time.perf_counter() - start
        sample = [f"u{i}" for i in range(0, args.users, max(1, args.users // 5))][:5]
        rounds: dict[str, Path] = {"full": full}
        for hidden in args.hidden:
            if 1 <= hidden < levels:
                rounds[f"hybrid_L{hidden}"] = Path(tmp) / f"hybrid{hidden}"
                hybrid_copy(full, rounds[f"hybrid_L{hidden}"], hidden)
        measured: dict[str, Any] = {}
        for name, path in rounds.items():
            row = measure_proofs(path, sample)
            row["yardstick_range_proof_floor"] = range_proof_floor(int(row["range_proofs"]))
            measured[name] = row
            if name != "full":
                shutil.rmtree(path)
        result["proofs"] = measured
        result["yardstick_spot_proof_verify_s"] = spot_yardstick(levels, k)
    result["load_average_after"] = list(os.getloadavg())
    result.update(estimate(result))
    RESULTS.mkdir(exist_ok=True)
    suffix = "-python" if args.no_native else ""
    path = RESULTS / f"private-{args.users:09d}u-{k}a-{args.workers}w{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def estimate(r: dict[str, Any]) -> dict[str, Any]:
    """100M users (2^27 leaves) × the run's assets, from this run's measured rates (labelled
    estimates: nothing here is measured). The build is subtree tasks that share nothing but
    their roots' blindings, so it splits over processes and machines; its rate per leaf is
    this run's (build wall × workers / leaves: the core-seconds per leaf, including the
    parents' additions and every hash). A proof grows by one step per level."""
    n, workers, k, prim = r["leaf_count"], r["workers"], r["assets"], r["primitives"]
    core_s_per_leaf = r["build_s"] * workers / n
    floor_per_leaf = k * (prim["commit_us"] + prim["commitment_to_point_us"]
                          + prim["point_addition_us"]) / 1e6
    leaves = 2**27
    full = r["proofs"]["full"]
    per_level = {key: full[key] / r["levels"] for key in
                 ("proof_create_s_median", "proof_verify_s_median", "proof_bytes_median")}
    return {"estimated_100M_users": {
        "leaves": leaves,
        "build_core_s_per_leaf_measured": core_s_per_leaf,
        "build_h_2_cores": core_s_per_leaf * leaves / 2 / 3600,
        "build_min_dask_64_cores": core_s_per_leaf * leaves / 64 / 60,
        "build_min_dask_256_cores": core_s_per_leaf * leaves / 256 / 60,
        **({"build_cpu_s_per_leaf_measured": r["build_cpu_s"] / n,
            "build_h_2_cores_at_cpu": r["build_cpu_s"] / n * leaves / 2 / 3600,
            "build_min_dask_64_cores_at_cpu": r["build_cpu_s"] / n * leaves / 64 / 60,
            "build_min_dask_256_cores_at_cpu": r["build_cpu_s"] / n * leaves / 256 / 60}
           if "build_cpu_s" in r else {}),
        "floor_core_s_per_leaf": floor_per_leaf,
        "build_h_2_cores_at_floor": floor_per_leaf * leaves / 2 / 3600,
        "build_min_dask_64_cores_at_floor": floor_per_leaf * leaves / 64 / 60,
        "build_min_dask_256_cores_at_floor": floor_per_leaf * leaves / 256 / 60,
        "tree_file_gib": r["tree_file_bytes"] * leaves / n / 2**30,
        "full_proof_27_levels": {key: v * 27 for key, v in per_level.items()},
        "note": "Dask: each subtree task writes its own records (or its own part file); the"
                " top levels are 2^27 / 2^12 = 32,768 roots, seconds of work. I/O of the tree"
                " file and the shuffle of sorted leaves are not in these figures.",
    }}


def spot_yardstick(levels: int, assets: int) -> float:
    """The yardstick: verifying a public-scheme proof of the same shape (levels, assets)."""
    from verifier.liabilities.mst import (
        derive_salt,
        encode_amounts,
        leaf_hash,
        node_hash,
        user_commitment,
    )
    from verifier.liabilities.mst import root_hash as spot_root
    from verifier.liabilities.proof import InclusionProof, PathStep, verify_proof

    amounts = [1] * assets
    salt = derive_salt(SECRET, "bench", "u0")
    h = leaf_hash(user_commitment("bench", "u0", salt), encode_amounts(amounts))
    sums = list(amounts)
    steps = []
    for _ in range(max(1, levels)):
        sib_hash, sib_sums = bytes(32), list(sums)
        steps.append(PathStep(side="right", hash=sib_hash, sums=tuple(sib_sums)))
        h = node_hash(h, encode_amounts(sums), sib_hash, encode_amounts(sib_sums))
        sums = [a + b for a, b in zip(sums, sib_sums, strict=True)]
    asset_list = tuple(Asset(f"A{j}", 8) for j in range(assets))
    root = spot_root("bench", asset_list, 1 << max(1, levels), h, encode_amounts(sums))
    proof = InclusionProof(round_id="bench", assets=asset_list, user_id="u0", salt=salt,
                           amounts=tuple(amounts), path=tuple(steps), root_hash=root,
                           root_sums=tuple(sums), leaf_count=1 << max(1, levels))
    return best(lambda: verify_proof(proof, expected_root=root))


if __name__ == "__main__":
    main()
