"""Attack: private-root-opening-mismatch. The published totals do not open the top commitments
(one unit short), the root hash recomputed over them; the verifier opens each root commitment
with the published total and blinding (spec §16.6).

Vector ``root-opening-does-not-match-totals`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import VerificationError
from verifier.private.proof import PrivateProof, verify_private_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "root-opening-does-not-match-totals")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='root opening'):
        proof = PrivateProof.from_json(rfc8785.dumps(VECTOR["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output
