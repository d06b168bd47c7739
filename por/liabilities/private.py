"""The private round's builder and prover (scheme ``por-mst-private`` version 1, spec §16).

Builds in memory from the spot scheme's inputs (snapshot and asset list): per user the §4
commitment, per asset a Pedersen commitment to ⌈balance / 10^e⌉ with a blinding split
top-down from the round secret (§16.3), every node's commitments and hash; writes the
public ``root.json`` and the auditors' ``tree.bin``; makes a user's proof on demand from
the tree file, with 64-bit range proofs bound to their positions (§16.5).

Cost (bench/bench_private.py, spec §16.13): each node and asset is one commitment (38 µs
on an idle core), so 2^20 users × 4 assets is about 8.4 million commitments: some 5-6
minutes on one core, about half with ``workers=2``. This in-memory builder holds every node
(309 MB measured at 2^16 users × 4 assets, so some 5 GB at 2^20) until it shares the spot
builder's bounded-memory pipeline.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from por.errors import InputError
from verifier.errors import VerificationError
from verifier.liabilities.mst import (
    Asset,
    check_assets,
    check_round_id,
    derive_salt,
    encode_amounts,
    padding_commitment,
    user_commitment,
)
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, PrivateRoot, PrivateStep
from verifier.private.scheme import (
    PrivateAsset,
    committed_value,
    generator_seed,
    leaf_hash,
    node_hash,
    range_nonce,
    range_position,
    root_blinding,
    root_hash,
    split_blinding,
)
from verifier.private.treefile import MAGIC, Node, PrivateTreeFile, encode_node, header_bytes

ROOT_FILE = "root.json"
TREE_FILE = "tree.bin"


def unit_exponents(assets: Sequence[Asset], balances: Sequence[Sequence[int]]) -> list[int]:
    """Per asset the smallest e with Σ ⌈a / 10^e⌉ over all users ≤ 2^64 − 1 (spec §16.3)."""
    out = []
    for j in range(len(assets)):
        e = 0
        while sum(-(-row[j] // 10**e) for row in balances) > pc.MAX_VALUE:
            e += 1
        out.append(e)
    return out


@dataclass
class PrivateTree:
    """A built private round, in memory: every node, and where each user's leaf is."""

    round_id: str
    assets: tuple[PrivateAsset, ...]
    user_commitments: list[bytes]
    amounts: list[tuple[int, ...]]
    levels: list[list[Node]]
    root: PrivateRoot

    @property
    def leaf_count(self) -> int:
        """N, the padded number of leaves."""
        return len(self.user_commitments)


