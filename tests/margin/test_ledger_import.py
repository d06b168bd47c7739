"""``por liabilities import-ledger --format otter-porv2`` on OtterSec PoRv2's generated
ledger (copied from shared/testdata/otter_por_v2): it imports, every user's proof verifies
(including the one with a negative balance), and an under-water copy is refused, naming
the account and both sides, with nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from por.cli import main as por_main
from por.liabilities.ledger_import import convert_otter_porv2
from por.liabilities.margin import MarginAccount, build_margin_tree
from verifier.liabilities.proof import verify_margin_proof
from verifier.liabilities.risk import RiskParams

LEDGER = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"
SECRET = bytes(32)


def test_import_writes_snapshot_assets_and_canonical_risk(tmp_path: Path) -> None:
    out = tmp_path / "round"
    result = CliRunner().invoke(
        por_main,
        ["liabilities", "import-ledger", "--format", "otter-porv2", str(LEDGER), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    risk = RiskParams.from_json((out / "risk.json").read_bytes())
    assert risk.value_decimals == 6 and [a.asset.symbol for a in risk.assets] == [
        "ABC",
        "ABD",
        "ABE",
        "ABF",
        "ABG",
        "ABH",
    ]
    assert risk.assets[0].price_text == "3.4481"  # 34481 at usdt_decimals 4
    rows = list(csv.DictReader((out / "snapshot.csv").open()))
    ledger = json.loads(LEDGER.read_text())
    negative = [(u, s, v) for u, acc in ledger["accounts"].items() for s, v in acc.items() if v < 0]
    assert negative, "the sample ledger has a borrowed balance"
    user, sym, value = negative[0]
    row = next(r for r in rows if r["user_id"] == user and r["asset"] == sym)
    assert int(row["debt"].replace(".", "")) == -value and row["equity"].strip("0.") == ""
    assert json.loads((out / "assets.json").read_text())[0] == {"decimals": 2, "symbol": "ABC"}


def test_every_imported_user_proof_verifies() -> None:
    assets, risk, accounts = convert_otter_porv2(LEDGER.read_bytes(), "ledger")
    tree = build_margin_tree(
        "otter-1", assets, risk, SECRET, [MarginAccount(u, ps) for u, ps in accounts]
    )
    ledger = json.loads(LEDGER.read_text())
    borrowers = {u for u, acc in ledger["accounts"].items() if any(v < 0 for v in acc.values())}
    assert borrowers
    for user, _ in accounts:
        report = verify_margin_proof(tree.prove(user), expected_root=tree.root_hash)
        assert report.rule.covered
    assert sum(p.debt for p in tree.totals) > 0


def test_under_water_account_is_refused_and_nothing_written(tmp_path: Path) -> None:
    ledger = json.loads(LEDGER.read_text())
    victim = sorted(ledger["accounts"])[7]
    ledger["accounts"][victim]["ABC"] = -(10**12)
    bad = tmp_path / "ledger.json"
    bad.write_text(json.dumps(ledger))
    out = tmp_path / "round"
    result = CliRunner().invoke(
        por_main,
        ["liabilities", "import-ledger", "--format", "otter-porv2", str(bad), "--out", str(out)],
    )
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    assert victim in text.replace(" ", "") or victim in result.output.replace("\n", "")
    assert "under water" in text and "< debt value" in text
    assert not out.exists() or not any(out.iterdir())


def test_malformed_ledger_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "ledger.json"
    bad.write_text(
        '{"assets": {"A": {"usdt_decimals": 1, "balance_decimals": 1, "price": 1.5}},'
        ' "accounts": {}, "timestamp": 1}'
    )
    result = CliRunner().invoke(
        por_main,
        [
            "liabilities",
            "import-ledger",
            "--format",
            "otter-porv2",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2, result.output


def test_wrong_shapes_are_exit_2_not_a_crash(tmp_path: Path) -> None:
    for body in (
        '{"assets": 5, "accounts": {}, "timestamp": 1}',
        '{"assets": {}, "accounts": [1], "timestamp": 1}',
        '{"assets": {"A": {"usdt_decimals": 1, "balance_decimals": 1, "price": 1}},'
        ' "accounts": {"u": 7}, "timestamp": 1}',
        '{"assets": {"A": {"usdt_decimals": 1, "balance_decimals": 1, "price": 1}},'
        ' "accounts": {"u": {"B": 1}}, "timestamp": 1}',
    ):
        bad = tmp_path / "ledger.json"
        bad.write_text(body)
        result = CliRunner().invoke(
            por_main,
            ["liabilities", "import-ledger", "--format", "otter-porv2", str(bad), "--out",
             str(tmp_path / "o")],
        )
        assert result.exit_code == 2, (body, result.output, result.exception)
