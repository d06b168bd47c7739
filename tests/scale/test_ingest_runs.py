"""The ingest's one C pass per batch (``native.ingest_runs``, issue 16) against its
reference twin: ``_Reader.convert`` (the id check, the asset lookup, the decimal parser)
and then ``build._group`` with runs (the runs of a user's adjacent rows, their amounts,
assets present and first rows).

The fast pass must refuse exactly the batches the reference fast path refuses (those go
row by row, where every message is worded), find the same runs, and give the same
records byte for byte; rows not grouped by user go to the reference grouping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from por.errors import InputError
from por.liabilities import build, snapshot
from verifier.liabilities.mst import Asset

native = snapshot.extension()
needs_native = pytest.mark.skipif(not hasattr(native, "ingest_runs"),
                                  reason="por._fasthash not built")

ASSETS = (Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6), Asset("ZERO", 0))
GOOD_IDS = ["alice", "bob", "u-000000001", "x" * 128, "a b", "~!", "carol-the-long-id"]
BAD_IDS = ["", " lead", "trail ", "x" * 129, "caf\u00e9", "tab\tin", "\u00e9"]  # fast: refused
WHOLE = ["0", "1", "273", "5169", "12345678", "99999999999999999999",
         "000000000000000000000000000000000000000001"]
FRACTIONS = "903012868974382691"  # cut to at most the asset's decimals
BAD_AMOUNTS = ["", "-", "1.", ".5", "1e5", " 1", "1.000000001", "1..2", "-0", "--1", "+1",
               "340282366920938463463.374607431768211456", "0x10", "1,5"]
# A margin reader's value columns (spec §15.11); the last one is signed.
MODES = {"spot": ("amount",), "equity-debt": ("equity", "debt"),
         "equity-debt-collateral": ("equity", "debt", "collateral"), "signed": ("amount",)}


def _reader(mode: str) -> snapshot._Reader:
    reader = snapshot._Reader(Path("x.parquet"), ASSETS, margin=mode != "spot")
    reader.columns = ("user_id", "asset", *MODES[mode])
    return reader


def _string_column(values: list[str | None], large: bool, sliced: bool) -> pa.Array:
    kind = pa.large_string() if large else pa.string()
    if sliced:  # an offset into the buffers, as a batch cut from a larger table has
        return pa.array(["pad", *values], kind).slice(1)
    return pa.array(values, kind)


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, pa.RecordBatch]:
    """A batch of rows in runs per user (or shuffled), clean or with one bad thing in it:
    an id, an asset or an amount the fast rules refuse, a null, an asset twice in a run."""
    mode = draw(st.sampled_from(sorted(MODES)))
    symbols = [a.symbol for a in ASSETS]
    users = draw(st.lists(st.sampled_from(GOOD_IDS), min_size=1, max_size=6))
    rows: list[list[str | None]] = []
    for user in users:  # a run per user (a user may come back later: a second run)
        held = draw(st.lists(st.sampled_from(symbols), min_size=1, max_size=4, unique=True))
        rows += [[user, symbol] for symbol in held]
    if draw(st.integers(0, 4)) == 0:
        rows = list(draw(st.permutations(rows)))
    places = {a.symbol: a.decimals for a in ASSETS}
    for row in rows:
        for _ in MODES[mode]:
            amount = draw(st.sampled_from(WHOLE))
            cut = draw(st.integers(0, places[str(row[1])]))
            if cut:
                amount += "." + FRACTIONS[:cut]
            if mode == "signed" and draw(st.booleans()):
                amount = "-" + amount
            row.append(amount)
    where = draw(st.integers(0, len(rows) - 1))
    fault = draw(st.sampled_from(["none"] * 6 + ["id", "asset", "amount", "null", "twice"]))
    if fault == "id":
        rows[where][0] = draw(st.sampled_from(BAD_IDS))
    elif fault == "asset":
        rows[where][1] = draw(st.sampled_from(["DOGE", "btc", ""]))
    elif fault == "amount":
        rows[where][2 + draw(st.integers(0, len(MODES[mode]) - 1))] = draw(
            st.sampled_from(BAD_AMOUNTS))
    elif fault == "null":
        rows[where][draw(st.integers(0, 1 + len(MODES[mode])))] = None
    elif fault == "twice":
        rows.insert(where, list(rows[where]))
    large, sliced = draw(st.booleans()), draw(st.booleans())
    names = ("user_id", "asset", *MODES[mode])
    columns = {name: _string_column([r[i] for r in rows], draw(st.booleans()) and large, sliced)
               for i, name in enumerate(names)}
    if draw(st.booleans()):  # as Parquet gives it with read_dictionary=["asset"]
        columns["asset"] = columns["asset"].dictionary_encode()
    return mode, pa.RecordBatch.from_pydict(columns)


def _reference(reader: snapshot._Reader, raw: pa.RecordBatch, first: int
               ) -> tuple[bool, build._Grouped | None]:
    """Whether the reference fast path takes the batch, and its grouping by runs (None
    when the reference path refuses it: InputError, the row by row path's message)."""
    users = raw.column("user_id")
    taken = reader._fast(users, raw.column("asset"),
                         [raw.column(c) for c in reader.value_columns]) is not None
    try:
        batch = reader.convert(raw, 0)
    except InputError:
        return taken, None
    return taken, build._group(batch, first, len(ASSETS), runs=True)


def _same(fast: build._Grouped, want: build._Grouped) -> None:
    assert fast.ids == want.ids
    assert fast.lo.tobytes() == np.ascontiguousarray(want.lo).tobytes()
    assert fast.hi.tobytes() == np.ascontiguousarray(want.hi).tobytes()
    assert fast.lo.shape == want.lo.shape
    assert fast.mask.tolist() == want.mask.tolist()
    assert fast.first_row.tolist() == want.first_row.tolist()
    assert fast.duplicate == want.duplicate


@needs_native
@settings(max_examples=500, deadline=None)
@given(case=batches(), first=st.integers(0, (1 << 62) - 1))
def test_one_pass_is_the_reference_conversion_and_grouping(case: tuple[str, pa.RecordBatch],
                                                           first: int) -> None:
    mode, raw = case
    reader = _reader(mode)
    fast = build._fused_runs(reader, raw, first, len(ASSETS))
    taken, want = _reference(reader, raw, first)
    if raw.num_rows < 2:
        assert fast is None  # one row: the reference grouping (no runs to find)
        return
    runs = build._user_runs(raw.column("user_id"))
    if fast is False:
        assert runs is None  # more runs than half the rows: grouped by dictionary
        return
    # Refused by the one pass exactly when the reference fast path refuses the batch:
    # those rows go the reference way (accepted there, or named with their line).
    assert (fast is None) == (not taken)
    if fast is None:
        return
    assert want is not None
    assert isinstance(fast, build._Grouped)
    assert runs is not None
    _same(fast, want)


@needs_native
def test_a_run_split_by_the_batch_edge_is_two_records_merged_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user whose rows straddle two batches (and two parts) gets a record in each;
    the merge joins them: the tree is the serial build's."""
    import pyarrow.parquet as pq

    from por.liabilities.build import build_tree

    rows = [(f"u{i // 3}", ASSETS[i % 3].symbol, f"{i}.5") for i in range(30)]
    snap = tmp_path / "s.parquet"
    pq.write_table(pa.table({"user_id": [r[0] for r in rows], "asset": [r[1] for r in rows],
                             "amount": [r[2] for r in rows]}), snap, row_group_size=7)
    trees = []
    for fast in (True, False):
        monkeypatch.setattr(build, "FAST_INGEST", fast)
        out = tmp_path / f"o{fast}"
        build_tree(snap, ASSETS, "r", bytes(32), out, workers=1)
        trees.append((out / "tree.bin").read_bytes())
    assert trees[0] == trees[1]


@needs_native
def test_the_one_pass_refuses_inconsistent_buffers() -> None:
    offsets = np.array([0, 1, 2], np.int32)
    idx = np.zeros(2, np.int16)
    dec = np.array([8], np.int64)
    column: Any = (offsets.data, False, b"12")
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.ingest_runs(offsets.data, False, b"ab", 128, idx.data, dec.data,
                           ((np.zeros(2, np.int32).data, False, b"12"),), False, 0)
    with pytest.raises(ValueError, match="value columns"):
        native.ingest_runs(offsets.data, False, b"ab", 128, idx.data, dec.data, (), False, 0)
    with pytest.raises(ValueError, match="value columns"):
        native.ingest_runs(offsets.data, False, b"ab", 128, idx.data, dec.data,
                           (column, column), True, 0)
    past = np.array([0, 1, 9], np.int32)
    with pytest.raises(ValueError, match="out of range"):
        native.ingest_runs(past.data, False, b"ab", 128, idx.data, dec.data, (column,),
                           False, 0)
    with pytest.raises(ValueError, match="out of range"):
        native.ingest_runs(offsets.data, False, b"aa", 128, idx.data, dec.data,
                           ((past.data, False, b"12"),), False, 0)
