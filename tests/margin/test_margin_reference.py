"""The margin builder and verifier against the slow reference (tests/support), on random
rounds (Hypothesis): same root, same totals, same verdict of the per-user rule."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from margin_reference import ref_haircut, ref_margin_tree, ref_rule

from por.errors import InputError
from por.liabilities.margin import MarginAccount, build_margin_tree, padded_size
from verifier.liabilities.mst import Asset, Position
from verifier.liabilities.proof import verify_margin_proof
from verifier.liabilities.risk import RiskParams, Tier, evaluate_rule, haircut

SECRET = bytes(range(32))
ASSETS = [("AAA", 2), ("BBB", 0), ("CCC", 4)]


def _tiers() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(
        st.tuples(st.integers(1, 5000), st.integers(0, 100)), min_size=0, max_size=4
    ).map(
        lambda steps: [
            {"up_to": str(sum(s for s, _ in steps[: i + 1])), "ratio": r}
            for i, (_, r) in enumerate(steps)
        ]
    )


def _risk() -> st.SearchStrategy[dict[str, Any]]:
    prices = st.integers(1, 10**6).map(lambda p: str(p) if p % 3 else f"{p // 3}.5")
    return st.tuples(prices, prices, prices, _tiers(), _tiers(), _tiers()).map(
        lambda t: {
            "scheme": "por-risk",
            "version": 1,
            "quote": "USD",
            "value_decimals": 6,
            "assets": [
                {"symbol": s, "decimals": d, "price": t[i], "tiers": t[3 + i]}
                for i, (s, d) in enumerate(ASSETS)
            ],
        }
    )


POSITION = st.tuples(st.integers(0, 10**6), st.integers(0, 10**5), st.integers(0, 100)).map(
    lambda t: (t[0], t[1], t[0] * t[2] // 100)
)
ACCOUNTS = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=6),
    st.lists(POSITION, min_size=3, max_size=3),
    min_size=1,
    max_size=9,
)


@settings(max_examples=60, deadline=None)
@given(risk=_risk(), accounts=ACCOUNTS)
def test_builder_and_rule_match_the_reference(
    risk: dict[str, Any], accounts: dict[str, list[tuple[int, int, int]]]
) -> None:
    params = RiskParams.from_json(rfc8785.dumps(risk))
    for ps in accounts.values():
        rule = evaluate_rule(params, [Position(*p) for p in ps])
        coll, debt, ok = ref_rule(risk, ps)
        assert (rule.collateral_value, rule.debt_value, rule.covered) == (coll, debt, ok)
    solvent = {u: ps for u, ps in accounts.items() if ref_rule(risk, ps)[2]}
    if not solvent:
        return
    tree = build_margin_tree(
        "r1",
        [Asset(s, d) for s, d in ASSETS],
        params,
        SECRET,
        [MarginAccount(u, tuple(Position(*p) for p in ps)) for u, ps in solvent.items()],
    )
    ref = ref_margin_tree("r1", ASSETS, risk, solvent, SECRET, padded_size(len(solvent), None))
    assert tree.root_hash == ref["root_hash"]
    assert [(p.equity, p.debt, p.collateral) for p in tree.totals] == ref["totals"]
    for user in solvent:
        verify_margin_proof(tree.prove(user), expected_root=ref["root_hash"])


@given(
    cv=st.integers(0, 10**6),
    steps=st.lists(st.tuples(st.integers(1, 10**5), st.integers(0, 100)), max_size=6),
)
def test_haircut_matches_the_reference(cv: int, steps: list[tuple[int, int]]) -> None:
    bounds = [sum(s for s, _ in steps[: i + 1]) for i in range(len(steps))]
    tiers = [(b, r) for b, (_, r) in zip(bounds, steps, strict=True)]
    assert haircut(cv, [Tier(b, r) for b, r in tiers]) == ref_haircut(cv, tiers)


def test_under_water_account_is_refused_with_both_sides() -> None:
    risk: dict[str, Any] = {
        "scheme": "por-risk",
        "version": 1,
        "quote": "USD",
        "value_decimals": 4,
        "assets": [
            {
                "symbol": s,
                "decimals": d,
                "price": "1",
                "tiers": [{"up_to": "1000000", "ratio": 100}],
            }
            for s, d in ASSETS
        ],
    }
    params = RiskParams.from_json(rfc8785.dumps(risk))
    accounts = [
        MarginAccount("ok", (Position(10, 0, 10), Position(0, 0, 0), Position(0, 0, 0))),
        MarginAccount("sunk", (Position(0, 0, 0), Position(0, 3, 0), Position(0, 0, 0)), "line 3"),
    ]
    with pytest.raises(InputError) as err:
        build_margin_tree("r1", [Asset(s, d) for s, d in ASSETS], params, SECRET, accounts)
    assert "line 3" in str(err.value) and "'sunk'" in str(err.value)
    assert "haircut collateral value 0 < debt value 30000" in str(err.value)
