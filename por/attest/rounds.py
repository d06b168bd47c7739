"""Rounds and their attestations in the store: ``por round new``, ``por attest sign`` and
``por attest cosign``.

A round is signed once: its attestation's exact payload, its signatures, the exact bytes of
the ``root.json`` and reserves file it attests, and the wallet claims are written in one
transaction. Every figure comes from :func:`verifier.attestation.model.build_attestation`;
before signing, the signer checks what a verifier will check (the figures, and the reserves
against nodes unless told to skip them). A co-signer signs the same payload bytes, after
checking the exchange's signature and every figure; for a private round (spec §13.7) also
after recomputing the round's whole tree file (every commitment opened, every sum and hash).
"""

from __future__ import annotations

import hashlib
import mmap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from por.errors import InputError, UsageError, VerificationError
from por.keys import SigningKey
from por.store.models import (
    Attestation,
    AttestationSignature,
    LogEntry,
    Round,
    RoundFile,
    WalletClaim,
)
from verifier.attestation.model import (
    AnySummary,
    build_attestation,
    check_figures,
    compare_with_files,
    parse_any_summary,
    payload_hash,
)
from verifier.attestation.model import (
    Attestation as AttestationDoc,
)
from verifier.files import mapped_read_only
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import check_round_id
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import root_path, tree_path
from verifier.log.rfc6962 import hash_leaf
from verifier.private.proof import PrivateRoot
from verifier.private.treefile import PrivateTreeFile, audit_private_round, tree_root_hash
from verifier.reserves.challenge import check_exchange_name
from verifier.reserves.model import SOURCE_NODE, ReservesFile
from verifier.reserves.verify import Reader, verify_reserves
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyList

ROOT_KIND = "root"
RESERVES_KIND = "reserves"
RISK_KIND = "risk"  # a margin round's risk.json (spec §13.6), exact bytes


@dataclass(frozen=True)
class SignedRound:
    """A round's attestation as stored: the envelope, its parsed payload and its files."""

    signed: SignedDocument
    attestation: AttestationDoc
    root: bytes
    reserves: bytes
    risk: bytes | None = None


def _risk(summary: AnySummary, risk_bytes: bytes | None) -> RiskParams | None:
    """A margin round's risk file, parsed (its binding is checked with the figures).

    Raises:
        UsageError: a margin round without its risk file, or a spot round with one.
        FormatError: a malformed or non-canonical risk file.
    """
    margin = isinstance(summary, MarginRootSummary)
    if margin and risk_bytes is None:
        raise UsageError("root.json is of a margin round: give its risk file (--risk "
                         "risk.json), whose hash the root binds")
    if not margin and risk_bytes is not None:
        raise UsageError("--risk is for margin rounds; this root.json is of a spot round")
    return None if risk_bytes is None else RiskParams.from_json(risk_bytes, "risk file")


def _top_hash(summary: AnySummary, tree_bytes: bytes | mmap.mmap | None) -> bytes | None:
    """A private round's top node hash, from its tree file (spec §13.7).

    Raises:
        UsageError: a private round without its tree file, or a public round with one.
        FormatError: a malformed tree file.
        VerificationError: the tree file is not the tree of this root.
    """
    private = isinstance(summary, PrivateRoot)
    if private and tree_bytes is None:
        raise UsageError("root.json is of a private round: give its tree file (--tree "
                         "tree.bin), whose top node's hash the attestation carries")
    if not private and tree_bytes is not None:
        raise UsageError("--tree is for private rounds; this root.json is of a public round")
    if tree_bytes is None:
        return None
    tree = PrivateTreeFile(tree_bytes, "tree file")
    if tree_root_hash(tree) != summary.root_hash:
        raise VerificationError(f"the tree file's root is {tree_root_hash(tree).hex()}, not "
                                f"root.json's {summary.root_hash.hex()}")
    return tree.node(tree.levels, 0).hash


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time the store keeps is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def new_round(engine: Engine, round_id: str, exchange: str, snapshot_time: datetime) -> Round:
    """Record a new round; re-running with the same values is a no-op.

    Raises:
        FormatError: a malformed round id or exchange name.
        UsageError: the round exists with another exchange or snapshot time.
    """
    check_round_id(round_id)
    check_exchange_name(exchange)
    snapshot_time = snapshot_time.astimezone(UTC).replace(microsecond=0)
    with Session(engine) as session:
        existing = session.get(Round, round_id)
        if existing is not None:
            same = (existing.exchange == exchange and existing.snapshot_time is not None
                    and _utc(existing.snapshot_time) == snapshot_time)
            if not same:
                raise UsageError(f"round {round_id} already exists for {existing.exchange!r}"
                                 f" with snapshot time {existing.snapshot_time}")
            return existing
        record = Round(round_id=round_id, exchange=exchange, created_at=_now(),
                       snapshot_time=snapshot_time)
        session.add(record)
        session.commit()
        session.refresh(record)
        return record


