"""The private round's builder and prover (scheme ``por-mst-private`` version 1, spec §16).

Builds from the spot scheme's inputs (snapshot and asset list): per user the §4
commitment, per asset a Pedersen commitment to ⌈balance / 10^e⌉ with a blinding split
top-down from the round secret (§16.3), every node's commitments and hash; writes the
public ``root.json`` and the auditors' ``tree.bin``; makes a user's proof on demand from
the tree file, with 64-bit range proofs bound to their positions (§16.5).

Two builders make the same bytes. :func:`build_private_round` (the CLI's) writes the tree
file subtree by subtree, in ``workers`` processes, holding only the sorted leaves (one
record of 32 + 16k bytes per user) and one subtree per worker: a parent's commitments are
its children's summed as points (a few µs), so only the leaves pay for a fresh commitment.
Each subtree is one call of the optional C accelerator ``por._privfast`` (spec §16.10: the
same library calls, bytes and errors, without an interpreter per node), else the same work
in Python (:func:`_subtree_records`). :func:`build_private_tree` is the in-memory
reference: every node in Python objects and every commitment made afresh from its opening
(spec §16.13 has the measured costs).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import mmap
import multiprocessing
import os
import resource
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from por.errors import InputError
from verifier.errors import VerificationError
from verifier.liabilities.mst import (
    AMOUNT_SIZE,
    HASH_SIZE,
    Asset,
    check_assets,
    check_round_id,
    decode_amounts,
    derive_salt,
    encode_amounts,
    encode_str,
    padding_commitment,
    user_commitment,
)
from verifier.private import _secp256k1_zkp as zkp
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, PrivateRoot, PrivateStep
from verifier.private.scheme import (
    TAG_LEAF,
    TAG_NODE,
    TAG_SPLIT,
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
from verifier.private.treefile import (
    MAGIC,
    Node,
    PrivateTreeFile,
    encode_node,
    header_bytes,
    record_size,
)

ROOT_FILE = "root.json"
TREE_FILE = "tree.bin"
_R = TypeVar("_R")
_OPENING = pc.COMMITMENT_SIZE + 8 + pc.SCALAR_SIZE  # a record's per asset: C ‖ u64(v) ‖ r (§16.10)


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
        with open(round_dir / TREE_FILE, "rb") as fh:  # mapped: a proof reads ~2 log N records
            size = os.fstat(fh.fileno()).st_size
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        tree = PrivateTreeFile(data, TREE_FILE)
    except OSError as e:
        raise InputError(f"{round_dir}: cannot read the private round: {e.strerror}") from e
    top = tree.node(tree.levels, 0)
    if (tree.round_id, tree.assets, tree.leaf_count, top.values, top.blindings,
            tree.hidden_levels) != (root.round_id, root.assets, root.leaf_count, root.totals,
                                    root.blindings, root.hidden_levels):
        raise InputError(f"{round_dir}: tree.bin and root.json are not the same round")
    return root, tree


NonceFunction = Callable[[int, int, int], bytes]
"""A range proof's nonce from (level, sibling index, asset index) (spec §16.5, §16.16)."""


def prove(round_dir: Path, secret: bytes, user_id: str) -> PrivateProof:
    """A user's private proof from the round's files (spec §16.8): the user's opening, and
    per level the sibling's hash and commitments, its range proofs (made now: about 4 ms
    each, levels × assets of them, with the round secret's nonces, §16.5) and the parent's
    commitments.

    Raises:
        InputError: the user is not in the round, or the files are unusable.
    """
    root, tree = read_round(round_dir)
    salt = derive_salt(secret, root.round_id, user_id)
    index = tree.find(user_commitment(root.round_id, user_id, salt))
    if index is None:
        raise InputError(f"user {user_id!r} is not in round {root.round_id} (or the round"
                         " secret is not this round's)")
    return prove_leaf(root, tree, user_id, salt, index,
                      lambda level, position, j: range_nonce(secret, root.round_id, level,
                                                             position, j))