def build_private_tree(
    round_id: str, assets: Sequence[Asset], secret: bytes,
    balances: Sequence[tuple[str, Sequence[int]]], pad_to: int | None = None,
    workers: int = 1, hidden_levels: int | None = None,
) -> PrivateTree:
    """Build a private round (spec §16.3–§16.6); ``workers`` processes make the commitments
    (one per node and asset, the build's cost). ``hidden_levels`` None or at least the
    tree's height: full hiding (version 1); else a hybrid round (version 2, §16.14) whose
    proofs hide the bottom ``hidden_levels`` levels and open the rest, L bound in the root.

    Raises:
        InputError: a user twice, a wrong number of amounts, or an amount outside u128.
        VerificationError: two leaves with one commitment, or a commitment the library
            refuses (a zero blinding of a zero value: probability 2^-256).
    """
    check_round_id(round_id)
    plain = check_assets(assets)
    seen: set[str] = set()
    leaves: list[tuple[bytes, tuple[int, ...]]] = []
    for user_id, amounts in balances:
        if user_id in seen:
            raise InputError(f"user {user_id!r} appears twice")
        seen.add(user_id)
        if len(amounts) != len(plain) or any(not 0 <= a < 1 << 128 for a in amounts):
            raise InputError(f"user {user_id!r}: expected {len(plain)} amounts in 0..2^128-1")
        salt = derive_salt(secret, round_id, user_id)
        leaves.append((user_commitment(round_id, user_id, salt), tuple(amounts)))
    n = max(len(leaves), pad_to or 1, 1)
    n = 1 << (n - 1).bit_length()
    zero = (0,) * len(plain)
    leaves += [(padding_commitment(secret, round_id, i), zero) for i in range(n - len(leaves))]
    leaves.sort(key=lambda leaf: leaf[0])
    for a, b in itertools.pairwise(leaves):
        if a[0] == b[0]:
            raise VerificationError("two leaves share a commitment (spec §5)")
    exponents = unit_exponents(plain, [amounts for _, amounts in leaves])
    private = tuple(PrivateAsset(a.symbol, a.decimals, e)
                    for a, e in zip(plain, exponents, strict=True))
    k, levels = len(private), n.bit_length() - 1
    if hidden_levels is not None and hidden_levels >= levels:
        hidden_levels = None  # full hiding is version 1: one encoding for it
    if hidden_levels is not None and hidden_levels < 1:
        raise InputError(f"hidden levels must be at least 1 (the tree has {levels}),"
                         f" found {hidden_levels}")
    gens = [pc.generator(generator_seed(a)) for a in private]
    # Values bottom-up (exact sums), blindings top-down (§16.3: children add up to the parent).
    values: list[list[tuple[int, ...]]] = [[
        tuple(committed_value(x, private[j], f"user leaf {i}") for j, x in enumerate(amounts))
        for i, (_, amounts) in enumerate(leaves)]]
    for level in range(levels):
        below = values[level]
        values.append([tuple(a + b for a, b in zip(below[2 * i], below[2 * i + 1], strict=True))
                       for i in range(len(below) // 2)])
    blindings: list[list[tuple[int, ...]]] = [[] for _ in range(levels + 1)]
    blindings[levels] = [tuple(root_blinding(secret, round_id, j) for j in range(k))]
    for level in range(levels - 1, -1, -1):
        row: list[tuple[int, ...]] = []
        for i, parent in enumerate(blindings[level + 1]):
            pairs = [split_blinding(secret, round_id, j, parent[j], level, 2 * i) for j in range(k)]
            row.append(tuple(p[0] for p in pairs))
            row.append(tuple(p[1] for p in pairs))
        blindings[level] = row
    commitments = _commit_all(values, blindings, gens, workers)
    nodes: list[list[Node]] = []
    for level in range(levels + 1):
        row_nodes = []
        for i, (vals, blinds) in enumerate(zip(values[level], blindings[level], strict=True)):
            commits = commitments[level][i]
            if level == 0:
                digest = leaf_hash(leaves[i][0], encode_amounts(leaves[i][1]), commits)
            else:
                left, right = nodes[level - 1][2 * i], nodes[level - 1][2 * i + 1]
                digest = node_hash(left.hash, left.commitments, right.hash, right.commitments)
            row_nodes.append(Node(digest, commits, vals, blinds))
        nodes.append(row_nodes)
    top = nodes[levels][0]
    root = PrivateRoot(round_id, private, n,
                       root_hash(round_id, private, n, top.hash, top.commitments, top.values,
                                 top.blindings, hidden_levels),
                       top.values, top.blindings, hidden_levels)
    return PrivateTree(round_id, private, [c for c, _ in leaves], [a for _, a in leaves],
                       nodes, root)


_CHUNK = 4096  # nodes per task handed to a worker process


def _commit_chunk(task: tuple[list[tuple[int, ...]], list[tuple[int, ...]], list[bytes]]
                  ) -> list[tuple[bytes, ...]]:
    values, blindings, gens = task
    return [tuple(pc.commit(v, r, gens[j], "node")
                  for j, (v, r) in enumerate(zip(vals, blinds, strict=True)))
            for vals, blinds in zip(values, blindings, strict=True)]


def _commit_all(values: list[list[tuple[int, ...]]], blindings: list[list[tuple[int, ...]]],
                gens: list[bytes], workers: int) -> list[list[tuple[bytes, ...]]]:
    """Every node's commitments, level by level, in ``workers`` processes when it pays."""
    flat_values = [v for row in values for v in row]
    flat_blindings = [b for row in blindings for b in row]
    tasks = [(flat_values[i:i + _CHUNK], flat_blindings[i:i + _CHUNK], gens)
             for i in range(0, len(flat_values), _CHUNK)]
    if workers > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = [c for chunk in pool.map(_commit_chunk, tasks) for c in chunk]
    else:
        done = [c for task in tasks for c in _commit_chunk(task)]
    out, at = [], 0
    for row in values:
        out.append(done[at:at + len(row)])
        at += len(row)
    return out


def tree_file_bytes(tree: PrivateTree) -> bytes:
    """The tree file of §16.10."""
    header = header_bytes(tree.round_id, tree.assets, tree.leaf_count, tree.root.hidden_levels)
    out = bytearray(MAGIC + len(header).to_bytes(4, "big") + header)
    out += bytes((64 - len(out) % 64) % 64)
    for c in tree.user_commitments:
        out += c
    for amounts in tree.amounts:
        out += encode_amounts(amounts)
    for row in tree.levels:
        for node in row:
            out += encode_node(node)
    return bytes(out)


def write_private_round(tree: PrivateTree, out_dir: Path) -> PrivateRoot:
    """Write ``root.json`` (public) and ``tree.bin`` (auditors) into a new or empty
    ``out_dir``; nothing is overwritten.

    Raises:
        InputError: ``out_dir`` already holds a round.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (ROOT_FILE, TREE_FILE):
        if (out_dir / name).exists():
            raise InputError(f"{out_dir / name} exists: a round is never overwritten")
    tmp = out_dir / f".{TREE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # every opening and blinding: auditors only, whatever the umask
    with os.fdopen(fd, "wb") as fh:
        fh.write(tree_file_bytes(tree))
    os.replace(tmp, out_dir / TREE_FILE)
    (out_dir / ROOT_FILE).write_bytes(tree.root.to_bytes())
    return tree.root


def read_round(round_dir: Path) -> tuple[PrivateRoot, PrivateTreeFile]:
    """The round's published root and its tree file, checked against each other.

    Raises:
        InputError: a file is missing or unreadable.
        FormatError: a file is malformed, or the two do not belong together.
    """
    try:
        root = PrivateRoot.from_json((round_dir / ROOT_FILE).read_bytes(), ROOT_FILE)
        tree = PrivateTreeFile((round_dir / TREE_FILE).read_bytes(), TREE_FILE)
    except OSError as e:
        raise InputError(f"{round_dir}: cannot read the private round: {e.strerror}") from e
    top = tree.node(tree.levels, 0)
    if (tree.round_id, tree.assets, tree.leaf_count, top.values, top.blindings,
            tree.hidden_levels) != (root.round_id, root.assets, root.leaf_count, root.totals,
                                    root.blindings, root.hidden_levels):
        raise InputError(f"{round_dir}: tree.bin and root.json are not the same round")
    return root, tree


def prove(round_dir: Path, secret: bytes, user_id: str) -> PrivateProof:
    """A user's private proof from the round's files (spec §16.8): the user's opening, and
    per level the sibling's hash and commitments, its range proofs (made now: about 4 ms
    each, levels × assets of them) and the parent's commitments.

    Raises:
        InputError: the user is not in the round, or the files are unusable.
    """
    root, tree = read_round(round_dir)
    salt = derive_salt(secret, root.round_id, user_id)
    index = tree.find(user_commitment(root.round_id, user_id, salt))
    if index is None:
        raise InputError(f"user {user_id!r} is not in round {root.round_id} (or the round"
                         " secret is not this round's)")
    gens = [pc.generator(generator_seed(a)) for a in tree.assets]
    seeds = [generator_seed(a) for a in tree.assets]
    leaf = tree.node(0, index)
    steps = []
    for level in range(tree.levels):
        mine = index >> level
        sibling = tree.node(level, mine ^ 1)
        parent = tree.node(level + 1, mine >> 1)
        if level >= root.hidden:  # an opened level of a hybrid round (§16.14): plain sums
            steps.append(PrivateStep("left" if mine & 1 else "right", sibling.hash, (), (),
                                     parent.commitments, sibling.values, sibling.blindings))
            continue
        proofs = tuple(
            pc.prove_range(sibling.values[j], sibling.blindings[j], sibling.commitments[j],
                           gens[j], seeds[j],
                           range_nonce(secret, root.round_id, level, mine ^ 1, j),
                           range_position(root.round_id, level, mine ^ 1, j))
            for j in range(len(tree.assets)))
        steps.append(PrivateStep("left" if mine & 1 else "right", sibling.hash,
                                 sibling.commitments, proofs, parent.commitments))
    return PrivateProof(root.round_id, tree.assets, user_id, salt, tuple(tree.amounts(index)),
                        leaf.blindings, tuple(steps), root)
