"""Attack: private-commitment-not-canonical. libsecp256k1-zkp reduces a commitment's x
modulo p, so x + p names the same point with other bytes: the same node would hash two
ways. Only 0x08/0x09 ‖ x with x < p is read (spec §16.2); anything else is malformed."""

from __future__ import annotations

import json

import pytest
import rfc8785
from attack_vectors import private_vector

from verifier.errors import FormatError
from verifier.private import _secp256k1_zkp as zkp
from verifier.private.proof import PrivateProof

ALICE = private_vector("valid-private-proof-alice")


def _small_x_on_the_curve() -> int:
    for x in range(1, 50):
        try:
            zkp.parse_commitment(b"\x08" + x.to_bytes(32, "big"), "t")
        except FormatError:
            continue
        return x
    raise AssertionError("no small x on the curve")


def test_x_plus_p_is_refused_in_a_proof() -> None:
    x = _small_x_on_the_curve()
    proof = json.loads(json.dumps(ALICE["proof"]))
    proof["path"][0]["commitments"][0] = "08" + (x + zkp.FIELD_PRIME).to_bytes(32, "big").hex()
    with pytest.raises(FormatError, match="canonical"):
        PrivateProof.from_json(rfc8785.dumps(proof))


def test_the_canonical_twin_parses() -> None:
    x = _small_x_on_the_curve()
    proof = json.loads(json.dumps(ALICE["proof"]))
    proof["path"][0]["commitments"][0] = "08" + x.to_bytes(32, "big").hex()
    PrivateProof.from_json(rfc8785.dumps(proof))  # well formed (it then fails verification)
