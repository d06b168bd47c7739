"""Read one user's inclusion proof from a built round (spec §8.2), in O(log N) reads.

Leaves are sorted by commitment, so the commitment derived from the user id and the round
secret is the index: a binary search finds the leaf, and one read per level the path. No
index of users is held in memory at any size. :func:`prove_all` writes every user's proof,
streaming, in worker processes.
"""

from __future__ import annotations

import binascii
import bisect
import contextlib
import errno
import gzip
import hashlib
import itertools
import json
import mmap
import os
import re
import shutil
import signal
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from por.errors import InputError, PorError
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import (
    AMOUNT_SIZE,
    HASH_SIZE,
    TAG_SALT,
    TAG_USER,
    Position,
    decode_amounts,
    decode_positions,
    derive_salt,
    encode_str,
    leaf_hash,
    node_hash,
    root_hash,
    user_commitment,
)
from verifier.liabilities.proof import (
    InclusionProof,
    MarginInclusionProof,
    MarginPathStep,
    PathStep,
    verify_proof,
)
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import RISK_FILE, root_path, tree_path
from verifier.liabilities.summary import RootSummary
from verifier.liabilities.treefile import TreeFile

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported where the snapshot is read: `por serve` imports this module for
# served_proof_text and has no use for it.


class Prover:
    """Proofs of one round, read from its tree file."""

    def __init__(self, out_dir: str | Path, secret: bytes) -> None:
        """Open the round built in ``out_dir``.

        Raises:
            InputError: the directory holds no tree or no root summary.
        """
        out = Path(out_dir)
        try:
            self.summary = RootSummary.from_json(root_path(out).read_bytes())
        except OSError as e:
            raise InputError(f"{out}: no root.json; build the round first") from e
        self.tree = TreeFile(tree_path(out))
        self.secret = secret
        self._root = self.tree.root_hash()

    def close(self) -> None:
        """Release the tree file."""
        self.tree.close()

    def prove(self, user_id: str, *, self_check: bool = True) -> InclusionProof:
        """The inclusion proof of ``user_id``; checked before it is returned.

        Raises:
            InputError: the user is not in this round.
            VerificationError: the proof does not verify against the published root (a
                corrupt tree file); nothing is handed out then.
        """
        lay = self.tree.layout
        salt = derive_salt(self.secret, lay.round_id, user_id)
        index = self.tree.find(user_commitment(lay.round_id, user_id, salt))
        if index is None:
            raise InputError(f"user {user_id!r} is not in round {lay.round_id}")
        _, amounts = self.tree.record(0, index)
        _, top_sums = self.tree.top()
        proof = InclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            user_id=user_id,
            salt=salt,
            amounts=tuple(decode_amounts(amounts)),
            path=self.tree.path(index),
            root_hash=self._root,
            root_sums=tuple(decode_amounts(top_sums)),
            leaf_count=lay.leaf_count,
        )
        if self_check:
            verify_proof(proof, summary=self.summary)
        return proof


# ---------------------------------------------------------------------------- every user

PROVE_BATCH = 2048  # users per task: bounds the proofs a task holds before handing them on
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def proof_file_name(user_id: str) -> str:
    """The file of a user's proof in a proofs directory.

    The user id itself when it is a safe file name (1-128 of ``A-Z a-z 0-9 . _ -``, not
    starting with a dot), else ``_`` and the SHA-256 of its UTF-8 bytes in hex, so any id
    (spaces, slashes, 128 bytes of UTF-8) maps to one file, the same on every system.
    """
    if _SAFE_NAME.fullmatch(user_id):
        return f"{user_id}.json"
    return f"_{hashlib.sha256(user_id.encode()).hexdigest()}.json"


# ------------------------------------------------------------------- proof text in bulk

_TOKEN = re.compile(r'"\\u0000([a-z0-9_]+)\\u0000"')
_FIELD = {"equity": 0, "debt": 1, "collateral": 2}  # spec §15.2: the byte order of a position
_PLAIN_ID = re.compile(rb"[ !#-\[\]-~]+")  # printable ASCII but '"' and '\\': JSON as is
STYLES = ("line", "file")  # one JSON line (prove-all's .jsonl), or `por liabilities prove`'s file
SERVED_CACHE_LEVELS = 12  # served proofs: levels whose checked text is kept (top of the tree)
SERVED_CACHE = 1 << 12  # nodes kept (about 2.5 KiB each at 4 assets)


def _mark(name: str) -> str:
    return f"\x00{name}\x00"  # rendered "\u0000name\u0000": no real value holds a NUL


def _marked_values(values: list[Any], prefix: str) -> list[Any]:
    """A proof's amounts (or positions) with each figure replaced by a sentinel naming its
    place among the record's u128 values (spec §8.3; §15.2 for positions)."""
    out: list[Any] = []
    for a, item in enumerate(values):
        if isinstance(item, dict):
            out.append({key: _mark(f"{prefix}{3 * a + _FIELD[key]}") for key in item})
        else:
            out.append(_mark(f"{prefix}{a}"))
    return out


FormatRecords = Callable[[Any, int, bool, int, tuple[bytes, ...]], list[bytes]]


