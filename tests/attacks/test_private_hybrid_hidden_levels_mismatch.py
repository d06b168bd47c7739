"""Attack: private-hybrid-hidden-levels-mismatch. The exchange published a hybrid root that
hides the bottom L = 2 levels, and shows a user a self-consistent proof claiming L = 1 (one
more level opened, the root hash recomputed over L = 1); and a proof that keeps L = 2 but
opens level 1 anyway. L is bound into the root hash (spec §16.14), and each level's form
(range proofs or opened sums) follows the root's L.

Vectors ``hybrid-proof-claims-other-hidden-levels`` (failed, exit 1) and
``hybrid-opened-level-below-hidden`` (malformed, exit 2) of tests/vectors/private.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rfc8785
from attack_vectors import PRIVATE_VECTORS, private_vector, private_vector_cli

from verifier.errors import FormatError, VerificationError
from verifier.private.proof import PrivateProof, PrivateRoot, verify_private_proof

CLAIMS = private_vector("hybrid-proof-claims-other-hidden-levels")
BELOW = private_vector("hybrid-opened-level-below-hidden")


def test_a_proof_claiming_another_l_does_not_reach_the_published_root() -> None:
    proof = PrivateProof.from_json(rfc8785.dumps(CLAIMS["proof"]))
    assert proof.root.hidden_levels == 1
    verify_private_proof(proof)  # consistent with itself: the forgery is careful
    with pytest.raises(VerificationError, match="root hash"):
        verify_private_proof(proof, expected_root=bytes.fromhex(CLAIMS["root"]))
    summary = PrivateRoot.from_json(rfc8785.dumps(PRIVATE_VECTORS["round_root_hybrid"]))
    assert summary.hidden_levels == 2
    with pytest.raises(VerificationError, match="hidden_levels"):
        verify_private_proof(proof, summary=summary)


def test_an_opened_level_below_l_is_malformed() -> None:
    with pytest.raises(FormatError, match=r"path\[1\]"):
        PrivateProof.from_json(rfc8785.dumps(BELOW["proof"]))


@pytest.mark.parametrize(("vector", "code"), [(CLAIMS, 1), (BELOW, 2)])
def test_cli_refuses(vector: dict[str, Any], code: int, tmp_path: Path) -> None:
    result = private_vector_cli(vector, tmp_path)
    assert result.exit_code == code, result.output
