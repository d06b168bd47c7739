"""BitMEX liabilities trees: every node recomputed, every account's expected sats found.

The tree was made by BitMEX's own generate_liabilities.py, and each account's expected
result is what BitMEX's validate_liabilities.py printed for it (tests/data/foreign/SOURCES.md).
The README walkthrough's tree is not self-consistent with the output the README quotes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.errors import FormatError
from verifier.foreign import bitmex

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign" / "bitmex"
TREE = DATA / "generated-liabilities-840000-proof.csv"
README_TREE = DATA / "readme-liabilities-100-proof.csv"
VECTORS: dict[str, Any] = json.loads((DATA / "bitmex_vectors.json").read_text())
README: dict[str, Any] = json.loads((DATA / "readme_claims.json").read_text())


@pytest.fixture(scope="module")
def tree() -> bitmex.Tree:
    return bitmex.parse_tree(TREE.read_bytes(), "tree")


def test_tree_recomputes_to_the_published_root_and_total(tree: bitmex.Tree) -> None:
    assert tree.root.hash.hex() == VECTORS["expected_root_hash"]
    assert tree.root.sats == VECTORS["expected_total_sats"]
    assert len(tree.leaves) == VECTORS["leaf_count"]
    assert tree.block_height == VECTORS["block_height"]


def test_every_account_gets_bitmexs_result(tree: bitmex.Tree) -> None:
    assert len(VECTORS["accounts"]) == 200
    for account in VECTORS["accounts"]:
        nonce = bytes.fromhex(account["account_nonce"])
        report = bitmex.verify(
            tree, account["account"], nonce, account_nonce=True,
            expect_sats=account["validated_sats"],
        )
        assert report.ok, report.render_text()
        assert report.user_balances == {"XBt": str(account["validated_sats"])}
        indexes = ", ".join(map(str, account["leaf_indexes"]))
        assert any(
            n.startswith(f"account {account['account']}: {len(account['leaf_indexes'])} leaf")
            and (not indexes or f"(indexes {indexes})" in n)
            for n in report.notes
        ), report.notes


def test_per_proof_nonce_finds_the_same_leaves(tree: bitmex.Tree) -> None:
    account = next(a for a in VECTORS["accounts"] if a["validated_sats"])
    key = hashlib.sha256(
        bytes.fromhex(account["account_nonce"])
        + VECTORS["block_height"].to_bytes(8, "little")
        + account["account"].to_bytes(8, "little")
    ).digest()
    report = bitmex.verify(tree, account["account"], key)
    assert report.ok and report.user_balances == {"XBt": str(account["validated_sats"])}


def test_wrong_account_finds_nothing_and_fails(tree: bitmex.Tree) -> None:
    account = next(a for a in VECTORS["accounts"] if a["validated_sats"])
    nonce = bytes.fromhex(account["account_nonce"])
    report = bitmex.verify(tree, account["account"] + 1, nonce, account_nonce=True)
    assert not report.ok
    assert {c.name for c in report.failures} == {"your leaves are in the tree"}


def test_understated_balance_fails_expect_sats(tree: bitmex.Tree) -> None:
    account = next(a for a in VECTORS["accounts"] if a["validated_sats"])
    nonce = bytes.fromhex(account["account_nonce"])
    report = bitmex.verify(
        tree, account["account"], nonce, account_nonce=True,
        expect_sats=account["validated_sats"] + 1,
    )
    assert {c.name for c in report.failures} == {"your balance"}


def _edited(lines: list[str], index: int, new: str, tmp_path: Path) -> bitmex.Tree:
    lines = [*lines[:index], new, *lines[index + 1 :]]
    return bitmex.parse_tree("\n".join(lines).encode(), "edited")


@pytest.mark.parametrize("line", [1, 2, 600, 1023])
def test_an_edited_node_anywhere_fails(line: int, tmp_path: Path) -> None:
    """BitMEX's tool checks only the paths above your leaves; we check every node."""
    lines = TREE.read_text().split("\n")
    digest, sats = lines[line].split(",")
    account = VECTORS["accounts"][0]
    nonce = bytes.fromhex(account["account_nonce"])
    forged_digest = ("0" if digest[0] != "0" else "1") + digest[1:]
    for new in (f"{digest},{int(sats) + 1}", f"{forged_digest},{sats}"):
        report = bitmex.verify(
            _edited(lines, line, new, tmp_path), account["account"], nonce, account_nonce=True,
            expect_sats=account["validated_sats"],
        )
        assert "every node recomputes" in {c.name for c in report.failures}, new


