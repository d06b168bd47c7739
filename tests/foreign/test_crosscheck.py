"""``por-verify cross-check``: coins claimed by two exchanges, recognised under any spelling.

Every reserves file here is made by the test (spec §11.1). Planted overlaps: one EVM wallet
in EIP-55 and in lowercase; one P2WPKH in lowercase and uppercase bech32; one Litecoin P2SH
script as ``3…`` and as ``M…``; one UTXO under wallets whose heights are far apart. Planted
non-overlaps that must not be reported: the same EVM address on another chain; a P2PKH of
the key whose P2WPKH another exchange claims; a shared wallet at snapshots outside the
window; distinct wallets.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import base58
import pytest
from btclib import b32
from click.testing import CliRunner

from verifier.cli import main
from verifier.crosscheck import coin_identity, run
from verifier.errors import FormatError

EVM = "0x" + hashlib.sha256(b"shared evm wallet").hexdigest()[:40]
EVM_OTHER = "0x" + hashlib.sha256(b"exchange b's own wallet").hexdigest()[:40]
KEY_HASH = hashlib.sha256(b"one key").digest()[:20]
P2WPKH = b32.address_from_witness(0, KEY_HASH, "mainnet")
P2PKH_SAME_KEY = base58.b58encode_check(b"\x00" + KEY_HASH).decode()
SCRIPT_HASH = hashlib.sha256(b"one litecoin script").digest()[:20]
LTC_3 = base58.b58encode_check(b"\x05" + SCRIPT_HASH).decode()
LTC_M = base58.b58encode_check(b"\x32" + SCRIPT_HASH).decode()
TXID = hashlib.sha256(b"lent output").hexdigest()


def checksum(address: str) -> str:
    from verifier.signatures import checksum_address

    return checksum_address(address)


def reserves(exchange: str, chains: list[dict[str, Any]], wallets: list[dict[str, Any]]) -> str:
    """A well-formed por-reserves file (spec §11.1); signatures are not what is tested."""
    assets = [{"symbol": "BTC", "decimals": 8}, {"symbol": "ETH", "decimals": 18},
              {"symbol": "LTC", "decimals": 8}]
    for w in wallets:
        w.setdefault("custody", {"kind": "single"})
        w.setdefault("message", "round")
        w.setdefault("signed_message", "not checked by cross-check")
        w.setdefault("signature", {"scheme": "eip191", "value": "0x" + "00" * 65})
    return json.dumps({
        "scheme": "por-reserves", "version": 1, "exchange": exchange, "round": "2026-11-25",
        "liabilities_root": "00" * 32, "assets": assets, "chains": chains,
        "static_message": None, "wallets": wallets, "totals": ["0", "0", "0"],
    })


def chain(name: str, kind: str, network: str, height: int, symbol: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "network": network, "height": height,
            "block_hash": hashlib.sha256(f"{name}{height}".encode()).hexdigest(),
            "assets": [{"symbol": symbol, "token": None}]}


def wallet(chain_name: str, address: str, asset: str, amount: int,
           utxos: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    balance: dict[str, Any] = {"asset": asset, "amount": str(amount), "source": "node"}
    if utxos is not None:
        balance["utxos"] = utxos
    return {"chain": chain_name, "address": address, "assets": [asset], "balances": [balance]}


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    a = reserves("Exchange A", [
        chain("eth", "evm", "1", 21_000_000, "ETH"),
        chain("btc", "bitcoin", "bitcoin", 870_000, "BTC"),
        chain("ltc", "bitcoin", "litecoin", 2_800_000, "LTC"),
    ], [
        wallet("eth", checksum(EVM), "ETH", 5 * 10**18),
        wallet("btc", P2WPKH, "BTC", 150_000_000),
        wallet("ltc", LTC_3, "LTC", 7_000_000_000),
    ])
    b = reserves("Exchange B", [
        chain("mainnet", "evm", "1", 21_000_010, "ETH"),
        chain("optimism", "evm", "10", 21_000_010, "ETH"),
        chain("bitcoin", "bitcoin", "bitcoin", 870_001, "BTC"),
        chain("litecoin", "bitcoin", "litecoin", 2_800_004, "LTC"),
    ], [
        wallet("mainnet", EVM.lower(), "ETH", 5 * 10**18),        # same wallet, other case
        wallet("optimism", checksum(EVM), "ETH", 10**18),          # same address, other chain
        wallet("mainnet", checksum(EVM_OTHER), "ETH", 10**18),     # its own wallet
        wallet("bitcoin", P2WPKH.upper(), "BTC", 150_000_000),     # same script, upper bech32
        wallet("bitcoin", P2PKH_SAME_KEY, "BTC", 20_000_000),      # same key, other script
        wallet("litecoin", LTC_M, "LTC", 7_000_000_000),           # same script, M-form P2SH
    ])
    # C: the BTC wallet again, far later, plus one UTXO also claimed by D far earlier.
    utxo = [{"txid": TXID, "vout": 1, "amount": "90000000", "height": 860_000}]
    c = reserves("Exchange C", [chain("btc", "bitcoin", "bitcoin", 880_000, "BTC")],
                 [wallet("btc", P2WPKH, "BTC", 90_000_000, utxo)])
    d_address = b32.address_from_witness(0, hashlib.sha256(b"d").digest()[:20], "mainnet")
    d = reserves("Exchange D", [chain("btc", "bitcoin", "bitcoin", 865_000, "BTC")],
                 [wallet("btc", d_address, "BTC", 90_000_000, utxo)])
    out = {}
    for name, text in {"a": a, "b": b, "c": c, "d": d}.items():
        out[name] = tmp_path / f"{name}.json"
        out[name].write_text(text)
    return out


def _run(*paths: Path, window: int | None = None) -> Any:
    return run([(p.name, p.read_bytes()) for p in paths], window_blocks=window)


def test_planted_overlaps_are_found_under_every_encoding_and_nothing_else(
    files: dict[str, Path],
) -> None:
    report = _run(files["a"], files["b"])
    found = {o.coin: o for o in report.overlaps}
    assert set(found) == {
        coin_identity(("evm", "1"), EVM),
        coin_identity(("bitcoin", "bitcoin"), P2WPKH),
        coin_identity(("bitcoin", "litecoin"), LTC_3),
    }
    assert not report.ok
    evm = found[coin_identity(("evm", "1"), EVM)]
    assert {c.address for c in evm.claims} == {checksum(EVM), EVM.lower()}
    assert [c.amounts for c in evm.claims] == [{"ETH": str(5 * 10**18)}] * 2
    assert "different spellings" in evm.why
    ltc = found[coin_identity(("bitcoin", "litecoin"), LTC_M)]
    assert {c.address for c in ltc.claims} == {LTC_3, LTC_M}
    assert {c.height for c in ltc.claims} == {2_800_000, 2_800_004}


def test_same_key_in_two_scripts_and_same_address_on_two_chains_are_different_coins() -> None:
    assert coin_identity(("bitcoin", "bitcoin"), P2WPKH) != coin_identity(
        ("bitcoin", "bitcoin"), P2PKH_SAME_KEY
    )
    assert coin_identity(("bitcoin", "bitcoin"), P2WPKH) == coin_identity(
        ("bitcoin", "bitcoin"), P2WPKH.upper()
    )
    assert coin_identity(("bitcoin", "litecoin"), LTC_3) == coin_identity(
        ("bitcoin", "litecoin"), LTC_M
    )
    assert coin_identity(("evm", "1"), EVM.lower()) == coin_identity(("evm", "1"), checksum(EVM))


def test_window_excludes_snapshots_far_apart(files: dict[str, Path]) -> None:
    within = _run(files["a"], files["b"], window=10)
    assert len(within.overlaps) == 3  # heights 0..10 blocks apart
    apart = _run(files["a"], files["c"], window=144)  # 10,000 blocks apart
    assert apart.ok and apart.overlaps == []
    assert any("not counted as overlaps" in n for n in apart.notes)
    default = _run(files["a"], files["c"])  # no window: one wallet cannot be two exchanges'
    assert len(default.overlaps) == 1


def test_a_shared_utxo_always_overlaps(files: dict[str, Path]) -> None:
    report = _run(files["c"], files["d"], window=1)
    assert [o.coin for o in report.overlaps] == [f"utxo:{TXID}:1"]
    assert {c.amounts["BTC"] for c in report.overlaps[0].claims} == {"90000000"}


def test_distinct_wallets_pass(files: dict[str, Path], tmp_path: Path) -> None:
    report = _run(files["b"], files["d"])
    assert report.ok, report.render_text()


def test_okx_and_bitmex_lists_are_compared_with_reserves_files(
    files: dict[str, Path], tmp_path: Path
) -> None:
    okx = tmp_path / "okx.csv"
    okx.write_text(
        "coin,network,snapshot height,address,amount,message,signature1\n"
        f"ETH,ERC20,21000005,{EVM.upper().replace('0X', '0x')},5,msg,sig\n"
        f"BTC,BTC,870002,{P2PKH_SAME_KEY},0.2,msg,sig\n"
    )
    bitmex = tmp_path / "bitmex.yaml"
    bitmex.write_text(
        "chain: main\nheight: 870003\ntotal: 1\naddress:\n"
        f"  - addr: {P2WPKH.upper()}\n    addr_type: wpkh\n    balance: 150000000\n"
    )
    report = _run(files["a"], okx, bitmex, window=100)
    coins = {o.coin: {c.claimant.split(" ")[0] for c in o.claims} for o in report.overlaps}
    assert coins == {
        coin_identity(("evm", "1"), EVM): {"a.json", "okx.csv"},
        coin_identity(("bitcoin", "bitcoin"), P2WPKH): {"a.json", "bitmex.yaml"},
    }


def test_cli_exit_codes(files: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    overlap = runner.invoke(main, ["cross-check", str(files["a"]), str(files["b"])])
    assert overlap.exit_code == 1, overlap.output
    assert "CLAIMED TWICE" in overlap.output and EVM.lower() in overlap.output
    clean = runner.invoke(main, ["cross-check", str(files["b"]), str(files["d"]), "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["verdict"] == "VERIFIED"
    bad = tmp_path / "bad.json"
    bad.write_text('{"scheme": "por-reserves", "version": 1}')
    assert runner.invoke(main, ["cross-check", str(files["a"]), str(bad)]).exit_code == 2
    alone = runner.invoke(main, ["cross-check", str(files["a"])])
    assert alone.exit_code == 1


def test_malformed_address_lists_are_refused(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("chain: main\nheight: 1\nheight: 2\naddress: []\n")
    with pytest.raises(FormatError):
        run([("dup", dup.read_bytes())], window_blocks=None)
    bad = tmp_path / "bad.yaml"
    bad.write_text("chain: main\nheight: 1\naddress:\n  - addr: notanaddress\n")
    with pytest.raises(FormatError):
        run([("bad", bad.read_bytes())], window_blocks=None)
