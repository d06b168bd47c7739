"""Attack: parent-binds-only-net-sums. A tree whose parents bind only equity − debt does not
recompute: parents bind equity, debt and collateral sums (spec §15.3).

Vector ``parent-binds-only-net-sums`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import margin_vector, margin_vector_cli, verify_margin_vector

from verifier.errors import VerificationError

VECTOR = margin_vector("parent-binds-only-net-sums")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        verify_margin_vector(VECTOR)
    msg = str(err.value)
    assert "root" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    result = margin_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output