def prove_leaf(root: PrivateRoot, tree: PrivateTreeFile, user_id: str, salt: bytes,
               index: int, nonce: NonceFunction) -> PrivateProof:
    """The proof of leaf ``index`` (``user_id`` with ``salt``), its range proofs made with
    ``nonce`` (the prover's choice, never used by verification: §16.16). The caller has
    found the leaf; the verifier's check (:func:`verifier.private.proof.verify_private_proof`)
    is what ties the user to it.
    """
    gens = [pc.generator(generator_seed(a)) for a in tree.assets]
    seeds = [generator_seed(a) for a in tree.assets]
    leaf = tree.node(0, index)
    k = len(tree.assets)
    siblings = [tree.node(level, (index >> level) ^ 1) for level in range(tree.levels)]
    hidden = [(level, j) for level in range(min(root.hidden, tree.levels)) for j in range(k)]

    def range_proof(at: tuple[int, int]) -> bytes:
        level, j = at
        sibling, position = siblings[level], (index >> level) ^ 1
        return pc.prove_range(sibling.values[j], sibling.blindings[j], sibling.commitments[j],
                              gens[j], seeds[j], nonce(level, position, j),
                              range_position(root.round_id, level, position, j))

    made = iter(pc.parallel_map(range_proof, hidden))  # threads: the library releases the GIL
    steps = []
    for level in range(tree.levels):
        mine = index >> level
        sibling = siblings[level]
        parent = tree.node(level + 1, mine >> 1)
        if level >= root.hidden:  # an opened level of a hybrid round (§16.14): plain sums
            steps.append(PrivateStep("left" if mine & 1 else "right", sibling.hash, (), (),
                                     parent.commitments, sibling.values, sibling.blindings))
            continue
        proofs = tuple(next(made) for _ in range(k))
        steps.append(PrivateStep("left" if mine & 1 else "right", sibling.hash,
                                 sibling.commitments, proofs, parent.commitments))
    return PrivateProof(root.round_id, tree.assets, user_id, salt, tuple(tree.amounts(index)),
                        leaf.blindings, tuple(steps), root)


# --- The bounded-memory builder ------------------------------------------------------------

SUBTREE_LEVELS = 12  # leaves per task 2^12: a worker holds one such subtree at a time


@dataclass(frozen=True)
class BuildStats:
    """What :func:`build_private_round` measured: peak memory of this process and of its
    largest worker (ru_maxrss, MiB), the users, leaves and subtree tasks."""

    users: int
    leaf_count: int
    tasks: int
    peak_rss_mib: float
    peak_worker_rss_mib: float


@dataclass(frozen=True)
class _Layout:
    """Where each part of the tree file lies (spec §16.10)."""

    path: str
    records: int
    record: int
    level_start: tuple[int, ...]

    def offset(self, level: int, index: int) -> int:
        return self.records + (self.level_start[level] + index) * self.record


@dataclass(frozen=True)
class _Subtree:
    """One task: the subtree of 2^height leaves whose root is node (height, index)."""

    round_id: str
    secret: bytes
    assets: tuple[PrivateAsset, ...]
    gens: tuple[bytes, ...]
    index: int
    height: int
    first_leaf: int
    leaves: list[bytes]  # user commitment (32) ‖ exact amounts (16 per asset), sorted
    blindings: tuple[int, ...]  # the subtree root's, from the top-down split (§16.3)
    layout: _Layout
    accelerate: bool = True  # por._privfast when it is installed (the same bytes)


_Top = tuple[bytes, tuple[bytes, ...], tuple[int, ...], tuple[int, ...], tuple[bytes, ...]]


def _encode(digest: bytes, commits: Sequence[bytes], values: Sequence[int],
            blindings: Sequence[int]) -> bytes:
    return encode_node(Node(digest, tuple(commits), tuple(values), tuple(blindings)))


