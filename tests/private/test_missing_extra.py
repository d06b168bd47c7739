"""Without the `[private]` extra (wallycore), `por-verify proof` on a private proof exits 2
with the pip line to run, and a spot proof still verifies: the base install does not pay
for private mode. (The extra is blocked in a subprocess: this machine has it installed.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rfc8785

VECTORS = Path(__file__).parents[1] / "vectors"
BLOCKED = ("import sys; sys.modules['wallycore'] = None; sys.modules['_wallycore'] = None;"
           " from verifier.cli import main; sys.argv[0] = 'por-verify'; main()")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKED, *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_private_proof_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    vector = json.loads((VECTORS / "private.json").read_text())["vectors"][0]
    path = tmp_path / "proof.json"
    path.write_bytes(rfc8785.dumps(vector["proof"]))
    result = _run("proof", str(path), "--root", vector["root"])
    assert result.returncode == 2, result.stderr
    assert "pip install 'por-toolkit[private]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_spot_proof_still_verifies_without_the_extra(tmp_path: Path) -> None:
    doc = json.loads((VECTORS / "liabilities.json").read_text())
    vector = next(v for v in doc["vectors"] if v["expected"] == "verified" and "final" not in v)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(vector["proof"]))
    result = _run("proof", str(path), "--root", vector["published_root"])
    assert result.returncode == 0, result.stdout + result.stderr
