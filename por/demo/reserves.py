"""The reserves step of ``por demo``: an in-process EVM chain (eth-tester on py-evm).

Owns the demo's embedded defaults: no node and no network. :class:`DemoReserves` deploys
one committed ERC-20 (``TestToken``) per token asset and the EIP-1271 contract wallet
(por/demo/contracts/), funds three wallets before each round's snapshot block, runs the
same steps as ``por reserves`` (challenge, signatures, balances at the snapshot block,
reserves file), then verifies the file with the verifier's own core against the chain at
that block. Signing keys are created for the run and dropped.

:func:`serve_chain` puts the same chain behind a JSON-RPC endpoint on loopback for as long
as the demo needs it, so ``por-verify bundle --rpc ethereum=URL`` re-reads the reserves
over the wire like an auditor with their own node would. It answers only what the reserves
verifier asks of an EVM node (:class:`verifier.reserves.chains.RpcEvmReader`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
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

from por.errors import UsageError
from por.reserves.round import (
    finish,
    import_signatures,
    new_draft,
    read_balances,
    write_challenges,
)
from verifier.files import write_atomic
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary, format_units
from verifier.private.proof import PrivateRoot
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


TOKEN_NAMES = {"USDT": "Tether USD", "USDC": "USD Coin", "WBTC": "Wrapped BTC",
               "DAI": "Dai Stablecoin", "LINK": "ChainLink Token"}
NATIVE = "ETH"
# How the demo exchange spreads each asset over its wallets: hot (EIP-191), cold (EIP-712),
# and a contract wallet (EIP-1271), in tenths.
SPLIT = (("hot", 1), ("cold", 6), ("safe", 3))
_TRANSFER = bytes.fromhex("a9059cbb")  # ERC-20 transfer(address,uint256)


class DemoReserves:
    """The demo exchange's wallets on one in-process EVM chain, round after round.

    Assets: ETH (native) and ERC-20 tokens this class deploys (the committed ``TestToken``),
    one per other symbol. Reserves are topped up by the chain's funded account before each
    round's snapshot block, never taken out, so every earlier snapshot stays readable.
    """

    def __init__(self, assets: tuple[Asset, ...]) -> None:
        """Deploy one token per non-native asset and the contract wallet.

        Raises:
            UsageError: an asset without a demo token.
        """
        contracts = json.loads(CONTRACTS_FILE.read_text())
        self.chain = EthereumTester(PyEVMBackend())
        self.reader = EthTesterReader(self.chain)
        self.funder = self.chain.get_accounts()[0]
        self.assets = assets
        self.tokens: dict[str, str] = {}
        for asset in assets:
            if asset.symbol == NATIVE:
                continue
            if asset.symbol not in TOKEN_NAMES:
                raise UsageError(f"the demo chain has no token for {asset.symbol}; use "
                                 f"{NATIVE} or one of {sorted(TOKEN_NAMES)}")
            self.tokens[asset.symbol] = _deploy(
                self.chain, self.funder, contracts["TestToken"],
                ["string", "string", "uint8", "uint256"],
                [TOKEN_NAMES[asset.symbol], asset.symbol, asset.decimals,
                 10 ** (asset.decimals + 15)])
        self.hot, self.cold, self.owner = Account.create(), Account.create(), Account.create()
        self.safe = _deploy(self.chain, self.funder, contracts["OwnedWallet"], ["address"],
                            [self.owner.address])
        self.addresses = {"hot": self.hot.address, "cold": self.cold.address,
                          "safe": self.safe}
        self.held = dict.fromkeys((a.symbol for a in assets), 0)

    def top_up(self, targets: Mapping[str, int]) -> None:
        """Fund the wallets until each asset's total reaches ``targets`` (base units)."""
        for symbol, target in targets.items():
            if symbol not in self.held:
                continue  # an asset this round does not hold on the chain
            more = target - self.held[symbol]
            if more <= 0:
                continue
            left = more
            for k, (wallet, tenths) in enumerate(SPLIT):
                amount = left if k == len(SPLIT) - 1 else more * tenths // 10
                left -= amount
                to = self.addresses[wallet]
                if symbol == NATIVE:
                    _send(self.chain, self.funder, to, amount)
                else:
                    _send(self.chain, self.funder, self.tokens[symbol],
                          data=_TRANSFER + encode(["address", "uint256"], [to, amount]))
            self.held[symbol] = target

    def publish(self, out: Path, work: Path,
                summary: RootSummary | MarginRootSummary | PrivateRoot,
                exchange: str) -> Path:
        """Take the round's snapshot at the latest block, sign each wallet's challenge and
        read every balance there, as ``por reserves`` does; write the reserves file. A
        margin round's challenge names its root as a spot round's does (spec §11.2).

        Raises:
            VerificationError: the file does not verify against the chain.
        """
        symbols = tuple(a.symbol for a in self.assets)
        evm = Chain("ethereum", "evm", str(CHAIN_ID), tuple(
            ChainAsset(a.symbol, self.tokens.get(a.symbol)) for a in self.assets))
        wallets = WalletList(exchange, self.assets, (evm,), (
            Wallet("ethereum", self.hot.address, Custody("single"), symbols),
            Wallet("ethereum", self.cold.address, Custody("single"), symbols),
            Wallet("ethereum", self.safe, Custody("contract"), symbols),
        ))
        height = int(self.chain.get_block_by_number("latest")["number"])
        snapshot = Chain(evm.name, evm.kind, evm.network, evm.assets, height,
                         self.reader.block_hash(height))
        draft = new_draft(wallets, summary, (snapshot,))
        write_challenges(work, draft)
        messages = [(w.signed_message or "").encode("ascii") for w in draft.wallets]
        typed = eip712_challenge(messages[1], CHAIN_ID)
        owner_signature = Account.unsafe_sign_hash(personal_sign_digest(messages[2]),
                                                   self.owner.key)
        signatures = [
            {"chain": "ethereum", "address": self.hot.address, "scheme": "eip191",
             "value": Account.sign_message(encode_defunct(messages[0]),
                                           self.hot.key).signature.hex()},
            {"chain": "ethereum", "address": self.cold.address, "scheme": "eip712",
             "value": Account.sign_typed_data(self.cold.key,
                                              full_message=typed).signature.hex()},
            {"chain": "ethereum", "address": self.safe, "scheme": "eip1271",
             "value": "0x" + bytes(owner_signature.signature).hex()},
        ]
        draft = import_signatures(draft, json.dumps(signatures).encode(), "demo signatures")
        draft = read_balances(draft, {"ethereum": self.reader})
        write_atomic(out, finish(draft))
        reserves = ReservesFile.from_json(out.read_bytes(), str(out))
        verify_reserves(reserves, {"ethereum": self.reader}).raise_for_failures()
        return out


