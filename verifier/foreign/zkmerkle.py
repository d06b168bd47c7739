"""The Poseidon Merkle user proofs of Binance's zkmerkle and Gate.io's fork of it.

Owns what the two share: reading the field elements of a proof strictly (hex ids and
root, base64 siblings, integer amounts), the 28-level path walk, the assets commitment
of the (Equity, Debt) layouts, and the report's account of what was and was not checked.
The exchange-specific field names and leaves live in :mod:`verifier.foreign.binance` and
:mod:`verifier.foreign.gateio`.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import Any

from verifier.errors import FormatError
from verifier.foreign.parsing import Obj, describe
from verifier.foreign.poseidon_bn254 import P, fork_hash
from verifier.foreign.report import (
    NOT_RESERVES,
    ROOT_SELF_ASSERTED,
    SRC_DUMMY_USER,
    SRC_OURS,
    SRC_ZK_CIRCUIT,
    ForeignReport,
    Weakness,
)

DEPTH = 28  # AccountTreeDepth in both repositories
U64 = 1 << 64
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_B64_32 = re.compile(r"[A-Za-z0-9+/]{43}=")


def field_hex(value: Any, where: str) -> int:
    """Read a 32-byte hex string that must be a BN254 field element (an id hash or root).

    Raises:
        FormatError: not 64 hex digits, or not below the field modulus (the exchanges'
            tools panic on such an id, and no Poseidon output is ever that large).
    """
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise FormatError(f"{where}: expected 64 hex digits, found {describe(value)}")
    n = int(value, 16)
    if n >= P:
        raise FormatError(f"{where}: {value} is not below the BN254 field modulus")
    return n


def sibling(value: Any, where: str) -> int:
    """Read one path sibling: canonical standard base64 of 32 bytes, a field element.

    Raises:
        FormatError: not canonical base64 of exactly 32 bytes, or not below the modulus.
            The exchanges' tools ignore the error their Poseidon ``Write`` returns for such
            a value and hash the parent from one child alone; we refuse it instead.
    """
    if not isinstance(value, str) or not _B64_32.fullmatch(value):
        raise FormatError(f"{where}: expected base64 of 32 bytes, found {describe(value)}")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError(f"{where}: not base64: {e}") from e
    if base64.b64encode(raw).decode("ascii") != value:
        raise FormatError(f"{where}: non-canonical base64 (stray bits in the last character)")
    n = int.from_bytes(raw, "big")
    if n >= P:
        raise FormatError(
            f"{where}: {raw.hex()} is not below the BN254 field modulus (the exchange's tool "
            "would silently drop it and hash the parent from one child)"
        )
    return n


def siblings(obj: Obj, key: str) -> tuple[int, ...]:
    """Read the list of exactly 28 siblings under ``key``.

    Raises:
        FormatError: not a list of 28 valid siblings.
    """
    items = obj.array(key)
    if len(items) != DEPTH:
        raise FormatError(f"{obj.at(key)}: expected {DEPTH} siblings, found {len(items)}")
    return tuple(sibling(v, f"{obj.at(key)}[{i}]") for i, v in enumerate(items))


def account_index(obj: Obj, key: str) -> int:
    """Read the leaf position, which must fit the 28-level tree.

    Raises:
        FormatError: not an integer in 0 .. 2^28 - 1. (The exchanges' older tools read a
            uint32 and ignore bits above 27, so 2^28 + 9 would pass there as 9.)
    """
    n = obj.integer(key)
    if not 0 <= n < 1 << DEPTH:
        raise FormatError(f"{obj.at(key)}: {n} is outside 0..2^{DEPTH}-1")
    return n


def total(obj: Obj, key: str) -> int:
    """Read a total (a Go ``big.Int``): a JSON integer, >= 0 and below the field modulus.

    Raises:
        FormatError: not an integer, negative (Go's ``big.Int.Bytes`` drops the sign, so
            the exchange's tool would hash -x as x), or too large to be a field element.
    """
    n = obj.integer(key)
    if n < 0:
        raise FormatError(
            f"{obj.at(key)}: negative ({n}); the exchange's tool hashes only the magnitude, "
            "so a sign here is not bound by the leaf"
        )
    if n >= P:
        raise FormatError(f"{obj.at(key)}: {n} is not below the BN254 field modulus")
    return n


def uint(obj: Obj, key: str, bits: int) -> int:
    """Read an unsigned integer of ``bits`` bits (Go ``uint16``/``uint64``).

    Raises:
        FormatError: not an integer in range.
    """
    n = obj.integer(key)
    if not 0 <= n < 1 << bits:
        raise FormatError(f"{obj.at(key)}: {n} is outside 0..2^{bits}-1")
    return n


def pack3(values: list[int]) -> list[int]:
    """Pack u64 values three to a field element, a*2^128 + b*2^64 + c, padding with zeros."""
    n = (len(values) + 2) // 3
    padded = values + [0] * (3 * n - len(values))
    return [
        padded[3 * i] * U64 * U64 + padded[3 * i + 1] * U64 + padded[3 * i + 2] for i in range(n)
    ]


def equity_debt_commitment(assets: dict[int, tuple[int, int]], slots: int, chunk: int) -> int:
    """The assets commitment of the (Equity, Debt) layouts (Binance 2022-2024, Gate.io).

    Every one of ``slots`` assets has its place, absent ones zero; the 2 * slots values
    (Equity, Debt of asset 0, then of asset 1, ...) are packed three to an element,
    (2 * slots + 2) / 3 elements, and hashed with the fork's chained Poseidon.
    """
    flat = [0] * (2 * slots)
    for index, (equity, debt) in assets.items():
        flat[2 * index], flat[2 * index + 1] = equity, debt
    return commitment(tuple(pack3(flat)), chunk)


@lru_cache(maxsize=32)
def commitment(packed: tuple[int, ...], chunk: int) -> int:
    """Poseidon of an assets vector (hundreds of elements: remembered, it is the slow part)."""
    return fork_hash(list(packed), chunk)


def walk(leaf: int, index: int, path: tuple[int, ...], chunk: int) -> int:
    """Hash ``leaf`` up its path: bit i of ``index`` set means the leaf side is on the right."""
    node = leaf
    for i, sib in enumerate(path):
        pair = [sib, node] if (index >> i) & 1 else [node, sib]
        node = fork_hash(pair, chunk)
    return node


def empty_root(nil_leaf: int, chunk: int) -> int:
    """The root of a 28-level tree of empty leaves (published by both exchanges' verifiers)."""
    node = nil_leaf
    for _ in range(DEPTH):
        node = fork_hash([node, node], chunk)
    return node


def hex32(n: int) -> str:
    """Lowercase 64-digit hex of a field element, as the exchanges print roots."""
    return format(n, "064x")


def empty_run(path: tuple[int, ...], chunk: int) -> int | None:
    """The level from which every sibling is an empty subtree, if at least 3 levels are.

    Above the last occupied level each sibling is the hash of the one below with itself.
    """
    start = len(path) - 1
    while start > 0 and fork_hash([path[start - 1], path[start - 1]], chunk) == path[start]:
        start -= 1
    return start if len(path) - start >= 3 else None


def empty_subtree(nil_leaf: int, level: int, chunk: int) -> int:
    """The root of an empty subtree of height ``level`` over ``nil_leaf``."""
    node = nil_leaf
    for _ in range(level):
        node = fork_hash([node, node], chunk)
    return node


def empty_subtree_finding(path: tuple[int, ...], nil_leaf: int, chunk: int) -> str | None:
    """Say whether the path's top siblings are empty subtrees of a different empty leaf.

    If a run of empty subtrees exists but its first sibling is not this layout's empty
    subtree of that height, the tree was built with another empty leaf: a different layout
    or build than the one reproduced. Returns the finding, or None.
    """
    start = empty_run(path, chunk)
    if start is None:
        return None
    empty = empty_subtree(nil_leaf, start, chunk)
    if empty == path[start]:
        return None
    return (
        f"siblings {start}..{len(path) - 1} are empty subtrees (each the hash of the one "
        f"below with itself), but not of this layout's empty leaf: at level {start} this "
        f"layout's empty subtree is {hex32(empty)}, the file has {hex32(path[start])}; the "
        "tree was built with a different empty leaf, i.e. by another layout or build"
    )


def record_path(
    report: ForeignReport,
    leaf: int,
    index: int,
    path: tuple[int, ...],
    published_root: int,
    *,
    nil_leaf: int,
    chunk: int,
) -> None:
    """Walk ``leaf`` up ``path``, and record the leaf and the root check in ``report``.

    On a mismatch, also record (as ``info``) whether the path's empty subtrees belong to
    another empty leaf, which tells a wrong layout or build from a wrong leaf.
    """
    root = walk(leaf, index, path, chunk)
    report.root_hash = hex32(root)
    report.notes.append(f"account leaf (recomputed from the file's fields): {hex32(leaf)}")
    same = root == published_root
    report.check(
        "path to the root",
        same,
        f"leaf at position {index} with {DEPTH} siblings hashes to {hex32(root)}"
        + (
            " = the root in the file"
            if same
            else f" but the file's root is {hex32(published_root)}"
        ),
    )
    if not same:
        finding = empty_subtree_finding(path, nil_leaf, chunk)
        if finding:
            report.check("empty subtrees of this layout", False, finding, kind="info")


PROVEN = (
    "a leaf made of exactly these fields (account id hash, totals and every asset amount in "
    "the file) sits at this position under the root in the file, by the exchange's own "
    "Poseidon (BN254) rule, recomputed here"
)
NOT_PROVEN_ZK = (
    "that the root's totals are well formed (no negative or dummy accounts, sums equal to "
    "the published totals): that is the job of the zk-SNARK batch proofs (Groth16 over "
    "BN254, gnark), which por-verify does NOT check; run the exchange's gnark verifier on "
    "its proof table with a verifying key you trust"
)
NOT_PROVEN_ID = (
    "that the account id hash is yours: it is an exchange-chosen hash of your id; recompute "
    "it from the exchange's published recipe and your own id before relying on this"
)


def zk_weaknesses(exchange: str) -> list[Weakness]:
    """Weaknesses shared by the zkmerkle family, each with where it was published."""
    return [
        Weakness(
            "the sums are only as good as an unchecked zk proof",
            "the user path binds your leaf to a root; that the root's totals are the true, "
            "non-negative sum of all accounts is claimed only by Groth16 batch proofs, and a "
            "Groth16 verifier trusts the verifying key (the circuit) shipped beside the proofs. "
            "A key made for a circuit without the range and sum constraints verifies anything "
            "(a zk verifier is only as sound as the circuit: Chaliasos et al., 'SoK: What Don't "
            "We Know? Understanding Security Vulnerabilities in SNARKs', USENIX Security 2024).",
            SRC_ZK_CIRCUIT,
        ),
        Weakness(
            "dummy accounts",
            f"{exchange}'s circuit admits accounts the exchange invents; Binance documents the "
            "'dummy user attack' (equity in illiquid coins offsetting debt in liquid ones, "
            "reported by E. Bottazzi) in docs/updated_proof_of_solvency_to_mitigate_dummy_user_"
            "attack.md of binance/zkmerkle-proof-of-solvency, and mitigates it with collateral "
            "tiers from 2024-09; Gate.io's circuit predates that change.",
            SRC_DUMMY_USER,
        ),
        Weakness(
            "the hash is a moving target",
            "the Poseidon chaining width (12 or 16 inputs a permutation) and output cell (0 or "
            "1) changed between builds of the bnb-chain gnark-crypto fork, and the empty leaf "
            "changed with the leaf layout, so a proof verifies only under the exact build that "
            "made it; neither format names its build or layout.",
            SRC_OURS + " (the Poseidon builds: bnb-chain/gnark-crypto @6e0195f2, @7c643ad1, "
            "@30223a67, @609ab3a7; gatechain/gnark-crypto v0.7.1)",
        ),
        Weakness(
            "lenient parsing in the exchange's tool",
            "Go's JSON reader ignores unknown fields and matches names case-insensitively, "
            "big.Int.Bytes() drops a total's sign, a sibling at or above the field modulus is "
            "silently dropped by Poseidon Write, and the older tools ignore position bits above "
            "27; por-verify refuses all of these (exit 2).",
            SRC_OURS + " (binance/zkmerkle-proof-of-solvency src/verifier/main.go and "
            "src/utils/utils.go; gateio/proof-of-reserves service/verify_service/service.go)",
        ),
    ]


def base_report(fmt: str, exchange: str, rule: str) -> ForeignReport:
    """A report with the family's proven / not proven lists filled in."""
    return ForeignReport(
        format=fmt,
        exchange=exchange,
        rule=rule,
        proven=[PROVEN],
        not_proven=[NOT_PROVEN_ZK, ROOT_SELF_ASSERTED, NOT_PROVEN_ID, NOT_RESERVES],
        weaknesses=zk_weaknesses(exchange),
    )
