"""A user's inclusion proof (spec §8.2) and its verification.

Bytes in, a report or an exception out; no I/O. The verifier recomputes the user's
commitment from their id and salt, the leaf from their amounts, and every parent up the
path, with both children's sums bound at each level, and fails closed on anything it
cannot check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from verifier import strictjson as sj
from verifier.artifacts import RootSummary, assets_to_json, parse_assets, parse_scheme
from verifier.errors import FormatError, VerificationError
from verifier.mst import (
    SCHEME,
    VERSION,
    Asset,
    add_sums,
    check_round_id,
    encode_amounts,
    leaf_hash,
    levels_for,
    node_hash,
    root_hash,
    user_commitment,
    user_id_bytes,
)

Side = Literal["left", "right"]


@dataclass(frozen=True)
class PathStep:
    """One level of the path: the sibling's hash and sums, and the side the sibling is on."""

    side: Side
    hash: bytes
    sums: tuple[int, ...]


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
            step = sj.obj(item, where, {"side", "hash", "sums"})
            side = sj.string(step["side"], f"{where}.side")
            if side not in ("left", "right"):
                raise FormatError(f"{where}.side: expected 'left' or 'right', found {side!r}")
            steps.append(
                PathStep(
                    side="left" if side == "left" else "right",
                    hash=sj.hash_hex(step["hash"], f"{where}.hash"),
                    sums=tuple(sj.amounts(step["sums"], f"{where}.sums", n)),
                )
            )
        return cls(
            round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
            assets=assets,
            user_id=user_id,
            salt=sj.hash_hex(raw["salt"], f"{what}.salt"),
            amounts=tuple(sj.amounts(raw["amounts"], f"{what}.amounts", n)),
            path=tuple(steps),
            root_hash=sj.hash_hex(root["hash"], f"{what}.root.hash"),
            root_sums=tuple(sj.amounts(root["sums"], f"{what}.root.sums", n)),
            leaf_count=leaf_count,
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
            "amounts": [str(a) for a in self.amounts],
            "path": [
                {"side": s.side, "hash": s.hash.hex(), "sums": [str(x) for x in s.sums]}
                for s in self.path
            ],
            "root": {
                "hash": self.root_hash.hex(),
                "sums": [str(x) for x in self.root_sums],
                "leaf_count": self.leaf_count,
            },
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"


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
    levels = levels_for(proof.leaf_count)
    if len(proof.path) != levels:
        raise VerificationError(
            f"path has {len(proof.path)} levels but a tree of {proof.leaf_count} leaves"
            f" needs exactly {levels}"
        )
    salt_commitment = user_commitment(proof.round_id, proof.user_id, proof.salt)
    current_hash = leaf_hash(salt_commitment, encode_amounts(proof.amounts))
    current_sums = list(proof.amounts)
    index = 0
    for level, step in enumerate(proof.path, start=1):
        mine, theirs = encode_amounts(current_sums), encode_amounts(step.sums)
        if step.side == "left":
            current_hash = node_hash(step.hash, theirs, current_hash, mine)
            current_sums = add_sums(step.sums, current_sums, f"level {level}")
            index |= 1 << (level - 1)
        else:
            current_hash = node_hash(current_hash, mine, step.hash, theirs)
            current_sums = add_sums(current_sums, step.sums, f"level {level}")
    if tuple(current_sums) != proof.root_sums:
        raise VerificationError(
            f"root: computed sums {current_sums} but the proof's root holds {list(proof.root_sums)}"
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
