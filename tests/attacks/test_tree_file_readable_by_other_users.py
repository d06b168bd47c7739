"""Attack: another account on the exchange's machine reads ``tree.bin``, which holds every
user's balances (and, for a private round, every opening), because the builder created it
with the umask's mode (0644 under the usual 022). Defence: every builder creates the tree
file 0600 whatever the umask (spec §8.3: for auditors only)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main as por_main

LEDGER = Path(__file__).parents[1] / "data" / "otter_por_v2" / "generated-private_ledger.json"


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _spot_inputs(tmp: Path) -> tuple[Path, Path]:
    snap, assets = tmp / "snapshot.csv", tmp / "assets.json"
    snap.write_text("user_id,asset,amount\nalice,BTC,1.5\nbob,BTC,0.25\ncarol,ETH,3\n")
    assets.write_text(json.dumps([{"symbol": "BTC", "decimals": 8},
                                  {"symbol": "ETH", "decimals": 18}]))
    return snap, assets


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("kind", ["spot", "margin", "private"])
def test_tree_file_is_readable_by_its_owner_only(kind: str, tmp_path: Path) -> None:
    run = CliRunner()
    out, secret = tmp_path / "round", tmp_path / "secret" / "r.key"
    if kind == "margin":
        inputs = tmp_path / "in"
        assert run.invoke(por_main, ["liabilities", "import-ledger", "--format", "otter-porv2",
                                     str(LEDGER), "--out", str(inputs)]).exit_code == 0
        args = ["liabilities", "build", str(inputs / "snapshot.csv"), "--assets",
                str(inputs / "assets.json"), "--risk", str(inputs / "risk.json")]
    else:
        snap, assets = _spot_inputs(tmp_path)
        command = "build-private" if kind == "private" else "build"
        if kind == "private":
            pytest.importorskip("wallycore")
        args = ["liabilities", command, str(snap), "--assets", str(assets)]
    r = run.invoke(por_main, [*args, "--round", "r1", "--out", str(out),
                              "--secret-file", str(secret)])
    assert r.exit_code == 0, r.output
    assert _mode(out / "tree.bin") & 0o077 == 0, oct(_mode(out / "tree.bin"))
    assert _mode(out / "root.json") & 0o044 == 0o044  # the public file stays readable
