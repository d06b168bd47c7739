"""Attack: a path sibling at or above the BN254 modulus.

The exchanges' tools ignore the error their Poseidon ``Write`` returns for such a value,
so the parent is hashed from one child alone: the path no longer describes a binary tree,
and what the file shows as a sibling is not what was hashed. por-verify refuses such a
sibling as malformed (exit 2), naming its position in the list.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main
from verifier.foreign.poseidon_bn254 import P

SAMPLE = Path(__file__).parents[1] / "data" / "foreign" / "gateio" / "user_config.json"


def test_sibling_at_the_modulus_is_refused(tmp_path: Path) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["MerkleProofEncode"][5] = base64.b64encode(P.to_bytes(32, "big")).decode()
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["foreign", "gateio", str(f)])
    assert result.exit_code == 2
    assert "MerkleProofEncode[5]" in result.output and "modulus" in result.output
