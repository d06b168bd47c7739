"""Writing small snapshot and asset files for tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def write_assets(path: Path, assets: list[tuple[str, int]]) -> Path:
    path.write_text(json.dumps([{"symbol": s, "decimals": d} for s, d in assets]))
    return path


def units(amount: int, decimals: int) -> str:
    """Base units as a decimal string in asset units, e.g. 120000 sat -> '0.00120000'."""
    if decimals == 0:
        return str(amount)
    whole, frac = divmod(amount, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}"


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["user_id", "asset", "amount"])
        writer.writerows(rows)
    return path


def balances_to_rows(
    balances: dict[str, list[int]], assets: list[tuple[str, int]]
) -> list[tuple[str, str, str]]:
    rows = []
    for user, amounts in balances.items():
        for (symbol, decimals), amount in zip(assets, amounts, strict=True):
            rows.append((user, symbol, units(amount, decimals)))
    return rows
