"""Attack: a tree file whose header padding (before offset C) is not zero bytes.

Spec §8.3 says the bytes between the header and the commitments section are zero. A file
that hides data there (a second header, a marker that tells one reader from another) is not
the file the spec defines; an independent verifier written from the spec refuses it, so
``por-verify liabilities`` must too (malformed, exit 2), or two verifiers disagree on one
file. Defence: verifier/liabilities/treefile.py checks every padding byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from snapshots import write_assets, write_csv

from por.cli import main as por_main
from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.liabilities.treefile import MAGIC, TreeFile


@pytest.fixture()
def round_dir(tmp_path: Path) -> Path:
    snap = write_csv(tmp_path / "s.csv", [("alice", "BTC", "1.5"), ("bob", "BTC", "0.25")])
    assets = write_assets(tmp_path / "assets.json", [("BTC", 8)])
    out = tmp_path / "round"
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(assets), "--round", "2026-11-25", "--out",
                                        str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out


def _padding_range(tree: Path) -> tuple[int, int]:
    with TreeFile(tree) as t:
        start = len(MAGIC) + 4 + len(t.layout.header)
        return start, t.layout.commitments_offset


def test_nonzero_header_padding_is_refused(round_dir: Path) -> None:
    tree = round_dir / "tree.bin"
    start, stop = _padding_range(tree)
    assert stop > start, "this round's header must need padding for the test to mean anything"
    ok = CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--json"])
    assert ok.exit_code == 0, ok.output
    data = bytearray(tree.read_bytes())
    data[stop - 1] = 0x01  # the last padding byte, just before offset C
    tree.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="padding"):
        TreeFile(tree)
    res = CliRunner().invoke(verify_main, ["liabilities", str(round_dir), "--json"])
    assert res.exit_code == 2, res.output
    assert '"MALFORMED"' in res.output and "padding" in res.output
