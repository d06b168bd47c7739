"""BIP-322 published vectors: simple (bip322, Rust), full and proof-of-funds (btclib-wallet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from btclib.script.script_pub_key import ScriptPubKey
from btclib_wallet import bip322 as btclib_bip322

from verifier.errors import FormatError, VerificationError
from verifier.signatures.bip322 import split_variant, verify_bip322

DATA = Path(__file__).parents[1] / "data" / "signatures"
BIP322 = json.loads((DATA / "bip322_vectors.json").read_text())
VECTORS: list[dict[str, Any]] = BIP322["vectors"]


def _message(vector: dict[str, Any]) -> bytes:
    if "message_hex" in vector:
        return bytes.fromhex(vector["message_hex"])
    return str(vector["message"]).encode()


def _vector_id(index: int, vector: dict[str, Any]) -> str:
    label = vector.get("description") or vector.get("type") or "error"
    return f"{index}-{vector['variant']}-{label}"[:80].replace(" ", "-")


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[_vector_id(i, v) for i, v in enumerate(VECTORS)]
)
def test_bip322_published_vector(vector: dict[str, Any]) -> None:
    expected = vector["expected_valid"]
    if expected is True:
        proof = verify_bip322(vector["address"], _message(vector), vector["signature"])
        assert proof.address == vector["address"]
        assert proof.scheme.startswith("bip322-")
    else:
        # False, or "lenient-only": a BIP-137 signature that bip322-js accepts only in its
        # non-strict mode; a strict verifier must refuse it, and we are strict.
        assert expected in (False, "lenient-only")
        with pytest.raises((FormatError, VerificationError)):
            verify_bip322(vector["address"], _message(vector), vector["signature"])


def test_bip322_vector_counts() -> None:
    assert len(VECTORS) == 81
    by_verdict = {str(k): sum(str(v["expected_valid"]) == str(k) for v in VECTORS)
                  for k in (True, False, "lenient-only")}
    assert by_verdict == {"True": 32, "False": 48, "lenient-only": 1}
    variants = {v["variant"] for v in VECTORS if v["expected_valid"] is True}
    assert variants == {"simple", "full", "proof_of_funds"}


@pytest.mark.parametrize("vector", BIP322["tx_hash_vectors"], ids=lambda v: repr(v["message"])[:20])
def test_bip322_to_spend_and_to_sign_hashes(vector: dict[str, Any]) -> None:
    """The virtual transactions btclib-wallet builds match the BIP's published txids."""
    message = vector["message"].encode()
    assert btclib_bip322.message_hash(message).hex() == vector["message_hash"]
    script = ScriptPubKey.from_address(vector["address"]).script
    spend = btclib_bip322.to_spend(message, script)
    assert spend.id.hex() == vector["to_spend_tx_hash"]
    assert btclib_bip322.to_sign(spend).id.hex() == vector["to_sign_tx_hash"]


SIMPLE = next(v for v in VECTORS if v["expected_valid"] is True and v["type"] == "p2wpkh")


def test_simple_p2wpkh_reports_the_signing_key() -> None:
    proof = verify_bip322(SIMPLE["address"], _message(SIMPLE), SIMPLE["signature"])
    assert len(proof.signer_keys) == 1 and len(proof.signer_keys[0]) == 33


@pytest.mark.parametrize(
    "signature", ["smp", "smp!!!!", "ful@@", ""], ids=["empty-smp", "smp-not-b64", "ful-bad",
                                                      "empty"]
)
def test_malformed_signature_is_format_error(signature: str) -> None:
    with pytest.raises(FormatError):
        verify_bip322(SIMPLE["address"], _message(SIMPLE), signature)


def test_undecodable_address_is_format_error() -> None:
    with pytest.raises(FormatError):
        verify_bip322(SIMPLE["address"][:-1], _message(SIMPLE), SIMPLE["signature"])


def test_non_utf8_message_simple_is_format_error() -> None:
    with pytest.raises(FormatError, match="UTF-8"):
        verify_bip322(SIMPLE["address"], b"\xff\xfe", SIMPLE["signature"])


def test_split_variant() -> None:
    assert split_variant("smpAA==")[0] == "simple"
    assert split_variant("AA==")[0] == "simple"
    assert split_variant("fulAA==")[0] == "full"
    assert split_variant("pofAA==")[0] == "pof"
