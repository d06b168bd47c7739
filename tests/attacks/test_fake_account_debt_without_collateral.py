"""Attack: fake-account-debt-without-collateral. A fake account holding only debt would shrink
the exchange's net liabilities; its own rule fails (spec §15.6).

Vector ``fake-account-debt-without-collateral`` of tests/vectors/margin.json
(tests/support/margin_vectorgen.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attack_vectors import margin_vector, margin_vector_cli, verify_margin_vector
from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.errors import VerificationError

VECTOR = margin_vector("fake-account-debt-without-collateral")


def test_library_refuses() -> None:
    with pytest.raises(VerificationError) as err:
        verify_margin_vector(VECTOR)
    msg = str(err.value)
    assert "under water" in msg


def test_cli_refuses(tmp_path: Path) -> None:
    result = margin_vector_cli(VECTOR, tmp_path)
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
