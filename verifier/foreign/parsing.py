"""Strict reading of other exchanges' proof files, and their decimal-string conventions.

Owns the boundary every foreign format crosses: JSON is parsed strictly (duplicate keys,
NaN and non-UTF-8 are errors), fields are read through :class:`Obj` so a missing or
unknown field becomes a :class:`~verifier.errors.FormatError` naming the field and where,
and amounts become exact :class:`decimal.Decimal` values. The formatting functions
reproduce, character for character, how each exchange's own verifier prints a decimal
before hashing it (shopspring ``Decimal.String()`` in Go, ``BigDecimal`` in Java).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import (
    ROUND_DOWN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from typing import Any, TypeVar

from verifier.encoding.strictjson import check_depth
from verifier.errors import FormatError

# Amounts longer than this are refused rather than hashed: no exchange prints one, and
# a bound keeps a hostile file from making exact arithmetic slow.
MAX_AMOUNT_CHARS = 80

# Exact arithmetic: sums of two MAX_AMOUNT_CHARS-digit amounts fit, and any rounding
# would raise instead of silently changing a hashed string.
_EXACT = Context(prec=400, traps=[Inexact, Rounded, InvalidOperation, Overflow])
# For the truncations the exchanges do on purpose (RoundDown / setScale(8, DOWN)).
_TRUNCATE = Context(prec=400, rounding=ROUND_DOWN, traps=[InvalidOperation, Overflow])

_DECIMAL_STRING = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_HEX = re.compile(r"[0-9a-fA-F]*")
# An asset name as a balances key (Bitget, MEXC, CoinEx): a bound on what a file can name.
_ASSET_NAME = re.compile(r"[A-Za-z0-9_]{1,20}")

_Node = TypeVar("_Node")


def sha256_hex(text: str) -> str:
    """Return the lowercase hex SHA-256 of ``text`` encoded as UTF-8 (what all these tools hash)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utf8_text(data: bytes, where: str) -> str:
    """Decode a file's bytes as UTF-8.

    Raises:
        FormatError: not UTF-8, naming the first bad byte.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from e


def _reject_constant(name: str) -> Any:
    raise FormatError(f"JSON constant {name} is not a number any exchange publishes")


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Two parsers may keep different copies of a duplicated key: refuse the ambiguity.
            raise FormatError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def load_json(data: bytes, where: str) -> Any:
    """Parse ``data`` as strict JSON, keeping key order and reading numbers exactly.

    Floats become :class:`~decimal.Decimal` (never binary floats), integers stay ``int``.

    Args:
        data: the raw file bytes.
        where: a name for messages (usually the file name).

    Raises:
        FormatError: not UTF-8, not JSON, a duplicate key, or NaN/Infinity.
    """
    text = utf8_text(data, where)
    check_depth(text, where)
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs_no_duplicates,
            parse_float=Decimal,
            parse_constant=_reject_constant,
        )
    except FormatError as e:
        raise FormatError(f"{where}: {e}") from e
    except json.JSONDecodeError as e:
        raise FormatError(f"{where}: not JSON: {e.msg} at line {e.lineno} column {e.colno}") from e
    except RecursionError as e:
        raise FormatError(f"{where}: JSON nested too deeply") from e
    except ValueError as e:  # e.g. an integer of more than 4300 digits (CPython's limit)
        raise FormatError(f"{where}: not usable JSON: {e}") from e


def describe(value: Any) -> str:
    """Name the JSON type of ``value`` for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Obj:
    """A JSON object being read at the boundary, with its location for messages."""

    def __init__(self, value: Any, where: str) -> None:
        """Wrap ``value``, which must be a JSON object.

        Raises:
            FormatError: ``value`` is not an object.
        """
        if not isinstance(value, dict):
            raise FormatError(f"{where}: expected an object, found {describe(value)}")
        self.raw: dict[str, Any] = value
        self.where = where

    def keys(self) -> list[str]:
        """Return the object's keys in file order."""
        return list(self.raw)

    def only(self, required: Iterable[str], optional: Iterable[str] = ()) -> None:
        """Check that every ``required`` field is present and nothing unknown is.

        Raises:
            FormatError: a required field is missing or an unknown field is present.
        """
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in self.raw:
            if key not in allowed:
                raise FormatError(
                    f"{self.where}: unknown field {key!r} (expected only {sorted(allowed)})"
                )
        for key in required:
            if key not in self.raw:
                raise FormatError(f"{self.where}: missing field {key!r}")

    def has(self, key: str) -> bool:
        """Tell whether ``key`` is present."""
        return key in self.raw

    def at(self, key: str) -> str:
        """Return the location of field ``key`` for messages."""
        return f"{self.where}.{key}"

    def get(self, key: str) -> Any:
        """Return field ``key``.

        Raises:
            FormatError: the field is missing.
        """
        if key not in self.raw:
            raise FormatError(f"{self.where}: missing field {key!r}")
        return self.raw[key]

    def text(self, key: str) -> str:
        """Return field ``key``, which must be a string.

        Raises:
            FormatError: missing or not a string.
        """
        value = self.get(key)
        if not isinstance(value, str):
            raise FormatError(f"{self.at(key)}: expected a string, found {describe(value)}")
        return value

    def integer(self, key: str) -> int:
        """Return field ``key``, which must be a JSON integer (not a boolean).

        Raises:
            FormatError: missing or not an integer.
        """
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormatError(f"{self.at(key)}: expected an integer, found {describe(value)}")
        return value

    def obj(self, key: str) -> Obj:
        """Return field ``key`` as an :class:`Obj`.

        Raises:
            FormatError: missing or not an object.
        """
        return Obj(self.get(key), self.at(key))

    def array(self, key: str) -> list[Any]:
        """Return field ``key``, which must be a list.

        Raises:
            FormatError: missing or not a list.
        """
        value = self.get(key)
        if not isinstance(value, list):
            raise FormatError(f"{self.at(key)}: expected a list, found {describe(value)}")
        return value

    def items(self) -> Iterator[tuple[str, Any]]:
        """Iterate over (key, value) in file order."""
        return iter(self.raw.items())


