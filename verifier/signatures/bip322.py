"""BIP-322 generic signed messages: simple, full and proof-of-funds variants.

Owns the variant dispatch (``smp``/``ful``/``pof`` prefixes; no prefix = simple, as the BIP
allows for pre-final signatures) and the mapping of the libraries' answers onto our errors:

* simple: the ``bip322`` package (PyO3 over rust-bitcoin's ``bip322`` crate). It returns
  ``None`` on success and raises on failure; we turn that into an explicit proof or a
  :class:`VerificationError`.
* full and proof-of-funds, and simple for P2WSH: ``bip322`` 0.3.0 implements only simple
  and knows only multisig witness scripts, so these go to ``btclib_wallet.bip322``
  (btclib's script interpreter), the next most trusted implementation. "Inconclusive" (an
  upgradeable rule) is a failure here: fail closed.

Litecoin addresses are verified as the Bitcoin address of the same scriptPubKey: BIP-322
commits to the scriptPubKey and the message only, and both libraries decode Bitcoin only.
"""

from __future__ import annotations

import base64
import binascii

import base58
import bip322 as rust_bip322
from btclib.b32 import address_from_witness
from btclib.exceptions import BTClibRuntimeError, InconclusiveError
from btclib.script.witness import Witness
from btclib.tx.tx import Tx
from btclib_wallet import bip322 as btclib_bip322
from btclib_wallet.psbt import Psbt
from ecc.exceptions import EccRuntimeError

from verifier.errors import FormatError, VerificationError
from verifier.signatures.bitcoin import (
    BITCOIN,
    BITCOIN_TESTNET,
    BitcoinNetwork,
    DecodedAddress,
    decode_address,
)
from verifier.signatures.proof import SignatureProof

SIMPLE_PREFIX = "smp"
FULL_PREFIX = "ful"
PROOF_OF_FUNDS_PREFIX = "pof"


def split_variant(signature: str) -> tuple[str, bytes]:
    """Split a BIP-322 signature into its variant name and decoded payload.

    Raises:
        FormatError: The payload is not strict base64, or is empty.
    """
    prefix = signature[:3]
    variant = {SIMPLE_PREFIX: "simple", FULL_PREFIX: "full", PROOF_OF_FUNDS_PREFIX: "pof"}.get(
        prefix
    )
    body = signature[3:] if variant else signature
    variant = variant or "simple"
    try:
        payload = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"BIP-322 {variant} signature: not valid base64: {e}") from e
    if not payload:
        raise FormatError(f"BIP-322 {variant} signature: empty")
    return variant, payload


def verify_bip322(
    address: str,
    message: bytes | str,
    signature: str,
    network: BitcoinNetwork = BITCOIN,
) -> SignatureProof:
    """Verify a BIP-322 signature of ``message`` for ``address``.

    Args:
        address: The address (its scriptPubKey is the challenge of ``to_spend``).
        message: The message; ``str`` is UTF-8 encoded.
        signature: ``smp``/``ful``/``pof`` + base64, or unprefixed base64 (simple).
        network: Bitcoin or Litecoin (main, test or regtest networks): a non-mainnet
            address is verified as the Bitcoin address of the same scriptPubKey.

    Returns:
        The proof; for simple P2WPKH the signing key, for P2TR the output key.

    Raises:
        FormatError: Address, signature or message cannot be decoded, or the network is
            neither Bitcoin nor Litecoin.
        VerificationError: The signature does not satisfy the address's script, or the
            result is "inconclusive" (fails closed).
    """
    if network not in (BITCOIN, BITCOIN_TESTNET) and not network.name.startswith(
            ("litecoin", "bitcoin-")):
        raise FormatError(f"BIP-322 is verified for Bitcoin and Litecoin only, not "
                          f"{network.name}")
    decoded = decode_address(address, network)
    data = message.encode("utf-8") if isinstance(message, str) else message
    variant, payload = split_variant(signature)
    # BIP-322 signs the message under the address's scriptPubKey only (to_spend's output),
    # so another chain's address verifies as the Bitcoin address of the same scriptPubKey;
    # the libraries decode Bitcoin addresses only.
    as_bitcoin = address if network in (BITCOIN, BITCOIN_TESTNET) else _bitcoin_twin(decoded)
    try:
        if variant == "simple" and decoded.kind != "p2wsh":
            keys = _verify_simple(as_bitcoin, data, payload)
        else:
            # P2WSH runs its witness script: bip322 0.3.0 knows only multisig shapes there
            # (a one-key <key> OP_CHECKSIG script is "Invalid witness" to it), so btclib's
            # script interpreter judges every P2WSH signature.
            _verify_full(as_bitcoin, data, variant, payload)
            keys = ()
    except VerificationError as e:
        # Name the address as published, not its Bitcoin twin.
        raise VerificationError(str(e).replace(as_bitcoin, address)) from e
    if decoded.kind == "p2tr":
        keys = (decoded.program,)
    return SignatureProof(
        scheme=f"bip322-{variant}",
        address=address,
        signer_keys=keys,
        detail=f"{decoded.kind}, {network.name}",
    )


