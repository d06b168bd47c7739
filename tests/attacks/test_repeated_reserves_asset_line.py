"""Disagreement (issue 10): an attestation whose ``reserves.assets`` repeats an identical
line, validly signed, was accepted: the checks indexed the lines by symbol, so the copy
vanished. A repeated symbol in ``reserves.assets`` (or in ``solvency``) is a malformed
attestation, refused (spec §13.1), exit 2."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from attest_helpers import build_round, make_world
from trust_world import NOW, publish_history, verify

from verifier.attestation.model import Attestation
from verifier.errors import FormatError
from verifier.signed.envelope import SignedDocument


def test_a_repeated_reserves_line_is_refused(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    build_round(w, tmp_path, "r1")
    [bundle] = publish_history(tmp_path, w, "store", ["r1"], w.exchange_key, w.keylist,
                               NOW - timedelta(days=1))
    doc = SignedDocument.from_json((bundle / "attestation.json").read_bytes())
    payload = json.loads(doc.payload)
    payload["reserves"]["assets"].append(payload["reserves"]["assets"][0])
    with pytest.raises(FormatError, match="twice"):
        Attestation.from_dict(payload)
    twice = tmp_path / "twice"
    shutil.copytree(bundle, twice)
    (twice / "attestation.json").write_text(w.exchange_key.sign_document(payload).to_json())
    code, out = verify(twice, tmp_path / "state.json", "--pin", w.exchange_key.public.key_id)
    assert code == 2, out
    assert "twice" in out
    solvency = json.loads(doc.payload)
    solvency["solvency"].append(solvency["solvency"][0])
    with pytest.raises(FormatError, match="twice"):
        Attestation.from_dict(solvency)
