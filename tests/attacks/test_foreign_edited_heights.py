"""Attack (issue 10): Bybit proofs with ``height`` fields edited still verified.

Bybit's tool counts levels itself and ignores each node's own ``height``, so a path whose
heights say 1, 7, 3 (or a leaf at height 5) passed while describing another tree. Heights
must now run 1, 2, 3, ... from the user's leaf; OKX v1 takes heights from the file and was
already checked, and stays so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verifier.cli  # noqa: F401  (registers the command groups before foreign.cli)
from verifier.cli.foreign import verify_files

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"
BYBIT = ["mock_user_merkle_tree_path_40.json", "mock_user_merkle_tree_path_40_v5.json"]


@pytest.mark.parametrize("sample", BYBIT)
@pytest.mark.parametrize(("where", "height"), [(0, 2), (1, 7), (-2, 1), ("self", 5)])
def test_edited_bybit_height_fails(
    sample: str, where: int | str, height: int, tmp_path: Path
) -> None:
    path = DATA / "bybit" / sample
    assert verify_files("bybit", [path]).ok
    doc = json.loads(path.read_text())
    node = doc["self"] if where == "self" else doc["path"][where]
    node["height"] = height
    mutated = tmp_path / "heights.json"
    mutated.write_text(json.dumps(doc))
    report = verify_files("bybit", [mutated])
    assert not report.ok, report.render_text()
    assert "heights run 1, 2, 3, ..." in {c.name for c in report.failures}
