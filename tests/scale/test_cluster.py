"""The build on a real dask.distributed LocalCluster (2 worker processes) against a local one.

Shards are built by the workers, written to the work directory (here a local path every
worker of the LocalCluster reaches, as a shared mount would on a real cluster), and
assembled by the client: the root, every proof and the tree file's bytes must be the ones
a local build writes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from snapshots import balances_to_rows, write_csv

from por.liabilities.build import build_tree
from por.liabilities.prove import Prover
from verifier.liabilities.mst import Asset

ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
ASSET_OBJS = tuple(Asset(s, k) for s, k in ASSETS)
SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_cluster_build_is_byte_identical_to_local(scheduler: str, tmp_path: Path) -> None:
    rng = random.Random(11)
    bal = {f"user-{i}": [rng.randrange(10**10), rng.randrange(2**90), rng.randrange(10)]
           for i in range(5000)}
    rows = balances_to_rows(bal, ASSETS)
    rng.shuffle(rows)
    snap = write_csv(tmp_path / "s.csv", rows)
    local = build_tree(snap, ASSET_OBJS, "r-9", SECRET, tmp_path / "local", workers=2)
    remote = build_tree(snap, ASSET_OBJS, "r-9", SECRET, tmp_path / "cluster",
                        cluster=scheduler, work_dir=str(tmp_path / "shared"), memory=1 << 20)
    info = json.loads((tmp_path / "cluster/build-info.json").read_text())
    assert info["cluster"] is True and info["buckets"] > 1
    assert remote.summary == local.summary
    tree = (tmp_path / "cluster/tree.bin").read_bytes()
    assert tree == (tmp_path / "local/tree.bin").read_bytes()
    assert not (tmp_path / "shared").exists()  # shards, buckets and the dir it made removed
    a, b = Prover(tmp_path / "local", SECRET), Prover(tmp_path / "cluster", SECRET)
    try:
        for user in list(bal)[:50]:
            assert a.prove(user).to_json() == b.prove(user).to_json()
    finally:
        a.close()
        b.close()


def test_margin_cluster_build_is_byte_identical_to_local(scheduler: str, tmp_path: Path) -> None:
    import rfc8785

    from por.liabilities.build import build_margin
    from verifier.liabilities.risk import RiskParams

    risk = RiskParams.from_json(rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 18,
        "assets": [{"symbol": s, "decimals": d, "price": "2",
                    "tiers": [{"up_to": "1000000000", "ratio": 90}]} for s, d in ASSETS]}))
    rng = random.Random(12)
    lines = ["user_id,asset,equity,debt"]
    for i in range(3000):
        for symbol, dec in ASSETS:
            equity = rng.randrange(10**6)
            lines.append(f"user-{i},{symbol},{equity}.{'0' * dec},{equity // 2}")
    snap = tmp_path / "m.csv"
    snap.write_text("\n".join(lines) + "\n")
    local = build_margin(snap, ASSET_OBJS, risk, "m-9", SECRET, tmp_path / "local", workers=2)
    remote = build_margin(snap, ASSET_OBJS, risk, "m-9", SECRET, tmp_path / "cluster",
                          cluster=scheduler, work_dir=str(tmp_path / "shared"), memory=1 << 20)
    assert remote.summary == local.summary
    for name in ("tree.bin", "root.json", "risk.json"):
        assert (tmp_path / "cluster" / name).read_bytes() == (
            tmp_path / "local" / name).read_bytes()


def test_unreachable_scheduler_is_an_input_error(tmp_path: Path) -> None:
    import dask.config

    from por.errors import InputError

    snap = write_csv(tmp_path / "s.csv", [("u", "BTC", "1")])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(
        InputError, match="cannot reach the scheduler"
    ):
        build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "o", cluster="tcp://127.0.0.1:9")
    assert not (tmp_path / "o/tree.bin").exists()
