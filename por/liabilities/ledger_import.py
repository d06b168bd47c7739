"""Import an exchange's existing margin ledger into a margin round's inputs (spec §15.9).

``otter-porv2``: OtterSec PoRv2's ``private_ledger.json`` (used by Backpack Exchange):
``assets`` {symbol: {usdt_decimals, balance_decimals, price}} and ``accounts`` {account id:
{symbol: signed integer balance}}, a negative balance being a debt. Its rule, each account's
Σ balance × price ≥ 0, is the margin rule with every haircut ratio 100 (spec §15.6).

Everything is checked before anything is written: an account under water is refused with
its id and both sides of the inequality, and the output directory is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import rfc8785

from por.errors import InputError
from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import MAX_AMOUNT, Asset, Position, user_id_bytes
from verifier.liabilities.risk import RiskParams, check_rule
from verifier.liabilities.rounddir import RISK_FILE  # the round's name for it, spec §15.10

SNAPSHOT_FILE = "snapshot.csv"
ASSETS_FILE = "assets.json"
MAX_LEDGER_BYTES = 1 << 30


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    """A JSON object with any keys (symbols, account ids).

    Raises:
        FormatError: not an object.
    """
    if not isinstance(value, dict):
        raise FormatError(f"{where}: expected an object, found {type(value).__name__}")
    return value


def _units(amount: int, decimals: int) -> str:
    """Base units as a decimal string in asset units, exact ("0.00120000")."""
    if decimals == 0:
        return str(amount)
    text = str(amount).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def _decimal_text(value: int, scale: int) -> str:
    """value / 10**scale as a canonical decimal string (no trailing fractional zero)."""
    text = _units(value, scale)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def convert_otter_porv2(
    data: bytes, where: str
) -> tuple[tuple[Asset, ...], RiskParams, list[tuple[str, tuple[Position, ...]]]]:
    """Parse a PoRv2 ledger and check every account's rule.

    Returns:
        The asset list, the risk parameters (every ratio 100) and each account's positions.

    Raises:
        InputError: the ledger is malformed, its decimals are inconsistent, or an account
            holds an asset the ledger does not list.
        VerificationError: an account is under water (its id and both sides named).
    """
    try:
        raw = sj.obj(sj.loads(data, where), where, {"timestamp", "assets", "accounts"})
        asset_map = _mapping(raw["assets"], f"{where}.assets")
        symbols = sorted(asset_map)
        specs: list[tuple[str, int, int, int]] = []
        for sym in symbols:
            w = f"{where}.assets.{sym}"
            spec = sj.obj(asset_map[sym], w, {"usdt_decimals", "balance_decimals", "price"})
            usdt = sj.integer(spec["usdt_decimals"], f"{w}.usdt_decimals")
            bal = sj.integer(spec["balance_decimals"], f"{w}.balance_decimals")
            price = sj.integer(spec["price"], f"{w}.price")
            if usdt < 0 or bal < 0 or price <= 0:
                raise FormatError(f"{w}: decimals must be >= 0 and the price > 0")
            specs.append((sym, bal, usdt, price))
        totals = {b + u for _, b, u, _ in specs}
        if len(totals) != 1:
            raise FormatError(
                f"{where}.assets: usdt_decimals + balance_decimals must be equal for every"
                f" asset (PoRv2's rule), found {sorted(totals)}"
            )
        value_decimals = totals.pop()
        assets = tuple(Asset(sym, bal) for sym, bal, _, _ in specs)
        risk = RiskParams.from_obj(
            {
                "scheme": "por-risk",
                "version": 1,
                "quote": "USDT",
                "value_decimals": value_decimals,
                "assets": [
                    {
                        "symbol": sym,
                        "decimals": bal,
                        "price": _decimal_text(price, usdt),
                        # One tier at 100% reaching past any u128 holding: no haircut.
                        "tiers": [
                            {
                                "up_to": _decimal_text(MAX_AMOUNT * price, value_decimals),
                                "ratio": 100,
                            }
                        ],
                    }
                    for sym, bal, usdt, price in specs
                ],
            },
            f"{where} (as risk parameters)",
        )
        accounts_raw = _mapping(raw["accounts"], f"{where}.accounts")
        index = {sym: i for i, sym in enumerate(symbols)}
        accounts: list[tuple[str, tuple[Position, ...]]] = []
        for account_id, balances in accounts_raw.items():
            w = f"{where}.accounts.{account_id[:16]}"
            user_id_bytes(account_id)
            held = _mapping(balances, w)
            positions = [Position(0, 0, 0)] * len(symbols)
            for sym, value in held.items():
                if sym not in index:
                    raise FormatError(f"{w}: balance in {sym!r}, an asset the ledger does not list")
                amount = sj.integer(value, f"{w}.{sym}")
                if abs(amount) > MAX_AMOUNT:
                    raise FormatError(f"{w}.{sym}: {amount} is outside ±(2^128-1)")
                positions[index[sym]] = (
                    Position(amount, 0, amount) if amount >= 0 else Position(0, -amount, 0)
                )
            check_rule(risk, positions, f"account {account_id}")
            accounts.append((account_id, tuple(positions)))
    except FormatError as e:
        raise InputError(str(e) if where in str(e) else f"{where}: {e}") from e
    except VerificationError as e:  # well formed, but an account is under water (exit 1)
        raise VerificationError(
            f"{where}: {e}; liquidate it or cover it from an insurance-fund account listed"
            " as a user before the snapshot (spec §15.9): the toolkit never nets it"
        ) from e
    return assets, risk, accounts


def import_ledger(ledger: Path, fmt: str, out_dir: Path) -> dict[str, Path]:
    """Convert ``ledger`` into ``snapshot.csv``, ``assets.json`` and ``risk.json`` in
    ``out_dir``; nothing is written unless every account passes.

    Raises:
        InputError: unknown format, unreadable or malformed ledger, or output files
            already present.
        VerificationError: an account is under water.
    """
    if fmt != "otter-porv2":
        raise InputError(f"--format {fmt!r}: only 'otter-porv2' is supported")
    try:
        if ledger.stat().st_size > MAX_LEDGER_BYTES:
            raise InputError(f"{ledger}: larger than {MAX_LEDGER_BYTES} bytes")
        data = ledger.read_bytes()
    except OSError as e:
        raise InputError(f"{ledger}: cannot read the ledger: {e.strerror}") from e
    assets, risk, accounts = convert_otter_porv2(data, str(ledger))
    targets = {name: out_dir / name for name in (SNAPSHOT_FILE, ASSETS_FILE, RISK_FILE)}
    present = [str(p) for p in targets.values() if p.exists()]
    if present:
        raise InputError(f"refusing to overwrite {', '.join(present)}")
    lines = ["user_id,asset,equity,debt,collateral"]
    for account_id, positions in accounts:
        for asset, p in zip(assets, positions, strict=True):
            if p.equity or p.debt:
                lines.append(
                    f"{account_id},{asset.symbol},{_units(p.equity, asset.decimals)},"
                    f"{_units(p.debt, asset.decimals)},{_units(p.collateral, asset.decimals)}"
                )
    contents: dict[str, bytes] = {
        SNAPSHOT_FILE: ("\n".join(lines) + "\n").encode(),
        ASSETS_FILE: rfc8785.dumps([{"symbol": a.symbol, "decimals": a.decimals} for a in assets]),
        RISK_FILE: risk.canonical,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, body in contents.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.")
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            staged.append((Path(tmp), targets[name]))
        for tmp_path, final in staged:
            os.replace(tmp_path, final)
    finally:
        for tmp_path, _ in staged:
            tmp_path.unlink(missing_ok=True)
    return targets
