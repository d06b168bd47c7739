"""What the service publishes, read from where ``por`` keeps it: the store (rounds,
attestations with their exact bytes and signatures, the exact bytes of each attested round's
``root.json`` and reserves file, the log and its signed tree heads) and the rounds directory
(per round: ``root.json`` and ``reserves.json`` of rounds not attested yet, ``tree.bin`` and
the sealed ``proof-tokens.bin``), plus the key list and the auditors' keys.

A round's ``root.json`` and reserves file are read from the store's ``round_files`` first
(the bytes the attestation was signed over) and from the round directory only when the
store has none. The bundle download is built from the store by the same function ``por
publish`` writes it with, and each round is judged by the verifier's own bundle check of
exactly that bundle (:func:`check_bundle`, called from one place,
:meth:`Publication.attestation_check`): the page and the API show its verdict, finding codes
and messages, which are those of ``por-verify bundle --skip-chain`` with the same auditor
keys.

Every file is parsed with the verifier's strict readers when it is first read and again
whenever it changes (on disk by size, inode and mtime; in the store by SHA-256), so a
malformed file is reported as unavailable instead of being served, and re-issued tokens
take effect without a restart. Nothing here is returned as is: :mod:`api.app` turns it into
the public models.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from por.attest.publish import bundle_files
from por.attest.rounds import RESERVES_KIND, RISK_KIND, ROOT_KIND, load_round
from por.errors import InputError
from por.liabilities.tokens import TOKEN_FILE, TokenIndex
from por.log import appender
from por.log.witness_files import stored_cosignatures
from por.store.models import Attestation, AttestationSignature, LogEntry, Round, RoundFile
from verifier.attestation.bundle import (
    RESERVES_FILE,
    RISK_FILE,
    ROOT_FILE,
    BundleOptions,
    BundleReport,
    verify_bundle,
)
from verifier.attestation.model import (
    AnySummary,
    Finding,
    liabilities_figures,
    parse_any_summary,
    reserves_figures,
    solvency_lines,
)
from verifier.attestation.model import Attestation as AttestationDoc
from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, PorError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import check_round_id
from verifier.liabilities.risk import RiskParams
from verifier.log.rfc6962 import hash_leaf
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead
from verifier.reserves.model import ReservesFile
from verifier.reserves.verify import verify_reserves
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyList
from verifier.signed.keys import PublicKey

T = TypeVar("T")
# Findings of an offline reserves check that mean the wallet's own claim is bad.
_WALLET_FAILURES = frozenset(
    {
        "unknown-chain",
        "undecodable-address",
        "duplicate-address",
        "unknown-scheme",
        "malformed-signature",
        "bad-signature",
        "stale-message",
        "static-not-allowed",
    }
)


class Unavailable(Exception):
    """What was asked for is not published (or not readable): the API answers 404."""


@dataclass(frozen=True)
class StoredRound:
    """A round's row in the store, without internal ids."""

    round_id: str
    exchange: str
    created_at: datetime
    snapshot_time: datetime | None = None


@dataclass(frozen=True)
class StoredAttestation:
    """A round's attestation: exact payload, its hash, signatures, and its log index."""

    round_id: str
    payload: bytes
    payload_sha256: str
    signatures: tuple[tuple[str, bytes], ...]
    log_index: int | None


@dataclass(frozen=True)
class SignerCheck:
    """One signature over an attestation: whose key, and what the bundle check said of it.

    ``role``: ``exchange`` (the key the payload names), ``auditor`` (a key given to ``por
    serve --auditor-key``) or ``unknown``; ``status``: ``verified``, ``failed`` or
    ``not-checked`` (a key the server does not know, or a bundle that did not parse).
    """

    key_id: str
    label: str | None
    role: str
    status: str


VERDICT_VERIFIED = "verified"
VERDICT_FAILED = "failed"
VERDICT_MALFORMED = "malformed"  # por-verify bundle would exit 2
VERDICT_NOT_IN_LOG = "not-in-log"  # no bundle yet: nothing for a verifier to check


