"""Keys, signed documents and key lists: the valid case and named attacks."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from por.errors import InputError, UsageError
from por.keys import SigningKey, new_key_list, rotate
from verifier.errors import FormatError, VerificationError
from verifier.signed.envelope import SignedDocument, require_signatures
from verifier.signed.keylist import KeyList
from verifier.signed.keys import PublicKey, key_id_of

PASS = "correct horse battery staple"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOC = {"scheme": "por-test", "version": 1, "amount": "340282366920938463463374607431768211455"}


@pytest.fixture(scope="module")
def exchange() -> SigningKey:
    return SigningKey.generate("Example Exchange")


@pytest.fixture(scope="module")
def auditor() -> SigningKey:
    return SigningKey.generate("Auditor LLP")


def test_key_id_is_sha256_of_raw_public_key(exchange: SigningKey) -> None:
    import hashlib

    assert exchange.public.key_id == hashlib.sha256(exchange.public.raw).hexdigest()
    assert key_id_of(exchange.public.raw) == exchange.public.key_id
    assert PublicKey.from_dict(exchange.public.to_dict(), "k") == exchange.public


def test_public_key_with_a_false_key_id_is_refused(exchange: SigningKey) -> None:
    data = exchange.public.to_dict()
    data["key_id"] = "00" * 32
    with pytest.raises(FormatError, match="SHA-256 of the public key"):
        PublicKey.from_dict(data, "k")
    data = exchange.public.to_dict() | {"extra": 1}
    with pytest.raises(FormatError, match="unknown"):
        PublicKey.from_dict(data, "k")


def test_encrypted_pem_round_trip(tmp_path: Path, exchange: SigningKey) -> None:
    path = tmp_path / "k.pem"
    exchange.save(path, PASS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "ENCRYPTED PRIVATE KEY" in text and PASS not in text
    loaded = SigningKey.load(path, PASS)
    assert loaded.public == exchange.public
    assert PASS not in repr(loaded)
    with pytest.raises(InputError, match="wrong passphrase") as err:
        SigningKey.load(path, "not the passphrase at all")
    assert "not the passphrase" not in str(err.value)
    with pytest.raises(InputError, match="already exists"):
        exchange.save(path, PASS)
    with pytest.raises(UsageError):
        exchange.save(tmp_path / "short.pem", "short")


def test_plaintext_key_file_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp_path / "plain.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InputError, match="plaintext"):
        SigningKey.load(path, PASS)


def test_sign_cosign_and_verify_the_same_bytes(exchange: SigningKey, auditor: SigningKey) -> None:
    doc = auditor.cosign(exchange.sign_document(DOC))
    parsed = SignedDocument.from_json(doc.to_json())
    assert parsed.payload == doc.payload
    require_signatures(parsed, exchange.public, [auditor.public], "doc")
    keys = {exchange.public.key_id: exchange.public}
    assert parsed.verify_all_known(keys, "doc") == [auditor.public.key_id]


def _envelope(doc: SignedDocument) -> dict[str, object]:
    return json.loads(doc.to_json())


def test_named_attacks_on_signed_documents(exchange: SigningKey, auditor: SigningKey) -> None:
    doc = exchange.sign_document(DOC)
    # edited-figure: the payload changed after signing
    edited = _envelope(doc)
    edited["payload"] = base64.b64encode(doc.payload.replace(b"455", b"454")).decode()
    with pytest.raises(VerificationError, match="does not verify"):
        require_signatures(SignedDocument.from_json(json.dumps(edited)), exchange.public, [], "d")
    # missing-auditor-signature
    with pytest.raises(VerificationError, match="no signature by key"):
        require_signatures(doc, exchange.public, [auditor.public], "d")
    # forged-signature: right key id, signature of another key
    forged = _envelope(doc)
    forged["signatures"][0]["signature"] = auditor.sign(doc.payload).signature.hex()  # type: ignore[index]
    with pytest.raises(VerificationError):
        require_signatures(SignedDocument.from_json(json.dumps(forged)), exchange.public, [], "d")
    # non-canonical-payload: same meaning, another spelling
    spaced = _envelope(doc)
    spaced["payload"] = base64.b64encode(json.dumps(DOC).encode()).decode()
    with pytest.raises(FormatError, match="canonical"):
        SignedDocument.from_json(json.dumps(spaced))
    # unknown-envelope-field, repeated signer, float in payload
    with pytest.raises(FormatError, match="unknown"):
        SignedDocument.from_json(json.dumps(_envelope(doc) | {"note": "x"}))
    twice = _envelope(doc)
    twice["signatures"] = twice["signatures"] * 2  # type: ignore[operator]
    with pytest.raises(FormatError, match="more than once"):
        SignedDocument.from_json(json.dumps(twice))
    floaty = _envelope(doc)
    floaty["payload"] = base64.b64encode(b'{"amount":1.5}').decode()
    with pytest.raises(FormatError):
        SignedDocument.from_json(json.dumps(floaty))
    with pytest.raises(UsageError):
        exchange.sign_document({"amount": 1.5})


@pytest.mark.parametrize(
    "garbage",
    [b"", b"null", b"[]", b"{", b'{"scheme":"por-signed"}', b"\xff\xfe", b'{"a":1,"a":2}'],
)
def test_garbage_envelopes_are_format_errors(garbage: bytes) -> None:
    with pytest.raises(FormatError):
        SignedDocument.from_json(garbage)


def test_key_list_rotation_chain(exchange: SigningKey) -> None:
    second = SigningKey.generate("Example Exchange 2")
    third = SigningKey.generate("Example Exchange 3")
    kl = new_key_list("Example", exchange.public)
    kl = rotate(kl, exchange, second, T0)
    kl = rotate(kl, second, third, T0 + timedelta(days=30))
    parsed = KeyList.from_json(kl.to_json(), pinned_key_id=exchange.public.key_id)
    assert parsed.current == third.public
    assert parsed.key(exchange.public.key_id, T0 - timedelta(seconds=1)) == exchange.public
    assert parsed.key(second.public.key_id, T0 + timedelta(days=1)) == second.public
    with pytest.raises(VerificationError, match="rotated out"):
        parsed.key(exchange.public.key_id, T0 + timedelta(days=1))
    with pytest.raises(VerificationError, match="not yet valid"):
        parsed.key(third.public.key_id, T0)
    with pytest.raises(VerificationError, match="pinned"):
        KeyList.from_json(kl.to_json(), pinned_key_id="ab" * 32)
    with pytest.raises(VerificationError, match="only the current key"):
        rotate(kl, exchange, SigningKey.generate("x"), T0 + timedelta(days=60))


def test_key_list_attacks(exchange: SigningKey) -> None:
    second = SigningKey.generate("Example Exchange 2")
    kl = rotate(new_key_list("Example", exchange.public), exchange, second, T0)
    data = json.loads(kl.to_json())
    # key-injected-without-rotation: an extra key with no statement
    injected = json.loads(kl.to_json())
    injected["keys"].append(SigningKey.generate("thief").public.to_dict())
    with pytest.raises(VerificationError, match="rotations"):  # a broken chain: exit 1
        KeyList.from_json(json.dumps(injected))
    # rotation-signed-by-the-new-key-only: a thief admits their own key
    thief = SigningKey.generate("thief")
    forged = rotate(new_key_list("Example", thief.public), thief, second, T0)
    swapped = dict(data)
    swapped["rotations"] = json.loads(forged.to_json())["rotations"]
    with pytest.raises(VerificationError):
        KeyList.from_json(json.dumps(swapped))
    # key-replaced: the list's second key swapped for another
    replaced = json.loads(kl.to_json())
    replaced["keys"][1] = thief.public.to_dict()
    with pytest.raises(VerificationError, match="another key"):
        KeyList.from_json(json.dumps(replaced))


def test_rotation_instant_belongs_to_the_new_key(exchange: SigningKey) -> None:
    """Spec §12.3: key i is valid on [its rotation in, the next rotation): at the rotation
    instant the old key is already out and the new one in."""
    second = SigningKey.generate("Example Exchange 2")
    parsed = KeyList.from_json(rotate(new_key_list("Example", exchange.public), exchange,
                                      second, T0).to_json())
    with pytest.raises(VerificationError, match="rotated out"):
        parsed.key(exchange.public.key_id, T0)
    assert parsed.key(second.public.key_id, T0) == second.public
    assert parsed.key(exchange.public.key_id, T0 - timedelta(seconds=1)) == exchange.public


def test_rotation_rules_are_verification_failures(exchange: SigningKey) -> None:
    """Spec §12.3: in a well-formed list, a broken chain is a failed check (exit 1): the
    rotation's exchange must be the list's, its new key the next listed key, times strictly
    increasing, no key twice; only a malformed object is exit 2."""
    second, third = SigningKey.generate("E2"), SigningKey.generate("E3")
    kl = rotate(rotate(new_key_list("Example", exchange.public), exchange, second, T0),
                second, third, T0 + timedelta(days=1))
    renamed = json.loads(kl.to_json())
    renamed["exchange"] = "Another Exchange"
    with pytest.raises(VerificationError, match="rotation is for exchange"):
        KeyList.from_json(json.dumps(renamed))
    swapped = json.loads(kl.to_json())
    swapped["keys"][1], swapped["keys"][2] = swapped["keys"][2], swapped["keys"][1]
    with pytest.raises(VerificationError):
        KeyList.from_json(json.dumps(swapped))
    twice = json.loads(kl.to_json())
    twice["keys"][2] = twice["keys"][0]
    with pytest.raises(VerificationError, match="twice"):
        KeyList.from_json(json.dumps(twice))
    # A later chain must continue the remembered one: cut back or forked lists fail.
    parsed = KeyList.from_json(kl.to_json())
    parsed.check_extends(parsed.key_ids[:2])
    with pytest.raises(VerificationError, match="does not continue"):
        KeyList.from_json(rotate(new_key_list("Example", exchange.public), exchange,
                                 third, T0).to_json()).check_extends(parsed.key_ids)
    assert parsed.identity == exchange.public.key_id


def test_keylist_hash_ignores_layout_not_content(exchange: SigningKey) -> None:
    from verifier.signed.keylist import keylist_sha256

    text = new_key_list("Example", exchange.public).to_json()
    assert keylist_sha256(text) == keylist_sha256(json.dumps(json.loads(text)))
    other = json.loads(text)
    other["exchange"] = "Other"
    assert keylist_sha256(text) != keylist_sha256(json.dumps(other))
