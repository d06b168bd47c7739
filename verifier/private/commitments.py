"""Pedersen commitments, per-asset generators and range proofs of the private scheme (§16).

The group and the zero-knowledge protocol are libsecp256k1-zkp's, through ``wallycore``
(the ``[private]`` extra): documented wallycore calls make generators, commitments and range
proofs; the checks that wallycore documents no Python call for (range-proof verification,
commitment sums) go through :mod:`verifier.private._secp256k1_zkp`, the one module that
binds undocumented symbols. Nothing here is a hand-written zero-knowledge protocol.

``wallycore`` is imported when first used, so ``por-verify`` without the extra still starts.
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

from verifier.errors import FormatError, VerificationError
from verifier.private import _secp256k1_zkp as zkp

COMMITMENT_SIZE = zkp.COMMITMENT_SIZE  # spec §16.2: 0x08/0x09 ‖ x
GENERATOR_SIZE = zkp.GENERATOR_SIZE  # spec §16.2: 0x0a/0x0b ‖ x
SCALAR_SIZE = 32  # spec §16.2: a blinding factor, big-endian, below the group order
GROUP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 n
RANGE_BITS = 64  # spec §16.5: every sibling sum is proven in [0, 2^64), at every level
MAX_VALUE = (1 << RANGE_BITS) - 1  # spec §16.3: committed values are u64
RANGE_PROOF_SIZE = 5126  # spec §16.5: a 64-bit Borromean proof (exponent 0, minimum 0)
_ZERO_ABF = bytes(32)  # an unblinded asset generator: the blinding of the asset tag is zero
# Range proofs are made and checked on this many threads: the library's calls go through
# ctypes, which releases the GIL (spec §16.13). One thread per core, at most 4.
THREADS = max(1, min(4, os.cpu_count() or 1))
_T = TypeVar("_T")
_R = TypeVar("_R")


@cache
def _wally() -> Any:
    with warnings.catch_warnings():  # SWIG's types warn on import under Python 3.12+ rules
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("wallycore")


def generator(seed: bytes) -> bytes:
    """The asset generator of a 32-byte seed: libsecp256k1-zkp's ``generator_generate``
    (the unblinded generator of an Elements asset whose id is ``seed``), 33 bytes (§16.2).

    Raises:
        FormatError: the seed is not 32 bytes.
    """
    if len(seed) != 32:
        raise FormatError(f"generator seed: expected 32 bytes, found {len(seed)}")
    return bytes(_wally().asset_generator_from_bytes(seed, _ZERO_ABF))


def scalar_bytes(value: int) -> bytes:
    """A blinding factor as 32 bytes big-endian (spec §16.2).

    Raises:
        FormatError: not in 0..n−1.
    """
    if not 0 <= value < GROUP_ORDER:
        raise FormatError("blinding factor: expected an integer below the group order n")
    return value.to_bytes(SCALAR_SIZE, "big")


def commit(value: int, blinding: int, gen: bytes, where: str) -> bytes:
    """``value·G_asset + blinding·G``, serialized (libsecp256k1-zkp ``pedersen_commit``).

    Raises:
        FormatError: the value is not a u64 or the blinding not below n.
        VerificationError: the library refuses (the point at infinity: value and blinding 0).
    """
    if not 0 <= value <= MAX_VALUE:
        raise FormatError(f"{where}: committed value {value} is outside 0..2^64-1")
    if len(gen) != GENERATOR_SIZE:
        raise FormatError(f"{where}: expected a {GENERATOR_SIZE}-byte generator")
    # libwally's documented C call wally_asset_value_commitment, the same as wallycore's
    # Python asset_value_commitment (tests/private/test_zkp_symbols.py), called via ctypes.
    out = zkp.value_commitment(value, scalar_bytes(blinding), gen)
    if out is None:
        raise VerificationError(f"{where}: cannot commit to this opening (the library refuses:"
                                " the point at infinity)")
    return out


def prove_range(
    value: int, blinding: int, commitment: bytes, gen: bytes, seed: bytes, nonce: bytes,
    position: bytes,
) -> bytes:
    """A range proof that ``commitment`` holds a value in [0, 2^64), bound to ``position``.

    Made by wallycore's documented ``asset_rangeproof_with_nonce`` with minimum 0, exponent
    0 and 64 bits, so every proof has the same size whatever the value (spec §16.5). The
    position is the library's "extra commit": the proof verifies only with the same bytes.
    ``nonce`` is secret (whoever holds it can rewind the proof to its value and blinding).

    Raises:
        FormatError: a value or blinding out of range.
    """
    if not 0 <= value <= MAX_VALUE:
        raise FormatError(f"range proof: value {value} is outside 0..2^64-1")
    # libwally's documented C call (wallycore's Python call of the same name makes the same
    # bytes: tests/private/test_zkp_symbols.py), via ctypes so that threads can share it.
    proof = zkp.rangeproof_with_nonce(
        value, nonce, seed, _ZERO_ABF, scalar_bytes(blinding), commitment, position, gen,
        0, 0, RANGE_BITS)
    if len(proof) != RANGE_PROOF_SIZE:
        raise FormatError(f"range proof: the library made {len(proof)} bytes, the spec says"
                          f" {RANGE_PROOF_SIZE}")
    return proof


def verify_range(commitment: bytes, proof: bytes, gen: bytes, position: bytes, where: str) -> None:
    """Check a range proof: it verifies at ``position`` and proves exactly [0, 2^64 − 1].

    A proof of another width (a shorter range, a minimum above 0, an exponent) is refused
    even if the library accepts it: the spec fixes the range (attack: range bits differ).

    Raises:
        FormatError: the proof is not :data:`RANGE_PROOF_SIZE` bytes, or a point is invalid.
        VerificationError: the proof does not verify here, or proves another range.
    """
    if len(proof) != RANGE_PROOF_SIZE:
        raise FormatError(
            f"{where}: expected a {RANGE_PROOF_SIZE}-byte range proof of {RANGE_BITS} bits,"
            f" found {len(proof)} bytes"
        )
    proven = zkp.rangeproof_verify(commitment, proof, position, gen, where)
    if proven is None:
        raise VerificationError(
            f"{where}: the range proof does not verify for this commitment at this position"
            " (round, level, node, asset)"
        )
    if proven != (0, MAX_VALUE):
        raise VerificationError(
            f"{where}: the range proof proves [{proven[0]}, {proven[1]}], the spec requires"
            f" [0, 2^{RANGE_BITS} - 1]"
        )


def parallel_map(fn: Callable[[_T], _R], items: Sequence[_T],
                 threads: int | None = None) -> list[_R]:
    """``[fn(x) for x in items]`` on :data:`THREADS` threads, in order. For the library's
    range-proof calls, which release the GIL; exceptions propagate as from the loop."""
    count = THREADS if threads is None else threads
    if count <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(count, len(items))) as pool:
        return list(pool.map(fn, items))


def check_sum(parent: bytes, left: bytes, right: bytes, where: str) -> None:
    """Check ``parent = left + right`` as points (libsecp256k1-zkp ``pedersen_verify_tally``).

    Raises:
        FormatError: a commitment is not canonical or not on the curve.
        VerificationError: the parent is not the sum of its children.
    """
    if not zkp.tally([parent], [left, right], where):
        raise VerificationError(
            f"{where}: the parent commitment {parent.hex()[:16]}... is not the sum of its"
            " children's commitments"
        )


def check_commitment(raw: bytes, where: str) -> bytes:
    """Return ``raw`` if it is a canonical commitment on the curve.

    Raises:
        FormatError: it is not.
    """
    zkp.parse_commitment(raw, where)
    return raw
