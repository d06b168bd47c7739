"""A private round's attestation (version 4) and bundle (spec §13.7): ``por attest sign``
signs a private root.json (full hiding or hybrid), each asset's liabilities being the
committed total x 10^e base units; ``por attest cosign --round-dir`` co-signs only after
recomputing the whole tree file; ``por-verify bundle`` reads the private root.json, checks
its opening and a user's private proof; ``por-verify proof --bundle`` anchors a private
proof to the bundle's attested root, and to no other round's.

Real components: private trees through libsecp256k1-zkp (wallycore), reserves read from a
real EVM (py-evm in process) through the reader protocol, the store on SQLite.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from attest_helpers import PASSPHRASE, World, build_round, make_world, sign_and_cosign
from click.testing import CliRunner
from private_attest_world import (
    PrivateRound,
    build_private_round,
    exact_eth,
    sign_cosign_publish,
    sign_private,
)

from por.attest.rounds import cosign_round, load_round
from por.cli import main as por_main
from por.errors import UsageError
from por.store.db import open_store
from verifier.attestation.bundle import (
    ATTESTATION_FILE,
    ROOT_FILE,
    BundleOptions,
    BundleReport,
    read_bundle,
    verify_bundle,
)
from verifier.attestation.model import (
    ATTESTATION_PRIVATE_VERSION,
    Attestation,
    parse_any_summary,
)
from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.private.proof import PrivateRoot
from verifier.signed.envelope import SignedDocument

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[World, Path, PrivateRound, PrivateRound]:
    tmp = tmp_path_factory.mktemp("private-bundles")
    w = make_world(tmp)
    full = build_private_round(w, tmp, "p1")
    hybrid = build_private_round(w, tmp, "p2", hidden_levels=1)
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    try:
        sign_cosign_publish(engine, w, full, "p1", 0, tmp / "bundle-p1")
        sign_cosign_publish(engine, w, hybrid, "p2", 1, tmp / "bundle-p2")
    finally:
        engine.dispose()
    (tmp / "proof-p1-u3.json").write_bytes(full.proof.to_bytes())
    (tmp / "proof-p2-u3.json").write_bytes(hybrid.proof.to_bytes())
    return w, tmp, full, hybrid


def check(w: World, directory: Path, **changes: object) -> BundleReport:
    options: dict[str, object] = {"readers": w.readers, "auditors": (w.auditor_key.public,),
                                  "pinned_key_id": w.exchange_key.public.key_id, "now": NOW}
    options.update(changes)
    return verify_bundle(read_bundle(directory), BundleOptions(**options))  # type: ignore[arg-type]


def payload(directory: Path) -> dict[str, object]:
    doc = SignedDocument.from_json((directory / ATTESTATION_FILE).read_bytes())
    data: dict[str, object] = json.loads(doc.payload)
    return data


def test_private_attestation_is_version_4_and_binds_the_root(world: tuple) -> None:
    _w, tmp, full, _ = world
    data = payload(tmp / "bundle-p1")
    assert data["version"] == ATTESTATION_PRIVATE_VERSION
    root = json.loads(full.root_bytes)
    del root["round"]
    # root.json field for field, less round: scheme, version, unit exponents, totals,
    # blindings, leaf count and root hash (spec §13.7), and the top node's hash.
    liabilities = dict(data["liabilities"])  # type: ignore[call-overload]
    top = liabilities.pop("top_hash")
    assert liabilities == root
    from verifier.private.treefile import PrivateTreeFile
    tree = PrivateTreeFile((full.directory / "tree.bin").read_bytes())
    assert top == tree.node(tree.levels, 0).hash.hex()
    assert (tmp / "bundle-p1" / ROOT_FILE).read_bytes() == full.root_bytes


def test_liabilities_are_committed_totals_times_unit_never_below_exact(world: tuple) -> None:
    _w, tmp, full, _ = world
    att = Attestation.from_dict(payload(tmp / "bundle-p1"))
    eth, btc = att.solvency
    e = full.root.assets[0].unit_exponent
    assert e >= 1  # ETH in wei: committed in units of 10^e wei (spec §16.3)
    assert eth.liabilities == full.root.totals[0] * 10**e
    assert eth.liabilities >= exact_eth(8) + 8 * 7  # each balance was rounded up
    assert eth.liabilities - (exact_eth(8) + 8 * 7) < 8 * 10**e
    assert btc.liabilities == sum((i + 1) * 1_000_000 for i in range(8))
    assert (btc.status, btc.shortfall) == ("under-reserved", btc.liabilities)


def test_private_bundle_verifies_with_a_private_proof(world: tuple) -> None:
    w, tmp, full, hybrid = world
    report = check(w, tmp / "bundle-p1", user_proof=full.proof)
    assert report.ok, report.findings
    assert report.private is not None and report.private.hidden_levels is None
    assert any("root opening" in line and "no user's proof" in line
               for line in report.passed)
    assert any("your private proof ('u3')" in line for line in report.passed)
    text = "\n".join(report.lines())
    assert "full hiding" in text and "committed total" in text
    report2 = check(w, tmp / "bundle-p2", user_proof=hybrid.proof)
    assert report2.ok, report2.findings
    assert report2.private is not None and report2.private.hidden_levels == 1
    assert report2.to_dict()["private"]["hidden_levels"] == 1
    assert "hybrid, L = 1" in report2.to_dict()["private"]["reveals"]


def test_a_spot_proof_against_a_private_bundle_is_a_user_proof_finding(
        world: tuple, tmp_path: Path) -> None:
    w, tmp, _, _ = world
    spot_world = make_world(tmp_path)
    files = build_round(spot_world, tmp_path, "s1")
    from verifier.liabilities.proof import InclusionProof
    spot = InclusionProof.from_json(files["proof"].read_bytes(), "proof")
    report = check(w, tmp / "bundle-p1", user_proof=spot)
    assert [f.code for f in report.findings] == ["user-proof"]


def test_por_verify_bundle_cli_on_a_private_round(world: tuple) -> None:
    w, tmp, _, _ = world
    base = ["bundle", str(tmp / "bundle-p2"), "--auditor-key", str(tmp / "auditor.pub.json"),
            "--state", str(tmp / "cli-state.json"), "--pin", w.exchange_key.public.key_id,
            "--now", "2026-12-01T00:00:00Z", "--skip-chain"]
    runner = CliRunner()
    ok = runner.invoke(verify_main, [*base, "--proof", str(tmp / "proof-p2-u3.json")])
    assert ok.exit_code == 0, ok.output
    assert "private round" in ok.output and "hidden levels L = 1" in ok.output
    as_json = json.loads(runner.invoke(verify_main, [*base, "--json"]).output)
    assert as_json["private"]["version"] == 2
    assert as_json["private"]["committed_totals"]["BTC"] == str(36_000_000)


def test_private_proof_anchored_by_its_bundle_and_no_other(world: tuple) -> None:
    w, tmp, _, _ = world
    runner = CliRunner()
    pin = ["--pin", w.exchange_key.public.key_id]
    ok = runner.invoke(verify_main, ["proof", str(tmp / "proof-p1-u3.json"), "--bundle",
                                     str(tmp / "bundle-p1"), *pin])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("VERIFIED: private proof of user 'u3'")
    assert "checked against: bundle" in ok.output
    other = runner.invoke(verify_main, ["proof", str(tmp / "proof-p1-u3.json"), "--bundle",
                                        str(tmp / "bundle-p2"), *pin])
    assert other.exit_code == 1, other.output
    both = runner.invoke(verify_main, ["proof", str(tmp / "proof-p1-u3.json"), "--bundle",
                                       str(tmp / "bundle-p1"), "--summary",
                                       str(tmp / "bundle-p1" / ROOT_FILE)])
    assert both.exit_code == 2, both.output


def test_cosign_needs_the_round_dir_for_private_rounds_only(world: tuple,
                                                            tmp_path: Path) -> None:
    w, _, full, _ = world
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        sign_private(engine, w, full, "p1", 0)
        with pytest.raises(UsageError, match="--round-dir"):
            cosign_round(engine, "p1", w.auditor_key, w.keys())
        assert len(load_round(engine, "p1").signed.signatures) == 1
        cosign_round(engine, "p1", w.auditor_key, w.keys(), full.directory)
        assert len(load_round(engine, "p1").signed.signatures) == 2
    finally:
        engine.dispose()
    (tmp_path / "spot").mkdir()
    spot_world = make_world(tmp_path / "spot")
    build_round(spot_world, tmp_path / "spot", "s1")
    engine = open_store(f"sqlite:///{tmp_path / 'spot.db'}")
    try:
        sign_and_cosign(engine, spot_world, "s1", 0)  # a public round: no round dir
        with pytest.raises(UsageError, match="private rounds"):
            cosign_round(engine, "s1", spot_world.exchange_key, spot_world.keys(),
                         full.directory)
    finally:
        engine.dispose()


def test_por_attest_cli_signs_and_cosigns_a_private_round(
        world: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _w, tmp, full, _ = world
    monkeypatch.setenv("POR_KEY_PASSPHRASE", PASSPHRASE)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    made = runner.invoke(por_main, ["round", "new", "p1", "--exchange", "Example Exchange",
                                    "--snapshot-time", "2026-11-25T12:00:00Z", "--db", db])
    assert made.exit_code == 0, made.output
    signed = runner.invoke(por_main, [
        "attest", "sign", "p1", "--summary", str(full.directory / "root.json"), "--reserves",
        str(full.reserves), "--key", str(tmp / "exchange.pem"), "--skip-chain", "--db", db,
        "--tree", str(full.directory / "tree.bin")])
    assert signed.exit_code == 0, signed.output
    assert "private round (version 1)" in signed.output
    cosign = ["attest", "cosign", "p1", "--key", str(tmp / "auditor.pem"), "--keylist",
              str(tmp / "keylist.json"), "--db", db]
    missing = runner.invoke(por_main, cosign)
    assert missing.exit_code == 2, missing.output
    done = runner.invoke(por_main, [*cosign, "--round-dir", str(full.directory)])
    assert done.exit_code == 0, done.output
    assert "2 signature(s)" in done.output


def test_one_reader_for_every_scheme(world: tuple) -> None:
    _w, _, full, hybrid = world
    assert isinstance(parse_any_summary(full.root_bytes), PrivateRoot)
    assert parse_any_summary(hybrid.root_bytes).hidden_levels == 1  # type: ignore[union-attr]
    with pytest.raises(FormatError, match="RFC 8785"):
        parse_any_summary(json.dumps(json.loads(full.root_bytes), indent=1).encode())
