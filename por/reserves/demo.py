"""The reserves step of ``por demo``: an in-process EVM chain (eth-tester on py-evm).

Owns the demo's embedded defaults: no node and no network. It deploys the committed ERC-20
and EIP-1271 contract wallet (por/reserves/contracts/), funds three wallets, runs the same
steps as ``por reserves`` (challenge, signatures, balances at the snapshot block, reserves
file), moves funds after the snapshot, then verifies the file with the verifier's own core
against the chain at the snapshot block. Signing keys are created for the run and dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_tester import EthereumTester, PyEVMBackend

from por.reserves.round import (
    finish,
    import_signatures,
    new_draft,
    read_balances,
    write_atomic,
    write_challenges,
)
from verifier.artifacts import RootSummary, format_units
from verifier.errors import VerificationError
from verifier.mst import Asset
from verifier.reserves.challenge import eip712_challenge
from verifier.reserves.model import Chain, ChainAsset, Custody, ReservesFile, Wallet, WalletList
from verifier.reserves.verify import verify_reserves
from verifier.signatures.evm import personal_sign_digest

CONTRACTS_FILE = Path(__file__).parent / "contracts" / "compiled.json"
CHAIN_ID = 131277  # eth-tester's default chain id
ETHER = 10**18


class EthTesterReader:
    """The :class:`~verifier.reserves.chains.EvmReader` protocol over an in-process chain."""

    def __init__(self, chain: EthereumTester) -> None:
        self.chain = chain
        # eth-tester's eth_call needs a funded sender to pay for gas it never spends.
        self.caller = chain.get_accounts()[0]

    def block_hash(self, height: int) -> str:
        """The hash of block ``height``."""
        return str(self.chain.get_block_by_number(height)["hash"])[2:]

    def balance(self, address: str, height: int) -> int:
        """The native balance of ``address`` at block ``height``."""
        return int(self.chain.get_balance(address, height))

    def call(self, to: str, data: bytes, height: int) -> bytes:
        """``eth_call`` at block ``height``."""
        tx = {"from": self.caller, "to": to, "data": "0x" + data.hex(), "gas": 1_000_000}
        answer = self.chain.call(tx, height)
        return bytes.fromhex(str(answer)[2:])


def _deploy(chain: EthereumTester, sender: str, contract: dict[str, Any], types: list[str],
            args: list[Any]) -> str:
    data = "0x" + contract["bytecode"] + encode(types, args).hex()
    tx = chain.send_transaction({"from": sender, "data": data, "gas": 3_000_000})
    return str(chain.get_transaction_receipt(tx)["contract_address"])


def _send(chain: EthereumTester, sender: str, to: str, value: int = 0,
          data: bytes = b"") -> None:
    tx: dict[str, Any] = {"from": sender, "to": to, "value": value, "gas": 300_000}
    if data:
        tx["data"] = "0x" + data.hex()
    chain.send_transaction(tx)


def run_reserves_demo(out_dir: Path, round_dir: Path, summary: RootSummary) -> Path:
    """Prove reserves for the demo round on an in-process chain; return the reserves file.

    Raises:
        VerificationError: the demo's own reserves file does not verify.
    """
    del round_dir  # the reserves side needs only the published summary
    contracts = json.loads(CONTRACTS_FILE.read_text())
    chain = EthereumTester(PyEVMBackend())
    reader = EthTesterReader(chain)
    funder = chain.get_accounts()[0]
    token = _deploy(chain, funder, contracts["TestToken"],
                    ["string", "string", "uint8", "uint256"], ["Tether USD", "USDT", 6, 10**15])
    hot, cold, owner = Account.create(), Account.create(), Account.create()
    safe = _deploy(chain, funder, contracts["OwnedWallet"], ["address"], [owner.address])
    transfer = bytes.fromhex("a9059cbb")
    for address, ether, usdt in ((hot.address, 3, 250_000_000_000),
                                 (cold.address, 40, 0), (safe, 25, 4_000_000_000_000)):
        _send(chain, funder, address, ether * ETHER)
        if usdt:
            _send(chain, funder, token, data=transfer + encode(["address", "uint256"],
                                                              [address, usdt]))
    assets = tuple(a for a in summary.assets if a.symbol in ("ETH", "USDT")) or (
        Asset("ETH", 18),)
    symbols = [a.symbol for a in assets]
    chain_assets = [ChainAsset("ETH", None)] + (
        [ChainAsset("USDT", token)] if "USDT" in symbols else [])
    evm = Chain("ethereum", "evm", str(CHAIN_ID), tuple(chain_assets))
    wallets = WalletList("Demo Exchange", assets, (evm,), (
        Wallet("ethereum", hot.address, Custody("single"), tuple(symbols)),
        Wallet("ethereum", cold.address, Custody("single"), ("ETH",)),
        Wallet("ethereum", safe, Custody("contract"), tuple(symbols)),
    ))
    height = int(chain.get_block_by_number("latest")["number"])
    snapshot = Chain(evm.name, evm.kind, evm.network, evm.assets, height,
                     reader.block_hash(height))
    draft = new_draft(wallets, summary, (snapshot,))
    work = out_dir / "reserves-work"
    write_challenges(work, draft)
    messages = [(w.signed_message or "").encode("ascii") for w in draft.wallets]
    typed = eip712_challenge(messages[1], CHAIN_ID)
    owner_signature = Account.unsafe_sign_hash(personal_sign_digest(messages[2]), owner.key)
    signatures = [
        {"chain": "ethereum", "address": hot.address, "scheme": "eip191",
         "value": Account.sign_message(encode_defunct(messages[0]), hot.key).signature.hex()},
        {"chain": "ethereum", "address": cold.address, "scheme": "eip712",
         "value": Account.sign_typed_data(cold.key, full_message=typed).signature.hex()},
        {"chain": "ethereum", "address": safe, "scheme": "eip1271",
         "value": "0x" + bytes(owner_signature.signature).hex()},
    ]
    draft = import_signatures(draft, json.dumps(signatures).encode(), "demo signatures")
    draft = read_balances(draft, {"ethereum": reader})
    reserves_path = out_dir / "reserves.json"
    write_atomic(reserves_path, finish(draft))
    click.echo(f"6. reserves: 3 wallets signed the round's challenge (EIP-191, EIP-712, "
               f"EIP-1271 contract) on an in-process chain, snapshot block {height}")
    _send(chain, funder, hot.address, 5 * ETHER)  # the chain moves on after the snapshot
    reserves = ReservesFile.from_json(reserves_path.read_bytes(), str(reserves_path))
    report = verify_reserves(reserves, {"ethereum": reader})
    report.raise_for_failures()
    for line in report.assets:
        click.echo(f"7. reserves verified at block {height}: {line.symbol} confirmed "
                   f"{format_units(line.confirmed, line.decimals)}")
    if not report.ok:  # pragma: no cover - raise_for_failures has raised
        raise VerificationError("reserves demo did not verify")
    return reserves_path
