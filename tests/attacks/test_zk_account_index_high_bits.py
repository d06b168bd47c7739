"""Attack: a Gate.io / Binance user proof claiming a position outside the 28-level tree.

The older tools (Gate.io's UserVerify, Binance's before 2026) read the position as a
uint32 and use only its low 28 bits, so a file claiming position 2^28 + k, which the tree
cannot hold, verifies as the proof for k: the position a user reads is not the one checked.
por-verify refuses a position of 2^28 or more as malformed (exit 2), naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main
from verifier.foreign import gateio
from verifier.foreign.zkmerkle import walk

SAMPLE = Path(__file__).parents[1] / "data" / "foreign" / "gateio" / "user_config.json"


def test_high_bits_do_not_change_the_walk() -> None:
    proof = gateio.parse(SAMPLE.read_bytes())
    leaf = gateio.leaf_of(proof)
    assert walk(leaf, proof.index + (1 << 28), proof.path, 12) == proof.root


def test_position_beyond_the_tree_is_refused(tmp_path: Path) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["Arrangement"] += 1 << 28
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["foreign", "gateio", str(f)])
    assert result.exit_code == 2
    assert "Arrangement" in result.output
