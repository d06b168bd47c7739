"""Independent-verifier disagreements (issue 10): wallets the spec forbids, the tool accepted.

A wallet whose ``chain`` names no chain of the file, and a wallet whose ``assets`` and
``balances`` differ (one missing, one extra, one out of order, a symbol its chain does not
list, a symbol the file does not have): each is a malformed file (spec §11.1), refused with
exit 2 and a message naming the wallet. Before the fix they were findings (exit 1) at best.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reserves_helpers import por_verify
from reserves_world import craft_reserves, make_evm_world


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    world = make_evm_world()
    holder = world.fund(3, usdt=5_000_000)
    data = craft_reserves(world, [("ethereum", [("ETH", None), ("USDT", world.token)])],
                          [(holder, "ethereum", ["ETH", "USDT"])])
    return data, tmp_path_factory.mktemp("malformed-wallets")


def _refused(valid: tuple[dict[str, Any], Path], name: str,
             change: Callable[[dict[str, Any]], None]) -> str:
    data, tmp = valid
    copy = json.loads(json.dumps(data))
    change(copy)
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(copy))
    result = por_verify("reserves", str(path))
    assert result.exit_code == 2, result.output
    return str(result.output)


def test_wallet_on_a_chain_the_file_does_not_have(valid: tuple[dict[str, Any], Path]) -> None:
    def other_chain(d: dict[str, Any]) -> None:
        d["wallets"][0]["chain"] = "polygon"

    out = _refused(valid, "unknown-chain", other_chain)
    assert "wallets[0].chain: 'polygon' is not a chain of the file (['ethereum'])" in out


@pytest.mark.parametrize(("name", "assets", "balances", "message"), [
    ("missing-balance", ["ETH", "USDT"], ["ETH"], "expected one balance per asset"),
    ("extra-balance", ["ETH"], ["ETH", "USDT"], "expected one balance per asset"),
    ("balances-out-of-order", ["ETH", "USDT"], ["USDT", "ETH"],
     "in the order of assets ['ETH', 'USDT'], found ['USDT', 'ETH']"),
    ("asset-not-of-the-file", ["ETH", "BTC"], ["ETH", "BTC"],
     "BTC is not an asset of chain ethereum"),
])
def test_wallet_assets_and_balances_differ(valid: tuple[dict[str, Any], Path], name: str,
                                           assets: list[str], balances: list[str],
                                           message: str) -> None:
    def change(d: dict[str, Any]) -> None:
        by_symbol = {b["asset"]: b for b in d["wallets"][0]["balances"]}
        d["wallets"][0]["assets"] = assets
        d["wallets"][0]["balances"] = [
            by_symbol.get(s, {"asset": s, "amount": "0", "source": "node"}) for s in balances]

    assert message in _refused(valid, name, change)


def test_chain_asset_not_in_the_file(valid: tuple[dict[str, Any], Path]) -> None:
    def extra(d: dict[str, Any]) -> None:
        d["chains"][0]["assets"].append({"symbol": "DAI", "token": "0x" + "11" * 20})

    assert "chain ethereum lists asset DAI, which is not in the file's assets" in _refused(
        valid, "chain-asset-unknown", extra)