def get_round(engine: Engine, round_id: str) -> Round:
    """The stored round.

    Raises:
        UsageError: no such round (run ``por round new`` first).
    """
    with Session(engine) as session:
        record = session.get(Round, round_id)
    if record is None:
        raise UsageError(f"no round {round_id!r} in the store; run `por round new` first")
    return record


def _published(session: Session, payload: bytes) -> int | None:
    entry = session.exec(select(LogEntry).where(LogEntry.leaf_hash == hash_leaf(payload))).first()
    return entry.leaf_index if entry else None


def last_logged_attestation(engine: Engine) -> bytes | None:
    """The hash of the last attestation in the log (the next round's ``previous``)."""
    with Session(engine) as session:
        entry = session.exec(
            select(LogEntry).order_by(col(LogEntry.leaf_index).desc()).limit(1)).first()
    return payload_hash(entry.entry) if entry else None


def _claims(round_id: str, reserves: ReservesFile) -> list[WalletClaim]:
    return [
        WalletClaim(round_id=round_id, chain=w.chain, address=w.address,
                    custody=w.custody.kind, asset=b.asset, amount=str(b.amount),
                    source=b.source,
                    counted=b.source == SOURCE_NODE and w.message == "round")
        for w in reserves.wallets for b in w.balances
    ]


def check_reserves_on_chain(reserves: ReservesFile, readers: Mapping[str, Reader], *,
                            accept_past_control: bool = False,
                            accept_noncanonical: frozenset[str] = frozenset()) -> None:
    """Verify the reserves file against the operator's nodes, as an auditor will (with the
    same ``--accept-*`` choices as ``por-verify reserves``).

    Raises:
        VerificationError: any finding of the reserves verifier, or a counted balance that
            the nodes did not confirm.
    """
    report = verify_reserves(reserves, readers, accept_past_control=accept_past_control,
                             accept_noncanonical=accept_noncanonical)
    if report.findings:
        report.raise_for_failures()


