"""Witness co-signatures of tree heads (docs/spec.md §14), against split views.

A witness (an auditor, or any third party) co-signs a signed tree head only when it
extends the last head the witness co-signed for the same exchange, in the spirit of C2SP
``tlog-cosignature``: an Ed25519 signature over a domain-separated message that binds the
tree head's exact payload bytes and the witness's time. A verifier that requires a quorum
of witnesses it knows then checks a user's root against a head those witnesses have seen
extend every earlier head they saw: an exchange cannot show one user another history
without a witness signing a fork.

This module owns the co-signature's bytes and file, the witness's own memory (keyed by the
exchange's identity, its first key id, never by a name the exchange chooses), the act of
co-signing, and the check of a bundle's co-signatures. No I/O but the witness's state file
and :func:`read_cosignature_files`; "now" is an argument.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, format_time, parse_time
from verifier.errors import FormatError, UsageError, VerificationError
from verifier.files import write_atomic
from verifier.log.sth import ConsistencyProof, SignedTreeHead, check_extends
from verifier.signed.keylist import KeyList
from verifier.signed.keys import SIGNATURE_SIZE, PublicKey

COSIGNATURE_SCHEME = "por-witness-cosignature"  # spec §14.1
COSIGNATURE_VERSION = 1
# Spec §14.1: the first line of every co-signed message; no other message of the toolkit
# (RFC 8785 payloads start with "{") can begin with it.
COSIGNATURE_DOMAIN = b"por-toolkit witness cosignature v1\n"
STATE_SCHEME = "por-witness-state"  # spec §14.2
STATE_VERSION = 1
WITNESS_DIR = "witnesses"  # spec §14.3: the bundle's directory of co-signatures
# A head dated further ahead of the witness's clock than this is refused (spec §14.2).
MAX_CLOCK_SKEW = timedelta(minutes=5)
_FILE_RE = re.compile(r"([0-9a-f]{64})\.json")
COSIGNED_BY = "tree head co-signed by witness"  # how a valid co-signature is reported


def head_payload_hash(head: SignedTreeHead) -> bytes:
    """SHA-256 of the tree head's exact payload bytes (what a co-signature names)."""
    return hashlib.sha256(head.signed.payload).digest()


def cosigned_message(head_payload: bytes, time: datetime) -> bytes:
    """The exact bytes a witness signs (spec §14.1).

    ``"por-toolkit witness cosignature v1\\n" ‖ "time " ‖ T ‖ "\\n" ‖ payload``, where T is
    the witness's time in RFC 3339 UTC (whole seconds, ``Z``) and payload is the tree
    head's RFC 8785 payload exactly as signed by the log.
    """
    return COSIGNATURE_DOMAIN + b"time " + format_time(time).encode("ascii") + b"\n" + head_payload


@dataclass(frozen=True)
class Cosignature:
    """One witness's co-signature of one tree head (file ``witnesses/<key_id>.json``)."""

    witness_key_id: str
    time: datetime
    tree_head_sha256: bytes
    signature: bytes

    FIELDS = frozenset(
        {"scheme", "version", "witness_key_id", "time", "tree_head_sha256", "signature"}
    )

    def to_json(self) -> str:
        """The co-signature file's JSON (key order fixed, trailing newline)."""
        return json.dumps(
            {
                "scheme": COSIGNATURE_SCHEME,
                "version": COSIGNATURE_VERSION,
                "witness_key_id": self.witness_key_id,
                "time": format_time(self.time),
                "tree_head_sha256": self.tree_head_sha256.hex(),
                "signature": self.signature.hex(),
            },
            indent=2,
        ) + "\n"

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "co-signature") -> Cosignature:
        """Parse a co-signature file strictly.

        Raises:
            FormatError: malformed, unknown or missing fields, wrong widths.
        """
        value = sj.obj(sj.loads(data, what), what, set(cls.FIELDS))
        check_scheme(value, what, COSIGNATURE_SCHEME, COSIGNATURE_VERSION)
        return cls(
            witness_key_id=sj.hash_hex(value["witness_key_id"], f"{what}.witness_key_id").hex(),
            time=parse_time(value["time"], f"{what}.time"),
            tree_head_sha256=sj.hash_hex(value["tree_head_sha256"], f"{what}.tree_head_sha256"),
            signature=sj.hash_hex(value["signature"], f"{what}.signature", SIGNATURE_SIZE),
        )

    def verify(self, key: PublicKey, head: SignedTreeHead, what: str = "co-signature") -> None:
        """Check this is ``key``'s co-signature of exactly ``head``.

        Raises:
            VerificationError: another key, another head, a time before the head's own
                time, or a signature that does not verify.
        """
        if key.key_id != self.witness_key_id:
            raise VerificationError(
                f"{what}: names witness {self.witness_key_id}, checked against {key.key_id}"
            )
        if self.tree_head_sha256 != head_payload_hash(head):
            raise VerificationError(
                f"{what}: co-signs the tree head with payload SHA-256"
                f" {self.tree_head_sha256.hex()}, not this one"
                f" ({head_payload_hash(head).hex()}, size {head.head.tree_size})"
            )
        if self.time < head.head.timestamp:
            raise VerificationError(
                f"{what}: dated {format_time(self.time)}, before the tree head itself"
                f" ({format_time(head.head.timestamp)})"
            )
        key.verify(self.signature, cosigned_message(head.signed.payload, self.time), what)


