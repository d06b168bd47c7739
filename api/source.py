"""What the service publishes, read from where ``por`` keeps it: the store (rounds,
attestations with their exact bytes and signatures, the log and its signed tree heads) and
the rounds directory (per round: ``root.json``, ``reserves.json``, ``tree.bin`` and the
sealed ``proof-tokens.bin``; ``bundle/`` once ``por publish`` writes it), plus the key list.

Every file is parsed with the verifier's strict readers when it is first read and again
whenever it changes on disk (by size, inode and mtime), so a malformed file is reported as
unavailable instead of being served, and re-issued tokens take effect without a restart.
Nothing here is returned as is: :mod:`api.app` turns it into the public models.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from por.errors import InputError
from por.log import appender
from por.store.models import Attestation, AttestationSignature, LogEntry, Round
from por.tokens import TOKEN_FILE, TokenIndex
from verifier.artifacts import RootSummary
from verifier.errors import FormatError, PorError
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead
from verifier.mst import check_round_id
from verifier.reserves.model import ReservesFile
from verifier.reserves.verify import verify_reserves
from verifier.signed.keylist import KeyList

T = TypeVar("T")
ROOT_FILE = "root.json"
RESERVES_FILE = "reserves.json"
BUNDLE_DIR = "bundle"  # where `por publish` (issue 4) leaves the round's public bundle
SECRET_FILE = "round-secret.key"  # noqa: S105 (a file name, not a secret)
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


@dataclass(frozen=True)
class StoredAttestation:
    """A round's attestation: exact payload, its hash, signatures, and its log index."""

    round_id: str
    payload: bytes
    payload_sha256: str
    signatures: tuple[tuple[str, bytes], ...]
    log_index: int | None


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
    """Check every wallet's signature offline (no node: balances stay unconfirmed)."""
    try:
        report = verify_reserves(reserves, {})
    except PorError:
        return tuple(
            WalletCheck("failed", "the file could not be checked") for _ in reserves.wallets
        )
    failed: dict[int, str] = {}
    for finding in report.findings:
        if finding.wallet is not None and finding.code in _WALLET_FAILURES:
            failed.setdefault(finding.wallet, f"{finding.code}: {finding.message}")
    checks = []
    for index, wallet in enumerate(reserves.wallets):
        scheme = wallet.signature.scheme if wallet.signature else None
        if scheme == "eip1271" and index in failed and "no usable node" in failed[index]:
            checks.append(
                WalletCheck(
                    "needs-node",
                    "a contract wallet (EIP-1271): its signature is judged by the contract at"
                    " the snapshot block; check it with por-verify reserves --rpc",
                )
            )
        elif index in failed:
            checks.append(WalletCheck("failed", failed[index]))
        elif wallet.message == "static":
            checks.append(
                WalletCheck("verified", "signature over the static message: past control only")
            )
        else:
            checks.append(WalletCheck("verified", "signature over this round's message"))
    return tuple(checks)


def _load_reserves(path: Path) -> LoadedReserves:
    try:
        parsed = ReservesFile.from_json(path.read_bytes(), RESERVES_FILE)
    except (OSError, FormatError) as e:
        raise Unavailable(f"{RESERVES_FILE} is not readable") from e
    return LoadedReserves(parsed, _check_wallets(parsed))


def _load_root(path: Path) -> tuple[bytes, RootSummary]:
    try:
        raw = path.read_bytes()
        return raw, RootSummary.from_json(raw, ROOT_FILE)
    except (OSError, FormatError) as e:
        raise Unavailable(f"{ROOT_FILE} is not readable") from e


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
        self, engine: Engine | None, rounds_dir: Path | None, keylist: Path | None = None
    ) -> None:
        """Read from ``engine`` (the store), ``rounds_dir`` and ``keylist``; any may be absent.

        Nothing is read here; each request reads what it needs (files through a cache).
        """
        self.engine = engine
        self.rounds_dir = rounds_dir
        self.keylist_path = keylist
        self._files = _FileCache()
        self._token_dirs: tuple[float, list[Path]] | None = None

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
        return {r.round_id: StoredRound(r.round_id, r.exchange, r.created_at) for r in rows}

    def round_ids(self) -> list[str]:
        """Every round that has a readable root summary, newest first (by store time, else
        by round id)."""
        stored = self.stored_rounds()
        found: set[str] = set()
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
            return (row.created_at.isoformat() if row else "", round_id)

        return sorted(ids, key=order, reverse=True)

    def root(self, round_id: str) -> tuple[bytes, RootSummary]:
        """The round's root summary: exact bytes and parsed.

        Raises:
            Unavailable: no such round, or its root.json is unreadable or of another round.
        """
        raw, summary = self._files.get(self._round_dir(round_id) / ROOT_FILE, "root", _load_root)
        if summary.round_id != round_id:
            raise Unavailable("no such round")
        return raw, summary

    def reserves(self, round_id: str) -> LoadedReserves:
        """The round's reserves file, parsed, with each wallet's offline check.

        Raises:
            Unavailable: not published, unreadable, or of another round.
        """
        loaded = self._files.get(
            self._round_dir(round_id) / RESERVES_FILE, "reserves", _load_reserves
        )
        if loaded.file.round_id != round_id:
            raise Unavailable("the reserves file is of another round")
        return loaded

    def bundle_zip(self, round_id: str) -> bytes:
        """The round's published bundle directory as one zip (files in name order).

        Raises:
            Unavailable: no bundle was published for the round.
        """
        bundle = self._round_dir(round_id) / BUNDLE_DIR
        if not bundle.is_dir():
            raise Unavailable("no bundle is published for this round yet")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(bundle.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    info = zipfile.ZipInfo(f"{round_id}/{path.relative_to(bundle).as_posix()}")
                    info.date_time = (1980, 1, 1, 0, 0, 0)  # the same bytes on every download
                    z.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
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
        if self.keylist_path is None:
            raise Unavailable("no key list is published")
        raw, _ = self._files.get(self.keylist_path, "keylist", _load_keylist)
        return raw

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
                    select(LogEntry.leaf_index).where(LogEntry.entry == row.payload)
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


def b64(data: bytes) -> str:
    """Standard base64 with padding (the envelope's encoding, docs/spec.md §12.3)."""
    return base64.b64encode(data).decode("ascii")


def secret_beside(rounds_dir: Path) -> list[Path]:
    """Round secrets lying in the served directories (they should not be there)."""
    if not rounds_dir.is_dir():
        return []
    return [p for p in (c / SECRET_FILE for c in rounds_dir.iterdir()) if p.exists()]


def env_path(name: str) -> Path | None:
    """A path from environment variable ``name``, or None when unset or empty."""
    value = os.environ.get(name)
    return Path(value) if value else None
