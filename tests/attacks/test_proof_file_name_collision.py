"""Attack: a user picks an id that is ``_`` and the SHA-256 of another user's id, so both
proofs map to one file in ``prove-all``'s directory output (an id that is not a safe file
name is stored as ``_`` + its hash). Before the defence the later proof silently replaced
the earlier one: one user was handed the other's proof (their balance, their salt) and the
other got none. Now the files are created exclusively and the run stops, leaving nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from snapshots import write_assets, write_csv

from por.errors import InputError
from por.liabilities.build import build_tree
from por.liabilities.prove import proof_file_name, prove_all
from verifier.liabilities.mst import Asset

SECRET = bytes(range(32))


def test_two_ids_one_proof_file_stop_prove_all(tmp_path: Path) -> None:
    victim = "alice@example.com"  # '@' is not in a safe file name: stored by its hash
    chosen = "_" + hashlib.sha256(victim.encode()).hexdigest()  # a safe name, the same file
    assert proof_file_name(victim) == proof_file_name(chosen)
    snap = write_csv(tmp_path / "s.csv", [(victim, "BTC", "5"), (chosen, "BTC", "0.1")]
                     + [(f"u{i}", "BTC", "1") for i in range(20)])
    write_assets(tmp_path / "a.json", [("BTC", 8)])
    build_tree(snap, (Asset("BTC", 8),), "r1", SECRET, tmp_path / "round", workers=1)
    with pytest.raises(InputError, match="map to the file name"):
        prove_all(tmp_path / "round", SECRET, snap, tmp_path / "proofs", workers=1)
    assert not (tmp_path / "proofs").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
