"""Ed25519 (RFC 8032, sign.input, Wycheproof) and Solana address / off-chain message vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier.errors import FormatError, VerificationError
from verifier.signatures.solana import (
    _check_anza_v0_content,
    decode_solana_address,
    offchain_message_format,
    offchain_message_hash,
    serialize_anza_v0,
    serialize_offchain_message,
    verify_ed25519,
    verify_solana_message,
    verify_solana_offchain_message,
)

DATA = Path(__file__).parents[1] / "data" / "signatures"
RFC8032 = json.loads((DATA / "ed25519_rfc8032_vectors.json").read_text())["vectors"]
SIGN_INPUT = json.loads((DATA / "ed25519_sign_input_vectors.json").read_text())["vectors"]
WYCHEPROOF = json.loads((DATA / "ed25519_wycheproof_flat.json").read_text())["vectors"]
OFFCHAIN = json.loads((DATA / "solana_offchain_message_vectors.json").read_text())


def _check(vector: dict[str, Any], expected_valid: bool) -> None:
    args = (bytes.fromhex(vector[k]) for k in ("public_key", "message", "signature"))
    if expected_valid:
        assert verify_ed25519(*args).scheme == "ed25519"
    else:
        with pytest.raises((FormatError, VerificationError)):
            verify_ed25519(*args)


@pytest.mark.parametrize("vector", RFC8032, ids=lambda v: v["name"])
def test_rfc8032_vector(vector: dict[str, Any]) -> None:
    _check(vector, vector["expected_valid"])


@pytest.mark.parametrize("vector", SIGN_INPUT, ids=lambda v: f"line{v['line']}")
def test_sign_input_vector(vector: dict[str, Any]) -> None:
    _check(vector, vector["expected_valid"])


@pytest.mark.parametrize(
    "vector", WYCHEPROOF, ids=lambda v: f"tc{v['tcId']}-{'-'.join(v['flags'])}"
)
def test_wycheproof_vector(vector: dict[str, Any]) -> None:
    assert vector["result"] in ("valid", "invalid")  # no "acceptable" cases in this file
    _check(vector, vector["result"] == "valid")


def test_ed25519_vector_counts() -> None:
    assert (len(RFC8032), len(SIGN_INPUT), len(WYCHEPROOF)) == (4, 128, 151)
    assert sum(v["result"] == "invalid" for v in WYCHEPROOF) == 63


@pytest.mark.parametrize("vector", SIGN_INPUT[:8], ids=lambda v: f"line{v['line']}")
def test_sign_input_mutated_message_fails(vector: dict[str, Any]) -> None:
    message = bytes.fromhex(vector["message"]) + b"\x00"
    with pytest.raises(VerificationError):
        verify_ed25519(bytes.fromhex(vector["public_key"]), message,
                       bytes.fromhex(vector["signature"]))


@pytest.mark.parametrize("vector", OFFCHAIN["vectors"], ids=lambda v: f"format{v['format']}")
def test_offchain_message_serialization(vector: dict[str, Any]) -> None:
    message = vector["message_utf8"].encode()
    assert offchain_message_format(message) == vector["format"]
    assert serialize_offchain_message(message).hex() == vector["serialized_hex"]
    assert base58.b58encode(offchain_message_hash(message)).decode() == vector["sha256_base58"]


def test_offchain_kit_preamble_example() -> None:
    """anza-xyz/kit's published preamble (3 signers, format 0): our anza-v0 layout puts the
    same fields at the same offsets, and a multi-signer message never proves one wallet."""
    example = bytes.fromhex(OFFCHAIN["kit_preamble_example"]["bytes_hex"])
    domain, message_format, count = example[17:49], example[49], example[50]
    assert (message_format, count) == (0, 3)
    signer = example[51:83]
    ours = serialize_anza_v0(b"x", signer, 0, domain)
    assert ours[:51] == example[:49] + bytes([0, 1])
    with pytest.raises(VerificationError, match="3 signers"):
        _check_anza_v0_content(example + b"x", signer, b"x")


def _keypair(seed: int) -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, base58.b58encode(public).decode()


def test_offchain_message_generate_then_verify() -> None:
    """No published *signed* off-chain vector exists (see SOURCES.md): sign one here."""
    key, address = _keypair(7)
    message = "Тестовое сообщение".encode()
    signature = key.sign(serialize_offchain_message(message))
    proof = verify_solana_offchain_message(address, message, signature)
    assert proof.message_digest == offchain_message_hash(message)
    with pytest.raises(VerificationError):
        verify_solana_offchain_message(address, message + b"!", signature)
    with pytest.raises(VerificationError):  # a signMessage signature is not an off-chain one
        verify_solana_offchain_message(address, message, key.sign(message))


def test_solana_sign_message() -> None:
    key, address = _keypair(9)
    assert verify_solana_message(address, b"hi", key.sign(b"hi")).address == address
    _, other = _keypair(10)
    with pytest.raises(VerificationError):
        verify_solana_message(other, b"hi", key.sign(b"hi"))


@pytest.mark.parametrize(
    "address",
    ["", "0OIl" * 8, "1" + "11111111111111111111111111111111", "3yZe7d", " " + "1" * 32],
    ids=["empty", "bad-alphabet", "non-canonical-33-chars", "short", "whitespace"],
)
def test_malformed_solana_address(address: str) -> None:
    with pytest.raises(FormatError):
        decode_solana_address(address)


@pytest.mark.parametrize(("key_len", "sig_len"), [(31, 64), (32, 63), (33, 64), (32, 65)])
def test_wrong_lengths_are_format_errors(key_len: int, sig_len: int) -> None:
    with pytest.raises(FormatError):
        verify_ed25519(bytes(key_len), b"", bytes(sig_len))


def test_offchain_message_too_long_or_not_utf8() -> None:
    with pytest.raises(FormatError):
        serialize_offchain_message(b"\xff" * 10)
    with pytest.raises(FormatError):
        serialize_offchain_message(b"a" * 65516)
    assert offchain_message_format(b"a" * 2000) == 2
