"""The store and the log's appends, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, update
from sqlmodel import Session, SQLModel, col, select
from store_fixtures import *  # noqa: F403 (the store fixtures: SQLite and PostgreSQL)

from por.errors import VerificationError
from por.keys import SigningKey, new_key_list
from por.log import appender
from por.store.db import migrate
from por.store.models import LogEntry, TreeHeadRecord
from verifier.log.sth import SignedTreeHead, check_extends

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEY = SigningKey.generate("Example Exchange log")
KEYLIST = new_key_list("Example Exchange", KEY.public).to_json().encode()


def test_migrations_build_exactly_the_models_and_rerun_cleanly(store: Engine) -> None:
    migrate(store)  # a second upgrade is a no-op
    with store.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), SQLModel.metadata) == []
    tables = set(inspect(store).get_table_names())
    assert {
        "rounds",
        "attestations",
        "attestation_signatures",
        "log_entries",
        "tree_heads",
    } <= tables


def test_store_has_no_place_for_secrets(store: Engine) -> None:
    insp = inspect(store)
    for table in insp.get_table_names():
        for column in insp.get_columns(table):
            assert not any(w in column["name"] for w in ("secret", "private", "passphrase"))


def test_appends_sign_heads_that_match_the_log(store: Engine) -> None:
    heads = []
    for i in range(7):
        done = appender.append(
            store, "example", f"attestation {i}".encode(), KEY, T0 + timedelta(days=i),
                keylist=KEYLIST)
        assert done.new and done.leaf_index == i
        heads.append(done.tree_head)
    assert appender.check_log(store) == 7
    for i, head in enumerate(heads):
        head.verify_signature(KEY.public)
        stored = appender.tree_head(store, i + 1)
        assert stored.signed.payload == head.signed.payload  # exact bytes kept
        proof = appender.prove_inclusion(store, i, 7)
        proof.verify(f"attestation {i}".encode(), heads[-1].head)
    for old in range(1, 7):
        check_extends(
            heads[old - 1].head, heads[-1].head, appender.prove_consistency(store, old, 7)
        )


def test_append_is_idempotent(store: Engine) -> None:
    first = appender.append(store, "example", b"round 1", KEY, T0, keylist=KEYLIST)
    again = appender.append(store, "example", b"round 1", KEY, T0 + timedelta(hours=1),
        keylist=KEYLIST)
    assert not again.new and again.leaf_index == first.leaf_index
    assert appender.check_log(store) == 1


def test_killed_append_leaves_nothing_and_rerun_adds_one(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    appender.append(store, "example", b"round 1", KEY, T0, keylist=KEYLIST)

    def killed(self: Session) -> None:
        raise KeyboardInterrupt("killed before commit")

    with monkeypatch.context() as m:
        m.setattr(Session, "commit", killed)
        with pytest.raises(KeyboardInterrupt):
            appender.append(store, "example", b"round 2", KEY, T0 + timedelta(days=1),
                keylist=KEYLIST)
    assert appender.check_log(store) == 1  # no entry without its head, no head without entry
    appender.append(store, "example", b"round 2", KEY, T0 + timedelta(days=1), keylist=KEYLIST)
    appender.append(store, "example", b"round 2", KEY, T0 + timedelta(days=1), keylist=KEYLIST)
    assert appender.check_log(store) == 2


def test_rewritten_entry_is_detected_and_blocks_appends(store: Engine) -> None:
    for i in range(3):
        appender.append(store, "example", f"round {i}".encode(), KEY, T0, keylist=KEYLIST)
    with Session(store) as s:
        s.exec(update(LogEntry).where(col(LogEntry.leaf_index) == 1).values(entry=b"forged"))
        s.commit()
    with pytest.raises(VerificationError, match="entry 1"):
        appender.check_log(store)
    from verifier.log.rfc6962 import hash_leaf

    with Session(store) as s:
        s.exec(
            update(LogEntry)
            .where(col(LogEntry.leaf_index) == 1)
            .values(leaf_hash=hash_leaf(b"forged"))
        )
        s.commit()
    with pytest.raises(VerificationError, match="root does not match"):
        appender.check_log(store)
    with pytest.raises(VerificationError, match="does not match its tree head"):
        appender.append(store, "example", b"round 3", KEY, T0, keylist=KEYLIST)


def test_concurrent_appends_each_land_once(store: Engine) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                appender.append(store, "example", f"w{n} e{i}".encode(), KEY, T0, keylist=KEYLIST)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if store.dialect.name == "sqlite" and errors:
        pytest.skip(f"SQLite serialises writers; a writer gave up: {errors[0]!r}")
    assert not errors
    assert appender.check_log(store) == 12
    with Session(store) as s:
        sizes = [h.tree_size for h in s.exec(select(TreeHeadRecord))]
    assert sorted(sizes) == list(range(1, 13))


def test_stored_heads_parse_as_published(store: Engine) -> None:
    done = appender.append(store, "example", b"x", KEY, T0, keylist=KEYLIST)
    published = done.tree_head.signed.to_json()
    again = SignedTreeHead.from_json(published)
    again.verify_signature(KEY.public)
    assert again.head.tree_size == 1
