"""The API and the page over a published private round (spec §13.7, §16): the round's
root.json (scheme por-mst-private, unit exponents, blindings, L), its solvency lines with
each asset's committed total and unit exponent beside the liabilities (committed total x
10^e), the attestation (version 4) judged by the verifier's own bundle check, and the page
saying what a user's proof reveals for the round's L. Real private trees (wallycore), a
real EVM in process, the store on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from attest_helpers import make_world
from fastapi.testclient import TestClient
from private_attest_world import PrivateRound, published_private

from api.app import Settings, create_app
from verifier.attestation.bundle import read_bundle


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PrivateRound, PrivateRound]:
    tmp = tmp_path_factory.mktemp("private-api")
    w = make_world(tmp)
    _, full, _ = published_private(tmp, round_id="p1", day=0, world=w)
    _, hybrid, _ = published_private(tmp, round_id="p2", day=1, world=w, hidden_levels=1)
    (tmp / "rounds").mkdir()
    return tmp, full, hybrid


@pytest.fixture
def client(served: tuple[Path, PrivateRound, PrivateRound]) -> TestClient:
    tmp = served[0]
    settings = Settings(database_url=f"sqlite:///{tmp / 'por.db'}", rounds_dir=tmp / "rounds",
                        keylist=tmp / "keylist.json", auditor_keys=(tmp / "auditor.pub.json",),
                        proof_rate_per_minute=0)
    return TestClient(create_app(settings))


def test_private_round_served_with_its_figures(client: TestClient,
                                               served: tuple[Path, PrivateRound, PrivateRound]
                                               ) -> None:
    _, full, _ = served
    with client:
        r = client.get("/api/v1/rounds/p1").json()
        raw = client.get("/api/v1/rounds/p1/liabilities-root")
    assert raw.status_code == 200 and raw.content == full.root_bytes
    lia = r["liabilities"]
    assert lia["scheme"] == "por-mst-private" and lia["version"] == 1
    assert "hidden_levels" not in lia and len(lia["blindings"]) == 2
    assert [a["unit_exponent"] for a in lia["assets"]] == [a.unit_exponent
                                                           for a in full.root.assets]
    assert r["attestation"]["verdict"] == "verified", r["attestation"]["findings"]
    computed = {s["symbol"]: s for s in r["solvency"]}
    for line in r["attestation"]["solvency"]:
        mine = dict(computed[line["symbol"]])
        asset = next(a for a in full.root.assets if a.symbol == line["symbol"])
        total = full.root.totals[full.root.assets.index(asset)]
        assert (mine.pop("committed_total"), mine.pop("unit_exponent")) == (
            str(total), asset.unit_exponent)
        assert mine == line  # the signed line is the recomputed one
        assert int(line["liabilities"]) == total * 10**asset.unit_exponent
    assert r["privacy"] == {"scheme_version": 1, "hidden_levels": None, "levels": 3,
                            "reveals": full.root.reveals()}
    assert r["headline"]["state"] == "under-reserved"  # BTC has no wallet


def test_hybrid_round_and_page_say_what_a_proof_reveals(client: TestClient) -> None:
    with client:
        r = client.get("/api/v1/rounds/p2").json()
        page = client.get("/rounds/p2").text
        full_page = client.get("/rounds/p1").text
    assert r["liabilities"]["version"] == 2 and r["liabilities"]["hidden_levels"] == 1
    assert r["privacy"]["hidden_levels"] == 1 and "hybrid, L = 1" in r["privacy"]["reveals"]
    assert 'id="private-totals"' in page and "Hybrid, L = 1" in page
    assert "groups of 2 accounts or more" in page
    assert "Full hiding" in full_page and 'data-hidden-levels="all"' in full_page


def test_the_private_bundle_is_served(client: TestClient) -> None:
    with client:
        got = client.get("/api/v1/rounds/p1/bundle")
    assert got.status_code == 200


def test_without_the_private_library_the_round_fails_closed(
        monkeypatch: pytest.MonkeyPatch, served: tuple[Path, PrivateRound, PrivateRound]) -> None:
    # A server installed without the [private] extra cannot recompute a private root: the
    # import error is simulated (the library is installed here), and the verdict fails.
    import api.source as source

    def no_library(*_args: object, **_kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'wallycore'", name="wallycore")

    tmp = served[0]
    monkeypatch.setattr(source, "verify_bundle", no_library)
    check = source.check_bundle(read_bundle(tmp / "bundle-p1"), ())
    assert check.verdict == source.VERDICT_FAILED
    assert "wallycore is not installed" in check.findings[0].message
