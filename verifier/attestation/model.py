"""The attestation document and its arithmetic (docs/spec.md §13.1-13.3).

Owns the payload's fields (strict parsing, exact serialisation), the rule of which reserves
count, and the solvency figures. :func:`build_attestation` (used by ``por attest sign``) and
:func:`check_figures` / :func:`compare_with_files` (used by ``por-verify bundle``) call the
same functions, so a figure is computed one way only. No I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, format_time, parse_time
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.margin_round import parse_any_summary as parse_public_summary
from verifier.liabilities.mst import (
    MARGIN_SCHEME,
    MARGIN_VERSION,
    Asset,
    Position,
    check_round_id,
    levels_for,
)
from verifier.liabilities.proof import parse_positions, positions_to_json
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.summary import RootSummary, assets_to_json, parse_assets
from verifier.private.proof import PrivateRoot, canonical_bytes
from verifier.private.scheme import SCHEME as PRIVATE_SCHEME
from verifier.private.scheme import root_hash as private_root_hash
from verifier.reserves.challenge import check_exchange_name
from verifier.reserves.model import SOURCE_NODE, SOURCE_REPORTED, ReservesFile

ATTESTATION_SCHEME = "por-attestation"
# Version 2 adds ``signer_read_reserves`` (spec §13.1); version 1 is still read (the field
# is then unknown, and reports say "not recorded").
ATTESTATION_VERSION = 2
ATTESTATION_LEGACY_VERSION = 1
# Version 3: the attestation of a margin round (spec §13.6): the liabilities are the margin
# root (equity, debt and collateral totals, the risk hash), and each solvency line sets the
# reserves against net liabilities, total equity − total debt. Spot rounds keep version 2.
ATTESTATION_MARGIN_VERSION = 3
# Version 4: the attestation of a private round (spec §13.7): the liabilities are the
# private root (scheme, version, hidden levels, unit exponents, committed totals and their
# blindings, root hash), and each asset's liabilities are its committed total x 10^e base
# units, never below the exact ones. Spot (2) and margin (3) rounds keep their versions.
ATTESTATION_PRIVATE_VERSION = 4
# §13.2: the ratio is reserves / liabilities rounded down to this many decimal places, so
# it never overstates: it reads 1.000000 or more only when reserves cover liabilities.
RATIO_DIGITS = 6
STATUS_COVERED = "covered"
STATUS_UNDER = "under-reserved"
COUNTED_RULE = "node-read-round-signed"


@dataclass(frozen=True)
class Finding:
    """One thing that does not hold, with a short code (spec §13.5 lists them)."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


AnySummary = RootSummary | MarginRootSummary | PrivateRoot


def parse_any_summary(root_bytes: bytes, what: str = "root.json") -> AnySummary:
    """A round's ``root.json`` of any scheme an attestation can carry, told apart by its
    ``scheme`` field and read by that scheme's strict parser: spot (spec §8.1), margin
    (§15.10) or private (§16.7, version 1 or 2). The one reader of ``por attest``, the
    bundle check's callers and the API.

    Raises:
        FormatError: malformed, or an unknown scheme (as the spot parser reports it).
    """
    data = sj.loads(root_bytes, what)
    if isinstance(data, dict) and data.get("scheme") == PRIVATE_SCHEME:
        return PrivateRoot.from_json(root_bytes, what)
    return parse_public_summary(root_bytes, what)


def private_liabilities(root: PrivateRoot) -> tuple[int, ...]:
    """A private round's liabilities per asset in base units (spec §13.7): the committed
    total x 10^e. Each user's balance was rounded up to a whole unit before it was
    committed (§16.3), so this is never below the exact liabilities."""
    return tuple(total * asset.unit for total, asset in zip(root.totals, root.assets,
                                                             strict=True))


def net_liability(total: Position) -> int:
    """A margin round's net liabilities in one asset (spec §13.6): total equity − total
    debt, and 0 when users borrowed more than all users hold. The debt a user owes is an
    asset of the exchange, so it is set against what the exchange owes in that asset; debt
    beyond the equity is never counted as a reserve (of this asset or another)."""
    return max(0, total.equity - total.debt)


