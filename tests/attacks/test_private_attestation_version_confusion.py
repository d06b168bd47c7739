"""Attack: version confusion between attestation forms. A private round's liabilities in a
spot (version 2) or margin (version 3) attestation, or spot liabilities in a private
(version 4) one, so that a verifier reads the figures under the wrong rules (a spot
reader taking committed totals, in units of 10^e, for base units). Defence (spec §13.7):
the version alone says which form applies, each form's fields are exact, and the bundle's
root.json is read by the parser the version names: every such payload is malformed (exit
2), and the honest version 4 one verifies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from margin_attack_bundle import check, resigned_copy
from private_attest_world import published_private

from verifier.attestation.bundle import ATTESTATION_FILE
from verifier.attestation.model import Attestation
from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.signed.envelope import SignedDocument


def test_private_attestation_version_confusion(tmp_path: Path) -> None:
    w, _, bundle = published_private(tmp_path)
    assert check(w, bundle).ok
    honest = json.loads(SignedDocument.from_json(
        (bundle / ATTESTATION_FILE).read_bytes()).payload)
    assert honest["version"] == 4
    spot_liabilities = {k: honest["liabilities"][k] for k in ("root_hash", "leaf_count")} | {
        "assets": [{"symbol": a["symbol"], "decimals": a["decimals"]}
                   for a in honest["liabilities"]["assets"]],
        "totals": honest["liabilities"]["totals"]}

    def as_version(version: int, liabilities: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        payload = copy.deepcopy(honest)
        payload["version"] = version
        if liabilities is not None:
            payload["liabilities"] = liabilities
        return payload

    for payload in (as_version(2), as_version(3), as_version(4, spot_liabilities)):
        with pytest.raises(FormatError):
            Attestation.from_dict(payload)

    def downgrade(payload: dict[str, Any]) -> None:
        payload["version"] = 2
        payload["liabilities"] = spot_liabilities

    # A well-formed version 2 payload (spot liabilities), but over the private root.json:
    # the bundle's root.json is read as the version says, a spot root, and is malformed.
    Attestation.from_dict(as_version(2, spot_liabilities))
    forged = resigned_copy(w, bundle, tmp_path / "downgraded", downgrade)
    result = CliRunner().invoke(verify_main, [
        "bundle", str(forged), "--skip-chain", "--pin", w.exchange_key.public.key_id,
        "--state", str(tmp_path / "state.json"), "--now", "2026-12-01T00:00:00Z"])
    assert result.exit_code == 2, result.output