@dataclass(frozen=True)
class BundleCheck:
    """The verifier's report on a round's bundle: verdict, findings (the verifier's own
    codes and messages), what passed and its notes."""

    verdict: str
    findings: tuple[Finding, ...]
    passed: tuple[str, ...]
    notes: tuple[str, ...]
    report: BundleReport | None
    as_of: datetime | None = None  # the tree head's time the round was judged at
    known_witnesses: int = 0  # distinct witness keys the server was given


@dataclass(frozen=True)
class AttestationCheck:
    """A stored attestation as signed, and the verifier's check of its bundle.

    ``attestation`` is None when the payload does not parse. ``served`` holds what the
    server found about its own files beyond the bundle (a round directory whose root.json
    is not the attested one serves proofs that cannot verify): shown, never hidden, but
    not part of the bundle's verdict.
    """

    stored: StoredAttestation
    attestation: AttestationDoc | None
    signers: tuple[SignerCheck, ...]
    check: BundleCheck
    served: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        """The bundle check passed."""
        return self.check.verdict == VERDICT_VERIFIED

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The bundle check's findings."""
        return self.check.findings


@dataclass(frozen=True)
class WalletCheck:
    """The server's offline check of one wallet's signature."""

    status: str
    note: str


@dataclass(frozen=True)
class LoadedReserves:
    """A parsed reserves file with the offline check of each wallet."""

    file: ReservesFile
    checks: tuple[WalletCheck, ...]


