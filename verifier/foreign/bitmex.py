"""BitMEX proof of liabilities: the whole published tree, recomputed, and the user's leaves.

Reproduces BitMEX/proof-of-reserves-liabilities ``validate_liabilities.py`` at commit
c0c9c717 (``read_tree``, ``gen_sub_nonce``, ``leaf_hash``, ``merkleize_nodes``):

* the file is ``block_height:H`` then one ``hash,sats`` line per node, root first, row by
  row, each row twice the last (a complete binary tree of 2^k leaves);
* a leaf is HMAC-SHA256(key = sub_nonce, u64le(sats) ‖ u64le(leaf index)), where
  sub_nonce = SHA256(account_nonce ‖ u64le(H) ‖ u64le(account)) is the per-proof nonce
  BitMEX gives each user (the account nonce is the lifetime "master" nonce);
* a node is SHA256(left hash ‖ u64le(left sats) ‖ right hash ‖ u64le(right sats)) with
  sats = left + right.

BitMEX's tool recomputes only the paths above the leaves the nonce matches; we recompute
every node, so the root's total is the sum of every published leaf. No I/O here: the CLI
reads the tree file and the private nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from dataclasses import dataclass

from verifier.errors import FormatError
from verifier.foreign.parsing import utf8_text
from verifier.foreign.report import (
    SRC_BREAKING_BINDING,
    SRC_OURS,
    ForeignReport,
    Weakness,
    not_proven,
)

RULE = (
    "BitMEX/proof-of-reserves-liabilities @c0c9c717, validate_liabilities.py (read_tree, "
    "validate_liabilities); every node recomputed, not only your leaves' paths"
)
U64_MAX = 2**64 - 1
MAX_DEPTH = 40  # 2^40 leaves: far beyond any published tree, and a bound on a hostile file
_NODE_LINE = re.compile(r"([0-9a-f]{64}),(0|[1-9][0-9]{0,19})")
_HEIGHT_LINE = re.compile(r"block_height:(0|[1-9][0-9]{0,19})")
_NONCE = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class TreeNode:
    """One published node: its hash, its satoshis, and its line in the file (1-based)."""

    hash: bytes
    sats: int
    line: int


@dataclass(frozen=True)
class Tree:
    """A parsed BitMEX liabilities tree; ``rows[0]`` is the leaves, ``rows[-1]`` the root."""

    block_height: int
    rows: tuple[tuple[TreeNode, ...], ...]

    @property
    def root(self) -> TreeNode:
        """The root node."""
        return self.rows[-1][0]

    @property
    def leaves(self) -> tuple[TreeNode, ...]:
        """The leaf row, in index order."""
        return self.rows[0]


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def parse_tree(data: bytes, where: str = "tree") -> Tree:
    """Parse a BitMEX liabilities tree file.

    BitMEX's reader silently drops an incomplete last row; here it is an error, as is any
    line that is not ``64 lowercase hex,decimal satoshis`` below 2^64.

    Raises:
        FormatError: not UTF-8, a bad first line, a malformed node line, or a node count
            that is not 2^k - 1 (a complete tree, root first).
    """
    lines = utf8_text(data, where).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # one trailing newline is allowed (BitMEX's tool writes none)
    if not lines:
        raise FormatError(f"{where}: empty")
    first = _HEIGHT_LINE.fullmatch(lines[0].rstrip("\r"))
    if first is None:
        raise FormatError(
            f"{where} line 1: expected 'block_height:<decimal>', found {lines[0][:40]!r}"
        )
    height = int(first.group(1))
    if height > U64_MAX:
        raise FormatError(f"{where} line 1: block height {height} does not fit in 64 bits")
    rows: list[tuple[TreeNode, ...]] = []
    row: list[TreeNode] = []
    size = 1
    for n, raw in enumerate(lines[1:], start=2):
        m = _NODE_LINE.fullmatch(raw.rstrip("\r"))
        if m is None:
            raise FormatError(
                f"{where} line {n}: expected '<64 lowercase hex>,<satoshis>', found {raw[:80]!r}"
            )
        sats = int(m.group(2))
        if sats > U64_MAX:
            raise FormatError(f"{where} line {n}: {sats} sats does not fit in 64 bits")
        row.append(TreeNode(bytes.fromhex(m.group(1)), sats, n))
        if len(row) == size:
            rows.append(tuple(row))
            row, size = [], size * 2
            if len(rows) > MAX_DEPTH + 1:
                raise FormatError(f"{where}: deeper than {MAX_DEPTH} levels")
    if row or not rows:
        raise FormatError(
            f"{where}: {len(lines) - 1} node lines; a complete tree printed root first has "
            f"2^k - 1 (the last row has {len(row)} of {size} nodes)"
        )
    rows.reverse()
    return Tree(height, tuple(rows))


def parse_nonce(text: str, where: str) -> bytes:
    """Read a 32-byte nonce written as 64 hex digits (surrounding whitespace ignored).

    Raises:
        FormatError: not 64 hex digits (the message never repeats the content).
    """
    value = text.strip()
    if not _NONCE.fullmatch(value):
        raise FormatError(f"{where}: expected one nonce of 64 hex digits")
    return bytes.fromhex(value)


def sub_nonce(account_nonce: bytes, block_height: int, account: int) -> bytes:
    """``gen_sub_nonce``: SHA256(account_nonce ‖ u64le(block_height) ‖ u64le(account))."""
    return hashlib.sha256(account_nonce + _u64(block_height) + _u64(account)).digest()


def leaf_hash(sats: int, key: bytes, index: int) -> bytes:
    """``leaf_hash``: HMAC-SHA256(key, u64le(sats) ‖ u64le(index))."""
    return hmac.new(key, _u64(sats) + _u64(index), hashlib.sha256).digest()


def node_hash(left: TreeNode, right: TreeNode) -> bytes:
    """``merkleize_nodes``: SHA256(l.hash ‖ u64le(l.sats) ‖ r.hash ‖ u64le(r.sats))."""
    return hashlib.sha256(left.hash + _u64(left.sats) + right.hash + _u64(right.sats)).digest()


def verify(
    tree: Tree,
    account: int,
    nonce: bytes,
    *,
    account_nonce: bool = False,
    expect_sats: int | None = None,
    expect_root: str | None = None,
) -> ForeignReport:
    """Recompute the whole tree, find the account's leaves, and report.

    Args:
        tree: the parsed tree file.
        account: the BitMEX account number.
        nonce: the per-proof nonce BitMEX gives the user, or (``account_nonce``) the
            account's lifetime nonce, from which the per-proof one is derived.
        account_nonce: ``nonce`` is the account nonce.
        expect_sats: the balance the user knows they had at the snapshot, if given.
        expect_root: the root hash BitMEX published for this snapshot, if given.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.

    Raises:
        FormatError: the account number does not fit in 64 bits.
    """
    if not 0 <= account <= U64_MAX:
        raise FormatError(f"--account {account}: expected an account number below 2^64")
    report = _report()
    key = sub_nonce(nonce, tree.block_height, account) if account_nonce else nonce
    report.notes.append(
        f"block height {tree.block_height}, {len(tree.leaves)} leaves, {len(tree.rows)} levels; "
        + (
            "per-proof nonce derived from your account nonce"
            if account_nonce
            else "per-proof nonce as given"
        )
    )
    located = _recompute(tree)
    problems = [message for _, message in located]
    root = tree.root
    report.root_hash = root.hash.hex()
    report.root_balances = {"XBt": str(root.sats)}
    report.check(
        "every node recomputes",
        not problems,
        f"every one of the {sum(len(r) for r in tree.rows)} nodes hashes from its children and "
        f"holds their sum: root {root.hash.hex()}, total {root.sats} sats"
        if not problems
        else "; ".join(problems[:5])
        + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
        kind="extra",
    )
    mine = [i for i, leaf in enumerate(tree.leaves) if leaf_hash(leaf.sats, key, i) == leaf.hash]
    found = sum(tree.leaves[i].sats for i in mine)
    report.user_balances = {"XBt": str(found)}
    report.notes.append(
        f"account {account}: {len(mine)} leaf/leaves "
        + (f"(indexes {', '.join(map(str, mine))}) " if mine else "")
        + f"holding {found} sats"
    )
    # BitMEX's own rule: the nodes above your leaves (a subset of every node).
    on_paths = {tree.rows[h][i >> h].line for i in mine for h in range(1, len(tree.rows))}
    bad_paths = [message for line, message in located if line in on_paths]
    report.check(
        "your leaves' paths recompute to the root",
        not bad_paths,
        f"{len(mine)} leaf/leaves, each path up to the root recomputes"
        if not bad_paths
        else "; ".join(bad_paths[:5]),
    )
    if expect_sats is not None:
        report.check(
            "your balance",
            found == expect_sats,
            f"{found} sats found, as expected"
            if found == expect_sats
            else f"{found} sats found in {len(mine)} leaf/leaves, but you expected {expect_sats}",
            kind="extra",
        )
    else:
        report.check(
            "your leaves are in the tree",
            bool(mine),
            f"{len(mine)} leaf/leaves found"
            if mine
            else "no leaf matches this account and nonce at block height "
            f"{tree.block_height}: the nonce, the account or the height is not this tree's, "
            "or the account was left out (BitMEX omits accounts holding 0 sats: pass "
            "--expect-sats 0 if yours was empty)",
            kind="extra",
        )
    if expect_root is not None:
        want = expect_root.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", want):
            raise FormatError(f"--root: expected 64 hex digits, found {expect_root[:70]!r}")
        report.check(
            "root is the published one",
            want == root.hash.hex(),
            f"the file's root {root.hash.hex()}"
            + (" = the published root" if want == root.hash.hex() else f", published {want}"),
            kind="extra",
        )
    zeros = [f"leaf {i}" for i, leaf in enumerate(tree.leaves) if leaf.sats == 0]
    report.check(
        "no empty leaves",
        not zeros,
        "every leaf holds at least 1 sat (BitMEX splits balances and drops zeros)"
        if not zeros
        else f"{len(zeros)} leaves hold 0 sats: {', '.join(zeros[:5])}",
        kind="info",
    )
    return report


def _recompute(tree: Tree) -> list[tuple[int, str]]:
    """(line, message) for every node whose hash or sum disagrees with its two children."""
    problems: list[tuple[int, str]] = []
    for below, above in zip(tree.rows, tree.rows[1:], strict=False):
        for j, parent in enumerate(above):
            left, right = below[2 * j], below[2 * j + 1]
            total = left.sats + right.sats
            if total != parent.sats:
                problems.append(
                    (
                        parent.line,
                        f"line {parent.line}: children (lines {left.line}, {right.line}) sum to "
                        f"{total} sats but the line holds {parent.sats}",
                    )
                )
            if node_hash(left, right) != parent.hash:
                problems.append(
                    (
                        parent.line,
                        f"line {parent.line}: computed hash {node_hash(left, right).hex()[:16]}.. "
                        f"from lines {left.line} and {right.line} but the line holds "
                        f"{parent.hash.hex()[:16]}..",
                    )
                )
    return problems


def _report() -> ForeignReport:
    return ForeignReport(
        format="bitmex",
        exchange="BitMEX",
        rule=RULE,
        proven=[
            "the published tree is one complete Merkle-sum tree: every node binds both "
            "children's hashes and sums, so the root's total is the sum of every published "
            "leaf (assuming SHA-256 is collision resistant)",
            "the leaves your nonce finds hold the sats shown, at the indexes shown",
        ],
        not_proven=not_proven(
            "that the block height in the file is the snapshot's: it is the exchange's claim"
        ),
        weaknesses=[
            Weakness(
                "the whole tree is public",
                "every leaf's satoshis are published; balances are split into random parts "
                "and shuffled, but a user's parts can be re-linked by subset sums (round "
                "amounts stand out), and large stable leaves followed from one snapshot to "
                "the next. Our scheme publishes only per-user paths.",
                "https://hackmd.io/@JI2FtqawSzO-olUw-r48DQ/SyHNempt3 (re-linking split "
                "leaves of public Maxwell++ trees)",
            ),
            Weakness(
                "empty accounts cannot tell 'left out' from 'zero'",
                "accounts holding 0 sats get no leaf, so a user whose balance is missing sees "
                "the same as one whose balance was zero.",
                SRC_OURS + " (generate_liabilities.py, exclude_zeros)",
            ),
            Weakness(
                "BitMEX's tool checks only your paths and takes the nonce on the command line",
                "validate_liabilities.py recomputes only the nodes above the leaves your nonce "
                "matches, and reads the nonce from --nonce (visible to other local users and "
                "kept in shell history). We recompute every node and read the nonce from a "
                "private file or $POR_FOREIGN_NONCE.",
                SRC_OURS + " (validate_liabilities.py)",
            ),
            Weakness(
                "one asset only",
                "the tree holds BTC liabilities in satoshis; nothing else is covered.",
                SRC_OURS,
            ),
        ],
        notes=[
            "each node hashes both children's sums (the fix to the summation Merkle tree of "
            f"{SRC_BREAKING_BINDING}) and amounts are unsigned 64-bit: no sibling's balance "
            "can be misstated or negative"
        ],
    )
