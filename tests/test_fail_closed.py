"""The verifier fails closed: any change to a valid proof is rejected with one of our errors,
never passed, and never a bare KeyError/ValueError/TypeError escaping to the user."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from json_paths import json_paths, replaced

from verifier.errors import FormatError, PorError, VerificationError
from verifier.liabilities.proof import InclusionProof, verify_proof

DATA = json.loads((Path(__file__).parent / "vectors" / "liabilities.json").read_text())
VALID = next(v["proof"] for v in DATA["vectors"] if v["name"] == "valid-alice")
ROOT = bytes.fromhex(DATA["round_summary"]["root_hash"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**130), 2**130) | st.text(max_size=70)
    | st.sampled_from(["0", "1", "left", "right", "BTC", "00" * 32, str(2**128 - 1)]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


PATHS = json_paths(VALID)


@settings(max_examples=400, deadline=None)
@given(where=st.sampled_from(PATHS), value=json_values)
def test_any_replaced_value_fails_closed(where: tuple[Any, ...], value: Any) -> None:
    proof = replaced(VALID, where, value)
    if proof is None:
        return
    try:
        verify_proof(InclusionProof.from_json(json.dumps(proof)), expected_root=ROOT)
    except (FormatError, VerificationError):
        return
    raise AssertionError(f"a proof with {where} = {value!r} verified")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_escape(data: bytes) -> None:
    try:
        verify_proof(InclusionProof.from_json(data))
    except PorError:
        return
    raise AssertionError("random bytes verified")


def test_removing_any_field_is_malformed() -> None:
    for where in PATHS:
        proof = copy.deepcopy(VALID)
        target = proof
        for key in where[:-1]:
            target = target[key]
        del target[where[-1]]
        try:
            verify_proof(InclusionProof.from_json(json.dumps(proof)), expected_root=ROOT)
        except (FormatError, VerificationError):
            continue
        raise AssertionError(f"a proof without {where} verified")


def test_pathological_json_is_malformed_not_a_crash() -> None:
    for text in ('{"version": ' + "1" * 5000 + "}", "[" * 100_000, '{"a": 1e999}', "\ud800"):
        try:
            InclusionProof.from_json(text)
        except FormatError:
            continue
        raise AssertionError(f"{text[:20]!r} was accepted")


def test_foreign_reader_refuses_pathological_json_too() -> None:
    from verifier.foreign.parsing import load_json

    for data in (b'{"a": ' + b"1" * 5000 + b"}", b"[" * 100_000, b"\xff"):
        try:
            load_json(data, "sample")
        except FormatError:
            continue
        raise AssertionError(f"{data[:20]!r} was accepted")


TREE = bytes.fromhex(next(v["tree_hex"] for v in DATA["tree_file_vectors"]
                          if v["name"] == "valid-tree-file"))


@settings(max_examples=300, deadline=None)
@given(offset=st.integers(0, 191), byte=st.integers(0, 255))
def test_any_changed_byte_before_the_commitments_fails_closed(
    offset: int, byte: int, tmp_path_factory: Any
) -> None:
    # Magic, header length, header and padding (spec §8.3): one changed byte is refused as
    # malformed, or the audit fails; never VERIFIED, never a bare exception.
    from verifier.liabilities.summary import RootSummary
    from verifier.liabilities.treefile import TreeFile, audit_tree

    if TREE[offset] == byte:
        return
    data = bytearray(TREE)
    data[offset] = byte
    path = tmp_path_factory.mktemp("tree") / "tree.bin"
    path.write_bytes(bytes(data))
    summary = RootSummary.from_json(json.dumps(DATA["tree_file_summaries"]["vectors-2026-11"]))
    try:
        with TreeFile(path) as tree:
            audit_tree(tree, summary).raise_for_failures()
    except (FormatError, VerificationError):
        return
    raise AssertionError(f"byte {offset} set to {byte:#04x} still verified")
