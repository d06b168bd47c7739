"""Attack (issue 10, 1): one wallet listed twice under two spellings of its address.

A wallet is (kind, network, canonical address): EVM checksum-insensitive, bech32 in any
case, Litecoin's two P2SH prefixes (``M…`` and ``3…``) one script. Listing it twice is a
finding (``duplicate-address``, exit 1) of ``por-verify reserves``, never a second count;
the attestation's counted figure takes it once too. Before the fix the attestation counted
both entries, and a Litecoin P2SH wallet under its two prefixes was not even a finding.
Real EVM: eth-tester on py-evm behind JSON-RPC.
"""

from __future__ import annotations

import json
from pathlib import Path

import base58
from reserves_helpers import por_verify
from reserves_world import ETHER, craft_reserves, make_evm_world

from por.demo.reserves import serve_chain
from verifier.attestation.model import reserves_figures
from verifier.reserves.model import Chain, ChainAsset, ReservesFile, wallet_identity


def test_evm_wallet_twice_is_a_finding_and_counted_once(tmp_path: Path) -> None:
    world = make_evm_world()
    wallet = world.fund(4)
    data = craft_reserves(world, [("ethereum", [("ETH", None)])],
                          [(wallet, "ethereum", ["ETH"]), (wallet, "ethereum", ["ETH"])],
                          assets=[("ETH", 18)])
    data["wallets"][1]["address"] = wallet.address.lower()
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(data))
    with serve_chain(world.chain) as url:
        result = por_verify("reserves", str(path), "--rpc", f"ethereum={url}", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert [f["code"] for f in report["findings"]] == ["duplicate-address"]
    assert report["assets"][0]["confirmed"] == str(4 * ETHER)
    figures = reserves_figures(ReservesFile.from_json(path.read_bytes()))
    assert figures.assets[0].counted == 4 * ETHER
    assert figures.assets[0].claimed == 8 * ETHER


def test_litecoin_p2sh_under_both_prefixes_is_one_wallet() -> None:
    script_hash = bytes(range(20))
    modern = base58.b58encode_check(bytes([0x32]) + script_hash).decode()
    legacy = base58.b58encode_check(bytes([0x05]) + script_hash).decode()
    ltc = Chain("litecoin", "bitcoin", "litecoin", (ChainAsset("LTC", None),))
    assert modern != legacy
    assert wallet_identity(ltc, modern) == wallet_identity(ltc, legacy)
    other = Chain("bitcoin", "bitcoin", "bitcoin", (ChainAsset("BTC", None),))
    assert wallet_identity(other, legacy) != wallet_identity(ltc, legacy)


def test_bech32_in_upper_case_is_the_same_wallet() -> None:
    btc = Chain("bitcoin", "bitcoin", "bitcoin", (ChainAsset("BTC", None),))
    address = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert wallet_identity(btc, address) == wallet_identity(btc, address.upper())
