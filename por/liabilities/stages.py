"""What the build's stages share, on this machine or on a cluster: the plan, what stages
1-3 found, where progress goes, the order of the hashing tasks, the tree file's writer,
and collecting the workers' results (the first failure cancels the rest).

:mod:`por.liabilities.build` runs the stages; :mod:`por.liabilities.distributed` runs stage 4
on a dask.distributed cluster; both import from here (and neither from the other's side).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from por.liabilities import buckets
from verifier.liabilities.treefile import Layout

__all__ = ["Plan", "Progress", "Stages", "largest_first", "level_offsets", "new_tree_file",
           "results_in_order", "tree_sink"]


class Progress(Protocol):
    """Where a long step reports how far it got (the CLI draws it with rich)."""

    def start(self, stage: str, total: int) -> None:
        """A new stage of ``total`` units begins."""

    def advance(self, done: int) -> None:
        """``done`` more units of the current stage are finished."""


@dataclass
class Plan:
    """How a build is cut: buckets, spill buffers, and where the work files go."""

    work_url: str
    bits: int
    flush_bytes: int
    workers: int
    memory: int

    @property
    def bucket_count(self) -> int:
        """Number of buckets (a power of two)."""
        return 1 << self.bits


def results_in_order(futures: list[Future[Any]]) -> Iterator[Any]:
    """Results in submission order; the first failure cancels the rest and is raised."""
    try:
        for fut in futures:
            yield fut.result()
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


@dataclass
class Stages:
    """What stages 1-3 found: user count, rows, and the bucket table of leaf positions."""

    users: int
    rows: int
    layout: Layout
    table: list[tuple[int, int, int]]  # (bucket, first leaf position, leaves)


def largest_first(table: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The non-empty buckets of ``table``, the largest first: submitted in this order, no
    core is left waiting alone for a big bucket at the end of the stage."""
    return sorted((row for row in table if row[2]), key=lambda row: (-row[2], row[0]))


def level_offsets(layout: Layout) -> list[int]:
    """The offset of each level's records in the tree file, leaves first (spec §8.3)."""
    return [layout.level_offset(lvl) for lvl in range(layout.levels + 1)]


def tree_sink(path: Path, layout: Layout, first_leaf: int) -> buckets.TreeFileSink:
    """A sink writing into the tree file at ``path`` the sections of the leaves from
    ``first_leaf`` on."""
    return buckets.TreeFileSink(str(path), layout.commitments_offset, level_offsets(layout),
                                layout.record_size, first_leaf)


def new_tree_file(path: Path, layout: Layout) -> None:
    """Create the tree file at its exact size, with its header written.

    Mode 0600 whatever the umask: it holds every user's balances (spec §8.3: for
    auditors only), so no other local account may read it.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.truncate(layout.file_size)
        fh.write(layout.prefix())
