"""The headline's words: shortfalls in coin units (exact: only trailing zeros dropped), the
ratio rounded down to 0.1 % (never overstated), and the counting rule's reasons."""

from __future__ import annotations

from pathlib import Path

from api_world import build_world
from fastapi.testclient import TestClient

from api.app import Settings, _not_counted, create_app, percent_short, trim_units


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


def test_rounds_not_attested_yet_say_so(tmp_path: Path) -> None:
    # Round directories only, no store: nothing is signed, so nothing is called covered.
    world = build_world(tmp_path, None)
    settings = Settings(rounds_dir=world.rounds_dir, keylist=world.keylist,
                        proof_rate_per_minute=0)
    with TestClient(create_app(settings)) as client:
        rounds = client.get("/api/v1/rounds").json()["rounds"]
        assert [r["headline"]["state"] for r in rounds] == ["not-attested", "not-attested"]
        assert rounds[0]["headline"]["title"] == "Not attested yet"
        html = client.get("/").text
        assert 'data-state="not-attested"' in html and "Not attested yet" in html
        assert 'data-source="files"' in html
    with TestClient(create_app(Settings(proof_rate_per_minute=0))) as client:
        assert "No round published yet" in client.get("/").text
