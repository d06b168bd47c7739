"""The bounded-memory build: many buckets, rows in any order, the same bytes as one bucket."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference import reference_tree
from snapshots import balances_to_rows, write_csv

from por.errors import InputError, VerificationError
from por.liabilities import buckets
from por.liabilities import snapshot as snapshot_mod
from por.liabilities.build import build_tree, make_plan, parse_memory
from verifier.liabilities.mst import Asset

ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
ASSET_OBJS = tuple(Asset(s, k) for s, k in ASSETS)
SECRET = bytes(range(32))


def _balances(n: int) -> dict[str, list[int]]:
    rng = random.Random(n)
    return {f"user-{i}": [rng.randrange(10**12), rng.randrange(2**100), i % 3] for i in range(n)}


def _parquet(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    cols = list(zip(*rows, strict=True))
    pq.write_table(pa.table({"user_id": list(cols[0]), "asset": list(cols[1]),
                             "amount": list(cols[2])}), path)
    return path


def test_shuffled_rows_in_many_buckets_build_the_same_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bal = _balances(3000)
    rows = balances_to_rows(bal, ASSETS)
    grouped = write_csv(tmp_path / "grouped.csv", rows)
    one = build_tree(grouped, ASSET_OBJS, "r", SECRET, tmp_path / "one", workers=1)
    assert json.loads((tmp_path / "one/build-info.json").read_text())["buckets"] == 1

    random.Random(5).shuffle(rows)
    # Small batches, so one user's rows land in different batches and must be merged.
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 500)
    shuffled = _parquet(tmp_path / "shuffled.parquet", rows)
    many = build_tree(shuffled, ASSET_OBJS, "r", SECRET, tmp_path / "many", workers=1,
                      memory=2 << 20, pad_to=8192)
    info = json.loads((tmp_path / "many/build-info.json").read_text())
    assert info["buckets"] >= 16 and info["users"] == 3000
    assert many.summary.root_hash != one.summary.root_hash  # padded further: another tree
    again = build_tree(grouped, ASSET_OBJS, "r", SECRET, tmp_path / "again", workers=1,
                       pad_to=8192)
    assert many.summary == again.summary
    assert (tmp_path / "many/tree.bin").read_bytes() == (tmp_path / "again/tree.bin").read_bytes()
    ref = reference_tree("r", ASSETS, bal, SECRET, 8192)
    assert many.summary.root_hash == ref["root"]
    # Spills and staging are gone: the round holds its three files, nothing hidden beside.
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == [
        "build-info.json", "root.json", "tree.bin"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_duplicate_across_batches_names_both_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 4)
    rows = [(f"u{i}", "BTC", "1") for i in range(10)]
    rows.insert(9, ("u2", "ETH", "1"))  # the same user again, another asset: fine
    rows.append(("u3", "BTC", "5"))  # row 12: u3/BTC again, three batches after row 4
    snap = _parquet(tmp_path / "d.parquet", rows)
    with pytest.raises(InputError, match=r"row 12: duplicate row for user 'u3' and asset BTC"
                                         r" \(first at row 4\)"):
        build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "out", workers=1, memory=1 << 20)
    assert not (tmp_path / "out/tree.bin").exists()
    assert not (tmp_path / "out/root.json").exists()


def test_bad_value_in_a_late_batch_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 3)
    rows = [(f"u{i}", "BTC", "1") for i in range(10)] + [("u9", "ETH", "0.1e3")]
    snap = _parquet(tmp_path / "b.parquet", rows)
    with pytest.raises(InputError, match=r"row 11, column amount"):
        build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "out", workers=1, memory=1 << 20)


def test_bucket_count_grows_with_the_snapshot_not_the_memory_use() -> None:
    small = make_plan("w", 1000, 4, None, 2, parse_memory("3GB"))
    huge = make_plan("w", 400_000_000, 4, None, 2, parse_memory("3GB"))
    assert small.bits == 0
    # 400M rows in 3 GB: every bucket's work (about four times its records) fits a worker.
    per_bucket = 4 * 2 * 400_000_000 * 96 >> huge.bits
    assert per_bucket <= (3 << 30) // 2 and huge.flush_bytes << huge.bits <= (3 << 30) // 8


@pytest.mark.parametrize("text,value", [("3GB", 3 << 30), ("512MiB", 512 << 20),
                                        ("1000", 1000)])
def test_memory_sizes(text: str, value: int) -> None:
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "-1GB", "3 furlongs", "0", "1.5GB"])
def test_bad_memory_sizes_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="--memory"):
        parse_memory(text)


def test_ragged_buckets_in_two_processes_match_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two worker processes: each bucket builds its leaves and the nodes inside its
    positions (hash_bucket), a few leaves a chunk, so that buckets straddle chunks and
    aligned subtrees; the straddling nodes come from the edges (fix_up): the reference
    tree's root, and the same bytes as one process."""
    bal = _balances(9000)
    snap = write_csv(tmp_path / "s.csv", balances_to_rows(bal, ASSETS))
    monkeypatch.setattr(buckets, "CHUNK_LEAVES", 256)
    monkeypatch.setattr(buckets, "LEVEL_FLUSH", 3)
    two = build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "two", workers=2)
    info = json.loads((tmp_path / "two/build-info.json").read_text())
    assert info["workers"] == 2 and info["buckets"] >= 4
    assert two.summary.root_hash == reference_tree("r", ASSETS, bal, SECRET, 16384)["root"]
    one = build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "one", workers=1)
    assert (tmp_path / "two/tree.bin").read_bytes() == (tmp_path / "one/tree.bin").read_bytes()
    assert one.summary == two.summary


def test_commitments_sharing_their_first_bytes_are_ordered_and_merged_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sorts order by each commitment's first 8 bytes and compare in full only where
    those tie; with ties made common (the first byte alone as the prefix), the odd runs'
    full sort, the merge of a user's records and the padding's fallback give the
    reference tree."""
    bal = _balances(3000)
    rows = balances_to_rows(bal, ASSETS)
    random.Random(3).shuffle(rows)
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", 700)  # users spread over batches
    snap = _parquet(tmp_path / "s.parquet", rows)
    exact = build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "exact", workers=1,
                       memory=2 << 20)
    prefixes = buckets._prefixes
    monkeypatch.setattr(buckets, "_prefixes", lambda c: prefixes(c) >> np.uint64(56))
    coarse = build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / "coarse", workers=1,
                        memory=2 << 20)
    assert coarse.summary == exact.summary
    assert (tmp_path / "coarse/tree.bin").read_bytes() == (
        tmp_path / "exact/tree.bin").read_bytes()
    assert exact.summary.root_hash == reference_tree("r", ASSETS, bal, SECRET, 4096)["root"]


def test_two_leaves_with_one_commitment_are_refused(tmp_path: Path) -> None:
    """A padding commitment equal to a user's (never seen: 2^-256) stops the build."""
    work = buckets.Work(str(tmp_path))
    c = np.frombuffer(bytes(range(32)) * 3, np.uint8).reshape(3, 32).copy()
    c[1, 31] = 255
    users = np.zeros(2, buckets.leaf_dtype(1))
    users["c"] = c[:2]
    work.write("users/00000/merged", users.view(np.uint8).reshape(-1).data)
    work.write("pad/00000/00000", c[2].tobytes())
    with pytest.raises(VerificationError, match="two leaves share a commitment"):
        buckets._bucket_leaves(work, 0, 1)
