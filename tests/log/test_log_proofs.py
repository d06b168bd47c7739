"""Generate-then-verify: the appender's RFC 9162 proofs pass the verifier, and their roots
agree with pymerkle's (an independent RFC 6962 tree) on random logs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from por.errors import UsageError
from por.log.proofs import consistency_proof, inclusion_proof
from verifier.errors import VerificationError
from verifier.log.proof import verify_consistency, verify_inclusion
from verifier.log.rfc6962 import hash_leaf, root_from_leaf_hashes

entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


def _pymerkle_root(data: list[bytes]) -> bytes:
    tree = InmemoryTree(algorithm="sha256")
    for item in data:
        tree.append_entry(item)
    return bytes(tree.get_root())


@settings(max_examples=60, deadline=None)
@given(entries)
def test_roots_match_pymerkle(data: list[bytes]) -> None:
    assert root_from_leaf_hashes([hash_leaf(x) for x in data]) == _pymerkle_root(data)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_inclusion_proofs_verify(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [hash_leaf(x) for x in data]
    index = draw.draw(st.integers(0, len(leaves) - 1))
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(index, leaves)
    verify_inclusion(index, len(leaves), leaves[index], proof, root)
    if proof:
        tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
        with pytest.raises(VerificationError):
            verify_inclusion(index, len(leaves), leaves[index], tampered, root)


@settings(max_examples=60, deadline=None)
@given(entries, st.data())
def test_consistency_proofs_verify(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [hash_leaf(x) for x in data]
    old = draw.draw(st.integers(1, len(leaves)))
    old_root = root_from_leaf_hashes(leaves[:old])
    new_root = root_from_leaf_hashes(leaves)
    proof = consistency_proof(old, leaves)
    verify_consistency(old, len(leaves), proof, old_root, new_root)
    # History rewritten (entry 0 replaced): the log's new root does not extend the old one,
    # whatever honest-looking proof it sends.
    rewritten = [hash_leaf(b"rewritten" + data[0]), *leaves[1:]]
    rewritten_root = root_from_leaf_hashes(rewritten)
    for candidate in (consistency_proof(old, rewritten), proof):
        with pytest.raises(VerificationError):
            verify_consistency(old, len(leaves), candidate, old_root, rewritten_root)


def test_misuse_is_a_usage_error() -> None:
    leaves = [hash_leaf(b"a")]
    with pytest.raises(UsageError):
        inclusion_proof(1, leaves)
    with pytest.raises(UsageError):
        consistency_proof(0, leaves)
    with pytest.raises(UsageError):
        consistency_proof(2, leaves)
