"""Attack: debt-in-unlisted-asset. A debt in an asset the risk parameters do not price cannot
be valued: the proof is refused (spec §15.5).

Vector ``debt-in-unlisted-asset`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "margin.json").read_text())
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "debt-in-unlisted-asset")


def test_library_refuses() -> None:
    with pytest.raises(FormatError) as err:
        proof = MarginInclusionProof.from_json(json.dumps(VECTOR["proof"]))
        verify_margin_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))
    msg = str(err.value)
    assert "risk parameters price" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 2, result.output
