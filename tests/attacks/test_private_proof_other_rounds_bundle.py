"""Attack: a user's private proof anchored to another round's bundle, or a bundle of
another scheme, so that a proof of an old or unattested round reads VERIFIED under a
bundle the user trusts. Defence (spec §13.7): `por-verify proof --bundle` checks the
bundle (signatures, log, witnesses), then requires the proof to match the bundle's
attested private root.json field for field (round, assets, N, L, totals, blindings, root
hash): exit 1 otherwise, and a spot bundle never anchors a private proof."""

from __future__ import annotations

from pathlib import Path

from attest_helpers import build_round, sign_and_cosign
from click.testing import CliRunner
from private_attest_world import published_private

from por.attest.publish import publish_round
from por.store.db import open_store
from verifier.cli import main as verify_main


def test_private_proof_other_rounds_bundle(tmp_path: Path) -> None:
    w, r1, bundle1 = published_private(tmp_path, round_id="p1", day=0)
    _, r2, bundle2 = published_private(tmp_path, round_id="p2", day=1, world=w,
                                       hidden_levels=1)
    (tmp_path / "p1.json").write_bytes(r1.proof.to_bytes())
    (tmp_path / "p2.json").write_bytes(r2.proof.to_bytes())
    pin = ["--pin", w.exchange_key.public.key_id]
    runner = CliRunner()
    own = runner.invoke(verify_main, ["proof", str(tmp_path / "p2.json"), "--bundle",
                                      str(bundle2), *pin])
    assert own.exit_code == 0, own.output
    other = runner.invoke(verify_main, ["proof", str(tmp_path / "p2.json"), "--bundle",
                                        str(bundle1), *pin])
    assert other.exit_code == 1, other.output
    assert "does not match the published root" in other.output
    # A spot round's bundle of the same exchange: never an anchor for a private proof.
    build_round(w, tmp_path, "s3")
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        sign_and_cosign(engine, w, "s3", 2)
        from datetime import timedelta

        from attest_helpers import T0
        publish_round(engine, "s3", w.exchange_key, w.keylist, tmp_path / "bundle-s3",
                      now=T0 + timedelta(days=2, hours=2))
    finally:
        engine.dispose()
    spot = runner.invoke(verify_main, ["proof", str(tmp_path / "p1.json"), "--bundle",
                                       str(tmp_path / "bundle-s3"), *pin])
    assert spot.exit_code == 1, spot.output
    assert "another scheme" in spot.output
