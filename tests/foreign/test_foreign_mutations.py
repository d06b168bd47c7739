"""Named mutations of every published sample must fail verification (exit 1, not 2).

Each mutation stands for an attack (an inflated balance, a forged sibling, a dropped level,
a flipped side, a moved root, ...); the file stays well formed, so the verdict must be
FAILED rather than MALFORMED. The unmutated file is checked to pass first (or, for
CoinEx's published rule, to fail for its known reason), so a mutation cannot pass
vacuously.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.foreign.cli import verify_files
from verifier.foreign.parsing import load_json

DATA = Path(__file__).resolve().parents[1] / "data" / "foreign"

Mutation = Callable[[Any], None]


def dump(value: Any) -> str:
    """JSON text that writes Decimal amounts as JSON numbers with their exact digits."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def flip_hex(h: str) -> str:
    return ("1" if h[0] != "1" else "2") + h[1:]


def bump(amount: Any) -> Any:
    """Add one unit in the last place, keeping the JSON type (string or number)."""
    d = Decimal(amount)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    bumped = d + Decimal(1).scaleb(min(exponent, 0))
    return format(bumped, "f") if isinstance(amount, str) else bumped


def first_nonzero(balances: dict[str, Any]) -> str:
    return next(a for a, v in balances.items() if Decimal(v) != 0)


def flip_side(node: dict[str, Any], key: str = "type") -> None:
    node[key] = 2 if node[key] == 1 else 1


# ---------------------------------------------------------------- OKX v1 / Bybit / Bitget


def okx_v1_mutations() -> dict[str, Mutation]:
    def bal(d: Any) -> dict[str, Any]:
        return d

    return {
        "inflated_own_balance": lambda d: bal(d["self"]["balances"]).update(
            BTC=bump(d["self"]["balances"]["BTC"])
        ),
        "forged_sibling_hash": lambda d: d["path"][3].update(hash=flip_hex(d["path"][3]["hash"])),
        "understated_sibling_balance": lambda d: d["path"][2]["balances"].update(USDT="0"),
        "dropped_level": lambda d: d["path"].pop(5),
        "flipped_sibling_side": lambda d: flip_side(d["path"][4]),
        "self_on_sibling_side": lambda d: d["self"].update(type=d["path"][0]["type"]),
        "inflated_root_total": lambda d: d["path"][-1]["balances"].update(
            BTC=bump(d["path"][-1]["balances"]["BTC"])
        ),
        "swapped_root_hash": lambda d: d["path"][-1].update(hash=flip_hex(d["path"][-1]["hash"])),
        "wrong_root_height": lambda d: d["path"][-1].update(height=d["path"][-1]["height"] + 1),
        "forged_sibling_height": lambda d: d["path"][3].update(height=d["path"][3]["height"] + 1),
        "sibling_type_out_of_range": lambda d: d["path"][2].update(type=7),
    }


def mid_sibling(d: Any, key: str = "balance") -> dict[str, Any]:
    """A sibling strictly between path[0] and the root that holds a non-zero balance."""
    path = d["path"]
    return next(n for n in path[1:-1] if any(Decimal(v) != 0 for v in n[key].values()))


def bybit_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balance"].update(
            BTC=bump(d["self"]["balance"]["BTC"])
        ),
        "forged_user_hash": lambda d: d["self"].update(userHash=flip_hex(d["self"]["userHash"])),
        "forged_sibling_hash": lambda d: d["path"][1].update(hash=flip_hex(d["path"][1]["hash"])),
        "understated_sibling_balance": lambda d: mid_sibling(d)["balance"].update(
            {first_nonzero(mid_sibling(d)["balance"]): "0.00000000"}
        ),
        "dropped_level": lambda d: d["path"].pop(1),
        "flipped_sibling_side": lambda d: flip_side(mid_sibling(d)),
        "self_on_sibling_side": lambda d: d["self"].update(type=d["path"][0]["type"]),
        "inflated_root_total": lambda d: d["path"][-1]["balance"].update(
            BTC=bump(d["path"][-1]["balance"]["BTC"])
        ),
        # Java prints sums with exactly 8 decimals; the same value spelt otherwise must fail.
        "root_total_printed_with_other_scale": lambda d: d["path"][-1]["balance"].update(
            AGLA=d["path"][-1]["balance"]["AGLA"] + "0"
        ),
        "root_lists_an_extra_asset": lambda d: d["path"][-1]["balance"].update(BUSD="0.00000000"),
        "swapped_root_hash": lambda d: d["path"][-1].update(hash=flip_hex(d["path"][-1]["hash"])),
        "wrong_root_height": lambda d: d["path"][-1].update(height=d["path"][-1]["height"] + 1),
        "missing_online_asset_in_sibling": lambda d: d["path"][1]["balance"].pop("ETH"),
    }


