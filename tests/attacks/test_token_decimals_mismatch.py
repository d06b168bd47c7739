"""Attack (issue 10, 1): an asset's decimals that are not its token's.

The file says USDT has 18 decimals while the ERC-20 has 6: every balance is read in the
token's base units and then shown (and compared with liabilities) in units 10^12 times
smaller than they are. Before the fix ``por-verify reserves`` said VERIFIED. Now the ERC-20
``decimals()`` is read at the snapshot block and must equal the asset's decimals: otherwise
the finding ``token-decimals-mismatch`` (a check failed: exit 1) and no balance of that
asset on that chain is confirmed. Real node: Hardhat 2 on loopback, the real commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from reserves_helpers import deploy, erc20_transfer, por, por_verify, send, write_root
from reserves_nodes import Node, start_hardhat

from verifier.liabilities.mst import Asset
from verifier.signatures import checksum_address


@pytest.fixture(scope="module")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_hardhat(tmp_path_factory.mktemp("hardhat-decimals"))
    try:
        yield node
    finally:
        node.stop()


def _operator_round(hardhat: Node, tmp: Path, token: str, holder: Any,
                    assets: list[Asset]) -> tuple[Path, int]:
    """Run ``por reserves`` init, import-signatures and read-balances; return the work dir
    and read-balances' exit code."""
    write_root(tmp / "root.json", "r1", assets)
    (tmp / "wallets.json").write_text(json.dumps({
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": a.symbol, "decimals": a.decimals} for a in assets],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "31337", "assets": [
            {"symbol": "ETH", "token": None}, {"symbol": "USDT", "token": token}]}],
        "wallets": [{"chain": "ethereum", "address": holder.address,
                     "custody": {"kind": "single"}, "assets": ["ETH", "USDT"]}]}))
    work = tmp / "work"
    rpc = f"ethereum={hardhat.url}"
    assert por("reserves", "init", str(tmp / "wallets.json"), "--summary",
               str(tmp / "root.json"), "--rpc", rpc, "--out", str(work)).exit_code == 0
    message = next((work / "challenges").glob("000-*.txt")).read_bytes()
    signature = Account.sign_message(encode_defunct(message), holder.key).signature
    (tmp / "sigs.json").write_text(json.dumps([
        {"chain": "ethereum", "address": holder.address, "scheme": "eip191",
         "value": "0x" + bytes(signature).hex()}]))
    assert por("reserves", "import-signatures", str(work),
               str(tmp / "sigs.json")).exit_code == 0
    result = por("reserves", "read-balances", str(work), "--rpc", rpc)
    return work, result.exit_code


def test_token_decimals_must_match_the_asset(hardhat: Node, tmp_path: Path) -> None:
    funder = hardhat.call("eth_accounts")[0]
    token = checksum_address(deploy(hardhat, funder, "TestToken",
                                    ["string", "string", "uint8", "uint256"],
                                    ["Tether USD", "USDT", 6, 10**15]))
    holder = Account.create()
    send(hardhat, funder, holder.address, 10**18)
    send(hardhat, funder, token, data=erc20_transfer(holder.address, 3_000_000))
    rpc = f"ethereum={hardhat.url}"
    # The operator's own tools refuse the lie before a file is written.
    (tmp_path / "lie").mkdir()
    _, code = _operator_round(hardhat, tmp_path / "lie", token, holder,
                              [Asset("ETH", 18), Asset("USDT", 18)])
    assert code == 2
    # An honest file, then the attacker's edit: USDT "has 18 decimals" (the signed
    # messages do not cover decimals, so every signature still verifies).
    (tmp_path / "honest").mkdir()
    work, code = _operator_round(hardhat, tmp_path / "honest", token, holder,
                                 [Asset("ETH", 18), Asset("USDT", 6)])
    assert code == 0
    reserves = tmp_path / "reserves.json"
    assert por("reserves", "write", str(work), "--out", str(reserves)).exit_code == 0
    data = json.loads(reserves.read_text())
    data["assets"][1]["decimals"] = 18
    reserves.write_text(json.dumps(data))

    result = por_verify("reserves", str(reserves), "--rpc", rpc, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert [f["code"] for f in report["findings"]] == ["token-decimals-mismatch"]
    assert f"USDT token {token} has 6 decimals at block" in report["findings"][0]["message"]
    assert report["assets"][1]["confirmed"] == "0"
    assert report["assets"][0]["confirmed"] == str(10**18)
    # The report shows the network id and every token contract beside its symbol.
    chain = report["chains"][0]
    assert (chain["kind"], chain["network"]) == ("evm", "31337")
    assert [(a["symbol"], a["token"], a["decimals_read"], a["registry"])
            for a in chain["assets"]] == [("ETH", None, None, "no registry entry"),
                                          ("USDT", token, 6, "no registry entry")]
    text = por_verify("reserves", str(reserves), "--rpc", rpc)
    assert f"USDT     {token}, decimals() = 6: no registry entry" in text.output
