"""The risk parameters file (spec §15.5): strict, canonical, exact; and Binance's sample
user recomputed with the haircut rule of spec §15.6."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from verifier.errors import FormatError
from verifier.liabilities.risk import RiskParams, Tier, haircut

DATA = Path(__file__).parents[1] / "data" / "binance_margin"
GOOD: dict[str, Any] = {
    "scheme": "por-risk",
    "version": 1,
    "quote": "USD",
    "value_decimals": 16,
    "assets": [
        {
            "symbol": "BTC",
            "decimals": 8,
            "price": "65100.22",
            "tiers": [{"up_to": "10000", "ratio": 100}, {"up_to": "20000", "ratio": 90}],
        },
        {"symbol": "SHIB", "decimals": 8, "price": "0.00001797", "tiers": []},
    ],
}


def test_canonical_file_parses_and_hash_is_of_its_bytes() -> None:
    raw = rfc8785.dumps(GOOD)
    params = RiskParams.from_json(raw)
    assert params.canonical == raw
    assert params.assets[0].price_units == 6510022000000
    assert params.assets[1].price_units == 1797
    assert params.assets[0].tiers[0] == Tier(10000 * 10**16, 100)


def _mutated(change: Any) -> bytes:
    obj = copy.deepcopy(GOOD)
    change(obj)
    return rfc8785.dumps(obj)


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(GOOD, indent=1).encode(),  # not canonical
        rfc8785.dumps(GOOD) + b"\n",  # trailing newline: other bytes, other hash
        _mutated(lambda o: o.update(extra=1)),
        _mutated(lambda o: o["assets"][0].update(price="65100.220")),  # trailing zero
        _mutated(lambda o: o["assets"][0].update(price="1e3")),
        _mutated(lambda o: o["assets"][0].update(price="-1")),
        _mutated(lambda o: o["assets"][0].update(price="0")),
        _mutated(lambda o: o["assets"][1].update(price="0.000000001")),  # finer than exact
        _mutated(lambda o: o["assets"][0]["tiers"][1].update(up_to="10000")),  # not increasing
        _mutated(lambda o: o["assets"][0]["tiers"][1].update(ratio=101)),
        _mutated(lambda o: o["assets"][0].update(decimals=17)),  # above value_decimals
        _mutated(lambda o: o.update(version=2)),
        _mutated(lambda o: o["assets"].append(copy.deepcopy(o["assets"][0]))),
    ],
)
def test_malformed_risk_files_are_refused(raw: bytes) -> None:
    with pytest.raises(FormatError):
        RiskParams.from_json(raw)


def test_float_price_is_refused() -> None:
    with pytest.raises(FormatError):
        RiskParams.from_json(rfc8785.dumps(GOOD).replace(b'"65100.22"', b"65100.22"))


def _binance_tiers(text: str) -> list[Tier]:
    out = []
    for part in filter(None, text.strip("[]").split(",")):
        bounds, ratio = part.split(":")
        out.append(Tier(int(bounds.split("-")[1]) * 10**16, int(ratio)))
    return out


def test_binance_sample_user_is_recomputed() -> None:
    """Binance's sample user (src/verifier/config/user_config.json) against its sample
    asset table (src/sampledata/cex_assets_info.csv): prices and amounts at 8 decimals, so
    values in 10^-16 USD and tier bounds × 10^16.

    TotalCollateral (Σ over assets and the three collateral kinds of the tiered haircut)
    matches exactly. TotalEquity and TotalDebt match exactly only with SHIB priced at
    1797000000 (17.97 USD), not the table's 0.00001797 (1797): the sample was made with
    a SHIB price 10^6 times the table's. SHIB has no tiers, so the collateral is unaffected.
    """
    user = json.loads((DATA / "src_verifier_config_user_config.json").read_text())
    rows = list(csv.DictReader((DATA / "src_sampledata_cex_assets_info.csv").open()))
    params = RiskParams.from_obj(
        {
            "scheme": "por-risk",
            "version": 1,
            "quote": "USD",
            "value_decimals": 16,
            "assets": [
                {
                    "symbol": r["symbol"].upper(),
                    "decimals": 8,
                    "price": r["usdt_price"].rstrip("0").rstrip("."),
                    "tiers": [],
                }
                for r in rows
            ],
        }
    )
    equity = debt = collateral = 0
    for asset, row, risk in zip(user["Assets"], rows, params.assets, strict=True):
        equity += risk.value(asset["Equity"])
        debt += risk.value(asset["Debt"])
        for kind, column in (
            ("Loan", "loan_tiers_ratio"),
            ("Margin", "margin_tiers_ratio"),
            ("PortfolioMargin", "portfolio_tiers_ratio"),
        ):
            collateral += haircut(risk.value(asset[kind]), _binance_tiers(row[column]))
    assert collateral == user["TotalCollateral"] == 4861152676874104600000
    shib = user["Assets"][3]
    correction = 1797000000 - params.assets[3].price_units
    assert equity + shib["Equity"] * correction == user["TotalEquity"]
    assert debt + shib["Debt"] * correction == user["TotalDebt"]
    assert equity != user["TotalEquity"]  # the mismatch stated above, kept visible