def bitget_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(
            USDT=bump(d["self"]["balances"]["USDT"])
        ),
        "forged_encrypted_uid": lambda d: d["self"].update(
            encryptUid=flip_hex(d["self"]["encryptUid"])
        ),
        "forged_sibling_leaf": lambda d: d["path"][3].update(
            merkelLeaf=flip_hex(d["path"][3]["merkelLeaf"])
        ),
        "understated_sibling_balance": lambda d: mid_sibling(d, "balances")["balances"].update(
            {
                first_nonzero(mid_sibling(d, "balances")["balances"]): "0"
                if isinstance(d["self"]["balances"]["BTC"], str)
                else Decimal(0)
            }
        ),
        "dropped_level": lambda d: d["path"].pop(3),
        "flipped_sibling_side": lambda d: flip_side(d["path"][3], "role"),
        "self_on_sibling_side": lambda d: d["self"].update(role=d["path"][0]["role"]),
        "inflated_root_total": lambda d: d["path"][-1]["balances"].update(
            BTC=bump(d["path"][-1]["balances"]["BTC"])
        ),
        "swapped_root_leaf": lambda d: d["path"][-1].update(
            merkelLeaf=flip_hex(d["path"][-1]["merkelLeaf"])
        ),
        "wrong_root_level": lambda d: d["path"][-1].update(level=2),
    }


def mexc_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(ETH="195462.74"),
        "forged_account_id": lambda d: d["self"].update(accountId="1745297674"),
        "forged_sibling_hash": lambda d: d["pathList"][1].update(
            hash=flip_hex(d["pathList"][1]["hash"])
        ),
        "understated_sibling_balance": lambda d: d["pathList"][2]["balances"].update(BTC="0"),
        "dropped_level": lambda d: d["pathList"].pop(1),
        "flipped_sibling_side": lambda d: flip_side(d["pathList"][1]),
        "flipped_empty_sibling_side": lambda d: flip_side(d["pathList"][0]),
        "duplicated_level": lambda d: d["pathList"].insert(1, dict(d["pathList"][1])),
        "inflated_root_total": lambda d: d["pathList"][-1]["balances"].update(BTC="4386831.38"),
        "swapped_root_hash": lambda d: d["pathList"][-1].update(
            hash=flip_hex(d["pathList"][-1]["hash"])
        ),
        "sibling_at_unused_level": lambda d: d["pathList"].insert(
            0, {**d["pathList"][1], "level": 9}
        ),
    }


def coinex_mutations() -> dict[str, Mutation]:
    return {
        "inflated_own_balance": lambda d: d["self"]["balances"].update(USDT="374.250574"),
        "forged_sibling_hash": lambda d: d["path"][3].update(hash=flip_hex(d["path"][3]["hash"])),
        "understated_sibling_balance": lambda d: d["path"][4]["balances"].update(BTC="0"),
        "dropped_level": lambda d: d["path"].pop(3),
        "dropped_empty_level": lambda d: d["path"].pop(0),
        "flipped_sibling_side": lambda d: d["path"][4].update(pos="right"),
        "inflated_root_total": lambda d: d["root"]["balances"].update(CET="14442925.91120210"),
        "root_drops_an_asset": lambda d: d["root"]["balances"].pop("CET"),
        "swapped_root_hash": lambda d: d["root"].update(hash=flip_hex(d["root"]["hash"])),
    }


CASES: list[tuple[str, str, str, Mutation]] = [
    *[
        ("okx-v1", "okx/example_merkle_proof_file.json", n, m)
        for n, m in okx_v1_mutations().items()
    ],
    *[
        ("bybit", f"bybit/{f}", n, m)
        for f in ("mock_user_merkle_tree_path_40.json", "mock_user_merkle_tree_path_40_v5.json")
        for n, m in bybit_mutations().items()
    ],
    *[
        ("bitget", f"bitget/{f}", n, m)
        for f in ("merkel_tree_bg.json", "merkel_tree_bg.6863e2d.json")
        for n, m in bitget_mutations().items()
    ],
    *[("mexc", "mexc/merkle_proof.json", n, m) for n, m in mexc_mutations().items()],
    *[
        (fmt, "coinex/merkle_proof_file.json", n, m)
        for fmt in ("coinex-variant-single-hash",)
        for n, m in coinex_mutations().items()
    ],
]


