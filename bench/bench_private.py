"""Private scheme (spec §16): primitive costs, build, proof generation, verification and
size, beside a yardstick in the same run (verifying a spot proof of the same round size),
with the extrapolation to 2^20 users × 4 assets from the measured per-operation rates.

Full hiding (version 1) and hybrid hiding (version 2, §16.14, ``--hidden 8``) are measured
on the same build (the hybrid round differs only in its root). The load average is recorded
before and after: the machine is shared, so the ratio to the yardsticks is what carries over.

Writes bench/results/private-<users>u-<assets>a-<workers>w.json and prints it.
Run: .venv/bin/python bench/bench_private.py [--users 4096] [--assets 4] [--workers 2]
     [--hidden 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from por.liabilities.private import build_private_tree, prove, write_private_round
from verifier.liabilities.mst import Asset
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, verify_private_proof
from verifier.private.scheme import PrivateAsset, generator_seed, range_position, root_hash

RESULTS = Path(__file__).parent / "results"
SECRET = bytes(range(32))  # a fixed, public bench secret: never a real round's


def best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def primitives() -> dict[str, float]:
    seed = generator_seed(PrivateAsset("BTC", 8, 0))
    gen = pc.generator(seed)
    c = pc.commit(123456789, 987654321, gen, "b")
    position = range_position("bench", 0, 1, 0)
    proof = pc.prove_range(123456789, 987654321, c, gen, seed, bytes(32), position)
    n = 200
    commit_us = best(lambda: [pc.commit(i, 987654321, gen, "b") for i in range(n)]) / n * 1e6
    create_ms = best(lambda: pc.prove_range(123456789, 987654321, c, gen, seed, bytes(32),
                                            position), 3) * 1e3
    verify_ms = best(lambda: pc.verify_range(c, proof, gen, position, "b")) * 1e3
    a, b = pc.commit(1, 2, gen, "b"), pc.commit(3, 4, gen, "b")
    s = pc.commit(4, 6, gen, "b")

    def sums() -> None:
        for _ in range(n):
            pc.check_sum(s, a, b, "b")

    tally_us = best(sums) / n * 1e6
    return {"commit_us": commit_us, "range_proof_create_ms": create_ms,
            "range_proof_verify_ms": verify_ms, "range_proof_bytes": len(proof),
            "commitment_sum_check_us": tally_us}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=4096)
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=8, help="L of the hybrid round measured")
    parser.add_argument("--recompute", type=Path,
                        help="recompute a stored result's estimates from its measured figures")
    args = parser.parse_args()
    if args.recompute:
        stored = json.loads(args.recompute.read_text())
        stored = {key: v for key, v in stored.items() if not key.startswith("extrapolated")}
        stored.update(extrapolate(stored))
        args.recompute.write_text(json.dumps(stored, indent=2) + "\n")
        print(json.dumps(stored, indent=2))
        return
    load_before = os.getloadavg()
    assets = [Asset(s, 8) for s in ("BTC", "ETH", "USDT", "SOL", "XRP", "ADA")[:args.assets]]
    users = [(f"u{i}", [(i * 7919 + j * 104729) % 10**12 for j in range(args.assets)])
             for i in range(args.users)]
    prim = primitives()
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    tree = build_private_tree("bench", assets, SECRET, users, workers=args.workers)
    build_s = time.perf_counter() - start
    build_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    levels = tree.leaf_count.bit_length() - 1
    hidden = min(args.hidden, levels - 1)
    top = tree.levels[-1][0]
    hybrid = dataclasses.replace(tree, root=dataclasses.replace(
        tree.root, hidden_levels=hidden, root_hash=root_hash(
            "bench", tree.assets, tree.leaf_count, top.hash, top.commitments, top.values,
            top.blindings, hidden)))
    spot_build_s = spot_build_yardstick(tree)
    measured: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spot_times = [spot_yardstick(args.users, args.assets, Path(tmp))]
        for name, round_tree in (("full", tree), (f"hybrid_L{hidden}", hybrid)):
            out = Path(tmp) / name
            write_private_round(round_tree, out)
            tree_bytes = (out / "tree.bin").stat().st_size
            prove_times, verify_times, sizes = [], [], []
            for user_id, _ in users[:: max(1, args.users // 5)][:5]:
                t0 = time.perf_counter()
                proof = prove(out, SECRET, user_id)
                prove_times.append(time.perf_counter() - t0)
                data = proof.to_bytes()
                sizes.append(len(data))
                t0 = time.perf_counter()
                verify_private_proof(PrivateProof.from_json(data),
                                     expected_root=proof.root.root_hash)
                verify_times.append(time.perf_counter() - t0)
            measured[name] = {"proof_create_s_median": statistics.median(prove_times),
                              "proof_verify_s_median": statistics.median(verify_times),
                              "proof_bytes_median": statistics.median(sizes)}
    load_after = os.getloadavg()
    k = args.assets
    prove_times = [measured["full"]["proof_create_s_median"]]
    verify_times = [measured["full"]["proof_verify_s_median"]]
    sizes = [int(measured["full"]["proof_bytes_median"])]
    nodes = 2 * tree.leaf_count - 1
    result = {
        "machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} cores",
        "load_average_before": list(load_before), "load_average_after": list(load_after),
        "build_peak_rss_mb": build_rss_mb, "rss_before_build_mb": rss_before_mb,
        "yardstick_spot_hashing_same_tree_s": spot_build_s,
        "measured": measured, "hybrid_hidden_levels": hidden,
        "users": args.users, "assets": k, "leaf_count": tree.leaf_count, "levels": levels,
        "primitives": prim,
        "build_s": build_s, "build_workers": args.workers,
        "build_us_per_node_asset": build_s / (nodes * k) * 1e6,
        "tree_file_bytes": tree_bytes,
        "proof_create_s_median": statistics.median(prove_times),
        "proof_verify_s_median": statistics.median(verify_times),
        "proof_bytes_median": statistics.median(sizes),
        "yardstick_spot_proof_verify_s": statistics.median(spot_times),
    }
    result.update(extrapolate(result))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"private-{args.users:09d}u-{k}a-{args.workers}w.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def extrapolate(r: dict) -> dict:  # type: ignore[type-arg]
    """Estimates from a run's measured figures (labelled: nothing here is measured).

    Build: ``as_run`` scales the build's wall time per node and asset (its workers, its
    load); ``at_commit_cost`` is commitments × this run's single-core commitment cost / cores
    (the build is its commitments). Proofs: per hidden step (range proof) and per opened step
    from the full and the hybrid proofs of this run, scaled to 4 assets and the levels.
    """
    k, levels, hidden = r["assets"], r["levels"], r["hybrid_hidden_levels"]
    full, hyb = r["measured"]["full"], r["measured"][f"hybrid_L{hidden}"]
    step_prove = full["proof_create_s_median"] / (levels * k)
    step_verify = full["proof_verify_s_median"] / (levels * k)
    step_bytes = full["proof_bytes_median"] / (levels * k)
    opened = (levels - hidden) * k
    open_prove = max(0.0, hyb["proof_create_s_median"] - step_prove * hidden * k) / opened
    open_verify = max(0.0, hyb["proof_verify_s_median"] - step_verify * hidden * k) / opened
    open_bytes = max(0.0, hyb["proof_bytes_median"] - step_bytes * hidden * k) / opened
    wall_us = r["build_us_per_node_asset"]
    commit_us = r["primitives"]["commit_us"]

    def proofs(levels_: int, hidden_: int) -> dict[str, float]:
        hid, opn = hidden_ * 4, (levels_ - hidden_) * 4
        return {"proof_create_s": step_prove * hid + open_prove * opn,
                "proof_verify_s": step_verify * hid + open_verify * opn,
                "proof_bytes": step_bytes * hid + open_bytes * opn}

    c20, c100m = (2 * 2**20 - 1) * 4, (2 * 2**27 - 1) * 4  # 100M users pad to 2^27 leaves
    return {
        "estimated_2^20_users_4_assets": {
            "commitments": c20,
            "build_s_as_run": wall_us * c20 / 1e6,
            "build_s_2_cores_at_commit_cost": commit_us * c20 / 1e6 / 2,
            "build_peak_rss_mb": (r["build_peak_rss_mb"] - r["rss_before_build_mb"])
            * 2**20 / r["leaf_count"] * 4 / k,
            "full": proofs(20, 20), "hybrid_L8": proofs(20, 8),
        },
        "estimated_100M_users_4_assets": {
            "commitments": c100m,
            "build_h_as_run": wall_us * c100m / 1e6 / 3600,
            "build_h_2_cores_at_commit_cost": commit_us * c100m / 1e6 / 3600 / 2,
            "build_min_dask_64_cores_at_commit_cost": commit_us * c100m / 1e6 / 60 / 64,
            "build_min_dask_256_cores_at_commit_cost": commit_us * c100m / 1e6 / 60 / 256,
            "full": proofs(27, 27), "hybrid_L8": proofs(27, 8),
        },
    }


def spot_build_yardstick(tree) -> float:  # type: ignore[no-untyped-def]
    """The yardstick for the build: hashing the same leaves and nodes with the spot scheme
    (§6: leaf and node hashes over exact sums), in this process, in the same run."""
    from verifier.liabilities.mst import encode_amounts, leaf_hash, node_hash

    start = time.perf_counter()
    row = [(leaf_hash(c, encode_amounts(a)), a)
           for c, a in zip(tree.user_commitments, tree.amounts, strict=True)]
    while len(row) > 1:
        nxt = []
        for i in range(0, len(row), 2):
            (lh, la), (rh, ra) = row[i], row[i + 1]
            sums = tuple(x + y for x, y in zip(la, ra, strict=True))
            nxt.append((node_hash(lh, encode_amounts(la), rh, encode_amounts(ra)), sums))
        row = nxt
    return time.perf_counter() - start


def spot_yardstick(users: int, assets: int, tmp: Path) -> float:
    """The yardstick: verifying a public-scheme proof of a round of the same shape."""
    from verifier.liabilities.mst import (
        derive_salt,
        encode_amounts,
        leaf_hash,
        node_hash,
        user_commitment,
    )
    from verifier.liabilities.proof import InclusionProof, PathStep, verify_proof

    del tmp
    # A path of the same length with the same number of assets; sums bound as in §6.
    levels = max(1, (users - 1).bit_length())
    amounts = [1] * assets
    salt = derive_salt(SECRET, "bench", "u0")
    h = leaf_hash(user_commitment("bench", "u0", salt), encode_amounts(amounts))
    sums = list(amounts)
    steps = []
    for _ in range(levels):
        sib_hash, sib_sums = bytes(32), list(sums)
        steps.append(PathStep("right", sib_hash, tuple(sib_sums)))
        h = node_hash(h, encode_amounts(sums), sib_hash, encode_amounts(sib_sums))
        sums = [a + b for a, b in zip(sums, sib_sums, strict=True)]
    from verifier.liabilities.mst import root_hash

    asset_list = tuple(Asset(f"A{j}", 8) for j in range(assets))
    root = root_hash("bench", asset_list, 1 << levels, h, encode_amounts(sums))
    proof = InclusionProof("bench", asset_list, "u0", salt, tuple(amounts), tuple(steps), root,
                           tuple(sums), 1 << levels)
    return best(lambda: verify_proof(proof, expected_root=root))


if __name__ == "__main__":
    main()
