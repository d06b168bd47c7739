"""Attack: a margin exchange attests totals that are not its tree's: a smaller total debt
(to hide how much it lent), or a larger one with the lines made consistent with it (to
shrink its net liabilities). Defence (spec §13.6): every equity, debt and collateral total
in the attestation must be root.json's, whose root hash binds them (and the reserves
file's challenge names that root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margin_attack_bundle import check, codes, published, resigned_copy


def test_debt_total_shrunk(tmp_path: Path) -> None:
    w, _, bundle = published(tmp_path)

    def shrink(payload: dict[str, Any]) -> None:
        payload["liabilities"]["totals"][0]["debt"] = "1"
        payload["solvency"][0]["total_debt"] = "1"

    report = check(w, resigned_copy(w, bundle, tmp_path / "shrunk", shrink))
    assert {"liabilities-figure", "solvency-figure"} <= codes(report)
    assert any("liabilities.positions" in f.message for f in report.findings)

    def inflate_consistently(payload: dict[str, Any]) -> None:
        # Totals and every figure of the BTC line made to agree with each other: a BTC
        # debt as large as its equity, so nothing is owed and the asset reads covered.
        total = payload["liabilities"]["totals"][1]
        total["debt"] = total["equity"]
        btc = payload["solvency"][1]
        btc.update(total_debt=total["equity"], liabilities="0", ratio=None, shortfall="0",
                   surplus=btc["reserves"], status="covered")
        payload["all_covered"] = True

    report = check(w, resigned_copy(w, bundle, tmp_path / "inflated", inflate_consistently))
    assert "liabilities-figure" in codes(report)
    assert "solvency-figure" not in codes(report)  # self-consistent: only root.json refutes it
    assert not report.ok
