"""Strict reading of JSON artifacts: the boundary where bytes become validated values.

Duplicate keys, NaN/Infinity, floats, unknown and missing fields are all errors that name
where they were found (spec §9: the verifier fails closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from verifier.encoding.bounds import HASH_SIZE, MAX_AMOUNT
from verifier.errors import FormatError

_UINT_RE = re.compile(r"0|[1-9][0-9]{0,38}")
_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET_RE = re.compile(r"[^\[\]{}]+")
MAX_DEPTH = 64


def check_depth(text: str, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` before handing it to the C decoder.

    Why: a file of 100,000 ``[`` can exhaust the C stack of CPython's JSON scanner and
    crash the process instead of raising; our artifacts never nest more than a few levels.

    Raises:
        FormatError: the text nests deeper than ``limit``.
    """
    depth = 0
    for char in _NOT_BRACKET_RE.sub("", _JSON_STRING_RE.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            raise FormatError(f"{what}: JSON nested deeper than {limit} levels")
_HEX_RE = re.compile(r"[0-9a-f]*")


def _no_constant(name: str) -> NoReturn:
    raise FormatError(f"JSON constant {name} is not allowed")


def _no_float(text: str) -> NoReturn:
    raise FormatError(f"JSON number {text} is not allowed: amounts travel as decimal strings")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FormatError(f"JSON object repeats the key {key!r}")
        out[key] = value
    return out


def loads(data: bytes | str, what: str) -> Any:
    """Parse JSON strictly: no duplicate keys, no floats, no NaN/Infinity.

    Raises:
        FormatError: the bytes are not valid UTF-8 JSON under these rules.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        check_depth(text, what)
        return json.loads(
            text, object_pairs_hook=_pairs, parse_constant=_no_constant, parse_float=_no_float
        )
    except FormatError as e:
        raise FormatError(f"{what}: {e}") from e
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, >4300-digit ints
        raise FormatError(f"{what}: not valid JSON: {e}") from e


def obj(
    value: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    """Check ``value`` is an object with exactly the required (and allowed optional) keys.

    Raises:
        FormatError: not an object, a required key missing, or an unknown key present.
    """
    if not isinstance(value, dict):
        raise FormatError(f"{where}: expected an object, found {type(value).__name__}")
    missing = required - value.keys()
    if missing:
        raise FormatError(f"{where}: missing field(s) {sorted(missing)}")
    unknown = value.keys() - required - optional
    if unknown:
        raise FormatError(f"{where}: unknown field(s) {sorted(unknown)}")
    return value


def string(value: Any, where: str) -> str:
    """Return ``value`` if it is a string.

    Raises:
        FormatError: it is not.
    """
    if not isinstance(value, str):
        raise FormatError(f"{where}: expected a string, found {type(value).__name__}")
    return value


def integer(value: Any, where: str) -> int:
    """Return ``value`` if it is a JSON integer (not a bool).

    Raises:
        FormatError: it is not.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{where}: expected an integer, found {value!r}")
    return value


def array(value: Any, where: str) -> list[Any]:
    """Return ``value`` if it is a JSON array.

    Raises:
        FormatError: it is not.
    """
    if not isinstance(value, list):
        raise FormatError(f"{where}: expected an array, found {type(value).__name__}")
    return value


def hash_hex(value: Any, where: str, size: int = HASH_SIZE) -> bytes:
    """Decode a full-width lowercase hex hash; a truncated or padded hash is an error.

    Raises:
        FormatError: not a string of exactly ``2*size`` lowercase hex digits.
    """
    text = string(value, where)
    if len(text) != 2 * size or not _HEX_RE.fullmatch(text):
        raise FormatError(
            f"{where}: expected {2 * size} lowercase hex digits, found {len(text)} characters"
            f" {text[:16]!r}{'...' if len(text) > 16 else ''}"
        )
    return bytes.fromhex(text)


def amount(value: Any, where: str) -> int:
    """Decode an amount: a decimal string of an integer in base units, 0..2^128-1.

    Raises:
        FormatError: not a canonical decimal string, or out of the u128 range.
    """
    text = string(value, where)
    if not _UINT_RE.fullmatch(text):
        raise FormatError(
            f"{where}: expected a decimal string of a non-negative integer in base units"
            f" without leading zeros, found {text[:50]!r}"
        )
    number = int(text)
    if number > MAX_AMOUNT:
        raise FormatError(f"{where}: {text} is out of range (at most 2^128-1)")
    return number


def amounts(value: Any, where: str, count: int) -> list[int]:
    """Decode a list of exactly ``count`` amounts.

    Raises:
        FormatError: not a list of ``count`` valid amounts.
    """
    items = array(value, where)
    if len(items) != count:
        raise FormatError(f"{where}: expected {count} amounts (one per asset), found {len(items)}")
    return [amount(item, f"{where}[{i}]") for i, item in enumerate(items)]
