"""Committed reserves-file vectors (spec §11.1): a well-formed file and named mutations.

Each vector is a whole reserves file with the verdict a verifier written from the spec must
give it *before reading any node*: ``well-formed`` or ``malformed`` (exit 2), with a phrase
of the reason. They cover the rules added by issue 10 (chain, token and wallet identities,
asset lists, balances order, the EIP-191 value forms). Signatures are real and
deterministic (fixed test keys, RFC 6979), so :func:`build_vectors` regenerates the file byte
for byte; ``python tests/reserves/test_reserves_vectors.py`` rewrites it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from verifier.errors import FormatError
from verifier.reserves.challenge import ChainSnapshot, challenge_message
from verifier.reserves.model import ReservesFile
from verifier.reserves.verify import verify_reserves

VECTORS_FILE = Path(__file__).parent / "vectors" / "reserves-format.json"
KEYS = ["0x" + f"{i:02x}" * 32 for i in (1, 2)]  # test keys: never hold value
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
ROOT = "ab" * 32
BLOCK = "cd" * 32


def _valid() -> dict[str, Any]:
    snaps = [ChainSnapshot("ethereum", 21000000, BLOCK)]
    wallets = []
    for key, assets in zip(KEYS, (["ETH", "USDT"], ["ETH", "USDC"]), strict=True):
        account = Account.from_key(key)
        message = challenge_message("Example Exchange", "2026-11-25", bytes.fromhex(ROOT),
                                    snaps, "ethereum", account.address)
        signature = Account.sign_message(encode_defunct(message), key).signature
        wallets.append({
            "chain": "ethereum", "address": account.address, "custody": {"kind": "single"},
            "assets": assets, "message": "round", "signed_message": message.decode(),
            "signature": {"scheme": "eip191", "value": "0x" + bytes(signature).hex()},
            "balances": [{"asset": a, "amount": "1000", "source": "node"} for a in assets]})
    return {
        "scheme": "por-reserves", "version": 1, "exchange": "Example Exchange",
        "round": "2026-11-25", "liabilities_root": ROOT,
        "assets": [{"symbol": "ETH", "decimals": 18}, {"symbol": "USDT", "decimals": 6},
                   {"symbol": "USDC", "decimals": 6}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "1", "height": 21000000,
                    "block_hash": BLOCK, "assets": [
                        {"symbol": "ETH", "token": None}, {"symbol": "USDT", "token": USDT},
                        {"symbol": "USDC", "token": USDC}]}],
        "static_message": None, "wallets": wallets, "totals": ["2000", "1000", "1000"],
    }


def _alias_chain(d: dict[str, Any]) -> None:
    alias = copy.deepcopy(d["chains"][0])
    alias["name"] = "ethereum-l1"
    alias["block_hash"] = "ef" * 32
    d["chains"].append(alias)


def _same_block(d: dict[str, Any]) -> None:
    other = copy.deepcopy(d["chains"][0])
    other.update(name="optimism", network="10")
    d["chains"].append(other)


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        target = d
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


MUTATIONS: list[tuple[str, str, str, Callable[[dict[str, Any]], None]]] = [
    ("chain-alias-double-count", "malformed", "are the same chain", _alias_chain),
    ("chain-same-snapshot-block", "malformed", "name the same snapshot block", _same_block),
    ("token-alias-double-count", "malformed", "is listed as both USDT and USDC",
     _set(["chains", 0, "assets", 2, "token"], USDT.lower())),
    ("native-alias-double-count", "malformed", "native coin is listed under 2 symbols",
     _set(["chains", 0, "assets", 1, "token"], None)),
    ("chain-asset-not-in-file", "malformed", "which is not in the file's assets",
     _set(["chains", 0, "assets", 1, "symbol"], "DAI")),
    ("chain-assets-empty", "malformed", "expected at least one asset",
     _set(["chains", 0, "assets"], [])),
    ("token-not-an-address", "malformed", "expected 0x followed by 40 hex digits",
     _set(["chains", 0, "assets", 1, "token"], "0x1234")),
    ("wallet-unknown-chain", "malformed", "is not a chain of the file",
     _set(["wallets", 0, "chain"], "polygon")),
    ("wallet-asset-not-on-chain", "malformed", "is not an asset of chain ethereum",
     _set(["wallets", 0, "assets"], ["ETH", "BTC"])),
    ("wallet-balance-missing", "malformed", "expected one balance per asset",
     _set(["wallets", 0, "balances"], [{"asset": "ETH", "amount": "1000", "source": "node"}])),
    ("wallet-balances-out-of-order", "malformed", "in the order of assets",
     _set(["wallets", 0, "balances"], [{"asset": "USDT", "amount": "1000", "source": "node"},
                                       {"asset": "ETH", "amount": "1000", "source": "node"}])),
    ("eip191-value-without-0x", "well-formed", "",
     lambda d: d["wallets"][0]["signature"].update(
         value=d["wallets"][0]["signature"]["value"][2:])),
]


def build_vectors() -> dict[str, Any]:
    valid = _valid()
    vectors = [{"name": "valid", "expected": "well-formed", "reason_contains": "",
                "file": valid}]
    for name, expected, reason, change in MUTATIONS:
        mutated = copy.deepcopy(valid)
        change(mutated)
        vectors.append({"name": name, "expected": expected, "reason_contains": reason,
                        "file": mutated})
    return {"about": "Reserves files (spec §11.1) and the verdict before any node is read: "
                     "well-formed, or malformed (exit 2) with a phrase of the reason.",
            "vectors": vectors}


DATA = json.loads(VECTORS_FILE.read_text()) if VECTORS_FILE.exists() else {"vectors": []}


def test_committed_vectors_are_regenerated_byte_for_byte() -> None:
    assert VECTORS_FILE.read_text() == json.dumps(build_vectors(), indent=1) + "\n"


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_vector_verdict(vector: dict[str, Any]) -> None:
    try:
        reserves = ReservesFile.from_json(json.dumps(vector["file"]))
    except FormatError as e:
        assert vector["expected"] == "malformed", str(e)
        assert vector["reason_contains"] in str(e)
        return
    assert vector["expected"] == "well-formed"
    # Offline, every signature verifies and the only findings say no node was read.
    report = verify_reserves(reserves, {})
    assert {f.code for f in report.findings} == {"not-confirmed"}


if __name__ == "__main__":
    VECTORS_FILE.write_text(json.dumps(build_vectors(), indent=1) + "\n")
