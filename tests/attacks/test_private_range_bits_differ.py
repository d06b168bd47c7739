"""Attack: private-range-bits-differ. A range proof of another width than the spec's 64 bits (a
valid 32-bit proof); widths are fixed so sizes never leak magnitudes, and anything else is
refused (spec §16.5).

Vector ``range-proof-of-32-bits`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.private.proof import PrivateProof, verify_private_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "range-proof-of-32-bits")


def test_library_refuses() -> None:
    with pytest.raises(FormatError, match='5126-byte range proof'):
        proof = PrivateProof.from_json(rfc8785.dumps(VECTOR["proof"]))
        verify_private_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 2, result.output
