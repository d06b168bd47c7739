"""Attack: private-range-bits-differ. A range proof of another width than the spec's 64 bits (a
valid 32-bit proof); widths are fixed so sizes never leak magnitudes, and anything else is
refused (spec §16.5).

Vector ``range-proof-of-32-bits`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import FormatError

VECTOR = private_vector("range-proof-of-32-bits")


def test_library_refuses() -> None:
    with pytest.raises(FormatError, match='5126-byte range proof'):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 2, result.output
