"""Attack: the risk file in a margin round's bundle is swapped for one with other prices
or haircuts (a reader shown kinder prices than the tree was built with), removed, or a
risk file is slipped into a spot round's bundle. Defence (spec §13.6): risk.json must be
the canonical file whose hash root.json (and the attestation) binds; a margin bundle
without it, or a spot bundle with one, is malformed (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from margin_attack_bundle import check, codes, published
from margin_attest_world import risk_bytes

from verifier.attestation.bundle import RISK_FILE
from verifier.errors import FormatError


def test_bundle_risk_swapped(tmp_path: Path) -> None:
    w, r, bundle = published(tmp_path)
    swapped = tmp_path / "swapped"
    shutil.copytree(bundle, swapped)
    (swapped / RISK_FILE).write_bytes(risk_bytes(btc_price="90000"))
    report = check(w, swapped)
    assert "risk-file" in codes(report)
    assert any("the root binds" in f.message for f in report.findings)
    assert not any("risk.json is the risk file" in p for p in report.passed)

    pretty = tmp_path / "pretty"
    shutil.copytree(bundle, pretty)
    (pretty / RISK_FILE).write_bytes(r.risk + b"\n")  # same figures, not canonical
    with pytest.raises(FormatError, match="canonical"):
        check(w, pretty)

    missing = tmp_path / "missing"
    shutil.copytree(bundle, missing)
    (missing / RISK_FILE).unlink()
    with pytest.raises(FormatError, match=r"no risk\.json"):
        check(w, missing)


def test_risk_file_in_spot_bundle_refused(tmp_path: Path) -> None:
    from attest_helpers import build_round, make_world, publish, sign_and_cosign

    from por.store.db import open_store

    w = make_world(tmp_path)
    build_round(w, tmp_path, "r1")
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        sign_and_cosign(engine, w, "r1", 0)
        publish(engine, w, "r1", tmp_path / "spot", 0)
    finally:
        engine.dispose()
    assert check(w, tmp_path / "spot").ok
    (tmp_path / "spot" / RISK_FILE).write_bytes(risk_bytes())
    with pytest.raises(FormatError, match="spot round"):
        check(w, tmp_path / "spot")
