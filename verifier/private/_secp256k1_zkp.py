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
import warnings
from typing import Any

from verifier.errors import FormatError

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
)


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
        context = lib.wally_get_secp_context()
        if not context:
            raise RuntimeError("wally_get_secp_context returned NULL")
        self.lib: Any = lib
        self.context = ctypes.c_void_p(context)


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
