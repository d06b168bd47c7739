"""Attack: the round secret (every user's salt) or a build's spilled buckets (every
balance) lie in the directory that ``por serve --rounds`` serves.

Defence: the build writes the secret outside the round's directory (default
``$XDG_DATA_HOME/por/secrets/ROUND.key``, 0600 in a 0700 directory) and refuses a
--secret-file inside it; spills live in a private staging directory removed at the end;
``por serve`` refuses to start when a served round directory holds a secret or spills.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main as por_main
from por.cli.serve import served_leftovers


@pytest.fixture(autouse=True)
def _secrets_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("POR_ROUND_SECRET_FILE", raising=False)


def _build(tmp_path: Path, *extra: str) -> tuple[int, str, Path]:
    (tmp_path / "s.csv").write_text("user_id,asset,amount\nu1,BTC,1\nu2,BTC,2\n")
    (tmp_path / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    out = tmp_path / "rounds" / "r1"
    res = CliRunner().invoke(por_main, ["liabilities", "build", str(tmp_path / "s.csv"),
                                        "--assets", str(tmp_path / "a.json"), "--round", "r1",
                                        "--out", str(out), "--quiet", *extra])
    return res.exit_code, res.output, out


def test_default_build_keeps_secret_and_spills_out_of_the_round(tmp_path: Path) -> None:
    code, output, out = _build(tmp_path)
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == ["build-info.json", "root.json",
                                                      "tree.bin"]
    assert [p.name for p in out.parent.iterdir()] == ["r1"]  # no staging, no spills
    secret = tmp_path / "xdg" / "por" / "secrets" / "r1.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert served_leftovers(out.parent) == []
    # prove finds the secret without being told where it is.
    res = CliRunner().invoke(por_main, ["liabilities", "prove", str(out), "u2"])
    assert res.exit_code == 0 and '"user_id": "u2"' in res.output


def test_secret_file_inside_the_round_is_refused(tmp_path: Path) -> None:
    code, output, _ = _build(tmp_path, "--secret-file",
                               str(tmp_path / "rounds" / "r1" / "my.key"))
    assert code == 2 and "must not lie in the round's directory" in output
    assert not (tmp_path / "rounds").exists()


@pytest.mark.parametrize("leftover", ["r1/round-secret.key", "r1/other.key", "r1/.build-work",
                                      ".r2.building-0123abcd"])
def test_serve_refuses_a_directory_holding_secrets_or_spills(tmp_path: Path,
                                                             leftover: str) -> None:
    code, output, out = _build(tmp_path)
    assert code == 0, output
    path = out.parent / leftover
    if path.suffix == ".key":
        path.write_text("ab" * 32 + "\n")
    else:
        path.mkdir()
    res = CliRunner().invoke(por_main, ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                                        "--rounds", str(out.parent)])
    assert res.exit_code == 2, res.output
    assert "refusing to serve" in res.output and leftover.split("/")[-1] in res.output
