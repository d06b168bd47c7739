"""The private verifier fails closed: any change to a valid private proof is refused with one
of our errors (FormatError → exit 2, VerificationError → exit 1), never verified, and never a
bare KeyError/ValueError/TypeError (or a library error) escaping to the user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from json_paths import json_paths, replaced

from verifier.errors import FormatError, VerificationError
from verifier.private.proof import PrivateProof, PrivateRoot, verify_private_proof

DOC = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())
VALID = next(v for v in DOC["vectors"] if v["name"] == "valid-private-proof-alice")
ROOT = bytes.fromhex(VALID["root"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**130), 2**130) | st.text(max_size=70)
    | st.sampled_from(["0", "1", "left", "right", "BTC", "00" * 32, "08" + "00" * 32,
                       "09" + "ff" * 32, str(2**64), str(2**64 - 1), "AAAA", "AAA=",
                       "ff" * 32, VALID["proof"]["path"][0]["commitments"][1]]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


PATHS = json_paths(VALID["proof"])


def _encode(proof: Any) -> bytes:
    try:
        return rfc8785.dumps(proof)  # canonical, so the check goes past the encoding rule
    except ValueError:
        return json.dumps(proof, sort_keys=True, separators=(",", ":")).encode()


def _refused(data: bytes) -> None:
    try:
        verify_private_proof(PrivateProof.from_json(data), expected_root=ROOT)
    except (FormatError, VerificationError):
        return
    raise AssertionError("a changed private proof verified")


@settings(max_examples=300, deadline=None)
@given(where=st.sampled_from(PATHS), value=json_values)
def test_any_replaced_value_fails_closed(where: tuple[Any, ...], value: Any) -> None:
    proof = replaced(VALID["proof"], where, value)
    if proof is None:
        return
    _refused(_encode(proof))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_fails_closed(data: st.DataObject) -> None:
    raw = bytearray(rfc8785.dumps(VALID["proof"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    raw[i] ^= 1 << bit
    _refused(bytes(raw))


def test_root_file_with_a_huge_integer_is_malformed() -> None:
    text = rfc8785.dumps(DOC["round_root"]).replace(b'"leaf_count":4', b'"leaf_count":' +
                                                     str(2**70).encode())
    try:
        PrivateRoot.from_json(text)
    except FormatError:
        return
    raise AssertionError("accepted")
