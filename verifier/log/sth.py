"""Signed tree heads and proof files of the transparency log (docs/spec.md §12.2).

A tree head is an RFC 8785 payload signed with Ed25519 in the ``por-signed`` envelope:

```json
{"scheme": "por-log-sth", "version": 2, "exchange": "Example Exchange",
 "keylist_sha256": "<64 hex>", "log": "example-exchange", "tree_size": 7,
 "root_hash": "<64 hex>", "timestamp": "2026-11-25T12:00:00Z", "key_id": "<64 hex>"}
```

Version 2 binds the exchange's name and the hash of the key list in force when it was
signed; version 1 heads (no binding) are still parsed, for stored logs, remembered heads
and ``por-verify log``, but a bundle's own head must be version 2 (spec §12.2).

Proof files are not signed (they prove themselves against signed heads):
``{"scheme": "por-log-consistency", "version": 1, "old_size", "new_size", "proof": [hex]}``
and ``{"scheme": "por-log-inclusion", "version": 1, "leaf_index", "tree_size", "proof"}``.
:func:`check_extends` is the one rule by which a verifier accepts a new head: bytes in,
a verdict or an exception out, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, format_time, parse_time
from verifier.errors import FormatError, StaleError, UsageError, VerificationError
from verifier.log.proof import MAX_UINT64, verify_consistency, verify_inclusion
from verifier.log.rfc6962 import EMPTY_ROOT, hash_leaf
from verifier.signed.envelope import SignedDocument
from verifier.signed.keylist import KeyList
from verifier.signed.keys import PublicKey

STH_SCHEME = "por-log-sth"
STH_VERSION = 2
STH_LEGACY_VERSION = 1
CONSISTENCY_SCHEME = "por-log-consistency"
INCLUSION_SCHEME = "por-log-inclusion"
LOG_VERSION = 1
# Sizes travel as JSON numbers; RFC 8785 numbers are exact only up to 2^53 - 1.
MAX_JSON_INT = (1 << 53) - 1


@dataclass(frozen=True)
class TreeHead:
    """The content of a signed tree head."""

    log: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    # Version 2 (None only in a version 1 head): the exchange's name and the SHA-256 of
    # its key list (:func:`verifier.signed.keylist.keylist_sha256`) when the head was signed.
    exchange: str | None = None
    keylist_sha256: bytes | None = None

    @property
    def version(self) -> int:
        """2 when the head binds an exchange and a key list, else 1 (legacy)."""
        return STH_VERSION if self.exchange is not None else STH_LEGACY_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The payload, ready for RFC 8785 canonicalisation and signing."""
        out: dict[str, Any] = {
            "scheme": STH_SCHEME,
            "version": self.version,
            "log": self.log,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": format_time(self.timestamp),
            "key_id": self.key_id,
        }
        if self.exchange is not None:
            if self.keylist_sha256 is None:
                raise UsageError("a version 2 tree head needs its key list's hash")
            out["exchange"] = self.exchange
            out["keylist_sha256"] = self.keylist_sha256.hex()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> TreeHead:
        """Parse a tree head payload (version 2, or a legacy version 1 head).

        Raises:
            FormatError: a missing or unknown field, or a malformed value.
        """
        fields = {"scheme", "version", "log", "tree_size", "root_hash", "timestamp", "key_id"}
        version = data.get("version") if isinstance(data, Mapping) else None
        if version == STH_VERSION:
            fields |= {"exchange", "keylist_sha256"}
        sj.obj(data, where, fields)
        check_scheme(data, where, STH_SCHEME,
                     STH_LEGACY_VERSION if version == STH_LEGACY_VERSION else STH_VERSION)
        exchange = keylist_hash = None
        if version == STH_VERSION:
            exchange = _label(data["exchange"], f"{where}.exchange")
            keylist_hash = sj.hash_hex(data["keylist_sha256"], f"{where}.keylist_sha256")
        return cls(
            log=_label(data["log"], f"{where}.log"),
            tree_size=_size(data["tree_size"], f"{where}.tree_size"),
            root_hash=sj.hash_hex(data["root_hash"], f"{where}.root_hash"),
            timestamp=parse_time(data["timestamp"], f"{where}.timestamp"),
            key_id=sj.hash_hex(data["key_id"], f"{where}.key_id").hex(),
            exchange=exchange,
            keylist_sha256=keylist_hash,
        )


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree head with the envelope that carries its exact signed bytes."""

    head: TreeHead
    signed: SignedDocument

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "tree head") -> SignedTreeHead:
        """Parse a signed tree head (format only; see :meth:`verify_signature`).

        Raises:
            FormatError: malformed envelope or payload.
        """
        signed = SignedDocument.from_json(data, what)
        return cls(TreeHead.from_dict(signed.document, f"{what}.payload"), signed)

    def verify_signature(self, keys: KeyList | PublicKey, what: str = "tree head") -> None:
        """Check the head is signed by the key it names, valid at the head's time.

        Raises:
            VerificationError: the named key is not the one given, not in the key list or
                not valid at the timestamp, or its signature does not verify.
        """
        if isinstance(keys, KeyList):
            key = keys.key(self.head.key_id, self.head.timestamp)
        else:
            key = keys
            if key.key_id != self.head.key_id:
                raise VerificationError(
                    f"{what}: signed by key {self.head.key_id}, expected {key.key_id}"
                )
        self.signed.verify_signed_by(key, what)


def _label(value: Any, where: str) -> str:
    text = sj.string(value, where)
    if not 1 <= len(text) <= 128 or not text.isprintable():
        raise FormatError(f"{where}: expected 1-128 printable characters, found {text!r}")
    return text


def _size(value: Any, where: str) -> int:
    number = sj.integer(value, where)
    if not 0 <= number <= min(MAX_UINT64, MAX_JSON_INT):
        raise FormatError(f"{where}: {number} is out of range 0..2^53-1")
    return number


def _hashes(value: Any, where: str) -> list[bytes]:
    return [sj.hash_hex(h, f"{where}[{i}]") for i, h in enumerate(sj.array(value, where))]


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 9162 consistency proof between two tree sizes."""

    old_size: int
    new_size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> str:
        """The proof file's JSON."""
        return json.dumps(
            {
                "scheme": CONSISTENCY_SCHEME,
                "version": LOG_VERSION,
                "old_size": self.old_size,
                "new_size": self.new_size,
                "proof": [h.hex() for h in self.proof],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "consistency proof") -> ConsistencyProof:
        """Parse a consistency proof file.

        Raises:
            FormatError: malformed, unknown fields, a hash that is not 32 bytes.
        """
        value = sj.obj(
            sj.loads(data, what), what, {"scheme", "version", "old_size", "new_size", "proof"}
        )
        check_scheme(value, what, CONSISTENCY_SCHEME, LOG_VERSION)
        return cls(
            _size(value["old_size"], f"{what}.old_size"),
            _size(value["new_size"], f"{what}.new_size"),
            tuple(_hashes(value["proof"], f"{what}.proof")),
        )


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 9162 inclusion proof of one log entry."""

    leaf_index: int
    tree_size: int
    proof: tuple[bytes, ...]

    def to_json(self) -> str:
        """The proof file's JSON."""
        return json.dumps(
            {
                "scheme": INCLUSION_SCHEME,
                "version": LOG_VERSION,
                "leaf_index": self.leaf_index,
                "tree_size": self.tree_size,
                "proof": [h.hex() for h in self.proof],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "inclusion proof") -> InclusionProof:
        """Parse an inclusion proof file.

        Raises:
            FormatError: malformed, unknown fields, a hash that is not 32 bytes.
        """
        value = sj.obj(
            sj.loads(data, what), what, {"scheme", "version", "leaf_index", "tree_size", "proof"}
        )
        check_scheme(value, what, INCLUSION_SCHEME, LOG_VERSION)
        return cls(
            _size(value["leaf_index"], f"{what}.leaf_index"),
            _size(value["tree_size"], f"{what}.tree_size"),
            tuple(_hashes(value["proof"], f"{what}.proof")),
        )

    def verify(self, entry: bytes, head: TreeHead) -> None:
        """Check that ``entry`` (the exact leaf bytes) is in the log under ``head``.

        Raises:
            VerificationError: the proof is for another tree size or does not lead to the
                head's root.
        """
        if self.tree_size != head.tree_size:
            raise VerificationError(
                f"inclusion proof is for tree size {self.tree_size}, the head has {head.tree_size}"
            )
        verify_inclusion(
            self.leaf_index, self.tree_size, hash_leaf(entry), list(self.proof), head.root_hash
        )


def check_extends(old: TreeHead, new: TreeHead, proof: ConsistencyProof | None) -> None:
    """Check that ``new`` only extends the history ``old`` committed to.

    Refuses, each with its reason: another log, a smaller tree (history cut), a different
    root at the same size (history rewritten), a time that goes backwards, and any proof
    that does not show the old tree is a prefix of the new (RFC 9162 §2.1.4.2).

    Raises:
        StaleError: ``new`` is smaller or older than ``old`` (a rollback).
        VerificationError: ``new`` does not extend ``old``, or the proof is for other sizes.
    """
    if new.log != old.log:
        raise VerificationError(f"tree heads of different logs: {old.log!r} and {new.log!r}")
    if new.tree_size < old.tree_size:
        raise StaleError(
            f"new tree head has size {new.tree_size}, smaller than the {old.tree_size} seen"
            " before: the log lost entries"
        )
    if new.timestamp < old.timestamp:
        raise StaleError(
            f"new tree head is dated {format_time(new.timestamp)}, before the one seen"
            f" ({format_time(old.timestamp)})"
        )
    if new.tree_size == old.tree_size:
        if new.root_hash != old.root_hash:
            raise VerificationError(
                f"two different roots at tree size {new.tree_size} ({old.root_hash.hex()} and"
                f" {new.root_hash.hex()}): the log's history was rewritten"
            )
        if proof is not None and proof.proof:
            raise VerificationError("equal tree heads need no proof, but one was given")
        return
    if old.tree_size == 0:
        # RFC 9162 §2.1.4: every tree extends the empty one; there is nothing to prove.
        if old.root_hash != EMPTY_ROOT:
            raise VerificationError("an empty tree head must have the empty tree's root")
        return
    if proof is None:
        raise VerificationError(
            f"a consistency proof from size {old.tree_size} to {new.tree_size} is required"
        )
    if (proof.old_size, proof.new_size) != (old.tree_size, new.tree_size):
        raise VerificationError(
            f"the proof is from size {proof.old_size} to {proof.new_size}, the tree heads are"
            f" {old.tree_size} and {new.tree_size}"
        )
    verify_consistency(
        old.tree_size, new.tree_size, list(proof.proof), old.root_hash, new.root_hash
    )
