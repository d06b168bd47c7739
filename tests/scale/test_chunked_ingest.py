"""The build's chunked ingest (each worker reads its own parts of the snapshot) against the
serial reference ingest: the same tree bytes for the same secret wherever the parts are
cut (a user's rows split across parts, CRLF, quoted fields, a cut asked for inside a row),
and the same message, word for word, for every bad row, duplicate and account under water.

The parts are made tiny here (a few bytes of CSV, one-row Parquet row groups), so that
every kind of boundary occurs in snapshots of a few rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_tree
from snapshots import units

from por.errors import InputError, VerificationError
from por.liabilities import build as build_mod
from por.liabilities import snapshot as snapshot_mod
from por.liabilities.build import build_margin, build_tree
from verifier.liabilities.mst import Asset
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.summary import RootSummary

SECRET = bytes(range(32))
ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
ASSET_OBJS = tuple(Asset(s, d) for s, d in ASSETS)


def _tiny_parts(monkeypatch: pytest.MonkeyPatch, csv_bytes: int = 1, batch_rows: int = 2
                ) -> list[int | None]:
    """Cut the snapshot into parts of about ``csv_bytes`` (a cut lands inside a row and
    moves to its end) and batches of ``batch_rows``; record what every part returned."""
    monkeypatch.setattr(snapshot_mod, "MIN_CHUNK_BYTES", csv_bytes)
    monkeypatch.setattr(build_mod, "CHUNK_BYTES", csv_bytes)
    monkeypatch.setattr(snapshot_mod, "BATCH_ROWS", batch_rows)
    returned: list[int | None] = []
    real = build_mod.ingest_chunk

    def spy(*args: Any) -> int | None:
        rows = real(*args)
        returned.append(rows)
        return rows

    monkeypatch.setattr(build_mod, "ingest_chunk", spy)
    return returned


def _quote(field: str, always: bool) -> str:
    if always or "," in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def _csv(path: Path, rows: Sequence[tuple[str, ...]], header: tuple[str, ...], crlf: bool,
         quote: bool) -> Path:
    end = "\r\n" if crlf else "\n"
    lines = [",".join(_quote(f, quote) for f in header)]
    lines += [",".join(_quote(f, quote) for f in row) for row in rows]
    path.write_bytes((end.join(lines) + end).encode())
    return path


def _parquet(path: Path, rows: Sequence[tuple[str | None, ...]], header: tuple[str, ...],
             group_rows: int) -> Path:
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(header)})
    pq.write_table(table, path, row_group_size=group_rows)
    return path


def _both(snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
          margin: RiskParams | None = None, **options: Any) -> tuple[bytes, bytes]:
    """Tree bytes of the chunked build and of the serial reference build."""
    trees = []
    for fast in (True, False):
        monkeypatch.setattr(build_mod, "FAST_INGEST", fast)
        out = tmp_path / f"{name}-{fast}"
        if margin is None:
            build_tree(snap, ASSET_OBJS, "r", SECRET, out, **options)
        else:
            build_margin(snap, ASSET_OBJS, margin, "r", SECRET, out, **options)
        trees.append((out / "tree.bin").read_bytes())
    return trees[0], trees[1]


def _rows(balances: dict[str, list[int]], order: str, seed: int) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [(user, s, units(v, d)) for user, vals in balances.items()
            for (s, d), v in zip(ASSETS, vals, strict=True) if v or s == "BTC"]
    if order == "shuffled":
        random.Random(seed).shuffle(rows)
    elif order == "split":  # every user's rows in two places: the first half, then the rest
        half = len(rows) // 2
        rows = rows[::2] + rows[1::2] if half else rows
    return rows


USER_IDS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1,
                   max_size=12).map(lambda s: "u" + s.strip() + "x")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(balances=st.dictionaries(USER_IDS, st.lists(st.integers(0, 2**64), min_size=3,
                                                   max_size=3), min_size=1, max_size=25),
       order=st.sampled_from(["grouped", "shuffled", "split"]), seed=st.integers(0, 99),
       crlf=st.booleans(), quote=st.booleans(), part_bytes=st.integers(1, 200),
       batch_rows=st.integers(1, 7))
def test_csv_parts_build_the_reference_tree(balances: dict[str, list[int]], order: str,
                                            seed: int, crlf: bool, quote: bool,
                                            part_bytes: int, batch_rows: int,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp_path = tmp_path_factory.mktemp("csv")
    with pytest.MonkeyPatch.context() as mp:
        returned = _tiny_parts(mp, part_bytes, batch_rows)
        rows = _rows(balances, order, seed)
        snap = _csv(tmp_path / "s.csv", rows, ("user_id", "asset", "amount"), crlf, quote)
        fast, ref = _both(snap, tmp_path, mp, "t", workers=1)
    assert fast == ref
    assert returned and None not in returned and sum(r or 0 for r in returned) == len(rows)
    body = snap.read_bytes().split(b"\n", 1)[1]
    longest = max(len(line) + 1 for line in body.split(b"\n"))
    # Cut into many parts: each ends at the first newline at or past its share of bytes.
    assert len(returned) >= min(len(rows), len(body) // (part_bytes + longest))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(balances=st.dictionaries(USER_IDS, st.lists(st.integers(0, 2**100), min_size=3,
                                                   max_size=3), min_size=1, max_size=25),
       order=st.sampled_from(["grouped", "shuffled", "split"]), seed=st.integers(0, 99),
       group_rows=st.integers(1, 9), batch_rows=st.integers(1, 7))
def test_parquet_parts_build_the_reference_tree(balances: dict[str, list[int]], order: str,
                                                seed: int, group_rows: int, batch_rows: int,
                                                tmp_path_factory: pytest.TempPathFactory
                                                ) -> None:
    tmp_path = tmp_path_factory.mktemp("pq")
    with pytest.MonkeyPatch.context() as mp:
        returned = _tiny_parts(mp, 1, batch_rows)
        rows = _rows(balances, order, seed)
        # Column order other than the spec's: the parts select by name.
        snap = _parquet(tmp_path / "s.parquet", [(r[2], r[0], r[1]) for r in rows],
                        ("amount", "user_id", "asset"), group_rows)
        fast, ref = _both(snap, tmp_path, mp, "t", workers=1)
    assert fast == ref
    assert None not in returned and sum(r or 0 for r in returned) == len(rows)
    # A part closes once it holds max(BATCH_ROWS, rows / (4 x workers)) rows.
    if len(rows) >= max(batch_rows, len(rows) // 4) + group_rows:
        assert len(returned) >= 2


def test_two_worker_processes_build_the_reference_tree(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Above PARALLEL_MIN_ROWS: real worker processes read the parts (several buckets)."""
    rng = random.Random(8)
    balances = {f"user-{i:06d}": [rng.randrange(10**9), rng.randrange(2**90), i % 3]
                for i in range(9000)}
    rows = _rows(balances, "split", 1)
    snap = _csv(tmp_path / "s.csv", rows, ("user_id", "asset", "amount"), True, False)
    monkeypatch.setattr(snapshot_mod, "MIN_CHUNK_BYTES", 4096)
    fast, ref = _both(snap, tmp_path, monkeypatch, "csv", workers=2)
    assert fast == ref
    info = json.loads((tmp_path / "csv-True/build-info.json").read_text())
    assert info["buckets"] >= 4 and info["workers"] == 2
    want = reference_tree("r", ASSETS, balances, SECRET, 16384)["root"]
    root = RootSummary.from_json((tmp_path / "csv-True/root.json").read_text())
    assert root.root_hash == want
    pq_snap = _parquet(tmp_path / "s.parquet", rows, ("user_id", "asset", "amount"), 2000)
    fast_pq, _ = _both(pq_snap, tmp_path, monkeypatch, "pq", workers=2)
    assert fast_pq == fast


