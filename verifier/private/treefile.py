"""The private round's tree file (``tree.bin``, for auditors and the prover; spec §16.10).

Every node's hash and, per asset, its commitment and opening (value and blinding), so a
proof is a few reads and an auditor recomputes every commitment, sum and hash without the
round secret. This module owns the layout and the auditor's recomputation.
"""

from __future__ import annotations

import bisect
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import (
    AMOUNT_SIZE,
    HASH_SIZE,
    check_round_id,
    decode_amounts,
    levels_for,
)
from verifier.private import commitments as pc
from verifier.private.scheme import (
    SCHEME,
    VERSION,
    VERSION_HYBRID,
    PrivateAsset,
    check_hidden_levels,
    committed_value,
    generator_seed,
    leaf_hash,
    node_hash,
    root_hash,
)

MAGIC = b"PORPRV\x00\x01"  # spec §16.10
MAX_HEADER = 1 << 20
_OPENING = pc.COMMITMENT_SIZE + 8 + pc.SCALAR_SIZE  # commitment ‖ u64(value) ‖ blinding


def header_bytes(round_id: str, assets: Sequence[PrivateAsset], leaf_count: int,
                 hidden_levels: int | None = None) -> bytes:
    """The header's exact bytes: RFC 8785 of the object of §16.10 (version 2, §16.14: with
    ``hidden_levels``)."""
    header: dict[str, Any] = {
        "assets": [{"decimals": a.decimals, "symbol": a.symbol, "unit_exponent": a.unit_exponent}
                   for a in assets],
        "leaf_count": leaf_count, "round": round_id, "scheme": SCHEME, "version": VERSION}
    if hidden_levels is not None:
        header["hidden_levels"] = hidden_levels
        header["version"] = VERSION_HYBRID
    return rfc8785.dumps(header)


def record_size(asset_count: int) -> int:
    """A node record: hash (32) ‖ per asset commitment (33) ‖ u64 value ‖ blinding (32)."""
    return HASH_SIZE + _OPENING * asset_count


@dataclass(frozen=True)
class Node:
    """One node of the tree file: its hash, and per asset commitment, value and blinding."""

    hash: bytes
    commitments: tuple[bytes, ...]
    values: tuple[int, ...]
    blindings: tuple[int, ...]


def encode_node(node: Node) -> bytes:
    """A node's record bytes."""
    out = bytearray(node.hash)
    for c, v, r in zip(node.commitments, node.values, node.blindings, strict=True):
        out += c + v.to_bytes(8, "big") + r.to_bytes(pc.SCALAR_SIZE, "big")
    return bytes(out)


