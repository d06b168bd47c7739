"""Attack: private-commitment-not-the-sum. A parent's commitment is not the sum of its
children's (the top commits to 29 over 10 + 20), with hashes and the root opening consistent
with the lie; the verifier checks every parent = left + right (spec §16.9).

Vector ``parent-commitment-not-the-sum`` of tests/vectors/private.json
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
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "parent-commitment-not-the-sum")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='not the sum'):
        proof = PrivateProof.from_json(rfc8785.dumps(VECTOR["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output
