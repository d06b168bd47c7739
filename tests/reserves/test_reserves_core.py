"""The reserves core with plain values: challenge bytes, findings, wallet import, RPC faults.

Chains here are in-process doubles of the reader protocols (``PlainEvmReader``), and the
Solana adapter is tested at the HTTP level against *recorded responses* served by a local
HTTP server (no Solana validator is packaged for this machine).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.messages import encode_defunct

from por.errors import InputError
from por.reserves.round import load_wallet_list
from verifier.errors import FormatError, VerificationError
from verifier.reserves.chains import RpcSolanaReader
from verifier.reserves.challenge import ChainSnapshot, challenge_message
from verifier.reserves.model import ReservesFile
from verifier.reserves.rpc import JsonRpcClient, NodeError
from verifier.reserves.verify import verify_reserves
from verifier.signatures.solana import serialize_offchain_message

ROOT = bytes(range(32))
BLOCK = "11" * 32


def test_challenge_message_exact_bytes() -> None:
    message = challenge_message(
        "Example Exchange", "2026-11-25", ROOT,
        [ChainSnapshot("litecoin", 102, "22" * 32), ChainSnapshot("ethereum", 7, BLOCK)],
        "ethereum", "0x" + "ab" * 20)
    assert message == (
        b"POR-TOOLKIT RESERVES CHALLENGE V1\n"
        b"exchange: Example Exchange\n"
        b"round: 2026-11-25\n"
        b"liabilities root: " + ROOT.hex().encode() + b"\n"
        b"snapshot ethereum: height 7 block " + BLOCK.encode() + b"\n"
        b"snapshot litecoin: height 102 block " + b"22" * 32 + b"\n"
        b"wallet: ethereum 0x" + b"ab" * 20
    )
    with pytest.raises(FormatError, match="exchange name"):
        challenge_message("Bad\nName", "r", ROOT, [], "ethereum", "x")


class PlainEvmReader:
    """An in-process EVM chain: fixed balances at one block (a double of EvmReader)."""

    def __init__(self, balances: dict[str, int]) -> None:
        self.balances = balances

    def chain_id(self) -> int:
        return 1

    def block_hash(self, height: int) -> str:
        return BLOCK

    def balance(self, address: str, height: int) -> int:
        return self.balances.get(address, 0)

    def call(self, to: str, data: bytes, height: int) -> bytes:
        raise NodeError("no contracts here")


def _evm_file(static: str | None = None, **wallet_changes: Any) -> tuple[dict[str, Any], Any]:
    account = Account.create()
    message = challenge_message("Example Exchange", "r1", ROOT,
                                [ChainSnapshot("ethereum", 7, BLOCK)], "ethereum",
                                account.address)
    signed = static.encode() if static else message
    wallet = {
        "chain": "ethereum", "address": account.address, "custody": {"kind": "single"},
        "assets": ["ETH"], "message": "static" if static else "round",
        "signed_message": signed.decode(),
        "signature": {"scheme": "eip191", "value":
                      Account.sign_message(encode_defunct(signed), account.key).signature.hex()},
        "balances": [{"asset": "ETH", "amount": "1000", "source": "node"}],
    }
    wallet.update(wallet_changes)
    data = {
        "scheme": "por-reserves", "version": 1, "exchange": "Example Exchange", "round": "r1",
        "liabilities_root": ROOT.hex(), "assets": [{"symbol": "ETH", "decimals": 18}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "1", "height": 7,
                    "block_hash": BLOCK, "assets": [{"symbol": "ETH", "token": None}]}],
        "static_message": static, "wallets": [wallet], "totals": ["1000"],
    }
    return data, account


def _check(data: dict[str, Any], balances: dict[str, int]) -> Any:
    return verify_reserves(ReservesFile.from_json(json.dumps(data)), {
        "ethereum": PlainEvmReader(balances)})


def test_round_signature_verifies_and_confirms() -> None:
    data, account = _evm_file()
    report = _check(data, {account.address: 1000})
    report.raise_for_failures()
    assert report.assets[0].confirmed == 1000


def test_static_message_only_with_opt_in_and_reported_as_past_control() -> None:
    data, account = _evm_file(static="I am an OKX address")
    report = verify_reserves(ReservesFile.from_json(json.dumps(data)), {
        "ethereum": PlainEvmReader({account.address: 1000})}, accept_past_control=True)
    report.raise_for_failures()
    assert [c.code for c in report.caveats] == ["static-message"]
    assert "proves control at some past time only" in str(report.caveats[0])
    assert report.assets[0].past_control_only == 1000
    assert report.assets[0].confirmed == 0  # past control is never confirmed
    data["static_message"] = None
    report = _check(data, {account.address: 1000})
    assert [f.code for f in report.findings] == ["static-not-allowed"]
    with pytest.raises(VerificationError, match="did not opt in"):
        report.raise_for_failures()


def test_unknown_scheme_and_malformed_signature_fail_closed() -> None:
    data, account = _evm_file()
    data["wallets"][0]["signature"]["scheme"] = "okx-v1"
    assert [f.code for f in _check(data, {account.address: 1000}).findings] == [
        "unknown-scheme"]
    data["wallets"][0]["signature"] = {"scheme": "eip191", "value": "0x1234"}
    assert [f.code for f in _check(data, {account.address: 1000}).findings] == [
        "malformed-signature"]


def test_unknown_version_and_fields_are_malformed() -> None:
    data, _ = _evm_file()
    data["version"] = 2
    with pytest.raises(FormatError, match="version 2 is not known"):
        ReservesFile.from_json(json.dumps(data))
    data, _ = _evm_file()
    data["wallets"][0]["note"] = "trust me"
    with pytest.raises(FormatError, match="unknown field"):
        ReservesFile.from_json(json.dumps(data))
    data, _ = _evm_file()
    data["totals"] = [1000]
    with pytest.raises(FormatError, match="expected a string"):
        ReservesFile.from_json(json.dumps(data))


def test_wallet_list_csv_refuses_a_malformed_address_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "exchange": "Example Exchange", "assets": [{"symbol": "BTC", "decimals": 8}],
        "chains": [{"name": "bitcoin", "kind": "bitcoin", "network": "bitcoin",
                    "assets": [{"symbol": "BTC", "token": None}]}]}))
    csv_file = tmp_path / "wallets.csv"
    csv_file.write_text(
        "chain,address,custody,assets,script\n"
        "bitcoin,bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4,single,BTC,\n"
        "bitcoin,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3,single,BTC,\n")
    with pytest.raises(InputError, match=r"line 3, column address: .*Base58Check"):
        load_wallet_list(csv_file, config)
    csv_file.write_text(
        "chain,address,custody,assets,script\n"
        "bitcoin,bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4,single,BTC,\n")
    listed = load_wallet_list(csv_file, config)
    assert listed.wallets[0].address == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


# --- Solana and RPC faults: a local HTTP server replaying recorded responses -------------

# Recorded from the Solana JSON-RPC documentation's examples (getBalance, getBlock shapes).
RECORDED: dict[str, Any] = {
    "getBalance": {"jsonrpc": "2.0", "result": {"context": {"slot": 1}, "value": 0}, "id": 1},
    "getBlock": {"jsonrpc": "2.0", "result": {
        "blockHeight": 428, "blockTime": None,
        "blockhash": "3Eq21vXNB5s86c62bVuUfTeaMif1N2kUqRPBmGRJhyTA",
        "parentSlot": 429, "previousBlockhash": "mfcyqEXB3DnHXki6KjjmZck6YjmZLvpAByy2fj4nh6B"},
        "id": 1},
    # getTokenAccountsByOwner with {"mint"} and encoding jsonParsed (the docs' example;
    # uiAmount is a JSON float there, and must never be what is summed).
    "getTokenAccountsByOwner": {"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"apiVersion": "2.0.15", "slot": 341197933}, "value": [{
            "pubkey": "BGocb4GEpbTFm8UFV2VsDSaBXHELPfAXrvd4vtt8QWrA",
            "account": {
                "data": {"program": "spl-token", "space": 165, "parsed": {"type": "account",
                    "info": {"isNative": False, "state": "initialized",
                             "mint": "4KVSsAtsG8JByKfB2jYWgGwvVR9WcBSUfsqpTSL9c3Jr",
                             "owner": "A1TMhSGzQxMr1TboBKtgixKz1sS6REASMxPo1qsyTSJd",
                             "tokenAmount": {"amount": "420000000000000", "decimals": 6,
                                             "uiAmount": 420000000.0,
                                             "uiAmountString": "420000000"}}}},
                "executable": False, "lamports": 2039280,
                "owner": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
                "rentEpoch": 18446744073709551615, "space": 165}}]}},
}


class _Replay(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, Any]] = {}
    mode = "recorded"
    failures = 0

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "garbage":
            body = b"<html>502 bad gateway</html>"
        elif self.mode == "slow":
            time.sleep(1.5)
            body = b"{}"
        elif self.mode == "flaky" and type(self).failures < 2:
            type(self).failures += 1
            self.send_response(503)
            self.end_headers()
            return
        else:
            body = json.dumps(self.answers[request["method"]]).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the slow-node test): nothing to answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def replay() -> Iterator[tuple[str, type[_Replay]]]:
    handler = type("Handler", (_Replay,), {"answers": dict(RECORDED), "failures": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://user:s3cret@127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()


def test_solana_reader_against_recorded_responses(replay: tuple[str, Any]) -> None:
    url, _ = replay
    reader = RpcSolanaReader(JsonRpcClient(url, name="solana"))
    assert reader.balance("83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri") == (1, 0)
    expected = base58.b58decode("3Eq21vXNB5s86c62bVuUfTeaMif1N2kUqRPBmGRJhyTA").hex()
    assert reader.block_hash(430) == expected


def test_solana_wallet_verifies_offchain_signature_and_balance(
    replay: tuple[str, Any],
) -> None:
    url, handler = replay
    key = Ed25519PrivateKey.generate()
    address = base58.b58encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                               ).decode()
    block = base58.b58decode("3Eq21vXNB5s86c62bVuUfTeaMif1N2kUqRPBmGRJhyTA").hex()
    message = challenge_message("Example Exchange", "r1", ROOT,
                                [ChainSnapshot("solana", 430, block)], "solana", address)
    signature = base58.b58encode(key.sign(serialize_offchain_message(message))).decode()
    handler.answers["getBalance"] = {"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 431}, "value": 2_500_000_000}}
    data = {
        "scheme": "por-reserves", "version": 1, "exchange": "Example Exchange", "round": "r1",
        "liabilities_root": ROOT.hex(), "assets": [{"symbol": "SOL", "decimals": 9}],
        "chains": [{"name": "solana", "kind": "solana", "network": "mainnet", "height": 430,
                    "block_hash": block, "assets": [{"symbol": "SOL", "token": None}]}],
        "static_message": None, "totals": ["2500000000"],
        "wallets": [{"chain": "solana", "address": address, "custody": {"kind": "single"},
                     "assets": ["SOL"], "message": "round", "signed_message": message.decode(),
                     "signature": {"scheme": "solana-offchain", "value": signature},
                     "balances": [{"asset": "SOL", "amount": "2500000000", "source": "node"}]}],
    }
    report = verify_reserves(ReservesFile.from_json(json.dumps(data)),
                             {"solana": RpcSolanaReader(JsonRpcClient(url, name="solana"))})
    report.raise_for_failures()
    assert [c.code for c in report.caveats] == ["current-state"]


def test_node_answering_garbage_names_node_and_call(replay: tuple[str, Any]) -> None:
    url, handler = replay
    handler.mode = "garbage"
    reader = RpcSolanaReader(JsonRpcClient(url, name="solana"))
    with pytest.raises(NodeError, match=r"solana node http://127\.0\.0\.1:\d+/, call getBalance:"
                                        r" the answer is not JSON") as err:
        reader.balance("83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri")
    assert "s3cret" not in str(err.value)


def test_slow_node_times_out_after_bounded_retries(replay: tuple[str, Any]) -> None:
    url, handler = replay
    handler.mode = "slow"
    client = JsonRpcClient(url, name="solana", timeout=0.3, retries=1, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(NodeError, match="call getSlot: no answer after 2 attempts"):
        client.call("getSlot", [])
    assert time.monotonic() - started < 3


def test_unavailable_node_is_retried(replay: tuple[str, Any]) -> None:
    url, handler = replay
    handler.mode = "flaky"
    client = JsonRpcClient(url, name="solana", retries=2, backoff=0.01)
    assert client.call("getBalance", [])["value"] == 0
    assert handler.failures == 2


# --- Endpoints: credentials never from argv ----------------------------------------------

def test_endpoint_credentials_come_from_env_or_a_private_file(tmp_path: Path) -> None:
    from verifier.reserves.endpoints import auth_env_name, parse_endpoints

    assert auth_env_name("litecoin-regtest") == "POR_RPC_LITECOIN_REGTEST_AUTH"
    env = {"POR_RPC_BITCOIN_AUTH": "rpc:hunter2"}
    endpoints = parse_endpoints(("bitcoin=http://127.0.0.1:8332",), (), env)
    assert endpoints["bitcoin"].auth == "rpc:hunter2"
    assert "hunter2" not in repr(endpoints)
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:abc123")
    cookie.chmod(0o600)
    with pytest.raises(FormatError, match="both in POR_RPC_BITCOIN_AUTH and --rpc-cookie"):
        parse_endpoints(("bitcoin=http://127.0.0.1:8332",), (f"bitcoin={cookie}",), env)
    assert parse_endpoints(("bitcoin=http://h:1",), (f"bitcoin={cookie}",), {})[
        "bitcoin"].auth == "__cookie__:abc123"
    with pytest.raises(FormatError, match="no --rpc ethereum=URL"):
        parse_endpoints(("bitcoin=http://h:1",), (f"ethereum={cookie}",), {})
    cookie.write_text("two\nlines:x")
    with pytest.raises(FormatError, match="expected one line user:password") as err:
        parse_endpoints(("bitcoin=http://h:1",), (f"bitcoin={cookie}",), {})
    assert "lines:x" not in str(err.value)
    for url in ("http://rpc:hunter2@127.0.0.1:8332", "http://rpc@h:1", "http://:hunter2@h:1"):
        with pytest.raises(FormatError, match="refused on the command line") as err:
            parse_endpoints((f"bitcoin={url}",), (), {})
        assert "hunter2" not in str(err.value)
    with pytest.raises(FormatError, match="not a URL"):
        parse_endpoints(("bitcoin=http://h:notaport",), (), {})



# --- Solana SPL token accounts: HTTP level, recorded responses (no validator here) -------

def test_solana_token_accounts_against_recorded_responses(replay: tuple[str, Any]) -> None:
    """getTokenAccountsByOwner as the Solana docs record it, served over real HTTP: the
    exact ``amount`` string is summed (not the float uiAmount); another mint is refused."""
    url, handler = replay
    reader = RpcSolanaReader(JsonRpcClient(url, name="solana"))
    owner = "A1TMhSGzQxMr1TboBKtgixKz1sS6REASMxPo1qsyTSJd"
    mint = "4KVSsAtsG8JByKfB2jYWgGwvVR9WcBSUfsqpTSL9c3Jr"
    assert reader.token_balance(owner, mint) == (341197933, 420_000_000_000_000, 6)
    other = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
    with pytest.raises(NodeError, match=f"mint {mint} owner {owner}, asked for mint {other}"):
        reader.token_balance(owner, other)
    handler.answers["getTokenAccountsByOwner"] = {"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 5}, "value": [{"pubkey": "x", "account": {"data": "AAAA"}}]}}
    with pytest.raises(NodeError, match="not a jsonParsed token account"):
        reader.token_balance(owner, mint)


def _token_account(owner: str, mint: str, amount: str, decimals: int) -> dict[str, Any]:
    recorded = RECORDED["getTokenAccountsByOwner"]["result"]["value"][0]
    info = {**recorded["account"]["data"]["parsed"]["info"], "owner": owner, "mint": mint,
            "tokenAmount": {"amount": amount, "decimals": decimals}}
    data = {**recorded["account"]["data"], "parsed": {"type": "account", "info": info}}
    return {**recorded, "account": {**recorded["account"], "data": data}}


def test_solana_token_balance_verified_and_reported_as_current_state(
    replay: tuple[str, Any],
) -> None:
    """A wallet holding SOL and an SPL token (USDC's mint): both confirmed from the
    (recorded-shape) answers, and the report says plainly they are current state."""
    url, handler = replay
    key = Ed25519PrivateKey.generate()
    address = base58.b58encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                               ).decode()
    mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    block = base58.b58decode("3Eq21vXNB5s86c62bVuUfTeaMif1N2kUqRPBmGRJhyTA").hex()
    message = challenge_message("Example Exchange", "r1", ROOT,
                                [ChainSnapshot("solana", 430, block)], "solana", address)
    handler.answers["getBalance"] = {"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 431}, "value": 7}}
    handler.answers["getTokenAccountsByOwner"] = {"jsonrpc": "2.0", "id": 1, "result": {
        "context": {"slot": 431}, "value": [_token_account(address, mint, "1500000", 6),
                                            _token_account(address, mint, "2", 6)]}}
    data: dict[str, Any] = {
        "scheme": "por-reserves", "version": 1, "exchange": "Example Exchange", "round": "r1",
        "liabilities_root": ROOT.hex(),
        "assets": [{"symbol": "SOL", "decimals": 9}, {"symbol": "USDC", "decimals": 6}],
        "chains": [{"name": "solana", "kind": "solana", "network": "mainnet", "height": 430,
                    "block_hash": block, "assets": [{"symbol": "SOL", "token": None},
                                                    {"symbol": "USDC", "token": mint}]}],
        "static_message": None, "totals": ["7", "1500002"],
        "wallets": [{"chain": "solana", "address": address, "custody": {"kind": "single"},
                     "assets": ["SOL", "USDC"], "message": "round",
                     "signed_message": message.decode(),
                     "signature": {"scheme": "ed25519", "value": base58.b58encode(
                         key.sign(message)).decode()},
                     "balances": [{"asset": "SOL", "amount": "7", "source": "node"},
                                  {"asset": "USDC", "amount": "1500002", "source": "node"}]}],
    }
    readers = {"solana": RpcSolanaReader(JsonRpcClient(url, name="solana"))}
    report = verify_reserves(ReservesFile.from_json(json.dumps(data)), readers)
    report.raise_for_failures()
    assert [a.confirmed for a in report.assets] == [7, 1_500_002]
    assert [c.code for c in report.caveats] == ["current-state", "current-state"]
    assert "USDC (the token accounts of mint " + mint + ") is the CURRENT balance at slot " \
        "431, not the balance at the snapshot slot 430" in str(report.caveats[1])
    data["assets"][1]["decimals"] = 8
    report = verify_reserves(ReservesFile.from_json(json.dumps(data)), readers)
    assert [f.code for f in report.findings] == ["token-decimals-mismatch"]
    assert "has 6 decimals, the file's asset 8" in report.findings[0].message


def test_eip191_value_forms_accepted_and_the_one_written() -> None:
    """Spec §11.1: written as 0x + 130 lowercase hex; read also without 0x, in any case."""
    from por.reserves.round import canonical_signature
    from verifier.reserves.model import Signature

    data, account = _evm_file()
    value = data["wallets"][0]["signature"]["value"]
    body = value[2:] if value.startswith("0x") else value
    for form in (body, "0x" + body, "0x" + body.upper()):
        data["wallets"][0]["signature"]["value"] = form
        _check(data, {account.address: 1000}).raise_for_failures()
        assert canonical_signature(Signature("eip191", form)).value == "0x" + body.lower()
    assert canonical_signature(Signature("bip137", "abc")).value == "abc"
