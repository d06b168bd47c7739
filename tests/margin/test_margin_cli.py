"""The margin round on the command line, end to end: ``por liabilities import-ledger``,
``build --risk``, ``prove``, then ``por-verify proof --summary`` and ``por-verify
liabilities``; an under-water snapshot writes nothing, not even the round secret."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from por.cli import main as por_main
from verifier.cli import main as verify_main

LEDGER = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"


def test_import_build_prove_verify(tmp_path: Path) -> None:
    run = CliRunner()
    inputs, out, secret = tmp_path / "in", tmp_path / "round", tmp_path / "private" / "r.key"
    r = run.invoke(por_main, ["liabilities", "import-ledger", "--format", "otter-porv2",
                              str(LEDGER), "--out", str(inputs)])
    assert r.exit_code == 0, r.output
    r = run.invoke(por_main, ["liabilities", "build", str(inputs / "snapshot.csv"), "--assets",
                              str(inputs / "assets.json"), "--risk", str(inputs / "risk.json"),
                              "--round", "otter-1", "--out", str(out),
                              "--secret-file", str(secret)])
    assert r.exit_code == 0, r.output
    assert secret.exists() and (out / "tree.bin").exists()
    ledger = json.loads(LEDGER.read_text())
    borrower = next(u for u, a in ledger["accounts"].items() if any(v < 0 for v in a.values()))
    proof = tmp_path / "proof.json"
    r = run.invoke(por_main, ["liabilities", "prove", str(out), borrower, "--secret-file",
                              str(secret), "--out", str(proof)])
    assert r.exit_code == 0, r.output
    assert any(p["debt"] != "0" for p in json.loads(proof.read_text())["positions"])
    r = run.invoke(verify_main, ["proof", str(proof), "--summary", str(out / "root.json")])
    assert r.exit_code == 0, r.output
    r = run.invoke(verify_main, ["liabilities", str(out)])
    assert r.exit_code == 0, r.output


def test_under_water_build_writes_nothing(tmp_path: Path) -> None:
    run = CliRunner()
    inputs = tmp_path / "in"
    run.invoke(por_main, ["liabilities", "import-ledger", "--format", "otter-porv2",
                          str(LEDGER), "--out", str(inputs)])
    snapshot = inputs / "snapshot.csv"
    snapshot.write_text(snapshot.read_text() + "sunk,ABC,0,5.00,0\n")
    out, secret = tmp_path / "round", tmp_path / "private" / "r.key"
    r = run.invoke(por_main, ["liabilities", "build", str(snapshot), "--assets",
                              str(inputs / "assets.json"), "--risk", str(inputs / "risk.json"),
                              "--round", "otter-1", "--out", str(out),
                              "--secret-file", str(secret)])
    assert r.exit_code == 1, r.output
    assert "sunk" in r.output and "under water" in r.output
    assert not out.exists() and not secret.exists()