@pytest.mark.parametrize(
    ("fmt", "rel", "name", "mutate"), CASES, ids=[f"{c[0]}:{Path(c[1]).stem}:{c[2]}" for c in CASES]
)
def test_mutation_fails_verification(
    fmt: str, rel: str, name: str, mutate: Mutation, tmp_path: Path
) -> None:
    original = DATA / rel
    assert verify_files(fmt, [original]).ok, "the unmutated sample must pass"
    doc = load_json(original.read_bytes(), rel)
    mutate(doc)
    mutated = tmp_path / f"{name}.json"
    mutated.write_text(dump(doc))
    report = verify_files(fmt, [mutated])  # well formed: parses without FormatError
    assert not report.ok, f"{name} verified:\n{report.render_text()}"


@pytest.mark.parametrize("fmt", ["okx-v1", "bybit", "bitget", "mexc", "coinex-variant-single-hash"])
def test_cli_exit_1_for_a_forged_proof(fmt: str, tmp_path: Path) -> None:
    rel, name, mutate = next((c[1], c[2], c[3]) for c in CASES if c[0] == fmt)
    doc = load_json((DATA / rel).read_bytes(), rel)
    mutate(doc)
    f = tmp_path / f"{name}.json"
    f.write_text(dump(doc))
    result = CliRunner().invoke(main, ["foreign", fmt, str(f)])
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output
    auto = CliRunner().invoke(main, ["foreign", "auto", str(f)])
    assert auto.exit_code == 1


# ---------------------------------------------------------------- OKX v2 (two files)

USER = DATA / "okx/example_user_info_file.json"
TREE = DATA / "okx/example_full-liabilities-merkle-tree.txt"


def _tree_lines() -> list[str]:
    return TREE.read_text().splitlines()


def _v2(tmp_path: Path, user: Any = None, tree: list[str] | None = None) -> Any:
    u, t = USER, TREE
    if user is not None:
        u = tmp_path / "user.json"
        u.write_text(json.dumps(user))
    if tree is not None:
        t = tmp_path / "tree.txt"
        t.write_text("\n".join(tree) + "\n")
    return verify_files("okx-v2", [u, t])


def _user() -> Any:
    return json.loads(USER.read_text())


def _replace_line(lines: list[str], index: int, new: str) -> list[str]:
    return [*lines[:index], new, *lines[index + 1 :]]


def test_okx_v2_baseline_passes(tmp_path: Path) -> None:
    assert _v2(tmp_path).ok


def test_okx_v2_edited_leaf_balance_fails(tmp_path: Path) -> None:
    user = _user()
    user["nodes"][0]["balances"]["BTC"] = "0.0000488"
    assert not _v2(tmp_path, user=user).ok


def test_okx_v2_inflated_total_fails(tmp_path: Path) -> None:
    user = _user()
    user["totalBalances"]["BTC"] = "0.00006"
    assert not _v2(tmp_path, user=user).ok


def test_okx_v2_leaf_missing_from_tree_fails(tmp_path: Path) -> None:
    lines = [ln for ln in _tree_lines() if not ln.startswith(_user()["nodes"][1]["hash"])]
    report = _v2(tmp_path, tree=lines)
    failed = {c.name for c in report.failures}
    assert "your leaves are in the tree file" in failed


def test_okx_v2_tree_leaf_with_other_balance_fails(tmp_path: Path) -> None:
    lines = _tree_lines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith(_user()["nodes"][0]["hash"]))
    h = _user()["nodes"][0]["hash"]
    report = _v2(
        tmp_path, tree=_replace_line(lines, i, f'{h},1,{{"BTC":"0.0000486","ETH":"0","USDT":"0"}}')
    )
    assert "your leaves are in the tree file" in {c.name for c in report.failures}


def test_okx_v2_forged_internal_node_fails_our_recomputation(tmp_path: Path) -> None:
    lines = _tree_lines()
    h, rest = lines[3].split(",", 1)
    report = _v2(tmp_path, tree=_replace_line(lines, 3, f"{flip_hex(h)},{rest}"))
    assert {c.name for c in report.failures} == {"tree file recomputes to one root"}


def test_okx_v2_understated_internal_sum_fails_our_recomputation(tmp_path: Path) -> None:
    lines = _tree_lines()
    h, height, _ = lines[2].split(",", 2)
    forged = f'{h},{height},{{"BTC":"0","ETH":"0.1","USDT":"1.41998149"}}'
    report = _v2(tmp_path, tree=_replace_line(lines, 2, forged))
    assert {c.name for c in report.failures} == {"tree file recomputes to one root"}


def test_okx_v2_dropped_tree_level_fails(tmp_path: Path) -> None:
    lines = [ln for ln in _tree_lines() if ln.split(",")[1] != "3"]
    assert not _v2(tmp_path, tree=lines).ok


def test_okx_v2_second_root_fails(tmp_path: Path) -> None:
    lines = _tree_lines()
    assert not _v2(tmp_path, tree=[lines[0], *lines]).ok
