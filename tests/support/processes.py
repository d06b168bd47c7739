"""The processes a killed command leaves behind: its process group, read from /proc."""

from __future__ import annotations

import time
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
