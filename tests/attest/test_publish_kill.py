"""``por publish`` killed at every step, and by SIGKILL at random times, then re-run: the
log ends with exactly one entry for the round, every tree head matches the log, and the
bundle verifies. Real subprocesses, real SQLite files and a real PostgreSQL server.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from attest_helpers import PASSPHRASE, World, build_round, make_world, sign_and_cosign
from publish_killer import APPEND_COMMIT, EXIT_CODE
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from store_fixtures import postgres_server, postgres_url  # noqa: F401 (fixtures)

from por.attest.publish import STEPS, publish_round
from por.attest.rounds import load_round
from por.log import appender
from por.store.db import open_store
from por.store.models import LogEntry
from verifier.attestation.bundle import BundleOptions, read_bundle, verify_bundle
from verifier.log.rfc6962 import hash_leaf

POR = [sys.executable, "-c", "import sys; from por.cli import main; sys.exit(main())"]
# `por` made to die at one step (the fault is injected from here, not by the product).
KILLER = str(Path(__file__).parents[1] / "support" / "publish_killer.py")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    tmp = tmp_path_factory.mktemp("publish-kill")
    w = make_world(tmp)
    build_round(w, tmp, "r1")
    build_round(w, tmp, "r2")
    return w, tmp


def prepare(w: World, url: str, tmp: Path) -> Engine:
    """Round 1 published, round 2 signed and co-signed: ready for ``por publish r2``."""
    engine = open_store(url)
    sign_and_cosign(engine, w, "r1", 0)
    publish_round(engine, "r1", w.exchange_key, w.keylist, tmp / "bundle-r1")
    sign_and_cosign(engine, w, "r2", 1)
    return engine


def publish_cmd(tmp: Path, url: str, out: Path, die_at: str | None = None) -> list[str]:
    por = POR if die_at is None else [sys.executable, KILLER, die_at]
    return [*por, "publish", "r2", "--key", str(tmp / "exchange.pem"), "--keylist",
            str(tmp / "keylist.json"), "--out", str(out), "--db", url]


def env() -> dict[str, str]:
    return {**os.environ, "POR_KEY_PASSPHRASE": PASSPHRASE}


def entries_of_r2(engine: Engine) -> int:
    payload = load_round(engine, "r2").signed.payload
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(LogEntry)
                      .where(LogEntry.leaf_hash == hash_leaf(payload))).one()


def assert_consistent(engine: Engine) -> int:
    """Every stored tree head matches the log; r2 is in it at most once."""
    size = appender.check_log(engine)
    assert size in (1, 2)
    assert entries_of_r2(engine) == size - 1
    return size


def rerun_and_check(w: World, tmp: Path, url: str, engine: Engine, out: Path) -> None:
    done = subprocess.run(publish_cmd(tmp, url, out), env=env(), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert appender.check_log(engine) == 2 and entries_of_r2(engine) == 1
    assert not list(out.parent.glob(f".{out.name}.*"))  # no leftovers
    report = verify_bundle(read_bundle(out), BundleOptions(
        readers=w.readers, auditors=(w.auditor_key.public,),
        pinned_key_id=w.exchange_key.public.key_id))
    assert report.ok, report.findings
    assert report.leaf_index == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'por.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("step", [STEPS[0], APPEND_COMMIT, *STEPS[1:]])
def test_killed_at_each_step_then_rerun(world: tuple[World, Path], db_url: str, step: str,
                                        tmp_path: Path) -> None:
    w, tmp = world
    engine = prepare(w, db_url, tmp_path)
    out = tmp_path / "bundle"
    if step in ("between-renames",):
        # An earlier bundle must be in place for publish to move it aside.
        subprocess.run(publish_cmd(tmp, db_url, out), env=env(), check=True,
                       capture_output=True, timeout=120)
        shutil.rmtree(out / "consistency")  # make the rewrite differ from it
    killed = subprocess.run(publish_cmd(tmp, db_url, out, die_at=step), env=env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == EXIT_CODE, killed.stderr
    size = assert_consistent(engine)
    assert size == (1 if step in ("loaded", APPEND_COMMIT) else 2)
    rerun_and_check(w, tmp, db_url, engine, out)
    engine.dispose()


def test_sigkill_at_random_times_then_rerun(world: tuple[World, Path], tmp_path: Path) -> None:
    w, tmp = world
    seed = int(os.environ.get("POR_KILL_SEED", "20261125"))
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'template.db'}"
    prepare(w, url, tmp_path).dispose()
    shutil.copy(tmp_path / "template.db", tmp_path / "timing.db")
    started = time.monotonic()
    subprocess.run(publish_cmd(tmp, f"sqlite:///{tmp_path / 'timing.db'}", tmp_path / "t"),
                   env=env(), capture_output=True, timeout=120, check=True)
    full = time.monotonic() - started
    outcomes = []
    for i in range(6):
        db = tmp_path / f"kill-{i}.db"
        shutil.copy(tmp_path / "template.db", db)
        case_url, out = f"sqlite:///{db}", tmp_path / f"bundle-{i}"
        process = subprocess.Popen(publish_cmd(tmp, case_url, out), env=env(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Half the kills in the last third of a run, where the append and the bundle are.
        delay = rng.uniform(0.0, full) if i % 2 else rng.uniform(0.66 * full, full)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        engine = open_store(case_url)
        outcomes.append((round(delay, 2), process.returncode, assert_consistent(engine)))
        rerun_and_check(w, tmp, case_url, engine, out)
        engine.dispose()
    print(f"seed {seed}, full run {full:.2f} s, (delay, exit, log size after kill): {outcomes}")