def format_records(records: Any, width: int, hexed: bool, first: int,
                   pieces: tuple[bytes, ...]) -> list[bytes]:
    """One text per ``width``-byte record of ``records`` (a hash, then m big-endian u128
    values: spec §8.3; §15.10 for a margin round's positions): ``pieces[(first + i) & 1]``,
    with ``hexed`` the hash in lower-case hex, then per value ``pieces[2 + j]`` and its
    decimal digits, then ``pieces[2 + m]``.

    The pure-Python twin of ``por._fasthash.format_records`` (C), which makes the same bytes
    (tests/scale/test_proof_text_native.py): numpy splits the u128s into 64-bit limbs, and
    only values past 2^64 (wei sums) become ints from two limbs.
    """
    m = (width - HASH_SIZE) // AMOUNT_SIZE
    if width < HASH_SIZE or (width - HASH_SIZE) % AMOUNT_SIZE or len(records) % width or (
            len(pieces) != m + 3):
        raise ValueError("format_records: not whole records, or not m + 3 pieces")
    n = len(records) // width
    if n == 0:
        return []
    raw = np.frombuffer(records, np.uint8).reshape(n, width)
    limbs = np.ascontiguousarray(raw[:, HASH_SIZE:]).view(">u8").reshape(n, m, 2)
    low = limbs[:, :, 1].astype(np.uint64)
    cols: list[list[int]] = low.T.tolist()  # one list per value: zip makes the tuples
    high = limbs[:, :, 0].astype(np.uint64)
    rows = np.flatnonzero(high.any(axis=1))  # values past 2^64 (wei)
    if len(rows):
        where = rows.tolist()
        for col, his, los in zip(cols, high[rows].T.tolist(), low[rows].T.tolist(),
                                 strict=True):
            for r, h, lo in zip(where, his, los, strict=True):
                col[r] = (h << 64) | lo

    def esc(piece: bytes) -> bytes:
        return piece.replace(b"%", b"%%")

    rest = b"".join(esc(p) + b"%d" for p in pieces[2:2 + m]) + esc(pieces[2 + m])
    texts: list[bytes] = [b""] * n
    if hexed:
        hexes = binascii.hexlify(raw[:, :HASH_SIZE].tobytes())
        hx = [hexes[i:i + 64] for i in range(0, 64 * n, 64)]
        for parity in (0, 1):
            fmt = esc(pieces[(first + parity) & 1]) + b"%s" + rest
            texts[parity::2] = [fmt % t for t in zip(hx[parity::2],
                                                     *[c[parity::2] for c in cols],
                                                     strict=True)]
    else:
        for parity in (0, 1):
            fmt = esc(pieces[(first + parity) & 1]) + rest
            texts[parity::2] = [fmt % t for t in zip(*[c[parity::2] for c in cols],
                                                     strict=True)]
    return texts


def native_format_records() -> FormatRecords:
    """``por._fasthash.format_records`` when it is built and agrees with
    :func:`format_records` on a known answer (u128 extremes, both parities, a ``%`` in a
    piece), else the pure-Python twin.

    Raises:
        PorError: the C formatter is built but makes other bytes (a miscompiled extension):
            nothing is written then.
    """
    from por.liabilities.buckets import native

    fast = getattr(native, "format_records", None)
    if fast is None:
        return format_records
    width = HASH_SIZE + 4 * AMOUNT_SIZE
    values = (0, 2**128 - 1, 2**64 - 1, 2**64, 10**19, 10**38, 9, 1234567890123456789012)
    records = b"".join(bytes([i] * HASH_SIZE) + values[i].to_bytes(AMOUNT_SIZE, "big")
                       + values[-1 - i].to_bytes(AMOUNT_SIZE, "big")
                       + values[(i + 3) % 8].to_bytes(AMOUNT_SIZE, "big")
                       + (i * 255).to_bytes(AMOUNT_SIZE, "big") for i in range(8))
    pieces = (b'"left"', b"%r", b'"a', b'","', b"\n", b"", b'"}')
    for hexed in (True, False):
        for first in (0, 3):
            if fast(records, width, hexed, first, pieces) != format_records(
                    records, width, hexed, first, pieces):
                raise PorError("the C accelerator por._fasthash formats proof text otherwise"
                               " than the pure-Python path; refusing to write proofs"
                               " (reinstall, or remove the extension)")
    return fast  # type: ignore[no-any-return]