def sign_cosignature(
    private: Ed25519PrivateKey, head: SignedTreeHead, time: datetime
) -> Cosignature:
    """Co-sign ``head`` at ``time`` (no check: see :func:`witness_head`)."""
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return Cosignature(
        witness_key_id=hashlib.sha256(raw).hexdigest(),
        time=time.replace(microsecond=0),
        tree_head_sha256=head_payload_hash(head),
        signature=private.sign(cosigned_message(head.signed.payload, time.replace(microsecond=0))),
    )


def load_witness_key(path: Path, passphrase: str) -> Ed25519PrivateKey:
    """Read a witness's key: encrypted PKCS#8 PEM as ``por keys new`` writes (spec §12.3).

    Raises:
        FormatError: unreadable, plaintext, not Ed25519, or a wrong passphrase (the message
            never holds the passphrase).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(f"{path}: cannot read the witness key: {e.strerror}") from e
    first, _, rest = data.partition(b"\n")
    if first.startswith(b"# por-toolkit key "):
        data = rest
    if b"ENCRYPTED PRIVATE KEY" not in data:
        raise FormatError(f"{path}: not an encrypted PKCS#8 key; refusing a plaintext key")
    try:
        private = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (ValueError, TypeError) as e:
        raise FormatError(f"{path}: wrong passphrase or not a key file") from e
    if not isinstance(private, Ed25519PrivateKey):
        raise FormatError(f"{path}: not an Ed25519 key")
    return private


@dataclass(frozen=True)
class WitnessedLog:
    """What a witness remembers of one exchange's log (spec §14.2)."""

    exchange: str
    head: SignedTreeHead


