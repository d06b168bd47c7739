"""TRON message signatures: base58check ``T...`` addresses and TIP-191 style signed messages.

TRON uses Ethereum's key and signature scheme (secp256k1 over keccak256) with its own
message prefix and a Base58Check address of ``0x41 || keccak256(pubkey)[12:]``. Recovery is
coincurve's; address encoding the ``base58`` package's.
"""

from __future__ import annotations

from typing import Literal

import base58
import coincurve
from eth_utils.crypto import keccak

from verifier.errors import FormatError, VerificationError
from verifier.signatures.evm import decode_signature
from verifier.signatures.proof import SignatureProof

TRON_ADDRESS_PREFIX = 0x41
_BASE58_ALPHABET = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
TronVariant = Literal["v1-hash32", "v2"]


def decode_tron_address(address: str) -> bytes:
    """Decode a TRON address to its 21 bytes (``0x41`` || 20-byte account hash).

    Raises:
        FormatError: Not Base58Check, wrong length, or not the 0x41 prefix.
    """
    if not address or not set(address) <= _BASE58_ALPHABET:
        raise FormatError(f"TRON address {address!r}: characters outside base58")
    try:
        raw = base58.b58decode_check(address)
    except ValueError as e:
        raise FormatError(f"TRON address {address!r}: Base58Check decoding failed: {e}") from e
    if len(raw) != 21 or raw[0] != TRON_ADDRESS_PREFIX:
        raise FormatError(
            f"TRON address {address!r}: expected 0x41 + 20 bytes, found {len(raw)} bytes "
            f"starting 0x{raw[:1].hex()}"
        )
    return raw


def tron_address_from_public_key(public_key: bytes) -> str:
    """The TRON address of a secp256k1 public key (any SEC1 encoding)."""
    uncompressed = coincurve.PublicKey(public_key).format(compressed=False)
    account = bytes([TRON_ADDRESS_PREFIX]) + keccak(uncompressed[1:])[12:]
    return str(base58.b58encode_check(account).decode())


def tron_message_digest(message: bytes, variant: TronVariant) -> bytes:
    """The digest a TRON wallet signs for ``message``.

    ``v1-hash32``: keccak256("\\x19TRON Signed Message:\\n32" || keccak256(message)) (the
    legacy ``signMessage`` over a hash, as in OKX's files); ``v2``: keccak256("\\x19TRON
    Signed Message:\\n" || len(message) || message) (TronWeb ``signMessageV2``).
    """
    if variant == "v1-hash32":
        return bytes(keccak(b"\x19TRON Signed Message:\n32" + keccak(message)))
    return bytes(keccak(b"\x19TRON Signed Message:\n" + str(len(message)).encode() + message))


def verify_tron_message(
    address: str, message: bytes, signature: bytes | str, variant: TronVariant = "v2"
) -> SignatureProof:
    """Verify a TRON signed message (r || s || v, hex or bytes) by ``address``.

    Raises:
        FormatError: Address or signature cannot be decoded.
        VerificationError: The signature recovers another address (or none).
    """
    decode_tron_address(address)
    v, r, s = decode_signature(signature)
    digest = tron_message_digest(message, variant)
    rs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            rs + bytes([v - 27]), digest, hasher=None
        )
    except (ValueError, TypeError, RuntimeError) as e:
        raise VerificationError(f"no public key can be recovered from the signature: {e}") from e
    public_key = bytes(key.format(compressed=True))
    recovered = tron_address_from_public_key(public_key)
    if recovered != address:
        raise VerificationError(
            f"TRON {variant} signature recovers {recovered}, expected {address}"
        )
    return SignatureProof(
        scheme=f"tron-{variant}",
        address=address,
        signer_keys=(public_key,),
        message_digest=digest,
        detail=f"TRON signed message {variant}",
    )
