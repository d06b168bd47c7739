"""``por-verify proof``'s --pin, --witness-key and --witness-quorum (verifier/cli/options.py)
qualify --bundle only: without it each is refused, the same way for every scheme."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from click.testing import CliRunner

from verifier.cli import main as verify_main

VECTORS = Path(__file__).parent / "vectors"
VALID = {"spot": ("liabilities.json", "valid-alice"),
         "margin": ("margin.json", "valid-margin-proof-alice"),
         "private": ("private.json", "valid-private-proof-alice")}


def _proof_file(tmp_path: Path, scheme: str) -> Path:
    file, name = VALID[scheme]
    vectors = json.loads((VECTORS / file).read_text())["vectors"]
    proof = next(v["proof"] for v in vectors if v["name"] == name)
    path = tmp_path / f"{scheme}-proof.json"
    path.write_bytes(rfc8785.dumps(proof))  # the private scheme reads canonical bytes only
    return path


@pytest.mark.parametrize("scheme", sorted(VALID))
@pytest.mark.parametrize("option", [["--pin", "00" * 32], ["--witness-key", "w.json"],
                                    ["--witness-quorum", "0"]])
def test_bundle_options_without_bundle_are_refused(tmp_path: Path, scheme: str,
                                                   option: list[str]) -> None:
    proof = _proof_file(tmp_path, scheme)
    result = CliRunner().invoke(verify_main, ["proof", str(proof), *option])
    assert result.exit_code == 2, result.output
    assert result.stderr == "ERROR: --pin, --witness-key and --witness-quorum apply to --bundle\n"
    assert result.stdout == ""


@pytest.mark.parametrize("scheme", sorted(VALID))
def test_a_valid_proof_without_anchor_is_unanchored(tmp_path: Path, scheme: str) -> None:
    """The same files are real proofs: without the refused options the check runs."""
    result = CliRunner().invoke(verify_main, ["proof", str(_proof_file(tmp_path, scheme))])
    assert result.exit_code == 1, result.output
    assert "UNANCHORED" in result.stdout
