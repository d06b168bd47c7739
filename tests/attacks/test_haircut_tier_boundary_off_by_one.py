"""Attack: tier-boundary-off-by-one. A collateral value one unit above a tier bound falls in
the next tier (b_{k-1} < cv <= b_k, spec §15.6).

Vector ``tier-boundary-off-by-one`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import VerificationError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "margin.json").read_text())
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "tier-boundary-off-by-one")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        proof = MarginInclusionProof.from_json(json.dumps(VECTOR["proof"]))
        verify_margin_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))
    msg = str(err.value)
    assert "10000000000000000000000 < debt value 10000000000000000000001" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output
