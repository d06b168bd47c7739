"""Appending to the transparency log in the store, one transaction per append.

Each append inserts the entry at the next index and the signed tree head of the new size
in the same transaction, so the store never holds a tree head that does not match its log
(docs/spec.md §12.2). An entry already in the log (same RFC 6962 leaf hash) is not added
twice: the append returns its index, so a publish that was killed and re-run ends with
exactly one entry. Two concurrent appends collide on the primary key of the index; the
loser rolls back and retries on the new size.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from por.errors import UsageError, VerificationError
from por.keys import SigningKey
from por.log.proofs import consistency_proof, inclusion_proof
from por.store.models import LogEntry, TreeHeadRecord
from verifier.log.rfc6962 import hash_leaf, root_from_leaf_hashes
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead, TreeHead
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyList, keylist_sha256

RETRIES = 10
# pg_advisory_xact_lock key of the log's appenders ("PORLOG" in ASCII).
_LOCK_KEY = 0x504F524C4F47
# SQLite has no row locks worth the name: appenders of this process take turns.
_LOCAL_WRITER = threading.Lock()


@dataclass(frozen=True)
class Appended:
    """Where an entry sits in the log, and the tree head that covers it."""

    leaf_index: int
    tree_head: SignedTreeHead
    new: bool


def _leaf_hashes(session: Session, size: int | None = None) -> list[bytes]:
    query = select(LogEntry.leaf_hash).order_by(col(LogEntry.leaf_index))
    if size is not None:
        query = query.where(col(LogEntry.leaf_index) < size)
    return list(session.exec(query))


def _signed_head(record: TreeHeadRecord) -> SignedTreeHead:
    signed = SignedDocument.from_payload(
        record.payload, [Signature(record.key_id, record.signature)]
    )
    return SignedTreeHead(TreeHead.from_dict(signed.document, "stored tree head"), signed)


def latest_tree_head(engine: Engine) -> SignedTreeHead | None:
    """The newest signed tree head, or None for an empty log."""
    with Session(engine) as session:
        record = session.exec(
            select(TreeHeadRecord).order_by(col(TreeHeadRecord.tree_size).desc()).limit(1)
        ).first()
        return _signed_head(record) if record else None


def tree_head(engine: Engine, size: int) -> SignedTreeHead:
    """The signed tree head of ``size``.

    Raises:
        UsageError: the log never had a head of that size.
    """
    with Session(engine) as session:
        record = session.get(TreeHeadRecord, size)
        if record is None:
            raise UsageError(f"no tree head of size {size}")
        return _signed_head(record)


def append(
    engine: Engine, log: str, entry: bytes, key: SigningKey, now: datetime | None = None,
    *, keylist: bytes,
) -> Appended:
    """Append ``entry`` and sign the new tree head, atomically; idempotent per entry.

    The head (version 2, spec §12.2) binds the exchange's name and the hash of ``keylist``,
    the key list in force, whose current key must be ``key``.

    Raises:
        VerificationError: the stored log does not match its latest tree head (the store
            was tampered with: nothing is appended to it).
        UsageError: the appends kept colliding with concurrent ones.
        VerificationError: ``key`` is not the key list's current key.
    """
    keys = KeyList.from_json(keylist)
    if key.public.key_id != keys.current.key_id:
        raise VerificationError(f"tree heads are signed by the key list's current key "
                                f"{keys.current.key_id}, not by {key.public.key_id}")
    binding = keylist_sha256(keylist)
    leaf = hash_leaf(entry)
    for attempt in range(RETRIES):
        with _LOCAL_WRITER, Session(engine) as session:
            if engine.dialect.name == "postgresql":
                # One appender at a time per database, released at commit or rollback.
                session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=_LOCK_KEY))  # type: ignore[call-overload]
            existing = session.exec(select(LogEntry).where(LogEntry.leaf_hash == leaf)).first()
            if existing is not None:
                latest = latest_tree_head(engine)
                assert latest is not None  # an entry is only ever stored with its head
                return Appended(existing.leaf_index, latest, new=False)
            leaves = _leaf_hashes(session)
            size = len(leaves)
            last = session.get(TreeHeadRecord, size) if size else None
            if size and (last is None or last.root_hash != root_from_leaf_hashes(leaves)):
                raise VerificationError(
                    f"the stored log of {size} entries does not match its tree head; refusing"
                    " to append (run the log check)"
                )
            moment = (now or datetime.now(UTC)).replace(microsecond=0)
            if last is not None and moment < last.timestamp:
                moment = last.timestamp  # heads never go back in time
            head = TreeHead(
                log, size + 1, root_from_leaf_hashes([*leaves, leaf]), moment,
                key.public.key_id, exchange=keys.exchange, keylist_sha256=binding,
            )
            signed = key.sign_document(head.to_dict())
            session.add(
                LogEntry(
                    leaf_index=size,
                    leaf_hash=leaf,
                    entry=entry,
                    appended_at=moment,
                )
            )
            session.add(
                TreeHeadRecord(
                    tree_size=size + 1,
                    root_hash=head.root_hash,
                    timestamp=moment,
                    key_id=key.public.key_id,
                    payload=signed.payload,
                    signature=signed.signatures[0].signature,
                )
            )
            try:
                session.commit()
            except (IntegrityError, OperationalError):
                # Another process appended first (same index) or held the SQLite lock.
                session.rollback()
                time.sleep(0.05 * (attempt + 1))
                continue
            return Appended(size, SignedTreeHead(head, signed), new=True)
    raise UsageError(f"append kept colliding with concurrent appends ({RETRIES} tries)")


def prove_inclusion(engine: Engine, leaf_index: int, tree_size: int) -> InclusionProof:
    """The inclusion proof of entry ``leaf_index`` in the tree of ``tree_size``.

    Raises:
        UsageError: the index or size is not in the log.
    """
    with Session(engine) as session:
        leaves = _leaf_hashes(session, tree_size)
    if len(leaves) != tree_size:
        raise UsageError(f"the log has fewer than {tree_size} entries")
    return InclusionProof(leaf_index, tree_size, tuple(inclusion_proof(leaf_index, leaves)))


def prove_consistency(engine: Engine, old_size: int, new_size: int) -> ConsistencyProof:
    """The consistency proof from the tree of ``old_size`` to the one of ``new_size``.

    Raises:
        UsageError: the sizes are not in the log, or ``old_size`` is 0.
    """
    with Session(engine) as session:
        leaves = _leaf_hashes(session, new_size)
    if len(leaves) != new_size:
        raise UsageError(f"the log has fewer than {new_size} entries")
    return ConsistencyProof(old_size, new_size, tuple(consistency_proof(old_size, leaves)))


def check_log(engine: Engine) -> int:
    """Recompute every stored tree head from the stored entries; return the log's size.

    Raises:
        VerificationError: an entry's hash is not its bytes' hash, indices have a gap, a
            head's root or size does not match the entries, or the newest head is not of
            the whole log.
    """
    with Session(engine) as session:
        entries = list(session.exec(select(LogEntry).order_by(col(LogEntry.leaf_index))))
        heads = list(session.exec(select(TreeHeadRecord).order_by(col(TreeHeadRecord.tree_size))))
        count = session.exec(select(func.count()).select_from(LogEntry)).one()
    leaves = []
    for i, e in enumerate(entries):
        if e.leaf_index != i:
            raise VerificationError(f"log entry index {e.leaf_index} found where {i} was due")
        if hash_leaf(e.entry) != e.leaf_hash:
            raise VerificationError(f"log entry {i}: stored hash is not the hash of its bytes")
        leaves.append(e.leaf_hash)
    for record in heads:
        if record.tree_size > len(leaves):
            raise VerificationError(
                f"tree head of size {record.tree_size} but {len(leaves)} entries"
            )
        head = _signed_head(record).head
        if head.tree_size != record.tree_size or head.root_hash != record.root_hash:
            raise VerificationError(f"tree head {record.tree_size}: payload and columns disagree")
        if root_from_leaf_hashes(leaves[: record.tree_size]) != record.root_hash:
            raise VerificationError(
                f"tree head {record.tree_size}: root does not match the entries"
            )
    if leaves and (not heads or heads[-1].tree_size != len(leaves)):
        raise VerificationError(f"the log has {len(leaves)} entries but no tree head of that size")
    assert count == len(leaves)
    return len(leaves)
