"""Attack: a private round's exchange attests smaller committed totals than its tree's,
either in the attestation only (root.json left true), or in both the attestation and the
published root.json, keeping the attested root hash (the reserves file's challenge names
it). Defence (spec §13.7): the attested private root must be root.json field for field
(`liabilities-figure`), and anyone recomputes the root hash from the published opening and
the attested top node's hash (`root-opening`): the totals the root hash binds are the
tree's, with no user's proof needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margin_attack_bundle import check, codes, resigned_copy
from private_attest_world import published_private

from verifier.attestation.bundle import ROOT_FILE
from verifier.attestation.model import solvency_line
from verifier.private.proof import PrivateRoot, canonical_bytes


def _shrink_btc(payload: dict[str, Any]) -> None:
    # The BTC total made 1 unit, and its line made consistent with it: covered by nothing
    # more than nothing, so the shortfall vanishes from every figure.
    payload["liabilities"]["totals"][1] = "0"
    line = solvency_line("BTC", 8, 0, 0)
    payload["solvency"][1] = line.to_dict()
    payload["all_covered"] = True


def test_private_attestation_totals_not_the_roots(tmp_path: Path) -> None:
    w, r, bundle = published_private(tmp_path)
    honest = check(w, bundle)
    assert honest.ok, honest.findings

    # 1. The attestation alone: root.json, which the auditor checked, says otherwise.
    report = check(w, resigned_copy(w, bundle, tmp_path / "attestation-only", _shrink_btc))
    assert {"liabilities-figure", "root-opening"} <= codes(report)
    assert "solvency-figure" not in codes(report)  # self-consistent: only the root refutes it

    # 2. The attestation and root.json both edited (same root hash, same blindings): the
    # opening, with the attested top hash, no longer gives the root hash.
    forged = resigned_copy(w, bundle, tmp_path / "both", _shrink_btc)
    root = PrivateRoot.from_json(r.root_bytes)
    (forged / ROOT_FILE).write_bytes(canonical_bytes(
        root.to_dict() | {"totals": [str(root.totals[0]), "0"]}))
    report = check(w, forged)
    assert "root-opening" in codes(report)
    assert "liabilities-figure" not in codes(report)  # root.json agrees with the lie
    assert any("not the tree's" in f.message for f in report.findings)
