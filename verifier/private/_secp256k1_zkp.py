"""The only place that reaches undocumented symbols of a compiled module (spec §16.10).

``wallycore`` 1.5.x (Blockstream's libwally) bundles libsecp256k1-zkp. Its documented
Python API makes Pedersen commitments, asset generators and range proofs, but has no call
that verifies a range proof for a hidden value, nor one that checks a sum of commitments.
The library it bundles exports both as C symbols of wallycore's extension module:

- ``secp256k1_rangeproof_verify`` (Borromean range proof; Elements/Liquid's),
- ``secp256k1_pedersen_verify_tally`` (Σ positive − Σ negative commitments = 0),
- ``secp256k1_pedersen_commitment_parse`` and ``secp256k1_generator_parse`` (33 bytes →
  the library's 64-byte structures),
- ``wally_get_secp_context`` (documented in libwally's C header: its secp256k1 context).

For speed (spec §16.13) it also calls, through ctypes so that the GIL is released and range
proofs run on several threads, libwally's documented C functions
``wally_asset_value_commitment`` and ``wally_asset_rangeproof_with_nonce`` (the same code as
the documented Python calls, byte for byte: tested), and adds commitments as points with
libsecp256k1's documented ``secp256k1_ec_pubkey_parse/combine/serialize``. Converting a sum
back to a commitment needs whether y is a square: ``secp256k1_generator_serialize`` computes
it from a ``secp256k1_generator``, whose 64 bytes are x ‖ y big-endian in this release (an
undocumented layout, checked by a known answer when the library loads, and again in
``tests/private/test_zkp_symbols.py``).

Their C signatures are libsecp256k1-zkp's public headers (``secp256k1_rangeproof.h``,
``secp256k1_generator.h``, ``secp256k1_commitment.h``). This module binds them with ctypes
and nothing else; ``tests/private/test_zkp_symbols.py`` checks the library's version, the
symbols, and known answers (a committed range proof verifies to [0, 2^64 − 1], a moved one
does not), so a wallycore release that changes or drops them fails loudly, not silently.

Every pointer passed is non-NULL and every length is checked by the caller first: the
library's argument checks abort the process rather than return an error.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
import warnings
from typing import Any

from verifier.errors import FormatError, VerificationError

COMMITMENT_SIZE = 33  # serialized Pedersen commitment: 0x08/0x09 ‖ x
GENERATOR_SIZE = 33  # serialized generator: 0x0a/0x0b ‖ x
FIELD_PRIME = 2**256 - 2**32 - 977  # secp256k1's p: an x at or above it is not canonical
_STRUCT_SIZE = 64  # secp256k1_pedersen_commitment and secp256k1_generator: 64 opaque bytes
WALLYCORE_VERSION_PREFIX = (1, 5)  # the release line whose symbols are checked ([private])

SYMBOLS = (
    "wally_get_secp_context",
    "secp256k1_pedersen_commitment_parse",
    "secp256k1_generator_parse",
    "secp256k1_rangeproof_verify",
    "secp256k1_pedersen_verify_tally",
    "secp256k1_generator_serialize",
    "secp256k1_ec_pubkey_parse",
    "secp256k1_ec_pubkey_serialize",
    "secp256k1_ec_pubkey_combine",
    "wally_asset_value_commitment",
    "wally_asset_rangeproof_with_nonce",
)
RANGEPROOF_MAX_LEN = 5134  # libwally's ASSET_RANGEPROOF_MAX_LEN: the output buffer


class _Library:
    """The bound symbols and the library's context, loaded once."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # SWIG's types warn on import
            warnings.simplefilter("ignore", DeprecationWarning)
            wallycore = importlib.import_module("wallycore")
            extension = importlib.import_module("_wallycore")
        version = (wallycore.WALLY_MAJOR_VER, wallycore.WALLY_MINOR_VER)
        if version != WALLYCORE_VERSION_PREFIX:
            raise RuntimeError(
                f"wallycore {version[0]}.{version[1]} is installed; the private scheme's"
                f" undocumented symbols are checked only for {WALLYCORE_VERSION_PREFIX}"
            )
        lib = ctypes.CDLL(str(extension.__file__))
        for name in SYMBOLS:
            if not hasattr(lib, name):
                raise RuntimeError(f"wallycore's extension no longer exports {name}")
        vp, c_u64p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)
        lib.wally_get_secp_context.restype = vp
        lib.wally_get_secp_context.argtypes = []
        lib.secp256k1_pedersen_commitment_parse.restype = ctypes.c_int
        lib.secp256k1_pedersen_commitment_parse.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
        lib.secp256k1_generator_parse.restype = ctypes.c_int
        lib.secp256k1_generator_parse.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
        lib.secp256k1_rangeproof_verify.restype = ctypes.c_int
        lib.secp256k1_rangeproof_verify.argtypes = [
            vp, c_u64p, c_u64p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
        ]
        lib.secp256k1_pedersen_verify_tally.restype = ctypes.c_int
        lib.secp256k1_pedersen_verify_tally.argtypes = [
            vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
        ]
        lib.secp256k1_generator_serialize.restype = ctypes.c_int
        lib.secp256k1_generator_serialize.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
        lib.secp256k1_ec_pubkey_parse.restype = ctypes.c_int
        lib.secp256k1_ec_pubkey_parse.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p,
                                                  ctypes.c_size_t]
        lib.secp256k1_ec_pubkey_serialize.restype = ctypes.c_int
        lib.secp256k1_ec_pubkey_serialize.argtypes = [
            vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p,
            ctypes.c_uint]
        lib.secp256k1_ec_pubkey_combine.restype = ctypes.c_int
        lib.secp256k1_ec_pubkey_combine.argtypes = [
            vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t]
        sz, cp = ctypes.c_size_t, ctypes.c_char_p
        lib.wally_asset_value_commitment.restype = ctypes.c_int
        lib.wally_asset_value_commitment.argtypes = [ctypes.c_uint64, cp, sz, cp, sz, cp, sz]
        lib.wally_asset_rangeproof_with_nonce.restype = ctypes.c_int
        lib.wally_asset_rangeproof_with_nonce.argtypes = [
            ctypes.c_uint64, cp, sz, cp, sz, cp, sz, cp, sz, cp, sz, cp, sz, cp, sz,
            ctypes.c_uint64, ctypes.c_int, ctypes.c_int, cp, sz, ctypes.POINTER(sz)]
        context = lib.wally_get_secp_context()
        if not context:
            raise RuntimeError("wally_get_secp_context returned NULL")
        self.lib: Any = lib
        self.context = ctypes.c_void_p(context)
        _check_generator_layout(lib, self.context)


