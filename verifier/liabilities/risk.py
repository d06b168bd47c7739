"""The round's risk parameters (scheme ``por-risk`` version 1, spec §15.5) and the per-user
margin rule (spec §15.6): prices, haircut tiers and exact integer arithmetic.

Bytes in, a validated object or an exception out; no I/O, no floats anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, UsageError, VerificationError
from verifier.liabilities.mst import Asset, Position, check_assets, risk_hash

RISK_SCHEME = "por-risk"  # spec §15.5
RISK_VERSION = 1  # spec §15.5
MAX_VALUE_DECIMALS = 38  # spec §15.5
MAX_TIERS = 32  # spec §15.5
MAX_RISK_BYTES = 1 << 20  # spec §15.5

# A canonical non-negative decimal: no sign, no leading zero, no trailing zero after the point.
_DECIMAL_RE = re.compile(r"(0|[1-9][0-9]{0,59})(\.[0-9]{0,37}[1-9])?")
_QUOTE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")


def _scaled(text: Any, scale: int, where: str) -> int:
    """The decimal string ``text`` times 10**scale, which must be an exact integer.

    Raises:
        FormatError: not a canonical decimal string, or more fractional digits than ``scale``.
    """
    value = sj.string(text, where)
    if not _DECIMAL_RE.fullmatch(value):
        raise FormatError(
            f"{where}: expected a canonical decimal string (no sign, exponent, leading zero"
            f" or trailing fractional zero), found {value[:40]!r}"
        )
    whole, _, frac = value.partition(".")
    if len(frac) > scale:
        raise FormatError(
            f"{where}: {value} has {len(frac)} decimals but at most {scale} are exact here"
        )
    scaled: int = int(whole + frac) * 10 ** (scale - len(frac))
    return scaled


@dataclass(frozen=True)
class Tier:
    """One haircut tier: collateral values in (previous bound, ``up_to``] count ``ratio``%."""

    up_to: int  # in value units (10**-value_decimals of the quote unit)
    ratio: int  # percent, 0..100


@dataclass(frozen=True)
class AssetRisk:
    """One asset's price and haircut tiers, as parsed (texts kept for canonical bytes)."""

    asset: Asset
    price_text: str
    price_units: int  # value units per base unit of the asset: price × 10**(V − decimals)
    tier_texts: tuple[tuple[str, int], ...]
    tiers: tuple[Tier, ...]

    def value(self, amount: int) -> int:
        """The exact value of ``amount`` base units, in value units (no rounding)."""
        return amount * self.price_units

    def haircut(self, collateral_value: int) -> int:
        """Binance's tiered haircut of a collateral value (spec §15.6), rounded down.

        For b_{k−1} < cv ≤ b_k: precomputed_{k−1} + ⌊(cv − b_{k−1}) × ratio_k / 100⌋, with
        precomputed_k = Σ_{i≤k} ⌊(b_i − b_{i−1}) × ratio_i / 100⌋, b_0 = 0, capped at the
        last tier's precomputed value. No tiers: the asset counts nothing as collateral.
        """
        return haircut(collateral_value, self.tiers)


def haircut(collateral_value: int, tiers: Sequence[Tier]) -> int:
    """See :meth:`AssetRisk.haircut`."""
    previous = 0
    accumulated = 0
    for tier in tiers:
        if collateral_value <= tier.up_to:
            return accumulated + (collateral_value - previous) * tier.ratio // 100
        accumulated += (tier.up_to - previous) * tier.ratio // 100
        previous = tier.up_to
    return accumulated


