"""The committed contract bytecode (por/demo/contracts/compiled.json) is what solc-js
compiles from the committed sources: generate-then-check, so the demo's embedded bytecode
cannot drift from its Solidity source."""

from __future__ import annotations

import json
import shutil
import subprocess

from reserves_helpers import CONTRACTS
from reserves_nodes import HARDHAT_DIR, missing


def test_committed_bytecode_matches_a_fresh_solc_compilation() -> None:
    if shutil.which("node") is None or not (HARDHAT_DIR / "node_modules" / "solc").exists():
        missing("solc-js (tests/chains/hardhat/node_modules)")
    fresh = subprocess.run(["node", "compile.js"], cwd=HARDHAT_DIR, capture_output=True,
                           check=True, timeout=120)
    assert json.loads(fresh.stdout) == CONTRACTS
