"""Every published RFC 6962 / RFC 9162 probe gets its verdict (tests/data/merkle_rfc6962).

transparency-dev/merkle's probes carry ``wantErr``: a ``False`` must verify, a ``True`` must
raise one of our errors (never another exception, never pass). The hasher constants and
pymerkle's published roots and paths check the hashing and proof shapes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import PorError
from verifier.log import proof as lp
from verifier.log.rfc6962 import EMPTY_ROOT, hash_children, hash_leaf, root_from_leaf_hashes

DATA = Path(__file__).parent.parent / "data" / "merkle_rfc6962"
RAW = DATA / "transparency-dev"


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(h) for h in value or []]


def _probes(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((RAW / kind).rglob("*.json"))
    return [(str(f.relative_to(RAW)), json.loads(f.read_text())) for f in files]


EXPECTED_COUNTS = {
    "inclusion": 98,
    "consistency": 98,
    "subtreeinclusion": 204,
    "subtreeconsistency": 118,
}


def test_every_raw_probe_is_collected() -> None:
    counts = {kind: len(_probes(kind)) for kind in EXPECTED_COUNTS}
    assert counts == EXPECTED_COUNTS
    assert sum(counts.values()) == 518


def _verdict(want_err: bool, check: Any) -> None:
    if want_err:
        with pytest.raises(PorError):
            check()
    else:
        check()


@pytest.mark.parametrize(("name", "p"), _probes("inclusion"), ids=lambda v: str(v))
def test_inclusion_probe(name: str, p: dict[str, Any]) -> None:
    _verdict(
        p["wantErr"],
        lambda: lp.verify_inclusion(
            p["leafIdx"], p["treeSize"], _b64(p["leafHash"]), _proof(p["proof"]), _b64(p["root"])
        ),
    )


@pytest.mark.parametrize(("name", "p"), _probes("consistency"), ids=lambda v: str(v))
def test_consistency_probe(name: str, p: dict[str, Any]) -> None:
    _verdict(
        p["wantErr"],
        lambda: lp.verify_consistency(
            p["size1"], p["size2"], _proof(p["proof"]), _b64(p["root1"]), _b64(p["root2"])
        ),
    )


@pytest.mark.parametrize(("name", "p"), _probes("subtreeinclusion"), ids=lambda v: str(v))
def test_subtree_inclusion_probe(name: str, p: dict[str, Any]) -> None:
    _verdict(
        p["wantErr"],
        lambda: lp.verify_subtree_inclusion(
            p["leafIdx"],
            p["start"],
            p["end"],
            _b64(p["leafHash"]),
            _proof(p["proof"]),
            _b64(p["root"]),
        ),
    )


@pytest.mark.parametrize(("name", "p"), _probes("subtreeconsistency"), ids=lambda v: str(v))
def test_subtree_consistency_probe(name: str, p: dict[str, Any]) -> None:
    _verdict(
        p["wantErr"],
        lambda: lp.verify_subtree_consistency(
            p["start"],
            p["end"],
            p["size"],
            _proof(p["proof"]),
            _b64(p["root1"]),
            _b64(p["root2"]),
        ),
    )


def test_verdict_totals() -> None:
    """The published verdicts, counted: what this suite promises to reproduce."""
    totals = {}
    for kind in EXPECTED_COUNTS:
        probes = _probes(kind)
        totals[kind] = (
            sum(not p["wantErr"] for _, p in probes),
            sum(p["wantErr"] for _, p in probes),
        )
    assert totals == {
        "inclusion": (6, 92),
        "consistency": (6, 92),
        "subtreeinclusion": (12, 192),
        "subtreeconsistency": (12, 106),
    }


CONSTANTS = json.loads((DATA / "transparency-dev_rfc6962_tree_constants.json").read_text())


def test_hasher_vectors() -> None:
    for vector in CONSTANTS["hasher_vectors"]:
        want = bytes.fromhex(vector["want"])
        if "left_ascii" in vector:
            got = hash_children(vector["left_ascii"].encode(), vector["right_ascii"].encode())
        elif "leaf_hex" in vector:
            got = hash_leaf(bytes.fromhex(vector["leaf_hex"]))
        elif "leaf_ascii" in vector:
            got = hash_leaf(vector["leaf_ascii"].encode())
        else:
            got = EMPTY_ROOT
        assert got == want, vector["desc"]


def test_roots_of_the_reference_tree_by_size() -> None:
    leaves = [hash_leaf(bytes.fromhex(x)) for x in CONSTANTS["leaf_inputs_hex"]]
    for size, root in enumerate(CONSTANTS["root_hashes_by_size"]):
        assert root_from_leaf_hashes(leaves[:size]).hex() == root, size


def test_node_hashes_by_level() -> None:
    leaves = [hash_leaf(bytes.fromhex(x)) for x in CONSTANTS["leaf_inputs_hex"]]
    level = leaves
    for want in CONSTANTS["node_hashes_by_level"]:
        assert [h.hex() for h in level] == want
        level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]


PYMERKLE = json.loads((DATA / "pymerkle_path_vectors.json").read_text())
ENTRIES = [b"a", b"b", b"c", b"d", b"e"]


def test_pymerkle_roots_match_rfc6962() -> None:
    for size, root in PYMERKLE["roots_by_size"].items():
        leaves = [hash_leaf(e) for e in ENTRIES[: int(size)]]
        assert root_from_leaf_hashes(leaves).hex() == root


@pytest.mark.parametrize(
    "v", PYMERKLE["inclusion"], ids=lambda v: f"{v['tree_size']}-{v['leaf_index_0based']}"
)
def test_pymerkle_inclusion_paths_are_rfc9162_paths(v: dict[str, Any]) -> None:
    """pymerkle's path is [leaf hash, siblings bottom-up]: the siblings are the RFC 9162 proof."""
    path = [bytes.fromhex(h) for h in v["path"]]
    assert path[0] == hash_leaf(ENTRIES[v["leaf_index_0based"]])
    lp.verify_inclusion(
        v["leaf_index_0based"],
        v["tree_size"],
        path[0],
        path[1:],
        bytes.fromhex(v["expected_root"]),
    )


@pytest.mark.parametrize(
    "v", PYMERKLE["consistency"], ids=lambda v: f"{v['size1']}-{v['tree_size']}"
)
def test_pymerkle_consistency_roots(v: dict[str, Any]) -> None:
    """pymerkle's consistency paths are in its own format; their roots are RFC 6962 roots."""
    size1, size2 = v["size1"], v["tree_size"]
    leaves = [hash_leaf(e) for e in ENTRIES]
    assert root_from_leaf_hashes(leaves[:size1]).hex() == v["expected_root1"]
    assert root_from_leaf_hashes(leaves[:size2]).hex() == v["expected_root2"]
