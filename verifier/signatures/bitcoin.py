"""Bitcoin-family message signatures: address decoding, BIP-137 and m-of-n multisig.

Owns the BIP-137 header matrix (a header byte says which address type it signs for, with the
Electrum-style segwit headers of spec §11.6), m-of-n multisig ownership (m *distinct* keys of
the script, address = the script's hash) and the address decoding they need, for Bitcoin,
Litecoin and Dogecoin. BIP-322 lives in :mod:`verifier.signatures.bip322`. Libraries:
btclib (bech32, hashes, script solver), the ``base58`` package (Base58Check) and coincurve
(libsecp256k1 public-key recovery).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import base58

# btclib and coincurve are the [reserves] extra: they are imported inside the functions that
# use them, so that parsing a reserves file (BitcoinNetwork, Base58Check) needs neither
# (issue 12).
from verifier.errors import FormatError, VerificationError
from verifier.signatures.proof import SignatureProof

AddressKind = Literal["p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "witness-unknown"]

_BASE58_ALPHABET = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
_BECH32_MAX_LENGTH = 90  # BIP-173: an address is at most 90 characters
COMPACT_SIGNATURE_LENGTH = 65  # header byte || r (32) || s (32)


@dataclass(frozen=True)
class BitcoinNetwork:
    """The encoding parameters of one Bitcoin-family chain.

    Attributes:
        name: Human name, used in messages.
        message_magic: The signed-message prefix of ``signmessage`` (before varstr framing).
        p2pkh_version: Base58Check version byte of P2PKH addresses.
        p2sh_versions: Base58Check version bytes of P2SH addresses (Litecoin has two).
        bech32_hrp: Human-readable part of segwit addresses, ``None`` if the chain has none.
    """

    name: str
    message_magic: str
    p2pkh_version: int
    p2sh_versions: tuple[int, ...]
    bech32_hrp: str | None


BITCOIN = BitcoinNetwork("bitcoin", "Bitcoin Signed Message:\n", 0x00, (0x05,), "bc")
BITCOIN_TESTNET = BitcoinNetwork(
    "bitcoin-testnet", "Bitcoin Signed Message:\n", 0x6F, (0xC4,), "tb"
)
# Litecoin Core accepts both its own P2SH prefix (0x32, "M...") and Bitcoin's legacy 0x05.
LITECOIN = BitcoinNetwork("litecoin", "Litecoin Signed Message:\n", 0x30, (0x32, 0x05), "ltc")
DOGECOIN = BitcoinNetwork("dogecoin", "Dogecoin Signed Message:\n", 0x1E, (0x16,), None)


@dataclass(frozen=True)
class DecodedAddress:
    """An address reduced to its type and the hash (or witness program) it commits to."""

    kind: AddressKind
    program: bytes
    network: BitcoinNetwork


def decode_address(address: str, network: BitcoinNetwork = BITCOIN) -> DecodedAddress:
    """Decode a Base58Check or bech32/bech32m address of ``network``.

    Any character outside the encoding's alphabet (whitespace included) is refused rather
    than stripped: the address is what was published, not a repaired copy of it.

    Raises:
        FormatError: The string is not a valid address of ``network`` (bad checksum,
            unknown version byte, wrong human-readable part, bad witness program length).
    """
    hrp = network.bech32_hrp
    if hrp is not None and address.lower().startswith(hrp + "1"):
        return _decode_segwit(address, network, hrp)
    if not address or not set(address) <= _BASE58_ALPHABET:
        raise FormatError(
            f"address {address!r}: expected a {network.name} Base58Check or bech32 address, "
            "found characters outside both alphabets"
        )
    try:
        payload = base58.b58decode_check(address)
    except ValueError as e:
        raise FormatError(f"address {address!r}: Base58Check decoding failed: {e}") from e
    if len(payload) != 21:
        raise FormatError(
            f"address {address!r}: expected 1 version byte + 20-byte hash, "
            f"found {len(payload)} bytes"
        )
    version, h160 = payload[0], payload[1:]
    if version == network.p2pkh_version:
        return DecodedAddress("p2pkh", h160, network)
    if version in network.p2sh_versions:
        return DecodedAddress("p2sh", h160, network)
    expected = ", ".join(f"0x{v:02x}" for v in (network.p2pkh_version, *network.p2sh_versions))
    raise FormatError(
        f"address {address!r}: version byte 0x{version:02x} is not a {network.name} "
        f"address (expected one of {expected})"
    )


def _decode_segwit(address: str, network: BitcoinNetwork, hrp: str) -> DecodedAddress:
    from btclib import bech32 as btclib_bech32
    from btclib.b32 import bytes_from_witness_program, power_of_2_base_conversion

    if len(address) > _BECH32_MAX_LENGTH or any(c in string.whitespace for c in address):
        raise FormatError(f"address {address!r}: not a valid bech32 address (length/whitespace)")
    try:
        found_hrp, data = btclib_bech32.decode(address)
        if found_hrp != hrp:
            raise FormatError(
                f"address {address!r}: expected human-readable part {hrp!r}, found {found_hrp!r}"
            )
        witness_version = data[0]
        program = bytes(power_of_2_base_conversion(data[1:], 5, 8, pad=False))
        program = bytes_from_witness_program(witness_version, program)
    except (ValueError, TypeError, IndexError) as e:
        raise FormatError(f"address {address!r}: bech32 decoding failed: {e}") from e
    kind: AddressKind
    if witness_version == 0:
        kind = "p2wpkh" if len(program) == 20 else "p2wsh"
    elif witness_version == 1 and len(program) == 32:
        kind = "p2tr"
    else:
        kind = "witness-unknown"
    return DecodedAddress(kind, program, network)


def message_hash(message: bytes, network: BitcoinNetwork = BITCOIN) -> bytes:
    """The digest ``signmessage`` signs: sha256d(varstr(magic) || varstr(message))."""
    from btclib.hashes import hash256
    from btclib.var_bytes import serialize as varstr

    return hash256(varstr(network.message_magic.encode()) + varstr(message))


# BIP-137 "Signatures" table: the header byte (27 + recovery id + offset) names the address
# type the signer claims. A header is accepted for its own type; the one relaxation is the
# Electrum/Sparrow habit of signing P2WPKH and P2SH-P2WPKH addresses with the compressed
# P2PKH range 31..34 (spec §11.6), accepted only where the recovered key's hash fixes the
# witness program (so it proves exactly what the segwit header would).
_HEADER_KINDS: tuple[tuple[range, str], ...] = (
    (range(27, 31), "p2pkh-uncompressed"),
    (range(31, 35), "p2pkh-compressed"),
    (range(35, 39), "p2sh-p2wpkh"),
    (range(39, 43), "p2wpkh"),
)


def header_kind(header: int) -> str:
    """The address type a BIP-137 header byte declares.

    Raises:
        FormatError: ``header`` is outside 27..42.
    """
    for headers, kind in _HEADER_KINDS:
        if header in headers:
            return kind
    raise FormatError(f"signature header byte {header}: expected 27..42 (BIP-137)")


def decode_compact_signature(signature: str) -> tuple[int, bytes]:
    """Decode a base64 65-byte compact signature into (header byte, r || s).

    Raises:
        FormatError: Not strict base64, or not 65 bytes, or a header outside 27..42.
    """
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"signature {signature[:16]!r}...: not valid base64: {e}") from e
    if len(raw) != COMPACT_SIGNATURE_LENGTH:
        raise FormatError(
            f"signature: expected {COMPACT_SIGNATURE_LENGTH} bytes (header || r || s), "
            f"found {len(raw)}"
        )
    header_kind(raw[0])
    return raw[0], raw[1:]


def recover_public_key(digest: bytes, header: int, rs: bytes) -> bytes:
    """Recover the secp256k1 key that made ``rs`` over ``digest``, serialized per the header.

    Raises:
        VerificationError: No public key can be recovered (r or s out of range, no point).
    """
    import coincurve

    recovery_id = (header - 27) & 0b11
    compressed = header >= 31
    try:
        key = coincurve.PublicKey.from_signature_and_message(
            rs + bytes([recovery_id]), digest, hasher=None
        )
    except (ValueError, TypeError, RuntimeError) as e:
        raise VerificationError(f"no public key can be recovered from the signature: {e}") from e
    return bytes(key.format(compressed=compressed))


def _as_bytes(message: bytes | str) -> bytes:
    return message.encode("utf-8") if isinstance(message, str) else message


def verify_bip137(
    address: str,
    message: bytes | str,
    signature: str,
    network: BitcoinNetwork = BITCOIN,
) -> SignatureProof:
    """Verify a BIP-137 (``signmessage``) compact signature, header checked against the address.

    The header range must match the address type: 27..30 uncompressed P2PKH, 31..34
    compressed P2PKH, 35..38 P2SH-P2WPKH, 39..42 P2WPKH; and, as Electrum and Sparrow sign
    them, 31..34 for a P2WPKH or P2SH-P2WPKH address whose program the recovered key's
    hash fixes (spec §11.6; the proof's ``variant`` says ``"electrum-segwit"``). P2TR and
    P2WSH addresses can never verify (they have no single key hash); use BIP-322 for them.

    Args:
        address: The address claimed to be controlled.
        message: The signed message (``str`` is encoded as UTF-8).
        signature: Base64 of header || r || s.
        network: The chain whose magic prefix and address encoding apply.

    Returns:
        The proof, with the recovered key and the signed digest.

    Raises:
        FormatError: The address or the signature cannot be decoded.
        VerificationError: The header cannot sign this address type, or the recovered key
            does not hash to the address.
    """
    decoded = decode_address(address, network)
    header, rs = decode_compact_signature(signature)
    claimed = header_kind(header)
    digest = message_hash(_as_bytes(message), network)
    public_key = recover_public_key(digest, header, rs)
    expected_kind, committed, variant = _bip137_commitment(decoded, claimed, public_key)
    if expected_kind == "p2sh" and network.bech32_hrp is None:
        # Without segwit the redeem script 0x0014<hash> leaves a non-empty push on the
        # stack: anyone can spend such an output, so a key signing for it proves nothing.
        raise VerificationError(
            f"address {address}: header {header} claims P2SH-P2WPKH, but {network.name} has "
            "no segwit: such an output is spendable by anyone, not controlled by the key"
        )
    if decoded.kind != expected_kind:
        raise VerificationError(
            f"address {address}: signature header {header} declares a {claimed} address, "
            f"but the address is {decoded.kind} (BIP-137: headers 27..30 and 31..34 sign "
            "P2PKH, 31..34 also P2WPKH and P2SH-P2WPKH, 35..38 P2SH-P2WPKH, 39..42 P2WPKH; "
            "P2TR and P2WSH need BIP-322)"
        )
    if committed != decoded.program:
        raise VerificationError(
            f"address {address}: the recovered key {public_key.hex()} commits to "
            f"{committed.hex()} as {expected_kind}, but the address holds "
            f"{decoded.program.hex()}"
        )
    detail = f"header {header} ({claimed}), {network.name}"
    if variant == "electrum-segwit":
        detail = (f"header {header} (Electrum-style: a key header for a {decoded.kind} "
                  f"address), {network.name}")
    return SignatureProof(
        scheme="bip137",
        address=address,
        signer_keys=(public_key,),
        message_digest=digest,
        detail=detail,
        variant=variant,
    )


def _bip137_commitment(
    decoded: DecodedAddress, claimed: str, public_key: bytes
) -> tuple[str, bytes, str]:
    """(address kind the signature can prove, the 20 bytes it commits to, variant).

    Strict BIP-137 first: the header's own type. Electrum-style (spec §11.6): a compressed
    key header (31..34) on a P2WPKH address commits to HASH160(key) as the witness program;
    on a P2SH address, to HASH160(0x0014 || HASH160(key)), the P2SH-P2WPKH script hash. An
    uncompressed key (27..30) never proves a segwit address (BIP-143 takes compressed keys
    only), and a P2SH address proves nothing but P2SH-P2WPKH of the key.
    """
    from btclib.hashes import hash160

    key_hash = hash160(public_key)
    p2sh_p2wpkh = hash160(b"\x00\x14" + key_hash)
    if claimed == "p2sh-p2wpkh":
        return "p2sh", p2sh_p2wpkh, "strict"
    if claimed == "p2wpkh":
        return "p2wpkh", key_hash, "strict"
    if claimed == "p2pkh-compressed" and decoded.kind == "p2wpkh":
        return "p2wpkh", key_hash, "electrum-segwit"
    if claimed == "p2pkh-compressed" and decoded.kind == "p2sh":
        return "p2sh", p2sh_p2wpkh, "electrum-segwit"
    return "p2pkh", key_hash, "strict"


@dataclass(frozen=True)
class MultisigScript:
    """A bare ``OP_m <keys> OP_n OP_CHECKMULTISIG`` script, parsed."""

    required: int
    keys: tuple[bytes, ...]
    script: bytes


def parse_multisig_script(script: bytes) -> MultisigScript:
    """Parse an m-of-n CHECKMULTISIG script (btclib's solver, Bitcoin Core's rules).

    Raises:
        FormatError: The script is not a standard m-of-n multisig script.
    """
    from btclib.script.solver import solver

    try:
        script_type, payload = solver(script)
    except (ValueError, TypeError) as e:
        raise FormatError(f"redeem script {script.hex()}: cannot be parsed: {e}") from e
    if script_type != "multisig":
        raise FormatError(
            f"redeem script {script.hex()[:40]}...: expected a standard m-of-n multisig "
            f"script, found {script_type}"
        )
    required, keys = payload[0][0], tuple(payload[1:-1])
    if len(set(keys)) != len(keys):
        # Core accepts duplicate keys in a script; for ownership counting they would let one
        # key count twice, so they are refused outright.
        raise FormatError(f"redeem script {script.hex()[:40]}...: the same key appears twice")
    return MultisigScript(required=required, keys=keys, script=script)


def _script_commitment(address: str, decoded: DecodedAddress, script: bytes) -> str:
    """Check that the address is the hash of ``script``; return how it commits."""
    from btclib.hashes import hash160

    witness_program = hashlib.sha256(script).digest()
    if decoded.kind == "p2wsh" and decoded.program == witness_program:
        return "P2WSH(script)"
    if decoded.kind == "p2sh" and decoded.program == hash160(script):
        return "P2SH(script)"
    if decoded.kind == "p2sh" and decoded.program == hash160(b"\x00\x20" + witness_program):
        if decoded.network.bech32_hrp is None:
            # As for P2SH-P2WPKH: without segwit, 0x0020<hash> is spendable by anyone.
            raise VerificationError(
                f"address {address}: P2SH(P2WSH(script)) on {decoded.network.name}, which has "
                "no segwit: such an output is spendable by anyone, not controlled by the keys"
            )
        return "P2SH(P2WSH(script))"
    if decoded.kind not in ("p2sh", "p2wsh"):
        raise VerificationError(
            f"address {address}: a multisig script needs a P2SH or P2WSH address, "
            f"found {decoded.kind}"
        )
    raise VerificationError(
        f"address {address}: holds {decoded.program.hex()}, which is not the hash of the "
        f"given script (P2SH {hash160(script).hex()}, P2WSH {witness_program.hex()})"
    )


def verify_multisig_bip137(
    address: str,
    message: bytes | str,
    signatures: Sequence[str],
    redeem_script: bytes,
    network: BitcoinNetwork = BITCOIN,
) -> SignatureProof:
    """Verify m-of-n multisig ownership: m distinct keys of the script signed the message.

    Each signature is a BIP-137 compact signature made with one key (header 27..34: a key,
    not an address type). The address must be P2SH, P2SH-P2WSH or P2WSH of the script.
    One key signing twice counts once (OKX's checker accepted it twice); a signature by a
    key outside the script fails the whole proof.

    Args:
        address: The P2SH/P2WSH address claimed to be controlled.
        message: The signed message (``str`` is encoded as UTF-8).
        signatures: Base64 compact signatures, one per signing key.
        redeem_script: The ``OP_m <keys> OP_n OP_CHECKMULTISIG`` script.
        network: The chain whose magic prefix and address encoding apply.

    Returns:
        The proof, listing the distinct signing keys in signature order.

    Raises:
        FormatError: Address, script or a signature cannot be decoded.
        VerificationError: The address is not the script's hash, a signature recovers a key
            outside the script or repeats a key, or fewer than m distinct keys signed.
    """
    decoded = decode_address(address, network)
    multisig = parse_multisig_script(redeem_script)
    commitment = _script_commitment(address, decoded, redeem_script)
    digest = message_hash(_as_bytes(message), network)
    signers: list[bytes] = []
    for index, signature in enumerate(signatures, start=1):
        header, rs = decode_compact_signature(signature)
        claimed = header_kind(header)
        if not claimed.startswith("p2pkh"):
            raise VerificationError(
                f"address {address}, signature {index}: header {header} declares a {claimed} "
                "address; a multisig member signs with a key header (27..34)"
            )
        key = recover_public_key(digest, header, rs)
        if key not in multisig.keys:
            raise VerificationError(
                f"address {address}, signature {index}: recovers key {key.hex()}, which is "
                f"not one of the script's {len(multisig.keys)} keys"
            )
        if key in signers:
            raise VerificationError(
                f"address {address}, signature {index}: recovers key {key.hex()} again "
                f"(signature {signers.index(key) + 1}); m distinct keys must sign"
            )
        signers.append(key)
    if len(signers) < multisig.required:
        raise VerificationError(
            f"address {address}: {multisig.required}-of-{len(multisig.keys)} script, "
            f"but only {len(signers)} distinct keys signed"
        )
    return SignatureProof(
        scheme="btc-multisig-bip137",
        address=address,
        signer_keys=tuple(signers),
        message_digest=digest,
        detail=(
            f"{len(signers)} distinct keys of a {multisig.required}-of-{len(multisig.keys)} "
            f"script signed; address = {commitment}, {network.name}"
        ),
    )
