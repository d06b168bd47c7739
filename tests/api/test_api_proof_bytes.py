"""The proof route answers the reference prover's exact bytes, and refuses a corrupt tree.

``GET /api/v1/proofs/{token}`` makes the text from the tree's raw records (checked against
the published root on those records, por.liabilities.prove.served_proof_text); it must be
byte for byte what ``por liabilities prove`` writes, for every user, and fail closed (503,
nothing served) when a record on the path no longer leads to the published root.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from snapshots import balances_to_rows, write_csv

from api.app import Settings, create_app
from por.liabilities.build import build_tree
from por.liabilities.prove import Prover
from por.liabilities.tokens import issue_tokens
from verifier.liabilities.mst import Asset

ASSETS = (Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6))
SECRET = bytes(range(32))
ODD = ["quote\"d", "back\\slash", "ünïcode user ✓", "日本", "a" * 128, "sp ace"]


def _round(tmp_path: Path, users: int) -> tuple[Path, dict[str, str]]:
    rng = random.Random(users)
    bal = {f"u{i}": [rng.randrange(10**9), rng.randrange(10**30), rng.randrange(3)]
           for i in range(users)}
    if users != 1:  # one user alone: a tree of one leaf, an empty path
        bal.update({u: [1, 2**100, 3] for u in ODD})
    rows = balances_to_rows(bal, [(a.symbol, a.decimals) for a in ASSETS])
    snap = write_csv(tmp_path / "s.csv", rows)
    round_dir = tmp_path / "rounds" / "r1"
    build_tree(snap, ASSETS, "r1", SECRET, round_dir, workers=1)
    return round_dir, dict(issue_tokens(round_dir, SECRET, list(bal)))


@pytest.mark.parametrize("users", [0, 1, 300])
def test_served_proof_is_the_reference_bytes(tmp_path: Path, users: int) -> None:
    round_dir, tokens = _round(tmp_path, users)
    prover = Prover(round_dir, SECRET)
    settings = Settings(rounds_dir=round_dir.parent, proof_rate_per_minute=0)
    try:
        with TestClient(create_app(settings)) as client:
            for user, token in tokens.items():
                res = client.get(f"/api/v1/proofs/{token}")
                assert res.status_code == 200, res.text
                assert res.content == prover.prove(user).to_json().encode(), user
                assert res.headers["content-type"] == "application/json"
                assert res.headers["cache-control"] == "no-store"
    finally:
        prover.close()


def test_served_proof_fails_closed_on_a_corrupt_sibling(tmp_path: Path) -> None:
    round_dir, tokens = _round(tmp_path, 40)
    user, token = "u7", tokens["u7"]
    prover = Prover(round_dir, SECRET)
    index = prover.tree.find(_commitment(prover, user))
    lay = prover.tree.layout
    prover.close()
    assert index is not None
    # One byte of the sums of the user's level-2 sibling: the hash still matches the record
    # it sits in, but not the parent the tree was built with.
    at = lay.level_offset(2) + lay.record_size * ((index >> 2) ^ 1) + 32 + 15
    raw = bytearray((round_dir / "tree.bin").read_bytes())
    raw[at] ^= 1
    (round_dir / "tree.bin").write_bytes(bytes(raw))
    with TestClient(create_app(Settings(rounds_dir=round_dir.parent,
                                        proof_rate_per_minute=0))) as client:
        res = client.get(f"/api/v1/proofs/{token}")
    assert res.status_code == 503
    assert res.json() == {"detail": "this proof cannot be served right now"}
    assert user not in res.text


def _commitment(prover: Prover, user: str) -> bytes:
    from verifier.liabilities.mst import derive_salt, user_commitment

    rid = prover.tree.layout.round_id
    return user_commitment(rid, user, derive_salt(SECRET, rid, user))
