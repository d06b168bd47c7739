"""The C accelerator (por._fasthash) against the pure-Python path: the same bytes, always.

Both paths of each bulk hashing stage (commitments, padding, leaf and node records) run on
random inputs (Hypothesis), on the verifier's own functions, on the committed vectors and
on whole builds; and one test fails if the extension was not built here, so that a silent
build failure (``optional = true`` in pyproject.toml) cannot leave CI on the slow path.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import reference_tree
from snapshots import balances_to_rows, write_csv

from por.errors import InputError, VerificationError
from por.liabilities import buckets
from por.liabilities.build import build_tree
from verifier.liabilities import mst
from verifier.liabilities.mst import Asset

native = buckets.native
needs_native = pytest.mark.skipif(native is None, reason="por._fasthash not built")

ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
SECRET = bytes(range(32))


def test_native_accelerator_is_built_in_this_environment() -> None:
    # make setup builds it (gcc and libssl-dev are here); if this fails, the build of the
    # extension failed silently and every build is on the slow pure-Python path.
    assert native is not None, "por._fasthash is not importable: pip install -e . to see why"
    assert Path(native.__file__).parent == Path(buckets.__file__).parent.parent  # por/


def _offsets(ids: list[bytes]) -> bytes:
    return np.concatenate(([0], np.cumsum([len(i) for i in ids]))).astype(np.int64).tobytes()


@needs_native
@settings(max_examples=200, deadline=None)
@given(secret=st.binary(max_size=130), round_id=st.binary(max_size=70),
       ids=st.lists(st.binary(max_size=300), max_size=40))
def test_commitments_match_on_random_inputs(secret: bytes, round_id: bytes,
                                            ids: list[bytes]) -> None:
    # Keys longer than a SHA-256 block are hashed first (RFC 2104); prefixes and ids cross
    # block boundaries at every offset.
    salt_prefix, user_prefix = mst.TAG_SALT + round_id, mst.TAG_USER + round_id
    args = (secret, salt_prefix, user_prefix, b"".join(ids), _offsets(ids))
    assert native.commitments(*args) == buckets.user_commitments_python(*args)


@needs_native
@settings(max_examples=50, deadline=None)
@given(round_id=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1,
                        max_size=64),
       users=st.lists(st.text(st.characters(exclude_categories=["C", "Z"]), min_size=1,
                              max_size=40), max_size=10))
def test_commitments_are_the_verifiers(round_id: str, users: list[str]) -> None:
    raw = [u.encode() for u in users]
    got = buckets.commit_users(_offsets(raw), b"".join(raw), SECRET, round_id)
    want = b"".join(mst.user_commitment(round_id, u, mst.derive_salt(SECRET, round_id, u))
                    for u in users)
    assert got == want


@needs_native
@settings(max_examples=100, deadline=None)
@given(secret=st.binary(max_size=130), prefix=st.binary(max_size=130),
       start=st.integers(0, 2**64 - 300), count=st.integers(0, 260))
def test_padding_matches_on_random_inputs(secret: bytes, prefix: bytes, start: int,
                                          count: int) -> None:
    args = (secret, prefix, start, start + count)
    assert native.pad_commitments(*args) == buckets.pad_commitments_python(*args)


@needs_native
def test_padding_is_the_verifiers() -> None:
    prefix = mst.TAG_PAD + mst.encode_str(b"2026-11-25")
    got = native.pad_commitments(SECRET, prefix, 250, 260)
    want = b"".join(mst.padding_commitment(SECRET, "2026-11-25", i) for i in range(250, 260))
    assert got == want
    assert native.pad_commitments(SECRET, prefix, 2**64 - 1, 2**64 - 1) == b""


@needs_native
@settings(max_examples=200, deadline=None)
@given(prefix=st.binary(max_size=80), width=st.integers(1, 300), count=st.integers(0, 20),
       seed=st.integers(0, 2**32))
def test_records_match_on_random_inputs(prefix: bytes, width: int, count: int,
                                        seed: int) -> None:
    data = random.Random(seed).randbytes(width * count)
    assert native.hash_records(prefix, data, width) == buckets.hash_records_python(
        prefix, data, width)


@needs_native
def test_leaf_and_node_records_are_the_verifiers() -> None:
    rng = np.random.default_rng(3)
    k = 3
    c = rng.integers(0, 256, (64, 32), np.uint8)
    sums = np.zeros((64, 16 * k), np.uint8)
    sums[:, 8:16] = rng.integers(0, 256, (64, 8), np.uint8)  # stays far below overflow
    level = buckets.leaf_records(c, sums)
    for i in range(64):
        assert bytes(level[i, :32]) == mst.leaf_hash(bytes(c[i]), bytes(sums[i]))
    parents = buckets.parent_records(level)
    for i in range(32):
        left, right = bytes(level[2 * i]), bytes(level[2 * i + 1])
        assert bytes(parents[i, :32]) == mst.node_hash(left[:32], left[32:], right[:32],
                                                       right[32:])


@needs_native
def test_native_refuses_malformed_inputs() -> None:
    with pytest.raises(ValueError, match="whole number of 10-byte records"):
        native.hash_records(b"", b"x" * 15, 10)
    with pytest.raises(ValueError, match="whole number"):
        native.hash_records(b"", b"", 0)
    bad_bounds = np.array([0, 5, 3], np.int64).tobytes()
    with pytest.raises(ValueError, match=r"id 1 spans bytes 5\.\.3"):
        native.commitments(SECRET, b"", b"", b"abcde", bad_bounds)
    past_end = np.array([0, 6], np.int64).tobytes()
    with pytest.raises(ValueError, match="id 0 spans"):
        native.commitments(SECRET, b"", b"", b"abcde", past_end)
    with pytest.raises(ValueError, match="offsets must be int64"):
        native.commitments(SECRET, b"", b"", b"", b"123")
    with pytest.raises(ValueError, match="bad range"):
        native.pad_commitments(SECRET, b"", 5, 4)


@needs_native
def test_commitments_read_unaligned_offsets_exactly() -> None:
    # offsets at an odd address (a slice of a larger buffer): read with memcpy, not by
    # dereferencing an int64 pointer (undefined behaviour, a fault on strict platforms).
    ids = [b"alice", b"bob", b"", b"x" * 300]
    data = b"".join(ids)
    bounds = np.concatenate(([0], np.cumsum([len(i) for i in ids]))).astype(np.int64)
    raw = bytearray(b"\0" + bounds.tobytes())
    unaligned = memoryview(raw)[1:]
    args = (SECRET, b"s", b"u", data)
    assert native.commitments(*args, unaligned) == buckets.user_commitments_python(
        *args, bounds.tobytes())


_MUTATOR = r"""
import threading, numpy as np
from por.liabilities import buckets
n = 200_000
data = b"u" * n
good = np.arange(n + 1, dtype=np.int64)
offsets = good.copy()
want = buckets.native.commitments(b"k" * 32, b"s", b"u", data, good.tobytes())
stop = False
def flip():
    while not stop:
        offsets[n] = 1 << 40   # far past the end of data
        offsets[n] = n
