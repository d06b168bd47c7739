"""A user's inclusion proof (spec §8.2) and its verification.

Bytes in, a report or an exception out; no I/O. The verifier recomputes the user's
commitment from their id and salt, the leaf from their amounts, and every parent up the
path, with both children's sums bound at each level, and fails closed on anything it
cannot check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import (
    MARGIN_SCHEME,
    MARGIN_VERSION,
    SCHEME,
    VERSION,
    Asset,
    Position,
    add_positions,
    add_sums,
    check_round_id,
    encode_amounts,
    encode_positions,
    leaf_hash,
    levels_for,
    margin_leaf_hash,
    margin_node_hash,
    margin_root_hash,
    node_hash,
    root_hash,
    user_commitment,
    user_id_bytes,
)
from verifier.liabilities.risk import RiskParams, RuleCheck, check_rule
from verifier.liabilities.summary import RootSummary, assets_to_json, parse_assets, parse_scheme

Side = Literal["left", "right"]
Sums = TypeVar("Sums")  # what a level carries: amounts (spot) or positions (margin)
Step = TypeVar("Step")
Sums_contra = TypeVar("Sums_contra", contravariant=True)
Step_co = TypeVar("Step_co", covariant=True)


class _StepMaker(Protocol[Sums_contra, Step_co]):
    """A path step's constructor (:class:`PathStep`, :class:`MarginPathStep`), called by
    field name so that no reordering of their fields can swap two of them."""

    def __call__(self, *, side: Side, hash: bytes, sums: Sums_contra) -> Step_co:
        ...  # pragma: no cover


@dataclass(frozen=True)
class _ProofBody(Generic[Sums, Step]):
    """The fields spot and margin proofs share, parsed by :func:`_parse_body`."""

    round_id: str
    user_id: str
    salt: bytes
    own: Sums
    path: tuple[Step, ...]
    root_hash: bytes
    root_sums: Sums
    leaf_count: int


def _parse_body(
    raw: Mapping[str, Any],
    what: str,
    own_field: str,
    sums: Callable[[Any, str], Sums],
    step: _StepMaker[Sums, Step],
) -> _ProofBody[Sums, Step]:
    """Parse what a spot (spec §8.2) and a margin (§15.7) proof share, in one order.

    ``own_field`` names the user's own figures (``amounts`` or ``positions``), ``sums``
    reads them and every level's sums, and ``step`` builds a path step.

    Raises:
        FormatError: a malformed user id, root, leaf count, path, round, salt or sums.
    """
    user_id = sj.string(raw["user_id"], f"{what}.user_id")
    try:
        user_id_bytes(user_id)
    except FormatError as e:
        raise FormatError(f"{what}.user_id: {e}") from e
    root = sj.obj(raw["root"], f"{what}.root", {"hash", "sums", "leaf_count"})
    leaf_count = sj.integer(root["leaf_count"], f"{what}.root.leaf_count")
    try:
        levels_for(leaf_count)
    except FormatError as e:
        raise FormatError(f"{what}.root.leaf_count: {e}") from e
    steps = []
    for i, item in enumerate(sj.array(raw["path"], f"{what}.path")):
        where = f"{what}.path[{i}]"
        entry = sj.obj(item, where, {"side", "hash", "sums"})
        side = sj.string(entry["side"], f"{where}.side")
        if side not in ("left", "right"):
            raise FormatError(f"{where}.side: expected 'left' or 'right', found {side!r}")
        steps.append(
            step(
                side="left" if side == "left" else "right",
                hash=sj.hash_hex(entry["hash"], f"{where}.hash"),
                sums=sums(entry["sums"], f"{where}.sums"),
            )
        )
    return _ProofBody(
        round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
        user_id=user_id,
        salt=sj.hash_hex(raw["salt"], f"{what}.salt"),
        own=sums(raw[own_field], f"{what}.{own_field}"),
        path=tuple(steps),
        root_hash=sj.hash_hex(root["hash"], f"{what}.root.hash"),
        root_sums=sums(root["sums"], f"{what}.root.sums"),
        leaf_count=leaf_count,
    )


def _check_path_length(path_length: int, leaf_count: int) -> int:
    """Return the tree's depth for ``leaf_count`` leaves.

    Raises:
        VerificationError: the path is not exactly that long.
    """
    levels = levels_for(leaf_count)
    if path_length != levels:
        raise VerificationError(
            f"path has {path_length} levels but a tree of {leaf_count} leaves"
            f" needs exactly {levels}"
        )
    return levels


Figure = TypeVar("Figure")  # one asset's figure at a level: an amount or a position


@dataclass(frozen=True)
class _Step(Generic[Figure]):
    """One level of a path, spot (:class:`PathStep`) or margin (:class:`MarginPathStep`):
    the sibling's hash and sums, and the side the sibling is on."""

    side: Side
    hash: bytes
    sums: tuple[Figure, ...]


