"""Attack: a sibling amount re-spelt (``0.0`` for ``0``, ``-0``, an extra trailing zero).

Siblings' amounts enter a parent only through a recomputed sum, so their digits in the file
were not bound: a file edited this way verified. Amounts must now be printed the way the
exchange's own tool prints them, leaving one spelling per value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import verifier.cli  # noqa: F401  (registers the command groups before foreign.cli)
from verifier.cli.foreign import verify_files

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"

CASES = [
    ("okx-v1", "okx/example_merkle_proof_file.json", ("path", 2, "balances", "ETH"), "0.0"),
    ("okx-v1", "okx/example_merkle_proof_file.json", ("path", 21, "balances", "BTC"), "-0"),
    ("bybit", "bybit/mock_user_merkle_tree_path_40.json", ("path", 0, "balance", "DAI"),
     "-0.00000000"),
    ("bitget", "bitget/merkel_tree_bg.json", ("path", 6, "balances", "ETH"), "0.00001750"),
    ("mexc", "mexc/merkle_proof.json", ("pathList", 2, "balances", "BTC"), "2863723.10"),
    ("coinex-variant-single-hash", "coinex/merkle_proof_file.json",
     ("self", "balances", "USDT"), "374.2505730"),
]


@pytest.mark.parametrize(("fmt", "rel", "at", "spelling"), CASES, ids=[c[0] for c in CASES])
def test_respelled_amount_fails(
    fmt: str, rel: str, at: tuple[str | int, ...], spelling: str, tmp_path: Path
) -> None:
    assert verify_files(fmt, [DATA / rel]).ok
    doc = json.loads((DATA / rel).read_text())
    node = doc
    for key in at[:-1]:
        node = node[key]
    node[at[-1]] = spelling
    mutated = tmp_path / "respelled.json"
    mutated.write_text(json.dumps(doc))
    report = verify_files(fmt, [mutated])
    assert not report.ok, report.render_text()