def hex_string(value: str, where: str, *, length: int) -> str:
    """Check that ``value`` is ``length`` hex digits and return it unchanged.

    The case is kept: several exchange tools compare hashes case-sensitively, and
    reproducing their rule means hashing and comparing the text exactly as published.

    Raises:
        FormatError: wrong length or a non-hex character.
    """
    if len(value) != length or not _HEX.fullmatch(value):
        raise FormatError(
            f"{where}: expected {length} hex digits, found {describe(value)} ({len(value)} chars)"
        )
    return value


def decimal_string(value: Any, where: str) -> Decimal:
    """Read an amount published as a JSON string of a plain decimal ("12.5", "-0.1").

    Raises:
        FormatError: not a string, or not a plain decimal (no exponent, sign only ``-``).
    """
    if not isinstance(value, str):
        raise FormatError(f"{where}: expected a decimal string, found {describe(value)}")
    if len(value) > MAX_AMOUNT_CHARS or not _DECIMAL_STRING.fullmatch(value):
        raise FormatError(f'{where}: expected a plain decimal like "12.5", found {value!r}')
    return Decimal(value)


def decimal_number(value: Any, where: str) -> Decimal:
    """Read an amount published as a JSON number, exactly (its scale is kept).

    Raises:
        FormatError: not a number, or too long.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise FormatError(f"{where}: expected a JSON number, found {describe(value)}")
    if isinstance(value, int):
        if len(str(value)) > MAX_AMOUNT_CHARS:
            raise FormatError(f"{where}: number too long")
        return Decimal(value)
    if len(str(value)) > MAX_AMOUNT_CHARS or not value.is_finite():
        raise FormatError(f"{where}: number too long or not finite")
    return value


def asset_amounts(
    balances: Obj, *, numbers: bool = False
) -> tuple[dict[str, Decimal], dict[str, str]]:
    """Read a balances object ``{asset: amount}`` in file order.

    Args:
        balances: the object, read at the boundary.
        numbers: amounts are JSON numbers (:func:`decimal_number`), not decimal strings.

    Returns:
        the exact values, and the amounts as published (empty when ``numbers``).

    Raises:
        FormatError: an asset name that is not 1-20 letters, digits or ``_``, or a bad amount.
    """
    values: dict[str, Decimal] = {}
    texts: dict[str, str] = {}
    for asset, amount in balances.items():
        at = balances.at(asset)
        if not _ASSET_NAME.fullmatch(asset):
            raise FormatError(f"{at}: asset name must be 1-20 letters or digits")
        if numbers:
            values[asset] = decimal_number(amount, at)
        else:
            values[asset] = decimal_string(amount, at)
            texts[asset] = amount
    return values, texts


def proof_object(data: bytes, where: str, fields: tuple[str, ...]) -> Obj:
    """Parse a proof file that is one JSON object holding exactly ``fields``.

    Raises:
        FormatError: not JSON, not an object, a missing field (the first of ``fields``
            missing is named) or an unknown one.
    """
    top = Obj(load_json(data, where), where)
    top.only(fields)
    return top


def path_nodes(top: Obj, key: str, read: Callable[[Any, str], _Node]) -> tuple[_Node, ...]:
    """Read the list ``top[key]`` of path nodes, each with ``read(value, where)``.

    Raises:
        FormatError: not a list, an empty list (a proof needs at least the root), or
            whatever ``read`` raises, at ``<where>.<key>[i]``.
    """
    nodes = tuple(read(item, f"{top.where}.{key}[{i}]") for i, item in enumerate(top.array(key)))
    if not nodes:
        raise FormatError(f"{top.where}.{key}: empty; a proof needs at least the root")
    return nodes


def add(a: Decimal, b: Decimal) -> Decimal:
    """Add exactly: the scale of the result is the larger scale, as in Java and Go.

    Raises:
        FormatError: the sum cannot be held exactly (only with absurdly long amounts).
    """
    try:
        return _EXACT.add(a, b)
    except (Inexact, Rounded, InvalidOperation, Overflow) as e:
        raise FormatError(f"amount too large to add exactly: {a} + {b}") from e


def _plain(d: Decimal) -> str:
    """Fixed-point text of ``d`` with exactly its own scale (no exponent)."""
    if d.is_zero():
        d = d.copy_abs()  # Java and Go have no negative zero
    return format(d, "f")


def go_decimal_string(d: Decimal) -> str:
    """Print like shopspring ``decimal.Decimal.String()``: plain, trailing zeros trimmed."""
    if d.is_zero():
        return "0"
    return _plain(d.normalize(_EXACT))


def go_round_down(d: Decimal, places: int) -> Decimal:
    """Reproduce shopspring ``RoundDown(places)``: truncate toward zero, keep shorter values."""
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -places:
        return d
    return d.quantize(Decimal(1).scaleb(-places), context=_TRUNCATE)


def java_set_scale_down_plain(d: Decimal, scale: int) -> str:
    """Print like Java ``setScale(scale, RoundingMode.DOWN).toPlainString()`` ("0.00000000")."""
    return _plain(d.quantize(Decimal(1).scaleb(-scale), context=_TRUNCATE))


def java_strip_plain(d: Decimal) -> str:
    """Print like Java ``stripTrailingZeros().toPlainString()`` (zero prints "0")."""
    return go_decimal_string(d)


def java_big_decimal_to_string(d: Decimal) -> str:
    """Print like Java ``BigDecimal.toString()``: scale kept, exponent when Java uses one.

    Java switches to scientific notation exactly when Python's ``str(Decimal)`` does
    (negative scale, or adjusted exponent below -6), with the same spelling ("1E-8").
    """
    if d.is_zero():
        d = d.copy_abs()
    return str(d)


def java_string_hash(text: str) -> int:
    """Return Java's ``String.hashCode()`` of ``text`` (over UTF-16 code units, as int32)."""
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[str]) -> list[str]:
    """Return the iteration order of a ``java.util.HashMap`` filled with ``keys`` in order.

    Bitget's 2022 verifier serialises a ``HashMap`` of balances, so the hashed JSON has
    the map's bucket order, not the file's order. Buckets are ``spread(hash) & (n - 1)``
    for the table size ``n`` after the last resize; a bucket keeps insertion order.
    """
    size = 16
    while len(keys) > size * 3 // 4:
        size *= 2

    def bucket(key: str) -> int:
        h = java_string_hash(key)
        return (h ^ (h >> 16)) & (size - 1)

    indexed = list(enumerate(keys))
    indexed.sort(key=lambda item: (bucket(item[1]), item[0]))
    return [key for _, key in indexed]


def lines_of(data: bytes, where: str) -> list[str]:
    """Split a text file into lines (LF or CRLF), dropping a final empty line.

    Raises:
        FormatError: not UTF-8.
    """
    lines = utf8_text(data, where).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
