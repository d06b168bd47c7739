"""Killing a command at a chosen point, and the processes it leaves behind: its process
group, read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def live_group(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def assert_no_orphans(pgid: int, seed: int) -> None:
    """No process of group ``pgid`` is left. The parent waits for its workers before it
    exits; the kernel may take a moment to tear them down, so this polls (never a fixed
    sleep) for up to 10 s. ``seed`` is the kill points' seed, named to replay a failure."""
    deadline = time.monotonic() + 10
    while live_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_group(pgid) == [], f"processes left in group {pgid} (seed {seed})"


def signal_when(cmd: list[str], env: dict[str, str], sig: int, ready: Callable[[], bool], *,
                delay: float = 0.0, seed: int = 0, timeout: float = 120) -> tuple[int, str]:
    """Run ``cmd`` in its own process group; once ``ready()`` holds (or it exits, or 120 s
    pass), wait ``delay`` seconds and send ``sig`` to its main process if it still runs.
    Whatever happens, nothing of its group is left (SIGKILL if the test fails first), and
    :func:`assert_no_orphans` is checked. Its exit code and stderr."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:  # never leave it behind, even when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_no_orphans(proc.pid, seed)
    return proc.returncode, err
