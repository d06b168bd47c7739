"""Attack: a negative total in a Binance / Gate.io user proof that still verifies.

The exchanges' tools hash a total with Go's ``big.Int.Bytes()``, which drops the sign, so a
file saying TotalAssetEquity = -x verifies there exactly like x: the sign a user (or an
aggregator summing user files) reads is bound by nothing. por-verify refuses a negative
total as malformed (exit 2) and names the field (docs/formats.md, "Binance and Gate.io").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main
from verifier.foreign import gateio
from verifier.foreign.zkmerkle import walk

SAMPLE = Path(__file__).parents[1] / "data" / "foreign" / "gateio" / "user_config.json"


def test_the_sign_is_not_in_the_hash() -> None:
    """Modelling the exchange's rule: |total| is what gets hashed, so -x and x share a root."""
    proof = gateio.parse(SAMPLE.read_bytes())
    claimed = -proof.equity  # what a file saying "-x" shows its reader
    hashed = abs(claimed)  # what big.Int.Bytes() hands to Poseidon: the magnitude
    forged = dataclasses.replace(proof, equity=hashed)
    assert walk(gateio.leaf_of(forged), proof.index, proof.path, 12) == proof.root


def test_negative_total_is_refused(tmp_path: Path) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["TotalAssetEquity"] = -doc["TotalAssetEquity"]
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["foreign", "auto", str(f)])
    assert result.exit_code == 2
    assert "TotalAssetEquity" in result.output and "negative" in result.output
