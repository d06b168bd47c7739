"""The demo's reserves step on its embedded in-process chain (eth-tester + py-evm)."""

from __future__ import annotations

import json
from pathlib import Path

from reserves_helpers import write_root

from verifier.liabilities.mst import Asset
from verifier.reserves.model import ReservesFile


def test_reserves_demo_writes_a_file_that_verifies(tmp_path: Path) -> None:
    from por.demo.reserves import run_reserves_demo

    summary = write_root(tmp_path / "root.json", "demo-1", [Asset("BTC", 8), Asset("ETH", 18),
                                                            Asset("USDT", 6)])
    path = run_reserves_demo(tmp_path, tmp_path, summary)
    reserves = ReservesFile.from_json(path.read_bytes())
    assert [a.symbol for a in reserves.assets] == ["ETH", "USDT"]
    assert reserves.totals == (68 * 10**18, 4_250_000_000_000)
    assert {w.signature.scheme for w in reserves.wallets if w.signature} == {
        "eip191", "eip712", "eip1271"}
    assert json.loads(path.read_text())["liabilities_root"] == summary.root_hash.hex()


def test_demo_reserves_round_after_round(tmp_path: Path) -> None:
    # Two rounds on one chain: the second tops up, and the first round's file still
    # verifies at its own snapshot block (reserves are never taken out).
    from por.demo.reserves import DemoReserves
    from verifier.reserves.verify import verify_reserves

    assets = (Asset("ETH", 18), Asset("WBTC", 8))
    demo = DemoReserves(assets)
    files = []
    for k, (eth, wbtc) in enumerate(((10 * 10**18, 3 * 10**8), (12 * 10**18, 3 * 10**8))):
        summary = write_root(tmp_path / f"root-{k}.json", f"r{k}", list(assets))
        demo.top_up({"ETH": eth, "WBTC": wbtc})
        files.append(demo.publish(tmp_path / f"reserves-{k}.json", tmp_path / f"work-{k}",
                                  summary, "Demo Exchange"))
    first, second = (ReservesFile.from_json(p.read_bytes()) for p in files)
    assert first.totals == (10 * 10**18, 3 * 10**8)
    assert second.totals == (12 * 10**18, 3 * 10**8)
    assert first.chains[0].snapshot().height < second.chains[0].snapshot().height
    assert verify_reserves(first, {"ethereum": demo.reader}).ok
    tokens = [a.token for a in first.chains[0].assets if a.symbol == "WBTC"]
    assert tokens == [demo.tokens["WBTC"]]
