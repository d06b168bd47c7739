"""Streaming ingest of a liabilities snapshot into exact base-unit integers.

The snapshot is long-format CSV or Parquet with the columns ``user_id, asset, amount``;
amounts are decimal strings in asset units ("0.00120000"). A margin round's snapshot
(spec §15.11) has ``user_id, asset, equity, debt[, collateral]``, or ``user_id, asset,
amount`` with signed amounts; each row becomes the triple (equity, debt, collateral).
Rows are read in Arrow batches and converted column-wise: no row ever becomes a Python
object on the fast path, and no float ever touches an amount. Amounts are held as two
uint64 limbs (u128, spec §2).

When a batch breaks any rule, it is re-read row by row to report the first bad value by
file, line and column, and nothing is built.
"""

from __future__ import annotations

import codecs
import csv
import itertools
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

try:
    from por import _fasthash as native
except ImportError:  # installed without a compiler: the Arrow kernels below
    native = None  # type: ignore[assignment]
from verifier.errors import FormatError
from verifier.liabilities.mst import MAX_AMOUNT, MAX_USER_ID_BYTES, Asset, user_id_bytes

COLUMNS = ("user_id", "asset", "amount")
# Spec §15.11: the column sets of a margin snapshot (in any order); the last one is signed.
MARGIN_COLUMNS = (("user_id", "asset", "equity", "debt"),
                  ("user_id", "asset", "equity", "debt", "collateral"),
                  ("user_id", "asset", "amount"))
POSITION_PARTS = 3  # a margin row's figures: equity, debt, collateral (spec §15.2)
BATCH_ROWS = 1 << 18
CONVERT_THREADS = 4
MIN_CHUNK_BYTES = 1 << 20  # a CSV part handed to a worker: at least this many bytes
# Rows end at a newline (a quoted field may not span lines) and an empty line is a row the
# validation reports, not one Arrow drops.
_CSV_PARSE = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
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
    "equity": "amounts are decimal strings in asset units, never floats",
    "debt": "amounts are decimal strings in asset units, never floats",
    "collateral": "amounts are decimal strings in asset units, never floats",
}


class ChunkRefused(Exception):
    """A part of the snapshot that a worker could not read or convert as it is: the build
    reads the whole file again with the serial reader, which names the problem exactly."""


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


def check_snapshot_file(path: str | Path, margin: bool = False) -> None:
    """The checks that need no row: the file exists, is not empty, has no byte order mark,
    holds exactly the columns (CSV header or Parquet schema, of strings) and has a row.
    ``margin``: the columns of a margin snapshot (spec §15.11) instead.

    Cheap (the header or the footer only): the builder runs it before it creates anything.

    Raises:
        InputError: naming the file and what is wrong with it.
    """
    path = Path(path)
    reader = _Reader(path, (), margin)
    reader.check_header()


def _csv_error_line(path: Path, columns: tuple[str, ...] = COLUMNS) -> str | None:
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
            if len(fields) != len(columns):
                hint = (" (a comma inside a value must be quoted)"
                        if len(fields) > len(columns) else "")
                shown = "an empty line" if not text else repr(text[:80])
                return (f"line {number}: expected {len(columns)} fields"
                        f" ({', '.join(columns)}), found {len(fields)} in {shown}{hint}")
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
    lo: np.ndarray  # (rows,) uint64; a margin batch: (rows, 3), equity, debt, collateral
    hi: np.ndarray


def _position(kind: str, first_row: int, i: int) -> str:
    # CSV: line 1 is the header, so data row i of the file is on line i + 2.
    return f"line {first_row + i + 2}" if kind == "csv" else f"row {first_row + i + 1}"


