"""The private round end to end: build from the spot scheme's inputs, publish root.json and
tree.bin, prove from the files, verify (library and both CLIs), audit the tree file.
Blindings split top-down from the round secret (§16.3): openings add up at every node, and
a new round never reuses one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main as por_main
from por.liabilities.private import build_private_tree, prove, tree_file_bytes, write_private_round
from verifier.cli import main as verify_main
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import Asset
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, verify_private_proof
from verifier.private.scheme import node_blinding, root_blinding
from verifier.private.treefile import PrivateTreeFile, audit_private_tree, tree_root_hash

SECRET = bytes(range(32))
ASSETS = [Asset("BTC", 8), Asset("ETH", 18), Asset("USDT", 6)]
USERS = [(f"user-{i}", [i * 1_000_000, i * 10**17, (i % 3) * 10**6]) for i in range(1, 12)]


@pytest.fixture(scope="module")
def round_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("private") / "round"
    write_private_round(build_private_tree("r-1", ASSETS, SECRET, USERS), out)
    return out


def test_every_user_proves_and_verifies(round_dir: Path) -> None:
    for user_id, amounts in USERS[:4]:
        proof = prove(round_dir, SECRET, user_id)
        parsed = PrivateProof.from_json(proof.to_bytes())
        report = verify_private_proof(parsed, expected_root=proof.root.root_hash)
        assert report.amounts == tuple(amounts)
        assert report.range_proofs_checked == 4 * len(ASSETS)  # 16 leaves: 4 levels


def test_totals_are_the_users_sums(round_dir: Path) -> None:
    proof = prove(round_dir, SECRET, "user-1")
    assert [a.unit_exponent for a in proof.assets] == [0, 0, 0]
    assert proof.root.totals == tuple(sum(a[j] for _, a in USERS) for j in range(3))


def test_the_tree_file_audits_clean_and_a_flipped_byte_is_found(round_dir: Path) -> None:
    data = (round_dir / "tree.bin").read_bytes()
    tree = PrivateTreeFile(data)
    assert audit_private_tree(tree) == []
    assert tree_root_hash(tree) == prove(round_dir, SECRET, "user-2").root.root_hash
    broken = bytearray(data)
    broken[-1] ^= 1  # the top node's last blinding byte
    findings = audit_private_tree(PrivateTreeFile(bytes(broken)))
    assert any("blinding" in f or "open" in f for f in findings)
    with pytest.raises(FormatError):
        PrivateTreeFile(data + b"\0")


def test_openings_add_up_and_are_recomputable_from_the_secret() -> None:
    tree = build_private_tree("r-1", ASSETS, SECRET, USERS)
    levels = len(tree.levels) - 1
    for level, row in enumerate(tree.levels):
        for index, node in enumerate(row):
            for j in range(len(ASSETS)):
                assert node.blindings[j] == node_blinding(SECRET, "r-1", j, levels, level, index)
    top = tree.levels[-1][0]
    assert top.blindings == tuple(root_blinding(SECRET, "r-1", j) for j in range(3))


def test_no_blinding_is_reused_across_rounds() -> None:
    """Attack: a blinding reused across rounds would let C₁ − C₂ reveal value differences."""
    first = build_private_tree("r-1", ASSETS, SECRET, USERS)
    next_round = build_private_tree("r-2", ASSETS, os.urandom(32), USERS)
    same_secret = build_private_tree("r-2", ASSETS, SECRET, USERS)
    for other in (next_round, same_secret):
        old = {b for row in first.levels for n in row for b in n.blindings}
        new = {b for row in other.levels for n in row for b in n.blindings}
        assert not old & new


def test_amounts_wider_than_64_bits_get_a_unit() -> None:
    users = [("whale", [0, 3 * 10**20, 0]), ("minnow", [1, 1, 1])]
    tree = build_private_tree("r-wide", ASSETS, SECRET, users)
    eth = tree.assets[1]
    assert eth.unit_exponent == 2  # 3·10^20 + 1 wei: 10 wei units still exceed 2^64
    assert tree.root.totals[1] == 3 * 10**18 + 1  # ⌈1 / 100⌉ = 1: rounded up, never down
    assert all(t <= pc.MAX_VALUE for t in tree.root.totals)


def test_cli_build_prove_verify(tmp_path: Path) -> None:
    snapshot, assets = tmp_path / "snapshot.csv", tmp_path / "assets.json"
    assets.write_text(json.dumps([{"symbol": "BTC", "decimals": 8}]))
    snapshot.write_text("user_id,asset,amount\nalice,BTC,1.5\nbob,BTC,0.25\n")
    secret, out = tmp_path / "secret" / "r.key", tmp_path / "round"
    runner = CliRunner()
    built = runner.invoke(por_main, ["liabilities", "build-private", str(snapshot), "--assets",
                                     str(assets), "--round", "r-cli", "--out", str(out),
                                     "--secret-file", str(secret)])
    assert built.exit_code == 0, built.output
    assert secret.exists() and not (out / "r.key").exists()
    proof = tmp_path / "alice.json"
    proved = runner.invoke(por_main, ["liabilities", "prove-private", str(out), "alice",
                                      "--secret-file", str(secret), "--out", str(proof)])
    assert proved.exit_code == 0, proved.output
    checked = runner.invoke(verify_main, ["proof", str(proof), "--summary",
                                          str(out / "root.json"), "--json"])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["balances"] == {"BTC": "150000000"}
    audited = runner.invoke(verify_main, ["liabilities", str(out), "--json"])
    assert audited.exit_code == 0, audited.output
    assert json.loads(audited.output)["totals"]["BTC"]["value"] == "175000000"
    tree = out / "tree.bin"
    data = bytearray(tree.read_bytes())
    data[-100] ^= 1  # inside the top node's record
    tree.write_bytes(bytes(data))
    audited = runner.invoke(verify_main, ["liabilities", str(out)])
    assert audited.exit_code == 1, audited.output
    tree.write_bytes(bytes(data[:-1]))
    assert runner.invoke(verify_main, ["liabilities", str(out)]).exit_code == 2
    missing = runner.invoke(por_main, ["liabilities", "prove-private", str(out), "mallory",
                                       "--secret-file", str(secret)])
    assert missing.exit_code == 2
    again = runner.invoke(por_main, ["liabilities", "build-private", str(snapshot), "--assets",
                                     str(assets), "--round", "r-cli", "--out", str(out),
                                     "--secret-file", str(secret)])
    assert again.exit_code == 2  # a round is never overwritten


def test_a_proof_reveals_no_sibling_amount(round_dir: Path) -> None:
    """What the scheme hides: the proof holds no other user's amount in any form the
    public scheme would show (no sums, only commitments and range proofs)."""
    proof = prove(round_dir, SECRET, "user-5")
    text = proof.to_bytes().decode()
    for user_id, _amounts in USERS:
        if user_id != "user-5":
            assert user_id not in text
    for step in proof.to_dict()["path"]:
        assert set(step) == {"side", "hash", "commitments", "range_proofs", "parents"}


def test_build_is_deterministic() -> None:
    a = tree_file_bytes(build_private_tree("r-1", ASSETS, SECRET, USERS))
    b = tree_file_bytes(build_private_tree("r-1", ASSETS, SECRET, list(reversed(USERS))))
    assert a == b


def test_two_workers_build_the_same_bytes() -> None:
    users = [(f"w{i}", [i]) for i in range(2100)]  # 4096 leaves: 8191 nodes, two tasks
    one = build_private_tree("r-w", ASSETS[:1], SECRET, users)
    two = build_private_tree("r-w", ASSETS[:1], SECRET, users, workers=2)
    assert tree_file_bytes(one) == tree_file_bytes(two)


def test_duplicate_user_is_refused() -> None:
    with pytest.raises(Exception, match="twice"):
        build_private_tree("r-1", ASSETS, SECRET, [*USERS, USERS[0]])


def test_value_out_of_u64_in_a_proof_is_malformed() -> None:
    from verifier.private.scheme import PrivateAsset, committed_value

    with pytest.raises(FormatError):
        committed_value(2**64, PrivateAsset("ETH", 18, 0), "amounts[0]")
    with pytest.raises((FormatError, VerificationError)):
        pc.commit(2**64, 1, pc.generator(bytes(32)), "t")


def test_hybrid_round_end_to_end(tmp_path: Path) -> None:
    """Hybrid hiding (§16.14): L bound into root.json and the tree file; proofs hide levels
    below L with range proofs and open the levels above; the auditor's check and both
    reports say what a proof reveals."""
    out = tmp_path / "hybrid"
    tree = build_private_tree("r-h", ASSETS, SECRET, USERS, hidden_levels=2)
    root = write_private_round(tree, out)
    assert (root.version, root.hidden_levels) == (2, 2)
    assert json.loads((out / "root.json").read_text())["hidden_levels"] == 2
    proof = prove(out, SECRET, "user-3")
    assert [s.opened for s in proof.path] == [False, False, True, True]
    report = verify_private_proof(PrivateProof.from_json(proof.to_bytes()),
                                  expected_root=root.root_hash)
    assert report.range_proofs_checked == 2 * len(ASSETS)
    assert "4 leaves" in report.reveals and report.hidden_levels == 2
    # Opened sums are the tree's: the level-2 sibling of user-3's leaf.
    tree_file = PrivateTreeFile((out / "tree.bin").read_bytes())
    assert tree_file.hidden_levels == 2 and audit_private_tree(tree_file) == []
    index = [s.side for s in proof.path]
    leaf = sum(1 << i for i, s in enumerate(index) if s == "left")
    assert proof.path[2].sums == tree_file.node(2, (leaf >> 2) ^ 1).values
    result = CliRunner().invoke(verify_main, ["liabilities", str(out)])
    assert result.exit_code == 0, result.output
    assert "L = 2" in result.output and "4 leaves" in result.output
    (tmp_path / "p.json").write_bytes(proof.to_bytes())
    result = CliRunner().invoke(verify_main, ["proof", str(tmp_path / "p.json"), "--summary",
                                              str(out / "root.json"), "--json"])
    assert result.exit_code == 0, result.output
    out_json = json.loads(result.output)
    assert out_json["hidden_levels"] == 2
    assert [o["level"] for o in out_json["opened_sums"]] == [2, 3]
    assert out_json["opened_sums"][0]["sums"]["BTC"] == str(proof.path[2].sums[0])
    # L at or above the height is full hiding: version 1, one encoding for it.
    full = build_private_tree("r-h", ASSETS, SECRET, USERS, hidden_levels=9)
    assert full.root.hidden_levels is None and full.root.version == 1
    # The same tree with another L has another root (L is bound into the root hash).
    other = build_private_tree("r-h", ASSETS, SECRET, USERS, hidden_levels=1)
    assert other.root.root_hash != root.root_hash
    assert other.levels[-1][0].hash == tree.levels[-1][0].hash
    # A tree file whose header claims another L than root.json's is refused by the prover.
    wrong = tmp_path / "wrong"
    write_private_round(other, wrong)
    (wrong / "root.json").write_bytes((out / "root.json").read_bytes())
    with pytest.raises(Exception, match="not the same round"):
        prove(wrong, SECRET, "user-3")


def test_cli_hide_levels(tmp_path: Path) -> None:
    snapshot, assets = tmp_path / "snapshot.csv", tmp_path / "assets.json"
    assets.write_text(json.dumps([{"symbol": "BTC", "decimals": 8}]))
    snapshot.write_text("user_id,asset,amount\na,BTC,1\nb,BTC,2\nc,BTC,3\nd,BTC,4\n")
    secret, out = tmp_path / "secret" / "r.key", tmp_path / "round"
    runner = CliRunner()
    built = runner.invoke(por_main, ["liabilities", "build-private", str(snapshot), "--assets",
                                     str(assets), "--round", "r-h", "--out", str(out),
                                     "--secret-file", str(secret), "--hide-levels", "1"])
    assert built.exit_code == 0, built.output
    assert "L = 1" in built.output and "2 leaves" in built.output
    proof = tmp_path / "a.json"
    proved = runner.invoke(por_main, ["liabilities", "prove-private", str(out), "a",
                                      "--secret-file", str(secret), "--out", str(proof)])
    assert proved.exit_code == 0, proved.output
    checked = runner.invoke(verify_main, ["proof", str(proof), "--summary",
                                          str(out / "root.json")])
    assert checked.exit_code == 0, checked.output
    assert "1 range proofs" in checked.output and "L = 1" in checked.output
