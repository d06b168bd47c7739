"""Streaming ingest of a liabilities snapshot into exact base-unit integers.

The snapshot is long-format CSV or Parquet with the columns ``user_id, asset, amount``;
amounts are decimal strings in asset units ("0.00120000"). Rows are read in Arrow batches
and converted column-wise: no row ever becomes a Python object on the fast path, and no
float ever touches an amount. Amounts are held as two uint64 limbs (u128, spec §2).

When a batch breaks any rule, it is re-read row by row to report the first bad value by
file, line and column, and nothing is built.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from por.errors import InputError
from verifier.errors import FormatError
from verifier.liabilities.mst import MAX_AMOUNT, MAX_USER_ID_BYTES, Asset, user_id_bytes

COLUMNS = ("user_id", "asset", "amount")
BATCH_ROWS = 1 << 18
CONVERT_THREADS = 4
_AMOUNT_SHAPE = re.compile(r"[0-9]+(\.[0-9]+)?")
_BOMS = ((codecs.BOM_UTF8, "a UTF-8 byte order mark (BOM, bytes EF BB BF); save the file as"
          " UTF-8 without BOM"),
         (codecs.BOM_UTF16_LE, "a UTF-16 byte order mark (BOM); the snapshot must be UTF-8"),
         (codecs.BOM_UTF16_BE, "a UTF-16 byte order mark (BOM); the snapshot must be UTF-8"))
# What each column holds, for the hint when a Parquet column has another type.
_COLUMN_HINT = {
    "user_id": "user ids are strings, compared byte for byte: store the column as strings"
               " (an integer column would make 007 and 7 the same user)",
    "asset": "asset symbols are strings such as BTC",
    "amount": "amounts are decimal strings in asset units, never floats",
}


def is_parquet(path: str | Path) -> bool:
    """True for a ``.parquet``/``.pq`` file name (the snapshot's format follows its name)."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


def check_user_id(user: Any, where: str) -> None:
    """The builder's rule for a user id (spec §4): the verifier's rule (1-128 bytes of
    printable UTF-8), and no leading or trailing whitespace, and Unicode NFC.

    Ids are compared byte for byte, so ``"alice "`` or an NFD ``"é"`` would silently be
    another user than ``"alice"`` or the NFC ``"é"``: such ids are refused, not rewritten.

    Raises:
        InputError: naming ``where`` (file and line), the column and the rule broken.
    """
    try:
        user_id_bytes(user if user is not None else "")
    except FormatError as e:
        raise InputError(f"{where}, column user_id: {e} (at most {MAX_USER_ID_BYTES}"
                         " bytes)") from e
    if user != user.strip():
        raise InputError(f"{where}, column user_id: {user!r} has leading or trailing"
                         " whitespace; ids are compared byte for byte, so strip it in the"
                         " export rather than let it make another user")
    if not unicodedata.is_normalized("NFC", user):
        raise InputError(f"{where}, column user_id: {user!r} is not in Unicode NFC; ids are"
                         " compared byte for byte, so normalize them (NFC) in the export")


def check_snapshot_file(path: str | Path) -> None:
    """The checks that need no row: the file exists, is not empty, has no byte order mark,
    holds exactly the columns (CSV header or Parquet schema, of strings) and has a row.

    Cheap (the header or the footer only): the builder runs it before it creates anything.

    Raises:
        InputError: naming the file and what is wrong with it.
    """
    path = Path(path)
    reader = _Reader(path, ())
    reader.check_header()


def _csv_error_line(path: Path) -> str | None:
    """Where the first row that Arrow could not parse is: its line and what is wrong.

    Arrow's CSV errors name no line; on an error the file is read again, line by line with
    Python's csv module, to find it (slow, but only once something is already wrong).
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                return (f"line {number}: not valid UTF-8 (byte {e.start + 1} of the line);"
                        " the snapshot must be UTF-8")
            try:
                fields = next(csv.reader([text], strict=True), [])
            except csv.Error as e:
                return f"line {number}: {e} in {text[:80]!r}"
            if len(fields) != len(COLUMNS):
                hint = (" (a comma inside a value must be quoted)"
                        if len(fields) > len(COLUMNS) else "")
                shown = "an empty line" if not text else repr(text[:80])
                return (f"line {number}: expected {len(COLUMNS)} fields"
                        f" ({', '.join(COLUMNS)}), found {len(fields)} in {shown}{hint}")
    return None


@dataclass
class Snapshot:
    """Per-user balances of a round: unique user ids and a u128 matrix as two uint64 limbs."""

    user_ids: pa.Array  # unique user ids (string), one per user, in first-seen order
    lo: np.ndarray  # shape (users, assets), uint64: low 64 bits of each amount
    hi: np.ndarray  # shape (users, assets), uint64: high 64 bits
    rows: int

    @property
    def user_count(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)


@dataclass
class _Batch:
    users: pa.Array
    asset_idx: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _position(kind: str, first_row: int, i: int) -> str:
    # CSV: line 1 is the header, so data row i of the file is on line i + 2.
    return f"line {first_row + i + 2}" if kind == "csv" else f"row {first_row + i + 1}"


def parse_amount(text: Any, asset: Asset, where: str) -> int:
    """Parse one decimal string in asset units into base units, exactly.

    Raises:
        InputError: empty, not a plain non-negative decimal, too many decimals, or > u128.
    """
    if text is None or text == "":
        raise InputError(f"{where}, column amount: empty amount")
    if not isinstance(text, str):
        raise InputError(f"{where}, column amount: expected a decimal string, found {text!r}")
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InputError(f"{where}, column amount: {text!r} is not a number")
    if text.startswith("-"):
        raise InputError(f"{where}, column amount: {text!r} is negative")
    if not _AMOUNT_SHAPE.fullmatch(text):
        raise InputError(f"{where}, column amount: {text!r} is not a plain decimal number"
                         " (digits, optionally a '.' and more digits)")
    whole, _, frac = text.partition(".")
    if len(frac) > asset.decimals:
        raise InputError(f"{where}, column amount: {text} has {len(frac)} decimals,"
                         f" {asset.symbol} allows {asset.decimals}")
    scale: int = 10**asset.decimals
    value = int(whole) * scale + int(frac.ljust(asset.decimals, "0") or "0")
    if value > MAX_AMOUNT:
        raise InputError(f"{where}, column amount: {text} {asset.symbol} exceeds 2^128-1 base"
                         " units")
    return value


def _plain_decimals(amounts: pa.Array, length: np.ndarray, dot: np.ndarray) -> bool:
    r"""True if every amount matches ``[0-9]+(\.[0-9]+)?`` (digit counts are checked later).

    Works on the bytes of the whole column at once instead of a regex per row: every
    byte is a digit or a dot, each row holds as many dots as it has a first dot (so at most
    one), and a dot is neither the first nor the last byte of a non-empty row.
    """
    wide = pa.types.is_large_string(amounts.type)
    offsets = np.frombuffer(amounts.buffers()[1], dtype=np.int64 if wide else np.int32)
    first, last = int(offsets[amounts.offset]), int(offsets[amounts.offset + len(amounts)])
    data = np.frombuffer(amounts.buffers()[2], dtype=np.uint8)[first:last]
    is_dot = data == ord(".")
    if not (((data >= ord("0")) & (data <= ord("9"))) | is_dot).all():
        return False
    has_dot = dot >= 0
    if int(is_dot.sum()) != int(has_dot.sum()):
        return False
    return bool((length > 0).all() and (dot != 0).all()
                and (dot[has_dot] != length[has_dot] - 1).all())


class _Reader:
    def __init__(self, path: Path, assets: tuple[Asset, ...]) -> None:
        self.path = path
        self.assets = assets
        self.symbols = pa.array([a.symbol for a in assets], pa.string())
        self.decimals = np.array([a.decimals for a in assets], dtype=np.int64)
        self.kind = "parquet" if is_parquet(path) else "csv"

    def check_header(self) -> None:
        """Size, byte order mark, columns and their types: no row is read.

        Raises:
            InputError: naming the file and the problem.
        """
        try:
            size = self.path.stat().st_size
            if not self.path.is_file():
                raise InputError(f"{self.path}: not a file")
            with open(self.path, "rb") as fh:
                head = fh.read(4)
        except FileNotFoundError as e:
            raise InputError(f"{self.path}: cannot read: no such file") from e
        except OSError as e:
            raise InputError(f"{self.path}: cannot read: {e.strerror}") from e
        if size == 0:
            raise InputError(f"{self.path}: the file is empty (0 bytes); expected "
                             + ("a Parquet file" if self.kind == "parquet"
                                else f"a header line {','.join(COLUMNS)} and one row a line"))
        if self.kind == "parquet":
            try:
                pf = pq.ParquetFile(self.path)
            except (OSError, pa.ArrowInvalid) as e:
                raise InputError(f"{self.path}: malformed PARQUET: {e}") from e
            self._check_parquet_schema(pf)
            if pf.metadata.num_rows == 0:
                raise InputError(f"{self.path}: the snapshot has no rows")
            return
        for bom, what in _BOMS:
            if head.startswith(bom):
                raise InputError(f"{self.path}: the file starts with {what}")
        with open(self.path, "rb") as fh:
            header_line = fh.readline()
            second = fh.readline()
        try:
            header = header_line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise InputError(f"{self.path}: line 1 (the header) is not valid UTF-8; the"
                             " snapshot must be UTF-8") from e
        self._check_columns([h.strip('"') for h in header.split(",")])
        if not second:
            raise InputError(f"{self.path}: the snapshot has no rows (a header line only)")

    def _check_parquet_schema(self, pf: pq.ParquetFile) -> None:
        self._check_columns(pf.schema_arrow.names)
        for name in COLUMNS:
            typ = pf.schema_arrow.field(name).type
            if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
                raise InputError(f"{self.path}, column {name}: expected strings, found"
                                 f" {typ} ({_COLUMN_HINT[name]})")

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.check_header()
        try:
            if self.kind == "parquet":
                # pre_buffer=False: with it, Arrow caches every row group's column chunks
                # read so far until the file is closed (~4.6 MB a batch here, without bound).
                pf = pq.ParquetFile(self.path, pre_buffer=False)
                self._check_parquet_schema(pf)
                yield from pf.iter_batches(batch_size=BATCH_ROWS, columns=list(COLUMNS))
            else:
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=16 << 20),
                    parse_options=pacsv.ParseOptions(newlines_in_values=False,
                                                      ignore_empty_lines=False),
                    convert_options=pacsv.ConvertOptions(
                        column_types={c: pa.string() for c in COLUMNS},
                        strings_can_be_null=False, quoted_strings_can_be_null=False,
                    ),
                )
                for batch in reader:
                    yield batch.select(list(COLUMNS))
        except OSError as e:
            raise InputError(f"{self.path}: cannot read: {e}") from e
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            where = _csv_error_line(self.path) if self.kind == "csv" else None
            raise InputError(f"{self.path}: malformed {self.kind.upper()}: "
                             f"{where or e}") from e

    def _check_columns(self, names: list[str]) -> None:
        if sorted(names) != sorted(COLUMNS):
            raise InputError(f"{self.path}: expected exactly the columns {', '.join(COLUMNS)},"
                             f" found {', '.join(repr(n) for n in names)}")

    def convert(self, batch: pa.RecordBatch, first_row: int) -> _Batch:
        users = batch.column("user_id")
        assets = batch.column("asset")
        amounts = batch.column("amount")
        fast = self._fast(users, assets, amounts)
        if fast is not None:
            return fast
        return self._slow(users, assets, amounts, first_row)

    def _fast(self, users: pa.Array, assets: pa.Array, amounts: pa.Array) -> _Batch | None:
        n = len(users)
        if users.null_count or assets.null_count or amounts.null_count:
            return None
        # User ids: 1..128 printable ASCII bytes on the fast path; anything else is checked
        # row by row with the verifier's own rule (str.isprintable) so both sides agree.
        # (ascii_is_printable is true for "" and for nothing outside 0x20-0x7e, so with the
        # length bounds it is exactly ^[\x20-\x7e]{1,128}$, at a tenth of the regex's cost.)
        id_length = pc.min_max(pc.binary_length(users)).as_py()
        if not (pc.all(pc.ascii_is_printable(users)).as_py()
                and id_length["min"] >= 1 and id_length["max"] <= MAX_USER_ID_BYTES):
            return None
        # Printable ASCII is NFC; its only whitespace is the space, refused at either end.
        if (pc.any(pc.starts_with(users, " ")).as_py()
                or pc.any(pc.ends_with(users, " ")).as_py()):
            return None
        idx = pc.index_in(assets, value_set=self.symbols)
        if idx.null_count:
            return None
        asset_idx = idx.to_numpy(zero_copy_only=False).astype(np.int16)
        length = pc.binary_length(amounts).to_numpy(zero_copy_only=False).astype(np.int64)
        dot = pc.find_substring(amounts, ".").to_numpy(zero_copy_only=False).astype(np.int64)
        if not _plain_decimals(amounts, length, dot):
            return None
        frac = np.where(dot < 0, 0, length - dot - 1)
        whole = np.where(dot < 0, length, dot)
        dec = self.decimals[asset_idx]
        # decimal128 holds 38 digits; larger values (never seen in practice) go row by row.
        if (frac > dec).any() or (whole + dec > 38).any():
            return None
        lo = np.zeros(n, dtype=np.uint64)
        hi = np.zeros(n, dtype=np.uint64)
        for a in np.unique(asset_idx):
            mask = asset_idx == a
            sub = amounts.filter(pa.array(mask))
            exact = pc.cast(sub, pa.decimal128(38, int(self.decimals[a])))
            # decimal128 stores the unscaled integer as 16 little-endian bytes: base units.
            limbs = np.frombuffer(exact.buffers()[1], dtype="<u8")
            limbs = limbs[2 * exact.offset : 2 * (exact.offset + len(exact))].reshape(-1, 2)
            lo[mask] = limbs[:, 0]
            hi[mask] = limbs[:, 1]
        return _Batch(users, asset_idx, lo, hi)

    def _slow(self, users: pa.Array, assets: pa.Array, amounts: pa.Array, first_row: int
              ) -> _Batch:
        by_symbol = {a.symbol: (i, a) for i, a in enumerate(self.assets)}
        n = len(users)
        asset_idx = np.zeros(n, dtype=np.int16)
        lo = np.zeros(n, dtype=np.uint64)
        hi = np.zeros(n, dtype=np.uint64)
        for i, (user, symbol, text) in enumerate(
            zip(users.to_pylist(), assets.to_pylist(), amounts.to_pylist(), strict=True)
        ):
            where = f"{self.path}, {_position(self.kind, first_row, i)}"
            check_user_id(user, where)
            if symbol not in by_symbol:
                raise InputError(f"{where}, column asset: unknown asset {symbol!r}; the asset"
                                 f" list has {', '.join(by_symbol)}")
            j, asset = by_symbol[symbol]
            value = parse_amount(text, asset, where)
            asset_idx[i] = j
            lo[i] = value & 0xFFFFFFFFFFFFFFFF
            hi[i] = value >> 64
        return _Batch(users, asset_idx, lo, hi)


def _encode_users(users: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Unique user ids in first-seen order, and each row's index into them.

    One hashing pass (dictionary_encode) instead of two (unique, then index_in): on a
    chunked array every chunk of the result shares the final, unified dictionary.
    """
    encoded = users.dictionary_encode()
    if encoded.num_chunks == 0:
        return pa.array([], pa.string()), np.zeros(0, np.int64)
    unique = encoded.chunk(encoded.num_chunks - 1).dictionary
    if any(len(c.dictionary) != len(unique) for c in encoded.chunks):
        # Not expected from Arrow's kernel; fall back to the two-pass form rather than trust it.
        unique = pc.unique(users)
        if isinstance(unique, pa.ChunkedArray):
            unique = unique.combine_chunks()
        return unique, pc.index_in(users, value_set=unique).to_numpy().astype(np.int64)
    indices = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks])
    return unique, indices.astype(np.int64)