def run_reserves_demo(out_dir: Path, round_dir: Path, summary: RootSummary) -> Path:
    """Prove reserves for one demo round on an in-process chain; return the reserves file.

    Raises:
        VerificationError: the demo's own reserves file does not verify.
    """
    return run_reserves_demo_chain(out_dir, round_dir, summary).reserves_path


def run_reserves_demo_chain(out_dir: Path, round_dir: Path, summary: RootSummary) -> DemoChain:
    """As :func:`run_reserves_demo`, and keep the chain (to serve it for later steps):
    68 ETH and, if the round owes USDT, 4,250,000 USDT over the three wallets.

    Raises:
        VerificationError: the demo's own reserves file does not verify.
    """
    del round_dir  # the reserves side needs only the published summary
    assets = tuple(a for a in summary.assets if a.symbol in ("ETH", "USDT")) or (
        Asset("ETH", 18),)
    demo = DemoReserves(assets)
    demo.top_up({"ETH": 68 * ETHER, "USDT": 4_250_000_000_000})
    path = demo.publish(out_dir / "reserves.json", out_dir / "reserves-work", summary,
                        "Demo Exchange")
    _send(demo.chain, demo.funder, demo.hot.address, 5 * ETHER)  # the chain moves on
    report = verify_reserves(ReservesFile.from_json(path.read_bytes(), str(path)),
                             {"ethereum": demo.reader})
    report.raise_for_failures()
    for line in report.assets:
        click.echo(f"reserves verified: {line.symbol} confirmed "
                   f"{format_units(line.confirmed, line.decimals)}")
    return DemoChain(demo.chain, path)
