"""A slow, obviously correct reference of the margin scheme (docs/spec.md §15), from the
spec alone: it shares no code with ``verifier`` or ``por`` (tags, encodings and the haircut
are written out again here), so a bug in the fast code cannot certify itself.

The haircut is computed the way Binance's README states it: find the tier k with
b_{k-1} < cv <= b_k, add the precomputed value of the tiers below, floor with Fraction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from fractions import Fraction
from typing import Any


def _h(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _s(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


def _triples(ps: list[tuple[int, int, int]]) -> bytes:
    out = b""
    for triple in ps:
        for v in triple:
            assert 0 <= v < 2**128, "u128 overflow"
            out += v.to_bytes(16, "big")
    return out


def ref_units(text: str, scale: int) -> int:
    """A decimal string times 10**scale, exactly (Fraction), required to be an integer."""
    value = Fraction(text) * 10**scale
    assert value.denominator == 1, f"{text} is not exact at scale {scale}"
    return int(value)


def ref_haircut(cv: int, tiers: list[tuple[int, int]]) -> int:
    """Binance's tiered haircut, floor, capped at the last tier."""
    bounds = [0] + [b for b, _ in tiers]
    pre = [0]
    for k in range(1, len(bounds)):
        pre.append(
            pre[-1] + math.floor(Fraction((bounds[k] - bounds[k - 1]) * tiers[k - 1][1], 100))
        )
    if cv == 0:
        return 0
    for k in range(1, len(bounds)):
        if bounds[k - 1] < cv <= bounds[k]:
            return pre[k - 1] + math.floor(Fraction((cv - bounds[k - 1]) * tiers[k - 1][1], 100))
    return pre[-1]


def ref_rule(risk: dict[str, Any], positions: list[tuple[int, int, int]]) -> tuple[int, int, bool]:
    """(haircut collateral value, debt value, ok) of one user, from the risk object."""
    v = risk["value_decimals"]
    coll = debt = 0
    ok = True
    for a, (e, d, c) in zip(risk["assets"], positions, strict=True):
        price = ref_units(a["price"], v - a["decimals"])
        tiers = [(ref_units(t["up_to"], v), t["ratio"]) for t in a["tiers"]]
        if c > e:
            ok = False
        debt += d * price
        coll += ref_haircut(c * price, tiers)
    return coll, debt, ok and coll >= debt


def ref_risk_hash(risk: dict[str, Any]) -> bytes:
    """H("POR-RISK-V1:PRM:" || JCS(risk)); the risk object has only ASCII strings and small
    integers, so JCS is sorted keys, no whitespace."""
    canonical = json.dumps(risk, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _h(b"POR-RISK-V1:PRM:", canonical.encode())


def ref_margin_tree(
    round_id: str,
    assets: list[tuple[str, int]],
    risk: dict[str, Any],
    accounts: dict[str, list[tuple[int, int, int]]],
    secret: bytes,
    leaf_count: int,
) -> dict[str, Any]:
    """Root hash and totals of a margin round; users under water are an AssertionError."""
    rid = round_id.encode()
    leaves = []
    for user, ps in accounts.items():
        assert ref_rule(risk, ps)[2], f"{user} under water"
        uid = user.encode()
        salt = hmac.new(secret, b"POR-MST-V1:SALT:" + _s(rid) + _s(uid), "sha256").digest()
        leaves.append((_h(b"POR-MST-V1:USER:", _s(rid), _s(uid), salt), ps))
    for i in range(leaf_count - len(accounts)):
        c = hmac.new(secret, b"POR-MST-V1:PADL:" + _s(rid) + i.to_bytes(8, "big"), "sha256")
        leaves.append((c.digest(), [(0, 0, 0)] * len(assets)))
    leaves.sort()

    def node(lo: int, hi: int) -> tuple[bytes, list[tuple[int, int, int]]]:
        if hi - lo == 1:
            c, ps = leaves[lo]
            return _h(b"POR-MRG-V1:LEAF:", c, _triples(ps)), ps
        mid = (lo + hi) // 2
        lh, ls = node(lo, mid)
        rh, rs = node(mid, hi)
        sums = [
            tuple(x + y for x, y in zip(a, b, strict=True)) for a, b in zip(ls, rs, strict=True)
        ]
        return _h(b"POR-MRG-V1:NODE:", lh, _triples(ls), rh, _triples(rs)), sums  # type: ignore[return-value]

    top_hash, top_sums = node(0, leaf_count)
    prefix = b"POR-MRG-V1:ROOT:" + _s(rid) + bytes([len(assets)])
    for sym, dec in assets:
        prefix += _s(sym.encode()) + bytes([dec])
    prefix += leaf_count.to_bytes(8, "big")
    root = _h(prefix, ref_risk_hash(risk), top_hash, _triples(top_sums))
    return {"root_hash": root, "totals": top_sums}
