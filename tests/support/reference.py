"""A small, obviously correct, slow reference of the por-mst v1 tree, written from docs/spec.md.

It shares no code with ``verifier`` or ``por``: its constants and encodings are copied from
the spec, so a bug in the fast implementation cannot certify itself. Python ints, lists and
recursion only.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any


def _h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _s(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


def _u128s(values: list[int]) -> bytes:
    assert all(0 <= v < 2**128 for v in values)
    return b"".join(v.to_bytes(16, "big") for v in values)


def reference_tree(
    round_id: str,
    assets: list[tuple[str, int]],
    balances: dict[str, list[int]],
    secret: bytes,
    leaf_count: int,
) -> dict[str, Any]:
    """Return every level of the tree (hash, sums), the leaves' commitments and the root."""
    rid = round_id.encode()
    leaves: list[tuple[bytes, list[int], str | None]] = []
    for user, amounts in balances.items():
        uid = user.encode()
        salt = hmac.new(secret, b"POR-MST-V1:SALT:" + _s(rid) + _s(uid), "sha256").digest()
        commitment = _h(b"POR-MST-V1:USER:", _s(rid), _s(uid), salt)
        leaves.append((commitment, list(amounts), user))
    for i in range(leaf_count - len(balances)):
        pad = hmac.new(
            secret, b"POR-MST-V1:PADL:" + _s(rid) + i.to_bytes(8, "big"), "sha256"
        ).digest()
        leaves.append((pad, [0] * len(assets), None))
    leaves.sort(key=lambda leaf: leaf[0])
    level = [(_h(b"POR-MST-V1:LEAF:", c, _u128s(a)), a) for c, a, _ in leaves]
    levels = [level]
    while len(level) > 1:
        nxt = []
        for (lh, ls), (rh, rs) in zip(level[0::2], level[1::2], strict=True):
            sums = [x + y for x, y in zip(ls, rs, strict=True)]
            assert all(s < 2**128 for s in sums)
            nxt.append((_h(b"POR-MST-V1:NODE:", lh, _u128s(ls), rh, _u128s(rs)), sums))
        level = nxt
        levels.append(level)
    top_hash, top_sums = level[0]
    prefix = b"POR-MST-V1:ROOT:" + _s(rid) + len(assets).to_bytes(1, "big")
    for symbol, decimals in assets:
        prefix += _s(symbol.encode()) + decimals.to_bytes(1, "big")
    prefix += leaf_count.to_bytes(8, "big")
    return {
        "levels": levels,
        "commitments": [c for c, _, _ in leaves],
        "users": [u for _, _, u in leaves],
        "root": _h(prefix, top_hash, _u128s(top_sums)),
        "totals": top_sums,
    }
