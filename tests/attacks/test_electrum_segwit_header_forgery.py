"""Attack: with Electrum-style BIP-137 headers (31..34) accepted for segwit addresses, pass off
a signature by a key that does not control the address: another key, an uncompressed key over
a segwit program, a P2SH address holding the key's own hash (bitcoinjs-message's
checkSegwitAlways accepts this one), P2SH of another script of the key, or a Taproot address.

Defence (spec §11.6): header 31..34 proves a P2WPKH address only when HASH160(key) is the
witness program, a P2SH address only when it is P2SH-P2WPKH of the key; nothing else.
Vectors: tests/data/signatures/interop/bip137_electrum_segwit.json (bitcoinjs-message).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import VerificationError
from verifier.signatures import verify_bip137

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signatures" / "interop"
                      / "bip137_electrum_segwit.json").read_text())["vectors"]
FORGED = [v for v in VECTORS if v["name"].startswith("forged-electrum-")]


def test_every_forgery_is_covered() -> None:
    assert len(FORGED) == 6 and not any(v["valid"] for v in FORGED)


@pytest.mark.parametrize("vector", FORGED, ids=lambda v: v["name"])
def test_electrum_segwit_header_forgery(vector: dict[str, Any]) -> None:
    with pytest.raises(VerificationError):
        verify_bip137(vector["address"], vector["message"], vector["signature"])
