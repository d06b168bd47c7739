"""Attack: a proof checked only against itself passes (issue 10, item 6).

Anyone can fabricate a one-leaf "proof" whose root is simply whatever its own data hashes
to. Checked against itself it is consistent, so a verifier that prints VERIFIED (exit 0)
without a published root lets an exchange hand a user a proof of a tree nobody else sees.
Defence (docs/spec.md §8.2, §9): without an anchor (--root, --summary or --bundle) the
verdict is UNANCHORED, exit 1, in text and in JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from verifier.cli import main as verify_main
from verifier.liabilities.mst import Asset, encode_amounts, leaf_hash, root_hash, user_commitment


def fabricated_one_leaf_proof() -> dict[str, object]:
    round_id, user, salt = "2026-11-25", "victim", bytes(32)
    assets = (Asset("BTC", 8),)
    amounts = [10**8]
    leaf = leaf_hash(user_commitment(round_id, user, salt), encode_amounts(amounts))
    root = root_hash(round_id, assets, 1, leaf, encode_amounts(amounts))
    return {
        "scheme": "por-mst", "version": 1, "round": round_id,
        "assets": [{"symbol": "BTC", "decimals": 8}], "user_id": user, "salt": salt.hex(),
        "amounts": ["100000000"], "path": [],
        "root": {"hash": root.hex(), "sums": ["100000000"], "leaf_count": 1},
    }


def test_fabricated_one_leaf_proof_is_unanchored_not_verified(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(fabricated_one_leaf_proof()))
    text = CliRunner().invoke(verify_main, ["proof", str(path)])
    assert text.exit_code == 1, text.output
    assert "UNANCHORED" in text.output and "VERIFIED" not in text.output
    as_json = CliRunner().invoke(verify_main, ["proof", str(path), "--json"])
    assert as_json.exit_code == 1, as_json.output
    report = json.loads(as_json.output)
    assert report["verdict"] == "UNANCHORED" and report["ok"] is False
    # The recomputed root is still shown, so the user can compare it by hand.
    assert report["root_hash"] == fabricated_one_leaf_proof()["root"]["hash"]  # type: ignore[index]


def test_the_same_proof_with_its_published_root_verifies(tmp_path: Path) -> None:
    proof = fabricated_one_leaf_proof()
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    root = proof["root"]["hash"]  # type: ignore[index]
    ok = CliRunner().invoke(verify_main, ["proof", str(path), "--root", root, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["verdict"] == "VERIFIED"