t = threading.Thread(target=flip)
t.start()
ok = refused = 0
try:
    for _ in range(40):
        try:
            got = buckets.native.commitments(b"k" * 32, b"s", b"u", data, offsets)
        except ValueError:
            refused += 1
            continue
        assert got == want
        ok += 1
finally:
    stop = True
    t.join()
print(ok, refused)
"""


@needs_native
def test_offsets_changed_by_another_thread_are_never_read_unchecked() -> None:
    # The loop runs with the GIL released; another thread rewrites the offsets meanwhile.
    # Each call must use exactly the offsets it checked: a result equal to the good
    # offsets' or a refusal, never a read past the data (a crash, or other bytes).
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _MUTATOR], capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]


@needs_native
def test_committed_vectors_come_out_of_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    import vectorgen

    committed = vectorgen.VECTORS.read_text()
    assert vectorgen.render() == committed  # native
    monkeypatch.setattr(buckets, "native", None)
    assert vectorgen.render() == committed  # pure Python


@needs_native
@pytest.mark.parametrize("workers", [1, 2])
def test_builds_are_byte_identical_on_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 workers: int) -> None:
    rng = random.Random(11)
    balances = {f"user-{i}-{'é' * (i % 3)}": [rng.randrange(10**12), rng.randrange(2**100),
                                              rng.randrange(10)] for i in range(20_000)}
    snap = write_csv(tmp_path / "s.csv", balances_to_rows(balances, ASSETS))
    assets = tuple(Asset(s, d) for s, d in ASSETS)
    fast = build_tree(snap, assets, "r-1", SECRET, tmp_path / "fast", workers=workers,
                      pad_to=1 << 16)
    monkeypatch.setattr(buckets, "native", None)  # forked workers inherit the patch
    slow = build_tree(snap, assets, "r-1", SECRET, tmp_path / "slow", workers=workers,
                      pad_to=1 << 16)
    assert (tmp_path / "fast/tree.bin").read_bytes() == (tmp_path / "slow/tree.bin").read_bytes()
    assert fast.summary == slow.summary
    if workers == 1:
        ref = reference_tree("r-1", ASSETS, balances, SECRET, 1 << 16)
        assert fast.summary.root_hash == ref["root"]


def test_a_disagreeing_accelerator_stops_the_build(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrong:
        """A stand-in for a miscompiled extension: one flipped bit in every leaf hash."""

        @staticmethod
        def hash_records(prefix: bytes, data: bytes, width: int) -> bytes:
            out = bytearray(buckets.hash_records_python(prefix, data, width))
            out[0] ^= 1
            return bytes(out)

        commitments = staticmethod(buckets.user_commitments_python)
        pad_commitments = staticmethod(buckets.pad_commitments_python)

    monkeypatch.setattr(buckets, "native", Wrong)
    snap = write_csv(tmp_path / "s.csv", balances_to_rows({"a": [1, 2, 3]}, ASSETS))
    with pytest.raises(VerificationError, match=r"disagrees with verifier\.liabilities\.mst"):
        build_tree(snap, tuple(Asset(s, d) for s, d in ASSETS), "r", SECRET, tmp_path / "o",
                   workers=1)
    assert not (tmp_path / "o/tree.bin").exists()


# ------------------------------------------------------------ decimal strings (issue 16)

DECIMAL_TEXT = st.one_of(
    st.text("0123456789.-", max_size=45),
    st.integers(0, (1 << 129)).map(str),
    st.tuples(st.integers(0, 10**30), st.integers(0, 10**20)).map(lambda t: f"{t[0]}.{t[1]}"),
    st.sampled_from(["", "-", "--1", "1.", ".5", "-0", "0.0", "1e5", " 1", "１", "nan",
                     str((1 << 128) - 1), str(1 << 128), "-" + str((1 << 128) - 1)]),
)


def _reference_column(texts: list[str], decimals: list[int], signed: bool) -> list[int] | None:
    from por.liabilities.snapshot import parse_amount

    out = []
    for text, dec in zip(texts, decimals, strict=True):
        try:
            out.append(parse_amount(text, Asset("X", dec), "here", signed=signed))
        except InputError:
            return None
    return out


@needs_native
@settings(max_examples=400, deadline=None)
@given(texts=st.lists(DECIMAL_TEXT, min_size=1, max_size=12),
       decimals=st.lists(st.sampled_from([0, 2, 6, 8, 18, 38]), min_size=3, max_size=3),
       signed=st.booleans(), data=st.data())
def test_native_decimals_accept_and_value_exactly_what_the_reference_does(
    texts: list[str], decimals: list[int], signed: bool, data: st.DataObject
) -> None:
    import pyarrow as pa

    from por.liabilities import snapshot

    which = data.draw(st.lists(st.integers(0, 2), min_size=len(texts), max_size=len(texts)))
    reader = snapshot._Reader(Path("x.csv"), tuple(Asset(f"A{i}", d)
                                                   for i, d in enumerate(decimals)))
    column = pa.array(["pad", *texts], pa.string()).slice(1)  # a sliced column, offset 1
    idx = np.array(which, np.int16)
    native_result = reader._fast_values(column, idx, signed)
    arrow_result = reader._fast_values_arrow(column, idx, signed)
    want = _reference_column(texts, [decimals[w] for w in which], signed)
    if want is None:
        assert native_result is None
        return
    assert native_result is not None
    lo, hi, neg = native_result
    got = [(-1 if n else 1) * (int(a) | int(b) << 64) for a, b, n in zip(lo, hi, neg,
                                                                           strict=True)]
    assert [abs(v) for v in got] == [abs(v) for v in want]
    assert [v < 0 for v in want] == [bool(n) and v != 0 for n, v in zip(neg, got,
                                                                        strict=True)]
    if arrow_result is not None:  # the Arrow path leaves 39+ digit values to the slow path
        assert [int(x) for x in arrow_result[0]] == [int(x) for x in lo]
        assert [int(x) for x in arrow_result[1]] == [int(x) for x in hi]


BAD_ROWS = ["u1,BTC,1.000000001", "u1,BTC,-1", "u1,BTC,", "u1,BTC,1e5", "u1,BTC,.5",
            "u1,BTC,5.", "u1,BTC,340282366920938463463.374607431768211456", "u1,BTC,1,5",
            "u1,DOGE,1", "u 1 ,BTC,1", "u1,BTC,0x10"]


@pytest.mark.parametrize("row", BAD_ROWS)
def test_bad_rows_give_the_same_message_with_and_without_the_extension(
    row: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from por.liabilities import snapshot

    snap = tmp_path / "s.csv"
    snap.write_text("user_id,asset,amount\nu0,BTC,1\n" + row + "\n")
    assets = tuple(Asset(s, d) for s, d in ASSETS)
    messages = []
    for ext in (snapshot.native, None):  # type: ignore[attr-defined]
        monkeypatch.setattr(snapshot, "native", ext)
        with pytest.raises(InputError) as err:
            build_tree(snap, assets, "r", SECRET, tmp_path / "o", workers=1)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "line 3" in messages[0]


def test_native_and_arrow_ingest_build_the_same_tree(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from por.liabilities import snapshot

    rng = random.Random(4)
    bal = {f"user-{i}": [rng.randrange(10**12), rng.randrange(2**100), i % 5]
           for i in range(2000)}
    snap = write_csv(tmp_path / "s.csv", balances_to_rows(bal, ASSETS))
    assets = tuple(Asset(s, d) for s, d in ASSETS)
    fast = build_tree(snap, assets, "r", SECRET, tmp_path / "fast", workers=1)
    monkeypatch.setattr(snapshot, "native", None)
    arrow = build_tree(snap, assets, "r", SECRET, tmp_path / "arrow", workers=1)
    assert fast.summary == arrow.summary
    assert (tmp_path / "fast/tree.bin").read_bytes() == (tmp_path / "arrow/tree.bin").read_bytes()
    assert fast.summary.root_hash == reference_tree("r", ASSETS, bal, SECRET, 2048)["root"]


@needs_native
@settings(max_examples=200, deadline=None)
@given(slots=st.integers(1, 12), pairs=st.integers(1, 9), margin=st.booleans(),
       big=st.booleans(), seed=st.integers(0, 2**32))
def test_parent_records_match_their_numpy_twin(slots: int, pairs: int, margin: bool,
                                               big: bool, seed: int) -> None:
    rng = random.Random(seed)
    width = 32 + 16 * slots
    top = (1 << 128) - 1 if big else (1 << 100)  # big: some sums overflow 2^128-1
    rows = [rng.randbytes(32) + b"".join(rng.randrange(top).to_bytes(16, "big")
                                         for _ in range(slots)) for _ in range(2 * pairs)]
    children = np.frombuffer(b"".join(rows), np.uint8).reshape(2 * pairs, width)
    try:
        want = buckets.parent_records_python(children, margin).tobytes()
    except InputError:
        assert native.parent_records(buckets.tags(margin)[1], children.data, width) is None
        with pytest.raises(InputError, match="overflows"):
            buckets.parent_records(children, margin)
        return
    assert native.parent_records(buckets.tags(margin)[1], children.data, width) == want
    assert buckets.parent_records(children, margin).tobytes() == want
    left, right = rows[0], rows[1]
    hasher = mst.margin_node_hash if margin else mst.node_hash
    assert want[:32] == hasher(left[:32], left[32:], right[:32], right[32:])


@needs_native
@settings(max_examples=100, deadline=None)
@given(width=st.sampled_from([0, 16, 48, 144, 1024]), count=st.integers(0, 40),
       margin=st.booleans(), seed=st.integers(0, 2**32))
def test_leaf_records_match_their_numpy_twin(width: int, count: int, margin: bool,
                                             seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 256, (count, 32), np.uint8)
    sums = rng.integers(0, 256, (count, width), np.uint8)
    want = buckets.leaf_records_python(c, sums, margin)
    assert buckets.leaf_records(c, sums, margin).tobytes() == want.tobytes()
    hasher = mst.margin_leaf_hash if margin else mst.leaf_hash
    for i in range(min(count, 3)):
        assert bytes(want[i, :32]) == hasher(bytes(c[i]), bytes(sums[i]))


ID_TEXT = (st.text(st.sampled_from(["a", "b", " ", "~", "\x7f", "\x1f", "\x00", "é", "\t"]),
                   max_size=4)
           | st.text("ab", min_size=126, max_size=130))


@needs_native
@settings(max_examples=400, deadline=None)
@given(ids=st.lists(ID_TEXT, min_size=1, max_size=12), large=st.booleans())
def test_native_user_id_check_is_the_fast_rule_and_never_passes_a_refused_id(
        ids: list[str], large: bool) -> None:
    """check_user_ids is exactly ^[\x20-\x7e]{1,128}$ without a space at either end (the
    Arrow kernels' rule), and every id it passes, the row-by-row rule passes too."""
    import pyarrow as pa

    from por.liabilities import snapshot

    column = pa.array(["pad", *ids], pa.large_string() if large else pa.string()).slice(1)
    buffers = snapshot.string_buffers(column)
    assert buffers is not None
    got = native.check_user_ids(*buffers, mst.MAX_USER_ID_BYTES)
    want = all(1 <= len(u) <= mst.MAX_USER_ID_BYTES and u[0] != " " and u[-1] != " "
               and all(0x20 <= ord(ch) <= 0x7E for ch in u) for u in ids)
    assert got == want
    if got:
        for u in ids:
            snapshot.check_user_id(u, "x")


@needs_native
@settings(max_examples=400, deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "ab", "", "ba"]), min_size=2, max_size=24),
       large=st.booleans())
