"""Attack: proof-replayed-under-other-prices. A proof shown with other prices than the round's:
the root binds the risk hash (spec §15.4).

Vector ``proof-replayed-under-other-prices`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from attack_vectors import margin_vector, margin_vector_cli, verify_margin_vector

from verifier.errors import VerificationError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

VECTOR = margin_vector("proof-replayed-under-other-prices")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        verify_margin_vector(VECTOR)
    msg = str(err.value)
    assert "root" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    result = margin_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output


def test_fresh_round_replayed_under_other_prices_fails() -> None:
    """Built and checked by the current code (not a stored root): an honest proof verifies,
    the same proof with a lower price of the borrowed asset does not."""
    from margin_vectorgen import ACCOUNTS, _build

    tree = _build(ACCOUNTS)
    honest = tree.prove("alice").to_dict()
    verify_margin_proof(
        MarginInclusionProof.from_json(json.dumps(honest)), expected_root=tree.root_hash
    )
    honest["risk"]["assets"][1]["price"] = "1000"
    with pytest.raises(VerificationError):
        verify_margin_proof(
            MarginInclusionProof.from_json(json.dumps(honest)), expected_root=tree.root_hash
        )
