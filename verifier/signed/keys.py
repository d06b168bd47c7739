"""Ed25519 public keys and their ids (docs/spec.md §12.3).

A key id is SHA-256 of the 32-byte raw public key (RFC 8032 §5.1.5 encoding), in hex: it
names a key without trusting any label. Private keys never come here (``por.keys``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme
from verifier.errors import FormatError, VerificationError

PUBLIC_KEY_SCHEME = "por-public-key"
PUBLIC_KEY_VERSION = 1
ALGORITHM = "ed25519"
RAW_KEY_SIZE = 32
SIGNATURE_SIZE = 64
_LABEL_MAX = 128


def key_id_of(raw_public_key: bytes) -> str:
    """The key id: lowercase hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public_key).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """A validated Ed25519 public key, with its id and who it belongs to."""

    raw: bytes
    label: str

    def __post_init__(self) -> None:
        if len(self.raw) != RAW_KEY_SIZE:
            raise FormatError(
                f"Ed25519 public key must be {RAW_KEY_SIZE} bytes, found {len(self.raw)}"
            )
        if not self.label or len(self.label) > _LABEL_MAX or not self.label.isprintable():
            raise FormatError(f"key label must be 1-{_LABEL_MAX} printable characters")
        try:
            Ed25519PublicKey.from_public_bytes(self.raw)
        except ValueError as e:
            raise FormatError(f"not an Ed25519 public key: {e}") from e

    @property
    def key_id(self) -> str:
        """SHA-256 of the raw public key, hex."""
        return key_id_of(self.raw)

    def verify(self, signature: bytes, message: bytes, what: str) -> None:
        """Check an Ed25519 signature (RFC 8032 §5.1.7) over ``message``.

        Raises:
            VerificationError: the signature does not verify under this key.
        """
        if len(signature) != SIGNATURE_SIZE:
            raise VerificationError(
                f"{what}: signature has {len(signature)} bytes, expected {SIGNATURE_SIZE}"
            )
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature as e:
            raise VerificationError(
                f"{what}: signature by key {self.key_id} ({self.label}) does not verify"
            ) from e

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``por-public-key`` version 1)."""
        return {
            "scheme": PUBLIC_KEY_SCHEME,
            "version": PUBLIC_KEY_VERSION,
            "algorithm": ALGORITHM,
            "label": self.label,
            "public_key": self.raw.hex(),
            "key_id": self.key_id,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> PublicKey:
        """Parse the JSON form; the stated key id must be the key's own.

        Raises:
            FormatError: malformed, unknown fields, another algorithm, or a key id that is
                not SHA-256 of the key.
        """
        fields = {"scheme", "version", "algorithm", "label", "public_key", "key_id"}
        obj: Mapping[str, Any] = sj.obj(data, where, fields)
        check_scheme(obj, where, PUBLIC_KEY_SCHEME, PUBLIC_KEY_VERSION)
        algorithm = sj.string(obj["algorithm"], f"{where}.algorithm")
        if algorithm != ALGORITHM:
            raise FormatError(f"{where}.algorithm: expected {ALGORITHM!r}, found {algorithm!r}")
        raw = sj.hash_hex(obj["public_key"], f"{where}.public_key", RAW_KEY_SIZE)
        key = cls(raw, sj.string(obj["label"], f"{where}.label"))
        stated = sj.hash_hex(obj["key_id"], f"{where}.key_id").hex()
        if stated != key.key_id:
            raise FormatError(
                f"{where}.key_id: states {stated} but SHA-256 of the public key is {key.key_id}"
            )
        return key