class ProofText:
    """The exact bytes of a round's proofs, made from the tree file's raw records without a
    Python object per proof: ``style="file"`` as ``por liabilities prove`` writes them
    (indented, trailing newline), ``style="line"`` as one line of prove-all's JSON lines.

    The fixed text comes from the reference serializer itself: a proof whose variable
    fields are sentinel strings is rendered by its ``to_dict`` and ``json.dumps`` and cut at
    the sentinels, so only the values are filled in here (hex of hashes, decimal u128s,
    the id as a JSON string). :func:`prove_all` compares one proof per shard with the
    reference prover and stops if they differ; the tests compare hundreds.
    """

    def __init__(self, tree: TreeFile, style: str, risk: RiskParams | None) -> None:
        """Cut the templates of ``tree``'s round.

        Raises:
            PorError: the reference serializer's text has an unexpected shape.
        """
        lay = tree.layout
        self._mm = tree_bytes(tree)
        self.layout = lay
        self._upper: dict[tuple[bytes, tuple[int, ...], int], tuple[bytes, bytes, bytes]] = {}
        self.record_size = lay.record_size
        self.values = len(lay.assets) * (3 if lay.is_margin else 1)
        self.levels = lay.levels
        self._level_offsets = [lay.level_offset(level) for level in range(lay.levels + 1)]
        d = _sample_proof(tree, risk).to_dict()
        leaf_key = "positions" if lay.is_margin else "amounts"
        d["user_id"], d["salt"] = _mark("uid"), _mark("salt")
        d[leaf_key] = _marked_values(d[leaf_key], "v")
        d["path"] = [{**step, "side": _mark(f"side{n}"), "hash": _mark(f"hash{n}"),
                      "sums": _marked_values(step["sums"], f"s{n}v")}
                     for n, step in enumerate(d["path"])]
        text = (json.dumps(d, separators=(",", ":")) if style == "line"
                else json.dumps(d, indent=2)) + "\n"
        parts = _TOKEN.split(text)
        lits, names = parts[0::2], parts[1::2]
        m = self.values
        expect = (["uid", "salt"] + [f"v{i}" for i in range(m)]
                  + [x for n in range(2) for x in
                     [f"side{n}", f"hash{n}"] + [f"s{n}v{i}" for i in range(m)]])
        if names != expect or lits[m + 3:2 * m + 4] != lits[2 * m + 5:3 * m + 6]:
            raise PorError("the proof serializer's text has an unexpected shape; refusing to"
                           " write proofs that could differ from `por liabilities prove`")

        def fmt(lit: str) -> bytes:
            return lit.replace("%", "%%").encode("ascii")

        head = fmt(lits[0]) + b"%s" + fmt(lits[1]) + b'"%s"' + fmt(lits[2])
        self.head = head + b"".join(b'"%d"' + fmt(lit) for lit in lits[3:3 + m])
        body = fmt(lits[m + 3]) + b'"%s"' + fmt(lits[m + 4])
        body += b"".join(b'"%d"' + fmt(lit) for lit in lits[m + 5:2 * m + 4]) + b'"%d"'
        self.body = (b'"left"' + body, b'"right"' + body)
        self.join = lits[2 * m + 4].encode("ascii")  # closes a step, opens the next
        self.tail = lits[-1].encode("ascii")
        # The same text as pieces around the values, for format_records (in C when built):
        # a step's side and hash, then its sums; a leaf's values after its salt.
        raw = [lit.encode("ascii") for lit in lits]
        self.head_start = fmt(lits[0]) + b"%s" + fmt(lits[1]) + b'"%s'
        self.step_pieces = (b'"left"' + raw[m + 3] + b'"', b'"right"' + raw[m + 3] + b'"',
                            *[b'"' + lit + b'"' for lit in raw[m + 4:2 * m + 4]], b'"')
        self.value_pieces = (b"", b"", *[b'"' + lit + b'"' for lit in raw[2:m + 2]],
                             b'"' + raw[m + 2])
        self._format = native_format_records()

    def nodes(self, level: int, start: int, stop: int) -> list[bytes]:
        """The path-step text of nodes ``start..stop-1`` of ``level`` (as a sibling: the side
        is "left" for an even index, spec §8.2)."""
        off = self._level_offsets[level] + self.record_size * start
        return self._format(self._mm[off:off + (stop - start) * self.record_size],
                            self.record_size, True, start, self.step_pieces)

    def leaf_values(self, start: int, stop: int) -> list[bytes]:
        """The text of leaves ``start..stop-1``'s amounts (or positions), from the salt's
        closing quote to the path: what follows ``head_start % (id, salt)`` in a proof."""
        off = self._level_offsets[0] + self.record_size * start
        return self._format(self._mm[off:off + (stop - start) * self.record_size],
                            self.record_size, False, start, self.value_pieces)

    def checked(self, summary: RootSummary, user_id: str, salt: bytes, leaf: int) -> bytes:
        """One spot proof, verified against ``summary`` on the raw records (see
        :func:`served_proof_text`).

        The upper levels are shared by every proof: the text of the steps from level ``cut``
        up, with the hash and sums at ``cut`` that were verified to lead to the published
        root, is kept for up to :data:`SERVED_CACHE` nodes. A later proof through the same
        node recomputes its path up to ``cut`` and must arrive at exactly those bytes; its
        text is the checked lower steps followed by the checked upper ones.

        Raises:
            VerificationError: the proof would not verify against ``summary``.
        """
        lay = self.layout
        if lay.is_margin or not 0 <= leaf < lay.leaf_count or (
                summary.round_id, summary.assets, summary.leaf_count) != (
                lay.round_id, lay.assets, lay.leaf_count):
            raise VerificationError("the proof's leaf or round is not the published round's")
        mm, size, offsets = self._mm, self.record_size, self._level_offsets
        commitment = user_commitment(lay.round_id, user_id, salt)
        at = lay.commitments_offset + HASH_SIZE * leaf
        if mm[at:at + HASH_SIZE] != commitment:
            raise VerificationError("the user's commitment is not the leaf's")
        at = offsets[0] + size * leaf
        mine = mm[at + HASH_SIZE:at + size]
        own = decode_amounts(mine)
        current, sums = leaf_hash(commitment, mine), own
        cut = max(0, lay.levels - SERVED_CACHE_LEVELS)
        key = (summary.root_hash, summary.totals, leaf >> cut)
        known = self._upper.get(key)
        steps: list[bytes] = []
        body, index, lanes = self.body, leaf, range(0, size - HASH_SIZE, AMOUNT_SIZE)
        for level in range(lay.levels if known is None else cut):
            if level == cut:
                at_cut = (current, mine)
                lower = len(steps)
            sibling = index ^ 1
            at = offsets[level] + size * sibling
            rec = mm[at:at + size]
            their_hash, theirs = rec[:HASH_SIZE], rec[HASH_SIZE:]
            their_sums = [int.from_bytes(theirs[i:i + AMOUNT_SIZE], "big") for i in lanes]
            if sibling < index:
                current = node_hash(their_hash, theirs, current, mine)
            else:
                current = node_hash(current, mine, their_hash, theirs)
            # Exact sums (spec §6), as add_sums and encode_amounts make them: a sum past
            # 2^128-1 does not fit in its 16 bytes and fails.
            sums = [a + b for a, b in zip(sums, their_sums, strict=True)]
            try:
                mine = b"".join([x.to_bytes(AMOUNT_SIZE, "big") for x in sums])
            except OverflowError as e:
                raise VerificationError(f"level {level + 1}: a sum overflows 2^128-1") from e
            steps.append(body[sibling & 1] % (binascii.hexlify(their_hash), *their_sums))
            index >>= 1
        if known is not None:
            if (current, mine) != known[:2]:
                raise VerificationError("the proof does not lead to the published root")
            if known[2]:
                steps.append(known[2])
        else:
            if (tuple(sums) != summary.totals
                    or root_hash(lay.round_id, lay.assets, lay.leaf_count, current, mine)
                    != summary.root_hash):
                raise VerificationError("the proof does not lead to the published root")
            if cut == lay.levels:
                at_cut, lower = (current, mine), len(steps)
            if len(self._upper) >= SERVED_CACHE:
                self._upper.pop(next(iter(self._upper)))
            self._upper[key] = (*at_cut, self.join.join(steps[lower:]))
        raw = user_id.encode("utf-8")
        uid = (b'"' + raw + b'"' if _PLAIN_ID.fullmatch(raw)
               else json.dumps(user_id).encode("ascii"))
        return (self.head % (uid, binascii.hexlify(salt), *own) + self.join.join(steps)
                + self.tail)

    def chunk(self, start: int, bits: int, users: list[tuple[int, bytes, bytes]]) -> list[bytes]:
        """The proofs of ``users`` (leaf index, id as JSON, salt as hex; in leaf order), all
        in the aligned range of ``2**bits`` leaves from ``start`` (1 <= ``bits`` <= levels).

        The steps above the range are the same for every user in it (one string); below,
        each node's text is made once and shared by the proofs that pass it.
        """
        size, levels, join = 1 << bits, self.levels, self.join
        bodies = [self.nodes(level, start >> level, (start + size) >> level)
                  for level in range(bits)]
        vals0 = self.leaf_values(start, start + size)
        upper = [self.nodes(level, (start >> level) ^ 1, ((start >> level) ^ 1) + 1)[0]
                 for level in range(bits, levels)]
        above: bytes | list[bytes] | None = join.join(upper) if upper else None
        for level in range(bits - 1, 0, -1):
            b = bodies[level]
            if above is None:
                above = [b[j ^ 1] for j in range(size >> level)]
            elif isinstance(above, bytes):
                rest = join + above
                above = [b[j ^ 1] + rest for j in range(size >> level)]
            else:
                up = above
                above = [b"".join((b[j ^ 1], join, up[j >> 1])) for j in range(size >> level)]
        head, tail, out = self.head_start, self.tail, []
        b0 = bodies[0]
        if above is None:
            return [b"".join((head % (uid, salt), vals0[leaf - start], b0[(leaf - start) ^ 1],
                              tail)) for leaf, uid, salt in users]
        if isinstance(above, bytes):
            rest = join + above + tail
            return [b"".join((head % (uid, salt), vals0[leaf - start], b0[(leaf - start) ^ 1],
                              rest)) for leaf, uid, salt in users]
        for leaf, uid, salt in users:
            i = leaf - start
            out.append(b"".join((head % (uid, salt), vals0[i], b0[i ^ 1], join, above[i >> 1],
                                 tail)))
        return out


