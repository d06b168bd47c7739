"""Wallet-ownership signature checks: Bitcoin family, EVM, TRON and Ed25519 (Solana).

Small pure functions, bytes/str in: each ``verify_*`` raises
:class:`~verifier.errors.FormatError` when an address, signature or message cannot be
decoded, :class:`~verifier.errors.VerificationError` when the signature does not verify,
and returns a frozen :class:`SignatureProof` (scheme, address, signer keys) on success.
No network I/O happens here; EIP-1271 contract wallets get a seam
(:func:`verify_eip1271_result`) that judges a node's answer without making the call.
"""

# The names below are imported on first use (PEP 562), not here: each scheme's library
# (eth-account, btclib, coincurve) is the [reserves] extra, and a verifier that checks only
# proofs or bundles must neither load nor need them (issue 12).
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier.signatures.bip322 import verify_bip322
    from verifier.signatures.bitcoin import (
        BITCOIN,
        BITCOIN_TESTNET,
        DOGECOIN,
        LITECOIN,
        BitcoinNetwork,
        decode_address,
        verify_bip137,
        verify_multisig_bip137,
    )
    from verifier.signatures.evm import (
        checksum_address,
        verify_eip1271_result,
        verify_personal_sign,
        verify_typed_data,
    )
    from verifier.signatures.proof import SignatureProof
    from verifier.signatures.solana import (
        decode_solana_address,
        verify_ed25519,
        verify_solana_message,
        verify_solana_offchain_message,
    )
    from verifier.signatures.tron import verify_tron_message

_HOMES = {
    "BITCOIN": "verifier.signatures.bitcoin",
    "BITCOIN_TESTNET": "verifier.signatures.bitcoin",
    "BitcoinNetwork": "verifier.signatures.bitcoin",
    "DOGECOIN": "verifier.signatures.bitcoin",
    "LITECOIN": "verifier.signatures.bitcoin",
    "SignatureProof": "verifier.signatures.proof",
    "checksum_address": "verifier.signatures.eip55",
    "decode_address": "verifier.signatures.bitcoin",
    "decode_solana_address": "verifier.signatures.solana",
    "verify_bip137": "verifier.signatures.bitcoin",
    "verify_bip322": "verifier.signatures.bip322",
    "verify_ed25519": "verifier.signatures.solana",
    "verify_eip1271_result": "verifier.signatures.evm",
    "verify_multisig_bip137": "verifier.signatures.bitcoin",
    "verify_personal_sign": "verifier.signatures.evm",
    "verify_solana_message": "verifier.signatures.solana",
    "verify_solana_offchain_message": "verifier.signatures.solana",
    "verify_tron_message": "verifier.signatures.tron",
    "verify_typed_data": "verifier.signatures.evm",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "BITCOIN",
    "BITCOIN_TESTNET",
    "DOGECOIN",
    "LITECOIN",
    "BitcoinNetwork",
    "SignatureProof",
    "checksum_address",
    "decode_address",
    "decode_solana_address",
    "verify_bip137",
    "verify_bip322",
    "verify_ed25519",
    "verify_eip1271_result",
    "verify_multisig_bip137",
    "verify_personal_sign",
    "verify_solana_message",
    "verify_solana_offchain_message",
    "verify_tron_message",
    "verify_typed_data",
]
