"""A margin round taken through attestation and publication, for the bundle, attest and
attack tests (spec §13.6): a real margin tree (``por.liabilities.margin``), reserves signed
and read on an in-process EVM chain (eth-tester on py-evm, a real EVM: no node runs here for
it), the exchange's and an auditor's keys, and a store on SQLite.

Assets ETH and BTC. Users hold ETH; two borrow BTC against their ETH (debt in BTC, ETH
pledged as collateral) and one borrows ETH against BTC. The wallets hold only ETH, so ETH
is covered against its net liabilities (equity − debt) and BTC is under-reserved by its
net liabilities (BTC equity − BTC debt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import rfc8785
from attest_helpers import EXCHANGE, T0, World, write_signed_reserves
from sqlalchemy import Engine

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.liabilities.margin import MarginAccount, build_margin_tree, write_margin_round
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import Asset, Position
from verifier.liabilities.proof import MarginInclusionProof
from verifier.liabilities.risk import RiskParams

ASSETS = (Asset("ETH", 18), Asset("BTC", 8))
ETH = 10**18
BTC = 10**8
SECRET = bytes(range(32))


def risk_bytes(eth_price: str = "2000", btc_price: str = "60000") -> bytes:
    """The round's risk file: ETH counts 90 % up to 100,000 USD then 50 %; BTC 95 %."""
    return rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": 18,
        "assets": [
            {"symbol": "ETH", "decimals": 18, "price": eth_price,
             "tiers": [{"up_to": "100000", "ratio": 90}, {"up_to": "10000000", "ratio": 50}]},
            {"symbol": "BTC", "decimals": 8, "price": btc_price,
             "tiers": [{"up_to": "10000000", "ratio": 95}]},
        ]})


def accounts() -> list[MarginAccount]:
    """Twelve users: ten hold only ETH; m-borrower-1 and -2 borrow BTC against ETH;
    m-borrower-3 borrows ETH against BTC."""
    out = [MarginAccount(f"m{i}", (Position((i + 1) * ETH, 0, (i + 1) * ETH),
                                   Position(0, 0, 0))) for i in range(9)]
    out.append(MarginAccount("m-saver", (Position(0, 0, 0), Position(2 * BTC, 0, 2 * BTC))))
    # 10 ETH (20,000 USD, 18,000 after haircut) covers 0.25 BTC (15,000 USD).
    out.append(MarginAccount("m-borrower-1", (Position(10 * ETH, 0, 10 * ETH),
                                              Position(BTC // 4, BTC // 4, 0))))
    # Borrowed 0.5 BTC and withdrew it: debt only in BTC, 20 ETH pledged.
    out.append(MarginAccount("m-borrower-2", (Position(20 * ETH, 0, 20 * ETH),
                                              Position(0, BTC // 2, 0))))
    # 1 BTC pledged (57,000 USD after haircut) against 5 ETH borrowed (10,000 USD).
    out.append(MarginAccount("m-borrower-3", (Position(0, 5 * ETH, 0),
                                              Position(BTC, 0, BTC))))
    return out


@dataclass
class MarginRound:
    """A built margin round's public files, and a borrower's proof."""

    directory: Path
    summary: MarginRootSummary
    root: bytes
    risk: bytes
    reserves: bytes
    proof: MarginInclusionProof


def build_margin_round(world: World, tmp: Path, round_id: str) -> MarginRound:
    """Build the margin tree, a borrower's proof, and a reserves file read at a block
    (the wallets hold ETH only)."""
    out = tmp / round_id
    risk = RiskParams.from_json(risk_bytes())
    tree = build_margin_tree(round_id, ASSETS, risk, SECRET, accounts())
    summary = write_margin_round(tree, out)
    write_signed_reserves(world, summary, out)  # a margin root.json, as is
    return MarginRound(out, summary, (out / "root.json").read_bytes(),
                       (out / "risk.json").read_bytes(), (out / "reserves.json").read_bytes(),
                       tree.prove("m-borrower-2"))


def sign_publish(engine: Engine, world: World, r: MarginRound, round_id: str, day: int,
                 out: Path) -> Path:
    """Open, sign (reserves re-read), co-sign and publish the margin round."""
    new_round(engine, round_id, EXCHANGE, T0 + timedelta(days=day))
    sign_round(engine, round_id, r.root, r.reserves, world.exchange_key,
               readers=world.readers(), now=T0 + timedelta(days=day, hours=1),
               risk_bytes=r.risk)
    cosign_round(engine, round_id, world.auditor_key, world.keys())
    publish_round(engine, round_id, world.exchange_key, world.keylist, out,
                  now=T0 + timedelta(days=day, hours=2))
    return out


@dataclass
class ServedMargin:
    """A published margin round, ready for ``por serve``: the store, the rounds directory
    (tree, root.json, risk.json, reserves.json, proof tokens), the key list and the
    auditor's public key."""

    world: World
    round: MarginRound
    database_url: str
    rounds_dir: Path
    keylist: Path
    auditor_key_file: Path
    tokens: dict[str, str]


def served_margin(tmp: Path) -> ServedMargin:
    """Round ``m1`` built, signed, co-signed and published, with tokens for two users (a
    borrower and a saver)."""
    from attest_helpers import make_world

    from por.liabilities.tokens import issue_tokens
    from por.store.db import open_store

    w = make_world(tmp)
    rounds = tmp / "rounds"
    r = build_margin_round(w, rounds, "m1")
    url = f"sqlite:///{tmp / 'por.db'}"
    engine = open_store(url)
    try:
        sign_publish(engine, w, r, "m1", 0, tmp / "bundle-m1")
    finally:
        engine.dispose()
    tokens = dict(issue_tokens(r.directory, SECRET, ["m-borrower-2", "m-saver"]))
    return ServedMargin(w, r, url, rounds, tmp / "keylist.json", tmp / "auditor.pub.json",
                        tokens)
