"""Attack: private-commitment-not-bound-by-hash. The exchange shows a user a sibling
commitment other than the one its tree hashed (one unit more, with a valid range proof, and
parents and totals that add up around it). The node hash binds both children's commitments
(spec §16.4), so the root no longer recomputes to the published one.

Vector ``commitment-does-not-match-hash`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import VerificationError

VECTOR = private_vector("commitment-does-not-match-hash")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match="root hash"):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output
