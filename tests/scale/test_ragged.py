"""Stage 4: each bucket builds every node inside its own leaf positions (hash_bucket), the
nodes straddling buckets are built from the edges (fix_up); the whole tree file, on one
machine and in the cluster's shape, against a level-by-level reference and the verifier's
audit."""

from __future__ import annotations

import itertools
import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from por.errors import VerificationError
from por.liabilities import buckets
from por.liabilities.build import _Silent
from por.liabilities.distributed import hash_on_cluster
from por.liabilities.stages import Plan, Stages, new_tree_file
from verifier.liabilities.mst import HASH_SIZE, Asset
from verifier.liabilities.treefile import Layout, TreeFile, audit_tree

ASSETS = (Asset("BTC", 8), Asset("ETH", 18))
K = len(ASSETS)


def _leaves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct commitments in ascending order, and small random sums."""
    rng = random.Random(seed)
    c = np.frombuffer(b"".join(sorted({rng.randbytes(HASH_SIZE) for _ in range(n)})),
                      np.uint8).reshape(-1, HASH_SIZE)
    while len(c) < n:  # never: 2^-256
        c = _leaves(n, seed + 1)[0]
    sums = np.zeros((n, 16 * K), np.uint8)
    for i in range(n):
        for j in range(K):
            sums[i, 16 * j : 16 * j + 16] = np.frombuffer(
                rng.randrange(2**100).to_bytes(16, "big"), np.uint8)
    return c, sums


def _reference_file(layout: Layout, c: np.ndarray, sums: np.ndarray) -> bytes:
    """The tree file built level by level over whole levels (numpy and hashlib twins)."""
    out = bytearray(layout.prefix())
    out += c.tobytes()
    level = buckets.leaf_records_python(c, sums)
    out += level.tobytes()
    while len(level) > 1:
        level = buckets.parent_records_python(level)
        out += level.tobytes()
    assert len(out) == layout.file_size
    return bytes(out)


def _write_buckets(work: buckets.Work, c: np.ndarray, sums: np.ndarray,
                   sizes: list[int]) -> list[tuple[int, int, int]]:
    """Consecutive leaves as merged buckets (no padding files); their table."""
    table = []
    start = 0
    for b, size in enumerate(sizes):
        users = np.zeros(size, buckets.leaf_dtype(K))
        users["c"] = c[start : start + size]
        users["s"] = sums[start : start + size]
        work.write(f"users/{b:05d}/merged", users.view(np.uint8).reshape(-1).data)
        table.append((b, start, size))
        start += size
    return table


def _build(tmp: Path, layout: Layout, table: list[tuple[int, int, int]],
           order: list[int]) -> bytes:
    tree = tmp / "tree.bin"
    new_tree_file(tree, layout)
    offsets = [layout.level_offset(lvl) for lvl in range(layout.levels + 1)]
    edges = []
    for i in order:  # any order: no task depends on another
        bucket, start, size = table[i]
        if size:
            edges += buckets.hash_bucket_local(str(tmp / "work"), K, bucket, start, size,
                                               str(tree), layout.commitments_offset, offsets,
                                               layout.record_size)
    return buckets.fix_up(str(tree), offsets, layout.record_size, edges)


@st.composite
def cuts(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A tree height and bucket sizes that tile its leaves (empty buckets allowed)."""
    height = draw(st.integers(0, 7))
    n = 1 << height
    points = sorted(draw(st.lists(st.integers(0, n), max_size=12)))
    edges = [0, *points, n]
    return height, [b - a for a, b in itertools.pairwise(edges)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=cuts(), chunk=st.sampled_from([1, 2, 3, 8, 1 << 15]),
       flush=st.sampled_from([1, 2, 5, 1 << 12]), seed=st.integers(0, 2**32))