def test_native_user_runs_are_the_runs_of_equal_adjacent_ids(ids: list[str],
                                                              large: bool) -> None:
    import pyarrow as pa

    from por.liabilities import build, snapshot

    column = pa.array(["x", *ids], pa.large_string() if large else pa.string()).slice(1)
    starts = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    buffers = snapshot.string_buffers(column)
    assert buffers is not None
    found = native.user_runs(*buffers)
    runs = build._user_runs(column)
    if len(starts) > len(ids) // 2:
        assert found is None and runs is None
        return
    assert found is not None and runs is not None
    assert np.frombuffer(found[0], np.int64).tolist() == starts
    bounds = np.frombuffer(found[1], np.int64).tolist()
    assert [found[2][a:b].decode() for a, b in itertools.pairwise(bounds)] == [
        ids[i] for i in starts]
    (offsets, data), idx, run_starts = runs
    assert (offsets, data) == (found[1], found[2])
    assert run_starts.tolist() == starts
    assert idx.tolist() == [sum(1 for s in starts if s <= i) - 1 for i in range(len(ids))]


@needs_native
@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 40), slots=st.integers(1, 9), bits=st.integers(0, 16),
       seed=st.integers(0, 2**32 - 1))
def test_native_spill_records_are_numpys_records_in_bucket_order(n: int, slots: int, bits: int,
                                                                 seed: int) -> None:
    """spill_records lays out numpy's spill_dtype and orders by bucket, stably: what
    _records, then the spill's sort by bucket and gather give."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 256, (n, 32), np.uint8)
    if n > 3:
        c[1:3, :2] = c[0, :2]  # same bucket: input order kept
    lo, hi = (rng.integers(0, 2**64, (n, slots), np.uint64, endpoint=False) for _ in "ab")
    mask = rng.integers(0, 2**64, n, np.uint64, endpoint=False)
    rows = rng.integers(0, 2**62, n, np.int64)
    raw, counts = native.spill_records(c.tobytes(), lo.data, hi.data, mask.data, rows.data,
                                       slots, bits)
    dtype = buckets.spill_dtype(slots)
    want = np.empty(n, dtype)
    want["c"], want["lo"], want["hi"], want["mask"], want["row"] = c, lo, hi, mask, rows
    b = buckets.bucket_of(c, bits)
    order = np.argsort(b, kind="stable")
    assert raw == want[order].tobytes()
    assert np.frombuffer(counts, np.int64).tolist() == np.bincount(
        b, minlength=1 << bits).tolist()


@needs_native
def test_native_spill_records_refuse_inconsistent_sizes() -> None:
    eight = bytes(8)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.spill_records(bytes(32), eight, eight, eight, eight, 2, 0)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.spill_records(bytes(32), eight, eight, eight, eight, 1, 17)


@needs_native
@settings(max_examples=150, deadline=None)
@given(runs=st.lists(st.integers(1, 4), max_size=30), assets=st.integers(1, 5),
       margin=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_native_merged_leaves_are_numpys(runs: list[int], assets: int, margin: bool,
                                         seed: int) -> None:
    """merge_leaves sums each run's limbs (mod 2^64, as add.reduceat) and writes them
    big-endian, a margin snapshot's (equity, debt) as (equity, debt, equity): the bytes of
    the numpy merge."""
    rng = np.random.default_rng(seed)
    k, spilled = (3 * assets, 2 * assets) if margin else (assets, assets)
    recs = np.zeros(sum(runs), buckets.spill_dtype(spilled))
    recs.view(np.uint8)[:] = rng.integers(0, 256, recs.nbytes, np.uint8)
    starts = np.concatenate(([0], np.cumsum(runs)[:-1])).astype(np.int64) if runs else (
        np.zeros(0, np.int64))
    got = native.merge_leaves(recs.view(np.uint8).reshape(-1).data, starts.data, k, spilled)
    want = buckets._merged_leaves(recs, starts, k, spilled if margin else None)
    assert got == want.tobytes()


@needs_native
def test_native_merged_leaves_refuse_bad_runs() -> None:
    recs = bytes(buckets.spill_dtype(1).itemsize * 2)
    for starts, match in (([1], "increasing from 0"), ([0, 0], "increasing from 0"),
                          ([], "no runs")):
        with pytest.raises(ValueError, match=match):
            native.merge_leaves(recs, np.array(starts, np.int64).tobytes(), 1, 1)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        native.merge_leaves(recs, np.zeros(1, np.int64).tobytes(), 2, 1)