class PrivateTreeFile:
    """A parsed view of a private tree file: its layout checked, its records readable."""

    def __init__(self, data: bytes | mmap.mmap, what: str = "tree.bin") -> None:
        """Check the layout (magic, canonical header, zero padding, exact size). ``data``
        may be a read-only memory map of the file: a proof then reads only its records.

        Raises:
            FormatError: the layout contradicts itself.
        """
        if len(data) < 12 or data[:8] != MAGIC:
            raise FormatError(f"{what}: not a private tree file (magic {MAGIC!r})")
        length = int.from_bytes(data[8:12], "big")
        if length > MAX_HEADER or 12 + length > len(data):
            raise FormatError(f"{what}: header length {length} is beyond the file or 2^20")
        raw = data[12:12 + length]
        loaded = sj.loads(raw, f"{what} header")
        fields = {"assets", "leaf_count", "round", "scheme", "version"}
        version = loaded.get("version") if isinstance(loaded, dict) else None
        if version == VERSION_HYBRID and not isinstance(version, bool):
            fields.add("hidden_levels")
        header = sj.obj(loaded, f"{what} header", fields)
        if header["scheme"] != SCHEME or header["version"] not in (VERSION, VERSION_HYBRID) \
                or isinstance(header["version"], bool):
            raise FormatError(f"{what}: scheme {header['scheme']!r} version"
                              f" {header['version']!r} is not {SCHEME!r} version 1 or 2")
        assets = []
        for i, item in enumerate(sj.array(header["assets"], f"{what} header.assets")):
            e = sj.obj(item, f"{what} header.assets[{i}]", {"decimals", "symbol", "unit_exponent"})
            assets.append(PrivateAsset(sj.string(e["symbol"], "symbol"),
                                       sj.integer(e["decimals"], "decimals"),
                                       sj.integer(e["unit_exponent"], "unit_exponent")))
        self.assets = tuple(assets)
        self.round_id = check_round_id(sj.string(header["round"], f"{what} header.round"))
        self.leaf_count = sj.integer(header["leaf_count"], f"{what} header.leaf_count")
        self.levels = levels_for(self.leaf_count)
        self.hidden_levels: int | None = None
        if "hidden_levels" in header:
            self.hidden_levels = check_hidden_levels(
                sj.integer(header["hidden_levels"], f"{what} header.hidden_levels"),
                self.levels, f"{what} header.hidden_levels")
        if header_bytes(self.round_id, self.assets, self.leaf_count, self.hidden_levels) != raw:
            raise FormatError(f"{what}: the header is not in its canonical form (spec §16.10)")
        start = 12 + length
        pad = (64 - start % 64) % 64
        if data[start:start + pad] != bytes(pad):
            raise FormatError(f"{what}: padding after the header is not zero bytes")
        k, n = len(self.assets), self.leaf_count
        self._users = start + pad
        self._amounts = self._users + HASH_SIZE * n
        self._records = self._amounts + AMOUNT_SIZE * k * n
        self._record = record_size(k)
        expected = self._records + (2 * n - 1) * self._record
        if len(data) != expected:
            raise FormatError(f"{what}: {len(data)} bytes, the layout needs exactly {expected}")
        self._data = data
        self._level_start = [0]
        for level in range(self.levels):
            self._level_start.append(self._level_start[-1] + (n >> level))

    def user_commitment(self, index: int) -> bytes:
        """Leaf ``index``'s user commitment (§4)."""
        at = self._users + HASH_SIZE * index
        return self._data[at:at + HASH_SIZE]

    def find(self, commitment: bytes) -> int | None:
        """The leaf holding ``commitment`` (binary search: leaves are sorted), or None."""
        keys = _Commitments(self)
        i = bisect.bisect_left(keys, commitment)
        return i if i < self.leaf_count and keys[i] == commitment else None

    def amounts(self, index: int) -> list[int]:
        """Leaf ``index``'s exact balances (u128 each)."""
        size = AMOUNT_SIZE * len(self.assets)
        at = self._amounts + size * index
        return decode_amounts(self._data[at:at + size])

    def node(self, level: int, index: int) -> Node:
        """Node (level, index): hash, commitments, values and blindings."""
        at = self._records + (self._level_start[level] + index) * self._record
        raw = self._data[at:at + self._record]
        commits, values, blindings = [], [], []
        for j in range(len(self.assets)):
            o = HASH_SIZE + _OPENING * j
            commits.append(raw[o:o + pc.COMMITMENT_SIZE])
            values.append(int.from_bytes(raw[o + pc.COMMITMENT_SIZE:o + pc.COMMITMENT_SIZE + 8],
                                         "big"))
            blindings.append(int.from_bytes(raw[o + pc.COMMITMENT_SIZE + 8:o + _OPENING], "big"))
        return Node(raw[:HASH_SIZE], tuple(commits), tuple(values), tuple(blindings))


class _Commitments(Sequence[bytes]):
    def __init__(self, tree: PrivateTreeFile) -> None:
        self._tree = tree

    def __len__(self) -> int:
        return self._tree.leaf_count

    def __getitem__(self, index: int) -> bytes:  # type: ignore[override]
        return self._tree.user_commitment(index)


