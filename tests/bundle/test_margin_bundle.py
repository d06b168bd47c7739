"""A margin round's attestation (version 3) and bundle (spec §13.6): ``por attest sign
--risk`` sets each asset's reserves against its net liabilities (total equity − total
debt) with the totals beside them; ``por publish`` puts ``risk.json`` in the bundle;
``por-verify bundle`` recomputes every figure from the margin ``root.json`` and the risk
file its root binds, and checks a user's margin proof. Spot rounds keep version 2.

Reserves are read from a real EVM (py-evm in process) through the reader protocol.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from attest_helpers import World, build_round, make_world
from click.testing import CliRunner
from margin_attack_bundle import published
from margin_attest_world import BTC, ETH, MarginRound

from por.attest.rounds import new_round, sign_round
from por.cli import main as por_main
from por.errors import UsageError
from por.store.db import open_store
from verifier.attestation.bundle import (
    ATTESTATION_FILE,
    RISK_FILE,
    BundleOptions,
    BundleReport,
    read_bundle,
    verify_bundle,
)
from verifier.attestation.model import ATTESTATION_MARGIN_VERSION, ATTESTATION_VERSION
from verifier.cli import main as verify_main
from verifier.errors import VerificationError
from verifier.signed.envelope import SignedDocument

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path, MarginRound]:
    tmp = tmp_path_factory.mktemp("margin-bundles")
    w, r, _ = published(tmp)
    (tmp / "proof-m-borrower-2.json").write_text(r.proof.to_json())
    return w, tmp, r


def check(w: World, directory: Path, **changes: object) -> BundleReport:
    options: dict[str, object] = {"readers": w.readers, "auditors": (w.auditor_key.public,),
                                  "pinned_key_id": w.exchange_key.public.key_id, "now": NOW}
    options.update(changes)
    return verify_bundle(read_bundle(directory), BundleOptions(**options))  # type: ignore[arg-type]


def test_margin_bundle_verifies_on_net_liabilities(
        world: tuple[World, Path, MarginRound]) -> None:
    w, tmp, r = world
    payload = json.loads(SignedDocument.from_json(
        (tmp / "bundle-m1" / ATTESTATION_FILE).read_bytes()).payload)
    assert payload["version"] == ATTESTATION_MARGIN_VERSION
    assert payload["liabilities"]["scheme"] == "por-mst-margin"
    assert payload["liabilities"]["risk_hash"] == r.summary.risk_hash.hex()
    assert (tmp / "bundle-m1" / RISK_FILE).read_bytes() == r.risk
    report = check(w, tmp / "bundle-m1", user_proof=r.proof)
    assert report.ok, report.findings
    eth, btc = report.solvency
    # ETH: 75 owed, 5 lent out: 70 net, against the wallets' 105.
    assert eth.margin is not None and btc.margin is not None
    assert (eth.margin.equity, eth.margin.debt, eth.liabilities) == (75 * ETH, 5 * ETH, 70 * ETH)
    assert eth.margin.collateral == 75 * ETH  # every ETH holding is pledged
    assert (eth.reserves, eth.status, eth.surplus, eth.ratio) == (
        105 * ETH, "covered", 35 * ETH, "1.500000")
    # BTC: 3.25 owed, 0.75 lent out: 2.5 net, no wallet: short by all of it.
    assert (btc.margin.equity, btc.margin.debt, btc.liabilities) == (
        325 * BTC // 100, 75 * BTC // 100, 250 * BTC // 100)
    assert (btc.status, btc.shortfall, btc.ratio) == ("under-reserved", 250 * BTC // 100,
                                                      "0.000000")
    assert not report.all_covered and report.margin
    assert report.user_balances is not None
    assert report.user_balances["BTC"].startswith("0.00000000 (debt 0.50000000")
    assert any("haircut collateral value" in p for p in report.passed)
    assert any("risk.json is the risk file the root binds" in p for p in report.passed)
    text = "\n".join(report.lines())
    assert "net liabilities" in text and "SHORTFALL 2.50000000" in text


def test_margin_bundle_cli_with_proof(world: tuple[World, Path, MarginRound]) -> None:
    w, tmp, _ = world
    base = ["bundle", str(tmp / "bundle-m1"), "--auditor-key", str(tmp / "auditor.pub.json"),
            "--state", str(tmp / "cli-state.json"), "--pin", w.exchange_key.public.key_id,
            "--now", "2026-12-01T00:00:00Z", "--skip-chain"]
    runner = CliRunner()
    ok = runner.invoke(verify_main, [*base, "--proof", str(tmp / "proof-m-borrower-2.json")])
    assert ok.exit_code == 0, ok.output
    assert "net liabilities" in ok.output and "VERIFIED" in ok.output
    as_json = json.loads(runner.invoke(verify_main, [*base, "--json"]).output)
    assert as_json["margin"] is True and as_json["risk"]["quote"] == "USD"
    assert as_json["solvency"][1]["total_debt"] == str(75 * BTC // 100)


def test_spot_round_keeps_version_2(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    files = build_round(w, tmp_path, "s1")
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        new_round(engine, "s1", "Example Exchange", NOW)
        signed = sign_round(engine, "s1", files["root"].read_bytes(),
                            files["reserves"].read_bytes(), w.exchange_key,
                            readers=w.readers(), now=NOW)
        assert json.loads(signed.payload)["version"] == ATTESTATION_VERSION
        with pytest.raises(UsageError, match="spot round"):
            sign_round(engine, "s1", files["root"].read_bytes(),
                       files["reserves"].read_bytes(), w.exchange_key, readers=None,
                       replace=True, risk_bytes=b"{}")
    finally:
        engine.dispose()


def test_sign_refuses_margin_round_without_or_with_wrong_risk(
        world: tuple[World, Path, MarginRound], tmp_path: Path) -> None:
    w, _, r = world
    from margin_attest_world import risk_bytes
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        new_round(engine, "m1", "Example Exchange", NOW)
        with pytest.raises(UsageError, match="risk file"):
            sign_round(engine, "m1", r.root, r.reserves, w.exchange_key, readers=None)
        with pytest.raises(VerificationError, match="risk-file"):
            sign_round(engine, "m1", r.root, r.reserves, w.exchange_key, readers=None,
                       risk_bytes=risk_bytes(btc_price="30000"))
    finally:
        engine.dispose()


def test_por_attest_sign_cli_takes_risk(world: tuple[World, Path, MarginRound],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    _w, tmp, r = world
    from attest_helpers import PASSPHRASE
    monkeypatch.setenv("POR_KEY_PASSPHRASE", PASSPHRASE)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    made = runner.invoke(por_main, ["round", "new", "m1", "--exchange", "Example Exchange",
                                    "--snapshot-time", "2026-11-25T12:00:00Z", "--db", db])
    assert made.exit_code == 0, made.output
    signed = runner.invoke(por_main, [
        "attest", "sign", "m1", "--summary", str(r.directory / "root.json"), "--reserves",
        str(r.directory / "reserves.json"), "--risk", str(r.directory / "risk.json"),
        "--key", str(tmp / "exchange.pem"), "--skip-chain", "--db", db])
    assert signed.exit_code == 0, signed.output
    assert "net liabilities" in signed.output and "SHORTFALL 2.5" in signed.output


def test_margin_proof_anchored_by_its_bundle(world: tuple[World, Path, MarginRound],
                                             tmp_path: Path) -> None:
    # por-verify proof --bundle on a margin proof: the bundle's own check (attestation v3)
    # is the anchor; a proof of another round's tree is refused with the bundle's finding.
    w, tmp, r = world
    runner = CliRunner()
    args = ["proof", str(tmp / "proof-m-borrower-2.json"), "--bundle", str(tmp / "bundle-m1"),
            "--pin", w.exchange_key.public.key_id]
    ok = runner.invoke(verify_main, args)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("VERIFIED: margin proof of user 'm-borrower-2'")
    assert "checked against: bundle" in ok.output
    other = json.loads(r.proof.to_json())
    other["round"] = "m2"
    (tmp_path / "other.json").write_text(json.dumps(other))
    bad = runner.invoke(verify_main, ["proof", str(tmp_path / "other.json"), "--bundle",
                                      str(tmp / "bundle-m1"), "--pin",
                                      w.exchange_key.public.key_id])
    assert bad.exit_code == 1, bad.output
    assert "VERIFIED" not in bad.output
    both = runner.invoke(verify_main, [*args, "--summary", str(tmp / "bundle-m1" / "root.json")])
    assert both.exit_code == 2 and "not both" in both.output