def served_proof_text(tree: TreeFile, summary: RootSummary, user_id: str, salt: bytes,
                      leaf: int) -> bytes:
    """``Prover.prove(user_id).to_json()``'s exact bytes for a user whose salt and leaf are
    known (what a proof token opens), checked as :func:`verifier.liabilities.proof.
    verify_proof` checks it against ``summary`` before anything is returned.

    The check runs on the tree's raw records: the user's commitment must be the leaf's, each
    level's hash is recomputed from both children's hashes and sums (spec §6), the sums are
    added exactly (an overflow fails), and the root (spec §7) and the totals must be the
    published ones. The text is made from the same bytes that were checked.

    Raises:
        VerificationError: any of those differs (a corrupt or replaced file): nothing is
            handed out then.
    """
    if tree.layout.levels == 0:  # one leaf: an empty path, rendered by the reference path
        lay = tree.layout
        _, amounts = tree.record(0, leaf)
        proof = InclusionProof(
            round_id=lay.round_id, assets=lay.assets, user_id=user_id, salt=salt,
            amounts=tuple(decode_amounts(amounts)), path=(), root_hash=summary.root_hash,
            root_sums=tuple(decode_amounts(tree.top()[1])), leaf_count=lay.leaf_count)
        if not 0 <= leaf < lay.leaf_count or tree.commitment(leaf) != user_commitment(
                lay.round_id, user_id, salt):
            raise VerificationError("the user's commitment is not the leaf's")
        verify_proof(proof, summary=summary)
        return proof.to_json().encode()
    maker = _SERVED.get(tree)
    if maker is None:
        maker = _SERVED[tree] = ProofText(tree, "file", None)
    return maker.checked(summary, user_id, salt, leaf)


_SERVED: weakref.WeakKeyDictionary[TreeFile, ProofText] = weakref.WeakKeyDictionary()


def _sample_proof(tree: TreeFile, risk: RiskParams | None) -> InclusionProof | MarginInclusionProof:
    """A proof of the round's shape with a two-step path (the values do not matter)."""
    lay = tree.layout
    k = len(lay.assets)
    _, top = tree.top()
    if risk is None:
        return InclusionProof(
            round_id=lay.round_id, assets=lay.assets, user_id="x", salt=bytes(32),
            amounts=(0,) * k, path=(PathStep(side="left", hash=bytes(32), sums=(0,) * k),) * 2,
            root_hash=tree.root_hash(), root_sums=tuple(decode_amounts(top)),
            leaf_count=lay.leaf_count)
    zero = (Position(0, 0, 0),) * k
    return MarginInclusionProof(
        round_id=lay.round_id, assets=lay.assets, risk=risk, user_id="x", salt=bytes(32),
        positions=zero, path=(MarginPathStep(side="left", hash=bytes(32), sums=zero),) * 2,
        root_hash=tree.root_hash(), root_sums=tuple(decode_positions(top)),
        leaf_count=lay.leaf_count)


