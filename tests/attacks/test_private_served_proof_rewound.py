"""Attack: private-served-proof-rewound. Whoever knows a range proof's nonce rewinds it to
the hidden sibling's value and blinding (spec §16.5). A server that makes private proofs
per token (spec §16.16) uses nonces under a serving key S derived from the round secret K.
Were S one of K's other derivations (a root blinding, published in root.json; a user's salt
or leaf blinding, in their own proof), the public or any user would compute the served
nonces and rewind every served proof to the hidden sums. S has its own tag, so it is none of
them: no value a user or the public holds rewinds a served range proof, while S does (the
rewind is real: wallycore's ``asset_unblind_with_nonce``).

Seen failing before the fix with S derived as the round's first root blinding (a K
derivation in another domain): the public rewinds every served proof."""

from __future__ import annotations

import hashlib
import hmac
import warnings
from pathlib import Path
from typing import Any

import pytest

from por.liabilities.private import build_private_tree, read_round, write_private_round
from por.liabilities.tokens import (
    TAG_SERVING_KEY,
    TOKEN_FILE,
    TokenIndex,
    issue_tokens,
    serving_key,
    serving_nonce,
    token_id,
)
from verifier.liabilities import mst
from verifier.liabilities.mst import Asset, derive_salt
from verifier.private import scheme
from verifier.private.commitments import scalar_bytes
from verifier.private.proof import PrivateProof
from verifier.private.scheme import generator_seed, range_nonce, range_position

SECRET = bytes(range(100, 132))  # a public test secret: never a real round's
ROUND = "rewind-1"
ASSETS = (Asset("BTC", 8), Asset("ETH", 18))
USERS = [(f"u{i}", [(i + 1) * 100_000, (2 * i + 1) * 10**16]) for i in range(8)]


def _wally() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import wallycore

    return wallycore


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, PrivateProof]:
    round_dir = tmp_path_factory.mktemp("rewind") / ROUND
    write_private_round(build_private_tree(ROUND, ASSETS, SECRET, USERS), round_dir)
    (user, token), = issue_tokens(round_dir, SECRET, ["u3"])
    index = TokenIndex(round_dir)
    try:
        record = index.lookup(token)
        assert record is not None and index.private
        proof = PrivateProof.from_json(index.proof_text(record))
    finally:
        index.close()
    assert proof.user_id == user
    return round_dir, token, proof


def _rewinds(proof: PrivateProof, nonce_of: Any) -> list[int]:
    """The sibling values that ``nonce_of(level, index, j)`` rewinds a served proof to."""
    leaf = sum(1 << i for i, s in enumerate(proof.path) if s.side == "left")
    from verifier.private.commitments import generator

    found = []
    for level, step in enumerate(proof.path):
        for j, asset in enumerate(proof.assets):
            position = (leaf >> level) ^ 1
            try:
                value = _wally().asset_unblind_with_nonce(
                    nonce_of(level, position, j), step.range_proofs[j], step.commitments[j],
                    range_position(proof.round_id, level, position, j),
                    generator(generator_seed(asset)))[0]
            except ValueError:  # the library refuses: the nonce is not the proof's
                continue
            found.append(value)
    return found


def test_the_serving_key_rewinds_a_served_proof(
    served: tuple[Path, str, PrivateProof],
) -> None:
    # What the attack needs, shown to work: with S, every range proof opens to the sibling's
    # hidden sum. S lies in the token index only (mode 0600, beside tree.bin).
    round_dir, _, proof = served
    key = serving_key(SECRET, ROUND)
    assert key in (round_dir / TOKEN_FILE).read_bytes()
    _, tree = read_round(round_dir)
    leaf = sum(1 << i for i, s in enumerate(proof.path) if s.side == "left")
    hidden = [tree.node(level, (leaf >> level) ^ 1).values[j]
              for level in range(len(proof.path)) for j in range(len(proof.assets))]
    assert _rewinds(proof, lambda lv, i, j: serving_nonce(key, ROUND, lv, i, j)) == hidden


def test_nothing_a_user_or_the_public_holds_rewinds_a_served_proof(
    served: tuple[Path, str, PrivateProof],
) -> None:
    _, token, proof = served
    root = proof.root
    known = [scalar_bytes(b) for b in root.blindings]  # published in root.json
    known += [scalar_bytes(b) for b in proof.blindings]  # the user's own leaf opening
    known += [proof.salt, root.root_hash, token.encode(), token_id(token),
              mst.user_commitment(ROUND, proof.user_id, proof.salt)]
    for candidate in known:
        assert _rewinds(proof, lambda lv, i, j, c=candidate: range_nonce(c, ROUND, lv, i, j)) \
            == [], "a served proof rewound with a value its user or the public holds"
        assert _rewinds(proof, lambda lv, i, j, c=candidate: c) == []


def test_the_serving_key_is_none_of_the_round_secrets_other_values() -> None:
    key = serving_key(SECRET, ROUND)
    k_values = {scalar_bytes(scheme.root_blinding(SECRET, ROUND, j)) for j in range(2)}
    k_values |= {derive_salt(SECRET, ROUND, u) for u, _ in USERS}
    k_values |= {range_nonce(SECRET, ROUND, lv, i, j)
                 for lv in range(3) for i in range(8 >> lv) for j in range(2)}
    k_values |= {scalar_bytes(scheme.left_blinding(SECRET, ROUND, j, lv, 2 * i))
                 for lv in range(3) for i in range(4 >> lv) for j in range(2)}
    assert key not in k_values and key != SECRET
    # Its own domain: a 16-byte tag that no other derivation keyed by K (or hashed) uses.
    tags = {v for mod in (scheme, mst) for name, v in vars(mod).items()
            if name.startswith("TAG_") and isinstance(v, bytes)}
    assert len(TAG_SERVING_KEY) == 16 and len(tags) > 10 and TAG_SERVING_KEY not in tags
    assert hmac.digest(SECRET, TAG_SERVING_KEY + mst.encode_str(ROUND.encode()),
                       hashlib.sha256) == key
    # A round of its own: another round's S is another key.
    assert serving_key(SECRET, "rewind-2") != key
