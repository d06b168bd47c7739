"""``por-verify cross-check``: coins claimed by two exchanges, recognised under any spelling.

Every reserves file here is made by the test (spec §11.1). Planted overlaps: one EVM wallet
in EIP-55 and in lowercase; one P2WPKH in lowercase and uppercase bech32; one Litecoin P2SH
script as ``3…`` and as ``M…``; one UTXO under wallets whose heights are far apart. Planted
non-overlaps that must not be reported: the same EVM address on another chain; a P2PKH of
the key whose P2WPKH another exchange claims; a shared wallet at snapshots outside the
window; distinct wallets. Time windows and files grouped as one exchange: see the sections
below, each with its own planted overlaps.
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


# ----------------------------------------------------------------------------- time windows
#
# Planted: an EVM wallet claimed by two OKX-style files ten days apart (apart under a one-day
# window) and a second wallet claimed by both one hour apart (an overlap under any window);
# a date against a time the next morning (the date may be that morning somewhere: overlap);
# a time without a zone against a zoned one 20 hours later (apart) and 11 hours later (may
# be the same instant: overlap); heights far apart but times an hour apart (the measures
# disagree: overlap).

EVM_2 = "0x" + hashlib.sha256(b"second shared wallet").hexdigest()[:40]
EVM_3 = "0x" + hashlib.sha256(b"third shared wallet").hexdigest()[:40]
EVM_4 = "0x" + hashlib.sha256(b"fourth shared wallet").hexdigest()[:40]


def okx_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """An OKX address file with a ``snapshot time`` column: (address, height, time) rows."""
    lines = ["coin,network,snapshot height,snapshot time,address,amount,message,signature1"]
    lines += [f"ETH,ERC20,{h},{t},{a},1,msg,sig" for a, h, t in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _coins(report: Any) -> set[str]:
    return {o.coin for o in report.overlaps}


def evm(address: str) -> str:
    return coin_identity(("evm", "1"), address)


def test_time_window_separates_snapshots_far_apart_and_nothing_else(tmp_path: Path) -> None:
    x = okx_file(tmp_path / "x.csv", [
        (EVM, "", "2026-11-15T00:00:00Z"),
        (EVM_2, "", "2026-11-25T00:00:00Z"),
        (EVM_3, "", "2026-11-25"),
        (EVM_4, "", "2026-11-25T00:00:00"),
    ])
    y = okx_file(tmp_path / "y.csv", [
        (EVM, "", "2026-11-25T00:00:00Z"),          # ten days later: apart
        (EVM_2, "", "2026-11-25T01:00:00+00:00"),   # one hour later: overlap
        (EVM_3, "", "2026-11-26T10:00:00Z"),        # the date may be this morning: overlap
        (EVM_4, "", "2026-11-25T20:00:00Z"),        # 8 h after the latest reading: apart
    ])
    day = run([(p.name, p.read_bytes()) for p in (x, y)], window_blocks=None,
              window_seconds=86_400 // 8)  # three hours
    assert _coins(day) == {evm(EVM_2), evm(EVM_3)}, day.render_text()
    assert any("further apart than the window" in n for n in day.notes)
    times = {c.time for o in day.overlaps for c in o.claims}
    assert "2026-11-25T01:00:00+00:00" in times and "2026-11-25" in times
    # No window: one wallet cannot belong to two exchanges at any time.
    assert _coins(run([(p.name, p.read_bytes()) for p in (x, y)], window_blocks=None)) == {
        evm(EVM), evm(EVM_2), evm(EVM_3), evm(EVM_4)
    }
    # 11 hours after a zoneless midnight may be the same instant (UTC-11 and beyond).
    z = okx_file(tmp_path / "z.csv", [(EVM_4, "", "2026-11-25T11:00:00Z")])
    near = run([(p.name, p.read_bytes()) for p in (x, z)], window_blocks=None, window_seconds=0)
    assert _coins(near) == {evm(EVM_4)}


def test_a_claim_without_a_time_is_not_shown_apart_by_a_time_window(
    files: dict[str, Path], tmp_path: Path
) -> None:
    y = okx_file(tmp_path / "y.csv", [(EVM, "", "2020-01-01T00:00:00Z")])
    report = _run_w(files["a"], y, seconds=60)  # a.json states heights, no time
    assert _coins(report) == {evm(EVM)}


def test_every_stated_measure_must_agree_the_snapshots_are_apart(tmp_path: Path) -> None:
    x = okx_file(tmp_path / "x.csv", [(EVM, "21000000", "2026-11-25T00:00:00Z"),
                                       (EVM_2, "21000000", "2026-11-25T00:00:00Z")])
    y = okx_file(tmp_path / "y.csv", [(EVM, "21500000", "2026-11-25T01:00:00Z"),
                                       (EVM_2, "21500000", "2026-12-25T01:00:00Z")])
    report = _run_w(x, y, blocks=144, seconds=86_400)
    # EVM: heights apart, times an hour apart -> overlap. EVM_2: both apart -> not reported.
    assert _coins(report) == {evm(EVM)}
    heights_only = _run_w(x, y, blocks=144)
    assert heights_only.ok, heights_only.render_text()


def test_bitmex_list_times_are_read(files: dict[str, Path], tmp_path: Path) -> None:
    early = tmp_path / "early.yaml"
    early.write_text(
        "chain: main\nheight: 870000\nsnapshot_time: 2026-11-01T00:00:00Z\naddress:\n"
        f"  - addr: {P2WPKH}\n    addr_type: wpkh\n"
    )
    late = tmp_path / "late.yaml"
    late.write_text(
        "chain: main\nheight: 870000\ndate: 2026-11-20\naddress:\n"
        f"  - addr: {P2WPKH.upper()}\n    addr_type: wpkh\n"
    )
    assert _run_w(early, late, seconds=86_400).ok
    assert _coins(_run_w(early, late, seconds=30 * 86_400)) == {
        coin_identity(("bitcoin", "bitcoin"), P2WPKH)
    }


@pytest.mark.parametrize(
    "extra",
    ["snapshot_time: 1764028800\n", "snapshot_time: yesterday\n",
     "time: 2026-11-01T00:00:00Z\ndate: 2026-11-01\n"],
    ids=["a-number", "not-iso", "two-times"],
)
def test_malformed_times_are_refused(extra: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"chain: main\nheight: 1\n{extra}address:\n  - addr: {P2WPKH}\n")
    with pytest.raises(FormatError):
        run([("bad", bad.read_bytes())], window_blocks=None)
    result = CliRunner().invoke(main, ["cross-check", str(bad), str(bad), "--window-seconds", "1"])
    assert result.exit_code == 2, result.output


def _run_w(*paths: Path, blocks: int | None = None, seconds: int | None = None,
           exchanges: dict[str, str] | None = None, trust: bool = False) -> Any:
    return run([(p.name, p.read_bytes()) for p in paths], window_blocks=blocks,
               window_seconds=seconds, exchanges=exchanges, trust_exchange_names=trust)


# ------------------------------------------------------------ one exchange, several files
#
# Planted: Exchange A publishes two files (a.json and a2.json) that share a wallet of their
# own and the EVM wallet that Exchange B (b.json) also claims. Grouped, the only overlap is
# B's EVM wallet (and the other wallets a.json shares with b.json); A's own wallet in both
# of A's files is not an overlap.

@pytest.fixture()
def a2(tmp_path: Path) -> Path:
    own = b32.address_from_witness(0, hashlib.sha256(b"A's own").digest()[:20], "mainnet")
    text = reserves("Exchange A", [
        chain("eth", "evm", "1", 21_000_003, "ETH"),
        chain("btc", "bitcoin", "bitcoin", 870_000, "BTC"),
    ], [
        wallet("eth", EVM.lower(), "ETH", 5 * 10**18),
        wallet("btc", P2WPKH, "BTC", 150_000_000),
        wallet("btc", own, "BTC", 1),
    ])
    path = tmp_path / "a2.json"
    path.write_text(text)
    return path


def test_files_of_one_exchange_are_not_an_overlap_with_itself(
    files: dict[str, Path], a2: Path
) -> None:
    a_vs_b = _coins(_run_w(files["a"], files["b"]))
    ungrouped = _run_w(files["a"], a2)
    assert _coins(ungrouped) == {evm(EVM), coin_identity(("bitcoin", "bitcoin"), P2WPKH)}
    alone = _run_w(files["a"], a2, exchanges={"a.json": "A", "a2.json": "A"})
    assert not alone.ok and alone.overlaps == []  # one exchange: nothing to compare
    assert any("one exchange" in n for n in alone.notes)
    grouped = _run_w(files["a"], a2, files["b"],
                     exchanges={"a.json": "A", "a2.json": "A", "b.json": "B"})
    assert _coins(grouped) == a_vs_b, grouped.render_text()
    assert grouped.exchanges == {"A": [n for n in grouped.claimants if "Exchange A" in n],
                                 "B": [n for n in grouped.claimants if "Exchange B" in n]}
    evm_overlap = next(o for o in grouped.overlaps if o.coin == evm(EVM))
    assert {c.owner for c in evm_overlap.claims} == {"A", "B"}
    assert len(evm_overlap.claims) == 3  # both of A's files, and B's
    assert any("one exchange are not overlaps" in n for n in grouped.notes)


def test_trusting_the_names_inside_reserves_files_groups_them(
    files: dict[str, Path], a2: Path
) -> None:
    assert _coins(_run_w(files["a"], a2)) != set()  # names are not trusted by default
    trusted = _run_w(files["a"], a2, files["b"], trust=True)
    assert set(trusted.exchanges) == {"Exchange A", "Exchange B"}
    assert _coins(trusted) == _coins(_run_w(files["a"], files["b"]))
    assert any("--trust-exchange-names" in n for n in trusted.notes)


def test_cli_exchange_groups(files: dict[str, Path], a2: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["cross-check", "--exchange", f"A={files['a']},{a2}",
                              str(files["d"]), "--json"])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.output)
    assert sorted(out["exchanges"]) == sorted(
        ["A", f"{files['d']} (exchange 'Exchange D', round 2026-11-25)"]
    )
    overlap = runner.invoke(main, ["cross-check", "--exchange", f"A={files['a']},{a2}",
                                   "--exchange", f"B={files['b']}", "--window-seconds", "60"])
    assert overlap.exit_code == 1 and "CLAIMED TWICE" in overlap.output
    twice = runner.invoke(main, ["cross-check", "--exchange", f"A={files['a']}",
                                 "--exchange", f"B={files['a']}", str(files["b"])])
    assert twice.exit_code == 2 and "both" in twice.output
    bad = runner.invoke(main, ["cross-check", "--exchange", "A", str(files["b"])])
    assert bad.exit_code == 2
    trusted = runner.invoke(main, ["cross-check", str(files["a"]), str(a2), str(files["d"]),
                                   "--trust-exchange-names"])
    assert trusted.exit_code == 0, trusted.output
