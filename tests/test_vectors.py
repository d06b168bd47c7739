"""The committed inclusion-proof vectors: every one gets its verdict, from the library and
from the ``por-verify`` command; and the builder still generates them byte for byte."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import FormatError, PorError, VerificationError
from verifier.proof import InclusionProof, verify_proof

VECTORS_FILE = Path(__file__).parent / "vectors" / "liabilities.json"
DATA = json.loads(VECTORS_FILE.read_text())
EXIT = {"verified": 0, "failed": 1, "malformed": 2}


def _text(vector: dict[str, Any]) -> str:
    return vector["proof_text"] if "proof_text" in vector else json.dumps(vector["proof"])


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_library_verdict(vector: dict[str, Any]) -> None:
    published = vector["published_root"]
    expected_root = bytes.fromhex(published) if published else None
    try:
        proof = InclusionProof.from_json(_text(vector))
        verify_proof(proof, expected_root=expected_root)
        verdict = "verified"
    except VerificationError as e:
        verdict, message = "failed", str(e)
    except FormatError as e:
        verdict, message = "malformed", str(e)
    assert verdict == vector["expected"]
    if verdict != "verified" and vector.get("reason_contains"):
        assert vector["reason_contains"] in message


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_cli_verdict(vector: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(_text(vector))
    args = ["proof", str(path), "--json"]
    if vector["published_root"]:
        args += ["--root", vector["published_root"]]
    result = CliRunner().invoke(verify_main, args)
    assert result.exit_code == EXIT[vector["expected"]], result.output
    report = json.loads(result.output)
    assert report["ok"] is (vector["expected"] == "verified")


def test_valid_vectors_check_against_the_published_summary(tmp_path: Path) -> None:
    summary = tmp_path / "root.json"
    summary.write_text(json.dumps(DATA["round_summary"]))
    other = tmp_path / "other.json"
    other.write_text(json.dumps(DATA["other_round_summary"]))
    valid = [v for v in DATA["vectors"] if v["name"].startswith("valid-")]
    assert len(valid) >= 5
    for vector in valid:
        path = tmp_path / "p.json"
        path.write_text(_text(vector))
        ok = CliRunner().invoke(verify_main, ["proof", str(path), "--summary", str(summary)])
        assert ok.exit_code == 0, ok.output
        assert "VERIFIED" in ok.output
        bad = CliRunner().invoke(verify_main, ["proof", str(path), "--summary", str(other)])
        assert bad.exit_code == 1


def test_every_attack_named_in_the_issue_has_a_vector() -> None:
    names = {v["name"] for v in DATA["vectors"]}
    for needed in (
        "sibling-sum-lowered",
        "sibling-sums-swapped",
        "balance-edited",
        "hash-truncated",
        "tag-changed",
        "side-flipped",
        "level-added",
        "level-removed",
        "sum-overflowing",
        "proof-from-another-round",
    ):
        assert needed in names


def test_builder_regenerates_the_committed_vectors() -> None:
    # Generate-then-verify: the builder (por) made these; if its bytes drift, this fails.
    import vectorgen

    assert vectorgen.render() == VECTORS_FILE.read_text()


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_no_low_level_exception_escapes(vector: dict[str, Any]) -> None:
    text = _text(vector)
    for cut in (len(text) // 3, len(text) - 2):
        with contextlib.suppress(PorError):
            verify_proof(InclusionProof.from_json(text[:cut]))
