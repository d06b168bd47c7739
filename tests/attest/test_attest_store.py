"""Rounds and attestations in the store, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from attest_helpers import EXCHANGE, T0, World, build_round, make_world, sign_and_cosign
from sqlalchemy import Engine
from sqlmodel import Session, select
from store_fixtures import *  # noqa: F403 (the store fixtures: SQLite and PostgreSQL)

from por.attest.publish import publish_round
from por.attest.rounds import (
    cosign_round,
    load_round,
    new_round,
    sign_round,
)
from por.errors import UsageError, VerificationError
from por.keys import SigningKey
from por.store.models import RoundFile, WalletClaim


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    tmp = tmp_path_factory.mktemp("attest-store")
    w = make_world(tmp)
    build_round(w, tmp, "r1")
    build_round(w, tmp, "r2")
    return w, tmp


def test_round_sign_cosign_publish_rules(store: Engine, world: tuple[World, Path],
                                         tmp_path: Path) -> None:
    w, _ = world
    new_round(store, "r1", EXCHANGE, T0)
    new_round(store, "r1", EXCHANGE, T0)  # the same again: a no-op
    with pytest.raises(UsageError, match="already exists"):
        new_round(store, "r1", "Other Exchange", T0)
    files = w.rounds["r1"]
    sign_and_cosign(store, w, "r2", 1)  # r2 signed, not published...
    with pytest.raises(UsageError, match="not published"):  # ...so r1 cannot name it
        sign_round(store, "r1", files["root"].read_bytes(), files["reserves"].read_bytes(),
                   w.exchange_key, readers=w.readers())
    publish_round(store, "r2", w.exchange_key, w.keylist, tmp_path / "b2")
    signed = sign_round(store, "r1", files["root"].read_bytes(),
                        files["reserves"].read_bytes(), w.exchange_key, readers=w.readers())
    with pytest.raises(UsageError, match="already signed"):
        sign_round(store, "r1", files["root"].read_bytes(), files["reserves"].read_bytes(),
                   w.exchange_key, readers=None)
    cosign_round(store, "r1", w.auditor_key, w.keys())
    with pytest.raises(UsageError, match="already signed"):
        cosign_round(store, "r1", w.auditor_key, w.keys())
    again = sign_round(store, "r1", files["root"].read_bytes(),
                       files["reserves"].read_bytes(), w.exchange_key, readers=None,
                       replace=True, now=T0 + timedelta(days=2))
    stored = load_round(store, "r1")
    assert stored.signed.payload == again.payload != signed.payload
    assert len(stored.signed.signatures) == 1  # co-signatures of the old payload dropped
    assert stored.reserves == files["reserves"].read_bytes()  # exact bytes kept
    with pytest.raises(VerificationError, match="key list"):
        cosign_round(store, "r1", w.auditor_key,
                     type(w.keys()).from_json(w.keylist.replace(b"Example Exchange",
                                                                b"Another Exchange")))
    stranger = SigningKey.generate("Stranger")
    from por.keys import new_key_list

    with pytest.raises(VerificationError):
        cosign_round(store, "r1", w.auditor_key, new_key_list(EXCHANGE, stranger.public))
    with Session(store) as s:
        kinds = sorted(f.kind for f in s.exec(select(RoundFile).where(
            RoundFile.round_id == "r1")))
        claims = list(s.exec(select(WalletClaim).where(WalletClaim.round_id == "r1")))
    assert kinds == ["reserves", "root"]
    assert len(claims) == 2 and all(c.counted and c.source == "node" for c in claims)
    assert sum(int(c.amount) for c in claims) == 105 * 10**18
