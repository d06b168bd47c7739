"""What a verified wallet-ownership signature proves: the one result type of this package.

Every ``verify_*`` function of :mod:`verifier.signatures` raises on failure and returns a
:class:`SignatureProof` on success, so a caller can never forget to test a bare ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignatureProof:
    """A signature (or set of signatures) that verified, and what it binds.

    Attributes:
        scheme: The exact rule that verified, e.g. ``"bip137"``, ``"bip322-simple"``,
            ``"eip191"``, ``"eip712"``, ``"btc-multisig-bip137"``, ``"ed25519"``.
        address: The address whose control was proven, as given (EVM: EIP-55 checksummed).
        signer_keys: The public keys that signed, as bytes (compressed SEC1 for secp256k1,
            32 raw bytes for Ed25519); empty when the scheme does not expose them.
        message_digest: The 32-byte digest that was signed, when the scheme signs a digest;
            ``None`` when the signature covers the message bytes themselves (Ed25519).
        detail: A short human note, e.g. which header range or variant matched.
        variant: Which accepted encoding of the scheme matched, for reports (spec §11.6):
            ``"strict"`` or ``"electrum-segwit"`` (BIP-137), ``"65-byte"`` or
            ``"eip2098-compact"`` (EVM), ``"cli-v0"`` or ``"anza-v0"`` (Solana off-chain);
            empty when the scheme has one encoding.
    """

    scheme: str
    address: str
    signer_keys: tuple[bytes, ...] = ()
    message_digest: bytes | None = None
    detail: str = ""
    variant: str = ""
