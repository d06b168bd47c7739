"""The exchange's and auditors' Ed25519 private keys: creation, encrypted storage, signing,
and key-list rotation (docs/spec.md §12.3).

Private keys live only in PKCS#8 PEM files encrypted with a passphrase (mode 0600). The
passphrase comes from an environment variable or an interactive prompt, never from a
command-line argument (visible in ``ps`` and shell history) and never in a log line. The
store (``por.store``) never sees a private key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from por.errors import FormatError, InputError, UsageError, VerificationError
from verifier.encoding.canonical import canonical_bytes
from verifier.files import create_private
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyEntry, KeyList, rotation_statement
from verifier.signed.keys import PublicKey

PASSPHRASE_ENV = "POR_KEY_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)
MIN_PASSPHRASE = 12


class SigningKey:
    """An Ed25519 private key held in memory, with its public half and label."""

    def __init__(self, private: Ed25519PrivateKey, label: str) -> None:
        self._private = private
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = PublicKey(raw, label)

    def __repr__(self) -> str:  # never print key material
        return f"SigningKey({self.public.key_id}, {self.public.label!r})"

    @classmethod
    def generate(cls, label: str) -> SigningKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate(), label)

    def sign(self, payload: bytes) -> Signature:
        """Sign exact payload bytes (RFC 8032 §5.1.6)."""
        return Signature(self.public.key_id, self._private.sign(payload))

    def sign_document(self, document: dict[str, object]) -> SignedDocument:
        """Canonicalise ``document`` (RFC 8785) and sign it.

        Raises:
            UsageError: the document cannot be canonicalised, or holds what a verifier would
                refuse (a float).
        """
        payload = canonical_bytes(document)
        try:
            SignedDocument.from_payload(payload)
        except FormatError as e:
            raise UsageError(f"refusing to sign a document verifiers would reject: {e}") from e
        return SignedDocument.from_payload(payload, [self.sign(payload)])

    def cosign(self, doc: SignedDocument) -> SignedDocument:
        """Add this key's signature over the same payload bytes.

        Raises:
            UsageError: this key has already signed.
        """
        return doc.with_signature(self.sign(doc.payload))

    def save(self, path: Path, passphrase: str) -> None:
        """Write the key as PKCS#8 PEM encrypted with ``passphrase``, mode 0600, never over
        an existing file.

        Raises:
            UsageError: the passphrase is too short.
            InputError: the file exists or cannot be written.
        """
        check_passphrase(passphrase)
        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
        )
        label_line = f"# por-toolkit key {self.public.key_id} label {self.public.label}\n"
        try:
            create_private(path, label_line.encode("utf-8") + pem)
        except FileExistsError as e:
            raise InputError(f"{path}: already exists; refusing to overwrite a key") from e
        except OSError as e:
            raise InputError(f"{path}: cannot create: {e.strerror}") from e

    @classmethod
    def load(cls, path: Path, passphrase: str) -> SigningKey:
        """Read an encrypted key file.

        Raises:
            InputError: unreadable, not an encrypted Ed25519 key, or a wrong passphrase
                (the message never holds the passphrase).
        """
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from e
        label = "key"
        first, _, rest = data.partition(b"\n")
        if first.startswith(b"# por-toolkit key "):
            parts = first.decode("utf-8", "replace").split(" label ", 1)
            label = parts[1] if len(parts) == 2 else label
            data = rest
        if b"ENCRYPTED PRIVATE KEY" not in data:
            raise InputError(f"{path}: not an encrypted PKCS#8 key; refusing a plaintext key")
        try:
            private = serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
        except (ValueError, TypeError) as e:
            raise InputError(f"{path}: wrong passphrase or not a key file") from e
        if not isinstance(private, Ed25519PrivateKey):
            raise InputError(f"{path}: not an Ed25519 key")
        return cls(private, label)


def check_passphrase(passphrase: str) -> None:
    """Refuse passphrases too short to resist guessing.

    Raises:
        UsageError: fewer than 12 characters.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(f"passphrase must have at least {MIN_PASSPHRASE} characters")


def passphrase_from(
    env_var: str,
    prompt: Callable[[str, bool], str] | None,
    what: str,
    *,
    confirm: bool = False,
) -> str:
    """The passphrase from ``$env_var``, else from ``prompt`` (an interactive, hidden one).

    Raises:
        UsageError: neither is available (no variable set, no terminal).
    """
    value = os.environ.get(env_var)
    if value:
        return value
    if prompt is None:
        raise UsageError(f"set ${env_var} or run interactively to enter the {what} passphrase")
    return prompt(f"Passphrase for {what}", confirm)


def new_key_list(exchange: str, first: PublicKey) -> KeyList:
    """A key list holding one key and no rotation."""
    return KeyList(exchange, (KeyEntry(first, None, None),), ())


def rotate(key_list: KeyList, old: SigningKey, new: SigningKey, at: datetime) -> KeyList:
    """The key list with ``new`` admitted by a statement signed by ``old`` and ``new``.

    Raises:
        VerificationError: ``old`` is not the list's current key, ``new`` is already
            listed, or ``at`` is not after the previous rotation: the chain would break
            (a wrong key for a well-formed list: exit 1, spec §9).
    """
    if old.public != key_list.current:
        raise VerificationError(
            f"only the current key {key_list.current.key_id} can rotate; got {old.public.key_id}"
        )
    if any(e.key.key_id == new.public.key_id for e in key_list.entries):
        raise VerificationError(f"key {new.public.key_id} is already in the list")
    last = key_list.entries[-1]
    if last.valid_from is not None and at <= last.valid_from:
        raise VerificationError("a rotation must come after the previous one")
    statement = rotation_statement(key_list.exchange, old.public, new.public, at)
    signed = new.cosign(old.sign_document(statement))
    entries = (
        *key_list.entries[:-1],
        KeyEntry(last.key, last.valid_from, at),
        KeyEntry(new.public, at, None),
    )
    return KeyList(key_list.exchange, entries, (*key_list.rotations, signed))
