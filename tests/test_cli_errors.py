"""Issue 12: each CLI turns the package's errors into a message and an exit code in one
place (``verifier.cli.exit_for_error``, ``por.cli.exit_for_error``), with a traceback only
under ``--verbose``.

The kinds are raised by a small command added to the real groups for the test (their catch
point is what is under test); real commands cover the same paths end to end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from por.cli import main as por_main
from verifier.cli import main as verify_main
from verifier.errors import (
    CheckFailedError,
    FormatError,
    PorError,
    StaleError,
    UnanchoredError,
    UnreadableInputError,
    UsageError,
    VerificationError,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "liabilities.json").read_text())

# kind -> (exit code, the word of por-verify's one-line message, the word of por's)
KINDS: dict[type[PorError], tuple[int, str, str]] = {
    FormatError: (2, "MALFORMED", "ERROR"),
    UnreadableInputError: (2, "MALFORMED", "ERROR"),
    UsageError: (2, "ERROR", "ERROR"),
    VerificationError: (1, "FAILED", "FAILED"),
    CheckFailedError: (1, "FAILED", "FAILED"),
    StaleError: (1, "FAILED", "FAILED"),
    UnanchoredError: (1, "UNANCHORED", "FAILED"),
}


@pytest.fixture
def raising() -> Iterator[None]:
    """``boom KIND`` in both CLIs: raises ``KIND("the reason")``."""

    @click.command("boom")
    @click.argument("kind")
    def boom(kind: str) -> None:
        raise next(k for k in KINDS if k.__name__ == kind)("the reason")

    for group in (verify_main, por_main):
        assert isinstance(group, click.Group)
        group.add_command(boom)
    yield
    for group in (verify_main, por_main):
        assert isinstance(group, click.Group)
        del group.commands["boom"]


@pytest.mark.parametrize("kind", list(KINDS), ids=lambda k: k.__name__)
@pytest.mark.usefixtures("raising")
def test_each_kind_has_its_code_and_one_line(kind: type[PorError]) -> None:
    code, verify_word, por_word = KINDS[kind]
    for group, word in ((verify_main, verify_word), (por_main, por_word)):
        res = CliRunner().invoke(group, ["boom", kind.__name__])
        assert res.exit_code == code, res.output
        assert res.stderr == f"{word}: the reason\n"
        assert res.stdout == ""
        assert "Traceback" not in res.output


@pytest.mark.parametrize("kind", list(KINDS), ids=lambda k: k.__name__)
@pytest.mark.usefixtures("raising")
def test_verbose_adds_the_traceback_and_keeps_the_code(kind: type[PorError]) -> None:
    code, verify_word, por_word = KINDS[kind]
    for group, word in ((verify_main, verify_word), (por_main, por_word)):
        res = CliRunner().invoke(group, ["--verbose", "boom", kind.__name__])
        assert res.exit_code == code, res.output
        assert res.stderr.startswith(f"{word}: the reason\nTraceback (most recent call last):")
        assert f"{kind.__module__}.{kind.__name__}: the reason" in res.stderr


def test_json_mode_answers_in_json(tmp_path: Path) -> None:
    # A command with --json answers a failure before its report as a JSON verdict.
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    res = CliRunner().invoke(verify_main, ["proof", str(bad), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout) == {"verdict": "MALFORMED", "ok": False,
                                      "error": json.loads(res.stdout)["error"]}
    assert res.stderr == ""


def _proof(tmp_path: Path) -> tuple[Path, str]:
    vector = next(v for v in VECTORS["vectors"] if v["name"] == "valid-alice")
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(vector["proof"]))
    return path, vector["published_root"]


def test_real_commands(tmp_path: Path) -> None:
    proof, root = _proof(tmp_path)
    ok = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", root])
    assert ok.exit_code == 0, ok.output
    wrong = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", "00" * 32])
    assert wrong.exit_code == 1 and wrong.stderr.startswith("FAILED: ")
    assert "Traceback" not in wrong.output
    verbose = CliRunner().invoke(verify_main, ["--verbose", "proof", str(proof), "--root",
                                               "00" * 32])
    assert verbose.exit_code == 1 and "Traceback (most recent call last)" in verbose.stderr
    # Unanchored: the report says so and why; the catch point adds nothing, exit 1.
    alone = CliRunner().invoke(verify_main, ["proof", str(proof)])
    assert alone.exit_code == 1 and alone.stdout.startswith("UNANCHORED: ")
    assert alone.stderr == ""
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    malformed = CliRunner().invoke(verify_main, ["proof", str(bad), "--root", root])
    assert malformed.exit_code == 2 and malformed.stderr.startswith("MALFORMED: ")
    assert len(malformed.stderr.splitlines()) == 1
    missing = CliRunner().invoke(verify_main, ["proof", str(proof), "--summary",
                                               str(tmp_path / "none.json")])
    assert missing.exit_code == 2, missing.output
    por = CliRunner().invoke(por_main, ["liabilities", "prove", str(tmp_path), "u1",
                                        "--secret-file", str(tmp_path / "none.key")])
    assert por.exit_code == 2 and por.stderr.startswith("ERROR: ")
    assert "Traceback" not in por.output