_LIBRARY: _Library | None = None


def _library() -> _Library:
    global _LIBRARY  # loaded once, on first use (the extra may be absent)
    if _LIBRARY is None:
        _LIBRARY = _Library()
    return _LIBRARY


def parse_commitment(raw: bytes, where: str) -> ctypes.Array[ctypes.c_char]:
    """Parse a serialized commitment into the library's structure.

    Raises:
        FormatError: not 33 bytes, or the library refuses it (prefix, x not on the curve).
    """
    if len(raw) != COMMITMENT_SIZE:
        raise FormatError(
            f"{where}: expected a {COMMITMENT_SIZE}-byte commitment, found {len(raw)}")
    if raw[0] not in (8, 9) or int.from_bytes(raw[1:], "big") >= FIELD_PRIME:
        # The library reduces x modulo p, so x + p would parse as the same point: one point,
        # two byte strings, two hashes. Only the canonical encoding is accepted.
        raise FormatError(f"{where}: not a canonical commitment (0x08/0x09 ‖ x, x < p)")
    lib = _library()
    out = ctypes.create_string_buffer(_STRUCT_SIZE)
    if lib.lib.secp256k1_pedersen_commitment_parse(lib.context, out, bytes(raw)) != 1:
        raise FormatError(f"{where}: not a valid Pedersen commitment (0x08/0x09 ‖ x on the curve)")
    return out


