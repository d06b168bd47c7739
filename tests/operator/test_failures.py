"""A failed build or prove-all leaves nothing: bad snapshots (checked before anything is
created, the round secret included), a full disk, an existing output."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main as por_main
from por.errors import PorError
from por.liabilities import buckets
from por.liabilities.build import build_tree
from verifier.liabilities.mst import Asset

POR = str(Path(sys.executable).with_name("por"))
HEADER = "user_id,asset,amount\n"


@pytest.fixture(autouse=True)
def _secrets_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("POR_ROUND_SECRET_FILE", raising=False)


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


BAD_SNAPSHOTS = [
    ("missing-column", HEADER.replace(",amount", "") + "u,BTC\n", "expected exactly the columns"),
    ("bom", "\ufeff" + HEADER + "u,BTC,1\n", "byte order mark (BOM"),
    ("unknown-asset", HEADER + "u,DOGE,1\n", "line 2, column asset: unknown asset 'DOGE'"),
    ("bad-amount", HEADER + "u,BTC,1.2.3\n", "line 2, column amount"),
    ("empty-file", "", "the file is empty"),
    ("header-only", HEADER, "no rows"),
    ("duplicate", HEADER + "u,BTC,1\nv,BTC,1\nu,BTC,2\n", "line 4: duplicate row"),
    ("unquoted-comma", HEADER + "u,BTC,1\nv,BTC,1,5\n", "line 3: expected 3 fields"),
    ("trailing-space-id", HEADER + "u,BTC,1\nv ,BTC,1\n", "line 3, column user_id"),
    ("nfd-id", HEADER + "u,BTC,1\nCafe\u0301,BTC,1\n", "not in Unicode NFC"),
    ("no-such-file", None, "no such file"),
]


@pytest.mark.parametrize("case", BAD_SNAPSHOTS, ids=lambda c: c[0])
def test_failed_build_creates_nothing(tmp_path: Path, case: tuple[str, str | None, str]) -> None:
    _, text, message = case
    snap = tmp_path / "s.csv"
    if text is not None:
        snap.write_bytes(text.encode())
    (tmp_path / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    before = _listing(tmp_path)
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                        str(tmp_path / "a.json"), "--round", "r1", "--out",
                                        str(tmp_path / "rounds" / "r1"), "--quiet"])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert _listing(tmp_path) == before  # no OUT, no staging, no secret, no spills


def test_full_disk_during_build_monkeypatched_enospc(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Injected: the spill write raises ENOSPC as a full disk would (in-process, one worker).
    snap = tmp_path / "s.csv"
    snap.write_text(HEADER + "".join(f"u{i},BTC,{i}\n" for i in range(100)))

    def full(self: buckets.Work, name: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{self.url}/{name}")

    monkeypatch.setattr(buckets.Work, "write", full)
    before = _listing(tmp_path)
    with pytest.raises(PorError, match="the disk is full") as err:
        build_tree(snap, (Asset("BTC", 8),), "r1", b"k" * 32, tmp_path / "rounds" / "r1",
                   workers=1)
    assert "partial output was removed" in str(err.value)
    assert _listing(tmp_path) == before


def _limit_file_size() -> None:
    # Real OS error: files may not grow past 256 KiB (EFBIG, SIGXFSZ ignored as a shell
    # with `ulimit -f` and a handler would); the tree of 40 000 users is larger.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))


def test_file_size_limit_during_build_is_a_clear_error(tmp_path: Path) -> None:
    snap = tmp_path / "s.csv"
    snap.write_text(HEADER + "".join(f"user{i},BTC,{i}.5\n" for i in range(40_000)))
    (tmp_path / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    before = _listing(tmp_path)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg"))
    res = subprocess.run([POR, "liabilities", "build", str(snap), "--assets",
                          str(tmp_path / "a.json"), "--round", "r1", "--out",
                          str(tmp_path / "rounds" / "r1"), "--quiet", "--workers", "2"],
                         env=env, preexec_fn=_limit_file_size, capture_output=True, text=True,
                         timeout=600, check=False)
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr and "cannot write the build's files" in res.stderr
    assert "File too large" in res.stderr
    assert _listing(tmp_path) == before


def test_prove_all_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    snap = tmp_path / "s.csv"
    snap.write_text(HEADER + "u1,BTC,1\nu2,BTC,2\n")
    (tmp_path / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    runner = CliRunner()
    assert runner.invoke(por_main, ["liabilities", "build", str(snap), "--assets",
                                    str(tmp_path / "a.json"), "--round", "r1", "--out",
                                    str(tmp_path / "r1"), "--quiet"]).exit_code == 0
    for out in (tmp_path / "p.jsonl", tmp_path / "pdir"):
        args = ["liabilities", "prove-all", str(tmp_path / "r1"), "--snapshot", str(snap),
                "--out", str(out)]
        assert runner.invoke(por_main, args).exit_code == 0
        listing = _listing(tmp_path)
        again = runner.invoke(por_main, args)
        assert again.exit_code == 2 and "pass --force" in again.output
        assert _listing(tmp_path) == listing
        forced = runner.invoke(por_main, [*args, "--force"])
        assert forced.exit_code == 0 and _listing(tmp_path) == listing
    other = tmp_path / "other.csv"
    other.write_text(HEADER + "stranger,BTC,1\n")
    listing = _listing(tmp_path)
    res = runner.invoke(por_main, ["liabilities", "prove-all", str(tmp_path / "r1"),
                                   "--snapshot", str(other), "--out", str(tmp_path / "d2")])
    assert res.exit_code == 2 and "not in round" in res.output
    assert _listing(tmp_path) == listing  # the directory form leaves nothing either
