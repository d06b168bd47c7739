"""Generate tests/vectors/private.json: private-scheme proofs (spec §16), each with its verdict.

Run: .venv/bin/python tests/private/private_vectorgen.py  (rewrites the committed file).
The round secret is public (a test value); range proofs are deterministic given their
nonce, so the file is reproducible byte for byte. The checker (test_private_vectors.py and
tests/attacks/) reads the committed file; this generator never certifies its own output.

Each attack is built so that only the defence it names can catch it: hashes, parents and
the root are recomputed around the lie (a self-consistent forged round whose root the
exchange published), and the vector's `root` is that published root.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from por.liabilities.private import build_private_tree, prove, write_private_round  # noqa: E402
from verifier.liabilities.mst import Asset, derive_salt, encode_amounts, user_commitment  # noqa: E402
from verifier.private import commitments as pc  # noqa: E402
from verifier.private.proof import PrivateProof, PrivateRoot, PrivateStep  # noqa: E402
from verifier.private.scheme import (  # noqa: E402
    PrivateAsset,
    generator_seed,
    leaf_hash,
    node_hash,
    range_nonce,
    range_position,
    root_hash,
)

OUT = REPO / "tests" / "vectors" / "private.json"
SECRET = hashlib.sha256(b"por-toolkit private-scheme test vectors (public)").digest()
ROUND = "2026-11-28-private"
ASSETS = [Asset("BTC", 8), Asset("ETH", 18)]
USERS = [
    ("alice", [150_000_000, 2 * 10**18]),
    ("bob", [0, 5 * 10**17]),
    ("carol", [25_000_000, 0]),
    ("dave", [0, 30 * 10**18]),  # ETH total above 2^64 wei: the unit exponent becomes 1
]


def flip(commitment: bytes) -> bytes:
    """−C: a commitment's negation flips its 0x08/0x09 prefix (−1 is not a square mod p)."""
    return bytes([commitment[0] ^ 1]) + commitment[1:]


def commit_any(value: int, blinding: int, gen: bytes) -> bytes:
    """A commitment to ``value`` mod n, negative values included (what a cheater can make)."""
    value %= pc.GROUP_ORDER
    if value <= pc.MAX_VALUE:
        return pc.commit(value, blinding, gen, "forge")
    return flip(pc.commit(pc.GROUP_ORDER - value, (-blinding) % pc.GROUP_ORDER, gen, "forge"))