def tree_bytes(tree: TreeFile) -> mmap.mmap:
    """A read-only mapping of ``tree``'s file of its own (numpy views of it stay valid)."""
    with open(tree.file_path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


@dataclass
class _Round:
    """A round opened for proving: its tree, its risk parameters if a margin round, and its
    root, which must be the one root.json publishes."""

    tree: TreeFile
    risk: RiskParams | None
    texts: dict[str, ProofText] = field(default_factory=dict)
    reference: Prover | None = None
    _commitments: np.ndarray | None = None  # its mapping is released with the array

    @classmethod
    def open(cls, round_dir: Path) -> _Round:
        """Open the round built in ``round_dir``.

        Raises:
            InputError: a file is missing or unusable, or the tree does not lead to the
                published root.
        """
        from por.liabilities.margin import is_margin_round
        from verifier.liabilities.margin_round import MarginRootSummary

        margin = is_margin_round(round_dir)
        try:
            raw = root_path(round_dir).read_bytes()
            published = (MarginRootSummary.from_json(raw).root_hash if margin
                         else RootSummary.from_json(raw).root_hash)
            risk = (RiskParams.from_json((round_dir / RISK_FILE).read_bytes(),
                                         str(round_dir / RISK_FILE)) if margin else None)
        except OSError as e:
            raise InputError(f"{round_dir}: cannot read the round: {e.strerror}; build the"
                             " round first") from e
        except FormatError as e:
            raise InputError(f"{round_dir}: {e}") from e
        tree = TreeFile(tree_path(round_dir))
        if (risk is not None and tree.layout.risk_hash != risk.hash) or (
                risk is None and tree.layout.is_margin) or tree.root_hash() != published:
            tree.close()
            raise InputError(f"{round_dir}: tree.bin does not lead to the root root.json"
                             " publishes (or risk.json is not the file it binds)")
        return cls(tree, risk)

    def commitments(self) -> np.ndarray:
        """The commitments section as an array of 32-byte strings (a view of the file)."""
        if self._commitments is None:
            lay = self.tree.layout
            self._commitments = np.frombuffer(tree_bytes(self.tree), "S32", lay.leaf_count,
                                              lay.commitments_offset)
        return self._commitments

    def text(self, style: str) -> ProofText:
        """The proof text maker of ``style`` (made once per process)."""
        if style not in self.texts:
            self.texts[style] = ProofText(self.tree, style, self.risk)
        return self.texts[style]

    def reference_text(self, round_dir: Path, secret: bytes, user_id: str, style: str) -> bytes:
        """``por liabilities prove``'s text of one user, by the reference path."""
        if self.risk is not None:
            from por.liabilities.margin import prove_from_round

            proof: InclusionProof | MarginInclusionProof = prove_from_round(
                round_dir, secret, user_id)
        else:
            if self.reference is None:
                self.reference = Prover(round_dir, secret)
            proof = self.reference.prove(user_id)
        if style == "line":
            return (json.dumps(proof.to_dict(), separators=(",", ":")) + "\n").encode()
        return proof.to_json().encode()

    def close(self) -> None:
        """Release the files."""
        self.tree.close()
        if self.reference is not None:
            self.reference.close()


_ROUNDS: dict[str, _Round] = {}  # per process: a worker opens a round once


def _round(round_dir: str) -> _Round:
    found = _ROUNDS.get(round_dir)
    if found is None:
        found = _ROUNDS[round_dir] = _Round.open(Path(round_dir))
    return found


def _close_provers() -> None:
    for opened in _ROUNDS.values():
        opened.close()
    _ROUNDS.clear()


# Spilled users, one file per shard (an aligned range of leaves), appended frame by frame:
# u64 count, u64 bytes of ids, count i64 leaf indexes, count+1 i64 offsets, the ids' UTF-8.
_FRAME_HEAD = 16


def _id_buffers(ids: pa.Array) -> tuple[np.ndarray, bytes]:
    """int64 offsets (from zero) and UTF-8 bytes of a string array."""
    import pyarrow as pa

    wide = pa.types.is_large_string(ids.type)
    offsets = np.frombuffer(ids.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[ids.offset:ids.offset + len(ids) + 1].astype(np.int64)
    base = int(offsets[0]) if len(offsets) else 0
    data = (memoryview(ids.buffers()[2])[base:int(offsets[-1])].tobytes()
            if len(ids) else b"")
    return offsets - base, data


class _Spill:
    """Users bound for each shard, buffered and appended to the shard's file."""

    def __init__(self, folder: Path, shift: int, limit: int = 64 << 20) -> None:
        self.folder, self.shift, self.limit = folder, shift, limit
        self.frames: dict[int, list[bytes]] = {}
        self.buffered = 0
        self.counts: dict[int, int] = {}

    def add(self, leaves: np.ndarray, ids: pa.Array) -> None:
        import pyarrow as pa

        order = np.argsort(leaves, kind="stable")
        leaves = leaves[order]
        offsets, data = _id_buffers(ids.take(pa.array(order)))
        shards = leaves >> self.shift
        cuts = np.flatnonzero(np.diff(shards)) + 1
        for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(leaves)].tolist(),
                          strict=True):
            shard = int(shards[lo])
            o = offsets[lo:hi + 1]
            part = data[int(o[0]):int(o[-1])]
            frame = (np.array([hi - lo, len(part)], np.int64).tobytes()
                     + leaves[lo:hi].astype(np.int64).tobytes() + (o - o[0]).tobytes() + part)
            self.frames.setdefault(shard, []).append(frame)
            self.counts[shard] = self.counts.get(shard, 0) + hi - lo
            self.buffered += len(frame)
        if self.buffered > self.limit:
            self.flush()

    def path(self, shard: int) -> Path:
        return self.folder / f"spill-{shard:07d}"

    def flush(self) -> None:
        for shard, frames in self.frames.items():
            with open(self.path(shard), "ab") as fh:
                fh.write(b"".join(frames))
        self.frames.clear()
        self.buffered = 0


