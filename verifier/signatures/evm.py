"""EVM wallet signatures: EIP-55 addresses, EIP-191 personal_sign, EIP-712 typed data.

Owns the secp256k1/keccak signature checks of EVM chains (and the seam for EIP-1271
contract wallets, whose ``isValidSignature`` call is made elsewhere, by a chain client).
Hashing and recovery are eth-account's; nothing here talks to a node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from eth_abi.exceptions import EncodingError
from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct, encode_typed_data
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from verifier.errors import FormatError, VerificationError
from verifier.signatures.eip55 import checksum_address as checksum_address
from verifier.signatures.proof import SignatureProof

_HEX_RE = re.compile(r"(0x)?[0-9a-fA-F]*")
SIGNATURE_LENGTH = 65  # r (32) || s (32) || v (1)
COMPACT_SIGNATURE_LENGTH = 64  # EIP-2098: r (32) || yParity (1 bit) + s (255 bits)
# EIP-1271: isValidSignature(bytes32,bytes) returns this selector when the signature is valid.
EIP1271_MAGIC_VALUE = bytes.fromhex("1626ba7e")


def _signature_bytes(signature: bytes | str) -> bytes:
    if isinstance(signature, bytes):
        return signature
    if not _HEX_RE.fullmatch(signature):
        raise FormatError(f"EVM signature {signature[:20]!r}...: not hex")
    text = signature[2:] if signature.startswith("0x") else signature
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise FormatError(f"EVM signature: odd-length hex ({len(text)} digits)") from e


def decode_signature(signature: bytes | str) -> tuple[int, int, int]:
    """Split a signature (bytes, or hex with optional 0x) into (v, r, s).

    Two encodings (spec §11.6): 65 bytes ``r || s || v``, and the 64-byte EIP-2098 compact
    form ``r || yParityAndS``, whose top bit is the y parity (v = 27 + parity) and whose
    other 255 bits are ``s``. ``v`` is returned normalized to 27/28; 0/1 are accepted as
    the same recovery ids. Use :func:`signature_encoding` to name the form that was given.

    Raises:
        FormatError: Not hex, neither 64 nor 65 bytes, or ``v`` not in {0, 1, 27, 28}.
    """
    raw = _signature_bytes(signature)
    if len(raw) == COMPACT_SIGNATURE_LENGTH:
        y_parity_and_s = int.from_bytes(raw[32:], "big")
        return 27 + (y_parity_and_s >> 255), int.from_bytes(raw[:32], "big"), (
            y_parity_and_s & ((1 << 255) - 1))
    if len(raw) != SIGNATURE_LENGTH:
        raise FormatError(
            f"EVM signature: expected {SIGNATURE_LENGTH} bytes (r || s || v) or "
            f"{COMPACT_SIGNATURE_LENGTH} (EIP-2098 r || yParityAndS), found {len(raw)}"
        )
    v = raw[64]
    if v not in (0, 1, 27, 28):
        raise FormatError(f"EVM signature: v = {v}, expected 27 or 28 (or 0 or 1)")
    return (v + 27 if v < 27 else v), int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64])


def signature_encoding(signature: bytes | str) -> str:
    """``"eip2098-compact"`` for a 64-byte signature, else ``"65-byte"`` (for reports).

    Raises:
        FormatError: Not hex.
    """
    compact = len(_signature_bytes(signature)) == COMPACT_SIGNATURE_LENGTH
    return "eip2098-compact" if compact else "65-byte"


def signable_digest(signable: SignableMessage) -> bytes:
    """The 32-byte EIP-191 digest: keccak256(0x19 || version || header || body)."""
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def _recover(signable: SignableMessage, signature: bytes | str) -> str:
    vrs = decode_signature(signature)
    try:
        recovered: str = Account.recover_message(signable, vrs=vrs)
    except (BadSignature, ValidationError, ValueError) as e:
        raise VerificationError(f"no public key can be recovered from the signature: {e}") from e
    return recovered


def _check_signer(scheme: str, address: str, signable: SignableMessage, sig: bytes | str) -> str:
    expected = checksum_address(address)
    recovered = _recover(signable, sig)
    if recovered != expected:
        raise VerificationError(
            f"{scheme}: signature recovers {recovered}, expected {expected}"
        )
    return expected


def personal_sign_digest(message: bytes) -> bytes:
    """The EIP-191 version 0x45 digest of ``message`` (what personal_sign signs)."""
    return signable_digest(encode_defunct(primitive=message))


def verify_personal_sign(
    address: str, message: bytes | str, signature: bytes | str
) -> SignatureProof:
    """Verify an EIP-191 ``personal_sign`` signature by ``address`` over ``message``.

    Signed bytes: ``"\\x19Ethereum Signed Message:\\n" + len(message) + message``. A ``str``
    message is encoded as UTF-8 (a hex-looking string is text, not bytes). High-s values are
    accepted, as ``ecrecover`` does: malleability does not weaken a proof of control.

    Raises:
        FormatError: Address or signature cannot be decoded.
        VerificationError: The signature recovers another address (or none).
    """
    data = message.encode("utf-8") if isinstance(message, str) else message
    signable = encode_defunct(primitive=data)
    checked = _check_signer("EIP-191 personal_sign", address, signable, signature)
    return SignatureProof(
        scheme="eip191",
        address=checked,
        message_digest=signable_digest(signable),
        detail=f"personal_sign over {len(data)} message bytes",
        variant=signature_encoding(signature),
    )


def typed_data_signable(typed_data: Mapping[str, Any]) -> SignableMessage:
    """Encode an ``eth_signTypedData_v4`` document (types, primaryType, domain, message).

    Raises:
        FormatError: The document is not valid EIP-712 typed data.
    """
    try:
        return encode_typed_data(full_message=dict(typed_data))
    except (ValueError, TypeError, KeyError, EncodingError, ValidationError) as e:
        raise FormatError(f"EIP-712 typed data cannot be encoded: {e}") from e


def ethers_typed_data(typed_data: Mapping[str, Any]) -> dict[str, Any]:
    """The same typed data in the form ethers v6 ``signTypedData(domain, types, value)`` takes.

    ethers derives the domain's type from ``domain`` and refuses ``types`` that contain
    ``EIP712Domain`` ("ambiguous primary types or unused types"), so it is left out; the
    signed digest is the same (the vectors from ethers check this).

    Raises:
        FormatError: not a typed-data document (no ``types``/``domain``/``message``).
    """
    try:
        types = {k: v for k, v in typed_data["types"].items() if k != "EIP712Domain"}
        return {"domain": typed_data["domain"], "types": types,
                "primaryType": typed_data["primaryType"], "message": typed_data["message"]}
    except (KeyError, TypeError, AttributeError) as e:
        raise FormatError(f"EIP-712 typed data: expected types, domain, primaryType and "
                          f"message: {e}") from e


def verify_digest(
    address: str, digest: bytes, signature: bytes | str, scheme: str
) -> SignatureProof:
    """Verify a secp256k1 signature over a 32-byte digest framed by the caller's ``scheme``.

    For exchange-specific framings (e.g. OKX's ``keccak256(varstr(prefix) || varstr(msg))``)
    that are not EIP-191; prefer :func:`verify_personal_sign` for wallet signatures.

    Raises:
        FormatError: Address, digest or signature cannot be decoded.
        VerificationError: The signature recovers another address (or none).
    """
    expected = checksum_address(address)
    if len(digest) != 32:
        raise FormatError(f"{scheme}: digest must be 32 bytes, found {len(digest)}")
    v, r, s = decode_signature(signature)
    try:
        public_key = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError, ValueError) as e:
        raise VerificationError(f"no public key can be recovered from the signature: {e}") from e
    recovered = str(public_key.to_checksum_address())
    if recovered != expected:
        raise VerificationError(f"{scheme}: signature recovers {recovered}, expected {expected}")
    return SignatureProof(
        scheme=scheme,
        address=expected,
        signer_keys=(bytes(public_key.to_compressed_bytes()),),
        message_digest=digest,
    )


def verify_typed_data(
    address: str, typed_data: Mapping[str, Any], signature: bytes | str
) -> SignatureProof:
    """Verify an EIP-712 (``eth_signTypedData_v4``) signature by ``address``.

    Raises:
        FormatError: Address, signature or typed data cannot be decoded.
        VerificationError: The signature recovers another address (or none).
    """
    signable = typed_data_signable(typed_data)
    checked = _check_signer("EIP-712", address, signable, signature)
    return SignatureProof(
        scheme="eip712",
        address=checked,
        message_digest=signable_digest(signable),
        detail=f"primaryType {typed_data.get('primaryType')!r}",
        variant=signature_encoding(signature),
    )


def verify_eip1271_result(address: str, digest: bytes, return_data: bytes) -> SignatureProof:
    """Judge the return data of ``isValidSignature(digest, signature)`` on a contract wallet.

    The call itself needs a chain node and is made by the caller; this function only
    decides, failing closed, whether what the contract returned means "valid".

    Raises:
        FormatError: The address is malformed or ``digest`` is not 32 bytes.
        VerificationError: The contract did not return the EIP-1271 magic value 0x1626ba7e
            (as a left-aligned ``bytes4`` in a 32-byte word).
    """
    checked = checksum_address(address)
    if len(digest) != 32:
        raise FormatError(f"EIP-1271 digest: expected 32 bytes, found {len(digest)}")
    expected = EIP1271_MAGIC_VALUE + bytes(28)
    if return_data != expected:
        raise VerificationError(
            f"EIP-1271 {checked}: isValidSignature returned {return_data.hex() or 'nothing'}, "
            f"expected {expected.hex()}"
        )
    return SignatureProof(
        scheme="eip1271", address=checked, message_digest=digest, detail="contract said valid"
    )


# Safe (Gnosis Safe) contract wallets: what their owners sign for EIP-1271 (Safe v1.4.1,
# CompatibilityFallbackHandler.getMessageHashForSafe). isValidSignature(dataHash, sigs) on a
# Safe checks owner signatures of this hash, not of dataHash itself.
SAFE_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_MESSAGE_TYPEHASH = keccak(text="SafeMessage(bytes message)")


def safe_message_typed_data(safe: str, chain_id: int, data_hash: bytes) -> dict[str, Any]:
    """The EIP-712 ``SafeMessage`` its owners sign so that a Safe accepts ``data_hash``.

    ``{"types": {"EIP712Domain": [chainId, verifyingContract], "SafeMessage": [{"message":
    "bytes"}]}, "domain": {"chainId", "verifyingContract": safe}, "message": {"message":
    data_hash}}``, as Safe{Wallet} asks owners to sign it with ``eth_signTypedData_v4``.

    Raises:
        FormatError: the address is malformed or ``data_hash`` is not 32 bytes.
    """
    checked = checksum_address(safe)
    if len(data_hash) != 32:
        raise FormatError(f"SafeMessage: expected a 32-byte hash, found {len(data_hash)} bytes")
    return {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "SafeMessage": [{"name": "message", "type": "bytes"}],
        },
        "primaryType": "SafeMessage",
        "domain": {"chainId": chain_id, "verifyingContract": checked},
        "message": {"message": "0x" + data_hash.hex()},
    }


def safe_message_hash(safe: str, chain_id: int, data_hash: bytes) -> bytes:
    """Safe's message hash of ``data_hash`` (what the owners of Safe ``safe`` sign).

    ``keccak256(0x19 0x01 || keccak256(abi.encode(DOMAIN_TYPEHASH, chainId, safe)) ||
    keccak256(abi.encode(SAFE_MESSAGE_TYPEHASH, keccak256(data_hash))))``, computed here
    byte by byte (the tests check it against eth-account's EIP-712 encoder and a contract).

    Raises:
        FormatError: the address is malformed or ``data_hash`` is not 32 bytes.
    """
    checked = checksum_address(safe)
    if len(data_hash) != 32:
        raise FormatError(f"SafeMessage: expected a 32-byte hash, found {len(data_hash)} bytes")
    domain = keccak(SAFE_DOMAIN_TYPEHASH + chain_id.to_bytes(32, "big")
                    + bytes(12) + bytes.fromhex(checked[2:]))
    struct = keccak(SAFE_MESSAGE_TYPEHASH + keccak(data_hash))
    return bytes(keccak(b"\x19\x01" + domain + struct))
