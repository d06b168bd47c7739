"""Attack: the exchange slips a witness's co-signature of a forked tree head (one its log
never signed, shown to some users) into the store, so that every bundle written from the
store carries a real witness signature and the page counts it.
Defence (spec §14.3, docs/threat-model.md section 4): ``por witness add --db`` stores a
co-signature only beside the stored head whose exact payload it names (SHA-256 of the
stored payload bytes); a co-signature of any other head is refused and nothing of the batch
is stored. (A co-signature of a stored head still counts only if the witness's key is known
and its signature verifies: ``por serve --witness-key``.)
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
from api_world import ROUNDS, build_world

from por.errors import InputError
from por.log.witness_files import store_cosignatures
from por.store.db import open_store
from por.store.models import WitnessCosignature
from verifier.log.sth import SignedTreeHead
from verifier.log.witness import sign_cosignature


def test_forked_head_cosignature_stored(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    world = build_world(tmp_path, engine)
    bundle = world.bundles[ROUNDS[-1]]
    head = SignedTreeHead.from_json((bundle / "tree-head.json").read_bytes())
    fork = SignedTreeHead.from_json(world.exchange_key.sign_document(
        {**head.head.to_dict(), "root_hash": "ab" * 32}).to_json())
    witness = Ed25519PrivateKey.generate()
    files = []
    for name, signed in (("honest", head), ("fork", fork)):
        path = tmp_path / f"{name}.json"
        path.write_text(sign_cosignature(witness, signed, signed.head.timestamp
                                         + timedelta(minutes=1)).to_json())
        files.append(path)
    with pytest.raises(InputError, match="never signed"):
        store_cosignatures(engine, files)
    with Session(engine) as session:
        assert session.exec(select(WitnessCosignature)).all() == []
    stored = store_cosignatures(engine, files[:1])  # the honest head's is kept
    assert [size for size, _ in stored] == [head.head.tree_size]
    engine.dispose()
