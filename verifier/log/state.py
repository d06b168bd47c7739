"""The verifier's memory, per exchange identity (docs/spec.md §12.2).

One small JSON file (``por-verify-state`` version 2) holding, for each exchange identity
(the first key id of its key list: a key, never a name the exchange picks), how it was
anchored (a pin or trust on first use), the chain of key ids last seen, the one log it
publishes and the exact signed tree head last accepted. A new head is accepted only if it
extends that one (:func:`verifier.log.sth.check_extends`), a new key list only if it
continues that chain, a second log only if the user says so. The file is replaced
atomically (write, fsync, rename) with mode 0600, so a crash leaves the old or the new
memory, and other users of the machine cannot read or plant it.

A version 1 file (``por-verify-log-state``, heads keyed by log name) is still read: its
heads are kept as unclaimed, and the first bundle whose key list holds a head's signing
key and whose log has that name claims it for its exchange identity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, format_time, parse_time
from verifier.errors import FormatError
from verifier.files import write_atomic
from verifier.log.sth import SignedTreeHead

STATE_SCHEME = "por-verify-state"
STATE_VERSION = 2
LEGACY_STATE_SCHEME = "por-verify-log-state"
LEGACY_STATE_VERSION = 1
STATE_FILE_NAME = "log-state.json"
ANCHOR_PIN = "pin"
ANCHOR_FIRST_USE = "first-use"
_ANCHORS = (ANCHOR_PIN, ANCHOR_FIRST_USE)


@dataclass(frozen=True)
class ExchangeMemory:
    """What this verifier remembers of one exchange identity.

    Attributes:
        identity: The first key id of the exchange's key list.
        exchange: The name it had when first seen (a label, shown; never a lookup key).
        anchored_by: ``pin`` (a key id the user gave) or ``first-use`` (TOFU).
        first_seen: When this verifier first recorded it (the verifier's "now").
        key_ids: The key list's chain of key ids as last accepted, oldest first.
        log: The name of the log it publishes.
        head: The last tree head accepted, exact envelope; None before any.
    """

    identity: str
    exchange: str
    anchored_by: str
    first_seen: datetime
    key_ids: tuple[str, ...]
    log: str
    head: SignedTreeHead | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object stored under the identity."""
        return {
            "exchange": self.exchange,
            "anchored_by": self.anchored_by,
            "first_seen": format_time(self.first_seen),
            "key_ids": list(self.key_ids),
            "log": self.log,
            "tree_head": None if self.head is None else json.loads(self.head.signed.to_json()),
        }

    @classmethod
    def from_dict(cls, identity: str, value: Any, where: str) -> ExchangeMemory:
        """Parse one remembered exchange.

        Raises:
            FormatError: malformed, unknown fields, a head of another log.
        """
        raw = sj.obj(value, where, {"exchange", "anchored_by", "first_seen", "key_ids", "log",
                                    "tree_head"})
        anchored_by = sj.string(raw["anchored_by"], f"{where}.anchored_by")
        if anchored_by not in _ANCHORS:
            raise FormatError(f"{where}.anchored_by: {anchored_by!r}, expected one of {_ANCHORS}")
        key_ids = tuple(sj.hash_hex(k, f"{where}.key_ids[{i}]").hex()
                        for i, k in enumerate(sj.array(raw["key_ids"], f"{where}.key_ids")))
        if not key_ids or key_ids[0] != identity:
            raise FormatError(f"{where}.key_ids: must start with the identity {identity}")
        head = None
        if raw["tree_head"] is not None:
            head = SignedTreeHead.from_json(json.dumps(raw["tree_head"]), f"{where}.tree_head")
        log = sj.string(raw["log"], f"{where}.log")
        if head is not None and head.head.log != log:
            raise FormatError(f"{where}: the remembered head is of log {head.head.log!r}, "
                              f"not {log!r}")
        return cls(identity, sj.string(raw["exchange"], f"{where}.exchange"), anchored_by,
                   parse_time(raw["first_seen"], f"{where}.first_seen"), key_ids, log, head)


@dataclass
class VerifierState:
    """The whole memory: exchanges by identity, and unclaimed version 1 heads by log."""

    exchanges: dict[str, ExchangeMemory] = field(default_factory=dict)
    legacy: dict[str, SignedTreeHead] = field(default_factory=dict)

    def by_name(self, exchange: str) -> list[ExchangeMemory]:
        """The remembered identities that bore this name: used only to refuse (a second
        identity under a known name), never to trust."""
        return [m for m in self.exchanges.values() if m.exchange == exchange]

    def claim_legacy(self, log: str, key_ids: tuple[str, ...]) -> SignedTreeHead | None:
        """A version 1 head of ``log`` signed by one of ``key_ids``, removed from the
        unclaimed ones (it now belongs to the identity that holds its key)."""
        head = self.legacy.get(log)
        if head is None or head.head.key_id not in key_ids:
            return None
        del self.legacy[log]
        return head


class StateFile:
    """The memory's file: read whole, replaced whole (atomically, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> VerifierState:
        """The memory, empty if the file does not exist.

        Raises:
            FormatError: the file is unreadable or corrupt (never silently forgotten).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return VerifierState()
        except OSError as e:
            raise FormatError(f"{self.path}: cannot read the verifier's memory: {e}") from e
        where = str(self.path)
        value = sj.loads(data, where)
        if isinstance(value, Mapping) and value.get("scheme") == LEGACY_STATE_SCHEME:
            return _read_legacy(value, where)
        raw = sj.obj(value, where, {"scheme", "version", "exchanges"},
                     frozenset({"unclaimed_v1_heads"}))
        check_scheme(raw, where, STATE_SCHEME, STATE_VERSION)
        exchanges = raw["exchanges"]
        if not isinstance(exchanges, dict):
            raise FormatError(f"{where}.exchanges: expected an object")
        state = VerifierState()
        for identity, item in exchanges.items():
            key_id = sj.hash_hex(identity, f"{where}.exchanges key").hex()
            state.exchanges[key_id] = ExchangeMemory.from_dict(
                key_id, item, f"{where}.exchanges.{key_id[:16]}..")
        unclaimed = raw.get("unclaimed_v1_heads", {})
        if not isinstance(unclaimed, dict):
            raise FormatError(f"{where}.unclaimed_v1_heads: expected an object")
        for name, envelope in unclaimed.items():
            state.legacy[name] = _legacy_head(name, json.dumps(envelope), where)
        return state

    def write(self, state: VerifierState) -> None:
        """Replace the file with ``state``, atomically, mode 0600.

        Raises:
            FormatError: the file cannot be written.
        """
        document: dict[str, Any] = {
            "scheme": STATE_SCHEME,
            "version": STATE_VERSION,
            "exchanges": {k: m.to_dict() for k, m in sorted(state.exchanges.items())},
        }
        if state.legacy:  # version 1 heads not claimed yet, kept as they were
            document["unclaimed_v1_heads"] = {
                name: json.loads(h.signed.to_json()) for name, h in sorted(state.legacy.items())}
        _write(self.path, json.dumps(document, indent=2) + "\n")


def _read_legacy(value: Mapping[str, Any], where: str) -> VerifierState:
    raw = sj.obj(value, where, {"scheme", "version", "logs"})
    check_scheme(raw, where, LEGACY_STATE_SCHEME, LEGACY_STATE_VERSION)
    logs = raw["logs"]
    if not isinstance(logs, dict):
        raise FormatError(f"{where}.logs: expected an object, found {type(logs).__name__}")
    state = VerifierState()
    for name, text in logs.items():
        state.legacy[name] = _legacy_head(name, sj.string(text, f"{where}.logs.{name}"), where)
    return state


def _legacy_head(name: str, text: str, where: str) -> SignedTreeHead:
    head = SignedTreeHead.from_json(text, f"{where}: remembered tree head of {name!r}")
    if head.head.log != name:
        raise FormatError(f"{where}: the head remembered for {name!r} is of another log")
    return head


def _write(path: Path, text: str) -> None:
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
        write_atomic(path, text)  # mode 0600
    except OSError as e:
        raise FormatError(f"{path}: cannot write the verifier's memory: {e}") from e


class TreeHeadMemory:
    """The last accepted signed tree head of each log *name*, in the version 1 file format.

    Kept for callers that remember heads of logs they chose themselves (and so can trust
    the name); the verifier's memory of exchanges is :class:`StateFile`, keyed by identity,
    because a name an exchange picks proves nothing (issue 10)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise FormatError(f"{self.path}: cannot read the remembered tree heads: {e}") from e
        where = str(self.path)
        value = sj.obj(sj.loads(data, where), where, {"scheme", "version", "logs"})
        check_scheme(value, where, LEGACY_STATE_SCHEME, LEGACY_STATE_VERSION)
        logs = value["logs"]
        if not isinstance(logs, dict):
            raise FormatError(f"{where}.logs: expected an object, found {type(logs).__name__}")
        return {name: sj.string(sth, f"{where}.logs.{name}") for name, sth in logs.items()}

    def last(self, log: str) -> SignedTreeHead | None:
        """The last tree head accepted for ``log``, or None if this log was never seen.

        Raises:
            FormatError: the memory file is corrupt (never silently forgotten).
        """
        text = self._read().get(log)
        if text is None:
            return None
        sth = SignedTreeHead.from_json(text, f"{self.path}: remembered tree head of {log!r}")
        if sth.head.log != log:
            raise FormatError(f"{self.path}: the head remembered for {log!r} is of another log")
        return sth

    def remember(self, sth: SignedTreeHead) -> None:
        """Store ``sth`` (its exact envelope) as the last head of its log, atomically.

        Raises:
            FormatError: the memory file is corrupt or cannot be written.
        """
        logs = self._read()
        logs[sth.head.log] = sth.signed.to_json()
        text = json.dumps(
            {"scheme": STATE_SCHEME, "version": STATE_VERSION, "logs": logs}, indent=2
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, text)
        except OSError as e:
            raise FormatError(f"{self.path}: cannot write the remembered tree heads: {e}") from e
