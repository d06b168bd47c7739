"""What the vector-based attack tests share: the committed vectors, and the two ways each
attack is refused (the library, and ``por-verify proof FILE --root ROOT`` with its exit code).

Private vectors: tests/vectors/private.json (tests/private/private_vectorgen.py); margin
vectors: tests/vectors/margin.json (tests/support/margin_vectorgen.py). Each attack test
keeps its own assertion: the error it expects, or the exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rfc8785
from click.testing import CliRunner, Result

from verifier.cli import main as verify_main
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof
from verifier.private.proof import PrivateProof, verify_private_proof

_VECTORS = Path(__file__).parents[1] / "vectors"
PRIVATE_VECTORS: dict[str, Any] = json.loads((_VECTORS / "private.json").read_text())
MARGIN_VECTORS: dict[str, Any] = json.loads((_VECTORS / "margin.json").read_text())


def private_vector(name: str) -> dict[str, Any]:
    """The vector called ``name`` in tests/vectors/private.json."""
    return next(v for v in PRIVATE_VECTORS["vectors"] if v["name"] == name)


def margin_vector(name: str) -> dict[str, Any]:
    """The vector called ``name`` in tests/vectors/margin.json."""
    return next(v for v in MARGIN_VECTORS["vectors"] if v["name"] == name)


def verify_private_vector(vector: dict[str, Any]) -> None:
    """Parse the vector's private proof and verify it against the vector's published root."""
    proof = PrivateProof.from_json(rfc8785.dumps(vector["proof"]))
    verify_private_proof(proof, expected_root=bytes.fromhex(vector["root"]))


def verify_margin_vector(vector: dict[str, Any]) -> None:
    """Parse the vector's margin proof and verify it against the vector's published root."""
    proof = MarginInclusionProof.from_json(json.dumps(vector["proof"]))
    verify_margin_proof(proof, expected_root=bytes.fromhex(vector["root"]))


def private_vector_cli(vector: dict[str, Any], tmp_path: Path) -> Result:
    """``por-verify proof`` on the vector's private proof (RFC 8785 bytes) and root."""
    return _proof_cli(rfc8785.dumps(vector["proof"]), str(vector["root"]), tmp_path)


def margin_vector_cli(vector: dict[str, Any], tmp_path: Path) -> Result:
    """``por-verify proof`` on the vector's margin proof (``json.dumps``) and root."""
    return _proof_cli(json.dumps(vector["proof"]).encode(), str(vector["root"]), tmp_path)


def _proof_cli(proof: bytes, root: str, tmp_path: Path) -> Result:
    path = tmp_path / "proof.json"
    path.write_bytes(proof)
    return CliRunner().invoke(verify_main, ["proof", str(path), "--root", root])
