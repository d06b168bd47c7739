"""Witness co-signatures (docs/spec.md §14): the exact signed bytes, the witness's refusals,
its own memory keyed by the exchange's first key id, and the quorum check of a bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from por.keys import SigningKey, new_key_list, rotate
from por.log.proofs import consistency_proof
from verifier.errors import FormatError, UsageError, VerificationError
from verifier.log.rfc6962 import EMPTY_ROOT, hash_leaf, root_from_leaf_hashes
from verifier.log.sth import ConsistencyProof, SignedTreeHead, TreeHead
from verifier.log.witness import (
    COSIGNATURE_DOMAIN,
    Cosignature,
    WitnessState,
    check_cosignatures,
    cosigned_message,
    head_payload_hash,
    sign_cosignature,
    witness_head,
)
from verifier.signed.keylist import KeyList
from verifier.signed.keys import PublicKey

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
# RFC 8032 §7.1 TEST 1 secret key: a public, reproducible witness key for the vector below.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ENTRIES = [f"entry {i}".encode() for i in range(8)]


class Log:
    """A tiny log signed by one exchange key (heads made exactly as por/log does)."""

    def __init__(self, name: str = "Example Exchange") -> None:
        self.key = SigningKey.generate(f"{name} key")
        self.keys = KeyList.from_json(new_key_list(name, self.key.public).to_json())
        self.name = name

    def head(self, size: int, *, log: str | None = None, days: int = 0,
             entries: list[bytes] = ENTRIES) -> SignedTreeHead:
        leaves = [hash_leaf(e) for e in entries[:size]]
        root = root_from_leaf_hashes(leaves) if size else EMPTY_ROOT
        head = TreeHead(log or self.name, size, root, T0 + timedelta(days=days),
                        self.key.public.key_id)
        return SignedTreeHead.from_json(self.key.sign_document(head.to_dict()).to_json())

    def proof(self, old: int, new: int, entries: list[bytes] = ENTRIES) -> ConsistencyProof:
        leaves = [hash_leaf(e) for e in entries[:new]]
        return ConsistencyProof(old, new, tuple(consistency_proof(old, leaves)))


@pytest.fixture()
def witness_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_the_signed_message_is_exactly_the_spec_bytes() -> None:
    log = Log()
    head = log.head(3)
    msg = cosigned_message(head.signed.payload, NOW)
    assert COSIGNATURE_DOMAIN == b"por-toolkit witness cosignature v1\n"
    assert msg == (b"por-toolkit witness cosignature v1\ntime 2026-12-01T00:00:00Z\n"
                   + head.signed.payload)
    assert head.signed.payload.startswith(b'{"key_id":"') and b"\n" not in head.signed.payload


def test_rfc8032_key_vector() -> None:
    # A fixed key and payload: a third party's implementation must produce these bytes.
    private = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
    payload = (b'{"key_id":"' + b"ab" * 32 + b'","log":"Example Exchange","root_hash":"'
               + b"cd" * 32 + b'","scheme":"por-log-sth","timestamp":"2026-11-25T12:00:00Z",'
               b'"tree_size":7,"version":1}')
    message = cosigned_message(payload, NOW)
    assert message[:64] == b"por-toolkit witness cosignature v1\ntime 2026-12-01T00:00:00Z\n{\"k"
    assert len(message) == 35 + 26 + len(payload)
    # Ed25519 is deterministic (RFC 8032 §5.1.6): the signature is fixed by key and message.
    assert private.sign(message).hex() == (
        "9dae96b705710e777133bc9ec08722ee88c4bcd7bced5bf66c1206f38c077b26"
        "2593263c34f4735b462f1a38f31681b9632ce96112ed704db15156690e8cb802"
    )


def test_cosign_and_verify_round_trip(witness_key: Ed25519PrivateKey, tmp_path: Path) -> None:
    log = Log()
    head = log.head(2)
    result = witness_head(witness_key, WitnessState(tmp_path / "w.json"), log.keys, head,
                          None, NOW)
    cosig = Cosignature.from_json(result.cosignature.to_json())
    assert cosig == result.cosignature
    assert cosig.tree_head_sha256 == head_payload_hash(head)
    public = PublicKey(witness_key.public_key().public_bytes_raw(), "Witness")
    cosig.verify(public, head)
    with pytest.raises(VerificationError, match="not this one"):
        cosig.verify(public, log.head(3))
    with pytest.raises(VerificationError, match="names witness"):
        cosig.verify(PublicKey(Ed25519PrivateKey.generate().public_key().public_bytes_raw(),
                               "Other"), head)
    early = sign_cosignature(witness_key, head, T0 - timedelta(seconds=1))
    with pytest.raises(VerificationError, match="before the tree head"):
        early.verify(public, head)
    tampered = json.loads(cosig.to_json())
    tampered["time"] = "2026-12-02T00:00:00Z"  # the time is signed too
    with pytest.raises(VerificationError, match="does not verify"):
        Cosignature.from_json(json.dumps(tampered)).verify(public, head)


def test_the_witness_cosigns_only_heads_that_extend(
    witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    log = Log()
    state = WitnessState(tmp_path / "w.json")
    assert witness_head(witness_key, state, log.keys, log.head(3), None, NOW).previous_size is None
    # The same head again: fine (idempotent).
    witness_head(witness_key, state, log.keys, log.head(3), None, NOW)
    grown = witness_head(witness_key, state, log.keys, log.head(5, days=1), log.proof(3, 5),
                         NOW)
    assert grown.previous_size == 3 and grown.tree_size == 5
    refusals = [
        (log.head(4, days=2), None, "smaller"),  # history cut
        (log.head(5, days=2, entries=[b"x", *ENTRIES]), None, "rewritten"),  # another root
        (log.head(6, days=2), None, "consistency proof from size 5 to 6 is required"),
        (log.head(6, days=2), log.proof(4, 6), "the proof is from size 4"),
        (log.head(6, log="Example Exchange log2", days=2), log.proof(5, 6), "different logs"),
        (log.head(6, days=0), log.proof(5, 6), "before the one seen"),  # time going back
        (log.head(6, days=30), log.proof(5, 6), "ahead of this witness's clock"),
    ]
    for head, proof, reason in refusals:
        with pytest.raises(VerificationError, match=reason):
            witness_head(witness_key, state, log.keys, head, proof, NOW)
    # A refused head is not remembered: the honest next head still extends size 5.
    assert witness_head(witness_key, state, log.keys, log.head(6, days=2), log.proof(5, 6),
                        NOW).previous_size == 5


def test_a_head_not_signed_by_the_key_list_is_refused(
    witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    log, other = Log(), Log()
    with pytest.raises(VerificationError):
        witness_head(witness_key, WitnessState(tmp_path / "w.json"), log.keys, other.head(1),
                     None, NOW)
    assert not (tmp_path / "w.json").exists()


def test_memory_is_keyed_by_the_first_key_not_by_names(
    witness_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    log = Log()
    state = WitnessState(tmp_path / "w.json")
    witness_head(witness_key, state, log.keys, log.head(3), None, NOW)
    # After a rotation the exchange's identity is unchanged: the new key's heads continue it.
    new_key = SigningKey.generate("Example Exchange key 2")
    rotated = KeyList.from_json(rotate(log.keys, log.key, new_key, T0 + timedelta(hours=1))
                                .to_json())
    log.keys, log.key = rotated, new_key
    assert witness_head(witness_key, state, log.keys, log.head(5, days=1), log.proof(3, 5),
                        NOW).previous_size == 3
    # A brand-new key list under the same exchange name is a second history: refused.
    impostor = Log()
    with pytest.raises(VerificationError, match="second history"):
        witness_head(witness_key, state, impostor.keys, impostor.head(1), None, NOW)
    accepted = witness_head(witness_key, state, impostor.keys, impostor.head(1), None, NOW,
                            new_identity=True)
    assert accepted.identity == impostor.keys.entries[0].key.key_id
    # Another witness key may not reuse this state.
    with pytest.raises(FormatError, match="belongs to witness key"):
        witness_head(Ed25519PrivateKey.generate(), state, log.keys, log.head(5, days=1), None,
                     NOW)


def test_a_corrupt_state_is_never_forgotten(witness_key: Ed25519PrivateKey,
                                            tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"scheme": "por-witness-state", "version": 1, "logs": {}}')
    log = Log()
    with pytest.raises(FormatError):
        witness_head(witness_key, WitnessState(path), log.keys, log.head(1), None, NOW)


def test_quorum_counts_distinct_known_witnesses_only(tmp_path: Path) -> None:
    log = Log()
    head = log.head(2)
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    publics = [PublicKey(k.public_key().public_bytes_raw(), f"W{i}") for i, k in
               enumerate(keys)]
    files = {f"witnesses/{p.key_id}.json": sign_cosignature(k, head, NOW).to_json().encode()
             for k, p in zip(keys, publics, strict=True)}
    result = check_cosignatures(files, head, publics[:2], 2)
    assert sorted(result.valid) == sorted(p.key_id for p in publics[:2])
    assert result.unchecked == (publics[2].key_id,)
    with pytest.raises(UsageError):
        check_cosignatures(files, head, publics[:2], 3)
    with pytest.raises(UsageError):
        check_cosignatures(files, head, [publics[0], publics[0]], 2)  # one key given twice
    misnamed = {f"witnesses/{publics[1].key_id}.json": files[f"witnesses/{publics[0].key_id}.json"]}
    with pytest.raises(FormatError, match="named after"):
        check_cosignatures(misnamed, head, publics, 0)


def test_witness_options_need_a_bundle(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from verifier.cli import main as verify_main

    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "liabilities.json")
                         .read_text())
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(vectors["vectors"][0]["proof"]))
    root = vectors["round_summary"]["root_hash"]
    for extra in (["--witness-quorum", "1"], ["--pin", "ab" * 32]):
        res = CliRunner().invoke(verify_main, ["proof", str(proof), "--root", root, *extra])
        assert res.exit_code == 2 and "--bundle" in res.output


def test_cli_refusal_exits_1_and_signs_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from verifier.cli import main as verify_main

    log, key = Log(), SigningKey.generate("Witness")
    key.save(tmp_path / "w.pem", "a long enough test passphrase")
    (tmp_path / "keys.json").write_text(log.keys.to_json())
    for size, days in ((3, 0), (2, 1)):
        (tmp_path / f"h{size}.json").write_text(log.head(size, days=days).signed.to_json())
    env = {"POR_KEY_PASSPHRASE": "a long enough test passphrase"}

    def run(head: str, out: str) -> int:
        return CliRunner().invoke(verify_main, [
            "log", "witness", str(tmp_path / head), "--key", str(tmp_path / "w.pem"),
            "--state", str(tmp_path / "state.json"), "--keylist", str(tmp_path / "keys.json"),
            "--out", str(tmp_path / out), "--now", "2026-12-01T00:00:00Z"], env=env).exit_code

    assert run("h3.json", "c3.json") == 0
    assert Cosignature.from_json((tmp_path / "c3.json").read_text()).witness_key_id == \
        key.public.key_id
    assert run("h2.json", "c2.json") == 1  # smaller than the head co-signed: refused
    assert not (tmp_path / "c2.json").exists()
    bad_env = {"POR_KEY_PASSPHRASE": "not the passphrase at all"}
    res = CliRunner().invoke(verify_main, [
        "log", "witness", str(tmp_path / "h3.json"), "--key", str(tmp_path / "w.pem"),
        "--state", str(tmp_path / "state.json"), "--keylist", str(tmp_path / "keys.json")],
        env=bad_env)
    assert res.exit_code == 2 and "not the passphrase" not in res.output
