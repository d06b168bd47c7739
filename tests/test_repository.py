"""The repository itself: nothing tracked that a fresh clone cannot use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="not a git checkout")
def test_no_symlink_is_tracked() -> None:
    # A tracked symlink (mode 120000) once replaced tests/chains/hardhat/node_modules with a
    # link to a developer's own checkout: every Hardhat test then skipped as "not installed".
    out = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    links = [line.split("\t", 1)[1] for line in out.splitlines() if line.startswith("120000")]
    assert links == []
