"""Signatures made by independent signers (tests/interop/generate.mjs), as custody tools make
them: Electrum-style segwit BIP-137 (bitcoinjs-message), EIP-2098 compact (ethers v6), Anza's
v0 off-chain layout (@solana/kit) beside the CLI layout (tweetnacl). Spec §11.6.

The vectors are committed; these tests need no npm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import base58
import pytest

from verifier.errors import FormatError, VerificationError
from verifier.reserves.challenge import eip712_challenge
from verifier.signatures import (
    LITECOIN,
    verify_bip137,
    verify_personal_sign,
    verify_solana_offchain_message,
    verify_typed_data,
)
from verifier.signatures.bitcoin import BITCOIN
from verifier.signatures.evm import ethers_typed_data
from verifier.signatures.solana import (
    decode_solana_address,
    parse_anza_v0_envelope,
    serialize_anza_v0,
    serialize_offchain_message,
    verify_solana_offchain_envelope,
)

DATA = Path(__file__).parents[1] / "data" / "signatures" / "interop"
BIP137 = json.loads((DATA / "bip137_electrum_segwit.json").read_text())["vectors"]
EIP2098 = json.loads((DATA / "eip2098_compact.json").read_text())["vectors"]
SOLANA = json.loads((DATA / "solana_offchain_layouts.json").read_text())["vectors"]
NETWORKS = {"bitcoin": BITCOIN, "litecoin": LITECOIN}


def test_vector_counts() -> None:
    """Both directions are covered: accepted forms and refused forgeries."""
    assert (len(BIP137), len(EIP2098), len(SOLANA)) == (36, 11, 11)
    assert sum(not v["valid"] for v in BIP137 + EIP2098 + SOLANA) == 6 + 3 + 3
    assert sum(v["name"].startswith("electrum-") for v in BIP137) == 12


@pytest.mark.parametrize("vector", BIP137, ids=lambda v: v["name"])
def test_bip137_segwit_vectors(vector: dict[str, Any]) -> None:
    network = NETWORKS[vector["network"]]
    if not vector["valid"]:
        with pytest.raises(VerificationError):
            verify_bip137(vector["address"], vector["message"], vector["signature"], network)
        return
    proof = verify_bip137(vector["address"], vector["message"], vector["signature"], network)
    assert proof.variant == ("electrum-segwit" if vector["name"].startswith("electrum-")
                             else "strict")
    assert vector["bitcoinjs_message_checkSegwitAlways"] is True


def test_electrum_headers_are_the_p2pkh_range() -> None:
    headers = {v["header"] for v in BIP137 if v["name"].startswith("electrum-")}
    assert headers <= set(range(31, 35)) and len(headers) > 1


def test_bitcoinjs_message_accepts_a_forgery_the_toolkit_refuses() -> None:
    """bitcoinjs-message's checkSegwitAlways ignores the Base58 version byte: a P2SH address
    holding the key's own hash passes there. Not here (the key cannot spend it)."""
    vector = next(v for v in BIP137 if v["name"] == "forged-electrum-p2sh-holding-key-hash")
    assert vector["bitcoinjs_message_checkSegwitAlways"] is True
    with pytest.raises(VerificationError, match="p2sh"):
        verify_bip137(vector["address"], vector["message"], vector["signature"])


@pytest.mark.parametrize("vector", EIP2098, ids=lambda v: v["name"])
def test_eip2098_vectors(vector: dict[str, Any]) -> None:
    def verify(signature: str) -> Any:
        if vector["scheme"] == "eip191":
            return verify_personal_sign(vector["address"], vector["message"], signature)
        typed = eip712_challenge(vector["message"].encode(), vector["chain_id"])
        return verify_typed_data(vector["address"], typed, signature)

    if not vector["valid"]:
        error = FormatError if vector.get("malformed") else VerificationError
        with pytest.raises(error):
            verify(vector["signature"])
        return
    compact = verify(vector["signature"])
    assert compact.variant == "eip2098-compact"
    assert "0x" + compact.message_digest.hex() == vector["digest"]
    full = verify(vector["signature_65"])
    assert full.variant == "65-byte" and full.message_digest == compact.message_digest


