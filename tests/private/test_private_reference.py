"""An independent reference of the private scheme's bytes, written from docs/spec.md §16
alone (hashlib, hmac and wallycore's documented calls; nothing of verifier.private's
hashing), checks the builder's root and every node on random small rounds."""

from __future__ import annotations

import hashlib
import hmac
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from por.liabilities.private import build_private_tree
from verifier.liabilities.mst import Asset

with warnings.catch_warnings():  # SWIG's types warn on import
    warnings.simplefilter("ignore", DeprecationWarning)
    import wallycore

N_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def s(text: str) -> bytes:  # §2 str(s)
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def ref_round(round_id: str, assets: list[Asset], secret: bytes,
              users: list[tuple[str, list[int]]]) -> tuple[bytes, list[int]]:
    k = len(assets)
    leaves = []
    for uid, amounts in users:  # §4
        salt = hmac.digest(secret, b"POR-MST-V1:SALT:" + s(round_id) + s(uid), "sha256")
        uc = hashlib.sha256(b"POR-MST-V1:USER:" + s(round_id) + s(uid) + salt).digest()
        leaves.append((uc, amounts))
    n = 1
    while n < len(leaves):
        n *= 2
    for i in range(n - len(leaves)):  # §5
        pad = hmac.digest(secret, b"POR-MST-V1:PADL:" + s(round_id) + i.to_bytes(8, "big"),
                          "sha256")
        leaves.append((pad, [0] * k))
    leaves.sort()
    levels = n.bit_length() - 1
    exps = []  # §16.3 unit rule
    for j in range(k):
        e = 0
        while sum(-(-a[j] // 10**e) for _, a in leaves) > 2**64 - 1:
            e += 1
        exps.append(e)
    gens = [bytes(wallycore.asset_generator_from_bytes(hashlib.sha256(
        b"POR-PRV-V1:GENR:" + s(a.symbol) + bytes([a.decimals])).digest(), bytes(32)))
        for a in assets]

    def blinding(j: int, level: int, index: int) -> int:  # §16.3, from the root down
        r = int.from_bytes(hmac.digest(secret, b"POR-PRV-V1:BLND:" + s(round_id) + bytes([j]),
                                       "sha256"), "big") % N_ORDER
        for lv in range(levels - 1, level - 1, -1):
            idx = index >> (lv - level)
            left = int.from_bytes(hmac.digest(
                secret, b"POR-PRV-V1:SPLT:" + s(round_id) + bytes([j, lv])
                + (idx & ~1).to_bytes(8, "big"), "sha256"), "big") % N_ORDER
            r = (r - left) % N_ORDER if idx & 1 else left
        return r

    def commit(v: int, r: int, j: int) -> bytes:
        return bytes(wallycore.asset_value_commitment(v, r.to_bytes(32, "big"), gens[j]))

    values = [[-(-a[j] // 10**exps[j]) for j in range(k)] for _, a in leaves]
    row = []
    for i, (uc, amounts) in enumerate(leaves):  # §16.4
        cs = [commit(values[i][j], blinding(j, 0, i), j) for j in range(k)]
        digest = hashlib.sha256(b"POR-PRV-V1:LEAF:" + uc
                                + b"".join(a.to_bytes(16, "big") for a in amounts)
                                + b"".join(cs)).digest()
        row.append((digest, cs))
    for level in range(1, levels + 1):
        values = [[a + b for a, b in zip(values[2 * i], values[2 * i + 1], strict=True)]
                  for i in range(len(values) // 2)]
        nxt = []
        for i in range(len(row) // 2):
            (lh, lc), (rh, rc) = row[2 * i], row[2 * i + 1]
            cs = [commit(values[i][j], blinding(j, level, i), j) for j in range(k)]
            nxt.append((hashlib.sha256(b"POR-PRV-V1:NODE:" + lh + b"".join(lc) + rh
                                       + b"".join(rc)).digest(), cs))
        row = nxt
    top_hash, top_cs = row[0]
    out = b"POR-PRV-V1:ROOT:" + s(round_id) + bytes([k])  # §16.6
    for a, e in zip(assets, exps, strict=True):
        out += s(a.symbol) + bytes([a.decimals, e])
    out += n.to_bytes(8, "big") + top_hash + b"".join(top_cs)
    for j in range(k):
        out += values[0][j].to_bytes(8, "big") + blinding(j, levels, 0).to_bytes(32, "big")
    return hashlib.sha256(out).digest(), exps


@settings(max_examples=15, deadline=None)
@given(
    users=st.lists(st.lists(st.integers(0, 2**70), min_size=2, max_size=2), min_size=1,
                   max_size=9),
    secret=st.binary(min_size=32, max_size=32),
)
def test_builder_matches_the_reference(users: list[list[int]], secret: bytes) -> None:
    assets = [Asset("BTC", 8), Asset("ETH", 18)]
    named = [(f"user {i}", amounts) for i, amounts in enumerate(users)]
    tree = build_private_tree("ref-round", assets, secret, named)
    want, exps = ref_round("ref-round", assets, secret, named)
    assert [a.unit_exponent for a in tree.assets] == exps
    assert tree.root.root_hash == want