def _parent(left: _Top, right: _Top, where: str) -> _Top:
    """A parent from its children: sums of values and blindings (mod n), commitments as
    point sums (the same bytes as committing to the sums afresh: the reference builder and
    the tests check it), and the hash binding both children (§16.4)."""
    commits, points = [], []
    for j in range(len(left[1])):
        c, point = zkp.add_points(left[4][j], right[4][j], f"{where} asset {j}")
        commits.append(c)
        points.append(point)
    return (node_hash(left[0], left[1], right[0], right[1]), tuple(commits),
            tuple(a + b for a, b in zip(left[2], right[2], strict=True)),
            tuple((a + b) % pc.GROUP_ORDER for a, b in zip(left[3], right[3], strict=True)),
            tuple(points))


def _subtree_records(task: _Subtree) -> tuple[bytes, tuple[bytes, ...]]:
    """A subtree's records, every level's, level 0 first, and its root's points (x ‖ y per
    asset): the pure-Python twin of :func:`por._privfast.build_subtree` (the same bytes)."""
    k, height, assets = len(task.assets), task.height, task.assets
    # Blindings top-down inside the subtree (§16.3), with the nodes' global indices.
    rows: list[list[tuple[int, ...]]] = [[] for _ in range(height + 1)]
    rows[height] = [task.blindings]
    for level in range(height - 1, -1, -1):
        base = task.index << (height - level - 1)  # global index of this row's first parent
        row: list[tuple[int, ...]] = []
        for i, parent in enumerate(rows[level + 1]):
            pairs = [split_blinding(task.secret, task.round_id, j, parent[j], level,
                                    2 * (base + i)) for j in range(k)]
            row.append(tuple(p[0] for p in pairs))
            row.append(tuple(p[1] for p in pairs))
        rows[level] = row
    nodes: list[_Top] = []
    out = bytearray()
    for i, (record, blinds) in enumerate(zip(task.leaves, rows[0], strict=True)):
        where = f"user leaf {task.first_leaf + i}"
        amounts_be = record[HASH_SIZE:]
        values = tuple(committed_value(a, assets[j], where)
                       for j, a in enumerate(decode_amounts(amounts_be)))
        commits = tuple(pc.commit(values[j], blinds[j], task.gens[j], "node")
                        for j in range(k))
        points = tuple(zkp.commitment_point(c, where) for c in commits)
        digest = leaf_hash(record[:HASH_SIZE], amounts_be, commits)
        nodes.append((digest, commits, values, blinds, points))
        out += _encode(digest, commits, values, blinds)
    for level in range(1, height + 1):
        first = task.index << (height - level)
        nodes = [_parent(nodes[2 * i], nodes[2 * i + 1], f"level {level} node {first + i}")
                 for i in range(len(nodes) // 2)]
        for node, blinds in zip(nodes, rows[level], strict=True):
            if node[3] != blinds:  # the split adds up (§16.3): a broken one is a bug
                raise VerificationError(f"level {level}: blindings do not add up")
            out += _encode(*node[:4])
    return bytes(out), nodes[0][4]


def _native_subtree(task: _Subtree) -> tuple[bytes, tuple[bytes, ...]] | None:
    """:func:`_subtree_records` by the C accelerator, or None where it cannot tell (an
    error the Python builder reports with its message, or no accelerator)."""
    native = _native()
    if native is None:
        return None
    made = native.build_subtree(
        task.secret, TAG_SPLIT + encode_str(task.round_id.encode()), TAG_LEAF, TAG_NODE,
        b"".join(task.gens), bytes(a.unit_exponent for a in task.assets), task.index,
        task.height, b"".join(task.leaves),
        b"".join(pc.scalar_bytes(r) for r in task.blindings))
    if made is None:
        return None
    records, points = made
    return records, tuple(points[64 * j:64 * (j + 1)] for j in range(len(task.assets)))


def _build_subtree(task: _Subtree) -> tuple[_Top, float]:
    """Write a subtree's records, level by level, into the tree file; return its root and
    this process's peak memory (MiB)."""
    made = _native_subtree(task) if task.accelerate else None
    records, points = made if made is not None else _subtree_records(task)
    k, size = len(task.assets), task.layout.record
    fd = os.open(task.layout.path, os.O_WRONLY)
    try:
        at = 0
        for level in range(task.height + 1):
            count = 1 << (task.height - level)
            os.pwrite(fd, records[at:at + count * size],
                      task.layout.offset(level, task.index << (task.height - level)))
            at += count * size
    finally:
        os.close(fd)
    top = records[at - size:at]
    opening = [top[HASH_SIZE + j * _OPENING:HASH_SIZE + (j + 1) * _OPENING] for j in range(k)]
    root: _Top = (top[:HASH_SIZE], tuple(o[:pc.COMMITMENT_SIZE] for o in opening),
                  tuple(int.from_bytes(o[pc.COMMITMENT_SIZE:pc.COMMITMENT_SIZE + 8], "big")
                        for o in opening),
                  tuple(int.from_bytes(o[pc.COMMITMENT_SIZE + 8:], "big") for o in opening),
                  points)
    return root, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The accelerator's library functions (spec §16.10): wallycore's libsecp256k1-zkp, in the
# order por._privfast.init takes them after the context.
_NATIVE_SYMBOLS = (
    "secp256k1_generator_parse", "secp256k1_generator_serialize", "secp256k1_pedersen_commit",
    "secp256k1_pedersen_commitment_serialize", "secp256k1_ec_pubkey_parse",
    "secp256k1_ec_pubkey_combine", "secp256k1_ec_pubkey_serialize",
)
_NATIVE: Any = None  # the module once checked, False when absent


def _native() -> Any | None:
    """``por._privfast`` with the library's functions handed over and a known answer
    checked against the Python builder, once per process; None without the accelerator.

    Raises:
        VerificationError: a symbol is missing, or the accelerator disagrees with the
            Python builder on the known answer (a changed library or a miscompiled
            extension: the build stops, never a wrong tree).
    """
    global _NATIVE  # loaded once per process (workers included)
    if _NATIVE is None:
        try:
            from por import _privfast
        except ImportError:  # optional: a machine without a compiler builds in Python
            _NATIVE = False
            return None
        library = zkp._library()  # checks wallycore's version and the generator layout
        addresses = []
        for name in _NATIVE_SYMBOLS:
            if not hasattr(library.lib, name):
                raise VerificationError(f"wallycore's extension no longer exports {name}:"
                                        " por._privfast cannot be used")
            addresses.append(ctypes.cast(getattr(library.lib, name), ctypes.c_void_p).value or 0)
        _privfast.init(library.context.value or 0, *addresses)  # the C side refuses NULL
        _NATIVE = _privfast
        task = _known_answer_task()
        if _native_subtree(task) != _subtree_records(task):
            _NATIVE = None
            raise VerificationError("the C accelerator por._privfast disagrees with the"
                                    " Python builder on a known answer: rebuild or remove it")
    return _NATIVE or None


def _known_answer_task() -> _Subtree:
    """A small subtree (4 leaves, 2 assets, one amount wide, one zero) for the load check."""
    assets = (PrivateAsset("BTC", 8, 0), PrivateAsset("ETH", 18, 3))
    leaves = [bytes([i]) * HASH_SIZE + encode_amounts((i * 1000 + 1, (i << 70) if i else 0))
              for i in range(4)]
    return _Subtree("known-answer", bytes(range(32)), assets,
                    tuple(pc.generator(generator_seed(a)) for a in assets), 5, 2, 20,
                    leaves, (12345, pc.GROUP_ORDER - 1), _Layout("", 0, record_size(2), (0,)),
                    True)


_USERS_PER_TASK = 1 << 14  # users per leaf-record task handed to a worker


def _leaf_records(round_id: str, secret: bytes, k: int,
                  balances: Sequence[tuple[str, Sequence[int]]]) -> tuple[list[bytes], list[int]]:
    """Each user's record, user commitment (32) ‖ exact amounts (16 each), sorted, and the
    exact per-asset totals: one task of a worker. A user twice gives one commitment twice,
    found after the sort.

    Raises:
        InputError: a wrong number of amounts, or an amount outside u128.
    """
    records: list[bytes] = []
    totals = [0] * k
    for user_id, amounts in balances:
        if len(amounts) != k or any(not 0 <= a < 1 << 128 for a in amounts):
            raise InputError(f"user {user_id!r}: expected {k} amounts in 0..2^128-1")
        salt = derive_salt(secret, round_id, user_id)
        records.append(user_commitment(round_id, user_id, salt) + encode_amounts(amounts))
        for j, a in enumerate(amounts):
            totals[j] += a
    records.sort()  # here, in the worker: the parent merges sorted runs
    return records, totals


def _padding_records(round_id: str, secret: bytes, k: int, start: int, stop: int
                     ) -> list[bytes]:
    """Padding leaves start..stop − 1 (§5): commitment ‖ zero amounts, sorted."""
    zero = encode_amounts((0,) * k)
    return sorted(padding_commitment(secret, round_id, i) + zero for i in range(start, stop))


def _exponents(records: list[bytes], totals: list[int], k: int) -> list[int]:
    """:func:`unit_exponents` from the records: e = 0 when the exact total fits (§16.3)."""
    out = []
    for j in range(k):
        e = 0
        if totals[j] > pc.MAX_VALUE:
            at = HASH_SIZE + AMOUNT_SIZE * j
            column = [int.from_bytes(r[at:at + AMOUNT_SIZE], "big") for r in records]
            while sum(-(-a // 10**e) for a in column) > pc.MAX_VALUE:
                e += 1
        out.append(e)
    return out


def _in_order(pool: Executor, tasks: Iterable[tuple[Callable[..., _R], tuple[Any, ...]]],
              ahead: int) -> Iterator[_R]:
    """Each task's result, in order, with at most ``ahead`` tasks handed out at once (so
    that what is in flight stays bounded, and the workers never wait for this process)."""
    pending: deque[Future[_R]] = deque()
    for fn, args in tasks:
        pending.append(pool.submit(fn, *args))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chunks(balances: Iterable[tuple[str, Sequence[int]]], size: int
            ) -> Iterator[list[tuple[str, Sequence[int]]]]:
    it = iter(balances)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


@contextlib.contextmanager
def _worker_pool(workers: int) -> Iterator[Executor]:
    """``workers`` processes (forked now, while this process is small), or this process
    for one. On an error or a signal the workers are killed and waited for: none is left."""
    from por.liabilities.build import InlineExecutor, _worker_init, stopping

    if workers <= 1:
        yield InlineExecutor()
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_worker_init, initargs=(os.getpid(),))
    with stopping(pool):
        yield pool


def _new_dirs(path: Path) -> list[Path]:
    """The directories of ``path`` that do not exist yet, outermost first."""
    missing = []
    for p in [path.absolute(), *path.absolute().parents]:
        if p.exists():
            break
        missing.append(p)
    return missing[::-1]


def build_private_round(
    round_id: str, assets: Sequence[Asset], secret: bytes,
    balances: Iterable[tuple[str, Sequence[int]]], out_dir: Path, pad_to: int | None = None,
    workers: int = 1, hidden_levels: int | None = None, subtree_levels: int = SUBTREE_LEVELS,
    accelerate: bool = True, secret_out: Path | None = None,
) -> tuple[PrivateRoot, BuildStats]:
    """Build a private round straight into ``out_dir`` (``tree.bin`` then ``root.json``),
    byte for byte what :func:`build_private_tree` and :func:`write_private_round` write,
    in bounded memory: the sorted leaf records, and per worker process one subtree of
    2^``subtree_levels`` leaves whose records it writes level by level at their offsets.
    The workers also make the leaf records (salts, user commitments) and sort them in
    runs; the levels above the subtrees are built here from the subtrees' roots.
    ``accelerate``: each subtree in one call of the C accelerator ``por._privfast`` when
    it is installed (the same bytes; False, or without it: in Python).

    ``secret_out``: where to write ``secret`` (a new round's), once the round is complete
    and before this returns, so that an interrupted build leaves neither. A failure, SIGINT
    or SIGTERM (raised as ``KeyboardInterrupt``) leaves nothing: no temporary or partial
    file, no secret, no directory it created, no worker process.

    Raises:
        InputError: a user twice, a wrong number of amounts, an amount outside u128, a bad
            ``hidden_levels``, or ``out_dir`` already holds a round.
        VerificationError: two leaves with one commitment, or a commitment the library
            refuses (a zero blinding of a zero value: probability 2^-256).
        KeyboardInterrupt: SIGINT, or ``Interrupted`` for SIGTERM or SIGHUP (cleaned up).
    """
    from por.liabilities.build import stop_on_signals

    check_round_id(round_id)
    plain = check_assets(assets)
    for name in (ROOT_FILE, TREE_FILE):
        if (out_dir / name).exists():
            raise InputError(f"{out_dir / name} exists: a round is never overwritten")
    created = _new_dirs(out_dir)
    written: list[Path] = []
    with stop_on_signals():
        try:
            with _worker_pool(workers) as pool:
                built = _build_round(round_id, plain, secret, balances, out_dir, pad_to,
                                     workers, hidden_levels, subtree_levels, accelerate, pool,
                                     written)
            if secret_out is not None:
                from por.liabilities.secret import create_secret

                written.append(secret_out)  # refused if it exists, so never another's
                create_secret(secret_out, secret)
            written.clear()  # complete: the round (and its secret) stay
            return built
        except BaseException as e:
            # No half-written round, and no directory this build made (only if empty). A
            # secret file that was there before (create_secret refuses it) is not ours.
            if isinstance(e, InputError) and written and written[-1] == secret_out:
                written.pop()
            for path in written:
                path.unlink(missing_ok=True)
            for directory in reversed(created):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise


def _build_round(
    round_id: str, plain: Sequence[Asset], secret: bytes,
    balances: Iterable[tuple[str, Sequence[int]]], out_dir: Path, pad_to: int | None,
    workers: int, hidden_levels: int | None, subtree_levels: int, accelerate: bool,
    pool: Executor, written: list[Path],
) -> tuple[PrivateRoot, BuildStats]:
    """:func:`build_private_round`'s work; every file it makes is added to ``written``
    before it exists, so that the caller removes it on failure."""
    k = len(plain)
    ahead = 2 * max(1, workers)
    records: list[bytes] = []
    totals = [0] * k
    for part, part_totals in _in_order(
            pool, ((_leaf_records, (round_id, secret, k, chunk))
                   for chunk in _chunks(balances, _USERS_PER_TASK)), ahead):
        records += part
        totals = [a + b for a, b in zip(totals, part_totals, strict=True)]
    users = len(records)
    records.sort()  # sorted runs from the workers: a merge
    for a, b in itertools.pairwise(records):
        if a[:HASH_SIZE] == b[:HASH_SIZE]:
            raise InputError("a user appears twice (two users' records share a commitment)")
    n = max(users, pad_to or 1, 1)
    n = 1 << (n - 1).bit_length()
    if n > users:
        step = max(_USERS_PER_TASK, (n - users) // (4 * max(1, workers)) + 1)
        for part in _in_order(pool, ((_padding_records,
                                      (round_id, secret, k, at, min(at + step, n - users)))
                                     for at in range(0, n - users, step)), ahead):
            records += part
        records.sort()
        for a, b in itertools.pairwise(records):
            if a[:HASH_SIZE] == b[:HASH_SIZE]:
                raise VerificationError("two leaves share a commitment (spec §5)")
    private = tuple(PrivateAsset(a.symbol, a.decimals, e)
                    for a, e in zip(plain, _exponents(records, totals, k), strict=True))
    levels = n.bit_length() - 1
    if hidden_levels is not None and hidden_levels >= levels:
        hidden_levels = None  # full hiding is version 1: one encoding for it
    if hidden_levels is not None and hidden_levels < 1:
        raise InputError(f"hidden levels must be at least 1 (the tree has {levels}),"
                         f" found {hidden_levels}")
    gens = tuple(pc.generator(generator_seed(a)) for a in private)
    header = header_bytes(round_id, private, n, hidden_levels)
    prefix = bytearray(MAGIC + len(header).to_bytes(4, "big") + header)
    prefix += bytes((64 - len(prefix) % 64) % 64)
    record = record_size(k)
    starts = [0]
    for level in range(levels):
        starts.append(starts[-1] + (n >> level))
    users_at = len(prefix)
    records_at = users_at + (HASH_SIZE + AMOUNT_SIZE * k) * n
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{TREE_FILE}.tmp"
    layout = _Layout(str(tmp), records_at, record, tuple(starts))
    written.append(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # every opening and blinding: auditors only, whatever the umask
        os.ftruncate(fd, records_at + (2 * n - 1) * record)
        os.pwrite(fd, bytes(prefix), 0)
        step = 1 << 16
        for at in range(0, n, step):
            chunk = records[at:at + step]
            os.pwrite(fd, b"".join(r[:HASH_SIZE] for r in chunk), users_at + HASH_SIZE * at)
            os.pwrite(fd, b"".join(r[HASH_SIZE:] for r in chunk),
                      users_at + HASH_SIZE * n + AMOUNT_SIZE * k * at)
        height = min(levels, max(0, subtree_levels))
        if workers > 1:  # at least 8 tasks, so that every worker has work
            height = min(height, max(0, levels - 3))
        # Blindings top-down from the root to the subtrees' roots (§16.3).
        rows: list[list[tuple[int, ...]]] = [[] for _ in range(levels + 1)]
        rows[levels] = [tuple(root_blinding(secret, round_id, j) for j in range(k))]
        for level in range(levels - 1, height - 1, -1):
            row: list[tuple[int, ...]] = []
            for i, parent in enumerate(rows[level + 1]):
                pairs = [split_blinding(secret, round_id, j, parent[j], level, 2 * i)
                         for j in range(k)]
                row.append(tuple(p[0] for p in pairs))
                row.append(tuple(p[1] for p in pairs))
            rows[level] = row
        size = 1 << height
        tasks = ((_build_subtree, (_Subtree(round_id, secret, private, gens, t, height, t * size,
                                            records[t * size:(t + 1) * size], rows[height][t],
                                            layout, accelerate),))
                 for t in range(n >> height))
        tops: list[_Top] = []
        worker_rss = 0.0
        for top, rss in _in_order(pool, tasks, ahead):
            tops.append(top)
            worker_rss = max(worker_rss, rss)
        nodes = tops
        for level in range(height + 1, levels + 1):
            nodes = [_parent(nodes[2 * i], nodes[2 * i + 1], f"level {level} node {i}")
                     for i in range(len(nodes) // 2)]
            for node, blinds in zip(nodes, rows[level], strict=True):
                if node[3] != blinds:
                    raise VerificationError(f"level {level}: blindings do not add up")
            os.pwrite(fd, b"".join(_encode(*node[:4]) for node in nodes),
                      layout.offset(level, 0))
    finally:
        os.close(fd)
    top = nodes[0]
    root = PrivateRoot(round_id, private, n,
                       root_hash(round_id, private, n, top[0], top[1], top[2], top[3],
                                 hidden_levels),
                       top[2], top[3], hidden_levels)
    written.append(out_dir / TREE_FILE)
    os.replace(tmp, out_dir / TREE_FILE)
    written.append(out_dir / ROOT_FILE)
    (out_dir / ROOT_FILE).write_bytes(root.to_bytes())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if workers <= 1:
        worker_rss = peak
    return root, BuildStats(users, n, n >> height, peak, worker_rss)