def open_snapshot(path: str | Path, assets: tuple[Asset, ...]) -> _Reader:
    """A reader of the snapshot at ``path`` (nothing is read until its batches are)."""
    return _Reader(Path(path), assets)


def estimate_rows(path: str | Path) -> int:
    """An upper bound on the snapshot's rows, known before reading it (sizes the buckets).

    Parquet: the row count in its footer. CSV: the file size over 8 bytes, the shortest
    row that can hold three fields and a newline ("u,BTC,1" is 7 bytes plus the newline).
    """
    path = Path(path)
    try:
        if is_parquet(path):
            return int(pq.ParquetFile(path).metadata.num_rows)
        return max(1, os.path.getsize(path) // 8)
    except (OSError, pa.ArrowInvalid):
        return 1  # reading the snapshot will name the problem


def iter_batches(
    reader: _Reader, progress: Callable[[int], Any] | None = None
) -> Iterator[tuple[_Batch, int]]:
    """Converted batches in file order, with the file row (0-based) each one starts at.

    Arrow and numpy release the GIL, so threads convert batches on every core while this
    thread reads the next one. Results come in file order, so the first bad row reported is
    the first in the file; at most two batches per thread wait in memory.

    Raises:
        InputError: naming file, line (or row) and column of the first bad value.
    """
    rows = 0
    threads = max(1, min(CONVERT_THREADS, os.cpu_count() or 1))
    with ThreadPoolExecutor(threads) as pool:
        pending: deque[tuple[Future[_Batch], int]] = deque()
        for batch in reader.batches():
            pending.append((pool.submit(reader.convert, batch, rows), rows))
            rows += batch.num_rows
            while len(pending) > 2 * threads or (pending and pending[0][0].done()):
                fut, first = pending.popleft()
                yield fut.result(), first
            if progress:
                progress(batch.num_rows)
        while pending:
            fut, first = pending.popleft()
            yield fut.result(), first


def describe_duplicate(path: str | Path, assets: tuple[Asset, ...], row: int,
                       asset: int) -> InputError:
    """The error for a (user, asset) given twice: the user is the one on ``row``.

    Only called once a duplicate is known (the bounded-memory build finds it by commitment,
    without the user id): the file is read again to name the user and both lines.
    """
    reader = _Reader(Path(path), assets)
    symbol = assets[asset].symbol
    user: str | None = None
    seen = 0
    for batch in reader.batches():
        if user is None and seen + batch.num_rows > row:
            user = batch.column("user_id")[row - seen].as_py()
        seen += batch.num_rows
        if user is not None:
            break
    found: list[int] = []
    seen = 0
    for batch in reader.batches():
        hit = pc.and_(pc.equal(batch.column("user_id"), user),
                      pc.equal(batch.column("asset"), symbol))
        found.extend(seen + int(i) for i in np.flatnonzero(hit.to_numpy(zero_copy_only=False)))
        seen += batch.num_rows
        if len(found) >= 2:
            break
    first, second = (_position(reader.kind, 0, r) for r in (found + found)[:2])
    return InputError(f"{path}, {second}: duplicate row for user {user!r} and asset {symbol}"
                      f" (first at {first})")


def read_snapshot(
    path: str | Path,
    assets: tuple[Asset, ...],
    progress: Callable[[int], Any] | None = None,
) -> Snapshot:
    """Read and validate a snapshot file, returning per-user u128 balances.

    Args:
        path: a ``.csv`` or ``.parquet`` file with columns ``user_id, asset, amount``.
        assets: the round's asset list.
        progress: called with the number of rows done after each batch.

    Raises:
        InputError: naming file, line (or row) and column of the first bad value, a
            duplicate (user, asset) row, or an empty snapshot.
    """
    reader = _Reader(Path(path), assets)
    batches: list[_Batch] = []
    rows = 0
    for batch, _first in iter_batches(reader, progress):
        batches.append(batch)
        rows += len(batch.lo)
    if rows == 0:
        raise InputError(f"{path}: the snapshot has no rows")
    users = pa.chunked_array([b.users for b in batches], pa.string())
    unique, user_idx = _encode_users(users)
    del users
    k = len(assets)
    # key = user * k + asset: the row's flat position in the (users, k) matrix, built in
    # place so that no second row-length array is allocated.
    key = user_idx
    key *= k
    key += np.concatenate([b.asset_idx for b in batches])
    counts = np.bincount(key, minlength=len(unique) * k)
    if (counts > 1).any():
        dup_key = int(np.flatnonzero(counts > 1)[0])
        rows_at = np.flatnonzero(key == dup_key)
        first, second = (_position(reader.kind, 0, int(r)) for r in rows_at[:2])
        raise InputError(
            f"{path}, {second}: duplicate row for user {unique[dup_key // k].as_py()!r} and"
            f" asset {assets[dup_key % k].symbol} (first at {first})"
        )
    del counts
    m_lo = np.zeros((len(unique), k), dtype=np.uint64)
    m_hi = np.zeros((len(unique), k), dtype=np.uint64)
    # Scatter batch by batch, never concatenating the row-length amount columns.
    flat_lo, flat_hi = m_lo.reshape(-1), m_hi.reshape(-1)
    start = 0
    for b in batches:
        stop = start + len(b.lo)
        flat_lo[key[start:stop]] = b.lo
        flat_hi[key[start:stop]] = b.hi
        start = stop
    del batches, key, flat_lo, flat_hi
    # The Arrow allocator keeps freed batch buffers for reuse; hand them back now, so the
    # build (and the workers it forks) does not carry the ingest's peak along.
    pa.default_memory_pool().release_unused()
    return Snapshot(user_ids=unique, lo=m_lo, hi=m_hi, rows=rows)
