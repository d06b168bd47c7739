"""Solana and other Ed25519 wallet signatures: base58 addresses, raw and off-chain messages.

Owns Ed25519 verification (pyca/cryptography, i.e. OpenSSL: strict RFC 8032 decoding,
``S < L`` enforced), Solana base58 address decoding (the ``base58`` package) and the
solana-sdk v0 off-chain message envelope.
"""

from __future__ import annotations

import hashlib

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.errors import FormatError, VerificationError
from verifier.signatures.proof import SignatureProof

ED25519_KEY_LENGTH = 32
ED25519_SIGNATURE_LENGTH = 64
_BASE58_ALPHABET = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")

# solana-sdk offchain-message v0, the layout of the published vectors
# (anza-xyz/solana-sdk offchain-message/src/lib.rs @122f32e): signing domain, version,
# format, u16 little-endian length, message.
OFFCHAIN_SIGNING_DOMAIN = b"\xffsolana offchain"
_OFFCHAIN_HEADER_LEN = len(OFFCHAIN_SIGNING_DOMAIN) + 1  # + version byte
_OFFCHAIN_V0_HEADER_LEN = 3  # format (1) + length (2)
_PACKET_DATA_SIZE = 1232  # solana_packet::PACKET_DATA_SIZE: what a Ledger can display
OFFCHAIN_V0_MAX_LEN = 0xFFFF - _OFFCHAIN_HEADER_LEN - _OFFCHAIN_V0_HEADER_LEN  # 65515
OFFCHAIN_V0_MAX_LEN_LEDGER = _PACKET_DATA_SIZE - _OFFCHAIN_HEADER_LEN - _OFFCHAIN_V0_HEADER_LEN
FORMAT_RESTRICTED_ASCII = 0
FORMAT_LIMITED_UTF8 = 1
FORMAT_EXTENDED_UTF8 = 2


def decode_solana_address(address: str) -> bytes:
    """Decode a Solana address (base58 of a 32-byte Ed25519 public key).

    The decoding must round-trip: an address with extra leading ``1`` characters or any
    character outside the alphabet (whitespace included) is refused, not repaired.

    Raises:
        FormatError: Not canonical base58, or not 32 bytes.
    """
    if not address or not set(address) <= _BASE58_ALPHABET:
        raise FormatError(f"Solana address {address!r}: characters outside base58")
    try:
        raw = base58.b58decode(address)
    except ValueError as e:  # pragma: no cover - alphabet already checked
        raise FormatError(f"Solana address {address!r}: base58 decoding failed: {e}") from e
    if len(raw) != ED25519_KEY_LENGTH or base58.b58encode(raw).decode() != address:
        raise FormatError(
            f"Solana address {address!r}: expected the canonical base58 of "
            f"{ED25519_KEY_LENGTH} bytes, found {len(raw)} bytes"
        )
    return raw


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> SignatureProof:
    """Verify an RFC 8032 Ed25519 signature over the message bytes themselves.

    Returns:
        A proof whose ``address`` is the hex public key (callers with an address format
        wrap this and put their address there).

    Raises:
        FormatError: The key is not 32 bytes or the signature not 64 bytes.
        VerificationError: The signature does not verify (including non-canonical S or R,
            and keys that are not valid curve points).
    """
    if len(public_key) != ED25519_KEY_LENGTH:
        raise FormatError(
            f"Ed25519 public key: expected {ED25519_KEY_LENGTH} bytes, found {len(public_key)}"
        )
    if len(signature) != ED25519_SIGNATURE_LENGTH:
        raise FormatError(
            f"Ed25519 signature: expected {ED25519_SIGNATURE_LENGTH} bytes, "
            f"found {len(signature)}"
        )
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(signature, message)
    except InvalidSignature as e:
        raise VerificationError(
            f"Ed25519 signature does not verify under key {public_key.hex()}"
        ) from e
    except ValueError as e:
        raise VerificationError(f"Ed25519 public key {public_key.hex()} is unusable: {e}") from e
    return SignatureProof(
        scheme="ed25519", address=public_key.hex(), signer_keys=(public_key,), detail="RFC 8032"
    )


def verify_solana_message(address: str, message: bytes, signature: bytes) -> SignatureProof:
    """Verify a wallet ``signMessage`` signature: plain Ed25519 over the raw message bytes.

    Raises:
        FormatError: Address or signature cannot be decoded.
        VerificationError: The signature does not verify under the address's key.
    """
    public_key = decode_solana_address(address)
    verify_ed25519(public_key, message, signature)
    return SignatureProof(
        scheme="solana-signmessage",
        address=address,
        signer_keys=(public_key,),
        detail="Ed25519 over the raw message bytes",
    )


def offchain_message_format(message: bytes) -> int:
    """Pick the v0 message format the way solana-sdk does.

    Raises:
        FormatError: Too long, or not UTF-8 where UTF-8 is required.
    """
    try:
        message.decode("utf-8")
        is_utf8 = True
    except UnicodeDecodeError:
        is_utf8 = False
    if len(message) <= OFFCHAIN_V0_MAX_LEN_LEDGER:
        if all(0x20 <= byte <= 0x7E for byte in message):
            return FORMAT_RESTRICTED_ASCII
        if is_utf8:
            return FORMAT_LIMITED_UTF8
    elif len(message) <= OFFCHAIN_V0_MAX_LEN and is_utf8:
        return FORMAT_EXTENDED_UTF8
    raise FormatError(
        f"off-chain message: {len(message)} bytes, UTF-8: {is_utf8}; expected UTF-8 of at "
        f"most {OFFCHAIN_V0_MAX_LEN} bytes"
    )


def serialize_offchain_message(message: bytes) -> bytes:
    """The bytes a Solana v0 off-chain message signature covers (legacy sdk layout).

    ``b"\\xffsolana offchain" || 0x00 (version) || format || u16-LE length || message``.

    Raises:
        FormatError: The message cannot be framed (see :func:`offchain_message_format`).
    """
    message_format = offchain_message_format(message)
    return (
        OFFCHAIN_SIGNING_DOMAIN
        + bytes([0, message_format])
        + len(message).to_bytes(2, "little")
        + message
    )


def offchain_message_hash(message: bytes) -> bytes:
    """sha256 of the serialized off-chain message (what the sdk shows as its hash).

    Raises:
        FormatError: The message cannot be framed.
    """
    return hashlib.sha256(serialize_offchain_message(message)).digest()


def verify_solana_offchain_message(
    address: str, message: bytes, signature: bytes
) -> SignatureProof:
    """Verify a ``solana sign-offchain-message`` signature (v0, legacy sdk layout).

    Raises:
        FormatError: Address, signature or message cannot be decoded or framed.
        VerificationError: The signature does not verify under the address's key.
    """
    public_key = decode_solana_address(address)
    serialized = serialize_offchain_message(message)
    verify_ed25519(public_key, serialized, signature)
    return SignatureProof(
        scheme="solana-offchain-v0",
        address=address,
        signer_keys=(public_key,),
        message_digest=hashlib.sha256(serialized).digest(),
        detail=f"format {serialized[17]}, {len(message)} message bytes",
    )
