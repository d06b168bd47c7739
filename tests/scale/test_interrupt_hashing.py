"""SIGINT or SIGTERM while the hashing tasks run (not at a random point, as
tests/operator/test_interrupt.py does): no round, no staging, no spills, no round secret,
no worker process left.

The build is a real ``por`` process in its own session; a small driver wraps the hashing
task so that it leaves a mark when a worker starts it and then works slowly, so the signal
lands while the stage runs.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from processes import signal_when

USERS = 40_000  # above PARALLEL_MIN_ROWS: the build forks its worker pool

DRIVER = """
import sys, time
from por import cli
from por.liabilities import buckets

real = buckets.hash_bucket_local
mark = sys.argv[1]

def hash_bucket_local(*args, **kwargs):
    open(mark, "a").close()
    time.sleep(0.5)
    return real(*args, **kwargs)

hash_bucket_local.__module__ = buckets.__name__  # pickled by name: the workers run this one
buckets.hash_bucket_local = hash_bucket_local
sys.argv = ["por", *sys.argv[2:]]
sys.exit(cli.main())
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_hashing_leaves_nothing(tmp_path: Path, sig: int) -> None:
    snap = tmp_path / "s.csv"
    with snap.open("w") as fh:
        fh.write("user_id,asset,amount\n")
        fh.writelines(f"user{i},BTC,{i}.5\n" for i in range(USERS))
    (tmp_path / "a.json").write_text('[{"symbol": "BTC", "decimals": 8}]')
    case = tmp_path / "case"
    case.mkdir()
    (tmp_path / "driver.py").write_text(DRIVER)
    mark = tmp_path / "hashing-started"
    out = case / "rounds" / "r1"
    env = dict(os.environ, XDG_DATA_HOME=str(case / "xdg"))
    env.pop("POR_ROUND_SECRET_FILE", None)
    cmd = [sys.executable, str(tmp_path / "driver.py"), str(mark), "liabilities", "build",
           str(snap), "--assets", str(tmp_path / "a.json"), "--round", "r1", "--out", str(out),
           "--quiet", "--workers", "2"]
    returncode, err = signal_when(cmd, env, sig, mark.exists)
    assert mark.exists(), "the hashing stage never started"
    assert returncode != 0 and "Traceback" not in err, err[-2000:]
    assert not out.exists()
    left = {str(p.relative_to(case)) for p in case.rglob("*")}
    assert left <= {"xdg", "xdg/por", "xdg/por/secrets"}, sorted(left)
