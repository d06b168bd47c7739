"""A margin round's published summary (``root.json``, spec §15.10) and the auditor's full
recomputation of a margin tree file: every leaf's rule, every node's three sums, the root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.errors import CheckFailedError, FormatError, VerificationError
from verifier.liabilities.mst import (
    MARGIN_SCHEME,
    MARGIN_VERSION,
    Asset,
    Position,
    add_positions,
    check_round_id,
    decode_positions,
    levels_for,
    margin_leaf_hash,
    margin_node_hash,
)
from verifier.liabilities.proof import MarginProofReport, parse_positions, positions_to_json
from verifier.liabilities.risk import RiskParams, evaluate_rule
from verifier.liabilities.summary import RootSummary, assets_to_json, parse_assets
from verifier.liabilities.treefile import TreeFile


@dataclass(frozen=True)
class MarginRootSummary:
    """The public summary of a margin round: round, assets, size, risk hash, root, totals."""

    round_id: str
    assets: tuple[Asset, ...]
    leaf_count: int
    risk_hash: bytes
    root_hash: bytes
    totals: tuple[Position, ...]

    FIELDS = frozenset(
        {"scheme", "version", "round", "assets", "leaf_count", "risk_hash", "root_hash", "totals"}
    )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "root summary") -> MarginRootSummary:
        """Parse strictly.

        Raises:
            FormatError: malformed, unknown fields, or another scheme.
        """
        raw = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        if (sj.string(raw["scheme"], f"{what}.scheme"), sj.integer(raw["version"], what)) != (
            MARGIN_SCHEME,
            MARGIN_VERSION,
        ):
            raise FormatError(f"{what}: not {MARGIN_SCHEME} version {MARGIN_VERSION}")
        assets = parse_assets(raw["assets"], f"{what}.assets")
        leaf_count = sj.integer(raw["leaf_count"], f"{what}.leaf_count")
        levels_for(leaf_count)
        return cls(
            round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
            assets=assets,
            leaf_count=leaf_count,
            risk_hash=sj.hash_hex(raw["risk_hash"], f"{what}.risk_hash"),
            root_hash=sj.hash_hex(raw["root_hash"], f"{what}.root_hash"),
            totals=parse_positions(raw["totals"], f"{what}.totals", len(assets)),
        )

    def check_proof(self, report: MarginProofReport) -> None:
        """Require a verified margin proof to name this round, assets, size, risk hash,
        totals and root hash (spec §15.7).

        Raises:
            VerificationError: any of them differs.
        """
        for name, mine, published in (
            ("round", report.round_id, self.round_id),
            ("assets", report.assets, self.assets),
            ("leaf count", report.leaf_count, self.leaf_count),
            ("risk hash", report.risk_hash.hex(), self.risk_hash.hex()),
            ("totals", report.root_sums, self.totals),
            ("root hash", report.root_hash.hex(), self.root_hash.hex()),
        ):
            if mine != published:
                raise VerificationError(
                    f"root summary: the proof's {name} {mine!r} differs from the published"
                    f" {published!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (spec §15.10)."""
        return {
            "scheme": MARGIN_SCHEME,
            "version": MARGIN_VERSION,
            "round": self.round_id,
            "assets": assets_to_json(self.assets),
            "leaf_count": self.leaf_count,
            "risk_hash": self.risk_hash.hex(),
            "root_hash": self.root_hash.hex(),
            "totals": positions_to_json(self.totals),
        }

    def to_json(self) -> str:
        """Serialise with a stable key order and a trailing newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"


@dataclass
class MarginAuditReport:
    """Every finding of a margin tree's recomputation, and its per-asset totals."""

    path: str
    leaf_count: int = 0
    root_hash: bytes = b""
    totals: tuple[Position, ...] = ()
    findings: list[str] = field(default_factory=list)
    finding_count: int = 0
    MAX_KEPT = 100

    def add(self, finding: str) -> None:
        """Record a finding (the first hundred verbatim)."""
        self.finding_count += 1
        if len(self.findings) < self.MAX_KEPT:
            self.findings.append(finding)

    def raise_for_failures(self) -> None:
        """Raise if any check failed.

        Raises:
            CheckFailedError: naming the count and the first findings.
        """
        if self.finding_count:
            raise CheckFailedError(
                f"{self.path}: {self.finding_count} finding(s): " + "; ".join(self.findings[:5])
            )