def parse_generator(raw: bytes, where: str) -> ctypes.Array[ctypes.c_char]:
    """Parse a serialized generator into the library's structure.

    Raises:
        FormatError: not 33 bytes, or the library refuses it.
    """
    if len(raw) != GENERATOR_SIZE:
        raise FormatError(f"{where}: expected a {GENERATOR_SIZE}-byte generator, found {len(raw)}")
    if raw[0] not in (10, 11) or int.from_bytes(raw[1:], "big") >= FIELD_PRIME:
        raise FormatError(f"{where}: not a canonical generator (0x0a/0x0b ‖ x, x < p)")
    lib = _library()
    out = ctypes.create_string_buffer(_STRUCT_SIZE)
    if lib.lib.secp256k1_generator_parse(lib.context, out, bytes(raw)) != 1:
        raise FormatError(f"{where}: not a valid generator")
    return out


def rangeproof_verify(
    commitment: bytes, proof: bytes, extra: bytes, generator: bytes, where: str
) -> tuple[int, int] | None:
    """Verify a Borromean range proof; the proven range ``(min, max)``, or None if it fails.

    Raises:
        FormatError: the commitment or generator does not parse, or an argument is empty.
    """
    if not proof or not extra:
        raise FormatError(f"{where}: empty range proof or position")
    parsed = parse_commitment(commitment, where)
    gen = parse_generator(generator, where)
    low, high = ctypes.c_uint64(0), ctypes.c_uint64(0)
    lib = _library()
    ok = lib.lib.secp256k1_rangeproof_verify(
        lib.context, ctypes.byref(low), ctypes.byref(high), parsed, bytes(proof), len(proof),
        bytes(extra), len(extra), gen,
    )
    return (int(low.value), int(high.value)) if ok == 1 else None


def tally(positive: list[bytes], negative: list[bytes], where: str) -> bool:
    """True when Σ positive = Σ negative as points (each a serialized commitment).

    Raises:
        FormatError: a commitment does not parse, or a side is empty.
    """
    if not positive or not negative:
        raise FormatError(f"{where}: a commitment sum needs both sides")
    pos = [parse_commitment(c, where) for c in positive]
    neg = [parse_commitment(c, where) for c in negative]
    pos_array = (ctypes.c_char_p * len(pos))(*[ctypes.cast(p, ctypes.c_char_p) for p in pos])
    neg_array = (ctypes.c_char_p * len(neg))(*[ctypes.cast(n, ctypes.c_char_p) for n in neg])
    lib = _library()
    return bool(lib.lib.secp256k1_pedersen_verify_tally(
        lib.context, pos_array, len(pos), neg_array, len(neg)) == 1)


# A known answer for the generator layout (x ‖ y big-endian): secp256k1's own generator G,
# whose y is a square, serialized as a generator 0x0a ‖ x.
_G_X = bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
_G_Y = bytes.fromhex("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8")


def _check_generator_layout(lib: Any, context: ctypes.c_void_p) -> None:
    """Fail loudly unless ``secp256k1_generator`` is x ‖ y big-endian (see the docstring)."""
    out = ctypes.create_string_buffer(_STRUCT_SIZE)
    ser = ctypes.create_string_buffer(GENERATOR_SIZE)
    if (lib.secp256k1_generator_parse(context, out, b"\x0a" + _G_X) != 1
            or out.raw != _G_X + _G_Y
            or lib.secp256k1_generator_serialize(context, ser, _G_X + _G_Y) != 1
            or ser.raw != b"\x0a" + _G_X):
        raise RuntimeError("wallycore's secp256k1_generator is no longer x || y big-endian:"
                           " the private builder's point additions cannot be used")


def value_commitment(value: int, blinding: bytes, generator: bytes) -> bytes | None:
    """libwally's ``wally_asset_value_commitment`` (GIL released): the 33-byte commitment,
    or None when the library refuses (the point at infinity). The caller checks ranges."""
    lib = _library().lib
    out = ctypes.create_string_buffer(COMMITMENT_SIZE)
    if lib.wally_asset_value_commitment(value, blinding, len(blinding), generator,
                                        len(generator), out, COMMITMENT_SIZE) != 0:
        return None
    return out.raw


