"""``por demo --private``'s private round (por/demo/private.py): built from a margin
snapshot's holdings, proved for the users, each proof and the tree checked by ``por-verify``
in a subprocess; a broken tree makes the demo fail instead of printing a pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from por.demo.private import holdings, run_private_round
from por.errors import VerificationError
from verifier.liabilities.mst import Asset
from verifier.private.proof import PrivateProof, PrivateRoot

ASSETS = (Asset("ETH", 18), Asset("USDT", 6))
SNAPSHOT = """user_id,asset,equity,debt,collateral
user-0000001,ETH,1.5,0.000000000000000000,1.5
user-0000001,USDT,20.25,0.000000,20.25
user-0000002,USDT,7.000001,3.000000,7.000001
user-0000003,ETH,0.000000000000000001,0.000000000000000000,0
"""


def test_holdings_are_the_equity_in_base_units(tmp_path: Path) -> None:
    snap = tmp_path / "s.csv"
    snap.write_text(SNAPSHOT)
    assert holdings(snap, ASSETS) == [("user-0000001", [15 * 10**17, 20_250_000]),
                                      ("user-0000002", [0, 7_000_001]),
                                      ("user-0000003", [1, 0])]


@pytest.mark.parametrize("hidden", [None, 1])
def test_private_demo_round_builds_proves_and_verifies(tmp_path: Path,
                                                       hidden: int | None) -> None:
    snap = tmp_path / "s.csv"
    snap.write_text(SNAPSHOT)
    users = ["user-0000001", "user-0000002", "user-0000009"]  # the last holds nothing
    directory = run_private_round(tmp_path / "out", snap, ASSETS, "2026-11-28-private", users,
                                  hidden_levels=hidden, workers=1)
    root = PrivateRoot.from_json((directory / "root.json").read_bytes())
    assert root.totals == (15 * 10**17 + 1, 27_250_001) and root.hidden_levels == hidden
    proof = PrivateProof.from_json(
        (directory.parent / "2026-11-28-private-proofs" / "user-0000002.json").read_bytes())
    assert proof.amounts == (0, 7_000_001)
    assert not (directory / "2026-11-28-private.private.key").exists()


def test_a_broken_tree_fails_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import por.demo.private as demo

    snap = tmp_path / "s.csv"
    snap.write_text(SNAPSHOT)
    real = demo.build_private_round  # type: ignore[attr-defined]

    def corrupt(round_id, assets, secret, balances, out, **options):  # type: ignore[no-untyped-def]
        built = real(round_id, assets, secret, balances, out, **options)
        data = bytearray((out / "tree.bin").read_bytes())
        data[-1] ^= 1  # the top record's last blinding byte: only the auditor's check sees it
        (out / "tree.bin").write_bytes(bytes(data))
        return built

    monkeypatch.setattr(demo, "build_private_round", corrupt)
    with pytest.raises(VerificationError, match="liabilities"):
        run_private_round(tmp_path / "out", snap, ASSETS, "2026-11-28-private", [],
                          workers=1)
