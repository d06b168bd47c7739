"""Every published sample gets its expected verdict, through the library, the CLI and ``auto``.

Expected roots come from the ``*_vectors.json`` files next to the samples (extracted from
the exchanges' repositories), not from our own code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.cli.foreign import detect_files, verify_files
from verifier.foreign import bitget, bybit, coinex, mexc, okx
from verifier.foreign.report import ForeignReport

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"


def vectors(rel: str) -> Any:
    return json.loads((DATA / rel).read_text())


# (FORMAT, files, expected verdict ok, expected root hash)
SAMPLES: list[tuple[str, list[str], bool, str]] = [
    (
        "okx-v1",
        ["okx/example_merkle_proof_file.json"],
        True,
        vectors("okx/okx_merkle_vectors.json")["vectors"][0]["expected_root_hash"],
    ),
    (
        "okx-v2",
        ["okx/example_user_info_file.json", "okx/example_full-liabilities-merkle-tree.txt"],
        True,
        vectors("okx/okx_merkle_vectors.json")["vectors"][1]["expected_root_hash"],
    ),
    *[
        ("bybit", [v["file"].replace("raw/", "bybit/")], True, v["expected_root_hash"])
        for v in vectors("bybit/bybit_vectors.json")["vectors"]
    ],
    *[
        ("bitget", [v["file"].replace("raw/", "bitget/")], True, v["expected_root_leaf"])
        for v in vectors("bitget/bitget_vectors.json")["vectors"]
    ],
    (
        "mexc",
        ["mexc/merkle_proof.json"],
        True,
        vectors("mexc/mexc_vectors.json")["vectors"][0]["expected_root_hash"],
    ),
    # CoinEx's example fails CoinEx's own main.go: the honest verdict is FAILED.
    ("coinex", ["coinex/merkle_proof_file.json"], False, ""),
    (
        "coinex-variant-single-hash",
        ["coinex/merkle_proof_file.json"],
        True,
        vectors("coinex/coinex_vectors.json")["vectors"][0]["expected_root_hash"],
    ),
]
IDS = [f"{fmt}:{Path(files[0]).name}" for fmt, files, _, _ in SAMPLES]


@pytest.mark.parametrize(("fmt", "files", "ok", "root"), SAMPLES, ids=IDS)
def test_published_sample_gets_expected_verdict(
    fmt: str, files: list[str], ok: bool, root: str
) -> None:
    report = verify_files(fmt, [DATA / f for f in files])
    assert report.ok is ok, report.render_text()
    if ok:
        assert report.root_hash == root
        report.raise_for_failures()


@pytest.mark.parametrize(("fmt", "files", "ok", "root"), SAMPLES, ids=IDS)
def test_cli_exit_code_and_json_report(fmt: str, files: list[str], ok: bool, root: str) -> None:
    result = CliRunner().invoke(main, ["foreign", fmt, "--json", *[str(DATA / f) for f in files]])
    assert result.exit_code == (0 if ok else 1), result.output
    out = json.loads(result.output)
    assert out["verdict"] == ("VERIFIED" if ok else "FAILED")
    assert out["format"] == fmt
    assert out["weaknesses"], "every report states the format's weaknesses"
    assert out["not_proven"]
    if ok:
        assert out["root_hash"] == root


def test_cli_text_report_names_verdict_balances_root() -> None:
    result = CliRunner().invoke(
        main, ["foreign", "okx-v1", str(DATA / "okx/example_merkle_proof_file.json")]
    )
    assert result.exit_code == 0
    assert result.output.startswith("VERIFIED: OKX proof (okx-v1)")
    assert "your balances: BTC 1.000069, ETH 0.99908176, USDT 19398.33550812" in result.output
    assert "ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d" in result.output
    assert "weaknesses of this format as published" in result.output


AUTO = [
    (["okx/example_merkle_proof_file.json"], "okx-v1"),
    (["okx/example_user_info_file.json"], "okx-v2"),
    (["okx/example_user_info_file.json", "okx/example_full-liabilities-merkle-tree.txt"], "okx-v2"),
    (["okx/example_full-liabilities-merkle-tree.txt", "okx/example_user_info_file.json"], "okx-v2"),
    *[([f"bybit/{p.name}"], "bybit") for p in sorted((DATA / "bybit").glob("mock_*.json"))],
    (["bitget/merkel_tree_bg.json"], "bitget"),
    (["bitget/merkel_tree_bg.6863e2d.json"], "bitget"),
    (["mexc/merkle_proof.json"], "mexc"),
    (["coinex/merkle_proof_file.json"], "coinex"),
]


@pytest.mark.parametrize(("files", "fmt"), AUTO, ids=[a[0][0] for a in AUTO])
def test_auto_recognises_every_sample_and_says_which(files: list[str], fmt: str) -> None:
    chosen, ordered, _ = detect_files([DATA / f for f in files])
    assert chosen == fmt
    if fmt == "okx-v2" and len(files) == 2:
        assert ordered[0].name == "example_user_info_file.json"
    result = CliRunner().invoke(main, ["foreign", "auto", *[str(DATA / f) for f in files]])
    assert f"auto: recognised {fmt}" in result.output
    assert result.exit_code == (1 if fmt == "coinex" else 0), result.output


@pytest.mark.parametrize(
    ("file", "named"),
    [
        ("unsupported/bitso_example-merkle-tree.tsv", "Bitso"),
    ],
)
def test_auto_names_unsupported_formats_exit_2(file: str, named: str) -> None:
    result = CliRunner().invoke(main, ["foreign", "auto", str(DATA / file)])
    assert result.exit_code == 2
    assert "unsupported format" in result.output and named in result.output
    assert not isinstance(result.exception, KeyError | ValueError)


def test_auto_names_what_it_saw_in_an_unknown_json(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{"leaves": [], "rootHash": "00"}')
    result = CliRunner().invoke(main, ["foreign", "auto", "--json", str(f)])
    assert result.exit_code == 2
    out = json.loads(result.output)
    assert out["verdict"] == "MALFORMED"
    assert "leaves" in out["error"] and "rootHash" in out["error"]


def test_okx_v2_tree_alone_is_refused_with_the_right_command() -> None:
    result = CliRunner().invoke(
        main, ["foreign", "auto", str(DATA / "okx/example_full-liabilities-merkle-tree.txt")]
    )
    assert result.exit_code == 2
    assert "okx-v2 USER_INFO TREE" in result.output


# What the reports claim, checked against the samples.


def _titles(report: ForeignReport) -> str:
    return " | ".join(w.title for w in report.weaknesses)


def test_okx_v1_and_bybit_report_sum_only_binding() -> None:
    r1 = verify_files("okx-v1", [DATA / "okx/example_merkle_proof_file.json"])
    r2 = verify_files("bybit", [DATA / "bybit/mock_user_merkle_tree_path_40.json"])
    for r in (r1, r2):
        assert "only the children's total is bound into a parent" in _titles(r)


def test_bitget_reports_64_bit_and_mexc_128_bit_truncation() -> None:
    r = verify_files("bitget", [DATA / "bitget/merkel_tree_bg.json"])
    assert "hashes truncated to 64 bits" in _titles(r)
    assert len(r.root_hash) == 16
    r = verify_files("mexc", [DATA / "mexc/merkle_proof.json"])
    assert "hashes truncated to 128 bits" in _titles(r)
    assert len(r.root_hash) == 32


def test_okx_v2_reports_full_tree_leak_and_which_checks_ran() -> None:
    with_tree = verify_files(
        "okx-v2",
        [
            DATA / "okx/example_user_info_file.json",
            DATA / "okx/example_full-liabilities-merkle-tree.txt",
        ],
    )
    assert "the full tree is public" in _titles(with_tree)
    names = {(c.name, c.kind) for c in with_tree.checks}
    assert ("your leaves are in the tree file", "exchange-rule") in names
    assert ("tree file recomputes to one root", "extra") in names
    assert with_tree.root_balances == {"BTC": "0.00005", "ETH": "0.1", "USDT": "1.42045977"}
    alone = verify_files("okx-v2", [DATA / "okx/example_user_info_file.json"])
    assert alone.ok
    assert not any(c.name == "tree file recomputes to one root" for c in alone.checks)
    assert any("no tree file given" in n for n in alone.notes)


def test_coinex_failure_says_it_is_coinex_own_rule_and_points_to_variant() -> None:
    r = verify_files("coinex", [DATA / "coinex/merkle_proof_file.json"])
    assert not r.ok
    assert r.root_hash.startswith("6bf6716d")  # what CoinEx's main.go computes (see vectors)
    assert any("coinex-variant-single-hash" in n for n in r.notes)
    v = verify_files("coinex-variant-single-hash", [DATA / "coinex/merkle_proof_file.json"])
    assert v.ok and v.rule.startswith("NOT CoinEx's published rule")


def test_bitget_2025_negative_siblings_warn_and_fail_only_when_strict() -> None:
    path = str(DATA / "bitget/merkel_tree_bg.json")
    r = verify_files("bitget", [DATA / "bitget/merkel_tree_bg.json"])
    assert r.ok and [c.name for c in r.warnings] == ["no negative balances"]
    assert "USDC = -1536.70659782" in r.warnings[0].detail
    assert CliRunner().invoke(main, ["foreign", "bitget", path]).exit_code == 0
    assert CliRunner().invoke(main, ["foreign", "bitget", "--strict", path]).exit_code == 1


def test_bybit_chooses_asset_list_like_bybit_fallback() -> None:
    r = verify_files("bybit", [DATA / "bybit/mock_user_merkle_tree_path_40_v5.json"])
    assert "asset list Asset40V5 (40 online assets)" in r.notes
    assert any("Asset50: failed, Asset40V5: verified" in n for n in r.notes)


def test_okx_v1_concatenation_ambiguity_is_real() -> None:
    """Two different balance triples give the same OKX parent hash (the weakness we report)."""
    a = okx.Balances.parse({"BTC": "1", "ETH": "23", "USDT": "4"}, "a")
    b = okx.Balances.parse({"BTC": "12", "ETH": "3", "USDT": "4"}, "b")
    zero = okx.Balances.zero()
    left, right = "a" * 64, "b" * 64
    assert okx._v1_parent(left, right, a, zero, 5)[0] == okx._v1_parent(left, right, b, zero, 5)[0]


def test_library_entry_points_directly() -> None:
    def raw(rel: str) -> bytes:
        return (DATA / rel).read_bytes()

    assert okx.verify_v1(okx.parse_v1(raw("okx/example_merkle_proof_file.json"))).ok
    assert bybit.verify(bybit.parse(raw("bybit/mock_user_merkle_tree_path_40_v2.json"))).ok
    assert bitget.verify(bitget.parse(raw("bitget/merkel_tree_bg.6863e2d.json"))).ok
    assert mexc.verify(mexc.parse(raw("mexc/merkle_proof.json"))).ok
    proof = coinex.parse(raw("coinex/merkle_proof_file.json"))
    assert not coinex.verify(proof).ok
    assert coinex.verify(proof, "single-hash").ok
