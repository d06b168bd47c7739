"""The merge's C pass over a bucket in sorted order (``native.merge_runs``, issue 16)
against its reference twin: the records gathered into sorted order (``take_rows``), then
merged run by run (``_merged_leaves`` in numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.liabilities import buckets

native = buckets.native
needs_native = pytest.mark.skipif(not hasattr(native, "merge_runs"),
                                  reason="por._fasthash not built")


@needs_native
@settings(max_examples=200, deadline=None)
@given(runs=st.lists(st.integers(1, 4), max_size=30), assets=st.integers(1, 5),
       margin=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_merge_in_order_is_the_merge_of_the_gathered_records(runs: list[int], assets: int,
                                                             margin: bool, seed: int) -> None:
    """Each run's limbs summed (mod 2^64, as add.reduceat) and written big-endian, a margin
    snapshot's (equity, debt) as (equity, debt, equity), reading the records through the
    sort's order: the bytes numpy gives for the gathered records."""
    rng = np.random.default_rng(seed)
    k, spilled = (3 * assets, 2 * assets) if margin else (assets, assets)
    recs = np.zeros(sum(runs), buckets.spill_dtype(spilled))
    recs.view(np.uint8)[:] = rng.integers(0, 256, recs.nbytes, np.uint8)
    order = rng.permutation(len(recs)).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(runs)[:-1])).astype(np.int64) if runs else (
        np.zeros(0, np.int64))
    got = native.merge_runs(recs.view(np.uint8).reshape(-1).data, order.data, starts.data, k,
                            spilled)
    want = buckets._merged_leaves(buckets.take_rows(recs, order), starts, k,
                                  spilled if margin else None)
    assert got == want.tobytes()


@needs_native
def test_merge_in_order_refuses_bad_runs_and_orders() -> None:
    recs = bytes(buckets.spill_dtype(1).itemsize * 2)
    good = np.array([1, 0], np.int64).tobytes()
    for starts, match in (([1], "increasing from 0"), ([0, 0], "increasing from 0"),
                          ([], "no runs")):
        with pytest.raises(ValueError, match=match):
            native.merge_runs(recs, good, np.array(starts, np.int64).tobytes(), 1, 1)
    for order in ([0, 2], [-1, 0]):
        with pytest.raises(ValueError, match="order out of range"):
            native.merge_runs(recs, np.array(order, np.int64).tobytes(),
                              np.zeros(1, np.int64).tobytes(), 1, 1)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.merge_runs(recs, good[:8], np.zeros(1, np.int64).tobytes(), 1, 1)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.merge_runs(recs, good, np.zeros(1, np.int64).tobytes(), 2, 1)


@needs_native
@pytest.mark.parametrize("margin", [False, True])
def test_buckets_merge_alike_with_and_without_the_gathering_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, margin: bool) -> None:
    """merge_bucket with merge_runs and with the reference (take_rows, then merge_leaves):
    the same leaves, duplicate and (margin) first rows, on records of users spread over
    several spill files."""
    rng = np.random.default_rng(7)
    assets = 3
    k, spilled = (3 * assets, 2 * assets) if margin else (assets, assets)
    users = rng.integers(0, 256, (40, 32), np.uint8)
    pieces = []
    for part in range(3):  # each user's assets spread over three "batches"
        recs = np.zeros(len(users), buckets.spill_dtype(spilled))
        recs["c"] = users
        recs["lo"] = rng.integers(0, 2**40, (len(users), spilled), np.uint64)
        recs["mask"] = 1 << part
        recs["row"] = np.arange(len(users)) * 3 + part
        pieces.append(recs)
    pieces[2]["mask"][5] = 1  # user 5 holds asset 0 twice: a duplicate
    results = []
    for gathered in (True, False):
        work = tmp_path / f"w{gathered}"
        for i, recs in enumerate(pieces):
            buckets.Work(str(work)).write(f"rows/00000/{i:08d}", recs.tobytes())
        if not gathered:
            monkeypatch.delattr(native, "merge_runs")
        count, dup, _ = buckets.merge_bucket(str(work), 0, k, None, spilled)
        results.append((count, dup, (work / "users/00000/merged").read_bytes()))
    assert results[0] == results[1]
    assert results[0][0] == len(users)
    assert results[0][1] == (5 * 3, 0)
