"""BIP-322 wallets (P2TR key path, P2WSH) on a real Litecoin node: litecoind -regtest.

Litecoin Core 0.21's wallet cannot make taproot addresses, but its regtest chain has taproot
active and its RPC pays any bech32m address. So the test builds a P2TR address (bech32m) and
a P2WSH address (``<key> OP_CHECKSIG``) with hrp ``rltc`` from keys it holds, pays them with
the node, signs the round's challenge with BIP-322 simple in the test (btclib-wallet for the
taproot key path; the P2WSH witness signed here over btclib's BIP-143 sighash), and runs the
operator flow and ``por-verify reserves`` against the node: the UTXOs to those addresses are
read and re-checked in their blocks, the signatures verified as Litecoin BIP-322.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import coincurve
import pytest
from btclib import bech32
from btclib.b32 import address_from_witness, power_of_2_base_conversion
from btclib.hashes import sha256
from btclib.key import PrvKeyData, PubKeyData
from btclib.script.sig_hash import ALL, from_tx
from btclib.script.taproot import output_pubkey
from btclib.script.witness import Witness
from btclib_wallet import bip322 as btclib_bip322
from ecc.ecc import dsa
from reserves_helpers import por, por_verify, write_root
from reserves_nodes import Node, start_litecoind

from verifier.liabilities.mst import Asset

HRP = "rltc"  # Litecoin regtest (chainparams.cpp: bech32_hrp)


def _segwit(version: int, program: bytes) -> str:
    data = [version, *power_of_2_base_conversion(program, 8, 5)]
    return bech32.encode(HRP, data).decode()  # bech32 for v0, bech32m for v1 (BIP-350)


@pytest.fixture(scope="module")
def litecoind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_litecoind(tmp_path_factory.mktemp("litecoind-bip322"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def taproot_round(litecoind: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("bip322-round")
    node = litecoind
    node.call("createwallet", "exchange")
    miner = node.call("getnewaddress", "", "bech32")
    node.call("generatetoaddress", 101, miner)
    tr_key, wsh_key = (1 + secrets.randbelow(2**255) for _ in range(2))
    tr_pub = output_pubkey(PubKeyData(_sec(tr_key)))[0]  # BIP-341 key path, no script tree
    wsh_script = bytes([33]) + _sec(wsh_key) + b"\xac"  # <key> OP_CHECKSIG
    p2tr, p2wsh = _segwit(1, tr_pub), _segwit(0, sha256(wsh_script))
    for address, amount in ((p2tr, "1.25"), (p2wsh, "0.5")):
        node.call("sendtoaddress", address, amount)
    node.call("generatetoaddress", 1, miner)
    root = tmp / "root.json"
    write_root(root, "2026-11-25", [Asset("LTC", 8)], seed=9)
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": "LTC", "decimals": 8}],
        "chains": [{"name": "litecoin", "kind": "bitcoin", "network": "litecoin-regtest",
                    "assets": [{"symbol": "LTC", "token": None}]}],
        "wallets": [{"chain": "litecoin", "address": a, "custody": {"kind": "single"},
                     "assets": ["LTC"]} for a in (p2tr, p2wsh)],
    }
    (tmp / "wallets.json").write_text(json.dumps(wallets))
    env = {"POR_RPC_LITECOIN_AUTH": str(node.auth)}
    work = tmp / "work"
    result = por("reserves", "init", str(tmp / "wallets.json"), "--summary", str(root),
                 "--rpc", f"litecoin={node.url}", "--out", str(work), env=env)
    assert result.exit_code == 0, result.output
    messages = [p.read_bytes() for p in sorted((work / "challenges").glob("*.txt"))]
    # btclib-wallet signs for Bitcoin addresses: the one with the same scriptPubKey.
    tr_sig = btclib_bip322.sign(messages[0], PrvKeyData(tr_key, "mainnet", True),
                                address_from_witness(1, tr_pub, "mainnet"))
    signatures = [
        {"chain": "litecoin", "address": p2tr, "scheme": "bip322",
         "value": tr_sig.b64encode()},  # "smp" + base64 of the witness
        {"chain": "litecoin", "address": p2wsh, "scheme": "bip322",
         "value": _sign_p2wsh(messages[1], wsh_key, wsh_script)},
    ]
    (tmp / "sigs.json").write_text(json.dumps(signatures))
    assert por("reserves", "import-signatures", str(work), str(tmp / "sigs.json")).exit_code == 0
    result = por("reserves", "read-balances", str(work), "--rpc", f"litecoin={node.url}",
                 env=env)
    assert result.exit_code == 0, result.output
    reserves = tmp / "reserves.json"
    assert por("reserves", "write", str(work), "--out", str(reserves)).exit_code == 0
    node.call("generatetoaddress", 2, miner)
    return {"reserves": reserves, "url": node.url, "env": env, "tmp": tmp,
            "addresses": (p2tr, p2wsh)}


def _sec(key: int) -> bytes:
    return bytes(coincurve.PrivateKey(key.to_bytes(32, "big")).public_key.format(True))


def _sign_p2wsh(message: bytes, key: int, witness_script: bytes) -> str:
    """BIP-322 simple for a P2WSH single-key script: [signature, witness script]."""
    script_pub_key = b"\x00\x20" + sha256(witness_script)
    spend = btclib_bip322.to_spend(message, script_pub_key)
    tx = btclib_bip322.to_sign(spend)
    tx.vin[0].script_witness = Witness([witness_script])  # BIP-143 script code
    digest = from_tx(spend.vout, tx, 0, ALL)
    signature = dsa.sign_(digest, key, grind=False).serialize() + bytes([ALL])
    return btclib_bip322.Sig(Witness([signature, witness_script])).b64encode()


def test_p2tr_and_p2wsh_wallets_verify_on_the_node(taproot_round: dict[str, Any]) -> None:
    data = json.loads(taproot_round["reserves"].read_text())
    assert [w["address"][:6] for w in data["wallets"]] == ["rltc1p", "rltc1q"]
    assert data["totals"] == ["175000000"]
    result = por_verify("reserves", str(taproot_round["reserves"]), "--rpc",
                        f"litecoin={taproot_round['url']}", "--json", env=taproot_round["env"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["assets"][0]["confirmed"] == "175000000"


def test_bip322_signature_swapped_between_wallets_fails(taproot_round: dict[str, Any]) -> None:
    data = json.loads(taproot_round["reserves"].read_text())
    first, second = data["wallets"]
    first["signature"], second["signature"] = second["signature"], first["signature"]
    path = taproot_round["tmp"] / "bip322-swapped.json"
    path.write_text(json.dumps(data))
    result = por_verify("reserves", str(path), "--rpc", f"litecoin={taproot_round['url']}",
                        "--json", env=taproot_round["env"])
    assert result.exit_code == 1
    codes = [(f["code"], f["wallet"]) for f in json.loads(result.output)["findings"]]
    assert sorted(codes) == [("bad-signature", 0), ("bad-signature", 1)]
