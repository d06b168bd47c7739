"""Failures leave nothing behind: ``por liabilities build`` and ``prove-all`` killed with
SIGINT or SIGTERM at random points leave no partial output, no round secret, no spills and
no worker process; a finished run leaves exactly its output.

Each run is a real ``por`` process in its own session (so its process group id is its pid,
and every worker it forks shares it); the signal goes to the main process only, as
``kill PID``, ``timeout`` or a service manager sends it. The seed of the random kill points
is printed, so a failure can be replayed.
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import signal_when

POR = str(Path(sys.executable).with_name("por"))
USERS = 40_000  # above PARALLEL_MIN_ROWS: the build forks its worker pool
SEED = int(os.environ.get("POR_KILL_SEED", random.randrange(1 << 30)))
POINTS = 2  # kill points per command and signal (POR_KILL_SEED replays a run)


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill")
    with (root / "s.csv").open("w") as fh:
        fh.write("user_id,asset,amount\n")
        fh.writelines(f"user{i},BTC,{i}.5\n" for i in range(USERS))
    (root / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    env = _env(root)
    subprocess.run([POR, "liabilities", "build", str(root / "s.csv"), "--assets",
                    str(root / "a.json"), "--round", "r0", "--out", str(root / "built"),
                    "--quiet", "--workers", "2"], env=env, check=True, capture_output=True)
    return root


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, XDG_DATA_HOME=str(root / "xdg"))
    env.pop("POR_ROUND_SECRET_FILE", None)
    return env


def _run_and_kill(cmd: list[str], env: dict[str, str], sig: int, delay: float,
                  watch: Path) -> tuple[int, str]:
    """Run ``cmd``; ``delay`` seconds after it starts writing (a hidden staging entry
    appears in ``watch``), send ``sig`` to its main process; its exit code and stderr."""
    return signal_when(cmd, env, sig, lambda: watch.is_dir() and any(
        p.name.startswith(".") for p in watch.iterdir()), delay=delay, seed=SEED)


def _points(name: str, sig: int, longest: float) -> list[float]:
    rng = random.Random(f"{SEED}-{name}-{sig}")
    return sorted(rng.uniform(0.0, longest) for _ in range(POINTS))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_killed_build_leaves_nothing(world: Path, sig: int) -> None:
    print(f"seed {SEED}")
    for n, delay in enumerate(_points("build", sig, 3.0)):
        case = world / f"build-{sig}-{n}"
        case.mkdir()
        env = _env(case)
        before = _listing(case)
        out = case / "rounds" / "r1"
        rc, err = _run_and_kill([POR, "liabilities", "build", str(world / "s.csv"), "--assets",
                                 str(world / "a.json"), "--round", "r1", "--out", str(out),
                                 "--quiet", "--workers", "2"], env, sig, delay,
                                out.parent)
        secret = case / "xdg" / "por" / "secrets" / "r1.key"
        if (out / "root.json").exists():
            # Finished before the signal (or just after the round was moved into place,
            # where the exit code may still say interrupted): complete output, nothing else.
            assert sorted(p.name for p in out.iterdir()) == ["build-info.json", "root.json",
                                                              "tree.bin"]
            assert secret.exists() and (secret.stat().st_mode & 0o777) == 0o600
            assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
        else:
            assert rc != 0 and "Traceback" not in err, (delay, err[-2000:])
            assert not out.exists()
            left = _listing(case) - before - {"xdg", "xdg/por", "xdg/por/secrets"}
            assert left == set(), f"left behind after {delay:.2f}s: {sorted(left)} (seed {SEED})"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("form", ["proofs.jsonl", "proofs", "proofs-gz"],
                         ids=["jsonl", "directory", "compressed"])
def test_killed_prove_all_leaves_nothing(world: Path, sig: int, form: str) -> None:
    print(f"seed {SEED}")
    env = _env(world)
    compress = ["--compress", "gzip"] if form.endswith("-gz") else []
    for n, delay in enumerate(_points(f"prove-{form}", sig, 2.0)):
        case = world / f"prove-{form}-{sig}-{n}"
        case.mkdir()
        rc, err = _run_and_kill([POR, "liabilities", "prove-all", str(world / "built"),
                                 "--snapshot", str(world / "s.csv"), "--out",
                                 str(case / form), "--workers", "2", *compress], env, sig,
                                delay, case)
        if rc == 0:  # finished before the signal: the output, complete, and nothing else
            assert [p.name for p in case.iterdir()] == [form]
            count = (len((case / form).read_text().splitlines()) if form.endswith(".jsonl")
                     else sum(len(gzip.decompress(p.read_bytes()).splitlines())
                              for p in (case / form).iterdir()) if compress
                     else len(list((case / form).iterdir())))
            assert count == USERS
            continue
        assert "Traceback" not in err, (delay, err[-2000:])
        assert list(case.iterdir()) == [], f"left after {delay:.2f}s (seed {SEED})"


def test_sigkilled_build_leaves_only_a_private_staging_dir_the_next_build_removes(
        world: Path) -> None:
    # SIGKILL cannot be caught: the staging directory stays, but it is private (0700), its
    # workers die with it (PR_SET_PDEATHSIG), and the next build into the place removes it.
    case = world / "sigkill"
    case.mkdir()
    env = _env(case)
    out = case / "rounds" / "r1"
    cmd = [POR, "liabilities", "build", str(world / "s.csv"), "--assets", str(world / "a.json"),
           "--round", "r1", "--out", str(out), "--quiet", "--workers", "2"]
    rc, _ = _run_and_kill(cmd, env, signal.SIGKILL, 0.02, out.parent)
    if rc == 0 or out.exists():
        pytest.skip("the build had finished (renamed into place) before SIGKILL")
    # Killed before its staging directory existed, the build leaves nothing at all; else
    # what it leaves is private.
    stale = [p for p in out.parent.iterdir() if p.name.startswith(".r1.building-")] \
        if out.parent.exists() else []
    assert all((p.stat().st_mode & 0o777) == 0o700 for p in stale)
    assert not (case / "xdg" / "por" / "secrets" / "r1.key").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in out.parent.iterdir()] == ["r1"]


def _short(x: int) -> int:
    time.sleep(0.0005 * (x % 3))
    return x


def test_stop_workers_with_cancelled_work_leaves_no_thread_error_and_no_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The shutdown of a build or prove-all stopped mid-stage: results still arriving,
    # futures the caller has just cancelled, tasks not yet handed to a worker. Removing
    # entries from the pool's pending table raced with its manager thread (KeyError in
    # that thread, printed as a traceback); 3.11's broken-pool path fails on cancelled
    # futures (InvalidStateError). Neither may happen, and no worker may be left.
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    from por.liabilities.build import _worker_init, stop_workers

    errors: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda a: errors.append(repr(a.exc_value)))
    for i in range(60):
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_worker_init, initargs=(os.getpid(),))
        futures = [pool.submit(_short, j) for j in range(300)]
        futures[i % 20].result()
        for fut in futures:
            fut.cancel()
        workers = list(pool._processes.values())
        stop_workers(pool)
        assert not [p.pid for p in workers if p.is_alive()], i
        assert errors == [], (i, errors[:3])
