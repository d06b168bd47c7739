"""Witness co-signatures into a published bundle (docs/spec.md §14.3); the command is
``por witness add`` (:mod:`por.cli.witness`).

A witness runs ``por-verify log witness`` on the bundle's ``tree-head.json`` and hands back
a co-signature file; the exchange drops it into the bundle as ``witnesses/<key id>.json``
(``por witness add BUNDLE COSIG...``), or keeps it in the store (``por witness add --db URL
COSIG...``), from which every bundle of that head is then written (``por publish``, the
server's download). Only co-signatures of a head's exact payload are accepted (their
signatures are checked by whoever knows the witness's key: ``por-verify bundle
--witness-key``, ``por serve --witness-key``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from por.errors import InputError
from por.store.models import TreeHeadRecord, WitnessCosignature
from verifier.attestation.bundle import TREE_HEAD_FILE
from verifier.files import fsync_dir, write_atomic
from verifier.log.sth import SignedTreeHead
from verifier.log.witness import WITNESS_DIR, Cosignature, head_payload_hash


def add_cosignatures(bundle: Path, cosignature_files: Sequence[Path]) -> list[str]:
    """Copy co-signature files into ``bundle/witnesses/``, each named by its witness key id.

    Every file is parsed and must name the bundle's tree head (SHA-256 of its exact payload);
    each is written to a temporary name, fsynced and renamed into place.

    Returns:
        The bundle paths written.

    Raises:
        InputError: an unreadable file, a malformed co-signature, or one of another head.
    """
    try:
        head = SignedTreeHead.from_json((bundle / TREE_HEAD_FILE).read_bytes(), TREE_HEAD_FILE)
    except OSError as e:
        raise InputError(f"{bundle}: not a bundle ({TREE_HEAD_FILE}: {e.strerror})") from e
    want = head_payload_hash(head)
    parsed: list[tuple[Cosignature, bytes]] = []
    for path in cosignature_files:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from e
        cosig = Cosignature.from_json(data, str(path))
        if cosig.tree_head_sha256 != want:
            raise InputError(
                f"{path}: co-signs another tree head (payload SHA-256"
                f" {cosig.tree_head_sha256.hex()}), not this bundle's ({want.hex()},"
                f" size {head.head.tree_size})"
            )
        parsed.append((cosig, data))
    folder = bundle / WITNESS_DIR
    written = []
    try:
        folder.mkdir(exist_ok=True)
        for cosig, data in parsed:
            write_atomic(folder / f"{cosig.witness_key_id}.json", data)
            written.append(f"{WITNESS_DIR}/{cosig.witness_key_id}.json")
        fsync_dir(folder)
    except OSError as e:
        raise InputError(f"{folder}: cannot write: {e.strerror}") from e
    return written


def _read_cosignatures(cosignature_files: Sequence[Path]) -> list[tuple[Path, Cosignature, bytes]]:
    parsed = []
    for path in cosignature_files:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from e
        parsed.append((path, Cosignature.from_json(data, str(path)), data))
    return parsed


def store_cosignatures(engine: Engine, cosignature_files: Sequence[Path],
                       now: datetime | None = None) -> list[tuple[int, str]]:
    """Keep witnesses' co-signature files in the store, each beside the signed tree head
    whose exact payload it names (SHA-256 of the stored payload bytes, spec §14.1).

    All files are checked before any is stored: a co-signature of a head the log never
    signed (another head, another log, a fork) is refused, and nothing is stored. A witness's
    later co-signature of the same head replaces its earlier one.

    Returns:
        (tree size, witness key id) of each co-signature stored.

    Raises:
        InputError: an unreadable file, a malformed co-signature, one of no stored head,
            or a store that cannot be written.
    """
    parsed = _read_cosignatures(cosignature_files)
    moment = now or datetime.now(UTC)
    try:
        with Session(engine) as session:
            by_hash = {hashlib.sha256(r.payload).digest(): r.tree_size
                       for r in session.exec(select(TreeHeadRecord)).all()}
            stored: list[tuple[int, str]] = []
            for path, cosig, _data in parsed:
                if cosig.tree_head_sha256 not in by_hash:
                    raise InputError(
                        f"{path}: co-signs a tree head (payload SHA-256 "
                        f"{cosig.tree_head_sha256.hex()}) that this log never signed: refused, "
                        "nothing stored")
            for _path, cosig, data in parsed:
                size = by_hash[cosig.tree_head_sha256]
                row = session.get(WitnessCosignature, (size, cosig.witness_key_id))
                if row is None:
                    row = WitnessCosignature(tree_size=size, witness_key_id=cosig.witness_key_id,
                                             content=data, stored_at=moment)
                else:
                    row.content, row.stored_at = data, moment
                session.add(row)
                stored.append((size, cosig.witness_key_id))
            session.commit()
    except SQLAlchemyError as e:
        raise InputError(f"the store cannot be written: {type(e).__name__}") from e
    return stored


def stored_cosignatures(engine: Engine, tree_size: int) -> dict[str, bytes]:
    """The stored co-signatures of the head of ``tree_size``, by bundle path
    (``witnesses/<key id>.json``), exact bytes.

    Raises:
        SQLAlchemyError: the store cannot be read.
    """
    with Session(engine) as session:
        rows = session.exec(select(WitnessCosignature)
                            .where(WitnessCosignature.tree_size == tree_size)).all()
        return {f"{WITNESS_DIR}/{r.witness_key_id}.json": r.content for r in rows}