def parse_amount(text: Any, asset: Asset, where: str, column: str = "amount",
                 signed: bool = False) -> int:
    """Parse one decimal string in asset units into base units, exactly.

    ``signed`` (a margin snapshot's ``amount``, spec §15.11): a leading ``-`` makes the
    result negative (a debt); its magnitude follows the same rules.

    Raises:
        InputError: empty, not a plain non-negative decimal, too many decimals, or > u128.
    """
    col = f"column {column}"
    if text is None or text == "":
        raise InputError(f"{where}, {col}: empty amount")
    if not isinstance(text, str):
        raise InputError(f"{where}, {col}: expected a decimal string, found {text!r}")
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InputError(f"{where}, {col}: {text!r} is not a number")
    negative = signed and text.startswith("-")
    if text.startswith("-") and not signed:
        raise InputError(f"{where}, {col}: {text!r} is negative")
    digits = text[1:] if negative else text
    if not _AMOUNT_SHAPE.fullmatch(digits):
        raise InputError(f"{where}, {col}: {text!r} is not a plain decimal number"
                         " (digits, optionally a '.' and more digits)")
    whole, _, frac = digits.partition(".")
    if len(frac) > asset.decimals:
        raise InputError(f"{where}, {col}: {text} has {len(frac)} decimals,"
                         f" {asset.symbol} allows {asset.decimals}")
    scale: int = 10**asset.decimals
    value = int(whole) * scale + int(frac.ljust(asset.decimals, "0") or "0")
    if value > MAX_AMOUNT:
        raise InputError(f"{where}, {col}: {digits} {asset.symbol} exceeds 2^128-1 base"
                         " units")
    return -value if negative else value


def margin_position(values: list[int], columns: tuple[str, ...]) -> tuple[int, int, int]:
    """A margin row's (equity, debt, collateral) from its parsed value columns (§15.11).

    ``equity, debt``: collateral = equity; ``equity, debt, collateral`` as given; a signed
    ``amount`` x: (x, 0, x) when x >= 0, else (0, -x, 0).
    """
    named = dict(zip(columns[2:], values, strict=True))
    if "amount" in named:
        x = named["amount"]
        return (x, 0, x) if x >= 0 else (0, -x, 0)
    return named["equity"], named["debt"], named.get("collateral", named["equity"])


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


def extension() -> Any:
    """The C extension the ingest uses (None without it; tests patch ``native`` here)."""
    return native


