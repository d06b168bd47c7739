"""Attack: a margin exchange states its net liabilities without subtracting the debt
consistently: the BTC line sets reserves against equity − (debt counted twice), or
against a net taken with another asset's debt, and claims cover. Defence (spec §13.6): the
verifier recomputes every line's net, max(0, total equity − total debt), from the
attestation's own totals, which must be root.json's, and fails the attestation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margin_attack_bundle import check, codes, published, resigned_copy


def test_net_liabilities_debt_not_subtracted(tmp_path: Path) -> None:
    w, _, bundle = published(tmp_path)
    assert check(w, bundle).ok

    def debt_twice(payload: dict[str, Any]) -> None:
        btc = payload["solvency"][1]
        net = int(btc["total_equity"]) - 2 * int(btc["total_debt"])
        btc.update(liabilities=str(net), shortfall=str(net))

    report = check(w, resigned_copy(w, bundle, tmp_path / "twice", debt_twice))
    assert "solvency-figure" in codes(report)
    assert any("BTC.liabilities" in f.message for f in report.findings)

    def debt_of_eth(payload: dict[str, Any]) -> None:
        # BTC's net taken with a debt that makes it vanish: claimed covered.
        btc = payload["solvency"][1]
        btc.update(total_debt=btc["total_equity"], liabilities="0", ratio=None,
                   shortfall="0", surplus="0", status="covered")
        payload["all_covered"] = True

    lie = resigned_copy(w, bundle, tmp_path / "vanished", debt_of_eth)
    report = check(w, lie)
    assert {"false-solvency", "solvency-figure"} <= codes(report)
    assert any("BTC.total_debt" in f.message for f in report.findings)
    assert not report.ok