def reroot(proof: PrivateProof, totals: tuple[int, ...] | None = None) -> PrivateProof:
    """Recompute the root hash over the proof's path (and, if given, other totals)."""
    assets = proof.assets
    gens = [pc.generator(generator_seed(a)) for a in assets]
    values = [-(-x // a.unit) for x, a in zip(proof.amounts, assets, strict=True)]
    current = tuple(pc.commit(v, r, gens[j], "reroot")
                    for j, (v, r) in enumerate(zip(values, proof.blindings, strict=True)))
    h = leaf_hash(user_commitment(proof.round_id, proof.user_id, proof.salt),
                  encode_amounts(proof.amounts), current)
    for step in proof.path:
        h = (node_hash(step.hash, step.commitments, h, current) if step.side == "left"
             else node_hash(h, current, step.hash, step.commitments))
        current = step.parents
    root = proof.root
    totals = root.totals if totals is None else totals
    new_root = replace(root, totals=totals, root_hash=root_hash(
        proof.round_id, assets, root.leaf_count, h, current, totals, root.blindings))
    return replace(proof, root=new_root)


def two_leaf_round(sibling_value: int, published_total: int | None = None,
                   range_value: int | None = None) -> tuple[PrivateProof, str]:
    """A hand-made round of two leaves, one asset (BTC): the user holds 10; the sibling
    commits to ``sibling_value`` (mod n); the top commits to ``published_total`` (default:
    the true sum) with the blinding sum, and the root publishes that opening. The sibling's
    range proof is the library's best attempt for ``range_value``."""
    asset = PrivateAsset("BTC", 8, 0)
    gen, seed = pc.generator(generator_seed(asset)), generator_seed(asset)
    r_user, r_sib = 1111, 2222
    mine = pc.commit(10, r_user, gen, "user")
    sibling = commit_any(sibling_value, r_sib, gen)
    total = 10 + sibling_value if published_total is None else published_total
    top = pc.commit(total, r_user + r_sib, gen, "top")
    salt = derive_salt(SECRET, ROUND, "erin")
    position = range_position(ROUND, 0, 1, 0)
    note = ""
    try:
        proof_bytes = pc.prove_range(range_value if range_value is not None else sibling_value,
                                     r_sib, sibling, gen, seed, range_nonce(SECRET, ROUND, 0, 1, 0),
                                     position)
    except (ValueError, TypeError) as e:  # the library refuses a wrong opening
        note = f" (libsecp256k1-zkp refused to prove it: {e}; a valid proof of 0 is used)"
        honest = pc.commit(0, r_sib, gen, "zero")
        proof_bytes = pc.prove_range(0, r_sib, honest, gen, seed,
                                     range_nonce(SECRET, ROUND, 0, 1, 0), position)
    sibling_hash = hashlib.sha256(b"some leaf the user never sees").digest()
    leaf = leaf_hash(user_commitment(ROUND, "erin", salt), encode_amounts([10]), [mine])
    top_hash = node_hash(leaf, [mine], sibling_hash, [sibling])
    root = PrivateRoot(ROUND, (asset,), 2,
                       root_hash(ROUND, (asset,), 2, top_hash, [top], (total,),
                                 (r_user + r_sib,)),
                       (total,), (r_user + r_sib,))
    step = PrivateStep("right", sibling_hash, (sibling,), (proof_bytes,), (top,))
    return PrivateProof(ROUND, (asset,), "erin", salt, (10,), (r_user,), (step,), root), note


def vector(name: str, why: str, proof: PrivateProof | None, expected: str, *,
           text: str | None = None, root: bytes | None = None,
           final: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "why": why}
    if text is not None:
        out["proof_text"] = text
    else:
        assert proof is not None
        out["proof"] = proof.to_dict()
    anchor = root if root is not None else (proof.root.root_hash if proof else None)
    out["root"] = anchor.hex() if anchor is not None else None
    out["expected"] = expected
    if final:
        out["final"] = final
    return out


HYBRID_ROUND = "2026-11-28-private-hybrid"


def hybrid() -> tuple[PrivateRoot, list[dict[str, Any]]]:
    """Version 2 (spec §16.14): 8 leaves (3 levels), the bottom L = 2 hidden, level 2 opened."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "round"
        tree = build_private_tree(HYBRID_ROUND, ASSETS, SECRET, USERS, pad_to=8,
                                  hidden_levels=2)
        published = write_private_round(tree, out)
        alice = prove(out, SECRET, "alice")
    vectors = [vector("valid-hybrid-proof-alice-hidden-2",
                      "a hybrid round (version 2, L = 2 of 3 levels): levels 0-1 hidden with"
                      " range proofs, level 2's sibling opened (its sums of 4 leaves shown)",
                      alice, "verified")]
    # The exchange shows alice a proof claiming L = 1: level 1's sibling opened (its sums,
    # blindings), and the root hash recomputed over L = 1. Published: L = 2.
    leaf_index = sum(1 << i for i, s in enumerate(alice.path) if s.side == "left")
    sib1 = tree.levels[1][(leaf_index >> 1) ^ 1]
    path = list(alice.path)
    path[1] = PrivateStep(path[1].side, path[1].hash, (), (), path[1].parents, sib1.values,
                          sib1.blindings)
    claims = replace(alice, path=tuple(path),
                     root=replace(alice.root, hidden_levels=1))
    claims = replace(claims, root=replace(claims.root, root_hash=_reroot_hash(claims)))
    vectors.append(vector(
        "hybrid-proof-claims-other-hidden-levels",
        "the published root binds L = 2; the proof claims L = 1 and opens level 1 (a"
        " self-consistent proof over its own root): L is in the root hash (spec §16.14), so"
        " it does not reach the published root", claims, "failed",
        root=published.root_hash))
    # The proof keeps the root's L = 2 but opens level 1 (below L).
    below = replace(alice, path=tuple(path))
    vectors.append(vector(
        "hybrid-opened-level-below-hidden",
        "the root says L = 2 but the proof opens level 1 (a sibling's sums shown where a"
        " range proof must stand): a level's form follows L (spec §16.14)", below,
        "malformed", root=published.root_hash))
    return published, vectors


def _reroot_hash(proof: PrivateProof) -> bytes:
    """The root hash a proof's own path reaches (any L), for a self-consistent forgery."""
    assets = proof.assets
    gens = [pc.generator(generator_seed(a)) for a in assets]
    values = [-(-x // a.unit) for x, a in zip(proof.amounts, assets, strict=True)]
    current = tuple(pc.commit(v, r, gens[j], "reroot")
                    for j, (v, r) in enumerate(zip(values, proof.blindings, strict=True)))
    h = leaf_hash(user_commitment(proof.round_id, proof.user_id, proof.salt),
                  encode_amounts(proof.amounts), current)
    for step in proof.path:
        sib = (tuple(pc.commit(v, r, gens[j], "open")
                     for j, (v, r) in enumerate(zip(step.sums, step.blindings, strict=True)))
               if step.opened else step.commitments)
        h = node_hash(step.hash, sib, h, current) if step.side == "left" else node_hash(
            h, current, step.hash, sib)
        current = step.parents
    root = proof.root
    return root_hash(proof.round_id, assets, root.leaf_count, h, current, root.totals,
                     root.blindings, root.hidden_levels)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "round"
        tree = build_private_tree(ROUND, ASSETS, SECRET, USERS, pad_to=4)
        published = write_private_round(tree, out)
        alice = prove(out, SECRET, "alice")
        dave = prove(out, SECRET, "dave")
    assets = alice.assets
    gens = [pc.generator(generator_seed(a)) for a in assets]
    seeds = [generator_seed(a) for a in assets]
    leaf_index = sum(1 << i for i, s in enumerate(alice.path) if s.side == "left")
    vectors = [
        vector("valid-private-proof-alice", "an honest proof, anchored by the published root",
               alice, "verified"),
        vector("valid-private-proof-dave-unit-exponent",
               "ETH's total exceeds 2^64 wei, so the round commits ETH in units of 10 wei"
               " (unit_exponent 1), rounded up (spec §16.3)", dave, "verified"),
        vector("valid-without-published-root", "consistent with itself, but no anchor given",
               alice, "verified", root=None, final="unanchored"),
    ]
    vectors[-1]["root"] = None

    # A range proof made for the same commitment, at another level's position.
    step = alice.path[1]
    sib1 = (leaf_index >> 1) ^ 1
    tree_level1 = tree.levels[1][sib1]
    moved = pc.prove_range(tree_level1.values[0], tree_level1.blindings[0], step.commitments[0],
                           gens[0], seeds[0], range_nonce(SECRET, ROUND, 0, sib1, 0),
                           range_position(ROUND, 0, sib1, 0))
    path = list(alice.path)
    path[1] = replace(step, range_proofs=(moved, *step.range_proofs[1:]))
    vectors.append(vector(
        "range-proof-moved-to-another-level",
        "the sibling's range proof is valid for its commitment but was bound to level 0,"
        " not level 1 (spec §16.5): a proof made for one position cannot serve at another",
        replace(alice, path=tuple(path)), "failed"))
    other_round = pc.prove_range(tree_level1.values[0], tree_level1.blindings[0],
                                 step.commitments[0], gens[0], seeds[0],
                                 range_nonce(SECRET, "2026-11-21-private", 1, sib1, 0),
                                 range_position("2026-11-21-private", 1, sib1, 0))
    path[1] = replace(step, range_proofs=(other_round, *step.range_proofs[1:]))
    vectors.append(vector(
        "range-proof-replayed-from-another-round",
        "the same commitment's range proof, bound to another round id (spec §16.5)",
        replace(alice, path=tuple(path)), "failed"))
    path = list(alice.path)
    path[0] = replace(alice.path[0], range_proofs=alice.path[0].range_proofs[::-1])
    vectors.append(vector(
        "range-proof-moved-to-another-asset",
        "the sibling's BTC and ETH range proofs swapped: each is checked against its own"
        " asset's commitment, generator and position", replace(alice, path=tuple(path)),
        "failed"))
    short = pc.commit(0, 7, gens[0], "short")
    del short
    leaf0 = tree.levels[0][leaf_index ^ 1]
    narrow = bytes(pc._wally().asset_rangeproof_with_nonce(  # a 32-bit proof: another width
        leaf0.values[0], range_nonce(SECRET, ROUND, 0, leaf_index ^ 1, 0), seeds[0], bytes(32),
        pc.scalar_bytes(leaf0.blindings[0]), leaf0.commitments[0],
        range_position(ROUND, 0, leaf_index ^ 1, 0), gens[0], 0, 0, 32))
    path = list(alice.path)
    path[0] = replace(alice.path[0], range_proofs=(narrow, *alice.path[0].range_proofs[1:]))
    vectors.append(vector(
        "range-proof-of-32-bits",
        f"a valid range proof of [0, 2^32) ({len(narrow)} bytes): the spec fixes 64 bits at"
        " every level, so proof sizes never depend on magnitudes (spec §16.5)",
        replace(alice, path=tuple(path)), "malformed"))

    negative, note = two_leaf_round(-5, range_value=pc.MAX_VALUE - 4)
    vectors.append(vector(
        "sibling-commits-to-negative-sum",
        "the sibling commits to -5 (n - 5) so that the total understates the user's 10 by 5;"
        " no range proof of [0, 2^64) exists for it" + note, negative, "failed"))
    not_sum, _ = two_leaf_round(20, published_total=29)
    vectors.append(vector(
        "parent-commitment-not-the-sum",
        "the top commits to 29 where its children hold 10 + 20: hashes and the root opening"
        " are consistent with the lie; only the commitment sum check catches it", not_sum,
        "failed"))
    lying = reroot(alice, totals=(alice.root.totals[0] - 1, *alice.root.totals[1:]))
    vectors.append(vector(
        "root-opening-does-not-match-totals",
        "the published BTC total is one unit short of what the top commitment opens to; the"
        " root hash is recomputed over the short total", lying, "failed"))
    # The exchange shows a sibling commitment (one unit more, with a valid range proof, and
    # parents and totals that add up) other than the one its tree hashed.
    sib0 = tree.levels[0][leaf_index ^ 1]
    shown = pc.commit(sib0.values[0] + 1, sib0.blindings[0], gens[0], "shown")
    shown_proof = pc.prove_range(sib0.values[0] + 1, sib0.blindings[0], shown, gens[0],
                                 seeds[0], range_nonce(SECRET, ROUND, 0, leaf_index ^ 1, 0),
                                 range_position(ROUND, 0, leaf_index ^ 1, 0))
    path = []
    for level, step in enumerate(alice.path):
        parent = tree.levels[level + 1][(leaf_index >> level) >> 1]
        parents = (pc.commit(parent.values[0] + 1, parent.blindings[0], gens[0], "p"),
                   *step.parents[1:])
        if level == 0:
            step = replace(step, commitments=(shown, *step.commitments[1:]),
                           range_proofs=(shown_proof, *step.range_proofs[1:]))
        path.append(replace(step, parents=parents))
    unbound = replace(alice, path=tuple(path), root=replace(
        alice.root, totals=(alice.root.totals[0] + 1, *alice.root.totals[1:])))
    vectors.append(vector(
        "commitment-does-not-match-hash",
        "the sibling's commitment shown is not the one its parent's hash bound (sums, range"
        " proof and root opening all consistent with it): the node hash binds both children's"
        " commitments, so the root no longer recomputes", unbound, "failed",
        root=alice.root.root_hash))
    inflated = replace(alice, amounts=(alice.amounts[0] + 1, *alice.amounts[1:]))
    vectors.append(vector(
        "balance-inflated-in-proof",
        "the proof shows the user one satoshi more than the tree holds", inflated, "failed"))
    text = json.dumps(alice.to_dict(), indent=1)
    vectors.append(vector("proof-not-rfc8785", "the same proof with whitespace: one proof,"
                          " one encoding (spec §16.8)", None, "malformed", text=text,
                          root=alice.root.root_hash))
    extra = dict(alice.to_dict(), note="hello")
    vectors.append({**vector("unknown-field", "an unknown top-level field", alice, "malformed"),
                    "proof": extra})
    short_path = replace(alice, path=alice.path[:1])
    vectors.append(vector("path-one-step-short", "a path shorter than log2(leaf_count)",
                          short_path, "malformed", root=alice.root.root_hash))
    hybrid_root, hybrid_vectors = hybrid()
    vectors += hybrid_vectors
    doc = {
        "scheme": "por-mst-private", "version": 1,
        "about": "Private-scheme proofs (docs/spec.md §16) with their verdicts; generated by"
                 " tests/private/private_vectorgen.py with a public test secret.",
        "round_root": published.to_dict(),
        "round_root_hybrid": hybrid_root.to_dict(),
        "vectors": vectors,
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}: {len(vectors)} vectors, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
