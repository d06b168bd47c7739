"""The API and the page over a published margin round (spec §13.6, §15): the round's
solvency lines set reserves against net liabilities with the equity, debt and collateral
totals beside them, as signed and as recomputed; ``risk.json`` is served, bound to the
root; a token opens the user's margin proof; the page explains why debt is subtracted;
and the round's verdict is the verifier's own bundle check's (api/source.check_bundle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from margin_attest_world import BTC, ETH, ServedMargin, served_margin

from api.app import Settings, create_app
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof


@pytest.fixture(scope="module")
def margin(tmp_path_factory: pytest.TempPathFactory) -> ServedMargin:
    return served_margin(tmp_path_factory.mktemp("margin-api"))


@pytest.fixture
def client(margin: ServedMargin) -> TestClient:
    settings = Settings(database_url=margin.database_url, rounds_dir=margin.rounds_dir,
                        keylist=margin.keylist, auditor_keys=(margin.auditor_key_file,),
                        proof_rate_per_minute=0)
    return TestClient(create_app(settings))


def test_round_shows_net_liabilities_with_totals(client: TestClient) -> None:
    with client:
        r = client.get("/api/v1/rounds/m1").json()
    assert r["liabilities"]["scheme"] == "por-mst-margin"
    assert r["liabilities"]["totals"][1] == {"equity": str(325 * BTC // 100),
                                             "debt": str(75 * BTC // 100),
                                             "collateral": str(3 * BTC)}
    signed = {s["symbol"]: s for s in r["attestation"]["solvency"]}
    computed = {s["symbol"]: s for s in r["solvency"]}
    assert signed == computed  # the signed lines are the recomputed ones
    eth, btc = signed["ETH"], signed["BTC"]
    assert (eth["liabilities"], eth["total_debt"], eth["status"]) == (
        str(70 * ETH), str(5 * ETH), "covered")
    assert (btc["liabilities"], btc["shortfall"], btc["status"]) == (
        str(250 * BTC // 100), str(250 * BTC // 100), "under-reserved")
    assert r["attestation"]["verdict"] == "verified", r["attestation"]["findings"]
    assert r["headline"]["state"] == "under-reserved"
    figures = next(c for c in r["headline"]["checks"] if c["name"] == "Figures")
    assert "risk.json" in figures["text"] and figures["status"] == "ok"
    assert r["links"]["risk"] == "/api/v1/rounds/m1/risk"


def test_risk_file_served_exactly(client: TestClient, margin: ServedMargin) -> None:
    with client:
        got = client.get("/api/v1/rounds/m1/risk")
        missing = client.get("/api/v1/rounds/nope/risk")
    assert got.status_code == 200 and got.content == margin.round.risk
    assert missing.status_code == 404


def test_token_opens_a_margin_proof(client: TestClient, margin: ServedMargin) -> None:
    with client:
        got = client.get(f"/api/v1/proofs/{margin.tokens['m-borrower-2']}")
    assert got.status_code == 200
    proof = MarginInclusionProof.from_json(got.content)
    report = verify_margin_proof(proof, expected_root=margin.round.summary.root_hash)
    MarginRootSummary.from_json(margin.round.root).check_proof(report)
    assert report.positions[1].debt == BTC // 2 and report.rule.covered


def test_page_explains_debt_and_lists_totals(client: TestClient) -> None:
    with client:
        html = client.get("/").text
    assert 'id="margin-note"' in html and 'id="margin-totals"' in html
    assert "so it is subtracted from what the exchange owes" in html
    assert "every debt is covered by the borrower's own collateral" in html
    assert "owed to users, net" in html


def test_swapped_risk_file_in_the_store_fails_the_page(margin: ServedMargin,
                                                       tmp_path: Path) -> None:
    # The server's own store altered: the page's verdict is the bundle check's, which fails
    # closed (risk-file), and the risk route serves nothing that is not bound to the root.
    import shutil

    from margin_attest_world import risk_bytes
    from sqlmodel import Session

    from por.store.db import open_store
    from por.store.models import RoundFile

    db = tmp_path / "copy.db"
    shutil.copy(margin.database_url.removeprefix("sqlite:///"), db)
    engine = open_store(f"sqlite:///{db}")
    try:
        with Session(engine) as session:
            row = session.get(RoundFile, ("m1", "risk"))
            assert row is not None
            row.content = risk_bytes(btc_price="90000")
            session.add(row)
            session.commit()
    finally:
        engine.dispose()
    settings = Settings(database_url=f"sqlite:///{db}", rounds_dir=margin.rounds_dir,
                        keylist=margin.keylist, auditor_keys=(margin.auditor_key_file,),
                        proof_rate_per_minute=0)
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/rounds/m1").json()
        risk = client.get("/api/v1/rounds/m1/risk")
    assert r["attestation"]["verdict"] == "failed"
    assert "risk-file" in {f["code"] for f in r["attestation"]["findings"]}
    assert r["headline"]["state"] == "failed"
    assert risk.status_code == 404
