"""Shared pieces of the reserves tests: a published root, EVM deployment, CLI runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from eth_abi import encode

from por.cli import main as por_main
from verifier.cli import main as verify_main
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary

CONTRACTS = json.loads(
    (Path(__file__).resolve().parents[2] / "por/demo/contracts/compiled.json").read_text()
)


def write_root(path: Path, round_id: str, assets: list[Asset], seed: int = 1) -> RootSummary:
    """A published root summary (the reserves side only reads round id and root hash)."""
    summary = RootSummary(round_id, tuple(assets), 2, bytes([seed]) * 32,
                          tuple(0 for _ in assets))
    path.write_text(summary.to_json())
    return summary


def por(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``por`` in-process; ``env`` (node credentials, say) is set only for this run."""
    return CliRunner(env=env).invoke(por_main, list(args), catch_exceptions=False)


def por_verify(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``por-verify`` in-process; ``env`` is set only for this run."""
    return CliRunner(env=env).invoke(verify_main, list(args), catch_exceptions=False)


def deploy(node: Any, sender: str, name: str, types: list[str], args: list[Any]) -> str:
    """Deploy a compiled contract from an unlocked Hardhat account; return its address."""
    data = "0x" + CONTRACTS[name]["bytecode"] + encode(types, args).hex()
    tx = node.call("eth_sendTransaction", {"from": sender, "data": data, "gas": hex(3_000_000)})
    receipt = node.call("eth_getTransactionReceipt", tx)
    assert receipt["status"] == "0x1", receipt
    return str(receipt["contractAddress"])


def send(node: Any, sender: str, to: str, value: int = 0, data: bytes = b"") -> None:
    tx = {"from": sender, "to": to, "value": hex(value), "gas": hex(300_000)}
    if data:
        tx["data"] = "0x" + data.hex()
    receipt = node.call("eth_getTransactionReceipt", node.call("eth_sendTransaction", tx))
    assert receipt["status"] == "0x1", receipt


def erc20_transfer(to: str, amount: int) -> bytes:
    return bytes.fromhex("a9059cbb") + encode(["address", "uint256"], [to, amount])
