"""Attack: private-range-proof-moved. A range proof made for one position (round, level, node,
asset) is reused at another; the position is the proof's extra commit (spec §16.5), so it
verifies only where it was made.

Vector ``range-proof-moved-to-another-level`` of tests/vectors/private.json
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
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "range-proof-moved-to-another-level")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='at this position'):
        proof = PrivateProof.from_json(rfc8785.dumps(VECTOR["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("name", ["range-proof-replayed-from-another-round",
                                  "range-proof-moved-to-another-asset"])
def test_other_moves_are_refused(name: str) -> None:
    vector = next(v for v in VECTORS["vectors"] if v["name"] == name)
    with pytest.raises(VerificationError, match="range proof does not verify"):
        proof = PrivateProof.from_json(rfc8785.dumps(vector["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(vector["root"]))
