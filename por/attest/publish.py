"""``por publish``: append a round's attestation to the log and write its public bundle.

Atomic and idempotent (spec §13.4): the log append stores the entry and the signed tree
head of the new size in one transaction, and is skipped when the attestation is already in
the log; the bundle is derived from the store alone (exact bytes, proofs recomputed), written
into a fresh temporary directory with every file fsynced, and renamed into place. Killed at
any point and re-run, publishing ends with exactly one log entry for the round, a tree head
for every size, and a complete bundle. :func:`_reached` marks the :data:`STEPS` where the
kill tests make the process die (tests/support/publish_killer.py replaces it there).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from por.attest.rounds import SignedRound, check_signed_round, load_round
from por.errors import PorError, UsageError, VerificationError
from por.keys import SigningKey
from por.log import appender
from por.log.witness_files import stored_cosignatures
from por.store.models import Attestation, AttestationSignature, LogEntry
from verifier.attestation import bundle as layout
from verifier.attestation.model import payload_hash
from verifier.files import fsync_dir
from verifier.log.rfc6962 import hash_leaf
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyList

# The steps publishing passes: after loading; after the append; after the first bundle
# file; with the new bundle written but not in place; with the old bundle moved aside and
# the new one not yet in.
STEPS = ("loaded", "appended", "bundle-file", "bundle-written", "between-renames")


def _reached(step: str) -> None:
    """Publishing has reached ``step`` (one of :data:`STEPS`); nothing to do here."""


class BundleWriteError(PorError):
    """The bundle could not be written (a full disk, a file size limit, permissions);
    nothing half-written is left, and the log append, if done, stays (re-run publish)."""


@dataclass(frozen=True)
class Published:
    """Where the round's attestation sits in the log, and where its bundle is."""

    leaf_index: int
    tree_size: int
    appended: bool
    bundle: Path
    bundle_changed: bool


def _envelope_of(session: Session, payload: bytes) -> SignedDocument:
    digest = payload_hash(payload).hex()
    row = session.exec(select(Attestation).where(Attestation.payload_sha256 == digest)).one()
    sigs = session.exec(select(AttestationSignature)
                        .where(AttestationSignature.attestation_id == row.id)
                        .order_by(col(AttestationSignature.id))).all()
    return SignedDocument.from_payload(payload, [Signature(s.key_id, s.signature) for s in sigs])


def bundle_files(engine: Engine, stored: SignedRound, leaf_index: int,
                 keylist: bytes) -> dict[str, bytes]:
    """The round's bundle, file by file, derived from the store (spec §13.4).

    The tree head is the one of size ``leaf_index + 1`` (signed when this round was
    appended), so the bundle is the same whenever it is written; consistency proofs go from
    every earlier size to it, so a verifier that last saw any earlier head can link it.
    A margin round's bundle also holds its ``risk.json``. Witnesses' co-signatures of
    that head kept in the store (``por witness add --db``) go
    in as ``witnesses/<key id>.json`` (spec §14.3), so re-publishing keeps them.
    """
    size = leaf_index + 1
    files = {
        layout.ATTESTATION_FILE: stored.signed.to_json().encode(),
        layout.ROOT_FILE: stored.root,
        layout.RESERVES_FILE: stored.reserves,
        layout.KEYLIST_FILE: keylist,
        layout.TREE_HEAD_FILE: appender.tree_head(engine, size).signed.to_json().encode(),
        layout.INCLUSION_FILE:
            appender.prove_inclusion(engine, leaf_index, size).to_json().encode() + b"\n",
    }
    if stored.risk is not None:  # a margin round's risk parameters (spec §13.6)
        files[layout.RISK_FILE] = stored.risk
    for old in range(1, size):
        files[layout.consistency_name(old)] = (
            appender.prove_consistency(engine, old, size).to_json().encode() + b"\n")
    if leaf_index > 0:
        with Session(engine) as session:
            previous = session.get(LogEntry, leaf_index - 1)
            assert previous is not None
            envelope = _envelope_of(session, previous.entry)
        files[layout.PREVIOUS_ATTESTATION_FILE] = envelope.to_json().encode()
        files[layout.PREVIOUS_INCLUSION_FILE] = (
            appender.prove_inclusion(engine, leaf_index - 1, size).to_json().encode() + b"\n")
    files.update(stored_cosignatures(engine, size))
    return files


