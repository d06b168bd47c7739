"""The fast builder against the slow reference on random trees (Hypothesis)."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_tree
from snapshots import balances_to_rows, write_csv

from por.liabilities.build import build_tree
from por.liabilities.prove import Prover
from verifier.liabilities.mst import Asset, decode_amounts
from verifier.liabilities.proof import verify_proof
from verifier.liabilities.treefile import TreeFile, audit_tree

ASSETS = [("BTC", 8), ("ETH", 18), ("USDT", 6)]
SECRET = bytes(range(32))

# Any text the snapshot accepts as a user id (spec §4): Unicode in NFC, no surrounding
# whitespace (categories L, N, P, S hold no whitespace).
user_ids = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S")),
    min_size=1,
    max_size=12,
).filter(lambda text: unicodedata.is_normalized("NFC", text))
amount = st.one_of(st.integers(0, 10**12), st.integers(0, 2**120))
balances = st.dictionaries(
    user_ids, st.lists(amount, min_size=3, max_size=3), min_size=1, max_size=40
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(balances=balances, pad_exp=st.integers(0, 7), workers=st.sampled_from([1, 2]))
def test_builder_matches_reference(
    balances: dict[str, list[int]], pad_exp: int, workers: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        snap = write_csv(d / "s.csv", balances_to_rows(balances, ASSETS))
        result = build_tree(
            snap,
            tuple(Asset(s, k) for s, k in ASSETS),
            "round-7",
            SECRET,
            d / "out",
            pad_to=1 << pad_exp,
            workers=workers,
        )
        leaf_count = result.summary.leaf_count
        assert leaf_count >= len(balances) and leaf_count >= 1 << pad_exp
        ref = reference_tree("round-7", ASSETS, balances, SECRET, leaf_count)
        assert result.summary.root_hash == ref["root"]
        assert list(result.summary.totals) == ref["totals"]
        with TreeFile(d / "out" / "tree.bin") as tree:
            for level, nodes in enumerate(ref["levels"]):
                for i, (h, sums) in enumerate(nodes):
                    got_h, got_sums = tree.record(level, i)
                    assert got_h == h and decode_amounts(got_sums) == sums
            assert [tree.commitment(i) for i in range(leaf_count)] == ref["commitments"]
            assert audit_tree(tree, result.summary).ok
        prover = Prover(d / "out", SECRET)
        try:
            for user, amounts in list(balances.items())[:5]:
                proof = prover.prove(user)
                assert list(proof.amounts) == amounts
                report = verify_proof(proof, expected_root=ref["root"])
                assert ref["users"][report.leaf_index] == user
        finally:
            prover.close()


def test_parallel_build_matches_single_process(tmp_path: Path) -> None:
    # Large enough for the worker pool (PARALLEL_MIN_LEAVES); both must write the same bytes.
    bal = {f"u{i}": [i, 3 * i, 7] for i in range(20_000)}
    snap = write_csv(tmp_path / "s.csv", balances_to_rows(bal, ASSETS))
    assets = tuple(Asset(s, k) for s, k in ASSETS)
    one = build_tree(snap, assets, "r", SECRET, tmp_path / "one", workers=1)
    two = build_tree(snap, assets, "r", SECRET, tmp_path / "two", workers=2)
    assert one.summary == two.summary
    assert (tmp_path / "one/tree.bin").read_bytes() == (tmp_path / "two/tree.bin").read_bytes()
    ref = reference_tree("r", ASSETS, bal, SECRET, one.summary.leaf_count)
    assert one.summary.root_hash == ref["root"]
