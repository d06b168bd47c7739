"""The build's hashing stage on a dask.distributed cluster, and the assembly of its shards.

Stages 1-3 of :mod:`por.liabilities.build` submit their tasks to the cluster through Dask's
``concurrent.futures`` executor, exactly as they do to the local process pool. Stage 4
differs only in where a subtree goes: each worker writes its aligned shard (commitments,
then each level's records) as objects on shared storage (a path mounted on every worker,
or an fsspec URL), returns the shard's root, and this process builds the levels above the
shards, then copies the sections into the tree file in the order of spec §8.3. The file is
byte for byte the one a local build writes.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from por.errors import InputError, VerificationError
from por.liabilities import buckets
from verifier.liabilities.mst import HASH_SIZE

COPY_BLOCK = 16 << 20
SHARD_MIN_LEAVES = 1 << 10  # smaller shards cost more in task overhead than they save


def connect(cluster: str, stack: contextlib.ExitStack) -> tuple[Executor, int]:
    """A ``concurrent.futures`` executor on the cluster, and its number of worker threads.

    Args:
        cluster: the scheduler's address (``tcp://host:8786``, ``tls://...``), or
            ``config`` for the address in the Dask configuration
            (``scheduler-address``, e.g. ``DASK_SCHEDULER_ADDRESS``).
        stack: closes the client when the build ends.

    Raises:
        InputError: the scheduler cannot be reached or has no workers.
    """
    try:
        import dask.config
        from distributed import Client
    except ImportError as e:  # pragma: no cover - dask is a dependency
        raise InputError("--cluster needs the dask and distributed packages") from e
    address = dask.config.get("scheduler-address", None) if cluster == "config" else cluster
    if not address:
        raise InputError("--cluster config: the Dask configuration names no scheduler-address")
    try:
        # The connect timeout of the Dask configuration (30 s unless set).
        client = Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect"),
                        set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise InputError(f"--cluster {address}: cannot reach the scheduler: {e}") from e
    stack.callback(client.close)
    threads = sum(client.nthreads().values())
    if not threads:
        raise InputError(f"--cluster {address}: the scheduler has no workers")
    return client.get_executor(pure=False), threads


def hash_on_cluster(stages: Any, plan: Any, executor: Executor, tmp: Path,
                    progress: Any) -> bytes:
    """Stage 4 on the cluster: shards on shared storage, assembled into ``tmp`` here.

    Returns:
        The top record (hash ‖ sums) of the tree.
    """
    from por.liabilities.build import new_tree_file, shard_height, top_levels, tree_sink

    layout = stages.layout
    shards = max(1, min(4 * plan.workers, layout.leaf_count // SHARD_MIN_LEAVES))
    height = shard_height(layout, shards)
    k = (layout.record_size - HASH_SIZE) // 16  # amount slots: 3 per asset in a margin tree
    progress.start("hashing (cluster)", layout.leaf_count)
    firsts = list(range(0, layout.leaf_count, 1 << height))
    futures = [executor.submit(buckets.build_shard, plan.work_url, k, stages.table, first,
                               height, i, layout.is_margin) for i, first in enumerate(firsts)]
    roots = []
    try:
        for fut in futures:
            roots.append(fut.result())
            progress.advance(1 << height)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    progress.start("assembling", len(firsts) * (height + 2))
    new_tree_file(tmp, layout)
    sink = tree_sink(tmp, layout, 0)
    work = buckets.Work(plan.work_url)
    fs, root = work.fs()
    try:
        for section in range(-1, height + 1):
            width = HASH_SIZE if section < 0 else layout.record_size
            for i in range(len(firsts)):
                name = f"{root}/shards/{i:05d}/{buckets.section_name(section)}"
                expected = ((1 << height) >> max(section, 0)) * width
                copied = 0
                with fs.open(name, "rb") as fh:
                    while block := fh.read(COPY_BLOCK - COPY_BLOCK % width):
                        sink.append(section, memoryview(block))
                        copied += len(block)
                if copied != expected:
                    raise VerificationError(f"{name}: {copied} bytes, expected {expected}")
                progress.advance(1)
    finally:
        sink.close()
    work.remove("shards")
    return top_levels(layout, roots, height, tree_sink(tmp, layout, 0))
