"""Attack: fake-account-debt-without-collateral. A fake account holding only debt would shrink
the exchange's net liabilities; its own rule fails (spec §15.6).

Vector ``fake-account-debt-without-collateral`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import VerificationError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "margin.json").read_text())
VECTOR = next(v for v in VECTORS["vectors"] if v["name"] == "fake-account-debt-without-collateral")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        proof = MarginInclusionProof.from_json(json.dumps(VECTOR["proof"]))
        verify_margin_proof(proof, expected_root=bytes.fromhex(VECTOR["root"]))
    msg = str(err.value)
    assert "under water" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(VECTOR["proof"]))
    result = CliRunner().invoke(verify_main, ["proof", str(path), "--root", VECTOR["root"]])
    assert result.exit_code == 1, result.output


def test_auditor_finds_the_fake_account_in_the_tree_file(tmp_path: Path) -> None:
    """The whole round, as an auditor gets it: a tree file holding the fake account (built
    with the rule check patched out) fails ``por-verify liabilities`` with that leaf named."""
    from unittest import mock

    from margin_vectorgen import ACCOUNTS, ATTACKERS, _build

    from por.liabilities import margin

    tree = _build({**ACCOUNTS, "mallory": ATTACKERS[VECTOR["name"]]}, skip_rule=True)
    with mock.patch.object(margin, "check_rule", lambda *a: None):
        margin.write_margin_round(tree, tmp_path / "round")
    result = CliRunner().invoke(verify_main, ["liabilities", str(tmp_path / "round")])
    assert result.exit_code == 1, result.output
    assert "under water" in result.output