@dataclass(frozen=True)
class RiskParams:
    """A parsed, validated risk parameters file and its canonical bytes and hash."""

    quote: str
    value_decimals: int
    assets: tuple[AssetRisk, ...]
    canonical: bytes
    hash: bytes

    FIELDS = frozenset({"scheme", "version", "quote", "value_decimals", "assets"})

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "risk file") -> RiskParams:
        """Parse a risk file whose bytes must be exactly its canonical form (RFC 8785).

        Raises:
            FormatError: malformed, unknown fields, inexact figures, or not canonical.
        """
        raw_bytes = data.encode() if isinstance(data, str) else data
        if len(raw_bytes) > MAX_RISK_BYTES:
            raise FormatError(f"{what}: {len(raw_bytes)} bytes, at most {MAX_RISK_BYTES}")
        params = cls.from_obj(sj.loads(raw_bytes, what), what)
        if params.canonical != raw_bytes:
            raise FormatError(
                f"{what}: not in canonical form (RFC 8785, no trailing newline); the hash"
                " bound into the root is of the canonical bytes only (spec §15.5)"
            )
        return params

    @classmethod
    def from_obj(cls, value: Any, what: str = "risk") -> RiskParams:
        """Validate a parsed risk object (as embedded in a proof).

        Raises:
            FormatError: malformed, unknown fields or inexact figures.
        """
        raw = sj.obj(value, what, set(cls.FIELDS))
        scheme = sj.string(raw["scheme"], f"{what}.scheme")
        version = sj.integer(raw["version"], f"{what}.version")
        if scheme != RISK_SCHEME or version != RISK_VERSION:
            raise FormatError(
                f"{what}: scheme {scheme!r} version {version} is not known"
                f" (expected {RISK_SCHEME!r} version {RISK_VERSION})"
            )
        quote = sj.string(raw["quote"], f"{what}.quote")
        if not _QUOTE_RE.fullmatch(quote):
            raise FormatError(f"{what}.quote: expected 1-16 characters of A-Z a-z 0-9 . _ -")
        vdec = sj.integer(raw["value_decimals"], f"{what}.value_decimals")
        if not 0 <= vdec <= MAX_VALUE_DECIMALS:
            raise FormatError(f"{what}.value_decimals: expected 0..{MAX_VALUE_DECIMALS}")
        items = sj.array(raw["assets"], f"{what}.assets")
        out: list[AssetRisk] = []
        for i, item in enumerate(items):
            where = f"{what}.assets[{i}]"
            entry = sj.obj(item, where, {"symbol", "decimals", "price", "tiers"})
            try:
                asset = Asset(
                    sj.string(entry["symbol"], f"{where}.symbol"),
                    sj.integer(entry["decimals"], f"{where}.decimals"),
                )
            except FormatError as e:
                raise FormatError(f"{where}: {e}") from e
            if asset.decimals > vdec:
                raise FormatError(
                    f"{where}: {asset.symbol} has {asset.decimals} decimals, more than"
                    f" value_decimals {vdec}"
                )
            price_text = sj.string(entry["price"], f"{where}.price")
            price_units = _scaled(price_text, vdec - asset.decimals, f"{where}.price")
            if price_units == 0:
                raise FormatError(f"{where}.price: must be above 0 (a free debt is no debt)")
            tier_items = sj.array(entry["tiers"], f"{where}.tiers")
            if len(tier_items) > MAX_TIERS:
                raise FormatError(f"{where}.tiers: at most {MAX_TIERS} tiers")
            tiers: list[Tier] = []
            tier_texts: list[tuple[str, int]] = []
            for t, tier_item in enumerate(tier_items):
                tw = f"{where}.tiers[{t}]"
                tier = sj.obj(tier_item, tw, {"up_to", "ratio"})
                up_text = sj.string(tier["up_to"], f"{tw}.up_to")
                up_to = _scaled(up_text, vdec, f"{tw}.up_to")
                ratio = sj.integer(tier["ratio"], f"{tw}.ratio")
                if not 0 <= ratio <= 100:
                    raise FormatError(f"{tw}.ratio: expected 0..100 percent, found {ratio}")
                if up_to <= (tiers[-1].up_to if tiers else 0):
                    raise FormatError(f"{tw}.up_to: bounds must be above 0 and strictly increasing")
                tiers.append(Tier(up_to, ratio))
                tier_texts.append((up_text, ratio))
            out.append(AssetRisk(asset, price_text, price_units, tuple(tier_texts), tuple(tiers)))
        check_assets([a.asset for a in out])
        obj = _to_obj(quote, vdec, out)
        canonical = rfc8785.dumps(obj)
        return cls(quote, vdec, tuple(out), canonical, risk_hash(canonical))

    def to_obj(self) -> dict[str, Any]:
        """The JSON object of these parameters."""
        return _to_obj(self.quote, self.value_decimals, self.assets)

    def check_round_assets(self, assets: Sequence[Asset], where: str) -> None:
        """Require the risk file to price exactly the round's assets, in the same order.

        Raises:
            FormatError: an asset of the round has no price here, or vice versa (a debt in
                an asset the round does not list or price cannot be valued).
        """
        mine = tuple(a.asset for a in self.assets)
        if mine != tuple(assets):
            raise FormatError(
                f"{where}: the risk parameters price {[a.symbol for a in mine]} but the"
                f" round lists {[a.symbol for a in assets]} (same symbols, decimals and order"
                " required, spec §15.5)"
            )


def _to_obj(quote: str, vdec: int, assets: Sequence[AssetRisk]) -> dict[str, Any]:
    return {
        "scheme": RISK_SCHEME,
        "version": RISK_VERSION,
        "quote": quote,
        "value_decimals": vdec,
        "assets": [
            {
                "symbol": a.asset.symbol,
                "decimals": a.asset.decimals,
                "price": a.price_text,
                "tiers": [{"up_to": u, "ratio": r} for u, r in a.tier_texts],
            }
            for a in assets
        ],
    }


@dataclass(frozen=True)
class RuleCheck:
    """Both sides of a user's margin rule, in value units (spec §15.6)."""

    equity_value: int
    debt_value: int
    collateral_value: int  # after haircuts

    @property
    def covered(self) -> bool:
        """True when the haircut collateral covers the debt."""
        return self.collateral_value >= self.debt_value


def evaluate_rule(risk: RiskParams, positions: Sequence[Position]) -> RuleCheck:
    """Compute a user's equity, debt and haircut collateral values (spec §15.6).

    Raises:
        VerificationError: collateral above equity in some asset.
        UsageError: ``positions`` does not have one entry per asset (a caller's bug).
    """
    if len(positions) != len(risk.assets):
        raise UsageError(f"{len(positions)} positions for {len(risk.assets)} assets")
    equity = debt = collateral = 0
    for ar, p in zip(risk.assets, positions, strict=True):
        if p.collateral > p.equity:
            raise VerificationError(
                f"{ar.asset.symbol}: collateral {p.collateral} exceeds equity {p.equity}"
            )
        equity += ar.value(p.equity)
        debt += ar.value(p.debt)
        collateral += ar.haircut(ar.value(p.collateral))
    return RuleCheck(equity, debt, collateral)


def check_rule(risk: RiskParams, positions: Sequence[Position], who: str) -> RuleCheck:
    """Raise unless ``who``'s debt is covered by their haircut collateral (spec §15.6).

    Raises:
        VerificationError: collateral above equity, or debt value above haircut collateral
            value (the message gives both sides of the inequality).
    """
    try:
        rule = evaluate_rule(risk, positions)
    except VerificationError as e:
        raise VerificationError(f"{who}: {e}") from e
    if not rule.covered:
        raise VerificationError(
            f"{who}: under water: haircut collateral value {rule.collateral_value} <"
            f" debt value {rule.debt_value} (value units of 10^-{risk.value_decimals}"
            f" {risk.quote})"
        )
    return rule
