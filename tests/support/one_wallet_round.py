"""A draft reserves round with one ETH wallet and its challenge written, for the attack tests
on forged wallet signatures (tests/attacks/test_import_forged_signature_written.py,
test_write_forged_signature_published.py).

``OWNER`` holds the wallet; ``THIEF`` is the key a forged signature is made with.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from por.reserves.round import new_draft, save_draft, write_challenges
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.model import Chain, ChainAsset, Custody, Wallet, WalletList

OWNER: LocalAccount = Account.from_key(bytes([1]) * 32)
THIEF: LocalAccount = Account.from_key(bytes([2]) * 32)


def one_wallet_round(tmp_path: Path) -> tuple[Path, bytes]:
    """Save a draft for ``OWNER``'s wallet under ``tmp_path/round`` and write its challenge.

    Returns:
        the round directory, and the challenge message the wallet must sign.
    """
    assets = (Asset("ETH", 18),)
    chain = Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32)
    wallets = WalletList("Example Exchange", assets, (chain,), (
        Wallet("ethereum", OWNER.address, Custody("single"), ("ETH",)),))
    draft = new_draft(wallets, RootSummary("2026-11-28", assets, 2, bytes(32), (0,)), (chain,))
    directory = tmp_path / "round"
    save_draft(directory, draft)
    write_challenges(directory, draft)
    return directory, next((directory / "challenges").glob("000-*.txt")).read_bytes()


def eip191_signature(message: bytes, signer: LocalAccount) -> str:
    """``signer``'s EIP-191 signature of ``message``, in hex."""
    return Account.sign_message(encode_defunct(message), signer.key).signature.hex()


def write_owner_signature(path: Path, value: str) -> Path:
    """Write a signatures file holding ``value`` as ``OWNER``'s wallet signature."""
    path.write_text(json.dumps([
        {"chain": "ethereum", "address": OWNER.address, "scheme": "eip191", "value": value}]))
    return path
