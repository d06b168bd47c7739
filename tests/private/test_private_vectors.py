"""Every committed private vector (tests/vectors/private.json) gets its verdict, from the
library and from `por-verify proof` (exit 0 verified, 1 failed or unanchored, 2 malformed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import FormatError, VerificationError
from verifier.private.proof import PrivateProof, PrivateRoot, verify_private_proof

DOC = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
VECTORS = DOC["vectors"]
EXIT = {"verified": 0, "failed": 1, "unanchored": 1, "malformed": 2}


def proof_bytes(vector: dict[str, Any]) -> bytes:
    if "proof_text" in vector:
        return str(vector["proof_text"]).encode()
    return rfc8785.dumps(vector["proof"])


def verdict(vector: dict[str, Any]) -> str:
    try:
        proof = PrivateProof.from_json(proof_bytes(vector))
        root = bytes.fromhex(vector["root"]) if vector["root"] else None
        report = verify_private_proof(proof, expected_root=root)
    except FormatError:
        return "malformed"
    except VerificationError:
        return "failed"
    return "verified" if report.anchored else "unanchored"


def test_the_vectors_cover_every_attack_of_the_issue() -> None:
    names = {v["name"] for v in VECTORS}
    assert {"sibling-commits-to-negative-sum", "range-proof-moved-to-another-level",
            "range-proof-moved-to-another-asset", "range-proof-replayed-from-another-round",
            "parent-commitment-not-the-sum", "root-opening-does-not-match-totals",
            "range-proof-of-32-bits"} <= names


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_library_verdict(vector: dict[str, Any]) -> None:
    assert verdict(vector) == vector.get("final", vector["expected"])


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_cli_verdict(vector: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(proof_bytes(vector))
    args = ["proof", str(path), "--json"]
    if vector["root"]:
        args += ["--root", vector["root"]]
    result = CliRunner().invoke(verify_main, args)
    want = vector.get("final", vector["expected"])
    assert result.exit_code == EXIT[want], result.output
    out = json.loads(result.output)
    assert out["verdict"] == {"verified": "VERIFIED", "failed": "FAILED",
                              "unanchored": "UNANCHORED", "malformed": "MALFORMED"}[want]


def test_summary_anchor(tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v["name"] == "valid-private-proof-alice")
    proof, summary = tmp_path / "proof.json", tmp_path / "root.json"
    proof.write_bytes(proof_bytes(vector))
    root = PrivateRoot.from_json(rfc8785.dumps(DOC["round_root"]))
    summary.write_bytes(root.to_bytes())
    result = CliRunner().invoke(verify_main, ["proof", str(proof), "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output and "BTC" in result.output
    # The same summary with another total: the proof no longer matches the publication.
    other = dict(DOC["round_root"], totals=["1", *DOC["round_root"]["totals"][1:]])
    summary.write_bytes(rfc8785.dumps(other))
    result = CliRunner().invoke(verify_main, ["proof", str(proof), "--summary", str(summary)])
    assert result.exit_code == 1, result.output


def test_bundle_anchor_is_a_usage_error(tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v["name"] == "valid-private-proof-alice")
    proof = tmp_path / "proof.json"
    proof.write_bytes(proof_bytes(vector))
    result = CliRunner().invoke(verify_main, ["proof", str(proof), "--bundle", str(tmp_path)])
    assert result.exit_code == 2, result.output
