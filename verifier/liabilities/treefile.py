"""The tree file of a round (spec §8.3): one file holding every leaf and node, read by mmap.

The builder (``por``) writes it through :class:`Layout`; the prover reads one user's path
from it in O(log N) reads; the auditor recomputes it entirely with :func:`audit_tree`.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.errors import CheckFailedError, FormatError, VerificationError
from verifier.liabilities.mst import (
    AMOUNT_SIZE,
    HASH_SIZE,
    MARGIN_SCHEME,
    MARGIN_VERSION,
    SCHEME,
    VERSION,
    Asset,
    add_sums,
    check_round_id,
    decode_amounts,
    decode_positions,
    leaf_hash,
    levels_for,
    margin_root_hash,
    node_hash,
    root_hash,
)
from verifier.liabilities.proof import MarginPathStep, PathStep
from verifier.liabilities.summary import RootSummary, assets_to_json, parse_assets, parse_scheme

MAGIC = b"PORMST\x00\x01"  # spec §8.3
ALIGN = 64
HEADER_FIELDS = frozenset({"scheme", "version", "round", "assets", "leaf_count"})


def header_bytes(
    round_id: str, assets: tuple[Asset, ...], leaf_count: int, risk_hash: bytes | None = None
) -> bytes:
    """The canonical JSON header of a tree file (sorted keys, no spaces); with a risk hash,
    the header of a margin tree file (spec §15.10)."""
    header: dict[str, Any] = {
        "assets": assets_to_json(assets),
        "leaf_count": leaf_count,
        "round": round_id,
        "scheme": SCHEME,
        "version": VERSION,
    }
    if risk_hash is not None:
        header.update(scheme=MARGIN_SCHEME, version=MARGIN_VERSION, risk_hash=risk_hash.hex())
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Layout:
    """Where each section of a tree file lies (spec §8.3)."""

    round_id: str
    assets: tuple[Asset, ...]
    leaf_count: int
    header: bytes = field(repr=False)
    risk_hash: bytes | None = None  # set for a margin tree (spec §15.10)

    @classmethod
    def for_tree(
        cls,
        round_id: str,
        assets: tuple[Asset, ...],
        leaf_count: int,
        risk_hash: bytes | None = None,
    ) -> Layout:
        """The layout of a tree of ``leaf_count`` leaves (a power of two); a margin tree's
        when ``risk_hash`` is given."""
        levels_for(leaf_count)
        return cls(
            check_round_id(round_id),
            assets,
            leaf_count,
            header_bytes(round_id, assets, leaf_count, risk_hash),
            risk_hash,
        )

    @property
    def is_margin(self) -> bool:
        """True for a margin tree (three sums per asset, spec §15.10)."""
        return self.risk_hash is not None

    @property
    def levels(self) -> int:
        """Levels above the leaves; the top node is at this level."""
        return levels_for(self.leaf_count)

    @property
    def record_size(self) -> int:
        """Bytes of one node record: hash then per-asset sums (three per asset in a margin
        tree: equity, debt, collateral)."""
        return HASH_SIZE + AMOUNT_SIZE * len(self.assets) * (3 if self.is_margin else 1)

    @property
    def commitments_offset(self) -> int:
        """Offset of the commitments section: one 32-byte commitment per leaf, in leaf order."""
        raw = len(MAGIC) + 4 + len(self.header)
        return -(-raw // ALIGN) * ALIGN

    def level_offset(self, level: int) -> int:
        """Offset of the records of ``level`` (0 = leaves)."""
        before = sum(self.leaf_count >> lvl for lvl in range(level))
        return self.commitments_offset + HASH_SIZE * self.leaf_count + before * self.record_size

    @property
    def file_size(self) -> int:
        """Exact size of the file."""
        return self.level_offset(self.levels + 1)

    def prefix(self) -> bytes:
        """Magic, header length, header and zero padding up to the commitments section."""
        raw = MAGIC + len(self.header).to_bytes(4, "big") + self.header
        return raw + b"\x00" * (self.commitments_offset - len(raw))


class TreeFile:
    """A tree file opened read-only through mmap."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open and check the header and size of the tree file at ``path``.

        Raises:
            FormatError: not a tree file, unknown scheme, or a size that does not match.
        """
        self.file_path = Path(path)
        try:
            with open(self.file_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < len(MAGIC) + 4:
                    raise FormatError(
                        f"{self.file_path}: too short to be a tree file ({size} bytes)"
                    )
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise FormatError(f"{self.file_path}: cannot read: {e.strerror}") from e
        self.layout = self._read_layout(size)

    def _read_layout(self, size: int) -> Layout:
        where = str(self.file_path)
        if self._mm[: len(MAGIC)] != MAGIC:
            raise FormatError(f"{where}: not a por-mst v1 tree file (bad magic)")
        hlen = int.from_bytes(self._mm[len(MAGIC) : len(MAGIC) + 4], "big")
        start = len(MAGIC) + 4
        if hlen > 1 << 20 or start + hlen > size:
            raise FormatError(f"{where}: header length {hlen} is out of range")
        header_raw = bytes(self._mm[start : start + hlen])
        loaded = sj.loads(header_raw, f"{where} header")
        margin = isinstance(loaded, dict) and loaded.get("scheme") == MARGIN_SCHEME
        fields = set(HEADER_FIELDS) | ({"risk_hash"} if margin else set())
        raw = sj.obj(loaded, f"{where} header", fields)
        risk: bytes | None = None
        if margin:
            if sj.integer(raw["version"], f"{where} header.version") != MARGIN_VERSION:
                raise FormatError(f"{where} header: unknown {MARGIN_SCHEME} version")
            risk = sj.hash_hex(raw["risk_hash"], f"{where} header.risk_hash")
        else:
            parse_scheme(raw, f"{where} header")
        assets = parse_assets(raw["assets"], f"{where} header.assets")
        leaf_count = sj.integer(raw["leaf_count"], f"{where} header.leaf_count")
        round_id = check_round_id(sj.string(raw["round"], f"{where} header.round"))
        layout = Layout.for_tree(round_id, assets, leaf_count, risk)
        if layout.header != header_raw:
            raise FormatError(f"{where}: header is not in canonical form")
        if layout.file_size != size:
            raise FormatError(
                f"{where}: file holds {size} bytes but a tree of {leaf_count} leaves and"
                f" {len(assets)} assets needs {layout.file_size}"
            )
        # Spec §8.3: the padding up to offset C is zero bytes (none when the header already
        # ends on a multiple of 64). Anything else is another file than the one specified.
        padding = bytes(self._mm[start + hlen : layout.commitments_offset])
        if padding.strip(b"\x00"):
            first = start + hlen + next(i for i, b in enumerate(padding) if b)
            raise FormatError(
                f"{where}: header padding must be zero bytes up to offset"
                f" {layout.commitments_offset}, found {padding[first - start - hlen]:#04x}"
                f" at offset {first}"
            )
        return layout

    def close(self) -> None:
        """Release the mapping."""
        self._mm.close()

    def __enter__(self) -> TreeFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def commitment(self, index: int) -> bytes:
        """The commitment of leaf ``index``."""
        off = self.layout.commitments_offset + HASH_SIZE * index
        return self._mm[off : off + HASH_SIZE]

    def record(self, level: int, index: int) -> tuple[bytes, bytes]:
        """Hash and big-endian sums of node ``index`` at ``level``."""
        size = self.layout.record_size
        off = self.layout.level_offset(level) + size * index
        rec = self._mm[off : off + size]
        return rec[:HASH_SIZE], rec[HASH_SIZE:]

    def find(self, commitment: bytes) -> int | None:
        """Leaf index of ``commitment`` by binary search (leaves are sorted by commitment)."""
        lo, hi = 0, self.layout.leaf_count
        while lo < hi:
            mid = (lo + hi) // 2
            value = self.commitment(mid)
            if value == commitment:
                return mid
            if value < commitment:
                lo = mid + 1
            else:
                hi = mid
        return None

    def path(self, index: int) -> tuple[PathStep, ...]:
        """The sibling path of leaf ``index``: one read per level.

        Raises:
            FormatError: a margin tree file (its paths are :meth:`margin_path`).
        """
        if self.layout.is_margin:
            raise FormatError(f"{self.file_path}: a margin tree file has margin paths")
        steps = []
        for level in range(self.layout.levels):
            sibling = index ^ 1
            sib_hash, sib_sums = self.record(level, sibling)
            steps.append(
                PathStep(
                    side="left" if sibling < index else "right",
                    hash=sib_hash,
                    sums=tuple(decode_amounts(sib_sums)),
                )
            )
            index >>= 1
        return tuple(steps)

    def margin_path(self, index: int) -> tuple[MarginPathStep, ...]:
        """The sibling path of leaf ``index`` in a margin tree file (spec §15.10).

        Raises:
            FormatError: a spot tree file.
        """
        if not self.layout.is_margin:
            raise FormatError(f"{self.file_path}: not a margin tree file")
        steps = []
        for level in range(self.layout.levels):
            sibling = index ^ 1
            sib_hash, sib_sums = self.record(level, sibling)
            steps.append(
                MarginPathStep(
                    side="left" if sibling < index else "right",
                    hash=sib_hash,
                    sums=tuple(decode_positions(sib_sums)),
                )
            )
            index >>= 1
        return tuple(steps)

    def top(self) -> tuple[bytes, bytes]:
        """Hash and sums of the top node."""
        return self.record(self.layout.levels, 0)

    def root_hash(self) -> bytes:
        """The root hash, binding round, assets and leaf count to the top node (spec §7);
        for a margin tree, also the risk hash (spec §15.4)."""
        top_hash, top_sums = self.top()
        lay = self.layout
        if lay.risk_hash is not None:
            return margin_root_hash(
                lay.round_id, lay.assets, lay.leaf_count, lay.risk_hash, top_hash, top_sums
            )
        return root_hash(lay.round_id, lay.assets, lay.leaf_count, top_hash, top_sums)

    def iter_records(
        self, level: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Records of ``level`` from ``start`` to ``stop``."""
        size = self.layout.record_size
        stop = (self.layout.leaf_count >> level) if stop is None else stop
        base = self.layout.level_offset(level)
        view = memoryview(self._mm)
        try:
            for i in range(start, stop):
                off = base + size * i
                yield bytes(view[off : off + HASH_SIZE]), bytes(view[off + HASH_SIZE : off + size])
        finally:
            view.release()


