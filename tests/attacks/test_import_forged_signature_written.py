"""Attack: a forged wallet signature is imported into the draft and written into the reserves
file; the operator learns of it only when `por-verify` fails, after publication.

Defence (spec §11.5): `por reserves import-signatures` verifies every signature against its
wallet's challenge before anything is written, and lists failures by wallet (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from reserves_helpers import por

from por.reserves.round import DRAFT_FILE, new_draft, save_draft, write_challenges
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.model import Chain, ChainAsset, Custody, Wallet, WalletList

OWNER = Account.from_key(bytes([1]) * 32)
THIEF = Account.from_key(bytes([2]) * 32)


def test_import_forged_signature_written(tmp_path: Path) -> None:
    assets = (Asset("ETH", 18),)
    chain = Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32)
    wallets = WalletList("Example Exchange", assets, (chain,), (
        Wallet("ethereum", OWNER.address, Custody("single"), ("ETH",)),))
    draft = new_draft(wallets, RootSummary("2026-11-28", assets, 2, bytes(32), (0,)), (chain,))
    directory = tmp_path / "round"
    save_draft(directory, draft)
    write_challenges(directory, draft)
    message = next((directory / "challenges").glob("000-*.txt")).read_bytes()
    forged = Account.sign_message(encode_defunct(message), THIEF.key).signature.hex()
    (tmp_path / "sigs.json").write_text(json.dumps([
        {"chain": "ethereum", "address": OWNER.address, "scheme": "eip191", "value": forged}]))
    before = (directory / DRAFT_FILE).read_bytes()
    result = por("reserves", "import-signatures", str(directory), str(tmp_path / "sigs.json"))
    assert result.exit_code == 1, result.output
    assert f"FAILED: wallet 0 (ethereum {OWNER.address})" in result.output
    assert THIEF.address in result.output  # what the signature recovers
    assert (directory / DRAFT_FILE).read_bytes() == before
