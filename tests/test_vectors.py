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
from verifier.liabilities.proof import InclusionProof, verify_proof

VECTORS_FILE = Path(__file__).parent / "vectors" / "liabilities.json"
DATA = json.loads(VECTORS_FILE.read_text())
EXIT = {"verified": 0, "failed": 1, "unanchored": 1, "malformed": 2}
CLI_VERDICT = {"verified": "VERIFIED", "failed": "FAILED", "unanchored": "UNANCHORED",
               "malformed": "MALFORMED"}


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
    final = vector.get("final", vector["expected"])
    assert result.exit_code == EXIT[final], result.output
    report = json.loads(result.output)
    assert report["ok"] is (final == "verified")
    assert report["verdict"] == CLI_VERDICT[final]


def test_only_unanchored_self_checks_carry_a_final_verdict() -> None:
    finals = {v["name"]: v["final"] for v in DATA["vectors"] if "final" in v}
    assert finals == {"valid-without-published-root": "unanchored"}


@pytest.mark.parametrize("vector", DATA["anchor_vectors"], ids=lambda v: v["name"])
def test_anchor_vector_cli_verdict(vector: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(vector["proof"]))
    args = ["proof", str(path), "--json"]
    if vector["root_option"] is not None:
        args += ["--root", vector["root_option"]]
    result = CliRunner().invoke(verify_main, args)
    assert result.exit_code == EXIT[vector["expected"]], result.output
    report = json.loads(result.output)
    assert report["verdict"] == CLI_VERDICT[vector["expected"]]
    assert report["ok"] is (vector["expected"] == "verified")


@pytest.mark.parametrize("vector", DATA["anchor_vectors"], ids=lambda v: v["name"])
def test_anchor_vector_library_verdict(vector: dict[str, Any]) -> None:
    from verifier.cli.options import parse_root_option

    try:
        root = (parse_root_option(vector["root_option"])
                if vector["root_option"] is not None else None)
        report = verify_proof(InclusionProof.from_json(json.dumps(vector["proof"])),
                              expected_root=root)
        verdict = "verified" if report.anchored else "unanchored"
        if not report.anchored:
            with pytest.raises(VerificationError, match="UNANCHORED"):
                report.require_anchor()
    except VerificationError:
        verdict = "failed"
    except FormatError:
        verdict = "malformed"
    assert verdict == vector["expected"]


@pytest.mark.parametrize("vector", DATA["tree_file_vectors"], ids=lambda v: v["name"])
def test_tree_file_vector_verdict(vector: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "tree.bin").write_bytes(bytes.fromhex(vector["tree_hex"]))
    summary = DATA["tree_file_summaries"][vector["summary"]]
    (tmp_path / "root.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(verify_main, ["liabilities", str(tmp_path), "--json"])
    assert result.exit_code == EXIT[vector["expected"]], result.output
    assert json.loads(result.output)["verdict"] == CLI_VERDICT[vector["expected"]]
    if vector["expected"] == "verified":
        assert json.loads(result.output)["root_hash"] == summary["root_hash"]


def test_every_new_rule_has_a_vector() -> None:
    names = {v["name"] for key in ("vectors", "anchor_vectors", "tree_file_vectors")
             for v in DATA[key]}
    for needed in (
        "fabricated-one-leaf-proof-unanchored",  # §8.2 anchor, §9 exit 1
        "root-option-uppercase-hex",  # §8.2: --root in either case
        "root-option-fullwidth-digit",
        "leaf-count-zero",  # §5: 1 <= N
        "valid-one-leaf-round",
        "tree-file-header-padding-not-zero",  # §8.3 padding
        "valid-tree-file-header-already-aligned",  # §8.3: no padding when aligned
        "tree-file-padding-block-when-aligned",
        "tree-file-header-not-canonical",  # §8.3: header bytes
        "tree-file-header-length-beyond-file",  # §8.3: u32 length
    ):
        assert needed in names


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
