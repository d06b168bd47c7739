"""The demo's reserves step on its embedded in-process chain (eth-tester + py-evm)."""

from __future__ import annotations

import json
from pathlib import Path

from reserves_helpers import write_root

from verifier.mst import Asset
from verifier.reserves.model import ReservesFile


def test_reserves_demo_writes_a_file_that_verifies(tmp_path: Path) -> None:
    from por.reserves.demo import run_reserves_demo

    summary = write_root(tmp_path / "root.json", "demo-1", [Asset("BTC", 8), Asset("ETH", 18),
                                                            Asset("USDT", 6)])
    path = run_reserves_demo(tmp_path, tmp_path, summary)
    reserves = ReservesFile.from_json(path.read_bytes())
    assert [a.symbol for a in reserves.assets] == ["ETH", "USDT"]
    assert reserves.totals == (68 * 10**18, 4_250_000_000_000)
    assert {w.signature.scheme for w in reserves.wallets if w.signature} == {
        "eip191", "eip712", "eip1271"}
    assert json.loads(path.read_text())["liabilities_root"] == summary.root_hash.hex()
