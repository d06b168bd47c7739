"""The asset list file: each asset's symbol and decimals, in the round's order.

Accepted forms: JSON ``[{"symbol": "BTC", "decimals": 8}, ...]`` or CSV with the header
``symbol,decimals``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from por.errors import InputError
from verifier.errors import FormatError
from verifier.liabilities.mst import Asset, check_assets
from verifier.liabilities.summary import parse_assets


def load_assets(path: str | Path) -> tuple[Asset, ...]:
    """Read an asset list file.

    Raises:
        InputError: the file is missing, malformed, or lists a symbol twice.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the asset list: {e.strerror}") from e
    try:
        if path.suffix.lower() == ".json":
            return parse_assets(_loads(raw, str(path)), str(path))
        return _parse_csv(raw.decode("utf-8"), str(path))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text") from e
    except FormatError as e:
        raise InputError(str(e) if str(path) in str(e) else f"{path}: {e}") from e


def _loads(raw: bytes, where: str) -> object:
    from verifier.encoding.strictjson import loads

    return loads(raw, where)


def _parse_csv(text: str, where: str) -> tuple[Asset, ...]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != ["symbol", "decimals"]:
        raise InputError(f"{where}, line 1: expected the header 'symbol,decimals', found {header}")
    assets = []
    for line, row in enumerate(reader, start=2):
        if len(row) != 2:
            raise InputError(f"{where}, line {line}: expected 2 columns, found {len(row)}")
        symbol, decimals = row
        if not decimals.isdigit() or not decimals.isascii():
            raise InputError(
                f"{where}, line {line}, column decimals: {decimals!r} is not an integer"
            )
        try:
            assets.append(Asset(symbol, int(decimals)))
        except FormatError as e:
            raise InputError(f"{where}, line {line}: {e}") from e
    return check_assets(assets)