def string_buffers(strings: pa.Array) -> tuple[memoryview, bool, Any] | None:
    """The offsets (this array's slice of them: one more than its length), whether they are
    int64 (``large_string``) and the data buffer of a string array, for the C extension;
    None for another type."""
    if not (pa.types.is_string(strings.type) or pa.types.is_large_string(strings.type)):
        return None
    wide = pa.types.is_large_string(strings.type)
    offsets = np.frombuffer(strings.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    return offsets.data, wide, b"" if data is None else data


class _Reader:
    def __init__(self, path: Path, assets: tuple[Asset, ...], margin: bool = False) -> None:
        self.path = path
        self.assets = assets
        self.margin = margin
        self.columns: tuple[str, ...] = COLUMNS  # a margin reader's: found in check_header
        self.symbols = pa.array([a.symbol for a in assets], pa.string())
        self.decimals = np.array([a.decimals for a in assets], dtype=np.int64)
        self.kind = "parquet" if is_parquet(path) else "csv"

    @property
    def value_columns(self) -> tuple[str, ...]:
        """The columns holding amounts, in the order they are converted."""
        return self.columns[2:]

    @property
    def parts(self) -> int:
        """Amounts per row as converted: 1 (spot); in a margin snapshot equity and debt,
        and collateral only when the snapshot has a column for it (otherwise it is the
        equity, spec §15.11, and the merge restores it: smaller spills)."""
        if not self.margin:
            return 1
        return POSITION_PARTS if "collateral" in self.columns else 2

    @property
    def signed(self) -> bool:
        """A margin snapshot with one signed ``amount`` column (spec §15.11)."""
        return self.margin and self.columns == MARGIN_COLUMNS[2]

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
                                else f"a header line {self._wanted(',')} and one row a line"))
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
        for name in self.columns:
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
                yield from pf.iter_batches(batch_size=BATCH_ROWS, columns=list(self.columns))
            else:
                reader = pacsv.open_csv(
                    self.path,
                    read_options=pacsv.ReadOptions(block_size=16 << 20),
                    parse_options=_CSV_PARSE, convert_options=self._csv_convert(),
                )
                for batch in reader:
                    yield batch.select(list(self.columns))
        except OSError as e:
            raise InputError(f"{self.path}: cannot read: {e}") from e
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            where = _csv_error_line(self.path, self.columns) if self.kind == "csv" else None
            raise InputError(f"{self.path}: malformed {self.kind.upper()}: "
                             f"{where or e}") from e

    def chunks(self, workers: int, chunk_bytes: int
               ) -> tuple[list[str], list[tuple[int, int]]] | None:
        """How to cut the snapshot into parts that worker processes read side by side: the
        CSV's column names in file order and byte ranges (each starting after a newline),
        or a Parquet file's runs of row groups (``[start, stop)``); None when the file
        cannot be cut so (the serial reader then reads it, and names any problem).

        Every data line of a CSV part is a whole line of the file, so a part's rows are
        the file's rows in order; a part that any reader would refuse is read again by
        the serial reader, which gives the message.
        """
        self.check_header()
        if self.kind == "parquet":
            meta = pq.ParquetFile(self.path).metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
            target = max(BATCH_ROWS, sum(sizes) // max(1, 4 * workers))
            runs: list[tuple[int, int]] = []
            start, held = 0, 0
            for i, n in enumerate(sizes):
                held += n
                if held >= target:
                    runs.append((start, i + 1))
                    start, held = i + 1, 0
            if start < len(sizes):
                runs.append((start, len(sizes)))
            return list(self.columns), runs
        with open(self.path, "rb") as fh:
            header = fh.readline()
            size = os.fstat(fh.fileno()).st_size
            if not header.endswith(b"\n") or b"\r" in header[:-2]:
                return None
            try:
                names = pacsv.read_csv(
                    pa.py_buffer(header), parse_options=pacsv.ParseOptions(
                        newlines_in_values=False, ignore_empty_lines=False)).column_names
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                return None
            if sorted(names) != sorted(self.columns):
                return None
            share = (size - len(header)) // max(1, 4 * workers)
            step = max(MIN_CHUNK_BYTES, min(chunk_bytes, share))
            bounds = [len(header)]
            while bounds[-1] < size:
                fh.seek(min(size, bounds[-1] + step) - 1)
                rest = fh.readline()  # up to and with the next newline: a part ends there
                bounds.append(min(size, fh.tell()) if rest else size)
        return names, list(itertools.pairwise(bounds))

    def chunk_batches(self, names: list[str], start: int, stop: int
                      ) -> Iterator[pa.RecordBatch]:
        """The batches of one part (see :meth:`chunks`), read on one thread.

        Raises:
            ChunkRefused: the part cannot be read (the serial reader will say why).
        """
        try:
            if self.kind == "parquet":
                # The asset column as a dictionary: a handful of symbols, looked up once a
                # batch instead of once a row, and no string per row is built.
                pf = pq.ParquetFile(self.path, pre_buffer=False, read_dictionary=["asset"])
                for group in range(start, stop):
                    if pf.metadata.row_group(group).num_rows > 4 * BATCH_ROWS:
                        # A large row group: streamed, a batch at a time.
                        yield from pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group],
                                                   columns=list(self.columns),
                                                   use_threads=False)
                        continue
                    # Whole: a quarter less work than streaming it (Arrow's batch reader).
                    table = pf.read_row_group(group, columns=list(self.columns),
                                              use_threads=False)
                    yield from table.to_batches(max_chunksize=BATCH_ROWS)
                    del table
                return
            with pa.memory_map(str(self.path), "r") as mm:
                data = mm.read_at(stop - start, start)
                reader = pacsv.open_csv(
                    pa.BufferReader(data),
                    read_options=pacsv.ReadOptions(column_names=names, block_size=4 << 20,
                                                   use_threads=False),
                    parse_options=_CSV_PARSE, convert_options=self._csv_convert(),
                )
                for batch in reader:
                    yield batch.select(list(self.columns))
        except (OSError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise ChunkRefused(str(e)) from e

    def _csv_convert(self) -> pacsv.ConvertOptions:
        """Every wanted column read as text, never null: the decimals are parsed exactly
        later, and an empty field is a message of its own."""
        return pacsv.ConvertOptions(column_types={c: pa.string() for c in self.columns},
                                    strings_can_be_null=False,
                                    quoted_strings_can_be_null=False)

    def _wanted(self, sep: str = ", ") -> str:
        if not self.margin:
            return sep.join(COLUMNS)
        return (f"{sep.join(MARGIN_COLUMNS[0])}[{sep}collateral] or {sep.join(COLUMNS)}"
                " (a signed amount)")

    def _check_columns(self, names: list[str]) -> None:
        sets = MARGIN_COLUMNS if self.margin else (COLUMNS,)
        for columns in sets:
            if sorted(names) == sorted(columns):
                self.columns = columns
                return
        raise InputError(f"{self.path}: expected exactly the columns {self._wanted()},"
                         f" found {', '.join(repr(n) for n in names)}")

    def convert(self, batch: pa.RecordBatch, first_row: int) -> _Batch:
        users = batch.column("user_id")
        assets = batch.column("asset")
        values = [batch.column(c) for c in self.value_columns]
        fast = self._fast(users, assets, values)
        if fast is not None:
            return fast
        return self._slow(users, assets, values, first_row)

    def _fast(self, users: pa.Array, assets: pa.Array, values: list[pa.Array]
              ) -> _Batch | None:
        if users.null_count or assets.null_count or any(v.null_count for v in values):
            return None
        # User ids: 1..128 printable ASCII bytes on the fast path; anything else is checked
        # row by row with the verifier's own rule (str.isprintable) so both sides agree.
        # (ascii_is_printable is true for "" and for nothing outside 0x20-0x7e, so with the
        # length bounds it is exactly ^[\x20-\x7e]{1,128}$, at a tenth of the regex's cost.)
        # Printable ASCII is NFC; its only whitespace is the space, refused at either end.
        buffers = string_buffers(users) if hasattr(native, "check_user_ids") else None
        if buffers is not None:  # the same rule, in one C pass over the ids' bytes
            if not native.check_user_ids(*buffers, MAX_USER_ID_BYTES):
                return None
        else:
            id_length = pc.min_max(pc.binary_length(users)).as_py()
            if not (pc.all(pc.ascii_is_printable(users)).as_py()
                    and id_length["min"] >= 1 and id_length["max"] <= MAX_USER_ID_BYTES):
                return None
            if (pc.any(pc.starts_with(users, " ")).as_py()
                    or pc.any(pc.ends_with(users, " ")).as_py()):
                return None
        asset_idx = self._asset_index(assets)
        if asset_idx is None:
            return None
        columns = []
        for v in values:
            column = self._fast_values(v, asset_idx, self.signed)
            if column is None:
                return None
            columns.append(column)
        if not self.margin:
            return _Batch(users, asset_idx, columns[0][0], columns[0][1])
        n = len(users)
        lo = np.empty((n, self.parts), np.uint64)
        hi = np.empty((n, self.parts), np.uint64)
        if self.signed:  # x >= 0: equity x; x < 0: debt -x (collateral = equity, restored)
            a_lo, a_hi, neg = columns[0]
            zero = np.zeros(n, np.uint64)
            lo[:, 0], hi[:, 0] = np.where(neg, zero, a_lo), np.where(neg, zero, a_hi)
            lo[:, 1], hi[:, 1] = np.where(neg, a_lo, zero), np.where(neg, a_hi, zero)
        else:
            by_name = dict(zip(self.value_columns, columns, strict=True))
            parts = [by_name["equity"], by_name["debt"]]
            if "collateral" in by_name:
                parts.append(by_name["collateral"])
            for j, (p_lo, p_hi, _) in enumerate(parts):
                lo[:, j], hi[:, j] = p_lo, p_hi
        return _Batch(users, asset_idx, lo, hi)

    def _asset_index(self, assets: pa.Array) -> np.ndarray | None:
        """Each row's index in the asset list (int16); None if a symbol is not in it."""
        if pa.types.is_dictionary(assets.type):
            # Each symbol of the dictionary looked up once; an unknown one, or a null value
            # in it, becomes -1 wherever a row uses it (the row-by-row path names it).
            known = pc.fill_null(pc.index_in(assets.dictionary, value_set=self.symbols), -1)
            table = known.to_numpy(zero_copy_only=False).astype(np.int16)
            asset_idx: np.ndarray = table[assets.indices.to_numpy(zero_copy_only=False)]
            if len(asset_idx) and int(asset_idx.min()) < 0:
                return None
            return asset_idx
        idx = pc.index_in(assets, value_set=self.symbols)
        if idx.null_count:
            return None
        found: np.ndarray = idx.to_numpy(zero_copy_only=False).astype(np.int16)
        return found

    def runs(self, batch: pa.RecordBatch, first_row: int) -> tuple[Any, ...] | bool | None:
        """A batch grouped by user in one C pass (``native.ingest_runs``): the ids checked,
        the amounts converted and each run of adjacent rows of one user made one record.

        What :meth:`convert` and the grouping of runs compute, in one pass over the Arrow
        buffers; they stay the reference (tests/scale/test_ingest_runs.py checks both).

        Returns:
            ``(run_offsets, run_data, lo, hi, mask, rows, duplicate)`` (see
            ``native.ingest_runs``); None when the batch must go the reference way (no
            extension, a null, an unknown asset, a value the fast rules refuse: the
            reference path accepts it or names it); False when the rows are not grouped
            by user (more runs than half the rows).
        """
        if not hasattr(native, "ingest_runs") or batch.num_rows < 2:
            return None
        users = batch.column("user_id")
        assets = batch.column("asset")
        values = [batch.column(c) for c in self.value_columns]
        if users.null_count or assets.null_count or any(v.null_count for v in values):
            return None
        ids = string_buffers(users)
        columns = []
        for v in values:
            found_buffers = string_buffers(v)
            if found_buffers is None:
                return None
            columns.append(found_buffers)
        if ids is None:
            return None
        asset_idx = self._asset_index(assets)
        if asset_idx is None:
            return None
        found: tuple[Any, ...] | bool | None = native.ingest_runs(
            *ids, MAX_USER_ID_BYTES, np.ascontiguousarray(asset_idx, np.int16).data,
            self.decimals.data, tuple(columns), self.signed, first_row)
        return found

    def _fast_values(self, amounts: pa.Array, asset_idx: np.ndarray, signed: bool = False
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """One column of decimal strings as u128 base units (low, high limbs) and, for a
        signed column, which were negative; None when some value needs the row-by-row
        path (which names it and says what is wrong).

        With the C extension, one pass over the column's bytes (``parse_decimals``: no
        Python object per value); without it, Arrow's kernels (the shape checked on the
        column's bytes, then a cast to decimal128 per asset). Both accept exactly what
        :func:`parse_amount` accepts, and give the same integers (tests/scale/test_native.py).
        """
        buffers = string_buffers(amounts) if hasattr(native, "parse_decimals") else None
        if buffers is not None:
            parsed = native.parse_decimals(*buffers,
                                           np.ascontiguousarray(asset_idx, np.int16).data,
                                           self.decimals.data, signed)
            if parsed is None:
                return None
            limbs = np.frombuffer(parsed[0], np.uint64).reshape(-1, 2)
            return limbs[:, 0], limbs[:, 1], np.frombuffer(parsed[1], np.bool_)
        return self._fast_values_arrow(amounts, asset_idx, signed)

    def _fast_values_arrow(self, amounts: pa.Array, asset_idx: np.ndarray, signed: bool
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        n = len(amounts)
        negative = np.zeros(n, np.bool_)
        if signed:
            # A signed amount (spec §15.11): the sign is taken off, the digits are checked
            # and converted as any amount's; "-" alone or "--1" fail the shape check.
            starts = pc.starts_with(amounts, "-")
            negative = starts.to_numpy(zero_copy_only=False)
            amounts = pc.if_else(starts, pc.utf8_slice_codeunits(amounts, 1), amounts)
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
        return lo, hi, negative

    def _slow(self, users: pa.Array, assets: pa.Array, values: list[pa.Array],
              first_row: int) -> _Batch:
        by_symbol = {a.symbol: (i, a) for i, a in enumerate(self.assets)}
        n = len(users)
        asset_idx = np.zeros(n, dtype=np.int16)
        shape = (n, self.parts) if self.margin else (n,)
        lo = np.zeros(shape, dtype=np.uint64)
        hi = np.zeros(shape, dtype=np.uint64)
        names = self.value_columns
        for i, (user, symbol, *texts) in enumerate(
            zip(users.to_pylist(), assets.to_pylist(), *(v.to_pylist() for v in values),
                strict=True)
        ):
            where = f"{self.path}, {_position(self.kind, first_row, i)}"
            check_user_id(user, where)
            if symbol not in by_symbol:
                raise InputError(f"{where}, column asset: unknown asset {symbol!r}; the asset"
                                 f" list has {', '.join(by_symbol)}")
            j, asset = by_symbol[symbol]
            parsed = [parse_amount(text, asset, where, name, self.signed)
                      for text, name in zip(texts, names, strict=True)]
            asset_idx[i] = j
            if self.margin:
                triple = margin_position(parsed, self.columns)
                for part, value in enumerate(triple[: self.parts]):
                    lo[i, part] = value & 0xFFFFFFFFFFFFFFFF
                    hi[i, part] = value >> 64
            else:
                lo[i] = parsed[0] & 0xFFFFFFFFFFFFFFFF
                hi[i] = parsed[0] >> 64
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


def open_snapshot(path: str | Path, assets: tuple[Asset, ...], margin: bool = False) -> _Reader:
    """A reader of the snapshot at ``path`` (nothing is read until its batches are);
    ``margin``: a margin snapshot (spec §15.11), whose rows become triples."""
    return _Reader(Path(path), assets, margin)


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


def user_at_row(path: str | Path, assets: tuple[Asset, ...], row: int,
                margin: bool = False) -> tuple[str, str]:
    """The user id on data row ``row`` (0-based) and where that row is ("line 12").

    The bounded-memory build knows a user by commitment and first row only; when it must
    name one (a duplicate, an account under water) it reads the file again, up to the row.
    """
    reader = _Reader(Path(path), assets, margin)
    seen = 0
    for batch in reader.batches():
        if seen + batch.num_rows > row:
            return str(batch.column("user_id")[row - seen].as_py()), _position(reader.kind,
                                                                              0, row)
        seen += batch.num_rows
    raise InputError(f"{path}: row {row + 1} is past the end of the file (changed while read?)")


def describe_duplicate(path: str | Path, assets: tuple[Asset, ...], row: int,
                       asset: int, margin: bool = False) -> InputError:
    """The error for a (user, asset) given twice: the user is the one on ``row``.

    Only called once a duplicate is known (the bounded-memory build finds it by commitment,
    without the user id): the file is read again to name the user and both lines.
    """
    reader = _Reader(Path(path), assets, margin)
    symbol = assets[asset].symbol
    user, _ = user_at_row(path, assets, row, margin)
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
