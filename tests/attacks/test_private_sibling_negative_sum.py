"""Attack: private-sibling-negative-sum. A sibling commits to a negative (wrapped, n − 5) sum
so the total understates the user's balance; every sibling carries a range proof of [0, 2^64)
(spec §16.5), and none exists for n − 5.

Vector ``sibling-commits-to-negative-sum`` of tests/vectors/private.json
(made by tests/private/private_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import private_vector, private_vector_cli, verify_private_vector

from verifier.errors import VerificationError

VECTOR = private_vector("sibling-commits-to-negative-sum")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError, match='range proof does not verify'):
        verify_private_vector(VECTOR)


def test_cli_refuses(tmp_path: Path) -> None:
    result = private_vector_cli(VECTOR, tmp_path)
    assert result.exit_code == 1, result.output


def test_the_library_cannot_prove_a_negative_sum() -> None:
    """Whatever value the cheater claims, libsecp256k1-zkp makes no proof that verifies."""
    from verifier.private import commitments as pc
    from verifier.private.scheme import PrivateAsset, generator_seed, range_position

    seed = generator_seed(PrivateAsset("BTC", 8, 0))
    gen, blinding = pc.generator(seed), 2222
    # −5 = −(5·G_BTC + (n − r)·G): the negation flips the 0x08/0x09 prefix.
    positive = pc.commit(5, pc.GROUP_ORDER - blinding, gen, "t")
    negative = bytes([positive[0] ^ 1]) + positive[1:]
    position = range_position("r", 0, 1, 0)
    for claimed in (0, 5, 2**64 - 5, 2**64 - 1):
        try:
            made = pc.prove_range(claimed, blinding, negative, gen, seed, bytes(range(32)),
                                  position)
        except (ValueError, TypeError):  # the library refused to prove a wrong opening
            continue
        with pytest.raises(VerificationError):
            pc.verify_range(negative, made, gen, position, "t")
