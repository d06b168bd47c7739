"""The build's hashing stage on a dask.distributed cluster, and the assembly of its shards.

Stages 1-3 of :mod:`por.liabilities.build` submit their tasks to the cluster through Dask's
``concurrent.futures`` executor, exactly as they do to the local process pool. Stage 4
differs only in where a bucket's records go: each worker writes them (commitments, then
each level's records inside the bucket) as objects on shared storage (a path mounted on
every worker, or an fsspec URL) instead of into the tree file, and returns the bucket's
edges; this process copies the sections into the tree file at their offsets (spec §8.3),
then builds the nodes that straddle buckets, as a local build does. The file is byte for
byte the one a local build writes.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from pathlib import Path

from por.errors import InputError, VerificationError
from por.liabilities import buckets
from por.liabilities.stages import (
    Plan,
    Progress,
    Stages,
    largest_first,
    level_offsets,
    new_tree_file,
    results_in_order,
    tree_sink,
)
from verifier.liabilities.mst import HASH_SIZE

COPY_BLOCK = 16 << 20


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


def hash_on_cluster(stages: Stages, plan: Plan, executor: Executor, tmp: Path,
                    progress: Progress) -> bytes:
    """Stage 4 on the cluster: each bucket's sections on shared storage, copied into
    ``tmp`` here, then the nodes straddling buckets built here from the tasks' edges.

    Returns:
        The top record (hash ‖ sums) of the tree.

    Raises:
        VerificationError: a section on shared storage is not the size its bucket implies.
    """
    layout = stages.layout
    k = (layout.record_size - HASH_SIZE) // 16  # amount slots: 3 per asset in a margin tree
    progress.start("hashing (cluster)", layout.leaf_count)
    work = largest_first(stages.table)
    futures = [executor.submit(buckets.hash_bucket_shard, plan.work_url, k, bucket, start,
                               size, layout.levels, layout.is_margin)
               for bucket, start, size in work]
    edges: list[tuple[int, int, bytes]] = []
    for (_, _, size), found in zip(work, results_in_order(futures), strict=True):
        edges.extend(found)
        progress.advance(size)
    progress.start("assembling", len(work))
    new_tree_file(tmp, layout)
    store = buckets.Work(plan.work_url)
    fs, root = store.fs()
    for bucket, start, size in sorted(work):
        sink = tree_sink(tmp, layout, start)
        try:
            for section in range(-1, layout.levels + 1):
                first, stop = buckets.level_span(start, size, max(section, 0))
                width = HASH_SIZE if section < 0 else layout.record_size
                expected = (stop - first) * width
                if not expected:
                    continue  # nothing of this level lies inside the bucket: no object
                name = f"{root}/shards/{bucket:05d}/{buckets.section_name(section)}"
                copied = 0
                with fs.open(name, "rb") as fh:
                    while block := fh.read(COPY_BLOCK - COPY_BLOCK % width):
                        if copied + len(block) > expected:  # never past its own span
                            raise VerificationError(f"{name}: more than the {expected}"
                                                    " bytes its bucket holds")
                        sink.append(section, memoryview(block))
                        copied += len(block)
                if copied != expected:
                    raise VerificationError(f"{name}: {copied} bytes, expected {expected}")
        finally:
            sink.close()
        progress.advance(1)
    store.remove("shards")
    return buckets.fix_up(str(tmp), level_offsets(layout), layout.record_size, edges,
                          layout.is_margin)
