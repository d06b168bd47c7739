"""Attack: tier-boundary-off-by-one. A collateral value one unit above a tier bound falls in
the next tier (b_{k-1} < cv <= b_k, spec §15.6).

Vector ``tier-boundary-off-by-one`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import margin_vector, margin_vector_cli, verify_margin_vector

from verifier.errors import VerificationError

VECTOR = margin_vector("tier-boundary-off-by-one")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        verify_margin_vector(VECTOR)
    msg = str(err.value)
    assert "10000000000000000000000 < debt value 10000000000000000000001" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    result = margin_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output