@dataclass(frozen=True)
class LiabilitiesFigures:
    """The liabilities root as published in ``root.json`` (spec §8.1, §15.10).

    ``totals``: per asset, what reserves must cover: the spot root's totals, or, for a
    margin round, the net liabilities derived from ``positions`` (never serialised).
    ``positions`` and ``risk_hash``: a margin round's total equity, debt and collateral per
    asset and the hash of its risk parameters; None for a spot round.
    """

    root_hash: bytes
    leaf_count: int
    assets: tuple[Asset, ...]
    totals: tuple[int, ...]
    risk_hash: bytes | None = None
    positions: tuple[Position, ...] | None = None
    # A private round's published root (spec §13.7): ``totals`` are then derived from it
    # (committed total x 10^e), never read from the payload.
    private: PrivateRoot | None = None
    # With it, the hash of the private tree's top node (§16.4): the one input of the root
    # hash (§16.6) that root.json does not hold, so anyone recomputes the root from public
    # data. None only for the figures of a root.json read alone.
    top_hash: bytes | None = None

    @property
    def margin(self) -> bool:
        """True for a margin round's liabilities (attestation version 3)."""
        return self.positions is not None

    @property
    def kind(self) -> str:
        """Which form of liabilities (hence of attestation): spot, margin or private."""
        return "private" if self.private is not None else "margin" if self.margin else "spot"

    def to_dict(self) -> dict[str, Any]:
        """The payload's ``liabilities`` object."""
        if self.private is not None:
            # root.json (§16.7) field for field, less ``round`` (the payload's own), and the
            # top node's hash.
            assert self.top_hash is not None
            return {k: v for k, v in self.private.to_dict().items() if k != "round"} | {
                "top_hash": self.top_hash.hex()}
        if self.positions is not None:
            assert self.risk_hash is not None
            return {
                "scheme": MARGIN_SCHEME,
                "version": MARGIN_VERSION,
                "root_hash": self.root_hash.hex(),
                "leaf_count": self.leaf_count,
                "assets": assets_to_json(self.assets),
                "risk_hash": self.risk_hash.hex(),
                "totals": positions_to_json(self.positions),
            }
        return {
            "root_hash": self.root_hash.hex(),
            "leaf_count": self.leaf_count,
            "assets": assets_to_json(self.assets),
            "totals": [str(t) for t in self.totals],
        }

    @classmethod
    def from_dict(cls, value: Any, where: str, margin: bool = False,
                  private_round: str | None = None) -> LiabilitiesFigures:
        """Parse the ``liabilities`` object (``margin``: the version 3 form, spec §13.6;
        ``private_round``: the version 4 form of that round, §13.7).

        Raises:
            FormatError: malformed or unknown fields.
        """
        if private_round is not None:
            if not isinstance(value, dict) or "top_hash" not in value:
                raise FormatError(f"{where}: expected an object with a top_hash (spec §13.7)")
            top_hash = sj.hash_hex(value["top_hash"], f"{where}.top_hash")
            root = _private_root({k: v for k, v in value.items() if k != "top_hash"}, where,
                                 private_round)
            return cls.of_private(root, top_hash)
        if margin:
            raw = sj.obj(value, where, {"scheme", "version", "root_hash", "leaf_count",
                                        "assets", "risk_hash", "totals"})
            check_scheme(raw, where, MARGIN_SCHEME, MARGIN_VERSION)
        else:
            raw = sj.obj(value, where, {"root_hash", "leaf_count", "assets", "totals"})
        assets = parse_assets(raw["assets"], f"{where}.assets")
        leaf_count = sj.integer(raw["leaf_count"], f"{where}.leaf_count")
        levels_for(leaf_count)
        root_hash = sj.hash_hex(raw["root_hash"], f"{where}.root_hash")
        if margin:
            positions = parse_positions(raw["totals"], f"{where}.totals", len(assets))
            return cls(root_hash, leaf_count, assets,
                       tuple(net_liability(p) for p in positions),
                       sj.hash_hex(raw["risk_hash"], f"{where}.risk_hash"), positions)
        return cls(root_hash, leaf_count, assets,
                   tuple(sj.amounts(raw["totals"], f"{where}.totals", len(assets))))


    @classmethod
    def of_private(cls, root: PrivateRoot, top_hash: bytes | None = None
                   ) -> LiabilitiesFigures:
        """The figures of a private round's root (spec §13.7), with its top node's hash
        when known (an attestation's; a root.json alone does not hold it)."""
        return cls(root.root_hash, root.leaf_count,
                   tuple(Asset(a.symbol, a.decimals) for a in root.assets),
                   private_liabilities(root), private=root, top_hash=top_hash)


def _private_root(value: Any, where: str, round_id: str) -> PrivateRoot:
    """A version 4 ``liabilities`` object: root.json's fields less ``round`` (spec §13.7),
    read by the private scheme's own strict parser with the payload's round.

    Raises:
        FormatError: not an object, a ``round`` field, or anything root.json may not hold.
    """
    if not isinstance(value, dict):
        raise FormatError(f"{where}: expected a JSON object")
    if "round" in value:
        raise FormatError(f"{where}: unknown field 'round' (the payload's round is the"
                          " round)")
    return PrivateRoot.from_json(canonical_bytes(value | {"round": round_id}), where)


