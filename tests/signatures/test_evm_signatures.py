"""EIP-191, EIP-55 and EIP-712 published vectors, mutations, and the EIP-1271 seam."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from verifier.errors import FormatError, VerificationError
from verifier.signatures.evm import (
    checksum_address,
    decode_signature,
    personal_sign_digest,
    signable_digest,
    typed_data_signable,
    verify_digest,
    verify_eip1271_result,
    verify_personal_sign,
    verify_typed_data,
)

DATA = Path(__file__).parents[1] / "data" / "signatures"
EIP191 = json.loads((DATA / "eip191_personal_sign_vectors.json").read_text())
EIP55 = json.loads((DATA / "eip55_vectors.json").read_text())
EIP712 = json.loads((DATA / "eip712_vectors.json").read_text())


def _message(vector: dict[str, Any]) -> bytes:
    if "message_hex" in vector:
        return bytes.fromhex(vector["message_hex"].removeprefix("0x"))
    return str(vector["message_text"]).encode()


def _signature(vector: dict[str, Any]) -> str:
    if "signature" in vector:
        return str(vector["signature"])
    r, s = (int(str(vector[k]), 0) for k in ("r", "s"))
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([vector["v"]])).hex()


@pytest.mark.parametrize("vector", EIP191["hash_vectors"], ids=lambda v: v["expected_hash"][:10])
def test_eip191_hash_vector(vector: dict[str, Any]) -> None:
    assert "0x" + personal_sign_digest(_message(vector)).hex() == vector["expected_hash"]


@pytest.mark.parametrize(
    "vector", EIP191["signature_vectors"], ids=lambda v: v.get("note", v["message_text"])[:30]
)
def test_eip191_signature_vector(vector: dict[str, Any]) -> None:
    signer = vector.get("expected_signer") or Account.from_key(vector["private_key"]).address
    assert vector["expected_valid"]
    proof = verify_personal_sign(signer, _message(vector), _signature(vector))
    assert proof.address == signer
    if "expected_hash" in vector:
        assert proof.message_digest is not None
        assert "0x" + proof.message_digest.hex() == vector["expected_hash"]


def test_eip191_vector_counts() -> None:
    assert len(EIP191["hash_vectors"]) == 8 and len(EIP191["signature_vectors"]) == 4


SIGNED = EIP191["signature_vectors"][1]  # "10284", leading-zero r and s


def test_eip191_wrong_message_fails() -> None:
    with pytest.raises(VerificationError, match="recovers"):
        verify_personal_sign(SIGNED["expected_signer"], b"10285", SIGNED["signature"])


def test_eip191_wrong_signer_fails() -> None:
    with pytest.raises(VerificationError):
        verify_personal_sign("0x" + "11" * 20, _message(SIGNED), SIGNED["signature"])


@pytest.mark.parametrize(
    "signature",
    [SIGNED["signature"][:-2] + "1d", SIGNED["signature"][:-4], "0xzz", SIGNED["signature"] + "0"],
    ids=["v=29", "truncated-to-63-bytes", "not-hex", "odd-length"],
)
def test_eip191_malformed_signature_is_format_error(signature: str) -> None:
    with pytest.raises(FormatError):
        verify_personal_sign(SIGNED["expected_signer"], _message(SIGNED), signature)


def test_eip191_64_bytes_is_read_as_eip2098_compact() -> None:
    """A 65-byte signature cut to 64 bytes reads as EIP-2098 r || yParityAndS (spec §11.6):
    with a low s the top bit is 0, so it is the compact form of the v = 27 signature and
    verifies exactly when the original v was 27; with v = 28 it needs the parity bit set."""
    raw = bytes.fromhex(SIGNED["signature"].removeprefix("0x"))
    cut = raw[:64]
    if raw[64] in (0, 27):
        assert verify_personal_sign(SIGNED["expected_signer"], _message(SIGNED), cut).variant \
            == "eip2098-compact"
    else:
        with pytest.raises(VerificationError):
            verify_personal_sign(SIGNED["expected_signer"], _message(SIGNED), cut)
    compact = raw[:32] + bytes([raw[32] | (0x80 if raw[64] in (1, 28) else 0)]) + raw[33:64]
    assert verify_personal_sign(SIGNED["expected_signer"], _message(SIGNED), compact).variant \
        == "eip2098-compact"


def test_eip191_zero_r_is_verification_error() -> None:
    signature = "0x" + "00" * 64 + "1b"
    with pytest.raises(VerificationError):
        verify_personal_sign(SIGNED["expected_signer"], _message(SIGNED), signature)


def test_decode_signature_normalizes_v() -> None:
    v, _, _ = decode_signature(bytes(64) + b"\x01")
    assert v == 28


# --- EIP-55 ---------------------------------------------------------------------------

ERC55 = EIP55["erc55_spec"]["addresses"]
ETHERS_ACCOUNTS = EIP55["ethers_accounts"]["vectors"]


@pytest.mark.parametrize("address", ERC55)
def test_erc55_spec_address_is_valid(address: str) -> None:
    assert checksum_address(address) == address


@pytest.mark.parametrize("vector", ETHERS_ACCOUNTS, ids=lambda v: v["name"])
def test_ethers_account_checksum(vector: dict[str, Any]) -> None:
    address = vector["address"]
    assert Account.from_key(vector["privateKey"]).address == address
    assert checksum_address(address) == address
    assert checksum_address(address.lower()) == address  # no checksum to check
    flipped = _flip_one_letter(address)
    if flipped is not None:
        with pytest.raises(FormatError, match="EIP-55"):
            checksum_address(flipped)


def _flip_one_letter(address: str) -> str | None:
    """Swap the case of the first hex letter, unless that makes the address single-case."""
    body = address[2:]
    for i, char in enumerate(body):
        if char.isalpha():
            mutated = body[:i] + char.swapcase() + body[i + 1 :]
            if mutated not in (mutated.lower(), mutated.upper()):
                return "0x" + mutated
    return None


def test_eip55_vector_counts() -> None:
    assert len(ERC55) == 8 and len(ETHERS_ACCOUNTS) == EIP55["ethers_accounts"]["count"] == 259


@pytest.mark.parametrize(
    "address", ["0x" + "a" * 39, "52908400098527886E0F7030069857D2E4169EE7", "0X" + "a" * 40,
                "0x" + "g" * 40, " 0x" + "a" * 40],
    ids=["short", "no-0x", "upper-0X", "not-hex", "leading-space"],
)
def test_malformed_evm_address(address: str) -> None:
    with pytest.raises(FormatError):
        checksum_address(address)


# --- EIP-712 --------------------------------------------------------------------------

_DOMAIN_FIELDS = [("name", "string"), ("version", "string"), ("chainId", "uint256"),
                  ("verifyingContract", "address"), ("salt", "bytes32")]


def _full_message(domain: dict[str, Any], types: dict[str, Any], primary: str,
                  message: dict[str, Any]) -> dict[str, Any]:
    """Vectors omit EIP712Domain from types (ethers derives it); add it in EIP-712 order."""
    all_types = dict(types)
    all_types.setdefault(
        "EIP712Domain", [{"name": n, "type": t} for n, t in _DOMAIN_FIELDS if n in domain]
    )
    return {"types": all_types, "primaryType": primary, "domain": domain, "message": message}


SPEC = EIP712["spec_example"]


def test_eip712_spec_example() -> None:
    data = SPEC["typed_data"]
    full = _full_message(data["domain"], data["types"], data["primaryType"], data["data"])
    proof = verify_typed_data(checksum_address(SPEC["signer"]), full, data["signature"])
    assert proof.message_digest is not None
    assert "0x" + proof.message_digest.hex() == SPEC["digest"]
    signable = typed_data_signable(full)
    assert "0x" + signable.header.hex() == SPEC["hashStruct_domain"]
    assert "0x" + signable.body.hex() == SPEC["hashStruct_message"]


@pytest.mark.parametrize("vector", EIP712["eth_account_signed"], ids=["mail", "mail-with-cc"])
def test_eip712_eth_account_signed(vector: dict[str, Any]) -> None:
    full = _full_message(vector["domain"], vector["types"], vector["primaryType"],
                         vector["message"])
    assert verify_typed_data(vector["signer"], full, vector["expected_signature"])


ETHERS_TYPED = EIP712["ethers_typed_data"]["vectors"]


@pytest.mark.parametrize("vector", ETHERS_TYPED, ids=lambda v: v["name"])
def test_eip712_ethers_digest(vector: dict[str, Any]) -> None:
    full = _full_message(vector["domain"], vector["types"], vector["primaryType"], vector["data"])
    assert "0x" + signable_digest(typed_data_signable(full)).hex() == vector["digest"]
    if "signature" in vector:
        signer = Account.from_key(vector["privateKey"]).address
        assert verify_typed_data(signer, full, vector["signature"]).address == signer


def test_eip712_vector_counts() -> None:
    assert len(ETHERS_TYPED) == 130
    assert sum("signature" in v for v in ETHERS_TYPED) == 1


def test_eip712_tampered_message_fails() -> None:
    data = SPEC["typed_data"]
    message = dict(data["data"], contents="Hello, Eve!")
    full = _full_message(data["domain"], data["types"], data["primaryType"], message)
    with pytest.raises(VerificationError):
        verify_typed_data(SPEC["signer"], full, data["signature"])


def test_eip712_malformed_typed_data_is_format_error() -> None:
    with pytest.raises(FormatError):
        verify_typed_data(SPEC["signer"], {"types": {}, "primaryType": "Mail"}, "0x" + "00" * 65)


# --- EIP-1271 seam ----------------------------------------------------------------------

def test_eip1271_magic_value_accepted() -> None:
    magic = bytes.fromhex("1626ba7e") + bytes(28)
    proof = verify_eip1271_result("0x" + "ab" * 20, bytes(32), magic)
    assert proof.scheme == "eip1271"


@pytest.mark.parametrize("returned", [b"", bytes(32), bytes.fromhex("1626ba7e"),
                                      bytes.fromhex("ffffffff") + bytes(28)])
def test_eip1271_anything_else_fails(returned: bytes) -> None:
    with pytest.raises(VerificationError):
        verify_eip1271_result("0x" + "ab" * 20, bytes(32), returned)


def test_verify_digest_matches_personal_sign_and_rejects_other_digests() -> None:
    digest = personal_sign_digest(_message(SIGNED))
    proof = verify_digest(SIGNED["expected_signer"], digest, SIGNED["signature"], "custom")
    assert proof.scheme == "custom" and len(proof.signer_keys[0]) == 33
    with pytest.raises(VerificationError):
        verify_digest(SIGNED["expected_signer"], bytes(32), SIGNED["signature"], "custom")
    with pytest.raises(FormatError):
        verify_digest(SIGNED["expected_signer"], bytes(31), SIGNED["signature"], "custom")