class WitnessState:
    """A witness's memory: per exchange identity (its first key id), the last head co-signed.

    Kept apart from the verifier's own memory (``verifier.log.state``): a witness's promise
    is about what it signed, not what its operator verified.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> tuple[str | None, dict[str, dict[str, str]]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None, {}
        except OSError as e:
            raise FormatError(f"{self.path}: cannot read the witness state: {e.strerror}") from e
        where = str(self.path)
        value = sj.obj(sj.loads(data, where), where, {"scheme", "version", "witness_key_id",
                                                     "logs"})
        check_scheme(value, where, STATE_SCHEME, STATE_VERSION)
        witness = sj.hash_hex(value["witness_key_id"], f"{where}.witness_key_id").hex()
        logs = value["logs"]
        if not isinstance(logs, dict):
            raise FormatError(f"{where}.logs: expected an object")
        out: dict[str, dict[str, str]] = {}
        for identity, entry in logs.items():
            at = f"{where}.logs.{identity[:16]}"
            sj.hash_hex(identity, f"{at} (an exchange's first key id)")
            fields = sj.obj(entry, at, {"exchange", "tree_head"})
            out[identity] = {"exchange": sj.string(fields["exchange"], f"{at}.exchange"),
                             "tree_head": sj.string(fields["tree_head"], f"{at}.tree_head")}
        return witness, out

    def last(self, identity: str) -> WitnessedLog | None:
        """The last head co-signed for the exchange whose first key id is ``identity``.

        Raises:
            FormatError: the state file is corrupt (never silently forgotten).
        """
        _, logs = self._read()
        entry = logs.get(identity)
        if entry is None:
            return None
        head = SignedTreeHead.from_json(entry["tree_head"], f"{self.path}: remembered head")
        return WitnessedLog(entry["exchange"], head)

    def identities_of(self, exchange: str) -> list[str]:
        """Identities already witnessed under the exchange name ``exchange``."""
        _, logs = self._read()
        return [i for i, e in logs.items() if e["exchange"] == exchange]

    def remember(self, witness_key_id: str, identity: str, exchange: str,
                 head: SignedTreeHead) -> None:
        """Record ``head`` as the last co-signed for ``identity``, atomically.

        Raises:
            FormatError: the file is corrupt, belongs to another witness key, or cannot be
                written.
        """
        witness, logs = self._read()
        if witness is not None and witness != witness_key_id:
            raise FormatError(f"{self.path}: this state belongs to witness key {witness}, not"
                              f" {witness_key_id}")
        logs[identity] = {"exchange": exchange, "tree_head": head.signed.to_json()}
        text = json.dumps({"scheme": STATE_SCHEME, "version": STATE_VERSION,
                           "witness_key_id": witness_key_id, "logs": logs}, indent=2) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, text)
        except OSError as e:
            raise FormatError(f"{self.path}: cannot write the witness state: {e}") from e


@dataclass(frozen=True)
class WitnessResult:
    """What ``por-verify log witness`` did."""

    cosignature: Cosignature
    identity: str
    exchange: str
    log: str
    tree_size: int
    previous_size: int | None


def witness_head(
    private: Ed25519PrivateKey,
    state: WitnessState,
    keys: KeyList,
    head: SignedTreeHead,
    proof: ConsistencyProof | None,
    now: datetime,
    *,
    new_identity: bool = False,
) -> WitnessResult:
    """Co-sign ``head`` if, and only if, it extends the last head co-signed for its exchange.

    The exchange is identified by its key list's first key id; the head must be signed by a
    key of that list valid at the head's time; the witness remembers the head before it
    returns the co-signature, so it never signs two heads that do not extend one another.

    Raises:
        VerificationError: a bad signature, a head that does not extend the last one
            co-signed (another log name, smaller, another root, time going back, a bad
            proof), a head dated ahead of ``now``, another identity under an exchange name
            already witnessed (unless ``new_identity``).
        FormatError: the state is corrupt, or belongs to another witness key.
    """
    head.verify_signature(keys, "tree head")
    identity = keys.entries[0].key.key_id
    if head.head.timestamp > now + MAX_CLOCK_SKEW:
        raise VerificationError(
            f"the tree head is dated {format_time(head.head.timestamp)}, ahead of this"
            f" witness's clock ({format_time(now)}): refusing to co-sign the future"
        )
    previous = state.last(identity)
    if previous is None:
        others = [i for i in state.identities_of(keys.exchange) if i != identity]
        if others and not new_identity:
            raise VerificationError(
                f"this witness already co-signs a log of {keys.exchange!r} whose first key is"
                f" {others[0]}; a key list starting at {identity} would be a second history"
                " of the same exchange (pass --new-identity only if the exchange has really"
                " started over, and say so publicly)"
            )
    else:
        if previous.exchange != keys.exchange:
            raise VerificationError(
                f"the key list names exchange {keys.exchange!r}; this witness co-signed its"
                f" first key as {previous.exchange!r}"
            )
        check_extends(previous.head.head, head.head, proof)
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    witness_key_id = hashlib.sha256(public).hexdigest()
    # Remember first: a crash after this leaves a head remembered but not signed (harmless);
    # the reverse order could sign a head and then forget it.
    state.remember(witness_key_id, identity, keys.exchange, head)
    cosig = sign_cosignature(private, head, now)
    return WitnessResult(
        cosig, identity, keys.exchange, head.head.log, head.head.tree_size,
        previous.head.head.tree_size if previous else None,
    )


def read_cosignature_files(directory: Path) -> dict[str, bytes]:
    """The bundle's co-signature files (``witnesses/<64 hex>.json``), by bundle path.

    Raises:
        FormatError: a file of that directory is unreadable or oddly named.
    """
    files: dict[str, bytes] = {}
    folder = directory / WITNESS_DIR
    if not folder.is_dir():
        return files
    for path in sorted(folder.iterdir()):
        if not _FILE_RE.fullmatch(path.name):
            raise FormatError(f"{path}: a bundle's {WITNESS_DIR}/ holds only"
                              " <witness key id>.json files")
        try:
            files[f"{WITNESS_DIR}/{path.name}"] = path.read_bytes()
        except OSError as e:
            raise FormatError(f"{path}: cannot read: {e.strerror}") from e
    return files


class _Report(Protocol):
    """The part of a bundle report the witness check writes to."""

    notes: list[str]
    passed: list[str]

    def fail(self, code: str, message: str) -> None: ...


@dataclass(frozen=True)
class WitnessCheck:
    """The outcome of checking a head's co-signatures."""

    valid: tuple[str, ...]      # known witnesses' key ids whose co-signature verified
    invalid: tuple[str, ...]    # why each known witness's co-signature failed
    unchecked: tuple[str, ...]  # key ids of witnesses not given: never counted
    quorum: int