def _climb(
    leaf: bytes,
    own: tuple[Figure, ...],
    path: Sequence[_Step[Figure]],
    root_sums: tuple[Figure, ...],
    encode: Callable[[Sequence[Figure]], bytes],
    node: Callable[[bytes, bytes, bytes, bytes], bytes],
    add: Callable[[Sequence[Figure], Sequence[Figure], str], list[Figure]],
) -> tuple[bytes, list[Figure], int]:
    """Hash from the leaf up the path, binding both children's sums at every level.

    Returns:
        the top node's hash, its sums (equal to ``root_sums``) and the leaf's index.

    Raises:
        VerificationError: a sum overflows, or the sums reached differ from ``root_sums``.
    """
    current_hash, current, index = leaf, list(own), 0
    for level, step in enumerate(path, start=1):
        mine, theirs = encode(current), encode(step.sums)
        if step.side == "left":
            current_hash = node(step.hash, theirs, current_hash, mine)
            current = add(step.sums, current, f"level {level}")
            index |= 1 << (level - 1)
        else:
            current_hash = node(current_hash, mine, step.hash, theirs)
            current = add(current, step.sums, f"level {level}")
    if tuple(current) != root_sums:
        raise VerificationError(
            f"root: computed sums {current} but the proof's root holds {list(root_sums)}"
        )
    return current_hash, current, index


def _amounts_json(amounts: Sequence[int]) -> list[str]:
    """Amounts as JSON: decimal strings of base units (spec §8.2)."""
    return [str(a) for a in amounts]


def _path_and_root(
    path: Sequence[_Step[Figure]],
    root_hash: bytes,
    root_sums: Sequence[Figure],
    leaf_count: int,
    render: Callable[[Sequence[Figure]], list[Any]],
) -> dict[str, Any]:
    """A proof's ``path`` and ``root`` objects (spec §8.2, §15.7), ``render`` writing each
    level's sums."""
    return {
        "path": [{"side": s.side, "hash": s.hash.hex(), "sums": render(s.sums)} for s in path],
        "root": {"hash": root_hash.hex(), "sums": render(root_sums), "leaf_count": leaf_count},
    }


def _text(obj: dict[str, Any]) -> str:
    """A proof's file text: its object with a stable key order and a trailing newline."""
    return json.dumps(obj, indent=2) + "\n"


@dataclass(frozen=True)
class PathStep(_Step[int]):
    """One level of the path: the sibling's hash and sums, and the side the sibling is on."""


