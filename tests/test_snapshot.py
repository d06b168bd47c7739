"""Snapshot ingest: exact base units, and every kind of bad input named by file, line, column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from snapshots import write_csv

from por.errors import InputError
from por.liabilities.assets import load_assets
from por.liabilities.build import build_tree
from por.liabilities.snapshot import read_snapshot
from verifier.liabilities.mst import Asset

ASSETS = (Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6))


def _values(snap, user: str) -> list[int]:  # type: ignore[no-untyped-def]
    i = snap.user_ids.to_pylist().index(user)
    return [(int(h) << 64) | int(lo) for lo, h in zip(snap.lo[i], snap.hi[i], strict=True)]


def test_amounts_become_exact_base_units(tmp_path: Path) -> None:
    rows = [
        ("alice", "BTC", "0.00120000"),
        ("alice", "ETH", "18.446744073709551617"),
        ("bob", "USDT", "7"),
        ("bob", "ETH", "340282366920938463463.374607431768211455"),
        ("carol", "BTC", "0.1"),
    ]
    snap = read_snapshot(write_csv(tmp_path / "s.csv", rows), ASSETS)
    assert _values(snap, "alice") == [120000, 18446744073709551617, 0]
    # 2^128-1 wei: past decimal128's 38 digits, read exactly on the row-by-row path.
    assert _values(snap, "bob") == [0, 2**128 - 1, 7_000_000]
    assert _values(snap, "carol") == [10_000_000, 0, 0]
    assert snap.rows == 5 and snap.user_count == 3


def test_parquet_and_csv_agree(tmp_path: Path) -> None:
    rows = [(f"u{i}", s, f"{i}.{i % 7}") for i in range(300) for s in ("BTC", "USDT")]
    csv_snap = read_snapshot(write_csv(tmp_path / "s.csv", rows), ASSETS)
    table = pa.table(
        {
            "user_id": [r[0] for r in rows],
            "asset": [r[1] for r in rows],
            "amount": [r[2] for r in rows],
        }
    )
    pq.write_table(table, tmp_path / "s.parquet")
    pq_snap = read_snapshot(tmp_path / "s.parquet", ASSETS)
    assert csv_snap.user_ids.equals(pq_snap.user_ids)
    assert (csv_snap.lo == pq_snap.lo).all() and (csv_snap.hi == pq_snap.hi).all()


BAD = [
    ("malformed-number", ("u1", "BTC", "1.2.3"), "line 3, column amount", "not a plain decimal"),
    ("empty-number", ("u1", "BTC", ""), "line 3, column amount", "empty amount"),
    ("nan", ("u1", "BTC", "NaN"), "line 3, column amount", "not a number"),
    ("inf", ("u1", "BTC", "inf"), "line 3, column amount", "not a number"),
    ("exponent", ("u1", "BTC", "1e5"), "line 3, column amount", "not a plain decimal"),
    (
        "too-many-decimals",
        ("u1", "BTC", "0.123456789"),
        "line 3, column amount",
        "has 9 decimals, BTC allows 8",
    ),
    ("negative", ("u1", "BTC", "-1"), "line 3, column amount", "negative"),
    ("unknown-asset", ("u1", "DOGE", "1"), "line 3, column asset", "unknown asset 'DOGE'"),
    ("empty-user", ("", "BTC", "1"), "line 3, column user_id", "non-empty"),
    ("over-long-user", ("x" * 129, "BTC", "1"), "line 3, column user_id", "129 bytes"),
    ("control-char-user", ("a\tb", "BTC", "1"), "line 3, column user_id", "printable"),
    (
        "over-u128",
        ("u1", "ETH", "340282366920938463463.374607431768211456"),
        "line 3, column amount",
        "exceeds 2^128-1",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c[0])
def test_bad_value_is_named_and_nothing_is_built(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, row, where, what = case
    snap = write_csv(tmp_path / "s.csv", [("u0", "BTC", "1"), row, ("u2", "BTC", "2")])
    with pytest.raises(InputError) as err:
        build_tree(snap, ASSETS, "r1", b"k" * 32, tmp_path / "out")
    assert str(snap) in str(err.value) and where in str(err.value) and what in str(err.value)
    assert not (tmp_path / "out" / "tree.bin").exists()
    assert not (tmp_path / "out" / "root.json").exists()


def test_duplicate_user_asset_names_both_lines(tmp_path: Path) -> None:
    snap = write_csv(
        tmp_path / "s.csv", [("u0", "BTC", "1"), ("u1", "ETH", "1"), ("u0", "BTC", "2")]
    )
    with pytest.raises(
        InputError,
        match=r"line 4: duplicate row for user 'u0' and asset BTC"
        r" \(first at line 2\)",
    ):
        read_snapshot(snap, ASSETS)


def test_totals_that_overflow_are_refused(tmp_path: Path) -> None:
    big = "340282366920938463463.374607431768211455"  # 2^128-1 wei
    snap = write_csv(
        tmp_path / "s.csv", [("u0", "ETH", big), ("u1", "ETH", "0.000000000000000001")]
    )
    with pytest.raises(InputError, match="overflows"):
        build_tree(snap, ASSETS, "r1", b"k" * 32, tmp_path / "out")
    assert not (tmp_path / "out" / "tree.bin").exists()


def test_empty_snapshot_and_wrong_columns(tmp_path: Path) -> None:
    empty = write_csv(tmp_path / "e.csv", [])
    with pytest.raises(InputError, match="no rows"):
        read_snapshot(empty, ASSETS)
    cols = tmp_path / "c.csv"
    cols.write_text("user,asset,amount\nu,BTC,1\n")
    with pytest.raises(InputError, match="expected exactly the columns"):
        read_snapshot(cols, ASSETS)
    ragged = tmp_path / "r.csv"
    ragged.write_text("user_id,asset,amount\nu,BTC,1,9\n")
    with pytest.raises(InputError, match="malformed CSV"):
        read_snapshot(ragged, ASSETS)


def test_float_parquet_column_is_refused(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"user_id": ["u"], "asset": ["BTC"], "amount": [0.1]}), tmp_path / "f.parquet"
    )
    with pytest.raises(InputError, match="column amount: expected strings"):
        read_snapshot(tmp_path / "f.parquet", ASSETS)


def test_parquet_rows_are_named(tmp_path: Path) -> None:
    pq.write_table(
        pa.table({"user_id": ["u", "v"], "asset": ["BTC", "BTC"], "amount": ["1", "1.000000001"]}),
        tmp_path / "p.parquet",
    )
    with pytest.raises(InputError, match="row 2, column amount"):
        read_snapshot(tmp_path / "p.parquet", ASSETS)


def test_asset_list_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("symbol,decimals\nBTC,8\nETH,18\n")
    assert load_assets(tmp_path / "a.csv") == (Asset("BTC", 8), Asset("ETH", 18))
    (tmp_path / "b.csv").write_text("symbol,decimals\nBTC,8\nBTC,8\n")
    with pytest.raises(InputError, match="appears twice"):
        load_assets(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("symbol,decimals\nBTC,x\n")
    with pytest.raises(InputError, match="line 2, column decimals"):
        load_assets(tmp_path / "c.csv")
    (tmp_path / "d.json").write_text('[{"symbol": "BTC", "decimals": 39}]')
    with pytest.raises(InputError, match=r"decimals must be an integer 0\.\.38"):
        load_assets(tmp_path / "d.json")


def test_parquet_messages_fit_the_column_and_name_the_row(tmp_path: Path) -> None:
    pq.write_table(pa.table({"user_id": [1, 2], "asset": ["BTC", "BTC"], "amount": ["1", "2"]}),
                   tmp_path / "i.parquet")
    with pytest.raises(InputError, match="column user_id: expected strings, found int64") as e:
        read_snapshot(tmp_path / "i.parquet", ASSETS)
    assert "amounts" not in str(e.value) and "007 and 7" in str(e.value)
    pq.write_table(pa.table({"user_id": ["a", "b "], "asset": ["BTC", "BTC"],
                             "amount": ["1", "2"]}), tmp_path / "w.parquet")
    with pytest.raises(InputError, match="row 2, column user_id: 'b ' has leading or trailing"):
        read_snapshot(tmp_path / "w.parquet", ASSETS)
    pq.write_table(pa.table({"user_id": ["e\u0301"], "asset": ["BTC"], "amount": ["1"]}),
                   tmp_path / "n.parquet")
    with pytest.raises(InputError, match=r"row 1, column user_id: .* not in Unicode NFC"):
        read_snapshot(tmp_path / "n.parquet", ASSETS)
    (tmp_path / "e.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        read_snapshot(tmp_path / "e.parquet", ASSETS)


def test_csv_messages_name_bom_emptiness_and_line(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbfuser_id,asset,amount\nu,BTC,1\n")
    with pytest.raises(InputError, match="UTF-8 byte order mark"):
        read_snapshot(tmp_path / "b.csv", ASSETS)
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(InputError, match="the file is empty"):
        read_snapshot(tmp_path / "e.csv", ASSETS)
    (tmp_path / "q.csv").write_text('user_id,asset,amount\nu,BTC,1\n"v,BTC,1\n')
    with pytest.raises(InputError, match="line 3: "):
        read_snapshot(tmp_path / "q.csv", ASSETS)
    (tmp_path / "x.csv").write_bytes(b"user_id,asset,amount\nu,BTC,1\nv\xff,BTC,1\n")
    with pytest.raises(InputError, match="line 3: not valid UTF-8"):
        read_snapshot(tmp_path / "x.csv", ASSETS)
    # Case is kept (ids are compared byte for byte): Alice and alice are two users.
    (tmp_path / "c.csv").write_text("user_id,asset,amount\nAlice,BTC,1\nalice,BTC,1\n")
    assert read_snapshot(tmp_path / "c.csv", ASSETS).user_count == 2
