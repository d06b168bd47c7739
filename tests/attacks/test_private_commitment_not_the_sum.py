"""Attack: private-commitment-not-the-sum. A parent's commitment is not the sum of its
children's (the top commits to 29 over 10 + 20), with hashes and the root opening consistent
with the lie; the verifier checks every parent = left + right (spec §16.9).

Vector ``parent-commitment-not-the-sum`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import VerificationError

VECTOR = private_vector("parent-commitment-not-the-sum")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='not the sum'):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output
