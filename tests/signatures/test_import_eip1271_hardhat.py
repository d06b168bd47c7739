"""`import-signatures` and contract wallets (EIP-1271) on a real node: Hardhat 2 on loopback.

A contract judges its own signatures at the snapshot block, so the check needs a node: with
no `--rpc` it is reported as not checked (and imported); with `--rpc` the contract is asked,
and a stranger's signature is refused before anything is written (spec §11.6).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from reserves_helpers import deploy, por, write_root
from reserves_nodes import start_hardhat

from por.reserves.round import DRAFT_FILE
from verifier.liabilities.mst import Asset
from verifier.signatures.evm import personal_sign_digest


@pytest.fixture(scope="module")
def contract_round(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("eip1271-import")
    node = start_hardhat(tmp_path_factory.mktemp("hardhat"))
    try:
        funder = node.call("eth_accounts")[0]
        owner = Account.create()
        contract = deploy(node, funder, "OwnedWallet", ["address"], [owner.address])
        root = tmp / "root.json"
        write_root(root, "2026-11-28", [Asset("ETH", 18)])
        wallets = {
            "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
            "assets": [{"symbol": "ETH", "decimals": 18}],
            "chains": [{"name": "ethereum", "kind": "evm", "network": "31337",
                        "assets": [{"symbol": "ETH", "token": None}]}],
            "wallets": [{"chain": "ethereum", "address": contract,
                         "custody": {"kind": "contract"}, "assets": ["ETH"]}],
        }
        (tmp / "wallets.json").write_text(json.dumps(wallets))
        work = tmp / "work"
        result = por("reserves", "init", str(tmp / "wallets.json"), "--summary", str(root),
                     "--rpc", f"ethereum={node.url}", "--out", str(work))
        assert result.exit_code == 0, result.output
        message = next((work / "challenges").glob("000-*.txt")).read_bytes()
        yield {"node": node, "work": work, "tmp": tmp, "contract": contract, "owner": owner,
               "digest": personal_sign_digest(message)}
    finally:
        node.stop()


def _signatures(round_: dict[str, Any], key: bytes) -> Path:
    signed = Account.unsafe_sign_hash(round_["digest"], key)
    path = round_["tmp"] / "sigs.json"
    path.write_text(json.dumps([{"chain": "ethereum", "address": round_["contract"],
                                 "scheme": "eip1271",
                                 "value": "0x" + bytes(signed.signature).hex()}]))
    return path


def test_without_a_node_it_is_not_checked(contract_round: dict[str, Any]) -> None:
    before = (contract_round["work"] / DRAFT_FILE).read_bytes()
    stranger = _signatures(contract_round, Account.create().key)
    result = por("reserves", "import-signatures", str(contract_round["work"]), str(stranger))
    assert result.exit_code == 0, result.output
    assert "not checked: wallet 0" in result.output and "cannot be done offline" in result.output
    (contract_round["work"] / DRAFT_FILE).write_bytes(before)


def test_with_a_node_the_contract_refuses_a_stranger(contract_round: dict[str, Any]) -> None:
    before = (contract_round["work"] / DRAFT_FILE).read_bytes()
    stranger = _signatures(contract_round, Account.create().key)
    result = por("reserves", "import-signatures", str(contract_round["work"]), str(stranger),
                 "--rpc", f"ethereum={contract_round['node'].url}")
    assert result.exit_code == 1, result.output
    assert "FAILED: wallet 0" in result.output and "isValidSignature" in result.output
    assert (contract_round["work"] / DRAFT_FILE).read_bytes() == before


def test_with_a_node_the_owner_is_verified(contract_round: dict[str, Any]) -> None:
    owner = _signatures(contract_round, contract_round["owner"].key)
    result = por("reserves", "import-signatures", str(contract_round["work"]), str(owner),
                 "--rpc", f"ethereum={contract_round['node'].url}")
    assert result.exit_code == 0, result.output
    assert "verified: wallet 0" in result.output and "contract said valid" in result.output