@dataclass(frozen=True)
class ChainFigures:
    """A chain's snapshot as the reserves file records it."""

    name: str
    kind: str
    network: str
    height: int
    block_hash: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this chain snapshot."""
        return {
            "name": self.name,
            "kind": self.kind,
            "network": self.network,
            "height": self.height,
            "block_hash": self.block_hash,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ChainFigures:
        """Parse one chain snapshot.

        Raises:
            FormatError: malformed or unknown fields.
        """
        raw = sj.obj(value, where, {"name", "kind", "network", "height", "block_hash"})
        block_hash = sj.hash_hex(raw["block_hash"], f"{where}.block_hash").hex()
        height = sj.integer(raw["height"], f"{where}.height")
        if height < 0:
            raise FormatError(f"{where}.height: {height} is negative")
        return cls(
            sj.string(raw["name"], f"{where}.name"),
            sj.string(raw["kind"], f"{where}.kind"),
            sj.string(raw["network"], f"{where}.network"),
            height,
            block_hash,
        )


@dataclass(frozen=True)
class ReserveAssetFigures:
    """Per asset of the reserves file: what counts, and what is set aside and why."""

    symbol: str
    decimals: int
    counted: int
    claimed: int
    reported_not_read: int
    past_control_only: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this asset's reserves."""
        return {
            "symbol": self.symbol,
            "decimals": self.decimals,
            "counted": str(self.counted),
            "claimed": str(self.claimed),
            "reported_not_read": str(self.reported_not_read),
            "past_control_only": str(self.past_control_only),
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ReserveAssetFigures:
        """Parse one asset's reserves.

        Raises:
            FormatError: malformed or unknown fields.
        """
        fields = {"symbol", "decimals", "counted", "claimed", "reported_not_read",
                  "past_control_only"}
        raw = sj.obj(value, where, fields)
        asset = Asset(sj.string(raw["symbol"], f"{where}.symbol"),
                      sj.integer(raw["decimals"], f"{where}.decimals"))
        return cls(
            asset.symbol,
            asset.decimals,
            sj.amount(raw["counted"], f"{where}.counted"),
            sj.amount(raw["claimed"], f"{where}.claimed"),
            sj.amount(raw["reported_not_read"], f"{where}.reported_not_read"),
            sj.amount(raw["past_control_only"], f"{where}.past_control_only"),
        )


@dataclass(frozen=True)
class ReservesFigures:
    """The reserves file, bound by the SHA-256 of its exact bytes, and its figures."""

    sha256: bytes
    chains: tuple[ChainFigures, ...]
    assets: tuple[ReserveAssetFigures, ...]

    def to_dict(self) -> dict[str, Any]:
        """The payload's ``reserves`` object."""
        return {
            "file_sha256": self.sha256.hex(),
            "counted": COUNTED_RULE,
            "chains": [c.to_dict() for c in self.chains],
            "assets": [a.to_dict() for a in self.assets],
        }

    @classmethod
    def from_dict(cls, value: Any, where: str) -> ReservesFigures:
        """Parse the ``reserves`` object.

        Raises:
            FormatError: malformed, unknown fields, or another counting rule.
        """
        raw = sj.obj(value, where, {"file_sha256", "counted", "chains", "assets"})
        rule = sj.string(raw["counted"], f"{where}.counted")
        if rule != COUNTED_RULE:
            raise FormatError(f"{where}.counted: rule {rule!r} is not {COUNTED_RULE!r}")
        assets = tuple(ReserveAssetFigures.from_dict(a, f"{where}.assets[{i}]")
                       for i, a in enumerate(sj.array(raw["assets"], f"{where}.assets")))
        _no_repeated_symbol([a.symbol for a in assets], f"{where}.assets")
        return cls(
            sj.hash_hex(raw["file_sha256"], f"{where}.file_sha256"),
            tuple(ChainFigures.from_dict(c, f"{where}.chains[{i}]")
                  for i, c in enumerate(sj.array(raw["chains"], f"{where}.chains"))),
            assets,
        )


def _no_repeated_symbol(symbols: Sequence[str], where: str) -> None:
    """A symbol listed twice is refused: the checks index lines by symbol, and a copy would
    otherwise vanish unchecked (issue 10, ``test_repeated_reserves_asset_line``)."""
    seen: set[str] = set()
    for i, symbol in enumerate(symbols):
        if symbol in seen:
            raise FormatError(f"{where}[{i}]: asset {symbol!r} is listed twice")
        seen.add(symbol)


@dataclass(frozen=True)
class SolvencyLine:
    """One asset's solvency figures (spec §13.2)."""

    symbol: str
    decimals: int
    reserves: int
    liabilities: int
    ratio: str | None
    surplus: int
    shortfall: int
    status: str
    # A margin round's line (version 3): the asset's totals over all users, beside the net
    # ``liabilities`` = max(0, total_equity − total_debt) the reserves are set against.
    margin: Position | None = None

    MARGIN_FIELDS = ("total_equity", "total_debt", "total_collateral")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this line."""
        extra: dict[str, Any] = {}
        if self.margin is not None:
            extra = {"total_equity": str(self.margin.equity),
                     "total_debt": str(self.margin.debt),
                     "total_collateral": str(self.margin.collateral)}
        return {
            "symbol": self.symbol,
            "decimals": self.decimals,
            "reserves": str(self.reserves),
            "liabilities": str(self.liabilities),
            "ratio": self.ratio,
            "surplus": str(self.surplus),
            "shortfall": str(self.shortfall),
            "status": self.status,
        } | extra

    @classmethod
    def from_dict(cls, value: Any, where: str, margin: bool = False) -> SolvencyLine:
        """Parse one solvency line (form only; :func:`check_figures` checks the arithmetic).

        Raises:
            FormatError: malformed or unknown fields.
        """
        fields = {"symbol", "decimals", "reserves", "liabilities", "ratio", "surplus",
                  "shortfall", "status"}
        if margin:
            fields |= set(cls.MARGIN_FIELDS)
        raw = sj.obj(value, where, fields)
        asset = Asset(sj.string(raw["symbol"], f"{where}.symbol"),
                      sj.integer(raw["decimals"], f"{where}.decimals"))
        ratio = raw["ratio"]
        if ratio is not None:
            ratio = sj.string(ratio, f"{where}.ratio")
        status = sj.string(raw["status"], f"{where}.status")
        if status not in (STATUS_COVERED, STATUS_UNDER):
            raise FormatError(f"{where}.status: {status!r}, expected {STATUS_COVERED!r} or "
                              f"{STATUS_UNDER!r}")
        return cls(
            asset.symbol,
            asset.decimals,
            sj.amount(raw["reserves"], f"{where}.reserves"),
            sj.amount(raw["liabilities"], f"{where}.liabilities"),
            ratio,
            sj.amount(raw["surplus"], f"{where}.surplus"),
            sj.amount(raw["shortfall"], f"{where}.shortfall"),
            status,
            Position(*(sj.amount(raw[name], f"{where}.{name}") for name in cls.MARGIN_FIELDS))
            if margin else None,
        )


@dataclass(frozen=True)
class Attestation:
    """A round's attestation payload, parsed (spec §13.1)."""

    exchange: str
    round_id: str
    snapshot_time: datetime
    attested_at: datetime
    key_id: str
    previous: bytes | None
    liabilities: LiabilitiesFigures
    reserves: ReservesFigures
    solvency: tuple[SolvencyLine, ...]
    all_covered: bool
    # Whether the signer re-read the reserves from its own nodes before signing (version
    # 2); None: a version 1 attestation, which does not say.
    signer_read_reserves: bool | None = None

    FIELDS = frozenset({
        "scheme", "version", "exchange", "round", "snapshot_time", "attested_at", "key_id",
        "previous_attestation", "liabilities", "reserves", "solvency", "all_covered",
    })
    FIELDS_V2 = FIELDS | {"signer_read_reserves"}

    @property
    def version(self) -> int:
        """1 (no ``signer_read_reserves``), 2 (a spot round), 3 (a margin round) or 4 (a
        private round)."""
        if self.liabilities.private is not None:
            return ATTESTATION_PRIVATE_VERSION
        if self.liabilities.margin:
            return ATTESTATION_MARGIN_VERSION
        if self.signer_read_reserves is None:
            return ATTESTATION_LEGACY_VERSION
        return ATTESTATION_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The payload, ready for RFC 8785 canonicalisation and signing (version 2; a
        version 1 attestation, read back, keeps its version 1 form)."""
        extra: dict[str, Any] = {}
        if self.signer_read_reserves is not None:
            extra["signer_read_reserves"] = self.signer_read_reserves
        return extra | {
            "scheme": ATTESTATION_SCHEME,
            "version": self.version,
            "exchange": self.exchange,
            "round": self.round_id,
            "snapshot_time": format_time(self.snapshot_time),
            "attested_at": format_time(self.attested_at),
            "key_id": self.key_id,
            "previous_attestation": self.previous.hex() if self.previous else None,
            "liabilities": self.liabilities.to_dict(),
            "reserves": self.reserves.to_dict(),
            "solvency": [s.to_dict() for s in self.solvency],
            "all_covered": self.all_covered,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "attestation") -> Attestation:
        """Parse a payload strictly (its arithmetic is checked by :func:`check_figures`).

        Raises:
            FormatError: another scheme or version, a missing or unknown field, a malformed
                value.
        """
        version = data.get("version")
        legacy = version == ATTESTATION_LEGACY_VERSION
        # A margin attestation is told apart by its version only; its liabilities and lines
        # then must have the margin form (and a version 2 one must not).
        margin = version == ATTESTATION_MARGIN_VERSION and type(version) is int
        # A private round's attestation (spec §13.7), likewise told apart by version only.
        private = version == ATTESTATION_PRIVATE_VERSION and type(version) is int
        raw = sj.obj(data, where, set(cls.FIELDS if legacy else cls.FIELDS_V2))
        check_scheme(raw, where, ATTESTATION_SCHEME,
                     ATTESTATION_LEGACY_VERSION if legacy
                     else ATTESTATION_MARGIN_VERSION if margin
                     else ATTESTATION_PRIVATE_VERSION if private else ATTESTATION_VERSION)
        previous = raw["previous_attestation"]
        all_covered = raw["all_covered"]
        if not isinstance(all_covered, bool):
            raise FormatError(f"{where}.all_covered: expected true or false")
        read = None if legacy else raw["signer_read_reserves"]
        if not legacy and not isinstance(read, bool):
            raise FormatError(f"{where}.signer_read_reserves: expected true or false")
        solvency = tuple(SolvencyLine.from_dict(s, f"{where}.solvency[{i}]", margin)
                         for i, s in enumerate(sj.array(raw["solvency"], f"{where}.solvency")))
        _no_repeated_symbol([s.symbol for s in solvency], f"{where}.solvency")
        round_id = check_round_id(sj.string(raw["round"], f"{where}.round"))
        return cls(
            exchange=check_exchange_name(sj.string(raw["exchange"], f"{where}.exchange")),
            round_id=round_id,
            snapshot_time=parse_time(raw["snapshot_time"], f"{where}.snapshot_time"),
            attested_at=parse_time(raw["attested_at"], f"{where}.attested_at"),
            key_id=sj.hash_hex(raw["key_id"], f"{where}.key_id").hex(),
            previous=None if previous is None else sj.hash_hex(
                previous, f"{where}.previous_attestation"),
            liabilities=LiabilitiesFigures.from_dict(raw["liabilities"], f"{where}.liabilities",
                                                     margin, round_id if private else None),
            reserves=ReservesFigures.from_dict(raw["reserves"], f"{where}.reserves"),
            solvency=solvency,
            all_covered=all_covered,
            signer_read_reserves=read,
        )


def payload_hash(payload: bytes) -> bytes:
    """An attestation's hash: SHA-256 of its exact signed payload bytes (spec §13.1)."""
    return hashlib.sha256(payload).digest()


def ratio_string(reserves: int, liabilities: int) -> str | None:
    """``reserves / liabilities`` rounded down to :data:`RATIO_DIGITS` places; None if 0.

    Integer arithmetic only: ``floor(reserves * 10^6 / liabilities)`` written with the
    decimal point six places from the right ("1.052341", "0.000000").
    """
    if liabilities == 0:
        return None
    scaled = reserves * 10**RATIO_DIGITS // liabilities
    whole, frac = divmod(scaled, 10**RATIO_DIGITS)
    return f"{whole}.{frac:0{RATIO_DIGITS}d}"


def solvency_line(symbol: str, decimals: int, reserves: int, liabilities: int,
                  margin: Position | None = None) -> SolvencyLine:
    """The one computation of an asset's solvency figures (spec §13.2); for a margin round
    (``margin``: the asset's total equity, debt and collateral), ``liabilities`` must be
    their net (:func:`net_liability`, spec §13.6)."""
    covered = reserves >= liabilities
    return SolvencyLine(
        symbol, decimals, reserves, liabilities, ratio_string(reserves, liabilities),
        reserves - liabilities if covered else 0,
        0 if covered else liabilities - reserves,
        STATUS_COVERED if covered else STATUS_UNDER,
        margin,
    )



def liabilities_figures(summary: AnySummary) -> LiabilitiesFigures:
    """The liabilities figures of a published ``root.json``, spot, margin or private."""
    if isinstance(summary, PrivateRoot):
        return LiabilitiesFigures.of_private(summary)
    if isinstance(summary, MarginRootSummary):
        return LiabilitiesFigures(summary.root_hash, summary.leaf_count, summary.assets,
                                  tuple(net_liability(p) for p in summary.totals),
                                  summary.risk_hash, summary.totals)
    return LiabilitiesFigures(summary.root_hash, summary.leaf_count, summary.assets,
                              summary.totals)


def reserves_figures(reserves: ReservesFile) -> ReservesFigures:
    """The reserves figures of a reserves file, by the counting rule of spec §13.3.

    Counted: balances read from a node (``source: node``) in wallets that signed this
    round's challenge (``message: round``): exactly what the reserves verifier can confirm
    at the snapshot block. Set aside and stated: balances only reported by the exchange, and
    balances of wallets that signed a static message (control at some past time only).
    """
    counted = {a.symbol: 0 for a in reserves.assets}
    reported = dict.fromkeys(counted, 0)
    past_only = dict.fromkeys(counted, 0)
    for wallet in reserves.counted_wallets():  # each wallet identity once (§11.4)
        for balance in wallet.balances:
            if balance.asset not in counted:
                continue  # the reserves verifier reports it (unknown-asset)
            if balance.source == SOURCE_REPORTED:
                reported[balance.asset] += balance.amount
            elif balance.source == SOURCE_NODE and wallet.message == "static":
                past_only[balance.asset] += balance.amount
            elif balance.source == SOURCE_NODE:
                counted[balance.asset] += balance.amount
    chains = []
    for c in reserves.chains:
        snap = c.snapshot()
        chains.append(ChainFigures(c.name, c.kind, c.network, snap.height, snap.block_hash))
    return ReservesFigures(
        hashlib.sha256(reserves.raw_bytes).digest(),
        tuple(chains),
        tuple(
            ReserveAssetFigures(a.symbol, a.decimals, counted[a.symbol], total,
                                reported[a.symbol], past_only[a.symbol])
            for a, total in zip(reserves.assets, reserves.totals, strict=True)
        ),
    )


def solvency_lines(
    liabilities: LiabilitiesFigures, reserves: ReservesFigures
) -> tuple[SolvencyLine, ...]:
    """Per asset, in the liabilities' order then any asset held only in reserves.

    An asset with liabilities and no reserves is under-reserved by all of its liabilities.

    Raises:
        VerificationError: an asset has other decimals in the reserves than in the
            liabilities (the two figures would not be in the same unit).
    """
    held = {a.symbol: a for a in reserves.assets}
    lines = []
    margins: tuple[Position | None, ...] = (
        liabilities.positions if liabilities.positions is not None
        else (None,) * len(liabilities.assets))
    totals = liabilities.totals
    if liabilities.private is not None:  # recomputed from the committed totals (§13.7)
        totals = private_liabilities(liabilities.private)
    for asset, total, margin in zip(liabilities.assets, totals, margins, strict=True):
        reserve = held.get(asset.symbol)
        if reserve is not None and reserve.decimals != asset.decimals:
            raise VerificationError(
                f"{asset.symbol}: {reserve.decimals} decimals in the reserves file but "
                f"{asset.decimals} in the liabilities; the figures are not comparable")
        if margin is not None:
            total = net_liability(margin)  # never the stored net: recomputed (§13.6)
        lines.append(solvency_line(asset.symbol, asset.decimals,
                                   reserve.counted if reserve else 0, total, margin))
    owed = {a.symbol for a in liabilities.assets}
    nothing = Position(0, 0, 0) if liabilities.margin else None
    for reserve in reserves.assets:
        if reserve.symbol not in owed:
            lines.append(solvency_line(reserve.symbol, reserve.decimals, reserve.counted, 0,
                                       nothing))
    return tuple(lines)


def build_attestation(
    exchange: str,
    summary: AnySummary,
    reserves: ReservesFile,
    *,
    risk: RiskParams | None = None,
    snapshot_time: datetime,
    attested_at: datetime,
    key_id: str,
    previous: bytes | None,
    signer_read_reserves: bool = False,
    top_hash: bytes | None = None,
) -> Attestation:
    """The attestation of one round, every figure computed here (``por attest sign``).

    ``signer_read_reserves`` records whether the signer re-read the reserves from its own
    nodes before signing (false with ``--skip-chain``). A margin round (a
    :class:`MarginRootSummary`) needs its ``risk`` file, the one its root binds, and gets
    a version 3 attestation (spec §13.6).

    Raises:
        VerificationError: the files are not of this round and exchange, an asset's
            decimals differ between them, or a margin round's risk file is missing or not
            the one its root binds.
    """
    problems = _binding_findings(exchange, summary.round_id, summary.root_hash, reserves)
    problems += _risk_findings(summary, risk)
    if problems:
        raise VerificationError("; ".join(str(p) for p in problems))
    liabilities = liabilities_figures(summary)
    if isinstance(summary, PrivateRoot):
        if top_hash is None:
            raise VerificationError("a private round's attestation needs the hash of its "
                                    "tree's top node (spec §13.7), read from its tree.bin")
        liabilities = LiabilitiesFigures.of_private(summary, top_hash)
    elif top_hash is not None:
        raise VerificationError("a top node hash was given for a round that is not private")
    reserve_figures = reserves_figures(reserves)
    lines = solvency_lines(liabilities, reserve_figures)
    return Attestation(
        exchange=check_exchange_name(exchange),
        round_id=summary.round_id,
        snapshot_time=snapshot_time,
        attested_at=attested_at,
        key_id=key_id,
        previous=previous,
        liabilities=liabilities,
        reserves=reserve_figures,
        solvency=lines,
        all_covered=all(line.status == STATUS_COVERED for line in lines),
        signer_read_reserves=signer_read_reserves,
    )


def _binding_findings(
    exchange: str, round_id: str, root_hash: bytes, reserves: ReservesFile
) -> list[Finding]:
    found = []
    if reserves.exchange != exchange:
        found.append(Finding("another-exchange", f"the reserves file is of exchange "
                             f"{reserves.exchange!r}, not {exchange!r}"))
    if reserves.round_id != round_id:
        found.append(Finding("another-round", f"the reserves file is of round "
                             f"{reserves.round_id!r}, not {round_id!r}"))
    if reserves.liabilities_root != root_hash:
        found.append(Finding("reserves-root", f"the reserves file names liabilities root "
                             f"{reserves.liabilities_root.hex()}, not {root_hash.hex()}"))
    return found


def _risk_findings(summary: AnySummary, risk: RiskParams | None) -> list[Finding]:
    """A margin round's risk file must be the one its root binds and price its assets; a
    spot round has none (spec §13.6)."""
    if not isinstance(summary, MarginRootSummary):
        if risk is not None:
            return [Finding("risk-file", "a risk file was given for a spot round, whose "
                            "root binds none")]
        return []
    if risk is None:
        return [Finding("risk-file", "a margin round's attestation needs its risk file "
                        "(risk.json), whose hash its root binds")]
    if risk.hash != summary.risk_hash:
        return [Finding("risk-file", f"the risk file's hash is {risk.hash.hex()}, the root "
                        f"binds {summary.risk_hash.hex()}")]
    try:
        risk.check_round_assets(summary.assets, "risk file")
    except FormatError as e:
        return [Finding("risk-file", str(e))]
    return []


def check_figures(att: Attestation) -> list[Finding]:
    """Recompute every solvency figure from the attestation's own reserves and liabilities.

    A line that differs, a missing or extra line, and a claim of cover the figures do not
    support are each a finding; an under-reserved asset reported as such is not.
    """
    try:
        expected = solvency_lines(att.liabilities, att.reserves)
    except VerificationError as e:
        return [Finding("decimals", str(e))]
    found: list[Finding] = []
    claimed = {line.symbol: line for line in att.solvency}
    if [line.symbol for line in att.solvency] != [line.symbol for line in expected]:
        found.append(Finding("solvency-assets", f"solvency lines for "
                             f"{[s.symbol for s in att.solvency]}, expected "
                             f"{[s.symbol for s in expected]}"))
    for want in expected:
        got = claimed.get(want.symbol)
        if got is None:
            continue
        found.extend(_line_findings(got, want))
    covered = all(line.status == STATUS_COVERED for line in expected)
    if att.all_covered and not covered:
        short = [f"{s.symbol} short by {s.shortfall}" for s in expected if s.shortfall]
        found.append(Finding("false-solvency", "the attestation claims every asset is "
                             f"covered, but {', '.join(short)}"))
    elif covered and not att.all_covered:
        found.append(Finding("solvency-flag", "all_covered is false, but every asset is "
                             "covered by the attested figures"))
    return found


def _line_findings(got: SolvencyLine, want: SolvencyLine) -> list[Finding]:
    found = []
    if got.status == STATUS_COVERED and want.status == STATUS_UNDER:
        found.append(Finding("false-solvency", f"{want.symbol}: claims {STATUS_COVERED!r}, "
                             f"but reserves {want.reserves} < liabilities {want.liabilities}: "
                             f"shortfall {want.shortfall}"))
    for name in ("decimals", "reserves", "liabilities", "ratio", "surplus", "shortfall",
                 "status"):
        mine, right = getattr(got, name), getattr(want, name)
        if mine != right:
            found.append(Finding("solvency-figure", f"{want.symbol}.{name}: the attestation "
                                 f"says {mine!r}, recomputed {right!r}"))
    if got.margin != want.margin:
        for part in ("equity", "debt", "collateral"):
            mine = getattr(got.margin, part, None)
            right = getattr(want.margin, part, None)
            if mine != right:
                found.append(Finding("solvency-figure", f"{want.symbol}.total_{part}: the "
                                     f"attestation says {mine!r}, the liabilities give "
                                     f"{right!r}"))
    return found


def compare_with_files(
    att: Attestation, summary: AnySummary, reserves: ReservesFile,
    risk: RiskParams | None = None,
) -> list[Finding]:
    """Check the attestation's liabilities and reserves figures against the files.

    ``root.json`` must be the attested root (round, hash, leaf count, assets, totals; for
    a margin round also the risk hash and every equity, debt and collateral total, and
    ``risk`` the file that hash names); the reserves file must be the attested bytes
    (SHA-256), of this round, exchange and root, and every counted, claimed and set-aside
    figure is recomputed from it.
    """
    found = _binding_findings(att.exchange, att.round_id, att.liabilities.root_hash, reserves)
    if summary.round_id != att.round_id:
        found.append(Finding("another-round", f"root.json is of round {summary.round_id!r}, "
                             f"the attestation of {att.round_id!r}"))
    mine = liabilities_figures(summary)
    if mine.kind != att.liabilities.kind:
        found.append(Finding("liabilities-figure", f"root.json is of a {mine.kind} round, the "
                             f"attestation of a {att.liabilities.kind} one"))
        return found
    found += _risk_findings(summary, risk)
    found += _private_findings(att.liabilities.private, mine.private)
    found += root_opening_findings(att.liabilities)
    for name in ("root_hash", "leaf_count", "assets", "totals", "risk_hash", "positions"):
        stated, published = getattr(att.liabilities, name), getattr(mine, name)
        if stated != published:
            found.append(Finding("liabilities-figure", f"liabilities.{name}: the attestation "
                                 f"says {_show(stated)}, root.json has {_show(published)}"))
    recomputed = reserves_figures(reserves)
    if recomputed.sha256 != att.reserves.sha256:
        found.append(Finding("reserves-file", f"the reserves file's SHA-256 is "
                             f"{recomputed.sha256.hex()}, the attestation names "
                             f"{att.reserves.sha256.hex()}"))
    if recomputed.chains != att.reserves.chains:
        found.append(Finding("reserves-figure", f"chains: the attestation says "
                             f"{_chains(att.reserves.chains)}, the file has "
                             f"{_chains(recomputed.chains)}"))
    stated_assets = {a.symbol: a for a in att.reserves.assets}
    if list(stated_assets) != [a.symbol for a in recomputed.assets]:
        found.append(Finding("reserves-figure", f"assets: the attestation lists "
                             f"{list(stated_assets)}, the file "
                             f"{[a.symbol for a in recomputed.assets]}"))
    for want in recomputed.assets:
        got = stated_assets.get(want.symbol)
        if got is None or got == want:
            continue
        for name in ("decimals", "counted", "claimed", "reported_not_read",
                     "past_control_only"):
            if getattr(got, name) != getattr(want, name):
                found.append(Finding("reserves-figure", f"{want.symbol}.{name}: the "
                                     f"attestation says {getattr(got, name)}, the reserves "
                                     f"file gives {getattr(want, name)}"))
    return found


def root_opening_findings(liabilities: LiabilitiesFigures) -> list[Finding]:
    """A private round's root recomputed from public data alone (spec §13.7): each asset's
    committed total and blinding open its top commitment, commit(total_j, r_j, G_j), and
    with the attested top node's hash they give the root hash (§16.6), which must be the
    attested one. So the published totals are the tree's, proof or no proof. Needs the
    ``[private]`` extra (the commitments are libsecp256k1-zkp's).
    """
    root, top = liabilities.private, liabilities.top_hash
    if root is None:
        return []
    if top is None:
        return [Finding("root-opening", "the private liabilities name no top node hash")]
    try:
        computed = private_root_hash(root.round_id, root.assets, root.leaf_count, top,
                                     root.top_commitments(), root.totals, root.blindings,
                                     root.hidden_levels)
    except (VerificationError, FormatError) as e:
        return [Finding("root-opening", f"the root opening does not open: {e}")]
    if computed != root.root_hash:
        return [Finding("root-opening", f"the committed totals and blindings, opened, with the "
                        f"top node's hash give root {computed.hex()}, not the attested "
                        f"{root.root_hash.hex()}: the totals are not the tree's")]
    return []


def _private_findings(stated: PrivateRoot | None,
                      published: PrivateRoot | None) -> list[Finding]:
    """A private round's attested root against root.json, field for field (spec §13.7):
    scheme version and hidden levels, unit exponents, committed totals, blindings. (Root
    hash, leaf count, assets and base-unit liabilities are compared with every scheme's.)"""
    if stated is None or published is None:
        return []
    mine = {k: v for k, v in stated.to_dict().items() if k != "round"}
    theirs = {k: v for k, v in published.to_dict().items() if k != "round"}
    return [Finding("liabilities-figure", f"liabilities.{name}: the attestation says "
                    f"{mine.get(name)!r}, root.json has {theirs.get(name)!r}")
            for name in ("version", "hidden_levels", "assets", "totals", "blindings")
            if mine.get(name) != theirs.get(name)]


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple) and value and isinstance(value[0], Position):
        return str(positions_to_json(value))
    if isinstance(value, tuple) and value and isinstance(value[0], Asset):
        return str([f"{a.symbol}/{a.decimals}" for a in value])
    if isinstance(value, tuple):
        return str([str(v) for v in value])
    return repr(value)


def _chains(chains: Sequence[ChainFigures]) -> str:
    return ", ".join(f"{c.name}@{c.height}/{c.block_hash[:12]}" for c in chains)