def sign_round(
    engine: Engine,
    round_id: str,
    root_bytes: bytes,
    reserves_bytes: bytes,
    key: SigningKey,
    *,
    readers: Mapping[str, Reader] | None,
    replace: bool = False,
    now: datetime | None = None,
    accept_past_control: bool = False,
    accept_noncanonical: frozenset[str] = frozenset(),
    risk_bytes: bytes | None = None,
    tree_bytes: bytes | mmap.mmap | None = None,
) -> SignedDocument:
    """Build, check, sign and store the round's attestation (``por attest sign``).

    Args:
        readers: the operator's nodes per chain, or None to sign without re-reading the
            chains (the caller has decided so, explicitly).
        replace: replace an attestation of this round that is not published yet.
        accept_past_control, accept_noncanonical: as ``por-verify reserves``'s
            ``--accept-*`` options, for the check with ``readers``; the attestation has
            no field for them, so the caller states them.
        risk_bytes: a margin round's ``risk.json`` (the file its root binds), stored and
            published with the round; None for a spot round.
        tree_bytes: a private round's ``tree.bin``, whose top node's hash the attestation
            carries so that anyone recomputes the root from public data (spec §13.7); it
            must be the tree of this root. None for a public round.

    Raises:
        UsageError: no such round; already signed (without ``replace``) or published; an
            earlier round is signed but not published (its link would break).
        VerificationError: the files are not of this round, or the reserves do not verify.
        FormatError: a malformed file.
    """
    record = get_round(engine, round_id)
    summary = parse_any_summary(root_bytes)
    risk = _risk(summary, risk_bytes)
    top_hash = _top_hash(summary, tree_bytes)
    reserves = ReservesFile.from_json(reserves_bytes, "reserves file")
    if summary.round_id != round_id:
        raise VerificationError(f"root.json is of round {summary.round_id!r}, not {round_id!r}")
    if readers is not None:
        check_reserves_on_chain(reserves, readers, accept_past_control=accept_past_control,
                                accept_noncanonical=accept_noncanonical)
    assert record.snapshot_time is not None, "rounds are created with a snapshot time"
    with Session(engine) as session:
        existing = session.exec(select(Attestation).where(Attestation.round_id == round_id)
                                ).first()
        if existing is not None:
            if _published(session, existing.payload) is not None:
                raise UsageError(f"round {round_id} is published; its attestation is final")
            if not replace:
                raise UsageError(f"round {round_id} is already signed; pass --replace to sign "
                                 "it again (its co-signatures are dropped)")
        pending = [a.round_id for a in session.exec(select(Attestation))
                   if a.round_id != round_id and _published(session, a.payload) is None]
        if pending:
            raise UsageError(f"round(s) {pending} are signed but not published; publish them "
                             "first, so this attestation can name the previous one")
    att = build_attestation(
        record.exchange, summary, reserves, snapshot_time=_utc(record.snapshot_time),
        attested_at=now or _now(), key_id=key.public.key_id,
        previous=last_logged_attestation(engine), signer_read_reserves=readers is not None,
        risk=risk, top_hash=top_hash)
    problems = check_figures(att) + compare_with_files(att, summary, reserves, risk)
    if problems:  # pragma: no cover - the builder and the checker share every function
        raise VerificationError("; ".join(str(p) for p in problems))
    signed = key.sign_document(att.to_dict())
    with Session(engine) as session:
        if existing is not None:
            old = session.get(Attestation, existing.id)
            session.exec(delete(AttestationSignature).where(
                col(AttestationSignature.attestation_id) == existing.id))
            for table in (RoundFile, WalletClaim):
                session.exec(delete(table).where(
                    col(table.round_id) == round_id))
            session.delete(old)
            session.flush()
        row = Attestation(round_id=round_id, payload_sha256=payload_hash(signed.payload).hex(),
                          payload=signed.payload, created_at=_now())
        session.add(row)
        session.flush()
        assert row.id is not None
        session.add(AttestationSignature(attestation_id=row.id, key_id=key.public.key_id,
                                         signature=signed.signatures[0].signature))
        kept = [(ROOT_KIND, root_bytes), (RESERVES_KIND, reserves_bytes)]
        if risk_bytes is not None:
            kept.append((RISK_KIND, risk_bytes))
        for kind, data in kept:
            session.add(RoundFile(round_id=round_id, kind=kind,
                                  sha256=hashlib.sha256(data).hexdigest(), content=data))
        session.add_all(_claims(round_id, reserves))
        session.commit()
    return signed


def load_round(engine: Engine, round_id: str) -> SignedRound:
    """The round's stored attestation with every signature (in the order they were added).

    Raises:
        UsageError: the round is not signed.
    """
    with Session(engine) as session:
        row = session.exec(select(Attestation).where(Attestation.round_id == round_id)).first()
        if row is None:
            raise UsageError(f"round {round_id!r} has no attestation; run `por attest sign`")
        sigs = session.exec(select(AttestationSignature)
                            .where(AttestationSignature.attestation_id == row.id)
                            .order_by(col(AttestationSignature.id))).all()
        files = {f.kind: f.content for f in session.exec(
            select(RoundFile).where(RoundFile.round_id == round_id))}
    signed = SignedDocument.from_payload(row.payload, [Signature(s.key_id, s.signature)
                                                       for s in sigs])
    return SignedRound(signed, AttestationDoc.from_dict(signed.document), files[ROOT_KIND],
                       files[RESERVES_KIND], files.get(RISK_KIND))