def audit_private_tree(tree: PrivateTreeFile) -> list[str]:
    """The auditor's recomputation (spec §16.10): every finding, in order.

    Commitments strictly increasing; every leaf value is the unit rule of its amounts;
    every commitment opens to its value and blinding; every parent's value and blinding
    are its children's sums and its hash binds both children; the root opening.

    Raises:
        FormatError: a stored value or blinding is out of range.
    """
    findings: list[str] = []
    gens = [pc.generator(generator_seed(a)) for a in tree.assets]
    k = len(tree.assets)
    for i in range(tree.leaf_count):
        if i and tree.user_commitment(i - 1) >= tree.user_commitment(i):
            findings.append(f"leaf {i}: user commitments are not strictly increasing")
    for level in range(tree.levels + 1):
        for index in range(tree.leaf_count >> level):
            node = tree.node(level, index)
            where = f"level {level} node {index}"
            for j in range(k):
                try:
                    opened = pc.commit(node.values[j], node.blindings[j], gens[j], where)
                except VerificationError as e:
                    findings.append(str(e))
                    continue
                if opened != node.commitments[j]:
                    findings.append(f"{where} asset {tree.assets[j].symbol}: the commitment does"
                                    " not open to the stored value and blinding")
            if level == 0:
                amounts = tree.amounts(index)
                values = tuple(committed_value(a, asset, where)
                               for a, asset in zip(amounts, tree.assets, strict=True))
                if values != node.values:
                    findings.append(f"{where}: values {list(node.values)} are not the unit rule"
                                    f" of the amounts {amounts}")
                expected = leaf_hash(tree.user_commitment(index),
                                     b"".join(a.to_bytes(AMOUNT_SIZE, "big") for a in amounts),
                                     node.commitments)
            else:
                left, right = tree.node(level - 1, 2 * index), tree.node(level - 1, 2 * index + 1)
                for j in range(k):
                    if node.values[j] != left.values[j] + right.values[j]:
                        findings.append(f"{where} asset {tree.assets[j].symbol}: value"
                                        f" {node.values[j]} is not the children's sum")
                    blinding = (left.blindings[j] + right.blindings[j]) % pc.GROUP_ORDER
                    if node.blindings[j] != blinding:
                        findings.append(f"{where} asset {tree.assets[j].symbol}: blinding is not"
                                        " the children's sum")
                expected = node_hash(left.hash, left.commitments, right.hash, right.commitments)
            if expected != node.hash:
                findings.append(f"{where}: hash does not recompute")
    return findings


def tree_root_hash(tree: PrivateTreeFile) -> bytes:
    """The root hash (§16.6) of the tree file's top node and its opening."""
    top = tree.node(tree.levels, 0)
    return root_hash(tree.round_id, tree.assets, tree.leaf_count, top.hash, top.commitments,
                     top.values, top.blindings, tree.hidden_levels)


@dataclass(frozen=True)
class PrivateAuditReport:
    """The auditor's recomputation of a private round: its figures and every finding."""

    round_id: str
    assets: tuple[PrivateAsset, ...]
    leaf_count: int
    root_hash: bytes
    totals: tuple[int, ...]
    findings: tuple[str, ...]
    hidden_levels: int | None = None

    def raise_for_failures(self) -> None:
        """Raise if anything failed.

        Raises:
            VerificationError: listing every finding.
        """
        if self.findings:
            raise VerificationError(f"{len(self.findings)} finding(s): "
                                    + "; ".join(self.findings[:50]))


def audit_private_round(tree: PrivateTreeFile, summary: Any,
                        expected_root: bytes | None = None) -> PrivateAuditReport:
    """Recompute the tree file (:func:`audit_private_tree`) and compare it with the
    published ``root.json`` (a :class:`verifier.private.proof.PrivateRoot`): round, assets,
    N, totals, blindings and root hash must all match, and ``expected_root`` if given.

    Raises:
        FormatError: a stored value out of range.
    """
    findings = audit_private_tree(tree)
    top = tree.node(tree.levels, 0)
    computed = tree_root_hash(tree)
    for name, mine, theirs in (
            ("round", tree.round_id, summary.round_id), ("assets", tree.assets, summary.assets),
            ("leaf_count", tree.leaf_count, summary.leaf_count),
            ("hidden_levels", tree.hidden_levels, summary.hidden_levels),
            ("totals", top.values, summary.totals), ("blindings", top.blindings,
                                                     summary.blindings),
            ("root_hash", computed, summary.root_hash)):
        if mine != theirs:
            findings.append(f"root.json: {name} differs from the tree file's")
    if expected_root is not None and expected_root != computed:
        findings.append(f"root: computed {computed.hex()} but the published root is"
                        f" {expected_root.hex()}")
    return PrivateAuditReport(tree.round_id, tree.assets, tree.leaf_count, computed,
                              top.values, tuple(findings), tree.hidden_levels)
