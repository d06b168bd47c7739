"""``por reserves init --summary`` on a margin round's root.json (spec §15.10): the
operator's reserves flow takes the margin summary as it is, and every challenge message is
bound to the margin root hash (which binds the risk file). Hardhat on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from reserves_helpers import por, send
from reserves_nodes import Node, start_hardhat

from por.cli import main as por_main
from verifier.liabilities.margin_round import MarginRootSummary

LEDGER = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"


@pytest.fixture(scope="module")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_hardhat(tmp_path_factory.mktemp("hardhat"))
    try:
        yield node
    finally:
        node.stop()


def test_reserves_init_binds_the_margin_root(hardhat: Node, tmp_path: Path) -> None:
    run = CliRunner()
    inputs, out = tmp_path / "in", tmp_path / "round"
    assert run.invoke(por_main, ["liabilities", "import-ledger", "--format", "otter-porv2",
                                 str(LEDGER), "--out", str(inputs)]).exit_code == 0
    r = run.invoke(por_main, ["liabilities", "build", str(inputs / "snapshot.csv"), "--assets",
                              str(inputs / "assets.json"), "--risk", str(inputs / "risk.json"),
                              "--round", "otter-1", "--out", str(out),
                              "--secret-file", str(tmp_path / "secret" / "r.key")])
    assert r.exit_code == 0, r.output
    summary = MarginRootSummary.from_json((out / "root.json").read_bytes(), "root.json")
    funder = hardhat.call("eth_accounts")[0]
    hot = Account.create()
    send(hardhat, funder, hot.address, 10**18)
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": "ETH", "decimals": 18}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "31337",
                    "assets": [{"symbol": "ETH", "token": None}]}],
        "wallets": [{"chain": "ethereum", "address": hot.address,
                     "custody": {"kind": "single"}, "assets": ["ETH"]}],
    }
    (tmp_path / "wallets.json").write_text(json.dumps(wallets))
    result = por("reserves", "init", str(tmp_path / "wallets.json"), "--summary",
                 str(out / "root.json"), "--rpc", f"ethereum={hardhat.url}", "--out",
                 str(tmp_path / "work"))
    assert result.exit_code == 0, result.output
    message = next((tmp_path / "work" / "challenges").glob("000-*.txt")).read_text()
    assert summary.root_hash.hex() in message and "otter-1" in message
