"""Rounds for the attestation and bundle tests: real liabilities trees, reserves signed and
read on an in-process EVM chain (eth-tester on py-evm, a real EVM: no node runs here for
it), keys, and a store on SQLite or PostgreSQL.

Each round has ETH (covered: the wallets hold more than users own) and BTC (no wallet:
under-reserved by all of its liabilities), so both sides of the solvency rule are exercised.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from sqlalchemy import Engine

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.demo.reserves import CHAIN_ID, EthTesterReader
from por.keys import SigningKey, new_key_list
from por.liabilities.build import build_tree
from por.liabilities.prove import Prover
from por.reserves.round import finish, import_signatures, new_draft, read_balances
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.model import Chain, ChainAsset, Custody, Wallet, WalletList
from verifier.signed.keylist import KeyList

# The store's fixtures (SQLite, a real PostgreSQL server) live beside the store's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

EXCHANGE = "Example Exchange"
ASSETS = (Asset("ETH", 18), Asset("BTC", 8))
ETHER = 10**18
PASSPHRASE = "a long enough test passphrase"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class World:
    """A chain with funded wallets, the exchange's and an auditor's keys, a key list."""

    chain: EthereumTester
    wallets: list[LocalAccount]
    exchange_key: SigningKey
    auditor_key: SigningKey
    keylist: bytes
    rounds: dict[str, dict[str, Path]] = field(default_factory=dict)

    def reader(self) -> EthTesterReader:
        return EthTesterReader(self.chain)

    def readers(self, _reserves: object = None) -> dict[str, EthTesterReader]:
        return {"ethereum": self.reader()}

    def keys(self) -> KeyList:
        return KeyList.from_json(self.keylist)


def make_world(tmp: Path) -> World:
    chain = EthereumTester(PyEVMBackend())
    funder = chain.get_accounts()[0]
    wallets = [Account.create(), Account.create()]
    for account, ether in zip(wallets, (60, 45), strict=True):
        chain.send_transaction({"from": funder, "to": account.address,
                                "value": ether * ETHER, "gas": 21000})
    exchange_key = SigningKey.generate(f"{EXCHANGE} key")
    auditor_key = SigningKey.generate("Example Auditor")
    exchange_key.save(tmp / "exchange.pem", PASSPHRASE)
    auditor_key.save(tmp / "auditor.pem", PASSPHRASE)
    (tmp / "auditor.pub.json").write_text(json.dumps(auditor_key.public.to_dict()))
    keylist = new_key_list(EXCHANGE, exchange_key.public).to_json().encode()
    (tmp / "keylist.json").write_bytes(keylist)
    return World(chain, wallets, exchange_key, auditor_key, keylist)


def build_round(world: World, tmp: Path, round_id: str, users: int = 12) -> dict[str, Path]:
    """Liabilities (a real tree), a user's proof, and a reserves file read at a block."""
    out = tmp / round_id
    out.mkdir()
    snap = out / "snapshot.csv"
    lines = ["user_id,asset,amount"]
    for i in range(users):
        lines.append(f"u{i},ETH,{i + 1}.5")
        lines.append(f"u{i},BTC,0.{i + 1:08d}")
    snap.write_text("\n".join(lines) + "\n")
    secret = bytes(range(32))
    result = build_tree(snap, ASSETS, round_id, secret, out / "tree", workers=1)
    prover = Prover(out / "tree", secret)
    try:
        (out / "proof-u3.json").write_text(prover.prove("u3").to_json())
    finally:
        prover.close()
    summary: RootSummary = result.summary
    write_signed_reserves(world, summary, out)
    files = {"root": result.root_path, "reserves": out / "reserves.json",
             "proof": out / "proof-u3.json"}
    world.rounds[round_id] = files
    return files


def sign_and_cosign(engine: Engine, world: World, round_id: str, day: int) -> None:
    files = world.rounds[round_id]
    new_round(engine, round_id, EXCHANGE, T0 + timedelta(days=day))
    sign_round(engine, round_id, files["root"].read_bytes(), files["reserves"].read_bytes(),
               world.exchange_key, readers=world.readers(),
               now=T0 + timedelta(days=day, hours=1))
    cosign_round(engine, round_id, world.auditor_key, world.keys())


def publish(engine: Engine, world: World, round_id: str, out: Path, day: int) -> Path:
    publish_round(engine, round_id, world.exchange_key, world.keylist, out,
                  now=T0 + timedelta(days=day, hours=2))
    return out


def write_signed_reserves(world: World, summary: Any, out: Path) -> Path:
    """``out/reserves.json`` for ``summary`` (a spot, margin or private root: the draft reads
    the round id, assets and root hash, which all have under the same names): the world's
    wallets listed, each signing the round's challenge, balances read from its chain."""
    evm = Chain("ethereum", "evm", str(CHAIN_ID), (ChainAsset("ETH", None),))
    listed = WalletList(EXCHANGE, (Asset("ETH", 18),), (evm,), tuple(
        Wallet("ethereum", w.address, Custody("single"), ("ETH",)) for w in world.wallets))
    reader = world.reader()
    height = int(world.chain.get_block_by_number("latest")["number"])
    snapshot = Chain(evm.name, evm.kind, evm.network, evm.assets, height,
                     reader.block_hash(height))
    draft = new_draft(listed, summary, (snapshot,))
    sigs = [
        {"chain": "ethereum", "address": w.address, "scheme": "eip191",
         "value": Account.sign_message(encode_defunct(str(d.signed_message).encode()),
                                       w.key).signature.hex()}
        for w, d in zip(world.wallets, draft.wallets, strict=True)
    ]
    draft = import_signatures(draft, json.dumps(sigs).encode(), "test signatures")
    draft = read_balances(draft, {"ethereum": reader})
    (out / "reserves.json").write_bytes(finish(draft))
    return out / "reserves.json"
