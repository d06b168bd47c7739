"""Synthetic liabilities snapshots for the benchmarks: exact decimal strings, made column-wise.

Every amount is built from integers as text ("1234.00120000"); no float ever produces a
digit, so the snapshot means exactly what the builder reads. The columns are made with
numpy and pyarrow compute, so a million users and four assets take a few seconds, and the
file is cached under ``.bench-data/`` (git-ignored; ``make bench`` removes it at the end).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from verifier.liabilities.mst import Asset

# Generated snapshots and built trees (gigabytes at 100M users): under the repository's
# ignored .bench-data/, which `make bench` removes at the end ($POR_BENCH_DATA moves it).
DATA_DIR = Path(os.environ.get("POR_BENCH_DATA")
                or Path(__file__).resolve().parent.parent / ".bench-data")

# Real decimals of common assets; ETH's 18 decimals push amounts past 64 bits.
ALL_ASSETS = (
    Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6), Asset("SOL", 9),
    Asset("XRP", 6), Asset("DOGE", 8), Asset("TRX", 6), Asset("ADA", 6),
)
SEED = 20260101


def assets_for(count: int) -> tuple[Asset, ...]:
    """The first ``count`` benchmark assets."""
    return ALL_ASSETS[:count]


def _amount_column(rng: np.random.Generator, n: int, decimals: int) -> pa.Array:
    """``n`` exact decimal strings with ``decimals`` fraction digits, log-spread in size."""
    return _amount_and_debt(rng, n, decimals)[0]


def _decimal_text(whole: np.ndarray, frac: np.ndarray | None, decimals: int) -> pa.Array:
    text = pc.cast(pa.array(whole), pa.string())
    if frac is None:
        return text
    frac_text = pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(text, frac_text, ".")


def _amount_and_debt(rng: np.random.Generator, n: int, decimals: int
                     ) -> tuple[pa.Array, pa.Array]:
    """:func:`_amount_column`, and beside it a debt of at most half of each amount (the
    margin benchmark's: every user borrows in every asset, covered by their own equity)."""
    # Whole part: uniform below 10**e with e uniform in 0..6, so balances span 0 to a
    # million units, like a real exchange's long tail; drawn as integers, never floats.
    exponent = rng.integers(0, 7, size=n)
    whole = rng.integers(0, 10 ** exponent, dtype=np.int64)
    # 10**18 - 1 still fits in int64, the widest fraction the asset list needs.
    frac = rng.integers(0, 10**decimals, size=n, dtype=np.int64) if decimals else None
    # whole // 2 units and frac // 2 base units: at most half of the amount, exactly.
    half = None if frac is None else frac // 2
    return (_decimal_text(whole, frac, decimals), _decimal_text(whole // 2, half, decimals))


def make_snapshot(users: int, asset_count: int, seed: int = SEED) -> pa.Table:
    """A long-format snapshot where every user holds every asset (the densest case).

    Rows are grouped by user, as an exchange's per-account export usually is.
    """
    rng = np.random.default_rng(seed)
    assets = assets_for(asset_count)
    ids = pc.binary_join_element_wise(
        "user-", pc.utf8_lpad(pc.cast(pa.array(np.arange(users)), pa.string()), 9, "0"), "")
    # Row r belongs to user r // k and asset r % k.
    user_col = pc.take(ids, pa.array(np.repeat(np.arange(users), asset_count)))
    symbols = pa.array([a.symbol for a in assets], pa.string())
    asset_col = pc.take(symbols, pa.array(np.tile(np.arange(asset_count), users)))
    per_asset = [_amount_column(rng, users, a.decimals) for a in assets]
    # Interleave the per-asset columns back into row order (user-major, asset-minor).
    stacked = pa.concat_arrays(per_asset)
    order = (np.arange(asset_count)[None, :] * users + np.arange(users)[:, None]).ravel()
    amount_col = pc.take(stacked, pa.array(order))
    return pa.table({"user_id": user_col, "asset": asset_col, "amount": amount_col})


# The margin benchmark's risk file (spec §15.5): value_decimals 20 lets ETH (18 decimals)
# carry a price with two decimals; Binance-like haircut tiers, the last bound above any
# holding and below 2^128 value units (so the C first pass of the rule decides every user).
PRICES = {"BTC": "65000.5", "ETH": "3000.25", "USDT": "1", "SOL": "150.1", "XRP": "0.5",
          "DOGE": "0.12", "TRX": "0.1", "ADA": "0.4"}


def margin_risk(asset_count: int) -> bytes:
    """The canonical risk file priced for the first ``asset_count`` benchmark assets."""
    import rfc8785

    return rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 20,
        "assets": [{"symbol": a.symbol, "decimals": a.decimals, "price": PRICES[a.symbol],
                    "tiers": [{"up_to": "100000", "ratio": 100},
                              {"up_to": "1000000", "ratio": 95},
                              {"up_to": "1000000000000000000", "ratio": 90}]}
                   for a in assets_for(asset_count)],
    })


def make_margin_snapshot(users: int, asset_count: int, seed: int = SEED) -> pa.Table:
    """The users of :func:`make_snapshot`, each holding as ``equity`` the amount the spot
    snapshot gives them, and a ``debt`` in every asset of at most half of it (collateral
    absent: all equity counts), so every user's rule must be computed (spec §15.11)."""
    rng = np.random.default_rng(seed)
    spot = make_snapshot(users, asset_count, seed)
    rng = np.random.default_rng(seed)  # the same draws, in the same order, as make_snapshot
    pairs = [_amount_and_debt(rng, users, a.decimals) for a in assets_for(asset_count)]
    order = pa.array((np.arange(asset_count)[None, :] * users
                      + np.arange(users)[:, None]).ravel())
    equity = pc.take(pa.concat_arrays([e for e, _ in pairs]), order)
    debt = pc.take(pa.concat_arrays([d for _, d in pairs]), order)
    if not equity.equals(spot.column("amount").combine_chunks()):
        raise AssertionError("the margin snapshot's equity is not the spot snapshot's amount")
    return pa.table({"user_id": spot.column("user_id"), "asset": spot.column("asset"),
                     "equity": equity, "debt": debt})


def margin_snapshot_path(users: int, asset_count: int) -> Path:
    """Where the cached margin snapshot of this size lives (up to 1M users); made on use."""
    if users > GEN_CHUNK:
        raise ValueError("the margin benchmark snapshot is made in one piece: at most 1M users")
    path = DATA_DIR / f"snapshot-margin-{users}u-{asset_count}a-{SEED}.parquet"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        pq.write_table(make_margin_snapshot(users, asset_count), tmp, row_group_size=1 << 20)
        tmp.replace(path)
    return path


GEN_CHUNK = 1_000_000  # users generated and written at a time: bounds the generator's memory


def make_snapshot_chunk(first: int, users: int, asset_count: int, seed: int = SEED) -> pa.Table:
    """Users ``first .. first+users`` of a snapshot (ids ``user-000000042``), every asset each.

    Chunk ``first`` draws from its own seed, so a large snapshot is written chunk by chunk
    without ever being held whole; the one-chunk case is :func:`make_snapshot`.
    """
    rng = np.random.default_rng([seed, first])
    assets = assets_for(asset_count)
    ids = pc.binary_join_element_wise(
        "user-",
        pc.utf8_lpad(pc.cast(pa.array(np.arange(first, first + users)), pa.string()), 9, "0"),
        "")
    user_col = pc.take(ids, pa.array(np.repeat(np.arange(users), asset_count)))
    symbols = pa.array([a.symbol for a in assets], pa.string())
    asset_col = pc.take(symbols, pa.array(np.tile(np.arange(asset_count), users)))
    stacked = pa.concat_arrays([_amount_column(rng, users, a.decimals) for a in assets])
    order = (np.arange(asset_count)[None, :] * users + np.arange(users)[:, None]).ravel()
    amount_col = pc.take(stacked, pa.array(order))
    return pa.table({"user_id": user_col, "asset": asset_col, "amount": amount_col})


def snapshot_path(users: int, asset_count: int) -> Path:
    """Where the cached snapshot of this size lives; generated on first use.

    Up to a million users it is :func:`make_snapshot` (the table the results in README.md
    were first measured on); above, it is written a million users at a time.
    """
    path = DATA_DIR / f"snapshot-{users}u-{asset_count}a-{SEED}.parquet"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        if users <= GEN_CHUNK:
            pq.write_table(make_snapshot(users, asset_count), tmp, row_group_size=1 << 20)
        else:
            first_chunk = make_snapshot_chunk(0, min(GEN_CHUNK, users), asset_count)
            with pq.ParquetWriter(tmp, first_chunk.schema) as writer:
                writer.write_table(first_chunk, row_group_size=1 << 20)
                del first_chunk
                for first in range(GEN_CHUNK, users, GEN_CHUNK):
                    chunk = make_snapshot_chunk(first, min(GEN_CHUNK, users - first),
                                                asset_count)
                    writer.write_table(chunk, row_group_size=1 << 20)
        tmp.replace(path)
    return path


def csv_snapshot_path(users: int, asset_count: int) -> Path:
    """The snapshot of :func:`snapshot_path` as CSV (the same rows, in the same order), with
    quotes only where a field needs them, as exchanges' exports usually are; made on use."""
    import pyarrow.csv as pacsv

    source = snapshot_path(users, asset_count)
    path = source.with_suffix(".csv")
    if not path.exists():
        tmp = path.with_suffix(".partial")
        pf = pq.ParquetFile(source)
        with pacsv.CSVWriter(tmp, pf.schema_arrow,
                             write_options=pacsv.WriteOptions(quoting_style="needed")) as out:
            for batch in pf.iter_batches(batch_size=1 << 20):
                out.write_batch(batch)
        tmp.replace(path)
    return path
