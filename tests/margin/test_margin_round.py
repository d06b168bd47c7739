"""A margin round end to end through files: the imported PoRv2 ledger becomes a snapshot,
the builder writes tree.bin (three sums per asset), root.json and risk.json, every user's
proof is read from the tree file and verifies, and ``por-verify liabilities`` recomputes
every leaf's rule and every node; a tampered tree or another risk file fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.errors import InputError
from por.liabilities.ledger_import import import_ledger
from por.liabilities.margin import (
    build_margin_tree,
    prove_from_round,
    read_margin_snapshot,
    write_margin_round,
)
from verifier.cli import main as verify_main
from verifier.encoding.strictjson import loads
from verifier.errors import FormatError
from verifier.liabilities.mst import Position
from verifier.liabilities.proof import verify_margin_proof
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.summary import parse_assets
from verifier.liabilities.treefile import TreeFile, audit_tree

LEDGER = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"
SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def margin_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    base = tmp_path_factory.mktemp("margin")
    inputs = base / "inputs"
    import_ledger(LEDGER, "otter-porv2", inputs)
    assets = parse_assets(loads((inputs / "assets.json").read_bytes(), "assets"), "assets")
    risk = RiskParams.from_json((inputs / "risk.json").read_bytes())
    accounts = read_margin_snapshot(inputs / "snapshot.csv", assets)
    tree = build_margin_tree("otter-1", assets, risk, SECRET, accounts)
    write_margin_round(tree, base / "round")
    return base / "round", [a.user_id for a in accounts]


def test_every_proof_from_the_tree_file_verifies(margin_round: tuple[Path, list[str]]) -> None:
    round_dir, users = margin_round
    root = bytes.fromhex(json.loads((round_dir / "root.json").read_text())["root_hash"])
    for user in users:
        verify_margin_proof(prove_from_round(round_dir, SECRET, user), expected_root=root)


def test_auditor_recomputes_the_margin_round(margin_round: tuple[Path, list[str]]) -> None:
    round_dir, _ = margin_round
    result = CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    ledger = json.loads(LEDGER.read_text())
    for symbol, totals in report["totals_by_asset"].items():
        balances = [acc.get(symbol, 0) for acc in ledger["accounts"].values()]
        assert int(totals["equity"]) == sum(b for b in balances if b > 0)
        assert int(totals["debt"]) == -sum(b for b in balances if b < 0)


def test_spot_reader_refuses_a_margin_tree(margin_round: tuple[Path, list[str]]) -> None:
    round_dir, _ = margin_round
    with TreeFile(round_dir / "tree.bin") as tf, pytest.raises(FormatError):
        audit_tree(tf, None)


def test_tampered_leaf_and_other_risk_file_fail(
    margin_round: tuple[Path, list[str]], tmp_path: Path
) -> None:
    round_dir, _ = margin_round
    bad = tmp_path / "bad"
    shutil.copytree(round_dir, bad)
    raw = bytearray((bad / "tree.bin").read_bytes())
    with TreeFile(round_dir / "tree.bin") as tf:
        off = tf.layout.level_offset(0) + 32 + 16  # first leaf, first asset's debt
    raw[off + 15] ^= 1
    (bad / "tree.bin").write_bytes(bytes(raw))
    result = CliRunner().invoke(verify_main, ["liabilities", str(bad)])
    assert result.exit_code == 1, result.output
    other = tmp_path / "other"
    shutil.copytree(round_dir, other)
    risk = json.loads((other / "risk.json").read_text())
    risk["assets"][0]["price"] = "1"
    import rfc8785

    (other / "risk.json").write_bytes(rfc8785.dumps(risk))
    result = CliRunner().invoke(verify_main, ["liabilities", str(other)])
    assert result.exit_code == 2, result.output


def test_snapshot_forms_and_refusals(tmp_path: Path) -> None:
    assets = parse_assets([{"symbol": "BTC", "decimals": 8}, {"symbol": "USD", "decimals": 2}], "a")
    signed = tmp_path / "signed.csv"
    signed.write_text("user_id,asset,amount\nu1,BTC,1.5\nu1,USD,-100.25\n")
    [acc] = read_margin_snapshot(signed, assets)
    assert acc.positions == (Position(150000000, 0, 150000000), Position(0, 10025, 0))
    explicit = tmp_path / "explicit.csv"
    explicit.write_text("user_id,asset,equity,debt,collateral\nu1,BTC,1,0,0.5\n")
    [acc] = read_margin_snapshot(explicit, assets)
    assert acc.positions[0] == Position(100000000, 0, 50000000)
    for body, needle in (
        ("user_id,asset,amount\nu1,ETH,1\n", "ETH"),
        ("user_id,asset,amount\nu1,BTC,0.000000001\n", "line 2"),
        ("user_id,asset,equity,debt\nu1,BTC,-1,0\n", "column equity"),
        ("user_id,asset,amount\nu1,BTC,1\nu1,BTC,2\n", "twice"),
    ):
        bad = tmp_path / "bad.csv"
        bad.write_text(body)
        with pytest.raises(InputError, match=needle):
            read_margin_snapshot(bad, assets)


def test_margin_build_refuses_an_under_water_account_and_writes_nothing(tmp_path: Path) -> None:
    from por.liabilities.margin import is_margin_round, margin_proof_text, run_margin_build
    from verifier.errors import VerificationError

    inputs = tmp_path / "inputs"
    import_ledger(LEDGER, "otter-porv2", inputs)
    snapshot = inputs / "snapshot.csv"
    lines = snapshot.read_text().splitlines()
    user = lines[7].split(",")[0]
    asset = lines[7].split(",")[1]
    lines.append(f"sunk-account,{asset},0,1000000,0")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    args = (inputs / "assets.json", inputs / "risk.json", "otter-2")
    with pytest.raises(VerificationError) as err:
        run_margin_build(bad, *args, tmp_path / "r-bad", SECRET)
    assert "'sunk-account'" in str(err.value) and f"line {len(lines)}" in str(err.value)
    assert "< debt value" in str(err.value)
    assert not (tmp_path / "r-bad").exists()
    summary = run_margin_build(snapshot, *args, tmp_path / "r", SECRET)
    assert is_margin_round(tmp_path / "r")
    proof = margin_proof_text(tmp_path / "r", SECRET, user)
    path = tmp_path / "proof.json"
    path.write_text(proof)
    result = CliRunner().invoke(
        verify_main, ["proof", str(path), "--root", summary.root_hash.hex()]
    )
    assert result.exit_code == 0, result.output


def test_margin_proof_against_the_published_summary(
    margin_round: tuple[Path, list[str]], tmp_path: Path
) -> None:
    round_dir, users = margin_round
    path = tmp_path / "proof.json"
    path.write_text(prove_from_round(round_dir, SECRET, users[0]).to_json())
    ok = CliRunner().invoke(
        verify_main, ["proof", str(path), "--summary", str(round_dir / "root.json"), "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["anchor"] == "published root summary"
    summary = json.loads((round_dir / "root.json").read_text())
    summary["totals"][0]["debt"] = str(int(summary["totals"][0]["debt"]) + 1)
    other = tmp_path / "root.json"
    other.write_text(json.dumps(summary))
    bad = CliRunner().invoke(verify_main, ["proof", str(path), "--summary", str(other)])
    assert bad.exit_code == 1, bad.output
