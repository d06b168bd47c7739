"""The published artifacts of a liabilities round: the root summary and its asset list.

``root.json`` is what an exchange publishes (spec §8.1); every other check compares against it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError
from verifier.liabilities.mst import (
    SCHEME,
    VERSION,
    Asset,
    check_assets,
    check_round_id,
    levels_for,
)


def parse_scheme(data: Mapping[str, Any], where: str) -> None:
    """Check the scheme and version fields name one this verifier knows.

    Raises:
        FormatError: an unknown scheme or version (fail closed: never guess).
    """
    scheme = sj.string(data["scheme"], f"{where}.scheme")
    version = sj.integer(data["version"], f"{where}.version")
    if scheme != SCHEME or version != VERSION:
        raise FormatError(
            f"{where}: scheme {scheme!r} version {version} is not known to this verifier"
            f" (it checks {SCHEME!r} version {VERSION})"
        )


def parse_assets(value: Any, where: str) -> tuple[Asset, ...]:
    """Parse the asset list: ``[{"symbol": "BTC", "decimals": 8}, ...]`` in the round's order.

    Raises:
        FormatError: malformed entries, unknown fields, or a repeated symbol.
    """
    items = sj.array(value, where)
    assets = []
    for i, item in enumerate(items):
        entry = sj.obj(item, f"{where}[{i}]", {"symbol", "decimals"})
        symbol = sj.string(entry["symbol"], f"{where}[{i}].symbol")
        decimals = sj.integer(entry["decimals"], f"{where}[{i}].decimals")
        assets.append(Asset(symbol, decimals))
    return check_assets(assets)


def assets_to_json(assets: Sequence[Asset]) -> list[dict[str, Any]]:
    """The JSON form of an asset list."""
    return [{"symbol": a.symbol, "decimals": a.decimals} for a in assets]


def format_units(amount: int, decimals: int) -> str:
    """Render base units as an exact decimal string in asset units ("0.00120000")."""
    if decimals == 0:
        return str(amount)
    whole, frac = divmod(amount, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


@dataclass(frozen=True)
class RootSummary:
    """The published root of a round: hash, per-asset totals, padded leaf count (spec §8.1)."""

    round_id: str
    assets: tuple[Asset, ...]
    leaf_count: int
    root_hash: bytes
    totals: tuple[int, ...]

    FIELDS = frozenset(
        {"scheme", "version", "round", "assets", "leaf_count", "root_hash", "totals"}
    )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "root summary") -> RootSummary:
        """Parse a root summary strictly.

        Raises:
            FormatError: anything malformed, unknown or missing.
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        parse_scheme(raw, what)
        assets = parse_assets(raw["assets"], f"{what}.assets")
        leaf_count = sj.integer(raw["leaf_count"], f"{what}.leaf_count")
        levels_for(leaf_count)
        return cls(
            round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
            assets=assets,
            leaf_count=leaf_count,
            root_hash=sj.hash_hex(raw["root_hash"], f"{what}.root_hash"),
            totals=tuple(sj.amounts(raw["totals"], f"{what}.totals", len(assets))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this summary; amounts as decimal strings of base units."""
        return {
            "scheme": SCHEME,
            "version": VERSION,
            "round": self.round_id,
            "assets": assets_to_json(self.assets),
            "leaf_count": self.leaf_count,
            "root_hash": self.root_hash.hex(),
            "totals": [str(t) for t in self.totals],
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"
