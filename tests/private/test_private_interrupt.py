"""An interrupted ``por liabilities build-private`` leaves nothing behind (spec §16.10): killed
with SIGINT or SIGTERM at random points (reading the snapshot, making the leaf records in
the workers, building the subtrees), it leaves no tree file or temporary file, no
``root.json``, no round secret, no ``--out`` directory it created, and no worker process; a
build that finished first leaves exactly its round and its secret.

As tests/operator/test_interrupt.py does for the spot build: each run is a real ``por``
process in its own session (its process group id is its pid, and every worker it forks
shares it); the signal goes to the main process only, as ``kill PID``, ``timeout`` or a
service manager sends it. The seed of the random kill points is printed (POR_KILL_SEED
replays a run).
"""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

import pytest
from processes import signal_when

pytest.importorskip("wallycore")

POR = str(Path(sys.executable).with_name("por"))
USERS = 12_000  # 2^14 leaves × 2 assets: a few seconds of subtree work on 2 workers
SEED = int(os.environ.get("POR_KILL_SEED", random.randrange(1 << 30)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kill-private")
    with (root / "s.csv").open("w") as fh:
        fh.write("user_id,asset,amount\n")
        fh.writelines(f"user{i},BTC,{i}.5\nuser{i},ETH,{i % 97}\n" for i in range(USERS))
    (root / "a.json").write_text('[{"symbol": "BTC", "decimals": 8},'
                                 ' {"symbol": "ETH", "decimals": 18}]')
    return root


def _run_and_kill(world: Path, case: Path, sig: int, delay: float, after_tmp: bool
                  ) -> tuple[int, str]:
    """Start a build into ``case/rounds/r1``; ``delay`` seconds after it starts (or, with
    ``after_tmp``, after its temporary tree file appears) send ``sig`` to its main process."""
    env = dict(os.environ, XDG_DATA_HOME=str(case / "xdg"))
    env.pop("POR_ROUND_SECRET_FILE", None)
    out = case / "rounds" / "r1"
    cmd = [POR, "liabilities", "build-private", str(world / "s.csv"), "--assets",
           str(world / "a.json"), "--round", "r1", "--out", str(out), "--workers", "2"]
    return signal_when(cmd, env, sig, lambda: not after_tmp or (out / ".tree.bin.tmp").exists(),
                       delay=delay, seed=SEED, timeout=300)


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_killed_private_build_leaves_nothing(world: Path, sig: int) -> None:
    print(f"seed {SEED}")
    rng = random.Random(f"{SEED}-{sig}")
    points = [(rng.uniform(0.2, 3.0), False), (rng.uniform(0.0, 1.0), True)]
    for n, (delay, after_tmp) in enumerate(points):
        case = world / f"case-{sig}-{n}"
        case.mkdir()
        rc, err = _run_and_kill(world, case, sig, delay, after_tmp)
        out = case / "rounds" / "r1"
        secret = case / "xdg" / "por" / "secrets" / "r1.key"
        if (out / "root.json").exists():
            # Finished before the signal: the complete round and its secret, nothing else.
            assert sorted(p.name for p in out.iterdir()) == ["root.json", "tree.bin"]
            assert secret.exists() and (secret.stat().st_mode & 0o777) == 0o600
            continue
        # Killed by the signal's default action before the build began (nothing made yet),
        # or stopped by it through the cleanup: 128 + the signal, as a shell reports it.
        assert rc in (-sig, 128 + sig), (delay, after_tmp, rc, err[-2000:])
        assert "Traceback" not in err, err[-2000:]
        if after_tmp:
            assert rc == 128 + sig and "interrupted" in err, err[-2000:]
        left = _listing(case) - {"xdg", "xdg/por", "xdg/por/secrets"}
        assert left == set(), (f"left behind after {delay:.2f}s (after the tmp file:"
                               f" {after_tmp}): {sorted(left)} (seed {SEED})")
