"""Attack: debt-in-unlisted-asset. A debt in an asset the risk parameters do not price cannot
be valued: the proof is refused (spec §15.5).

Vector ``debt-in-unlisted-asset`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import margin_vector, margin_vector_cli, verify_margin_vector

from verifier.errors import FormatError

VECTOR = margin_vector("debt-in-unlisted-asset")


def test_library_refuses() -> None:
    with pytest.raises(FormatError) as err:
        verify_margin_vector(VECTOR)
    msg = str(err.value)
    assert "risk parameters price" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    result = margin_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 2, result.output
