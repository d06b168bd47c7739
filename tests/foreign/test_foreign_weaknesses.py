"""Every format's report states its known weaknesses, each with where it was published,
and names the fields it leaves unbound (issue 15, items 6 and 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.cli.foreign import FORMATS, verify_files
from verifier.foreign import bitmex
from verifier.foreign.report import ForeignReport

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"

# format, files, weaknesses (by a word of their title) the report must state
EXPECTED = [
    ("okx-v1", ["okx/example_merkle_proof_file.json"],
     ["total", "name the user", "negative"]),
    ("okx-v2", ["okx/example_user_info_file.json", "okx/example_full-liabilities-merkle-tree.txt"],
     ["total", "public"]),
    ("bybit", ["bybit/mock_user_merkle_tree_path_40.json"], ["total", "link to you", "negative"]),
    ("bitget", ["bitget/merkel_tree_bg.json"], ["truncated to 64", "total", "negative", "link"]),
    ("mexc", ["mexc/merkle_proof.json"], ["truncated to 128", "total", "negative"]),
    ("coinex-variant-single-hash", ["coinex/merkle_proof_file.json"],
     ["total", "name the user", "negative"]),
]


@pytest.mark.parametrize(("fmt", "files", "titles"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_weaknesses_are_stated_with_their_source(
    fmt: str, files: list[str], titles: list[str]
) -> None:
    report = verify_files(fmt, [DATA / f for f in files])
    assert report.ok
    for word in titles:
        assert any(word in w.title for w in report.weaknesses), (word, report.weaknesses)
    for w in report.weaknesses:
        assert w.source, f"{fmt}: weakness {w.title!r} says nothing of where it was published"
    sum_only = [w for w in report.weaknesses if "total is bound" in w.title]
    assert sum_only and "2018/1139" in sum_only[0].source


@pytest.mark.parametrize(
    ("fmt", "rel", "field"),
    [
        ("okx-v1", "okx/example_merkle_proof_file.json", "path[3].auditId"),
        ("bybit", "bybit/mock_user_merkle_tree_path_40.json", "self.nonce"),
        ("bitget", "bitget/merkel_tree_bg.6863e2d.json", "path[2].balances.BTC"),
    ],
)
def test_unbound_fields_are_named_in_text_and_json(fmt: str, rel: str, field: str) -> None:
    report = verify_files(fmt, [DATA / rel])
    assert report.is_unbound(field)
    result = CliRunner().invoke(main, ["foreign", fmt, str(DATA / rel), "--json"])
    out = json.loads(result.output)
    assert out["not_bound_by_this_format"], out
    text = CliRunner().invoke(main, ["foreign", fmt, str(DATA / rel)]).output
    assert "not bound by this format" in text


def test_a_bound_field_is_not_named_unbound() -> None:
    report = verify_files("okx-v1", [DATA / "okx/example_merkle_proof_file.json"])
    assert not report.is_unbound("path[3].balances.BTC")
    assert not report.is_unbound("self.nonce")


# One sample per FORMAT (a failing verdict still states the format's weaknesses).
SAMPLE_OF = {
    "okx-v1": ["okx/example_merkle_proof_file.json"],
    "okx-v2": ["okx/example_user_info_file.json", "okx/example_full-liabilities-merkle-tree.txt"],
    "bybit": ["bybit/mock_user_merkle_tree_path_40.json"],
    "bitget": ["bitget/merkel_tree_bg.json"],
    "mexc": ["mexc/merkle_proof.json"],
    "coinex": ["coinex/merkle_proof_file.json"],
    "coinex-variant-single-hash": ["coinex/merkle_proof_file.json"],
    "binance": ["binance/user_config.json"],
    "binance-v1": [],  # no published v1 sample verifies; made from the 2024 one below
    "binance-350x5": ["binance/user_config.json"],
    "gateio": ["gateio/user_config.json"],
    "gateio-350": ["gateio/user_config.json"],
}


def _bitmex_report() -> ForeignReport:
    vectors = json.loads((DATA / "bitmex" / "bitmex_vectors.json").read_text())
    tree = bitmex.parse_tree((DATA / "bitmex" / "generated-liabilities-840000-proof.csv")
                             .read_bytes(), "tree")
    account = vectors["accounts"][0]
    return bitmex.verify(tree, account["account"], bytes.fromhex(account["account_nonce"]),
                         account_nonce=True)


def test_every_format_is_sampled_here() -> None:
    assert set(SAMPLE_OF) == set(FORMATS)


@pytest.mark.parametrize("fmt", [*FORMATS, "bitmex"])
def test_every_weakness_of_every_format_names_its_source(fmt: str, tmp_path: Path) -> None:
    if fmt == "bitmex":
        report = _bitmex_report()
    elif fmt == "binance-v1":
        doc = json.loads((DATA / "binance" / "user_config.json").read_text())
        del doc["TotalCollateral"]
        doc["Assets"] = [{k: a[k] for k in ("Index", "Equity", "Debt")} for a in doc["Assets"]]
        (tmp_path / "v1.json").write_text(json.dumps(doc))
        report = verify_files(fmt, [tmp_path / "v1.json"])
    else:
        report = verify_files(fmt, [DATA / f for f in SAMPLE_OF[fmt]])
    assert report.weaknesses, f"{fmt}: no weakness stated"
    for w in report.weaknesses:
        assert w.source.strip(), f"{fmt}: weakness {w.title!r} has no source"
    out = report.to_dict()
    assert all(w["source"] for w in out["weaknesses"])


@pytest.mark.parametrize("fmt", ["binance", "binance-350x5"])
def test_binance_reports_what_its_builder_drops_and_truncates(fmt: str) -> None:
    # Binance's builder (src/utils/utils.go @9a3e5b7) skips invalid or under-water accounts
    # with only a printed count, and truncates amounts beyond 10^-8: invisible in any proof
    # file, so each report of the collateral layouts says so.
    report = verify_files(fmt, [DATA / "binance" / "user_config.json"])
    titles = [w.title for w in report.weaknesses]
    assert "accounts can be dropped from the tree" in titles
    assert "balances truncated to the asset's unit" in titles
