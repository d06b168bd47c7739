"""Generator of the committed liabilities test vectors (tests/vectors/liabilities.json).

Run ``python tests/support/vectorgen.py`` to rewrite the file. It builds tiny rounds
with the builder and a PUBLIC test secret (never use it for a real round), takes valid
proofs, and derives named mutations, each standing for an attack, with the verdict the
verifier must give: "verified" (exit 0), "failed" (exit 1), "unanchored" (exit 1: checked
against nothing but itself) or "malformed" (exit 2). Three lists: ``vectors`` (a proof
against a published root, or none), ``anchor_vectors`` (what ``--root`` accepts, and
proofs with no anchor), ``tree_file_vectors`` (whole tree files, spec §8.3).
The verifier's tests check the verdicts; the builder's tests check that this generator
still produces the committed file byte for byte.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "liabilities.json"
TEST_SECRET = bytes.fromhex("00" * 31 + "01")  # public test secret: vectors only
ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
BALANCES = {
    "alice": [120000, 1500000000000000000, 0],
    "bob": [0, 2, 5000000],
    "carol": [99999999, 0, 1],
    "dave": [1, 1, 1],
    "erin": [0, 0, 0],
}
U128_MAX = (1 << 128) - 1

Mutation = Callable[[dict[str, Any]], Any]


def _build(
    tmp: Path,
    round_id: str,
    node_tag: bytes | None = None,
    balances: dict[str, list[int]] | None = None,
) -> tuple[Any, dict[str, str], bytes]:
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from snapshots import balances_to_rows, write_csv

    from por.liabilities import build
    from por.liabilities.prove import Prover
    from verifier.liabilities.mst import Asset

    balances = BALANCES if balances is None else balances
    snap = write_csv(tmp / f"{round_id}.csv", balances_to_rows(balances, ASSETS))
    assets = tuple(Asset(s, d) for s, d in ASSETS)
    out = tmp / f"out-{round_id}-{bool(node_tag)}"
    # The node tag lives where the builder hashes nodes (por.liabilities.buckets); workers=1
    # keeps the
    # build in this process, so the patch applies.
    from por.liabilities import buckets

    patch = (
        mock.patch.object(buckets, "TAG_NODE", node_tag) if node_tag else contextlib.nullcontext()
    )
    with patch:
        result = build.build_tree(snap, assets, round_id, TEST_SECRET, out, workers=1)
    prover = Prover(out, TEST_SECRET)
    try:
        proofs = {u: prover.prove(u, self_check=node_tag is None).to_json() for u in balances}
    finally:
        prover.close()
    return result.summary, proofs, (out / "tree.bin").read_bytes()


def _set(path: list[Any], value: Any) -> Mutation:
    def mutate(p: dict[str, Any]) -> None:
        target = p
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def generate() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        summary, proofs, tree = _build(Path(tmp), "vectors-2026-11")
        other_summary, other_proofs, _ = _build(Path(tmp), "vectors-2026-12")
        _, tagged_proofs, _ = _build(Path(tmp), "vectors-2026-11", node_tag=b"POR-MST-V1:LEAF:")
        # 19 characters of round id: magic, length and header end exactly at offset 192.
        aligned_summary, _, aligned_tree = _build(Path(tmp), "vectors-aligned-001")
        solo_summary, solo_proofs, _ = _build(
            Path(tmp), "vectors-solo", balances={"solo": [5, 6, 7]}
        )
    root = summary.root_hash.hex()
    base = json.loads(proofs["alice"])
    vectors: list[dict[str, Any]] = []

    def add(
        name: str,
        desc: str,
        verdict: str,
        proof: Any,
        published: str | None = root,
        reason: str = "",
    ) -> None:
        entry: dict[str, Any] = {"name": name, "description": desc, "expected": verdict}
        if reason:
            entry["reason_contains"] = reason
        entry["published_root"] = published
        entry["proof" if not isinstance(proof, str) else "proof_text"] = proof
        vectors.append(entry)

    for user, text in proofs.items():
        add(f"valid-{user}", f"{user}'s untouched proof", "verified", json.loads(text))
    add(
        "valid-without-published-root",
        "checked only against its own root: the recomputation holds, but a verifier's"
        " final verdict is unanchored (spec §8.2)",
        "verified",
        base,
        published=None,
    )
    vectors[-1]["final"] = "unanchored"

    def mutated(fn: Mutation) -> dict[str, Any]:
        p = copy.deepcopy(base)
        fn(p)
        return p

    def lower_sibling_sum(p: dict[str, Any]) -> None:
        level, asset = next(
            (i, j)
            for i, step in enumerate(p["path"])
            for j, s in enumerate(step["sums"])
            if int(s) > 0
        )
        p["path"][level]["sums"][asset] = str(int(p["path"][level]["sums"][asset]) - 1)
        p["root"]["sums"][asset] = str(int(p["root"]["sums"][asset]) - 1)

    def shift_value(p: dict[str, Any]) -> None:
        # OKX v1's flaw (eprint 2018/1139): move value between siblings, keep the total.
        level, asset = next(
            (i, j)
            for i, step in enumerate(p["path"])
            for j, s in enumerate(step["sums"])
            if int(s) > 0
        )
        moved = int(p["path"][level]["sums"][asset])
        p["path"][level]["sums"][asset] = "0"
        p["amounts"][asset] = str(int(p["amounts"][asset]) + moved)

    def swap_sums(p: dict[str, Any]) -> None:
        p["path"][0]["sums"], p["path"][1]["sums"] = p["path"][1]["sums"], p["path"][0]["sums"]

    def edit_balance(p: dict[str, Any]) -> None:
        p["amounts"][0] = str(int(p["amounts"][0]) + 1)
        p["root"]["sums"][0] = str(int(p["root"]["sums"][0]) + 1)

    def flip_side(p: dict[str, Any]) -> None:
        step = p["path"][1]
        step["side"] = "left" if step["side"] == "right" else "right"

    def add_level(p: dict[str, Any]) -> None:
        p["path"].append({"side": "right", "hash": "00" * 32, "sums": ["0", "0", "0"]})

    def drop_level(p: dict[str, Any]) -> None:
        p["path"].pop()

    def overflow(p: dict[str, Any]) -> None:
        p["path"][0]["sums"][2] = str(U128_MAX)

    def relabel_assets(p: dict[str, Any]) -> None:
        p["assets"][0]["symbol"], p["assets"][1]["symbol"] = "ETH", "BTC"

    def change_decimals(p: dict[str, Any]) -> None:
        p["assets"][2]["decimals"] = 8

    def extra_field(p: dict[str, Any]) -> None:
        p["path"][0]["note"] = "trust me"

    def float_amount(p: dict[str, Any]) -> None:
        p["amounts"][0] = 0.0012

    failed = [
        (
            "sibling-sum-lowered",
            "a sibling's sum lowered (and the root total with it)",
            lower_sibling_sum,
            "root",
        ),
        (
            "value-shifted-between-siblings",
            "value moved from the sibling to the user, total"
            " kept: the attack on trees that bind only the children's total",
            shift_value,
            "root",
        ),
        ("sibling-sums-swapped", "the sums of two siblings on the path traded", swap_sums, ""),
        ("balance-edited", "the user's balance raised by one base unit", edit_balance, "root"),
        ("side-flipped", "a sibling moved to the other side", flip_side, "root"),
        ("level-added", "an extra level appended to the path", add_level, "levels"),
        ("level-removed", "the last level of the path dropped", drop_level, "levels"),
        (
            "sum-overflowing",
            "a sibling's sum set to 2^128-1 so the parent overflows",
            overflow,
            "overflows",
        ),
        ("assets-relabelled", "BTC and ETH swapped in the asset list", relabel_assets, "root"),
        ("decimals-changed", "USDT's decimals changed from 6 to 8", change_decimals, "root"),
        ("salt-changed", "another salt", _set(["salt"], "ab" * 32), "root"),
        ("user-id-changed", "another user's id", _set(["user_id"], "mallory"), "root"),
        (
            "round-relabelled",
            "the round id changed in the proof",
            _set(["round"], "vectors-2026-12"),
            "root",
        ),
        (
            "leaf-count-doubled",
            "the padded leaf count doubled",
            _set(["root", "leaf_count"], 16),
            "levels",
        ),
    ]
    for name, desc, fn, reason in failed:
        add(name, desc, "failed", mutated(fn), reason=reason)
    add(
        "proof-from-another-round",
        "a valid proof of round vectors-2026-12 checked against the"
        " published root of vectors-2026-11",
        "failed",
        json.loads(other_proofs["alice"]),
        reason="published root",
    )
    add(
        "tag-changed",
        "a tree built with the leaf tag in place of the node tag (domain"
        " confusion); valid under that rule, not under ours",
        "failed",
        json.loads(tagged_proofs["alice"]),
        published=None,
        reason="root",
    )

    malformed = [
        (
            "hash-truncated",
            "a sibling hash truncated to 16 hex digits (64 bits)",
            _set(["path", 0, "hash"], base["path"][0]["hash"][:16]),
        ),
        ("scheme-unknown", "an unknown scheme name", _set(["scheme"], "por-mst-private")),
        ("version-unknown", "a future version", _set(["version"], 2)),
        ("unknown-field", "an unknown field inside a path entry", extra_field),
        ("sum-out-of-range", "a sum of 2^128", _set(["path", 0, "sums", 0], str(U128_MAX + 1))),
        ("amount-negative", "a negative balance", _set(["amounts", 0], "-1")),
        ("amount-as-float", "a JSON float instead of a decimal string", float_amount),
        ("amount-leading-zero", "a non-canonical number", _set(["amounts", 0], "0120000")),
        ("side-unknown", "a side that is neither left nor right", _set(["path", 0, "side"], "up")),
        ("missing-salt", "no salt", lambda p: p.pop("salt")),
        ("leaf-count-not-power-of-two", "a leaf count of 12", _set(["root", "leaf_count"], 12)),
        ("user-id-empty", "an empty user id", _set(["user_id"], "")),
    ]
    for name, desc, fn in malformed:
        add(name, desc, "malformed", mutated(fn))
    text = json.dumps(base, indent=2)
    add(
        "duplicate-key",
        "a JSON object that repeats a key",
        "malformed",
        text.replace('"salt":', '"salt": "' + "00" * 32 + '",\n  "salt":', 1),
    )
    add("not-json", "a truncated file", "malformed", text[: len(text) // 2])
    return {
        "description": "por-mst v1 inclusion-proof vectors; generated by"
        " tests/support/vectorgen.py with a public test secret. `expected` is the verdict of"
        " the recomputation against `published_root` (null: against the proof's own root);"
        " `final`, where present, is a verifier's verdict when it differs (spec §8.2, §9)",
        "round_summary": summary.to_dict(),
        "other_round_summary": other_summary.to_dict(),
        "vectors": vectors,
        "anchor_vectors": _anchor_vectors(base, root, json.loads(solo_proofs["solo"]),
                                          solo_summary.root_hash.hex()),
        "tree_file_summaries": {
            "vectors-2026-11": summary.to_dict(),
            "vectors-aligned-001": aligned_summary.to_dict(),
        },
        "tree_file_vectors": _tree_file_vectors(tree, aligned_tree),
    }


def _fabricated_one_leaf_proof() -> dict[str, Any]:
    # Made without any exchange: a one-leaf tree whose root is whatever its data hashes to.
    from verifier.liabilities.mst import (
        Asset,
        encode_amounts,
        leaf_hash,
        root_hash,
        user_commitment,
    )

    round_id, user, salt = "vectors-2026-11", "alice", bytes(32)
    assets = tuple(Asset(s, d) for s, d in ASSETS)
    amounts = [10**8, 0, 0]
    leaf = leaf_hash(user_commitment(round_id, user, salt), encode_amounts(amounts))
    top = root_hash(round_id, assets, 1, leaf, encode_amounts(amounts))
    return {
        "scheme": "por-mst", "version": 1, "round": round_id,
        "assets": [{"symbol": s, "decimals": d} for s, d in ASSETS], "user_id": user,
        "salt": salt.hex(), "amounts": [str(a) for a in amounts], "path": [],
        "root": {"hash": top.hex(), "sums": [str(a) for a in amounts], "leaf_count": 1},
    }


def _anchor_vectors(
    base: dict[str, Any], root: str, solo: dict[str, Any], solo_root: str
) -> list[dict[str, Any]]:
    """Proofs with the text a user passes as ``--root`` (null: none), and the verdict."""
    fake = _fabricated_one_leaf_proof()
    zero_leaves = copy.deepcopy(base)
    zero_leaves["root"]["leaf_count"] = 0
    cases: list[tuple[str, str, dict[str, Any], str | None, str]] = [
        ("fabricated-one-leaf-proof-unanchored", "a one-leaf proof anyone can make, checked"
         " against nothing but itself", fake, None, "unanchored"),
        ("fabricated-one-leaf-proof-against-published-root", "the same fabricated proof"
         " against the round's published root", fake, root, "failed"),
        ("valid-proof-unanchored", "alice's real proof, no published root given", base, None,
         "unanchored"),
        ("root-option-uppercase-hex", "the published root typed in upper case", base,
         root.upper(), "verified"),
        ("root-option-mixed-case-with-whitespace", "pasted with mixed case and surrounding"
         " whitespace", base, "  " + root[:32].upper() + root[32:] + "\n", "verified"),
        ("root-option-truncated", "the published root cut to 63 digits", base, root[:63],
         "malformed"),
        ("root-option-fullwidth-digit", "a non-ASCII digit that looks like hex", base,
         "\uff10" + root[1:], "malformed"),
        ("leaf-count-zero", "a tree of no leaves (the minimum is 1)", zero_leaves, root,
         "malformed"),
        ("valid-one-leaf-round", "a real round of one user: leaf_count 1, empty path", solo,
         solo_root, "verified"),
    ]
    return [
        {"name": name, "description": desc, "expected": verdict, "root_option": option,
         "proof": proof}
        for name, desc, proof, option, verdict in cases
    ]


def _tree_file_vectors(tree: bytes, aligned: bytes) -> list[dict[str, Any]]:
    """Whole tree files (spec §8.3) with the verdict of ``por-verify liabilities``."""
    from verifier.liabilities.mst import HASH_SIZE
    from verifier.liabilities.treefile import MAGIC

    def offsets(data: bytes) -> tuple[int, int]:
        header_end = len(MAGIC) + 4 + int.from_bytes(data[8:12], "big")
        return header_end, -(-header_end // 64) * 64

    header_end, c = offsets(tree)
    aligned_end, aligned_c = offsets(aligned)
    assert header_end < c and aligned_end == aligned_c
    nonzero_padding = bytearray(tree)
    nonzero_padding[c - 1] = 0x01
    extra_block = aligned[:aligned_c] + bytes(64) + aligned[aligned_c:]
    header = tree[12:header_end]
    spaced = header.replace(b'"leaf_count":', b'"leaf_count": ', 1)
    respaced = bytearray(tree[:8] + len(spaced).to_bytes(4, "big") + spaced)
    respaced += bytes(-len(respaced) % 64) + tree[c:]
    swapped = bytearray(tree)
    first, second = c, c + HASH_SIZE
    swapped[first:second], swapped[second : second + HASH_SIZE] = (
        tree[second : second + HASH_SIZE], tree[first:second])
    long_header = tree[:8] + (len(tree) - 11).to_bytes(4, "big") + tree[12:]
    cases = [
        ("valid-tree-file", "the builder's tree file", tree, "vectors-2026-11", "verified"),
        ("tree-file-header-length-beyond-file", "u32 header length reaching past the end of"
         " the file", long_header, "vectors-2026-11", "malformed"),
        ("valid-tree-file-header-already-aligned", "the header ends at offset 192: no padding"
         " at all", aligned, "vectors-aligned-001", "verified"),
        ("tree-file-header-padding-not-zero", "a non-zero byte just before offset C",
         bytes(nonzero_padding), "vectors-2026-11", "malformed"),
        ("tree-file-padding-block-when-aligned", "64 zero bytes of padding after a header"
         " that was already aligned", extra_block, "vectors-aligned-001", "malformed"),
        ("tree-file-header-not-canonical", "a space inside the header JSON", bytes(respaced),
         "vectors-2026-11", "malformed"),
        ("tree-file-commitments-swapped", "the first two commitments traded: not ascending",
         bytes(swapped), "vectors-2026-11", "failed"),
    ]
    return [
        {"name": name, "description": desc, "expected": verdict, "summary": summary,
         "tree_hex": data.hex()}
        for name, desc, data, summary, verdict in cases
    ]


def render() -> str:
    return json.dumps(generate(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(render())
    print(f"wrote {VECTORS}")
