"""Build a margin round (scheme ``por-mst-margin``, spec §15) and its users' proofs.

Every user's rule is checked before anything is hashed: an account under water is refused
with its id and both sides of the inequality, never netted. Every byte hashed comes from
:mod:`verifier.liabilities.mst`; the rule from :mod:`verifier.liabilities.risk`.

Two builders make the same bytes. ``por liabilities build --risk`` runs
:func:`run_margin_build`, the spot builder's streaming, bounded-memory, multi-process
pipeline (:func:`por.liabilities.build.build_margin`: C hashing, ``--memory``,
``--workers``, ``--cluster``). :func:`build_margin_tree` holds the whole tree in memory and
is kept as the small, obviously correct reference: the vector generator builds with it,
and tests/margin/test_margin_streaming.py checks the two give the same files.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from por.errors import InputError, UsageError
from por.liabilities.assets import load_assets
from verifier.encoding.strictjson import loads as strict_loads
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import (
    MARGIN_SCHEME,
    MAX_AMOUNT,
    Asset,
    Position,
    add_positions,
    check_assets,
    check_round_id,
    decode_positions,
    derive_salt,
    encode_positions,
    margin_leaf_hash,
    margin_node_hash,
    margin_root_hash,
    padding_commitment,
    user_commitment,
    user_id_bytes,
)
from verifier.liabilities.proof import MarginInclusionProof, MarginPathStep, Side
from verifier.liabilities.risk import RiskParams, check_rule
from verifier.liabilities.rounddir import RISK_FILE, ROOT_FILE, TREE_FILE
from verifier.liabilities.treefile import Layout, TreeFile


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
            path.append(MarginPathStep(side=side, hash=h, sums=tuple(sums)))
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


_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _base_units(text: str, asset: Asset, where: str, signed: bool = False) -> int:
    if not _DECIMAL.fullmatch(text) or (text.startswith("-") and not signed):
        raise InputError(f"{where}: {text[:40]!r} is not a decimal number in asset units")
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    if len(frac) > asset.decimals:
        raise InputError(
            f"{where}: {text} has {len(frac)} decimals, {asset.symbol} allows {asset.decimals}"
        )
    value = int(whole + frac.ljust(asset.decimals, "0"))
    if value > MAX_AMOUNT:
        raise InputError(f"{where}: {text} is out of range (at most 2^128-1 base units)")
    return -value if negative else value


def read_margin_snapshot(path: Path, assets: Sequence[Asset]) -> list[MarginAccount]:
    """Read a margin snapshot: CSV with the header ``user_id,asset,equity,debt[,collateral]``
    (collateral absent: all equity counts), or ``user_id,asset,amount`` with a signed amount
    (negative: a debt). Amounts are decimal strings in asset units (spec §15.11).

    Raises:
        InputError: unreadable file, unknown header or asset, a bad amount, or a (user,
            asset) given twice; the message names the line and column.
    """
    index = {a.symbol: i for i, a in enumerate(assets)}
    accounts: dict[str, list[Position]] = {}
    first_line: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header not in (
                ["user_id", "asset", "equity", "debt"],
                ["user_id", "asset", "equity", "debt", "collateral"],
                ["user_id", "asset", "amount"],
            ):
                raise InputError(
                    f"{path}, line 1: expected the header user_id,asset,equity,debt[,collateral]"
                    f" or user_id,asset,amount, found {header}"
                )
            for line, row in enumerate(reader, start=2):
                where = f"{path}, line {line}"
                if len(row) != len(header):
                    raise InputError(f"{where}: expected {len(header)} columns, found {len(row)}")
                user, symbol = row[0], row[1]
                if symbol not in index:
                    raise InputError(
                        f"{where}, column asset: {symbol!r} is not in the round's asset list"
                    )
                try:
                    user_id_bytes(user)
                except FormatError as e:
                    raise InputError(f"{where}, column user_id: {e}") from e
                if (user, symbol) in seen:
                    raise InputError(f"{where}: user {user!r} has {symbol} twice")
                seen.add((user, symbol))
                asset = assets[index[symbol]]
                if len(header) == 3:
                    amount = _base_units(row[2], asset, f"{where}, column amount", signed=True)
                    pos = Position(amount, 0, amount) if amount >= 0 else Position(0, -amount, 0)
                else:
                    equity = _base_units(row[2], asset, f"{where}, column equity")
                    debt = _base_units(row[3], asset, f"{where}, column debt")
                    coll = (
                        _base_units(row[4], asset, f"{where}, column collateral")
                        if len(header) == 5
                        else equity
                    )
                    pos = Position(equity, debt, coll)
                if user not in accounts:
                    accounts[user] = [Position(0, 0, 0)] * len(assets)
                    first_line[user] = where
                accounts[user][index[symbol]] = pos
    except OSError as e:
        raise InputError(f"{path}: cannot read the snapshot: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text") from e
    return [MarginAccount(u, tuple(ps), first_line[u]) for u, ps in accounts.items()]


def write_margin_round(tree: MarginTree, out_dir: Path) -> MarginRootSummary:
    """Write ``tree.bin`` (spec §15.10), ``root.json`` and ``risk.json`` to ``out_dir``.

    Raises:
        InputError: the files already exist.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (TREE_FILE, ROOT_FILE, RISK_FILE):
        if (out_dir / name).exists():
            raise InputError(f"{out_dir / name}: refusing to overwrite")
    layout = Layout.for_tree(tree.round_id, tree.assets, tree.leaf_count, tree.risk.hash)
    fd = os.open(out_dir / TREE_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # every balance: auditors only, whatever the umask
    with os.fdopen(fd, "wb") as fh:
        fh.write(layout.prefix())
        fh.write(b"".join(tree.commitments))
        for level in tree.levels:
            for h, sums in level:
                fh.write(h + encode_positions(sums))
    summary = MarginRootSummary(
        tree.round_id,
        tree.assets,
        tree.leaf_count,
        tree.risk.hash,
        tree.root_hash,
        tuple(tree.totals),
    )
    (out_dir / RISK_FILE).write_bytes(tree.risk.canonical)
    (out_dir / ROOT_FILE).write_text(summary.to_json())
    return summary


def prove_from_round(round_dir: Path, secret: bytes, user_id: str) -> MarginInclusionProof:
    """A user's margin proof read from a written round (tree file, O(log N) reads).

    Raises:
        InputError: the user is not in the round, or the round's files are unusable.
    """
    risk = RiskParams.from_json((round_dir / RISK_FILE).read_bytes(), str(round_dir / RISK_FILE))
    with TreeFile(round_dir / TREE_FILE) as tf:
        lay = tf.layout
        if lay.risk_hash != risk.hash:
            raise InputError(f"{round_dir}: risk.json is not the file the tree binds")
        salt = derive_salt(secret, lay.round_id, user_id)
        index = tf.find(user_commitment(lay.round_id, user_id, salt))
        if index is None:
            raise InputError(f"user {user_id!r} is not in round {lay.round_id}")
        _, leaf = tf.record(0, index)
        _, top = tf.top()
        return MarginInclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            risk=risk,
            user_id=user_id,
            salt=salt,
            positions=tuple(decode_positions(leaf)),
            path=tf.margin_path(index),
            root_hash=tf.root_hash(),
            root_sums=tuple(decode_positions(top)),
            leaf_count=lay.leaf_count,
        )