def _read_spill(path: Path) -> tuple[np.ndarray, list[bytes]]:
    """A shard's users: leaf indexes and ids (UTF-8), in leaf order."""
    raw = path.read_bytes()
    leaves, ids, pos = [], [], 0
    while pos < len(raw):
        n, size = np.frombuffer(raw, np.int64, 2, pos).tolist()
        pos += _FRAME_HEAD
        leaves.append(np.frombuffer(raw, np.int64, n, pos))
        pos += 8 * n
        offsets = np.frombuffer(raw, np.int64, n + 1, pos).tolist()
        pos += 8 * (n + 1)
        data = raw[pos:pos + size]
        ids += [data[a:b] for a, b in itertools.pairwise(offsets)]
        pos += size
    idx = np.concatenate(leaves) if leaves else np.zeros(0, np.int64)
    order = np.argsort(idx, kind="stable")
    return idx[order], [ids[i] for i in order.tolist()]


CHUNK_BITS = 12  # leaves whose lower path steps are made together (bounds a worker's memory)
SHARD_BITS = 16  # leaves per shard: one spill file, one task, one output part
# prove-all --compress: one compressed file per shard, at the fastest level (the proofs'
# shared upper steps and field names compress well even so). gzip: stdlib zlib, which any
# gunzip reads, mtime 0 so the same proofs give the same bytes; zstd: the libzstd pyarrow
# already bundles (no new dependency), about 6x faster than zlib here and 1.7x smaller.
COMPRESSIONS = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}
LEVEL = 1


def shard_file_name(shard: int, compress: str) -> str:
    """The name of shard ``shard``'s file under ``prove-all --compress``: its users' proof
    lines, leaves ``shard * 2**16`` up to the next shard's, in leaf order."""
    return f"part-{shard:07d}{COMPRESSIONS[compress]}"


class _ZstdFrames:
    """A file of zstd frames, one per write (pyarrow's libzstd): the frames of one file read
    as one stream (``zstd -d``, ``zstdcat``, pyarrow's ``CompressedInputStream``)."""

    def __init__(self, path: str | Path) -> None:
        import pyarrow as pa

        self._codec = pa.Codec("zstd", compression_level=LEVEL)
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, data: bytes) -> None:
        if data:
            self._fh.write(self._codec.compress(data, asbytes=True))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> _ZstdFrames:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _open_part(path: str | Path, compress: str | None) -> Any:
    """A shard's output, plain or compressed (a context manager to write bytes to)."""
    if compress is None:
        return open(path, "wb")
    if compress == "zstd":
        return _ZstdFrames(path)
    return gzip.GzipFile(path, "wb", LEVEL, mtime=0)


def _prove_shard(round_dir: str, secret: bytes, style: str, spill: str, out: str,
                 compress: str | None = None) -> int:
    """Write the proofs of one shard's users, in leaf order: one JSON-lines file ``out``
    (style "line"; gzip-compressed with ``compress``), or one file each into the directory
    ``out`` (style "file")."""
    opened = _round(round_dir)
    maker = opened.text(style)
    lay = opened.tree.layout
    leaves, ids = _read_spill(Path(spill))
    if not len(ids):
        return 0
    from por.liabilities.buckets import hmac_sha256_keyed

    # derive_salt (spec §4) with the HMAC key schedule done once per shard; the shard's
    # first proof is compared with the reference's below, salt included.
    inner, outer = hmac_sha256_keyed(secret, TAG_SALT + encode_str(lay.round_id.encode()))
    bits = min(CHUNK_BITS, lay.levels)
    users = []
    for leaf, raw in zip(leaves.tolist(), ids, strict=True):
        h = inner.copy()
        h.update(len(raw).to_bytes(2, "big") + raw)
        o = outer.copy()
        o.update(h.digest())
        salt = o.digest()
        uid = (b'"' + raw + b'"' if _PLAIN_ID.fullmatch(raw)
               else json.dumps(raw.decode("utf-8")).encode("ascii"))
        users.append((leaf, uid, binascii.hexlify(salt)))
    # The first proof of every shard is compared with the reference prover's bytes: a
    # template out of step with the serializer stops the run before anything is published.
    first = ids[0].decode("utf-8")
    want = opened.reference_text(Path(round_dir), secret, first, style)
    one = maker.chunk(users[0][0] >> bits << bits, bits, users[:1])[0]
    if one != want:
        raise PorError(f"the bulk proof text of user {first!r} differs from `por liabilities"
                       " prove`'s; nothing was written (please report this)")
    starts = (leaves >> bits).tolist()
    lo = 0
    fh = _open_part(out, compress) if style == "line" else None
    try:
        while lo < len(users):
            hi = bisect.bisect_right(starts, starts[lo], lo)
            texts = maker.chunk(starts[lo] << bits, bits, users[lo:hi])
            if fh is not None:
                fh.write(b"".join(texts))
            else:
                for raw, text in zip(ids[lo:hi], texts, strict=True):
                    # "x": two ids that map to one file name stop the run (spec §8.2's
                    # names are unique, but a chosen id could collide with a hashed one).
                    name = proof_file_name(raw.decode("utf-8"))
                    try:
                        with open(Path(out) / name, "xb") as f:
                            f.write(text)
                    except FileExistsError as e:
                        raise InputError(f"two users' proofs map to the file name {name} (an"
                                         " id chosen as '_' and the SHA-256 of another's);"
                                         " write JSON lines instead") from e
            lo = hi
    finally:
        if fh is not None:
            fh.close()
    return len(users)