BAD_LINES = [
    "u5,BTC,1.000000001", "u5,BTC,-1", "u5,BTC,", "u5,BTC,1e5", "u5,BTC,.5", "u5,BTC,NaN",
    "u5,BTC,340282366920938463463.374607431768211456", "u5,BTC,1,5", "u5,DOGE,1",
    "u 5 ,BTC,1", " u5,BTC,1", "u5,BTC", "", '"u5,BTC,1', 'u5,"BTC\n",1',
    "u3,ETH,1",  # a duplicate: u3's ETH row is in an earlier part
    "u8,ETH,3",  # a duplicate in one run of u8's rows (the next line is u8's ETH row)
    "e\u0301,BTC,1",  # not NFC
    "u\x07,BTC,1",
]


def _first_refusal(snap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   margin: RiskParams | None = None) -> list[tuple[type, str]]:
    found = []
    for fast in (True, False):
        monkeypatch.setattr(build_mod, "FAST_INGEST", fast)
        with pytest.raises((InputError, VerificationError)) as err:
            if margin is None:
                build_tree(snap, ASSET_OBJS, "r", SECRET, tmp_path / f"o{fast}", workers=1)
            else:
                build_margin(snap, ASSET_OBJS, margin, "r", SECRET, tmp_path / f"o{fast}",
                             workers=1)
        found.append((type(err.value), str(err.value)))
        assert not (tmp_path / f"o{fast}").exists()
    return found


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("bad", BAD_LINES)
def test_bad_rows_give_the_reference_message(bad: str, crlf: bool, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bad row, in a late part, through the chunked and the serial ingest."""
    returned = _tiny_parts(monkeypatch, 24, 2)
    good = [f"u{i},{s},{i}.5" for i in range(12) for s in ("BTC", "ETH")]
    end = "\r\n" if crlf else "\n"
    text = end.join(["user_id,asset,amount", *good[:17], bad, *good[17:]]) + end
    snap = tmp_path / "s.csv"
    snap.write_bytes(text.encode())
    fast, ref = _first_refusal(snap, tmp_path, monkeypatch)
    assert fast == ref
    # A part sent the build back to the serial ingest (a duplicate across parts: the merge).
    if not bad.startswith(("u3,", "u8,")):
        assert None in returned
    assert "line 19" in ref[1] or "line 5" in ref[1]  # the bad row, or u3's first ETH row


def test_bad_parquet_row_gives_the_reference_message(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_parts(monkeypatch, 1, 2)
    rows = [(f"u{i}", "BTC", f"{i}") for i in range(30)]
    rows[23] = ("u23", "BTC", "2.123456789")
    snap = _parquet(tmp_path / "s.parquet", rows, ("user_id", "asset", "amount"), 3)
    fast, ref = _first_refusal(snap, tmp_path, monkeypatch)
    assert fast == ref and "row 24, column amount" in ref[1]


@pytest.mark.parametrize("asset", ["DOGE", None, "btc", ""])
def test_bad_parquet_asset_gives_the_reference_message(asset: str | None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts read the asset column as a dictionary (each symbol looked up once); an
    unknown symbol or a null one, even used by one row only, still reaches the serial
    ingest and its message."""
    returned = _tiny_parts(monkeypatch, 1, 2)
    rows: list[tuple[str | None, ...]] = [(f"u{i}", ("BTC", "ETH")[i % 2], f"{i}")
                                          for i in range(30)]
    rows[23] = ("u23", asset, "1")
    snap = _parquet(tmp_path / "s.parquet", rows, ("user_id", "asset", "amount"), 3)
    fast, ref = _first_refusal(snap, tmp_path, monkeypatch)
    assert fast == ref and "row 24, column asset" in ref[1]
    assert None in returned
    good = _parquet(tmp_path / "g.parquet", rows[:23] + rows[24:], ("user_id", "asset",
                                                                    "amount"), 5)
    fast_tree, ref_tree = _both(good, tmp_path, monkeypatch, "g", workers=1)
    assert fast_tree == ref_tree


def _risk() -> RiskParams:
    return RiskParams.from_json(rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 24,
        "assets": [{"symbol": s, "decimals": d, "price": "2",
                    "tiers": [{"up_to": "1000000", "ratio": 100}]} for s, d in ASSETS]}))


