"""What the build's stages share, on this machine or on a cluster: the plan, what stages
1-3 found, where progress goes, the tree file's writer and the levels above the subtrees,
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

import numpy as np

from por.liabilities import buckets
from verifier.liabilities.treefile import Layout

__all__ = ["Plan", "Progress", "Stages", "new_tree_file", "results_in_order", "shard_height",
           "top_levels", "tree_sink"]


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


def shard_height(layout: Layout, shards: int) -> int:
    """Height of each aligned subtree when the leaves are cut into about ``shards`` parts."""
    split = min(layout.levels, max(0, (shards - 1).bit_length()))
    return layout.levels - split


def top_levels(layout: Layout, roots: list[bytes], height: int, sink: buckets.Sink) -> bytes:
    """Levels above the subtrees (``height + 1 .. L``) from their roots; the top record."""
    level = np.frombuffer(b"".join(roots), np.uint8).reshape(len(roots), layout.record_size)
    try:
        for lvl in range(height + 1, layout.levels + 1):
            level = buckets.parent_records(level, layout.is_margin)
            sink.append(lvl, level)
    finally:
        sink.close()
    return bytes(level[0])


def tree_sink(path: Path, layout: Layout, first_leaf: int) -> buckets.TreeFileSink:
    """A sink writing into the tree file at ``path`` from leaf ``first_leaf`` on."""
    return buckets.TreeFileSink(
        str(path), layout.commitments_offset,
        [layout.level_offset(lvl) for lvl in range(layout.levels + 1)],
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
