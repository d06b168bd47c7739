"""Issue 12: `pip install .` in a fresh venv is the verifier alone, and it verifies.

A real venv (`python -m venv` + `pip install -c constraints.txt .`, from PyPI or the
machine's index) must list at most 15 distributions, none of the exchange's or the
server's, and its `por-verify` must verify a committed proof vector against its root and a
bundle built as tests/bundle/ builds them (in this venv) with --skip-chain. Commands that
need an extra exit 2 with the line to install it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from attest_helpers import build_round, make_world, publish, sign_and_cosign

from por.store.db import open_store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VECTORS = json.loads((REPO / "tests" / "vectors" / "liabilities.json").read_text())
MAX_DISTRIBUTIONS = 15  # issue 12
NOT_IN_THE_VERIFIER = ("numpy", "pyarrow", "dask", "distributed", "fastapi", "starlette",
                       "sqlalchemy", "sqlmodel", "eth-tester", "py-evm", "eth-account",
                       "coincurve", "btclib", "uvicorn", "psycopg")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fresh")
    # A copy of the sources, so that builds in parallel workers do not share build/.
    source = base / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "node_modules", "tests", "bench", "web",
        "demo-output", "__pycache__", "*.so"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-cache-dir",
         "-c", str(REPO / "constraints.txt"), str(source)],
        capture_output=True, text=True, timeout=1800, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A published round's bundle and a user's proof of it, as tests/bundle/ makes them."""
    tmp = tmp_path_factory.mktemp("bundle")
    world = make_world(tmp)
    files = build_round(world, tmp, "r1")
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    try:
        sign_and_cosign(engine, world, "r1", 0)
        out = publish(engine, world, "r1", tmp / "bundle-r1", 0)
    finally:
        engine.dispose()
    return out, files["proof"], world.exchange_key.public.key_id


def _verify(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "por-verify"), *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_verifier_alone_is_installed(fresh_venv: Path) -> None:
    listed = subprocess.run([str(fresh_venv / "bin" / "python"), "-m", "pip", "list",
                             "--format=json"], capture_output=True, text=True, check=True)
    names = {d["name"].lower() for d in json.loads(listed.stdout)}
    assert "por-toolkit" in names
    assert len(names) <= MAX_DISTRIBUTIONS, sorted(names)
    assert not names & set(NOT_IN_THE_VERIFIER), sorted(names)


def test_fresh_venv_verifies_a_committed_proof(fresh_venv: Path, tmp_path: Path) -> None:
    vector = next(v for v in VECTORS["vectors"] if v["name"] == "valid-alice")
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(vector["proof"]))
    ok = _verify(fresh_venv, "proof", str(proof), "--root", vector["published_root"])
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("VERIFIED")
    wrong = _verify(fresh_venv, "proof", str(proof), "--root", "ab" * 32)
    assert wrong.returncode == 1


def test_fresh_venv_verifies_a_bundle_without_chain(fresh_venv: Path, tmp_path: Path,
                                                   bundle: tuple[Path, Path, str]) -> None:
    directory, proof, key_id = bundle
    state = ["--state", str(tmp_path / "heads.json"), "--pin", key_id,
             "--now", "2026-11-26T00:00:00Z"]
    ok = _verify(fresh_venv, "bundle", str(directory), "--skip-chain", "--proof", str(proof),
                 *state)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout
    # Fail closed still: without --skip-chain and without a node, nothing confirms reserves.
    unread = _verify(fresh_venv, "bundle", str(directory), *state)
    assert unread.returncode == 1


def test_fresh_venv_asks_for_the_reserves_extra(fresh_venv: Path,
                                                bundle: tuple[Path, Path, str]) -> None:
    # Checking the wallets' signatures needs eth-account: exit 2 and the install line.
    directory, _, _ = bundle
    done = _verify(fresh_venv, "reserves", str(directory / "reserves.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'por-toolkit[reserves]'" in done.stderr
    assert "Traceback" not in done.stderr
    demo = subprocess.run([str(fresh_venv / "bin" / "por"), "demo", "--out",
                           str(directory.parent / "demo")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert demo.returncode == 2 and "pip install 'por-toolkit[exchange]'" in demo.stderr
