"""Attack: exchange B writes exchange A's name into its own reserves file, hoping that a
verifier grouping files by the name inside them treats A's custodian wallet, claimed by
both, as "A's two files" rather than as a coin claimed twice. The name is the file's own
claim: ``por-verify cross-check`` never groups by it unless ``--trust-exchange-names`` is
given, and then says so in the report; ``--exchange NAME=FILE,...`` groups by the user's
choice instead.

Also: a snapshot time without a time zone, which could be read in whichever zone moves the
two snapshots apart. It is taken as every instant it may denote (UTC-12 to UTC+14), so it
cannot be used to push a shared wallet out of ``--window-seconds``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from verifier.cli import main

EVM = "0x" + hashlib.sha256(b"custodian's wallet").hexdigest()[:40]


def _file(exchange: str, height: int) -> dict[str, Any]:
    return {
        "scheme": "por-reserves", "version": 1, "exchange": exchange, "round": "2026-11-25",
        "liabilities_root": "00" * 32, "assets": [{"symbol": "ETH", "decimals": 18}],
        "chains": [{"name": "eth", "kind": "evm", "network": "1", "height": height,
                    "block_hash": "11" * 32, "assets": [{"symbol": "ETH", "token": None}]}],
        "static_message": None,
        "wallets": [{"chain": "eth", "address": EVM, "custody": {"kind": "single"},
                     "assets": ["ETH"], "message": "round", "signed_message": "m",
                     "signature": {"scheme": "eip191", "value": "0x" + "00" * 65},
                     "balances": [{"asset": "ETH", "amount": "10", "source": "node"}]}],
        "totals": ["10"],
    }


def test_a_borrowed_exchange_name_does_not_hide_a_shared_wallet(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_file("Exchange A", 21_000_000)))
    b.write_text(json.dumps(_file("Exchange A", 21_000_001)))  # B, under A's name
    runner = CliRunner()
    default = runner.invoke(main, ["cross-check", str(a), str(b)])
    assert default.exit_code == 1, default.output
    assert "CLAIMED TWICE" in default.output
    by_user = runner.invoke(main, ["cross-check", "--exchange", f"A={a}", "--exchange",
                                   f"B={b}", "--trust-exchange-names"])
    assert by_user.exit_code == 1, by_user.output  # the user's grouping wins over the name
    trusted = runner.invoke(main, ["cross-check", str(a), str(b), "--trust-exchange-names"])
    assert "--trust-exchange-names" in trusted.output  # the report says whose word it took


def test_a_time_without_a_zone_cannot_push_a_snapshot_out_of_the_window(
    tmp_path: Path,
) -> None:
    header = "coin,network,snapshot time,address,amount,message,signature1\n"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(header + f"ETH,ERC20,2026-11-25T12:00:00Z,{EVM},10,msg,sig\n")
    # Read as UTC, 01:00 is eleven hours before A's 12:00Z; in UTC-11 it is A's very instant.
    b.write_text(header + f"ETH,ERC20,2026-11-25T01:00:00,{EVM},10,msg,sig\n")
    result = CliRunner().invoke(
        main, ["cross-check", str(a), str(b), "--window-seconds", "3600"]
    )
    assert result.exit_code == 1, result.output
    assert "CLAIMED TWICE" in result.output