def test_both_y_parities_are_covered() -> None:
    names = [v["name"] for v in EIP2098 if v["valid"]]
    assert {name.rsplit("yparity", 1)[1] for name in names} == {"0", "1"}


@pytest.mark.parametrize("vector", [v for v in EIP2098 if v["scheme"] == "eip712"
                                    and v["valid"]], ids=lambda v: v["name"])
def test_ethers_ready_typed_data_is_what_ethers_signed(vector: dict[str, Any]) -> None:
    """`.eip712-ethers.json` is exactly what ethers signed, and its digest is the digest of
    the eth_signTypedData_v4 form (`.eip712.json`)."""
    typed = eip712_challenge(vector["message"].encode(), vector["chain_id"])
    assert ethers_typed_data(typed) == vector["ethers_typed_data"]
    assert "EIP712Domain" not in ethers_typed_data(typed)["types"]


@pytest.mark.parametrize("vector", SOLANA, ids=lambda v: v["name"])
def test_solana_offchain_vectors(vector: dict[str, Any]) -> None:
    address, message = vector["address"], vector["message"].encode()
    signature = base58.b58decode(vector["signature"])
    envelope = base58.b58decode(vector["envelope"]) if "envelope" in vector else None
    if not vector["valid"]:
        with pytest.raises(VerificationError):
            verify_solana_offchain_message(address, message, signature)
        if envelope is not None:
            with pytest.raises(VerificationError):
                verify_solana_offchain_message(address, message, envelope)
        return
    if vector.get("valid_signature_alone") is False:
        with pytest.raises(VerificationError, match="anza-v0"):
            verify_solana_offchain_message(address, message, signature)
    else:
        proof = verify_solana_offchain_message(address, message, signature)
        assert proof.variant == vector["layout"]
        assert f"format {vector['format']}" in proof.detail
    if envelope is not None:
        proof = verify_solana_offchain_message(address, message, envelope)
        assert proof.variant == "anza-v0"
        assert vector["application_domain"] in proof.detail


@pytest.mark.parametrize("vector", [v for v in SOLANA if v["valid"]], ids=lambda v: v["name"])
def test_solana_signed_bytes_match_the_signer(vector: dict[str, Any]) -> None:
    """Our serializers produce byte for byte what @solana/kit and the CLI layout signed."""
    message = vector["message"].encode()
    key = decode_solana_address(vector["address"])
    if vector["layout"] == "cli-v0":
        ours = serialize_offchain_message(message)
    else:
        domain = base58.b58decode(vector["application_domain"])
        ours = serialize_anza_v0(message, key, vector["format"], domain)
    assert ours.hex() == vector["signed_bytes"]
    if "envelope" in vector:
        signatures, content = parse_anza_v0_envelope(base58.b58decode(vector["envelope"]))
        assert content.hex() == vector["signed_bytes"]
        assert signatures == (base58.b58decode(vector["signature"]),)


def test_solana_error_names_both_layouts() -> None:
    vector = next(v for v in SOLANA if v["name"] == "forged-anza-v0-other-message")
    with pytest.raises(VerificationError) as caught:
        verify_solana_offchain_message(vector["address"], vector["message"].encode(),
                                       base58.b58decode(vector["signature"]))
    text = str(caught.value)
    assert "cli-v0" in text and "anza-v0" in text and "application domain" in text


@pytest.mark.parametrize("cut", [1, 64, 100], ids=["count-only", "one-signature", "short"])
def test_truncated_envelope_is_malformed(cut: int) -> None:
    vector = next(v for v in SOLANA if "envelope" in v and v["valid"])
    envelope = base58.b58decode(vector["envelope"])[:cut]
    with pytest.raises(FormatError):
        verify_solana_offchain_envelope(vector["address"], vector["message"].encode(), envelope)
