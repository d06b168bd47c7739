"""The hashing and derivation rules of the private scheme ``por-mst-private`` version 1 (§16).

One module owns every byte that is hashed or derived, for the builder (``por``) and the
verifier alike: tags, the unit rule for amounts wider than 64 bits, generator seeds, the
top-down split of blinding factors, range-proof positions and nonces, and the leaf, node
and root hashes. Each constant names its section of ``docs/spec.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.errors import FormatError
from verifier.liabilities.mst import (
    MAX_AMOUNT,
    MAX_DECIMALS,
    Asset,
    check_assets,
    check_round_id,
    encode_str,
)
from verifier.private.commitments import COMMITMENT_SIZE, GROUP_ORDER, MAX_VALUE

SCHEME = "por-mst-private"  # spec §16.1
VERSION = 1  # spec §16.1: full hiding (every level's siblings hidden)
VERSION_HYBRID = 2  # spec §16.14: the bottom L levels hidden, the levels above opened
VERSIONS = (VERSION, VERSION_HYBRID)

# Domain-separation tags, 16 ASCII bytes each (spec §16.2); the spot tags of §2 are unchanged
# and §4's salt and user commitment are reused as they are.
TAG_LEAF = b"POR-PRV-V1:LEAF:"  # §16.4 leaf hash
TAG_NODE = b"POR-PRV-V1:NODE:"  # §16.4 inner node hash
TAG_ROOT = b"POR-PRV-V1:ROOT:"  # §16.6 root hash
TAG_ROOT_HYBRID = b"POR-PRV-V2:ROOT:"  # §16.14 root hash of a hybrid (version 2) round
TAG_GENERATOR = b"POR-PRV-V1:GENR:"  # §16.2 per-asset generator seed
TAG_BLIND = b"POR-PRV-V1:BLND:"  # §16.3 root blinding (HMAC input)
TAG_SPLIT = b"POR-PRV-V1:SPLT:"  # §16.3 left child's blinding (HMAC input)
TAG_NONCE = b"POR-PRV-V1:NONC:"  # §16.5 range-proof nonce (HMAC input)
TAG_RANGE = b"POR-PRV-V1:RNGE:"  # §16.5 range-proof position (the proof's extra commit)

MAX_UNIT_EXPONENT = MAX_DECIMALS  # §16.3: the unit of asset j is 10^e_j base units, e_j ≤ 38

_HEX_RE = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class PrivateAsset:
    """An asset of a private round: symbol, decimals, and the unit exponent e (§16.3)."""

    symbol: str
    decimals: int
    unit_exponent: int

    def __post_init__(self) -> None:
        Asset(self.symbol, self.decimals)  # the symbol and decimals rules of §3
        e = self.unit_exponent
        if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= MAX_UNIT_EXPONENT:
            raise FormatError(f"asset {self.symbol}: unit_exponent must be an integer"
                              f" 0..{MAX_UNIT_EXPONENT}, found {e!r}")

    @property
    def unit(self) -> int:
        """The committed unit in base units, 10^e."""
        return int(10**self.unit_exponent)


def check_private_assets(assets: Sequence[PrivateAsset]) -> tuple[PrivateAsset, ...]:
    """The list rules of §3 (1–64 assets, symbols unique).

    Raises:
        FormatError: the list breaks them.
    """
    check_assets([Asset(a.symbol, a.decimals) for a in assets])
    return tuple(assets)


def committed_value(amount: int, asset: PrivateAsset, where: str) -> int:
    """⌈amount / 10^e⌉: the value committed for ``amount`` base units (spec §16.3).

    Rounding up overstates liabilities and never understates them.

    Raises:
        FormatError: the amount is out of u128, or its value does not fit in 64 bits.
    """
    if not 0 <= amount <= MAX_AMOUNT:
        raise FormatError(f"{where}: amount {amount} is outside 0..2^128-1")
    value = -(-amount // asset.unit)
    if value > MAX_VALUE:
        raise FormatError(
            f"{where}: {amount} base units of {asset.symbol} are {value} units of"
            f" 10^{asset.unit_exponent}, above 2^64-1: the round needs a larger unit exponent"
        )
    return value


def generator_seed(asset: PrivateAsset) -> bytes:
    """seed_j = H(GENR tag ‖ str(symbol) ‖ u8(decimals)) (spec §16.2)."""
    return hashlib.sha256(
        TAG_GENERATOR + encode_str(asset.symbol.encode()) + bytes([asset.decimals])
    ).digest()


def _scalar(digest: bytes) -> int:
    return int.from_bytes(digest, "big") % GROUP_ORDER


def root_blinding(secret: bytes, round_id: str, asset_index: int) -> int:
    """r_root,j = HMAC(K, BLND tag ‖ str(round) ‖ u8(j)) mod n (spec §16.3)."""
    msg = TAG_BLIND + encode_str(round_id.encode()) + bytes([asset_index])
    return _scalar(hmac.digest(secret, msg, "sha256"))


def left_blinding(secret: bytes, round_id: str, asset_index: int, level: int, index: int) -> int:
    """The blinding of the left child (level, index), index even (spec §16.3):
    HMAC(K, SPLT tag ‖ str(round) ‖ u8(j) ‖ u8(level) ‖ u64(index)) mod n."""
    msg = (TAG_SPLIT + encode_str(round_id.encode()) + bytes([asset_index, level])
           + index.to_bytes(8, "big"))
    return _scalar(hmac.digest(secret, msg, "sha256"))


def split_blinding(
    secret: bytes, round_id: str, asset_index: int, parent: int, level: int, left_index: int
) -> tuple[int, int]:
    """The two children's blindings of a parent whose blinding is ``parent`` (§16.3):
    the left one derived, the right one ``parent − left mod n``, so they add up exactly."""
    left = left_blinding(secret, round_id, asset_index, level, left_index)
    return left, (parent - left) % GROUP_ORDER


def node_blinding(
    secret: bytes, round_id: str, asset_index: int, levels: int, level: int, index: int
) -> int:
    """The blinding of node (level, index), recomputed from the root down (§16.3)."""
    blinding = root_blinding(secret, round_id, asset_index)
    for child_level in range(levels - 1, level - 1, -1):
        child_index = index >> (child_level - level)
        left, right = split_blinding(secret, round_id, asset_index, blinding, child_level,
                                     child_index & ~1)
        blinding = right if child_index & 1 else left
    return blinding


def range_position(round_id: str, level: int, index: int, asset_index: int) -> bytes:
    """The bytes a range proof is bound to (its extra commit, spec §16.5):
    RNGE tag ‖ str(round) ‖ u8(level) ‖ u64(node index) ‖ u8(j)."""
    return (TAG_RANGE + encode_str(check_round_id(round_id).encode()) + bytes([level])
            + index.to_bytes(8, "big") + bytes([asset_index]))


def range_nonce(secret: bytes, round_id: str, level: int, index: int, asset_index: int) -> bytes:
    """The range proof's secret nonce (spec §16.5):
    HMAC(K, NONC tag ‖ str(round) ‖ u8(level) ‖ u64(node index) ‖ u8(j))."""
    msg = (TAG_NONCE + encode_str(round_id.encode()) + bytes([level]) + index.to_bytes(8, "big")
           + bytes([asset_index]))
    return hmac.digest(secret, msg, "sha256")


def _commitments(commitments: Sequence[bytes]) -> bytes:
    for c in commitments:
        if len(c) != COMMITMENT_SIZE:
            raise FormatError(f"commitment: expected {COMMITMENT_SIZE} bytes, found {len(c)}")
    return b"".join(commitments)


def leaf_hash(user_commitment: bytes, amounts_be: bytes, commitments: Sequence[bytes]) -> bytes:
    """H(LEAF tag ‖ user commitment (§4) ‖ amounts(exact balances) ‖ C_1 ‖ … ‖ C_k) (§16.4).

    Raises:
        FormatError: a commitment is not 33 bytes.
    """
    return hashlib.sha256(TAG_LEAF + user_commitment + amounts_be
                          + _commitments(commitments)).digest()


def node_hash(left_hash: bytes, left: Sequence[bytes], right_hash: bytes,
              right: Sequence[bytes]) -> bytes:
    """H(NODE tag ‖ left hash ‖ left C_1..k ‖ right hash ‖ right C_1..k) (§16.4).

    Both children's commitments are bound, not only their sum (the flaw of OKX's v1
    tree, eprint 2018/1139, in commitments instead of sums).

    Raises:
        FormatError: a commitment is not 33 bytes.
    """
    return hashlib.sha256(TAG_NODE + left_hash + _commitments(left) + right_hash
                          + _commitments(right)).digest()


def root_hash(
    round_id: str, assets: Sequence[PrivateAsset], leaf_count: int, top_hash: bytes,
    top: Sequence[bytes], totals: Sequence[int], blindings: Sequence[int],
    hidden_levels: int | None = None,
) -> bytes:
    """The root (spec §16.6): H(ROOT tag ‖ str(round) ‖ u8(k) ‖ (str(symbol) ‖ u8(decimals)
    ‖ u8(unit exponent)) per asset ‖ u64(N) ‖ top hash ‖ top C_1..k ‖ (u64(total) ‖
    blinding (32)) per asset).

    ``hidden_levels`` None: version 1 (full hiding). An integer L: version 2 (§16.14), the
    tag ``POR-PRV-V2:ROOT:`` and ``u8(L)`` after ``u64(N)``, so L is bound into the root.

    Raises:
        FormatError: a field is out of range.
    """
    out = bytearray(TAG_ROOT if hidden_levels is None else TAG_ROOT_HYBRID)
    out += encode_str(check_round_id(round_id).encode())
    out += bytes([len(assets)])
    for asset in assets:
        out += encode_str(asset.symbol.encode()) + bytes([asset.decimals, asset.unit_exponent])
    out += leaf_count.to_bytes(8, "big")
    if hidden_levels is not None:
        check_hidden_levels(hidden_levels, leaf_count.bit_length() - 1, "root")
        out += bytes([hidden_levels])
    out += top_hash + _commitments(top)
    for total, blinding in zip(totals, blindings, strict=True):
        if not 0 <= total <= MAX_VALUE or not 0 <= blinding < GROUP_ORDER:
            raise FormatError("root opening: a total or blinding is out of range")
        out += total.to_bytes(8, "big") + blinding.to_bytes(32, "big")
    return hashlib.sha256(bytes(out)).digest()


def check_hidden_levels(hidden: int, levels: int, where: str) -> int:
    """A version-2 round's L (§16.14): 1 ≤ L < levels (full hiding is version 1, and L = 0
    would show the sibling leaf's exact balances, which the spot scheme already does).

    Raises:
        FormatError: L out of range.
    """
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden < levels:
        raise FormatError(f"{where}: hidden_levels must be 1..{levels - 1} for a tree of"
                          f" {levels} levels (full hiding is version 1), found {hidden!r}")
    return hidden


def reveals(hidden_levels: int | None, levels: int) -> str:
    """What a proof of this round shows of other users' balances (§16.14), one sentence."""
    if hidden_levels is None or hidden_levels >= levels:
        return ("full hiding: no other user's balance and no subtree's sum (only the"
                " published totals)")
    low = 1 << hidden_levels
    return (f"hybrid, L = {hidden_levels}: the sums of the subtrees of {low} leaves and more"
            f" on the path (levels {hidden_levels}..{levels - 1}), hence the sum of the"
            f" {low - 1} other leaves of the user's own {low}-leaf subtree; no single other"
            f" user's balance and no sum of fewer than {low - 1} leaves (padding leaves count"
            " as leaves of zero)")


def hex_bytes(value: str, size: int, where: str) -> bytes:
    """Decode exactly ``size`` bytes of lowercase hex.

    Raises:
        FormatError: any other text.
    """
    if len(value) != 2 * size or not _HEX_RE.fullmatch(value):
        raise FormatError(f"{where}: expected {2 * size} lowercase hex digits, found"
                          f" {len(value)} characters {value[:16]!r}")
    return bytes.fromhex(value)
