"""Attack: a private round's liabilities rounded down. The unit rule commits each balance
rounded up to a whole unit of 10^e base units (spec §16.3), so the attested liabilities
(committed total x 10^e) are never below the exact ones; an exchange could instead state
the exact-looking sum rounded down, or attest a smaller unit exponent (the same committed
total read as 10^(e-1) units: ten times less). Defence (spec §13.7): every line's
liabilities are recomputed as committed total x 10^e (`solvency-figure`), and the unit
exponents are root.json's, which the root hash binds (`liabilities-figure`,
`root-opening`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margin_attack_bundle import check, codes, resigned_copy
from private_attest_world import exact_eth, published_private

from verifier.attestation.model import solvency_line


def test_private_liabilities_rounded_down(tmp_path: Path) -> None:
    w, r, bundle = published_private(tmp_path)
    assert check(w, bundle).ok
    e = r.root.assets[0].unit_exponent
    assert e >= 1

    def round_down(payload: dict[str, Any]) -> None:
        eth = payload["solvency"][0]
        # The exact balances' sum rounded down to a unit: below what the tree commits.
        stated = (exact_eth(8) + 8 * 7) // 10**e * 10**e
        assert stated < r.root.totals[0] * 10**e
        payload["solvency"][0] = solvency_line("ETH", 18, int(eth["reserves"]),
                                               stated).to_dict()

    report = check(w, resigned_copy(w, bundle, tmp_path / "rounded", round_down))
    assert "solvency-figure" in codes(report)
    assert any("ETH.liabilities" in f.message for f in report.findings)

    def smaller_unit(payload: dict[str, Any]) -> None:
        payload["liabilities"]["assets"][0]["unit_exponent"] = e - 1
        eth = payload["solvency"][0]
        payload["solvency"][0] = solvency_line(
            "ETH", 18, int(eth["reserves"]), r.root.totals[0] * 10**(e - 1)).to_dict()

    report = check(w, resigned_copy(w, bundle, tmp_path / "unit", smaller_unit))
    assert {"liabilities-figure", "root-opening"} <= codes(report)
    assert "solvency-figure" not in codes(report)  # consistent with its own (false) unit
