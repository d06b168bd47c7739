"""The two commands end to end: ``por liabilities build/prove``, ``por-verify proof/liabilities``,
``por demo``; exit codes 0/1/2; the auditor's recomputation catching a corrupted tree."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from snapshots import write_assets, write_csv

from por.cli import main as por_main
from por.liabilities.secret import default_secret_path
from verifier.cli import main as verify_main

ASSETS = [("BTC", 8), ("ETH", 18)]


@pytest.fixture()
def round_dir(tmp_path: Path) -> Path:
    rows = [(f"user{i}", "BTC", f"{i}.5") for i in range(50)] + [("user7", "ETH", "0.25")]
    snap = write_csv(tmp_path / "s.csv", rows)
    assets = write_assets(tmp_path / "assets.json", ASSETS)
    out = tmp_path / "round"
    res = CliRunner().invoke(
        por_main,
        [
            "liabilities",
            "build",
            str(snap),
            "--assets",
            str(assets),
            "--round",
            "2026-11-25",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "root hash" in res.output
    return out


def test_build_writes_private_secret_and_public_root(round_dir: Path) -> None:
    # The secret lives outside the round directory (which is served), in a private folder.
    secret = default_secret_path("2026-11-25")
    assert not (round_dir / "round-secret.key").exists()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    summary = json.loads((round_dir / "root.json").read_text())
    assert summary["leaf_count"] == 64 and summary["totals"][1] == "250000000000000000"
    # The secret never appears in what is published.
    assert secret.read_text().strip() not in (round_dir / "root.json").read_text()


def test_prove_then_verify_with_published_root(round_dir: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p.json"
    res = CliRunner().invoke(
        por_main, ["liabilities", "prove", str(round_dir), "user7", "--out", str(proof)]
    )
    assert res.exit_code == 0, res.output
    root = json.loads((round_dir / "root.json").read_text())["root_hash"]
    ok = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", root])
    assert ok.exit_code == 0 and "7.50000000" in ok.output and "0.250000000000000000" in ok.output
    wrong = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", "ab" * 32])
    assert wrong.exit_code == 1 and "published root" in wrong.output
    short = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", "ab" * 8])
    assert short.exit_code == 2


def test_prove_unknown_user_is_refused(round_dir: Path) -> None:
    res = CliRunner().invoke(por_main, ["liabilities", "prove", str(round_dir), "nobody"])
    assert res.exit_code == 2 and "not in round" in res.output


def test_secret_readable_by_others_is_refused(round_dir: Path) -> None:
    os.chmod(default_secret_path("2026-11-25"), 0o644)
    res = CliRunner().invoke(por_main, ["liabilities", "prove", str(round_dir), "user1"])
    assert res.exit_code == 2 and "chmod 600" in res.output


def test_rebuild_into_same_directory_is_refused(round_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        por_main,
        [
            "liabilities",
            "build",
            str(tmp_path / "s.csv"),
            "--assets",
            str(tmp_path / "assets.json"),
            "--round",
            "r2",
            "--out",
            str(round_dir),
            "--quiet",
        ],
    )
    assert res.exit_code == 2 and "already built" in res.output


def test_bad_round_id_and_missing_snapshot(tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "a.json", ASSETS)
    res = CliRunner().invoke(
        por_main,
        [
            "liabilities",
            "build",
            str(tmp_path / "none.csv"),
            "--assets",
            str(assets),
            "--round",
            "bad round",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2 and "round id" in res.output
    res = CliRunner().invoke(
        por_main,
        [
            "liabilities",
            "build",
            str(tmp_path / "none.csv"),
            "--assets",
            str(assets),
            "--round",
            "r",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ],
    )
    assert res.exit_code == 2 and "none.csv" in res.output


def test_auditor_totals_in_asset_units_and_base_units_in_json(round_dir: Path) -> None:
    # Issue 13: the text report shows each total in asset units beside its symbol; JSON
    # keeps exact base units. User i (0..49) holds i.5 BTC: 1225 + 25 = 1250 BTC in all;
    # user7 alone holds 0.25 ETH.
    text = CliRunner().invoke(verify_main, ["liabilities", str(round_dir)])
    assert text.exit_code == 0, text.output
    assert "BTC  1250.00000000" in text.output
    assert "ETH  0.250000000000000000" in text.output
    js = json.loads(CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--json"])
                    .output)
    assert js["totals_by_asset"] == {"BTC": "125000000000", "ETH": "250000000000000000"}
    assert js["totals"] == ["125000000000", "250000000000000000"]
    upper = CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--root",
                                             js["root_hash"].upper()])
    assert upper.exit_code == 0, upper.output


def test_auditor_recomputes_and_catches_corruption(round_dir: Path) -> None:
    ok = CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["nodes_checked"] == 127
    tree = round_dir / "tree.bin"
    data = bytearray(tree.read_bytes())
    from verifier.liabilities.treefile import TreeFile

    with TreeFile(tree) as t:
        lay = t.layout
    # Raise one leaf's BTC amount by one: its leaf hash and every sum above it now disagree.
    off = lay.level_offset(0) + 5 * lay.record_size + 32 + 15
    data[off] ^= 1
    tree.write_bytes(bytes(data))
    bad = CliRunner().invoke(verify_main, ["liabilities", str(round_dir)])
    assert bad.exit_code == 1
    assert "leaf 5" in bad.output and "level 1 node 2" in bad.output


def test_auditor_catches_reordered_commitments(round_dir: Path) -> None:
    tree = round_dir / "tree.bin"
    from verifier.liabilities.treefile import TreeFile

    with TreeFile(tree) as t:
        lay = t.layout
    data = bytearray(tree.read_bytes())
    a = lay.commitments_offset
    data[a : a + 64] = data[a + 32 : a + 64] + data[a : a + 32]
    tree.write_bytes(bytes(data))
    bad = CliRunner().invoke(verify_main, ["liabilities", str(round_dir)])
    assert bad.exit_code == 1 and "strictly increasing" in bad.output


def test_auditor_refuses_a_truncated_tree(round_dir: Path) -> None:
    tree = round_dir / "tree.bin"
    tree.write_bytes(tree.read_bytes()[:-10])
    bad = CliRunner().invoke(verify_main, ["liabilities", str(round_dir)])
    assert bad.exit_code == 2 and "needs" in bad.output


# ``por demo`` end to end: tests/api/test_demo_page.py.


def test_secret_file_from_environment_is_used_by_build_and_prove(tmp_path: Path,
                                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    snap = write_csv(tmp_path / "s.csv", [("u1", "BTC", "1"), ("u2", "BTC", "2")])
    assets = write_assets(tmp_path / "a.json", ASSETS)
    secret = tmp_path / "keep" / "r.key"
    monkeypatch.setenv("POR_ROUND_SECRET_FILE", str(secret))
    out = tmp_path / "round"
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(assets), "--round", "r", "--out", str(out),
                                        "--quiet"])
    assert res.exit_code == 0, res.output
    assert secret.exists() and not (out / "round-secret.key").exists()
    proof = CliRunner().invoke(por_main, ["liabilities", "prove", str(out), "u2"])
    assert proof.exit_code == 0 and '"user_id": "u2"' in proof.output