@dataclass(frozen=True)
class InclusionProof:
    """A user's inclusion proof, parsed and validated in shape (not yet verified)."""

    round_id: str
    assets: tuple[Asset, ...]
    user_id: str
    salt: bytes
    amounts: tuple[int, ...]
    path: tuple[PathStep, ...]
    root_hash: bytes
    root_sums: tuple[int, ...]
    leaf_count: int

    FIELDS = frozenset(
        {"scheme", "version", "round", "assets", "user_id", "salt", "amounts", "path", "root"}
    )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "proof") -> InclusionProof:
        """Parse a proof strictly: unknown fields, wrong widths and bad numbers all fail.

        Raises:
            FormatError: the proof is malformed in any way.
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        parse_scheme(raw, what)
        assets = parse_assets(raw["assets"], f"{what}.assets")
        n = len(assets)
        body = _parse_body(
            raw,
            what,
            "amounts",
            lambda value, where: tuple(sj.amounts(value, where, n)),
            PathStep,
        )
        return cls(
            round_id=body.round_id,
            assets=assets,
            user_id=body.user_id,
            salt=body.salt,
            amounts=body.own,
            path=body.path,
            root_hash=body.root_hash,
            root_sums=body.root_sums,
            leaf_count=body.leaf_count,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this proof (spec §8.2)."""
        return {
            "scheme": SCHEME,
            "version": VERSION,
            "round": self.round_id,
            "assets": assets_to_json(self.assets),
            "user_id": self.user_id,
            "salt": self.salt.hex(),
            "amounts": _amounts_json(self.amounts),
            **_path_and_root(self.path, self.root_hash, self.root_sums, self.leaf_count,
                             _amounts_json),
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return _text(self.to_dict())


@dataclass(frozen=True)
class ProofReport:
    """What a proof established, and against what.

    ``anchor`` names the publication the root was compared with (spec §8.2). None means
    the proof was checked against its own root only: anyone can write a proof that passes
    that, so a caller must never report it as verified (the CLI's verdict is UNANCHORED).
    """

    round_id: str
    assets: tuple[Asset, ...]
    user_id: str
    amounts: tuple[int, ...]
    leaf_index: int
    path_length: int
    root_hash: bytes
    root_sums: tuple[int, ...]
    leaf_count: int
    anchor: str | None

    @property
    def anchored(self) -> bool:
        """True when the root was compared with a published one."""
        return self.anchor is not None

    def require_anchor(self) -> None:
        """Raise unless the root was compared with a published one.

        Raises:
            VerificationError: the proof was checked against itself only (UNANCHORED).
        """
        if self.anchor is None:
            raise VerificationError(
                "UNANCHORED: the proof was checked against its own root only; compare it with"
                " the root the exchange published (spec §8.2)"
            )


def verify_proof(
    proof: InclusionProof,
    *,
    expected_root: bytes | None = None,
    summary: RootSummary | None = None,
) -> ProofReport:
    """Recompute the proof from the user's own data up to the root.

    Without ``expected_root`` or ``summary`` the report's ``anchor`` is None: the proof is
    only consistent with itself (see :meth:`ProofReport.require_anchor`).

    Args:
        proof: a parsed proof.
        expected_root: the published root hash, if the caller has it.
        summary: the published root summary, if the caller has it; its round, assets,
            leaf count, totals and hash must all match.

    Returns:
        A report of what was proven.

    Raises:
        VerificationError: any recomputed value differs from the proof or the published root.
    """
    levels = _check_path_length(len(proof.path), proof.leaf_count)
    salt_commitment = user_commitment(proof.round_id, proof.user_id, proof.salt)
    current_hash, current_sums, index = _climb(
        leaf_hash(salt_commitment, encode_amounts(proof.amounts)),
        proof.amounts,
        proof.path,
        proof.root_sums,
        encode_amounts,
        node_hash,
        add_sums,
    )
    computed = root_hash(
        proof.round_id, proof.assets, proof.leaf_count, current_hash, encode_amounts(current_sums)
    )
    if computed != proof.root_hash:
        raise VerificationError(
            f"root: computed hash {computed.hex()} but the proof's root holds"
            f" {proof.root_hash.hex()}"
        )
    checked: str | None = None
    if summary is not None:
        _check_against_summary(proof, summary)
        checked = "published root summary"
    if expected_root is not None:
        if computed != expected_root:
            raise VerificationError(
                f"root: computed hash {computed.hex()} but the published root is"
                f" {expected_root.hex()} (a proof from another round, or a different tree)"
            )
        checked = "published root"
    return ProofReport(
        round_id=proof.round_id,
        assets=proof.assets,
        user_id=proof.user_id,
        amounts=proof.amounts,
        leaf_index=index,
        path_length=levels,
        root_hash=computed,
        root_sums=tuple(current_sums),
        leaf_count=proof.leaf_count,
        anchor=checked,
    )


def _check_against_summary(proof: InclusionProof, summary: RootSummary) -> None:
    for name, mine, published in (
        ("round", proof.round_id, summary.round_id),
        ("assets", proof.assets, summary.assets),
        ("leaf count", proof.leaf_count, summary.leaf_count),
        ("totals", proof.root_sums, summary.totals),
    ):
        if mine != published:
            raise VerificationError(
                f"root summary: the proof's {name} {mine!r} differs from the published"
                f" {published!r}"
            )
    if proof.root_hash != summary.root_hash:
        raise VerificationError(
            f"root summary: computed hash {proof.root_hash.hex()} but the published root is"
            f" {summary.root_hash.hex()}"
        )


# ---------------------------------------------------------------------------------------
# Margin proofs, scheme ``por-mst-margin`` version 1 (spec §15.7).


def parse_positions(value: Any, where: str, count: int) -> tuple[Position, ...]:
    """Decode exactly ``count`` positions ``{"equity","debt","collateral"}`` (spec §15.7).

    Raises:
        FormatError: not a list of ``count`` valid positions.
    """
    items = sj.array(value, where)
    if len(items) != count:
        raise FormatError(
            f"{where}: expected {count} positions (one per asset), found {len(items)}"
        )
    out = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        entry = sj.obj(item, w, {"equity", "debt", "collateral"})
        out.append(
            Position(
                sj.amount(entry["equity"], f"{w}.equity"),
                sj.amount(entry["debt"], f"{w}.debt"),
                sj.amount(entry["collateral"], f"{w}.collateral"),
            )
        )
    return tuple(out)


def positions_to_json(positions: Sequence[Position]) -> list[dict[str, str]]:
    """Positions as JSON objects of decimal strings (spec §15.7)."""
    return [
        {"equity": str(p.equity), "debt": str(p.debt), "collateral": str(p.collateral)}
        for p in positions
    ]


@dataclass(frozen=True)
class MarginPathStep(_Step[Position]):
    """One level of a margin path: the sibling's hash and per-asset sums."""


@dataclass(frozen=True)
class MarginInclusionProof:
    """A user's margin inclusion proof, parsed and validated in shape (not yet verified)."""

    round_id: str
    assets: tuple[Asset, ...]
    risk: RiskParams
    user_id: str
    salt: bytes
    positions: tuple[Position, ...]
    path: tuple[MarginPathStep, ...]
    root_hash: bytes
    root_sums: tuple[Position, ...]
    leaf_count: int

    FIELDS = frozenset(
        {
            "scheme",
            "version",
            "round",
            "assets",
            "risk",
            "user_id",
            "salt",
            "positions",
            "path",
            "root",
        }
    )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "proof") -> MarginInclusionProof:
        """Parse a margin proof strictly.

        Raises:
            FormatError: the proof is malformed, or its risk parameters do not price
                exactly the round's assets.
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        scheme = sj.string(raw["scheme"], f"{what}.scheme")
        version = sj.integer(raw["version"], f"{what}.version")
        if scheme != MARGIN_SCHEME or version != MARGIN_VERSION:
            raise FormatError(
                f"{what}: scheme {scheme!r} version {version} is not"
                f" {MARGIN_SCHEME!r} version {MARGIN_VERSION}"
            )
        assets = parse_assets(raw["assets"], f"{what}.assets")
        risk = RiskParams.from_obj(raw["risk"], f"{what}.risk")
        risk.check_round_assets(assets, f"{what}.risk")
        n = len(assets)
        body = _parse_body(
            raw,
            what,
            "positions",
            lambda value, where: parse_positions(value, where, n),
            MarginPathStep,
        )
        return cls(
            round_id=body.round_id,
            assets=assets,
            risk=risk,
            user_id=body.user_id,
            salt=body.salt,
            positions=body.own,
            path=body.path,
            root_hash=body.root_hash,
            root_sums=body.root_sums,
            leaf_count=body.leaf_count,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this proof (spec §15.7)."""
        return {
            "scheme": MARGIN_SCHEME,
            "version": MARGIN_VERSION,
            "round": self.round_id,
            "assets": assets_to_json(self.assets),
            "risk": self.risk.to_obj(),
            "user_id": self.user_id,
            "salt": self.salt.hex(),
            "positions": positions_to_json(self.positions),
            **_path_and_root(self.path, self.root_hash, self.root_sums, self.leaf_count,
                             positions_to_json),
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return _text(self.to_dict())


@dataclass(frozen=True)
class MarginProofReport:
    """What a margin proof established: the path, the user's own rule, and the anchor."""

    round_id: str
    assets: tuple[Asset, ...]
    user_id: str
    positions: tuple[Position, ...]
    rule: RuleCheck
    risk_hash: bytes
    leaf_index: int
    path_length: int
    root_hash: bytes
    root_sums: tuple[Position, ...]
    leaf_count: int
    anchor: str | None

    @property
    def anchored(self) -> bool:
        """True when the root was compared with a published one."""
        return self.anchor is not None


def verify_margin_proof(
    proof: MarginInclusionProof, *, expected_root: bytes | None = None
) -> MarginProofReport:
    """Check the user's own margin rule, then recompute the path to the root (spec §15.7).

    Raises:
        VerificationError: the user's collateral exceeds equity or does not cover the debt
            at the round's prices and haircuts, or a recomputed value differs from the proof
            or the published root.
    """
    levels = _check_path_length(len(proof.path), proof.leaf_count)
    rule = check_rule(proof.risk, proof.positions, f"user {proof.user_id!r}")
    commitment = user_commitment(proof.round_id, proof.user_id, proof.salt)
    current_hash, current, index = _climb(
        margin_leaf_hash(commitment, encode_positions(proof.positions)),
        proof.positions,
        proof.path,
        proof.root_sums,
        encode_positions,
        margin_node_hash,
        add_positions,
    )
    computed = margin_root_hash(
        proof.round_id,
        proof.assets,
        proof.leaf_count,
        proof.risk.hash,
        current_hash,
        encode_positions(current),
    )
    if computed != proof.root_hash:
        raise VerificationError(
            f"root: computed hash {computed.hex()} but the proof's root holds"
            f" {proof.root_hash.hex()} (other prices or tiers than the round's, or another tree)"
        )
    anchor: str | None = None
    if expected_root is not None:
        if computed != expected_root:
            raise VerificationError(
                f"root: computed hash {computed.hex()} but the published root is"
                f" {expected_root.hex()}"
            )
        anchor = "published root"
    return MarginProofReport(
        round_id=proof.round_id,
        assets=proof.assets,
        user_id=proof.user_id,
        positions=proof.positions,
        rule=rule,
        risk_hash=proof.risk.hash,
        leaf_index=index,
        path_length=levels,
        root_hash=computed,
        root_sums=tuple(current),
        leaf_count=proof.leaf_count,
        anchor=anchor,
    )
