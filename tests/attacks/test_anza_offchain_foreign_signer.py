"""Attack: with Anza's v0 off-chain layout accepted for Solana wallets, pass off a message
signed with another signer in its preamble (a second co-signer, another key named as the
signer) or the owner's signature of another wallet's challenge.

Defence (spec §11.6): the verifier builds the preamble itself with the wallet as the only
signer and the wallet's own challenge as the body; an envelope must carry exactly one
signature, one signer equal to the wallet, and that body.
Vectors: tests/data/signatures/interop/solana_offchain_layouts.json (@solana/kit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import base58
import pytest

from verifier.errors import VerificationError
from verifier.signatures import verify_solana_offchain_message

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signatures" / "interop"
                      / "solana_offchain_layouts.json").read_text())["vectors"]
FORGED = [v for v in VECTORS if v["name"].startswith("forged-anza-v0-")]


@pytest.mark.parametrize("form", ["signature", "envelope"])
@pytest.mark.parametrize("vector", FORGED, ids=lambda v: v["name"])
def test_anza_offchain_foreign_signer(vector: dict[str, Any], form: str) -> None:
    assert len(FORGED) == 3
    with pytest.raises(VerificationError):
        verify_solana_offchain_message(vector["address"], vector["message"].encode(),
                                       base58.b58decode(vector[form]))
