"""Attack: with EIP-2098 64-byte signatures accepted, flip the y-parity bit (or submit another
key's compact signature) hoping the verifier ignores the bit or tries both parities.

Defence (spec §11.6): v is 27 + the top bit of yParityAndS, exactly; recovery with the other
parity gives another key, which is refused.
Vectors: tests/data/signatures/interop/eip2098_compact.json (ethers v6).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import VerificationError
from verifier.signatures import verify_personal_sign

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signatures" / "interop"
                      / "eip2098_compact.json").read_text())["vectors"]
FORGED = [v for v in VECTORS if v["name"].startswith("forged-eip2098-")]


@pytest.mark.parametrize("vector", FORGED, ids=lambda v: v["name"])
def test_eip2098_parity_flip(vector: dict[str, Any]) -> None:
    assert len(FORGED) == 2
    with pytest.raises(VerificationError):
        verify_personal_sign(vector["address"], vector["message"], vector["signature"])
