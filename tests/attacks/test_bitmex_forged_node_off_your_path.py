"""Attack: a BitMEX tree with a node forged away from the user's path.

BitMEX's validate_liabilities.py recomputes only the nodes above the leaves a user's nonce
matches, so a tree whose other nodes (another user's leaf, a sum elsewhere) were edited still
"validates" for that user while its total no longer is the sum of its leaves. Every node is
recomputed by ``por-verify foreign bitmex``.
"""

from __future__ import annotations

import json
from pathlib import Path

from verifier.foreign import bitmex

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign" / "bitmex"


def test_forged_node_off_your_path_fails() -> None:
    vectors = json.loads((DATA / "bitmex_vectors.json").read_text())
    account = next(a for a in vectors["accounts"] if a["validated_sats"])
    lines = (DATA / "generated-liabilities-840000-proof.csv").read_text().split("\n")
    leaf_row_start = 1 + 511  # line index of leaf 0 (root first: 1 + 2 + ... + 256 above)
    victim = next(i for i in range(512) if i not in account["leaf_indexes"])
    digest, sats = lines[leaf_row_start + victim].split(",")
    lines[leaf_row_start + victim] = f"{digest},{int(sats) - 1}"  # understate another leaf
    tree = bitmex.parse_tree("\n".join(lines).encode(), "forged")
    report = bitmex.verify(
        tree, account["account"], bytes.fromhex(account["account_nonce"]), account_nonce=True,
        expect_sats=account["validated_sats"],
    )
    failed = {c.name for c in report.failures}
    # BitMEX's own rule (your paths) may pass; the whole-tree recomputation must not.
    assert "every node recomputes" in failed, report.render_text()
    assert not report.ok
