"""A published world for the API and page tests: two real rounds (trees built by the
builder, reserves files with real EIP-191 signatures, tokens issued by
``por.liabilities.tokens``), a
store (SQLite or PostgreSQL) into which each round is taken by the operator's own flow
(``por round new``, ``por attest sign``, ``por attest cosign``, ``por publish``: real
attestations, co-signed by an auditor, appended to the log with signed tree heads, bundles
written), and the key list.

Round ``2026-10`` covers every asset; round ``2026-11`` (the latest) is short of BTC, so
both sides of the solvency figures are shown. Wallet 1 of each round carries a signature
over another round's message, so the page must show it as failed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import Engine

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.keys import SigningKey, new_key_list
from por.liabilities.build import build_tree
from por.liabilities.prove import Prover
from por.liabilities.tokens import issue_tokens
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.challenge import challenge_message
from verifier.reserves.model import (
    Balance,
    Chain,
    ChainAsset,
    Custody,
    ReservesFile,
    Signature,
    Wallet,
)

EXCHANGE = "Example Exchange"
ASSETS = (Asset("BTC", 8), Asset("ETH", 18))
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
USERS = [f"user-{i:03d}" for i in range(40)] + ["ünïcode user ✓"]
ROUNDS = ("2026-10", "2026-11")
# Fixed keys: the wallets' addresses and signatures are the same on every run.
WALLET_KEYS = ("0x" + "11" * 32, "0x" + "22" * 32)


@dataclass
class PublishedRound:
    """One round as the exchange holds it."""

    round_id: str
    directory: Path
    secret: bytes
    summary: RootSummary
    tokens: dict[str, str]
    balances: dict[str, list[int]]


@dataclass
class World:
    """Everything a served page reads, and what the tests compare it with."""

    rounds_dir: Path
    keylist: Path
    exchange_key: SigningKey
    auditor_key: SigningKey
    auditor_key_file: Path | None = None
    rounds: dict[str, PublishedRound] = field(default_factory=dict)
    attestation_payloads: dict[str, bytes] = field(default_factory=dict)
    bundles: dict[str, Path] = field(default_factory=dict)

    def prove(self, round_id: str, user: str) -> str:
        published = self.rounds[round_id]
        prover = Prover(published.directory, published.secret)
        try:
            return prover.prove(user).to_json()
        finally:
            prover.close()


def _balances(round_index: int) -> dict[str, list[int]]:
    out = {}
    for i, user in enumerate(USERS):
        out[user] = [(i * 7919 + round_index) % 10**8 * 1000, (i + 1) * 10**17 + round_index]
    return out


def _reserves(round_id: str, summary: RootSummary, btc: int, eth: int) -> bytes:
    chain = Chain(
        "ethereum",
        "evm",
        "1",
        (ChainAsset("ETH", None),),
        height=21_000_000,
        block_hash=hashlib.sha256(round_id.encode()).hexdigest(),
    )
    btc_chain = Chain(
        "bitcoin",
        "bitcoin",
        "bitcoin",
        (ChainAsset("BTC", None),),
        height=870_000,
        block_hash=hashlib.sha256(b"btc" + round_id.encode()).hexdigest(),
    )
    chains = (btc_chain, chain)
    snapshots = [c.snapshot() for c in chains]
    wallets = []
    for k, key in enumerate(WALLET_KEYS):
        account = Account.from_key(key)
        # Wallet 1 signed the message of another round: a stale signature.
        signed_for = round_id if k == 0 else "2020-01"
        message = challenge_message(
            EXCHANGE, signed_for, summary.root_hash, snapshots, "ethereum", account.address
        )
        signature = Account.sign_message(encode_defunct(message), key).signature.hex()
        wallets.append(
            Wallet(
                chain="ethereum",
                address=account.address,
                custody=Custody("single"),
                assets=("ETH",),
                message="round",
                signed_message=message.decode("ascii"),
                signature=Signature("eip191", "0x" + signature.removeprefix("0x")),
                balances=(Balance("ETH", eth if k == 0 else 0, "node"),),
            )
        )
    # BTC in a wallet whose balance is given as node-read, but whose signature is no real
    # BIP-137 one (none is made here): counted by the attestation's rule, failed by the
    # server's signature check, as por-verify bundle --rpc would fail it.
    wallets.append(
        Wallet(
            chain="bitcoin",
            address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            custody=Custody("single"),
            assets=("BTC",),
            message="round",
            signed_message="not signed",
            signature=Signature("bip137", "AAAA"),
            balances=(Balance("BTC", btc, "node"),),
        )
    )
    reserves = ReservesFile(
        exchange=EXCHANGE,
        round_id=round_id,
        liabilities_root=summary.root_hash,
        assets=ASSETS,
        chains=chains,
        static_message=None,
        wallets=tuple(wallets),
        totals=(btc, eth),
    )
    return reserves.to_json().encode()


def build_world(base: Path, engine: Engine | None) -> World:
    """Build both rounds under ``base`` and record them in ``engine``'s store."""
    rounds_dir = base / "rounds"
    secrets_dir = base / "secrets"  # round secrets live outside the served directory
    secrets_dir.mkdir(parents=True)
    exchange_key = SigningKey.generate(EXCHANGE)
    auditor_key = SigningKey.generate("Example Auditor")
    keylist = base / "keys.json"
    keylist.write_text(new_key_list(EXCHANGE, exchange_key.public).to_json())
    auditor_file = base / "auditor.pub.json"
    auditor_file.write_text(json.dumps(auditor_key.public.to_dict()))
    world = World(rounds_dir, keylist, exchange_key, auditor_key, auditor_file)
    for index, round_id in enumerate(ROUNDS):
        balances = _balances(index)
        snapshot = base / f"snapshot-{round_id}.csv"
        lines = ["user_id,asset,amount"]
        for user, (btc, eth) in balances.items():
            lines.append(f'"{user}",BTC,{btc // 10**8}.{btc % 10**8:08d}')
            lines.append(f'"{user}",ETH,{eth // 10**18}.{eth % 10**18:018d}')
        snapshot.write_text("\n".join(lines) + "\n")
        secret = hashlib.sha256(f"test secret {round_id}".encode()).digest()
        directory = rounds_dir / round_id
        result = build_tree(snapshot, ASSETS, round_id, secret, directory, workers=1)
        summary = result.summary
        btc_total, eth_total = summary.totals
        # Round 1 covers both assets; round 2 holds only 90% of the BTC it owes.
        btc_held = btc_total + 5 * 10**8 if index == 0 else btc_total * 9 // 10
        (directory / "reserves.json").write_bytes(
            _reserves(round_id, summary, btc_held, eth_total + 10**18)
        )
        pairs = issue_tokens(directory, secret, USERS)
        world.rounds[round_id] = PublishedRound(
            round_id, directory, secret, summary, dict(pairs), balances
        )
    if engine is not None:
        _store(world, engine)
    return world


def _store(world: World, engine: Engine) -> None:
    """Each round through the operator's flow, in order (each attestation names the one
    before it in the log)."""
    keys = world.keylist.read_bytes()
    from verifier.signed.keylist import KeyList

    parsed = KeyList.from_json(keys)
    for index, round_id in enumerate(ROUNDS):
        published = world.rounds[round_id]
        moment = T0 + timedelta(days=31 * index)
        new_round(engine, round_id, EXCHANGE, moment - timedelta(hours=1))
        signed = sign_round(engine, round_id, (published.directory / "root.json").read_bytes(),
                            (published.directory / "reserves.json").read_bytes(),
                            world.exchange_key, readers=None, now=moment)
        cosign_round(engine, round_id, world.auditor_key, parsed)
        bundle = published.directory.parent.parent / "published" / round_id / "bundle"
        publish_round(engine, round_id, world.exchange_key, keys, bundle,
                      now=moment + timedelta(minutes=5))
        world.attestation_payloads[round_id] = signed.payload
        world.bundles[round_id] = bundle
