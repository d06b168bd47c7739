"""Reserves files crafted by an attacker, on a real in-process EVM (eth-tester on py-evm).

The attacks of issue 10 are files the exchange writes by hand (or with a patched toolkit):
:func:`craft_reserves` builds one from chain and wallet descriptions, every signature real
(EIP-191 over this round's challenge message, or over a static text) and every balance read
from the chain at the snapshot block, so the only thing wrong with it is the attack itself.
``serve_chain`` (from the demo) puts the chain behind JSON-RPC for ``por-verify --rpc``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend

from por.demo.reserves import CHAIN_ID, CONTRACTS_FILE, EthTesterReader
from verifier.reserves.chains import token_balance
from verifier.reserves.challenge import ChainSnapshot, challenge_message

EXCHANGE = "Example Exchange"
ROUND = "2026-11-25"
ROOT = bytes(range(32))
ETHER = 10**18
TRANSFER = bytes.fromhex("a9059cbb")


@dataclass
class EvmWorld:
    """An eth-tester chain with a 6-decimal ERC-20 (``TestToken`` "USDT") deployed."""

    chain: EthereumTester
    reader: EthTesterReader
    funder: str
    token: str

    def fund(self, ether: int, usdt: int = 0) -> LocalAccount:
        """A fresh account holding ``ether`` ETH and ``usdt`` base units of the token."""
        account: LocalAccount = Account.create()
        self.chain.send_transaction({"from": self.funder, "to": account.address,
                                     "value": ether * ETHER, "gas": 21000})
        if usdt:
            data = TRANSFER + encode(["address", "uint256"], [account.address, usdt])
            self.chain.send_transaction({"from": self.funder, "to": self.token,
                                         "data": "0x" + data.hex(), "gas": 300_000})
        return account

    def snapshot(self) -> tuple[int, str]:
        height = int(self.chain.get_block_by_number("latest")["number"])
        return height, self.reader.block_hash(height)


def make_evm_world(decimals: int = 6) -> EvmWorld:
    chain = EthereumTester(PyEVMBackend())
    funder = chain.get_accounts()[0]
    contract = json.loads(CONTRACTS_FILE.read_text())["TestToken"]
    data = "0x" + contract["bytecode"] + encode(
        ["string", "string", "uint8", "uint256"], ["Tether USD", "USDT", decimals, 10**15]).hex()
    tx = chain.send_transaction({"from": funder, "data": data, "gas": 3_000_000})
    token = str(chain.get_transaction_receipt(tx)["contract_address"])
    return EvmWorld(chain, EthTesterReader(chain), funder, token)


def craft_reserves(
    world: EvmWorld,
    chains: list[tuple[str, list[tuple[str, str | None]]]],
    wallets: list[tuple[LocalAccount, str, list[str]]],
    *,
    assets: list[tuple[str, int]] | None = None,
    static: str | None = None,
    network: str = str(CHAIN_ID),
    round_id: str = ROUND,
    root: bytes = ROOT,
) -> dict[str, Any]:
    """A reserves file (as a dict) with real signatures and balances read at the snapshot.

    ``chains``: (name, [(symbol, token or None)]), every one on ``world``'s chain at its
    current block; ``wallets``: (account, chain name, symbols), each signing this round's
    message, or ``static`` when given.
    """
    height, block = world.snapshot()
    snaps = [ChainSnapshot(name, height, block) for name, _ in chains]
    tokens = {(name, s): t for name, entries in chains for s, t in entries}
    asset_list = assets or [("ETH", 18), ("USDT", 6)]
    totals = dict.fromkeys((s for s, _ in asset_list), 0)
    out_wallets = []
    for account, chain_name, symbols in wallets:
        message = challenge_message(EXCHANGE, round_id, root, snaps, chain_name,
                                    account.address)
        signed = static.encode() if static else message
        balances = []
        for symbol in symbols:
            token = tokens[chain_name, symbol]
            amount = (world.reader.balance(account.address, height) if token is None
                      else token_balance(world.reader, token, account.address, height))
            totals[symbol] += amount
            balances.append({"asset": symbol, "amount": str(amount), "source": "node"})
        signature = Account.sign_message(encode_defunct(signed), account.key).signature
        out_wallets.append({
            "chain": chain_name, "address": account.address, "custody": {"kind": "single"},
            "assets": symbols, "message": "static" if static else "round",
            "signed_message": signed.decode(),
            "signature": {"scheme": "eip191", "value": "0x" + bytes(signature).hex()},
            "balances": balances})
    return {
        "scheme": "por-reserves", "version": 1, "exchange": EXCHANGE, "round": round_id,
        "liabilities_root": root.hex(),
        "assets": [{"symbol": s, "decimals": d} for s, d in asset_list],
        "chains": [{"name": name, "kind": "evm", "network": network, "height": height,
                    "block_hash": block,
                    "assets": [{"symbol": s, "token": t} for s, t in entries]}
                   for name, entries in chains],
        "static_message": static, "wallets": out_wallets,
        "totals": [str(totals[s]) for s, _ in asset_list],
    }
