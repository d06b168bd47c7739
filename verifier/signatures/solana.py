"""Solana and other Ed25519 wallet signatures: base58 addresses, raw and off-chain messages.

Owns Ed25519 verification (pyca/cryptography, i.e. OpenSSL: strict RFC 8032 decoding,
``S < L`` enforced), Solana base58 address decoding (the ``base58`` package) and the two
off-chain message layouts that both call themselves version 0 (spec §11.6): ``cli-v0``,
the solana-sdk layout of ``solana sign-offchain-message``, and ``anza-v0``, the layout of
Anza's off-chain message specification as ``@solana/kit`` and Ledger's Solana app sign it
(application domain and signer list in the preamble), with its binary envelope.
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

CLI_V0 = "cli-v0"
ANZA_V0 = "anza-v0"
# Anza's v0 preamble (docs/src/proposals/off-chain-message-signing.md; @solana/kit
# offchain-messages): signing domain (16) || version (1) || application domain (32) ||
# format (1) || signer count (1) || signers (32 each) || u16-LE message length.
ANZA_APPLICATION_DOMAIN_LENGTH = 32
ZERO_APPLICATION_DOMAIN = bytes(ANZA_APPLICATION_DOMAIN_LENGTH)  # Ledger's default
ANZA_V0_PREAMBLE_ONE_SIGNER = _OFFCHAIN_HEADER_LEN + ANZA_APPLICATION_DOMAIN_LENGTH + 1 + 1 + (
    ED25519_KEY_LENGTH) + 2  # 85 bytes
ANZA_HARDWARE_WALLET_LIMIT = 1232  # preamble + body, formats 0 and 1
ANZA_MAX_BODY = 0xFFFF  # format 2
_LAYOUTS_EXPECTED = (
    "cli-v0 (`solana sign-offchain-message`: \\xffsolana offchain, 0x00, format, u16-LE "
    "length, message) or anza-v0 (@solana/kit, Ledger: \\xffsolana offchain, 0x00, "
    "application domain of 32 zero bytes, format, 1 signer = the wallet, u16-LE length, "
    "message; another application domain only inside the whole signed envelope)"
)


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
    """Verify an off-chain message signature by ``address`` in either v0 layout.

    A 64-byte ``signature`` is tried over the ``cli-v0`` bytes (solana-sdk, ``solana
    sign-offchain-message``), then over the ``anza-v0`` bytes (``@solana/kit``, Ledger) with
    the zero application domain, the wallet as the only signer and each format the message
    allows. Anything longer is read as Anza's binary envelope
    (:func:`verify_solana_offchain_envelope`). The proof's ``variant`` and ``detail`` say
    which layout verified.

    Raises:
        FormatError: Address, signature or message cannot be decoded or framed.
        VerificationError: The signature verifies in neither layout (the message names both).
    """
    public_key = decode_solana_address(address)
    if len(signature) > ED25519_SIGNATURE_LENGTH:
        return verify_solana_offchain_envelope(address, message, signature)
    if len(signature) != ED25519_SIGNATURE_LENGTH:
        raise FormatError(
            f"off-chain signature: expected {ED25519_SIGNATURE_LENGTH} bytes (or an anza-v0 "
            f"envelope), found {len(signature)}"
        )
    candidates: list[tuple[str, int, bytes]] = []
    try:
        serialized = serialize_offchain_message(message)
        candidates.append((CLI_V0, serialized[17], serialized))
    except FormatError:
        pass
    for message_format in anza_v0_formats(message):
        candidates.append(
            (ANZA_V0, message_format, serialize_anza_v0(message, public_key, message_format))
        )
    if not candidates:
        raise FormatError(
            f"off-chain message of {len(message)} bytes fits no v0 layout (UTF-8 of at most "
            f"{OFFCHAIN_V0_MAX_LEN} bytes)"
        )
    for layout, message_format, signed in candidates:
        try:
            verify_ed25519(public_key, signed, signature)
        except VerificationError:
            continue
        domain = ", application domain 32 zero bytes" if layout == ANZA_V0 else ""
        return SignatureProof(
            scheme="solana-offchain-v0",
            address=address,
            signer_keys=(public_key,),
            message_digest=hashlib.sha256(signed).digest(),
            detail=f"layout {layout}{domain}, format {message_format}, "
                   f"{len(message)} message bytes",
            variant=layout,
        )
    tried = ", ".join(f"{layout} format {fmt}" for layout, fmt, _ in candidates)
    raise VerificationError(
        f"off-chain signature by {address} does not verify in any v0 layout (tried {tried}); "
        f"expected {_LAYOUTS_EXPECTED}"
    )

def anza_v0_formats(message: bytes) -> tuple[int, ...]:
    """The v0 formats Anza's rules allow for ``message`` with one signer, in order.

    0: printable ASCII (0x20..0x7e) only, preamble + body at most 1232 bytes; 1: UTF-8,
    preamble + body at most 1232; 2: UTF-8, body at most 65535. Empty messages have none.
    """
    try:
        message.decode("utf-8")
    except UnicodeDecodeError:
        return ()
    if not message:
        return ()
    fits_hardware = ANZA_V0_PREAMBLE_ONE_SIGNER + len(message) <= ANZA_HARDWARE_WALLET_LIMIT
    formats = []
    if fits_hardware and all(0x20 <= byte <= 0x7E for byte in message):
        formats.append(FORMAT_RESTRICTED_ASCII)
    if fits_hardware:
        formats.append(FORMAT_LIMITED_UTF8)
    if len(message) <= ANZA_MAX_BODY:
        formats.append(FORMAT_EXTENDED_UTF8)
    return tuple(formats)


def serialize_anza_v0(
    message: bytes,
    signer: bytes,
    message_format: int,
    application_domain: bytes = ZERO_APPLICATION_DOMAIN,
) -> bytes:
    """The bytes an ``anza-v0`` signature covers, with ``signer`` as the only signer.

    Raises:
        FormatError: the format does not allow this message, or a key or domain is not 32
            bytes.
    """
    if len(signer) != ED25519_KEY_LENGTH or len(application_domain) != 32:
        raise FormatError("anza-v0: signer and application domain must be 32 bytes each")
    if message_format not in anza_v0_formats(message):
        raise FormatError(
            f"anza-v0: format {message_format} does not allow this message "
            f"({len(message)} bytes; allowed formats {list(anza_v0_formats(message))})"
        )
    return (
        OFFCHAIN_SIGNING_DOMAIN
        + b"\x00"
        + application_domain
        + bytes([message_format, 1])
        + signer
        + len(message).to_bytes(2, "little")
        + message
    )


def parse_anza_v0_envelope(envelope: bytes) -> tuple[tuple[bytes, ...], bytes]:
    """Split Anza's binary envelope: u8 signature count || signatures (64 each) || message.

    Raises:
        FormatError: too short for its signature count, or a count of zero.
    """
    if not envelope or envelope[0] == 0:
        raise FormatError("off-chain envelope: expected a signature count of at least 1")
    count = envelope[0]
    end = 1 + count * ED25519_SIGNATURE_LENGTH
    if len(envelope) <= end:
        raise FormatError(
            f"off-chain envelope: {count} signature(s) need more than {end} bytes, found "
            f"{len(envelope)}"
        )
    signatures = tuple(
        envelope[1 + i * ED25519_SIGNATURE_LENGTH: 1 + (i + 1) * ED25519_SIGNATURE_LENGTH]
        for i in range(count)
    )
    return signatures, envelope[end:]


def _check_anza_v0_content(content: bytes, signer: bytes, message: bytes) -> tuple[bytes, int]:
    """Check a signed anza-v0 message names ``signer`` alone and carries ``message``.

    Returns:
        (application domain, format).

    Raises:
        VerificationError: another layout, version, signer set or message.
        FormatError: the preamble is cut short.
    """
    head = len(OFFCHAIN_SIGNING_DOMAIN)
    if len(content) < ANZA_V0_PREAMBLE_ONE_SIGNER - ED25519_KEY_LENGTH:
        raise FormatError(f"off-chain envelope: message of {len(content)} bytes is shorter "
                          "than an anza-v0 preamble")
    if content[:head] != OFFCHAIN_SIGNING_DOMAIN or content[head] != 0:
        raise VerificationError(
            f"off-chain envelope: expected the signing domain and version 0, found "
            f"{content[:head + 1].hex()}; expected {_LAYOUTS_EXPECTED}"
        )
    domain = content[head + 1: head + 33]
    message_format, signer_count = content[head + 33], content[head + 34]
    if signer_count != 1:
        raise VerificationError(
            f"off-chain envelope: {signer_count} signers; the wallet must be the only signer"
        )
    named = content[head + 35: head + 67]
    if named != signer:
        raise VerificationError(
            f"off-chain envelope: the signer is {base58.b58encode(named).decode()}, not the "
            "wallet"
        )
    length = int.from_bytes(content[head + 67: head + 69], "little")
    body = content[head + 69:]
    if length != len(body) or body != message:
        raise VerificationError(
            f"off-chain envelope: the signed message ({length} bytes declared, {len(body)} "
            f"found) is not this wallet's challenge ({len(message)} bytes)"
        )
    if message_format not in anza_v0_formats(message):
        raise VerificationError(
            f"off-chain envelope: format {message_format} does not allow this message "
            f"(allowed: {list(anza_v0_formats(message))})"
        )
    return domain, message_format


def verify_solana_offchain_envelope(
    address: str, message: bytes, envelope: bytes
) -> SignatureProof:
    """Verify Anza's binary envelope of an ``anza-v0`` message signed by ``address`` alone.

    The envelope carries its application domain, so any domain is accepted (and reported).

    Raises:
        FormatError: the address or the envelope cannot be decoded.
        VerificationError: not one signature by the wallet over this wallet's challenge in
            the anza-v0 layout.
    """
    public_key = decode_solana_address(address)
    signatures, content = parse_anza_v0_envelope(envelope)
    if len(signatures) != 1:
        raise VerificationError(
            f"off-chain envelope: {len(signatures)} signatures; the wallet must be the only "
            "signer"
        )
    domain, message_format = _check_anza_v0_content(content, public_key, message)
    verify_ed25519(public_key, content, signatures[0])
    domain_text = base58.b58encode(domain).decode()
    return SignatureProof(
        scheme="solana-offchain-v0",
        address=address,
        signer_keys=(public_key,),
        message_digest=hashlib.sha256(content).digest(),
        detail=f"layout {ANZA_V0} (envelope), application domain {domain_text}, format "
               f"{message_format}, {len(message)} message bytes",
        variant=ANZA_V0,
    )