def check_cosignatures(
    files: Mapping[str, bytes], head: SignedTreeHead, witnesses: Sequence[PublicKey],
    quorum: int,
) -> WitnessCheck:
    """Check every co-signature in ``files`` of ``head`` against the known ``witnesses``.

    Raises:
        FormatError: a co-signature file is malformed or named after another key id.
        UsageError: a quorum below 0 or above the number of distinct known witnesses.
    """
    known = {w.key_id: w for w in witnesses}
    if not 0 <= quorum <= len(known):
        raise UsageError(f"--witness-quorum {quorum}: expected 0..{len(known)}, the number of"
                         " distinct --witness-key given")
    valid, invalid, unchecked = [], [], []
    for name in sorted(files):
        if not name.startswith(f"{WITNESS_DIR}/"):
            continue
        cosig = Cosignature.from_json(files[name], name)
        if name != f"{WITNESS_DIR}/{cosig.witness_key_id}.json":
            raise FormatError(f"{name}: holds the co-signature of {cosig.witness_key_id}; the"
                              " file must be named after its witness key id")
        key = known.get(cosig.witness_key_id)
        if key is None:
            unchecked.append(cosig.witness_key_id)
            continue
        try:
            cosig.verify(key, head, f"{name} (witness {key.label})")
            valid.append(key.key_id)
        except VerificationError as e:
            invalid.append(str(e))
    return WitnessCheck(tuple(valid), tuple(invalid), tuple(unchecked), quorum)


def check_bundle_witnesses(
    files: Mapping[str, bytes], head: SignedTreeHead, witnesses: Sequence[PublicKey],
    quorum: int | None, report: _Report,
) -> None:
    """The bundle check's witness step (spec §14.3): findings ``witness-signature`` and
    ``witness-quorum``; unknown witnesses listed as unchecked.

    ``quorum`` None means every given witness must have co-signed.

    Raises:
        FormatError: a malformed co-signature file.
        UsageError: an impossible quorum.
    """
    need = len({w.key_id for w in witnesses}) if quorum is None else quorum
    result = check_cosignatures(files, head, witnesses, need)
    labels = {w.key_id: w.label for w in witnesses}
    for message in result.invalid:
        report.fail("witness-signature", message)
    for key_id in result.valid:
        report.passed.append(f"{COSIGNED_BY} {labels[key_id]} "
                             f"({key_id[:16]}..)")
    for key_id in result.unchecked:
        report.notes.append(f"a co-signature by witness {key_id[:16]}.. was not checked (not"
                            " given with --witness-key): not counted")
    if len(result.valid) < need:
        report.fail("witness-quorum", f"{len(result.valid)} valid co-signature(s) of known"
                    f" witnesses on the tree head, {need} required")
    elif not witnesses:
        report.notes.append("no witness keys given (--witness-key): nothing shows that this"
                            " tree head is the one everyone else sees")
    else:
        report.passed.append(f"witness quorum met: {len(result.valid)} of {need} required")

