"""Attack (exposure): a database URL with its password given as ``--db`` is readable by
every user of the machine (``ps``, ``/proc/PID/cmdline``) and kept in shell history, and
was echoed in error messages.

Defence: ``--db`` with a password is refused for every command (exit 2), the message shows
the URL redacted; the password comes from ``$POR_DATABASE_URL`` or a 0600 file named by
``$POR_DATABASE_PASSWORD_FILE``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main as por_main
from por.errors import InputError
from por.store.db import PASSWORD_FILE_ENV, open_engine, redact_url

URL = "postgresql+psycopg://por:hunter2-s3cret@127.0.0.1:1/por"


@pytest.mark.parametrize("argv", [
    ["serve", "--db", URL],
    [f"--db={URL}"],
    ["round", "new", "r1", "--exchange", "X", "--db", URL],
    ["round", "new", "r1", "--exchange", "X", f"--db={URL}"],
], ids=["serve", "serve-equals", "round-new", "round-new-equals"])
def test_password_on_the_command_line_is_refused(argv: list[str]) -> None:
    if argv[0].startswith("--db="):
        argv = ["serve", *argv]
    res = CliRunner().invoke(por_main, argv)
    assert res.exit_code == 2, res.output
    assert "hunter2" not in res.output and "POR_DATABASE_PASSWORD_FILE" in res.output
    assert "por:***@127.0.0.1" in res.output


def test_password_file_is_used_and_must_be_private(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-s3cret\n")
    os.chmod(secret, 0o600)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(secret))
    engine = open_engine("postgresql+psycopg://por@127.0.0.1:1/por")  # nothing connects yet
    assert engine.url.password == "hunter2-s3cret"
    assert "hunter2" not in repr(engine.url)
    os.chmod(secret, 0o640)
    with pytest.raises(InputError, match="chmod 600") as err:
        open_engine("postgresql+psycopg://por@127.0.0.1:1/por")
    assert "hunter2" not in str(err.value)


def test_unusable_url_message_is_redacted() -> None:
    with pytest.raises(InputError) as err:
        open_engine("nosuchdialect://por:hunter2-s3cret@h/db")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
    assert redact_url("weird://a:b@c") == "weird://a:***@c"
