"""Attack: a forged wallet signature reaches the published reserves file through the draft
(kept by `import-signatures --allow-failed`, or written into draft.json by hand or by a
compromised step), because `por reserves write` only checked that a signature was present;
the operator learns of it only when `por-verify` fails, after publication.

Defence (spec §11.5): `por reserves write` verifies every wallet's signature against its
challenge with the function `import-signatures` and `por-verify` use
(`verifier.signatures.wallet.verify_wallet_signature`) and writes nothing if one fails
(exit 1), unless `--allow-failed`.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from reserves_helpers import por

from por.reserves.round import (
    DRAFT_FILE,
    load_draft,
    new_draft,
    read_balances,
    save_draft,
    write_challenges,
)
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.model import Chain, ChainAsset, Custody, Wallet, WalletList

OWNER = Account.from_key(bytes([1]) * 32)
THIEF = Account.from_key(bytes([2]) * 32)


def test_write_forged_signature_published(tmp_path: Path) -> None:
    assets = (Asset("ETH", 18),)
    chain = Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32)
    wallets = WalletList("Example Exchange", assets, (chain,), (
        Wallet("ethereum", OWNER.address, Custody("single"), ("ETH",)),))
    draft = new_draft(wallets, RootSummary("2026-11-28", assets, 2, bytes(32), (0,)), (chain,))
    directory = tmp_path / "round"
    save_draft(directory, draft)
    write_challenges(directory, draft)
    message = next((directory / "challenges").glob("000-*.txt")).read_bytes()
    good = Account.sign_message(encode_defunct(message), OWNER.key).signature.hex()
    (tmp_path / "sigs.json").write_text(json.dumps([
        {"chain": "ethereum", "address": OWNER.address, "scheme": "eip191", "value": good}]))
    assert por("reserves", "import-signatures", str(directory),
               str(tmp_path / "sigs.json")).exit_code == 0
    save_draft(directory, read_balances(load_draft(directory), {},
                                        {("ethereum", OWNER.address.lower(), "ETH"): 10**18}))
    # The draft is rewritten after the import: the signature is now the thief's.
    data = json.loads((directory / DRAFT_FILE).read_text())
    data["wallets"][0]["signature"]["value"] = \
        Account.sign_message(encode_defunct(message), THIEF.key).signature.hex()
    (directory / DRAFT_FILE).write_text(json.dumps(data))
    out = tmp_path / "reserves.json"
    result = por("reserves", "write", str(directory), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert f"FAILED: wallet 0 (ethereum {OWNER.address})" in result.output
    assert THIEF.address in result.output  # what the signature recovers
    assert not out.exists()
