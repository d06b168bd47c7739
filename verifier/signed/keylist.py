"""The exchange's published key list, and key rotation (docs/spec.md §12.3).

```json
{"scheme": "por-keylist", "version": 1, "exchange": "Example",
 "keys": [<por-public-key>, ...], "rotations": [<por-signed envelope>, ...]}
```

``keys[0]`` is the first key. Each later ``keys[i]`` is admitted only by ``rotations[i-1]``:
a ``por-key-rotation`` statement naming the old key and the new one, signed by the old key
(it authorises the change) and by the new key (it proves the exchange holds it). A key is
valid from its rotation time until the next rotation; a document signed by a key outside
its validity window fails. The list is self-certifying from its first key, so a verifier
pins one key id it got out of band (or remembered) and checks the chain reaches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, format_time, parse_time
from verifier.errors import FormatError, VerificationError
from verifier.signed.envelope import SignedDocument
from verifier.signed.keys import PublicKey

KEYLIST_SCHEME = "por-keylist"
KEYLIST_VERSION = 1
ROTATION_SCHEME = "por-key-rotation"
ROTATION_VERSION = 1


def keylist_sha256(data: bytes | str, what: str = "key list") -> bytes:
    """The key list's hash that tree heads bind (spec §12.2): SHA-256 of the RFC 8785
    canonical form of the key list's JSON value, so re-indenting the file keeps it.

    Raises:
        FormatError: the key list is not strict JSON.
    """
    value = sj.loads(data, what)
    try:
        return hashlib.sha256(rfc8785.dumps(value)).digest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise FormatError(f"{what}: not encodable as RFC 8785 canonical JSON: {e}") from e


def rotation_statement(
    exchange: str, old: PublicKey, new: PublicKey, at: datetime
) -> dict[str, Any]:
    """The payload of a rotation from ``old`` to ``new`` at time ``at``."""
    return {
        "scheme": ROTATION_SCHEME,
        "version": ROTATION_VERSION,
        "exchange": exchange,
        "old_key_id": old.key_id,
        "new_key": new.to_dict(),
        "time": format_time(at),
    }


@dataclass(frozen=True)
class KeyEntry:
    """A key of the list with its validity window: ``[valid_from, valid_until)``."""

    key: PublicKey
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True)
class KeyList:
    """A verified key list: every rotation checked, in order."""

    exchange: str
    entries: tuple[KeyEntry, ...]
    rotations: tuple[SignedDocument, ...]

    @property
    def current(self) -> PublicKey:
        """The newest key: the one that signs now."""
        return self.entries[-1].key

    @property
    def identity(self) -> str:
        """The exchange's identity: its first key's id (spec §12.2), never its name."""
        return self.entries[0].key.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key's id, oldest first."""
        return tuple(e.key.key_id for e in self.entries)

    def check_extends(self, remembered: tuple[str, ...]) -> None:
        """Check this list continues the chain of key ids a verifier remembered: same first
        key, and every remembered key in the same place (a list cut back to an older key,
        or forked from one by a rotated-out key, fails).

        Raises:
            VerificationError: the chains differ.
        """
        mine = self.key_ids
        if mine[: len(remembered)] != remembered:
            raise VerificationError(
                f"the key list's chain ({_short(mine)}) does not continue the one remembered"
                f" for this exchange ({_short(remembered)}): a key list cut back or forked"
            )

    def key(self, key_id: str, at: datetime | None = None) -> PublicKey:
        """The key with ``key_id``, checked valid at ``at`` when a time is given.

        Raises:
            VerificationError: no such key in the list, or it was not valid at ``at``.
        """
        for entry in self.entries:
            if entry.key.key_id != key_id:
                continue
            if at is not None:
                if entry.valid_from is not None and at < entry.valid_from:
                    raise VerificationError(
                        f"key {key_id} was not yet valid at {format_time(at)}"
                        f" (from {format_time(entry.valid_from)})"
                    )
                if entry.valid_until is not None and at >= entry.valid_until:
                    raise VerificationError(
                        f"key {key_id} was rotated out at {format_time(entry.valid_until)},"
                        f" before {format_time(at)}"
                    )
            return entry.key
        raise VerificationError(f"key {key_id} is not in {self.exchange}'s key list")

    def to_json(self) -> str:
        """The published JSON form."""
        return (
            json.dumps(
                {
                    "scheme": KEYLIST_SCHEME,
                    "version": KEYLIST_VERSION,
                    "exchange": self.exchange,
                    "keys": [e.key.to_dict() for e in self.entries],
                    "rotations": [json.loads(r.to_json()) for r in self.rotations],
                },
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, data: bytes | str, pinned_key_id: str | None = None) -> KeyList:
        """Parse a key list and verify its rotation chain.

        Args:
            data: the key list's JSON.
            pinned_key_id: a key id the caller already trusts; the chain must contain it.

        Raises:
            FormatError: malformed list or rotation statement.
            VerificationError: a rotation not signed by the old and new keys, out of order,
                naming other keys or another exchange, or the pinned key is absent.
        """
        what = "key list"
        value = sj.obj(
            sj.loads(data, what), what, {"scheme", "version", "exchange", "keys", "rotations"}
        )
        check_scheme(value, what, KEYLIST_SCHEME, KEYLIST_VERSION)
        exchange = sj.string(value["exchange"], f"{what}.exchange")
        keys = [
            PublicKey.from_dict(k, f"{what}.keys[{i}]")
            for i, k in enumerate(sj.array(value["keys"], f"{what}.keys"))
        ]
        raw_rotations = sj.array(value["rotations"], f"{what}.rotations")
        if not keys:
            raise FormatError(f"{what}.keys: the list holds no key")
        # A key without its rotation statement, or listed twice, breaks the chain of
        # authority in a well-formed file: a failed check (exit 1), spec §12.3.
        if len(raw_rotations) != len(keys) - 1:
            raise VerificationError(
                f"{what}: {len(keys)} keys need {len(keys) - 1} rotations,"
                f" found {len(raw_rotations)}: a key is not admitted by a rotation"
            )
        if len({k.key_id for k in keys}) != len(keys):
            raise VerificationError(f"{what}.keys: a key appears twice")
        rotations = [
            SignedDocument.from_json(json.dumps(r), f"{what}.rotations[{i}]")
            for i, r in enumerate(raw_rotations)
        ]
        times: list[datetime] = []
        for i, rotation in enumerate(rotations):
            times.append(
                _check_rotation(
                    rotation, exchange, keys[i], keys[i + 1], times, f"{what}.rotations[{i}]"
                )
            )
        entries = tuple(
            KeyEntry(
                key,
                times[i - 1] if i > 0 else None,
                times[i] if i < len(times) else None,
            )
            for i, key in enumerate(keys)
        )
        result = cls(exchange, entries, tuple(rotations))
        if pinned_key_id is not None and all(k.key_id != pinned_key_id for k in keys):
            raise VerificationError(f"{what}: the pinned key {pinned_key_id} is not in the chain")
        return result


def _short(ids: tuple[str, ...]) -> str:
    return " -> ".join(i[:16] + ".." for i in ids)


def _check_rotation(
    rotation: SignedDocument,
    exchange: str,
    old: PublicKey,
    new: PublicKey,
    earlier: list[datetime],
    where: str,
) -> datetime:
    doc = rotation.document
    sj.obj(doc, where, {"scheme", "version", "exchange", "old_key_id", "new_key", "time"})
    check_scheme(doc, where, ROTATION_SCHEME, ROTATION_VERSION)
    if sj.string(doc["exchange"], f"{where}.exchange") != exchange:
        raise VerificationError(
            f"{where}: rotation is for exchange {doc['exchange']!r}, not {exchange!r}"
        )
    if sj.hash_hex(doc["old_key_id"], f"{where}.old_key_id").hex() != old.key_id:
        raise VerificationError(
            f"{where}: rotation starts from key {doc['old_key_id']}, not {old.key_id}"
        )
    if PublicKey.from_dict(doc["new_key"], f"{where}.new_key") != new:
        raise VerificationError(f"{where}: rotation admits another key than {new.key_id}")
    at = parse_time(doc["time"], f"{where}.time")
    if earlier and at <= earlier[-1]:
        raise VerificationError(
            f"{where}: rotation time {doc['time']} is not after the previous one"
        )
    rotation.verify_signed_by(old, f"{where} (old key)")
    rotation.verify_signed_by(new, f"{where} (new key)")
    return at