def load_risk(risk_file: Path) -> RiskParams:
    """Read and validate a risk parameters file (spec §15.5).

    Raises:
        InputError: the file cannot be read.
        FormatError: not canonical, unknown fields, inexact figures.
    """
    try:
        return RiskParams.from_json(risk_file.read_bytes(), str(risk_file))
    except OSError as e:
        raise InputError(f"{risk_file}: cannot read the risk file: {e.strerror}") from e


def run_margin_build(
    snapshot: Path,
    assets_file: Path,
    risk_file: Path,
    round_id: str,
    out_dir: Path,
    secret: bytes,
    pad_to: int | None = None,
    **options: Any,
) -> MarginRootSummary:
    """``por liabilities build SNAPSHOT --assets A --risk RISK.json``: a margin round
    (spec §15.10-15.11) built by the streaming pipeline
    (:func:`por.liabilities.build.build_margin`).
    Every account's rule is checked before anything is written.

    Args:
        options: passed to :func:`por.liabilities.build.build_margin` (``workers``, ``memory``,
            ``work_dir``, ``cluster``, ``progress``, ``secret_out``).

    Raises:
        InputError: unusable inputs, or a round already built in ``out_dir``.
        FormatError: a risk file that is not canonical or does not price the assets.
        VerificationError: an account under water (named, with both sides).
    """
    from por.liabilities.build import build_margin

    assets = load_assets(assets_file)
    risk = load_risk(risk_file)
    return build_margin(snapshot, assets, risk, round_id, secret, out_dir, pad_to=pad_to,
                        **options).summary


def run_margin_build_in_memory(
    snapshot: Path,
    assets_file: Path,
    risk_file: Path,
    round_id: str,
    out_dir: Path,
    secret: bytes,
    pad_to: int | None = None,
) -> MarginRootSummary:
    """:func:`run_margin_build` with the in-memory reference builder (CSV only).

    Raises:
        InputError: unusable inputs, or a round already built in ``out_dir``.
        FormatError: a risk file that is not canonical or does not price the assets.
        VerificationError: an account under water (named, with both sides).
    """
    assets = load_assets(assets_file)
    risk = load_risk(risk_file)
    accounts = read_margin_snapshot(snapshot, assets)
    try:
        tree = build_margin_tree(round_id, assets, risk, secret, accounts, pad_to)
    except InputError as e:
        if "under water" in str(e):  # well-formed input, but the rule fails: exit 1
            raise VerificationError(
                f"{e}; liquidate the account or cover it from an insurance-fund account"
                " listed as a user (spec §15.6); nothing was written"
            ) from e
        raise
    return write_margin_round(tree, out_dir)


def is_margin_round(round_dir: Path) -> bool:
    """True when ROUND_DIR's root.json names the margin scheme."""
    try:
        data = strict_loads((round_dir / ROOT_FILE).read_bytes(), ROOT_FILE)
    except (OSError, FormatError):
        return False
    return isinstance(data, dict) and data.get("scheme") == MARGIN_SCHEME


def margin_proof_text(round_dir: Path, secret: bytes, user_id: str) -> str:
    """``por liabilities prove`` on a margin round: the user's proof as JSON text.

    Raises:
        InputError: the user is not in the round, or its files are unusable.
    """
    return prove_from_round(round_dir, secret, user_id).to_json()