def _read_tree(directory: Path) -> dict[str, bytes] | None:
    if not directory.is_dir():
        return None
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _write_tree(directory: Path, files: dict[str, bytes]) -> None:
    directory.mkdir(parents=True)
    for i, (name, data) in enumerate(sorted(files.items())):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if i == 0:
            _reached("bundle-file")
    for sub in {(directory / n).parent for n in files}:
        fsync_dir(sub)


def _clean_leftovers(out: Path) -> None:
    """Remove what a killed run left beside the bundle (temporary and set-aside copies)."""
    for stale in out.parent.glob(f".{out.name}.*-*"):
        shutil.rmtree(stale, ignore_errors=True)


def write_bundle(out: Path, files: dict[str, bytes]) -> bool:
    """Put ``files`` at ``out`` as a whole; return whether anything changed.

    The new bundle is written beside ``out`` and renamed into place; an existing bundle is
    first renamed aside, so a reader sees the old bundle, no bundle for an instant, or the
    new one, never a mixture.

    Raises:
        BundleWriteError: a write, fsync or rename failed (a full disk, say): the temporary
            copy is removed and the old bundle, if any, is back in place.
    """
    out = out.absolute()
    tmp = out.parent / f".{out.name}.new-{os.getpid()}"
    aside = out.parent / f".{out.name}.old-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(out)
        if _read_tree(out) == files:
            return False
        _write_tree(tmp, files)
        _reached("bundle-written")
        if out.exists():
            os.rename(out, aside)
            _reached("between-renames")
            os.rename(tmp, out)
            fsync_dir(out.parent)
            shutil.rmtree(aside)
        else:
            os.rename(tmp, out)
            fsync_dir(out.parent)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside.exists() and not out.exists():
            os.rename(aside, out)
        raise BundleWriteError(f"cannot write the bundle {out}: {e.strerror or e}; nothing "
                               "was left half-written (the log entry, if appended, is kept: "
                               "re-run `por publish` once there is room)") from e
    return True


def publish_round(
    engine: Engine,
    round_id: str,
    key: SigningKey,
    keylist: bytes,
    out: Path,
    *,
    log_name: str | None = None,
    now: datetime | None = None,
) -> Published:
    """Append the round's attestation to the log (once) and write its bundle to ``out``.

    Raises:
        UsageError: the round is not signed; the log's last entry is not the attestation
            this one names as previous (sign it again); the signing key is not the key
            list's current key; another log name than the log's.
        VerificationError: the attestation's signature or figures do not hold, or the
            stored log does not match its tree heads.
    """
    stored = load_round(engine, round_id)
    keys = KeyList.from_json(keylist)
    check_signed_round(stored, keys)
    if key.public.key_id != keys.current.key_id:
        # A wrong key for a well-formed key list: a failed check (exit 1), spec §9.
        raise VerificationError(f"the log is signed with the key list's current key "
                                f"{keys.current.key_id}, not {key.public.key_id}")
    latest = appender.latest_tree_head(engine)
    log = latest.head.log if latest else (log_name or stored.attestation.exchange)
    if log_name is not None and log_name != log:
        raise UsageError(f"the log is named {log!r}, not {log_name!r}")
    _reached("loaded")
    payload = stored.signed.payload
    with Session(engine) as session:
        entry = session.exec(select(LogEntry).where(LogEntry.leaf_hash == hash_leaf(payload))
                             ).first()
        last = session.exec(select(LogEntry).order_by(col(LogEntry.leaf_index).desc())
                            .limit(1)).first()
    appended = False
    if entry is None:
        previous = payload_hash(last.entry) if last else None
        if previous != stored.attestation.previous:
            raise UsageError(
                f"round {round_id}'s attestation names previous "
                f"{stored.attestation.previous.hex() if stored.attestation.previous else None}"
                f", but the log's last entry is {previous.hex() if previous else 'none'}: "
                "sign it again (`por attest sign --replace`)")
        # A tree head is never dated before the attestation it covers was signed.
        moment = max(now or datetime.now(UTC), stored.attestation.attested_at)
        done = appender.append(engine, log, payload, key, moment, keylist=keylist)
        leaf_index, appended = done.leaf_index, done.new
    else:
        leaf_index = entry.leaf_index
    _reached("appended")
    files = bundle_files(engine, stored, leaf_index, keylist)
    changed = write_bundle(out, files)
    return Published(leaf_index, leaf_index + 1, appended, out, changed)