def test_readme_walkthrough_is_reported_not_crashed() -> None:
    """The README's nonce finds no leaf in its own tree, and it quotes another root."""
    tree = bitmex.parse_tree(README_TREE.read_bytes(), "readme")
    report = bitmex.verify(
        tree, README["account"], bytes.fromhex(README["account_nonce"]), account_nonce=True,
        expect_sats=README["quoted_sats"], expect_root=README["quoted_root"],
    )
    failed = {c.name for c in report.failures}
    assert failed == {"your balance", "root is the published one"}
    assert report.user_balances == {"XBt": "0"}
    assert "every node recomputes" not in failed  # the tree itself is consistent
    text = report.render_text()
    assert "0 sats found in 0 leaf/leaves, but you expected 3000" in text
    assert README["quoted_root"] in text and tree.root.hash.hex() in text


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"block_height:x\n",
        b"block_height:1\n" + b"00" * 32 + b",1\n" + b"00" * 32 + b",1\n",  # 2 lines: no tree
        b"block_height:1\n" + b"AB" * 32 + b",1\n",  # uppercase hex
        b"block_height:1\n" + b"00" * 32 + b",-1\n",
        b"block_height:1\n" + b"00" * 32 + b",18446744073709551616\n",  # 2^64
        b"block_height:1\n" + b"00" * 32 + b",1,extra\n",
        b"\xff\xfe",
    ],
)
def test_malformed_trees_are_format_errors(content: bytes) -> None:
    with pytest.raises(FormatError):
        bitmex.parse_tree(content, "bad")


# ---------------------------------------------------------------- the command


def _nonce_file(tmp_path: Path, nonce: str, mode: int = 0o600) -> Path:
    f = tmp_path / "nonce"
    f.write_text(nonce + "\n")
    f.chmod(mode)
    return f


def test_cli_verifies_an_account_from_a_private_nonce_file(tmp_path: Path) -> None:
    account = next(a for a in VECTORS["accounts"] if a["validated_sats"])
    f = _nonce_file(tmp_path, account["account_nonce"])
    args = ["foreign", "bitmex", str(TREE), "--account", str(account["account"]),
            "--nonce-file", str(f), "--account-nonce", "--json"]
    result = CliRunner().invoke(main, args, env={"POR_FOREIGN_NONCE": ""})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["verdict"] == "VERIFIED"
    assert out["user_balances"] == {"XBt": str(account["validated_sats"])}
    assert account["account_nonce"] not in result.output


def test_cli_reads_the_nonce_from_the_environment() -> None:
    account = next(a for a in VECTORS["accounts"] if a["validated_sats"])
    args = ["foreign", "bitmex", str(TREE), "--account", str(account["account"]),
            "--account-nonce"]
    result = CliRunner().invoke(main, args, env={"POR_FOREIGN_NONCE": account["account_nonce"]})
    assert result.exit_code == 0, result.output
    assert f"holding {account['validated_sats']} sats" in result.output


def test_cli_refuses_a_nonce_file_others_can_read(tmp_path: Path) -> None:
    account = VECTORS["accounts"][0]
    f = _nonce_file(tmp_path, account["account_nonce"], mode=0o644)
    args = ["foreign", "bitmex", str(TREE), "--account", "1", "--nonce-file", str(f)]
    result = CliRunner().invoke(main, args, env={"POR_FOREIGN_NONCE": ""})
    assert result.exit_code == 2
    assert "chmod 600" in result.output and account["account_nonce"] not in result.output


def test_cli_has_no_nonce_option_on_argv() -> None:
    result = CliRunner().invoke(main, ["foreign", "bitmex", str(TREE), "--account", "1",
                                       "--nonce", "00" * 32])
    assert result.exit_code == 2
    no_nonce = CliRunner().invoke(main, ["foreign", "bitmex", str(TREE), "--account", "1"],
                                  env={"POR_FOREIGN_NONCE": ""})
    assert no_nonce.exit_code == 2 and "never taken on the command line" in no_nonce.output


def test_cli_readme_walkthrough_exits_1_with_the_reason(tmp_path: Path) -> None:
    f = _nonce_file(tmp_path, README["account_nonce"])
    args = ["foreign", "bitmex", str(README_TREE), "--account", str(README["account"]),
            "--nonce-file", str(f), "--account-nonce", "--root", README["quoted_root"]]
    result = CliRunner().invoke(main, args, env={"POR_FOREIGN_NONCE": ""})
    assert result.exit_code == 1, result.output
    assert "no leaf matches this account and nonce" in result.output
    assert f"published {README['quoted_root']}" in result.output


def test_auto_names_a_bitmex_tree() -> None:
    result = CliRunner().invoke(main, ["foreign", "auto", str(TREE)])
    assert result.exit_code == 2 and "BitMEX liabilities tree" in result.output

