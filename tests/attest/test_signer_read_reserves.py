"""The attestation records whether its signer re-read the reserves from its own nodes
(``signer_read_reserves``, attestation version 2, spec §13.1), and ``por-verify bundle``
shows it; a version 1 attestation is still read, the field "not recorded"."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from attest_helpers import EXCHANGE, T0, build_round, make_world, publish
from click.testing import CliRunner

from por.attest.rounds import new_round, sign_round
from por.store.db import open_store
from verifier.attestation.model import Attestation
from verifier.cli import main as verify_main
from verifier.errors import FormatError


def test_the_signers_chain_check_is_signed_and_shown(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    for r in ("r1", "r2"):
        build_round(w, tmp_path, r)
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    shown = {}
    for day, (round_id, readers) in enumerate((("r1", w.readers()), ("r2", None))):
        files = w.rounds[round_id]
        new_round(engine, round_id, EXCHANGE, T0 + timedelta(days=day))
        signed = sign_round(engine, round_id, files["root"].read_bytes(),
                            files["reserves"].read_bytes(), w.exchange_key, readers=readers,
                            now=T0 + timedelta(days=day, hours=1))
        payload = json.loads(signed.payload)
        assert payload["version"] == 2
        assert payload["signer_read_reserves"] is (readers is not None)
        out = publish(engine, w, round_id, tmp_path / f"bundle-{round_id}", day)
        res = CliRunner().invoke(verify_main, [
            "bundle", str(out), "--skip-chain", "--pin", w.exchange_key.public.key_id,
            "--state", str(tmp_path / "state.json"), "--now", "2026-11-28T00:00:00Z",
            "--json"])
        assert res.exit_code == 0, res.output
        shown[round_id] = json.loads(res.output)["signer_read_reserves"]
        text = CliRunner().invoke(verify_main, [
            "bundle", str(out), "--skip-chain", "--pin", w.exchange_key.public.key_id,
            "--state", str(tmp_path / "state.json"), "--now", "2026-11-28T00:00:00Z"]).output
        assert ("signer's chain check: yes" in text) is (readers is not None)
        assert ("signer's chain check: NO" in text) is (readers is None)
    engine.dispose()
    assert shown == {"r1": True, "r2": False}
    # Version 1 (no field) still reads: the report says it is not recorded.
    old = json.loads((tmp_path / "bundle-r1" / "attestation.json").read_text())
    payload = json.loads(base64.b64decode(old["payload"]))
    del payload["signer_read_reserves"]
    payload["version"] = 1
    assert Attestation.from_dict(payload).signer_read_reserves is None
    assert "signer_read_reserves" not in Attestation.from_dict(payload).to_dict()
    payload["version"] = 2
    with pytest.raises(FormatError, match="signer_read_reserves"):
        Attestation.from_dict(payload)
