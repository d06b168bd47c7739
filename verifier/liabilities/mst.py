"""The hashing rules of the multi-asset Merkle-sum tree, scheme ``por-mst`` version 1.

One module owns every byte that is hashed, for the builder (``por``) and the verifier alike,
so producer and checker cannot drift apart. Each constant names its section of
``docs/spec.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.encoding.bounds import HASH_SIZE as HASH_SIZE  # spec §2, re-exported
from verifier.encoding.bounds import MAX_AMOUNT as MAX_AMOUNT
from verifier.errors import FormatError, VerificationError

SCHEME = "por-mst"  # spec §1
VERSION = 1  # spec §1

AMOUNT_SIZE = 16  # spec §2: unsigned 128-bit, big-endian
MAX_ASSETS = 64  # spec §3
MAX_DECIMALS = 38  # spec §3: 10**38 < 2**128
MAX_USER_ID_BYTES = 128  # spec §4
MAX_ROUND_ID_CHARS = 64  # spec §3
MAX_LEVELS = 40  # spec §6: at most 2**40 leaves

# Domain-separation tags, spec §2. All are 16 ASCII bytes, so no tag is a prefix of another.
TAG_SALT = b"POR-MST-V1:SALT:"  # spec §4, per-user salt (HMAC input)
TAG_USER = b"POR-MST-V1:USER:"  # spec §4, user commitment
TAG_PAD = b"POR-MST-V1:PADL:"  # spec §5, padding-leaf commitment (HMAC input)
TAG_LEAF = b"POR-MST-V1:LEAF:"  # spec §6, leaf hash
TAG_NODE = b"POR-MST-V1:NODE:"  # spec §6, inner node hash
TAG_ROOT = b"POR-MST-V1:ROOT:"  # spec §7, root hash binding round, assets and size

_ROUND_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}")


@dataclass(frozen=True)
class Asset:
    """One asset of a round: its symbol and the number of decimals of its base unit."""

    symbol: str
    decimals: int

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not _SYMBOL_RE.fullmatch(self.symbol):
            raise FormatError(
                f"asset symbol {self.symbol!r}: expected 1-16 characters of A-Z a-z 0-9 . _ -"
            )
        if (
            isinstance(self.decimals, bool)
            or not isinstance(self.decimals, int)
            or not 0 <= self.decimals <= MAX_DECIMALS
        ):
            raise FormatError(
                f"asset {self.symbol}: decimals must be an integer 0..{MAX_DECIMALS},"
                f" found {self.decimals!r}"
            )


def check_round_id(round_id: str) -> str:
    """Return ``round_id`` if it is a valid round id (spec §3).

    Raises:
        FormatError: the round id is empty, too long or has characters outside the set.
    """
    if not isinstance(round_id, str) or not _ROUND_RE.fullmatch(round_id):
        raise FormatError(
            f"round id {round_id!r}: expected 1-{MAX_ROUND_ID_CHARS} characters of"
            " A-Z a-z 0-9 . _ : - starting with a letter or digit"
        )
    return round_id


def check_assets(assets: Sequence[Asset]) -> tuple[Asset, ...]:
    """Return the round's asset list as a tuple after checking it (spec §3).

    Raises:
        FormatError: the list is empty, too long or repeats a symbol.
    """
    if not 1 <= len(assets) <= MAX_ASSETS:
        raise FormatError(f"asset list: expected 1..{MAX_ASSETS} assets, found {len(assets)}")
    seen: set[str] = set()
    for asset in assets:
        if asset.symbol in seen:
            raise FormatError(f"asset list: symbol {asset.symbol} appears twice")
        seen.add(asset.symbol)
    return tuple(assets)


def user_id_bytes(user_id: str) -> bytes:
    """Encode a user id as UTF-8 after checking it (spec §4).

    Raises:
        FormatError: empty, longer than 128 bytes, or holding control characters.
    """
    if not isinstance(user_id, str):
        raise FormatError(f"user id: expected a string, found {type(user_id).__name__}")
    raw = user_id.encode("utf-8", errors="strict") if user_id.isprintable() else b""
    if not raw:
        raise FormatError(f"user id {user_id!r}: must be non-empty printable text")
    if len(raw) > MAX_USER_ID_BYTES:
        raise FormatError(
            f"user id {user_id[:20]!r}...: {len(raw)} bytes, at most {MAX_USER_ID_BYTES} allowed"
        )
    return raw


def encode_str(raw: bytes) -> bytes:
    """Length-prefixed bytes: u16 big-endian length, then the bytes (spec §2)."""
    return len(raw).to_bytes(2, "big") + raw


def encode_amounts(amounts: Sequence[int]) -> bytes:
    """Fixed-width big-endian u128 per asset, in the round's asset order (spec §2).

    Raises:
        VerificationError: an amount is negative or does not fit in 128 bits.
    """
    out = bytearray()
    for i, amount in enumerate(amounts):
        if not 0 <= amount <= MAX_AMOUNT:
            raise VerificationError(f"amount #{i} = {amount} is outside 0..2^128-1")
        out += amount.to_bytes(AMOUNT_SIZE, "big")
    return bytes(out)


def decode_amounts(raw: bytes) -> list[int]:
    """Inverse of :func:`encode_amounts`."""
    return [
        int.from_bytes(raw[i : i + AMOUNT_SIZE], "big") for i in range(0, len(raw), AMOUNT_SIZE)
    ]


def add_sums(left: Sequence[int], right: Sequence[int], where: str) -> list[int]:
    """Exact per-asset sum of two children (spec §6); overflow is an error, never a wrap.

    Raises:
        VerificationError: a sum exceeds 2^128-1.
    """
    out = []
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        total = a + b
        if total > MAX_AMOUNT:
            raise VerificationError(f"{where}: sum of asset #{i} overflows 2^128-1 ({total})")
        out.append(total)
    return out


def derive_salt(round_secret: bytes, round_id: str, user_id: str) -> bytes:
    """Per-user, per-round salt: HMAC-SHA256(round secret, SALT tag ‖ round ‖ user) (spec §4)."""
    msg = TAG_SALT + encode_str(round_id.encode()) + encode_str(user_id_bytes(user_id))
    return hmac.digest(round_secret, msg, "sha256")


def user_commitment(round_id: str, user_id: str, salt: bytes) -> bytes:
    """H(USER tag ‖ round id ‖ user id ‖ salt) (spec §4).

    Raises:
        FormatError: the salt is not 32 bytes or the user id is invalid.
    """
    if len(salt) != HASH_SIZE:
        raise FormatError(f"salt: expected {HASH_SIZE} bytes, found {len(salt)}")
    return hashlib.sha256(
        TAG_USER + encode_str(round_id.encode()) + encode_str(user_id_bytes(user_id)) + salt
    ).digest()


def padding_commitment(round_secret: bytes, round_id: str, index: int) -> bytes:
    """Commitment of padding leaf ``index``: HMAC-SHA256(secret, PAD tag ‖ round ‖ u64) (§5)."""
    return hmac.digest(
        round_secret, TAG_PAD + encode_str(round_id.encode()) + index.to_bytes(8, "big"), "sha256"
    )


def leaf_hash(commitment: bytes, amounts_be: bytes) -> bytes:
    """H(LEAF tag ‖ commitment ‖ amounts) (spec §6)."""
    return hashlib.sha256(TAG_LEAF + commitment + amounts_be).digest()


def node_hash(
    left_hash: bytes, left_sums_be: bytes, right_hash: bytes, right_sums_be: bytes
) -> bytes:
    """H(NODE tag ‖ left hash ‖ left sums ‖ right hash ‖ right sums) (spec §6).

    Both children's sums are bound, not only their total: a prover cannot move value
    between siblings (the flaw of OKX's v1 tree, eprint 2018/1139).
    """
    return hashlib.sha256(TAG_NODE + left_hash + left_sums_be + right_hash + right_sums_be).digest()


def root_prefix(round_id: str, assets: Sequence[Asset], leaf_count: int) -> bytes:
    """The bytes bound into the root before the top node (spec §7)."""
    out = bytearray(TAG_ROOT)
    out += encode_str(check_round_id(round_id).encode())
    out += len(assets).to_bytes(1, "big")
    for asset in assets:
        out += encode_str(asset.symbol.encode()) + asset.decimals.to_bytes(1, "big")
    out += leaf_count.to_bytes(8, "big")
    return bytes(out)


def root_hash(
    round_id: str, assets: Sequence[Asset], leaf_count: int, top_hash: bytes, top_sums_be: bytes
) -> bytes:
    """H(ROOT tag ‖ round ‖ assets ‖ leaf count ‖ top hash ‖ top sums) (spec §7).

    Binding the round and the asset list means a proof cannot relabel a user's balances
    or be passed off as another round's.
    """
    return hashlib.sha256(
        root_prefix(round_id, assets, leaf_count) + top_hash + top_sums_be
    ).digest()


def levels_for(leaf_count: int) -> int:
    """Number of levels above the leaves for ``leaf_count`` leaves, a power of two (spec §5).

    Raises:
        FormatError: ``leaf_count`` is not a power of two between 1 and 2^40.
    """
    if (
        isinstance(leaf_count, bool)
        or not isinstance(leaf_count, int)
        or leaf_count < 1
        or leaf_count & (leaf_count - 1)
        or leaf_count > (1 << MAX_LEVELS)
    ):
        raise FormatError(f"leaf count {leaf_count!r}: expected a power of two, 1..2^{MAX_LEVELS}")
    return leaf_count.bit_length() - 1


# ---------------------------------------------------------------------------------------
# Margin scheme ``por-mst-margin`` version 1 (spec §15). Salt, user commitment, padding
# commitment, leaf order and levels are the spot scheme's (§4, §5); the leaf, node and root
# hashes have tags of their own, and each per-asset slot is a triple of separate sums.

MARGIN_SCHEME = "por-mst-margin"  # spec §15.1
MARGIN_VERSION = 1  # spec §15.1
TRIPLE_SIZE = 3 * AMOUNT_SIZE  # spec §15.2: equity ‖ debt ‖ collateral, 48 bytes per asset

TAG_MARGIN_LEAF = b"POR-MRG-V1:LEAF:"  # spec §15.3, margin leaf hash
TAG_MARGIN_NODE = b"POR-MRG-V1:NODE:"  # spec §15.3, margin inner node hash
TAG_MARGIN_ROOT = b"POR-MRG-V1:ROOT:"  # spec §15.4, margin root hash (binds the risk hash)
TAG_RISK = b"POR-RISK-V1:PRM:"  # spec §15.5, hash of the risk parameters file


@dataclass(frozen=True)
class Position:
    """One user's (or one subtree's) figures in one asset, in base units (spec §15.2).

    ``equity`` is what the exchange owes the user, ``debt`` what the user borrowed,
    ``collateral`` the part of ``equity`` pledged against debt. Never a net.
    """

    equity: int
    debt: int
    collateral: int


def encode_positions(positions: Sequence[Position]) -> bytes:
    """``u128(equity) ‖ u128(debt) ‖ u128(collateral)`` per asset, in asset order (§15.2).

    Raises:
        VerificationError: a figure is negative or does not fit in 128 bits.
    """
    out = bytearray()
    for i, p in enumerate(positions):
        for name, value in (("equity", p.equity), ("debt", p.debt), ("collateral", p.collateral)):
            if not 0 <= value <= MAX_AMOUNT:
                raise VerificationError(f"asset #{i}: {name} {value} is outside 0..2^128-1")
            out += value.to_bytes(AMOUNT_SIZE, "big")
    return bytes(out)


def decode_positions(raw: bytes) -> list[Position]:
    """Inverse of :func:`encode_positions`."""
    vals = decode_amounts(raw)
    return [Position(*vals[i : i + 3]) for i in range(0, len(vals), 3)]


def add_positions(
    left: Sequence[Position], right: Sequence[Position], where: str
) -> list[Position]:
    """Exact per-asset, per-component sums of two children (§15.3); overflow is an error.

    Raises:
        VerificationError: a sum exceeds 2^128-1.
    """
    out = []
    for i, (a, b) in enumerate(zip(left, right, strict=True)):
        e, d, c = a.equity + b.equity, a.debt + b.debt, a.collateral + b.collateral
        for name, total in (("equity", e), ("debt", d), ("collateral", c)):
            if total > MAX_AMOUNT:
                raise VerificationError(
                    f"{where}: {name} sum of asset #{i} overflows 2^128-1 ({total})"
                )
        out.append(Position(e, d, c))
    return out


def margin_leaf_hash(commitment: bytes, positions_be: bytes) -> bytes:
    """H(MARGIN LEAF tag ‖ commitment ‖ positions) (spec §15.3)."""
    return hashlib.sha256(TAG_MARGIN_LEAF + commitment + positions_be).digest()


def margin_node_hash(
    left_hash: bytes, left_sums_be: bytes, right_hash: bytes, right_sums_be: bytes
) -> bytes:
    """H(MARGIN NODE tag ‖ left hash ‖ left sums ‖ right hash ‖ right sums) (spec §15.3).

    Equity, debt and collateral sums of both children are bound separately: a tree that
    bound only net sums (equity − debt) would let fake accounts with debt shrink the
    liabilities (the flaw raised against several exchanges' margin trees).
    """
    return hashlib.sha256(
        TAG_MARGIN_NODE + left_hash + left_sums_be + right_hash + right_sums_be
    ).digest()


def risk_hash(canonical_risk: bytes) -> bytes:
    """H(RISK tag ‖ the risk file's canonical bytes) (spec §15.5)."""
    return hashlib.sha256(TAG_RISK + canonical_risk).digest()


def margin_root_hash(
    round_id: str,
    assets: Sequence[Asset],
    leaf_count: int,
    risk: bytes,
    top_hash: bytes,
    top_sums_be: bytes,
) -> bytes:
    """H(MARGIN ROOT tag ‖ round ‖ assets ‖ N ‖ risk hash ‖ top hash ‖ top sums) (§15.4).

    The risk hash (prices and haircut tiers) is bound, so a proof cannot be replayed
    under other prices.

    Raises:
        FormatError: the risk hash is not 32 bytes.
    """
    if len(risk) != HASH_SIZE:
        raise FormatError(f"risk hash: expected {HASH_SIZE} bytes, found {len(risk)}")
    prefix = TAG_MARGIN_ROOT + root_prefix(round_id, assets, leaf_count)[len(TAG_ROOT) :]
    return hashlib.sha256(prefix + risk + top_hash + top_sums_be).digest()