def _snapshot_ids(snapshot: Path, tree: TreeFile) -> Iterator[pa.Array]:
    """The user ids of the snapshot, batch by batch, each batch's ids once (a user whose
    rows lie in several batches comes again in each)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if tree.layout.is_margin:
        # A margin snapshot (spec §15.11) is CSV whose first column is user_id: only that
        # column is read. An id read otherwise than the builder read it is not in the
        # tree, and stops the run.
        try:
            reader = pacsv.open_csv(
                snapshot, read_options=pacsv.ReadOptions(block_size=16 << 20),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    include_columns=["user_id"], column_types={"user_id": pa.string()},
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
            for batch in reader:
                yield pc.unique(batch.column(0))
        except OSError as e:
            raise InputError(f"{snapshot}: cannot read: {e}") from e
        except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as e:
            raise InputError(f"{snapshot}: not a margin snapshot with a user_id column: {e}"
                             ) from e
        return
    from por.liabilities.snapshot import check_snapshot_file, open_snapshot

    check_snapshot_file(snapshot)
    for batch in open_snapshot(snapshot, tree.layout.assets).batches():
        yield pc.unique(batch.column("user_id"))


def _leaves_of(round_dir: str, secret: bytes, offsets: bytes, data: bytes) -> bytes:
    """The leaf of each id ``data[offsets[i]:offsets[i+1]]`` (int64; -1: not in the round):
    its commitment (spec §4, in C when built) looked up in the sorted commitments section."""
    from por.liabilities import buckets

    opened = _round(round_dir)
    lay = opened.tree.layout
    rid = encode_str(lay.round_id.encode())
    wanted = np.frombuffer(buckets.user_commitments(
        secret, TAG_SALT + rid, TAG_USER + rid, data, offsets), "S32")
    commitments = opened.commitments()
    # Leaves are sorted by commitment (spec §5); "S32" compares the 32 bytes as memcmp
    # does, at one fixed width. Sorted queries make the binary searches walk forward.
    order = np.argsort(wanted, kind="stable")
    at = np.empty(len(wanted), np.int64)
    at[order] = np.searchsorted(commitments, wanted[order])
    found = at < lay.leaf_count
    found[found] = commitments[at[found]] == wanted[found]
    at[~found] = -1
    return at.tobytes()


def _locate(snapshot: Path, round_dir: Path, tree: TreeFile, secret: bytes, spill: _Spill,
            executor: Executor, workers: int) -> int:
    """Pass 1: each user's leaf, found by the workers (:func:`_leaves_of`); each user spilled
    once, to their shard. Returns the number of users.

    Raises:
        InputError: a user of the snapshot is not in the round.
    """
    import pyarrow as pa

    from por.liabilities import buckets

    buckets.check_native()
    lay = tree.layout
    done = np.zeros((lay.leaf_count + 7) // 8, np.uint8)  # one bit per leaf already spilled
    users = 0
    in_flight: deque[tuple[Future[bytes], pa.Array]] = deque()

    def settle(fut: Future[bytes], ids: pa.Array) -> None:
        nonlocal users
        at = np.frombuffer(fut.result(), np.int64)
        if (at < 0).any():
            stranger = ids[int(np.flatnonzero(at < 0)[0])].as_py()
            raise InputError(f"user {stranger!r} is not in round {lay.round_id}")
        byte, bit = at >> 3, (at & 7).astype(np.uint8)
        fresh = (done[byte] >> bit) & 1 == 0  # ids are unique within a batch
        np.bitwise_or.at(done, byte, (np.uint8(1) << bit).astype(np.uint8))
        if fresh.all():
            spill.add(at, ids)
        elif fresh.any():
            spill.add(at[fresh], ids.filter(pa.array(fresh)))
        users += int(fresh.sum())

    try:
        for ids in _snapshot_ids(snapshot, tree):
            if not len(ids):
                continue
            offsets, data = _id_buffers(ids)
            in_flight.append((executor.submit(_leaves_of, str(round_dir), secret,
                                              offsets.tobytes(), data), ids))
            while len(in_flight) > 2 * workers or (in_flight and in_flight[0][0].done()):
                settle(*in_flight.popleft())
        while in_flight:
            settle(*in_flight.popleft())
    finally:
        for fut, _ in in_flight:
            fut.cancel()
    spill.flush()
    return users


@dataclass(frozen=True)
class ProveAllResult:
    """What :func:`prove_all` wrote."""

    users: int
    seconds: float


def prove_all(round_dir: str | Path, secret: bytes, snapshot: str | Path, out: str | Path,
              *, workers: int | None = None, progress: Callable[[int], Any] | None = None,
              force: bool = False, compress: str | None = None) -> ProveAllResult:
    """Write every user's proof: one JSON line each to ``out`` (``.jsonl``), or one file each
    into the directory ``out`` (named by :func:`proof_file_name`); each proof's bytes are
    exactly ``por liabilities prove``'s (a line: the same JSON without spaces). Spot and
    margin rounds (spec §15.7) alike. With ``compress`` ("gzip" or "zstd"), ``out`` is a
    directory of one compressed file per shard (:func:`shard_file_name`): decompressed and
    concatenated in name order, they are the ``.jsonl`` file's bytes.

    The user ids come from the snapshot the round was built from (the tree holds only
    commitments). Pass 1 reads it in batches, derives each user's commitment (C, or
    hashlib), finds the leaf by binary search in the tree's commitments section, drops a
    user already seen (one bit per leaf: 16 MiB at 2^27 leaves), and spills (leaf, id) to
    the user's shard, an aligned range of 2^16 leaves. Pass 2 hands the shards to worker
    processes; each sorts its users by leaf, reads the shard's records level by level in
    bulk, makes each node's text once and writes the proofs in leaf order. JSON lines are
    concatenated in shard order, so the file is the same for the same round and snapshot.
    Memory stays bounded: one batch, 64 MiB of spill buffers and, per worker, one shard's
    users and 4096 leaves' proofs.

    Everything is written under a temporary name beside ``out`` (a private directory, mode
    0700) and renamed into place at the end; on failure, SIGINT or SIGTERM it is removed
    and the workers are stopped, so ``out`` is either complete or untouched.

    Raises:
        InputError: a user of the snapshot is not in the round (another snapshot or secret),
            the snapshot or round cannot be read, or ``out`` exists (a file, or a non-empty
            directory) and ``force`` is not set.
        PorError: the proofs cannot be written (full disk); nothing is left behind.
    """
    import time
    import uuid

    from por.liabilities.build import (
        local_executor,
        make_parents,
        remove_empty_dirs,
        remove_stale,
        stop_on_signals,
        stopping,
        write_error,
    )
    from por.liabilities.snapshot import estimate_rows

    t0 = time.perf_counter()
    out_path, snapshot, round_path = Path(out), Path(snapshot), Path(round_dir)
    jsonl = str(out).endswith(".jsonl")
    if compress is not None and (compress not in COMPRESSIONS or jsonl):
        raise InputError(f"--compress {compress}: expected one of {', '.join(COMPRESSIONS)},"
                         " with a directory as --out (one compressed file per shard)")
    style = "line" if jsonl or compress else "file"
    if out_path.exists() and not force and (jsonl or not out_path.is_dir()
                                            or any(out_path.iterdir())):
        raise InputError(f"{out_path}: already exists; pass --force to replace it")
    if out_path.exists() and jsonl == out_path.is_dir():
        raise InputError(f"{out_path}: exists and is a "
                         f"{'directory' if jsonl else 'file'}; expected a "
                         f"{'.jsonl file' if jsonl else 'directory'}")
    opened = _Round.open(round_path)
    lay = opened.tree.layout
    opened.close()
    if not snapshot.is_file():
        raise InputError(f"{snapshot}: cannot read: no such file")
    n_workers = max(1, workers or os.cpu_count() or 1)
    shift = min(SHARD_BITS, lay.levels)
    in_flight: deque[tuple[Future[int], Path]] = deque()
    written = 0

    with stop_on_signals(), contextlib.ExitStack() as stack:
        try:
            created = make_parents(out_path.parent)
            stack.callback(remove_empty_dirs, created)
            remove_stale(out_path.parent, f".{out_path.name}.partial-")
            staging = (out_path.parent
                       / f".{out_path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            staging.mkdir(mode=0o700)
            stack.callback(shutil.rmtree, staging, True)
            tmp_out = staging / out_path.name
            if not jsonl:
                tmp_out.mkdir(mode=0o700)
            # The file of each shard's lines: a part appended to the .jsonl, or (compressed)
            # a file of the output directory.
            def parts(shard: int) -> Path:
                if compress:
                    return tmp_out / shard_file_name(shard, compress)
                return staging / f"part-{shard:07d}.jsonl" if jsonl else tmp_out

            stack.callback(_close_provers)
            executor = stack.enter_context(stopping(local_executor(
                n_workers, estimate_rows(snapshot))))
            spill = _Spill(staging, shift)
            if lay.levels == 0:  # one leaf: no path to share; the reference prover's text
                written = _prove_one_leaf(round_path, secret, snapshot,
                                          parts(0) if compress else tmp_out, style, compress)
            else:
                _locate(snapshot, round_path, opened.tree, secret, spill, executor, n_workers)
            fh = stack.enter_context(open(tmp_out, "wb")) if jsonl and lay.levels else None
            for shard in sorted(spill.counts):
                part = parts(shard)
                in_flight.append((executor.submit(
                    _prove_shard, str(round_path), secret, style, str(spill.path(shard)),
                    str(part), compress), part))
            while in_flight:
                fut, part = in_flight.popleft()
                count = fut.result()
                written += count
                if fh is not None:
                    _append(fh, part)
                if progress:
                    progress(count)
            if fh is not None:
                fh.close()
            _ignore_stop_signals()  # from here the output is complete: a signal cannot undo it
            _replace(tmp_out, out_path, staging)
            created.clear()
        except OSError as e:
            raise write_error(e, out_path) from e
        finally:
            for fut, _ in in_flight:
                fut.cancel()
    return ProveAllResult(written, time.perf_counter() - t0)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ignore_stop_signals() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP (main thread only): called once the output is
    complete, so that a signal arriving while it is renamed into place cannot report a
    failure for proofs that were written (stop_on_signals restores the handlers after)."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def _append(fh: Any, part: Path) -> None:
    """Append the file ``part`` to ``fh`` in the kernel (copy_file_range), then remove it."""
    fh.flush()
    with open(part, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        done = 0
        try:
            while done < size:
                step = os.copy_file_range(src.fileno(), fh.fileno(), size - done)
                if step == 0:
                    break
                done += step
        except OSError:
            src.seek(done)
            shutil.copyfileobj(src, fh, 1 << 20)
            fh.flush()
            done = size
        if done != size:
            raise OSError(errno.EIO, "short copy", str(part))
    part.unlink()


def _prove_one_leaf(round_dir: Path, secret: bytes, snapshot: Path, out: Path,
                    style: str, compress: str | None = None) -> int:
    """A round of one leaf (an empty path): its user's proof by the reference prover."""
    opened = _round(str(round_dir))
    users: list[str] = []
    for ids in _snapshot_ids(snapshot, opened.tree):
        users += [u for u in ids.to_pylist() if u not in users]
    texts = [opened.reference_text(round_dir, secret, u, style) for u in users]
    if style == "line":
        with _open_part(out, compress) as fh:
            fh.write(b"".join(texts))
    else:
        for u, text in zip(users, texts, strict=True):
            (out / proof_file_name(u)).write_bytes(text)
    return len(users)


def _replace(new: Path, out: Path, staging: Path) -> None:
    """Move ``new`` to ``out``; an existing ``out`` (allowed by --force, or an empty
    directory) is moved aside into ``staging`` first and removed with it."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            os.rename(out, staging / f"{out.name}.old")
    if new.is_dir():
        new.chmod(0o777 & ~_umask())  # as mkdir would have made it
    os.rename(new, out)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