def test_account_under_water_in_a_late_part_is_named_at_its_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The under-water check runs after the chunked ingest (no fallback): the row found
    by the merge is a part's row, made the file's line."""
    returned = _tiny_parts(monkeypatch, 30, 3)
    lines = [f"u{i},BTC,{i + 1},0" for i in range(20)]
    lines[13] = "sunk,ETH,0,5"
    lines.append("sunk,BTC,1,0")
    snap = tmp_path / "m.csv"
    snap.write_text("user_id,asset,equity,debt\n" + "\n".join(lines) + "\n")
    fast, ref = _first_refusal(snap, tmp_path, monkeypatch, _risk())
    assert fast == ref and fast[0] is VerificationError
    assert "line 15" in fast[1] and "'sunk'" in fast[1]
    assert len(returned) > 3 and None not in returned[:len(returned) // 2]


def test_margin_parts_build_the_reference_tree(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_parts(monkeypatch, 50, 3)
    rng = random.Random(2)
    lines = [f"u{i},{s},{rng.randrange(1, 10**6)}.5,{rng.randrange(10**5)}"
             for i in range(40) for s, _ in ASSETS]
    rng.shuffle(lines)
    snap = tmp_path / "m.csv"
    snap.write_text("user_id,asset,equity,debt\n" + "\n".join(lines) + "\n")
    fast, ref = _both(snap, tmp_path, monkeypatch, "m", _risk(), workers=1)
    assert fast == ref
