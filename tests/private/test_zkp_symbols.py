"""The undocumented symbols of wallycore's extension (verifier/private/_secp256k1_zkp.py,
spec §16.11): a release that renames, drops or changes them must fail here, loudly.

Known answers come from the committed vectors (tests/vectors/private.json), made by
wallycore's documented range-proof call: a sibling's proof verifies to exactly [0, 2^64 − 1]
at its position and at no other; the tally accepts a true sum and refuses a false one.
"""

from __future__ import annotations

import base64
import ctypes
import importlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.errors import FormatError, VerificationError
from verifier.private import _secp256k1_zkp as zkp
from verifier.private import commitments as pc
from verifier.private.scheme import PrivateAsset, generator_seed, range_position

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
ALICE = next(v for v in VECTORS["vectors"] if v["name"] == "valid-private-proof-alice")
BTC = PrivateAsset("BTC", 8, 0)


def test_wallycore_release_line_is_the_checked_one() -> None:
    wallycore = importlib.import_module("wallycore")
    assert (wallycore.WALLY_MAJOR_VER, wallycore.WALLY_MINOR_VER) == zkp.WALLYCORE_VERSION_PREFIX


def test_every_bound_symbol_is_exported() -> None:
    lib = ctypes.CDLL(importlib.import_module("_wallycore").__file__)
    missing = [name for name in zkp.SYMBOLS if not hasattr(lib, name)]
    assert missing == []


def _sibling(step: int) -> tuple[bytes, bytes, bytes, int]:
    proof = ALICE["proof"]
    side_bits = sum(1 << i for i, s in enumerate(proof["path"]) if s["side"] == "left")
    entry = proof["path"][step]
    return (bytes.fromhex(entry["commitments"][0]), base64.b64decode(entry["range_proofs"][0]),
            pc.generator(generator_seed(BTC)), (side_bits >> step) ^ 1)


def test_known_range_proof_verifies_to_exactly_64_bits() -> None:
    commitment, proof, gen, index = _sibling(0)
    position = range_position(ALICE["proof"]["round"], 0, index, 0)
    assert len(proof) == pc.RANGE_PROOF_SIZE == 5126
    assert zkp.rangeproof_verify(commitment, proof, position, gen, "t") == (0, 2**64 - 1)


def test_known_range_proof_fails_at_another_position_or_commitment() -> None:
    commitment, proof, gen, index = _sibling(0)
    round_id = ALICE["proof"]["round"]
    assert zkp.rangeproof_verify(commitment, proof, range_position(round_id, 1, index, 0),
                                 gen, "t") is None
    other, _, _, _ = _sibling(1)
    assert zkp.rangeproof_verify(other, proof, range_position(round_id, 0, index, 0),
                                 gen, "t") is None
    flipped = bytearray(proof)
    flipped[100] ^= 1
    assert zkp.rangeproof_verify(commitment, bytes(flipped),
                                 range_position(round_id, 0, index, 0), gen, "t") is None


def test_tally_known_answers() -> None:
    gen = pc.generator(generator_seed(BTC))
    three, four = pc.commit(3, 100, gen, "t"), pc.commit(4, 200, gen, "t")
    assert zkp.tally([pc.commit(7, 300, gen, "t")], [three, four], "t")
    assert not zkp.tally([pc.commit(8, 300, gen, "t")], [three, four], "t")
    assert not zkp.tally([pc.commit(7, 301, gen, "t")], [three, four], "t")
    # blindings add modulo the group order n
    n = pc.GROUP_ORDER
    assert zkp.tally([pc.commit(7, 1, gen, "t")],
                     [pc.commit(3, n - 1, gen, "t"), pc.commit(4, 2, gen, "t")], "t")


def test_parse_refuses_a_non_canonical_x() -> None:
    """The library reduces x modulo p: x + p would parse as the same point. We refuse it."""
    for x in range(1, 50):
        try:
            zkp.parse_commitment(b"\x08" + x.to_bytes(32, "big"), "t")
        except FormatError:
            continue
        break
    non_canonical = b"\x08" + (x + zkp.FIELD_PRIME).to_bytes(32, "big")
    with pytest.raises(FormatError, match="canonical"):
        zkp.parse_commitment(non_canonical, "t")
    with pytest.raises(FormatError):
        zkp.parse_commitment(b"\x02" + x.to_bytes(32, "big"), "t")


def test_generator_layout_is_x_then_y() -> None:
    """The point additions of the builder read a generator struct as x ‖ y big-endian."""
    zkp._check_generator_layout(zkp._library().lib, zkp._library().context)
    gen = pc.generator(generator_seed(BTC))
    c = pc.commit(5, 7, gen, "t")
    point = zkp.commitment_point(c, "t")
    assert point[:32] == c[1:]
    y = int.from_bytes(point[32:], "big")
    x = int.from_bytes(c[1:], "big")
    assert (y * y - x**3 - 7) % zkp.FIELD_PRIME == 0


def test_ctypes_calls_make_the_documented_calls_bytes() -> None:
    """wally_asset_value_commitment and wally_asset_rangeproof_with_nonce through ctypes
    make exactly what wallycore's documented Python calls make."""
    wally = pc._wally()
    seed = generator_seed(BTC)
    gen = pc.generator(seed)
    for value, blinding in ((0, 1), (1, 2), (2**64 - 1, pc.GROUP_ORDER - 1), (12345, 2**200)):
        r = blinding.to_bytes(32, "big")
        c = bytes(wally.asset_value_commitment(value, r, gen))
        assert zkp.value_commitment(value, r, gen) == c == pc.commit(value, blinding, gen, "t")
        nonce, extra = bytes([value % 256]) * 32, b"position"
        assert zkp.rangeproof_with_nonce(value, nonce, seed, bytes(32), r, c, extra, gen,
                                         0, 0, 64) == bytes(wally.asset_rangeproof_with_nonce(
                                             value, nonce, seed, bytes(32), r, c, extra, gen,
                                             0, 0, 64))
    assert zkp.value_commitment(0, bytes(32), gen) is None  # the point at infinity


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1),
       st.integers(1, pc.GROUP_ORDER - 1), st.integers(1, pc.GROUP_ORDER - 1))
def test_point_sum_is_the_commitment_to_the_sums(a: int, b: int, r: int, s: int) -> None:
    """A parent by point addition has the bytes of a fresh commitment to the sums (§16.13)."""
    gen = pc.generator(generator_seed(BTC))
    left, right = pc.commit(a, r, gen, "t"), pc.commit(b, s, gen, "t")
    total = (r + s) % pc.GROUP_ORDER
    if a + b == 0 and total == 0:  # the point at infinity: test_point_sum_at_infinity_is_refused
        return
    got, point = zkp.add_points(zkp.commitment_point(left, "t"),
                                zkp.commitment_point(right, "t"), "t")
    want = pc.commit(a + b, total, gen, "t")
    assert got == want
    assert point == zkp.commitment_point(want, "t")


def test_point_sum_at_infinity_is_refused() -> None:
    gen = pc.generator(generator_seed(BTC))
    left, right = pc.commit(0, 5, gen, "t"), pc.commit(0, pc.GROUP_ORDER - 5, gen, "t")
    with pytest.raises(VerificationError, match="infinity"):
        zkp.add_points(zkp.commitment_point(left, "t"), zkp.commitment_point(right, "t"), "t")
