"""Issue 12: the verifier's commands import only what they run, and a command whose optional
dependencies are not installed says which extra to install and exits 2, never a traceback.

The subprocesses check ``sys.modules`` at exit (tests/support/light_env.py); the missing
extras are simulated by a meta path finder that refuses their modules (a stand-in for a
venv without them: the real fresh venv is tests/test_light_install.py, marked slow).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from light_env import (
    EXCHANGE_MODULES,
    HEAVY,
    RESERVES_MODULES,
    SERVER_MODULES,
    blocked_env,
    modules_at_exit,
    run,
)

from por.cli import COMMANDS as POR_COMMANDS
from por.cli import LIABILITIES_COMMANDS, liabilities
from por.cli import main as por_main
from verifier.cli import COMMANDS as VERIFY_COMMANDS
from verifier.cli import main as verify_main
from verifier.cli.lazy import listed_help

VECTORS = json.loads((Path(__file__).parent / "vectors" / "liabilities.json").read_text())
ALL_EXTRAS = RESERVES_MODULES + EXCHANGE_MODULES + SERVER_MODULES


def _valid_proof(tmp_path: Path) -> tuple[Path, str]:
    vector = next(v for v in VECTORS["vectors"] if v["name"] == "valid-alice")
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(vector["proof"]))
    return path, vector["published_root"]


def test_import_verifier_proof_is_light() -> None:
    code = ("import json, sys, verifier.liabilities.proof; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("entry, args", [
    ("verifier.cli:main", ["--help"]),
    ("por.cli:main", ["--help"]),
    ("verifier.cli:main", ["proof", "--help"]),
])
def test_help_is_light(tmp_path: Path, entry: str, args: list[str]) -> None:
    done, heavy = modules_at_exit(tmp_path, entry, args)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    assert heavy == []


def test_proof_command_is_light(tmp_path: Path) -> None:
    proof, root = _valid_proof(tmp_path)
    done, heavy = modules_at_exit(tmp_path, "verifier.cli:main",
                                  ["proof", str(proof), "--root", root])
    assert done.returncode == 0, done.stderr
    assert "VERIFIED" in done.stdout + done.stderr
    assert heavy == []


@pytest.mark.slow  # several subprocesses, each importing a CLI
def test_eager_imports_would_be_caught(tmp_path: Path) -> None:
    # The wrapper does see a heavy import when one happens (the check above can fail).
    done, heavy = modules_at_exit(tmp_path, "verifier.cli:main", ["reserves", "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage:")
    _, heavy = modules_at_exit(tmp_path, "por.cli:main", ["liabilities", "build", "x",
                                                          "--assets", "a", "--round", "r",
                                                          "--out", str(tmp_path / "o")])
    assert "pyarrow" in heavy or "numpy" in heavy


@pytest.mark.parametrize("group, table", [(verify_main, VERIFY_COMMANDS),
                                          (por_main, POR_COMMANDS),
                                          (liabilities, LIABILITIES_COMMANDS)])
def test_listed_help_is_each_commands_own(group: click.Group, table: dict[str, tuple[str, str]]
                                          ) -> None:
    # The help line in the registration table is what `--help` lists before any command is
    # imported: it must say what the command itself says.
    ctx = click.Context(group)
    for name, (_, listed) in table.items():
        command = group.get_command(ctx, name)
        assert command is not None and command.name is not None
        for limit in (20, 45, 70, 120):
            assert listed_help(listed, limit) == command.get_short_help_str(limit), \
                name


@pytest.mark.slow  # several subprocesses, each importing a CLI
def test_proof_runs_with_every_extra_missing(tmp_path: Path) -> None:
    proof, root = _valid_proof(tmp_path)
    env = blocked_env(tmp_path, ALL_EXTRAS)
    done = run("por-verify", ["proof", str(proof), "--root", root], env)
    assert done.returncode == 0, done.stderr
    wrong = run("por-verify", ["proof", str(proof), "--root", "ab" * 32], env)
    assert wrong.returncode == 1, wrong.stderr
    listing = run("por-verify", ["--help"], env)
    assert listing.returncode == 0 and "bundle" in listing.stdout
    por_listing = run("por", ["--help"], env)
    assert por_listing.returncode == 0 and "liabilities" in por_listing.stdout


def _assert_asks_for(done: subprocess.CompletedProcess[str], extra: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"pip install 'por-toolkit[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.slow  # several subprocesses, each importing a CLI
def test_reserves_without_its_extra_names_the_install_line(tmp_path: Path) -> None:
    env = blocked_env(tmp_path, RESERVES_MODULES)
    okx_addresses = Path(__file__).parent / "data" / "okx_addresses" / "example_test.csv"
    _assert_asks_for(run("por-verify", ["foreign", "okx-addresses", str(okx_addresses)], env),
                     "reserves")
    # The other foreign formats need no extra (issue 12): their group's help runs.
    assert run("por-verify", ["foreign", "--help"], env).returncode == 0
    # Its help needs no extra; checking a reserves file's signatures does: that is
    # tests/test_light_install.py, on a real reserves file in a venv without the extra.
    assert run("por-verify", ["reserves", "--help"], env).returncode == 0


@pytest.mark.slow  # several subprocesses, each importing a CLI
def test_exchange_and_server_commands_without_their_extra(tmp_path: Path) -> None:
    env = blocked_env(tmp_path, EXCHANGE_MODULES + SERVER_MODULES)
    snapshot = tmp_path / "s.csv"
    snapshot.write_text("user_id,asset,amount\nu1,BTC,1\n")
    assets = tmp_path / "assets.json"
    assets.write_text('[{"symbol": "BTC", "decimals": 8}]')
    _assert_asks_for(run("por", ["liabilities", "build", str(snapshot), "--assets", str(assets),
                                 "--round", "r1", "--out", str(tmp_path / "out")], env),
                     "exchange")
    server_only = blocked_env(tmp_path, SERVER_MODULES)
    _assert_asks_for(run("por", ["serve", "--db", f"sqlite:///{tmp_path / 'por.db'}",
                                 "--rounds", str(tmp_path), "--port", "1"], server_only),
                     "server")


def test_foreign_formats_do_not_load_the_wallet_libraries(tmp_path: Path) -> None:
    # Only okx-addresses checks wallet signatures (eth-utils, btclib: the [reserves] extra);
    # the other foreign formats, and the group's help, must not import them (issue 12).
    done, heavy = modules_at_exit(tmp_path, "verifier.cli:main", ["foreign", "--help"])
    assert done.returncode == 0, done.stderr
    assert "okx-addresses" in done.stdout
    assert heavy == []
