"""The streaming margin build (por.liabilities.build.build_margin) against the
in-memory reference builder (por.liabilities.margin.build_margin_tree): the same tree.bin, root.json
and risk.json byte for byte, on random rounds (Hypothesis) in every snapshot form, in many
buckets and in two worker processes; the same refusal, word for word, for an account under
water; and the 128-bit first pass of the rule (C) never clears a user the exact rule
refuses."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from margin_vectorgen import ACCOUNTS as VECTOR_ACCOUNTS
from margin_vectorgen import ASSETS as VECTOR_ASSETS
from margin_vectorgen import RISK as VECTOR_RISK
from margin_vectorgen import ROUND as VECTOR_ROUND
from margin_vectorgen import TEST_SECRET as VECTOR_SECRET
from snapshots import units

from por.errors import InputError, VerificationError
from por.liabilities import buckets
from por.liabilities import snapshot as snapshot_mod
from por.liabilities.build import build_margin, build_tree
from por.liabilities.margin import build_margin_tree, read_margin_snapshot, write_margin_round
from verifier.liabilities.mst import MAX_AMOUNT, Asset, Position, encode_positions
from verifier.liabilities.risk import RiskParams, check_rule

SECRET = bytes(range(32))
ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
ASSET_OBJS = tuple(Asset(s, d) for s, d in ASSETS)
FORMS = ("equity,debt", "equity,debt,collateral", "amount")
Triple = tuple[int, int, int]


def _risk(prices: tuple[str, str, str] = ("30000.5", "2000", "1"),
          ratios: tuple[int, int] = (100, 50)) -> RiskParams:
    return RiskParams.from_json(rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 24,
        "assets": [
            {"symbol": s, "decimals": d, "price": p,
             "tiers": [{"up_to": "10000", "ratio": ratios[0]},
                       {"up_to": "1000000", "ratio": ratios[1]}]}
            for (s, d), p in zip(ASSETS, prices, strict=True)
        ],
    }))


def write_margin_csv(path: Path, accounts: dict[str, list[Triple]], form: str,
                     assets: list[tuple[str, int]] = ASSETS, shuffle: int | None = None) -> Path:
    """Rows of ``accounts`` in one of the snapshot forms of spec §15.11 (zero rows left out)."""
    rows = []
    for user, positions in accounts.items():
        for (symbol, dec), (e, d, c) in zip(assets, positions, strict=True):
            if form == "amount":
                if (e, d, c) != (0, 0, 0):
                    rows.append([user, symbol, units(e, dec) if e else "-" + units(d, dec)])
            elif form == "equity,debt":
                rows.append([user, symbol, units(e, dec), units(d, dec)])
            elif (e, d, c) != (0, 0, 0):
                rows.append([user, symbol, units(e, dec), units(d, dec), units(c, dec)])
    if shuffle is not None:
        random.Random(shuffle).shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["user_id", "asset", *form.split(",")])
        writer.writerows(rows)
    return path


def reference_round(snapshot: Path, risk: RiskParams, out: Path, pad_to: int | None = None,
                    assets: tuple[Asset, ...] = ASSET_OBJS, round_id: str = "m-1",
                    secret: bytes = SECRET) -> None:
    accounts = read_margin_snapshot(snapshot, assets)
    tree = build_margin_tree(round_id, assets, risk, secret, accounts, pad_to)
    write_margin_round(tree, out)


def same_files(a: Path, b: Path) -> None:
    for name in ("tree.bin", "root.json", "risk.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _fits(form: str) -> Any:
    """Positions that the form can state: a signed amount is (x, 0, x) or (0, y, 0)."""
    amount = st.integers(0, 10**12)
    if form == "amount":
        return st.one_of(amount.map(lambda x: (x, 0, x)), amount.map(lambda y: (0, y, 0)))
    if form == "equity,debt":
        return st.tuples(amount, amount).map(lambda t: (t[0], t[1], t[0]))
    return st.tuples(amount, amount, st.integers(0, 100)).map(
        lambda t: (t[0], t[1], t[0] * t[2] // 100))


@st.composite
def rounds(draw: Any) -> tuple[str, dict[str, list[Triple]]]:
    form = draw(st.sampled_from(FORMS))
    accounts = draw(st.dictionaries(st.text("abcdefgh-", min_size=1, max_size=6),
                                    st.lists(_fits(form), min_size=3, max_size=3),
                                    min_size=1, max_size=25))
    return form, accounts


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=rounds(), shuffle=st.integers(0, 3), many=st.booleans())
def test_streaming_build_matches_the_reference_byte_for_byte(
    case: tuple[str, dict[str, list[Triple]]], shuffle: int, many: bool, tmp_path_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    form, accounts = case
    risk = _risk()
    solvent = {u: ps for u, ps in accounts.items()
               if _holds(risk, ps) and any(p != (0, 0, 0) for p in ps)}
    if not solvent:
        return
    tmp = tmp_path_factory.mktemp("m")
    snap = write_margin_csv(tmp / "s.csv", solvent, form, shuffle=shuffle)
    pad = 64 if many else None
    reference_round(snap, risk, tmp / "ref", pad)
    if many:  # small batches and buckets: users' rows are merged across batches
        monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 7)
    build_margin(snap, ASSET_OBJS, risk, "m-1", SECRET, tmp / "new", workers=1, pad_to=pad,
                 memory=(1 << 20) if many else 3 << 30)
    same_files(tmp / "ref", tmp / "new")


def _holds(risk: RiskParams, positions: list[Triple]) -> bool:
    try:
        check_rule(risk, [Position(*p) for p in positions], "u")
    except VerificationError:
        return False
    return True


def test_two_workers_many_buckets_and_parquet_match_the_reference(tmp_path: Path) -> None:
    rng = random.Random(7)
    accounts = {}
    for i in range(6000):
        btc = 10**8 + rng.randrange(10**9)
        debt = rng.randrange(10**18) if i % 3 else 0  # ETH debt well inside BTC's haircut
        accounts[f"user-{i}"] = [(btc, 0, btc), (rng.randrange(10**19), debt, 0),
                                 (rng.randrange(10**8), rng.randrange(2), 0)]
    risk = _risk()
    snap = write_margin_csv(tmp_path / "s.csv", accounts, "equity,debt,collateral", shuffle=1)
    reference_round(snap, risk, tmp_path / "ref")
    build_margin(snap, ASSET_OBJS, risk, "m-1", SECRET, tmp_path / "new", workers=2,
                 memory=1 << 20)
    info = json.loads((tmp_path / "new/build-info.json").read_text())
    assert info["buckets"] > 1 and info["workers"] == 2 and info["scheme"] == "por-mst-margin"
    same_files(tmp_path / "ref", tmp_path / "new")
    table = pa.csv.read_csv(snap, convert_options=pa.csv.ConvertOptions(
        column_types=dict.fromkeys(["user_id", "asset", "equity", "debt", "collateral"],
                                   pa.string())))
    pq.write_table(table, tmp_path / "s.parquet")
    build_margin(tmp_path / "s.parquet", ASSET_OBJS, risk, "m-1", SECRET, tmp_path / "pq",
                 workers=2)
    same_files(tmp_path / "ref", tmp_path / "pq")


def test_the_vector_round_rebuilds_to_the_committed_root(tmp_path: Path) -> None:
    """The honest round of tests/vectors/margin.json, streamed: the committed root."""
    assets = tuple(Asset(s, d) for s, d in VECTOR_ASSETS)
    risk = RiskParams.from_json(rfc8785.dumps(VECTOR_RISK))
    snap = write_margin_csv(tmp_path / "s.csv", VECTOR_ACCOUNTS, "equity,debt,collateral",
                            assets=VECTOR_ASSETS)
    result = build_margin(snap, assets, risk, VECTOR_ROUND, VECTOR_SECRET, tmp_path / "r")
    vectors = json.loads((Path(__file__).parents[1] / "vectors/margin.json").read_text())
    valid = next(v for v in vectors["vectors"] if v["name"] == "valid-margin-proof-alice")
    assert result.summary.root_hash.hex() == valid["root"]


def _refusal(fn: Any) -> tuple[type, str]:
    with pytest.raises((InputError, VerificationError)) as err:
        fn()
    return type(err.value), str(err.value)


@pytest.mark.parametrize("bad", [
    # under water, on its first line (its second row is later): exit 1
    ("sunk", [(0, 0, 0), (0, 10**18, 0), (5, 0, 5)]),
    # collateral above equity: malformed input, exit 2, as the reference says it
    ("greedy", [(10, 0, 11), (0, 0, 0), (0, 0, 0)]),
])
def test_refusals_match_the_reference_word_for_word(bad: tuple[str, list[Triple]],
                                                    tmp_path: Path) -> None:
    from por.liabilities.margin import run_margin_build, run_margin_build_in_memory

    rng = random.Random(3)
    accounts = {f"u{i}": [(rng.randrange(10**8), 0, 0), (0, 0, 0), (rng.randrange(10**6), 0, 0)]
                for i in range(40)}
    user, positions = bad
    accounts[user] = positions
    accounts["later-sunk"] = [(0, 0, 0), (0, 1, 0), (0, 0, 0)]
    snap = write_margin_csv(tmp_path / "s.csv", accounts, "equity,debt,collateral")
    (tmp_path / "a.json").write_text(json.dumps([{"symbol": s, "decimals": d}
                                                 for s, d in ASSETS]))
    (tmp_path / "risk.json").write_bytes(_risk().canonical)
    args = (tmp_path / "a.json", tmp_path / "risk.json", "m-1")
    ref = _refusal(lambda: run_margin_build_in_memory(snap, *args, tmp_path / "ref", SECRET))
    new = _refusal(lambda: run_margin_build(snap, *args, tmp_path / "new", SECRET, workers=1))
    assert new == ref
    line = next(n for n, text in enumerate(snap.read_text().splitlines(), start=1)
                if text.startswith(f"{user},"))
    assert f"'{user}'" in new[1] and f"line {line}:" in new[1]
    assert new[0] is (VerificationError if user == "sunk" else InputError)
    assert not (tmp_path / "new").exists() and not (tmp_path / "ref").exists()


@pytest.mark.parametrize(("form", "row", "message"), [
    ("equity,debt", "u,BTC,-1,0", "line 3, column equity: '-1' is negative"),
    ("equity,debt", "u,BTC,1,0.000000001", "line 3, column debt: 0.000000001 has 9 decimals,"
     " BTC allows 8"),
    ("equity,debt,collateral", "u,DOGE,1,0,0", "line 3, column asset: unknown asset 'DOGE'"),
    ("amount", "u,BTC,-", "line 3, column amount: '-' is not a plain decimal number"),
    ("amount", "u,BTC,--1", "line 3, column amount: '--1' is not a plain decimal number"),
    ("amount", "u0,BTC,2", "line 3: duplicate row for user 'u0' and asset BTC (first at"
     " line 2)"),
])
def test_bad_rows_are_named_by_line_and_column(form: str, row: str, message: str,
                                               tmp_path: Path) -> None:
    good = {"equity,debt": "u0,BTC,1,0", "equity,debt,collateral": "u0,BTC,1,0,1",
            "amount": "u0,BTC,1"}[form]
    snap = tmp_path / "s.csv"
    snap.write_text(f"user_id,asset,{form}\n{good}\n{row}\n")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_margin(snap, ASSET_OBJS, _risk(), "m-1", SECRET, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_a_spot_header_is_refused_for_a_margin_round_and_the_reverse(tmp_path: Path) -> None:
    snap = tmp_path / "s.csv"
    snap.write_text("user_id,asset,equity\nu,BTC,1\n")
    with pytest.raises(InputError, match="equity, debt"):
        build_margin(snap, ASSET_OBJS, _risk(), "m-1", SECRET, tmp_path / "o")
    snap.write_text("user_id,asset,equity,debt\nu,BTC,1,0\n")
    with pytest.raises(InputError, match="expected exactly the columns user_id, asset, amount"):
        build_tree(snap, ASSET_OBJS, "m-1", SECRET, tmp_path / "o")


POSITION = st.one_of(
    st.tuples(st.integers(0, 10**20), st.integers(0, 10**20), st.integers(0, 10**20)),
    st.tuples(*[st.integers(MAX_AMOUNT - 10**6, MAX_AMOUNT)] * 3),
    st.tuples(st.integers(0, MAX_AMOUNT), st.integers(0, MAX_AMOUNT),
              st.integers(0, MAX_AMOUNT)),
)


@settings(max_examples=300, deadline=None)
@given(users=st.lists(st.lists(POSITION, min_size=3, max_size=3), min_size=1, max_size=20),
       prices=st.tuples(*[st.sampled_from(["1", "0.000001", "30000.5", "7", "1" + "0" * 30])]
                        * 3),
       ratios=st.tuples(st.integers(0, 100), st.integers(0, 100)))
def test_first_pass_never_clears_a_user_the_exact_rule_refuses(
    users: list[list[Triple]], prices: tuple[str, str, str], ratios: tuple[int, int]
) -> None:
    risk = _risk(prices, ratios)
    sums = np.frombuffer(b"".join(encode_positions([Position(*p) for p in ps]) for ps in users),
                         np.uint8).reshape(len(users), -1)
    native_candidates = set(buckets.rule_candidates(risk.canonical, sums).tolist())
    python_candidates = set(buckets.rule_candidates_python(sums, 3).tolist())
    for i, ps in enumerate(users):
        if not _holds(risk, ps):
            assert i in native_candidates and i in python_candidates
    rows = np.arange(len(users), dtype=np.int64)[::-1].copy()
    failing = [i for i, ps in enumerate(users) if not _holds(risk, ps)]
    found = buckets.first_under_water(risk.canonical, sums, rows)
    if failing:
        last = max(failing)  # rows run backwards: the last index has the earliest row
        assert found == (int(rows[last]), bytes(sums[last]))
    else:
        assert found is None


@pytest.mark.skipif(buckets.native is None, reason="por._fasthash not built")
def test_first_pass_clears_covered_users_natively() -> None:
    risk = _risk()
    ok = [Position(10**8, 0, 10**8), Position(0, 10**18, 0), Position(0, 0, 0)]
    sums = np.frombuffer(encode_positions(ok) * 3, np.uint8).reshape(3, -1)
    assert buckets.rule_candidates(risk.canonical, sums).tolist() == []
    assert buckets.rule_candidates_python(sums, 3).tolist() == [0, 1, 2]


def test_a_debt_value_past_128_bits_is_not_wrapped_into_cover() -> None:
    """A debt whose value is just past 2^128 value units would, in wrapping 128-bit
    arithmetic, be worth less than one price unit, and a small collateral would seem to
    cover it: the first pass must leave the user to the exact rule, which refuses."""
    risk = _risk(prices=("1", "2000", "1"))
    price = risk.assets[0].price_units
    debt = -(-(1 << 128) // price)  # debt x price = 2^128 + (less than one price unit)
    assert (debt * price) % (1 << 128) < price
    user = [Position(0, debt, 0), Position(0, 0, 0), Position(10**6, 0, 10**6)]
    assert not _holds(risk, [(p.equity, p.debt, p.collateral) for p in user])
    sums = np.frombuffer(encode_positions(user), np.uint8).reshape(1, -1)
    assert buckets.rule_candidates(risk.canonical, sums).tolist() == [0]
    assert buckets.first_under_water(risk.canonical, sums, np.zeros(1, np.int64)) is not None


@pytest.mark.skipif(buckets.native is None, reason="por._fasthash not built")
@pytest.mark.parametrize("btc", [10**8, 3 * 10**8 + 7, 12345678901])
def test_first_pass_decides_the_last_covered_debt_unit_exactly(btc: int) -> None:
    """At the boundary of cover, where the haircut's rounding (x / 100 of a value past 64
    bits) decides: the largest debt the exact rule accepts is cleared by the 128-bit first
    pass, and one base unit more is left to the exact rule. value_decimals 18 and ETH at
    1: a base unit of ETH debt is one value unit, the haircut's own resolution."""
    risk = RiskParams.from_json(rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 18,
        "assets": [
            {"symbol": s, "decimals": d, "price": p,
             "tiers": [{"up_to": "10000", "ratio": 100}, {"up_to": "1000000", "ratio": 37}]}
            for (s, d), p in zip(ASSETS, ("30000.5", "1", "1"), strict=True)
        ],
    }))
    assert risk.assets[1].price_units == 1

    def user(debt: int) -> list[Triple]:
        return [(btc, 0, btc), (0, debt, 0), (0, 0, 0)]

    low, high = 0, 10**40  # the exact rule holds at low and fails at high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _holds(risk, user(mid)) else (low, mid)
    for debt, want in ((low, []), (high, [0])):
        sums = np.frombuffer(encode_positions([Position(*p) for p in user(debt)]),
                             np.uint8).reshape(1, -1)
        assert buckets.rule_candidates(risk.canonical, sums).tolist() == want


@pytest.mark.skipif(buckets.native is None, reason="por._fasthash not built")
def test_first_pass_stops_summing_collateral_once_the_debt_is_covered() -> None:
    """The haircut collateral is summed asset by asset only until it covers the debt: a
    later asset whose value would not fit in 128 bits no longer sends a covered user to
    the exact rule (which agrees that the user is covered)."""
    risk = _risk()
    huge = 10**21  # USDT base units: x 10^18 value units a unit is past 2^128
    assert huge * risk.assets[2].price_units > MAX_AMOUNT
    user = [(10**8, 0, 10**8), (0, 10**18, 0), (huge, 0, huge)]
    assert _holds(risk, user)
    sums = np.frombuffer(encode_positions([Position(*p) for p in user]), np.uint8).reshape(1, -1)
    assert buckets.rule_candidates(risk.canonical, sums).tolist() == []
    uncovered = [(10**8, 0, 10**8), (0, 10**22, 0), (huge, 0, huge)]  # USDT would cover it
    sums = np.frombuffer(encode_positions([Position(*p) for p in uncovered]),
                         np.uint8).reshape(1, -1)
    assert buckets.rule_candidates(risk.canonical, sums).tolist() == [0]
