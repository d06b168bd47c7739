"""Build a margin round (scheme ``por-mst-margin``, spec §15) and its users' proofs.

Every user's rule is checked before anything is hashed: an account under water is refused
with its id and both sides of the inequality, never netted. Every byte hashed comes from
:mod:`verifier.mst`; the rule from :mod:`verifier.risk`.

This builder holds the tree in memory (rounds of up to a few million users); the spot
builder's bucketed pipeline (:mod:`por.build`) is not yet shared with it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from por.errors import InputError, UsageError
from verifier.errors import VerificationError
from verifier.mst import (
    Asset,
    Position,
    add_positions,
    check_assets,
    check_round_id,
    derive_salt,
    encode_positions,
    margin_leaf_hash,
    margin_node_hash,
    margin_root_hash,
    padding_commitment,
    user_commitment,
)
from verifier.proof import MarginInclusionProof, MarginPathStep, Side
from verifier.risk import RiskParams, check_rule


@dataclass(frozen=True)
class MarginAccount:
    """One user's positions, in the round's asset order; ``where`` names its input line."""

    user_id: str
    positions: tuple[Position, ...]
    where: str = ""


@dataclass
class MarginTree:
    """A built margin tree: every level's hashes and sums, and the root."""

    round_id: str
    assets: tuple[Asset, ...]
    risk: RiskParams
    commitments: list[bytes]
    levels: list[list[tuple[bytes, list[Position]]]]
    salts: dict[str, bytes]
    root_hash: bytes

    @property
    def leaf_count(self) -> int:
        """The padded number of leaves."""
        return len(self.commitments)

    @property
    def totals(self) -> list[Position]:
        """Per asset: total equity, total debt and total collateral."""
        return self.levels[-1][0][1]

    def prove(self, user_id: str) -> MarginInclusionProof:
        """The inclusion proof of ``user_id``.

        Raises:
            UsageError: the user is not in this round.
        """
        salt = self.salts.get(user_id)
        if salt is None:
            raise UsageError(f"user {user_id!r} is not in round {self.round_id}")
        commitment = user_commitment(self.round_id, user_id, salt)
        index = bisect.bisect_left(self.commitments, commitment)
        positions = tuple(self.levels[0][index][1])
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            side: Side = "left" if sibling < index else "right"
            h, sums = level[sibling]
            path.append(MarginPathStep(side, h, tuple(sums)))
            index >>= 1
        return MarginInclusionProof(
            round_id=self.round_id,
            assets=self.assets,
            risk=self.risk,
            user_id=user_id,
            salt=salt,
            positions=positions,
            path=tuple(path),
            root_hash=self.root_hash,
            root_sums=tuple(self.totals),
            leaf_count=self.leaf_count,
        )


def padded_size(user_count: int, pad_to: int | None) -> int:
    """The smallest power of two at or above the user count and ``pad_to`` (spec §5)."""
    n = max(user_count, pad_to or 1, 1)
    return 1 << (n - 1).bit_length()


def build_margin_tree(
    round_id: str,
    assets: Sequence[Asset],
    risk: RiskParams,
    secret: bytes,
    accounts: Sequence[MarginAccount],
    pad_to: int | None = None,
) -> MarginTree:
    """Check every account's rule, then build the margin tree (spec §15.3-15.4).

    Raises:
        InputError: a user appears twice, has the wrong number of positions, or is under
            water (collateral above equity, or debt above haircut collateral); the message
            names the user, their input line and both sides of the inequality.
        VerificationError: a sum overflows 2^128-1.
    """
    check_round_id(round_id)
    assets = check_assets(assets)
    risk.check_round_assets(assets, "risk parameters")
    seen: set[str] = set()
    leaves: list[tuple[bytes, list[Position]]] = []
    salts: dict[str, bytes] = {}
    for acc in accounts:
        where = f"{acc.where}: " if acc.where else ""
        if acc.user_id in seen:
            raise InputError(f"{where}user {acc.user_id!r} appears twice")
        seen.add(acc.user_id)
        if len(acc.positions) != len(assets):
            raise InputError(f"{where}user {acc.user_id!r}: expected {len(assets)} positions")
        try:
            check_rule(risk, acc.positions, f"user {acc.user_id!r}")
        except VerificationError as e:
            raise InputError(f"{where}{e}") from e
        salt = derive_salt(secret, round_id, acc.user_id)
        salts[acc.user_id] = salt
        leaves.append((user_commitment(round_id, acc.user_id, salt), list(acc.positions)))
    n = padded_size(len(leaves), pad_to)
    zero = [Position(0, 0, 0)] * len(assets)
    leaves += [(padding_commitment(secret, round_id, i), zero) for i in range(n - len(leaves))]
    leaves.sort(key=lambda leaf: leaf[0])
    for a, b in itertools.pairwise(leaves):
        if a[0] == b[0]:
            raise VerificationError("two leaves share a commitment (spec §5)")
    level = [(margin_leaf_hash(c, encode_positions(p)), p) for c, p in leaves]
    levels = [level]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            (lh, ls), (rh, rs) = level[i], level[i + 1]
            nxt.append(
                (
                    margin_node_hash(lh, encode_positions(ls), rh, encode_positions(rs)),
                    add_positions(ls, rs, f"level {len(levels)}"),
                )
            )
        level = nxt
        levels.append(level)
    top_hash, top_sums = level[0]
    root = margin_root_hash(round_id, assets, n, risk.hash, top_hash, encode_positions(top_sums))
    return MarginTree(round_id, assets, risk, [c for c, _ in leaves], levels, salts, root)
