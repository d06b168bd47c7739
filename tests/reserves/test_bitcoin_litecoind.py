"""Reserves on a real Bitcoin-family node: Debian's litecoind -regtest on loopback.

Litecoin Core 0.21 has Bitcoin Core's RPC. Its own wallet signs the legacy (P2PKH) and
multisig challenges with ``signmessage``; a P2WPKH key is exported from it and signed here
(BIP-137 header 39..42, Core 0.21 signs legacy addresses only). ``por reserves`` reads the
balances with ``scantxoutset`` and records every UTXO; ``por-verify reserves`` re-checks
each one (in its block, to that address, for that amount, still unspent) after the chain
has moved on, and catches a one-key-twice multisig, an undecodable address and a UTXO spent
after the snapshot.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base58
import coincurve
import pytest
from reserves_helpers import por, por_verify, write_root
from reserves_nodes import Node, start_litecoind

from verifier.liabilities.mst import Asset
from verifier.reserves.model import LITECOIN_REGTEST
from verifier.signatures.bitcoin import message_hash

LITOSHI = 10**8


@pytest.fixture(scope="module")
def litecoind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_litecoind(tmp_path_factory.mktemp("litecoind"))
    try:
        yield node
    finally:
        node.stop()


def sign_p2wpkh(node: Node, address: str, message: bytes) -> str:
    """BIP-137 P2WPKH signature (header 39 + recid) with the node wallet's exported key."""
    wif = base58.b58decode_check(node.call("dumpprivkey", address))
    key = coincurve.PrivateKey(wif[1:33])
    sig = key.sign_recoverable(message_hash(message, LITECOIN_REGTEST), hasher=None)
    import base64

    return base64.b64encode(bytes([39 + sig[64]]) + sig[:64]).decode()