def _bitcoin_twin(decoded: DecodedAddress) -> str:
    """The Bitcoin mainnet address with the same scriptPubKey as ``decoded``.

    Raises:
        FormatError: a witness version BIP-322 gives no meaning to here.
    """
    if decoded.kind == "witness-unknown":
        raise FormatError("BIP-322: unknown witness version, no scriptPubKey to sign for")
    if decoded.kind == "p2pkh":
        return str(base58.b58encode_check(b"\x00" + decoded.program).decode())
    if decoded.kind == "p2sh":
        return str(base58.b58encode_check(b"\x05" + decoded.program).decode())
    version = 1 if decoded.kind == "p2tr" else 0
    return str(address_from_witness(version, decoded.program, "mainnet"))


def _verify_simple(address: str, message: bytes, payload: bytes) -> tuple[bytes, ...]:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError as e:
        # The Rust binding takes a Python str: bytes that are not UTF-8 cannot be passed.
        raise FormatError(
            "BIP-322 simple: the bip322 library verifies UTF-8 messages only"
        ) from e
    try:
        witness = Witness.parse(payload)
    except (ValueError, TypeError) as e:
        raise FormatError(f"BIP-322 simple signature: not a witness stack: {e}") from e
    try:
        result = rust_bip322.verify_simple_encoded(
            address, text, base64.b64encode(payload).decode()
        )
    except rust_bip322.VerificationError as e:
        if str(e).startswith("Decode error"):
            raise FormatError(f"BIP-322 simple: {e}") from e
        raise VerificationError(f"BIP-322 simple signature for {address}: {e}") from e
    except (ValueError, TypeError) as e:
        raise FormatError(f"BIP-322 simple: {e}") from e
    # bip322 0.3.0 returns None on success (its stub says bool): anything but None/True
    # is treated as a failure rather than trusted.
    if result is not None and result is not True:
        raise VerificationError(f"BIP-322 simple signature for {address}: returned {result!r}")
    stack = witness.stack
    if len(stack) == 2 and len(stack[1]) == 33:
        return (stack[1],)  # P2WPKH: signature, public key
    return ()


def _verify_full(address: str, message: bytes, variant: str, payload: bytes) -> None:
    try:
        if variant == "simple":
            parsed: Witness | Tx | Psbt = Witness.parse(payload)
        elif variant == "full":
            parsed = Tx.parse(payload)
        else:
            parsed = Psbt.parse(payload)
    except (ValueError, TypeError) as e:
        raise FormatError(f"BIP-322 {variant} signature: cannot be parsed: {e}") from e
    sig = btclib_bip322.Sig(parsed)
    try:
        btclib_bip322.assert_as_valid(message, address, sig, legacy=False)
    except InconclusiveError as e:
        raise VerificationError(
            f"BIP-322 {variant} signature for {address} is inconclusive (fails closed): {e}"
        ) from e
    except (ValueError, TypeError, BTClibRuntimeError, EccRuntimeError) as e:
        raise VerificationError(f"BIP-322 {variant} signature for {address}: {e}") from e
