"""Attack: one Gate.io proof file that two readers see with different totals.

Go's encoding/json matches field names case-insensitively and keeps the last match, so a
file with "TotalAssetEquity": 1 and later "totalassetequity": 2 is hashed by the
exchange's tool with 2, while a reader that matches names exactly shows 1. por-verify
refuses any field name it does not know exactly (exit 2).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main

SAMPLE = Path(__file__).parents[1] / "data" / "foreign" / "gateio" / "user_config.json"


def test_case_folded_second_total_is_refused(tmp_path: Path) -> None:
    text = SAMPLE.read_text()
    assert text.endswith("]}")
    forged = text[:-1] + ',"totalassetequity":1}'
    f = tmp_path / "p.json"
    f.write_text(forged)
    result = CliRunner().invoke(main, ["foreign", "auto", str(f)])
    assert result.exit_code == 2
    assert "totalassetequity" in result.output