class _FileCache:
    """Values parsed from files, re-parsed when a file's (size, inode, mtime) changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Path, str], tuple[tuple[int, int, int], Any]] = {}

    def get(self, path: Path, kind: str, parse: Callable[[Path], T]) -> T:
        try:
            st = path.stat()
        except OSError as e:
            raise Unavailable("not published") from e
        stamp = (st.st_size, st.st_ino, st.st_mtime_ns)
        with self._lock:
            hit = self._entries.get((path, kind))
            if hit is not None and hit[0] == stamp:
                return hit[1]  # type: ignore[no-any-return]
        value = parse(path)
        with self._lock:
            # A replaced token index: the old mapping goes with its entry (closed when
            # collected), so a request still reading it finishes on the old file.
            self._entries[(path, kind)] = (stamp, value)
        return value


def _check_wallets(reserves: ReservesFile) -> tuple[WalletCheck, ...]:
    """Check every wallet's signature offline (no node: balances stay unconfirmed).

    A contract wallet's (EIP-1271) signature is judged by the contract at the snapshot
    block, so without a node its ``bad-signature`` finding means "needs a node", by scheme
    and finding code; any other finding of that wallet is still a failure.
    """
    try:
        report = verify_reserves(reserves, {})
    except PorError:
        return tuple(
            WalletCheck("failed", "the file could not be checked") for _ in reserves.wallets
        )
    failed: dict[int, str] = {}
    needs_node: set[int] = set()
    for finding in report.findings:
        if finding.wallet is None or finding.code not in _WALLET_FAILURES:
            continue
        wallet = reserves.wallets[finding.wallet]
        scheme = wallet.signature.scheme if wallet.signature else None
        if scheme == "eip1271" and finding.code == "bad-signature":
            needs_node.add(finding.wallet)
        else:
            failed.setdefault(finding.wallet, f"{finding.code}: {finding.message}")
    checks = []
    for index, wallet in enumerate(reserves.wallets):
        if index in failed:
            checks.append(WalletCheck("failed", failed[index]))
        elif index in needs_node:
            checks.append(WalletCheck(
                "needs-node", "a contract wallet (EIP-1271): its signature is judged by the "
                "contract at the snapshot block, which this server does not read; check it "
                "with por-verify bundle --rpc"))
        elif wallet.message == "static":
            checks.append(
                WalletCheck("verified", "signature over the static message: past control only")
            )
        else:
            checks.append(WalletCheck("verified", "signature over this round's message"))
    return tuple(checks)


def _parse_reserves(raw: bytes) -> LoadedReserves:
    try:
        parsed = ReservesFile.from_json(raw, RESERVES_FILE)
    except FormatError as e:
        raise Unavailable(f"{RESERVES_FILE} is not readable") from e
    return LoadedReserves(parsed, _check_wallets(parsed))


def _load_reserves(path: Path) -> LoadedReserves:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise Unavailable(f"{RESERVES_FILE} is not readable") from e
    return _parse_reserves(raw)


def _parse_root(raw: bytes) -> tuple[bytes, AnySummary]:
    try:
        # spot (§8.1), margin (§15.10) or private (§16.7): the verifier's one reader
        return raw, parse_any_summary(raw, ROOT_FILE)
    except FormatError as e:
        raise Unavailable(f"{ROOT_FILE} is not readable") from e


def solvency_rows(summary: AnySummary, reserves: ReservesFile | None) -> list[dict[str, Any]]:
    """Per asset, the solvency figures recomputed from the files by the attestation's own
    functions (one way of computing a figure only), as JSON objects of the API's
    ``AssetSolvency``; a margin round's lines set reserves against net liabilities (total
    equity − total debt, spec §13.6) with the totals beside them. Without a reserves file
    (or with other decimals in it), every liability is uncovered and no reserve is shown."""
    liabilities = liabilities_figures(summary)
    # A private round (spec §13.7): liabilities = committed total x 10^e, shown beside it.
    extra: list[dict[str, Any]] = [{} for _ in liabilities.assets]
    if liabilities.private is not None:
        extra = [{"committed_total": str(t), "unit_exponent": a.unit_exponent}
                 for t, a in zip(liabilities.private.totals, liabilities.private.assets,
                                 strict=True)]
    if reserves is not None:
        try:
            lines = solvency_lines(liabilities, reserves_figures(reserves))
            return [s.to_dict() | (extra[k] if k < len(extra) else {})
                    for k, s in enumerate(lines)]
        except PorError:
            pass  # decimals differ: the figures are not comparable
    rows = []
    for k, (asset, owed) in enumerate(zip(liabilities.assets, liabilities.totals, strict=True)):
        row: dict[str, Any] = {"symbol": asset.symbol, "decimals": asset.decimals,
                               "liabilities": str(owed), "reserves": None, "ratio": None,
                               "surplus": "0", "shortfall": str(owed), "status": None}
        row |= extra[k]
        if liabilities.positions is not None:
            p = liabilities.positions[k]
            row |= {"total_equity": str(p.equity), "total_debt": str(p.debt),
                    "total_collateral": str(p.collateral)}
        rows.append(row)
    return rows


def _load_root(path: Path) -> tuple[bytes, AnySummary]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise Unavailable(f"{ROOT_FILE} is not readable") from e
    return _parse_root(raw)


def load_public_key(path: Path) -> PublicKey:
    """An auditor's public key file (``por-public-key`` JSON).

    Raises:
        InputError: unreadable or not a public key.
    """
    try:
        return PublicKey.from_dict(sj.loads(path.read_bytes(), str(path)), str(path))
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    except PorError as e:
        raise InputError(f"{path}: not a public key: {e}") from e


def check_bundle(files: Mapping[str, bytes], auditors: tuple[PublicKey, ...],
                 witnesses: tuple[PublicKey, ...] = (),
                 witness_quorum: int | None = None) -> BundleCheck:
    """The verifier's own bundle check (:func:`verifier.attestation.bundle.verify_bundle`)
    of a bundle built by ``por publish``'s function: the ONE place the page and the API
    judge a round, so they say what ``por-verify bundle --skip-chain --auditor-key ...
    --witness-key ... --pin KEY --now HEAD_TIME`` says of the same bytes, with the options
    built by the same constructor (:meth:`BundleOptions.choose`).

    Semantics stated on the page: chains are not re-read (``--skip-chain``), the auditors
    and witnesses are the keys this server was given (each auditor must have co-signed; the
    witnesses' quorum is ``witness_quorum``, None: all of them), the key list is the server's
    own (the anchor, as a pin) and no tree head is remembered (the server is the exchange's
    own: its memory is no evidence). Each round is judged as of its tree head's time (a
    past round's head is old by design), which the page states; whether the log is fresh
    now is :func:`freshness`'s, shown apart.
    """
    try:
        keys = KeyList.from_json(files["keylist.json"])
        moment = SignedTreeHead.from_json(files["tree-head.json"]).head.timestamp
        report = verify_bundle(files, BundleOptions.choose(
            skip_chain=True, auditors=auditors, pinned_key_id=keys.identity, now=moment,
            witness_keys=witnesses, witness_quorum=witness_quorum))
    except FormatError as e:  # por-verify bundle exits 2: the bundle is not well formed
        return BundleCheck(VERDICT_MALFORMED, (Finding("malformed", str(e)),), (), (), None)
    except PorError as e:  # anything else the verifier raises: fail closed
        return BundleCheck(VERDICT_FAILED, (Finding("error", str(e)),), (), (), None)
    except ModuleNotFoundError as e:  # a private round without the [private] extra: fail closed
        return BundleCheck(VERDICT_FAILED, (Finding("error", f"this server cannot check the "
                                                    f"round: {e.name} is not installed (the "
                                                    "[private] extra, spec §13.7)"),),
                           (), (), None)
    verdict = VERDICT_VERIFIED if report.ok else VERDICT_FAILED
    return BundleCheck(verdict, tuple(report.findings), tuple(report.passed),
                       tuple(report.notes), report, moment,
                       len({w.key_id for w in witnesses}))


@dataclass(frozen=True)
class Freshness:
    """Whether the log's latest signed tree head is recent, by the verifier's own rule
    (spec §12.2: at most ``max_age`` old at ``now``, the clock): ``ok`` is False exactly when
    ``por-verify bundle`` would report ``stale`` for a bundle of that head."""

    ok: bool
    head_time: datetime
    now: datetime
    max_age: timedelta

    @property
    def days(self) -> int:
        """Whole days since the head was signed."""
        return (self.now - self.head_time).days


def freshness(head: SignedTreeHead, now: datetime | None = None) -> Freshness:
    """How fresh the log's latest signed head is at ``now`` (None: the clock), judged by the
    verifier's default maximum age (the options' constructor, as ``por-verify bundle``)."""
    options = BundleOptions.choose(now=now)
    moment = options.now or datetime.now(UTC).replace(microsecond=0)
    stale = moment - head.head.timestamp > options.max_age
    return Freshness(not stale, head.head.timestamp, moment, options.max_age)


def _parse_signed(found: StoredAttestation) -> AttestationDoc | None:
    try:
        doc = SignedDocument.from_payload(
            found.payload, [Signature(k, sig) for k, sig in found.signatures])
        return AttestationDoc.from_dict(doc.document)
    except PorError:
        return None


def _signers(found: StoredAttestation, att: AttestationDoc | None, keys: KeyList | None,
             auditors: dict[str, PublicKey], check: BundleCheck) -> tuple[SignerCheck, ...]:
    """Who signed, by key id and label, and what the bundle check said of it."""
    codes = {f.code for f in check.findings}
    listed = {e.key.key_id: e.key for e in keys.entries} if keys else {}
    out = []
    for key_id, _ in found.signatures:
        if att is not None and key_id == att.key_id:
            key, role = listed.get(key_id), "exchange"
            failed = "signature" in codes or key is None
        elif key_id in auditors:
            key, role = auditors[key_id], "auditor"
            failed = "auditor-signature" in codes
        else:
            out.append(SignerCheck(key_id, None, "unknown", "not-checked"))
            continue
        status = "not-checked" if check.verdict == VERDICT_MALFORMED else (
            "failed" if failed else "verified")
        out.append(SignerCheck(key_id, key.label if key else None, role, status))
    return tuple(out)


def _load_tokens(path: Path) -> TokenIndex:
    try:
        return TokenIndex(path.parent)
    except InputError as e:
        raise Unavailable("no token index") from e


def _load_keylist(path: Path) -> tuple[bytes, KeyList]:
    try:
        raw = path.read_bytes()
        return raw, KeyList.from_json(raw)
    except (OSError, PorError) as e:
        raise Unavailable("the key list is not readable") from e


class Publication:
    """The service's view of what the exchange has published."""

    def __init__(
        self,
        engine: Engine | None,
        rounds_dir: Path | None,
        keylist: Path | None = None,
        auditor_keys: tuple[PublicKey, ...] = (),
        witness_keys: tuple[PublicKey, ...] = (),
        witness_quorum: int | None = None,
    ) -> None:
        """Read from ``engine`` (the store), ``rounds_dir`` and ``keylist``; any may be absent.

        ``auditor_keys`` name and check the auditors' co-signatures; ``witness_keys`` the
        witnesses' co-signatures of tree heads, of which ``witness_quorum`` must verify
        (None: all). Nothing is read here; each request reads what it needs (files through
        a cache).
        """
        self.engine = engine
        self.rounds_dir = rounds_dir
        self.keylist_path = keylist
        self.auditor_keys = {k.key_id: k for k in auditor_keys}
        self.witness_keys = {k.key_id: k for k in witness_keys}
        self.witness_quorum = witness_quorum
        self._files = _FileCache()
        self._token_dirs: tuple[float, list[Path]] | None = None
        self._parsed_lock = threading.Lock()
        self._parsed: dict[tuple[str, str], Any] = {}  # (kind, sha256 of bytes) -> parsed

    def _parsed_once(self, kind: str, raw: bytes, parse: Callable[[bytes], T]) -> T:
        """``parse(raw)``, remembered by the bytes' SHA-256 (the store's files and checks)."""
        key = (kind, hashlib.sha256(raw).hexdigest())
        with self._parsed_lock:
            if key in self._parsed:
                return self._parsed[key]  # type: ignore[no-any-return]
        value = parse(raw)
        with self._parsed_lock:
            if len(self._parsed) > 4096:
                self._parsed.clear()  # bounded: rounds are few, but the store may change
            self._parsed[key] = value
        return value

    # --- rounds -------------------------------------------------------------------------

    def _round_dir(self, round_id: str) -> Path:
        try:
            check_round_id(round_id)
        except FormatError as e:
            raise Unavailable("no such round") from e
        if self.rounds_dir is None:
            raise Unavailable("no such round")
        return self.rounds_dir / round_id

    def stored_rounds(self) -> dict[str, StoredRound]:
        """The store's rounds by id (empty without a store).

        Raises:
            Unavailable: the store cannot be read.
        """
        if self.engine is None:
            return {}
        try:
            with Session(self.engine) as session:
                rows = session.exec(select(Round)).all()
        except SQLAlchemyError as e:
            raise Unavailable("the store cannot be read") from e
        return {r.round_id: StoredRound(r.round_id, r.exchange, r.created_at, r.snapshot_time)
                for r in rows}

    def store_file(self, round_id: str, kind: str) -> bytes | None:
        """The exact bytes of a round's attested file (``root`` or ``reserves``), if stored.

        Raises:
            Unavailable: the store cannot be read.
        """
        if self.engine is None:
            return None
        try:
            with Session(self.engine) as session:
                row = session.get(RoundFile, (round_id, kind))
                return row.content if row is not None else None
        except SQLAlchemyError as e:
            raise Unavailable("the store cannot be read") from e

    def round_ids(self) -> list[str]:
        """Every round that has a readable root summary, newest first (by snapshot time in
        the store, else by the time it was recorded, else by round id)."""
        stored = self.stored_rounds()
        found: set[str] = set()
        if self.engine is not None:
            try:
                with Session(self.engine) as session:
                    found.update(session.exec(
                        select(RoundFile.round_id).where(RoundFile.kind == ROOT_KIND)).all())
            except SQLAlchemyError as e:
                raise Unavailable("the store cannot be read") from e
        if self.rounds_dir is not None and self.rounds_dir.is_dir():
            for child in self.rounds_dir.iterdir():
                if (child / ROOT_FILE).is_file():
                    found.add(child.name)
        ids = []
        for round_id in found:
            try:
                self.root(round_id)
            except Unavailable:
                continue
            ids.append(round_id)

        def order(round_id: str) -> tuple[str, str]:
            row = stored.get(round_id)
            when = (row.snapshot_time or row.created_at) if row else None
            return (when.replace(tzinfo=None).isoformat() if when else "", round_id)

        return sorted(ids, key=order, reverse=True)

    def root(self, round_id: str) -> tuple[bytes, AnySummary]:
        """The round's root summary, exact bytes and parsed: the attested one from the store,
        else the round directory's.

        Raises:
            Unavailable: no such round, or its root.json is unreadable or of another round.
        """
        check = self._round_dir(round_id)
        stored = self.store_file(round_id, ROOT_KIND)
        if stored is not None:
            raw, summary = self._parsed_once("root", stored, lambda b: _parse_root(b))
        else:
            raw, summary = self._files.get(check / ROOT_FILE, "root", _load_root)
        if summary.round_id != round_id:
            raise Unavailable("no such round")
        return raw, summary

    def directory_root(self, round_id: str) -> bytes | None:
        """The round directory's own ``root.json`` bytes (proof tokens are served from that
        directory's tree), or None."""
        try:
            raw, _ = self._files.get(self._round_dir(round_id) / ROOT_FILE, "root", _load_root)
        except Unavailable:
            return None
        return raw

    def risk(self, round_id: str) -> bytes:
        """A margin round's ``risk.json``, exact bytes: the attested one from the store,
        else the round directory's, only if its hash is the one the round's root binds.

        Raises:
            Unavailable: not a margin round, or no readable risk file bound to its root.
        """
        _, summary = self.root(round_id)
        if not isinstance(summary, MarginRootSummary):
            raise Unavailable("not a margin round: no risk file")
        raw = self.store_file(round_id, RISK_KIND)
        if raw is None:
            try:
                raw = (self._round_dir(round_id) / RISK_FILE).read_bytes()
            except OSError as e:
                raise Unavailable(f"{RISK_FILE} is not readable") from e
        try:
            risk = self._parsed_once("risk", raw, lambda b: RiskParams.from_json(b, RISK_FILE))
        except FormatError as e:
            raise Unavailable(f"{RISK_FILE} is not readable") from e
        if risk.hash != summary.risk_hash:
            raise Unavailable(f"{RISK_FILE} is not the file the round's root binds")
        return raw

    def reserves(self, round_id: str) -> LoadedReserves:
        """The round's reserves file, parsed, with each wallet's offline check: the attested
        one from the store, else the round directory's.

        Raises:
            Unavailable: not published, unreadable, or of another round.
        """
        check = self._round_dir(round_id)
        stored = self.store_file(round_id, RESERVES_KIND)
        if stored is not None:
            loaded = self._parsed_once("reserves", stored, _parse_reserves)
        else:
            loaded = self._files.get(check / RESERVES_FILE, "reserves", _load_reserves)
        if loaded.file.round_id != round_id:
            raise Unavailable("the reserves file is of another round")
        return loaded

    def bundle(self, round_id: str) -> dict[str, bytes]:
        """The round's bundle, file by file, built from the store by the function
        ``por publish`` writes it with (the same bytes while the key list is unchanged).

        Raises:
            Unavailable: the round is not attested, not in the log yet, or no key list.
        """
        found = self.attestation(round_id)
        if found.log_index is None:
            raise Unavailable("the attestation is not in the log yet")
        keylist = self.keylist()
        assert self.engine is not None  # an attestation was read from it
        try:
            stored = load_round(self.engine, round_id)
            return bundle_files(self.engine, stored, found.log_index, keylist)
        except (SQLAlchemyError, PorError, KeyError) as e:
            raise Unavailable("the bundle cannot be built from the store") from e

    def bundle_zip(self, round_id: str) -> bytes:
        """:meth:`bundle` as one zip under ``ROUND/`` (files in name order, fixed times).

        Raises:
            Unavailable: see :meth:`bundle`.
        """
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(self.bundle(round_id).items()):
                info = zipfile.ZipInfo(f"{round_id}/{name}")
                info.date_time = (1980, 1, 1, 0, 0, 0)  # the same bytes on every download
                z.writestr(info, data, zipfile.ZIP_DEFLATED)
        return out.getvalue()

    def token_indexes(self) -> list[TokenIndex]:
        """Every round's token index that can be opened (in round-id order).

        The list of round directories is read again at most once a second: a proof request
        should cost a binary search, not a directory listing.
        """
        now = time.monotonic()
        cached = self._token_dirs
        if cached is None or now - cached[0] > 1.0:
            dirs: list[Path] = []
            if self.rounds_dir is not None and self.rounds_dir.is_dir():
                dirs = sorted(
                    c for c in self.rounds_dir.iterdir() if (c / TOKEN_FILE).is_file()
                )
            cached = self._token_dirs = (now, dirs)
        out = []
        for directory in cached[1]:
            try:
                out.append(self._files.get(directory / TOKEN_FILE, "tokens", _load_tokens))
            except Unavailable:
                continue
        return out

    def keylist(self) -> bytes:
        """The published key list's exact bytes.

        Raises:
            Unavailable: none configured, or it does not parse and verify.
        """
        return self.keys()[0]

    def keys(self) -> tuple[bytes, KeyList]:
        """The published key list: exact bytes and verified.

        Raises:
            Unavailable: none configured, or it does not parse and verify.
        """
        if self.keylist_path is None:
            raise Unavailable("no key list is published")
        return self._files.get(self.keylist_path, "keylist", _load_keylist)

    # --- attestations and the log ---------------------------------------------------------

    def _session(self) -> Session:
        if self.engine is None:
            raise Unavailable("no store")
        return Session(self.engine)

    def attestation(self, round_id: str) -> StoredAttestation:
        """The round's attestation with its exact bytes and every signature.

        Raises:
            Unavailable: none stored for the round.
        """
        try:
            with self._session() as session:
                row = session.exec(
                    select(Attestation).where(Attestation.round_id == round_id)
                ).first()
                if row is None:
                    raise Unavailable("no attestation is published for this round")
                sigs = session.exec(
                    select(AttestationSignature)
                    .where(AttestationSignature.attestation_id == row.id)
                    .order_by(col(AttestationSignature.id))
                ).all()
                entry = session.exec(
                    select(LogEntry.leaf_index).where(LogEntry.leaf_hash == hash_leaf(row.payload))
                ).first()
                return StoredAttestation(
                    round_id=row.round_id,
                    payload=row.payload,
                    payload_sha256=hashlib.sha256(row.payload).hexdigest(),
                    signatures=tuple((s.key_id, s.signature) for s in sigs),
                    log_index=entry,
                )
        except SQLAlchemyError as e:
            raise Unavailable("the store cannot be read") from e

    def attestation_check(self, round_id: str) -> AttestationCheck:
        """The round's attestation as signed, and the verifier's check of the bundle the
        server hands out for it (:func:`check_bundle`; see the module doc).

        Raises:
            Unavailable: no attestation is stored for the round.
        """
        found = self.attestation(round_id)
        try:
            keys_raw, keys = self.keys()
        except Unavailable:
            keys_raw, keys = b"", None
        root_raw = self.store_file(round_id, ROOT_KIND)
        reserves_raw = self.store_file(round_id, RESERVES_KIND)
        if found.log_index is None:
            check = BundleCheck(VERDICT_NOT_IN_LOG, (Finding(
                "not-in-log", "the attestation is not in the transparency log yet, so no "
                "bundle is published for it: nothing here has been checked"),), (), (), None)
        else:
            key = repr((found.payload_sha256, found.signatures, found.log_index,
                        _digest(root_raw), _digest(reserves_raw), _digest(keys_raw),
                        sorted(self.auditor_keys), self._cosignatures_digest(found.log_index),
                        sorted(self.witness_keys), self.witness_quorum)).encode()
            try:  # a bundle that cannot be built now is not remembered as checked
                check = self._parsed_once("bundle-check", key, lambda _: check_bundle(
                    self.bundle(round_id), tuple(self.auditor_keys.values()),
                    tuple(self.witness_keys.values()), self.witness_quorum))
            except Unavailable as e:
                check = BundleCheck(VERDICT_FAILED, (Finding(
                    "bundle", f"the round's bundle cannot be built: {e}"),), (), (), None)
        att = _parse_signed(found)
        served = []
        directory_root = self.directory_root(round_id)
        if directory_root is not None and root_raw is not None and directory_root != root_raw:
            served.append(Finding("round-directory", "the round directory's root.json is not "
                                  "the attested one: users' proofs served from it would not "
                                  "lead to the attested root"))
        return AttestationCheck(found, att, _signers(found, att, keys, self.auditor_keys, check),
                                check, tuple(served))

    def _cosignatures_digest(self, leaf_index: int) -> str:
        """A digest of the stored co-signatures of the round's head (size ``leaf_index +
        1``): a co-signature added later is checked at the next request."""
        assert self.engine is not None  # an attestation was read from it
        try:
            found = stored_cosignatures(self.engine, leaf_index + 1)
        except SQLAlchemyError as e:
            raise Unavailable("the store cannot be read") from e
        return _digest(repr(sorted(found.items())).encode())

    def freshness(self, now: datetime | None = None) -> Freshness | None:
        """:func:`freshness` of the log's latest signed head; None when the log is empty or
        unreadable."""
        try:
            return freshness(self.latest_tree_head(), now)
        except Unavailable:
            return None

    def latest_tree_head(self) -> SignedTreeHead:
        """The log's newest signed tree head.

        Raises:
            Unavailable: the log is empty or there is no store.
        """
        if self.engine is None:
            raise Unavailable("no store")
        try:
            head = appender.latest_tree_head(self.engine)
        except (SQLAlchemyError, PorError) as e:
            raise Unavailable("the log cannot be read") from e
        if head is None:
            raise Unavailable("the log is empty")
        return head

    def tree_head(self, size: int) -> SignedTreeHead:
        """The signed tree head of ``size``.

        Raises:
            Unavailable: the log never had a head of that size.
        """
        if self.engine is None:
            raise Unavailable("no store")
        try:
            return appender.tree_head(self.engine, size)
        except (SQLAlchemyError, PorError, OverflowError) as e:
            raise Unavailable(f"no tree head of size {size}") from e

    def log_entry(self, index: int) -> tuple[bytes, bytes]:
        """Leaf hash and exact bytes of log entry ``index``.

        Raises:
            Unavailable: no such entry.
        """
        try:
            with self._session() as session:
                row = session.get(LogEntry, index)
                if row is None:
                    raise Unavailable(f"no log entry {index}")
                return row.leaf_hash, row.entry
        except (SQLAlchemyError, OverflowError) as e:
            raise Unavailable(f"no log entry {index}") from e

    def inclusion(self, index: int, tree_size: int) -> InclusionProof:
        """The RFC 9162 inclusion proof of entry ``index`` in the tree of ``tree_size``.

        Raises:
            Unavailable: the index or size is not in the log.
        """
        if self.engine is None:
            raise Unavailable("no store")
        if not 0 <= index < tree_size:
            raise Unavailable(f"entry {index} is not in a tree of size {tree_size}")
        self.tree_head(tree_size)  # only sizes the log signed a head for
        try:
            return appender.prove_inclusion(self.engine, index, tree_size)
        except (SQLAlchemyError, PorError) as e:
            raise Unavailable("no such proof") from e

    def consistency(self, old_size: int, new_size: int) -> ConsistencyProof:
        """The RFC 9162 consistency proof between two signed tree sizes.

        Raises:
            Unavailable: a size the log never signed, or ``old_size`` 0 or above ``new_size``.
        """
        if self.engine is None:
            raise Unavailable("no store")
        if not 0 < old_size <= new_size:
            raise Unavailable("a consistency proof needs 0 < old_size <= new_size")
        self.tree_head(old_size)
        self.tree_head(new_size)
        try:
            return appender.prove_consistency(self.engine, old_size, new_size)
        except (SQLAlchemyError, PorError) as e:
            raise Unavailable("no such proof") from e


def _digest(data: bytes | None) -> str:
    return hashlib.sha256(data).hexdigest() if data is not None else "-"


def b64(data: bytes) -> str:
    """Standard base64 with padding (the envelope's encoding, docs/spec.md §12.3)."""
    return base64.b64encode(data).decode("ascii")


def env_path(name: str) -> Path | None:
    """A path from environment variable ``name``, or None when unset or empty."""
    value = os.environ.get(name)
    return Path(value) if value else None
