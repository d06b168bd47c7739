"""Generator of the committed margin vectors (tests/vectors/margin.json, spec §15.8).

Run ``python tests/support/margin_vectorgen.py`` to rewrite the file. It builds tiny margin
rounds with the builder (:mod:`por.liabilities.margin`) and a PUBLIC test secret (never for a real
round). Where an attack needs a tree the honest builder refuses to make (an account under
water, a parent that binds net sums), the builder's rule check or node hasher is patched
for that build only: the vector is what a dishonest exchange would publish. Each vector has
the verdict the verifier must give: "verified" (exit 0), "failed" (1), "malformed" (2).
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "margin.json"
TEST_SECRET = bytes.fromhex("00" * 31 + "02")  # public test secret: vectors only
ROUND = "margin-vectors-1"
ASSETS = [("BTC", 8), ("ETH", 18), ("USDX", 18)]
B1 = 10**22  # USDX's first tier bound, 10000 USD in value units (value_decimals 18)
RISK: dict[str, Any] = {
    "scheme": "por-risk",
    "version": 1,
    "quote": "USD",
    "value_decimals": 18,
    "assets": [
        {
            "symbol": "BTC",
            "decimals": 8,
            "price": "30000.5",
            "tiers": [
                {"up_to": "10000", "ratio": 100},
                {"up_to": "20000", "ratio": 50},
                {"up_to": "100000", "ratio": 10},
            ],
        },
        {
            "symbol": "ETH",
            "decimals": 18,
            "price": "2000",
            "tiers": [{"up_to": "50000", "ratio": 90}],
        },
        {
            "symbol": "USDX",
            "decimals": 18,
            "price": "1",
            "tiers": [{"up_to": "10000", "ratio": 100}, {"up_to": "20000", "ratio": 50}],
        },
    ],
}
Z = (0, 0, 0)
# user: per asset (equity, debt, collateral), in base units
ACCOUNTS: dict[str, list[tuple[int, int, int]]] = {
    "alice": [(100000000, 0, 100000000), (0, 5 * 10**18, 0), Z],  # 1 BTC backs 5 ETH of debt
    "bob": [Z, (2 * 10**18, 0, 0), Z],  # spot only
    "carol": [Z, Z, (B1, B1, B1)],  # exactly at the tier bound: covered
    "dave": [Z, Z, (5, 0, 0)],
}
ATTACKERS: dict[str, list[tuple[int, int, int]]] = {
    # A fake account: debt and no collateral, to shrink the net liabilities.
    "fake-account-debt-without-collateral": [Z, (0, 10**18, 0), Z],
    # Collateral pledged above what the user holds.
    "collateral-above-equity": [(0, 0, 100000000), (0, 10**18, 0), Z],
    # cv = b1 + 1: tier 2 (50%) applies, haircut b1; a prover that took b1 + 1 as still in
    # tier 1 would count b1 + 1 and cover a debt of b1 + 1.
    "tier-boundary-off-by-one": [Z, Z, (B1 + 1, B1 + 1, B1 + 1)],
    # cv = b1 + 3: floor gives b1 + 1, rounding up b1 + 2; the debt is b1 + 2.
    "haircut-rounded-up": [Z, Z, (B1 + 3, B1 + 2, B1 + 3)],
}


def _positions(ps: list[tuple[int, int, int]]) -> tuple[Any, ...]:
    from verifier.liabilities.mst import Position

    return tuple(Position(*p) for p in ps)


def _build(
    accounts: dict[str, list[tuple[int, int, int]]],
    risk: dict[str, Any] | None = None,
    skip_rule: bool = False,
    node_hasher: Callable[..., bytes] | None = None,
) -> Any:
    import rfc8785

    from por.liabilities import margin
    from verifier.liabilities.mst import Asset
    from verifier.liabilities.risk import RiskParams

    params = RiskParams.from_json(rfc8785.dumps(risk or RISK))
    accs = [margin.MarginAccount(u, _positions(ps)) for u, ps in accounts.items()]
    with (
        mock.patch.object(margin, "check_rule", lambda *a: None) if skip_rule else _null(),
        mock.patch.object(margin, "margin_node_hash", node_hasher) if node_hasher else _null(),
    ):
        return margin.build_margin_tree(
            ROUND, [Asset(s, d) for s, d in ASSETS], params, TEST_SECRET, accs
        )


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def _net_node_hash(lh: bytes, ls: bytes, rh: bytes, rs: bytes) -> bytes:
    """The flawed parent: binds only equity − debt per asset (clamped at 0 to fit u128)."""
    from verifier.liabilities.mst import decode_positions

    def net(raw: bytes) -> bytes:
        return b"".join(
            max(p.equity - p.debt, 0).to_bytes(16, "big") for p in decode_positions(raw)
        )

    return hashlib.sha256(b"POR-MRG-V1:NODE:" + lh + net(ls) + rh + net(rs)).digest()


def _vector(
    name: str, proof: dict[str, Any], root: bytes, expected: str, why: str
) -> dict[str, Any]:
    return {"name": name, "why": why, "proof": proof, "root": root.hex(), "expected": expected}


def generate() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    honest = _build(ACCOUNTS)
    vectors = []
    for user in ("alice", "bob", "carol"):
        vectors.append(
            _vector(
                f"valid-margin-proof-{user}",
                honest.prove(user).to_dict(),
                honest.root_hash,
                "verified",
                "an honest user's proof against the published root",
            )
        )
    for name, ps in ATTACKERS.items():
        tree = _build({**ACCOUNTS, "mallory": ps}, skip_rule=True)
        vectors.append(
            _vector(
                name,
                tree.prove("mallory").to_dict(),
                tree.root_hash,
                "failed",
                "the account's own rule fails (spec §15.6)",
            )
        )
    net = _build(ACCOUNTS, node_hasher=_net_node_hash)
    vectors.append(
        _vector(
            "parent-binds-only-net-sums",
            net.prove("alice").to_dict(),
            net.root_hash,
            "failed",
            "a tree whose parents bind equity - debt only; every parent must bind the"
            " children's equity, debt and collateral sums (spec §15.3)",
        )
    )
    replay = honest.prove("alice").to_dict()
    replay["risk"]["assets"][1]["price"] = "1000"  # ETH debt halved in value
    vectors.append(
        _vector(
            "proof-replayed-under-other-prices",
            replay,
            honest.root_hash,
            "failed",
            "the root binds the risk hash (spec §15.4); other prices give another root",
        )
    )
    unlisted = honest.prove("alice").to_dict()
    unlisted["risk"]["assets"] = unlisted["risk"]["assets"][:1] + unlisted["risk"]["assets"][2:]
    vectors.append(
        _vector(
            "debt-in-unlisted-asset",
            unlisted,
            honest.root_hash,
            "malformed",
            "the debt is in ETH, which the risk parameters do not price (spec §15.5)",
        )
    )
    # The same debt in a fourth asset the round does not list: positions count differs.
    extra = copy.deepcopy(honest.prove("alice").to_dict())
    extra["positions"].append({"equity": "0", "debt": "1", "collateral": "0"})
    vectors.append(
        _vector(
            "debt-in-asset-not-in-round",
            extra,
            honest.root_hash,
            "malformed",
            "a position beyond the round's asset list (spec §15.7)",
        )
    )
    return {
        "scheme": "por-mst-margin",
        "version": 1,
        "note": "generated by tests/support/margin_vectorgen.py with a PUBLIC test secret",
        "vectors": vectors,
    }


def render() -> str:
    return json.dumps(generate(), indent=1) + "\n"


if __name__ == "__main__":
    VECTORS.write_text(render())
