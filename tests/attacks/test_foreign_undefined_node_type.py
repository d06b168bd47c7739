"""Attack (issue 10): a foreign proof whose node ``type`` is a value the format does not define.

OKX's and Bybit's verifiers read ``type == 1`` as "sibling on the left" and anything else as
"on the right", so an OKX v1 path node typed 3, 4, 0 or 99 instead of 2 (and a Bybit, MEXC or
Bitget node likewise) still verified: the file claims a structure it does not have. Every
type/role must now be one the format defines, and the root's must be the root's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verifier.cli  # noqa: F401  (registers the command groups before foreign.cli)
from verifier.cli.foreign import verify_files

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"

CASES = [
    # (format, sample, where the type lives, index in the path list, field, forged value)
    ("okx-v1", "okx/example_merkle_proof_file.json", "path", 5, "type", 3),
    ("okx-v1", "okx/example_merkle_proof_file.json", "path", 0, "type", 4),
    ("okx-v1", "okx/example_merkle_proof_file.json", "path", -1, "type", 99),
    ("okx-v1", "okx/example_merkle_proof_file.json", "self", None, "type", 0),
    ("bybit", "bybit/mock_user_merkle_tree_path_40.json", "path", 1, "type", 4),
    ("bybit", "bybit/mock_user_merkle_tree_path_40_v5.json", "path", 1, "type", 1),
    ("bitget", "bitget/merkel_tree_bg.json", "path", 4, "role", 3),
    ("mexc", "mexc/merkle_proof.json", "pathList", -1, "type", 5),
]


@pytest.mark.parametrize(
    ("fmt", "rel", "key", "index", "field", "forged"),
    CASES,
    ids=[f"{c[0]}-{c[2]}{c[3]}-{c[4]}={c[5]}" for c in CASES],
)
def test_undefined_node_type_fails(
    fmt: str, rel: str, key: str, index: int | None, field: str, forged: int, tmp_path: Path
) -> None:
    assert verify_files(fmt, [DATA / rel]).ok
    doc = json.loads((DATA / rel).read_text())
    node = doc[key] if index is None else doc[key][index]
    node[field] = forged
    mutated = tmp_path / "forged.json"
    mutated.write_text(json.dumps(doc))
    report = verify_files(fmt, [mutated])
    assert not report.ok, report.render_text()
