"""The signed-document envelope: exact payload bytes plus Ed25519 signatures over them.

```json
{"scheme": "por-signed", "version": 1,
 "payload": "<base64 of the RFC 8785 canonical payload>",
 "signatures": [{"key_id": "<64 hex>", "signature": "<128 hex>"}, ...]}
```

The payload travels as base64 so its bytes arrive exactly as signed (as in DSSE); every
signature (the exchange's, each auditor's co-signature) is over those same bytes. The
payload names its own scheme, so a signature on one kind of document cannot be passed off
as one on another kind. Spec: docs/spec.md §12.3.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.encoding.canonical import check_scheme, parse_canonical
from verifier.errors import FormatError, UsageError, VerificationError
from verifier.signed.keys import SIGNATURE_SIZE, PublicKey

ENVELOPE_SCHEME = "por-signed"
ENVELOPE_VERSION = 1


@dataclass(frozen=True)
class Signature:
    """One signature over a payload, naming its key by id."""

    key_id: str
    signature: bytes


@dataclass(frozen=True)
class SignedDocument:
    """A canonical payload (kept as its exact bytes), its parsed value, and signatures."""

    payload: bytes
    document: Mapping[str, Any] = field(compare=False)
    signatures: tuple[Signature, ...]

    @classmethod
    def from_payload(cls, payload: bytes, signatures: Iterable[Signature] = ()) -> SignedDocument:
        """Wrap canonical payload bytes.

        Raises:
            FormatError: the payload is not canonical JSON of an object, or a key signs twice.
        """
        sigs = tuple(signatures)
        _no_repeated_signer(sigs, "signatures")
        return cls(payload, parse_canonical(payload, "payload"), sigs)

    def with_signature(self, signature: Signature) -> SignedDocument:
        """The same payload with one more signature (a co-signature).

        Raises:
            UsageError: that key has already signed.
        """
        if any(s.key_id == signature.key_id for s in self.signatures):
            raise UsageError(f"key {signature.key_id} has already signed this document")
        return SignedDocument(self.payload, self.document, (*self.signatures, signature))

    def to_json(self) -> str:
        """The envelope as JSON text (the envelope itself is not signed)."""
        return (
            json.dumps(
                {
                    "scheme": ENVELOPE_SCHEME,
                    "version": ENVELOPE_VERSION,
                    "payload": base64.b64encode(self.payload).decode("ascii"),
                    "signatures": [
                        {"key_id": s.key_id, "signature": s.signature.hex()}
                        for s in self.signatures
                    ],
                },
                indent=2,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, data: bytes | str, what: str = "signed document") -> SignedDocument:
        """Parse an envelope strictly.

        Raises:
            FormatError: malformed envelope, non-canonical base64 or payload, a malformed
                or repeated signature entry.
        """
        value = sj.obj(sj.loads(data, what), what, {"scheme", "version", "payload", "signatures"})
        check_scheme(value, what, ENVELOPE_SCHEME, ENVELOPE_VERSION)
        text = sj.string(value["payload"], f"{what}.payload")
        try:
            payload = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise FormatError(f"{what}.payload: not base64: {e}") from e
        if base64.b64encode(payload).decode("ascii") != text:
            raise FormatError(f"{what}.payload: base64 is not in its canonical (padded) form")
        sigs = []
        for i, item in enumerate(sj.array(value["signatures"], f"{what}.signatures")):
            where = f"{what}.signatures[{i}]"
            entry = sj.obj(item, where, {"key_id", "signature"})
            key_id = sj.hash_hex(entry["key_id"], f"{where}.key_id").hex()
            signature = sj.hash_hex(entry["signature"], f"{where}.signature", SIGNATURE_SIZE)
            sigs.append(Signature(key_id, signature))
        _no_repeated_signer(sigs, f"{what}.signatures")
        return cls(payload, parse_canonical(payload, f"{what}.payload"), tuple(sigs))

    def verify_signed_by(self, key: PublicKey, what: str) -> None:
        """Check that ``key`` signed exactly these payload bytes.

        Raises:
            VerificationError: no signature by that key, or it does not verify.
        """
        for s in self.signatures:
            if s.key_id == key.key_id:
                key.verify(s.signature, self.payload, what)
                return
        raise VerificationError(f"{what}: no signature by key {key.key_id} ({key.label})")

    def verify_all_known(self, keys: Mapping[str, PublicKey], what: str) -> list[str]:
        """Check every signature whose key is in ``keys``; return the ids of the others.

        A signature by a key the caller does not know is not checked, and is reported so
        (never counted as verified).

        Raises:
            VerificationError: a signature by a known key does not verify.
        """
        unchecked = []
        for s in self.signatures:
            key = keys.get(s.key_id)
            if key is None:
                unchecked.append(s.key_id)
            else:
                key.verify(s.signature, self.payload, what)
        return unchecked


def _no_repeated_signer(signatures: Iterable[Signature], where: str) -> None:
    seen: set[str] = set()
    for s in signatures:
        if s.key_id in seen:
            raise FormatError(f"{where}: key {s.key_id} signs more than once")
        seen.add(s.key_id)


def require_signatures(
    doc: SignedDocument, signer: PublicKey, auditors: Iterable[PublicKey], what: str
) -> None:
    """Check the document is signed by ``signer`` and co-signed by every named auditor.

    Raises:
        VerificationError: a required signature is missing or does not verify, or the
            payload's ``key_id`` (when it has one) names another key than ``signer``.
    """
    stated = doc.document.get("key_id")
    if stated is not None and stated != signer.key_id:
        raise VerificationError(f"{what}: payload names key {stated}, not {signer.key_id}")
    doc.verify_signed_by(signer, what)
    for auditor in auditors:
        doc.verify_signed_by(auditor, f"{what} (auditor {auditor.label})")
