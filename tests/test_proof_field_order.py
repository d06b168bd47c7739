"""The proof data classes' field order is part of what they promise: the verifier is a
library, and a caller outside this repository may build them positionally (ours build them
by keyword: por/liabilities/prove.py, margin.py, tokens.py, bench/bench_private.py). A
reordering, say by merging the spot and margin classes, would silently swap two fields of one
type for such a caller (``salt`` and ``root_hash`` are both 32 bytes), and the proofs made
would then fail to verify or carry the wrong figures; this test makes it loud instead."""

from __future__ import annotations

from dataclasses import fields

import pytest

from verifier.liabilities.proof import (
    InclusionProof,
    MarginInclusionProof,
    MarginPathStep,
    PathStep,
)

ORDER: dict[type, tuple[str, ...]] = {
    PathStep: ("side", "hash", "sums"),
    MarginPathStep: ("side", "hash", "sums"),
    InclusionProof: ("round_id", "assets", "user_id", "salt", "amounts", "path", "root_hash",
                     "root_sums", "leaf_count"),
    MarginInclusionProof: ("round_id", "assets", "risk", "user_id", "salt", "positions", "path",
                           "root_hash", "root_sums", "leaf_count"),
}


@pytest.mark.parametrize("cls", list(ORDER), ids=lambda c: c.__name__)
def test_positional_field_order_is_kept(cls: type) -> None:
    assert tuple(f.name for f in fields(cls)) == ORDER[cls]