@dataclass
class AuditReport:
    """Every finding of an auditor's full recomputation, not only the first."""

    path: str
    leaf_count: int = 0
    nodes_checked: int = 0
    root_hash: bytes = b""
    totals: tuple[int, ...] = ()
    findings: list[str] = field(default_factory=list)
    finding_count: int = 0
    MAX_KEPT = 100

    def add(self, finding: str) -> None:
        """Record a finding (the first hundred are kept verbatim)."""
        self.finding_count += 1
        if len(self.findings) < self.MAX_KEPT:
            self.findings.append(finding)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return self.finding_count == 0

    def raise_for_failures(self) -> None:
        """Raise if any check failed.

        Raises:
            CheckFailedError: naming the count and the first findings.
        """
        if self.finding_count:
            shown = "; ".join(self.findings[:5])
            raise CheckFailedError(
                f"{self.path}: {self.finding_count} finding(s): {shown}"
                + (" ..." if self.finding_count > 5 else "")
            )


def audit_tree(
    tree: TreeFile,
    summary: RootSummary | None,
    progress: Callable[[int], Any] | None = None,
) -> AuditReport:
    """Recompute every leaf, node, the root and the totals of ``tree``.

    Checks: commitments strictly increasing (the leaf order of spec §5, hence no duplicate
    commitment), every leaf hash, every parent's hash and sums, the root hash, and that the
    root summary (if given) names the same round, assets, leaf count, totals and hash.

    Args:
        tree: the opened tree file.
        summary: the published root summary to compare with.
        progress: called with the number of nodes done since the last call.

    Returns:
        The report; call ``raise_for_failures`` on it.
    """
    lay = tree.layout
    if lay.is_margin:
        raise FormatError(
            f"{tree.file_path}: a margin tree file (spec §15.10); it is audited with its risk"
            " parameters (verifier.liabilities.margin_round.audit_margin_tree)"
        )
    report = AuditReport(path=str(tree.file_path), leaf_count=lay.leaf_count)
    step = 4096
    previous = b""
    for start in range(0, lay.leaf_count, step):
        stop = min(start + step, lay.leaf_count)
        for i, (h, sums) in enumerate(tree.iter_records(0, start, stop), start=start):
            c = tree.commitment(i)
            if c <= previous:
                report.add(
                    f"leaf {i}: commitment {c.hex()[:16]}.. is not above the previous one"
                    " (leaves must be strictly increasing by commitment)"
                )
            previous = c
            if leaf_hash(c, sums) != h:
                report.add(
                    f"leaf {i}: stored hash {h.hex()[:16]}.. is not the leaf hash of its"
                    " commitment and amounts"
                )
        report.nodes_checked += stop - start
        if progress:
            progress(stop - start)
    for level in range(1, lay.levels + 1):
        count = lay.leaf_count >> level
        children = tree.iter_records(level - 1)
        for i, (h, sums) in enumerate(tree.iter_records(level)):
            lh, ls = next(children)
            rh, rs = next(children)
            try:
                expected_sums = add_sums(
                    decode_amounts(ls), decode_amounts(rs), f"level {level} node {i}"
                )
            except VerificationError as e:
                report.add(str(e))
                continue
            if decode_amounts(sums) != expected_sums:
                report.add(
                    f"level {level} node {i}: stored sums {decode_amounts(sums)} but its"
                    f" children add up to {expected_sums}"
                )
            if node_hash(lh, ls, rh, rs) != h:
                report.add(
                    f"level {level} node {i}: stored hash {h.hex()[:16]}.. is not the hash"
                    " of its children"
                )
        report.nodes_checked += count
        if progress:
            progress(count)
    _, top_sums = tree.top()
    report.root_hash = tree.root_hash()
    report.totals = tuple(decode_amounts(top_sums))
    if summary is not None:
        for name, mine, published in (
            ("round", lay.round_id, summary.round_id),
            ("assets", lay.assets, summary.assets),
            ("leaf count", lay.leaf_count, summary.leaf_count),
            ("totals", report.totals, summary.totals),
            ("root hash", report.root_hash.hex(), summary.root_hash.hex()),
        ):
            if mine != published:
                report.add(
                    f"root summary: the tree's {name} {mine!r} differs from the"
                    f" published {published!r}"
                )
    return report
