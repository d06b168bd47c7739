"""The committed margin vectors (tests/vectors/margin.json): every one gets its verdict from
the library and from ``por-verify proof``; and the generator still makes them byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "margin.json"
DATA = json.loads(VECTORS_FILE.read_text())
EXIT = {"verified": 0, "failed": 1, "malformed": 2}


def library_verdict(vector: dict[str, Any]) -> str:
    try:
        proof = MarginInclusionProof.from_json(json.dumps(vector["proof"]))
        verify_margin_proof(proof, expected_root=bytes.fromhex(vector["root"]))
    except VerificationError:
        return "failed"
    except FormatError:
        return "malformed"
    return "verified"


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_library_verdict(vector: dict[str, Any]) -> None:
    assert library_verdict(vector) == vector["expected"]


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_cli_verdict(vector: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(vector["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", vector["root"]])
    assert result.exit_code == EXIT[vector["expected"]], result.output


def test_cli_without_root_is_unanchored(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(DATA["vectors"][0]["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["verdict"] == "UNANCHORED"


def test_every_attack_named_in_the_issue_has_a_vector() -> None:
    names = {v["name"] for v in DATA["vectors"]}
    assert {
        "fake-account-debt-without-collateral",
        "collateral-above-equity",
        "parent-binds-only-net-sums",
        "proof-replayed-under-other-prices",
        "tier-boundary-off-by-one",
        "haircut-rounded-up",
        "debt-in-unlisted-asset",
    } <= names
    assert any(v["expected"] == "verified" for v in DATA["vectors"])


def test_generator_regenerates_the_committed_vectors() -> None:
    from margin_vectorgen import render

    assert render() == VECTORS_FILE.read_text()
