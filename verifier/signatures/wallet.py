"""One wallet's ownership signature under a named scheme of spec §11.1: the one dispatch.

``por reserves import-signatures`` calls :func:`verify_wallet_signature` before it writes
anything, so a signature is refused at import by the same rules ``por-verify`` applies.
Contract wallets (``eip1271``) are not here: their contract judges the signature at the
snapshot block, which needs a node (see :func:`verifier.signatures.evm.verify_eip1271_result`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import base58

from verifier.errors import FormatError
from verifier.signatures.bip322 import verify_bip322
from verifier.signatures.bitcoin import BitcoinNetwork, verify_bip137, verify_multisig_bip137
from verifier.signatures.evm import verify_personal_sign, verify_typed_data
from verifier.signatures.proof import SignatureProof
from verifier.signatures.solana import verify_solana_message, verify_solana_offchain_message

# Schemes checked without a node (spec §11.1); ``eip1271`` needs one.
OFFLINE_SCHEMES = (
    "bip137", "bip322", "bip137-multisig", "eip191", "eip712", "solana-offchain", "ed25519",
)
_BASE58_ALPHABET = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
# A 64-byte signature is 88 base58 characters at most; an anza-v0 envelope of a challenge
# (1 + 64 + 85 + ~700 bytes) about 1200. The bound keeps base58's quadratic decoding cheap.
MAX_BASE58_VALUE = 4096


def decode_base58_signature(value: str) -> bytes:
    """Decode a base58 Ed25519 signature or anza-v0 envelope (as Solana tools print them).

    Raises:
        FormatError: empty, longer than :data:`MAX_BASE58_VALUE`, or not base58.
    """
    if not value or len(value) > MAX_BASE58_VALUE or not set(value) <= _BASE58_ALPHABET:
        raise FormatError(
            f"Ed25519 signature {value[:16]!r}...: expected base58 of 64 bytes (or of an "
            f"anza-v0 envelope), at most {MAX_BASE58_VALUE} characters"
        )
    return bytes(base58.b58decode(value))


def verify_wallet_signature(
    scheme: str,
    address: str,
    message: bytes,
    value: str | tuple[str, ...],
    *,
    bitcoin_network: BitcoinNetwork | None = None,
    typed_data: Mapping[str, Any] | None = None,
    redeem_script: bytes | None = None,
) -> SignatureProof:
    """Verify ``value`` as ``address``'s signature of ``message`` under ``scheme``.

    Args:
        scheme: One of :data:`OFFLINE_SCHEMES`.
        address: The wallet's address in canonical form.
        message: The exact bytes that were to be signed (the §11.2 challenge).
        value: The signature as the reserves file carries it; a list for
            ``bip137-multisig`` only.
        bitcoin_network: Required for the Bitcoin-family schemes.
        typed_data: Required for ``eip712``: the typed data whose ``challenge`` is
            ``message`` (spec §11.2).
        redeem_script: Required for ``bip137-multisig``.

    Returns:
        The proof; its ``variant`` names the encoding that verified (spec §11.6).

    Raises:
        FormatError: an unknown scheme, a missing argument for it, or a value that cannot
            be decoded.
        VerificationError: the signature does not verify.
    """
    if scheme not in OFFLINE_SCHEMES:
        raise FormatError(f"signature scheme {scheme!r}: expected one of {list(OFFLINE_SCHEMES)}"
                          " (eip1271 is judged by the contract, with a node)")
    if scheme == "bip137-multisig":
        if not isinstance(value, tuple):
            raise FormatError("bip137-multisig: expected a list of signatures")
        if redeem_script is None or bitcoin_network is None:
            raise FormatError("bip137-multisig: needs the redeem script and the network")
        return verify_multisig_bip137(address, message, value, redeem_script, bitcoin_network)
    if not isinstance(value, str):
        raise FormatError(f"{scheme}: expected one signature string, found a list")
    if scheme in ("bip137", "bip322"):
        if bitcoin_network is None:
            raise FormatError(f"{scheme}: needs the Bitcoin-family network")
        verify = verify_bip137 if scheme == "bip137" else verify_bip322
        return verify(address, message, value, bitcoin_network)
    if scheme == "eip191":
        return verify_personal_sign(address, message, value)
    if scheme == "eip712":
        if typed_data is None:
            raise FormatError("eip712: needs the challenge's typed data")
        return verify_typed_data(address, typed_data, value)
    signature = decode_base58_signature(value)
    if scheme == "solana-offchain":
        return verify_solana_offchain_message(address, message, signature)
    return verify_solana_message(address, message, signature)