def check_signed_round(stored: SignedRound, keys: KeyList) -> None:
    """Check the exchange's signature (key valid at signing) and every figure.

    Raises:
        VerificationError: the signature or a figure does not hold.
    """
    att = stored.attestation
    if keys.exchange != att.exchange:
        raise VerificationError(f"the key list is of {keys.exchange!r}, the attestation of "
                                f"{att.exchange!r}")
    stored.signed.verify_signed_by(keys.key(att.key_id, att.attested_at), "attestation")
    summary = parse_any_summary(stored.root)
    risk = None if stored.risk is None else RiskParams.from_json(stored.risk, "risk file")
    reserves = ReservesFile.from_json(stored.reserves, "reserves file")
    problems = check_figures(att) + compare_with_files(att, summary, reserves, risk)
    if problems:
        raise VerificationError("; ".join(str(p) for p in problems))


def _read_round_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e.strerror}") from e


def audit_private_round_dir(stored: SignedRound, round_dir: Path) -> None:
    """The co-signer's recomputation of a private round (spec §13.7, §16.10): ``round_dir``'s
    ``root.json`` must be byte for byte the attested one, and its ``tree.bin`` must
    recompute, every commitment opening to its value and blinding, every parent the sum of
    its children, every hash, up to the attested root, with no finding at all.

    Raises:
        VerificationError: root.json differs from the attested bytes, or any finding.
        FormatError: the tree file's layout is malformed.
        InputError: a file cannot be read.
    """
    root_bytes = _read_round_file(root_path(round_dir), "round's root.json")
    if root_bytes != stored.root:
        raise VerificationError(
            f"{root_path(round_dir)} is not the attested root.json (SHA-256 "
            f"{hashlib.sha256(root_bytes).hexdigest()[:16]}.., attested "
            f"{hashlib.sha256(stored.root).hexdigest()[:16]}..): the tree checked would not be "
            "the tree signed")
    summary = PrivateRoot.from_json(stored.root, "attested root.json")
    with mapped_read_only(tree_path(round_dir), "round's tree file", InputError) as data:
        tree = PrivateTreeFile(data, str(tree_path(round_dir)))
        audit = audit_private_round(tree, summary, stored.attestation.liabilities.root_hash)
    if audit.findings:
        raise VerificationError(
            f"{tree_path(round_dir)}: {len(audit.findings)} finding(s), not co-signed: "
            + "; ".join(audit.findings[:10]))


def cosign_round(engine: Engine, round_id: str, key: SigningKey, keys: KeyList,
                 round_dir: Path | None = None) -> SignedRound:
    """Add ``key``'s co-signature over the round's exact payload (``por attest cosign``).

    The co-signer first checks the exchange's signature and recomputes every figure from
    the attested files; it never signs what it could not check. A private round (spec
    §13.7) needs ``round_dir``, whose tree file it recomputes in full first
    (:func:`audit_private_round_dir`); a public round's co-signature takes none.

    Raises:
        UsageError: the round is not signed, this key has signed it already, or
            ``round_dir`` is missing for a private round or given for a public one.
        VerificationError: the exchange's signature, a figure, or (private) the tree file
            or root.json does not hold.
    """
    stored = load_round(engine, round_id)
    check_signed_round(stored, keys)
    if stored.attestation.liabilities.private is not None:
        if round_dir is None:
            raise UsageError(f"round {round_id} is a private round: give --round-dir with its "
                             "root.json and tree.bin, whose every commitment, sum and hash is "
                             "recomputed before co-signing (spec §13.7)")
        audit_private_round_dir(stored, round_dir)
    elif round_dir is not None:
        raise UsageError(f"--round-dir is for private rounds; round {round_id} is a "
                         f"{stored.attestation.liabilities.kind} round, co-signed from its "
                         "attested files")
    signed = key.cosign(stored.signed)
    with Session(engine) as session:
        row = session.exec(select(Attestation).where(Attestation.round_id == round_id)).one()
        assert row.id is not None
        session.add(AttestationSignature(attestation_id=row.id, key_id=key.public.key_id,
                                         signature=signed.signatures[-1].signature))
        session.commit()
    return SignedRound(signed, stored.attestation, stored.root, stored.reserves, stored.risk)

