"""``por publish`` when the disk fills up while it writes the bundle: a clear error, exit 2,
no traceback, nothing half-written beside or in place of the bundle (spec §13.4).

The fault is real, not mocked: the publish process runs with RLIMIT_FSIZE (a file size
limit, settable without root, where a tiny tmpfs is not), so its first large write fails
with EFBIG exactly as a full disk's fails with ENOSPC (Python ignores SIGXFSZ, so the write
returns the error instead of killing the process). The round is published once before,
so the re-run only reads the store (SQLite writes nothing on reads) and writes the bundle.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from attest_helpers import PASSPHRASE, build_round, make_world, publish, sign_and_cosign

from por.store.db import open_store

POR = [sys.executable, "-c", "import sys; from por.cli import main; sys.exit(main())"]
LIMIT = 1024  # bytes: below the attestation envelope, the first file written


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def test_a_full_disk_during_publish_is_a_clean_error(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    build_round(w, tmp_path, "r1")
    url = f"sqlite:///{tmp_path / 'por.db'}"
    engine = open_store(url)
    sign_and_cosign(engine, w, "r1", 0)
    publish(engine, w, "r1", tmp_path / "first", 0)
    engine.dispose()
    out = tmp_path / "second"
    env = {**os.environ, "POR_KEY_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        [*POR, "publish", "r1", "--key", str(tmp_path / "exchange.pem"), "--keylist",
         str(tmp_path / "keylist.json"), "--out", str(out), "--db", url],
        env=env, capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=_limited)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot write the bundle" in done.stderr and "File too large" in done.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".second.*"))  # no temporary copy left
    # Once there is room, the same command writes the whole bundle.
    again = subprocess.run(
        [*POR, "publish", "r1", "--key", str(tmp_path / "exchange.pem"), "--keylist",
         str(tmp_path / "keylist.json"), "--out", str(out), "--db", url],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (tmp_path / "first").iterdir())
