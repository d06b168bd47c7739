"""Attack: private-range-proof-moved. A range proof made for one position (round, level, node,
asset) is reused at another; the position is the proof's extra commit (spec §16.5), so it
verifies only where it was made.

Vector ``range-proof-moved-to-another-level`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import VerificationError

VECTOR = private_vector("range-proof-moved-to-another-level")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='at this position'):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("name", ["range-proof-replayed-from-another-round",
                                  "range-proof-moved-to-another-asset"])
def test_other_moves_are_refused(name: str) -> None:
    vector = private_vector(name)
    with pytest.raises(VerificationError, match="range proof does not verify"):
        verify_private_vector(vector)