def rangeproof_with_nonce(
    value: int, nonce: bytes, seed: bytes, abf: bytes, vbf: bytes, commitment: bytes,
    extra: bytes, generator: bytes, min_value: int, exp: int, min_bits: int,
) -> bytes:
    """libwally's ``wally_asset_rangeproof_with_nonce`` (GIL released, so several threads
    make proofs at once); the same bytes as wallycore's Python call of that name.

    Raises:
        FormatError: the library refuses the arguments.
    """
    lib = _library().lib
    out = ctypes.create_string_buffer(RANGEPROOF_MAX_LEN)
    written = ctypes.c_size_t(0)
    ret = lib.wally_asset_rangeproof_with_nonce(
        value, nonce, len(nonce), seed, len(seed), abf, len(abf), vbf, len(vbf), commitment,
        len(commitment), extra, len(extra), generator, len(generator), min_value, exp, min_bits,
        out, RANGEPROOF_MAX_LEN, ctypes.byref(written))
    if ret != 0 or not 0 < written.value <= RANGEPROOF_MAX_LEN:
        raise FormatError(f"range proof: the library refused the arguments (code {ret})")
    return out.raw[:written.value]


def commitment_point(commitment: bytes, where: str) -> bytes:
    """The point of a canonical commitment as x ‖ y (64 bytes big-endian), for additions.

    A commitment 0x08/0x09 ‖ x and a generator 0x0a/0x0b ‖ x encode y the same way (a
    square y, or its negation), so the library's generator parser recovers y.

    Raises:
        FormatError: not a canonical commitment on the curve.
    """
    if len(commitment) != COMMITMENT_SIZE or commitment[0] not in (8, 9) \
            or int.from_bytes(commitment[1:], "big") >= FIELD_PRIME:
        raise FormatError(f"{where}: not a canonical commitment (0x08/0x09 ‖ x, x < p)")
    lib = _library()
    out = ctypes.create_string_buffer(_STRUCT_SIZE)
    if lib.lib.secp256k1_generator_parse(lib.context, out,
                                         bytes([commitment[0] + 2]) + commitment[1:]) != 1:
        raise FormatError(f"{where}: not a valid Pedersen commitment (x not on the curve)")
    return out.raw


_UNCOMPRESSED = 2  # SECP256K1_EC_UNCOMPRESSED


class _AddBuffers(threading.local):
    """Per-thread work buffers of :func:`add_points` (allocated once: it runs per node)."""

    def __init__(self) -> None:
        self.a = ctypes.create_string_buffer(_STRUCT_SIZE)
        self.b = ctypes.create_string_buffer(_STRUCT_SIZE)
        self.total = ctypes.create_string_buffer(_STRUCT_SIZE)
        self.pair = (ctypes.c_char_p * 2)(ctypes.cast(self.a, ctypes.c_char_p),
                                          ctypes.cast(self.b, ctypes.c_char_p))
        self.raw = ctypes.create_string_buffer(65)
        self.size = ctypes.c_size_t(65)
        self.ser = ctypes.create_string_buffer(GENERATOR_SIZE)


_BUFFERS = _AddBuffers()


def add_points(left: bytes, right: bytes, where: str) -> tuple[bytes, bytes]:
    """left + right for two points x ‖ y: the sum's commitment bytes and its point.

    Raises:
        FormatError: a point is not on the curve.
        VerificationError: the sum is the point at infinity.
    """
    lib = _library()
    ctx, c, buf = lib.context, lib.lib, _BUFFERS
    if c.secp256k1_ec_pubkey_parse(ctx, buf.a, b"\x04" + left, 65) != 1 \
            or c.secp256k1_ec_pubkey_parse(ctx, buf.b, b"\x04" + right, 65) != 1:
        raise FormatError(f"{where}: a point to add is not on the curve")
    if c.secp256k1_ec_pubkey_combine(ctx, buf.total, buf.pair, 2) != 1:
        raise VerificationError(f"{where}: the sum of the commitments is the point at infinity")
    buf.size.value = 65
    c.secp256k1_ec_pubkey_serialize(ctx, buf.raw, ctypes.byref(buf.size), buf.total,
                                    _UNCOMPRESSED)
    point = buf.raw.raw[1:65]
    if c.secp256k1_generator_serialize(ctx, buf.ser, point) != 1:
        raise VerificationError(f"{where}: the library refuses the sum")
    return bytes([buf.ser.raw[0] - 2]) + point[:32], point
