"""Attack: private-blinding-reused-across-rounds. If a node's blinding were the same in two
rounds, C₁ − C₂ = (v₁ − v₂)·G_asset would leak the change of a hidden sum (and its value by
trial). Blindings derive from the round secret with the round id in every input (spec
§16.3): neither a new secret nor a new round id with the same secret repeats one."""

from __future__ import annotations

from por.liabilities.private import build_private_tree
from verifier.liabilities.mst import Asset
from verifier.private.scheme import left_blinding, root_blinding

ASSETS = [Asset("BTC", 8)]
USERS = [("alice", [5]), ("bob", [7]), ("carol", [0])]
SECRET = bytes(32)


def _blindings(round_id: str, secret: bytes) -> set[int]:
    tree = build_private_tree(round_id, ASSETS, secret, USERS)
    return {b for row in tree.levels for node in row for b in node.blindings}


def test_same_secret_other_round_shares_no_blinding() -> None:
    assert not _blindings("r-1", SECRET) & _blindings("r-2", SECRET)


def test_other_secret_same_round_shares_no_blinding() -> None:
    assert not _blindings("r-1", SECRET) & _blindings("r-1", bytes([1]) * 32)


def test_derivations_bind_the_round_id() -> None:
    assert root_blinding(SECRET, "r-1", 0) != root_blinding(SECRET, "r-2", 0)
    assert left_blinding(SECRET, "r-1", 0, 0, 0) != left_blinding(SECRET, "r-2", 0, 0, 0)
