"""verifier/files.py: whole-or-nothing writes and private files, the one helper every
writer of the project uses (issue 12)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from verifier.files import create_private, fsync_dir, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic_replaces_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    write_atomic(path, "old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]  # no leftovers
    fsync_dir(path.parent)


def test_write_atomic_failure_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomic(path, "old")

    class Unencodable(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, Unencodable("new"))
    assert path.read_text() == "old"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_write_atomic_in_a_read_only_directory_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_atomic(path, "old")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            write_atomic(path, "new")
    finally:
        tmp_path.chmod(0o700)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_create_private_is_0600_and_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "round.key"
    create_private(path, "secret\n")
    assert path.read_text() == "secret\n"
    assert _mode(path) == 0o600
    with pytest.raises(FileExistsError):
        create_private(path, "other\n")
    assert path.read_text() == "secret\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round.key"]  # no leftovers
