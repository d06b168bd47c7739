"""Private rounds for the attestation and bundle tests (spec §13.7): a real private tree
(libsecp256k1-zkp through wallycore), a user's private proof, and a reserves file bound to
the private root, signed and read on the in-process EVM of :mod:`attest_helpers`.

ETH is in wei, so the round's ETH is committed in units of 10^e wei with e > 0 (the unit
rule, §16.3): the attested liabilities are the committed total x 10^e, at or above the
exact sum. BTC has no wallet: under-reserved by all of it, as in the spot rounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from attest_helpers import ASSETS, ETHER, EXCHANGE, T0, World, make_world, write_signed_reserves
from sqlalchemy import Engine

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.liabilities.private import build_private_tree, prove, write_private_round
from por.store.db import open_store
from verifier.private.proof import PrivateProof, PrivateRoot

SECRET = bytes(range(32, 64))  # a public test secret: never a real round's


@dataclass
class PrivateRound:
    """A private round's directory, its published root, a user's proof and its reserves."""

    directory: Path
    root: PrivateRoot
    proof: PrivateProof
    reserves: Path

    @property
    def root_bytes(self) -> bytes:
        return (self.directory / "root.json").read_bytes()


def exact_eth(users: int) -> int:
    """The exact ETH the round owes: sum over users of (i + 1.25) ETH."""
    return sum((4 * i + 5) * ETHER // 4 for i in range(users))


def build_private_round(world: World, tmp: Path, round_id: str, users: int = 8,
                        hidden_levels: int | None = None) -> PrivateRound:
    """A private round of ``users`` users (full hiding, or hybrid with ``hidden_levels``)
    and the reserves file that names its root."""
    out = tmp / round_id
    balances = [(f"u{i}", [(4 * i + 5) * ETHER // 4 + 7, (i + 1) * 1_000_000])
                for i in range(users)]
    tree = build_private_tree(round_id, ASSETS, SECRET, balances, workers=1,
                              hidden_levels=hidden_levels)
    root = write_private_round(tree, out / "round")
    proof = prove(out / "round", SECRET, "u3")
    write_signed_reserves(world, root, out)
    return PrivateRound(out / "round", root, proof, out / "reserves.json")


def sign_private(engine: Engine, world: World, r: PrivateRound, round_id: str,
                 day: int) -> None:
    """Open the round and sign it (the reserves re-read from the chain first)."""
    new_round(engine, round_id, EXCHANGE, T0 + timedelta(days=day))
    sign_round(engine, round_id, r.root_bytes, r.reserves.read_bytes(), world.exchange_key,
               readers=world.readers(), now=T0 + timedelta(days=day, hours=1),
               tree_bytes=(r.directory / "tree.bin").read_bytes())


def sign_cosign_publish(engine: Engine, world: World, r: PrivateRound, round_id: str,
                        day: int, out: Path) -> Path:
    """Sign, co-sign after the auditor's recomputation of the tree, publish."""
    sign_private(engine, world, r, round_id, day)
    cosign_round(engine, round_id, world.auditor_key, world.keys(), r.directory)
    publish_round(engine, round_id, world.exchange_key, world.keylist, out,
                  now=T0 + timedelta(days=day, hours=2))
    return out



def published_private(tmp: Path, hidden_levels: int | None = None,
                      round_id: str = "p1", day: int = 0,
                      world: World | None = None) -> tuple[World, PrivateRound, Path]:
    """A private round, signed, co-signed (after the tree's recomputation) and published
    to ``tmp/bundle-ROUND``; with ``world``, in that world's store (the log's next entry)."""
    w = world or make_world(tmp)
    r = build_private_round(w, tmp, round_id, hidden_levels=hidden_levels)
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    try:
        sign_cosign_publish(engine, w, r, round_id, day, tmp / f"bundle-{round_id}")
    finally:
        engine.dispose()
    return w, r, tmp / f"bundle-{round_id}"