@pytest.fixture(scope="module")
def ltc_round(litecoind: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("ltc-round")
    node = litecoind
    node.call("createwallet", "exchange")
    miner = node.call("getnewaddress", "", "bech32")
    node.call("generatetoaddress", 101, miner)
    legacy = node.call("getnewaddress", "", "legacy")
    segwit = node.call("getnewaddress", "", "bech32")
    spender = node.call("getnewaddress", "", "legacy")
    members = [node.call("getnewaddress", "", "legacy") for _ in range(3)]
    pubkeys = [node.call("getaddressinfo", m)["pubkey"] for m in members]
    multisig = node.call("createmultisig", 2, pubkeys, "bech32")
    # The node's wallet owns these addresses: lock each funded output at once, so that the
    # next payment does not spend it as an input.
    node.call("importaddress", multisig["address"], "", False)
    # An output to a wallet that is spent *before* the snapshot: it must never count.
    early = node.call("sendtoaddress", legacy, "0.7")
    node.call("generatetoaddress", 1, miner)
    early_vout = next(o["n"] for o in node.call("getrawtransaction", early, True)["vout"]
                      if o["scriptPubKey"]["addresses"] == [legacy])
    early_height = node.call("getblockcount")
    raw = node.call("createrawtransaction", [{"txid": early, "vout": early_vout}],
                    {miner: "0.69"})
    node.call("sendrawtransaction", node.call("signrawtransactionwithwallet", raw)["hex"])
    node.call("generatetoaddress", 1, miner)
    tracked = [legacy, segwit, multisig["address"], spender]
    for address, amount in ((legacy, "1.5"), (segwit, "2.25"), (segwit, "0.00012345"),
                            (multisig["address"], "3"), (spender, "0.5")):
        node.call("sendtoaddress", address, amount)
        funded = node.call("listunspent", 0, 9999999, tracked, True)
        node.call("lockunspent", False, [{"txid": u["txid"], "vout": u["vout"]} for u in funded])
    node.call("generatetoaddress", 1, miner)
    root = tmp / "root.json"
    write_root(root, "2026-11-25", [Asset("LTC", 8)], seed=7)
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": "LTC", "decimals": 8}],
        "chains": [{"name": "litecoin", "kind": "bitcoin", "network": "litecoin-regtest",
                    "assets": [{"symbol": "LTC", "token": None}]}],
        "wallets": [
            {"chain": "litecoin", "address": a, "custody": c, "assets": ["LTC"]}
            for a, c in ((legacy, {"kind": "single"}), (segwit.upper(), {"kind": "single"}),
                         (multisig["address"], {"kind": "multisig",
                                                "script": multisig["redeemScript"]}),
                         (spender, {"kind": "single"}))
        ],
    }
    (tmp / "wallets.json").write_text(json.dumps(wallets))
    # Credentials travel in the environment, never on the command line (spec §11.4).
    url, env = node.url, {"POR_RPC_LITECOIN_AUTH": str(node.auth)}
    work = tmp / "work"
    result = por("reserves", "init", str(tmp / "wallets.json"), "--summary", str(root),
                 "--rpc", f"litecoin={url}", "--out", str(work), env=env)
    assert result.exit_code == 0, result.output
    messages = [p.read_text() for p in sorted((work / "challenges").glob("*.txt"))]
    assert f"wallet: litecoin {segwit}" in messages[1]  # bech32 normalised to lowercase
    signatures = [
        {"chain": "litecoin", "address": legacy, "scheme": "bip137",
         "value": node.call("signmessage", legacy, messages[0])},
        {"chain": "litecoin", "address": segwit, "scheme": "bip137",
         "value": sign_p2wpkh(node, segwit, messages[1].encode())},
        {"chain": "litecoin", "address": multisig["address"], "scheme": "bip137-multisig",
         "value": [node.call("signmessage", m, messages[2]) for m in members[:2]]},
        {"chain": "litecoin", "address": spender, "scheme": "bip137",
         "value": node.call("signmessage", spender, messages[3])},
    ]
    (tmp / "sigs.json").write_text(json.dumps(signatures))
    assert por("reserves", "import-signatures", str(work), str(tmp / "sigs.json")).exit_code == 0
    result = por("reserves", "read-balances", str(work), "--rpc", f"litecoin={url}", env=env)
    assert result.exit_code == 0, result.output
    full = tmp / "reserves-full.json"
    assert por("reserves", "write", str(work), "--out", str(full)).exit_code == 0
    # The same round without the wallet that will spend after the snapshot.
    data = json.loads(full.read_text())
    data["wallets"] = data["wallets"][:3]
    data["totals"] = [str(int(data["totals"][0]) - LITOSHI // 2)]
    clean = tmp / "reserves.json"
    clean.write_text(json.dumps(data, indent=2))
    # After the snapshot: the spender's coins leave, a payment arrives that the snapshot
    # must not count, more blocks (the counted UTXOs stay locked).
    counted = [u for w in json.loads(full.read_text())["wallets"]
               for u in w["balances"][0]["utxos"]]
    utxo = counted.pop()
    raw = node.call("createrawtransaction", [{"txid": utxo["txid"], "vout": utxo["vout"]}],
                    {miner: "0.49"})
    node.call("sendrawtransaction", node.call("signrawtransactionwithwallet", raw)["hex"])
    node.call("sendtoaddress", legacy, "4")
    node.call("generatetoaddress", 3, miner)
    return {"reserves": clean, "full": full, "root": root, "url": url, "env": env, "tmp": tmp,
            "work": work, "password": str(node.auth).split(":", 1)[1],
            "early": {"txid": early, "vout": early_vout, "amount": "70000000",
                      "height": early_height},
            "legacy": legacy, "segwit": segwit, "multisig": multisig["address"]}


def _verify(ltc_round: dict[str, Any], path: Path) -> tuple[int, dict[str, Any]]:
    result = por_verify("reserves", str(path), "--rpc", f"litecoin={ltc_round['url']}",
                        "--json", env=ltc_round["env"])
    return result.exit_code, json.loads(result.output)


def test_reserves_file_lists_each_counted_utxo(ltc_round: dict[str, Any]) -> None:
    data = json.loads(ltc_round["reserves"].read_text())
    assert data["totals"] == [str(675_012_345)]
    segwit = data["wallets"][1]
    assert segwit["address"] == ltc_round["segwit"]
    amounts = sorted(int(u["amount"]) for u in segwit["balances"][0]["utxos"])
    assert amounts == [12_345, 225_000_000]
    assert all(u["height"] == data["chains"][0]["height"] for u in segwit["balances"][0]["utxos"])


def test_verifier_rechecks_every_utxo_after_the_chain_moved_on(ltc_round: dict[str, Any]) -> None:
    code, report = _verify(ltc_round, ltc_round["reserves"])
    assert code == 0, report["findings"]
    assert report["assets"][0]["confirmed"] == str(675_012_345)
    assert report["findings"] == []


def test_utxo_spent_after_the_snapshot_still_counts(ltc_round: dict[str, Any]) -> None:
    """Bitcoin Core keeps no past UTXO set: the verifier reads the blocks after the snapshot
    and finds the spend above the snapshot height, so the output was unspent at it."""
    code, report = _verify(ltc_round, ltc_round["full"])
    assert code == 0, report["findings"]
    assert report["assets"][0]["confirmed"] == str(725_012_345)
    snapshot = json.loads(ltc_round["full"].read_text())["chains"][0]["height"]
    assert report["block_scans"] == [{"chain": "litecoin", "first": snapshot + 1,
                                      "last": snapshot + 3, "spent": 1, "found": 1,
                                      "skipped": None}]
    [caveat] = report["caveats"]
    assert (caveat["code"], caveat["wallet"]) == ("spent-after-snapshot", 3)
    assert f"spent at height {snapshot + 1} by " in caveat["message"]


def test_block_scan_beyond_the_bound_leaves_the_spent_output_unconfirmed(
    ltc_round: dict[str, Any],
) -> None:
    result = por_verify("reserves", str(ltc_round["full"]), "--rpc",
                        f"litecoin={ltc_round['url']}", "--max-scan-blocks", "2",
                        env=ltc_round["env"])
    assert result.exit_code == 1
    assert "[not-confirmed] wallet 3" in result.output
    assert "3 blocks past the snapshot, more than the 2 this verifier reads" in result.output
    assert "LTC: claimed 7.25012345, confirmed 6.75012345" in result.output


def test_utxo_spent_before_the_snapshot_does_not_count(ltc_round: dict[str, Any]) -> None:
    def add_spent(data: dict[str, Any]) -> None:
        balance = data["wallets"][0]["balances"][0]
        balance["utxos"].append(ltc_round["early"])
        balance["amount"] = str(int(balance["amount"]) + 70_000_000)
        data["totals"] = [str(int(data["totals"][0]) + 70_000_000)]

    code, report = _verify(ltc_round, _mutated(ltc_round, "spent-before-snapshot", add_spent))
    assert code == 1
    assert [(f["code"], f["wallet"]) for f in report["findings"]] == [("utxo-spent", 0)]
    assert "spent at or before the snapshot height" in report["findings"][0]["message"]


def test_exchange_reads_the_utxo_set_at_the_snapshot_after_the_chain_moved(
    ltc_round: dict[str, Any],
) -> None:
    """Read again three blocks later: the spender's coins (spent after the snapshot) still
    count, the 4 LTC paid to a wallet after it do not; every counted UTXO is the same."""
    work = ltc_round["tmp"] / "work-later"
    shutil.copytree(ltc_round["work"], work)
    result = por("reserves", "read-balances", str(work), "--rpc",
                 f"litecoin={ltc_round['url']}", env=ltc_round["env"])
    assert result.exit_code == 0, result.output
    assert "(3 blocks walked): 1 output(s) spent since added back, 1 mined since left out" \
        in result.output
    later = ltc_round["tmp"] / "reserves-later.json"
    assert por("reserves", "write", str(work), "--out", str(later)).exit_code == 0
    assert json.loads(later.read_text()) == json.loads(ltc_round["full"].read_text())
    result = por("reserves", "read-balances", str(work), "--rpc",
                 f"litecoin={ltc_round['url']}", "--max-blocks", "2", env=ltc_round["env"])
    assert result.exit_code == 2
    assert "3 blocks past the snapshot height" in result.output


def _mutated(ltc_round: dict[str, Any], name: str, change: Any) -> Path:
    data = json.loads(ltc_round["reserves"].read_text())
    change(data)
    path = ltc_round["tmp"] / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_one_key_signing_twice_does_not_make_two_of_three(ltc_round: dict[str, Any]) -> None:
    def twice(data: dict[str, Any]) -> None:
        sig = data["wallets"][2]["signature"]["value"][0]
        data["wallets"][2]["signature"]["value"] = [sig, sig]

    code, report = _verify(ltc_round, _mutated(ltc_round, "multisig-one-key-twice", twice))
    assert code == 1
    assert [f["code"] for f in report["findings"]] == ["bad-signature"]
    assert "again" in report["findings"][0]["message"]
    assert report["assets"][0]["confirmed"] == str(375_012_345)


def test_undecodable_address_fails_with_its_reason(ltc_round: dict[str, Any]) -> None:
    def corrupt(data: dict[str, Any]) -> None:
        address = data["wallets"][0]["address"]
        data["wallets"][0]["address"] = address[:-1] + ("A" if address[-1] != "A" else "B")

    code, report = _verify(ltc_round, _mutated(ltc_round, "undecodable-address", corrupt))
    assert code == 1
    assert [f["code"] for f in report["findings"]] == ["undecodable-address"]
    assert "Base58Check" in report["findings"][0]["message"]


def test_same_address_listed_twice_counts_once(ltc_round: dict[str, Any]) -> None:
    def duplicate(data: dict[str, Any]) -> None:
        data["wallets"].append(data["wallets"][0])
        data["totals"] = [str(int(data["totals"][0]) + 150_000_000)]

    code, report = _verify(ltc_round, _mutated(ltc_round, "duplicate-address", duplicate))
    assert code == 1
    assert [(f["code"], f["wallet"]) for f in report["findings"]] == [("duplicate-address", 3)]


def test_utxo_moved_to_another_wallet_is_caught(ltc_round: dict[str, Any]) -> None:
    def steal(data: dict[str, Any]) -> None:
        utxo = data["wallets"][0]["balances"][0]["utxos"][0]
        data["wallets"][1]["balances"][0]["utxos"].append(utxo)
        data["wallets"][1]["balances"][0]["amount"] = str(
            int(data["wallets"][1]["balances"][0]["amount"]) + int(utxo["amount"]))
        data["totals"] = [str(int(data["totals"][0]) + int(utxo["amount"]))]

    code, report = _verify(ltc_round, _mutated(ltc_round, "utxo-counted-twice", steal))
    assert code == 1
    assert {f["code"] for f in report["findings"]} == {"utxo-mismatch"}


# --- Node credentials stay off the command line (spec §11.4) -----------------------------

def _with_password(ltc_round: dict[str, Any]) -> str:
    return ltc_round["url"].replace("http://", f"http://test:{ltc_round['password']}@")


def test_password_in_a_url_on_argv_is_refused_and_never_echoed(
    ltc_round: dict[str, Any],
) -> None:
    url = _with_password(ltc_round)
    verify = por_verify("reserves", str(ltc_round["reserves"]), "--rpc", f"litecoin={url}")
    read = por("reserves", "read-balances", str(ltc_round["work"]), "--rpc", f"litecoin={url}")
    for result in (verify, read):
        assert result.exit_code == 2, result.output
        assert "credentials are refused on the command line" in result.output
        assert "POR_RPC_LITECOIN_AUTH" in result.output
        assert ltc_round["password"] not in result.output


def test_credentials_from_a_private_cookie_file(ltc_round: dict[str, Any]) -> None:
    cookie = ltc_round["tmp"] / "litecoin.cookie"
    cookie.write_text(f"test:{ltc_round['password']}\n")
    cookie.chmod(0o600)
    result = por_verify("reserves", str(ltc_round["reserves"]), "--rpc",
                        f"litecoin={ltc_round['url']}", "--rpc-cookie", f"litecoin={cookie}")
    assert result.exit_code == 0, result.output
    cookie.chmod(0o644)
    result = por_verify("reserves", str(ltc_round["reserves"]), "--rpc",
                        f"litecoin={ltc_round['url']}", "--rpc-cookie", f"litecoin={cookie}")
    assert result.exit_code == 2
    assert "mode 0644 lets other users read or write it" in result.output
    assert ltc_round["password"] not in result.output


def test_wrong_credentials_name_the_node_without_the_password(
    ltc_round: dict[str, Any],
) -> None:
    result = por_verify("reserves", str(ltc_round["reserves"]), "--rpc",
                        f"litecoin={ltc_round['url']}", "--timeout", "5",
                        env={"POR_RPC_LITECOIN_AUTH": "test:not-the-password"})
    assert result.exit_code == 2
    assert f"litecoin node {ltc_round['url']}, call getblockhash: HTTP 401" in result.output
    assert "set POR_RPC_LITECOIN_AUTH or --rpc-cookie litecoin=PATH" in result.output
    assert "not-the-password" not in result.output
