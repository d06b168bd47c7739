"""Whatever the input, only FormatError or VerificationError leave the signature layer."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.errors import FormatError, VerificationError
from verifier.signatures import (
    checksum_address,
    decode_solana_address,
    verify_bip137,
    verify_bip322,
    verify_ed25519,
    verify_multisig_bip137,
    verify_personal_sign,
    verify_solana_offchain_message,
    verify_tron_message,
)
from verifier.signatures.wallet import verify_wallet_signature

OURS = (FormatError, VerificationError)
VALID_ADDRESS = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
b64_text = st.one_of(
    st.text(max_size=120),
    st.binary(min_size=60, max_size=70).map(lambda b: base64.b64encode(b).decode()),
)


def _only_our_errors(call: Callable[..., Any], *args: object) -> None:
    with contextlib.suppress(*OURS):
        call(*args)


@settings(max_examples=150, deadline=None)
@given(address=st.text(max_size=70), signature=b64_text, message=st.binary(max_size=40))
def test_bitcoin_functions_raise_only_our_errors(
    address: str, signature: str, message: bytes
) -> None:
    _only_our_errors(verify_bip137, address, message, signature)
    _only_our_errors(verify_bip137, "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", message, signature)
    _only_our_errors(verify_bip322, VALID_ADDRESS, message, signature)
    _only_our_errors(verify_bip322, VALID_ADDRESS, message, "ful" + signature)
    _only_our_errors(verify_bip322, VALID_ADDRESS, message, "pof" + signature)
    _only_our_errors(verify_bip322, address, message, signature)


@settings(max_examples=100, deadline=None)
@given(script=st.binary(max_size=120), signature=b64_text)
def test_multisig_raises_only_our_errors(script: bytes, signature: str) -> None:
    _only_our_errors(
        verify_multisig_bip137, "3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN", b"m", [signature], script
    )


@settings(max_examples=150, deadline=None)
@given(address=st.text(max_size=50), signature=st.one_of(st.text(max_size=140),
                                                         st.binary(max_size=70)))
def test_evm_tron_solana_raise_only_our_errors(address: str, signature: str | bytes) -> None:
    _only_our_errors(checksum_address, address)
    _only_our_errors(verify_personal_sign, "0x" + "ab" * 20, b"m", signature)
    _only_our_errors(verify_tron_message, "TJTc3g4AuDoPxCFmTbcTJEmQwhFrTnJGNR", b"m", signature)
    _only_our_errors(verify_tron_message, address, b"m", "0x" + "00" * 65)
    _only_our_errors(decode_solana_address, address)
    raw = signature if isinstance(signature, bytes) else signature.encode()
    _only_our_errors(verify_ed25519, raw[:32], b"m", raw)


SOLANA_ADDRESS = "HQFaeNg6Wv8kKnvyWUkEvo2U66PLWf9WZKLKNu1M4qTZ"
_ANZA_HEAD = b"\xffsolana offchain\x00" + bytes(32) + b"\x01\x01"


@settings(max_examples=150, deadline=None)
@given(signature=st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=200).map(lambda b: b"\x01" + bytes(64) + _ANZA_HEAD + b),
), message=st.binary(max_size=80), value=st.text(max_size=200))
def test_offchain_layouts_and_dispatch_raise_only_our_errors(
    signature: bytes, message: bytes, value: str
) -> None:
    """Envelopes cut anywhere, any bytes as a signature, any text as a wallet value."""
    _only_our_errors(verify_solana_offchain_message, SOLANA_ADDRESS, message, signature)
    for scheme in ("solana-offchain", "ed25519", "eip191", "bip137", "bip137-multisig",
                   "nonsense"):
        _only_our_errors(verify_wallet_signature, scheme, SOLANA_ADDRESS, message, value)
