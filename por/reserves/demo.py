"""The reserves step of ``por demo``: an in-process EVM chain (eth-tester on py-evm).

Owns the demo's embedded defaults: no node and no network. It deploys the committed ERC-20
and EIP-1271 contract wallet (por/reserves/contracts/), funds three wallets, runs the same
steps as ``por reserves`` (challenge, signatures, balances at the snapshot block, reserves
file), moves funds after the snapshot, then verifies the file with the verifier's own core
against the chain at the snapshot block. Signing keys are created for the run and dropped.

:func:`serve_chain` puts the same chain behind a JSON-RPC endpoint on loopback for as long
as the demo needs it, so ``por-verify bundle --rpc ethereum=URL`` re-reads the reserves
over the wire like an auditor with their own node would. It answers only what the reserves
verifier asks of an EVM node (:class:`verifier.reserves.chains.RpcEvmReader`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
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

    def chain_id(self) -> int:
        """eth-tester's chain id."""
        return CHAIN_ID

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


class _RpcHandler(BaseHTTPRequestHandler):
    """JSON-RPC 2.0 over POST: eth_chainId, eth_blockNumber, eth_getBlockByNumber,
    eth_getBalance and eth_call at a block; anything else is a JSON-RPC error."""

    server: _ChainServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(min(length, 1 << 20)))
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
            try:
                answer["result"] = self.server.answer(str(request["method"]),
                                                      list(request.get("params") or []))
            except Exception as e:  # noqa: BLE001 - every failure is the caller's answer
                answer["error"] = {"code": -32000, "message": f"{type(e).__name__}: {e}"}
        except (ValueError, AttributeError, KeyError):
            answer = {"jsonrpc": "2.0", "id": None,
                      "error": {"code": -32700, "message": "parse error"}}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo's output is its own."""


class _ChainServer(HTTPServer):
    """One request at a time (eth-tester is not thread-safe), on a thread of its own."""

    def __init__(self, chain: EthereumTester) -> None:
        super().__init__(("127.0.0.1", 0), _RpcHandler)
        self.reader = EthTesterReader(chain)
        self.chain = chain

    def answer(self, method: str, params: list[Any]) -> Any:
        def height(value: Any) -> int:
            return int(str(value), 16)

        if method == "eth_chainId":
            return hex(CHAIN_ID)
        if method == "eth_blockNumber":
            return hex(int(self.chain.get_block_by_number("latest")["number"]))
        if method == "eth_getBlockByNumber":
            block = self.chain.get_block_by_number(height(params[0]))
            return {"number": hex(int(block["number"])), "hash": str(block["hash"])}
        if method == "eth_getBalance":
            return hex(self.reader.balance(str(params[0]), height(params[1])))
        if method == "eth_call":
            call = params[0]
            data = bytes.fromhex(str(call.get("data", "0x"))[2:])
            return "0x" + self.reader.call(str(call["to"]), data, height(params[1])).hex()
        raise ValueError(f"method {method} is not served by the demo chain")


@dataclass(frozen=True)
class DemoChain:
    """The demo's chain, kept for the steps after the reserves file."""

    chain: EthereumTester
    reserves_path: Path


@contextmanager
def serve_chain(chain: EthereumTester) -> Iterator[str]:
    """Serve ``chain`` over JSON-RPC on a free loopback port; yield its URL.

    The server is shut down and its socket closed when the block ends, however it ends.
    """
    server = _ChainServer(chain)
    thread = threading.Thread(target=server.serve_forever, name="demo-chain-rpc", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


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
    return run_reserves_demo_chain(out_dir, round_dir, summary).reserves_path


def run_reserves_demo_chain(out_dir: Path, round_dir: Path, summary: RootSummary) -> DemoChain:
    """As :func:`run_reserves_demo`, and keep the chain (to serve it for later steps).

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
    return DemoChain(chain, reserves_path)
