"""Margin proofs fail closed: no mutation of a valid proof's JSON makes a low-level
exception escape or turns into VERIFIED; sums that overflow u128 are an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.errors import PorError, VerificationError
from verifier.liabilities.mst import MAX_AMOUNT, Position, add_positions, encode_positions
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

DATA = json.loads((Path(__file__).parents[1] / "vectors" / "margin.json").read_text())
VALID = next(v for v in DATA["vectors"] if v["name"] == "valid-margin-proof-alice")
ROOT = bytes.fromhex(VALID["root"])


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


PATHS = _leaves(VALID["proof"])
REPLACEMENTS = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(["", "0", "1", "-1", "01", "1.5", str(MAX_AMOUNT + 1), "ff" * 32, "left"]),
    st.none(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(PATHS) - 1), replacement=REPLACEMENTS)
def test_no_mutation_verifies_or_escapes(index: int, replacement: Any) -> None:
    proof = json.loads(json.dumps(VALID["proof"]))
    target = proof
    *parents, last = PATHS[index]
    for key in parents:
        target = target[key]
    if target[last] == replacement:
        return
    target[last] = replacement
    try:
        text = json.dumps(proof)
    except ValueError:
        return
    with pytest.raises(PorError):
        verify_margin_proof(MarginInclusionProof.from_json(text), expected_root=ROOT)


def test_sums_overflowing_u128_are_an_error() -> None:
    big = [Position(MAX_AMOUNT, 0, 0)]
    with pytest.raises(VerificationError, match="overflows"):
        add_positions(big, [Position(1, 0, 0)], "level 1")
    with pytest.raises(VerificationError):
        encode_positions([Position(0, MAX_AMOUNT + 1, 0)])
