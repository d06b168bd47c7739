"""The headline's words: shortfalls in coin units (exact: only trailing zeros dropped), the
ratio rounded down to 0.1 % (never overstated), and the counting rule's reasons."""

from __future__ import annotations

from api.app import _not_counted, percent_short, trim_units


def test_shortfall_and_ratio_words() -> None:
    assert trim_units(1_230_000_000, 8) == "12.3"
    assert trim_units(1_200_000_000, 8) == "12"
    assert trim_units(1, 18) == "0.000000000000000001"
    assert trim_units(7, 0) == "7"
    assert percent_short("0.981999") == "98.1 %"  # rounded down, never up
    assert percent_short("0.999999") == "99.9 %"
    assert percent_short("1.000000") == "100.0 %"
    assert percent_short("12.5") == "1250.0 %"
    assert percent_short(None) == "—"


def test_not_counted_follows_the_attestation_rule() -> None:
    symbols = {"BTC", "ETH"}
    assert _not_counted("round", "node", "ETH", symbols) is None
    assert "reported by the exchange" in (_not_counted("round", "reported", "ETH", symbols)
                                          or "")
    assert "static message" in (_not_counted("static", "node", "ETH", symbols) or "")
    assert "does not list" in (_not_counted("round", "node", "SOL", symbols) or "")
