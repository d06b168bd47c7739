"""Private scheme (spec §16): primitive costs, build, proof generation, verification and
size, beside a yardstick in the same run (verifying a spot proof of the same round size),
with the extrapolation to 2^20 users × 4 assets from the measured per-operation rates.

Writes bench/results/private-<users>u-<assets>a.json and prints a table.
Run: .venv/bin/python bench/bench_private.py [--users 4096] [--assets 4]
"""

from __future__ import annotations

import argparse
import json
import platform
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
from verifier.private.scheme import PrivateAsset, generator_seed, range_position

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
    args = parser.parse_args()
    assets = [Asset(s, 8) for s in ("BTC", "ETH", "USDT", "SOL", "XRP", "ADA")[:args.assets]]
    users = [(f"u{i}", [(i * 7919 + j * 104729) % 10**12 for j in range(args.assets)])
             for i in range(args.users)]
    prim = primitives()
    start = time.perf_counter()
    tree = build_private_tree("bench", assets, SECRET, users, workers=args.workers)
    build_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "round"
        write_private_round(tree, out)
        tree_bytes = (out / "tree.bin").stat().st_size
        prove_times, verify_times, sizes, spot_times = [], [], [], []
        for user_id, _ in users[:: max(1, args.users // 5)][:5]:
            t0 = time.perf_counter()
            proof = prove(out, SECRET, user_id)
            prove_times.append(time.perf_counter() - t0)
            data = proof.to_bytes()
            sizes.append(len(data))
            t0 = time.perf_counter()
            verify_private_proof(PrivateProof.from_json(data), expected_root=proof.root.root_hash)
            verify_times.append(time.perf_counter() - t0)
        spot_times.append(spot_yardstick(args.users, args.assets, Path(tmp)))
    levels = tree.leaf_count.bit_length() - 1
    k = args.assets
    nodes = 2 * tree.leaf_count - 1
    per_node_asset_us = build_s / (nodes * k) * 1e6
    per_step_ms = statistics.median(verify_times) / (levels * k) * 1e3
    per_step_prove_ms = statistics.median(prove_times) / (levels * k) * 1e3
    per_step_bytes = (statistics.median(sizes)) / levels
    result = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "users": args.users, "assets": k, "leaf_count": tree.leaf_count, "levels": levels,
        "primitives": prim,
        "build_s": build_s, "build_workers": args.workers,
        "build_us_per_node_asset": per_node_asset_us,
        "tree_file_bytes": tree_bytes,
        "proof_create_s_median": statistics.median(prove_times),
        "proof_verify_s_median": statistics.median(verify_times),
        "proof_bytes_median": statistics.median(sizes),
        "yardstick_spot_proof_verify_s": statistics.median(spot_times),
        "extrapolated_2^20_users_4_assets": {
            "build_s_one_core": per_node_asset_us * (2 * 2**20 - 1) * 4 / 1e6,
            "proof_create_s": per_step_prove_ms * 20 * 4 / 1e3,
            "proof_verify_s": per_step_ms * 20 * 4 / 1e3,
            "proof_bytes": per_step_bytes / k * 4 * 20,
        },
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"private-{args.users:09d}u-{k}a-{args.workers}w.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


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