@example(cut=(0, [1]), chunk=1 << 15, flush=1 << 12, seed=1)  # N = 1
@example(cut=(0, [0, 1, 0]), chunk=1, flush=1, seed=1)  # N = 1 between empty buckets
@example(cut=(1, [1, 1]), chunk=1 << 15, flush=1 << 12, seed=2)  # N = 2, a leaf a bucket
@example(cut=(1, [2]), chunk=1, flush=1, seed=2)  # N = 2 in one bucket
@example(cut=(5, [32]), chunk=3, flush=2, seed=3)  # all leaves in one bucket
@example(cut=(5, [8, 8, 16]), chunk=3, flush=1, seed=4)  # buckets that are aligned subtrees
@example(cut=(5, [1, 30, 1]), chunk=4, flush=2, seed=5)  # one leaf at each end
@example(cut=(6, [0, 31, 0, 0, 1, 32, 0]), chunk=8, flush=5, seed=6)  # empty buckets
def test_ragged_buckets_write_the_reference_tree_file(
    cut: tuple[int, list[int]], chunk: int, flush: int, seed: int
) -> None:
    height, sizes = cut
    n = 1 << height
    c, sums = _leaves(n, seed)
    layout = Layout.for_tree("r", ASSETS, n)
    order = list(range(len(sizes)))
    random.Random(seed).shuffle(order)
    with tempfile.TemporaryDirectory() as d, \
            mock.patch.object(buckets, "CHUNK_LEAVES", chunk), \
            mock.patch.object(buckets, "LEVEL_FLUSH", flush):
        tmp = Path(d)
        table = _write_buckets(buckets.Work(str(tmp / "work")), c, sums, sizes)
        top = _build(tmp, layout, table, order)
        data = (tmp / "tree.bin").read_bytes()
        assert data == _reference_file(layout, c, sums)
        assert top == data[layout.level_offset(layout.levels):]
        audit_tree(TreeFile(tmp / "tree.bin"), None).raise_for_failures()
        # The cluster's shape: sections as objects on shared storage, copied in by the
        # client (an executor of threads here: no Dask needed to place the bytes).
        stages = Stages(n, n, layout, table)
        plan = Plan(str(tmp / "work"), 0, 0, 1, 0)
        with ThreadPoolExecutor(2) as pool:
            top = hash_on_cluster(stages, plan, pool, tmp / "cluster.bin", _Silent())
        assert (tmp / "cluster.bin").read_bytes() == data
        assert top == data[layout.level_offset(layout.levels):]
        assert not (tmp / "work/shards").exists()


def test_a_missing_bucket_leaves_edges_unpaired(tmp_path: Path) -> None:
    """If the buckets do not tile the leaves (one bucket's task lost), the fix-up refuses
    rather than write a tree with holes."""
    c, sums = _leaves(64, 7)
    layout = Layout.for_tree("r", ASSETS, 64)
    table = _write_buckets(buckets.Work(str(tmp_path / "work")), c, sums, [10, 20, 34])
    table[1] = (1, 10, 0)  # bucket 1 never hashed
    with pytest.raises(VerificationError, match="level 1: the buckets leave records"):
        _build(tmp_path, layout, table, [0, 1, 2])


def test_an_edge_given_twice_is_refused(tmp_path: Path) -> None:
    c, sums = _leaves(16, 8)
    layout = Layout.for_tree("r", ASSETS, 16)
    table = _write_buckets(buckets.Work(str(tmp_path / "work")), c, sums, [3, 13])
    _build(tmp_path, layout, table, [0, 1])
    offsets = [layout.level_offset(lvl) for lvl in range(layout.levels + 1)]
    edges = buckets.hash_bucket_local(str(tmp_path / "work"), K, 0, 0, 3,
                                      str(tmp_path / "tree.bin"), layout.commitments_offset,
                                      offsets, layout.record_size)
    with pytest.raises(VerificationError, match="built twice"):
        buckets.fix_up(str(tmp_path / "tree.bin"), offsets, layout.record_size, edges + edges)


def test_a_bucket_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    c, sums = _leaves(8, 9)
    layout = Layout.for_tree("r", ASSETS, 8)
    _write_buckets(buckets.Work(str(tmp_path / "work")), c, sums, [8])
    new_tree_file(tmp_path / "tree.bin", layout)
    offsets = [layout.level_offset(lvl) for lvl in range(layout.levels + 1)]
    with pytest.raises(VerificationError, match="bucket 0: 8 leaves, expected 7"):
        buckets.hash_bucket_local(str(tmp_path / "work"), K, 0, 0, 7, str(tmp_path / "tree.bin"),
                            layout.commitments_offset, offsets, layout.record_size)
