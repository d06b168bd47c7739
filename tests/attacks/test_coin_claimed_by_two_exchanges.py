"""Attack: two exchanges count the same coins (a shared custodian's wallet, or one spelt
differently in each file: EIP-55 vs lowercase, bech32 upper vs lower, Litecoin ``3…`` vs
``M…``). Each exchange's own reserves check passes; only comparing their claims shows it.
``por-verify cross-check`` must exit 1 and name the wallet with both claims.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import base58
from click.testing import CliRunner

from verifier.cli import main

SCRIPT_HASH = hashlib.sha256(b"custodian's litecoin multisig").digest()[:20]


def _file(exchange: str, address: str, height: int) -> dict[str, Any]:
    return {
        "scheme": "por-reserves", "version": 1, "exchange": exchange, "round": "2026-11-25",
        "liabilities_root": "00" * 32, "assets": [{"symbol": "LTC", "decimals": 8}],
        "chains": [{"name": "ltc", "kind": "bitcoin", "network": "litecoin", "height": height,
                    "block_hash": "11" * 32, "assets": [{"symbol": "LTC", "token": None}]}],
        "static_message": None,
        "wallets": [{"chain": "ltc", "address": address, "custody": {"kind": "single"},
                     "assets": ["LTC"], "message": "round", "signed_message": "m",
                     "signature": {"scheme": "bip137", "value": "AA=="},
                     "balances": [{"asset": "LTC", "amount": "500000000000", "source": "node"}]}],
        "totals": ["500000000000"],
    }


def test_coin_claimed_by_two_exchanges_fails(tmp_path: Path) -> None:
    three = base58.b58encode_check(b"\x05" + SCRIPT_HASH).decode()
    m_form = base58.b58encode_check(b"\x32" + SCRIPT_HASH).decode()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_file("Exchange A", three, 2_800_000)))
    b.write_text(json.dumps(_file("Exchange B", m_form, 2_800_003)))
    result = CliRunner().invoke(main, ["cross-check", str(a), str(b), "--window-blocks", "144"])
    assert result.exit_code == 1, result.output
    assert "CLAIMED TWICE" in result.output
    assert three in result.output and m_form in result.output
    assert result.output.count("500000000000") == 2
