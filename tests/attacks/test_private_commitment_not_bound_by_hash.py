"""Attack: private-commitment-not-bound-by-hash. The exchange shows a user a sibling
commitment other than the one its tree hashed (one unit more, with a valid range proof, and
parents and totals that add up around it). The node hash binds both children's commitments
(spec §16.4), so the root no longer recomputes to the published one.

Vector ``commitment-does-not-match-hash`` of tests/vectors/private.json
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
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "commitment-does-not-match-hash")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match="root hash"):
        proof = PrivateProof.from_json(rfc8785.dumps(VECTOR["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output
