"""Attack: private-root-opening-mismatch. The published totals do not open the top commitments
(one unit short), the root hash recomputed over them; the verifier opens each root commitment
with the published total and blinding (spec §16.6).

Vector ``root-opening-does-not-match-totals`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import VerificationError

VECTOR = private_vector("root-opening-does-not-match-totals")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='root opening'):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output