def audit_margin_tree(
    tree: TreeFile,
    risk: RiskParams,
    summary: MarginRootSummary | None,
    progress: Callable[[int], Any] | None = None,
) -> MarginAuditReport:
    """Recompute a margin tree file: commitment order, every leaf's hash and rule (§15.6),
    every node's hash and equity, debt and collateral sums, the root, and the summary.

    Raises:
        FormatError: not a margin tree file, or the risk file is not the one it binds, or
            does not price the round's assets.
    """
    lay = tree.layout
    if lay.risk_hash is None:
        raise FormatError(f"{tree.file_path}: not a margin tree file")
    if risk.hash != lay.risk_hash:
        raise FormatError(
            f"risk file: hash {risk.hash.hex()} but the tree binds {lay.risk_hash.hex()}"
        )
    risk.check_round_assets(lay.assets, "risk file")
    report = MarginAuditReport(path=str(tree.file_path), leaf_count=lay.leaf_count)
    previous = b""
    for i, (h, sums) in enumerate(tree.iter_records(0)):
        c = tree.commitment(i)
        if c <= previous:
            report.add(f"leaf {i}: commitment is not above the previous one")
        previous = c
        if margin_leaf_hash(c, sums) != h:
            report.add(f"leaf {i}: stored hash is not the hash of its commitment and positions")
        try:
            rule = evaluate_rule(risk, decode_positions(sums))
            if not rule.covered:
                report.add(
                    f"leaf {i}: under water: haircut collateral value {rule.collateral_value}"
                    f" < debt value {rule.debt_value}"
                )
        except VerificationError as e:
            report.add(f"leaf {i}: {e}")
    if progress:
        progress(lay.leaf_count)
    for level in range(1, lay.levels + 1):
        children = tree.iter_records(level - 1)
        for i, (h, sums) in enumerate(tree.iter_records(level)):
            lh, ls = next(children)
            rh, rs = next(children)
            try:
                expected = add_positions(
                    decode_positions(ls), decode_positions(rs), f"level {level} node {i}"
                )
            except VerificationError as e:
                report.add(str(e))
                continue
            if decode_positions(sums) != expected:
                report.add(f"level {level} node {i}: stored sums are not its children's sums")
            if margin_node_hash(lh, ls, rh, rs) != h:
                report.add(f"level {level} node {i}: stored hash is not its children's hash")
        if progress:
            progress(lay.leaf_count >> level)
    _, top_sums = tree.top()
    report.root_hash = tree.root_hash()
    report.totals = tuple(decode_positions(top_sums))
    if summary is not None:
        for name, mine, published in (
            ("round", lay.round_id, summary.round_id),
            ("assets", lay.assets, summary.assets),
            ("leaf count", lay.leaf_count, summary.leaf_count),
            ("risk hash", lay.risk_hash.hex(), summary.risk_hash.hex()),
            ("totals", report.totals, summary.totals),
            ("root hash", report.root_hash.hex(), summary.root_hash.hex()),
        ):
            if mine != published:
                report.add(f"root summary: the tree's {name} differs from the published one")
    return report


AnySummary = RootSummary | MarginRootSummary


def parse_any_summary(root_bytes: bytes, what: str = "root.json") -> AnySummary:
    """A round's public-scheme ``root.json``, spot (spec §8.1) or margin (§15.10), told
    apart by its scheme field; each is then read by its own strict parser. A private
    round's (§16.7) is read by :func:`verifier.attestation.model.parse_any_summary`, which
    calls this one for the others (the private scheme's module builds on this package, so
    this package does not import it).

    Raises:
        FormatError: malformed, an unknown scheme (as the spot parser reports it), or a
            private round's.
    """
    data = sj.loads(root_bytes, what)
    if isinstance(data, dict) and data.get("scheme") == MARGIN_SCHEME:
        return MarginRootSummary.from_json(root_bytes, what)
    if isinstance(data, dict) and data.get("scheme") == "por-mst-private":
        raise FormatError(f"{what} is of a private round (spec §16): read it with the reader"
                          " of every scheme (verifier.attestation.model.parse_any_summary,"
                          " spec §13.7); the auditor checks its tree with `por-verify"
                          " liabilities ROUND_DIR`")
    return RootSummary.from_json(root_bytes, what)
